//! `LocalHost`: bash runner policy, manual steps without an analyst, and the
//! emitted records checked against the CACAO execution-status JSON schema
//! (loaded in place from `shared/data/cacao/execution-status`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod runner_env;

use std::collections::BTreeMap;
use std::time::Duration;

use jsonschema::{Draft, Retrieve, Uri};
use muster_cacao::RunStatus;
use muster_cacao::engine::ExecutionStatus;
use muster_cacao::runners::{MUSTER_EXTENSION, RunnerConfig};
use runner_env::*;
use serde_json::{Value, json};

fn bash(cmd: &str) -> Value {
    json!({"type": "bash", "command": cmd})
}

fn enabled() -> RunnerConfig {
    let mut c = RunnerConfig::default();
    c.bash.enabled = true;
    c
}

fn bash_playbook(cmd: &str, vars: Value) -> muster_cacao::Playbook {
    let mut s = step(bash(cmd), &id("end", 9));
    s["out_args"] = json!(["__bash_stdout__"]);
    let mut all = json!({"__bash_stdout__": declare("string")});
    all.as_object_mut().unwrap().extend(vars.as_object().unwrap().clone());
    playbook(vec![(id("action", 2), s)], json!({"agent_definitions": agent(1, None), "playbook_variables": all}))
}

#[tokio::test]
async fn bash_is_refused_unless_enabled_in_the_runner_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("ran");
    let pb = bash_playbook(&format!("touch {}", marker.display()), json!({}));
    let (out, records) = run_with(RunnerConfig::default(), &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    let text = records.last_of(&id("action", 2)).status_text.unwrap();
    assert!(text.contains("bash commands are disabled"), "{text}");
    assert!(!marker.exists());
}

#[tokio::test]
async fn bash_variables_are_passed_as_data_never_as_code() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("pwned");
    let evil = format!("x; touch {} $(touch {}) `touch {}`", marker.display(), marker.display(), marker.display());
    let pb = bash_playbook(
        "printf '%s|' __v__:value \"in double __v__:value\" 'in single __v__:value'",
        json!({"__v__": {"type": "string", "value": evil}}),
    );
    let (out, records) = run_with(enabled(), &pb).await;
    assert_eq!(out.status, RunStatus::Completed, "{:?}", records.all());
    assert!(!marker.exists(), "a variable value ran as code");
    assert_eq!(var(&out, "__bash_stdout__"), json!(format!("{evil}|in double {evil}|in single {evil}|")));
    let rec = records.last_of(&id("action", 2));
    assert_eq!(rec.status, ExecutionStatus::SuccessfullyCompleted);
}

#[tokio::test]
async fn bash_output_is_capped_and_a_slow_command_times_out() {
    let mut config = enabled();
    config.bash.max_output_bytes = 10;
    let (out, _) = run_with(config, &bash_playbook("yes | head -c 100000", json!({}))).await;
    assert_eq!(var(&out, "__bash_stdout__").as_str().unwrap().len(), 10);

    let mut config = enabled();
    config.bash.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let (out, records) = run_with(config, &bash_playbook("sleep 20", json!({}))).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(out.status, RunStatus::Failed(_)));
    assert_eq!(records.last_of(&id("action", 2)).status, ExecutionStatus::TimeoutError);
}

#[tokio::test]
async fn a_failing_bash_command_fails_its_step_with_its_exit_status() {
    let (out, records) = run_with(enabled(), &bash_playbook("echo nope >&2; exit 3", json!({}))).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    let text = records.last_of(&id("action", 2)).status_text.unwrap();
    assert!(text.contains("status 3") && text.contains("nope"), "{text}");
}

fn manual_playbook() -> muster_cacao::Playbook {
    let mut s = step(json!({"type": "manual", "command": "Call the data owner and confirm the block"}), &id("end", 9));
    s["out_args"] = json!(["__confirmed__"]);
    playbook(
        vec![(id("action", 2), s)],
        json!({"agent_definitions": agent(1, None), "playbook_variables": {"__confirmed__": declare("bool")}}),
    )
}

