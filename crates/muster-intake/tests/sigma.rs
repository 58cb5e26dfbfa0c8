//! Sigma detection against SigmaHQ's own rules and regression events
//! (`shared/data/samples/sigma`): every regression event raises exactly its
//! rule's alerts (`match_count` of them) and no other rule's; bad rules are
//! reported by file and reason while the rest load; arbitrary JSON never panics.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use muster_intake::batch::{Limits, read_records};
use muster_intake::sigma::{EventSource, LoadError, RuleSet};
use muster_intake::{Alert, ObservableKind, Severity};
use proptest::prelude::*;

fn sigma_dir() -> PathBuf {
    PathBuf::from(common::SAMPLES).join("sigma")
}

fn rules() -> &'static RuleSet {
    static RULES: std::sync::LazyLock<RuleSet> =
        std::sync::LazyLock::new(|| RuleSet::load_dir(&sigma_dir().join("rules")).unwrap_or_else(|e| panic!("{e}")));
    &RULES
}

fn eval(set: &RuleSet, record: &[u8]) -> Vec<Alert> {
    set.evaluate(record, &EventSource::default(), &common::options()).unwrap_or_else(|e| panic!("{e}"))
}

/// One regression case: the event file, its rule id and how many matches upstream expects.
struct Case {
    name: String,
    event: PathBuf,
    rule_id: String,
    match_count: usize,
}

/// Reads `info.yml` by its few keys (rule_metadata ids, match_count, path) without a YAML parser.
fn cases() -> Vec<Case> {
    let root = sigma_dir().join("regression_data/rules/windows/process_creation");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    dirs.iter()
        .map(|dir| {
            let info = std::fs::read_to_string(dir.join("info.yml")).unwrap_or_else(|e| panic!("{e}"));
            let value = |key: &str| {
                info.lines()
                    .find_map(|l| l.trim().trim_start_matches("- ").strip_prefix(key))
                    .map(|v| v.trim().to_owned())
                    .unwrap_or_else(|| panic!("{}: no {key}", dir.display()))
            };
            let after_meta = info.split("rule_metadata:").nth(1).unwrap_or_default();
            let rule_id = after_meta
                .lines()
                .find_map(|l| l.trim().strip_prefix("- id:"))
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|| panic!("{}: no rule id", dir.display()));
            assert_eq!(value("type:"), "evtx");
            let evtx = value("path:");
            let json = Path::new(&evtx).with_extension("json");
            let event = dir.join(json.file_name().unwrap_or_default());
            Case {
                name: dir.file_name().unwrap_or_default().to_string_lossy().into_owned(),
                event,
                rule_id,
                match_count: value("match_count:").parse().unwrap_or_else(|e| panic!("{e}")),
            }
        })
        .collect()
}

#[test]
fn shared_rule_folder_loads_every_rule() {
    let set = rules();
    let r = set.report();
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert_eq!((r.files, r.rules, set.rule_count()), (19, 19, 19));
}

#[test]
fn every_regression_event_raises_its_rule_and_no_other() {
    let set = rules();
    let cases = cases();
    assert_eq!(cases.len(), 10);
    for c in &cases {
        let record = std::fs::read(&c.event).unwrap_or_else(|e| panic!("{}: {e}", c.event.display()));
        let alerts = eval(set, &record);
        let ids: Vec<&str> = alerts.iter().filter_map(|a| a.rule.as_ref()?.id.as_deref()).collect();
        let own = ids.iter().filter(|id| **id == c.rule_id).count();
        assert_eq!(
            own, c.match_count,
            "{}: expected {} match(es) of {}, got {ids:?}",
            c.name, c.match_count, c.rule_id
        );
        assert_eq!(ids.len(), own, "{}: other rules fired too: {ids:?}", c.name);
    }
}

#[test]
fn events_without_a_rule_of_theirs_raise_nothing() {
    let set = rules();
    // Zeek connection, DNS and notice logs from elastic/beats: benign traffic.
    for f in ["connection-json.log", "dns-json.log", "notice-json.log"] {
        let data = common::read(&format!("zeek/elastic-beats-json/{f}"));
        for (i, line) in data.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.is_empty()) {
            let alerts = eval(set, line);
            assert!(alerts.is_empty(), "{f}:{}: {:?}", i + 1, alerts.iter().map(|a| &a.title).collect::<Vec<_>>());
        }
    }
    // A Sysmon process creation that is none of the rules' business.
    let record = std::fs::read(&cases()[0].event).unwrap_or_default();
    let text = String::from_utf8(record).unwrap_or_default();
    let benign = text.replace("bitsadmin", "notepad").replace("BITSADMIN", "NOTEPAD").replace("/transfer", "/x");
    assert!(eval(set, benign.as_bytes()).is_empty(), "{benign}");
}

