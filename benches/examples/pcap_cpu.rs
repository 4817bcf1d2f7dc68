//! The `pcap` bench's capture loops timed by the CPU time of this thread
//! (`/proc/thread-self/schedstat`, Linux) as well as by the wall clock: on a shared machine
//! the CPU time moves much less with the load than the wall time.
//!
//! `cargo run --release -p halfopen-benches --example pcap_cpu -- MODE [ITERATIONS]`,
//! MODE one of `read`, `table`, `payload`, `prefix`, `classify` (see `benches/pcap.rs`).
//! Prints the median of the iterations. `HALFOPEN_BENCH_EVENTS` sets the packets (1 000 000).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use halfopen_benches::pcap::{Prefixes, capture_to_table, capture_with_prefixes, render_pcap_http};
use halfopen_benches::tcp::connections;
use halfopen_tcp::pcap::PacketReader;

/// Nanoseconds this thread has run on a CPU.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "table".into());
    let iters: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(11);
    let n = std::env::var("HALFOPEN_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let pcap: &'static [u8] = Vec::leak(render_pcap_http(&connections(n, 7)));
    let run = || match mode.as_str() {
        "read" => {
            let r = PacketReader::new(std::io::Cursor::new(pcap)).unwrap();
            black_box(r.filter_map(Result::ok).count());
        }
        "table" => {
            black_box(capture_to_table(pcap));
        }
        "payload" => {
            black_box(capture_with_prefixes(pcap, Prefixes::Off));
        }
        "prefix" => {
            black_box(capture_with_prefixes(pcap, Prefixes::Store));
        }
        "classify" => {
            black_box(capture_with_prefixes(pcap, Prefixes::Classify));
        }
        other => panic!("unknown mode {other}"),
    };
    run();
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    for _ in 0..iters {
        let (c0, w0) = (cpu_ns(), Instant::now());
        run();
        cpu.push(cpu_ns() - c0);
        wall.push(w0.elapsed().as_nanos() as u64);
    }
    cpu.sort_unstable();
    wall.sort_unstable();
    let mbps = |ns: u64| pcap.len() as f64 / (ns as f64 / 1e9) / 1e6;
    println!(
        "{mode}: {} MB, CPU time median {:.1} ms = {:.0} MB/s (min-max {:.0}-{:.0}); wall median {:.0} MB/s",
        pcap.len() / 1_000_000,
        cpu[iters / 2] as f64 / 1e6,
        mbps(cpu[iters / 2]),
        mbps(cpu[iters - 1]),
        mbps(cpu[0]),
        mbps(wall[iters / 2]),
    );
}
