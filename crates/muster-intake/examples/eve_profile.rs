//! Parses the EVE bench records in a loop, for profilers that count
//! instructions (`valgrind --tool=callgrind`), where criterion's timing loop
//! gets in the way. `cargo run --release --example eve_profile -- [records] [rounds]`.

use std::time::Instant;

use muster_intake::ParseOptions;
use muster_intake::parse::suricata;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/samples/suricata-eve");

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().unwrap_or(0));
    let n = args.next().unwrap_or(10_000).max(1);
    let rounds = args.next().unwrap_or(1).max(1);
    let mut text = String::new();
    for f in ["wazuh-engine-4x-tests/alert_input.txt", "elastic-beats/eve-metadata.log"] {
        text.push_str(&std::fs::read_to_string(format!("{SAMPLES}/{f}")).unwrap_or_default());
    }
    let base: Vec<&str> = text.lines().filter(|l| l.contains("\"event_type\":\"alert\"")).collect();
    assert!(!base.is_empty(), "samples missing under {SAMPLES}");
    // Same records as benches/parse.rs: the source address varied per record.
    let records: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let line = base[i % base.len()];
            let start = line.find("\"src_ip\":\"").unwrap_or(0);
            let end = line[start + 10..].find('"').map_or(start, |e| start + 10 + e + 1);
            format!(
                "{}\"src_ip\":\"10.{}.{}.{}\"{}",
                &line[..start],
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255,
                &line[end..]
            )
            .into_bytes()
        })
        .collect();
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    let started = Instant::now();
    let mut observables = 0usize;
    for _ in 0..rounds {
        for r in &records {
            if let Ok(a) = suricata::parse(std::hint::black_box(r), &options) {
                observables += a.observables.len();
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let total = n * rounds;
    #[allow(clippy::cast_precision_loss)]
    let rate = total as f64 / secs;
    println!("{total} records in {secs:.3} s: {rate:.0} records/s ({observables} observables)");
}
