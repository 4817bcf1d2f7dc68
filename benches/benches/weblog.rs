//! Access-log parsing throughput: `LogFormat::parser` / `LogFormat::parse` (timestamps
//! resolved, IPs parsed, request split) against a regex baseline extracting and converting the
//! same fields, on generated realistic lines of `combined` and of a custom format with
//! `%{remote}p` and `%D`; plus the error-log parser.
//!
//! `HALFOPEN_BENCH_LINES` sets the number of lines (default 1,000,000).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use halfopen_benches::weblog::{
    CUSTOM_FORMAT, CombinedRegex, combined_lines, custom_lines, lines, summary,
};
use halfopen_weblog::{LogFormat, error_log};

fn line_count() -> usize {
    std::env::var("HALFOPEN_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn bench(c: &mut Criterion) {
    let n = line_count();
    let f = LogFormat::preset("combined").expect("preset");
    access_group(
        c,
        "weblog/combined",
        &f,
        &combined_lines(n, 42),
        CombinedRegex::new(),
    );
    let custom = LogFormat::compile(CUSTOM_FORMAT).expect("custom format");
    access_group(
        c,
        "weblog/custom_port_duration",
        &custom,
        &custom_lines(n, 42),
        CombinedRegex::custom(),
    );
    // Error log: the same 2.4 line shapes the lab produced, repeated.
    let sample: [&[u8]; 3] = [
        b"[Tue Nov 24 20:50:30.336238 2026] [reqtimeout:info] [pid 13638:tid 13773] [client 127.0.0.1:41006] AH01382: Request header read timeout",
        b"[Tue Nov 24 20:50:18.736671 2026] [ssl:info] [pid 13877:tid 13927] (70014)End of file found: [client 127.0.0.1:41034] AH02006: SSL handshake stopped: connection was closed",
        b"2026/11/24 20:56:42 [info] 16930#16930: *32 client sent invalid version while reading client request line, client: 127.0.0.1, server: localhost, request: \"GET / HTTP/9.9\"",
    ];
    let errs: Vec<&[u8]> = sample
        .iter()
        .copied()
        .cycle()
        .take(n.min(300_000))
        .collect();
    let bytes: usize = errs.iter().map(|l| l.len() + 1).sum();
    let mut g = c.benchmark_group("weblog/error_log");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.bench_function("halfopen", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for l in &errs {
                if let Ok(r) = error_log::parse(l) {
                    acc ^= r.time.map_or(0, |t| t.ts_us as u64)
                        ^ u64::from(r.client_port.unwrap_or(0));
                }
            }
            black_box(acc)
        });
    });
    g.finish();
}

/// `halfopen`: a stateful [`LogFormat::parser`] (the `%t` minute memo), as a log reader uses
/// it; `halfopen_stateless`: [`LogFormat::parse`] per line; `regex`: the baseline.
fn access_group(c: &mut Criterion, name: &str, f: &LogFormat, data: &[u8], mut re: CombinedRegex) {
    let ls = lines(data);
    // Both parsers must agree on every line before we time them.
    for l in ls.iter().take(10_000) {
        let ours = f.parse(l).map(|r| summary(&r)).ok();
        assert_eq!(ours.is_some(), re.parse(l).is_some());
    }
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("halfopen", |b| {
        b.iter(|| {
            let mut p = f.parser();
            let mut acc = 0u64;
            for l in &ls {
                if let Ok(r) = p.parse(l) {
                    acc ^= summary(&r);
                }
            }
            black_box(acc)
        });
    });
    g.bench_function("halfopen_stateless", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for l in &ls {
                if let Ok(r) = f.parse(l) {
                    acc ^= summary(&r);
                }
            }
            black_box(acc)
        });
    });
    g.bench_function("regex", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for l in &ls {
                acc ^= re.parse(l).unwrap_or(0);
            }
            black_box(acc)
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
