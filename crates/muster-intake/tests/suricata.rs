//! Suricata EVE parser on the real samples in `shared/data/samples/suricata-eve`.

mod common;

use common::{alerts, options, parse_lines};
use muster_intake::{Format, ObservableKind, Role, Severity, parse::suricata};

#[test]
fn wazuh_engine_alert_lines_snapshot() {
    let out = parse_lines("suricata-eve/wazuh-engine-4x-tests/alert_input.txt", Some(Format::Eve));
    assert_eq!(out.len(), 22);
    // 21 alerts and one tls event, which is ignored by default.
    assert_eq!(alerts(&out).len(), 21);
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn elastic_beats_small_log_keeps_only_alerts() {
    let out = parse_lines("suricata-eve/elastic-beats/eve-small.log", None);
    let got = alerts(&out);
    assert_eq!(got.len(), 1, "exactly one alert event in eve-small.log");
    assert!(
        out.iter().filter(|o| o.reject.is_some()).all(|o| o.reject.as_deref().is_some_and(|r| r.contains("ignored")))
    );
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn rule_metadata_gives_cve_and_attack_technique() {
    let out = parse_lines("suricata-eve/elastic-beats/eve-metadata.log", Some(Format::Eve));
    let a = alerts(&out);
    assert_eq!(a.len(), 1);
    let a = a[0];
    assert_eq!(a.attack.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["T1190"]);
    assert_eq!(a.observables_of(ObservableKind::Cve).map(|o| o.value()).collect::<Vec<_>>(), ["CVE-2019-91325"]);
    assert_eq!(a.ip_with_role(Role::Source).map(|o| o.value()), Some("81.2.69.143"));
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.rsit.as_str(), "ids-alert");
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn dns_events_are_ignored_unless_configured() {
    let data = common::read("suricata-eve/wazuh-engine-4x-tests/dns_input.txt");
    let line = data.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut o = options();
    let r = suricata::parse(line, &o);
    assert!(r.as_ref().is_err_and(|e| e.is_ignored()), "{r:?}");
    o.eve_extra_event_types.insert("dns".into());
    let a = suricata::parse(line, &o).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.severity, Severity::Info);
    assert!(a.observables_of(ObservableKind::Domain).count() >= 1, "{a:?}");
}

#[test]
fn same_signature_between_same_hosts_has_one_fingerprint() {
    let out = parse_lines("suricata-eve/wazuh-engine-4x-tests/alert_input.txt", Some(Format::Eve));
    let a = alerts(&out);
    // The first two lines are the same curl signature between the same hosts.
    assert_eq!(a[0].fingerprint, a[1].fingerprint);
    assert_ne!(a[0].first_seen, a[1].first_seen);
}

#[test]
fn wrong_types_and_bad_json_name_the_problem() {
    let o = options();
    let e = suricata::parse(br#"{"event_type":"alert","alert":{"signature_id":"x"}}"#, &o)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("alert.signature_id"), "{e}");
    let e = suricata::parse(br#"{"event_type":"alert","src_port":70000,"alert":{}}"#, &o)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("src_port"), "{e}");
    let e =
        suricata::parse(br#"{"event_type":"alert","alert":{"sig"#, &o).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("truncated JSON"), "{e}");
    let e = suricata::parse(br#"{"alert":{}}"#, &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("event_type"));
    let e = suricata::parse(b"{\"event_type\":\"alert\xff\"}", &o).err().map(|e| e.to_string());
    assert!(e.is_some_and(|e| e.contains("UTF-8")));
}

#[test]
fn oversized_record_is_rejected_before_parsing() {
    let mut o = options();
    o.max_record_len = 100;
    let big = format!(r#"{{"event_type":"alert","x":"{}"}}"#, "a".repeat(200));
    let e = suricata::parse(big.as_bytes(), &o).err().map(|e| e.kind);
    assert_eq!(e, Some(muster_intake::RejectKind::TooLarge { limit: 100 }));
}
