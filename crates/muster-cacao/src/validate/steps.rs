//! Checks of each workflow step, its commands and the variables it reads.

use base64::Engine as _;

use super::objects::{Checker, prefix};
use super::seg;
use crate::condition::Condition;
use crate::model::{CommandData, CommandType, StepType, Variables, WorkflowStep};
use crate::vars::references;

pub(super) fn check(cx: &mut Checker<'_>) {
    let pb = cx.pb;
    if pb.workflow.len() > cx.options.limits.max_steps {
        cx.error("/workflow", format!("{} steps; the limit is {}", pb.workflow.len(), cx.options.limits.max_steps));
        return;
    }
    for (id, step) in &pb.workflow {
        let path = format!("/workflow/{}", seg(id));
        step_checks(cx, &path, id, step);
    }
}

/// Is `name` visible from a step with `local` variables?
fn defined(cx: &Checker<'_>, local: Option<&Variables>, name: &str) -> bool {
    local.is_some_and(|l| l.contains_key(name))
        || cx.pb.playbook_variables.as_ref().is_some_and(|g| g.contains_key(name))
}

fn text_refs(cx: &mut Checker<'_>, path: &str, local: Option<&Variables>, text: &str) {
    for name in references(text) {
        if !defined(cx, local, name) {
            cx.error(path, format!("variable {name} is used but not defined"));
        }
    }
}

fn args(cx: &mut Checker<'_>, path: &str, local: Option<&Variables>, list: Option<&Vec<String>>) {
    for (i, name) in list.into_iter().flatten().enumerate() {
        if !defined(cx, local, name) {
            cx.error(
                format!("{path}/{i}"),
                format!("variable {name} is not defined in the playbook or step variables"),
            );
        }
    }
}

fn step_ref(cx: &mut Checker<'_>, path: &str, target: &str) {
    if !cx.identifier(path, target, None) {
        return;
    }
    if !cx.pb.workflow.contains_key(target) {
        cx.error(path, format!("step {target} does not exist in the workflow"));
    }
}

fn step_checks(cx: &mut Checker<'_>, path: &str, id: &str, step: &WorkflowStep) {
    let ty = step.step_type();
    if cx.identifier(path, id, None) && prefix(id) != ty.as_str() {
        cx.error(format!("{path}/type"), format!("a {} step cannot have the identifier {id}", ty.as_str()));
    }
    let c = step.common();
    let local = c.step_variables.as_ref();
    if let Some(vars) = local {
        cx.variables(&format!("{path}/step_variables"), vars, false);
    }
    if c.delay == Some(0) {
        cx.error(format!("{path}/delay"), "delay must be at least 1 millisecond");
    }
    if let Some(owner) = &c.owner {
        cx.identifier(&format!("{path}/owner"), owner, None);
    }
    for (prop, target) in step.successors() {
        let p = match prop {
            "next_steps" | "cases" => continue, // checked below with their index/key
            _ => format!("{path}/{prop}"),
        };
        step_ref(cx, &p, target);
    }
    match ty {
        StepType::Start if c.on_success.is_some() || c.on_failure.is_some() => {
            cx.error(path, "a start step must not use on_success or on_failure");
        }
        StepType::End if c.on_completion.is_some() || c.on_success.is_some() || c.on_failure.is_some() => {
            cx.error(path, "an end step must not use on_completion, on_success or on_failure");
        }
        _ => {}
    }
    if c.on_completion.is_some() && (c.on_success.is_some() || c.on_failure.is_some()) {
        cx.warn(path, "on_completion together with on_success/on_failure: the outcome-specific one wins");
    }
    match step {
        WorkflowStep::Action(a) => {
            if a.commands.is_empty() {
                cx.error(path, "an action step requires at least one command");
            }
            for (i, cmd) in a.commands.iter().enumerate() {
                command(cx, &format!("{path}/commands/{i}"), local, cmd);
            }
            match &a.agent {
                None => cx.error(path, "an action step requires an agent"),
                Some(agent) => {
                    let p = format!("{path}/agent");
                    if cx.identifier(&p, agent, None)
                        && !cx.pb.agent_definitions.as_ref().is_some_and(|d| d.contains_key(agent))
                    {
                        cx.unresolved(p, format!("agent {agent} is not in agent_definitions"));
                    }
                }
            }
            for (i, t) in a.targets.iter().flatten().enumerate() {
                let p = format!("{path}/targets/{i}");
                if cx.identifier(&p, t, None) && !cx.pb.target_definitions.as_ref().is_some_and(|d| d.contains_key(t)) {
                    cx.unresolved(p, format!("target {t} is not in target_definitions"));
                }
            }
            args(cx, &format!("{path}/in_args"), local, a.in_args.as_ref());
            args(cx, &format!("{path}/out_args"), local, a.out_args.as_ref());
        }
        WorkflowStep::PlaybookAction(a) => {
            cx.identifier(&format!("{path}/playbook_id"), &a.playbook_id, Some("playbook"));
            if let Some(v) = &a.playbook_version {
                cx.timestamp(&format!("{path}/playbook_version"), v);
            }
            args(cx, &format!("{path}/in_args"), local, a.in_args.as_ref());
            args(cx, &format!("{path}/out_args"), local, a.out_args.as_ref());
        }
        WorkflowStep::Parallel(p) => {
            if p.next_steps.len() < 2 {
                cx.error(format!("{path}/next_steps"), "a parallel step needs at least two next_steps");
            }
            for (i, n) in p.next_steps.iter().enumerate() {
                step_ref(cx, &format!("{path}/next_steps/{i}"), n);
            }
        }
        WorkflowStep::IfCondition(s) => condition(cx, path, local, &s.condition),
        WorkflowStep::WhileCondition(s) => condition(cx, path, local, &s.condition),
        WorkflowStep::SwitchCondition(s) => {
            if s.switch.is_empty() {
                cx.error(path, "a switch-condition step requires switch");
            } else {
                text_refs(cx, &format!("{path}/switch"), local, &s.switch);
            }
            if s.cases.is_empty() {
                cx.error(format!("{path}/cases"), "a switch-condition needs cases");
            }
            for (k, n) in &s.cases {
                step_ref(cx, &format!("{path}/cases/{}", seg(k)), n);
            }
        }
        WorkflowStep::Start(_) | WorkflowStep::End(_) => {}
    }
}

