//! Engine conformance: every step type, every branch outcome, errors,
//! timeouts, nested playbooks, variable scoping and typing, cancellation and
//! resume, all against an in-memory host with tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod engine_host;

use std::collections::BTreeMap;
use std::sync::Arc;

use engine_host::{MemoryHost, action, id, playbook};
use muster_cacao::engine::{ExecutionStatus, RunError};
use muster_cacao::{Cancellation, Engine, EngineConfig, Playbook, RunStatus};
use serde_json::{Value, json};

fn engine(host: &Arc<MemoryHost>) -> Engine<MemoryHost> {
    Engine::new(Arc::clone(host), EngineConfig::default())
}

async fn run(host: &Arc<MemoryHost>, pb: &Playbook) -> muster_cacao::RunOutcome {
    engine(host).run(pb, &BTreeMap::new(), &Cancellation::new()).await.unwrap()
}

fn end(n: u32) -> (String, Value) {
    (id("end", n), json!({"type": "end"}))
}

fn steps(items: Vec<(String, Value)>) -> Value {
    Value::Object(items.into_iter().collect())
}

#[tokio::test(start_paused = true)]
async fn a_sequence_runs_in_order_and_each_record_is_persisted_before_the_next_step() {
    let host = Arc::new(MemoryHost::default());
    let pb = playbook(
        1,
        json!({}),
        steps(vec![
            (id("action", 2), action(&["one"], &id("action", 3))),
            (id("action", 3), action(&["two"], &id("end", 9))),
            end(9),
        ]),
    );
    let out = run(&host, &pb).await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(host.commands(), vec!["one", "two"]);
    let trail: Vec<(String, ExecutionStatus)> =
        host.records().iter().map(|r| (r.workflow_step.clone(), r.status)).collect();
    let expected: Vec<(String, ExecutionStatus)> = [id("start", 1), id("action", 2), id("action", 3), id("end", 9)]
        .into_iter()
        .flat_map(|s| [(s.clone(), ExecutionStatus::Ongoing), (s, ExecutionStatus::SuccessfullyCompleted)])
        .collect();
    assert_eq!(trail, expected);
}

#[tokio::test(start_paused = true)]
async fn on_failure_and_on_success_pick_the_branch_by_outcome() {
    for (command, expect) in [("fail", "cleanup"), ("ok", "proceed")] {
        let host = Arc::new(MemoryHost::default());
        let mut a2 = action(&[command], "");
        a2.as_object_mut().unwrap().remove("on_completion");
        a2["on_success"] = json!(id("action", 3));
        a2["on_failure"] = json!(id("action", 4));
        let pb = playbook(
            1,
            json!({}),
            steps(vec![
                (id("action", 2), a2),
                (id("action", 3), action(&["proceed"], &id("end", 9))),
                (id("action", 4), action(&["cleanup"], &id("end", 9))),
                end(9),
            ]),
        );
        assert_eq!(run(&host, &pb).await.status, RunStatus::Completed);
        assert_eq!(host.commands(), vec![command.to_owned(), expect.to_owned()]);
    }
}

#[tokio::test(start_paused = true)]
async fn an_unhandled_failure_runs_workflow_exception_and_fails_the_run() {
    let host = Arc::new(MemoryHost::default());
    let mut pb = playbook(
        1,
        json!({}),
        steps(vec![
            (id("action", 2), branch_action("fail", 9)),
            (id("action", 5), action(&["notify"], &id("end", 9))),
            end(9),
        ]),
    );
    pb.workflow_exception = Some(id("action", 5));
    let out = run(&host, &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(ref m) if m.contains("scripted failure")), "{:?}", out.status);
    assert_eq!(host.commands(), vec!["fail", "notify"]);
    let failed =
        host.records().into_iter().find(|r| r.workflow_step == id("action", 2) && r.status.is_terminal()).unwrap();
    assert_eq!(failed.status, ExecutionStatus::ServerSideError);
}

