//! Shadowserver CSV reports: every report type in
//! `shared/data/samples/shadowserver` parses, and each file's IntelMQ events
//! and resulting alerts are pinned by a reviewed snapshot.

mod common;

use common::{SAMPLES, options};
use muster_intake::Format;
use muster_intake::parse::shadowserver::{self, Field, REPORTS, Report};
use serde::Serialize;

fn sample_files() -> Vec<String> {
    let dir = format!("{SAMPLES}/shadowserver");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    names.sort();
    names
}

#[derive(Serialize)]
struct Row {
    line: u64,
    event: serde_json::Map<String, serde_json::Value>,
    alert: Summary,
}

#[derive(Serialize)]
struct Summary {
    title: String,
    rsit: String,
    severity: String,
    fingerprint: String,
    observables: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[test]
fn every_sample_report_type_is_known_and_every_row_parses() {
    let files = sample_files();
    assert_eq!(files.len(), 93, "sample set changed");
    let o = options();
    for file in &files {
        let data = common::read(&format!("shadowserver/{file}"));
        let rows = shadowserver::parse_report(file, &data, &o).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!rows.is_empty(), "{file}");
        for (line, r) in &rows {
            let a = r.as_ref().unwrap_or_else(|e| panic!("{file}:{line}: {e}"));
            assert_eq!(a.format, Format::Shadowserver);
            assert!(!a.observables.is_empty(), "{file}:{line}: no observable");
        }
    }
}

#[test]
fn report_snapshots() {
    let o = options();
    for file in sample_files() {
        let data = common::read(&format!("shadowserver/{file}"));
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&data[..]);
        let mut recs = reader.records();
        let header = recs.next().and_then(Result::ok).unwrap_or_default();
        let header: Vec<&str> = header.iter().collect();
        let report = Report::new(&file, &header).unwrap_or_else(|e| panic!("{file}: {e}"));
        let rows: Vec<Row> = recs
            .filter_map(Result::ok)
            .map(|rec| {
                let row: Vec<&str> = rec.iter().collect();
                let line = rec.position().map_or(0, csv::Position::line);
                let event = report.event(&row, &o).unwrap_or_else(|e| panic!("{file}:{line}: {e}"));
                let a = report.parse_row(&row, &o).unwrap_or_else(|e| panic!("{file}:{line}: {e}"));
                Row {
                    line,
                    event,
                    alert: Summary {
                        title: a.title,
                        rsit: format!("{}/{}", a.rsit.class(), a.rsit),
                        severity: a.severity.to_string(),
                        fingerprint: a.fingerprint.to_hex(),
                        observables: a.observables.iter().map(ToString::to_string).collect(),
                        warnings: a.warnings,
                    },
                }
            })
            .collect();
        let name = file.trim_end_matches(".csv").to_owned();
        insta::assert_yaml_snapshot!(name, rows);
    }
}

#[test]
fn alerts_equal_their_events_imported() {
    // parse_row takes a faster path than building the event map; it must
    // give the alert that importing the event gives.
    let o = options();
    for file in sample_files() {
        let data = common::read(&format!("shadowserver/{file}"));
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(&data[..]);
        let mut recs = reader.records();
        let header = recs.next().and_then(Result::ok).unwrap_or_default();
        let header: Vec<&str> = header.iter().collect();
        let report = Report::new(&file, &header).unwrap_or_else(|e| panic!("{file}: {e}"));
        for rec in recs.filter_map(Result::ok) {
            let row: Vec<&str> = rec.iter().collect();
            let fast = report.parse_row(&row, &o).unwrap_or_else(|e| panic!("{file}: {e}"));
            let event = report.event(&row, &o).unwrap_or_else(|e| panic!("{file}: {e}"));
            let mut slow = muster_intake::intelmq::import_owned(event, Format::Shadowserver, &o)
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            slow.extra.insert("report".into(), report.kind.file.into());
            slow.original = row.join(",").into_bytes();
            assert_eq!(fast, slow, "{file}: {row:?}");
        }
    }
}

