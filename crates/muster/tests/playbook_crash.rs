//! A playbook run survives a SIGKILL of the server: after the restart, a run
//! waiting for an analyst resumes (its task still open, the step before it
//! not run again) and completes; a run whose HTTP command was in flight is
//! marked interrupted, and its command is not sent a second time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

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
        .env("MUSTER_PLAYBOOK_ALLOW_HOSTS", "127.0.0.1")
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

/// The security tool: counts requests per path; `/slow` answers after a minute.
#[derive(Clone, Default)]
struct Tool(Arc<Mutex<Vec<String>>>);

impl Tool {
    fn count(&self, path: &str) -> usize {
        self.0.lock().unwrap().iter().filter(|p| *p == path).count()
    }
}

async fn tool() -> (u16, Tool) {
    let seen = Tool::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let s = s.clone();
        async move {
            s.0.lock().unwrap().push(uri.path().to_owned());
            if uri.path() == "/slow" {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, seen)
}

fn sid(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

fn http_step(path: &str, next: &str) -> Value {
    json!({"type": "action", "agent": sid("http-api", 100), "on_success": next,
           "commands": [{"type": "http-api", "command": format!("POST {path} HTTP/1.1")}]})
}

/// start → the given steps (the first is action 2) → end 9.
fn playbook(id: &str, port: u16, steps: Vec<(String, Value)>) -> Value {
    let mut workflow: serde_json::Map<String, Value> = steps.into_iter().collect();
    workflow.insert(sid("start", 1), json!({"type": "start", "on_completion": sid("action", 2)}));
    workflow.insert(sid("end", 9), json!({"type": "end"}));
    json!({
        "type": "playbook", "spec_version": "cacao-2.0", "id": id, "name": id,
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "workflow_start": sid("start", 1), "workflow": workflow,
        "playbook_variables": {"__answer__": {"type": "string", "value": ""}},
        "agent_definitions": { sid("http-api", 100): {"type": "http-api", "name": "tool", "address": {"ipv4": ["127.0.0.1"]}, "port": port.to_string()} }
    })
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r =
            self.client.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(&body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
    async fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.get(path).await;
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out on {path}: {v:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_server_resumes_waiting_runs_and_never_repeats_a_completed_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    muster(&data, &["org", "add", "soc-p", "--name", "SOC P", "--kind", "other"]);
    let mut add = Command::new(env!("CARGO_BIN_EXE_muster"))
        .args(["user", "add", "cleo", "--org", "soc-p", "--role", "coordinator", "--password-stdin", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(add.stdin.as_mut().unwrap(), b"crash test password").unwrap();
    drop(add.stdin.take());
    assert!(add.wait().unwrap().success());
    let token = muster(&data, &["token", "create", "--user", "cleo"]).trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (tool_port, tool) = tool().await;
    let api = Api { client: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}"), token };

    let mut server = start(&data, port);
    let manual_id = "playbook--00000000-0000-4000-8000-00000000c001";
    let manual = playbook(
        manual_id,
        tool_port,
        vec![
            (sid("action", 2), http_step("/first", &sid("action", 3))),
            (
                sid("action", 3),
                json!({"type": "action", "agent": sid("http-api", 100), "on_success": sid("action", 4), "out_args": ["__answer__"],
                                  "commands": [{"type": "manual", "command": "Confirm"}]}),
            ),
            (sid("action", 4), http_step("/second", &sid("end", 9))),
        ],
    );
    let slow_id = "playbook--00000000-0000-4000-8000-00000000c002";
    let slow = playbook(slow_id, tool_port, vec![(sid("action", 2), http_step("/slow", &sid("end", 9)))]);
    for doc in [&manual, &slow] {
        let (s, v) = api.post("/api/v1/playbooks", doc.clone()).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, run) = api.post(&format!("/api/v1/playbooks/{manual_id}/runs"), json!({})).await;
    assert_eq!(s, 201, "{run}");
    let manual_run = format!("/api/v1/playbook-runs/{}", run["id"].as_str().unwrap());
    let (_, run) = api.post(&format!("/api/v1/playbooks/{slow_id}/runs"), json!({})).await;
    let slow_run = format!("/api/v1/playbook-runs/{}", run["id"].as_str().unwrap());
    let before = api.wait_for(&manual_run, |v| v["tasks"].as_array().is_some_and(|t| !t.is_empty())).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tool.count("/slow") == 0 {
        assert!(Instant::now() < deadline, "the slow command never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(tool.count("/first"), 1);

    Command::new("kill").args(["-9", &server.id().to_string()]).status().unwrap();
    let _ = server.wait();
    server = start(&data, port);

    // The waiting run resumed with the same task; answering it finishes the run.
    let task = before["tasks"][0]["id"].as_str().unwrap().to_owned();
    let after = api.get(&manual_run).await;
    assert_eq!(after["status"], "running", "{after:#}");
    assert_eq!(after["tasks"][0]["id"], json!(task));
    assert_eq!(after["tasks"][0]["status"], "open");
    let (s, v) =
        api.post(&format!("/api/v1/playbook-tasks/{task}/complete"), json!({"out_args": {"__answer__": "ok"}})).await;
    assert_eq!(s, 200, "{v}");
    let done = api.wait_for(&manual_run, |v| v["status"] != "running").await;
    assert_eq!(done["status"], "completed", "{done:#}");
    assert_eq!(tool.count("/first"), 1, "a step whose record says completed ran again");
    assert_eq!(tool.count("/second"), 1);

    // The run whose command was in flight is marked interrupted, not retried, not lost.
    let slow_done = api.wait_for(&slow_run, |v| v["status"] != "running").await;
    assert_eq!(slow_done["status"], "interrupted", "{slow_done:#}");
    assert_eq!(tool.count("/slow"), 1);

    server.kill().unwrap();
    let _ = server.wait();
}
