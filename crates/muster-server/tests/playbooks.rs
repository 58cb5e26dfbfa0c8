//! Playbooks through the real server on 127.0.0.1, with another local HTTP
//! server playing the security tool: the library, runs that call the tool and
//! wait for an analyst, cancellation, automation rules in their three modes,
//! and secrets that never come back out (nor sit in the SQLite file in the clear).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use common::{Backend, TestServer};
use muster_core::Role;
use serde_json::{Value, json};

/// What the tool received: (path, authorization header, body) per request.
#[derive(Default, Clone)]
struct Tool(Arc<Mutex<Vec<(String, String, String)>>>);

impl Tool {
    fn calls(&self, path: &str) -> Vec<(String, String, String)> {
        self.0.lock().unwrap().iter().filter(|c| c.0 == path).cloned().collect()
    }
}

async fn tool() -> (u16, Tool) {
    let seen = Tool::default();
    let record = |State(t): State<Tool>, uri: axum::http::Uri, h: HeaderMap, body: String| async move {
        let auth = h.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        t.0.lock().unwrap().push((uri.path().to_owned(), auth, body));
        axum::Json(json!({"result": "ok", "rule": "r-7"}))
    };
    let app = axum::Router::new().fallback(record).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, seen)
}

const SECRET: &str = "pw-super-secret-4711";

