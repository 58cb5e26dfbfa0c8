//! The server's [`Host`]: one per run. Records are committed to the store
//! before the engine moves on; manual steps become analyst tasks (on the
//! incident's timeline) and wait until completed through the API or the page;
//! automated commands go to the shared runners after a PAP check against the
//! incident's observables.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use muster_cacao::Playbook;
use muster_cacao::engine::{CommandFailure, CommandOutput, CommandRequest, ExecutionRecord, Host, HostError};
use muster_core::{OrgId, Pap};
use muster_store::{NewManualTask, StepRecord};
use serde_json::Value;

use super::Shared;

/// A run's host.
pub struct RunHost {
    pub(super) shared: Arc<Shared>,
    pub(super) run_id: String,
    pub(super) org: OrgId,
    pub(super) incident_id: Option<String>,
    /// Automated step executions that were `ongoing` when the server stopped:
    /// not run again unless configured (the tool may have acted already).
    pub(super) interrupted: BTreeSet<String>,
    /// Set when such a step was reached, so the run ends as `interrupted`.
    pub(super) hit_interrupted: AtomicBool,
    /// Values the run acts on that are marked PAP:AMBER or PAP:RED (the incident's observables).
    pub(super) restricted: BTreeMap<String, Pap>,
}

impl RunHost {
    fn pap_refusal(&self, request: &CommandRequest) -> Option<String> {
        if self.restricted.is_empty() {
            return None;
        }
        let mut values: Vec<&str> = request.referenced.values().map(String::as_str).collect();
        let mut strings = Vec::new();
        for v in request.in_args.values() {
            collect(v, &mut strings);
        }
        values.extend(strings.iter().map(String::as_str));
        values.into_iter().find_map(|v| {
            self.restricted.get(v).map(|pap| {
                format!(
                    "refused by PAP: this step acts on {v}, an observable of the incident marked {pap}; nothing was run"
                )
            })
        })
    }
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|i| collect(i, out)),
        Value::Object(m) => m.values().for_each(|i| collect(i, out)),
        _ => {}
    }
}

/// Closes a manual task that was abandoned (step timeout or cancellation) when its wait is dropped.
struct TaskGuard {
    shared: Arc<Shared>,
    task_id: String,
    done: bool,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.shared.forget_waiter(&self.task_id);
        if !self.done {
            let store = self.shared.store.clone();
            let id = self.task_id.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    // Already closed (completed, or its run ended) is fine.
                    let _ = store.expire_task(&id, "expired").await;
                });
            }
        }
    }
}

impl Host for RunHost {
    async fn run_command(&self, request: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        if self.interrupted.contains(&request.occurrence) && !self.shared.config.rerun_interrupted {
            self.hit_interrupted.store(true, Ordering::SeqCst);
            return Err(CommandFailure::failed(
                "interrupted: the server stopped while this command ran; it was not run again \
                 (set playbook_rerun_interrupted to retry such commands)",
            ));
        }
        if let Some(refusal) = self.pap_refusal(&request) {
            return Err(CommandFailure::failed(refusal));
        }
        let Some(runners) = self.shared.runners.get() else {
            return Err(CommandFailure::failed("the playbook runners are not started"));
        };
        runners.run(request).await
    }

    async fn manual_task(&self, request: CommandRequest) -> Result<CommandOutput, CommandFailure> {
        if let Some(refusal) = self.pap_refusal(&request) {
            return Err(CommandFailure::failed(refusal));
        }
        let title = request
            .command
            .description
            .clone()
            .or_else(|| request.command.command.clone())
            .unwrap_or_else(|| format!("step {}", request.step_id));
        let instructions = request.command.command.clone().unwrap_or_default();
        let new = NewManualTask {
            run_id: self.run_id.clone(),
            org: self.org,
            incident_id: self.incident_id.clone(),
            occurrence: request.occurrence.clone(),
            step_id: request.step_id.clone(),
            title: title.chars().take(300).collect(),
            instructions: instructions.chars().take(10_000).collect(),
            out_args: serde_json::to_string(&request.out_args).unwrap_or_else(|_| "[]".into()),
        };
        let task = self.shared.store.open_task(&new).await.map_err(|e| CommandFailure::failed(e.to_string()))?;
        let notify = self.shared.waiter(&task.id);
        let mut guard = TaskGuard { shared: Arc::clone(&self.shared), task_id: task.id.clone(), done: false };
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let t = self.shared.store.get_task(&task.id).await.map_err(|e| CommandFailure::failed(e.to_string()))?;
            match t.status.as_str() {
                "open" => {}
                "completed" => {
                    guard.done = true;
                    let values: BTreeMap<String, Value> =
                        serde_json::from_str(t.result.as_deref().unwrap_or("{}")).unwrap_or_default();
                    return Ok(CommandOutput { variables: values });
                }
                other => {
                    guard.done = true;
                    return Err(CommandFailure::failed(format!("the analyst task was {other}")));
                }
            }
            // Woken by the API when the task is completed; the poll covers other server nodes.
            let _ = tokio::time::timeout(Duration::from_secs(5), notified).await;
        }
    }

    async fn persist(&self, record: &ExecutionRecord) -> Result<(), HostError> {
        let json = serde_json::to_string(record).map_err(|e| HostError(e.to_string()))?;
        let status = serde_json::to_value(record.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into());
        let row = StepRecord {
            id: record.id.clone(),
            run_id: self.run_id.clone(),
            occurrence: record.occurrence.clone(),
            workflow_step: record.workflow_step.clone(),
            playbook_id: record.playbook_id.clone(),
            status,
            record: json,
        };
        self.shared.store.upsert_step_record(&row).await.map_err(|e| HostError(e.to_string()))
    }

    async fn load_playbook(&self, id: &str, version: Option<&str>) -> Option<Playbook> {
        let versions = self.shared.store.playbook_versions(self.org, id).await.ok()?;
        let v = match version {
            Some(m) => versions.into_iter().find(|v| v.modified == m)?,
            None => versions.into_iter().next()?,
        };
        let sealer = self.shared.sealer.get()?;
        super::library::load_runnable(&v, sealer).ok()
    }
}
