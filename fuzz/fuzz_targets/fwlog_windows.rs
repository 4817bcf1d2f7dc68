#![no_main]
//! Parses the input as one pfirewall.log line (standard layout); when the input has two
//! lines, the first is compiled as a `#Fields:` header and the second parsed with it.
//! A parsed record is rendered, parsed again, and the second render must equal the first.

use halfopen_fwlog::formats::windows::{self, WindowsFields};

fn check(fields: &WindowsFields, line: &[u8]) {
    let Ok(rec) = windows::parse_with(fields, line) else {
        return;
    };
    let mut first = Vec::new();
    windows::render_with(fields, &rec, &mut first);
    let Ok(again) = windows::parse_with(fields, &first) else {
        panic!(
            "rendered line does not parse: {:?}",
            String::from_utf8_lossy(&first)
        );
    };
    let mut second = Vec::new();
    windows::render_with(fields, &again, &mut second);
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "render is not stable"
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(rec) = windows::parse(data) {
        let mut out = Vec::new();
        windows::render(&rec, &mut out);
        let _ = windows::parse(&out);
    }
    if let Some(i) = data.iter().position(|&b| b == b'\n') {
        if let Ok(fields) = WindowsFields::compile(&data[..i]) {
            check(&fields, &data[i + 1..]);
        }
    } else {
        check(&WindowsFields::default(), data);
    }
});