fn sid(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

/// start → POST /block (the `__ip__` variable) → [manual confirm] → end.
fn playbook(id: &str, modified: &str, port: u16, manual: bool, auth: bool) -> Value {
    let agent = sid("http-api", 100);
    let mut workflow = serde_json::Map::new();
    workflow.insert(sid("start", 1), json!({"type": "start", "on_completion": sid("action", 2)}));
    let after_block = if manual { sid("action", 3) } else { sid("end", 9) };
    workflow.insert(
        sid("action", 2),
        json!({"type": "action", "name": "Block the address", "agent": agent, "on_success": after_block,
               "commands": [{"type": "http-api", "command": "POST /block HTTP/1.1", "content": "{\"ip\": \"__ip__:value\"}",
                             "headers": {"content-type": ["application/json"]}}]}),
    );
    if manual {
        workflow.insert(
            sid("action", 3),
            json!({"type": "action", "name": "Confirm", "agent": agent, "on_success": sid("end", 9), "out_args": ["__answer__"],
                   "commands": [{"type": "manual", "command": "Check the firewall shows the block", "description": "Confirm the block"}]}),
        );
    }
    workflow.insert(sid("end", 9), json!({"type": "end"}));
    let mut a =
        json!({"type": "http-api", "name": "firewall", "address": {"ipv4": ["127.0.0.1"]}, "port": port.to_string()});
    let mut doc = json!({
        "type": "playbook", "spec_version": "cacao-2.0", "id": id, "name": "Block an address",
        "description": "Blocks an address on the firewall",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2026-01-01T00:00:00.000Z", "modified": modified,
        "workflow_start": sid("start", 1), "workflow": workflow,
        "playbook_variables": {
            "__ip__": {"type": "ipv4-addr", "external": true},
            "__answer__": {"type": "string", "value": ""},
            "__incident__": {"type": "string", "external": true, "value": "none"}
        },
    });
    if auth {
        a["authentication_info"] = json!(sid("http-basic", 200));
        doc["authentication_info_definitions"] =
            json!({ sid("http-basic", 200): {"type": "http-basic", "user_id": "muster", "password": SECRET} });
    }
    doc["agent_definitions"] = json!({ agent: a });
    doc
}

struct Env {
    srv: TestServer,
    http: reqwest::Client,
    coord: String,
    analyst: String,
    other: String,
    org: muster_core::Organisation,
}

async fn env(backend: Backend) -> Option<Env> {
    let srv = TestServer::start_with(backend, |c| c.playbook_allow_hosts = vec!["127.0.0.1".into()]).await?;
    let org = srv.org("soc").await;
    let other_org = srv.org("other").await;
    let c = srv.user("cora", org.id, Role::Coordinator, "coordinator password 1").await;
    let a = srv.user("andy", org.id, Role::Analyst, "analyst password 12").await;
    let o = srv.user("olga", other_org.id, Role::Admin, "other org password 1").await;
    let coord = srv.token(&c, Role::Coordinator).await;
    let analyst = srv.token(&a, Role::Analyst).await;
    let other = srv.token(&o, Role::Admin).await;
    Some(Env { srv, http: reqwest::Client::new(), coord, analyst, other, org })
}

impl Env {
    async fn send(&self, method: reqwest::Method, token: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self.http.request(method, self.srv.url(path)).bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, token, path, None).await
    }
    async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, token, path, Some(body)).await
    }
    async fn import(&self, doc: &Value) -> Value {
        let (s, v) = self.post(&self.coord, "/api/v1/playbooks", doc.clone()).await;
        assert_eq!(s, 201, "{v}");
        v
    }
    async fn incident(&self, severity: &str) -> String {
        let (s, v) = self
            .post(&self.analyst, "/api/v1/incidents", json!({"title": "Scan from 192.0.2.5", "severity": severity}))
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }
    /// Polls `path` until `done` holds (10 s at most).
    async fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, v) = self.get(&self.analyst, path).await;
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting on {path}: {v:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod sqlite { $(#[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await; })+ }
        mod postgres { $(#[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await; })+ }
    };
}

both!(
    library_keeps_versions_refuses_invalid_playbooks_and_exports_what_was_imported,
    a_run_calls_the_tool_waits_for_the_analyst_and_lands_on_the_incident_timeline,
    a_waiting_run_can_be_cancelled,
    automation_rules_run_suggest_or_await_approval,
    a_run_refuses_to_act_on_an_address_an_alert_of_its_incident_marks_pap_red,
    secrets_are_redacted_in_every_response,
);

async fn library_keeps_versions_refuses_invalid_playbooks_and_exports_what_was_imported(backend: Backend) {
    let Some(e) = env(backend).await else { return };
    let id = "playbook--00000000-0000-4000-8000-00000000a001";
    // Invalid: a step that does not exist, located by JSON path; nothing stored.
    let mut bad = playbook(id, "2026-01-01T00:00:00.000Z", 1, false, false);
    bad["workflow"][sid("start", 1)]["on_completion"] = json!(sid("action", 77));
    let (s, v) = e.post(&e.coord, "/api/v1/playbooks", bad).await;
    assert_eq!(s, 422, "{v}");
    assert!(
        v["error"]["errors"].as_array().unwrap().iter().any(|x| x["path"].as_str().unwrap().contains("on_completion")),
        "{v}"
    );
    let (s, v) = e.get(&e.coord, "/api/v1/playbooks").await;
    assert_eq!((s, v.as_array().unwrap().len()), (200, 0));
    // Not JSON at all.
    let r = e.http.post(e.srv.url("/api/v1/playbooks")).bearer_auth(&e.coord).body("{not json").send().await.unwrap();
    assert_eq!(r.status(), 422);

    // Analysts do not manage the library.
    let v1 = playbook(id, "2026-01-01T00:00:00.000Z", 1, false, false);
    let (s, _) = e.post(&e.analyst, "/api/v1/playbooks", v1.clone()).await;
    assert_eq!(s, 403);
    let text = serde_json::to_string_pretty(&v1).unwrap();
    let r = e.http.post(e.srv.url("/api/v1/playbooks")).bearer_auth(&e.coord).body(text.clone()).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let (s, _) = e.post(&e.coord, "/api/v1/playbooks", v1.clone()).await;
    assert_eq!(s, 409, "the same id and modified is the same version");
    e.import(&playbook(id, "2026-02-01T00:00:00.000Z", 1, true, false)).await;

    let (_, list) = e.get(&e.analyst, "/api/v1/playbooks").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (list[0]["versions"].as_i64(), list[0]["modified"].as_str()),
        (Some(2), Some("2026-02-01T00:00:00.000Z"))
    );
    let (_, detail) = e.get(&e.analyst, &format!("/api/v1/playbooks/{id}")).await;
    let order: Vec<&str> = detail["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        vec![sid("start", 1), sid("action", 2), sid("action", 3), sid("end", 9)],
        "steps in workflow order"
    );
    assert_eq!(detail["inputs"]["__ip__"], "ipv4-addr");
    let (_, versions) = e.get(&e.analyst, &format!("/api/v1/playbooks/{id}/versions")).await;
    assert_eq!(versions.as_array().unwrap().len(), 2);
    // Export gives back the document as imported, byte for byte.
    let exported = e
        .http
        .get(e.srv.url(&format!("/api/v1/playbooks/{id}/export?modified=2026-01-01T00:00:00.000Z")))
        .bearer_auth(&e.analyst)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(exported, text);

    // Another organisation sees none of it.
    let (_, theirs) = e.get(&e.other, "/api/v1/playbooks").await;
    assert!(theirs.as_array().unwrap().is_empty());
    let (s, _) = e.get(&e.other, &format!("/api/v1/playbooks/{id}")).await;
    assert_eq!(s, 404);

    let (s, _) = e.send(reqwest::Method::DELETE, &e.coord, &format!("/api/v1/playbooks/{id}"), None).await;
    assert_eq!(s, 204);
    let (_, list) = e.get(&e.analyst, "/api/v1/playbooks").await;
    assert!(list.as_array().unwrap().is_empty());
    let (s, _) = e
        .post(&e.analyst, &format!("/api/v1/playbooks/{id}/runs"), json!({"variables": {"__ip__": "192.0.2.5"}}))
        .await;
    assert_eq!(s, 409, "an archived playbook does not run");
}

async fn a_run_calls_the_tool_waits_for_the_analyst_and_lands_on_the_incident_timeline(backend: Backend) {
    let Some(e) = env(backend).await else { return };
    let (port, tool) = tool().await;
    let id = "playbook--00000000-0000-4000-8000-00000000a002";
    e.import(&playbook(id, "2026-01-01T00:00:00.000Z", port, true, false)).await;
    let incident = e.incident("medium").await;

    // Bad inputs are refused before anything runs.
    let (s, v) = e
        .post(&e.analyst, &format!("/api/v1/playbooks/{id}/runs"), json!({"variables": {"__ip__": "not an ip"}}))
        .await;
    assert_eq!(s, 422, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("variables.__ip__"), "{v}");
    let (s, _) = e
        .post(
            &e.analyst,
            &format!("/api/v1/playbooks/{id}/runs"),
            json!({"variables": {"__nope__": "x", "__ip__": "192.0.2.5"}}),
        )
        .await;
    assert_eq!(s, 422);
    assert!(tool.calls("/block").is_empty());

    let (s, run) = e
        .post(
            &e.analyst,
            &format!("/api/v1/playbooks/{id}/runs"),
            json!({"variables": {"__ip__": "192.0.2.5"}, "incident_id": incident}),
        )
        .await;
    assert_eq!(s, 201, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/playbook-runs/{run_id}");
    let waiting = e.wait_for(&path, |v| v["tasks"].as_array().is_some_and(|t| !t.is_empty())).await;
    assert_eq!(waiting["status"], "running");
    let calls = tool.calls("/block");
    assert_eq!(calls.len(), 1);
    assert_eq!(serde_json::from_str::<Value>(&calls[0].2).unwrap()["ip"], "192.0.2.5");
    let task = &waiting["tasks"][0];
    assert_eq!((task["status"].as_str(), task["title"].as_str()), (Some("open"), Some("Confirm the block")));
    assert_eq!(task["out_args"], json!(["__answer__"]));
    let (_, open) = e.get(&e.analyst, "/api/v1/playbook-tasks").await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    let (s, _) = e.get(&e.other, &format!("/api/v1/playbook-tasks/{}", task["id"].as_str().unwrap())).await;
    assert_eq!(s, 404);

    let complete = format!("/api/v1/playbook-tasks/{}/complete", task["id"].as_str().unwrap());
    let (s, v) = e.post(&e.analyst, &complete, json!({"out_args": {"__other__": "x"}})).await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = e.post(&e.analyst, &complete, json!({"out_args": {"__answer__": "block confirmed"}})).await;
    assert_eq!(s, 200, "{v}");
    let done = e.wait_for(&path, |v| v["status"] != "running").await;
    assert_eq!(done["status"], "completed", "{done:#}");
    assert_eq!(done["variables"]["__answer__"], "block confirmed");
    let steps: Vec<&str> =
        done["records"].as_array().unwrap().iter().map(|r| r["workflow_step"].as_str().unwrap()).collect();
    assert_eq!(steps, vec![sid("start", 1), sid("action", 2), sid("action", 3), sid("end", 9)]);
    assert!(done["records"].as_array().unwrap().iter().all(|r| r["status"] == "successfully_completed"));
    assert_eq!(done["records"][2]["automated_execution"], false);
    assert_eq!(tool.calls("/block").len(), 1);
    let (s, _) = e.post(&e.analyst, &complete, json!({"out_args": {}})).await;
    assert_eq!(s, 409);

    let (_, inc) = e.get(&e.analyst, &format!("/api/v1/incidents/{incident}")).await;
    let lines: Vec<&str> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "playbook")
        .map(|t| t["text"].as_str().unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("playbook run started") && lines[3].starts_with("playbook run completed"),
        "{lines:?}"
    );
    let (_, history) = e.get(&e.analyst, &format!("/api/v1/playbook-runs?incident_id={incident}")).await;
    assert_eq!(history.as_array().unwrap().len(), 1);
    let (_, theirs) = e.get(&e.other, "/api/v1/playbook-runs").await;
    assert!(theirs.as_array().unwrap().is_empty());
    let (s, _) = e.get(&e.other, &path).await;
    assert_eq!(s, 404);
    let _ = e.org.id;
}

async fn a_waiting_run_can_be_cancelled(backend: Backend) {
    let Some(e) = env(backend).await else { return };
    let (port, _tool) = tool().await;
    let id = "playbook--00000000-0000-4000-8000-00000000a003";
    e.import(&playbook(id, "2026-01-01T00:00:00.000Z", port, true, false)).await;
    let (_, run) = e
        .post(&e.analyst, &format!("/api/v1/playbooks/{id}/runs"), json!({"variables": {"__ip__": "192.0.2.9"}}))
        .await;
    let path = format!("/api/v1/playbook-runs/{}", run["id"].as_str().unwrap());
    e.wait_for(&path, |v| v["tasks"].as_array().is_some_and(|t| !t.is_empty())).await;
    let (s, _) = e.post(&e.analyst, &format!("{path}/cancel"), json!({})).await;
    assert_eq!(s, 202);
    let done = e.wait_for(&path, |v| v["status"] != "running").await;
    assert_eq!(done["status"], "cancelled");
    assert_ne!(done["tasks"][0]["status"], "open");
    let (s, _) = e.post(&e.analyst, &format!("{path}/cancel"), json!({})).await;
    assert_eq!(s, 409);
}

async fn automation_rules_run_suggest_or_await_approval(backend: Backend) {
    let Some(e) = env(backend).await else { return };
    let (port, tool) = tool().await;
    let id = "playbook--00000000-0000-4000-8000-00000000a004";
    let mut doc = playbook(id, "2026-01-01T00:00:00.000Z", port, false, false);
    doc["playbook_variables"]["__ip__"]["value"] = json!("192.0.2.77");
    e.import(&doc).await;
    let rule = |name: &str, mode: &str, severity: &str| {
        json!({"name": name, "trigger": "incident-created", "playbook_id": id, "mode": mode,
               "conditions": {"severities": [severity]}, "variables": {"__incident__": "incident.id"}})
    };
    let (s, _) = e.post(&e.analyst, "/api/v1/automation-rules", rule("x", "automatic", "high")).await;
    assert_eq!(s, 403, "analysts do not write rules");
    let (s, v) = e
        .post(
            &e.coord,
            "/api/v1/automation-rules",
            json!({"name": "x", "trigger": "whenever", "playbook_id": id, "mode": "automatic"}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = e.post(&e.coord, "/api/v1/automation-rules", json!({"name": "x", "trigger": "incident-created", "playbook_id": id, "mode": "automatic", "variables": {"__ip__": "nowhere"}})).await;
    assert_eq!(s, 422, "{v}");
    for (name, mode, sev) in
        [("auto", "automatic", "high"), ("suggest", "suggested", "medium"), ("approve", "approval", "critical")]
    {
        let (s, v) = e.post(&e.coord, "/api/v1/automation-rules", rule(name, mode, sev)).await;
        assert_eq!(s, 201, "{v}");
    }
    let (_, rules) = e.get(&e.analyst, "/api/v1/automation-rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 3);

    // Automatic: a high incident runs the playbook with its id mapped in.
    let high = e.incident("high").await;
    let runs = e
        .wait_for(&format!("/api/v1/playbook-runs?incident_id={high}"), |v| {
            v.as_array().is_some_and(|a| a.len() == 1 && a[0]["status"] == "completed")
        })
        .await;
    assert_eq!(runs[0]["variables"]["__incident__"], json!(high));
    assert_eq!(tool.calls("/block").len(), 1);
    let (_, inc) = e.get(&e.analyst, &format!("/api/v1/incidents/{high}")).await;
    assert!(
        inc["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["text"].as_str().unwrap().starts_with("playbook run completed"))
    );

    // Low matches no rule.
    let low = e.incident("low").await;
    // Suggested: a proposal an analyst starts.
    let medium = e.incident("medium").await;
    let props = e
        .wait_for(&format!("/api/v1/automation-proposals?incident_id={medium}"), |v| {
            v.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    assert_eq!((props[0]["mode"].as_str(), props[0]["status"].as_str()), (Some("suggested"), Some("pending")));
    let (s, run) = e
        .post(
            &e.analyst,
            &format!("/api/v1/automation-proposals/{}/start", props[0]["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, 201, "{run}");
    assert_eq!(run["incident_id"], json!(medium));
    e.wait_for(&format!("/api/v1/playbook-runs/{}", run["id"].as_str().unwrap()), |v| v["status"] == "completed").await;
    let (s, _) = e
        .post(
            &e.analyst,
            &format!("/api/v1/automation-proposals/{}/start", props[0]["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, 409, "a proposal starts once");

    // Approval: analysts cannot, a coordinator can.
    let critical = e.incident("critical").await;
    let props = e
        .wait_for(&format!("/api/v1/automation-proposals?incident_id={critical}"), |v| {
            v.as_array().is_some_and(|a| !a.is_empty())
        })
        .await;
    let start = format!("/api/v1/automation-proposals/{}/start", props[0]["id"].as_str().unwrap());
    let (s, _) = e.post(&e.analyst, &start, json!({})).await;
    assert_eq!(s, 403);
    let (s, _) = e.post(&e.coord, &start, json!({})).await;
    assert_eq!(s, 201);
    let (_, inc) = e.get(&e.analyst, &format!("/api/v1/incidents/{critical}")).await;
    assert!(
        inc["timeline"].as_array().unwrap().iter().any(|t| t["text"].as_str().unwrap().contains("awaits approval"))
    );

    let (_, low_runs) = e.get(&e.analyst, &format!("/api/v1/playbook-runs?incident_id={low}")).await;
    assert!(low_runs.as_array().unwrap().is_empty());
    let (_, low_props) = e.get(&e.analyst, &format!("/api/v1/automation-proposals?incident_id={low}")).await;
    assert!(low_props.as_array().unwrap().is_empty());
    let (_, theirs) = e.get(&e.other, "/api/v1/automation-rules").await;
    assert!(theirs.as_array().unwrap().is_empty());
}

/// The PAP of an incident's alerts binds the playbooks run on it: a run that
/// would block an address an alert of the incident marks PAP:RED is refused
/// and calls nothing; an address only a PAP:GREEN alert carries is blocked.
/// The incident's alerts are read 500 at a time; the PAP:RED one is on the second page.
async fn a_run_refuses_to_act_on_an_address_an_alert_of_its_incident_marks_pap_red(backend: Backend) {
    let Some(e) = env(backend).await else { return };
    let (port, tool) = tool().await;
    let id = "playbook--00000000-0000-4000-8000-00000000a005";
    e.import(&playbook(id, "2026-01-01T00:00:00.000Z", port, false, false)).await;
    let mut alert_ids = Vec::new();
    for n in 0..505 {
        let (pap, ip) = if n == 503 { (3, "192.0.2.66") } else { (1, "192.0.2.67") };
        let (s, a) = e
            .post(
                &e.analyst,
                "/api/v1/alert",
                json!({"type": "siem", "source": "siem", "sourceRef": format!("pap-{n}"), "title": "Beaconing",
                       "description": "", "severity": 2, "date": 1_709_632_800_000_i64 + n, "tlp": 2, "pap": pap,
                       "observables": [{"dataType": "ip", "data": ip}]}),
            )
            .await;
        assert_eq!(s, 201, "{a}");
        alert_ids.push(a["_id"].clone());
    }
    let (s, inc) = e
        .post(
            &e.analyst,
            "/api/v1/incidents",
            json!({"title": "Beaconing", "severity": "high", "alert_ids": alert_ids}),
        )
        .await;
    assert_eq!(s, 201, "{inc}");
    let incident = inc["id"].as_str().unwrap();
    let run = |ip: &str| json!({"variables": {"__ip__": ip}, "incident_id": incident});
    let (s, red) = e.post(&e.analyst, &format!("/api/v1/playbooks/{id}/runs"), run("192.0.2.66")).await;
    assert_eq!(s, 201, "{red}");
    let red = e
        .wait_for(&format!("/api/v1/playbook-runs/{}", red["id"].as_str().unwrap()), |v| {
            v["status"] != "running" && v["status"] != "pending"
        })
        .await;
    assert_ne!(red["status"], "completed", "{red}");
    assert!(red.to_string().contains("refused by PAP"), "{red}");
    assert!(tool.calls("/block").is_empty(), "nothing was called");
    let (s, green) = e.post(&e.analyst, &format!("/api/v1/playbooks/{id}/runs"), run("192.0.2.67")).await;
    assert_eq!(s, 201, "{green}");
    e.wait_for(&format!("/api/v1/playbook-runs/{}", green["id"].as_str().unwrap()), |v| v["status"] == "completed")
        .await;
    assert_eq!(tool.calls("/block").len(), 1);
}

async fn secrets_are_redacted_in_every_response(backend: Backend) {
    let sqlite = matches!(backend, Backend::Sqlite);
    let Some(e) = env(backend).await else { return };
    let (port, tool) = tool().await;
    let id = "playbook--00000000-0000-4000-8000-00000000a005";
    let imported = e.import(&playbook(id, "2026-01-01T00:00:00.000Z", port, false, true)).await;
    let (_, run) = e
        .post(&e.analyst, &format!("/api/v1/playbooks/{id}/runs"), json!({"variables": {"__ip__": "192.0.2.5"}}))
        .await;
    let path = format!("/api/v1/playbook-runs/{}", run["id"].as_str().unwrap());
    let done = e.wait_for(&path, |v| v["status"] != "running").await;
    assert_eq!(done["status"], "completed", "{done:#}");
    // The tool got the real credentials…
    use base64::Engine as _;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("muster:{SECRET}")));
    assert_eq!(tool.calls("/block")[0].1, expected);
    // …and no response shows them.
    let mut bodies = vec![imported.to_string(), done.to_string()];
    for p in [
        "/api/v1/playbooks".to_owned(),
        format!("/api/v1/playbooks/{id}"),
        format!("/api/v1/playbooks/{id}/export"),
        format!("/api/v1/playbooks/{id}/versions"),
        "/api/v1/playbook-runs".to_owned(),
        format!("/playbooks/{id}"),
    ] {
        let text = e.http.get(e.srv.url(&p)).bearer_auth(&e.analyst).send().await.unwrap().text().await.unwrap();
        bodies.push(text);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("muster:{SECRET}"));
    for b in &bodies {
        assert!(!b.contains(SECRET) && !b.contains(&encoded), "secret leaked: {b}");
    }
    let (_, export) = e.get(&e.analyst, &format!("/api/v1/playbooks/{id}/export")).await;
    assert_eq!(export["authentication_info_definitions"][sid("http-basic", 200)]["password"], "[REDACTED]");
    if sqlite {
        e.srv.store.close().await;
        let mut raw = Vec::new();
        for f in std::fs::read_dir(e.srv.data_dir()).unwrap() {
            let f = f.unwrap().path();
            if f.file_name().unwrap().to_string_lossy().starts_with("muster.db") {
                raw.extend(std::fs::read(&f).unwrap());
            }
        }
        assert!(!raw.is_empty());
        let hay = String::from_utf8_lossy(&raw);
        assert!(!hay.contains(SECRET), "the SQLite file holds the password in the clear");
        assert!(!hay.contains(&encoded));
    }
    let _: BTreeMap<String, String> = BTreeMap::new();
}

/// The pages, through forms as a browser sends them: import, the playbook page,
/// start a run, the manual step form, the run page, a rule.
#[tokio::test]
async fn pages_import_start_a_run_and_complete_its_manual_step() {
    let e = env(Backend::Sqlite).await.unwrap();
    let (port, tool) = tool().await;
    let (c, csrf) = e.srv.login("cora", "coordinator password 1").await;
    let id = "playbook--00000000-0000-4000-8000-00000000a006";
    let page = c.get(e.srv.url("/playbooks")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"no-playbooks\"") && page.contains("id=\"import-form\""), "{page}");
    // An invalid document is shown with its JSON paths.
    let r = c
        .post(e.srv.url("/playbooks"))
        .form(&[("_csrf", csrf.as_str()), ("document", "{\"type\": \"playbook\"}")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"import-errors\""));
    let doc = playbook(id, "2026-01-01T00:00:00.000Z", port, true, false).to_string();
    let r = c
        .post(e.srv.url("/playbooks"))
        .form(&[("_csrf", csrf.as_str()), ("document", doc.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = c.get(e.srv.url(&format!("/playbooks/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("class=\"workflow-graph\"")
            && page.contains("Block the address")
            && page.contains("name=\"var.__ip__\""),
        "{page}"
    );
    // The workflow is drawn server-side as inline SVG inside the graph panel.
    let graph = page.split("id=\"workflow-graph\">").nth(1).unwrap_or_default();
    assert!(graph.trim_start().starts_with("<svg"), "graph panel holds an SVG: {graph:.200}");

    let r = c
        .post(e.srv.url(&format!("/playbooks/{id}/runs")))
        .form(&[("_csrf", csrf.as_str()), ("var.__ip__", "not-an-ip"), ("incident_id", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("variables.__ip__"));
    let r = c
        .post(e.srv.url(&format!("/playbooks/{id}/runs")))
        .form(&[("_csrf", csrf.as_str()), ("var.__ip__", "192.0.2.44"), ("incident_id", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let run_page = r.headers()["location"].to_str().unwrap().to_owned();
    let run_id = run_page.rsplit('/').next().unwrap().to_owned();
    e.wait_for(&format!("/api/v1/playbook-runs/{run_id}"), |v| v["tasks"].as_array().is_some_and(|t| !t.is_empty()))
        .await;
    let page = c.get(e.srv.url(&run_page)).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("data-poll=") && page.contains("name=\"out.__answer__\"") && page.contains("Confirm the block"),
        "{page}"
    );
    let task = page.split("action=\"/playbook-tasks/").nth(1).unwrap().split('/').next().unwrap().to_owned();
    let r = c
        .post(e.srv.url(&format!("/playbook-tasks/{task}/complete")))
        .form(&[("_csrf", csrf.as_str()), ("out.__answer__", "seen on the firewall")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    e.wait_for(&format!("/api/v1/playbook-runs/{run_id}"), |v| v["status"] == "completed").await;
    let page = c.get(e.srv.url(&run_page)).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("id=\"run-status\">completed")
            && page.contains("seen on the firewall")
            && !page.contains("data-poll="),
        "{page}"
    );
    assert_eq!(tool.calls("/block").len(), 1);
    let history = c.get(e.srv.url("/playbook-runs")).send().await.unwrap().text().await.unwrap();
    assert!(history.contains(&run_id));

    let r = c
        .post(e.srv.url("/automation"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("name", "Scanners"),
            ("trigger", "incident-created"),
            ("mode", "suggested"),
            ("playbook_id", id),
            ("severities", "high"),
            ("variables", "__incident__=incident.id"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = c.get(e.srv.url("/automation")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Scanners") && page.contains("incident.id"), "{page}");
}