fn condition(cx: &mut Checker<'_>, path: &str, local: Option<&Variables>, src: &str) {
    let p = format!("{path}/condition");
    match Condition::parse(src) {
        Ok(c) => {
            for name in c.variables() {
                if !defined(cx, local, name) {
                    cx.error(&p, format!("variable {name} is used but not defined"));
                }
            }
        }
        Err(e) => cx.error(p, e.to_string()),
    }
}

fn command(cx: &mut Checker<'_>, path: &str, local: Option<&Variables>, cmd: &CommandData) {
    use CommandType as T;
    let has = |o: &Option<String>| o.as_ref().is_some_and(|s| !s.is_empty());
    let requirement = match cmd.kind {
        T::HttpApi if !has(&cmd.command) => Some("an http-api command requires command"),
        T::Openc2Http if !(has(&cmd.command) && has(&cmd.content_b64)) => {
            Some("an openc2-http command requires command and content_b64")
        }
        T::Elastic | T::Jupyter | T::Kestrel | T::Sigma | T::Yara if !has(&cmd.command_b64) => {
            Some("this command type requires command_b64")
        }
        T::Bash | T::Manual | T::Ssh | T::Powershell | T::CalderaCmd
            if !has(&cmd.command) && !has(&cmd.command_b64) =>
        {
            Some("this command type requires command or command_b64")
        }
        _ => None,
    };
    if let Some(msg) = requirement {
        cx.error(path, msg);
    }
    for (prop, v) in [("command_b64", &cmd.command_b64), ("content_b64", &cmd.content_b64)] {
        if let Some(v) = v
            && base64::engine::general_purpose::STANDARD.decode(v.trim()).is_err()
        {
            cx.error(format!("{path}/{prop}"), "not valid base64");
        }
    }
    for (prop, v) in [("command", &cmd.command), ("content", &cmd.content)] {
        if let Some(v) = v {
            text_refs(cx, &format!("{path}/{prop}"), local, v);
        }
    }
    for (name, values) in cmd.headers.iter().flatten() {
        for v in values {
            text_refs(cx, &format!("{path}/headers/{}", seg(name)), local, v);
        }
    }
}
