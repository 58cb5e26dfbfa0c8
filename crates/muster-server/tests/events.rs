//! Sigma detection end to end: a server started with the shared SigmaHQ rule
//! folder takes raw events on `POST /api/v1/events`, and the alerts its rules
//! raise appear in `GET /api/v1/alerts` with the rule title; bad lines are
//! refused one by one, repeats fold, an idempotent replay changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use common::{Backend, TestServer};
use muster_core::Role;
use serde_json::Value;

fn sigma() -> std::path::PathBuf {
    muster_testkit::shared_data().join("samples/sigma")
}

/// The regression event of one SigmaHQ rule, as one NDJSON line.
fn regression_event(rule_dir: &str) -> String {
    let dir = sigma().join("regression_data/rules/windows/process_creation").join(rule_dir);
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    v.to_string()
}

async fn post(s: &TestServer, token: &str, query: &str, body: Vec<u8>, key: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(s.url(&format!("/api/v1/events{query}"))).bearer_auth(token).body(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn list(s: &TestServer, token: &str) -> Vec<Value> {
    let page: Value = reqwest::Client::new()
        .get(s.url("/api/v1/alerts?limit=500"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["alerts"].as_array().unwrap().clone()
}

async fn events_raise_alerts_with_rule_titles(backend: Backend) {
    let rules = sigma().join("rules");
    let Some(s) = TestServer::start_with(backend, |c| c.detection.sigma_rules = Some(rules)).await else { return };
    let org = s.org("soc-sigma").await;
    let u = s.user("sigma-analyst", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let batch = [
        regression_event("proc_creation_win_findstr_lsass"),
        "{\"truncated\": ".to_owned(),
        regression_event("proc_creation_win_curl_download_direct_ip_exec"),
        "[\"not\", \"an object\"]".to_owned(),
        r#"{"ts":1547188415.85,"uid":"CX1","id.orig_h":"192.168.86.167","query":"www.example.org","_path":"dns"}"#
            .to_owned(),
        regression_event("proc_creation_win_findstr_lsass"),
    ]
    .join("\n");
    let (status, r) = post(&s, &token, "", batch.clone().into_bytes(), Some("k1")).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["events"].as_u64(), r["matched"].as_u64(), r["alerts"].as_u64()), (Some(4), Some(3), Some(3)), "{r}");
    assert_eq!(
        (r["created"].as_u64(), r["duplicates"].as_u64()),
        (Some(2), Some(1)),
        "the same event twice folds: {r}"
    );
    let rejected = r["rejected"].as_array().unwrap();
    assert_eq!(rejected.iter().map(|x| x["line"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 4], "{r}");
    assert!(rejected[0]["reason"].as_str().unwrap().contains("line 2"), "{r}");
    assert!(rejected[1]["reason"].as_str().unwrap().contains("object"), "{r}");

    let alerts = list(&s, &token).await;
    let mut titles: Vec<&str> = alerts.iter().map(|a| a["title"].as_str().unwrap()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["File Download From IP URL Via Curl.EXE", "LSASS Process Reconnaissance Via Findstr.EXE"]);
    let lsass = alerts.iter().find(|a| a["title"].as_str().unwrap().starts_with("LSASS")).unwrap();
    assert_eq!(lsass["format"], "sigma");
    assert_eq!(lsass["source"], "sigma");
    assert_eq!(lsass["severity"], "high");
    assert_eq!(lsass["count"], 2);
    assert_eq!(lsass["source_ref"], "fe63010f-8823-4864-a96b-a7b4a0f7b929");
    let id = lsass["id"].as_str().unwrap();
    let detail: Value = reqwest::Client::new()
        .get(s.url(&format!("/api/v1/alerts/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["alert"]["attack"], serde_json::json!(["T1552.006"]), "{detail}");
    assert_eq!(detail["alert"]["extra"]["sigma.author"], "Florian Roth (Nextron Systems)", "{detail}");
    assert!(detail["original"].as_str().unwrap().contains("findstr  lsass"), "{detail}");
    // Raised alerts go through correlation like any other: the high one opened an incident.
    let get = |path: String| {
        let req = reqwest::Client::new().get(s.url(&path)).bearer_auth(&token);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let incidents = get("/api/v1/incidents".into()).await;
    let opened: Vec<Value> = {
        let mut out = Vec::new();
        for i in incidents["items"].as_array().unwrap() {
            out.push(get(format!("/api/v1/incidents/{}", i["id"].as_str().unwrap())).await);
        }
        out
    };
    assert!(
        opened.iter().any(|i| i["alert_ids"].as_array().unwrap().iter().any(|a| a == id)),
        "the high Sigma alert is linked to an incident: {incidents}"
    );

    // The same batch with the same key: the stored answer, nothing changes.
    let (_, again) = post(&s, &token, "", batch.into_bytes(), Some("k1")).await;
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(again["created"], 2, "{again}");
    assert_eq!(s.store.count_alerts(org.id).await.unwrap(), 2);
    assert_eq!(list(&s, &token).await.iter().find(|a| a["id"] == id).unwrap()["count"], 2);

    // Gzip, a JSON array, and the logsource declared by the sender.
    let rdp = r#"[{"ts":1494597000.5,"uid":"C3","id.orig_h":"203.0.113.9","id.resp_h":"10.1.1.7","id.resp_p":3389}]"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(rdp.as_bytes()).unwrap();
    let (status, r) = post(&s, &token, "?product=zeek&service=rdp", gz.finish().unwrap(), None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["created"], 1, "{r}");
    let (status, r) = post(&s, &token, "?product=zeek&service=dns", rdp.as_bytes().to_vec(), None).await;
    assert_eq!((status, &r["alerts"]), (200, &Value::from(0)), "the rdp rule does not run on dns logs: {r}");
    assert!(list(&s, &token).await.iter().any(|a| a["title"] == "Publicly Accessible RDP Service"));

    let (status, r) = post(&s, &token, "?product=not%20a%20name", b"{}".to_vec(), None).await;
    assert_eq!(status, 422, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().starts_with("product:"), "{r}");
}

#[tokio::test]
async fn events_raise_alerts_with_rule_titles_sqlite() {
    events_raise_alerts_with_rule_titles(Backend::Sqlite).await;
}

#[tokio::test]
async fn events_raise_alerts_with_rule_titles_postgres() {
    events_raise_alerts_with_rule_titles(Backend::Postgres).await;
}

#[tokio::test]
async fn events_are_refused_clearly_when_detection_is_off() {
    let s = TestServer::start().await;
    let org = s.org("soc-nosigma").await;
    let u = s.user("nosigma-analyst", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let (status, r) = post(&s, &token, "", b"{}".to_vec(), None).await;
    assert_eq!(status, 409, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("sigma_rules"), "{r}");
}

#[tokio::test]
async fn an_unreadable_rule_folder_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = muster_store::Store::open(&muster_store::StoreOptions {
        database_url: None,
        data_dir: dir.path().to_path_buf(),
        max_connections: 2,
    })
    .await
    .unwrap();
    let mut config = muster_server::Config { data_dir: dir.path().to_path_buf(), ..Default::default() };
    config.detection.sigma_rules = Some(dir.path().join("no-such-folder"));
    let e = muster_server::AppState::start(store, config).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.contains("no-such-folder"), "{e}");
}
