//! Suricata EVE alert parse + normalise throughput on one core. Records are
//! the real sample alerts with the source address varied, so every record
//! (and fingerprint) is distinct.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use muster_intake::ParseOptions;
use muster_intake::parse::suricata;

fn records(n: usize) -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/samples/suricata-eve/wazuh-engine-4x-tests/alert_input.txt"
    );
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut path2 = text.clone();
    path2.push_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/samples/suricata-eve/elastic-beats/eve-metadata.log"
        ))
        .unwrap_or_default(),
    );
    let base: Vec<&str> = path2.lines().filter(|l| l.contains("\"event_type\":\"alert\"")).collect();
    assert!(!base.is_empty(), "samples missing: {path}");
    (0..n)
        .map(|i| {
            let line = base[i % base.len()];
            let ip = format!("\"src_ip\":\"10.{}.{}.{}\"", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let mut v = String::with_capacity(line.len() + 16);
            let start = line.find("\"src_ip\":\"").unwrap_or(0);
            let end = line[start + 10..].find('"').map_or(start, |e| start + 10 + e + 1);
            v.push_str(&line[..start]);
            v.push_str(&ip);
            v.push_str(&line[end..]);
            v.into_bytes()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let recs = records(10_000);
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    for r in &recs {
        if let Err(e) = suricata::parse(r, &options) {
            panic!("bench record does not parse: {e}");
        }
    }
    let mut g = c.benchmark_group("suricata_eve");
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function("parse_normalise_alert", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &recs {
                if let Ok(a) = suricata::parse(std::hint::black_box(r), &options) {
                    n += a.observables.len();
                }
            }
            n
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
