//! Correlation at intake: batches of Suricata alerts sharing an attacker
//! address open one incident and join it later, each link with its reason on
//! the timeline; closed incidents are not reused; low alerts alone open
//! nothing; a replayed batch changes nothing. On SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer};
use muster_core::Role;
use serde_json::{Value, json};

fn eve(minute: u32, src: &str, dest: &str, sid: u64, severity: u8) -> String {
    json!({
        "timestamp": format!("2026-11-27T10:{minute:02}:00.000000+0000"),
        "event_type": "alert",
        "src_ip": src, "src_port": 44_123, "dest_ip": dest, "dest_port": 22, "proto": "TCP",
        "alert": { "action": "allowed", "gid": 1, "signature_id": sid, "rev": 1,
                   "signature": format!("ET SCAN probe {sid}"), "category": "Attempted Information Leak", "severity": severity }
    })
    .to_string()
}

struct Client {
    s: TestServer,
    token: String,
    http: reqwest::Client,
}

impl Client {
    /// Posts like a real sender: waits out a full intake queue (503 + Retry-After).
    async fn post(&self, lines: &[String]) -> Value {
        loop {
            let r = self
                .http
                .post(self.s.url("/api/v1/alerts?format=eve"))
                .bearer_auth(&self.token)
                .body(lines.join("\n"))
                .send()
                .await
                .unwrap();
            if r.status() == 503 {
                assert!(r.headers().contains_key("retry-after"));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            return r.json().await.unwrap();
        }
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.s.url(path)).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.unwrap()
    }

    async fn incidents(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for i in self.get("/api/v1/incidents").await["items"].as_array().unwrap() {
            out.push(self.get(&format!("/api/v1/incidents/{}", i["id"].as_str().unwrap())).await);
        }
        out.sort_by_key(|i| i["detected_at"].as_str().unwrap_or_default().to_owned() + i["id"].as_str().unwrap());
        out
    }

    async fn status(&self, id: &str, body: Value) {
        let r = self
            .http
            .post(self.s.url(&format!("/api/v1/incidents/{id}/status")))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
}

fn timeline(inc: &Value) -> Vec<String> {
    inc["timeline"].as_array().unwrap().iter().map(|e| e["text"].as_str().unwrap().to_owned()).collect()
}

async fn alerts_sharing_an_attacker_address_are_grouped_into_one_incident(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |_| {}).await else { return };
    let org = s.org("soc-corr").await;
    let u = s.user("corr-analyst", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let c = Client { s, token, http: reqwest::Client::new() };
    let attacker = "192.0.2.7";

    // One high alert and two medium ones from the same attacker against different internal hosts.
    let first = vec![
        eve(0, attacker, "10.0.0.1", 1, 2),
        eve(1, attacker, "10.0.0.2", 2, 1),
        eve(2, attacker, "10.0.0.3", 3, 3),
    ];
    let r = c.post(&first).await;
    assert_eq!(r["created"], 3, "{r}");
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 1, "one incident: {incs:?}");
    let inc = &incs[0];
    assert_eq!(inc["alert_ids"].as_array().unwrap().len(), 3, "{inc}");
    assert_eq!(inc["severity"], "high");
    assert_eq!(inc["status"], "new");
    let lines = timeline(inc);
    assert!(lines.iter().any(|l| l.contains("rule=severity-threshold, severity=high")), "{lines:?}");
    assert!(lines.iter().any(|l| l == "linked 2 alerts (rule=shared-address, shared=ipv4:192.0.2.7)"), "{lines:?}");
    assert!(inc["timeline"].as_array().unwrap().iter().all(|e| e["actor"] == "correlation"));
    let id = inc["id"].as_str().unwrap().to_owned();
    let alerts = c.get("/api/v1/alerts").await;
    assert!(alerts["alerts"].as_array().unwrap().iter().all(|a| a["status"] == "triaged"), "{alerts}");

