//! Command-line options and the `analyze` command.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use halfopen::blocklist::BlocklistFormat;
use halfopen::clock::Zone;
use halfopen::policy::BlockPolicy;
use halfopen::{Options, Report, Source};

pub use crate::inputs::{Loaded, load};
use crate::output::{Printed, RuleArgs, diagnostic, print_analysis};

/// Exit code: analysis done, nothing hostile found.
pub const EXIT_OK: u8 = 0;
/// Exit code: analysis done, hostile traffic found (hostile sources or a server-level flood).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit code: bad usage (clap's own code).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: an input could not be opened or read, or its format was not recognised; or the
/// output could not be written.
pub const EXIT_INPUT: u8 = 3;

/// The exit codes, for `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  analysis done, no hostile traffic found
  1  analysis done, hostile traffic found (hostile sources or a server-level flood; the block
     list may still be empty, e.g. for a random-source flood)
  2  usage error (bad option or value, no firewall input, stdin named twice)
  3  an input was given but gave nothing usable (unreadable, unrecognised, most lines
     skipped, an unsupported capture link type), or the output could not be written";

/// Errors of the command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad option value.
    #[error("{0}")]
    Usage(String),
    /// Input problem.
    #[error("{0}")]
    Input(String),
    /// The output could not be written.
    #[error("{0}")]
    Output(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Input(_) | CliError::Output(_) => EXIT_INPUT,
        }
    }
}

/// Find the TCP connections your firewall saw that your web server never logged.
#[derive(Debug, Parser)]
#[command(name = "halfopen", version, about, long_about = None, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse logs once and print the report.
    #[command(after_help = EXIT_CODES_HELP)]
    Analyze(AnalyzeArgs),
    /// Follow growing/rotating logs and print verdicts as they form.
    #[command(after_help = crate::watch::EXIT_CODES_HELP)]
    Watch(crate::watch::WatchArgs),
    /// Combine the summaries of several analyses (`analyze --summary-out`: other days, other
    /// servers) into one report.
    #[command(after_help = EXIT_CODES_HELP)]
    Merge(MergeArgs),
}

/// `halfopen merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Summary files written by `analyze --summary-out`, oldest first.
    #[arg(required = true, value_name = "SUMMARY")]
    pub summaries: Vec<PathBuf>,
    /// Verdict and block-list options (the inputs options are not used).
    #[command(flatten)]
    pub input: InputArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Print the block list in this syntax on stdout (the report's headline goes to stderr).
    #[arg(long, value_enum)]
    pub blocklist: Option<BlocklistArg>,
    /// Block-list rules.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Write the merged summary too (to merge again later).
    #[arg(long = "summary-out", value_name = "FILE")]
    pub summary_out: Option<PathBuf>,
}

/// Report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Text for a terminal.
    Text,
    /// The JSON document (docs/json-schema.md).
    Json,
}

/// Block-list syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BlocklistArg {
    /// pf.conf table and rule.
    Pf,
    /// ipfw table commands.
    Ipfw,
    /// nftables sets.
    Nft,
    /// ipset + iptables.
    Iptables,
    /// One CIDR per line.
    Plain,
}

impl From<BlocklistArg> for BlocklistFormat {
    fn from(b: BlocklistArg) -> Self {
        match b {
            BlocklistArg::Pf => BlocklistFormat::Pf,
            BlocklistArg::Ipfw => BlocklistFormat::Ipfw,
            BlocklistArg::Nft => BlocklistFormat::Nft,
            BlocklistArg::Iptables => BlocklistFormat::Iptables,
            BlocklistArg::Plain => BlocklistFormat::Plain,
        }
    }
}

