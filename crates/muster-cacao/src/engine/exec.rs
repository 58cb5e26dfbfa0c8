//! The step interpreter behind [`super::Engine`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::host::{FailureKind, Host};
use super::record::{ExecutionRecord, ExecutionStatus, timestamp};
use super::{Cancellation, EngineConfig, RunError, RunStatus};
use crate::condition::Condition;
use crate::model::{CommandType, Playbook, Variables, WorkflowStep};
use crate::redact::Redactor;
use crate::vars::{Scope, VarError};

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why the run stops where it is (as opposed to a step failing).
pub(super) enum Stop {
    Error(RunError),
    Cancelled,
    Interrupted(String),
}

impl From<RunError> for Stop {
    fn from(e: RunError) -> Self {
        Self::Error(e)
    }
}

/// How a branch ended.
enum BranchEnd {
    Ended,
    Failed(String),
}

/// How one step ended.
pub(super) struct Outcome {
    pub(super) status: ExecutionStatus,
    pub(super) text: Option<String>,
    pub(super) commands: Vec<String>,
    pub(super) assigned: BTreeMap<String, Value>,
    pub(super) executed_by: Option<String>,
    pub(super) automated: bool,
}

impl Outcome {
    pub(super) fn ok() -> Self {
        Self {
            status: ExecutionStatus::SuccessfullyCompleted,
            text: None,
            commands: Vec::new(),
            assigned: BTreeMap::new(),
            executed_by: None,
            automated: true,
        }
    }
    pub(super) fn fail(status: ExecutionStatus, text: impl Into<String>) -> Self {
        Self { status, text: Some(text.into()), ..Self::ok() }
    }
    fn from_branch(end: BranchEnd) -> Self {
        match end {
            BranchEnd::Ended => Self::ok(),
            BranchEnd::Failed(m) => Self::fail(ExecutionStatus::Failed, m),
        }
    }
}

/// One playbook being run (the top level or a nested one).
pub(super) struct Frame {
    pub(super) pb: Arc<Playbook>,
    globals: Mutex<Variables>,
    depth: u32,
}

impl Frame {
    pub(super) fn globals(&self) -> MutexGuard<'_, Variables> {
        // A poisoned lock only means another branch panicked; the map is still usable.
        self.globals.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(super) fn scope(&self, step: &WorkflowStep) -> Scope {
        let mut scope = Scope::new(self.globals().clone());
        scope.push(step.common().step_variables.clone().unwrap_or_default());
        scope
    }
}

pub(super) struct Runner<H: Host> {
    pub(super) host: Arc<H>,
    config: EngineConfig,
    pub(super) execution_id: uuid::Uuid,
    cancel: Cancellation,
    done: BTreeMap<String, ExecutionRecord>,
    steps: AtomicU64,
    /// Secrets of the authentication info seen in this run, scrubbed from every record.
    pub(super) secrets: Mutex<Redactor>,
}

pub(super) fn failure_status(kind: FailureKind) -> ExecutionStatus {
    match kind {
        FailureKind::Failed => ExecutionStatus::Failed,
        FailureKind::ServerSideError => ExecutionStatus::ServerSideError,
        FailureKind::ClientSideError => ExecutionStatus::ClientSideError,
        FailureKind::Timeout => ExecutionStatus::TimeoutError,
    }
}

