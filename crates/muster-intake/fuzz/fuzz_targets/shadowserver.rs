#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_intake::ParseOptions;

fuzz_target!(|data: &[u8]| {
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    let _ = muster_intake::parse::shadowserver::parse_report("scan_redis.csv", data, &options);
    let _ = muster_intake::parse::shadowserver::parse_report("event4_sinkhole_http.csv", data, &options);
});
