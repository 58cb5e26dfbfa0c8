//! Action steps: resolve agent, targets and authentication, then hand each
//! command to the host.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::exec::Runner;
use super::frame::{Frame, substituted};
use super::host::{CommandFailure, CommandRequest, Host};
use super::outcome::{Outcome, Stop, b64, failure_status};
use super::record::ExecutionStatus;
use super::steps::is_manual;
use crate::model::{ActionStep, AgentTarget, AuthenticationInfo, CommandData, CommandType, WorkflowStep};
use crate::vars::{Scope, references, text_of};

/// Substitutes variables inside `command_b64` and `content_b64` too (decode,
/// substitute, encode). Binary content that is not UTF-8 is left as it is.
fn substitute_b64(scope: &Scope, cmd: &mut CommandData) -> Result<(), String> {
    for field in [&mut cmd.command_b64, &mut cmd.content_b64].into_iter().flatten() {
        if let Some(text) = decode_text(field)
            && text.contains("__:value")
        {
            let done = scope.substitute(&text).map_err(|e| e.to_string())?;
            *field = base64::engine::general_purpose::STANDARD.encode(done);
        }
    }
    Ok(())
}

fn decode_text(b64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().and_then(|d| String::from_utf8(d).ok())
}

/// Every variable referenced as `__name__:value` anywhere inside `items`, with its text value.
fn referenced_values(scope: &Scope, items: &[Value], out: &mut BTreeMap<String, String>) {
    fn walk(scope: &Scope, v: &Value, out: &mut BTreeMap<String, String>) {
        match v {
            Value::String(s) => {
                let decoded = decode_text(s).filter(|t| t.contains("__:value"));
                for text in std::iter::once(s.as_str()).chain(decoded.as_deref()) {
                    for name in references(text) {
                        if let Some(var) = scope.get(name) {
                            out.insert(name.to_owned(), text_of(var));
                        }
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(scope, i, out)),
            Value::Object(m) => m.values().for_each(|i| walk(scope, i, out)),
            _ => {}
        }
    }
    items.iter().for_each(|v| walk(scope, v, out));
}

impl<H: Host> Runner<H> {
    pub(super) async fn action(
        &self,
        frame: &Frame,
        id: &str,
        step: &WorkflowStep,
        a: &ActionStep,
        occurrence: &str,
    ) -> Result<Outcome, Stop> {
        let scope = frame.scope(step);
        let pb = &frame.pb;
        let resolve = |target: &str| -> Result<(String, AgentTarget), String> {
            let at = pb.agent_or_target(target).ok_or_else(|| format!("{target} is not defined"))?;
            Ok((target.to_owned(), substituted(&scope, at)?))
        };
        let agent = match a.agent.as_deref().map(resolve).transpose() {
            Ok(agent) => agent,
            Err(e) => return Ok(Outcome::fail(ExecutionStatus::ClientSideError, e)),
        };
        let mut targets = Vec::new();
        for t in a.targets.iter().flatten() {
            match resolve(t) {
                Ok(t) => targets.push(t),
                Err(e) => return Ok(Outcome::fail(ExecutionStatus::ClientSideError, e)),
            }
        }
        let mut authentications: BTreeMap<String, AuthenticationInfo> = BTreeMap::new();
        for (_, at) in agent.iter().chain(&targets) {
            let Some(auth_id) = at.authentication_info.as_deref() else { continue };
            let Some(auth) = pb.authentication_info(auth_id) else { continue };
            match substituted(&scope, auth) {
                Ok(auth) => {
                    authentications.insert(auth_id.to_owned(), auth);
                }
                Err(e) => return Ok(Outcome::fail(ExecutionStatus::ClientSideError, e)),
            }
        }
        {
            let mut secrets = self.secrets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            authentications.values().for_each(|auth| secrets.add_auth(auth));
        }
        let authentication = agent
            .as_ref()
            .and_then(|(_, at)| at.authentication_info.as_deref())
            .and_then(|auth| authentications.get(auth))
            .cloned();
        let mut in_args = BTreeMap::new();
        for name in a.in_args.iter().flatten() {
            let v = scope.get(name).and_then(|v| v.value.clone()).unwrap_or(Value::Null);
            in_args.insert(name.clone(), v);
        }
        let mut raw_endpoints = Vec::new();
        for name in a.agent.iter().chain(a.targets.iter().flatten()) {
            if let Some(at) = pb.agent_or_target(name).and_then(|at| serde_json::to_value(at).ok()) {
                raw_endpoints.push(at);
            }
        }
        let out_args = a.out_args.clone().unwrap_or_default();
        let mut outcome = Outcome::ok();
        outcome.executed_by.clone_from(&a.agent);
        outcome.automated = !is_manual(step);
        for cmd in &a.commands {
            let command = match substituted(&scope, cmd).and_then(|mut c| substitute_b64(&scope, &mut c).map(|()| c)) {
                Ok(c) => c,
                Err(e) => {
                    return Ok(Outcome {
                        commands: outcome.commands,
                        ..Outcome::fail(ExecutionStatus::ClientSideError, e)
                    });
                }
            };
            outcome.commands.push(match (&command.command, &command.command_b64) {
                (Some(c), _) => b64(c),
                (None, Some(b)) => b.clone(),
                (None, None) => b64(command.kind.as_str()),
            });
            let mut referenced = BTreeMap::new();
            let mut raw = raw_endpoints.clone();
            raw.extend(serde_json::to_value(cmd).ok());
            referenced_values(&scope, &raw, &mut referenced);
            let request = CommandRequest {
                execution_id: self.execution_id,
                playbook_id: pb.id.clone(),
                step_id: id.to_owned(),
                occurrence: occurrence.to_owned(),
                command,
                template: cmd.clone(),
                referenced,
                agent: agent.clone(),
                targets: targets.clone(),
                authentication: authentication.clone(),
                authentications: authentications.clone(),
                step_extensions: step.common().step_extensions.clone(),
                in_args: in_args.clone(),
                out_args: out_args.clone(),
                timeout_ms: step.common().timeout,
            };
            let result = if cmd.kind == CommandType::Manual {
                self.host.manual_task(request).await
            } else {
                self.host.run_command(request).await
            };
            match result {
                Ok(out) => {
                    for name in &out_args {
                        if let Some(v) = out.variables.get(name)
                            && let Err(e) = self.assign(frame, step, name, v.clone(), &mut outcome.assigned)
                        {
                            outcome.status = ExecutionStatus::ClientSideError;
                            outcome.text = Some(e.to_string());
                            return Ok(outcome);
                        }
                    }
                }
                Err(CommandFailure { kind, message }) => {
                    outcome.status = failure_status(kind);
                    outcome.text = Some(message);
                    return Ok(outcome);
                }
            }
        }
        Ok(outcome)
    }
}
