#![no_main]
//! Parses the input as one ipmon line; a parsed record is rendered, parsed again, and the
//! second render must equal the first (render is the inverse of parse on its own output).

use halfopen_fwlog::formats::ipmon;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(rec) = ipmon::parse(data) else {
        return;
    };
    let mut first = Vec::new();
    ipmon::render(&rec, &mut first);
    let Ok(again) = ipmon::parse(&first) else {
        panic!(
            "rendered line does not parse: {:?}",
            String::from_utf8_lossy(&first)
        );
    };
    let mut second = Vec::new();
    ipmon::render(&again, &mut second);
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "render is not stable"
    );
});
