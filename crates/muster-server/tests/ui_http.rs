//! UI behaviour checked over plain HTTP (the browser tests cover the flows).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use muster_core::Role;

#[tokio::test]
async fn anonymous_pages_redirect_to_login_and_unknown_pages_are_html_404() {
    let s = TestServer::start().await;
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for page in ["/", "/alerts", "/admin/users", "/admin/audit", "/account/password"] {
        let r = c.get(s.url(page)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{page}");
        assert_eq!(r.headers()["location"], "/login", "{page}");
    }
    let r = c.get(s.url("/no/such/page")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("<html"));
    let r = c.get(s.url("/api/v1/no/such/route")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("\"not_found\""));
}

#[tokio::test]
async fn refused_user_form_keeps_what_was_typed_and_says_why() {
    let s = TestServer::start().await;
    let org = s.org("org-a").await;
    s.user("boss", org.id, Role::Admin, "boss password 12").await;
    s.user("taken", org.id, Role::Analyst, "taken password 1").await;
    let (c, csrf) = s.login("boss", "boss password 12").await;
    let r = c
        .post(s.url("/admin/users"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("username", "taken"),
            ("display_name", "Second Taken"),
            ("email", ""),
            ("role", "observer"),
            ("organisation_id", &org.id.to_string()),
            ("password", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let page = r.text().await.unwrap();
    assert!(page.contains("already exists"), "says why");
    assert!(page.contains("value=\"Second Taken\""), "keeps the name typed");
    assert!(page.contains("<option selected>observer</option>"), "keeps the role chosen");
    assert!(!page.contains("a long enough password"), "never echoes the password");
}

#[tokio::test]
async fn static_assets_revalidate_with_an_etag_and_pages_carry_security_headers() {
    let s = TestServer::start().await;
    let c = reqwest::Client::new();
    let r = c.get(s.url("/static/app.js")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = c.get(s.url("/static/app.js")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), 304);
    let r = c.get(s.url("/login")).send().await.unwrap();
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
}

#[tokio::test]
async fn secure_cookies_setting_marks_the_session_cookie_secure() {
    let s = TestServer::start_with(common::Backend::Sqlite, |c| c.secure_cookies = true).await.unwrap();
    let r = reqwest::get(s.url("/login")).await.unwrap();
    assert!(r.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
}

#[tokio::test]
async fn the_alert_queue_lists_ingested_alerts() {
    let s = TestServer::start().await;
    let org = s.org("org-q").await;
    let u = s.user("queue", org.id, Role::Analyst, "queue password 12").await;
    let token = s.token(&u, Role::Analyst).await;
    let (c, _) = s.login("queue", "queue password 12").await;
    assert!(c.get(s.url("/alerts")).send().await.unwrap().text().await.unwrap().contains("id=\"no-alerts\""));
    let eve = std::fs::read(muster_testkit::shared_data().join("samples/suricata-eve/elastic-beats/eve-metadata.log"))
        .unwrap();
    let r = reqwest::Client::new().post(s.url("/api/v1/alerts")).bearer_auth(&token).body(eve).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = c.get(s.url("/alerts")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"alerts\"") && page.contains("TLP:AMBER") && page.contains("suricata"), "{page}");
}

#[tokio::test]
async fn an_admin_disables_and_enables_a_user_from_the_users_page() {
    let s = TestServer::start().await;
    let org = s.org("org-d").await;
    s.user("chief", org.id, Role::Admin, "chief password 12").await;
    let victim = s.user("worker", org.id, Role::Analyst, "worker password 1").await;
    let token = s.token(&victim, Role::Analyst).await;
    let (c, csrf) = s.login("chief", "chief password 12").await;
    let disable = s.url(&format!("/admin/users/{}/disable", victim.id));
    let r = c.post(&disable).form(&[("_csrf", csrf.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert!(s.store.get_user(victim.id).await.unwrap().disabled);
    let me = reqwest::Client::new().get(s.url("/api/v1/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 401, "a disabled user's token stops working");
    let r = c
        .post(s.url(&format!("/admin/users/{}/enable", victim.id)))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(!s.store.get_user(victim.id).await.unwrap().disabled);
    let r = c
        .post(s.url(&format!("/admin/users/{}/explode", victim.id)))
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // Admins of another organisation cannot touch this account.
    let other = s.org("org-e").await;
    s.user("rival", other.id, Role::Admin, "rival password 12").await;
    let (c2, csrf2) = s.login("rival", "rival password 12").await;
    let r = c2.post(&disable).form(&[("_csrf", csrf2.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(!s.store.get_user(victim.id).await.unwrap().disabled);
}

#[tokio::test]
async fn an_analyst_triages_alerts_into_an_incident_and_closes_it_through_the_pages() {
    let s = TestServer::start().await;
    let org = s.org("org-t").await;
    let u = s.user("tri", org.id, Role::Analyst, "triage password 1").await;
    let token = s.token(&u, Role::Analyst).await;
    let eve =
        std::fs::read(muster_testkit::shared_data().join("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt"))
            .unwrap();
    reqwest::Client::new().post(s.url("/api/v1/alerts")).bearer_auth(&token).body(eve).send().await.unwrap();
    let (c, csrf) = s.login("tri", "triage password 1").await;
    let page = c.get(s.url("/alerts")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"alert_ids\""));
    let ids: Vec<String> = s.store.list_alerts(org.id, None, 2).await.unwrap().into_iter().map(|a| a.id).collect();
    let mut form =
        vec![("_csrf", csrf.clone()), ("title", "Scanning from 203.0.113.0/24".into()), ("severity", "high".into())];
    form.extend(ids.iter().map(|i| ("alert_ids", i.clone())));
    let r = c.post(s.url("/incidents")).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let at = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(at.starts_with("/incidents/incident--"), "{at}");
    let page = c.get(s.url(&at)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"incident-status\">new<") && page.contains(&ids[0]), "{page}");
    // Closing without a resolution is refused on the page, with the reason.
    let r = c
        .post(s.url(&format!("{at}/status")))
        .form(&[("_csrf", csrf.as_str()), ("status", "closed"), ("resolution", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("resolution"));
    for (status, resolution) in [("contained", ""), ("closed", "true-positive")] {
        let r = c
            .post(s.url(&format!("{at}/status")))
            .form(&[("_csrf", csrf.as_str()), ("status", status), ("resolution", resolution)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{status}");
    }
    let r = c
        .post(s.url(&format!("{at}/timeline")))
        .form(&[("_csrf", csrf.as_str()), ("text", "Blocked at the perimeter.")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let page = c.get(s.url(&at)).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains("id=\"incident-status\">closed<")
            && page.contains("true-positive")
            && page.contains("Blocked at the perimeter."),
        "{page}"
    );
    let list = c.get(s.url("/incidents")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("Scanning from 203.0.113.0/24"));
}