#[tokio::test(start_paused = true)]
async fn out_args_are_typed_and_substituted_into_later_commands() {
    let host = Arc::new(MemoryHost::default());
    let mut a2 = action(&["set:__port__=8443"], &id("action", 3));
    a2["out_args"] = json!(["__port__"]);
    let pb = playbook(
        1,
        json!({"__port__": {"type": "integer", "value": "80"}}),
        steps(vec![(id("action", 2), a2), (id("action", 3), action(&["open __port__:value"], &id("end", 9))), end(9)]),
    );
    let out = run(&host, &pb).await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(host.commands()[1], "open 8443");
    assert_eq!(out.variables["__port__"].value, Some(json!("8443")));

    // A value of the wrong type fails the step instead of being stored.
    let host = Arc::new(MemoryHost::default());
    let mut bad = action(&["set:__port__=https"], &id("end", 9));
    bad["out_args"] = json!(["__port__"]);
    bad.as_object_mut().unwrap().remove("on_completion");
    bad["on_success"] = json!(id("end", 9));
    let pb = playbook(
        1,
        json!({"__port__": {"type": "integer", "value": "80"}}),
        steps(vec![(id("action", 2), bad), end(9)]),
    );
    let out = run(&host, &pb).await;
    assert!(matches!(out.status, RunStatus::Failed(ref m) if m.contains("integer")), "{:?}", out.status);
    assert_eq!(out.variables["__port__"].value, Some(json!("80")));
}

#[tokio::test(start_paused = true)]
async fn step_variables_shadow_playbook_variables_and_do_not_leak() {
    let host = Arc::new(MemoryHost::default());
    let mut a2 = action(&["scan __target__:value"], &id("action", 3));
    a2["step_variables"] = json!({"__target__": {"type": "ipv4-addr", "value": "10.0.0.9"}});
    let pb = playbook(
        1,
        json!({"__target__": {"type": "ipv4-addr", "value": "192.0.2.1"}}),
        steps(vec![
            (id("action", 2), a2),
            (id("action", 3), action(&["scan __target__:value"], &id("end", 9))),
            end(9),
        ]),
    );
    run(&host, &pb).await;
    assert_eq!(host.commands(), vec!["scan 10.0.0.9", "scan 192.0.2.1"]);
}

#[tokio::test(start_paused = true)]
async fn if_condition_takes_on_true_or_on_false_then_continues() {
    for (level, expect) in [("7", "escalate"), ("2", "log")] {
        let host = Arc::new(MemoryHost::default());
        let pb = playbook(
            1,
            json!({"__level__": {"type": "integer", "value": level}}),
            steps(vec![
                (id("start", 1), json!({"type": "start", "on_completion": id("if-condition", 2)})),
                (
                    id("if-condition", 2),
                    json!({"type": "if-condition", "condition": "__level__:value >= 5",
                "on_true": id("action", 3), "on_false": id("action", 4), "on_completion": id("action", 5)}),
                ),
                (id("action", 3), action(&["escalate"], &id("end", 8))),
                (id("action", 4), action(&["log"], &id("end", 8))),
                (id("action", 5), action(&["after"], &id("end", 9))),
                end(8),
                end(9),
            ]),
        );
        assert_eq!(run(&host, &pb).await.status, RunStatus::Completed);
        assert_eq!(host.commands(), vec![expect, "after"]);
    }
}

fn while_playbook(condition: &str) -> Playbook {
    let mut body = action(&["tick"], &id("action", 4));
    body["out_args"] = json!(["__n__"]);
    playbook(
        1,
        json!({"__n__": {"type": "integer", "value": "0"}}),
        steps(vec![
            (id("start", 1), json!({"type": "start", "on_completion": id("while-condition", 2)})),
            (
                id("while-condition", 2),
                json!({"type": "while-condition", "condition": condition,
            "on_true": id("action", 3), "on_completion": id("end", 9)}),
            ),
            (id("action", 3), body),
            (id("action", 4), action(&["noop"], &id("end", 8))),
            end(8),
            end(9),
        ]),
    )
}

