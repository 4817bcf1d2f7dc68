//! The bounded summaries of `halfopen::sketch`: operations per second and memory.
//!
//! First a one-shot memory phase (printed to stderr): each structure filled far past its
//! bound (a 10 M-source spoofed flood through a `TopK`, 10 M distinct sources through a
//! `DistinctCount`, 3 M clients through a default `ClientSet`), with its `memory_bytes()`,
//! its stated bound and the process's resident-set growth, and the estimate errors. Then
//! criterion benchmarks of the per-item operations.
//!
//! Sizes: `HALFOPEN_BENCH_EVENTS` (default 1 000 000) items per iteration,
//! `HALFOPEN_BENCH_FLOOD` (default 10 000 000) sources for the memory phase.
#![allow(clippy::print_stderr)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use halfopen::sketch::{ClientSet, ClientSetConfig, DistinctCount, TopK};
use ipnet::IpNet;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: deterministic inputs.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn v4(&mut self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(self.next() as u32))
    }

    fn v6(&mut self) -> IpAddr {
        IpAddr::V6(Ipv6Addr::from(
            (0x2001_0db8_u128 << 96) | u128::from(self.next()),
        ))
    }
}

/// Random IPv4 sources, as a `--rand-source` flood sends them.
fn flood(n: usize, seed: u64) -> Vec<IpAddr> {
    let mut mix = Mix(seed);
    (0..n).map(|_| mix.v4()).collect()
}

/// A Zipf-like stream over `universe` sources (log-uniform ranks squared: a few heavy
/// sources, a long tail).
fn zipf(n: usize, universe: u32, seed: u64) -> Vec<IpAddr> {
    let mut mix = Mix(seed);
    (0..n)
        .map(|_| {
            let rank = f64::from(universe).powf(mix.unit().powi(2)) as u32;
            IpAddr::V4(Ipv4Addr::from(
                0x0a00_0000 ^ rank.wrapping_mul(2_654_435_761),
            ))
        })
        .collect()
}

