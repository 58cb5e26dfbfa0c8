//! IntelMQ events: import (an event JSON object → [`Alert`]) and export
//! ([`Alert`] → event with IntelMQ harmonisation field names such as
//! `source.ip`, `destination.port`, `classification.taxonomy`,
//! `classification.type`, `feed.name`, `time.source`). The Shadowserver
//! parser builds IntelMQ events and imports them through here.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use serde_json::{Map, Value};

use crate::alert::{Alert, Format, Rule, Severity};
use crate::observable::{Observable, ObservableKind, Role};
use crate::parse::ParseOptions;
use crate::parse::json::JsonRecord;
use crate::reject::Reject;
use crate::timefmt;

/// An IntelMQ event: flat harmonisation field names to values.
pub type Event = Map<String, Value>;

/// Parses one IntelMQ event JSON object into an alert.
///
/// # Errors
/// Malformed JSON, or a field with a wrong type or invalid value (named).
pub fn parse(record: &[u8], options: &ParseOptions) -> Result<Alert, Reject> {
    let r = JsonRecord::parse(record, options)?;
    let mut alert = import_owned(flatten(&r.root), Format::Intelmq, options)?;
    alert.original = record.to_vec();
    Ok(alert)
}

/// Flattens nested objects into dotted keys (IntelMQ's JSON may be nested).
#[must_use]
pub fn flatten(v: &Value) -> Event {
    fn walk(prefix: &str, v: &Value, out: &mut Event) {
        match v {
            Value::Object(m) if prefix != "extra" || !m.is_empty() => {
                for (k, inner) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, inner, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other.clone());
            }
        }
    }
    let mut out = Event::new();
    walk("", v, &mut out);
    out
}

/// IntelMQ classification types that RSIT v1003 renamed or folded.
fn rsit_for_intelmq_type(t: &str) -> &str {
    match t {
        "vulnerable service" | "vulnerable-service" => "vulnerable-system",
        "blacklist" | "blocklist" | "unknown" => "other",
        "backdoor" | "compromised" => "system-compromise",
        "c&c" | "c2server" => "c2-server",
        "infected system" | "malware" => "infected-system",
        "scanner " => "scanner",
        "ddos amplifier" => "ddos-amplifier",
        "potentially unwanted accessible" => "potentially-unwanted-accessible",
        "leak" => "data-leak",
        "defacement" => "unauthorised-information-modification",
        other => other,
    }
}

/// A flat event being imported: looked up by field name, then its
/// remaining fields moved into the alert's extras. A JSON [`Event`] is one;
/// the Shadowserver parser builds a [`SortedFields`] instead of a map.
pub trait Fields {
    fn get(&self, key: &str) -> Option<&Value>;
    /// Every field, in key order.
    fn entries(&self) -> impl Iterator<Item = (&str, &Value)>;
    /// The fields `keep` accepts, as extras.
    fn into_extras(self, keep: impl FnMut(&str, &Value) -> bool) -> BTreeMap<Cow<'static, str>, Value>;
}

impl Fields for Event {
    fn get(&self, key: &str) -> Option<&Value> {
        Map::get(self, key)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn into_extras(self, mut keep: impl FnMut(&str, &Value) -> bool) -> BTreeMap<Cow<'static, str>, Value> {
        self.into_iter().filter(|(k, v)| keep(k, v)).map(|(k, v)| (Cow::Owned(k), v)).collect()
    }
}