/// Inputs and analysis options shared by `analyze` and `watch`.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Firewall logs (ipfw, netfilter, nflog, pf, filterlog, ipmon, Windows); `-` = stdin; .gz ok.
    #[arg(long = "firewall", value_name = "FILE", num_args = 1..)]
    pub firewall: Vec<PathBuf>,
    /// Apache/nginx access logs (format auto-detected).
    #[arg(long = "access", value_name = "FILE", num_args = 1..)]
    pub access: Vec<PathBuf>,
    /// Apache/nginx error logs (read timeouts, nginx's "waiting for request" lines: evidence).
    #[arg(long = "error-log", value_name = "FILE", num_args = 1..)]
    pub error_log: Vec<PathBuf>,
    /// Packet captures (pcap or pcapng).
    #[arg(long = "pcap", value_name = "FILE", num_args = 1..)]
    pub pcap: Vec<PathBuf>,
    /// A `netstat -an -p tcp`, `netstat -ant` or `ss -tan` snapshot.
    #[arg(long = "netstat", value_name = "FILE")]
    pub netstat: Option<PathBuf>,
    /// Apache LogFormat string of the access logs (default: auto-detected).
    #[arg(long = "access-format", value_name = "LOGFORMAT")]
    pub access_format: Option<String>,
    /// Year of year-less firewall stamps (default: inferred from the access log, the file's mtime or today).
    #[arg(long)]
    pub year: Option<i32>,
    /// Zone of zone-less firewall stamps: IANA name, UTC, or +hhmm (default: the access log's offset, else UTC).
    #[arg(long = "tz", value_name = "ZONE")]
    pub tz: Option<String>,
    /// Addresses or networks never to block (`192.0.2.7`, `192.0.2.0/24`, `2001:db8::/32`).
    #[arg(long = "allow", value_name = "IP|CIDR", num_args = 1.., value_parser = parse_net)]
    pub allow: Vec<ipnet::IpNet>,
    /// The server's own addresses or networks (never blocked, never clients).
    #[arg(long = "server-addr", value_name = "IP|CIDR", num_args = 1.., value_parser = parse_net)]
    pub server_addr: Vec<ipnet::IpNet>,
    /// Shortest IPv4 prefix ever suggested.
    #[arg(long = "max-prefix-v4", default_value_t = 16, value_parser = clap::value_parser!(u8).range(0..=32))]
    pub max_prefix_v4: u8,
    /// Shortest IPv6 prefix ever suggested.
    #[arg(long = "max-prefix-v6", default_value_t = 32, value_parser = clap::value_parser!(u8).range(0..=128))]
    pub max_prefix_v6: u8,
    /// Hostile sources a block broader than one address needs (unless they fill half of it).
    #[arg(long = "min-block-sources", value_name = "N", default_value_t = halfopen::policy::DEFAULT_MIN_BLOCK_SOURCES)]
    pub min_block_sources: u64,
    /// SYNs to one port that never completed from which one address is a syn_flood.
    #[arg(long = "min-flood-attempts", value_name = "N", default_value_t = halfopen::judge::DEFAULT_MIN_FLOOD_ATTEMPTS)]
    pub min_flood_attempts: u64,
    /// Addresses of one network with only unanswered SYNs that make a network flood.
    #[arg(long = "min-flood-sources", value_name = "N", default_value_t = halfopen::judge::DEFAULT_MIN_FLOOD_SOURCES)]
    pub min_flood_sources: u64,
    /// What the firewall logs show, when you know better than the data: every-packet,
    /// inbound, first-packet (one line per connection) or syn-only.
    #[arg(long = "firewall-shows", value_name = "FORM", value_parser = parse_shows)]
    pub firewall_shows: Option<halfopen::evidence::Shows>,
    /// The web server's operating system (linux, freebsd, openbsd, windows): what "Apache
    /// logged nothing" means depends on it (default: from the firewall-log format).
    #[arg(long = "server-os", value_name = "OS", value_parser = parse_platform)]
    pub server_os: Option<halfopen::evidence::Platform>,
    /// Also block hostile sources that made successful requests (slow attackers whose
    /// availability checks succeeded).
    #[arg(long = "block-hostile-clients")]
    pub block_hostile_clients: bool,
    /// Bytes kept of each capture connection's client side to tell what it sent (HTTP, TLS,
    /// SSH...; 0: none).
    #[arg(long = "payload-bytes", value_name = "N", default_value_t = 4096,
          value_parser = clap::value_parser!(u32).range(0..=65_536))]
    pub payload_bytes: u32,
    /// Quote the first bytes whole (escaped) in the evidence; by default only the method, the
    /// path and the header names are shown (header values may hold cookies or passwords).
    #[arg(long = "show-payload")]
    pub show_payload: bool,
    /// Memory budget in MB shared by the flow table, the correlation, the first bytes and the
    /// sources held one by one; past it the lightest sources are summed per network and port
    /// and the report marks what is estimated.
    #[arg(long = "memory", value_name = "MB", default_value_t = halfopen::analyze::DEFAULT_MEMORY_MB as u32,
          value_parser = clap::value_parser!(u32).range(halfopen::analyze::MIN_MEMORY_MB as i64..))]
    pub memory_mb: u32,
    /// Sources listed in the report (hostile first); every source is still judged.
    #[arg(long = "top", value_name = "N", default_value_t = halfopen::analyze::DEFAULT_TOP)]
    pub top: usize,
    /// Threads beyond each input's own and the tracking thread: correlation on its own
    /// thread, a firewall log's lines parsed on N threads (default: 2 when the process may use
    /// four cores or more, else 0: on two cores they cost more than they give). The report is
    /// the same for every N.
    #[arg(long = "threads", value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=halfopen::analyze::MAX_THREADS as i64))]
    pub threads: Option<u32>,
}

