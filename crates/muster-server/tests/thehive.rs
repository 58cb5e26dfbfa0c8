//! TheHive 5's alert creation route over HTTP: created answer in TheHive's
//! shape, duplicate refused as TheHive refuses it, bad input in TheHive's
//! error shape, role required, and the alert in Muster's own list.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use muster_core::Role;
use serde_json::{Value, json};

async fn post(s: &TestServer, token: &str, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(s.url("/api/v1/alert"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn token(s: &TestServer, slug: &str, role: Role) -> (muster_core::Organisation, String) {
    let org = s.org(slug).await;
    let u = s.user(&format!("{slug}-{}", role.as_str()), org.id, role, "a password of length").await;
    let t = s.token(&u, role).await;
    (org, t)
}

fn alert(source_ref: &str) -> Value {
    json!({
        "type": "splunk-alert",
        "source": "splunk",
        "sourceRef": source_ref,
        "title": "Multiple failed logons followed by success",
        "description": "12 failed logons from 203.0.113.7, then a success on dc-01",
        "severity": 3,
        "date": 1_709_632_800_123_i64,
        "tags": ["splunk", "brute-force"],
        "tlp": 1,
        "pap": 2,
        "observables": [
            {"dataType": "ip", "data": "203.0.113.7", "ioc": true},
            {"dataType": "fqdn", "data": "dc-01.corp.example"},
            {"dataType": "other", "data": "svc_backup"}
        ]
    })
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
    page["alerts"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn created_alert_answers_in_thehive_shape_and_is_listed() {
    let s = TestServer::start().await;
    let (org, t) = token(&s, "soc-hive", Role::Analyst).await;
    let (status, a) = post(&s, &t, alert("sr-1").to_string()).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["_type"], "Alert");
    assert!(a["_id"].as_str().unwrap().starts_with("alert--"), "{a}");
    assert_eq!(a["type"], "splunk-alert");
    assert_eq!(a["source"], "splunk");
    assert_eq!(a["sourceRef"], "sr-1");
    assert_eq!(a["severity"], 3);
    assert_eq!(a["date"], 1_709_632_800_123_i64);
    assert_eq!((a["tlp"].clone(), a["pap"].clone()), (json!(1), json!(2)));
    assert_eq!(a["status"], "New");
    assert_eq!(a["observableCount"], 3);
    assert_eq!(s.store.count_alerts(org.id).await.unwrap(), 1);
    let listed = list(&s, &t).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], a["_id"]);
    assert_eq!(listed[0]["format"], "thehive");
    assert_eq!(listed[0]["source_ref"], "sr-1");
    assert_eq!(listed[0]["tlp"], "TLP:GREEN");
    // The stored document keeps the observables, typed.
    let detail: Value = reqwest::Client::new()
        .get(s.url(&format!("/api/v1/alerts/{}", a["_id"].as_str().unwrap())))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> =
        detail["alert"]["observables"].as_array().unwrap().iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ipv4", "hostname"], "{detail}");
}

#[tokio::test]
async fn same_type_source_and_source_ref_is_refused_as_thehive_does() {
    let s = TestServer::start().await;
    let (org, t) = token(&s, "soc-dup", Role::Analyst).await;
    assert_eq!(post(&s, &t, alert("sr-dup").to_string()).await.0, 201);
    let mut again = alert("sr-dup");
    again["title"] = json!("Same reference, new title");
    let (status, e) = post(&s, &t, again.to_string()).await;
    assert_eq!(status, 400, "{e}");
    assert_eq!((e["type"].as_str(), e["message"].as_str()), (Some("CreateError"), Some("Alert already exists")), "{e}");
    assert_eq!(e["error"]["code"], "duplicate", "Muster's own error shape too: {e}");
    // A different sourceRef is a different alert.
    assert_eq!(post(&s, &t, alert("sr-other").to_string()).await.0, 201);
    assert_eq!(s.store.count_alerts(org.id).await.unwrap(), 2);
    // The refused repeat recorded nothing: no extra sighting on the stored alert.
    assert_eq!(s.store.alert_totals(org.id).await.unwrap(), (2, 2), "alerts and sightings");
}

#[tokio::test]
async fn pretty_printed_alert_without_date_is_accepted() {
    let s = TestServer::start().await;
    let (_, t) = token(&s, "soc-pretty", Role::Analyst).await;
    let mut a = alert("sr-pretty");
    a.as_object_mut().unwrap().remove("date");
    let (status, r) = post(&s, &t, serde_json::to_string_pretty(&a).unwrap()).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(list(&s, &t).await[0]["id"], r["_id"]);
}

#[tokio::test]
async fn bad_alerts_get_thehive_errors_naming_the_field() {
    let s = TestServer::start().await;
    let (org, t) = token(&s, "soc-bad", Role::Analyst).await;
    let mut no_ref = alert("x");
    no_ref.as_object_mut().unwrap().remove("sourceRef");
    let mut bad_sev = alert("y");
    bad_sev["severity"] = json!(9);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (no_ref.to_string().into_bytes(), "sourceRef"),
        (bad_sev.to_string().into_bytes(), "severity"),
        (b"{\"type\": \"x\"".to_vec(), "truncated JSON"),
        (b"[{}]".to_vec(), "expected a JSON object"),
        (b"{} {}".to_vec(), "invalid JSON"),
        (b"\xff".to_vec(), "UTF-8"),
    ];
    for (body, want) in cases {
        let (status, e) = post(&s, &t, body).await;
        assert_eq!(status, 400, "{e}");
        assert_eq!(e["type"], "AttributeCheckingError", "{e}");
        assert!(e["message"].as_str().unwrap().contains(want), "{want}: {e}");
    }
    assert_eq!(s.store.count_alerts(org.id).await.unwrap(), 0);
}

#[tokio::test]
async fn read_only_and_anonymous_callers_cannot_create() {
    let s = TestServer::start().await;
    let (org, t) = token(&s, "soc-ro", Role::Observer).await;
    assert_eq!(post(&s, &t, alert("sr-ro").to_string()).await.0, 403);
    assert_eq!(post(&s, "mst_not_a_token", alert("sr-anon").to_string()).await.0, 401);
    assert_eq!(s.store.count_alerts(org.id).await.unwrap(), 0);
}

#[tokio::test]
async fn openapi_lists_the_thehive_route() {
    let s = TestServer::start().await;
    let doc: Value = reqwest::get(s.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/api/v1/alert"]["post"].is_object(), "{}", doc["paths"]);
}
