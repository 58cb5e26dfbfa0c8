//! The execution engine: runs a playbook step by step through a [`Host`].
//!
//! Each step's record is persisted as `ongoing` before it runs and with its
//! final status before the next step starts. Given those records back,
//! [`Engine::resume`] replays completed steps (their outcome and the variables
//! they assigned) without running them again, and continues at the
//! interrupted one.

mod action;
mod exec;
mod frame;
mod host;
mod outcome;
mod record;
mod steps;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tokio::sync::Notify;

pub use host::{CommandFailure, CommandOutput, CommandRequest, FailureKind, Host, HostError};
pub use record::{ExecutionRecord, ExecutionStatus};

use crate::model::{Playbook, Variables};
use crate::validate::{Options, Report, Strictness};
use crate::vars::TypedValue;

/// Engine limits and policies.
#[derive(Debug, Clone, Copy)]
pub struct EngineConfig {
    /// Most iterations of one `while-condition` step.
    pub max_loop_iterations: u32,
    /// Deepest nesting of `playbook-action` steps.
    pub max_playbook_depth: u32,
    /// Most step executions in one run, all branches and nested playbooks counted.
    pub max_steps_per_run: u64,
    /// On resume, a step whose last record is `ongoing` (it was running when
    /// the engine stopped) is run again when `true`; when `false` it is marked
    /// failed as interrupted and the run ends as [`RunStatus::Interrupted`].
    pub rerun_interrupted: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { max_loop_iterations: 100, max_playbook_depth: 8, max_steps_per_run: 10_000, rerun_interrupted: true }
    }
}

/// Cancels a run from outside: the current host call is abandoned and no new step starts.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<(AtomicBool, Notify)>);

impl Cancellation {
    /// A token that is not cancelled.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every run holding this token.
    pub fn cancel(&self) {
        self.0.0.store(true, Ordering::SeqCst);
        self.0.1.notify_waiters();
    }

    /// Whether [`Cancellation::cancel`] was called.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.0.load(Ordering::SeqCst)
    }

    /// Resolves once cancelled.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    /// An end step was reached.
    Completed,
    /// A step failed with no `on_failure`/`on_completion` to go to (after
    /// running `workflow_exception`, if defined).
    Failed(String),
    Cancelled,
    /// Resume found an interrupted step and the policy is not to rerun it.
    Interrupted(String),
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub execution_id: uuid::Uuid,
    pub status: RunStatus,
    /// The playbook variables at the end of the run.
    pub variables: Variables,
}

/// Why a run could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the playbook is not fit to run: {}", .0.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Report),
    #[error("input variable {name}: {message}")]
    Input { name: String, message: String },
    #[error("could not persist an execution record: {0}")]
    Persist(#[from] HostError),
    #[error("the run exceeded {0} step executions")]
    StepLimit(u64),
}

/// Runs playbooks through a host.
pub struct Engine<H: Host> {
    host: Arc<H>,
    config: EngineConfig,
}

impl<H: Host> Engine<H> {
    /// An engine over `host`.
    pub fn new(host: Arc<H>, config: EngineConfig) -> Self {
        Self { host, config }
    }

    /// Runs `playbook` with `inputs` for its external variables.
    ///
    /// # Errors
    /// [`RunError`] when the playbook is invalid, an input is refused, a record
    /// cannot be persisted or the step budget is exhausted.
    pub async fn run(
        &self,
        playbook: &Playbook,
        inputs: &BTreeMap<String, Value>,
        cancel: &Cancellation,
    ) -> Result<RunOutcome, RunError> {
        self.resume(playbook, inputs, uuid::Uuid::new_v4(), Vec::new(), cancel).await
    }

    /// Continues execution `execution_id` from its persisted `records`:
    /// completed steps are replayed, not re-run. With no records this is a fresh run.
    ///
    /// # Errors
    /// As [`Engine::run`].
    pub async fn resume(
        &self,
        playbook: &Playbook,
        inputs: &BTreeMap<String, Value>,
        execution_id: uuid::Uuid,
        records: Vec<ExecutionRecord>,
        cancel: &Cancellation,
    ) -> Result<RunOutcome, RunError> {
        let options = Options { strictness: Strictness::Execution, ..Options::default() };
        let report = crate::validate::check(playbook, &options);
        if !report.is_valid() {
            return Err(RunError::Invalid(report));
        }
        let globals = initial_variables(playbook, inputs)?;
        let mut done = BTreeMap::new();
        for r in records.into_iter().filter(|r| r.execution_id == execution_id) {
            done.insert(r.occurrence.clone(), r);
        }
        let runner = exec::Runner::new(Arc::clone(&self.host), self.config, execution_id, cancel.clone(), done);
        let (status, variables) = runner.run_playbook(Arc::new(playbook.clone()), globals, String::new(), 0).await?;
        Ok(RunOutcome { execution_id, status, variables })
    }
}

/// Playbook variables with the caller's inputs applied. Only `external`
/// variables accept inputs; an external variable with no value must be given one.
fn initial_variables(playbook: &Playbook, inputs: &BTreeMap<String, Value>) -> Result<Variables, RunError> {
    let mut vars = playbook.playbook_variables.clone().unwrap_or_default();
    for (name, value) in inputs {
        let err = |message: &str| RunError::Input { name: name.clone(), message: message.to_owned() };
        let var = vars.get_mut(name).ok_or_else(|| err("not declared in playbook_variables"))?;
        if !var.is_external() {
            return Err(err("not declared external; it cannot be set by the caller"));
        }
        TypedValue::parse(&var.kind, value).map_err(|e| err(&e.to_string()))?;
        var.value = Some(value.clone());
    }
    for (name, var) in &vars {
        if var.is_external() && var.value.is_none() {
            return Err(RunError::Input { name: name.clone(), message: "external variable was not supplied".into() });
        }
    }
    Ok(vars)
}
