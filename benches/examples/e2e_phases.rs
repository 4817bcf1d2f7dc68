//! Times the phases of the end-to-end analysis (the `end_to_end` bench's input): adding the
//! firewall log, adding the access log, and `finish` (correlation, verdicts, report), for
//! profiling: `cargo run --release -p halfopen-benches --example e2e_phases -- [MB]`.
#![allow(clippy::print_stdout)]

use std::io::Cursor;
use std::time::Instant;

use halfopen::{Analyzer, Options};
use halfopen_benches::end_to_end::generate;

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let inputs = generate(mb << 20, 42);
    for _ in 0..3 {
        let (fw, acc) = (inputs.firewall.clone(), inputs.access.clone());
        let t0 = Instant::now();
        let mut a = Analyzer::new(Options {
            year: Some(2026),
            ..Options::default()
        });
        a.add_firewall("ipfw.log", Cursor::new(fw));
        a.add_access("access.log", Cursor::new(acc));
        let t1 = Instant::now();
        let r = a.finish();
        let t2 = Instant::now();
        println!(
            "add {:.3} s, finish {:.3} s, total {:.3} s: {} connections, {} MB/s",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t2 - t0).as_secs_f64(),
            r.connections_total,
            ((inputs.firewall.len() + inputs.access.len()) as f64 / (t2 - t0).as_secs_f64() / 1e6)
                as u64
        );
    }
}
