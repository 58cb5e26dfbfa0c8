//! Helpers shared by the integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;

/// `shared/data/cacao`, read in place (never copied into the repository).
pub fn cacao_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/cacao"))
}

/// Every example JSON file (playbooks and common objects), sorted.
pub fn example_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![cacao_data().join("examples")];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).unwrap();
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Example playbooks only (files whose top-level `type` is `playbook`).
pub fn example_playbooks() -> Vec<PathBuf> {
    example_files()
        .into_iter()
        .filter(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            v.get("type").and_then(|t| t.as_str()) == Some("playbook")
        })
        .collect()
}

pub fn file_name(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}
