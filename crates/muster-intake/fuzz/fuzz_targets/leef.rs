#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_intake::ParseOptions;

fuzz_target!(|data: &[u8]| {
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    let _ = muster_intake::parse::leef::parse(data, &options);
});
