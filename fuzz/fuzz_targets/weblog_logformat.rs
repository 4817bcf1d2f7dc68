#![no_main]
//! Fuzz the LogFormat / nginx log_format compilers; whatever compiles must render and parse
//! its own default rendering without panicking.
use halfopen_weblog::{AccessValues, LogFormat};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for f in [LogFormat::compile(s), LogFormat::compile_nginx(s)]
        .into_iter()
        .flatten()
    {
        let mut out = Vec::new();
        f.render(&AccessValues::default(), &mut out);
        let _ = f.parse(&out);
        let _ = f.parse(data);
    }
});
