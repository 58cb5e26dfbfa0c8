//! Incident search over HTTP: parameters, 400s naming the parameter, cursor
//! paging, visibility of other organisations' incidents, and the list page's
//! filter form, sort headers and next-page link.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{Backend, TestServer};
use muster_core::{Role, Tlp};
use muster_store::NewIncident;
use serde_json::Value;

async fn get(c: &reqwest::Client, s: &TestServer, token: &str, query: &str) -> (u16, Value) {
    let r = c.get(s.url(&format!("/api/v1/incidents{query}"))).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn titles(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_owned()).collect()
}

async fn seed(s: &TestServer, org: muster_core::OrgId, title: &str, severity: &str, tlp: Tlp) -> String {
    let new = NewIncident {
        title: title.into(),
        description: String::new(),
        severity: severity.into(),
        tlp,
        pap: "PAP:AMBER".into(),
        rsit_type: None,
        alert_ids: vec![],
    };
    s.store.create_incident(org, &new, "test").await.unwrap().id
}

async fn search_over_http(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |_| {}).await else { return };
    let a = s.org("search-a").await;
    let b = s.org("search-b").await;
    let ana = s.user("ana", a.id, Role::Analyst, "analyst password 1").await;
    let token = s.token(&ana, Role::Analyst).await;
    let c = reqwest::Client::new();
    let phish = seed(&s, a.id, "Phishing against payroll", "high", Tlp::Amber).await;
    let vpn = seed(&s, a.id, "VPN brute force", "low", Tlp::Amber).await;
    seed(&s, a.id, "Ransomware on file server", "critical", Tlp::Amber).await;
    seed(&s, b.id, "Bravo secret phishing", "high", Tlp::Amber).await;
    seed(&s, b.id, "Bravo shared phishing advisory", "medium", Tlp::Green).await;
    s.store
        .tamper_for_tests(&format!(
            "UPDATE incidents SET status = 'triage', assignee_id = '{}' WHERE id = '{phish}'",
            ana.id.uuid()
        ))
        .await;
    s.store.add_incident_note(&vpn, "ana", "Blocked 203.0.113.9 at the edge").await.unwrap();

    // Everything visible: own three and B's GREEN one, never B's AMBER one.
    let (st, all) = get(&c, &s, &token, "").await;
    assert_eq!(st, 200, "{all}");
    let got: BTreeSet<String> = titles(&all).into_iter().collect();
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(!got.contains("Bravo secret phishing"));
    assert!(all["next_cursor"].is_null());

    let (_, v) = get(&c, &s, &token, "?q=phishing").await;
    let got: BTreeSet<String> = titles(&v).into_iter().collect();
    assert_eq!(got, ["Phishing against payroll", "Bravo shared phishing advisory"].map(String::from).into());
    let (_, v) = get(&c, &s, &token, "?q=203.0.113.9").await;
    assert_eq!(titles(&v), ["VPN brute force"]);
    let (_, v) = get(&c, &s, &token, "?status=triage&assignee=me").await;
    assert_eq!(titles(&v), ["Phishing against payroll"]);
    let (_, v) = get(&c, &s, &token, "?severity=critical,low&sort=severity&order=desc").await;
    assert_eq!(titles(&v), ["Ransomware on file server", "VPN brute force"]);
    let (_, v) = get(&c, &s, &token, "?severity=critical&severity=low&sort=severity&order=asc").await;
    assert_eq!(titles(&v), ["VPN brute force", "Ransomware on file server"]);
    let (_, v) = get(&c, &s, &token, "?assignee=none&tlp=TLP:GREEN").await;
    assert_eq!(titles(&v), ["Bravo shared phishing advisory"]);
    let (_, v) = get(&c, &s, &token, "?q=&status=&observable=").await;
    assert_eq!(titles(&v).len(), 4, "blank parameters are absent");

    // Paging through everything by title, two at a time, sees each row once.
    let mut seen = Vec::new();
    let mut query = "?sort=title&order=asc&limit=2".to_owned();
    loop {
        let (st, v) = get(&c, &s, &token, &query).await;
        assert_eq!(st, 200, "{v}");
        seen.extend(titles(&v));
        match v["next_cursor"].as_str() {
            Some(cur) => query = format!("?sort=title&order=asc&limit=2&cursor={cur}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 4);

    // Bad parameters: 400 naming the parameter.
    let (_, first) = get(&c, &s, &token, "?limit=1").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (query, param) in [
        ("?status=opened", "status"),
        ("?severity=urgent", "severity"),
        ("?assignee=bob", "assignee"),
        ("?rsit_class=hacking", "rsit_class"),
        ("?rsit_type=hacking", "rsit_type"),
        ("?nis_root_cause=aliens", "nis_root_cause"),
        ("?tlp=TLP:PURPLE", "tlp"),
        ("?detected_from=yesterday", "detected_from"),
        ("?updated_to=2026-13-01T00:00:00Z", "updated_to"),
        ("?sort=colour", "sort"),
        ("?order=sideways", "order"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=garbage", "cursor"),
        (&format!("?limit=1&cursor={tampered}"), "cursor"),
        (&format!("?limit=1&sort=title&cursor={cursor}"), "cursor"),
        ("?colour=red", "colour"),
        ("?q=a&q=b", "q"),
    ] {
        let (st, v) = get(&c, &s, &token, query).await;
        assert_eq!(st, 400, "{query}: {v}");
        assert_eq!(v["error"]["code"], "bad_request", "{query}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(&format!("{param}:")), "{query}: {msg}");
    }
    let (st, v) = get(&c, &s, &token, &format!("?limit=1&cursor={cursor}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);

    // The list page: a bookmarkable filter, sort headers and a next-page link.
    let (session, _) = s.login("ana", "analyst password 1").await;
    let html = session.get(s.url("/incidents?q=phishing&status=triage")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Phishing against payroll"), "{html}");
    assert!(!html.contains("VPN brute force"));
    assert!(html.contains("id=\"sort-severity\""));
    assert!(html.contains("value=\"phishing\""), "the form keeps the search");
    let html =
        session.get(s.url("/incidents?limit=1&sort=title&order=asc")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"next-page\""), "{html}");
    let r = session.get(s.url("/incidents?severity=urgent")).send().await.unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn incident_search_over_http_on_sqlite() {
    search_over_http(Backend::Sqlite).await;
}

#[tokio::test]
async fn incident_search_over_http_on_postgres() {
    search_over_http(Backend::Postgres).await;
}
