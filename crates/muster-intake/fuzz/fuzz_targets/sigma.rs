#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use muster_intake::ParseOptions;
use muster_intake::sigma::{EventSource, RuleSet};

/// SigmaHQ's shared rules (or `MUSTER_SIGMA_RULES`), else one inline rule.
fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let dir = std::env::var_os("MUSTER_SIGMA_RULES").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../../shared/data/samples/sigma/rules"))
        });
        RuleSet::load_dir(&dir).unwrap_or_else(|_| {
            let rule = "title: t\nlogsource: {category: process_creation}\ndetection:\n  sel:\n    CommandLine|contains|windash: ' -enc '\n    Image|endswith: '\\powershell.exe'\n  condition: sel\n";
            RuleSet::from_sources([(PathBuf::from("inline.yml"), rule.to_owned())])
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    let _ = rules().evaluate(data, &EventSource::default(), &options);
});