/// Fields sorted by name, each name once (binary-searched; names of
/// harmonisation fields borrowed, not allocated). The third element is the
/// order a field was written in.
#[derive(Debug, Clone, Default)]
pub struct SortedFields(Vec<(Cow<'static, str>, Value, usize)>, [u64; 4]);

impl SortedFields {
    /// Sorts `pairs` by name; for a name given twice the later value wins.
    #[must_use]
    pub fn new(pairs: Vec<(Cow<'static, str>, Value)>) -> Self {
        Self::from_numbered(pairs.into_iter().enumerate().map(|(i, (k, v))| (k, v, i)).collect())
    }

    /// Sorts fields numbered in the order they were written, in place; for a
    /// name given twice the later value wins.
    #[must_use]
    pub fn from_numbered(mut numbered: Vec<(Cow<'static, str>, Value, usize)>) -> Self {
        numbered.sort_unstable_by(|(a, _, i), (b, _, j)| key_cmp(a, b).then(i.cmp(j)));
        numbered.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(&mut later.1, &mut earlier.1);
            }
            same
        });
        let mut filter = [0u64; 4];
        for (k, _, _) in &numbered {
            let h = filter_bit(k);
            filter[h / 64] |= 1 << (h % 64);
        }
        Self(numbered, filter)
    }

    /// As a JSON event.
    #[must_use]
    pub fn into_event(self) -> Event {
        self.0.into_iter().map(|(k, v, _)| (k.into_owned(), v)).collect()
    }
}

impl Fields for SortedFields {
    fn get(&self, key: &str) -> Option<&Value> {
        // Most names looked up are absent: a one-probe filter answers those.
        let h = filter_bit(key);
        if self.1[h / 64] & (1 << (h % 64)) == 0 {
            return None;
        }
        self.0.binary_search_by(|(k, _, _)| key_cmp(k, key)).ok().map(|i| &self.0[i].1)
    }

    fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v, _)| (k.as_ref(), v))
    }

    fn into_extras(self, mut keep: impl FnMut(&str, &Value) -> bool) -> BTreeMap<Cow<'static, str>, Value> {
        self.0.into_iter().filter(|(k, v, _)| keep(k, v)).map(|(k, v, _)| (k, v)).collect()
    }
}

/// A field name's bit in [`SortedFields`]' 256-bit filter: from its
/// length, middle and last bytes (names share their prefixes).
#[inline]
fn filter_bit(key: &str) -> usize {
    let b = key.as_bytes();
    let (mid, last) = (b.get(b.len() / 2).copied().unwrap_or(0), b.last().copied().unwrap_or(0));
    (b.len().wrapping_mul(31) ^ usize::from(mid).wrapping_mul(7) ^ usize::from(last).wrapping_mul(131)) % 256
}

/// The order of `str`, compared inline eight bytes at a time (big-endian
/// words order like their bytes): field names are short and share
/// `extra.`/`source.` prefixes, where a `memcmp` call per comparison
/// dominated the lookups.
#[inline]
fn key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    while let (Some(x), Some(y)) = (ca.next(), cb.next()) {
        let x = u64::from_be_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_be_bytes(y.try_into().unwrap_or([0; 8]));
        if x != y {
            return x.cmp(&y);
        }
    }
    let done = a.len().min(b.len()) / 8 * 8;
    for (x, y) in a[done..].iter().zip(&b[done..]) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// As [`text`], borrowing the string when it is one.
fn text_ref<'a>(e: &'a impl Fields, key: &str) -> Option<Cow<'a, str>> {
    match e.get(key)? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(Cow::Owned(v.to_string())),
        _ => None,
    }
}

