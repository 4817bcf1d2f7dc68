//! Quick timing of the spoofed-SYN-flood path outside criterion (a profiling aid for
//! `perf record`): `cargo run --release -p halfopen-benches --example tcp_flood -- CAP N MODE`
//! with MODE `one` (observe + pop per event), `batch` (observe_batch of 1024, then pop
//! them) or `gen` (events made in a reused 1024-event buffer as a parser would hand them
//! over, observe_batch, drain_finished), and an optional REPEAT count.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use halfopen_benches::tcp::syn_flood;
use halfopen_tcp::{Config, FlowTable};

fn main() {
    let mut args = std::env::args().skip(1);
    let cap: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let n: usize = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000_000);
    let mode = args.next().unwrap_or_else(|| "batch".to_string());
    // Feed the timed events this many times (a profile then shows little of the generation).
    let repeat: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(1);
    let evs = syn_flood(cap + n, 7);
    let mut t = FlowTable::new(Config {
        max_flows: cap,
        ..Config::default()
    });
    // Fill the table first (untimed): the timed part is the steady state of a flood.
    t.observe_batch(&evs[..cap]);
    while t.pop_finished().is_some() {}
    let evs = &evs[cap..];
    let start = Instant::now();
    let mut popped = 0u64;
    for _ in 0..repeat {
        if mode == "one" {
            for e in evs {
                t.observe(e);
                while let Some(c) = t.pop_finished() {
                    black_box(c);
                    popped += 1;
                }
            }
        } else if mode == "gen" {
            // Events made in a reused 1024-event buffer, as a parser hands them over.
            let mut rng = halfopen_benches::tcp::Rng::new(99);
            let mut buf = Vec::with_capacity(1024);
            let mut i = (cap + n) as u64;
            for _ in 0..n.div_ceil(1024) {
                buf.clear();
                for _ in 0..1024 {
                    buf.push(halfopen_benches::tcp::flood_syn(&mut rng, i));
                    i += 1;
                }
                t.observe_batch(&buf);
                popped += t.drain_finished(|c| {
                    black_box(c);
                }) as u64;
            }
        } else {
            for chunk in evs.chunks(1024) {
                t.observe_batch(chunk);
                while let Some(c) = t.pop_finished() {
                    black_box(c);
                    popped += 1;
                }
            }
        }
    }
    let n = n * repeat;
    let s = start.elapsed().as_secs_f64();
    println!(
        "cap {cap} mode {mode}: {n} SYNs in {s:.3} s = {:.2} M events/s, {popped} ended, \
         {} tracked, {} in the SYN cache, table {} B = {} B/flow",
        n as f64 / s / 1e6,
        t.len(),
        t.syn_cache_len(),
        t.memory_bytes(),
        t.memory_bytes() / t.len().max(1)
    );
}
