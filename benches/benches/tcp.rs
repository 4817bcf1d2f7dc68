//! TCP benchmarks: events per second through the flow table (spoofed SYN flood in its
//! steady state, one thread and sharded over two, from a pre-made event array or fed as a
//! parser would; ordinary connections, from a fresh table and in a long run's steady
//! state), pcap reading,
//! memory per tracked flow for both tables (SYN cache, hash map), and a constant-memory
//! check with a large spoofed SYN flood.
//!
//! Sizes: `HALFOPEN_BENCH_EVENTS` (default 1 000 000) events per iteration,
//! `HALFOPEN_BENCH_FLOOD` (default 10 000 000) SYNs for the one-shot flood run.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use halfopen_benches::tcp::{
    BATCH, Rng, connections, feed, flood_syn, render_pcap, split, steady_table, syn_flood,
};
use halfopen_tcp::pcap::PacketReader;
use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn table(cap: usize) -> FlowTable {
    FlowTable::new(Config {
        max_flows: cap,
        ..Config::default()
    })
}

/// Steady-state flood: tables filled to their cap before timing; each iteration feeds
/// the next of `rounds` chunks of `n` new spoofed SYNs (every one evicts an attempt).
fn flood_steady(c: &mut Criterion, n: usize) {
    let rounds = 3;
    let mut g = c.benchmark_group("tcp/syn_flood_steady");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    for cap in [100_000usize, halfopen_tcp::DEFAULT_MAX_FLOWS] {
        let all = syn_flood(cap + rounds * n, 9);
        let (fill, rest) = all.split_at(cap);
        let chunks: Vec<&[Event]> = rest.chunks(n).collect();
        for (mode, batch) in [("one", false), ("batch", true)] {
            let mut t = table(cap);
            feed(&mut t, fill, true);
            let mut i = 0usize;
            g.bench_function(BenchmarkId::new(mode, cap), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(feed(&mut t, chunks[i % chunks.len()], batch));
                        i += 1;
                    }
                    start.elapsed()
                });
            });
        }
        // As a parser feeds the table: each event made (timed) in a reused buffer of `BATCH`
        // that stays in cache, then `observe_batch` and `drain_finished`. The events come
        // from the same generator, continuing after the ones above (all new flows).
        {
            let mut t = table(cap);
            feed(&mut t, fill, true);
            let mut rng = Rng::new(0xfeed);
            let mut next = (cap + rounds * n) as u64;
            let mut buf: Vec<Event> = Vec::with_capacity(BATCH);
            g.bench_function(BenchmarkId::new("parser_fed", cap), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut left = n;
                        while left > 0 {
                            buf.clear();
                            for _ in 0..left.min(BATCH) {
                                buf.push(flood_syn(&mut rng, next));
                                next += 1;
                            }
                            left -= buf.len();
                            t.observe_batch(&buf);
                            black_box(t.drain_finished(|c| {
                                black_box(c);
                            }));
                        }
                    }
                    start.elapsed()
                });
            });
        }
        // Two threads, the flow table sharded by connection hash (cap/2 each); the split
        // of the stream is done before timing (a parser thread per shard would do it).
        let fill_s = split(fill, 2);
        let chunks_s: Vec<Vec<Vec<Event>>> = chunks.iter().map(|c| split(c, 2)).collect();
        let mut ts = [table(cap / 2), table(cap - cap / 2)];
        for (t, f) in ts.iter_mut().zip(&fill_s) {
            feed(t, f, true);
        }
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("batch_2_threads", cap), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    let parts = &chunks_s[i % chunks_s.len()];
                    std::thread::scope(|s| {
                        for (t, evs) in ts.iter_mut().zip(parts) {
                            s.spawn(move || black_box(feed(t, evs, true)));
                        }
                    });
                    i += 1;
                }
                start.elapsed()
            });
        });
    }
    g.finish();
}

