//! `muster playbook validate|run`, tested through the CLI module itself
//! (included by path until `main.rs` wires it; then these can call the binary).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../src/playbook.rs"]
mod playbook;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::{CommandFactory, Parser};
use playbook::PlaybookCommand;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: PlaybookCommand,
}

fn examples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/cacao/examples/soarca"))
}

async fn muster_playbook(args: &[&str]) -> (ExitCode, String) {
    let cli = Cli::try_parse_from(std::iter::once("playbook").chain(args.iter().copied())).unwrap();
    let buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let out: playbook::Output = buf.clone();
    let code = playbook::run_with_output(cli.command, out).await.unwrap();
    let text = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    (code, text)
}

#[tokio::test]
async fn validate_exits_zero_only_when_every_file_is_valid_and_locates_errors() {
    let good = examples().join("examples/http-playbook.json");
    let bad = examples().join("test-playbooks/missing_step_playbook.json");
    let (code, text) = muster_playbook(&["validate", good.to_str().unwrap()]).await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert!(text.contains("valid"), "{text}");
    let (code, text) = muster_playbook(&["validate", good.to_str().unwrap(), bad.to_str().unwrap()]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(text.contains("INVALID") && text.contains("/workflow/"), "errors carry their JSON path: {text}");
    let (code, text) = muster_playbook(&["validate", "/nonexistent/p.json"]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(text.contains("cannot read"), "{text}");
}

#[test]
fn each_subcommand_help_has_an_example() {
    let mut cmd = Cli::command();
    for sub in ["validate", "run"] {
        let help = cmd.find_subcommand_mut(sub).unwrap().render_long_help().to_string();
        assert!(help.contains("Example:\n  muster playbook"), "{sub}: {help}");
    }
}

/// A one-shot HTTP server on 127.0.0.1 answering every request with a JSON body; counts requests.
async fn tiny_server() -> (u16, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(Mutex::new(0usize));
    let counter = Arc::clone(&hits);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            *counter.lock().unwrap() += 1;
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let body = r#"{"verdict":"blocked"}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (port, hits)
}

fn write_playbook(dir: &Path, port: u16) -> PathBuf {
    let agent = "http-api--00000000-0000-4000-8000-0000000000a1";
    let doc = json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--00000000-0000-4000-8000-000000000001", "name": "block an address",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "playbook_variables": {"__ip__": {"type": "ipv4-addr", "external": true}, "__ok__": {"type": "bool"}},
        "workflow_start": "start--00000000-0000-4000-8000-000000000001",
        "workflow": {
            "start--00000000-0000-4000-8000-000000000001": {"type": "start", "on_completion": "action--00000000-0000-4000-8000-000000000002"},
            "action--00000000-0000-4000-8000-000000000002": {
                "type": "action", "name": "block", "agent": agent,
                "commands": [{"type": "http-api", "command": "POST /block?ip=__ip__:value HTTP/1.1"}],
                "on_success": "action--00000000-0000-4000-8000-000000000003"
            },
            "action--00000000-0000-4000-8000-000000000003": {
                "type": "action", "name": "confirm", "agent": agent, "out_args": ["__ok__"],
                "commands": [{"type": "manual", "command": "Confirm the block on the firewall"}],
                "on_success": "end--00000000-0000-4000-8000-000000000009"
            },
            "end--00000000-0000-4000-8000-000000000009": {"type": "end"}
        },
        "agent_definitions": {agent: {"type": "http-api", "name": "firewall", "address": {"ipv4": ["127.0.0.1"]}, "port": port.to_string()}}
    });
    let path = dir.join("block.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path
}

#[tokio::test]
async fn run_prints_one_execution_status_record_per_line_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let (port, hits) = tiny_server().await;
    let file = write_playbook(dir.path(), port);
    let (code, text) = muster_playbook(&[
        "run",
        file.to_str().unwrap(),
        "--var",
        "ip=203.0.113.9",
        "--allow-host",
        "127.0.0.1",
        "--answer",
        "action--00000000-0000-4000-8000-000000000003:ok=true",
        "--json",
    ])
    .await;
    assert_eq!(code, ExitCode::SUCCESS, "{text}");
    assert_eq!(*hits.lock().unwrap(), 1);
    let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(records.len(), 8, "ongoing + final for start, two actions, end: {text}");
    assert!(records.iter().all(|r| r["type"] == "execution-status"));
    assert_eq!(records.last().unwrap()["status"], "successfully_completed");
}

#[tokio::test]
async fn run_refuses_hosts_not_allowed_and_says_so_in_text_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (port, hits) = tiny_server().await;
    let file = write_playbook(dir.path(), port);
    let (code, text) = muster_playbook(&["run", file.to_str().unwrap(), "--var", "__ip__=203.0.113.9"]).await;
    assert_eq!(code, ExitCode::FAILURE);
    assert!(text.contains("▶ block") && text.contains("egress policy refused"), "{text}");
    assert!(text.contains("playbook playbook--00000000-0000-4000-8000-000000000001 failed"), "{text}");
    assert_eq!(*hits.lock().unwrap(), 0, "nothing was sent");
}

#[tokio::test]
async fn run_without_a_required_external_variable_is_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_playbook(dir.path(), 9);
    let (code, text) = muster_playbook(&["run", file.to_str().unwrap()]).await;
    assert_eq!(code, ExitCode::from(2));
    assert!(text.contains("__ip__") && text.contains("not run"), "{text}");
}
