//! CEF and LEEF parsers on the real samples in `shared/data/samples/{cef,leef}`.

mod common;

use common::{alerts, options, parse_lines};
use muster_intake::parse::{cef, leef};
use muster_intake::{Format, ObservableKind, Role, Severity};

#[test]
fn elastic_beats_cef_log_snapshot() {
    let out = parse_lines("cef/elastic-beats/cef.log", None);
    assert_eq!(alerts(&out).len(), 4);
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn decode_cef_samples_snapshot() {
    let out = parse_lines("cef/elastic-beats/decode_cef-samples.log", Some(Format::Cef));
    assert_eq!(alerts(&out).len(), out.len(), "every vendor sample parses");
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn checkpoint_cef_snapshot() {
    let out = parse_lines("cef/tenzir/checkpoint.log", Some(Format::Cef));
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn syslog_wrapped_cef_takes_host_and_time_from_the_header() {
    let out = parse_lines("cef/EXTRACTED-wazuh-f5-asm.cef", None);
    assert!(!alerts(&out).is_empty());
    for a in alerts(&out) {
        assert_eq!(a.format, Format::Cef);
        assert!(a.host.is_some(), "{a:?}");
    }
    insta::assert_yaml_snapshot!(out);
    let out = parse_lines("cef/EXTRACTED-wazuh-fireeye.cef", None);
    insta::assert_yaml_snapshot!("fireeye", out);
}

#[test]
fn cef_escapes_are_undone() {
    let line = br"CEF:0|Citrix|NetScaler|NS10.0|APPFW|APPFW_STARTURL|6|src=10.217.253.78 spt=54711 method=GET request=http://vpx247.example.net/FFC/login_post.html?abc\=def msg=Disallow Illegal URL.";
    let a = cef::parse(line, &options()).unwrap_or_else(|e| panic!("{e}"));
    let urls: Vec<_> = a.observables_of(ObservableKind::Url).map(|o| o.value()).collect();
    assert_eq!(urls, ["http://vpx247.example.net/FFC/login_post.html?abc=def"]);
    assert_eq!(a.description.as_deref(), Some("Disallow Illegal URL."));
    assert_eq!(a.network.source_port, Some(54711));
    assert_eq!(a.severity, Severity::Medium);
}

#[test]
fn cef_custom_labels_name_extra_fields() {
    let line = b"CEF:0|Trend Micro|Deep Security Agent|1.2.3|4000000|Eicar_test_file|6|cn1=1 cn1Label=Host ID dvchost=hostname cn2=205 cn2Label=Quarantine File Size";
    let a = cef::parse(line, &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.extra.get("Host ID").and_then(|v| v.as_str()), Some("1"));
    assert_eq!(a.extra.get("Quarantine File Size").and_then(|v| v.as_str()), Some("205"));
    assert_eq!(a.host.as_deref(), Some("hostname"));
    assert_eq!(a.rsit.as_str(), "infected-system");
}

#[test]
fn cef_bad_headers_are_rejected_with_the_field() {
    let o = options();
    let e = cef::parse(b"CEF:0|a|b|c", &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("header"));
    let e = cef::parse(b"CEF:0|a|b|c|d|e|eleven|x=y", &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("header.severity"));
    let e = cef::parse(b"CEF:9|a|b|c|d|e|1|", &o).err().and_then(|e| e.field);
    assert_eq!(e.as_deref(), Some("header.version"));
    assert!(cef::parse(b"no marker", &o).is_err());
}

#[test]
fn leef1_samples_snapshot() {
    let out = parse_lines("leef/tenzir/leef1.log", Some(Format::Leef));
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn leef2_samples_snapshot() {
    let out = parse_lines("leef/tenzir/leef2.log", Some(Format::Leef));
    assert_eq!(alerts(&out).len(), out.len());
    for a in alerts(&out) {
        assert!(a.extra.contains_key("client"), "literal \\t read as tab: {a:?}");
    }
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn zscaler_over_syslog_snapshot() {
    let out = parse_lines("leef/tenzir/zscaler-nss-syslog.log", None);
    let a = alerts(&out);
    assert!(!a.is_empty());
    assert!(a.iter().all(|a| a.ip_with_role(Role::Source).is_some()));
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn panda_paps_leef_snapshot() {
    let out = parse_lines("leef/EXTRACTED-wazuh-panda-paps.leef", None);
    assert_eq!(alerts(&out).len(), 8);
    insta::assert_yaml_snapshot!(out);
}

#[test]
fn leef2_custom_delimiter() {
    let a = leef::parse(b"LEEF:2.0|V|P|1|ev|^|src=10.0.0.1^dst=10.0.0.2^sev=9", &options())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.ip_with_role(Role::Destination).map(|o| o.value()), Some("10.0.0.2"));
    assert_eq!(a.severity, Severity::Critical);
    let a =
        leef::parse(b"LEEF:2.0|V|P|1|ev|x7C|src=10.0.0.1|usrName=bob", &options()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a.observables_of(ObservableKind::UserAccount).count(), 1);
}