/// An address (a /32 or /128) or a network; an IPv4-mapped IPv6 address is the IPv4 one.
fn parse_net(s: &str) -> Result<ipnet::IpNet, String> {
    let net = match s.parse::<ipnet::IpNet>() {
        Ok(n) => n,
        Err(_) => s
            .parse::<IpAddr>()
            .map(ipnet::IpNet::from)
            .map_err(|_| "an address (192.0.2.7) or a network (192.0.2.0/24)".to_owned())?,
    };
    Ok(match net.addr().to_canonical() {
        IpAddr::V4(a) if net.addr().is_ipv6() => {
            let len = net.prefix_len().saturating_sub(96);
            ipnet::IpNet::new(IpAddr::V4(a), len).map_err(|e| e.to_string())?
        }
        _ => net,
    }
    .trunc())
}

fn parse_shows(s: &str) -> Result<halfopen::evidence::Shows, String> {
    halfopen::evidence::Shows::from_name(s)
        .ok_or_else(|| "one of every-packet, inbound, first-packet, syn-only".to_owned())
}

fn parse_platform(s: &str) -> Result<halfopen::evidence::Platform, String> {
    halfopen::evidence::Platform::from_name(s)
        .ok_or_else(|| "one of linux, freebsd, openbsd, netbsd, macos, windows".to_owned())
}

/// `halfopen analyze`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// Inputs and options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Print the block list in this syntax on stdout (the report's headline goes to stderr).
    #[arg(long, value_enum)]
    pub blocklist: Option<BlocklistArg>,
    /// Block-list rules.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Also write the analysis's summary (bounded, mergeable) to FILE for `halfopen merge`.
    #[arg(long = "summary-out", value_name = "FILE")]
    pub summary_out: Option<PathBuf>,
    /// Also write one JSON line per connection to FILE (docs/json-schema.md, "connection
    /// records"); the report stays bounded either way.
    #[arg(long = "connections", value_name = "FILE")]
    pub connections: Option<PathBuf>,
}