fn text(e: &impl Fields, key: &str) -> Option<String> {
    match e.get(key)? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// Builds an alert from a flat IntelMQ event.
///
/// # Errors
/// An unknown `classification.type`, an unparseable `time.source`, a bad
/// port, or a wrong-typed field.
pub fn import(e: &Event, format: Format, options: &ParseOptions) -> Result<Alert, Reject> {
    import_owned(e.clone(), format, options)
}

/// As [`import`], taking the event so that its unmapped fields move into
/// `extra` instead of being copied (Shadowserver rows go through here).
///
/// # Errors
/// As [`import`].
pub fn import_owned(event: Event, format: Format, options: &ParseOptions) -> Result<Alert, Reject> {
    import_fields(event, format, options)
}

/// As [`import_owned`], for any [`Fields`].
///
/// # Errors
/// As [`import`].
pub fn import_fields(event: impl Fields, format: Format, options: &ParseOptions) -> Result<Alert, Reject> {
    let e = &event;
    for (k, v) in e.entries() {
        if matches!(v, Value::Object(_) | Value::Array(_)) && !k.starts_with("extra") {
            return Err(Reject::wrong_type(k.to_owned(), "a scalar"));
        }
    }
    let ctype = text_ref(e, "classification.type").unwrap_or(Cow::Borrowed("undetermined"));
    let rsit = muster_core::taxonomy::RsitType::parse(rsit_for_intelmq_type(&ctype))
        .map_err(|_| Reject::invalid("classification.type", format!("{ctype:?} is not an RSIT type")))?;
    let time = match text_ref(e, "time.source").or_else(|| text_ref(e, "time.observation")) {
        Some(t) => {
            timefmt::parse_iso(&t).ok_or_else(|| Reject::invalid("time.source", format!("{t:?} is not ISO 8601")))?
        }
        None => options.received_at,
    };
    let feed = text(e, "feed.name");
    let identifier = text(e, "classification.identifier");
    let title = text(e, "event_description.text").unwrap_or_else(|| {
        let what = identifier.clone().unwrap_or_else(|| ctype.clone().into_owned());
        feed.as_ref().map_or_else(|| what.clone(), |f| format!("{f}: {what}"))
    });
    let source = match format {
        Format::Shadowserver => "shadowserver".to_owned(),
        _ => text(e, "feed.provider").or_else(|| feed.clone()).unwrap_or_else(|| "intelmq".into()),
    };
    let mut alert = Alert::new(format, source, title, time, rsit);
    alert.severity = text_ref(e, "extra.severity")
        .and_then(|s| Severity::parse(&s))
        .unwrap_or_else(|| default_severity(rsit.class()));
    alert.rule = identifier.map(|id| Rule {
        id: text(e, "extra.rule.id").or_else(|| Some(id.clone())),
        name: Some(id),
        category: text(e, "classification.taxonomy"),
    });
    alert.description = text(e, "extra.description").or_else(|| text(e, "comment"));
    if let Some(t) = text_ref(e, "tlp") {
        alert.tlp = muster_core::Tlp::parse(&t).map_err(|err| Reject::invalid("tlp", err.to_string()))?;
    }
    alert.network.source_port = port(e, "source.port")?;
    alert.network.destination_port = port(e, "destination.port")?;
    alert.network.transport = text(e, "protocol.transport");
    alert.network.application = text(e, "protocol.application");
    for (field, kind, role) in OBSERVABLE_FIELDS {
        if let Some(v) = text_ref(e, field) {
            if matches!(kind, ObservableKind::Ipv4) {
                alert.observe_ip(&v, *role, field);
            } else {
                alert.observe(*kind, &v, *role, field);
            }
        }
    }
    if let Some(Value::Array(list)) = e.get("extra.observables") {
        for item in list {
            match serde_json::from_value::<Observable>(item.clone()) {
                Ok(o) => alert.observables.push(o),
                Err(err) => alert.warnings.push(format!("extra.observables: {err}")),
            }
        }
    }
    if let Some(Value::Array(list)) = e.get("extra.attack") {
        for t in list.iter().filter_map(Value::as_str) {
            alert.add_technique(t, "extra.attack");
        }
    }
    if let Some(Value::Array(list)) = e.get("extra.tags") {
        alert.tags = list.iter().filter_map(Value::as_str).map(str::to_owned).collect();
    }
    if let Some(n) = e.get("extra.count").and_then(Value::as_u64) {
        alert.count = n.max(1);
    }
    if let Some(t) = text_ref(e, "extra.last_seen").and_then(|t| timefmt::parse_iso(&t)) {
        alert.last_seen = t.max(alert.first_seen);
    }
    alert.host = text(e, "extra.host");
    let identity: Vec<(&str, String)> = IDENTITY_FIELDS.iter().filter_map(|f| text(e, f).map(|v| (*f, v))).collect();
    let identity: Vec<(&str, &str)> = identity.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Per field of every event: a set, not two linear scans of string compares.
    static CONSUMED: LazyLock<HashSet<&'static str, BuildHasherDefault<Fnv>>> =
        LazyLock::new(|| KNOWN_FIELDS.iter().copied().chain(OBSERVABLE_FIELDS.iter().map(|(f, _, _)| *f)).collect());
    let kept = event.into_extras(|k, v| !CONSUMED.contains(k) && !v.is_null());
    if alert.extra.is_empty() {
        alert.extra = kept;
    } else {
        alert.extra.extend(kept);
    }
    options.apply_markings(&mut alert);
    Ok(alert.seal(&identity))
}

/// FNV-1a: the consumed-field set is looked up once per field of every
/// event, with short trusted keys, where SipHash's cost shows.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Fields besides observables that tell two events apart.
const IDENTITY_FIELDS: &[&str] = &["feed.name", "source.port", "destination.port", "protocol.transport"];

const KNOWN_FIELDS: &[&str] = &[
    "classification.type",
    "classification.identifier",
    "classification.taxonomy",
    "time.source",
    "event_description.text",
    "extra.severity",
    "extra.rule.id",
    "extra.description",
    "comment",
    "tlp",
    "source.port",
    "destination.port",
    "protocol.transport",
    "protocol.application",
    "extra.observables",
    "extra.attack",
    "extra.tags",
    "extra.count",
    "extra.last_seen",
    "extra.host",
    "raw",
    "__type",
];

const OBSERVABLE_FIELDS: &[(&str, ObservableKind, Option<Role>)] = &[
    ("source.ip", ObservableKind::Ipv4, Some(Role::Source)),
    ("destination.ip", ObservableKind::Ipv4, Some(Role::Destination)),
    ("source.network", ObservableKind::Cidr, Some(Role::Source)),
    ("destination.network", ObservableKind::Cidr, Some(Role::Destination)),
    ("source.fqdn", ObservableKind::Domain, Some(Role::Source)),
    ("destination.fqdn", ObservableKind::Domain, Some(Role::Destination)),
    ("source.reverse_dns", ObservableKind::Hostname, Some(Role::Source)),
    ("destination.reverse_dns", ObservableKind::Hostname, Some(Role::Destination)),
    ("source.local_hostname", ObservableKind::Hostname, Some(Role::Source)),
    ("source.url", ObservableKind::Url, Some(Role::Source)),
    ("destination.url", ObservableKind::Url, Some(Role::Destination)),
    ("source.asn", ObservableKind::Asn, Some(Role::Source)),
    ("destination.asn", ObservableKind::Asn, Some(Role::Destination)),
    ("source.account", ObservableKind::UserAccount, Some(Role::Source)),
    ("destination.account", ObservableKind::UserAccount, Some(Role::Destination)),
    ("malware.hash.md5", ObservableKind::Md5, None),
    ("malware.hash.sha1", ObservableKind::Sha1, None),
    ("malware.hash.sha256", ObservableKind::Sha256, None),
];

fn default_severity(class: muster_core::taxonomy::RsitClass) -> Severity {
    use muster_core::taxonomy::RsitClass as C;
    match class {
        C::MaliciousCode | C::Intrusions | C::Fraud => Severity::High,
        C::IntrusionAttempts | C::Availability | C::InformationContentSecurity => Severity::Medium,
        C::Vulnerable | C::InformationGathering | C::AbusiveContent => Severity::Low,
        C::Other | C::Test => Severity::Info,
    }
}

fn port(e: &impl Fields, key: &str) -> Result<Option<u16>, Reject> {
    match e.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| Reject::invalid(key, format!("{n} is not a port"))),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| Reject::invalid(key, format!("{s:?} is not a port"))),
        Some(_) => Err(Reject::wrong_type(key, "a port number")),
    }
}