fn bench(c: &mut Criterion) {
    let n = env_usize("HALFOPEN_BENCH_EVENTS", 1_000_000);
    flood_steady(c, n);
    let flood = syn_flood(n, 7);
    let conns = connections(n, 11);
    let mut g = c.benchmark_group("tcp");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("syn_flood_cap_100k", |b| {
        b.iter(|| {
            let mut t = table(100_000);
            black_box(feed(&mut t, &flood, false));
            black_box(t.stats().evicted_half_open)
        });
    });
    // `observe` per event, and the same fed as a parser feeds it (`observe_batch` of `BATCH`
    // and `drain_finished`).
    for (name, batch) in [("connections", false), ("connections_batch", true)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut t = FlowTable::new(Config::default());
                black_box(feed(&mut t, &conns, batch));
                t.finish();
                black_box(t.len())
            });
        });
    }
    // A long run's steady state: the table has seen 15 s of traffic before timing (more
    // than the 10 s closing linger), so connections end, are reported and free their slots
    // as fast as new ones come; each iteration feeds the next `n` events of the same
    // endless stream, made outside the timed part: all `n` at once into one 120 MB buffer
    // (`connections_steady`), or `BATCH` at a time into a reused buffer as a parser hands
    // them over, so they come from the cache (`connections_steady_chunked`). Each chunk is
    // timed through `observe` + `pop_finished` per event.
    for (name, chunk) in [
        ("connections_steady", n),
        ("connections_steady_chunked", BATCH),
    ] {
        let (mut t, mut stream) = steady_table(11);
        let mut buf = Vec::with_capacity(chunk);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let mut left = n;
                    while left > 0 {
                        let m = left.min(chunk.max(1));
                        left -= m;
                        buf.clear();
                        stream.fill(&mut buf, m);
                        let start = Instant::now();
                        black_box(feed(&mut t, &buf, false));
                        spent += start.elapsed();
                    }
                }
                spent
            });
        });
    }
    let parts = split(&conns, 2);
    g.bench_function("connections_2_threads", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for evs in &parts {
                    s.spawn(move || {
                        let mut t = FlowTable::new(Config::default());
                        black_box(feed(&mut t, evs, false));
                        t.finish();
                        black_box(t.len())
                    });
                }
            });
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

/// Bytes per tracked flow, for SYN-only flows (the SYN cache) and for established
/// flows (the hash map); then a large spoofed flood through a capped table, checking that
/// memory stays constant.
fn memory_and_flood() {
    eprintln!(
        "memory: SYN cache slot {} B, hash-map slot {} B",
        FlowTable::syn_cache_slot_bytes(),
        FlowTable::ipv4_slot_bytes()
    );
    for flows in [100_000usize, 1_000_000] {
        let mut t = table(flows);
        let mut rng = Rng::new(3);
        for i in 0..flows as u64 {
            t.observe(&flood_syn(&mut rng, i));
        }
        eprintln!(
            "memory: {} SYN-only flows tracked ({} in the SYN cache, capacity {}), table {} B = {} B/flow",
            t.len(),
            t.syn_cache_len(),
            t.syn_cache_capacity(),
            t.memory_bytes(),
            t.memory_bytes() / t.len().max(1)
        );
        let mut t = table(flows);
        let server = std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));
        for i in 0..flows as u32 {
            let c = std::net::IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 | i));
            let ts = i64::from(i);
            t.observe(&Event::new(ts, c, 40000, server, 443).with_flags(TcpFlags::SYN));
            t.observe(
                &Event::new(ts, server, 443, c, 40000).with_flags(TcpFlags::SYN | TcpFlags::ACK),
            );
            t.observe(&Event::new(ts, c, 40000, server, 443).with_flags(TcpFlags::ACK));
        }
        eprintln!(
            "memory: {} established flows tracked ({} in the SYN cache), table {} B = {} B/flow",
            t.len(),
            t.syn_cache_len(),
            t.memory_bytes(),
            t.memory_bytes() / t.len().max(1)
        );
    }
    let n = env_usize("HALFOPEN_BENCH_FLOOD", 10_000_000) as u64;
    let cap = halfopen_tcp::DEFAULT_MAX_FLOWS;
    let mut t = table(cap);
    let mut rng = Rng::new(5);
    let mut peak_mem = 0usize;
    let mut mem_at_1m = 0usize;
    let start = Instant::now();
    let mut buf = Vec::with_capacity(BATCH);
    let mut i = 0u64;
    while i < n {
        buf.clear();
        while buf.len() < BATCH && i < n {
            buf.push(flood_syn(&mut rng, i));
            i += 1;
        }
        t.observe_batch(&buf);
        t.drain_finished(|c| {
            black_box(c);
        });
        if i % (1 << 20) < BATCH as u64 {
            peak_mem = peak_mem.max(t.memory_bytes());
            if mem_at_1m == 0 && i >= 1 << 20 {
                mem_at_1m = t.memory_bytes();
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    peak_mem = peak_mem.max(t.memory_bytes());
    let s = t.stats();
    eprintln!(
        "flood: {n} spoofed SYNs, cap {cap}: {:.2} s, {:.2} M events/s (incl. generation), \
         {} tracked at end ({} in the SYN cache), peak {}, evicted half-open {}, timed out {}, \
         table memory after 1 Mi SYNs {} B, peak {} B, at end {} B = {} B/flow",
        secs,
        n as f64 / secs / 1e6,
        t.len(),
        t.syn_cache_len(),
        s.peak_flows,
        s.evicted_half_open,
        s.timed_out,
        mem_at_1m,
        peak_mem,
        t.memory_bytes(),
        t.memory_bytes() / t.len().max(1)
    );
}

criterion_group!(benches, bench);

fn main() {
    memory_and_flood();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
