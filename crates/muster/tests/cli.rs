//! The `muster` binary as an operator uses it: a real process, a real data
//! directory, the real HTTP port.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn muster(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("MUSTER_DATABASE_URL")
        .output()
        .unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    url: String,
    stdout: Vec<String>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `muster serve` in `dir` (as the working directory, with no flags
/// but `--listen` unless `data` is given) and waits for its "ready" line.
fn serve(dir: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_muster"))
        .current_dir(dir)
        .args(["serve", "--listen", &listen])
        .args(extra)
        .env_remove("MUSTER_DATABASE_URL")
        .env_remove("MUSTER_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines.next().expect("server exited before it was ready").unwrap();
        stdout.push(line.clone());
        if line.starts_with("Muster is ready at ") {
            break;
        }
        assert!(Instant::now() < deadline, "not ready in time: {stdout:?}");
    }
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, url: format!("http://{listen}"), stdout }
}

/// A blocking GET (the test itself is synchronous, like an operator's shell).
fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn serve_without_configuration_creates_its_store_answers_and_keeps_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let first = serve(dir.path(), &["--demo"]);
    assert!(dir.path().join("muster-data/muster.db").exists(), "store created in ./muster-data");
    let printed = first.stdout.join("\n");
    assert!(printed.contains("First start: created the platform admin."), "{printed}");
    assert!(printed.contains("alice"), "demo users printed: {printed}");
    assert!(!printed.to_lowercase().contains("password: admin"), "no default password");
    assert_eq!(get(&format!("{}/healthz", first.url), None), (200, "ok".to_owned()));
    assert_eq!(get(&format!("{}/readyz", first.url), None).0, 200);
    drop(first);

    let token = muster(&dir.path().join("muster-data"), &["token", "create", "--user", "alice", "--name", "t"]);
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8(token.stdout).unwrap();
    assert_eq!(token.lines().count(), 1, "stdout holds only the token: {token:?}");
    let token = token.trim();
    assert!(token.starts_with("mst_"));

    let second = serve(dir.path(), &[]);
    let printed = second.stdout.join("\n");
    assert!(!printed.contains("First start"), "no second bootstrap: {printed}");
    let (status, me) = get(&format!("{}/api/v1/me", second.url), Some(token));
    assert_eq!(status, 200, "{me}");
    assert!(me.contains("\"username\":\"alice\""), "{me}");
    let (_, orgs) = get(&format!("{}/api/v1/organisations", second.url), Some(token));
    assert!(orgs.contains("cert-de") && orgs.contains("gridco"), "demo data survived: {orgs}");
    let (_, alerts) = get(&format!("{}/api/v1/alerts", second.url), Some(token));
    assert!(alerts.contains("DEMO Possible SSH brute force attempt"), "the demo has alerts: {alerts}");
}

#[test]
fn audit_verify_passes_then_detects_an_edited_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert!(
        muster(&data, &["org", "add", "cert-at", "--name", "CERT AT", "--kind", "national-csirt", "--country", "AT"])
            .status
            .success()
    );
    assert!(muster(&data, &["user", "add", "anna", "--org", "cert-at", "--role", "analyst"]).status.success());
    let ok = muster(&data, &["audit", "verify"]);
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact: 2 entries"));
    // Edit an entry behind Muster's back.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = muster_store::Store::open(&muster_store::StoreOptions::sqlite(&data)).await.unwrap();
        store.tamper_for_tests("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1").await;
        store.close().await;
    });
    let bad = muster(&data, &["audit", "verify"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stdout).contains("entry 1"), "{}", String::from_utf8_lossy(&bad.stdout));
}

#[test]
fn backup_and_restore_round_trip_and_refuse_a_bad_backup() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    assert!(
        muster(&data, &["org", "add", "cert-be", "--name", "CERT BE", "--kind", "national-csirt"]).status.success()
    );
    let backup = dir.path().join("b.db");
    let out = muster(&data, &["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!muster(&data, &["backup", backup.to_str().unwrap()]).status.success(), "never overwrites");
    assert!(muster(&data, &["org", "add", "after", "--name", "After", "--kind", "other"]).status.success());
    assert!(muster(&data, &["restore", backup.to_str().unwrap()]).status.success());
    let list = String::from_utf8(muster(&data, &["org", "list"]).stdout).unwrap();
    assert!(list.contains("cert-be") && !list.contains("after"), "{list}");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database").unwrap();
    let out = muster(&data, &["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8(muster(&data, &["org", "list"]).stdout).unwrap().contains("cert-be"), "store untouched");
}

#[test]
fn bad_arguments_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = muster(dir.path(), &["org", "add", "x1", "--name", "X", "--kind", "csirt"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("national-csirt"));
    let out = muster(dir.path(), &["user", "add", "bob", "--org", "missing", "--role", "analyst"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
    for cmd in [
        &["serve", "--help"][..],
        &["token", "create", "--help"],
        &["backup", "--help"],
        &["audit", "verify", "--help"],
    ] {
        let help = Command::new(env!("CARGO_BIN_EXE_muster")).args(cmd).output().unwrap();
        assert!(String::from_utf8_lossy(&help.stdout).contains("Example"), "{cmd:?} --help has an example");
    }
}

#[test]
fn ingest_against_a_running_server_stores_alerts_for_the_tokens_organisation() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--demo"]);
    let data = dir.path().join("muster-data");
    let token = String::from_utf8(muster(&data, &["token", "create", "--user", "alice"]).stdout).unwrap();
    let eve = muster_testkit::shared_data().join("samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt");
    let out = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["ingest", "--server", &server.url, "--token", token.trim(), eve.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("read 22, created "), "{stdout}");
    let (status, alerts) = get(&format!("{}/api/v1/alerts", server.url), Some(token.trim()));
    assert_eq!(status, 200);
    assert!(alerts.contains("\"source\":\"suricata\""), "{alerts}");
    let bad = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["ingest", "--server", &server.url, "--token", "mst_wrong", eve.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("401"));
}

#[test]
fn playbook_validate_gives_the_readme_verdicts_on_soarca_examples() {
    let ex = muster_testkit::shared_data().join("cacao/examples/soarca");
    let run = |files: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_muster"))
            .args(["playbook", "validate"])
            .args(files.iter().map(|f| ex.join(f)))
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let valid = ["examples/http-playbook.json", "examples/ssh-playbook.json", "test-playbooks/parallels_playbook.json"];
    assert_eq!(run(&valid).0, Some(0));
    let (code, out) = run(&["test-playbooks/missing_step_playbook.json"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("/on_completion") && out.contains("end--6b23c237-ade8-4d00-9aa1-75999738d558"), "{out}");
    let (code, out) = run(&["examples/http-playbook.json", "test-playbooks/infinite_playbook.json"]);
    assert_eq!(code, Some(1), "one invalid file fails the whole command: {out}");
}
