//! Working an incident through the API: summary edits with optimistic
//! concurrency, tasks, comments, observables, attachments, linked alerts,
//! merge, templates and bulk actions — with their refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer};
use muster_core::Role;
use reqwest::Method;
use serde_json::{Value, json};

struct Api {
    c: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn call(&self, m: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.c.request(m, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }
}

fn msg(v: &Value) -> &str {
    v["error"]["message"].as_str().unwrap_or_default()
}

async fn work_an_incident(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |c| c.max_attachment_bytes = 4096).await else { return };
    let org = s.org("work-a").await;
    let other = s.org("work-b").await;
    let ana = s.user("ana", org.id, Role::Analyst, "analyst password 1").await;
    let colleague = s.user("cole", org.id, Role::Analyst, "analyst password 2").await;
    let outsider = s.user("otto", other.id, Role::Analyst, "outsider password").await;
    let api = Api { c: reqwest::Client::new(), base: s.base.clone(), token: s.token(&ana, Role::Analyst).await };
    let them = Api { c: reqwest::Client::new(), base: s.base.clone(), token: s.token(&outsider, Role::Analyst).await };
    let eve =
        std::fs::read(muster_testkit::shared_data().join("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt"))
            .unwrap();
    let r = api.c.post(s.url("/api/v1/alerts?format=eve")).bearer_auth(&api.token).body(eve).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let alerts: Vec<String> = s.store.list_alerts(org.id, None, 3).await.unwrap().into_iter().map(|a| a.id).collect();
    let (st, inc) = api
        .post("/api/v1/incidents", json!({"title": "Beaconing host", "severity": "medium", "alert_ids": [alerts[0]]}))
        .await;
    assert_eq!(st, 201, "{inc}");
    let id = inc["id"].as_str().unwrap().to_owned();
    let at = |p: &str| format!("/api/v1/incidents/{id}{p}");