pub(super) fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Substitutes variables in every string inside an agent or target definition.
fn substitute_value(scope: &Scope, v: &mut Value) -> Result<(), VarError> {
    match v {
        Value::String(s) => *s = scope.substitute(s)?,
        Value::Array(items) => {
            for i in items {
                substitute_value(scope, i)?;
            }
        }
        Value::Object(m) => {
            for (_, i) in m.iter_mut() {
                substitute_value(scope, i)?;
            }
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn substituted<T: serde::Serialize + serde::de::DeserializeOwned>(
    scope: &Scope,
    item: &T,
) -> Result<T, String> {
    let mut v = serde_json::to_value(item).map_err(|e| e.to_string())?;
    substitute_value(scope, &mut v).map_err(|e| e.to_string())?;
    serde_json::from_value(v).map_err(|e| e.to_string())
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
    fn branch(
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

    fn execute(
        self: Arc<Self>,
        frame: Arc<Frame>,
        id: String,
        step: WorkflowStep,
        occurrence: String,
    ) -> BoxFut<'static, Result<Outcome, Stop>> {
        Box::pin(async move {
            let sub = format!("{occurrence}/");
            match &step {
                WorkflowStep::Start(_) | WorkflowStep::End(_) => Ok(Outcome::ok()),
                WorkflowStep::Action(a) => self.action(&frame, &id, &step, a, &occurrence).await,
                WorkflowStep::Parallel(p) => {
                    let mut set = tokio::task::JoinSet::new();
                    for (i, head) in p.next_steps.iter().enumerate() {
                        let fut = Arc::clone(&self).branch(Arc::clone(&frame), head.clone(), format!("{sub}{i}/"));
                        set.spawn(fut);
                    }
                    let mut failures = Vec::new();
                    while let Some(joined) = set.join_next().await {
                        match joined {
                            Ok(Ok(BranchEnd::Ended)) => {}
                            Ok(Ok(BranchEnd::Failed(m))) => failures.push(m),
                            Ok(Err(stop)) => return Err(stop),
                            Err(e) => failures.push(format!("branch task failed: {e}")),
                        }
                    }
                    if failures.is_empty() {
                        Ok(Outcome::ok())
                    } else {
                        Ok(Outcome::fail(ExecutionStatus::Failed, failures.join("; ")))
                    }
                }
                WorkflowStep::IfCondition(s) => {
                    let mut o = match self.condition(&frame, &step, &s.condition) {
                        Ok(true) => Outcome::from_branch(
                            Arc::clone(&self).branch(Arc::clone(&frame), s.on_true.clone(), sub).await?,
                        ),
                        Ok(false) => match &s.on_false {
                            Some(f) => Outcome::from_branch(
                                Arc::clone(&self).branch(Arc::clone(&frame), f.clone(), sub).await?,
                            ),
                            None => Outcome::ok(),
                        },
                        Err(e) => Outcome::fail(ExecutionStatus::ClientSideError, e),
                    };
                    o.commands = vec![b64(&s.condition)];
                    Ok(o)
                }
                WorkflowStep::WhileCondition(s) => {
                    let mut iteration = 0u32;
                    let mut o = loop {
                        match self.condition(&frame, &step, &s.condition) {
                            Ok(false) => break Outcome::ok(),
                            Ok(true) => {}
                            Err(e) => break Outcome::fail(ExecutionStatus::ClientSideError, e),
                        }
                        iteration += 1;
                        if iteration > self.config.max_loop_iterations {
                            break Outcome::fail(
                                ExecutionStatus::Failed,
                                format!("while-condition exceeded {} iterations", self.config.max_loop_iterations),
                            );
                        }
                        let end = Arc::clone(&self)
                            .branch(Arc::clone(&frame), s.on_true.clone(), format!("{sub}{iteration}/"))
                            .await?;
                        if let BranchEnd::Failed(m) = end {
                            break Outcome::fail(ExecutionStatus::Failed, m);
                        }
                    };
                    o.commands = vec![b64(&s.condition)];
                    Ok(o)
                }
                WorkflowStep::SwitchCondition(s) => {
                    let scope = frame.scope(&step);
                    let value = if s.switch.contains(":value") {
                        scope.substitute(&s.switch)
                    } else {
                        scope
                            .get(&s.switch)
                            .map(crate::vars::text_of)
                            .ok_or_else(|| VarError::Undefined(s.switch.clone()))
                    };
                    let mut o = match value {
                        Err(e) => Outcome::fail(ExecutionStatus::ClientSideError, e.to_string()),
                        Ok(v) => match s.cases.get(&v).or_else(|| s.cases.get("default")) {
                            Some(head) => Outcome::from_branch(
                                Arc::clone(&self).branch(Arc::clone(&frame), head.clone(), sub).await?,
                            ),
                            None => Outcome::ok(),
                        },
                    };
                    o.commands = vec![b64(&s.switch)];
                    Ok(o)
                }
                WorkflowStep::PlaybookAction(a) => {
                    if frame.depth + 1 > self.config.max_playbook_depth {
                        return Ok(Outcome::fail(
                            ExecutionStatus::Failed,
                            format!("playbook-action nesting exceeds {}", self.config.max_playbook_depth),
                        ));
                    }
                    let Some(child) = self.host.load_playbook(&a.playbook_id, a.playbook_version.as_deref()).await
                    else {
                        return Ok(Outcome::fail(
                            ExecutionStatus::Failed,
                            format!("playbook {} is not in the library", a.playbook_id),
                        ));
                    };
                    let scope = frame.scope(&step);
                    let mut vars = child.playbook_variables.clone().unwrap_or_default();
                    for name in a.in_args.iter().flatten() {
                        let Some(v) = scope.get(name) else {
                            return Ok(Outcome::fail(
                                ExecutionStatus::ClientSideError,
                                format!("in_arg {name} is not defined"),
                            ));
                        };
                        let value = v.value.clone().unwrap_or(Value::Null);
                        match vars.get_mut(name) {
                            Some(target) => target.value = Some(value),
                            None => {
                                vars.insert(name.clone(), v.clone());
                            }
                        }
                    }
                    let (status, child_vars) = Arc::clone(&self)
                        .run_playbook(Arc::new(child), vars, format!("{sub}>"), frame.depth + 1)
                        .await
                        .map_err(Stop::Error)?;
                    let mut o = match status {
                        RunStatus::Completed => Outcome::ok(),
                        RunStatus::Failed(m) => Outcome::fail(ExecutionStatus::Failed, m),
                        RunStatus::Cancelled => return Err(Stop::Cancelled),
                        RunStatus::Interrupted(m) => return Err(Stop::Interrupted(m)),
                    };
                    if o.status.is_success() {
                        for name in a.out_args.iter().flatten() {
                            let value = child_vars.get(name).and_then(|v| v.value.clone()).unwrap_or(Value::Null);
                            if let Err(e) = self.assign(&frame, &step, name, value, &mut o.assigned) {
                                o = Outcome::fail(ExecutionStatus::ClientSideError, e.to_string());
                                break;
                            }
                        }
                    }
                    o.commands = vec![b64(&a.playbook_id)];
                    Ok(o)
                }
            }
        })
    }

    fn condition(&self, frame: &Frame, step: &WorkflowStep, src: &str) -> Result<bool, String> {
        let scope = frame.scope(step);
        let c = Condition::parse(src).map_err(|e| e.to_string())?;
        c.evaluate(&|n| scope.typed(n)).map_err(|e| e.to_string())
    }

    /// Assigns an output to the step variable or playbook variable `name`.
    pub(super) fn assign(
        &self,
        frame: &Frame,
        step: &WorkflowStep,
        name: &str,
        value: Value,
        assigned: &mut BTreeMap<String, Value>,
    ) -> Result<(), VarError> {
        if let Some(local) = step.common().step_variables.as_ref().and_then(|l| l.get(name)) {
            // Step variables live for the step only; still check the assignment.
            let mut scope = Scope::new(Variables::new());
            scope.push(std::iter::once((name.to_owned(), local.clone())).collect());
            scope.assign(name, value.clone())?;
        } else {
            let mut scope = Scope::new(std::mem::take(&mut *frame.globals()));
            let r = scope.assign(name, value.clone());
            *frame.globals() = scope.playbook_vars().clone();
            r?;
        }
        assigned.insert(name.to_owned(), value);
        Ok(())
    }
}

pub(super) fn is_manual(step: &WorkflowStep) -> bool {
    matches!(step, WorkflowStep::Action(a) if !a.commands.is_empty() && a.commands.iter().all(|c| c.kind == CommandType::Manual))
}
