#![no_main]
//! Splits the input into lines and runs format detection, the syslog splitter and the
//! line reader on it (plain and as a gzip stream): nothing may panic.

use halfopen_fwlog::reader::LineReader;
use halfopen_fwlog::{detect, parse_line, syslog};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|c| *c == b'\n').take(64).collect();
    if let Ok(format) = detect(&lines) {
        for l in &lines {
            let _ = parse_line(format, l);
        }
    }
    for l in &lines {
        let _ = syslog::split(l);
    }
    let mut r = LineReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())), "fuzz")
        .with_max_line_len(64);
    let mut n = 0u64;
    while let Some(l) = r.next_line() {
        n += 1;
        if let Ok(l) = l {
            assert_eq!(l.number, n);
        }
    }
});
