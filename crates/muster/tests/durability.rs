//! Nothing acknowledged is lost: batches are sent while the server is killed
//! with SIGKILL at a random moment; after a restart every acknowledged alert
//! is stored exactly once, and re-sending every batch (same idempotency keys)
//! completes the set without a single duplicate.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BATCHES: usize = 40;
const PER_BATCH: usize = 500;

fn muster(data: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_muster")).args(args).arg("--data").arg(data).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn start(data: &Path, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(data)
        .env_remove("MUSTER_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lines.next().unwrap().unwrap().starts_with("Muster is ready") {
        assert!(Instant::now() < deadline);
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

fn batches() -> Vec<String> {
    let sample = std::fs::read_to_string(
        muster_testkit::shared_data().join("samples/suricata-eve/elastic-beats/eve-metadata.log"),
    )
    .unwrap();
    let template = sample.lines().next().unwrap().to_owned();
    (0..BATCHES)
        .map(|b| {
            (0..PER_BATCH)
                .map(|i| template.replace("\"signature_id\":", &format!("\"signature_id\":{}{i:04}", b + 1)))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// Sends batch `i`; `Some(created)` when acknowledged, `None` when the server was gone.
async fn send(client: &reqwest::Client, port: u16, token: &str, i: usize, body: &str) -> Option<u64> {
    let r = client
        .post(format!("http://127.0.0.1:{port}/api/v1/alerts?format=eve"))
        .bearer_auth(token)
        .header("idempotency-key", format!("durability-{i}"))
        .body(body.to_owned())
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let v: serde_json::Value = r.json().await.ok()?;
    Some(v["created"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_during_intake_loses_no_acknowledged_alert_and_replays_add_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    muster(&data, &["org", "add", "soc-k", "--name", "SOC K", "--kind", "other"]);
    let pw = "durability password";
    let mut add = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["user", "add", "kim", "--org", "soc-k", "--role", "analyst", "--password-stdin", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(add.stdin.as_mut().unwrap(), pw.as_bytes()).unwrap();
    drop(add.stdin.take());
    assert!(add.wait().unwrap().success());
    let token = muster(&data, &["token", "create", "--user", "kim"]).trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bodies = batches();
    let client = reqwest::Client::new();

    let mut server = start(&data, port);
    // Kill at a moment that varies from run to run, somewhere inside the sending.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let kill_after = Duration::from_millis(200 + u64::from(nanos % 1500));
    let pid = server.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(kill_after);
        Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    });
    let mut acked = [false; BATCHES];
    let mut acked_created = 0;
    for (i, body) in bodies.iter().enumerate() {
        match send(&client, port, &token, i, body).await {
            Some(created) => {
                acked[i] = true;
                acked_created += created;
            }
            None => break,
        }
    }
    killer.join().unwrap();
    let _ = server.wait();
    let acknowledged = acked.iter().filter(|a| **a).count();
    assert!(
        acknowledged < BATCHES,
        "the kill came after everything was sent; nothing was tested (kill after {kill_after:?})"
    );

    // After the restart: every acknowledged alert is there, once.
    server = start(&data, port);
    let store = muster_store::Store::open(&muster_store::StoreOptions::sqlite(&data)).await.unwrap();
    let org = store.get_org_by_slug("soc-k").await.unwrap().id;
    let (rows, sightings) = store.alert_totals(org).await.unwrap();
    assert_eq!(acked_created, (acknowledged * PER_BATCH) as u64);
    assert!(rows as u64 >= acked_created, "acknowledged alerts lost: {rows} stored, {acked_created} acknowledged");
    assert!(
        rows as usize <= (acknowledged + 1) * PER_BATCH,
        "at most the batch in flight was committed unacknowledged"
    );
    assert_eq!(rows, sightings, "no alert was counted twice");

    // Re-send every batch with its key: acknowledged ones replay, the rest complete the set.
    for (i, body) in bodies.iter().enumerate() {
        let created = send(&client, port, &token, i, body).await.expect("server up");
        if acked[i] {
            assert_eq!(created, PER_BATCH as u64, "a replay answers what was answered before");
        }
    }
    let (rows, sightings) = store.alert_totals(org).await.unwrap();
    assert_eq!(rows as usize, BATCHES * PER_BATCH, "every alert exactly once");
    assert_eq!(sightings, rows, "no replay was counted as another sighting");
    server.kill().unwrap();
    let _ = server.wait();
}
