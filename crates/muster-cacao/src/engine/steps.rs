//! Control-flow steps (parallel, if, while, switch, playbook-action) and
//! assigning a step's outputs; action steps are in `action`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::RunStatus;
use super::exec::{BoxFut, Runner};
use super::frame::Frame;
use super::host::Host;
use super::outcome::{BranchEnd, Outcome, Stop, b64};
use super::record::ExecutionStatus;
use crate::condition::Condition;
use crate::model::{CommandType, Variables, WorkflowStep};
use crate::vars::{Scope, VarError};

impl<H: Host> Runner<H> {
    pub(super) fn execute(
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