#[test]
fn network_rules_fire_on_matching_zeek_and_dns_events() {
    let set = rules();
    let titles = |record: &str, source: &EventSource| -> Vec<String> {
        set.evaluate(record.as_bytes(), source, &common::options())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|a| a.title)
            .collect()
    };
    let none = EventSource::default();
    let wannacry = r#"{"ts":1494597000.5,"uid":"C1","id.orig_h":"10.1.1.5","id.resp_h":"10.1.1.1","query":"iuqssfsodp9ifjaposdfjhgosurijfaewrwergwea.com","_path":"dns"}"#;
    assert_eq!(titles(wannacry, &none), ["Wannacry Killswitch Domain"]);
    let tor = r#"{"ts":1494597000.5,"uid":"C2","id.orig_h":"10.1.1.5","query":"abc.onion.ly"}"#;
    assert!(titles(tor, &none).is_empty(), "a product rule needs a known product");
    let zeek_dns = EventSource { product: Some("zeek".into()), service: Some("dns".into()), category: None };
    assert_eq!(titles(tor, &zeek_dns), ["DNS TOR Proxies"]);
    let rdp = r#"{"ts":1494597000.5,"uid":"C3","id.orig_h":"203.0.113.9","id.resp_h":"10.1.1.7","id.resp_p":3389}"#;
    let zeek_rdp = EventSource { product: Some("zeek".into()), service: Some("rdp".into()), category: None };
    assert_eq!(titles(rdp, &zeek_rdp), ["Publicly Accessible RDP Service"]);
    assert!(titles(rdp, &zeek_dns).is_empty(), "rdp rule must not run on a dns log");
}

#[test]
fn the_same_event_twice_has_one_fingerprint_and_another_event_another() {
    let set = rules();
    let c = &cases()[4];
    let record = std::fs::read(&c.event).unwrap_or_default();
    let a = eval(set, &record);
    let b = eval(set, &record);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].fingerprint, b[0].fingerprint);
    let other = String::from_utf8_lossy(&record).replace("\"EventRecordID\": 12151329", "\"EventRecordID\": 1");
    let o = eval(set, other.as_bytes());
    assert_eq!(o.len(), 1);
    assert_ne!(o[0].fingerprint, a[0].fingerprint);
}

#[test]
fn alerts_carry_rule_level_attack_tags_observables_and_credit() {
    let set = rules();
    let by_name: BTreeMap<String, Vec<Alert>> =
        cases().iter().map(|c| (c.name.clone(), eval(set, &std::fs::read(&c.event).unwrap_or_default()))).collect();
    let curl = &by_name["proc_creation_win_curl_download_direct_ip_exec"][0];
    assert_eq!(curl.source, "sigma");
    assert_eq!(curl.format.as_str(), "sigma");
    assert!(curl.observables_of(ObservableKind::Url).any(|o| o.value() == "https://12.34.56.78/hack/evil.txt"));
    assert!(curl.extra.get("sigma.author").is_some(), "rule author is credited");
    assert!(!curl.original.is_empty());
    for alerts in by_name.values() {
        let a = &alerts[0];
        assert!(a.severity >= Severity::Low, "{}", a.title);
        assert!(a.host.is_some(), "{}", a.title);
        assert!(a.observables_of(ObservableKind::FileName).next().is_some(), "{}", a.title);
        assert!(a.observables_of(ObservableKind::Sha256).next().is_some(), "{}", a.title);
    }
}

#[test]
fn snapshots_of_three_regression_alerts() {
    let set = rules();
    for name in [
        "proc_creation_win_findstr_lsass",
        "proc_creation_win_curl_download_direct_ip_exec",
        "proc_creation_win_reg_add_run_key",
    ] {
        let c = cases().into_iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name}"));
        let alerts = eval(set, &std::fs::read(&c.event).unwrap_or_default());
        insta::assert_json_snapshot!(name, alerts);
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
}

const GOOD: &str = "title: Good\nid: 11111111-1111-4111-8111-111111111111\nlogsource: {category: test}\n\
detection:\n  sel:\n    msg|contains: evil\n  condition: sel\nlevel: informational\ntags: [attack.discovery]\n";

