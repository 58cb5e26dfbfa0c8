//! Every example playbook whose workflow is a dictionary parses into the typed
//! model and serialises back to the same JSON value: nothing, including custom
//! and extension properties, is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use muster_cacao::Playbook;
use serde_json::{Value, json};

#[test]
fn every_example_playbook_round_trips_unchanged() {
    let mut checked = 0;
    for path in common::example_playbooks() {
        let original: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        if !original["workflow"].is_object() {
            continue; // legacy array form, rejected by validation instead
        }
        let pb: Playbook =
            serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let back = serde_json::to_value(&pb).unwrap();
        assert_eq!(back, original, "{} changed on round trip", path.display());
        checked += 1;
    }
    assert!(checked >= 18, "only {checked} playbooks checked");
}

#[test]
fn unknown_extension_properties_survive_at_every_level() {
    let doc = json!({
        "type": "playbook", "spec_version": "cacao-2.0",
        "id": "playbook--11111111-1111-4111-8111-111111111111", "name": "x",
        "created_by": "identity--11111111-1111-4111-8111-111111111112",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
        "x_top": {"a": 1},
        "workflow_start": "start--11111111-1111-4111-8111-111111111113",
        "workflow": {
            "start--11111111-1111-4111-8111-111111111113": {
                "type": "start", "x_step": [1, 2],
                "on_completion": "action--11111111-1111-4111-8111-111111111114"
            },
            "action--11111111-1111-4111-8111-111111111114": {
                "type": "action", "agent": "individual--11111111-1111-4111-8111-111111111116",
                "commands": [{"type": "manual", "command": "look", "x_cmd": true}],
                "step_variables": {"__v__": {"type": "string", "value": null, "x_var": "k"}},
                "on_completion": "end--11111111-1111-4111-8111-111111111115"
            },
            "end--11111111-1111-4111-8111-111111111115": {"type": "end"}
        },
        "agent_definitions": {
            "individual--11111111-1111-4111-8111-111111111116": {
                "type": "individual", "name": "n", "x_agent": 3,
                "contact": {"email": {"work": "a@b.example"}, "x_contact": 1}
            }
        }
    });
    let pb: Playbook = serde_json::from_value(doc.clone()).unwrap();
    assert_eq!(pb.extra["x_top"], json!({"a": 1}));
    assert_eq!(serde_json::to_value(&pb).unwrap(), doc);
}
