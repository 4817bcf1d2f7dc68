//! End-to-end analysis throughput: a generated ipfw log (the README story at scale) plus its
//! Apache access log, through `halfopen::Analyzer` (detection, parsing, year inference, flow
//! table, correlation, verdicts, network view). Bytes are firewall + access bytes.
//!
//! `HALFOPEN_BENCH_MB` sets the firewall log size in MB (default 64).
//!
//! `pcap/*`: a capture alone (`HALFOPEN_BENCH_EVENTS` packets, default 1 000 000, with
//! HTTP-looking payloads) through the analyzer, keeping the first bytes of each connection
//! (`first-bytes`, the default) or not (`no-first-bytes`, `--payload-bytes 0`: the capture path
//! before issue 18). Bytes are pcap bytes.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use halfopen_benches::end_to_end::{analyze, analyze_pcap, generate};
use halfopen_benches::pcap::render_pcap_http;
use halfopen_benches::tcp::connections;

fn size_mb() -> usize {
    std::env::var("HALFOPEN_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

fn bench(c: &mut Criterion) {
    let inputs = generate(size_mb() << 20, 42);
    let total = (inputs.firewall.len() + inputs.access.len()) as u64;
    let mut g = c.benchmark_group("end_to_end");
    g.throughput(Throughput::Bytes(total));
    g.sample_size(10);
    g.bench_function("ipfw+access", |b| {
        b.iter_batched(
            || (inputs.firewall.clone(), inputs.access.clone()),
            |(fw, acc)| {
                let r = analyze(fw, acc);
                assert!(!r.blocklist.is_empty());
                r.connections_total
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
    let events = std::env::var("HALFOPEN_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let pcap = render_pcap_http(&connections(events, 7));
    let mut g = c.benchmark_group("end_to_end/pcap");
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.sample_size(10);
    for (name, payload_bytes) in [("first-bytes", 4096), ("no-first-bytes", 0)] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || pcap.clone(),
                |p| analyze_pcap(p, payload_bytes).connections_total,
                BatchSize::LargeInput,
            );
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