    // The same batch again: folded into the stored alerts, incidents untouched.
    let r = c.post(&first).await;
    assert_eq!((r["created"].as_u64(), r["duplicates"].as_u64()), (Some(0), Some(3)), "{r}");
    let again = c.incidents().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["alert_ids"], inc["alert_ids"]);
    assert_eq!(timeline(&again[0]), lines);

    // A later batch from the attacker joins the open incident, even below the threshold.
    let r = c.post(&[eve(30, attacker, "10.0.0.9", 4, 3), eve(31, attacker, "10.0.0.9", 5, 2)]).await;
    assert_eq!(r["created"], 2, "{r}");
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 1);
    assert_eq!(incs[0]["alert_ids"].as_array().unwrap().len(), 5);
    assert!(timeline(&incs[0]).iter().any(|l| l == "linked 2 alerts (rule=shared-address, shared=ipv4:192.0.2.7)"));

    // Medium alerts of another address, alone: nothing opens; private addresses group nothing.
    c.post(&[eve(40, "198.51.100.20", "10.0.0.9", 6, 2), eve(41, "198.51.100.20", "10.0.0.9", 7, 2)]).await;
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 1);
    assert_eq!(incs[0]["alert_ids"].as_array().unwrap().len(), 5);

    // Once closed, the incident takes nothing more: the next high alert opens a new one.
    c.status(&id, json!({ "status": "contained" })).await;
    c.status(&id, json!({ "status": "closed", "resolution": "true-positive" })).await;
    c.post(&[eve(50, attacker, "10.0.0.1", 8, 1)]).await;
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 2, "{incs:?}");
    let fresh = incs.iter().find(|i| i["id"] != id.as_str()).unwrap();
    assert_eq!(fresh["alert_ids"].as_array().unwrap().len(), 1);
    let closed = incs.iter().find(|i| i["id"] == id.as_str()).unwrap();
    assert_eq!(closed["alert_ids"].as_array().unwrap().len(), 5);

    // Another organisation's alerts from the same attacker never join this organisation's incident.
    let other = c.s.org("soc-other").await;
    let u2 = c.s.user("other-analyst", other.id, Role::Analyst, "analyst password 2").await;
    let t2 = c.s.token(&u2, Role::Analyst).await;
    let r = c
        .http
        .post(c.s.url("/api/v1/alerts?format=eve"))
        .bearer_auth(&t2)
        .body(eve(51, attacker, "10.0.0.1", 9, 3))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fresh_now = c.get(&format!("/api/v1/incidents/{}", fresh["id"].as_str().unwrap())).await;
    assert_eq!(fresh_now["alert_ids"].as_array().unwrap().len(), 1);
}

async fn correlation_can_be_switched_off(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |c| c.correlation.enabled = false).await else { return };
    let org = s.org("soc-off").await;
    let u = s.user("off-analyst", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let c = Client { s, token, http: reqwest::Client::new() };
    c.post(&[eve(0, "192.0.2.7", "10.0.0.1", 1, 1), eve(1, "192.0.2.7", "10.0.0.1", 2, 1)]).await;
    assert!(c.incidents().await.is_empty());
}

/// Batches arriving at once that join the same incident all commit (on
/// PostgreSQL they refresh its search document concurrently).
async fn concurrent_batches_joining_one_incident_all_commit(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |_| {}).await else { return };
    let org = s.org("soc-race").await;
    let u = s.user("race-analyst", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let c = std::sync::Arc::new(Client { s, token, http: reqwest::Client::new() });
    c.post(&[eve(0, "192.0.2.9", "10.0.0.1", 1, 1)]).await;
    let mut tasks = Vec::new();
    for b in 0..8u64 {
        let c = std::sync::Arc::clone(&c);
        tasks.push(tokio::spawn(async move {
            let lines: Vec<String> = (0..50).map(|i| eve(1, "192.0.2.9", "10.0.0.2", 1000 + b * 100 + i, 2)).collect();
            c.post(&lines).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap()["created"], 50);
    }
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 1, "{incs:?}");
    assert_eq!(incs[0]["alert_ids"].as_array().unwrap().len(), 401);
}

/// An internal host's alerts carry only private addresses, which group nothing:
/// the same rule firing again on the same host joins the incident the first
/// one opened, in a later batch too; on another host it does not.
async fn the_same_rule_on_the_same_host_joins_its_incident_in_a_later_batch(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |_| {}).await else { return };
    let org = s.org("soc-host").await;
    let u = s.user("host-analyst", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let c = Client { s, token, http: reqwest::Client::new() };
    // Each alert to another internal address, so none is a repeat of another.
    let on = |host: &str, minute: u32, severity: u8| {
        let dest = format!("10.0.1.{minute}");
        let mut v: Value = serde_json::from_str(&eve(minute, "10.0.0.7", &dest, 2_001, severity)).unwrap();
        v["host"] = json!(host);
        v.to_string()
    };
    c.post(&[on("ids-dmz", 0, 1)]).await;
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 1, "{incs:?}");
    let id = incs[0]["id"].as_str().unwrap().to_owned();
    let r = c.post(&[on("ids-dmz", 20, 3), on("ids-lan", 21, 3)]).await;
    assert_eq!(r["created"], 2, "{r}");
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 1, "{incs:?}");
    assert_eq!(incs[0]["id"], id.as_str());
    assert_eq!(incs[0]["alert_ids"].as_array().unwrap().len(), 2, "the other host's alert stays out");
    let lines = timeline(&incs[0]);
    assert!(
        lines.iter().any(|l| l.starts_with("linked alert--")
            && l.ends_with("(rule=same-rule-on-host, shared=rule-host:suricata:1:2001@ids-dmz)")),
        "{lines:?}"
    );
}

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await; })+ }
        mod postgres { $(#[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await; })+ }
    };
}