impl InputArgs {
    /// The analysis options.
    pub fn options(&self) -> Result<Options, CliError> {
        let zone = match &self.tz {
            Some(z) => Some(Zone::parse(z).map_err(|_| {
                CliError::Usage(format!(
                    "--tz {z}: not a zone (use an IANA name like Europe/Berlin, UTC, or +0100)"
                ))
            })?),
            None => None,
        };
        let opts = Options {
            year: self.year,
            zone,
            policy: BlockPolicy {
                max_prefix_v4: self.max_prefix_v4,
                max_prefix_v6: self.max_prefix_v6,
                allow: self.allow.clone(),
                server_addrs: self
                    .server_addr
                    .iter()
                    .filter(|n| n.prefix_len() == n.max_prefix_len())
                    .map(ipnet::IpNet::addr)
                    .collect(),
                server_nets: self
                    .server_addr
                    .iter()
                    .filter(|n| n.prefix_len() < n.max_prefix_len())
                    .copied()
                    .collect(),
                min_block_sources: self.min_block_sources,
                block_hostile_clients: self.block_hostile_clients,
            },
            access_format: self.access_format.clone(),
            rules: halfopen::judge::Rules {
                min_flood_attempts: self.min_flood_attempts,
                min_flood_sources: self.min_flood_sources,
                ..halfopen::judge::Rules::default()
            },
            firewall_shows: self.firewall_shows,
            server_os: self.server_os,
            payload_bytes: self.payload_bytes as usize,
            show_payload: self.show_payload,
            memory_mb: self.memory_mb as usize,
            top: self.top,
            threads: self.threads.map(|n| n as usize),
            ..Options::default()
        };
        opts.validate()
            .map_err(|e| CliError::Usage(e.to_string()))?;
        Ok(opts)
    }

    /// Every input with its kind.
    pub fn all(&self) -> Vec<(Source, &Path)> {
        let mut v: Vec<(Source, &Path)> = Vec::new();
        v.extend(
            self.firewall
                .iter()
                .map(|p| (Source::Firewall, p.as_path())),
        );
        v.extend(self.pcap.iter().map(|p| (Source::Pcap, p.as_path())));
        v.extend(self.access.iter().map(|p| (Source::Access, p.as_path())));
        v.extend(
            self.error_log
                .iter()
                .map(|p| (Source::ErrorLog, p.as_path())),
        );
        v.extend(self.netstat.iter().map(|p| (Source::Netstat, p.as_path())));
        v
    }
}

/// The inputs the report says could not be used.
pub fn unusable_inputs(r: &Report) -> Vec<String> {
    r.unusable_inputs.clone()
}

/// Runs `analyze`.
pub fn run_analyze(a: &AnalyzeArgs) -> Result<u8, CliError> {
    let (mut summary, mut records_failed) = summarise(&a.input, a.connections.as_deref())?;
    let mut input = a.input.clone();
    if let Some(zone) = zone_to_read_again_in(&a.input, &summary) {
        diagnostic(&format!(
            "note: the access log's UTC offset changed within the firewall input's time: reading the inputs again with --tz {zone}"
        ));
        input.tz = Some(zone.clone());
        (summary, records_failed) = summarise(&input, a.connections.as_deref())?;
        summary.notes.push(format!(
            "read again with --tz {zone}: the access log's UTC offset changed (a daylight-saving change) within the firewall input's time, and the first reading took every zone-less stamp at one offset (the warning it gave is left out)"
        ));
    }
    let opts = input.options()?;
    if let Some(path) = &a.summary_out {
        write_file(path, summary.to_json().as_bytes())?;
    }
    let report = halfopen::analyze::conclude(summary, &opts);
    if let Some(e) = records_failed.and_then(|f| f.lock().ok().and_then(|mut g| g.take())) {
        diagnostic(&format!("--connections: {e}"));
        print_report_then(&report, a.blocklist, a.format, &a.rules)?;
        return Ok(EXIT_INPUT);
    }
    finish_analysis(&report, a.blocklist, a.format, &a.rules)
}

/// Reads every input into a summary (and the connection records into `connections`).
fn summarise(
    input: &InputArgs,
    connections: Option<&Path>,
) -> Result<(halfopen::analyze::Summary, Option<Failed>), CliError> {
    let Loaded {
        mut analyzer,
        duplicates,
    } = load(input)?;
    for d in &duplicates {
        diagnostic(&format!("note: {}", d.note()));
        analyzer.note(d.note());
    }
    let records_failed = match connections {
        Some(path) => Some(records_to(&mut analyzer, path)?),
        None => None,
    };
    Ok((analyzer.finish_summary(), records_failed))
}

