//! Wazuh and Elastic (ECS, Elastic Security) parsers.

mod common;

use common::{alerts, options, parse_lines};
use muster_intake::parse::{ecs, wazuh};
use muster_intake::{Format, ObservableKind, Role, Severity};

#[test]
fn wazuh_valid_alerts_snapshot() {
    let out = parse_lines("wazuh/alerts/EXTRACTED-alerts-valid.jsonl", None);
    let a = alerts(&out);
    assert_eq!(a.len(), 2);
    assert!(a.iter().all(|a| a.format == Format::Wazuh));
    assert_eq!(a[0].rsit.as_str(), "brute-force");
    assert_eq!(a[0].severity, Severity::High);
    assert_eq!(a[0].attack.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["T1110"]);
    assert_eq!(a[0].ip_with_role(Role::Source).map(|o| o.value()), Some("172.17.1.1"));
    // Same rule and source, different agent: different alerts.
    assert_ne!(a[0].fingerprint, a[1].fingerprint);
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn wazuh_malformed_alert_is_rejected_with_position() {
    let out = parse_lines("wazuh/alerts/EXTRACTED-alert-invalid.txt", Some(Format::Wazuh));
    assert_eq!(out.len(), 1);
    let r = out[0].reject.as_deref().unwrap_or_default();
    assert!(r.contains("invalid JSON at line 1 column"), "{r}");
}

#[test]
fn wazuh_wrong_types_name_the_field() {
    let o = options();
    let e = wazuh::parse(br#"{"rule":{"id":"1","level":"high"}}"#, &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("rule.level"));
    let e = wazuh::parse(br#"{"rule":{"description":"x"}}"#, &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("rule.id"));
    let e = wazuh::parse(br#"{"rule":{"id":"1"},"data":{"srcport":"99999"}}"#, &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("data.srcport"));
}

const KIBANA_ALERT: &str = r#"{"@timestamp":"2024-03-05T10:00:00.000Z","kibana.alert.rule.name":"Potential SSH Brute Force Detected","kibana.alert.rule.rule_id":"1c27fa22-7727-4dd3-81c0-de6da5555feb","kibana.alert.rule.uuid":"5a1b","kibana.alert.uuid":"b3f2c1","kibana.alert.severity":"medium","kibana.alert.risk_score":47,"kibana.alert.reason":"authentication event with source 203.0.113.7 by root on web-01 created medium alert","kibana.alert.rule.threat":[{"framework":"MITRE ATT&CK","tactic":{"id":"TA0006","name":"Credential Access"},"technique":[{"id":"T1110","name":"Brute Force","subtechnique":[{"id":"T1110.001","name":"Password Guessing"}]}]}],"kibana.alert.workflow_status":"open","event":{"category":["authentication"],"outcome":"failure","kind":"signal"},"source":{"ip":"203.0.113.7","port":51234},"host":{"name":"web-01","ip":["10.1.2.3"]},"user":{"name":"root"},"tags":["ssh"]}"#;

#[test]
fn elastic_security_alert_maps_rule_threat_and_severity() {
    let a = ecs::parse(KIBANA_ALERT.as_bytes(), &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.format, Format::ElasticSecurity);
    assert_eq!(a.title, "Potential SSH Brute Force Detected");
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.rsit.as_str(), "brute-force");
    assert_eq!(a.attack.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["T1110", "T1110.001"]);
    assert_eq!(a.source_ref.as_deref(), Some("b3f2c1"));
    assert_eq!(a.host.as_deref(), Some("web-01"));
    assert_eq!(muster_intake::detect(KIBANA_ALERT.as_bytes()), Some(Format::ElasticSecurity));
    insta::assert_yaml_snapshot!(a);
}

#[test]
fn ecs_document_in_a_search_hit_is_unwrapped() {
    let doc = r#"{"_id":"abc123","_source":{"@timestamp":"2024-03-05T10:00:00Z","ecs":{"version":"8.11.0"},"event":{"kind":"alert","category":["network","intrusion_detection"],"severity":8,"module":"suricata"},"rule":{"id":"2013028","name":"ET POLICY curl User-Agent Outbound"},"observer":{"vendor":"OISF","product":"Suricata"},"source":{"ip":"192.168.1.146","port":32858},"destination":{"ip":"89.160.20.112","port":80,"domain":"example.net"},"url":{"original":"http://example.net/"},"file":{"hash":{"sha256":"E60A27AAEB184AABD9C92C513B27F98AE60A27AAEB184AABD9C92C513B27F98A"}},"network":{"transport":"tcp","protocol":"http"}}}"#;
    let a = ecs::parse(doc.as_bytes(), &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.format, Format::Ecs);
    assert_eq!(a.source, "OISF Suricata");
    assert_eq!(a.source_ref.as_deref(), Some("abc123"));
    assert_eq!(a.severity, Severity::High);
    assert_eq!(a.network.destination_port, Some(80));
    assert_eq!(a.observables_of(ObservableKind::Sha256).count(), 1);
    assert_eq!(a.rsit.as_str(), "ids-alert");
    insta::assert_yaml_snapshot!(a);
}

#[test]
fn ecs_requires_a_timestamp_and_checks_types() {
    let o = options();
    let e = ecs::parse(br#"{"event":{"kind":"alert"}}"#, &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("@timestamp"));
    let e = ecs::parse(br#"{"@timestamp":"2024-01-01T00:00:00Z","source":{"port":"http"}}"#, &o)
        .err()
        .and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("source.port"));
    let e = ecs::parse(br#"{"@timestamp":"yesterday"}"#, &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("@timestamp"));
}
