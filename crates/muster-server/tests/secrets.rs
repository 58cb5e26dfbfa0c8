//! Secrets never leave: no response, log line, audit entry or stored byte
//! contains a password, an API token, a token's hash or a session id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::TestServer;
use muster_core::Role;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_response_log_or_audit_entry_contains_a_secret() {
    let logs = Captured::default();
    let sink = logs.clone();
    tracing_subscriber::fmt()
        // Everything the server side logs, at the most verbose level; the test's own
        // HTTP client (which handles the cookies it is given) is not the server.
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,reqwest=off,cookie_store=off,hyper_util::client=off",
        ))
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .init();

    let s = TestServer::start().await;
    let mut secrets: Vec<String> = vec![s.admin_password.clone()];
    let mut responses = String::new();

    // The admin's first login with the one-time password, then a password change through the UI.
    let (c, csrf) = s.login("admin", &s.admin_password.clone()).await;
    let new_admin_pw = "a brand new admin password".to_owned();
    secrets.push(new_admin_pw.clone());
    let r = c
        .post(s.url("/account/password"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("current_password", &s.admin_password),
            ("new_password", &new_admin_pw),
            ("confirm_password", &new_admin_pw),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    for v in r.headers().get_all("set-cookie") {
        if let Some(id) = v.to_str().unwrap().strip_prefix("muster_session=") {
            let id = id.split(';').next().unwrap().to_owned();
            if !id.is_empty() {
                secrets.push(id);
            }
        }
    }

    let admin = s.store.get_user_for_login("admin").await.unwrap().user;
    let token = s.token(&admin, Role::Admin).await;
    secrets.push(token.clone());
    let api = reqwest::Client::new();
    let org: Value = api
        .post(s.url("/api/v1/organisations"))
        .bearer_auth(&token)
        .json(&json!({"slug": "org-s", "name": "Secretive", "kind": "agency"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_pw = "the users initial password".to_owned();
    secrets.push(user_pw.clone());
    let r = api
        .post(s.url("/api/v1/users"))
        .bearer_auth(&token)
        .json(&json!({"username": "sam", "display_name": "Sam", "role": "admin", "organisation_id": org["id"], "password": user_pw}))
        .send()
        .await
        .unwrap();
    responses.push_str(&r.text().await.unwrap());
    // A token minted over the API: its secret is in that one response only.
    let created: Value = api
        .post(s.url("/api/v1/tokens"))
        .bearer_auth(&token)
        .json(&json!({"name": "siem"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let minted = created["token"].as_str().unwrap().to_owned();
    assert!(minted.starts_with("mst_"));
    secrets.push(minted.clone());
    // A failed login with a password-like string, and a login of sam.
    let wrong = "a wrong password attempt".to_owned();
    secrets.push(wrong.clone());
    let anon =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = anon.get(s.url("/login")).send().await.unwrap().text().await.unwrap();
    let lcsrf = common::extract_csrf(&page);
    let r = anon
        .post(s.url("/login"))
        .form(&[("username", "sam"), ("password", wrong.as_str()), ("_csrf", &lcsrf)])
        .send()
        .await
        .unwrap();
    responses.push_str(&r.text().await.unwrap());
    let _ = s.login("sam", &user_pw).await;

    // Every readable API route, as the operator admin, with the minted token too.
    let doc: Value = api.get(s.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_some() && !path.contains('{') {
            for t in [&token, &minted] {
                responses.push_str(&common::body_text(api.get(s.url(path)).bearer_auth(t).send().await.unwrap()).await);
            }
        }
    }
    for page in ["/", "/admin/users", "/admin/tokens", "/admin/audit", "/admin/organisations", "/admin/circles"] {
        responses.push_str(&c.get(s.url(page)).send().await.unwrap().text().await.unwrap());
    }
    let audit = serde_json::to_string(&s.store.list_audit(None, None, 1000).await.unwrap()).unwrap();
    assert!(audit.contains("token.create") && audit.contains("user.create") && audit.contains("session.login"));

    // Stored forms of the secrets must not travel either.
    let mut forbidden = secrets.clone();
    forbidden.extend(secrets.iter().map(|t| hex::encode(Sha256::digest(t.as_bytes()))));
    for u in ["admin", "sam"] {
        forbidden.push(s.store.get_user_for_login(u).await.unwrap().password_hash.unwrap());
    }
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("failed login"), "logging was captured");
    for secret in &forbidden {
        assert!(!responses.contains(secret.as_str()), "a response contains {secret:?}");
        if let Some(i) = logs.find(secret.as_str()) {
            panic!("the log contains {secret:?}: {}", &logs[i.saturating_sub(300)..(i + 100).min(logs.len())]);
        }
        assert!(!audit.contains(secret.as_str()), "the audit log contains {secret:?}");
    }

    // The database file holds hashes only: no plaintext password or token.
    s.store.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(s.data_dir()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap_or_default());
    }
    let db = String::from_utf8_lossy(&bytes);
    assert!(db.contains("Secretive"), "the store was read");
    for secret in &secrets {
        assert!(!db.contains(secret.as_str()), "the database stores {secret:?} in plain text");
    }
}
