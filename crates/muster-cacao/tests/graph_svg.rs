//! The workflow graph as SVG: reviewed snapshots for example playbooks and one
//! of ours with every step type; the output parses as XML, draws every step
//! once, escapes names and refuses to draw huge workflows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use muster_cacao::Playbook;
use muster_cacao::graph::{MAX_STEPS, to_svg};
use serde_json::{Value, json};

fn example(name: &str) -> Playbook {
    let path = common::example_playbooks().into_iter().find(|p| common::file_name(p) == name).unwrap();
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn id(kind: &str, n: u32) -> String {
    format!("{kind}--00000000-0000-4000-8000-{n:012}")
}

fn ours(workflow: Value) -> Playbook {
    serde_json::from_value(json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--00000000-0000-4000-8000-000000000001", "name": "Contain <host> & \"notify\"",
        "created_by": "identity--00000000-0000-4000-8000-0000000000ff",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "workflow_start": id("start", 1),
        "workflow_exception": id("end", 98),
        "workflow": workflow,
    }))
    .unwrap()
}

/// Every step type, every edge kind, a loop and a long edge.
fn every_step_type() -> Playbook {
    let act = |name: &str, next: &str| {
        json!({"type": "action", "name": name, "on_completion": next,
        "commands": [{"type": "manual", "command": "look"}]})
    };
    ours(json!({
        id("start", 1): {"type": "start", "name": "Start", "on_completion": id("if-condition", 2)},
        id("if-condition", 2): {"type": "if-condition", "name": "Host <known>?", "condition": "[a:b = 'x']",
            "on_true": id("action", 3), "on_false": id("switch-condition", 4), "on_completion": id("parallel", 5)},
        id("action", 3): {"type": "action", "name": "Block \"ip\" & <port>", "on_success": id("end", 99),
            "on_failure": id("end", 98), "commands": [{"type": "manual", "command": "block"}]},
        id("switch-condition", 4): {"type": "switch-condition", "name": "OS", "switch": "__os__:value",
            "cases": {"linux": id("action", 6), "windows": id("playbook-action", 7), "default": id("end", 99)}},
        id("parallel", 5): {"type": "parallel", "name": "Notify all", "next_steps": [id("action", 8), id("action", 9)],
            "on_completion": id("while-condition", 10)},
        id("action", 6): act("Isolate linux host", &id("end", 99)),
        id("playbook-action", 7): {"type": "playbook-action", "name": "Windows containment playbook",
            "playbook_id": "playbook--00000000-0000-4000-8000-000000000002", "on_completion": id("end", 99)},
        id("action", 8): act("Mail CSIRT", &id("end", 97)),
        id("action", 9): act("Page on-call", &id("end", 97)),
        id("end", 97): {"type": "end", "name": "Branch end"},
        id("while-condition", 10): {"type": "while-condition", "name": "Until clean", "condition": "[a:b = 'y']",
            "on_true": id("action", 11), "on_completion": id("end", 99)},
        id("action", 11): act("Rescan", &id("while-condition", 10)),
        id("end", 98): {"type": "end", "name": "Exception"},
        id("end", 99): {"type": "end", "name": "Done"},
    }))
}

/// Parses `svg` as XML and returns the `data-step` of every step group.
fn drawn_steps(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}\n{svg}"));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants().filter_map(|n| n.attribute("data-step").map(str::to_owned)).collect()
}

fn assert_every_step_once(pb: &Playbook, svg: &str) {
    let mut drawn = drawn_steps(svg);
    drawn.sort();
    let expected: Vec<String> = pb.workflow.keys().cloned().collect();
    assert_eq!(drawn, expected);
}

#[test]
fn example_playbooks_draw_as_reviewed() {
    for name in [
        "flow-control.json",
        "parallels_playbook.json",
        "layout-extension-playbook--aa1898b6-5251-49b4-aeb7-fd5e912583ff.json",
    ] {
        let pb = example(name);
        let svg = to_svg(&pb);
        assert_every_step_once(&pb, &svg);
        let snapshot = name.split("--").next().unwrap().trim_end_matches(".json").to_owned();
        insta::assert_snapshot!(snapshot, svg);
    }
}

#[test]
fn every_step_type_draws_with_labelled_edges_as_reviewed() {
    let pb = every_step_type();
    let svg = to_svg(&pb);
    assert_every_step_once(&pb, &svg);
    for class in [
        "step-start",
        "step-end",
        "step-action",
        "step-playbook-action",
        "step-parallel",
        "step-if-condition",
        "step-while-condition",
        "step-switch-condition",
    ] {
        assert!(svg.contains(&format!("class=\"step {class}\"")), "{class}");
    }
    for label in [">true<", ">false<", ">linux<", ">windows<", ">branch 1<", ">loop<", ">failure<", ">success<"] {
        assert!(svg.contains(label), "edge label {label}");
    }
    insta::assert_snapshot!("every_step_type", svg);
}

#[test]
fn the_drawing_is_deterministic() {
    let pb = every_step_type();
    assert_eq!(to_svg(&pb), to_svg(&pb.clone()));
}

#[test]
fn names_are_escaped_for_html() {
    let svg = to_svg(&every_step_type());
    assert!(svg.contains("Block &quot;ip&quot; &amp; &lt;port&gt;"), "{svg}");
    assert!(svg.contains("Contain &lt;host&gt; &amp; &quot;notify&quot;"));
    assert!(!svg.contains("<port>") && !svg.contains("<host>") && !svg.contains("<known>"));
    // The text of every element reads back as the original name.
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert!(doc.descendants().any(|n| n.text() == Some("Block \"ip\" & <port>")));
}

#[test]
fn a_huge_workflow_gets_a_too_large_picture() {
    let mut workflow = serde_json::Map::new();
    workflow.insert(id("start", 1), json!({"type": "start", "on_completion": id("action", 2)}));
    let n = u32::try_from(MAX_STEPS).unwrap() + 10;
    for i in 2..n {
        let next = if i + 1 == n { id("end", 9_999_999) } else { id("action", i + 1) };
        workflow.insert(
            id("action", i),
            json!({"type": "action", "on_completion": next, "commands": [{"type": "manual", "command": "x"}]}),
        );
    }
    workflow.insert(id("end", 9_999_999), json!({"type": "end"}));
    let svg = to_svg(&ours(Value::Object(workflow)));
    assert!(svg.contains("too large to draw"), "{svg}");
    assert!(drawn_steps(&svg).is_empty());
}

#[test]
fn a_long_chain_within_the_limit_draws_without_overflowing_the_stack() {
    let mut workflow = serde_json::Map::new();
    workflow.insert(id("start", 1), json!({"type": "start", "on_completion": id("action", 2)}));
    let n = u32::try_from(MAX_STEPS).unwrap() - 1;
    for i in 2..n {
        let next = if i + 1 == n { id("end", 9_999_999) } else { id("action", i + 1) };
        workflow.insert(
            id("action", i),
            json!({"type": "action", "on_completion": next, "on_failure": id("action", 2),
                   "commands": [{"type": "manual", "command": "x"}]}),
        );
    }
    workflow.insert(id("end", 9_999_999), json!({"type": "end"}));
    let pb = ours(Value::Object(workflow));
    let svg = to_svg(&pb);
    assert_every_step_once(&pb, &svg);
}
