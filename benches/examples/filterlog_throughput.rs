//! filterlog (pfSense/OPNsense) parse throughput, halfopen against a regex baseline that
//! extracts and converts the same fields, on generated TCP lines shaped like the corpus
//! (`crowdsec-hub-pf-logs.log`). The criterion `fwlog` bench covers netfilter and ipfw;
//! this fills in the third firewall format of issue 6 with plain timing (median of 7 runs):
//! `cargo run --release -p halfopen-benches --example filterlog_throughput -- [LINES]`.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::io::Write;
use std::net::IpAddr;
use std::time::Instant;

use halfopen_benches::fwlog::{Rng, lines, summary};
use halfopen_fwlog::formats::filterlog;
use regex::bytes::Regex;

/// `n` filterlog TCP lines (IPv4, varied addresses, ports, flags and sequence numbers).
fn filterlog_lines(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * 150);
    let flags = ["S", "SA", "A", "PA", "FA", "R", "RA"];
    for i in 0..n {
        let r = rng.next_u64();
        let (sec, src, dport) = (
            i / 50,
            (r >> 32) as u32,
            [22u16, 80, 443, 8080][(r & 3) as usize],
        );
        let fl = flags[((r >> 8) % flags.len() as u64) as usize];
        let datalen = if fl == "PA" { (r >> 12) % 1400 } else { 0 };
        let _ = writeln!(
            out,
            "Sep 28 {:02}:{:02}:{:02} pfSense filterlog: {},,,{},em0,match,block,in,4,0x0,,{},{},0,{},6,tcp,{},{}.{}.{}.{},10.0.2.15,{},{},{},{},{},{},{},,{}",
            (sec / 3600) % 24,
            (sec / 60) % 60,
            sec % 60,
            (r >> 20) % 100,
            1_000_000_000 + (r >> 24) % 100_000,
            32 + (r >> 16) % 96,
            (r >> 40) % 65536,
            if r & 16 != 0 { "DF" } else { "none" },
            40 + datalen,
            src >> 24,
            (src >> 16) & 255,
            (src >> 8) & 255,
            src & 255,
            1024 + (r >> 48) % 60000,
            dport,
            datalen,
            fl,
            r as u32,
            if fl == "S" {
                String::new()
            } else {
                ((r >> 7) as u32).to_string()
            },
            (r >> 28) % 65536,
            if fl == "S" {
                "mss;sackOK;TS;nop;wscale"
            } else {
                ""
            },
        );
    }
    out
}

/// (src, dst, sport, dport, flag letters) the way the regex baseline sees a line.
type Fields = (Option<IpAddr>, Option<IpAddr>, Option<u16>, Option<u16>, u8);

fn regex_parse(re: &Regex, locs: &mut regex::bytes::CaptureLocations, l: &[u8]) -> Option<Fields> {
    re.captures_read(locs, l)?;
    let g = |i: usize| locs.get(i).and_then(|(s, e)| l.get(s..e));
    let ip = |i: usize| g(i).and_then(|b| std::str::from_utf8(b).ok()?.parse().ok());
    let port = |i: usize| g(i).and_then(|b| std::str::from_utf8(b).ok()?.parse().ok());
    let mut flags = 0u8;
    for c in g(5).unwrap_or(&[]) {
        flags |= match c {
            b'F' => 1,
            b'S' => 2,
            b'R' => 4,
            b'P' => 8,
            b'A' => 16,
            b'U' => 32,
            b'E' => 64,
            b'W' => 128,
            _ => 0,
        };
    }
    Some((ip(1), ip(2), port(3), port(4), flags))
}

fn median_of_7(mut f: impl FnMut() -> u64) -> (f64, f64, f64) {
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let s = Instant::now();
            black_box(f());
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[3], t[0], t[6])
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let data = filterlog_lines(n, 42);
    let ls = lines(&data);
    let re = Regex::new(concat!(
        r"^[A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d \S+ filterlog(?:\[\d+\])?: ",
        r"(?:[^,]*,){8}4,(?:[^,]*,){7}tcp,\d+,([0-9.]+),([0-9.]+),(\d+),(\d+),\d+,([A-Z]*),",
    ))
    .expect("valid regex");
    let mut locs = re.capture_locations();
    for l in ls.iter().take(10_000) {
        let r =
            filterlog::parse(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)));
        let s = summary(&r);
        assert_eq!(
            regex_parse(&re, &mut locs, l),
            Some((s.src, s.dst, s.sport, s.dport, s.flags)),
            "{}",
            String::from_utf8_lossy(l)
        );
    }
    let mb = data.len() as f64 / 1e6;
    let ours = median_of_7(|| {
        let mut acc = 0u64;
        for l in &ls {
            if let Ok(r) = filterlog::parse(l) {
                acc = acc.wrapping_add(u64::from(summary(&r).flags));
            }
        }
        acc
    });
    let theirs = median_of_7(|| {
        let mut acc = 0u64;
        for l in &ls {
            if let Some(f) = regex_parse(&re, &mut locs, l) {
                acc = acc.wrapping_add(u64::from(f.4));
            }
        }
        acc
    });
    for (name, (m, lo, hi)) in [("halfopen", ours), ("regex", theirs)] {
        println!(
            "filterlog/{name}: {n} lines, {mb:.1} MB: median {:.1} ms ({:.1}-{:.1}), {:.0} MB/s ({:.0}-{:.0}), {:.2} M lines/s",
            m * 1e3,
            lo * 1e3,
            hi * 1e3,
            mb / m,
            mb / hi,
            mb / lo,
            n as f64 / m / 1e6
        );
    }
    println!("ratio halfopen/regex: {:.1}x", theirs.0 / ours.0);
}
