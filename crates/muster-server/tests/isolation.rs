//! Tenant isolation: every API route that returns objects, walked from the
//! OpenAPI document, shows a user of organisation B none of organisation A's
//! AMBER, AMBER+STRICT or RED objects — through a session and through a token,
//! on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer};
use muster_core::{Role, Tlp};
use muster_store::{NewCircle, NewOrganisation};
use serde_json::Value;

struct Secrets {
    /// Strings that must never reach organisation B.
    needles: Vec<String>,
    /// Ids of A's objects to substitute into `{id}` path parameters.
    ids: Vec<String>,
}

async fn seed_org_a(s: &TestServer) -> Secrets {
    let new = NewOrganisation {
        slug: "alpha".into(),
        name: "Alpha Hidden CSIRT".into(),
        kind: muster_core::OrgKind::NationalCsirt,
        country: None,
        sectors: vec![],
        client_of: None,
        tlp: Tlp::Amber,
    };
    let a = s.store.create_org(&new, false).await.unwrap();
    let partner = s.org("alpha-partner").await;
    let admin = s.user("alpha-admin", a.id, Role::Admin, "alpha admin password").await;
    let analyst = s.user("alpha-analyst", a.id, Role::Analyst, "alpha analyst password").await;
    let _ = s.token(&admin, Role::Admin).await;
    let _ = s.token(&analyst, Role::Analyst).await;
    let amber = s
        .store
        .create_circle(
            a.id,
            &NewCircle {
                name: "alpha-amber-circle".into(),
                description: "x".into(),
                members: vec![partner.id],
                tlp: Tlp::Amber,
            },
        )
        .await
        .unwrap();
    let red = s
        .store
        .create_circle(
            a.id,
            &NewCircle { name: "alpha-red-circle".into(), description: "x".into(), members: vec![], tlp: Tlp::Red },
        )
        .await
        .unwrap();
    // A's own activity in the audit log.
    let t = s.token(&admin, Role::Admin).await;
    let c = reqwest::Client::new();
    let r = c
        .post(s.url("/api/v1/tokens"))
        .bearer_auth(&t)
        .json(&serde_json::json!({"name": "alpha-siem"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // An AMBER alert of A, through the real intake.
    let eve = std::fs::read(muster_testkit::shared_data().join("samples/suricata-eve/elastic-beats/eve-metadata.log"))
        .unwrap();
    let r: serde_json::Value = c
        .post(s.url("/api/v1/alerts?format=eve"))
        .bearer_auth(&t)
        .body(eve)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["created"], 1, "{r}");
    let alert = s.store.list_alerts(a.id, None, 1).await.unwrap().remove(0);
    assert_eq!(alert.tlp, Tlp::Amber);
    let inc: serde_json::Value = c
        .post(s.url("/api/v1/incidents"))
        .bearer_auth(&t)
        .json(&serde_json::json!({"title": "alpha secret incident", "severity": "high", "alert_ids": [alert.id]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let incident_id = inc["id"].as_str().unwrap().to_owned();
    // A's work on it: a task, a comment, an observable, an attachment, and a template of A.
    let post = |path: String, body: serde_json::Value| {
        let req = c.post(s.url(&path)).bearer_auth(&t).json(&body);
        async move {
            let r = req.send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let task =
        post(format!("/api/v1/incidents/{incident_id}/tasks"), serde_json::json!({"title": "alpha secret task"})).await;
    let comment =
        post(format!("/api/v1/incidents/{incident_id}/comments"), serde_json::json!({"text": "alpha secret comment"}))
            .await;
    let observable = post(
        format!("/api/v1/incidents/{incident_id}/observables"),
        serde_json::json!({"kind": "domain", "value": "alpha-secret.example"}),
    )
    .await;
    let template = post(
        "/api/v1/incident-templates".into(),
        serde_json::json!({"name": "alpha secret template", "severity": "low", "tasks": [{"title": "alpha template task"}]}),
    )
    .await;
    let r = c
        .post(s.url(&format!("/api/v1/incidents/{incident_id}/attachments?filename=alpha-secret.txt")))
        .bearer_auth(&t)
        .body("alpha secret evidence")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let attachment: serde_json::Value = r.json().await.unwrap();
    let work_ids: Vec<String> = [&task, &comment, &observable, &template, &attachment]
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    let playbook_ids = seed_playbooks(s, &c, &t, &incident_id).await;
    let tokens = s.store.list_tokens(a.id).await.unwrap();
    let mut ids = vec![
        a.id.to_string(),
        admin.id.to_string(),
        analyst.id.to_string(),
        amber.id.to_string(),
        red.id.to_string(),
        alert.id.clone(),
        incident_id,
    ];
    ids.extend(playbook_ids);
    ids.extend(tokens.iter().map(|t| t.id.to_string()));
    ids.extend(work_ids);
    let mut needles = ids.clone();
    needles.extend(ids.iter().filter_map(|i| i.split_once("--").map(|(_, u)| u.to_owned())));
    needles.push(alert.fingerprint.clone());
    needles.push(alert.title.clone());
    needles.push("alpha secret incident".into());
    needles.push("alpha secret playbook".into());
    needles.push("alpha secret task".into());
    needles.extend(
        [
            "alpha secret task",
            "alpha secret comment",
            "alpha-secret.example",
            "alpha secret template",
            "alpha template task",
            "alpha-secret.txt",
            "alpha secret evidence",
        ]
        .map(String::from),
    );
    needles.push(attachment["sha256"].as_str().unwrap().to_owned());
    needles.extend(
        ["Alpha Hidden CSIRT", "alpha-admin", "alpha-analyst", "alpha-amber-circle", "alpha-red-circle", "alpha-siem"]
            .map(String::from),
    );
    Secrets { needles, ids }
}

/// A's playbook, a run waiting on its manual task, a rule and the run it proposes.
async fn seed_playbooks(s: &TestServer, c: &reqwest::Client, t: &str, incident: &str) -> Vec<String> {
    let pb_id = "playbook--00000000-0000-4000-8000-0000000a1fa0";
    let step = |k: &str, n: u32| format!("{k}--00000000-0000-4000-8000-{n:012}");
    let doc = serde_json::json!({
        "type": "playbook", "spec_version": "cacao-2.0", "id": pb_id, "name": "alpha secret playbook",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "workflow_start": step("start", 1),
        "workflow": {
            step("start", 1): {"type": "start", "on_completion": step("action", 2)},
            step("action", 2): {"type": "action", "agent": step("http-api", 100), "on_success": step("end", 9),
                "commands": [{"type": "manual", "command": "alpha secret task"}]},
            step("end", 9): {"type": "end"}
        },
        "playbook_variables": {"__incident__": {"type": "string", "external": true, "value": ""}},
        "agent_definitions": {step("http-api", 100): {"type": "http-api", "name": "alpha tool", "address": {"dname": ["example.invalid"]}}}
    });
    let post = |path: &str, body: serde_json::Value| {
        let req = c.post(s.url(path)).bearer_auth(t).json(&body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            let v: serde_json::Value = r.json().await.unwrap();
            assert!(status.is_success(), "{v}");
            v
        }
    };
    post("/api/v1/playbooks", doc).await;
    let rule = post(
        "/api/v1/automation-rules",
        serde_json::json!({"name": "alpha rule", "trigger": "incident-updated",
        "playbook_id": pb_id, "mode": "suggested", "variables": {"__incident__": "incident.id"}}),
    )
    .await;
    post(&format!("/api/v1/incidents/{incident}/status"), serde_json::json!({"status": "triage"})).await;
    let run = post(&format!("/api/v1/playbooks/{pb_id}/runs"), serde_json::json!({"incident_id": incident})).await;
    let run_id = run["id"].as_str().unwrap().to_owned();
    let org = s.store.get_org_by_slug("alpha").await.unwrap().id;
    let mut task = None;
    let mut proposal = None;
    for _ in 0..200 {
        task = s.store.tasks_of_run(&run_id).await.unwrap().first().map(|t| t.id.clone());
        proposal = s.store.list_proposals(org, None).await.unwrap().first().map(|p| p.id.clone());
        if task.is_some() && proposal.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    vec![pb_id.to_owned(), run_id, rule["id"].as_str().unwrap().to_owned(), task.unwrap(), proposal.unwrap()]
}

/// Every GET path of the API, from its own OpenAPI document.
async fn get_paths(s: &TestServer) -> Vec<String> {
    let doc: Value = reqwest::get(s.url("/api/v1/openapi.json")).await.unwrap().json().await.unwrap();
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, item)| item.get("get").is_some())
        .map(|(p, _)| p.clone())
        .collect()
}

fn expand(path: &str, ids: &[String]) -> Vec<String> {
    if !path.contains('{') {
        return vec![path.to_owned()];
    }
    ids.iter()
        .map(|id| {
            let mut out = String::new();
            let mut rest = path;
            while let Some(start) = rest.find('{') {
                out.push_str(&rest[..start]);
                let end = rest[start..].find('}').unwrap() + start;
                out.push_str(id);
                rest = &rest[end + 1..];
            }
            out.push_str(rest);
            out
        })
        .collect()
}

async fn assert_isolated(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |_| {}).await else { return };
    let secrets = seed_org_a(&s).await;
    let b = s.org("bravo").await;
    // B's admin: the most powerful role B has. Roles must not widen visibility.
    let b_admin = s.user("bravo-admin", b.id, Role::Admin, "bravo admin password").await;
    let token = s.token(&b_admin, Role::Admin).await;
    let (session, _) = s.login("bravo-admin", "bravo admin password").await;
    let bearer = reqwest::Client::new();

    let paths = get_paths(&s).await;
    assert!(paths.len() >= 8, "the walk must cover the API: {paths:?}");
    let mut checked = 0;
    for path in &paths {
        for url in expand(path, &secrets.ids) {
            for (how, resp) in [
                ("token", bearer.get(s.url(&url)).bearer_auth(&token).send().await.unwrap()),
                ("session", session.get(s.url(&url)).send().await.unwrap()),
            ] {
                let status = resp.status();
                let body = common::body_text(resp).await;
                assert!(!status.is_server_error(), "{how} GET {url}: {status} {body}");
                if path.contains('{') {
                    assert!(!status.is_success(), "{how} GET {url} exposed A's object: {body}");
                }
                // A 404 may echo the id the caller sent; that tells them nothing new.
                for n in secrets.needles.iter().filter(|n| !url.contains(n.as_str())) {
                    assert!(!body.contains(n.as_str()), "{how} GET {url} leaked {n:?}: {body}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "only {checked} requests made");

    // The operator admin, in contrast, administers A's accounts: the walk can fail.
    let op = s.store.get_user_for_login("admin").await.unwrap().user;
    let op_token = s.token(&op, Role::Admin).await;
    let users = bearer.get(s.url("/api/v1/users")).bearer_auth(&op_token).send().await.unwrap().text().await.unwrap();
    assert!(users.contains("alpha-admin"));
}

#[tokio::test]
async fn org_b_sees_none_of_org_a_amber_or_red_objects_on_sqlite() {
    assert_isolated(Backend::Sqlite).await;
}

#[tokio::test]
async fn org_b_sees_none_of_org_a_amber_or_red_objects_on_postgres() {
    assert_isolated(Backend::Postgres).await;
}
