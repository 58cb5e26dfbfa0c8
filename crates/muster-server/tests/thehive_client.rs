//! The real TheHive client against Muster: `thehive4py` (from PyPI) creates
//! an alert with observables through `POST /api/v1/alert`, is refused a
//! duplicate, and the alert then shows in Muster's own alert list.
//!
//! Needs `python3` with `thehive4py` (or `MUSTER_PYTHON` naming an
//! interpreter that has it). Without it the test prints a skip notice, unless
//! `MUSTER_REQUIRE_PYTHON_PEERS` is set (as `scripts/test` does): then it fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::TestServer;
use muster_core::Role;
use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/thehive4py_create_alert.py");

fn python() -> String {
    std::env::var("MUSTER_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether thehive4py can be imported; panics instead of skipping when required.
fn thehive4py_available() -> bool {
    let ok = Command::new(python()).args(["-c", "import thehive4py"]).output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("MUSTER_REQUIRE_PYTHON_PEERS").is_none(),
            "thehive4py is not importable by {} and MUSTER_REQUIRE_PYTHON_PEERS is set; pip install thehive4py",
            python()
        );
        eprintln!("SKIPPED: thehive4py is not importable by {} (pip install thehive4py)", python());
    }
    ok
}

#[tokio::test]
async fn thehive4py_creates_an_alert_that_muster_lists() {
    if !thehive4py_available() {
        return;
    }
    let s = TestServer::start().await;
    let org = s.org("soc-hive4py").await;
    let user = s.user("hive4py-analyst", org.id, Role::Analyst, "a password of length").await;
    let token = s.token(&user, Role::Analyst).await;
    let (base, key) = (s.base.clone(), token.clone());
    // The server runs on this test's runtime; the client must not block it.
    let out = tokio::task::spawn_blocking(move || Command::new(python()).arg(SCRIPT).arg(base).arg(key).output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "thehive4py script failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let created: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap();
    let id = created["_id"].as_str().unwrap();

    let page: Value = reqwest::Client::new()
        .get(s.url("/api/v1/alerts"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alerts = page["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "the duplicate made no second alert: {page}");
    let a = &alerts[0];
    assert_eq!(a["id"], id);
    assert_eq!(a["format"], "thehive");
    assert_eq!(a["source"], "wazuh-manager-01");
    assert_eq!(a["source_ref"], "1709632800.1234567");
    assert_eq!(a["severity"], "high");
    assert_eq!(a["tlp"], "TLP:AMBER");
    assert_eq!(a["count"], 1, "the refused duplicate records nothing, as TheHive records nothing");
}
