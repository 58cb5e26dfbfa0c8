#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_intake::ParseOptions;
use muster_intake::batch::{Limits, read_batch};

fuzz_target!(|data: &[u8]| {
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    let limits = Limits { max_record: 4096, max_records: 1000, max_input: 1 << 20 };
    let _ = read_batch(data, None, Some("scan_ssh.csv"), &options, limits);
});
