//! Validation rules on small playbooks built here, and bad input: each gives a
//! located error, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use muster_cacao::validate;
use muster_cacao::validate::{Limits, Options, validate_with};
use serde_json::{Value, json};

const START: &str = "start--00000000-0000-4000-8000-000000000001";
const ACT: &str = "action--00000000-0000-4000-8000-000000000002";
const END: &str = "end--00000000-0000-4000-8000-000000000003";
const AGENT: &str = "individual--00000000-0000-4000-8000-000000000004";

fn base() -> Value {
    json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--00000000-0000-4000-8000-000000000000", "name": "t",
        "created_by": "identity--00000000-0000-4000-8000-00000000000a",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "playbook_variables": {"__ip__": {"type": "ipv4-addr", "value": "192.0.2.1"}},
        "workflow_start": START,
        "workflow": {
            START: {"type": "start", "on_completion": ACT},
            ACT: {"type": "action", "agent": AGENT, "on_completion": END,
                  "commands": [{"type": "manual", "command": "block __ip__:value"}]},
            END: {"type": "end"}
        },
        "agent_definitions": {AGENT: {"type": "individual", "name": "analyst"}}
    })
}

fn check(doc: &Value) -> muster_cacao::Report {
    validate(&serde_json::to_vec(doc).unwrap())
}

fn has_error(doc: &Value, path: &str, msg: &str) -> bool {
    let r = check(doc);
    let found = r.errors.iter().any(|e| e.path == path && e.message.contains(msg));
    if !found {
        eprintln!("errors: {:#?}", r.errors);
    }
    found
}

#[test]
fn the_base_playbook_is_valid() {
    let r = check(&base());
    assert!(r.is_valid(), "{:?}", r.errors);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn an_undefined_variable_is_located_in_the_command() {
    let mut d = base();
    d["workflow"][ACT]["commands"][0]["command"] = json!("block __nope__:value");
    assert!(has_error(&d, &format!("/workflow/{ACT}/commands/0/command"), "__nope__"));
}

#[test]
fn a_step_variable_is_visible_only_in_its_step() {
    let mut d = base();
    d["workflow"][ACT]["commands"][0]["command"] = json!("x __local__:value");
    assert!(!check(&d).is_valid());
    d["workflow"][ACT]["step_variables"] = json!({"__local__": {"type": "string", "value": "v"}});
    assert!(check(&d).is_valid());
}

#[test]
fn a_value_that_does_not_fit_its_type_is_an_error() {
    let mut d = base();
    d["playbook_variables"]["__ip__"]["value"] = json!("999.1.1.1");
    assert!(has_error(&d, "/playbook_variables/__ip__/value", "ipv4-addr"));
}

#[test]
fn a_dangling_on_success_is_an_error() {
    let mut d = base();
    d["workflow"][ACT]["on_success"] = json!("end--00000000-0000-4000-8000-0000000000ff");
    d["workflow"][ACT].as_object_mut().unwrap().remove("on_completion");
    assert!(has_error(&d, &format!("/workflow/{ACT}/on_success"), "does not exist"));
}

#[test]
fn a_loop_with_an_if_condition_is_guarded_but_a_plain_loop_is_not() {
    let iff = "if-condition--00000000-0000-4000-8000-000000000005";
    let mut d = base();
    d["workflow"][ACT]["on_completion"] = json!(iff);
    d["workflow"][iff] = json!({"type": "if-condition", "condition": "__ip__:value = '192.0.2.1'",
        "on_true": ACT, "on_false": END, "on_completion": END});
    // on_true branch loops back to the action: guarded by the condition.
    let r = check(&d);
    assert!(!r.errors.iter().any(|e| e.message.contains("loop")), "{:?}", r.errors);
    let mut plain = base();
    plain["workflow"][ACT]["on_completion"] = json!(ACT);
    assert!(has_error(&plain, &format!("/workflow/{ACT}/on_completion"), "loop without a guard"));
}

#[test]
fn every_parallel_branch_must_reach_an_end() {
    let par = "parallel--00000000-0000-4000-8000-000000000006";
    let stray = "action--00000000-0000-4000-8000-000000000007";
    let mut d = base();
    d["workflow"][START]["on_completion"] = json!(par);
    d["workflow"][par] = json!({"type": "parallel", "next_steps": [ACT, stray], "on_completion": END});
    d["workflow"][stray] = json!({"type": "action", "agent": AGENT,
        "commands": [{"type": "manual", "command": "x"}], "on_failure": END});
    let r = check(&d);
    assert!(r.is_valid(), "{:?}", r.errors);
    d["workflow"][stray].as_object_mut().unwrap().remove("on_failure");
    assert!(has_error(&d, &format!("/workflow/{par}/next_steps"), "never reaches an end"));
}

#[test]
fn a_condition_with_bad_syntax_is_located() {
    let iff = "if-condition--00000000-0000-4000-8000-000000000005";
    let mut d = base();
    d["workflow"][START]["on_completion"] = json!(iff);
    d["workflow"][iff] = json!({"type": "if-condition", "condition": "__ip__:value = ",
        "on_true": ACT, "on_completion": END});
    assert!(has_error(&d, &format!("/workflow/{iff}/condition"), "syntax"));
}

#[test]
fn step_type_must_match_its_identifier() {
    let mut d = base();
    let step = d["workflow"][END].clone();
    d["workflow"].as_object_mut().unwrap().remove(END);
    let wrong = "action--00000000-0000-4000-8000-000000000003";
    d["workflow"][wrong] = step;
    assert!(has_error(&d, &format!("/workflow/{wrong}/type"), "cannot have the identifier"));
}

#[test]
fn invalid_json_is_a_located_error() {
    let r = validate(b"{\"type\": \"playbook\",");
    assert!(!r.is_valid());
    assert!(r.errors[0].message.contains("line 1"), "{:?}", r.errors);
}

#[test]
fn ten_thousand_deep_nesting_is_refused_without_overflow() {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let r = validate(deep.as_bytes());
    assert!(r.errors[0].message.contains("nesting deeper"), "{:?}", r.errors);
    let mut d = base();
    let mut v = json!("x");
    for _ in 0..200 {
        v = json!([v]);
    }
    d["x_deep"] = v;
    assert!(check(&d).errors[0].message.contains("nesting deeper"));
}

#[test]
fn a_document_over_the_size_limit_is_refused() {
    let options = Options { limits: Limits { max_bytes: 1000, ..Limits::default() }, ..Options::default() };
    let mut d = base();
    d["description"] = json!("x".repeat(2000));
    let r = validate_with(&serde_json::to_vec(&d).unwrap(), &options);
    assert!(r.errors[0].message.contains("limit is 1000 bytes"));
}

#[test]
fn too_many_steps_are_refused() {
    let options = Options { limits: Limits { max_steps: 3, ..Limits::default() }, ..Options::default() };
    let mut d = base();
    d["workflow"]["end--00000000-0000-4000-8000-0000000000ee"] = json!({"type": "end"});
    let r = validate_with(&serde_json::to_vec(&d).unwrap(), &options);
    assert!(r.errors.iter().any(|e| e.path == "/workflow" && e.message.contains("limit is 3")));
}
