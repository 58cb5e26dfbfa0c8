//! Whole-workflow checks: the start is reachable and leads to an end, every
//! branch ends, and no loop runs without a condition that can leave it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::objects::Checker;
use super::seg;
use crate::model::{StepType, WorkflowStep};

type Workflow = BTreeMap<String, WorkflowStep>;

fn reachable<'a>(wf: &'a Workflow, from: &'a str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([from]);
    while let Some(id) = queue.pop_front() {
        let Some((key, step)) = wf.get_key_value(id) else {
            continue;
        };
        if !seen.insert(key.as_str()) {
            continue;
        }
        for (_, next) in step.successors() {
            queue.push_back(next);
        }
    }
    seen
}

fn reaches_end(wf: &Workflow, from: &str) -> bool {
    reachable(wf, from).iter().any(|id| wf.get(*id).is_some_and(|s| s.step_type() == StepType::End))
}

pub(super) fn check(cx: &mut Checker<'_>) {
    let pb = cx.pb;
    let wf = &pb.workflow;
    if wf.is_empty() {
        cx.error("/workflow", "the workflow has no steps");
        return;
    }
    if wf.len() > cx.options.limits.max_steps {
        return; // already reported; do not walk an oversized graph
    }
    match wf.get(&pb.workflow_start) {
        None => {
            cx.error("/workflow_start", format!("step {} does not exist in the workflow", pb.workflow_start));
            return;
        }
        Some(s) if s.step_type() != StepType::Start => {
            cx.warn("/workflow_start", format!("{} should be a start step", pb.workflow_start))
        }
        Some(_) => {}
    }
    if let Some(exc) = &pb.workflow_exception
        && !wf.contains_key(exc)
    {
        cx.warn("/workflow_exception", format!("step {exc} does not exist; an exception will end the run as failed"));
    }
    let mut seen = reachable(wf, &pb.workflow_start);
    if let Some(exc) = &pb.workflow_exception {
        seen.extend(reachable(wf, exc));
    }
    if !reaches_end(wf, &pb.workflow_start) {
        cx.error("/workflow_start", "no end step can be reached from the start: the workflow can never finish");
    }
    for (id, step) in wf {
        let path = format!("/workflow/{}", seg(id));
        if !seen.contains(id.as_str()) {
            cx.warn(&path, "step is unreachable from workflow_start");
            continue;
        }
        for (prop, head) in step.branches() {
            if wf.contains_key(head) && !reaches_end(wf, head) {
                cx.error(format!("{path}/{prop}"), format!("the branch starting at {head} never reaches an end step"));
            }
        }
        let c = step.common();
        if step.step_type() != StepType::End && c.on_completion.is_none() && c.on_success.is_none() {
            cx.warn(&path, "no on_completion or on_success: a successful run stops here without an end step");
        }
    }
    unguarded_cycles(cx, wf);
}

/// Edges that are always taken: `on_completion` of a step that does not
/// choose, and the branches of a parallel step. Outcome edges (`on_success`,
/// `on_failure`) and conditional steps can leave a loop, so they guard it.
fn unconditional(step: &WorkflowStep) -> Vec<&str> {
    if step.step_type().is_conditional() {
        return Vec::new();
    }
    let mut out: Vec<&str> = step.common().on_completion.iter().map(String::as_str).collect();
    if let WorkflowStep::Parallel(p) = step {
        out.extend(p.next_steps.iter().map(String::as_str));
    }
    out
}

/// Iterative depth-first search (no recursion, so 10,000 steps cannot
/// overflow the stack); each back edge closes one unguarded loop.
fn unguarded_cycles(cx: &mut Checker<'_>, wf: &Workflow) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let ids: Vec<&str> = wf.keys().map(String::as_str).collect();
    let index: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
    let succ: Vec<Vec<usize>> = ids
        .iter()
        .map(|id| {
            wf.get(*id)
                .map(|s| unconditional(s).into_iter().filter_map(|n| index.get(n).copied()).collect())
                .unwrap_or_default()
        })
        .collect();
    let mut mark = vec![Mark::New; ids.len()];
    let mut loops = Vec::new();
    for root in 0..ids.len() {
        if mark[root] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Active;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&child) = succ[node].get(*next) {
                *next += 1;
                match mark[child] {
                    Mark::New => {
                        mark[child] = Mark::Active;
                        stack.push((child, 0));
                    }
                    Mark::Active => {
                        let start = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let members: Vec<&str> = stack[start..].iter().map(|(n, _)| ids[*n]).collect();
                        loops.push((ids[node], members));
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    for (from, members) in loops {
        cx.error(
            format!("/workflow/{}/on_completion", seg(from)),
            format!(
                "loop without a guard: {} -> {} repeats forever; use a while-condition or an outcome edge to leave it",
                members.join(" -> "),
                members.first().copied().unwrap_or(from)
            ),
        );
    }
}
