//! Firewall log parsing throughput: halfopen's parsers against a regex baseline extracting the
//! same fields, on generated netfilter (kern.log) and ipfw lines.
//!
//! `HALFOPEN_BENCH_LINES` sets the number of lines per input (default 1,000,000).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use halfopen_benches::fwlog::{
    IpfwRegex, NetfilterRegex, ipfw_lines, lines, netfilter_lines, summary,
};
use halfopen_fwlog::formats::{ipfw, netfilter};

fn line_count() -> usize {
    std::env::var("HALFOPEN_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn bench(c: &mut Criterion) {
    let n = line_count();
    let nf = netfilter_lines(n, 42);
    let fw = ipfw_lines(n, 42);
    for (name, data) in [("netfilter", &nf), ("ipfw", &fw)] {
        let ls = lines(data);
        let mut g = c.benchmark_group(format!("fwlog/{name}"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.sample_size(10);
        if name == "netfilter" {
            g.bench_function("halfopen", |b| {
                b.iter(|| {
                    for l in &ls {
                        if let Ok(r) = netfilter::parse(l) {
                            black_box(summary(&r));
                        }
                    }
                });
            });
            let mut re = NetfilterRegex::new();
            g.bench_function("regex", |b| {
                b.iter(|| {
                    for l in &ls {
                        black_box(re.parse(l));
                    }
                });
            });
        } else {
            g.bench_function("halfopen", |b| {
                b.iter(|| {
                    for l in &ls {
                        if let Ok(r) = ipfw::parse(l) {
                            black_box(summary(&r));
                        }
                    }
                });
            });
            let mut re = IpfwRegex::new();
            g.bench_function("regex", |b| {
                b.iter(|| {
                    for l in &ls {
                        black_box(re.parse(l));
                    }
                });
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
