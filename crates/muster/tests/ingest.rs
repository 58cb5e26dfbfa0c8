//! `muster ingest` on real sample files: into the local store and into a
//! running server; re-running adds nothing; --strict fails on rejections.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn shared(rel: &str) -> PathBuf {
    muster_testkit::shared_data().join(rel)
}

fn muster(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("MUSTER_DATABASE_URL")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn ingest_into_the_local_store_counts_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert_eq!(muster(&data, &["org", "add", "soc-x", "--name", "SOC X", "--kind", "other"]).0, 0);
    let eve = shared("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt");
    let smb = shared("samples/shadowserver/scan_smb.csv");
    let (code, out, err) = muster(&data, &["ingest", "--org", "soc-x", eve.to_str().unwrap(), smb.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let first = out.lines().last().unwrap().to_owned();
    assert!(first.starts_with("read 22, created ") || first.starts_with("read "), "{first}");
    assert!(first.ends_with(", rejected 0"), "{first}");
    let created: u64 = first.split("created ").nth(1).unwrap().split(',').next().unwrap().parse().unwrap();
    assert!(created > 0);
    // Again: nothing new.
    let (_, out, _) = muster(&data, &["ingest", "--org", "soc-x", eve.to_str().unwrap(), smb.to_str().unwrap()]);
    let again = out.lines().last().unwrap();
    assert!(again.contains("created 0,"), "{again}");
}

#[test]
fn strict_ingest_fails_and_names_file_and_line_of_rejections() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert_eq!(muster(&data, &["org", "add", "soc-y", "--name", "SOC Y", "--kind", "other"]).0, 0);
    let file = dir.path().join("mixed.ndjson");
    let good = std::fs::read_to_string(shared("samples/suricata-eve/elastic-beats/eve-metadata.log")).unwrap();
    std::fs::write(&file, format!("{}\n{{\"truncated\": \n", good.lines().next().unwrap())).unwrap();
    let (code, out, err) =
        muster(&data, &["ingest", "--org", "soc-y", "--format", "eve", "--strict", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("read 2, created 1, duplicates 0, rejected 1"), "{out}");
    assert!(err.contains("mixed.ndjson:2:"), "{err}");
    let (code, _, _) = muster(&data, &["ingest", "--org", "soc-y", "--format", "eve", file.to_str().unwrap()]);
    assert_eq!(code, 0, "without --strict, rejections do not fail the command");
    let (code, _, err) = muster(&data, &["ingest", "--format", "eve", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--org"), "{err}");
}

#[test]
fn sigma_events_raise_alerts_in_the_local_store_and_name_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert_eq!(muster(&data, &["org", "add", "soc-s", "--name", "SOC S", "--kind", "other"]).0, 0);
    let rules = shared("samples/sigma/rules");
    let event = shared(
        "samples/sigma/regression_data/rules/windows/process_creation/proc_creation_win_findstr_lsass/fe63010f-8823-4864-a96b-a7b4a0f7b929.json",
    );
    let line: serde_json::Value = serde_json::from_slice(&std::fs::read(event).unwrap()).unwrap();
    let file = dir.path().join("events.ndjson");
    std::fs::write(&file, format!("{line}\nnot json\n{{\"benign\": true}}\n")).unwrap();
    let args = ["ingest", "--org", "soc-s", "--format", "sigma-events", "--rules", rules.to_str().unwrap()];
    let (code, out, err) = muster(&data, &[&args[..], &[file.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("read 3, created 1, duplicates 0, rejected 1"), "{out}");
    assert!(err.contains("Sigma: 19 rules from 19 files") && err.contains("events.ndjson:2:"), "{err}");
    // Again: the same chunk is a replay, nothing new.
    let (_, out, _) = muster(&data, &[&args[..], &[file.to_str().unwrap()]].concat());
    assert!(out.contains("created 0,"), "{out}");
    // Without rules on the local store: a clear error.
    let (code, _, err) =
        muster(&data, &["ingest", "--org", "soc-s", "--format", "sigma-events", file.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("--rules"), "{err}");
}
