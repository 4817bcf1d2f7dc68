//! The README's ipfw story at any size (one line per inbound SYN: many browsers, a few
//! attackers) and the matching Apache access log, streamed to two files or FIFOs
//! (docs/performance.md, "Memory at scale"):
//!
//! ```text
//! mkfifo fw acc
//! cargo run --release -p halfopen-benches --example gen_ipfw_story -- --bytes 10G --ipfw fw --access acc &
//! halfopen analyze --firewall fw --access acc
//! ```
//!
//! The outputs are opened on their own threads (a FIFO's open waits for its reader), written by
//! their own copies of the generator (each at its reader's pace, as two files would be read).
//! Ends with a one-line JSON summary on stderr.
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use halfopen_benches::scale::sink::{Sink, open_all, parse_size, report};
use halfopen_benches::scale::story::{self, StoryConfig};

/// Streams an ipfw log (one line per connection) and its access log.
#[derive(Debug, Parser)]
struct Args {
    /// Bytes of ipfw log (suffixes K, M, G, Ki, Mi, Gi).
    #[arg(long, value_parser = parse_size)]
    bytes: u64,
    /// Where the ipfw log goes (`-` = stdout).
    #[arg(long, value_name = "FILE", default_value = "-")]
    ipfw: PathBuf,
    /// Where the access log goes (none: not written).
    #[arg(long, value_name = "FILE")]
    access: Option<PathBuf>,
    /// PRNG seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Size of the pool of ordinary clients.
    #[arg(long, default_value_t = 200_000)]
    clients: u64,
    /// Ordinary connections per second of log time.
    #[arg(long, default_value_t = 400)]
    rate: u32,
    /// Attackers (the story's 45.76.87.206 first).
    #[arg(long, default_value_t = 3)]
    attackers: u32,
    /// Connections per second of each attacker.
    #[arg(long, default_value_t = 20)]
    attack_rate: u32,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = StoryConfig {
        bytes: a.bytes,
        seed: a.seed,
        clients: a.clients.max(1),
        rate: a.rate,
        attackers: a.attackers,
        attack_rate: a.attack_rate,
    };
    let mut paths = vec![a.ipfw];
    paths.extend(a.access);
    let started = Instant::now();
    let mut writers = match open_all(&paths) {
        Ok(w) => w.into_iter(),
        Err(e) => {
            eprintln!("gen_ipfw_story: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(fw) = writers.next() else {
        return ExitCode::FAILURE;
    };
    // Each output is written by its own copy of the generator (the same seed draws the same
    // story), so that each stream goes at its reader's pace, as two files would: one writer
    // for both would block on the one its reader is not reading yet.
    let access_out = writers.next();
    let fw_cfg = cfg.clone();
    let firewall = std::thread::spawn(move || {
        let mut fw = Sink::new("firewall", fw);
        let result = story::run(&fw_cfg, &mut fw, &mut Sink::off("access"));
        (fw, result)
    });
    let (acc, acc_result) = match access_out {
        Some(w) => {
            let mut acc = Sink::new("access", w);
            let mut discard = Sink::new("firewall", Box::new(std::io::sink()));
            let r = story::run(&cfg, &mut discard, &mut acc);
            (acc, r)
        }
        None => (Sink::off("access"), Ok(())),
    };
    let Ok((fw, fw_result)) = firewall.join() else {
        return ExitCode::FAILURE;
    };
    let result = fw_result.and(acc_result);
    report("gen_ipfw_story", &[&fw, &acc], started, &result);
    if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
