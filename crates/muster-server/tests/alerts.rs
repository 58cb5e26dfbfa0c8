//! Alert intake over HTTP: real samples in, per-record rejections, dedup,
//! idempotent replays, backpressure without loss, and visibility.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;

use common::{Backend, TestServer};
use muster_core::Role;
use serde_json::Value;

fn sample(rel: &str) -> Vec<u8> {
    std::fs::read(muster_testkit::shared_data().join(rel)).unwrap()
}

async fn post(s: &TestServer, token: &str, query: &str, body: Vec<u8>, key: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(s.url(&format!("/api/v1/alerts{query}"))).bearer_auth(token).body(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn analyst(s: &TestServer, slug: &str) -> (muster_core::Organisation, String) {
    let org = s.org(slug).await;
    let u = s.user(&format!("{slug}-analyst"), org.id, Role::Analyst, "analyst password 1").await;
    let t = s.token(&u, Role::Analyst).await;
    (org, t)
}

async fn ingest_real_suricata_alerts_then_repeat_them(backend: Backend) {
    let Some(s) = TestServer::start_with(backend, |_| {}).await else { return };
    let (org, token) = analyst(&s, "soc-a").await;
    let eve = sample("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt");
    let (status, r) = post(&s, &token, "?format=eve", eve.clone(), None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["accepted"], 21, "{r}");
    assert_eq!(r["ignored"], 1, "the tls event is not an alert: {r}");
    assert_eq!(r["rejected"], serde_json::json!([]));
    let created = r["created"].as_u64().unwrap();
    assert_eq!(created + r["duplicates"].as_u64().unwrap(), 21);
    assert_eq!(s.store.count_alerts(org.id).await.unwrap() as u64, created);
    // The same alerts again, inside the dedup window: counts grow, no new rows.
    let (_, again) = post(&s, &token, "", eve, None).await;
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["duplicates"], 21);
    assert_eq!(s.store.count_alerts(org.id).await.unwrap() as u64, created);
    // The list shows them, with their RSIT classification and counts.
    let page: Value = reqwest::Client::new()
        .get(s.url("/api/v1/alerts?limit=500"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let alerts = page["alerts"].as_array().unwrap();
    assert_eq!(alerts.len() as u64, created);
    assert!(alerts.iter().all(|a| a["count"].as_i64().unwrap() >= 2));
    assert!(alerts.iter().all(|a| a["format"] == "eve" && a["rsit_type"].is_string()));
    let id = alerts[0]["id"].as_str().unwrap();
    let detail: Value = reqwest::Client::new()
        .get(s.url(&format!("/api/v1/alerts/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(detail["original"].as_str().unwrap().contains("\"event_type\":\"alert\""), "original kept: {detail}");
    assert!(detail["alert"]["observables"].as_array().is_some_and(|o| !o.is_empty()));
    // The whole alert: the summary columns (current after the repeats) joined with the stored document.
    let whole = &detail["alert"];
    for field in ["title", "severity", "fingerprint", "count", "tlp", "pap", "source"] {
        assert_eq!(whole[field], alerts[0][field], "{field}: {detail}");
    }
    assert!(whole["count"].as_i64().unwrap() >= 2 && whole["rsit"]["type"] == alerts[0]["rsit_type"], "{detail}");
}

#[tokio::test]
async fn real_suricata_alerts_are_ingested_and_repeats_fold_on_sqlite() {
    ingest_real_suricata_alerts_then_repeat_them(Backend::Sqlite).await;
}

#[tokio::test]
async fn real_suricata_alerts_are_ingested_and_repeats_fold_on_postgres() {
    ingest_real_suricata_alerts_then_repeat_them(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_records_are_rejected_one_by_one_and_the_rest_is_kept() {
    let s = TestServer::start().await;
    let (org, token) = analyst(&s, "soc-b").await;
    let eve = String::from_utf8(sample("samples/suricata-eve/elastic-beats/eve-metadata.log")).unwrap();
    let good = eve.lines().next().unwrap().to_owned();
    let mut body = Vec::new();
    body.extend_from_slice(good.as_bytes());
    body.push(b'\n');
    body.extend_from_slice(&good.as_bytes()[..good.len() / 2]); // truncated
    body.push(b'\n');
    body.extend_from_slice(b"{\"event_type\": \"alert\", \"alert\": 7}\n"); // wrong types
    body.extend_from_slice(&[0xff, 0xfe, b'\n']); // invalid UTF-8
    body.extend_from_slice(good.replace("\"alert\"", "\"alert\" ").as_bytes()); // still valid JSON, same alert
    body.push(b'\n');
    let (status, r) = post(&s, &token, "?format=eve", body, None).await;
    assert_eq!(status, 200, "{r}");
    let rejected = r["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3, "{r}");
    assert_eq!(rejected.iter().map(|x| x["line"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 3, 4]);
    assert!(rejected.iter().all(|x| x["reason"].as_str().unwrap().starts_with("line ")), "{r}");
    assert_eq!(r["accepted"], 2);
    assert_eq!(s.store.count_alerts(org.id).await.unwrap(), 1, "the two good copies fold into one alert");
    let (status, r) = post(&s, &token, "?format=nonsense", b"{}".to_vec(), None).await;
    assert_eq!(status, 422);
    assert!(r["error"]["message"].as_str().unwrap().contains("shadowserver"));
}

#[tokio::test]
async fn gzip_batches_and_json_arrays_are_accepted() {
    let s = TestServer::start().await;
    let (org, token) = analyst(&s, "soc-c").await;
    let lines = String::from_utf8(sample("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt")).unwrap();
    let array = format!("[{}]", lines.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(","));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(array.as_bytes()).unwrap();
    let (status, r) = post(&s, &token, "", gz.finish().unwrap(), None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["accepted"], 21, "{r}");
    assert!(s.store.count_alerts(org.id).await.unwrap() > 0);
}

#[tokio::test]
async fn a_resent_batch_with_the_same_idempotency_key_changes_nothing() {
    let s = TestServer::start().await;
    let (org, token) = analyst(&s, "soc-d").await;
    let eve = sample("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt");
    let (_, first) = post(&s, &token, "", eve.clone(), Some("batch-0001")).await;
    let (_, second) = post(&s, &token, "", eve, Some("batch-0001")).await;
    assert_eq!(second["replayed"], true);
    assert_eq!(first["created"], second["created"]);
    let rows = s.store.list_alerts(org.id, None, 500).await.unwrap();
    assert_eq!(rows.len() as u64, first["created"].as_u64().unwrap());
    let total: i64 = rows.iter().map(|r| r.count).sum();
    assert_eq!(total, 21, "the replay was not counted as more sightings");
}

#[tokio::test]
async fn when_intake_is_full_batches_get_503_and_nothing_acknowledged_is_lost() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.intake_concurrency = 1).await.unwrap();
    let (org, token) = analyst(&s, "soc-e").await;
    let template = String::from_utf8(sample("samples/suricata-eve/elastic-beats/eve-metadata.log")).unwrap();
    let template = template.lines().next().unwrap().to_owned();
    assert!(template.contains("\"signature_id\":"));
    // 8 batches of 2,000 distinct alerts (distinct signature ids), sent at once, retried on 503.
    let mut pending: Vec<(usize, Vec<u8>)> = (0..8)
        .map(|b| {
            let lines: Vec<String> = (0..2000)
                .map(|i| template.replace("\"signature_id\":", &format!("\"signature_id\":{}{i:05}", b + 1)))
                .collect();
            (b, lines.join("\n").into_bytes())
        })
        .collect();
    let (mut acknowledged, mut busy) = (0u64, 0);
    for _round in 0..100 {
        if pending.is_empty() {
            break;
        }
        let mut set = tokio::task::JoinSet::new();
        for (i, body) in pending.drain(..) {
            let (url, token) = (s.url("/api/v1/alerts?format=eve"), token.clone());
            set.spawn(async move {
                let r = reqwest::Client::new()
                    .post(url)
                    .bearer_auth(token)
                    .header("idempotency-key", format!("load-{i}"))
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let retry_after = r.headers().get("retry-after").is_some();
                (i, body, status, retry_after, r.json::<Value>().await.unwrap())
            });
        }
        while let Some(done) = set.join_next().await {
            let (i, body, status, retry_after, r) = done.unwrap();
            match status {
                200 => acknowledged += r["created"].as_u64().unwrap() + r["duplicates"].as_u64().unwrap(),
                503 => {
                    assert!(retry_after, "503 carries Retry-After");
                    busy += 1;
                    pending.push((i, body));
                }
                other => panic!("batch {i}: {other} {r}"),
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(pending.is_empty(), "every batch was eventually accepted");
    assert!(busy > 0, "with one intake slot, concurrent batches were turned away");
    assert_eq!(acknowledged, 16_000);
    assert_eq!(s.store.count_alerts(org.id).await.unwrap(), 16_000, "every acknowledged alert is stored, once");
}

#[tokio::test]
async fn another_organisation_sees_none_of_our_amber_alerts() {
    let s = TestServer::start().await;
    let (_, token_a) = analyst(&s, "soc-f").await;
    let (_, token_b) = analyst(&s, "soc-g").await;
    let (_, r) =
        post(&s, &token_a, "", sample("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt"), None).await;
    assert!(r["created"].as_u64().unwrap() > 0);
    let c = reqwest::Client::new();
    let mine: Value = c.get(s.url("/api/v1/alerts")).bearer_auth(&token_a).send().await.unwrap().json().await.unwrap();
    let id = mine["alerts"][0]["id"].as_str().unwrap();
    assert_eq!(mine["alerts"][0]["tlp"], "TLP:AMBER");
    let theirs: Value =
        c.get(s.url("/api/v1/alerts")).bearer_auth(&token_b).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs["alerts"], serde_json::json!([]));
    assert_eq!(c.get(s.url(&format!("/api/v1/alerts/{id}"))).bearer_auth(&token_b).send().await.unwrap().status(), 404);
    // Observers may read but not submit.
    let org = s.org("soc-h").await;
    let obs = s.user("obs-h", org.id, Role::Observer, "observer password").await;
    let t = s.token(&obs, Role::Observer).await;
    assert_eq!(post(&s, &t, "", b"[]".to_vec(), None).await.0, 403);
}

/// Reads the event stream until `want` appears in it or `wait` passes.
async fn read_events(resp: &mut reqwest::Response, want: &str, wait: std::time::Duration) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !seen.contains(want) {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            _ => break,
        }
    }
    seen
}

#[tokio::test]
async fn the_live_queue_hears_its_own_organisations_commits_only() {
    let s = TestServer::start().await;
    let (_, token_a) = analyst(&s, "live-a").await;
    let (_, token_b) = analyst(&s, "live-b").await;
    let c = reqwest::Client::new();
    let mut stream_a = c.get(s.url("/api/v1/alerts/events")).bearer_auth(&token_a).send().await.unwrap();
    let mut stream_b = c.get(s.url("/api/v1/alerts/events")).bearer_auth(&token_b).send().await.unwrap();
    assert_eq!(stream_a.status(), 200);
    assert!(stream_a.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let (_, r) =
        post(&s, &token_a, "", sample("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt"), None).await;
    let created = r["created"].as_u64().unwrap();
    let heard = read_events(&mut stream_a, "\n\n", std::time::Duration::from_secs(10)).await;
    assert!(heard.contains("event: alerts"), "{heard}");
    assert!(heard.contains(&format!("\"created\":{created}")), "{heard}");
    let other = read_events(&mut stream_b, "event: alerts", std::time::Duration::from_millis(800)).await;
    assert!(!other.contains("event: alerts"), "organisation B heard A's alerts: {other}");
}

#[tokio::test]
async fn an_alert_exported_as_intelmq_comes_back_as_the_same_alert() {
    let s = TestServer::start().await;
    let (org_a, token_a) = analyst(&s, "imq-a").await;
    let (org_b, token_b) = analyst(&s, "imq-b").await;
    let (_, r) =
        post(&s, &token_a, "?format=eve", sample("samples/suricata-eve/elastic-beats/eve-metadata.log"), None).await;
    assert_eq!(r["created"], 1);
    let c = reqwest::Client::new();
    let row = s.store.list_alerts(org_a.id, None, 1).await.unwrap().remove(0);
    let event: Value = c
        .get(s.url(&format!("/api/v1/alerts/{}/intelmq", row.id)))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(event["classification.taxonomy"], "intrusion-attempts", "{event}");
    assert!(event["source.ip"].is_string() && event["feed.name"].is_string(), "{event}");
    // Another organisation cannot export it...
    let r = c.get(s.url(&format!("/api/v1/alerts/{}/intelmq", row.id))).bearer_auth(&token_b).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // ...but can import the event it was sent, and gets the same alert content
    // (the fingerprint differs: it includes the format the alert arrived in).
    let (status, r) = post(&s, &token_b, "?format=intelmq", event.to_string().into_bytes(), None).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["created"], 1, "{r}");
    let imported = s.store.list_alerts(org_b.id, None, 1).await.unwrap().remove(0);
    assert_eq!(imported.format, "intelmq");
    assert_eq!((&imported.title, &imported.rsit_type, &imported.severity), (&row.title, &row.rsit_type, &row.severity));
}
