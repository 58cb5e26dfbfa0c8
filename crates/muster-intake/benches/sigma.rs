//! Sigma detection throughput on one core: SigmaHQ's shared rule set (19 rules)
//! over a mix of raw events — the 10 Windows regression events (each matches
//! one rule) and the Zeek conn/dns/notice logs (match nothing) — with the
//! record id varied so every event and alert is distinct.

use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use muster_intake::ParseOptions;
use muster_intake::sigma::{EventSource, RuleSet};

fn sigma() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/samples/sigma"))
}

fn base_events() -> (Vec<String>, Vec<String>) {
    let mut windows = Vec::new();
    let root = sigma().join("regression_data/rules/windows/process_creation");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&root).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for d in dirs {
        for f in std::fs::read_dir(&d).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())) {
            if f.extension().is_some_and(|e| e == "json") {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&f).unwrap_or_default()).unwrap_or_default();
                windows.push(v.to_string());
            }
        }
    }
    let zeek =
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/samples/zeek/elastic-beats-json"));
    let mut other = Vec::new();
    for f in ["connection-json.log", "dns-json.log", "notice-json.log"] {
        let text = std::fs::read_to_string(zeek.join(f)).unwrap_or_default();
        other.extend(text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned));
    }
    (windows, other)
}

/// `n` events, half Windows (matching), half Zeek (not matching), each distinct.
fn events(n: usize) -> Vec<Vec<u8>> {
    let (windows, other) = base_events();
    assert!(!windows.is_empty() && !other.is_empty(), "samples missing under {}", sigma().display());
    (0..n)
        .map(|i| {
            if i % 2 == 0 {
                let w = &windows[(i / 2) % windows.len()];
                w.replacen("\"EventRecordID\":", &format!("\"EventRecordID\":{}", i + 1), 1).into_bytes()
            } else {
                let z = &other[(i / 2) % other.len()];
                z.replacen('{', &format!("{{\"seq\":{i},"), 1).into_bytes()
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::load_dir(&sigma().join("rules")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rules.rule_count(), 19, "{:?}", rules.report().errors);
    let evs = events(10_000);
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    let none = EventSource::default();
    let raised: usize = evs.iter().map(|e| rules.evaluate(e, &none, &options).map(|a| a.len()).unwrap_or(0)).sum();
    assert_eq!(raised, evs.len() / 2, "every Windows event raises one alert, no Zeek event does");
    let mut g = c.benchmark_group("sigma");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("evaluate_shared_rules_half_matching", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for e in &evs {
                if let Ok(a) = rules.evaluate(std::hint::black_box(e), &none, &options) {
                    n += a.len();
                }
            }
            n
        });
    });
    let quiet: Vec<&Vec<u8>> = evs.iter().skip(1).step_by(2).collect();
    g.throughput(Throughput::Elements(quiet.len() as u64));
    g.bench_function("evaluate_shared_rules_no_match", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for e in &quiet {
                if let Ok(a) = rules.evaluate(std::hint::black_box(e), &none, &options) {
                    n += a.len();
                }
            }
            n
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
