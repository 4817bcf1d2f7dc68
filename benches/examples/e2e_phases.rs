//! Times the end-to-end analysis of the `end_to_end` bench's input (all of it happens in
//! `Analyzer::finish`: parsing, tracking, correlation, verdicts, report) outside criterion,
//! as a profiling aid: `cargo run --release -p halfopen-benches --example e2e_phases -- [MB]
//! [THREADS]` (`THREADS`: `halfopen::Options::threads`, default as the analyzer decides).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use halfopen_benches::end_to_end::{analyze_with_threads, generate};

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let threads: Option<usize> = std::env::args().nth(2).and_then(|v| v.parse().ok());
    let inputs = generate(mb << 20, 42);
    for _ in 0..3 {
        let (fw, acc) = (inputs.firewall.clone(), inputs.access.clone());
        let (t0, cpu0, main0) = (
            Instant::now(),
            cpu_seconds("self"),
            cpu_seconds("thread-self"),
        );
        let r = analyze_with_threads(fw, acc, threads);
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds("self") - cpu0;
        let main = cpu_seconds("thread-self") - main0;
        let bytes = (inputs.firewall.len() + inputs.access.len()) as f64;
        println!(
            "{secs:.3} s ({cpu:.2} s of CPU, {main:.2} s on the calling thread): {} connections, {:.0} MB/s",
            r.connections_total,
            bytes / secs / 1e6
        );
    }
}

/// CPU time (user + system) so far of the whole process (`self`) or of the calling thread
/// (`thread-self`), from `/proc/.../stat` (Linux; 0 elsewhere), in seconds: with the wall
/// time it tells how busy the cores were, and how much of it the thread that tracks the
/// connections (the calling one) did.
fn cpu_seconds(of: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{of}/stat")).unwrap_or_default();
    // The fields after the command name (in brackets, which may hold spaces).
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let field = |i: usize| {
        after
            .split_whitespace()
            .nth(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name; in ticks.
    (field(11) + field(12)) / 100.0
}
