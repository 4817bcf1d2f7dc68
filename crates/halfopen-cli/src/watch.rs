//! `halfopen watch`: follow growing and rotating logs (polling, see [`crate::follow`]) and
//! print a line when a verdict forms or changes: one line per source, or one per network for
//! the sources a suggested block groups (a flood from a /24 is one line, not 254).
//!
//! Each poll that read something re-analyses the retained tail of every file (at most
//! `--window-mb` per file), so memory stays bounded; what was printed is remembered (up to
//! [`MAX_REMEMBERED`] sources and networks) and not printed again.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::time::Duration;

use clap::Args;

use halfopen::report::SourceReport;
use halfopen::{Analyzer, Evidence, Report, Source, Verdict};

use crate::cli::{CliError, EXIT_FINDINGS, EXIT_OK, InputArgs};
use crate::follow::Follower;
use crate::inputs::{Input, distinct, option_name};
use crate::output::{Flow, diagnostic, write_flushed};

/// Sources and networks whose last printed verdict is remembered.
pub const MAX_REMEMBERED: usize = 65_536;

/// The exit codes of `watch`, for `--help`.
pub const EXIT_CODES_HELP: &str = "\\
Exit codes (with --polls N):
  0  nothing hostile was printed
  1  a hostile verdict was printed
  2  usage error (bad option, no firewall file to follow)
  3  a file could not be read, or the output could not be written";

/// `halfopen watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Inputs and options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Seconds between polls.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// Megabytes of each file kept for analysis.
    #[arg(long = "window-mb", default_value_t = 64)]
    pub window_mb: u64,
    /// Stop after this many polls (0 = run until interrupted).
    #[arg(long, default_value_t = 0)]
    pub polls: u64,
    /// Start at the end of the files: report only what is written from now on.
    #[arg(long = "from-end")]
    pub from_end: bool,
}

/// A followed input.
struct Watched {
    kind: Source,
    file: Follower,
}

/// Runs `watch`.
pub fn run(w: &WatchArgs) -> Result<u8, CliError> {
    let window = usize::try_from(w.window_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let mut files = followed_inputs(w, window)?;
    announce(w, &files);
    let options = w.input.options()?;
    let mut printed = Printed::default();
    let mut out = anstream::stdout();
    let mut polls = 0u64;
    loop {
        let mut changed = false;
        for f in &mut files {
            changed |= f.file.poll()?;
        }
        if changed {
            let report = analyse(&files, options.clone());
            let text = printed.news(&report);
            if !text.is_empty()
                && write_flushed(&mut out, text.as_bytes(), "stdout")? == Flow::Closed
            {
                return Ok(printed.exit_code());
            }
        }
        polls += 1;
        if w.polls > 0 && polls >= w.polls {
            return Ok(printed.exit_code());
        }
        std::thread::sleep(Duration::from_secs(w.interval.max(1)));
    }
}

/// The inputs that can be followed, with a warning for each one that cannot.
fn followed_inputs(w: &WatchArgs, window: usize) -> Result<Vec<Watched>, CliError> {
    let list = distinct(&w.input)?;
    for d in &list.duplicates {
        diagnostic(&format!("note: {}", d.note()));
    }
    let mut files = Vec::new();
    for Input { kind, path } in list.inputs {
        let input = Input { kind, path };
        if input.is_stdin() {
            diagnostic(&format!(
                "warning: {} -: stdin cannot be followed; ignored (halfopen analyze reads it)",
                option_name(kind)
            ));
        } else if kind == Source::Pcap {
            diagnostic(&format!(
                "warning: --pcap {}: captures are not followed; ignored",
                input.path.display()
            ));
        } else {
            if !input.path.exists() {
                diagnostic(&format!(
                    "warning: {} {}: no such file yet; waiting for it",
                    option_name(kind),
                    input.path.display()
                ));
            }
            files.push(Watched {
                kind,
                file: Follower::new(&input.path, window, w.from_end),
            });
        }
    }
    if !files.iter().any(|f| f.kind == Source::Firewall) {
        return Err(CliError::Usage(
            "watch needs at least one --firewall FILE (stdin cannot be followed)".into(),
        ));
    }
    if window == 0 {
        diagnostic("warning: --window-mb 0 keeps nothing: no verdict can form");
    }
    Ok(files)
}

/// The start-up line: what is followed, from where, with which window.
fn announce(w: &WatchArgs, files: &[Watched]) {
    let names: Vec<String> = files
        .iter()
        .map(|f| format!("{} {}", option_name(f.kind), f.file.path().display()))
        .collect();
    let from = if w.from_end {
        "from their end (only what is written from now on)"
    } else {
        "from their start"
    };
    diagnostic(&format!(
        "watching {} {from}, keeping the last {} MB of each file, polling every {} s",
        names.join(", "),
        w.window_mb,
        w.interval.max(1)
    ));
}

fn analyse(files: &[Watched], options: halfopen::Options) -> Report {
    let mut a = Analyzer::new(options);
    for f in files {
        a.add_reader(
            f.kind,
            &f.file.path().display().to_string(),
            Box::new(std::io::Cursor::new(f.file.lines().to_vec())),
            None,
        );
    }
    a.finish()
}

/// Whether a verdict is worth a line.
fn printable(v: Verdict) -> bool {
    !matches!(v, Verdict::Legitimate | Verdict::Unknown)
}

/// One line of output: a source, or a network of sources one suggested block groups.
struct Item {
    key: String,
    verdict: Verdict,
    last_seen: String,
    text: String,
}

fn source_item(s: &SourceReport) -> Item {
    let first = s.evidence.first().map_or("", |e| e.sentence.as_str());
    Item {
        key: s.addr.to_string(),
        verdict: s.verdict,
        last_seen: s.last_seen.clone(),
        text: format!(
            "{} {} {} ({} confidence, {} connections): {first}",
            s.last_seen, s.addr, s.verdict, s.confidence, s.connections
        ),
    }
}

fn network_item(block: &halfopen::policy::Block, members: &[&SourceReport]) -> Option<Item> {
    let mut counts: BTreeMap<String, (usize, Verdict)> = BTreeMap::new();
    for m in members {
        counts
            .entry(m.verdict.to_string())
            .or_insert((0, m.verdict))
            .0 += 1;
    }
    let (_, verdict) = counts.values().max_by_key(|(n, _)| *n).copied()?;
    let last_seen = members
        .iter()
        .map(|m| m.last_seen.as_str())
        .max()?
        .to_owned();
    let connections: u64 = members.iter().map(|m| m.connections).sum();
    let first = shared_sentence(members, verdict);
    let mut what = format!("{} addresses", members.len());
    if counts.len() > 1 {
        let mix: Vec<String> = counts
            .iter()
            .map(|(v, (n, _))| format!("{n} {v}"))
            .collect();
        let _ = write!(what, ": {}", mix.join(", "));
    }
    if block.likely_spoofed {
        what.push_str(", likely spoofed");
    }
    Some(Item {
        key: block.cidr.to_string(),
        verdict,
        text: format!(
            "{last_seen} {} {verdict} ({what}, {connections} connections): {first}",
            block.cidr
        ),
        last_seen,
    })
}

/// The first evidence sentence of a member with the network's verdict that at least half of
/// the members share (as the text report's network summary), else that member's first one.
fn shared_sentence<'a>(members: &[&'a SourceReport], verdict: Verdict) -> &'a str {
    let Some(lead) = members.iter().find(|m| m.verdict == verdict) else {
        return "";
    };
    let shared_by_half = |sentence: &str| {
        let n = members
            .iter()
            .filter(|m| m.evidence.iter().any(|e| e.sentence == sentence))
            .count();
        n * 2 >= members.len()
    };
    lead.evidence
        .iter()
        .filter(|e| !matches!(e.evidence, Evidence::NetworkFlood { .. }))
        .map(|e| e.sentence.as_str())
        .find(|s| shared_by_half(s))
        .or_else(|| lead.evidence.first().map(|e| e.sentence.as_str()))
        .unwrap_or("")
}

