#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for frame in muster_intake::framing::split_all(data, 4096).into_iter().flatten() {
        if let Ok(s) = std::str::from_utf8(&frame) {
            let _ = muster_intake::syslog::parse(s, 2024);
        }
    }
});
