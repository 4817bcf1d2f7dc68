//! The capture path: a pcap read from memory through the flow table, as the facade runs it
//! for `--pcap` (see `halfopen_benches::pcap`). Bytes are pcap bytes.
//!
//! Rows: `read` (the reader alone), `flow_table` (reader + table, the iterator), and with
//! payloads (`PacketReader::next_with_payload`): `flow_table_payload_api` (no store),
//! `flow_table_prefix` (a `PrefixStore` fed and each finished connection's entry taken),
//! `flow_table_prefix_classify` (and classified). Then the store's memory per connection.
//!
//! `HALFOPEN_BENCH_EVENTS` (default 1 000 000) packets.
#![allow(clippy::print_stderr)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use halfopen_benches::pcap::{
    Prefixes, capture_to_table, capture_with_prefixes, prefix_memory, render_pcap_http,
};
use halfopen_benches::tcp::connections;
use halfopen_tcp::pcap::PacketReader;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench(c: &mut Criterion) {
    let n = env_usize("HALFOPEN_BENCH_EVENTS", 1_000_000);
    let pcap: &'static [u8] = Vec::leak(render_pcap_http(&connections(n, 7)));
    let mut g = c.benchmark_group("pcap");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(pcap.len() as u64));
    g.bench_function("read", |b| {
        b.iter(|| {
            let r = PacketReader::new(std::io::Cursor::new(pcap)).unwrap();
            black_box(r.filter_map(Result::ok).count())
        });
    });
    g.bench_function("flow_table", |b| {
        b.iter(|| black_box(capture_to_table(pcap)));
    });
    for (name, mode) in [
        ("flow_table_payload_api", Prefixes::Off),
        ("flow_table_prefix", Prefixes::Store),
        ("flow_table_prefix_classify", Prefixes::Classify),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(capture_with_prefixes(pcap, mode)));
        });
    }
    g.finish();
    let (bytes, entries) = prefix_memory(pcap);
    eprintln!(
        "prefix store, no limit, nothing taken: {entries} entries, {bytes} B = {} B per connection with payload",
        bytes / entries.max(1)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
