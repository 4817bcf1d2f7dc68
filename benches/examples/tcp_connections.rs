//! Quick timing of ordinary connections through the flow table outside criterion (a
//! profiling aid for `perf record`, the `tcp/connections*` benches' work alone):
//! `cargo run --release -p halfopen-benches --example tcp_connections -- N REPEAT [MODE]`.
//! MODE `batch`: `observe_batch` of 1024 and `drain_finished`, as `tcp/connections_batch`;
//! `steady`: a table warmed with 15 s of traffic, then `N x REPEAT` more events of the same
//! stream, as `tcp/connections_steady` (only those are timed).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use halfopen_benches::tcp::{BATCH, connections, feed, steady_table};
use halfopen_tcp::{Config, FlowTable};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let repeat: usize = args.next().and_then(|v| v.parse().ok()).unwrap_or(10);
    let mode = args.next().unwrap_or_default();
    let mut ended = 0u64;
    let s = if mode == "steady_chunked" {
        let (mut t, mut stream) = steady_table(11);
        let mut evs = Vec::with_capacity(BATCH);
        let mut spent = std::time::Duration::ZERO;
        for _ in 0..(n * repeat) / BATCH {
            evs.clear();
            stream.fill(&mut evs, BATCH);
            let start = Instant::now();
            ended += feed(&mut t, &evs, false);
            spent += start.elapsed();
        }
        spent.as_secs_f64()
    } else if mode == "steady" {
        let (mut t, mut stream) = steady_table(11);
        let mut evs = Vec::new();
        stream.fill(&mut evs, n * repeat);
        let start = Instant::now();
        ended += feed(&mut t, &evs, false);
        start.elapsed().as_secs_f64()
    } else {
        let batch = mode == "batch";
        let evs = connections(n, 11);
        let start = Instant::now();
        for _ in 0..repeat {
            // As the bench: a fresh table, `observe` + `pop_finished` per event (or
            // batches), then `finish`.
            let mut t = FlowTable::new(Config::default());
            ended += feed(&mut t, &evs, batch);
            t.finish();
            ended += t.drain_finished(|c| {
                black_box(c);
            }) as u64;
        }
        start.elapsed().as_secs_f64()
    };
    println!(
        "{} events x {repeat} in {s:.3} s = {:.2} M events/s, {ended} connections ended",
        n,
        (n * repeat) as f64 / s / 1e6
    );
}
