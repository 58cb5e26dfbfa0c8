//! Shapes a raw event the way Sigma rules address it.
//!
//! Sigma's Windows rules name `EventData` fields at the top level (`Image`,
//! `CommandLine`) and a few `System` fields (`EventID`, `Channel`,
//! `Computer`, `Provider_Name`). EVTX exported as JSON (evtx_dump, SigmaHQ's
//! regression data) nests them under `Event.EventData` and `Event.System`,
//! so such records are flattened. Any other JSON object is used as it is
//! (dotted names reach nested fields in the evaluator).

use serde_json::{Map, Value};

use super::EventSource;
use crate::parse::json::lookup;

/// The event as rules see it: EVTX-as-JSON flattened, anything else unchanged.
#[must_use]
pub fn normalise(root: Value) -> Value {
    let Value::Object(mut top) = root else { return root };
    let Some(Value::Object(event)) = top.get("Event") else { return Value::Object(top) };
    if !event.contains_key("EventData") && !event.contains_key("System") {
        return Value::Object(top);
    }
    let Some(Value::Object(mut event)) = top.remove("Event") else { return Value::Object(top) };
    let mut flat = Map::new();
    match event.remove("EventData") {
        Some(Value::Object(data)) => flat.extend(data),
        // `<EventData><Data>…</Data></EventData>` without names comes out as a list.
        Some(other) if !other.is_null() => {
            flat.insert("EventData".into(), other);
        }
        _ => {}
    }
    if let Some(Value::Object(user)) = event.remove("UserData") {
        // UserData holds one element named after the provider's schema; its fields are what rules name.
        for (_, inner) in user {
            if let Value::Object(fields) = inner {
                for (k, v) in fields {
                    flat.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(Value::Object(system)) = event.remove("System") {
        for (k, v) in system {
            match (k.as_str(), v) {
                ("Provider", Value::Object(p)) => {
                    if let Some(Value::Object(attrs)) = p.get("#attributes") {
                        for (a, v) in attrs {
                            flat.entry(format!("Provider_{a}")).or_insert_with(|| v.clone());
                        }
                    }
                }
                ("TimeCreated", Value::Object(t)) => {
                    if let Some(st) = t.get("#attributes").and_then(|a| a.get("SystemTime")) {
                        flat.entry("TimeCreated".to_owned()).or_insert_with(|| st.clone());
                    }
                }
                ("Execution" | "Security" | "Correlation", Value::Object(o)) => {
                    if let Some(Value::Object(attrs)) = o.get("#attributes") {
                        for (a, v) in attrs {
                            flat.entry(format!("{k}_{a}")).or_insert_with(|| v.clone());
                        }
                    }
                }
                (_, Value::Object(_) | Value::Array(_)) => {}
                (_, v) => {
                    flat.entry(k).or_insert(v);
                }
            }
        }
    }
    // Anything else beside `Event` stays reachable under its own name.
    for (k, v) in top {
        flat.entry(k).or_insert(v);
    }
    Value::Object(flat)
}

/// Sysmon event ids → Sigma `category`.
const SYSMON_CATEGORIES: &[(u64, &str)] = &[
    (1, "process_creation"),
    (2, "file_change"),
    (3, "network_connection"),
    (5, "process_termination"),
    (6, "driver_load"),
    (7, "image_load"),
    (8, "create_remote_thread"),
    (9, "raw_access_thread"),
    (10, "process_access"),
    (11, "file_event"),
    (12, "registry_add"),
    (13, "registry_set"),
    (14, "registry_rename"),
    (15, "create_stream_hash"),
    (17, "pipe_created"),
    (18, "pipe_created"),
    (22, "dns_query"),
    (23, "file_delete"),
    (26, "file_delete_detected"),
];

/// The event's log source: what the sender declared, else what the event
/// says of itself (`product`/`service`/`category` fields, Zeek's `_path`,
/// ECS `event.dataset` such as `zeek.dns`, Windows channel and event id).
pub(super) fn logsource(event: &Value, declared: &EventSource) -> EventSource {
    let text = |path: &str| lookup(event, path).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let mut out = declared.clone();
    let mut fill = |slot: fn(&mut EventSource) -> &mut Option<String>, v: Option<&str>| {
        let s = slot(&mut out);
        if s.is_none() {
            *s = v.map(str::to_ascii_lowercase);
        }
    };
    fill(|s| &mut s.product, text("product"));
    fill(|s| &mut s.service, text("service").filter(|_| text("product").is_some()));
    fill(|s| &mut s.category, text("category"));
    if let Some(path) = text("_path") {
        fill(|s| &mut s.product, Some("zeek"));
        fill(|s| &mut s.service, Some(path));
    }
    if let Some((module, set)) = text("event.dataset").and_then(|d| d.split_once('.')) {
        fill(|s| &mut s.product, Some(module));
        fill(|s| &mut s.service, Some(set));
    }
    let channel = text("Channel");
    let event_id = lookup(event, "EventID").and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
    if let (Some(channel), Some(id)) = (channel, event_id) {
        fill(|s| &mut s.product, Some("windows"));
        let category = if channel.contains("Sysmon") {
            SYSMON_CATEGORIES.iter().find(|(n, _)| *n == id).map(|(_, c)| *c)
        } else if channel == "Security" && id == 4688 {
            Some("process_creation")
        } else {
            None
        };
        fill(|s| &mut s.category, category);
        // Rules for a Windows channel name it as the service (`sysmon`, `security`, `system`…).
        fill(|s| &mut s.service, Some(if channel.contains("Sysmon") { "sysmon" } else { channel }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evtx_json_is_flattened_to_event_data_and_system_fields() {
        let raw = json!({"Event": {
            "System": {"Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}, "EventID": 1,
                       "Computer": "dc.example", "TimeCreated": {"#attributes": {"SystemTime": "2025-10-25T17:41:46Z"}},
                       "Security": {"#attributes": {"UserID": "S-1-5-18"}}},
            "EventData": {"Image": "C:\\x.exe", "EventID": "kept from EventData"}}});
        let flat = normalise(raw);
        assert_eq!(flat["Image"], "C:\\x.exe");
        assert_eq!(flat["EventID"], "kept from EventData");
        assert_eq!(flat["Computer"], "dc.example");
        assert_eq!(flat["Provider_Name"], "Microsoft-Windows-Sysmon");
        assert_eq!(flat["TimeCreated"], "2025-10-25T17:41:46Z");
        assert_eq!(flat["Security_UserID"], "S-1-5-18");
    }

    #[test]
    fn logsource_comes_from_the_sender_then_the_event() {
        let none = EventSource::default();
        let sysmon =
            normalise(json!({"Event": {"System": {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational"}}}));
        let ls = logsource(&sysmon, &none);
        assert_eq!((ls.product.as_deref(), ls.category.as_deref()), (Some("windows"), Some("process_creation")));
        let zeek = json!({"_path": "dns", "query": "x"});
        let ls = logsource(&zeek, &none);
        assert_eq!((ls.product.as_deref(), ls.service.as_deref()), (Some("zeek"), Some("dns")));
        let declared = EventSource { product: Some("zeek".into()), service: Some("rdp".into()), category: None };
        assert_eq!(logsource(&zeek, &declared).service.as_deref(), Some("rdp"));
        assert_eq!(logsource(&json!({"a": 1}), &none), none);
    }

    #[test]
    fn other_events_are_left_alone() {
        let zeek = json!({"ts": 1.5, "id.orig_h": "10.0.0.1", "Event": "a string"});
        assert_eq!(normalise(zeek.clone()), zeek);
        assert_eq!(normalise(json!([1, 2])), json!([1, 2]));
    }
}