both!(
    alerts_sharing_an_attacker_address_are_grouped_into_one_incident,
    correlation_can_be_switched_off,
    concurrent_batches_joining_one_incident_all_commit,
    the_same_rule_on_the_same_host_joins_its_incident_in_a_later_batch,
);

/// An incident correlation fed with more alerts (and observables) than its page
/// lists: the API detail counts and lists them all; the page shows the count,
/// the newest 200 alerts (newest first) and the first 1,000 observables, and
/// says that it shows only those; a status change works on it.
#[tokio::test]
async fn a_large_incidents_page_lists_its_newest_alerts_and_says_how_many() {
    let Some(s) = TestServer::start_with(Backend::Sqlite, |_| {}).await else { return };
    let org = s.org("big").await;
    let u = s.user("big-analyst", org.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let c = Client { s, token, http: reqwest::Client::new() };
    let lines: Vec<String> = (0..1_010u64)
        .map(|i| eve(1, "192.0.2.44", &format!("10.0.{}.{}", i / 250, i % 250 + 1), 5000 + i, 1))
        .collect();
    assert_eq!(c.post(&lines).await["created"], 1_010);
    let incs = c.incidents().await;
    assert_eq!(incs.len(), 1, "{incs:?}");
    let inc = &incs[0];
    let ids: Vec<&str> = inc["alert_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!((inc["alert_count"].as_i64(), ids.len()), (Some(1_010), 1_010));
    let id = inc["id"].as_str().unwrap();
    // The alerts a page at a time, newest first: each exactly once.
    let mut paged: Vec<String> = Vec::new();
    let mut path = format!("/api/v1/incidents/{id}/alerts?limit=400");
    loop {
        let page = c.get(&path).await;
        assert_eq!(page["alert_count"], 1_010);
        paged.extend(page["alert_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()));
        let Some(next) = page["next_before"].as_str() else { break };
        path = format!("/api/v1/incidents/{id}/alerts?limit=400&before={next}");
    }
    let newest_first: Vec<&str> = ids.iter().rev().copied().collect();
    assert_eq!(paged, newest_first);
    let doc = c.get("/api/v1/openapi.json").await;
    assert!(doc["paths"]["/api/v1/incidents/{id}/alerts"]["get"].is_object(), "documented");
    assert!(doc["components"]["schemas"]["IncidentAlertsPage"].is_object());
    for bad in ["limit=0", "limit=1001", "before=nonsense"] {
        let r = c
            .http
            .get(c.s.url(&format!("/api/v1/incidents/{id}/alerts?{bad}")))
            .bearer_auth(&c.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(status == 400 || status == 422, "{bad}: {status}");
        assert!(body.contains(bad.split('=').next().unwrap()), "{bad}: {body}");
    }
    let (web, csrf) = c.s.login("big-analyst", "analyst password 1").await;
    let page = web.get(c.s.url(&format!("/incidents/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Alerts (1010)"), "{page}");
    assert!(page.contains("Showing the newest 200 of 1010"), "{page}");
    let listed = page.split("<ul id=\"alerts\">").nth(1).unwrap().split("</ul>").next().unwrap();
    let (oldest, newest) = (ids[0], ids[1_009]);
    assert_eq!(listed.matches("<li>").count(), 200);
    assert!(listed.contains(newest) && listed.contains(ids[810]), "the newest 200 are listed");
    assert!(!listed.contains(oldest) && !listed.contains(ids[809]), "older ones are not");
    assert!(listed.find(newest).unwrap() < listed.find(ids[810]).unwrap(), "newest first");
    let observables = c.get(&format!("/api/v1/incidents/{id}/observables")).await;
    assert_eq!(observables.as_array().unwrap().len(), 1_011, "the API lists every observable");
    assert!(page.contains("Observables (1000+)") && page.contains("Showing the first 1000, IoCs first"), "{page}");
    let table = page.split("id=\"observables\">").nth(1).unwrap().split("</table>").next().unwrap();
    let body = table.split("<tbody>").nth(1).unwrap();
    assert_eq!(body.matches("<tr>").count(), 1_000, "a row per observable shown");
    let r = web
        .post(c.s.url(&format!("/incidents/{id}/status")))
        .form(&[("_csrf", csrf.as_str()), ("status", "triage"), ("resolution", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(c.get(&format!("/api/v1/incidents/{id}")).await["status"], "triage");
}