/// Resident set size of this process, from `/proc/self/statm` (0 where unavailable).
fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn memory_phase() {
    let n = env_usize("HALFOPEN_BENCH_FLOOD", 10_000_000);

    // DistinctCount: n distinct sources (i * an odd constant is a bijection of u32).
    let mut d = DistinctCount::new();
    let start = Instant::now();
    for i in 0..n as u32 {
        d.insert(&IpAddr::V4(Ipv4Addr::from(i.wrapping_mul(2_654_435_761))));
    }
    let secs = start.elapsed().as_secs_f64();
    let distinct_truth = n as f64;
    eprintln!(
        "distinct: {n} inserts in {secs:.2} s ({:.1} M/s), {distinct_truth} distinct, estimate {:.0} \
         ({:+.3} %, standard error {:.2} %), memory {} B (bound {} B)",
        n as f64 / secs / 1e6,
        d.estimate(),
        (d.estimate() / distinct_truth - 1.0) * 100.0,
        d.relative_standard_error() * 100.0,
        d.memory_bytes(),
        DistinctCount::memory_bound(12, 1024),
    );

    // TopK: a spoofed flood of n new sources into 65 536 entries, with 3 real heavy sources.
    let capacity = 65_536;
    let rss0 = rss_bytes();
    let mut top: TopK<IpAddr, u64> = TopK::new(capacity);
    let heavy: Vec<IpAddr> = ["192.0.2.1", "198.51.100.50", "2001:db8::5"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let mut mix = Mix(2);
    let start = Instant::now();
    let mut peak = 0usize;
    for i in 0..n {
        let src = if i % 100 == 0 {
            heavy[(i / 100) % 3]
        } else {
            mix.v4()
        };
        *top.entry(src, 1) += 1;
        if i % (1 << 20) == 0 {
            peak = peak.max(top.memory_bytes());
        }
    }
    let secs = start.elapsed().as_secs_f64();
    peak = peak.max(top.memory_bytes());
    let found: Vec<String> = heavy
        .iter()
        .map(|h| {
            top.get(h)
                .map_or("missing".into(), |c| format!("{}±{}", c.count, c.error))
        })
        .collect();
    eprintln!(
        "topk: {n} sources (99 % new each time) into capacity {capacity}: {secs:.2} s ({:.2} M/s), \
         evicted {}, absent bound {} (N/capacity {}), heavy sources (true {} each) {:?}, \
         memory {} B = {:.1} MiB (peak {} B, bound {} B), RSS growth {:.1} MiB",
        n as f64 / secs / 1e6,
        top.evicted(),
        top.absent_bound(),
        top.guarantee_threshold(),
        n / 300,
        found,
        top.memory_bytes(),
        mib(top.memory_bytes()),
        peak,
        TopK::<IpAddr, u64>::memory_bound(capacity),
        mib(rss_bytes().saturating_sub(rss0)),
    );
    drop(top);

    // ClientSet, default config: 1 M IPv4 clients fill the exact set, then 2 M more (a
    // quarter IPv6) go to the Bloom filter; false positives measured on 1 M strangers.
    // Inputs are generated on the fly (the RSS growth is the set's).
    let rss0 = rss_bytes();
    let mut set = ClientSet::new();
    let mut mix = Mix(3);
    let start = Instant::now();
    for _ in 0..1_000_000 {
        set.insert(mix.v4());
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "clientset: 1 M IPv4 clients, exact, in {secs:.2} s: memory_bytes {:.1} MiB (upper \
         estimate), RSS growth {:.1} MiB",
        mib(set.memory_bytes()),
        mib(rss_bytes().saturating_sub(rss0)),
    );
    let rss6 = rss_bytes();
    let mut set6 = ClientSet::new();
    let mut mix6 = Mix(4);
    for _ in 0..1_000_000 {
        set6.insert(mix6.v6());
    }
    eprintln!(
        "clientset: 1 M IPv6 clients, exact: memory_bytes {:.1} MiB (upper estimate), RSS \
         growth {:.1} MiB",
        mib(set6.memory_bytes()),
        mib(rss_bytes().saturating_sub(rss6)),
    );
    drop(set6);
    let start = Instant::now();
    for i in 0..2_000_000 {
        let c = if i % 4 == 0 { mix.v6() } else { mix.v4() };
        set.insert(c);
    }
    let secs = start.elapsed().as_secs_f64();
    let mut again = Mix(3);
    let mut missed = 0usize;
    for i in 0..3_000_000 {
        let c = if i >= 1_000_000 && (i - 1_000_000) % 4 == 0 {
            again.v6()
        } else {
            again.v4()
        };
        missed += usize::from(!set.contains(c));
    }
    let mut strangers = Mix(99);
    let fp = (0..1_000_000)
        .filter(|_| set.contains(strangers.v4()))
        .count();
    let fp24 = (0..100_000)
        .filter(|_| set.contains_in(IpNet::new(strangers.v4(), 24).unwrap().trunc()))
        .count();
    eprintln!(
        "clientset: 2 M more (1/4 IPv6) into the filter in {secs:.2} s, false negatives {missed} \
         of 3 M, false positives {fp} of 1 M addresses ({:.4} %; filter estimate {:.4} %), /24 \
         networks answered true {fp24} of 100 000, memory {:.1} MiB (bound {:.1} MiB), RSS \
         growth {:.1} MiB",
        fp as f64 / 1e4,
        set.false_positive_rate() * 100.0,
        mib(set.memory_bytes()),
        mib(ClientSet::memory_bound(set.config())),
        mib(rss_bytes().saturating_sub(rss0)),
    );
}

fn bench(c: &mut Criterion) {
    let n = env_usize("HALFOPEN_BENCH_EVENTS", 1_000_000);
    let flood_in = flood(n, 7);
    let zipf_in = zipf(n, 1_000_000, 8);

    let mut g = c.benchmark_group("sketch/distinct");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    let few: Vec<IpAddr> = flood_in
        .iter()
        .take(1000)
        .cycle()
        .take(n)
        .copied()
        .collect();
    g.bench_function("insert_exact_1000_sources", |b| {
        b.iter(|| {
            let mut d = DistinctCount::new();
            for a in &few {
                d.insert(a);
            }
            black_box(d.count())
        });
    });
    g.bench_function("insert_hll_distinct_sources", |b| {
        b.iter(|| {
            let mut d = DistinctCount::new();
            for a in &flood_in {
                d.insert(a);
            }
            black_box(d.count())
        });
    });
    let (mut x, mut y) = (DistinctCount::new(), DistinctCount::new());
    flood_in.iter().for_each(|a| x.insert(a));
    zipf_in.iter().for_each(|a| y.insert(a));
    g.throughput(Throughput::Elements(1));
    g.bench_function("merge_two_sketches", |b| {
        b.iter(|| {
            let mut m = x.clone();
            m.merge(&y).unwrap();
            black_box(m.estimate())
        });
    });
    g.finish();

    let mut g = c.benchmark_group("sketch/topk");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    for capacity in [1024usize, 65_536] {
        // Steady state: full before timing, every source new, every entry evicts.
        let mut top: TopK<IpAddr, u64> = TopK::new(capacity);
        for a in flood(capacity, 1) {
            *top.entry(a, 1) += 1;
        }
        g.bench_function(BenchmarkId::new("flood_steady", capacity), |b| {
            b.iter(|| {
                for a in &flood_in {
                    *top.entry(*a, 1) += 1;
                }
                black_box(top.evicted())
            });
        });
        g.bench_function(BenchmarkId::new("zipf", capacity), |b| {
            b.iter(|| {
                let mut top: TopK<IpAddr, u64> = TopK::new(capacity);
                for a in &zipf_in {
                    *top.entry(*a, 1) += 1;
                }
                black_box(top.len())
            });
        });
    }
    let capacity = 65_536;
    let (mut t1, mut t2): (TopK<IpAddr, u64>, TopK<IpAddr, u64>) =
        (TopK::new(capacity), TopK::new(capacity));
    for (i, a) in zipf_in.iter().enumerate() {
        let t = if i % 2 == 0 { &mut t1 } else { &mut t2 };
        *t.entry(*a, 1) += 1;
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::new("merge_two_full", capacity), |b| {
        b.iter(|| {
            let mut m = t1.clone();
            m.merge(&t2);
            black_box(m.len())
        });
    });
    g.finish();

    let mut g = c.benchmark_group("sketch/clientset");
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("insert_exact", |b| {
        b.iter(|| {
            let mut s = ClientSet::new();
            for a in &flood_in {
                s.insert(*a);
            }
            black_box(s.exact_len())
        });
    });
    let mut exact = ClientSet::new();
    flood_in.iter().for_each(|a| exact.insert(*a));
    let probes = flood(n, 11);
    g.bench_function("contains_exact", |b| {
        b.iter(|| probes.iter().filter(|a| exact.contains(**a)).count());
    });
    let nets: Vec<IpNet> = probes
        .iter()
        .map(|a| IpNet::new(*a, 24).unwrap().trunc())
        .collect();
    g.bench_function("contains_in_24_exact", |b| {
        b.iter(|| nets.iter().filter(|n| exact.contains_in(**n)).count());
    });
    let past_cap = ClientSetConfig {
        exact_cap: 0,
        ..ClientSetConfig::default()
    };
    g.bench_function("insert_bloom", |b| {
        b.iter(|| {
            let mut s = ClientSet::with_config(past_cap).unwrap();
            for a in &flood_in {
                s.insert(*a);
            }
            black_box(s.beyond_cap())
        });
    });
    let mut bloom = ClientSet::with_config(past_cap).unwrap();
    flood_in.iter().for_each(|a| bloom.insert(*a));
    g.bench_function("contains_bloom", |b| {
        b.iter(|| probes.iter().filter(|a| bloom.contains(**a)).count());
    });
    g.bench_function("contains_in_24_bloom", |b| {
        b.iter(|| nets.iter().filter(|n| bloom.contains_in(**n)).count());
    });
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    memory_phase();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
