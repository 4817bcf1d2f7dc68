//! Times the end-to-end analysis of the `end_to_end` bench's input (all of it happens in
//! `Analyzer::finish`: parsing, tracking, correlation, verdicts, report) outside criterion,
//! as a profiling aid: `cargo run --release -p halfopen-benches --example e2e_phases -- [MB]`.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use halfopen_benches::end_to_end::{analyze, generate};

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let inputs = generate(mb << 20, 42);
    for _ in 0..3 {
        let (fw, acc) = (inputs.firewall.clone(), inputs.access.clone());
        let t0 = Instant::now();
        let r = analyze(fw, acc);
        let secs = t0.elapsed().as_secs_f64();
        let bytes = (inputs.firewall.len() + inputs.access.len()) as f64;
        println!(
            "{secs:.3} s: {} connections, {:.0} MB/s",
            r.connections_total,
            bytes / secs / 1e6
        );
    }
}