/// The lines the report gives: networks first claim the sources their block groups.
fn items(report: &Report) -> Vec<Item> {
    let mut grouped = vec![false; report.sources.len()];
    let mut out = Vec::new();
    for block in &report.networks {
        let members: Vec<(usize, &SourceReport)> = report
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| printable(s.verdict) && block.cidr.contains(&s.addr))
            .collect();
        if members.len() < 2 {
            continue;
        }
        for (i, _) in &members {
            if let Some(g) = grouped.get_mut(*i) {
                *g = true;
            }
        }
        let refs: Vec<&SourceReport> = members.iter().map(|(_, s)| *s).collect();
        out.extend(network_item(block, &refs));
    }
    for (s, g) in report.sources.iter().zip(&grouped) {
        if !*g && printable(s.verdict) {
            out.push(source_item(s));
        }
    }
    out
}

/// What was printed, bounded.
#[derive(Default)]
struct Printed {
    told: BTreeMap<String, Verdict>,
    order: VecDeque<String>,
    hostile: bool,
}

impl Printed {
    /// The lines for verdicts that formed or changed, in time order.
    fn news(&mut self, report: &Report) -> String {
        let mut fresh: Vec<Item> = items(report)
            .into_iter()
            .filter(|i| self.told.get(&i.key) != Some(&i.verdict))
            .collect();
        fresh.sort_by(|a, b| (&a.last_seen, &a.key).cmp(&(&b.last_seen, &b.key)));
        let mut text = String::new();
        for item in fresh {
            self.remember(&item);
            text.push_str(&item.text);
            text.push('\n');
        }
        text
    }

    fn remember(&mut self, item: &Item) {
        self.hostile |= item.verdict.is_hostile();
        if self.told.insert(item.key.clone(), item.verdict).is_none() {
            self.order.push_back(item.key.clone());
        }
        while self.order.len() > MAX_REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.told.remove(&old);
            }
        }
    }

    fn exit_code(&self) -> u8 {
        if self.hostile { EXIT_FINDINGS } else { EXIT_OK }
    }
}