/// The zone to read the inputs again in: the one the access logs' offsets suggest, when no
/// `--tz` was given and no input is stdin (read once).
fn zone_to_read_again_in(
    input: &InputArgs,
    summary: &halfopen::analyze::Summary,
) -> Option<String> {
    let zone = summary.zone_suggested.clone()?;
    let from_stdin =
        crate::inputs::distinct(input).map_or(true, |d| d.inputs.iter().any(|i| i.is_stdin()));
    (input.tz.is_none() && !from_stdin).then_some(zone)
}

/// `halfopen merge`.
pub fn run_merge(m: &MergeArgs) -> Result<u8, CliError> {
    let i = &m.input;
    if !(i.firewall.is_empty()
        && i.pcap.is_empty()
        && i.access.is_empty()
        && i.error_log.is_empty())
        || i.netstat.is_some()
    {
        return Err(CliError::Usage(
            "merge reads summary files (analyze --summary-out), not logs".to_owned(),
        ));
    }
    let opts = m.input.options()?;
    let mut summaries = Vec::with_capacity(m.summaries.len());
    for p in &m.summaries {
        let name = p.display().to_string();
        let bytes =
            std::fs::read(p).map_err(|e| CliError::Input(format!("{name}: cannot read: {e}")))?;
        summaries.push(
            halfopen::analyze::Summary::from_json(&name, &bytes)
                .map_err(|e| CliError::Input(e.to_string()))?,
        );
    }
    let mut all = summaries.remove(0);
    for s in &summaries {
        all.merge(s);
    }
    if let Some(path) = &m.summary_out {
        write_file(path, all.to_json().as_bytes())?;
    }
    let report = halfopen::analyze::conclude(all, &opts);
    finish_analysis(&report, m.blocklist, m.format, &m.rules)
}

/// Writes `bytes` to the file `path` (created or truncated).
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes)
        .map_err(|e| CliError::Output(format!("cannot write {}: {e}", path.display())))
}

/// The first write error of the connection records, shared with the writer.
type Failed = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// A file writer that keeps its first error where the command can see it.
struct Recorded {
    file: std::fs::File,
    failed: Failed,
}

impl std::io::Write for Recorded {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf).inspect_err(|e| self.keep(e))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().inspect_err(|e| self.keep(e))
    }
}

impl Recorded {
    fn keep(&self, e: &std::io::Error) {
        if let Ok(mut g) = self.failed.lock()
            && g.is_none()
        {
            *g = Some(e.to_string());
        }
    }
}

/// Sends the connection records to `path`.
fn records_to(
    analyzer: &mut halfopen::Analyzer,
    path: &std::path::Path,
) -> Result<Failed, CliError> {
    let file = std::fs::File::create(path)
        .map_err(|e| CliError::Output(format!("cannot write {}: {e}", path.display())))?;
    let failed: Failed = Failed::default();
    analyzer.write_connections(Box::new(Recorded {
        file,
        failed: failed.clone(),
    }));
    Ok(failed)
}

/// Prints the report and ignores its exit code (a later error decides it).
fn print_report_then(
    report: &Report,
    blocklist: Option<BlocklistArg>,
    format: OutputFormat,
    rules: &RuleArgs,
) -> Result<(), CliError> {
    finish_analysis(report, blocklist, format, rules).map(|_| ())
}

/// Prints the report and gives the exit code it calls for.
fn finish_analysis(
    report: &Report,
    blocklist: Option<BlocklistArg>,
    format: OutputFormat,
    rules: &RuleArgs,
) -> Result<u8, CliError> {
    let printed = match (blocklist, format) {
        (Some(b), _) => {
            let smallest = report.forms.iter().filter_map(|f| f.smallest_rule).min();
            Printed::Blocklist(b.into(), rules.render_options_before(smallest))
        }
        (None, OutputFormat::Json) => Printed::Json,
        (None, OutputFormat::Text) => Printed::Text,
    };
    // A closed pipe stops the output quietly; the exit code stays the analysis's own.
    print_analysis(report, &printed)?;
    let bad = unusable_inputs(report);
    if !bad.is_empty() {
        for b in &bad {
            diagnostic(b);
        }
        return Ok(EXIT_INPUT);
    }
    Ok(if report.hostile_found || !report.blocklist.is_empty() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}
