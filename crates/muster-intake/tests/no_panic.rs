//! Property tests: no parser, the syslog splitter, the framer or the batch
//! reader panics on arbitrary bytes, or on real sample lines with bytes
//! flipped, cut or inserted.

mod common;

use muster_intake::batch::{Limits, read_batch};
use muster_intake::parse::shadowserver;
use muster_intake::{Format, framing, parse_record, syslog};
use proptest::prelude::*;

fn seeds() -> Vec<Vec<u8>> {
    let files = [
        "suricata-eve/wazuh-engine-4x-tests/alert_input.txt",
        "suricata-eve/elastic-beats/eve-metadata.log",
        "wazuh/alerts/EXTRACTED-alerts-valid.jsonl",
        "cef/elastic-beats/decode_cef-samples.log",
        "leef/tenzir/leef1.log",
        "leef/EXTRACTED-wazuh-panda-paps.leef",
    ];
    files
        .iter()
        .flat_map(|f| {
            common::read(f).split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect::<Vec<_>>()
        })
        .collect()
}

fn all_formats(bytes: &[u8]) {
    let o = common::options();
    let _ = parse_record(bytes, None, &o);
    for f in Format::ALL {
        let _ = parse_record(bytes, Some(*f), &o);
    }
    let _ = shadowserver::parse_report("scan_ssh.csv", bytes, &o);
    if let Ok(s) = std::str::from_utf8(bytes) {
        let _ = syslog::parse(s, 2024);
    }
    let _ = framing::split_all(bytes, 64);
    let limits = Limits { max_record: 256, ..Limits::default() };
    let _ = read_batch(bytes, None, None, &o, limits);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        all_formats(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,300}") {
        all_formats(s.as_bytes());
        let cef = format!("CEF:0|{s}");
        all_formats(cef.as_bytes());
        let leef = format!("LEEF:2.0|{s}");
        all_formats(leef.as_bytes());
    }

    #[test]
    fn mutated_samples_never_panic(
        pick in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let seeds = seeds();
        let mut line = seeds[pick.index(seeds.len())].clone();
        for (at, byte, op) in edits {
            if line.is_empty() { break; }
            let i = at.index(line.len());
            match op {
                0 => line[i] = byte,
                1 => line.truncate(i),
                _ => line.insert(i, byte),
            }
        }
        all_formats(&line);
        let mut arr = b"[".to_vec();
        arr.extend_from_slice(&line);
        all_formats(&arr);
    }
}
