//! Regenerates the sample and test data:
//! `halfopen-testgen <dir> [--scenario story|mixed|large|neighbourhood|short-flood|mid-stream|matrix]
//! [--seed N] [--lines N] [--gzip-over BYTES]`
//! (`--lines`: about how many packets the `large` scenario makes; `matrix` writes every
//! evidence-matrix scenario into its own sub-directory of `<dir>`).
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut dir: Option<PathBuf> = None;
    let mut scenario = "story".to_string();
    let mut seed: u64 = 1;
    let mut gzip_over: Option<usize> = None;
    let mut lines: usize = 100_000;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--scenario" => scenario = args.next().unwrap_or_default(),
            "--seed" => match args.next().and_then(|s| s.parse().ok()) {
                Some(s) => seed = s,
                None => return usage("--seed needs a number"),
            },
            "--lines" => match args.next().and_then(|s| s.parse().ok()) {
                Some(n) => lines = n,
                None => return usage("--lines needs a number"),
            },
            "--gzip-over" => match args.next().and_then(|s| s.parse().ok()) {
                Some(n) => gzip_over = Some(n),
                None => return usage("--gzip-over needs a byte count"),
            },
            "-h" | "--help" => return usage(""),
            _ if dir.is_none() && !a.starts_with('-') => dir = Some(PathBuf::from(a)),
            _ => return usage(&format!("unexpected argument {a:?}")),
        }
    }
    let Some(dir) = dir else {
        return usage("missing output directory");
    };
    use halfopen_testgen::scenarios;
    let runs: Vec<(PathBuf, halfopen_testgen::Scenario)> = match scenario.as_str() {
        "story" => vec![(dir, scenarios::story())],
        "mixed" => vec![(dir, scenarios::mixed(seed))],
        "large" => vec![(dir, scenarios::large(seed, lines))],
        "neighbourhood" => vec![(dir, scenarios::attacker_neighbourhood())],
        "short-flood" => vec![(dir, scenarios::short_flood())],
        "mid-stream" => vec![(dir, scenarios::mid_stream_capture())],
        "matrix" => scenarios::evidence_matrix()
            .into_iter()
            .map(|(name, s)| (dir.join(name), s))
            .collect(),
        other => return usage(&format!("unknown scenario {other:?}")),
    };
    for (dir, s) in runs {
        if let Err(e) = s.render().write_to_with(&dir, gzip_over) {
            eprintln!("halfopen-testgen: writing {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn usage(msg: &str) -> ExitCode {
    if !msg.is_empty() {
        eprintln!("halfopen-testgen: {msg}");
    }
    eprintln!(
        "usage: halfopen-testgen <dir> [--scenario story|mixed|large|neighbourhood|short-flood|mid-stream|matrix] [--seed N] [--lines N] [--gzip-over BYTES]"
    );
    if msg.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
