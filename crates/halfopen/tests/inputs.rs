//! Inputs read through `halfopen_fwlog::reader::LineReader`: over-long lines (also among the
//! first lines used for format detection) are reported with their line and byte offset.

use std::io::Cursor;

use halfopen::{Analyzer, Options};

#[test]
fn over_long_lines_are_reported_with_line_and_offset() {
    let good = "Mar  1 18:49:05 web kernel: ipfw: 100 Accept TCP 45.76.87.206:58896 116.58.172.107:80 in via em0\n";
    let long = format!("Mar  1 18:49:06 web kernel: {}\n", "x".repeat(300));
    let fw = format!("{good}{long}{good}");
    let mut a = Analyzer::new(Options {
        year: Some(2026),
        max_line_len: 200,
        ..Options::default()
    });
    a.add_firewall("ipfw.log", Cursor::new(fw.into_bytes()));
    let r = a.finish();
    assert_eq!(r.skipped_lines_total, 1, "{:?}", r.skipped_lines);
    let s = &r.skipped_lines[0];
    assert_eq!((s.line, s.offset), (2, good.len() as u64));
    assert!(
        s.error.contains("longer than the 200-byte cap"),
        "{}",
        s.error
    );
    assert_eq!(r.inputs[0].lines, 3);
    assert_eq!(r.inputs[0].skipped, 1);
}

#[test]
fn a_missing_path_is_an_error_naming_the_file() {
    let mut a = Analyzer::new(Options::default());
    let e = a
        .add_path(
            halfopen::Source::Firewall,
            std::path::Path::new("/nonexistent/ipfw.log"),
        )
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ipfw.log"), "{e}");
}