#[tokio::test(start_paused = true)]
async fn while_condition_loops_until_false_and_stops_at_the_iteration_limit() {
    // The body never changes __n__, so the loop only ends at the limit; the
    // while step fails and its on_completion is still taken.
    let host = Arc::new(MemoryHost::default());
    let mut pb = while_playbook("__n__:value < 3");
    if let Some(muster_cacao::model::WorkflowStep::Action(a)) = pb.workflow.get_mut(&id("action", 3)) {
        a.commands[0].command = Some("set:__n__=__n__:value".into());
    }
    let config = EngineConfig { max_loop_iterations: 5, ..EngineConfig::default() };
    let out = Engine::new(Arc::clone(&host), config).run(&pb, &BTreeMap::new(), &Cancellation::new()).await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(host.commands().iter().filter(|c| *c == "set:__n__=0").count(), 5);
    let w = host
        .records()
        .into_iter()
        .find(|r| r.workflow_step == id("while-condition", 2) && r.status.is_terminal())
        .unwrap();
    assert_eq!(w.status, ExecutionStatus::Failed);
    assert!(w.status_text.unwrap().contains("exceeded 5 iterations"));

    // A body that changes the variable ends the loop normally.
    let host = Arc::new(MemoryHost::default());
    let mut pb = while_playbook("__n__:value != 1");
    if let Some(muster_cacao::model::WorkflowStep::Action(a)) = pb.workflow.get_mut(&id("action", 3)) {
        a.commands[0].command = Some("set:__n__=1".into());
    }
    let out = run(&host, &pb).await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(host.commands(), vec!["set:__n__=1", "noop"]);
    assert_eq!(out.variables["__n__"].value, Some(json!("1")));
}

#[tokio::test(start_paused = true)]
async fn switch_condition_picks_the_matching_case_or_default() {
    for (value, expect) in [("linux", "ssh"), ("windows", "winrm"), ("mac", "fallback")] {
        let host = Arc::new(MemoryHost::default());
        let pb = playbook(
            1,
            json!({"__os__": {"type": "string", "value": value}}),
            steps(vec![
                (id("start", 1), json!({"type": "start", "on_completion": id("switch-condition", 2)})),
                (
                    id("switch-condition", 2),
                    json!({"type": "switch-condition", "switch": "__os__:value",
                "cases": {"linux": id("action", 3), "windows": id("action", 4), "default": id("action", 5)},
                "on_completion": id("end", 9)}),
                ),
                (id("action", 3), action(&["ssh"], &id("end", 8))),
                (id("action", 4), action(&["winrm"], &id("end", 8))),
                (id("action", 5), action(&["fallback"], &id("end", 8))),
                end(8),
                end(9),
            ]),
        );
        assert_eq!(run(&host, &pb).await.status, RunStatus::Completed);
        assert_eq!(host.commands(), vec![expect]);
    }
}

/// A branch action whose failure is not handled, so it fails its branch.
fn branch_action(command: &str, end: u32) -> Value {
    let mut a = action(&[command], &id("end", end));
    a.as_object_mut().unwrap().remove("on_completion");
    a["on_success"] = json!(id("end", end));
    a
}

fn parallel_playbook(first: &str, second: &str) -> Playbook {
    playbook(
        1,
        json!({}),
        steps(vec![
            (id("start", 1), json!({"type": "start", "on_completion": id("parallel", 2)})),
            (
                id("parallel", 2),
                json!({"type": "parallel", "next_steps": [id("action", 3), id("action", 4)],
            "on_success": id("action", 5), "on_failure": id("action", 6)}),
            ),
            (id("action", 3), branch_action(first, 7)),
            (id("action", 4), branch_action(second, 8)),
            (id("action", 5), action(&["joined"], &id("end", 9))),
            (id("action", 6), action(&["rollback"], &id("end", 9))),
            end(7),
            end(8),
            end(9),
        ]),
    )
}