#[test]
fn bad_rules_are_named_with_file_and_reason_and_the_rest_load() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "good.yml", GOOD);
    write(
        dir.path(),
        "nested/deeper/also-good.yaml",
        &GOOD.replace("Good", "Also good").replace("1111-4111", "2222-4111"),
    );
    write(dir.path(), "broken-yaml.yml", "title: [unclosed\n");
    write(dir.path(), "no-detection.yml", "title: No detection\nlogsource: {category: test}\n");
    write(
        dir.path(),
        "bad-condition.yml",
        "title: Bad condition\nlogsource: {category: test}\ndetection:\n  sel:\n    a: b\n  condition: sel and and\n",
    );
    write(dir.path(), "z-duplicate.yml", GOOD);
    write(dir.path(), "binary.yml", "\u{0}\u{1}");
    std::fs::write(dir.path().join("not-utf8.yml"), [0xff, 0xfe, 0x00]).unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "README.md", "not a rule");
    let set = RuleSet::load_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let r = set.report();
    assert_eq!(r.files, 8);
    assert_eq!(set.rule_count(), 2, "{:#?}", r.errors);
    let named =
        |file: &str| r.errors.iter().filter(|e| e.file == Path::new(file)).map(ToString::to_string).collect::<Vec<_>>();
    for file in
        ["broken-yaml.yml", "no-detection.yml", "bad-condition.yml", "z-duplicate.yml", "not-utf8.yml", "binary.yml"]
    {
        let errs = named(file);
        assert!(!errs.is_empty(), "{file} not reported: {:#?}", r.errors);
        assert!(errs.iter().all(|e| e.starts_with(file) && e.len() > file.len() + 5), "{errs:?}");
    }
    assert!(named("z-duplicate.yml")[0].contains("already used by good.yml"), "{:?}", named("z-duplicate.yml"));
    assert!(named("not-utf8.yml")[0].contains("UTF-8"));
    let alerts = eval(&set, br#"{"msg":"something evil","category":"test"}"#);
    assert_eq!(alerts.iter().map(|a| a.title.as_str()).collect::<Vec<_>>(), ["Good", "Also good"]);
    assert_eq!(alerts[0].severity, Severity::Info);
    assert_eq!(alerts[0].rsit.as_str(), "scanner");
}

#[test]
fn an_unreadable_folder_is_an_error_not_an_empty_rule_set() {
    let missing = Path::new("/nonexistent/muster-sigma-rules");
    assert!(matches!(RuleSet::load_dir(missing), Err(LoadError::Unreadable { .. })));
    let file = sigma_dir().join("LICENSE.Detection.Rules.md");
    let e = RuleSet::load_dir(&file).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("not a folder"), "{e}");
}

#[test]
fn ndjson_batch_reports_bad_lines_and_raises_the_rest() {
    let set = rules();
    let event = std::fs::read(&cases()[4].event).unwrap_or_default();
    let one_line: serde_json::Value = serde_json::from_slice(&event).unwrap_or_default();
    let batch = format!("{one_line}\n{{\"truncated\": \n\n[1,2]\n{{\"benign\":true}}\n");
    let o = common::options();
    let records = read_records(batch.as_bytes(), Limits::default(), |r| set.evaluate(r, &EventSource::default(), &o));
    let summary: Vec<(u64, Result<usize, String>)> =
        records.into_iter().map(|r| (r.line, r.result.map(|a| a.len()).map_err(|e| e.to_string()))).collect();
    assert_eq!(summary.len(), 4, "{summary:?}");
    assert_eq!(summary[0], (1, Ok(1)));
    assert!(summary[1].0 == 2 && summary[1].1.as_ref().is_err_and(|e| e.contains("line 2")), "{summary:?}");
    assert!(summary[2].0 == 4 && summary[2].1.as_ref().is_err_and(|e| e.contains("object")), "{summary:?}");
    assert_eq!(summary[3], (5, Ok(0)));
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::from(n)),
        any::<f64>().prop_map(|f| Value::from(f)),
        "\\PC{0,40}".prop_map(Value::String),
        // Names the rules and the mapper look at, so deeper paths are exercised.
        prop_oneof![Just("lsass"), Just("C:\\Windows\\System32\\findstr.exe"), Just("10.0.0.1"), Just("SHA1=zz,MD5=")]
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![
            "\\PC{0,12}",
            Just("Image".to_owned()),
            Just("CommandLine".to_owned()),
            Just("Hashes".to_owned()),
            Just("EventRecordID".to_owned()),
            Just("Event".to_owned()),
            Just("EventData".to_owned()),
            Just("System".to_owned()),
            Just("id.orig_h".to_owned()),
            Just("query".to_owned()),
            Just("ts".to_owned()),
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(key, inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        let set = rules();
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        let _ = set.evaluate(&bytes, &EventSource::default(), &common::options());
        let wrapped = serde_json::json!({"Event": {"EventData": v.clone(), "System": v}});
        let _ = set.evaluate(wrapped.to_string().as_bytes(), &EventSource::default(), &common::options());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let set = rules();
        let _ = set.evaluate(&bytes, &EventSource::default(), &common::options());
    }
}
