//! A classic Ethernet pcap of ordinary HTTP connections and a random-source SYN flood,
//! streamed to stdout (docs/performance.md, "Memory at scale"):
//!
//! ```text
//! cargo run --release -p halfopen-benches --example gen_pcap -- --bytes 2G | halfopen analyze --pcap -
//! ```
//!
//! Ends with a one-line JSON summary on stderr (packets, bytes, seconds, MB/s).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use halfopen_benches::scale::pcap::{self, PcapConfig};
use halfopen_benches::scale::sink::{Sink, open_all, parse_size, report};

/// Streams a pcap of HTTP connections and a SYN flood.
#[derive(Debug, Parser)]
struct Args {
    /// Bytes of pcap (suffixes K, M, G, Ki, Mi, Gi).
    #[arg(long, value_parser = parse_size)]
    bytes: u64,
    /// Where the pcap goes (`-` = stdout).
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: PathBuf,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Size of the pool of clients.
    #[arg(long, default_value_t = 50_000)]
    clients: u64,
    /// Ordinary connections per second of capture time.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Flood SYNs per second of capture time.
    #[arg(long, default_value_t = 400)]
    flood_rate: u32,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = PcapConfig {
        bytes: a.bytes,
        seed: a.seed,
        clients: a.clients.max(1),
        rate: a.rate,
        flood_rate: a.flood_rate,
    };
    let started = Instant::now();
    let mut out = match open_all(std::slice::from_ref(&a.out)) {
        Ok(mut w) => match w.pop() {
            Some(w) => Sink::new("pcap", w),
            None => return ExitCode::FAILURE,
        },
        Err(e) => {
            eprintln!("gen_pcap: {e}");
            return ExitCode::from(2);
        }
    };
    let result = pcap::run(&cfg, &mut out);
    report("gen_pcap", &[&out], started, &result);
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