#[tokio::test(start_paused = true)]
async fn parallel_branches_run_concurrently_and_join() {
    let host = Arc::new(MemoryHost::default());
    let t0 = tokio::time::Instant::now();
    let out = run(&host, &parallel_playbook("sleep:1000", "sleep:1000")).await;
    let elapsed = t0.elapsed();
    assert_eq!(out.status, RunStatus::Completed);
    assert!(elapsed < std::time::Duration::from_millis(1500), "branches ran one after the other: {elapsed:?}");
    assert_eq!(host.commands().last().unwrap(), "joined");

    let host = Arc::new(MemoryHost::default());
    run(&host, &parallel_playbook("sleep:10", "fail")).await;
    assert_eq!(host.commands().last().unwrap(), "rollback");
    assert!(!host.commands().contains(&"joined".to_owned()));
}

#[tokio::test(start_paused = true)]
async fn a_manual_step_that_is_never_completed_times_out() {
    let host = Arc::new(MemoryHost::default());
    let mut a2 = action(&["manual:never"], "");
    a2.as_object_mut().unwrap().remove("on_completion");
    a2["timeout"] = json!(500);
    a2["on_success"] = json!(id("end", 9));
    a2["on_failure"] = json!(id("action", 3));
    let pb = playbook(
        1,
        json!({}),
        steps(vec![(id("action", 2), a2), (id("action", 3), action(&["escalate"], &id("end", 9))), end(9)]),
    );
    let t0 = tokio::time::Instant::now();
    assert_eq!(run(&host, &pb).await.status, RunStatus::Completed);
    assert!(t0.elapsed() >= std::time::Duration::from_millis(500));
    let rec =
        host.records().into_iter().find(|r| r.workflow_step == id("action", 2) && r.status.is_terminal()).unwrap();
    assert_eq!(rec.status, ExecutionStatus::TimeoutError);
    assert!(!rec.automated_execution);
    assert_eq!(host.commands(), vec!["never", "escalate"]);
}

#[tokio::test(start_paused = true)]
async fn a_manual_step_completed_with_out_args_feeds_the_next_step() {
    let host = Arc::new(MemoryHost::default());
    host.manual_answers.lock().unwrap().insert("__approved__".into(), json!("true"));
    let mut a2 = action(&["manual:approve blocking?"], &id("if-condition", 3));
    a2["out_args"] = json!(["__approved__"]);
    let pb = playbook(
        1,
        json!({"__approved__": {"type": "bool", "value": "false"}}),
        steps(vec![
            (id("action", 2), a2),
            (
                id("if-condition", 3),
                json!({"type": "if-condition", "condition": "__approved__:value",
            "on_true": id("action", 4), "on_completion": id("end", 9)}),
            ),
            (id("action", 4), action(&["block"], &id("end", 8))),
            end(8),
            end(9),
        ]),
    );
    assert_eq!(run(&host, &pb).await.status, RunStatus::Completed);
    assert_eq!(host.commands(), vec!["approve blocking?", "block"]);
}

#[tokio::test(start_paused = true)]
async fn step_delay_waits_before_the_step() {
    let host = Arc::new(MemoryHost::default());
    let mut a2 = action(&["late"], &id("end", 9));
    a2["delay"] = json!(2000);
    let pb = playbook(1, json!({}), steps(vec![(id("action", 2), a2), end(9)]));
    let t0 = tokio::time::Instant::now();
    run(&host, &pb).await;
    assert!(t0.elapsed() >= std::time::Duration::from_millis(2000));
}

fn child_playbook() -> Playbook {
    let mut a2 = action(&["lookup __host__:value", "set:__verdict__=malicious"], &id("end", 9));
    a2["out_args"] = json!(["__verdict__"]);
    playbook(
        77,
        json!({
            "__host__": {"type": "string", "external": true},
            "__verdict__": {"type": "string", "value": ""}
        }),
        steps(vec![(id("action", 2), a2), end(9)]),
    )
}

