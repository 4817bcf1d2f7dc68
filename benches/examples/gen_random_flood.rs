//! A random-source SYN flood as the lab's netfilter LOG lines, streamed to stdout, with a few
//! real clients whose requests go to an access log (docs/performance.md, "Memory at scale"):
//!
//! ```text
//! cargo run --release -p halfopen-benches --example gen_random_flood -- --lines 100M --access access.log \
//!     | halfopen analyze --firewall - --access access.log
//! gen_random_flood --lines 100M --access-only > access.log   # the same access log, alone
//! ```
//!
//! Ends with a one-line JSON summary on stderr (lines, bytes, seconds, MB/s).
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use halfopen_benches::scale::flood::{self, FloodConfig, MAX_CLIENTS};
use halfopen_benches::scale::sink::{Sink, open_all, parse_size, report};

/// Streams a random-source SYN flood (netfilter LOG, kern.log form) to stdout.
#[derive(Debug, Parser)]
struct Args {
    /// Firewall lines in all (suffixes K, M, G).
    #[arg(long, value_parser = parse_size)]
    lines: u64,
    /// Also write the clients' Apache access log (combined) here (a file or FIFO).
    #[arg(long, value_name = "FILE")]
    access: Option<PathBuf>,
    /// Write only the access log, to `--access FILE` or stdout (the same bytes as with the flood).
    #[arg(long)]
    access_only: bool,
    /// Where the firewall lines go (`-` = stdout).
    #[arg(long, value_name = "FILE", default_value = "-")]
    out: PathBuf,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Flood SYNs per second of log time.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Real clients (the lab's six first).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(0..=MAX_CLIENTS as u64))]
    clients: u64,
    /// Random source ports (hping3 adds one per packet).
    #[arg(long)]
    random_ports: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = FloodConfig {
        lines: a.lines,
        seed: a.seed,
        rate: a.rate,
        clients: a.clients as usize,
        random_ports: a.random_ports,
    };
    let started = Instant::now();
    let (mut fw, mut acc) = match (a.access_only, &a.access) {
        (true, path) => {
            let p = path.clone().unwrap_or_else(|| PathBuf::from("-"));
            match open_all(&[p]) {
                Ok(mut w) => match w.pop() {
                    Some(w) => (Sink::off("firewall"), Sink::new("access", w)),
                    None => return ExitCode::FAILURE,
                },
                Err(e) => return fail(&e),
            }
        }
        (false, Some(p)) => match open_all(&[a.out.clone(), p.clone()]) {
            Ok(w) => {
                let mut w = w.into_iter();
                match (w.next(), w.next()) {
                    (Some(f), Some(ac)) => (Sink::new("firewall", f), Sink::new("access", ac)),
                    _ => return ExitCode::FAILURE,
                }
            }
            Err(e) => return fail(&e),
        },
        (false, None) => match open_all(std::slice::from_ref(&a.out)) {
            Ok(mut w) => match w.pop() {
                Some(f) => (Sink::new("firewall", f), Sink::off("access")),
                None => return ExitCode::FAILURE,
            },
            Err(e) => return fail(&e),
        },
    };
    let result = flood::run(&cfg, &mut fw, &mut acc);
    report("gen_random_flood", &[&fw, &acc], started, &result);
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn fail(e: &std::io::Error) -> ExitCode {
    eprintln!("gen_random_flood: {e}");
    ExitCode::from(2)
}
