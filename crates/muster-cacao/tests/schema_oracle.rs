//! The official CACAO JSON schemas (draft-07, loaded in place from
//! `shared/data/cacao/schemas`) as an oracle: they give each example the
//! verdict the README states, our validator rejects everything they reject,
//! and every playbook we serialise passes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use jsonschema::{Draft, Retrieve, Uri, Validator};
use serde_json::Value;

const BASE: &str = "https://raw.githubusercontent.com/oasis-open/cacao-json-schemas/main/schemas/";

struct LocalSchemas(PathBuf);

impl Retrieve for LocalSchemas {
    fn retrieve(&self, uri: &Uri<&str>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let rel = uri.as_str().strip_prefix(BASE).ok_or_else(|| format!("no local copy of {}", uri.as_str()))?;
        let rel = rel.split('#').next().unwrap_or(rel);
        Ok(serde_json::from_slice(&std::fs::read(self.0.join(rel))?)?)
    }
}

fn validator() -> Validator {
    let dir = common::cacao_data().join("schemas");
    let schema: Value = serde_json::from_slice(&std::fs::read(dir.join("playbook.json")).unwrap()).unwrap();
    jsonschema::options().with_draft(Draft::Draft7).with_retriever(LocalSchemas(dir)).build(&schema).unwrap()
}

fn schema_errors(v: &Validator, doc: &Value) -> usize {
    v.iter_errors(doc).count()
}

/// Schema verdicts from the README table: these four fail the schema, all other playbooks pass.
const SCHEMA_INVALID: &[&str] = &[
    "layout-extension-playbook--aa1898b6-5251-49b4-aeb7-fd5e912583ff.json",
    "fin-playbook.json",
    "invalid_playbook.json",
    "changed-playbook.json",
];

#[test]
fn schemas_give_each_example_the_readme_verdict() {
    let v = validator();
    for path in common::example_playbooks() {
        let name = common::file_name(&path);
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let n = schema_errors(&v, &doc);
        if SCHEMA_INVALID.contains(&name.as_str()) {
            assert!(n > 0, "{name} should fail the schema");
        } else {
            assert_eq!(n, 0, "{name} should pass the schema");
        }
        if name.starts_with("layout-extension") {
            assert_eq!(n, 9, "the README counts 9 schema errors");
        }
    }
}

#[test]
fn our_validator_rejects_everything_the_schema_rejects() {
    let v = validator();
    for path in common::example_playbooks() {
        let bytes = std::fs::read(&path).unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        if schema_errors(&v, &doc) > 0 {
            assert!(
                !muster_cacao::validate(&bytes).is_valid(),
                "{} fails the schema but passed our validator",
                path.display()
            );
        }
    }
}

#[test]
fn every_playbook_we_serialise_passes_the_schema() {
    let v = validator();
    let mut exported = 0;
    for path in common::example_playbooks() {
        let bytes = std::fs::read(&path).unwrap();
        let Ok((pb, _)) = muster_cacao::validate::parse(&bytes, &Default::default()) else {
            continue;
        };
        let out = serde_json::to_value(&pb).unwrap();
        let errors: Vec<String> = v.iter_errors(&out).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        exported += 1;
    }
    assert!(exported >= 15);
}
