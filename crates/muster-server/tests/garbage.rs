//! Bad input: garbage posted to every route of the API (walked from the
//! OpenAPI document) and to every UI form gets a 4xx with a clear message —
//! never a 5xx, never a panic — and leaves nothing behind.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer};
use muster_core::Role;
use serde_json::Value;

const LIMIT: usize = 64 * 1024;

fn bodies() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        ("malformed", b"{\"name\": ".to_vec(), "application/json"),
        (
            "wrong types",
            b"{\"name\": [1, 2], \"role\": 7, \"members\": \"x\", \"slug\": {}}".to_vec(),
            "application/json",
        ),
        ("unknown field", b"{\"name\": \"n\", \"surprise\": true}".to_vec(), "application/json"),
        ("array", b"[1,2,3]".to_vec(), "application/json"),
        ("invalid utf-8", vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'], "application/json"),
        ("deep nesting", deep.into_bytes(), "application/json"),
        ("oversize", vec![b'x'; LIMIT + 1], "application/json"),
        ("not json", b"<xml/>".to_vec(), "text/plain"),
        ("empty", Vec::new(), "application/json"),
    ]
}

fn bad_ids() -> [&'static str; 4] {
    ["not-an-id", "org--zzz", "%00", "00000000-0000-0000-0000-000000000000"]
}

#[tokio::test]
async fn garbage_to_every_api_route_gets_a_clear_4xx() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.max_body_bytes = LIMIT).await.unwrap();
    let op = s.store.get_user_for_login("admin").await.unwrap().user;
    let token = s.token(&op, Role::Admin).await;
    let c = reqwest::Client::new();
    let doc: Value = c.get(s.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    let orgs_before = s.store.count_orgs().await.unwrap();
    let users_before = s.store.count_users().await.unwrap();
    let mut sent = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            for id in bad_ids() {
                let url = s.url(&path.replace("{id}", id).replace("{org}", id));
                let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                for (what, body, ctype) in bodies() {
                    let resp = c
                        .request(m.clone(), &url)
                        .bearer_auth(&token)
                        .header("content-type", ctype)
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    let status = resp.status();
                    let text = common::body_text(resp).await;
                    sent += 1;
                    if status.is_success() {
                        // Alert intake answers a batch with per-record rejections; nothing may be stored.
                        if path == "/api/v1/alerts" && method == "post" {
                            let r: Value = serde_json::from_str(&text).unwrap();
                            assert_eq!(r["created"], 0, "{what}: {text}");
                            continue;
                        }
                        // Otherwise only routes that take no body and no id may succeed: lists, and logout.
                        assert!(
                            !path.contains('{') && (method == "get" || path.ends_with("/session")),
                            "{what} {method} {url} succeeded: {text}"
                        );
                        continue;
                    }
                    assert!(status.is_client_error(), "{what} {method} {url}: {status} {text}");
                    let err: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|_| panic!("{what} {method} {url}: not JSON: {text}"));
                    let msg = err["error"]["message"].as_str().unwrap_or_default();
                    assert!(!msg.is_empty() && err["error"]["code"].is_string(), "{what} {method} {url}: {text}");
                }
            }
        }
    }
    assert!(sent > 500, "{sent}");
    assert_eq!(s.store.count_orgs().await.unwrap(), orgs_before, "nothing created");
    assert_eq!(s.store.count_users().await.unwrap(), users_before, "nothing created");
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().status(), 200, "still alive");
}

#[tokio::test]
async fn malformed_json_names_the_problem_and_where() {
    let s = TestServer::start().await;
    let op = s.store.get_user_for_login("admin").await.unwrap().user;
    let token = s.token(&op, Role::Admin).await;
    let c = reqwest::Client::new();
    let r = c
        .post(s.url("/api/v1/organisations"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"slug\": \"x1\",\n \"name\": \"X\",\n \"kind\": \"csirt-ish\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let text = r.text().await.unwrap();
    assert!(text.contains("kind") && text.contains("national-csirt") && text.contains("line 3"), "{text}");
    let r = c
        .post(s.url("/api/v1/organisations"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"slug\": \"x2\", \"name\": \"X\", \"kind\": \"agency\", \"colour\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("colour"));
    let r = c.get(s.url("/api/v1/users/user--nope")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("invalid user id"));
}

#[tokio::test]
async fn garbage_forms_to_every_ui_post_route_get_4xx() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.max_body_bytes = LIMIT).await.unwrap();
    let org = s.org("org-a").await;
    s.user("ui-admin", org.id, Role::Admin, "ui admin password").await;
    let (c, csrf) = s.login("ui-admin", "ui admin password").await;
    let routes = [
        "/switch-org",
        "/account/password",
        "/admin/organisations",
        "/admin/users",
        "/admin/users/not-an-id/disable",
        "/admin/users/not-an-id/enable",
        "/admin/users/not-an-id/password",
        "/admin/tokens",
        "/admin/tokens/not-an-id/revoke",
        "/admin/circles",
        "/incidents",
        "/incidents/not-an-id/status",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/timeline",
        "/incidents/bulk",
        "/incidents/not-an-id/edit",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/edit",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/tasks",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/tasks/task--x",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/comments",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/observables",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/observables/observable--x",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/attachments",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/alerts",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/alerts/alert--x/unlink",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/merge",
        "/incidents/incident--00000000-0000-0000-0000-000000000000/template",
        "/incident-templates",
        "/login",
        "/playbooks",
        "/playbooks/not-an-id/runs",
        "/playbooks/not-an-id/archive",
        "/playbook-runs/not-an-id/cancel",
        "/playbook-tasks/not-an-id/complete",
        "/automation",
        "/automation/not-an-id/enabled",
        "/automation-proposals/not-an-id/start",
        "/automation-proposals/not-an-id/dismiss",
    ];
    let forms: Vec<(&str, Vec<u8>)> = vec![
        ("no fields", Vec::new()),
        ("only csrf", format!("_csrf={csrf}").into_bytes()),
        (
            "bad values",
            format!("_csrf={csrf}&role=god&kind=x&organisation_id=zz&members=q&name=&tlp=TLP:PURPLE").into_bytes(),
        ),
        ("invalid utf-8", [b"_csrf=".as_slice(), csrf.as_bytes(), b"&name=\xff\xfe"].concat()),
        ("oversize", [format!("_csrf={csrf}&name=").into_bytes(), vec![b'a'; LIMIT]].concat()),
    ];
    for route in routes {
        for (what, body) in &forms {
            let r = c
                .post(s.url(route))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status();
            assert!(status.is_client_error(), "{what} POST {route}: {status} {}", r.text().await.unwrap_or_default());
        }
    }
    assert_eq!(s.store.count_orgs().await.unwrap(), 2, "operator + org-a only");
    assert_eq!(s.store.list_circles().await.unwrap().len(), 0);
}
