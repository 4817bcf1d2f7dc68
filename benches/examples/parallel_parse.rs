//! Speed-up of per-file parsing on two cores: the weblog bench's combined access log and
//! the fwlog bench's netfilter log, each split into two halves ("two files"), parsed by one
//! thread (both halves in turn) and by two threads (one half each). Median of 7 runs:
//! `cargo run --release -p halfopen-benches --example parallel_parse -- [LINES]`.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use halfopen_benches::{fwlog, weblog};
use halfopen_fwlog::formats::netfilter;
use halfopen_weblog::LogFormat;

fn median_of_7(mut f: impl FnMut() -> u64) -> f64 {
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            black_box(f());
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[3]
}

fn access(f: &LogFormat, ls: &[&[u8]]) -> u64 {
    let mut p = f.parser();
    let mut acc = 0u64;
    for l in ls {
        if let Ok(r) = p.parse(l) {
            acc ^= weblog::summary(&r);
        }
    }
    acc
}

fn firewall(ls: &[&[u8]]) -> u64 {
    let mut acc = 0u64;
    for l in ls {
        if let Ok(r) = netfilter::parse(l) {
            acc = acc.wrapping_add(u64::from(fwlog::summary(&r).flags));
        }
    }
    acc
}

fn report(name: &str, bytes: usize, one: f64, two: f64) {
    let mb = bytes as f64 / 1e6;
    println!(
        "{name}: 1 thread {:.0} MB/s, 2 threads {:.0} MB/s, speed-up {:.2}x",
        mb / one,
        mb / two,
        one / two
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let f = LogFormat::preset("combined").expect("preset");
    let acc_data = weblog::combined_lines(n, 42);
    let acc_lines = weblog::lines(&acc_data);
    let (a1, a2) = acc_lines.split_at(acc_lines.len() / 2);
    let one = median_of_7(|| access(&f, a1) ^ access(&f, a2));
    let two = median_of_7(|| {
        std::thread::scope(|s| {
            let h = s.spawn(|| access(&f, a2));
            access(&f, a1) ^ h.join().unwrap_or(0)
        })
    });
    report("weblog/combined", acc_data.len(), one, two);

    let nf = fwlog::netfilter_lines(n, 42);
    let nf_lines = fwlog::lines(&nf);
    let (n1, n2) = nf_lines.split_at(nf_lines.len() / 2);
    let one = median_of_7(|| firewall(n1) ^ firewall(n2));
    let two = median_of_7(|| {
        std::thread::scope(|s| {
            let h = s.spawn(|| firewall(n2));
            firewall(n1) ^ h.join().unwrap_or(0)
        })
    });
    report("fwlog/netfilter", nf.len(), one, two);
}
