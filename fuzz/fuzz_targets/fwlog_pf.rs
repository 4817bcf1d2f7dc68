#![no_main]
//! Parses the input as one pf line; a parsed record is rendered, parsed again, and the
//! second render must equal the first (render is the inverse of parse on its own output).

use halfopen_fwlog::formats::pf;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(rec) = pf::parse(data) else {
        return;
    };
    let mut first = Vec::new();
    pf::render(&rec, &mut first);
    let Ok(again) = pf::parse(&first) else {
        panic!(
            "rendered line does not parse: {:?}",
            String::from_utf8_lossy(&first)
        );
    };
    let mut second = Vec::new();
    pf::render(&again, &mut second);
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "render is not stable"
    );
});