#[tokio::test]
async fn a_manual_step_is_answered_from_the_provided_map() {
    let answers = [(id("action", 2), [("__confirmed__".to_owned(), json!("true"))].into_iter().collect())];
    let (out, records) =
        run_full(RunnerConfig::default(), &manual_playbook(), BTreeMap::new(), answers.into_iter().collect()).await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(var(&out, "__confirmed__"), json!("true"));
    assert!(!records.last_of(&id("action", 2)).automated_execution);
}

#[tokio::test]
async fn an_unanswered_manual_step_fails_and_says_how_to_answer_it() {
    let (out, records) = run_with(RunnerConfig::default(), &manual_playbook()).await;
    assert!(matches!(out.status, RunStatus::Failed(_)));
    let text = records.last_of(&id("action", 2)).status_text.unwrap();
    assert!(text.contains("not interactive") && text.contains("--answer"), "{text}");
}

const CSD01: &str = "https://raw.githubusercontent.com/cyentific-rni/cacao-json-schemas/cacao-v2.0-csd01/schemas/";

/// Maps the schema's absolute csd01 URLs onto the local CACAO schemas, and
/// tolerates its bad `"$ref": "integer"` (read as `{"type": "integer"}`).
struct Local;

impl Retrieve for Local {
    fn retrieve(&self, uri: &Uri<&str>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let s = uri.as_str();
        if s.ends_with("/integer") {
            return Ok(json!({"type": "integer"}));
        }
        let rel = s.strip_prefix(CSD01).ok_or_else(|| format!("no local copy of {s}"))?;
        let path = common::cacao_data().join("schemas").join(rel.split('#').next().unwrap_or(rel));
        Ok(serde_json::from_slice(&std::fs::read(path)?)?)
    }
}

#[tokio::test]
async fn every_emitted_record_validates_against_the_execution_status_schema() {
    let server = start().await;
    let schema: Value = serde_json::from_slice(
        &std::fs::read(common::cacao_data().join("execution-status/execution-status.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options().with_draft(Draft::Draft7).with_retriever(Local).build(&schema).unwrap();

    // Success, failure (refused by the egress policy) and a manual step, so every record kind appears.
    let mut ok = step(http("GET /api/item HTTP/1.1"), &id("action", 3));
    ok["out_args"] = json!(["__ip__"]);
    ok["step_extensions"] = json!({ MUSTER_EXTENSION: {"out_args": {"__ip__": "$.data.ip"}} });
    let mut refused = step(http("GET http://169.254.169.254/ HTTP/1.1"), &id("end", 9));
    refused["on_failure"] = json!(id("action", 4));
    let manual = step(json!({"type": "manual", "command": "check"}), &id("end", 9));
    let pb = playbook(
        vec![(id("action", 2), ok), (id("action", 3), refused), (id("action", 4), manual)],
        json!({"agent_definitions": agent(server.port(), None),
               "extension_definitions": { MUSTER_EXTENSION: {"type": "extension-definition", "name": "m",
                   "created_by": "identity--00000000-0000-4000-8000-0000000000ff", "schema": "https://example.invalid/s", "version": "1"}},
               "playbook_variables": {"__ip__": declare("ipv4-addr")}}),
    );
    let (_, records) = run_with(allow_local(), &pb).await;
    let lines = records.lines();
    assert!(lines.len() >= 8, "{lines:#?}");
    let statuses: Vec<ExecutionStatus> = records.all().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&ExecutionStatus::ClientSideError) && statuses.contains(&ExecutionStatus::Failed));
    for line in lines {
        let doc: Value = serde_json::from_str(&line).unwrap();
        let errors: Vec<String> =
            validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{line}\n{errors:#?}");
    }
}
