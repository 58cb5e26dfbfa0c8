#![no_main]

use libfuzzer_sys::fuzz_target;
use muster_intake::ParseOptions;

fuzz_target!(|data: &[u8]| {
    let options = ParseOptions::new(time::OffsetDateTime::UNIX_EPOCH);
    if let Ok(alert) = muster_intake::intelmq::parse(data, &options) {
        // Export must always produce an event that imports again.
        let event = muster_intake::intelmq::export(&alert);
        let json = serde_json_bytes(&event);
        let _ = muster_intake::intelmq::parse(&json, &options);
    }
});

fn serde_json_bytes(e: &muster_intake::intelmq::Event) -> Vec<u8> {
    format!("{}", serde_json::Value::Object(e.clone())).into_bytes()
}