#[test]
fn report_type_comes_from_the_file_name() {
    let find = |n: &str| shadowserver::find(n).map(|r| r.file);
    assert_eq!(find("2019-01-01-scan_ssl_freak-test-geo.csv"), Some("scan_ssl_freak"));
    assert_eq!(find("scan_ssl.csv"), Some("scan_ssl"));
    assert_eq!(find("2019-01-01-event4_sinkhole_http-test.csv"), Some("event4_sinkhole_http"));
    assert_eq!(find("unknown_report.csv"), None);
    assert!(Report::new("scan_redis.csv", &["ip", "port"]).is_err(), "header needs timestamp");
    // A column the report requires (IntelMQ's required fields) must be in the header.
    let missing = Report::new("scan_redis.csv", &["timestamp", "ip"]).err().and_then(|e| e.field);
    assert_eq!(missing.as_deref(), Some("port"));
    assert!(Report::new("scan_redis.csv", &["timestamp", "ip", "port"]).is_ok());
    assert_eq!(REPORTS.iter().filter(|r| r.file == "scan_redis").count(), 1);
}

#[test]
fn every_report_classification_imports_as_an_rsit_type() {
    for r in REPORTS {
        let Some(t) = r.constant(Field::ClassificationType) else { continue };
        let mut e = serde_json::Map::new();
        e.insert("classification.type".into(), t.into());
        e.insert("time.source".into(), "2019-01-01T00:00:00+00:00".into());
        e.insert("source.ip".into(), "192.0.2.1".into());
        let imported = muster_intake::intelmq::import(&e, Format::Shadowserver, &options());
        assert!(imported.is_ok(), "{}: {t}", r.file);
    }
}

#[test]
fn bad_rows_are_rejected_with_their_line() {
    let data = b"\"timestamp\",\"ip\",\"port\"\n\"2019-01-01 00:00:00\",\"10.0.0.1\",\"22\"\n\"2019-01-01 00:00:00\",\"10.0.0.2\",\"1\",\"extra\"\n\"2019-01-01 00:00:00\",\"10.0.0.3\",\"99999\"\n\"\",\"\",\"1\"\n";
    let rows = shadowserver::parse_report("scan_ssh.csv", data, &options()).unwrap_or_default();
    let summary: Vec<(u64, Option<String>)> =
        rows.iter().map(|(l, r)| (*l, r.as_ref().err().and_then(|e| e.field.clone()))).collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[0].1.is_ok());
    assert_eq!(summary[1].0, 3);
    assert!(rows[1].1.as_ref().is_err_and(|e| e.to_string().contains("columns")));
    assert_eq!(summary[2], (4, Some("source.port".into())));
    assert_eq!(summary[3], (5, Some("timestamp".into())));
}

/// `parse_report`'s alerts, compared with `parse_row` on each row alone.
fn assert_report_equals_its_rows(file: &str, data: &[u8]) {
    let o = options();
    let whole = shadowserver::parse_report(file, data, &o).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(data);
    let mut recs = reader.records();
    let header = recs.next().and_then(Result::ok).unwrap_or_default();
    let header: Vec<&str> = header.iter().collect();
    let report = Report::new(file, &header).unwrap_or_else(|e| panic!("{file}: {e}"));
    let alone: Vec<_> = recs
        .filter_map(Result::ok)
        .map(|rec| report.parse_row(&rec.iter().collect::<Vec<_>>(), &o).map_err(|e| e.to_string()))
        .collect();
    let whole: Vec<_> = whole.into_iter().map(|(_, r)| r.map_err(|e| e.to_string())).collect();
    assert_eq!(whole.len(), alone.len(), "{file}");
    for (i, (w, a)) in whole.iter().zip(&alone).enumerate() {
        assert_eq!(w.as_ref().map_err(|_| ()), a.as_ref().map_err(|_| ()), "{file}: row {i}");
    }
}

#[test]
fn no_row_of_a_report_sees_another_rows_values() {
    // parse_report keeps one set of field slots from row to row (a field the
    // import only reads keeps its string); each alert must equal the alert
    // of its row parsed alone, extras included.
    for file in sample_files() {
        assert_report_equals_its_rows(&file, &common::read(&format!("shadowserver/{file}")));
    }
    let data = b"timestamp,ip,port,hostname,asn,geo,tag\n\
        2024-01-01 00:00:00,192.0.2.1,6379,Host.Example.com,64500,AT,redis\n\
        2024-01-01 00:00:01,192.0.2.2,6379,,,,\n\
        2024-01-01 00:00:02,2001:db8::1,6379,host.example.net,0,at,\n";
    assert_report_equals_its_rows("scan_redis.csv", data);
    let rows = shadowserver::parse_report("scan_redis.csv", data, &options()).unwrap_or_default();
    let second = rows.get(1).and_then(|(_, r)| r.as_ref().ok()).unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(second.observables.len(), 1, "{second:?}");
    assert!(!second.extra.contains_key("source.geolocation.cc"), "{second:?}");
}