#[tokio::test(start_paused = true)]
async fn playbook_action_passes_in_args_and_returns_out_args() {
    let host = Arc::new(MemoryHost::default());
    let child = child_playbook();
    host.library.lock().unwrap().insert(child.id.clone(), child.clone());
    let pb = playbook(
        1,
        json!({
            "__host__": {"type": "string", "value": "ws-17"},
            "__verdict__": {"type": "string", "value": "unknown"}
        }),
        steps(vec![
            (id("start", 1), json!({"type": "start", "on_completion": id("playbook-action", 2)})),
            (
                id("playbook-action", 2),
                json!({"type": "playbook-action", "playbook_id": child.id,
            "in_args": ["__host__"], "out_args": ["__verdict__"], "on_completion": id("action", 3)}),
            ),
            (id("action", 3), action(&["report __verdict__:value"], &id("end", 9))),
            end(9),
        ]),
    );
    let out = run(&host, &pb).await;
    assert_eq!(out.status, RunStatus::Completed);
    assert_eq!(host.commands(), vec!["lookup ws-17", "set:__verdict__=malicious", "report malicious"]);
    assert!(host.records().iter().any(|r| r.playbook_id == child.id));
}

#[tokio::test(start_paused = true)]
async fn recursive_playbook_action_stops_at_the_depth_limit() {
    let host = Arc::new(MemoryHost::default());
    let pb = playbook(
        1,
        json!({}),
        steps(vec![
            (id("start", 1), json!({"type": "start", "on_completion": id("playbook-action", 2)})),
            (
                id("playbook-action", 2),
                json!({"type": "playbook-action",
            "playbook_id": "playbook--00000000-0000-4000-8000-000000000001", "on_completion": id("end", 9)}),
            ),
            end(9),
        ]),
    );
    host.library.lock().unwrap().insert(pb.id.clone(), pb.clone());
    let config = EngineConfig { max_playbook_depth: 3, ..EngineConfig::default() };
    let out = Engine::new(Arc::clone(&host), config).run(&pb, &BTreeMap::new(), &Cancellation::new()).await.unwrap();
    // on_completion is taken even on failure, so the top level completes; the innermost refused.
    assert_eq!(out.status, RunStatus::Completed);
    let refused: Vec<_> = host
        .records()
        .into_iter()
        .filter(|r| r.status_text.as_deref().is_some_and(|t| t.contains("nesting exceeds 3")))
        .collect();
    assert_eq!(refused.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_the_run_and_no_later_step_starts() {
    let host = Arc::new(MemoryHost::default());
    let pb = playbook(
        1,
        json!({}),
        steps(vec![
            (id("action", 2), action(&["sleep:10000"], &id("action", 3))),
            (id("action", 3), action(&["after"], &id("end", 9))),
            end(9),
        ]),
    );
    let cancel = Cancellation::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        c2.cancel();
    });
    let out = engine(&host).run(&pb, &BTreeMap::new(), &cancel).await.unwrap();
    assert_eq!(out.status, RunStatus::Cancelled);
    assert_eq!(host.commands(), vec!["sleep:10000"]);
    let last = host.records().pop().unwrap();
    assert_eq!(last.status_text.as_deref(), Some("cancelled"));
}

fn three_steps() -> Playbook {
    let mut a2 = action(&["set:__ticket__=T-1"], &id("action", 3));
    a2["out_args"] = json!(["__ticket__"]);
    playbook(
        1,
        json!({"__ticket__": {"type": "string", "value": ""}}),
        steps(vec![
            (id("action", 2), a2),
            (id("action", 3), action(&["update __ticket__:value"], &id("action", 4))),
            (id("action", 4), action(&["close __ticket__:value"], &id("end", 9))),
            end(9),
        ]),
    )
}

