//! The REST API through the real HTTP server on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestServer};
use muster_core::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn get_json(c: &reqwest::Client, url: &str, token: &str) -> (StatusCode, Value) {
    let r = c.get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

#[tokio::test]
async fn health_ready_and_openapi_are_public() {
    let s = TestServer::start().await;
    let c = client();
    assert_eq!(c.get(s.url("/healthz")).send().await.unwrap().text().await.unwrap(), "ok");
    assert_eq!(c.get(s.url("/readyz")).send().await.unwrap().status(), 200);
    let doc: Value = c.get(s.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/organisations"]["get"].is_object());
    let page = c.get(s.url("/api/docs")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/api/v1/trust-circles/{id}/members/{org}"));
}

#[tokio::test]
async fn api_requires_authentication_and_rejects_bad_tokens() {
    let s = TestServer::start().await;
    let c = client();
    let r = c.get(s.url("/api/v1/organisations")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    let (status, _) = get_json(&c, &s.url("/api/v1/me"), "mst_not-a-token").await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn revoked_and_expired_tokens_stop_working() {
    let s = TestServer::start().await;
    let org = s.org("org-a").await;
    let u = s.user("alice", org.id, Role::Analyst, "alice password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let c = client();
    let (status, me) = get_json(&c, &s.url("/api/v1/me"), &token).await;
    assert_eq!(status, 200);
    assert_eq!(me["username"], "alice");
    assert_eq!(me["authenticated_by"], "token");
    let list: Value = c.get(s.url("/api/v1/tokens")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let id = list[0]["id"].as_str().unwrap().to_owned();
    let r = c.delete(s.url(&format!("/api/v1/tokens/{id}"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get_json(&c, &s.url("/api/v1/me"), &token).await.0, 401);
}

#[tokio::test]
async fn a_token_never_exceeds_its_users_role() {
    let s = TestServer::start().await;
    let org = s.org("org-a").await;
    let u = s.user("obs", org.id, Role::Observer, "observer password").await;
    let token = s.token(&u, Role::Observer).await;
    let c = client();
    let r = c
        .post(s.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&json!({"name": "x", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .json(&json!({"username": "eve", "display_name": "Eve", "role": "admin", "password": "long enough pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A token minted as admin for a user who is now only an analyst acts as analyst.
    let admin_user = s.user("adm", org.id, Role::Analyst, "analyst password").await;
    let over = s.token(&admin_user, Role::Admin).await;
    let (_, me) = get_json(&c, &s.url("/api/v1/me"), &over).await;
    assert_eq!(me["role"], "analyst");
}

#[tokio::test]
async fn admin_creates_users_only_in_their_own_organisation() {
    let s = TestServer::start().await;
    let a = s.org("org-a").await;
    let b = s.org("org-b").await;
    let admin_a = s.user("admin-a", a.id, Role::Admin, "admin a password").await;
    let t = s.token(&admin_a, Role::Admin).await;
    let c = client();
    let new = |org: &str| json!({"username": format!("u-{}", &org[5..13]), "display_name": "U", "role": "analyst", "organisation_id": org, "password": "long enough pass"});
    let r = c.post(s.url("/api/v1/users")).bearer_auth(&t).json(&new(&a.id.to_string())).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["organisation_id"], a.id.to_string());
    assert!(created.get("password").is_none() && created.get("password_hash").is_none());
    let r = c.post(s.url("/api/v1/users")).bearer_auth(&t).json(&new(&b.id.to_string())).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(s.store.list_users(Some(b.id)).await.unwrap().len(), 0);
}

#[tokio::test]
async fn cookie_session_writes_need_the_csrf_header() {
    let s = TestServer::start().await;
    let org = s.org("org-a").await;
    s.user("carol", org.id, Role::Admin, "carol password 1").await;
    let (c, csrf) = s.login("carol", "carol password 1").await;
    let body = json!({"name": "from-browser"});
    let r = c.post(s.url("/api/v1/tokens")).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = c.post(s.url("/api/v1/tokens")).header("x-csrf-token", "wrong").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = c.post(s.url("/api/v1/tokens")).header("x-csrf-token", &csrf).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    // UI forms without the token are refused too.
    let r = c
        .post(s.url("/admin/tokens"))
        .form(&[("name", "x"), ("role", "analyst"), ("_csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_with_retry_after() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.login_max_failures = 3).await.unwrap();
    let org = s.org("org-a").await;
    s.user("dave", org.id, Role::Analyst, "dave password 12").await;
    let c = reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let page = c.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
        let csrf = common::extract_csrf(&page);
        let r = c
            .post(s.url("/login"))
            .form(&[("username", "dave"), ("password", "wrong"), ("_csrf", &csrf)])
            .send()
            .await
            .unwrap();
        statuses.push((r.status().as_u16(), r.headers().get("retry-after").is_some()));
    }
    assert_eq!(statuses, vec![(401, false), (401, false), (401, false), (429, true)]);
    // Even the right password is refused while locked out.
    let page = c.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    let csrf = common::extract_csrf(&page);
    let r = c
        .post(s.url("/login"))
        .form(&[("username", "dave"), ("password", "dave password 12"), ("_csrf", &csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn login_form_without_its_csrf_cookie_is_refused() {
    let s = TestServer::start().await;
    let r = client()
        .post(s.url("/login"))
        .form(&[("username", "admin"), ("password", s.admin_password.as_str()), ("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("set-cookie").is_none_or(|v| !v.to_str().unwrap().starts_with("muster_session=")));
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    let s = TestServer::start().await;
    let c = client();
    for _ in 0..3 {
        c.get(s.url("/api/v1/organisations/org--00000000-0000-0000-0000-000000000000")).send().await.unwrap();
    }
    let text = c.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("muster_http_requests_total") && l.contains("route=\"/api/v1/organisations/{id}\""))
        .unwrap_or_else(|| panic!("no counter line in:\n{text}"));
    assert!(line.ends_with(" 3"), "{line}");
    assert!(text.contains("muster_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn audit_log_records_actions_and_verifies() {
    let s = TestServer::start().await;
    let org = s.org("org-a").await;
    let admin = s.store.get_user_for_login("admin").await.unwrap().user;
    let token = s.token(&admin, Role::Admin).await;
    let c = client();
    let r = c.post(s.url("/api/v1/tokens")).bearer_auth(&token).json(&json!({"name": "audited"})).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let (status, entries) = get_json(&c, &s.url("/api/v1/audit?limit=10"), &token).await;
    assert_eq!(status, 200);
    assert!(entries.as_array().unwrap().iter().any(|e| e["action"] == "token.create"));
    let (_, verdict) = get_json(&c, &s.url("/api/v1/audit/verify"), &token).await;
    assert_eq!(verdict["problems"], json!([]));
    // A non-operator admin may not verify the whole platform's log.
    let other = s.user("admin-a", org.id, Role::Admin, "admin a password").await;
    let t2 = s.token(&other, Role::Admin).await;
    assert_eq!(get_json(&c, &s.url("/api/v1/audit/verify"), &t2).await.0, 403);
    let (_, theirs) = get_json(&c, &s.url("/api/v1/audit"), &t2).await;
    assert_eq!(theirs, json!([]), "an org admin sees only their organisation's entries");
}

#[tokio::test]
async fn trust_circle_members_see_it_and_others_do_not() {
    let s = TestServer::start().await;
    let a = s.org("org-a").await;
    let b = s.org("org-b").await;
    let outsider = s.org("org-c").await;
    let coord = s.user("coord", a.id, Role::Coordinator, "coordinator pass").await;
    let tb = s.token(&s.user("bee", b.id, Role::Analyst, "bee password 12").await, Role::Analyst).await;
    let tc = s.token(&s.user("sea", outsider.id, Role::Admin, "sea password 12").await, Role::Admin).await;
    let ta = s.token(&coord, Role::Coordinator).await;
    let c = client();
    let r = c
        .post(s.url("/api/v1/trust-circles"))
        .bearer_auth(&ta)
        .json(&json!({"name": "energy", "members": [b.id.to_string()]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let circle: Value = r.json().await.unwrap();
    let id = circle["id"].as_str().unwrap();
    assert_eq!(circle["tlp"], "TLP:AMBER");
    assert_eq!(get_json(&c, &s.url(&format!("/api/v1/trust-circles/{id}")), &tb).await.0, 200);
    assert_eq!(get_json(&c, &s.url(&format!("/api/v1/trust-circles/{id}")), &tc).await.0, 404);
    assert_eq!(get_json(&c, &s.url("/api/v1/trust-circles"), &tc).await.1, json!([]));
    // Unknown members are refused with the field named, and nothing is created.
    let r = c
        .post(s.url("/api/v1/trust-circles"))
        .bearer_auth(&ta)
        .json(&json!({"name": "bad", "members": ["org--00000000-0000-0000-0000-000000000001"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("members"));
    assert_eq!(s.store.list_circles().await.unwrap().len(), 1);
}
