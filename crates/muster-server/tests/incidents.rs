//! Incidents through the API: opened from alerts, worked to closure, every
//! move on the timeline, the lifecycle rules enforced, other organisations kept out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer};
use muster_core::Role;
use serde_json::{Value, json};

async fn call(c: &reqwest::Client, m: reqwest::Method, url: String, token: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = c.request(m, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn incident_lifecycle(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |_| {}).await else { return };
    let org = s.org("inc-a").await;
    let u = s.user("ana", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let c = reqwest::Client::new();
    let eve =
        std::fs::read(muster_testkit::shared_data().join("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt"))
            .unwrap();
    let r = c.post(s.url("/api/v1/alerts?format=eve")).bearer_auth(&token).body(eve).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let alerts: Vec<String> = s.store.list_alerts(org.id, None, 3).await.unwrap().into_iter().map(|a| a.id).collect();

    let (status, inc) = call(&c, reqwest::Method::POST, s.url("/api/v1/incidents"), &token, Some(json!({
        "title": "SSH brute force against the jump host", "severity": "high", "rsit_type": "brute-force", "alert_ids": alerts
    })))
    .await;
    assert_eq!(status, 201, "{inc}");
    let id = inc["id"].as_str().unwrap().to_owned();
    assert_eq!(inc["status"], "new");
    assert_eq!(inc["alert_ids"].as_array().unwrap().len(), 3);
    assert!(inc["occurred_at"].is_string(), "occurred_at from the earliest alert: {inc}");
    assert!(
        s.store.list_alerts(org.id, None, 100).await.unwrap().iter().filter(|a| a.status == "triaged").count() == 3
    );

    let step = |to: &str, res: Option<&str>| {
        let mut b = json!({ "status": to });
        if let Some(r) = res {
            b["resolution"] = json!(r);
        }
        call(&c, reqwest::Method::POST, s.url(&format!("/api/v1/incidents/{id}/status")), &token, Some(b))
    };
    for to in ["triage", "in-progress", "contained"] {
        let (st, v) = step(to, None).await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = step("closed", None).await;
    assert_eq!(st, 422, "closing needs a resolution: {v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("resolution"));
    let (st, v) = step("new", None).await;
    assert_eq!(st, 422, "{v}");
    let (st, v) = step("closed", Some("true-positive")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["resolution"], "true-positive");
    assert!(v["seconds_to_contain"].as_i64().unwrap() >= 0 && v["closed_at"].is_string());
    let (_, v) = call(
        &c,
        reqwest::Method::POST,
        s.url(&format!("/api/v1/incidents/{id}/timeline")),
        &token,
        Some(json!({"text": "Blocked 203.0.113.7 at the edge."})),
    )
    .await;
    let kinds: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "status").count(), 4, "{kinds:?}");
    assert_eq!(kinds.first(), Some(&"created"));
    assert_eq!(kinds.last(), Some(&"note"));

    // Other organisations neither see nor work it; alerts of others cannot be used.
    let other = s.org("inc-b").await;
    let ou = s.user("bo", other.id, Role::Admin, "other password 12").await;
    let ot = s.token(&ou, Role::Admin).await;
    assert_eq!(call(&c, reqwest::Method::GET, s.url(&format!("/api/v1/incidents/{id}")), &ot, None).await.0, 404);
    assert_eq!(
        call(&c, reqwest::Method::GET, s.url("/api/v1/incidents"), &ot, None).await.1,
        json!({"items": [], "next_cursor": null})
    );
    let (st, v) = call(
        &c,
        reqwest::Method::POST,
        s.url("/api/v1/incidents"),
        &ot,
        Some(json!({"title": "x", "severity": "low", "alert_ids": [alerts[0]]})),
    )
    .await;
    assert_eq!(st, 404, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("alert_ids"));
    assert_eq!(s.store.list_incidents(other.id, 10).await.unwrap().len(), 0, "nothing was created");
}

#[tokio::test]
async fn an_incident_is_opened_from_alerts_and_worked_to_closure_on_sqlite() {
    incident_lifecycle(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_incident_is_opened_from_alerts_and_worked_to_closure_on_postgres() {
    incident_lifecycle(Backend::Postgres).await;
}