#[tokio::test(start_paused = true)]
async fn resume_after_a_crash_does_not_rerun_completed_steps() {
    let host = Arc::new(MemoryHost::default());
    let pb = three_steps();
    // start (2 records) + action 2 (2) + action 3 ongoing (1): crash while finishing action 3.
    *host.crash_after.lock().unwrap() = Some(5);
    let err = engine(&host).run(&pb, &BTreeMap::new(), &Cancellation::new()).await.unwrap_err();
    assert!(matches!(err, RunError::Persist(_)));
    assert_eq!(host.commands(), vec!["set:__ticket__=T-1", "update T-1"]);

    let records = host.records();
    let execution_id = records[0].execution_id;
    *host.crash_after.lock().unwrap() = None;
    let out = engine(&host).resume(&pb, &BTreeMap::new(), execution_id, records, &Cancellation::new()).await.unwrap();
    assert_eq!(out.status, RunStatus::Completed);
    // action 2 completed and is replayed (its variable too); action 3 was in flight and runs again.
    assert_eq!(host.commands(), vec!["set:__ticket__=T-1", "update T-1", "update T-1", "close T-1"]);
    assert_eq!(out.variables["__ticket__"].value, Some(json!("T-1")));
}

#[tokio::test(start_paused = true)]
async fn resume_can_mark_the_interrupted_step_instead_of_rerunning_it() {
    let host = Arc::new(MemoryHost::default());
    let pb = three_steps();
    *host.crash_after.lock().unwrap() = Some(5);
    let _ = engine(&host).run(&pb, &BTreeMap::new(), &Cancellation::new()).await;
    let records = host.records();
    *host.crash_after.lock().unwrap() = None;
    let config = EngineConfig { rerun_interrupted: false, ..EngineConfig::default() };
    let out = Engine::new(Arc::clone(&host), config)
        .resume(&pb, &BTreeMap::new(), records[0].execution_id, records, &Cancellation::new())
        .await
        .unwrap();
    assert!(matches!(out.status, RunStatus::Interrupted(_)));
    assert_eq!(host.commands().len(), 2, "nothing ran again");
    assert_eq!(
        host.records().last().unwrap().status_text.as_deref(),
        Some("interrupted: the engine stopped while this step ran")
    );
}

#[tokio::test(start_paused = true)]
async fn external_variables_are_the_only_inputs_and_are_typed() {
    let host = Arc::new(MemoryHost::default());
    let pb = playbook(
        1,
        json!({
            "__ip__": {"type": "ipv4-addr", "external": true},
            "__fixed__": {"type": "string", "value": "x"}
        }),
        steps(vec![(id("action", 2), action(&["block __ip__:value"], &id("end", 9))), end(9)]),
    );
    let e = engine(&host);
    let none = BTreeMap::new();
    assert!(matches!(e.run(&pb, &none, &Cancellation::new()).await, Err(RunError::Input { .. })));
    let bad = BTreeMap::from([("__ip__".to_owned(), json!("not-an-ip"))]);
    assert!(matches!(e.run(&pb, &bad, &Cancellation::new()).await, Err(RunError::Input { .. })));
    let not_external = BTreeMap::from([("__ip__".to_owned(), json!("10.0.0.1")), ("__fixed__".to_owned(), json!("y"))]);
    assert!(matches!(e.run(&pb, &not_external, &Cancellation::new()).await, Err(RunError::Input { .. })));
    assert!(host.commands().is_empty());
    let good = BTreeMap::from([("__ip__".to_owned(), json!("10.0.0.1"))]);
    assert_eq!(e.run(&pb, &good, &Cancellation::new()).await.unwrap().status, RunStatus::Completed);
    assert_eq!(host.commands(), vec!["block 10.0.0.1"]);
}

#[tokio::test(start_paused = true)]
async fn an_invalid_playbook_is_refused_and_nothing_runs() {
    let host = Arc::new(MemoryHost::default());
    let mut pb = playbook(1, json!({}), steps(vec![(id("action", 2), action(&["x"], &id("end", 9))), end(9)]));
    if let Some(muster_cacao::model::WorkflowStep::Action(a)) = pb.workflow.get_mut(&id("action", 2)) {
        a.common.on_completion = Some(id("action", 2));
    }
    let err = engine(&host).run(&pb, &BTreeMap::new(), &Cancellation::new()).await.unwrap_err();
    assert!(matches!(err, RunError::Invalid(_)), "{err}");
    assert!(host.commands().is_empty() && host.records().is_empty());
}
