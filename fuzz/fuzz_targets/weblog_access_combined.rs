#![no_main]
//! Fuzz the access-line parser with the combined formats (Apache and nginx).
use std::sync::OnceLock;

use halfopen_weblog::{LogFormat, RequestLine, unescape};

static FORMATS: OnceLock<Vec<LogFormat>> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let formats = FORMATS.get_or_init(|| {
        [
            "combined",
            "combined_debian",
            "vhost_combined",
            "nginx_combined",
        ]
        .iter()
        .filter_map(|n| LogFormat::preset(n))
        .collect()
    });
    for f in formats {
        if let Ok(r) = f.parse(data) {
            if let Some(q) = r.request {
                let _ = unescape(q.raw);
                let _ = RequestLine::parse(q.raw);
            }
            for i in 0..r.field_count() {
                let _ = r.field(i);
            }
        }
    }
});
