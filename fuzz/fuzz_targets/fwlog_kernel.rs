#![no_main]
//! Reads the input as one kernel message line (Linux "Possible SYN flooding", FreeBSD
//! `sonewconn` listen-queue overflows): never panics, and what it reads is in the line (the
//! uptime stamp, the port of a SYN-flooding message, counts that the line spells out).

use halfopen_fwlog::kernel::{KernelEvent, parse};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some(m) = parse(data) else { return };
    match m.event {
        KernelEvent::SynFlooding { port, .. } => {
            let p = port.to_string();
            assert!(data.windows(p.len()).any(|w| w == p.as_bytes()), "port {p} not in the line");
        }
        KernelEvent::ListenQueueOverflow { queued, occurrences, .. } => {
            for n in [queued, occurrences].into_iter().flatten() {
                let t = n.to_string();
                assert!(data.windows(t.len()).any(|w| w == t.as_bytes()), "{t} not in the line");
            }
        }
    }
});
