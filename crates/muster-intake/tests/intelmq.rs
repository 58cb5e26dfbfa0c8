//! IntelMQ event import and export.

mod common;

use common::{alerts, options, parse_lines};
use muster_intake::{Format, ObservableKind, Role, intelmq, parse_record};

#[test]
fn exported_alerts_import_back_to_the_same_content() {
    let mut all = parse_lines("suricata-eve/wazuh-engine-4x-tests/alert_input.txt", Some(Format::Eve));
    all.extend(parse_lines("wazuh/alerts/EXTRACTED-alerts-valid.jsonl", None));
    all.extend(parse_lines("cef/elastic-beats/decode_cef-samples.log", None));
    let o = options();
    for a in alerts(&all) {
        let event = intelmq::export(a);
        let json = serde_json::to_vec(&event).unwrap_or_default();
        let back = parse_record(&json, Some(Format::Intelmq), &o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.title, a.title);
        assert_eq!(back.rsit, a.rsit);
        assert_eq!(back.severity, a.severity);
        assert_eq!(back.first_seen, a.first_seen);
        assert_eq!(back.observables, a.observables);
        assert_eq!(back.attack, a.attack);
        assert_eq!(back.tags, a.tags);
        assert_eq!(back.network, a.network);
        assert_eq!(back.host, a.host);
        assert_eq!(back.tlp, a.tlp);
        assert_eq!(back.description, a.description);
    }
}

#[test]
fn export_uses_harmonisation_names() {
    let out = parse_lines("suricata-eve/elastic-beats/eve-metadata.log", Some(Format::Eve));
    let e = intelmq::export(alerts(&out)[0]);
    let get = |k: &str| e.get(k).cloned().unwrap_or_default();
    assert_eq!(get("source.ip"), "81.2.69.143");
    assert_eq!(get("destination.ip"), "10.31.64.240");
    assert_eq!(get("source.port"), 80);
    assert_eq!(get("destination.port"), 47592);
    assert_eq!(get("classification.taxonomy"), "intrusion-attempts");
    assert_eq!(get("classification.type"), "ids-alert");
    assert_eq!(get("protocol.transport"), "tcp");
    assert_eq!(get("time.source"), "2021-01-27T01:28:11.488362+01:00");
    assert_eq!(get("feed.name"), "suricata");
    assert_eq!(get("destination.fqdn"), serde_json::Value::Null, "domain has no role");
}

#[test]
fn imports_a_plain_intelmq_event() {
    let event = br#"{"feed.name":"Open Redis","feed.provider":"Shadowserver","classification.taxonomy":"vulnerable","classification.type":"vulnerable service","classification.identifier":"open-redis","source.ip":"198.51.100.7","source.port":6379,"source.asn":64496,"source.geolocation.cc":"AT","protocol.application":"redis","protocol.transport":"tcp","time.source":"2019-09-04T05:40:55+00:00","time.observation":"2019-09-05T00:00:00+00:00","extra.version":"5.0.7","raw":"Zm9v"}"#;
    let a = parse_record(event, None, &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.format, Format::Intelmq);
    assert_eq!(a.source, "Shadowserver");
    assert_eq!(a.rsit.as_str(), "vulnerable-system");
    assert_eq!(a.ip_with_role(Role::Source).map(|o| o.value()), Some("198.51.100.7"));
    assert_eq!(a.observables_of(ObservableKind::Asn).next().map(|o| o.value()), Some("64496"));
    assert_eq!(a.network.source_port, Some(6379));
    assert_eq!(a.extra.get("extra.version").and_then(|v| v.as_str()), Some("5.0.7"));
    assert!(!a.extra.contains_key("raw"));
    insta::assert_yaml_snapshot!(a);
}

#[test]
fn bad_intelmq_values_are_named() {
    let o = options();
    let e = |s: &str| parse_record(s.as_bytes(), Some(Format::Intelmq), &o).err().and_then(|e| e.field);
    assert_eq!(e(r#"{"classification.type":"nonsense"}"#).as_deref(), Some("classification.type"));
    assert_eq!(e(r#"{"source.port":"http"}"#).as_deref(), Some("source.port"));
    assert_eq!(e(r#"{"time.source":"yesterday"}"#).as_deref(), Some("time.source"));
    assert_eq!(e(r#"{"source.ip":["1.2.3.4"]}"#).as_deref(), Some("source.ip"));
    assert_eq!(e(r#"{"tlp":"PURPLE"}"#).as_deref(), Some("tlp"));
}
