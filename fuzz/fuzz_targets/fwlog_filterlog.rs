#![no_main]
//! Parses the input as one filterlog line; a parsed record is rendered, parsed again, and the
//! second render must equal the first (render is the inverse of parse on its own output).

use halfopen_fwlog::formats::filterlog;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(rec) = filterlog::parse(data) else {
        return;
    };
    let mut first = Vec::new();
    filterlog::render(&rec, &mut first);
    let Ok(again) = filterlog::parse(&first) else {
        panic!(
            "rendered line does not parse: {:?}",
            String::from_utf8_lossy(&first)
        );
    };
    let mut second = Vec::new();
    filterlog::render(&again, &mut second);
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "render is not stable"
    );
});
