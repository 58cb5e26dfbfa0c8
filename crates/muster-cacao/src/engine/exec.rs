//! The step interpreter behind [`super::Engine`]: runs playbooks and branches
//! step by step, persisting each step's record before the next one starts.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::frame::{Frame, substituted};
use super::host::Host;
use super::outcome::{BranchEnd, Outcome, Stop, b64};
use super::record::{ExecutionRecord, ExecutionStatus, timestamp};
use super::steps::is_manual;
use super::{Cancellation, EngineConfig, RunError, RunStatus};
use crate::model::{Playbook, Variables, WorkflowStep};
use crate::redact::Redactor;
use crate::vars::Scope;

pub(super) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub(super) struct Runner<H: Host> {
    pub(super) host: Arc<H>,
    pub(super) config: EngineConfig,
    pub(super) execution_id: uuid::Uuid,
    pub(super) cancel: Cancellation,
    done: BTreeMap<String, ExecutionRecord>,
    steps: AtomicU64,
    /// Secrets of the authentication info seen in this run, scrubbed from every record.
    pub(super) secrets: Mutex<Redactor>,
}

impl<H: Host> Runner<H> {
    pub(super) fn new(
        host: Arc<H>,
        config: EngineConfig,
        execution_id: uuid::Uuid,
        cancel: Cancellation,
        done: BTreeMap<String, ExecutionRecord>,
    ) -> Arc<Self> {
        Arc::new(Self {
            host,
            config,
            execution_id,
            cancel,
            done,
            steps: AtomicU64::new(0),
            secrets: Mutex::new(Redactor::new()),
        })
    }

    /// Registers the secrets of every authentication info the playbook defines
    /// (with the run's variables substituted), so no record can show them.
    fn learn_secrets(&self, pb: &Playbook, globals: &Variables) {
        let scope = Scope::new(globals.clone());
        let mut secrets = self.secrets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for auth in pb.authentication_info_definitions.iter().flat_map(|m| m.values()) {
            if let Ok(auth) = substituted(&scope, auth) {
                secrets.add_auth(&auth);
            }
        }
    }

