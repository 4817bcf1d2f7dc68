//! The `halfopen` command: explain the connections your firewall saw that your web server
//! never logged, and suggest a safe block list.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cli;
mod follow;
mod inputs;
mod output;
mod progress;
mod watch;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let result = match args.command {
        cli::Command::Analyze(a) => cli::run_analyze(&a),
        cli::Command::Watch(w) => watch::run(&w),
        cli::Command::Merge(m) => cli::run_merge(&m),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::diagnostic(&e.to_string());
            ExitCode::from(e.exit_code())
        }
    }
}
