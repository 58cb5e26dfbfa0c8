//! TheHive 5 alert creation documents. `shared/data` has none, so the
//! documents are written here in the shapes real integrations send
//! (Splunk's TheHive alert action, Wazuh's integration, a MISP-style feed).

mod common;

use common::options;
use muster_core::{Pap, Tlp};
use muster_intake::parse::thehive;
use muster_intake::{Format, ObservableKind, RejectKind, Severity, parse_record};
use serde_json::json;

fn splunk_alert() -> serde_json::Value {
    json!({
        "type": "splunk-alert",
        "source": "splunk",
        "sourceRef": "scheduler__admin__search__RMD5f3a1c2b_at_1709632800_42",
        "title": "Multiple failed logons followed by success for svc_backup",
        "description": "12 failed logons for svc_backup from 203.0.113.7 within 5 minutes, then a success on dc-01.corp.example.",
        "severity": 3,
        "date": 1_709_632_800_123_i64,
        "tags": ["splunk", "brute-force", "T1110"],
        "tlp": 2,
        "pap": 2,
        "externalLink": "https://splunk.corp.example/app/search/@go?sid=scheduler__admin__search__RMD5f3a1c2b",
        "observables": [
            {"dataType": "ip", "data": "203.0.113.7", "message": "src", "tags": ["attacker"], "ioc": true, "sighted": true, "tlp": 2},
            {"dataType": "hostname", "data": "DC-01.corp.example"},
            {"dataType": "fqdn", "data": "dc-01.corp.example"},
            {"dataType": "other", "data": "svc_backup", "message": "account"},
            {"dataType": "user-agent", "data": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"}
        ],
        "procedures": [{"patternId": "T1110.001", "tactic": "credential-access", "occurDate": 1_709_632_800_000_i64}]
    })
}

fn wazuh_alert() -> serde_json::Value {
    json!({
        "type": "wazuh_alert",
        "source": "wazuh",
        "sourceRef": "1709632800.1234567",
        "title": "File added to the system.",
        "description": "New file /tmp/.x/payload.exe on web-02",
        "severity": 4,
        "date": 1_709_632_801_000_i64,
        "tags": ["wazuh", "syscheck"],
        "tlp": 4,
        "pap": 3,
        "observables": [
            {"dataType": "hash", "data": "44d88612fea8a8f36de82e1278abb02f"},
            {"dataType": "hash", "data": "3395856CE81F2B7382DEE72602F798B642F14140"},
            {"dataType": "hash", "data": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
            {"dataType": "filename", "data": "payload.exe"},
            {"dataType": "url", "data": ["http://malware.example/payload.exe", "https://cdn.malware.example/p"]},
            {"dataType": "mail", "data": "Phisher@Malware.example"},
            {"dataType": "domain", "data": "malware.example"},
            {"dataType": "ip", "data": "2001:db8::1"},
            {"dataType": "ip", "data": "198.51.100.0/24"},
            {"dataType": "autonomous-system", "data": "AS64500"}
        ]
    })
}

fn odd_alert() -> serde_json::Value {
    json!({
        "type": "external",
        "source": "misp-feed",
        "sourceRef": "5f1c-42",
        "title": "Feed event with custom and broken observables",
        "observables": [
            {"dataType": "bitcoin-address", "data": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"},
            {"dataType": "ip", "data": "999.1.1.1"},
            {"dataType": "hash", "data": "not-a-hash"},
            {"dataType": "file", "attachment": {"name": "x.bin"}}
        ]
    })
}

fn parse(v: &serde_json::Value) -> muster_intake::Alert {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    parse_record(&bytes, Some(Format::TheHive), &options()).unwrap_or_else(|e| panic!("{e}"))
}

fn reject(v: &serde_json::Value) -> muster_intake::Reject {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    thehive::parse(&bytes, &options()).err().unwrap_or_else(|| panic!("accepted {v}"))
}

#[test]
fn splunk_alert_maps_markings_severity_and_observables() {
    let a = parse(&splunk_alert());
    assert_eq!(a.format, Format::TheHive);
    assert_eq!(a.source, "splunk");
    assert_eq!(a.severity, Severity::High);
    assert_eq!((a.tlp, a.pap), (Tlp::Amber, Pap::Amber));
    assert_eq!(a.first_seen.unix_timestamp_nanos(), 1_709_632_800_123_000_000);
    assert_eq!(a.attack.iter().map(|t| t.as_str()).collect::<Vec<_>>(), ["T1110.001"]);
    assert_eq!(a.observables_of(ObservableKind::Hostname).count(), 1, "fqdn and hostname fold into one");
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    assert_eq!(a.extra.get("observables").and_then(|o| o.as_array()).map(Vec::len), Some(2));
    insta::assert_yaml_snapshot!(a);
}

#[test]
fn wazuh_alert_maps_hashes_by_length_and_amber_strict() {
    let a = parse(&wazuh_alert());
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!((a.tlp, a.pap), (Tlp::AmberStrict, Pap::Red));
    for kind in [ObservableKind::Md5, ObservableKind::Sha1, ObservableKind::Sha256, ObservableKind::Cidr] {
        assert_eq!(a.observables_of(kind).count(), 1, "{kind}");
    }
    assert_eq!(a.observables_of(ObservableKind::Url).count(), 2);
    insta::assert_yaml_snapshot!(a);
}

#[test]
fn unknown_and_invalid_observables_are_kept_with_warnings() {
    let a = parse(&odd_alert());
    assert!(a.observables.is_empty());
    assert_eq!(a.severity, Severity::Medium, "TheHive's default severity is 2");
    assert_eq!(a.extra.get("observables").and_then(|o| o.as_array()).map(Vec::len), Some(4));
    assert_eq!(a.warnings.len(), 4, "{:?}", a.warnings);
    assert!(a.warnings[0].contains("unknown TheHive dataType \"bitcoin-address\""), "{:?}", a.warnings);
    insta::assert_yaml_snapshot!(a);
}

#[test]
fn fingerprint_is_type_source_and_source_ref_only() {
    let a = parse(&splunk_alert());
    let mut changed = splunk_alert();
    changed["title"] = json!("Another title");
    changed["observables"] = json!([]);
    changed["date"] = json!(1_800_000_000_000_i64);
    assert_eq!(parse(&changed).fingerprint, a.fingerprint);
    for (field, value) in [("sourceRef", "other-ref"), ("type", "other-type"), ("source", "other-source")] {
        let mut other = splunk_alert();
        other[field] = json!(value);
        assert_ne!(parse(&other).fingerprint, a.fingerprint, "{field}");
    }
}

#[test]
fn missing_required_fields_are_named() {
    for field in ["type", "source", "sourceRef", "title"] {
        let mut v = splunk_alert();
        if let Some(o) = v.as_object_mut() {
            o.remove(field);
        }
        let r = reject(&v);
        assert_eq!((r.kind, r.field.as_deref()), (RejectKind::MissingField, Some(field)));
    }
}

#[test]
fn out_of_range_and_wrong_types_are_rejected_by_field() {
    let cases = [
        ("severity", json!(5), "severity"),
        ("severity", json!(0), "severity"),
        ("severity", json!("high"), "severity"),
        ("tlp", json!(5), "tlp"),
        ("pap", json!(4), "pap"),
        ("tlp", json!(-1), "tlp"),
        ("date", json!("yesterday"), "date"),
        ("date", json!(true), "date"),
        ("tags", json!({"a": 1}), "tags"),
        ("observables", json!("ip"), "observables"),
        ("observables", json!(["ip"]), "observables[0]"),
        ("observables", json!([{"data": "1.2.3.4"}]), "observables[0].dataType"),
        ("observables", json!([{"dataType": "ip"}]), "observables[0].data"),
        ("observables", json!([{"dataType": "ip", "data": 7}]), "observables[0].data"),
        ("procedures", json!([{"tactic": "x"}]), "procedures[0].patternId"),
    ];
    for (field, value, want) in cases {
        let mut v = splunk_alert();
        v[field] = value.clone();
        let r = reject(&v);
        assert_eq!(r.field.as_deref(), Some(want), "{field} = {value}: {r}");
    }
}

#[test]
fn malformed_documents_are_rejected_not_panicked() {
    let o = options();
    let cases: &[&[u8]] = &[b"", b"[]", b"{\"type\": \"x\"", b"\xff{}", b"null", b"{\"type\":1,\"source\":{}}"];
    for c in cases {
        assert!(thehive::parse(c, &o).is_err(), "{:?}", String::from_utf8_lossy(c));
    }
    let e = thehive::parse(b"{\"type\": \"x\"", &o).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("truncated JSON"), "{e}");
}

#[test]
fn iso_dates_and_string_numbers_are_accepted() {
    let mut v = splunk_alert();
    v["date"] = json!("2024-03-05T10:00:00Z");
    v["severity"] = json!("1");
    let a = parse(&v);
    assert_eq!(a.first_seen.unix_timestamp(), 1_709_632_800);
    assert_eq!(a.severity, Severity::Low);
}

#[test]
fn thehive_is_not_auto_detected() {
    // TheHive documents share field names with other JSON formats; the
    // route names the format, so detection stays out of it.
    let bytes = serde_json::to_vec(&splunk_alert()).unwrap_or_default();
    assert_ne!(muster_intake::detect(&bytes), Some(Format::TheHive));
    assert_eq!(Format::parse("thehive"), Some(Format::TheHive));
    assert_eq!(Format::TheHive.as_str(), "thehive");
    assert_eq!(serde_json::to_value(Format::TheHive).ok(), Some(json!("thehive")));
}