/// Exports an alert as an IntelMQ event. The first source and destination
/// addresses, domains, URLs and hashes take the harmonisation fields; the
/// full typed observable list, severity, rule, ATT&CK ids, tags and count go
/// under `extra.*` so [`import`] restores them.
#[must_use]
pub fn export(alert: &Alert) -> Event {
    let mut e = Event::new();
    let mut put = |k: &str, v: Value| {
        e.entry(k.to_owned()).or_insert(v);
    };
    let rsit = alert.rsit;
    put("classification.taxonomy", rsit.class().as_str().into());
    put("classification.type", rsit.as_str().into());
    if let Some(r) = &alert.rule {
        if let Some(name) = r.name.as_ref().or(r.id.as_ref()) {
            put("classification.identifier", name.as_str().into());
        }
        if let Some(id) = &r.id {
            put("extra.rule.id", id.as_str().into());
        }
    }
    put("event_description.text", alert.title.as_str().into());
    if let Some(d) = &alert.description {
        put("extra.description", d.as_str().into());
    }
    put("time.source", timefmt::format_rfc3339(alert.first_seen).into());
    put("extra.last_seen", timefmt::format_rfc3339(alert.last_seen).into());
    put("extra.count", alert.count.into());
    put("extra.severity", alert.severity.as_str().into());
    put("tlp", alert.tlp.as_str().trim_start_matches("TLP:").into());
    put("feed.name", alert.source.as_str().into());
    put("extra.format", alert.format.as_str().into());
    put("extra.fingerprint", alert.fingerprint.to_hex().into());
    if let Some(h) = &alert.host {
        put("extra.host", h.as_str().into());
    }
    if let Some(p) = alert.network.source_port {
        put("source.port", p.into());
    }
    if let Some(p) = alert.network.destination_port {
        put("destination.port", p.into());
    }
    if let Some(t) = &alert.network.transport {
        put("protocol.transport", t.as_str().into());
    }
    if let Some(a) = &alert.network.application {
        put("protocol.application", a.as_str().into());
    }
    for o in &alert.observables {
        let field = OBSERVABLE_FIELDS.iter().find(|(_, kind, role)| {
            let kind_ok = *kind == o.kind() || (*kind == ObservableKind::Ipv4 && o.is_ip());
            kind_ok && (*role == o.role() || role.is_none())
        });
        if let Some((f, _, _)) = field {
            let v = if o.kind() == ObservableKind::Asn {
                o.value().parse::<u64>().map_or_else(|_| o.value().into(), Value::from)
            } else {
                o.value().into()
            };
            put(f, v);
        }
    }
    put("extra.observables", serde_json::to_value(&alert.observables).unwrap_or_default());
    if !alert.attack.is_empty() {
        put("extra.attack", alert.attack.iter().map(|t| Value::from(t.as_str())).collect());
    }
    if !alert.tags.is_empty() {
        put("extra.tags", alert.tags.iter().map(|t| Value::from(t.as_str())).collect());
    }
    for (k, v) in &alert.extra {
        let harmonised = k.starts_with("extra.")
            || k.starts_with("source.")
            || k.starts_with("destination.")
            || k.starts_with("feed.")
            || k.starts_with("malware.")
            || k.starts_with("time.")
            || k.starts_with("protocol.")
            || k == "user_agent";
        if harmonised {
            put(k, v.clone());
        } else {
            put(&format!("extra.{k}"), v.clone());
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_intelmq_types_map_to_rsit() {
        for t in ["vulnerable service", "blacklist", "backdoor", "c2server", "malware"] {
            let mapped = rsit_for_intelmq_type(t);
            assert!(muster_core::taxonomy::RsitType::parse(mapped).is_ok(), "{t} -> {mapped}");
        }
    }

    #[test]
    fn key_order_is_the_order_of_str() {
        let keys = ["", "a", "ab", "extra.", "extra.a", "extra.ab", "extra.abcdefgh", "extra.abcdefgi", "source.ip"];
        for a in keys {
            for b in keys {
                assert_eq!(key_cmp(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn sorted_fields_keep_the_later_of_a_repeated_name() {
        let f = SortedFields::new(vec![
            ("extra.b".into(), Value::from(1)),
            ("extra.a".into(), Value::from(2)),
            ("extra.b".into(), Value::from(3)),
        ]);
        assert_eq!(f.get("extra.b"), Some(&Value::from(3)));
        assert_eq!(f.get("extra.a"), Some(&Value::from(2)));
        assert_eq!(f.get("extra.c"), None);
        assert_eq!(f.into_event().len(), 2);
    }

    #[test]
    fn flatten_joins_nested_keys() {
        let v = serde_json::json!({"source": {"ip": "1.2.3.4", "geolocation": {"cc": "AT"}}, "feed.name": "x"});
        let f = flatten(&v);
        assert_eq!(f.get("source.geolocation.cc"), Some(&Value::from("AT")));
        assert_eq!(f.get("feed.name"), Some(&Value::from("x")));
    }
}