    /// Runs a whole playbook (top level or nested) and returns its status and final variables.
    pub(super) fn run_playbook(
        self: Arc<Self>,
        pb: Arc<Playbook>,
        globals: Variables,
        prefix: String,
        depth: u32,
    ) -> BoxFut<'static, Result<(RunStatus, Variables), RunError>> {
        Box::pin(async move {
            self.learn_secrets(&pb, &globals);
            let frame = Arc::new(Frame { pb: Arc::clone(&pb), globals: Mutex::new(globals), depth });
            let main = Arc::clone(&self).branch(Arc::clone(&frame), pb.workflow_start.clone(), prefix.clone()).await;
            let status = match main {
                Ok(BranchEnd::Ended) => RunStatus::Completed,
                Ok(BranchEnd::Failed(message)) => {
                    if let Some(exc) = pb.workflow_exception.as_ref().filter(|e| pb.workflow.contains_key(*e)) {
                        let handled = Arc::clone(&self)
                            .branch(Arc::clone(&frame), exc.clone(), format!("{prefix}!exception/"))
                            .await;
                        match handled {
                            Err(Stop::Error(e)) => return Err(e),
                            Err(Stop::Cancelled) => RunStatus::Cancelled,
                            Err(Stop::Interrupted(m)) => RunStatus::Interrupted(m),
                            Ok(_) => RunStatus::Failed(message),
                        }
                    } else {
                        RunStatus::Failed(message)
                    }
                }
                Err(Stop::Error(e)) => return Err(e),
                Err(Stop::Cancelled) => RunStatus::Cancelled,
                Err(Stop::Interrupted(m)) => RunStatus::Interrupted(m),
            };
            let vars = frame.globals().clone();
            Ok((status, vars))
        })
    }

    /// Runs steps from `head` until an end step (or an unhandled failure).
    pub(super) fn branch(
        self: Arc<Self>,
        frame: Arc<Frame>,
        head: String,
        prefix: String,
    ) -> BoxFut<'static, Result<BranchEnd, Stop>> {
        Box::pin(async move {
            let mut current = head;
            let mut visits: HashMap<String, u32> = HashMap::new();
            loop {
                if self.cancel.is_cancelled() {
                    return Err(Stop::Cancelled);
                }
                let n = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
                if n > self.config.max_steps_per_run {
                    return Err(RunError::StepLimit(self.config.max_steps_per_run).into());
                }
                let Some(step) = frame.pb.workflow.get(&current) else {
                    return Ok(BranchEnd::Failed(format!("step {current} does not exist")));
                };
                let visit = visits.entry(current.clone()).or_insert(0);
                *visit += 1;
                let occurrence = format!("{prefix}{current}#{visit}");
                let outcome = Arc::clone(&self).step(&frame, &current, step, &occurrence).await?;
                if matches!(step, WorkflowStep::End(_)) {
                    return Ok(BranchEnd::Ended);
                }
                let c = step.common();
                let success = outcome.status.is_success();
                let next = if success {
                    c.on_success.as_ref().or(c.on_completion.as_ref())
                } else {
                    c.on_failure.as_ref().or(c.on_completion.as_ref())
                };
                match next {
                    Some(next) => current.clone_from(next),
                    None if success => return Ok(BranchEnd::Ended),
                    None => {
                        return Ok(BranchEnd::Failed(format!(
                            "step {current} failed: {}",
                            outcome.text.unwrap_or_default()
                        )));
                    }
                }
            }
        })
    }

    fn record(
        &self,
        frame: &Frame,
        step_id: &str,
        occurrence: &str,
        start: time::OffsetDateTime,
        outcome: &Outcome,
    ) -> ExecutionRecord {
        let elapsed = self.host.now() - start;
        let mut record = ExecutionRecord {
            kind: "execution-status".into(),
            id: format!("execution-status--{}", uuid::Uuid::new_v5(&self.execution_id, occurrence.as_bytes())),
            workflow_step: step_id.to_owned(),
            start_time: timestamp(start),
            duration: u64::try_from(elapsed.whole_milliseconds()).ok(),
            status: outcome.status,
            status_text: outcome.text.clone(),
            executed_by: outcome.executed_by.clone(),
            command_b64: if outcome.commands.is_empty() {
                // The schema wants at least one entry; a step that ran no
                // command (yet) records its step type, as control steps record their condition.
                let kind = frame.pb.workflow.get(step_id).map_or("step", |s| s.step_type().as_str());
                vec![b64(kind)]
            } else {
                outcome.commands.clone()
            },
            notes: None,
            automated_execution: outcome.automated,
            execution_id: self.execution_id,
            playbook_id: frame.pb.id.clone(),
            occurrence: occurrence.to_owned(),
            assigned: outcome.assigned.clone(),
        };
        self.secrets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).scrub_record(&mut record);
        record
    }

    /// Runs (or replays) one step and persists its records.
    async fn step(
        self: Arc<Self>,
        frame: &Arc<Frame>,
        id: &str,
        step: &WorkflowStep,
        occurrence: &str,
    ) -> Result<Outcome, Stop> {
        if let Some(prev) = self.done.get(occurrence) {
            if prev.status.is_terminal() {
                self.apply(frame, step, &prev.assigned);
                let mut o = Outcome::ok();
                o.status = prev.status;
                o.text.clone_from(&prev.status_text);
                return Ok(o);
            }
            if !self.config.rerun_interrupted {
                let o = Outcome::fail(ExecutionStatus::Failed, "interrupted: the engine stopped while this step ran");
                let start = self.host.now();
                let rec = self.record(frame, id, occurrence, start, &o);
                self.host.persist(&rec).await.map_err(RunError::from)?;
                return Err(Stop::Interrupted(format!("step {id} was interrupted")));
            }
        }
        if let Some(delay) = step.common().delay {
            tokio::select! {
                () = self.host.sleep(Duration::from_millis(delay)) => {}
                () = self.cancel.cancelled() => return Err(Stop::Cancelled),
            }
        }
        let start = self.host.now();
        let mut started = Outcome::ok();
        started.status = ExecutionStatus::Ongoing;
        started.automated = !is_manual(step);
        let rec = self.record(frame, id, occurrence, start, &started);
        self.host.persist(&rec).await.map_err(RunError::from)?;

        let work = Arc::clone(&self).execute(Arc::clone(frame), id.to_owned(), step.clone(), occurrence.to_owned());
        let timeout = step.common().timeout;
        let result = tokio::select! {
            r = work => r,
            () = async {
                match timeout {
                    Some(ms) => self.host.sleep(Duration::from_millis(ms)).await,
                    None => std::future::pending().await,
                }
            } => Ok(Outcome::fail(ExecutionStatus::TimeoutError, format!("step timed out after {} ms", timeout.unwrap_or(0)))),
            () = self.cancel.cancelled() => Err(Stop::Cancelled),
        };
        let mut outcome = match result {
            Ok(o) => o,
            Err(Stop::Cancelled) => {
                let o = Outcome::fail(ExecutionStatus::Failed, "cancelled");
                let rec = self.record(frame, id, occurrence, start, &o);
                self.host.persist(&rec).await.map_err(RunError::from)?;
                return Err(Stop::Cancelled);
            }
            Err(other) => return Err(other),
        };
        outcome.automated = !is_manual(step);
        if let (None, WorkflowStep::Action(a)) = (&outcome.executed_by, step) {
            outcome.executed_by.clone_from(&a.agent);
        }
        let rec = self.record(frame, id, occurrence, start, &outcome);
        self.host.persist(&rec).await.map_err(RunError::from)?;
        Ok(outcome)
    }

    /// Re-applies the variables a completed step assigned.
    fn apply(&self, frame: &Frame, step: &WorkflowStep, assigned: &BTreeMap<String, Value>) {
        let locals = step.common().step_variables.as_ref();
        let mut g = frame.globals();
        for (name, value) in assigned {
            if locals.is_some_and(|l| l.contains_key(name)) {
                continue;
            }
            if let Some(var) = g.get_mut(name) {
                var.value = Some(value.clone());
            }
        }
    }
}
