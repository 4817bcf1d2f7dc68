//! TCP benchmarks: events per second through the flow table (SYN flood, ordinary
//! connections), pcap reading, memory per tracked flow, and a constant-memory check with a
//! large spoofed SYN flood.
//!
//! Sizes: `HALFOPEN_BENCH_EVENTS` (default 1 000 000) events per iteration,
//! `HALFOPEN_BENCH_FLOOD` (default 10 000 000) SYNs for the one-shot flood run.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group};
use halfopen_benches::tcp::{Rng, connections, flood_syn, render_pcap, syn_flood};
use halfopen_tcp::pcap::PacketReader;
use halfopen_tcp::{Config, FlowTable};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench(c: &mut Criterion) {
    let n = env_usize("HALFOPEN_BENCH_EVENTS", 1_000_000);
    let flood = syn_flood(n, 7);
    let conns = connections(n, 11);
    let mut g = c.benchmark_group("tcp");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("syn_flood_cap_100k", |b| {
        b.iter(|| {
            let mut t = FlowTable::new(Config {
                max_flows: 100_000,
                ..Config::default()
            });
            for e in &flood {
                t.observe(e);
                while let Some(c) = t.pop_finished() {
                    black_box(c);
                }
            }
            black_box(t.stats().evicted_half_open)
        });
    });
    g.bench_function("connections", |b| {
        b.iter(|| {
            let mut t = FlowTable::new(Config::default());
            for e in &conns {
                t.observe(e);
                while let Some(c) = t.pop_finished() {
                    black_box(c);
                }
            }
            t.finish();
            black_box(t.len())
        });
    });
    let pcap = render_pcap(&conns);
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.bench_function("pcap_read", |b| {
        b.iter(|| {
            let r = PacketReader::new(std::io::Cursor::new(pcap.clone())).unwrap();
            black_box(r.filter_map(Result::ok).count())
        });
    });
    g.finish();
}

/// Fills a table with distinct SYN-only flows and reports bytes per flow; then pushes a
/// large spoofed flood through a capped table and reports that memory stays constant.
fn memory_and_flood() {
    for flows in [100_000usize, 1_000_000] {
        let mut t = FlowTable::new(Config {
            max_flows: flows,
            ..Config::default()
        });
        let mut rng = Rng::new(3);
        for i in 0..flows as u64 {
            t.observe(&flood_syn(&mut rng, i));
        }
        eprintln!(
            "memory: {} flows tracked, slot {} B, table {} B = {} B/flow",
            t.len(),
            FlowTable::ipv4_slot_bytes(),
            t.memory_bytes(),
            t.memory_bytes() / t.len().max(1)
        );
    }
    let n = env_usize("HALFOPEN_BENCH_FLOOD", 10_000_000) as u64;
    let cap = halfopen_tcp::DEFAULT_MAX_FLOWS;
    let mut t = FlowTable::new(Config {
        max_flows: cap,
        ..Config::default()
    });
    let mut rng = Rng::new(5);
    let mut peak_mem = 0usize;
    let start = Instant::now();
    for i in 0..n {
        t.observe(&flood_syn(&mut rng, i));
        while let Some(c) = t.pop_finished() {
            black_box(c);
        }
        if i % 1_000_000 == 0 {
            peak_mem = peak_mem.max(t.memory_bytes());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    peak_mem = peak_mem.max(t.memory_bytes());
    let s = t.stats();
    eprintln!(
        "flood: {n} spoofed SYNs, cap {cap}: {:.2} s, {:.1} M events/s (incl. generation), \
         {} tracked at end, peak {}, evicted half-open {}, timed out {}, table memory peak {} MB",
        secs,
        n as f64 / secs / 1e6,
        t.len(),
        s.peak_flows,
        s.evicted_half_open,
        s.timed_out,
        peak_mem / 1_000_000
    );
}

criterion_group!(benches, bench);

fn main() {
    memory_and_flood();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
