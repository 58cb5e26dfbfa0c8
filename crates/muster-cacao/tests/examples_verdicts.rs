//! Every example playbook gets the verdict that `shared/data/README.md`
//! ("Notes for test authors") states, for the reason it states.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use muster_cacao::validate::{Options, Strictness, validate_with};
use muster_cacao::{Report, validate};

/// (file name, expected error: (JSON pointer fragment, message fragment)); `None` = valid.
const TABLE: &[(&str, Option<(&str, &str)>)] = &[
    ("basic-example-1.json", None),
    ("spec-3.1-example.json", None),
    ("locky-bart-mbc-examples.json", None),
    (
        "layout-extension-playbook--aa1898b6-5251-49b4-aeb7-fd5e912583ff.json",
        Some(("/workflow/action--", "requires at least one command")),
    ),
    ("http-playbook.json", None),
    ("ssh-playbook.json", None),
    ("powershell-playbook.json", None),
    ("openc2-playbook.json", None),
    ("manual-playbook.json", None),
    (
        "fin-playbook.json",
        Some(("/workflow/action--2fd6bca0-24ed-4d74-8eae-da126a84f7c4/agent", "is not an identifier")),
    ),
    ("playbook.json", None),
    ("parallels_playbook.json", None),
    ("integration-api-routes-playbook.json", None),
    (
        "invalid_playbook.json",
        Some(("/agent_definitions/http-api--7e9174ec-a293-43df-a72d-471c79e276bf/type", "does not match")),
    ),
    (
        "missing_step_playbook.json",
        Some((
            "/workflow/action--2190f685-1857-44ac-ad0e-0ded6c6ef3ce/on_completion",
            "end--6b23c237-ade8-4d00-9aa1-75999738d558 does not exist",
        )),
    ),
    (
        "infinite_playbook.json",
        Some(("/workflow/action--6b23c237-ade8-4d00-9aa1-75999738d557/on_completion", "loop without a guard")),
    ),
    (
        "invalid_email_playbook.json",
        Some((
            "/agent_definitions/individual--6b23a237-ade8-4d00-9aa1-75999732d557/contact/email/work",
            "not a valid e-mail",
        )),
    ),
    ("changed-playbook.json", Some(("/workflow", "invalid type"))),
    ("basic-step.json", None),
    ("consecutive-steps.json", None),
    ("flow-control.json", None),
    ("used-response.json", None),
    ("ssh-kms-playbook.json", None),
];

fn show(r: &Report) -> String {
    r.errors.iter().map(|e| format!("\n  {e}")).collect()
}

#[test]
fn every_example_playbook_gets_the_verdict_the_readme_states() {
    let files = common::example_playbooks();
    assert_eq!(files.len(), TABLE.len(), "the table covers every example playbook");
    for path in files {
        let name = common::file_name(&path);
        let (_, expected) =
            TABLE.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("{name} is not in the table"));
        let report = validate(&std::fs::read(&path).unwrap());
        match expected {
            None => assert!(report.is_valid(), "{name} should be valid:{}", show(&report)),
            Some((at, msg)) => assert!(
                report.errors.iter().any(|e| e.path.starts_with(at) && e.message.contains(msg)),
                "{name} should fail at {at} with '{msg}', got:{}",
                show(&report)
            ),
        }
    }
}

#[test]
fn layout_extension_example_has_the_nine_errors_the_schema_finds() {
    let path = common::cacao_data()
        .join("examples/oasis-tcs-cacao/layout-extension-playbook--aa1898b6-5251-49b4-aeb7-fd5e912583ff.json");
    let report = validate(&std::fs::read(path).unwrap());
    assert_eq!(report.errors.len(), 9, "{}", show(&report));
    let agents = report.errors.iter().filter(|e| e.message.contains("requires an agent")).count();
    let switch = report.errors.iter().filter(|e| e.message.contains("requires switch")).count();
    assert_eq!((agents, switch), (4, 1));
}

#[test]
fn unresolved_agents_are_warnings_for_documents_and_errors_for_execution() {
    // The OASIS Locky Bart example names a target it does not define.
    let path = common::cacao_data().join("examples/oasis-tcs-cacao/locky-bart-mbc-examples.json");
    let json = std::fs::read(path).unwrap();
    let doc = validate(&json);
    assert!(doc.is_valid());
    assert!(doc.warnings.iter().any(|w| w.message.contains("not in target_definitions")));
    let run = validate_with(&json, &Options { strictness: Strictness::Execution, ..Options::default() });
    assert!(run.errors.iter().any(|e| e.path.contains("/targets/0")));
}

#[test]
fn a_stix_identity_is_not_a_playbook() {
    let path = common::cacao_data().join("examples/oasis-tcs-cacao/identity-object.json");
    assert!(!validate(&std::fs::read(path).unwrap()).is_valid());
}
