//! An in-memory `Host` and a playbook builder for the engine tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use muster_cacao::Playbook;
use muster_cacao::engine::{
    CommandFailure, CommandOutput, CommandRequest, ExecutionRecord, FailureKind, Host, HostError,
};
use serde_json::{Value, json};

/// Scripted commands:
/// `fail` fails; `sleep:MS` waits; `set:NAME=VALUE` returns an output;
/// `never` never completes; anything else succeeds.
#[derive(Default)]
pub struct MemoryHost {
    pub commands: Mutex<Vec<String>>,
    pub records: Mutex<Vec<ExecutionRecord>>,
    pub library: Mutex<BTreeMap<String, Playbook>>,
    /// Fail `persist` once this many records have been stored (simulated crash).
    pub crash_after: Mutex<Option<usize>>,
    pub manual_answers: Mutex<BTreeMap<String, Value>>,
}

impl MemoryHost {
    pub fn commands(&self) -> Vec<String> {
        self.commands.lock().unwrap().clone()
    }
    pub fn records(&self) -> Vec<ExecutionRecord> {
        self.records.lock().unwrap().clone()
    }
    async fn script(&self, request: &CommandRequest) -> Result<CommandOutput, CommandFailure> {
        let text = request.command.command.clone().unwrap_or_default();
        self.commands.lock().unwrap().push(text.clone());
        if text == "fail" {
            return Err(CommandFailure { kind: FailureKind::ServerSideError, message: "scripted failure".into() });
        }
        if text == "never" {
            std::future::pending::<()>().await;
        }
        if let Some(ms) = text.strip_prefix("sleep:") {
            tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
        }
        let mut out = CommandOutput::default();
        if let Some(assign) = text.strip_prefix("set:") {
            let (name, value) = assign.split_once('=').unwrap();
            out.variables.insert(name.to_owned(), json!(value));
        }
        Ok(out)
    }
}

impl Host for MemoryHost {
    async fn run_command(&self, request: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        self.script(&request).await
    }

    async fn manual_task(&self, request: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        let answers = self.manual_answers.lock().unwrap().clone();
        if answers.is_empty() {
            return self.script(&request).await;
        }
        self.commands.lock().unwrap().push(request.command.command.clone().unwrap_or_default());
        Ok(CommandOutput { variables: answers.into_iter().collect() })
    }

    async fn persist(&self, record: &ExecutionRecord) -> Result<(), HostError> {
        let mut records = self.records.lock().unwrap();
        if let Some(limit) = *self.crash_after.lock().unwrap()
            && records.len() >= limit
        {
            return Err(HostError("disk gone".into()));
        }
        records.push(record.clone());
        Ok(())
    }

    async fn load_playbook(&self, id: &str, _version: Option<&str>) -> Option<Playbook> {
        self.library.lock().unwrap().get(id).cloned()
    }
}

/// A step id: `id("action", 2)` is `action--00000000-0000-4000-8000-000000000002`.
pub fn id(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

pub const AGENT: &str = "individual--00000000-0000-4000-8000-0000000000aa";

/// An action step running `commands` (automated `bash` unless the text starts with `manual:`).
pub fn action(commands: &[&str], next: &str) -> Value {
    let cmds: Vec<Value> = commands
        .iter()
        .map(|c| match c.strip_prefix("manual:") {
            Some(m) => json!({"type": "manual", "command": m}),
            None => json!({"type": "bash", "command": c}),
        })
        .collect();
    json!({"type": "action", "agent": AGENT, "commands": cmds, "on_completion": next})
}

/// A playbook with `steps`, starting at `start--…1`, with `vars` as playbook variables.
pub fn playbook(n: u32, vars: Value, steps: Value) -> Playbook {
    let mut workflow = steps.as_object().unwrap().clone();
    if !workflow.contains_key(&id("start", 1)) {
        workflow.insert(id("start", 1), json!({"type": "start", "on_completion": id("action", 2)}));
    }
    let doc = json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": format!("playbook--00000000-0000-4000-8000-{n:012}"), "name": "test",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "playbook_variables": vars,
        "workflow_start": id("start", 1),
        "workflow": workflow,
        "agent_definitions": {AGENT: {"type": "individual", "name": "analyst"}}
    });
    let (pb, report) =
        muster_cacao::validate::parse(&serde_json::to_vec(&doc).unwrap(), &muster_cacao::validate::Options::default())
            .unwrap_or_else(|r| panic!("test playbook invalid: {:#?}", r.errors));
    assert!(report.errors.is_empty());
    pb
}
