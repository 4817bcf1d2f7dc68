#![no_main]
//! Fuzz the error-log parser (Apache 2.2/2.4, nginx, syslog-wrapped).
use halfopen_weblog::error_log;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(r) = error_log::parse_with(data, 3600) {
        let _ = r.known();
    }
});