    // Edits: every field, with the version read.
    let (st, v) = api
        .patch(
            &at(""),
            json!({"severity": "high", "assignee_id": colleague.id.to_string(), "rsit_type": "c2-server",
                   "nis_root_cause": "malicious-actions", "tlp": "TLP:AMBER+STRICT", "pap": "PAP:RED",
                   "reported": true, "expected_updated_at": inc["updated_at"]}),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (&v["severity"], &v["rsit_type"], &v["nis_root_cause"], &v["tlp"], &v["pap"]),
        (
            &json!("high"),
            &json!("c2-server"),
            &json!("malicious-actions"),
            &json!("TLP:AMBER+STRICT"),
            &json!("PAP:RED")
        )
    );
    assert_eq!(v["assignee_id"], json!(colleague.id.to_string()));
    assert!(v["reported_at"].is_string());
    let texts: Vec<&str> = v["timeline"].as_array().unwrap().iter().map(|t| t["text"].as_str().unwrap()).collect();
    assert!(texts.contains(&"severity: medium → high") && texts.contains(&"assignee: nobody → cole"), "{texts:?}");
    // The same stale version again: 409, nothing changed.
    let (st, e) = api.patch(&at(""), json!({"severity": "low", "expected_updated_at": inc["updated_at"]})).await;
    assert_eq!(st, 409, "{e}");
    assert!(msg(&e).contains("changed by someone else"), "{e}");
    let r = api
        .c
        .patch(s.url(&at("")))
        .bearer_auth(&api.token)
        .header("if-match", format!("\"{}\"", inc["updated_at"].as_str().unwrap()))
        .json(&json!({"severity": "low"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "If-Match works too");
    // Refusals name the field.
    let (st, e) = api.patch(&at(""), json!({"assignee_id": outsider.id.to_string()})).await;
    assert_eq!(st, 422, "{e}");
    assert!(msg(&e).contains("assignee_id"), "{e}");
    let (st, e) = api.patch(&at(""), json!({"rsit_type": "made-up-type"})).await;
    assert_eq!(st, 422, "{e}");
    assert!(msg(&e).contains("rsit_type"), "{e}");
    let (st, e) = api.patch(&at(""), json!({"nis_root_cause": "gremlins"})).await;
    assert_eq!(st, 422, "{e}");
    let (st, e) = api.patch(&at(""), json!({"severity": "apocalyptic"})).await;
    assert_eq!(st, 422, "{e}");
    let (st, v) = api.patch(&at(""), json!({"assignee_id": null})).await;
    assert_eq!((st, &v["assignee_id"]), (200, &Value::Null), "{v}");
    assert_eq!(them.patch(&at(""), json!({"severity": "low"})).await.0, 404, "invisible to others");

    // Tasks.
    let (st, t) = api
        .post(
            &at("/tasks"),
            json!({"title": "Isolate the host", "assignee_id": ana.id.to_string(), "due_date": "2026-12-01"}),
        )
        .await;
    assert_eq!(st, 201, "{t}");
    assert_eq!(t["status"], "todo");
    let tid = t["id"].as_str().unwrap();
    let (st, t2) = api.patch(&at(&format!("/tasks/{tid}")), json!({"status": "done"})).await;
    assert_eq!((st, &t2["status"]), (200, &json!("done")), "{t2}");
    let (st, e) = api.post(&at("/tasks"), json!({"title": "x", "assignee_id": outsider.id.to_string()})).await;
    assert_eq!(st, 422, "{e}");
    let (st, e) = api.post(&at("/tasks"), json!({"title": "x", "due_date": "next tuesday"})).await;
    assert!(st == 422 && msg(&e).contains("due_date"), "{e}");
    assert_eq!(api.get(&at("/tasks")).await.1.as_array().unwrap().len(), 1);

    // Comments.
    let (st, c) = api.post(&at("/comments"), json!({"text": "Beacon interval 60 s."})).await;
    assert_eq!(st, 201, "{c}");
    assert!(c["author"].as_str().unwrap().ends_with("(user:ana)"), "{c}");
    assert_eq!(api.get(&at("/comments")).await.1[0]["text"], "Beacon interval 60 s.");
    assert_eq!(api.post(&at("/comments"), json!({"text": "  "})).await.0, 422);

    // Observables: validated, canonical, marked no wider than the incident.
    let (st, o) =
        api.post(&at("/observables"), json!({"kind": "domain", "value": "C2.Example.NET", "ioc": true})).await;
    assert_eq!(st, 201, "{o}");
    assert_eq!(
        (&o["value"], &o["tlp"], &o["source"]),
        (&json!("c2.example.net"), &json!("TLP:AMBER+STRICT"), &json!("analyst"))
    );
    let (st, e) = api.post(&at("/observables"), json!({"kind": "ipv4", "value": "999.1.1.1"})).await;
    assert!(st == 422 && msg(&e).contains("ipv4"), "{e}");
    let (st, e) = api.post(&at("/observables"), json!({"kind": "phone", "value": "1"})).await;
    assert_eq!(st, 422, "{e}");
    let (st, e) =
        api.post(&at("/observables"), json!({"kind": "domain", "value": "x.example", "tlp": "TLP:GREEN"})).await;
    assert!(st == 422 && msg(&e).contains("more restrictive"), "{e}");
    let (st, e) = api.post(&at("/observables"), json!({"kind": "domain", "value": "c2.example.net"})).await;
    assert_eq!(st, 409, "{e}");
    let oid = o["id"].as_str().unwrap();
    let (st, o2) = api.patch(&at(&format!("/observables/{oid}")), json!({"sighted": true, "tlp": "TLP:RED"})).await;
    assert_eq!((st, &o2["sighted"], &o2["tlp"]), (200, &json!(true), &json!("TLP:RED")), "{o2}");
    // A TLP:RED observable is for named people only: the list leaves it out.
    let (_, list) = api.get(&at("/observables")).await;
    assert!(!list.as_array().unwrap().iter().any(|x| x["value"] == "c2.example.net"), "{list}");

    // Attachments: content-addressed, downloaded as an opaque file, size-limited.
    let body = b"<html><script>alert(1)</script></html>".to_vec();
    let r = api
        .c
        .post(s.url(&at("/attachments?filename=../../evil.html")))
        .bearer_auth(&api.token)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let a: Value = r.json().await.unwrap();
    use sha2::Digest;
    assert_eq!(a["sha256"], hex::encode(sha2::Sha256::digest(&body)));
    assert_eq!(a["filename"], "evil.html", "no path");
    let d = api.c.get(s.url(a["download"].as_str().unwrap())).bearer_auth(&api.token).send().await.unwrap();
    assert_eq!(d.status(), 200);
    assert_eq!(d.headers()["content-type"], "application/octet-stream");
    assert_eq!(d.headers()["x-content-type-options"], "nosniff");
    assert!(d.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"evil.html\""));
    assert_eq!(d.bytes().await.unwrap().to_vec(), body);
    let form = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"capture.pcap\"\r\n\
                Content-Type: application/octet-stream\r\n\r\npcap bytes\r\n--XyZ--\r\n";
    let r = api
        .c
        .post(s.url(&at("/attachments")))
        .bearer_auth(&api.token)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "multipart upload");
    let r = api
        .c
        .post(s.url(&at("/attachments?filename=big.bin")))
        .bearer_auth(&api.token)
        .body(vec![0u8; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(msg(&e).contains("4096") && msg(&e).contains("max_attachment_bytes"), "{e}");
    assert_eq!(api.get(&at("/attachments")).await.1.as_array().unwrap().len(), 2, "the oversize one was not kept");
    assert_eq!(them.get(a["download"].as_str().unwrap()).await.0, 404);

    // Linked alerts.
    let (st, v) = api.post(&at("/alerts"), json!({"alert_ids": [alerts[1], alerts[2]]})).await;
    assert_eq!((st, v["alert_ids"].as_array().map(Vec::len)), (200, Some(3)), "{v}");
    let r = api.call(Method::DELETE, &at(&format!("/alerts/{}", alerts[2])), None).await;
    assert_eq!((r.0, r.1["alert_ids"].as_array().map(Vec::len)), (200, Some(2)), "{}", r.1);
    let theirs_alert_refused = them.post(&at("/alerts"), json!({"alert_ids": [alerts[2]]})).await.0;
    assert_eq!(theirs_alert_refused, 404);

    // Templates, built in and the organisation's own; applying adds tasks.
    let (_, ts) = api.get("/api/v1/incident-templates").await;
    assert!(ts.as_array().unwrap().iter().any(|t| t["id"] == "template--builtin-ransomware"), "{ts}");
    let (st, mine) = api
        .post(
            "/api/v1/incident-templates",
            json!({"name": "Beacon", "severity": "high", "rsit_type": "c2-server", "tasks": [{"title": "Sinkhole the domain"}]}),
        )
        .await;
    assert_eq!(st, 201, "{mine}");
    let (st, ap) = api.post(&at("/template"), json!({"template_id": mine["id"]})).await;
    assert_eq!((st, &ap["tasks"]), (200, &json!(1)), "{ap}");
    assert_eq!(them.get(&format!("/api/v1/incident-templates/{}", mine["id"].as_str().unwrap())).await.0, 404);
    assert_eq!(api.get("/api/v1/incident-templates/template--builtin-ddos").await.0, 200);

    // Merge: same organisation only; the source ends closed as a duplicate.
    let (_, dup) = api.post("/api/v1/incidents", json!({"title": "Beaconing again", "severity": "low"})).await;
    let dup_id = dup["id"].as_str().unwrap();
    api.post(&format!("/api/v1/incidents/{dup_id}/comments"), json!({"text": "seen on host 2"})).await;
    let (_, foreign) =
        them.post("/api/v1/incidents", json!({"title": "theirs", "severity": "low", "tlp": "TLP:GREEN"})).await;
    let (st, e) = api.post(&at("/merge"), json!({"source_id": foreign["id"]})).await;
    assert_eq!(st, 422, "merge across organisations: {e}");
    let (st, e) = api.post(&at("/merge"), json!({"source_id": id})).await;
    assert_eq!(st, 422, "{e}");
    let (st, m) = api.post(&at("/merge"), json!({"source_id": dup_id})).await;
    assert_eq!((st, &m["comments"]), (200, &json!(1)), "{m}");
    let (_, d) = api.get(&format!("/api/v1/incidents/{dup_id}")).await;
    assert_eq!((&d["status"], &d["resolution"]), (&json!("closed"), &json!("duplicate")));
    assert_eq!(api.get(&at("/comments")).await.1.as_array().unwrap().len(), 2);

    // Bulk: per-id results, each through the same rules.
    let (_, x) = api.post("/api/v1/incidents", json!({"title": "bulk one", "severity": "low"})).await;
    let x_id = x["id"].as_str().unwrap();
    let (st, b) = api
        .post(
            "/api/v1/incidents/bulk",
            json!({"ids": [x_id, dup_id, foreign["id"], "incident--nope"], "action": {"kind": "severity", "severity": "critical"}}),
        )
        .await;
    assert_eq!(st, 200, "{b}");
    assert_eq!((b["applied"].as_u64(), b["refused"].as_u64()), (Some(2), Some(2)), "{b}");
    assert_eq!(b["results"][2]["result"], "refused");
    assert!(b["results"][2]["reason"].as_str().unwrap().contains("owning organisation"), "{b}");
    let (_, b) = api
        .post("/api/v1/incidents/bulk", json!({"ids": [x_id], "action": {"kind": "status", "status": "closed"}}))
        .await;
    assert!(b["results"][0]["reason"].as_str().unwrap().contains("resolution"), "{b}");
    let (_, b) = api
        .post(
            "/api/v1/incidents/bulk",
            json!({"ids": [x_id], "action": {"kind": "status", "status": "closed", "resolution": "false-positive"}}),
        )
        .await;
    assert_eq!(b["applied"], 1, "{b}");
    let (_, b) = api
        .post(
            "/api/v1/incidents/bulk",
            json!({"ids": [x_id], "action": {"kind": "assign", "assignee_id": outsider.id.to_string()}}),
        )
        .await;
    assert_eq!(b["refused"], 1, "{b}");
    let (st, _) = api
        .post("/api/v1/incidents/bulk", json!({"ids": [], "action": {"kind": "template", "template_id": "x"}}))
        .await;
    assert_eq!(st, 422);
}

#[tokio::test]
async fn an_analyst_works_an_incident_through_the_api_on_sqlite() {
    work_an_incident(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_analyst_works_an_incident_through_the_api_on_postgres() {
    work_an_incident(Backend::Postgres).await;
}

#[tokio::test]
async fn concurrent_edits_of_one_version_let_exactly_one_win() {
    let s = TestServer::start().await;
    let org = s.org("race").await;
    let ana = s.user("ana", org.id, Role::Analyst, "analyst password 1").await;
    let api = Api { c: reqwest::Client::new(), base: s.base.clone(), token: s.token(&ana, Role::Analyst).await };
    let (_, inc) = api.post("/api/v1/incidents", json!({"title": "race", "severity": "low"})).await;
    let id = inc["id"].as_str().unwrap();
    let path = format!("/api/v1/incidents/{id}");
    let edits = ["medium", "high", "critical", "info"]
        .map(|sev| api.patch(&path, json!({"severity": sev, "expected_updated_at": inc["updated_at"]})));
    let results = futures_join(edits).await;
    let ok = results.iter().filter(|(st, _)| *st == 200).count();
    let conflicts = results.iter().filter(|(st, _)| *st == 409).count();
    assert_eq!((ok, conflicts), (1, 3), "{results:?}");
}

async fn futures_join<F: std::future::Future<Output = (u16, Value)>>(fs: [F; 4]) -> Vec<(u16, Value)> {
    let [a, b, c, d] = fs;
    let (a, b, c, d) = tokio::join!(a, b, c, d);
    vec![a, b, c, d]
}

#[tokio::test]
async fn the_demo_has_incidents_in_different_states_for_two_organisations() {
    let s = TestServer::start().await;
    muster_server::bootstrap::load_demo(&s.store).await.unwrap();
    for slug in ["cert-de", "gridco"] {
        let org = s.store.get_org_by_slug(slug).await.unwrap();
        let rows = s.store.list_incidents(org.id, 100).await.unwrap();
        let mine: Vec<_> = rows.iter().filter(|r| r.org == org.id).collect();
        // The demo alerts also go through correlation, which may open more (new) incidents.
        let mut states: Vec<&str> = mine.iter().map(|r| r.lifecycle.status.as_str()).collect();
        states.sort_unstable();
        states.dedup();
        assert_eq!(states, ["closed", "contained", "in-progress", "new"], "{slug}");
        let closed = mine.iter().find(|r| r.lifecycle.status.as_str() == "closed").unwrap();
        assert!(closed.lifecycle.resolution.is_some());
        let worked = mine.iter().find(|r| r.lifecycle.status.as_str() == "in-progress").unwrap();
        assert!(!s.store.list_tasks(&worked.id).await.unwrap().is_empty());
        assert!(!s.store.list_comments(&worked.id).await.unwrap().is_empty());
        assert!(s.store.incident_observables(&worked.id).await.unwrap().iter().any(|o| o.ioc));
    }
}

#[tokio::test]
async fn the_list_page_bulk_form_and_the_template_page_work_without_script() {
    let s = TestServer::start().await;
    let org = s.org("pages").await;
    let ana = s.user("ana", org.id, Role::Analyst, "analyst password 1").await;
    let api = Api { c: reqwest::Client::new(), base: s.base.clone(), token: s.token(&ana, Role::Analyst).await };
    let mut ids = Vec::new();
    for t in ["one", "two"] {
        let (_, v) = api.post("/api/v1/incidents", json!({"title": t, "severity": "low"})).await;
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let (c, csrf) = s.login("ana", "analyst password 1").await;
    let list = c.get(s.url("/incidents")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("id=\"bulk-form\"") && list.contains(&format!("value=\"{}\"", ids[0])), "{list}");
    let form = [
        ("_csrf", csrf.as_str()),
        ("ids", ids[0].as_str()),
        ("ids", ids[1].as_str()),
        ("action", "severity"),
        ("severity", "high"),
        ("status", "triage"),
        ("resolution", ""),
        ("assignee_id", ""),
        ("template_id", "template--builtin-ddos"),
        ("into", ""),
    ];
    let r = c.post(s.url("/incidents/bulk")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("2 applied, 0 refused"), "{page}");
    assert_eq!(api.get(&format!("/api/v1/incidents/{}", ids[1])).await.1["severity"], "high");

    let page = c.get(s.url("/incident-templates")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Ransomware") && page.contains("built in"), "{page}");
    let r = c
        .post(s.url("/incident-templates"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "Lost laptop"),
            ("severity", "low"),
            ("rsit_type", "data-loss"),
            ("tasks", "Wipe it\nReport it"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = c.get(s.url("/incident-templates")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Lost laptop") && page.contains("Report it"), "{page}");
    let r = c
        .post(s.url("/incident-templates"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "Bad"),
            ("severity", "low"),
            ("rsit_type", "nonsense"),
            ("tasks", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("rsit_type"));

    // A refused page form shows the incident again with the reason.
    let r = c
        .post(s.url(&format!("/incidents/{}/observables", ids[0])))
        .form(&[("_csrf", csrf.as_str()), ("kind", "ipv4"), ("value", "not an address")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("incident-error"));
}
