#![no_main]
//! `netstat`/`ss` snapshot parsing never panics; every accepted line names a state and two
//! endpoints, and the summary counts each accepted socket once.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut accepted = 0u64;
    for line in data.split(|&b| b == b'\n') {
        if let Ok(Some(_)) = halfopen::netstat::parse_line(line.strip_suffix(b"\r").unwrap_or(line))
        {
            accepted += 1;
        }
    }
    let s = halfopen::netstat::NetstatSummary::from_bytes(data);
    assert_eq!(s.states.values().sum::<u64>(), accepted);
    assert!(s.half_open() <= accepted);
});
