//! The top-level API: feed firewall logs, captures, access logs, error logs and socket
//! snapshots, get a [`Report`]. [`Analyzer::finish`] runs the stages in order, data flowing
//! one way:
//!
//! 1. inputs ([`crate::input`]): paths, stdin, gzip, line caps, skipped-line accounting;
//! 2. what each input shows ([`crate::evidence`]);
//! 3. connections ([`crate::connections`]) and requests ([`crate::requests`]), read on two
//!    threads at once;
//! 4. correlation ([`crate::correlate`]);
//! 5. rollups ([`crate::rollup`]) and verdicts ([`crate::infer`], [`crate::judge`]);
//! 6. block-list policy ([`crate::policy`]), invariants enforced last;
//! 7. report ([`crate::report`]).

mod budget;
mod flow;
mod handoff;
mod records;
mod summary;

pub use budget::{Budget, DEFAULT_MEMORY_MB, MIN_MEMORY_MB};
pub use records::{ConnRecord, ConnWriter};
pub use summary::{SUMMARY_FORMAT, SUMMARY_VERSION, Summary, conclude, merge_summaries};

use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};

use halfopen_fwlog::reader::LineReader;
use halfopen_tcp::prefix::PrefixConfig;
use halfopen_weblog::LogFormat;

use crate::clock::Zone;
use crate::connections::{self, InputRead, PacketInput, PacketsRead, ReadOptions, Workers};
use crate::correlate::{CorrelateOptions, StreamLimits};
use crate::error::{Error, Result};
use crate::escape::{rfc3339, thousands};
use crate::evidence::{InputForm, Platform, Shows, check_every_packet};
use crate::input::{self, Skipped};
use crate::judge::Rules;
use crate::netstat::NetstatSummary;
use crate::offsets::{self, OffsetTrail};
use crate::policy::BlockPolicy;
use crate::report::{CorrelationReport, FormReport, InputInfo, Report};
use crate::requests::{self, ServerNote, WebDone, WebJob, WebStream};

pub use flow::{AHEAD_US, WARM_CONNECTIONS, WARM_ITEMS, WARM_LINGER_US, WARM_US, ZONE_AHEAD_US};

/// Largest netstat snapshot read, bytes.
pub const MAX_NETSTAT_BYTES: u64 = 64 << 20;

/// Share of an input's lines that may be skipped before the input counts as unusable.
pub const MAX_SKIP_SHARE: f64 = 0.5;

/// Analysis options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Year for year-less firewall stamps (default: inferred).
    pub year: Option<i32>,
    /// Zone for zone-less firewall stamps (default: the access log's `%t` offset, else UTC).
    pub zone: Option<Zone>,
    /// Reference time for year inference when a file has no mtime (default: now).
    pub now: Option<DateTime<Utc>>,
    /// What may be blocked.
    pub policy: BlockPolicy,
    /// The flow table.
    pub tcp: halfopen_tcp::Config,
    /// Correlation tuning.
    pub correlate: CorrelateOptions,
    /// What the streaming correlation may hold.
    pub stream: StreamLimits,
    /// Longest line read.
    pub max_line_len: usize,
    /// Skipped lines kept for the report (all are counted).
    pub max_skipped_kept: usize,
    /// Apache `LogFormat` string of the access logs (default: auto-detected).
    pub access_format: Option<String>,
    /// Thresholds of the verdicts.
    pub rules: Rules,
    /// What the firewall inputs show, when the user knows better than the data.
    pub firewall_shows: Option<Shows>,
    /// The server's platform, when the user says it.
    pub server_os: Option<Platform>,
    /// Bytes of each capture connection's client side kept and classified (0: none; the
    /// server's first line is kept too). Default 4096.
    pub payload_bytes: usize,
    /// Quote a connection's first bytes whole (escaped, capped) in the evidence, not only
    /// the method, the path and the header names (they may hold cookies or credentials).
    pub show_payload: bool,
    /// The memory budget, MB (`--memory`; default 256): the flow table, the correlation's
    /// queues, the first-bytes store, the sources held one by one and the client set share it
    /// ([`Budget`]); past their caps they evict and count.
    pub memory_mb: usize,
    /// Sources listed in the report, hostile first (`--top`; default 1000); every source is
    /// judged and counted.
    pub top: usize,
    /// Threads beyond each input's reading thread and the tracking thread (default: two when
    /// the process may run on four cores or more, else none). With some, correlation and
    /// rollups run on a thread of their own, and a firewall log's lines past its form's
    /// decision are parsed on that many threads. The report is the same either way.
    pub threads: Option<usize>,
    /// Lines a parsing thread takes at a time (default [`DEFAULT_PART_LINES`]).
    pub parse_part_lines: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            year: None,
            zone: None,
            now: None,
            policy: BlockPolicy::default(),
            tcp: halfopen_tcp::Config::default(),
            correlate: CorrelateOptions::default(),
            stream: StreamLimits::default(),
            max_line_len: input::DEFAULT_MAX_LINE_LEN,
            max_skipped_kept: 1000,
            access_format: None,
            rules: Rules::default(),
            firewall_shows: None,
            server_os: None,
            payload_bytes: PrefixConfig::default().client_bytes,
            show_payload: false,
            memory_mb: DEFAULT_MEMORY_MB,
            top: DEFAULT_TOP,
            threads: None,
            parse_part_lines: DEFAULT_PART_LINES,
        }
    }
}

impl Options {
    /// Checks that every value has a meaning.
    ///
    /// ```
    /// use halfopen::Options;
    /// assert!(Options::default().validate().is_ok());
    /// let mut o = Options::default();
    /// o.policy.max_prefix_v4 = 33;
    /// assert!(o.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |option: &'static str, why: String| Err(Error::InvalidOption { option, why });
        if self.policy.max_prefix_v4 > 32 {
            return bad(
                "max_prefix_v4",
                format!(
                    "{} is longer than an IPv4 address",
                    self.policy.max_prefix_v4
                ),
            );
        }
        if self.policy.max_prefix_v6 > 128 {
            return bad(
                "max_prefix_v6",
                format!(
                    "{} is longer than an IPv6 address",
                    self.policy.max_prefix_v6
                ),
            );
        }
        if self.max_line_len == 0 {
            return bad("max_line_len", "0 reads no line".to_owned());
        }
        if self.tcp.max_flows == 0 {
            return bad("max_flows", "0 tracks no connection".to_owned());
        }
        if let Some(y) = self.year
            && !(1970..=9999).contains(&y)
        {
            return bad("year", format!("{y} is outside 1970..=9999"));
        }
        if self.memory_mb < MIN_MEMORY_MB {
            return bad(
                "memory",
                format!(
                    "{} MB is below the {MIN_MEMORY_MB} MB minimum",
                    self.memory_mb
                ),
            );
        }
        if self.payload_bytes > MAX_PAYLOAD_BYTES {
            return bad(
                "payload_bytes",
                format!("{} is above {MAX_PAYLOAD_BYTES}", self.payload_bytes),
            );
        }
        if self.rules.min_flood_attempts == 0 || self.rules.min_flood_sources == 0 {
            return bad("min_flood", "0 would make every attempt a flood".to_owned());
        }
        if self.parse_part_lines == 0 {
            return bad("parse_part_lines", "0 lines is no part".to_owned());
        }
        if self.threads.is_some_and(|w| w > MAX_THREADS) {
            return bad("threads", format!("more than {MAX_THREADS}"));
        }
        Ok(())
    }
}

/// Sources listed in the report by default.
pub const DEFAULT_TOP: usize = 1000;

/// Lines a parsing thread takes at a time by default.
pub const DEFAULT_PART_LINES: usize = 2048;

/// Most threads [`Options::threads`] accepts.
pub const MAX_THREADS: usize = 64;

/// Two threads when the process may run on four cores or more (its CPU affinity counts),
/// else none. On two cores the extra threads cost more than they give: the work is then
/// bound by the CPU time of all threads together, and handing lines, events and connections
/// between cores adds to it (docs/performance.md, "The two-core round").
fn default_threads() -> usize {
    match std::thread::available_parallelism() {
        Ok(n) if n.get() >= 4 => 2,
        _ => 0,
    }
}

/// Most client bytes kept per capture connection (the store's budget holds 32 MiB).
pub const MAX_PAYLOAD_BYTES: usize = 65_536;

/// Kind of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// Firewall log.
    Firewall,
    /// Access log.
    Access,
    /// Error log.
    ErrorLog,
    /// pcap/pcapng.
    Pcap,
    /// netstat/ss snapshot.
    Netstat,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Firewall => "firewall",
            Source::Access => "access",
            Source::ErrorLog => "error",
            Source::Pcap => "pcap",
            Source::Netstat => "netstat",
        }
    }
}

struct Pending {
    name: String,
    kind: Source,
    reader: Box<dyn Read + Send>,
    mtime: Option<DateTime<Utc>>,
}

/// Collects inputs, then analyses them in [`Analyzer::finish`].
///
/// ```
/// use halfopen::analyze::{Analyzer, Options};
/// let fw = "Mar  1 18:49:05 web kernel: ipfw: 100 Accept TCP 45.76.87.206:58896 116.58.172.107:80 in via em0\n";
/// let mut a = Analyzer::new(Options { year: Some(2026), ..Options::default() });
/// a.add_firewall("ipfw.log", std::io::Cursor::new(fw.as_bytes().to_vec()));
/// let report = a.finish();
/// assert_eq!(report.connections_total, 1);
/// assert_eq!(report.inputs[0].format.as_deref(), Some("ipfw"));
/// ```
pub struct Analyzer {
    opts: Options,
    inputs: Vec<Pending>,
    notes: Vec<String>,
    records: Option<ConnWriter>,
}

impl Analyzer {
    /// A new analysis.
    pub fn new(opts: Options) -> Analyzer {
        Analyzer {
            opts,
            inputs: Vec::new(),
            notes: Vec::new(),
            records: None,
        }
    }

    /// Writes one JSON line per connection to `out` as the analysis goes (`--connections`;
    /// docs/json-schema.md, "connection records"). A write error stops the records and is
    /// a warning in the report.
    pub fn write_connections(&mut self, out: Box<dyn std::io::Write + Send>) {
        self.records = Some(ConnWriter::new(out));
    }

    fn add(
        &mut self,
        kind: Source,
        name: &str,
        reader: Box<dyn Read + Send>,
        mtime: Option<DateTime<Utc>>,
    ) {
        self.inputs.push(Pending {
            name: name.to_owned(),
            kind,
            reader,
            mtime,
        });
    }

    /// Adds a firewall log (any supported format, gzip or not).
    pub fn add_firewall(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Firewall, name, Box::new(r), None);
    }
    /// Adds an Apache/nginx access log.
    pub fn add_access(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Access, name, Box::new(r), None);
    }
    /// Adds an Apache/nginx error log.
    pub fn add_error_log(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::ErrorLog, name, Box::new(r), None);
    }
    /// Adds a pcap or pcapng capture (gzip detected).
    pub fn add_pcap(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Pcap, name, Box::new(r), None);
    }
    /// Adds a `netstat -an`/`ss -tan` snapshot.
    pub fn add_netstat(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Netstat, name, Box::new(r), None);
    }

    /// Adds any reader as an input of `kind` (gzip detected), with the file's modification
    /// time as the reference for year inference.
    pub fn add_reader(
        &mut self,
        kind: Source,
        name: &str,
        r: Box<dyn Read + Send>,
        mtime: Option<DateTime<Utc>>,
    ) {
        self.add(kind, name, r, mtime);
    }

    /// Opens a path (`-` = stdin, gzip detected) as an input of `kind`; the file's mtime is
    /// the reference for year inference.
    pub fn add_path(&mut self, kind: Source, path: &Path) -> Result<()> {
        let name = path.display().to_string();
        let mtime = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .map(DateTime::<Utc>::from);
        let reader = input::open(path)?;
        self.add(kind, &name, reader, mtime);
        Ok(())
    }

    /// Adds a note to the report (the CLI's, about how inputs were given).
    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Runs the analysis.
    pub fn finish(self) -> Report {
        let opts = self.opts.clone();
        conclude(self.finish_summary(), &opts)
    }

    /// Reads every input and returns the summary the last stages run on (what
    /// `--summary-out` writes; [`conclude`] makes the report, [`merge_summaries`] merges
    /// several first).
    pub fn finish_summary(self) -> Summary {
        let Analyzer {
            opts,
            inputs,
            notes,
            records,
        } = self;
        Pipeline::new(opts, notes).run(inputs, records)
    }
}

/// The stages, run in order.
struct Pipeline {
    opts: Options,
    notes: Vec<String>,
    warnings: Vec<String>,
    unusable: Vec<String>,
    infos: Vec<InputInfo>,
    skipped: Skipped,
}

impl Pipeline {
    fn new(opts: Options, notes: Vec<String>) -> Pipeline {
        let cap = opts.max_skipped_kept;
        Pipeline {
            opts,
            notes,
            warnings: Vec::new(),
            unusable: Vec::new(),
            infos: Vec::new(),
            skipped: Skipped::new(cap),
        }
    }

    fn run(mut self, inputs: Vec<Pending>, records: Option<ConnWriter>) -> Summary {
        // 1. Inputs, by kind.
        let mut packets = Vec::new();
        let mut web = Vec::new();
        let mut snapshots = Vec::new();
        for p in inputs {
            match p.kind {
                Source::Firewall | Source::Pcap => packets.push(p),
                Source::Access | Source::ErrorLog => web.push(p),
                Source::Netstat => snapshots.push(p),
            }
        }
        let has_access = web.iter().any(|p| p.kind == Source::Access);
        let netstat = self.read_snapshots(snapshots);
        let (jobs, hint) = self.prepare_web(web);
        let zone = self
            .opts
            .zone
            .unwrap_or_else(|| Zone::Fixed(hint.map_or(0, |h| h.1)));
        let budget = Budget::of(self.opts.memory_mb);
        let threads = self.opts.threads.unwrap_or_else(default_threads);
        let read_opts = ReadOptions {
            tcp: halfopen_tcp::Config {
                max_flows: self.opts.tcp.max_flows.min(budget.flows),
                ..self.opts.tcp
            },
            max_line_len: self.opts.max_line_len,
            max_skipped_kept: self.opts.max_skipped_kept,
            year: self.opts.year,
            zone,
            access_hint_us: hint.map(|h| h.0),
            now: self.opts.now,
            firewall_shows: self.opts.firewall_shows,
            prefix: (self.opts.payload_bytes > 0).then(|| PrefixConfig {
                client_bytes: self.opts.payload_bytes,
                max_bytes: PrefixConfig::default().max_bytes.min(budget.prefix_bytes),
                max_entries: PrefixConfig::default()
                    .max_entries
                    .min(budget.prefix_entries),
                ..PrefixConfig::default()
            }),
            show_payload: self.opts.show_payload,
            workers: Workers {
                threads,
                part_lines: self.opts.parse_part_lines,
            },
        };
        let packet_inputs: Vec<PacketInput> = packets
            .into_iter()
            .map(|p| PacketInput {
                name: p.name,
                capture: p.kind == Source::Pcap,
                reader: p.reader,
                mtime: p.mtime,
            })
            .collect();
        let cap = self.opts.max_skipped_kept;
        let jobs: Vec<WebJob> = jobs
            .into_iter()
            .map(|mut j| {
                j.err_zone = zone;
                j
            })
            .collect();
        // 2-5. What each input shows, connections and requests (each input on its own
        // thread), correlation and rollups, streamed.
        let (packets_read, mut flow, corr, mut web_dones) = std::thread::scope(|s| {
            let web = (!jobs.is_empty()).then(|| WebStream::start(s, jobs, cap));
            let mut flow = flow::Flow::new(
                web,
                self.opts.correlate,
                self.opts.stream,
                self.opts.policy.server_addrs.clone(),
                self.opts.policy.server_nets.clone(),
                &budget,
            );
            flow.side.records = records;
            let (packets, mut flow) = if threads > 0 {
                // Correlation and rollups on their own thread, fed in the tracker's order.
                let (mut to_flow, calls) = handoff::channel();
                let replaying = s.spawn(move || {
                    handoff::replay(calls, &mut flow);
                    flow
                });
                let packets = connections::read(packet_inputs, &read_opts, &mut to_flow);
                to_flow.finish();
                let flow = replaying
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (packets, flow)
            } else {
                let packets = connections::read(packet_inputs, &read_opts, &mut flow);
                (packets, flow)
            };
            let corr = flow.finish();
            let web_dones = drain_web(flow.take_web());
            (packets, flow, corr, web_dones)
        });
        let PacketsRead {
            inputs: reads,
            forms,
            kernel,
            skipped,
            merged,
            prefix,
            table,
            ..
        } = packets_read;
        self.note_time_assumptions(&reads, zone, hint.is_some());
        self.skipped.merge(skipped);
        self.report_inputs(&reads, &forms);
        let trails: Vec<OffsetTrail> = web_dones
            .iter_mut()
            .filter(|d| d.access)
            .map(|d| std::mem::take(&mut d.offsets))
            .collect();
        self.report_web(web_dones);
        if merged > 0 {
            self.notes.push(format!(
                "{merged} connection(s) were seen by two inputs (a capture and a firewall log of the same traffic): each is counted once, from the capture"
            ));
        }
        if let Some(w) = flow.side.records.take() {
            let (n, error) = w.finish();
            match error {
                Some(e) => self.warnings.push(format!(
                    "writing the connection records failed after {} records: {e}",
                    thousands(n)
                )),
                None => self
                    .notes
                    .push(format!("{} connection records written", thousands(n))),
            }
        }
        let side = &flow.side;
        if side.own > 0 {
            self.notes.push(format!(
                "{} connection(s) from the server's own addresses or loopback (its own traffic, \
                 Apache's internal dummy connections) are left out: they are not clients",
                thousands(side.own)
            ));
        }
        let (early_conns, early_reqs) = flow.early();
        if early_conns + early_reqs > 0 {
            self.notes.push(format!(
                "{} connection(s) and {} request(s) were matched before the other log had passed \
                 them (the memory budget's caps): a later line could have changed their match",
                thousands(early_conns),
                thousands(early_reqs)
            ));
        }
        if !has_access {
            self.notes
                .push("no access log given: connections cannot be matched to requests".to_owned());
        }
        let offset = flow.offset.0.unwrap_or(0);
        let fw_span = side.fw_span;
        let zone_suggested = self.check_zone(zone, &trails, fw_span, zoneless(&reads));
        let access_span = flow
            .totals
            .span
            .map(|(a, b)| (a.saturating_sub(offset), b.saturating_sub(offset)));
        self.check_offset(flow.offset, zone);
        let platform = self.platform(&reads, &flow.totals.server_notes);
        // Successes: the access log's, and whole requests a capture saw answered.
        let mut successes = std::mem::take(&mut flow.totals.successes);
        for (ip, n) in &flow.side.rollup.first_bytes.answered {
            successes.add(*ip, *n);
        }
        let correlation = CorrelationReport {
            requests: flow.totals.requests,
            matched: corr.matched,
            certain: corr.certain,
            by_elimination: corr.by_elimination,
            unmatched: corr.unmatched,
            outside_span: corr.outside_span,
            internal: flow.totals.internal,
            timeouts: flow.totals.timeouts,
            timeouts_matched: corr.timeouts_matched,
        };
        for (r, f) in reads.iter().zip(&forms) {
            if let Some(w) = check_every_packet(f, &r.conn_tally) {
                self.warnings.push(format!("{}: {w}", r.name));
            }
        }
        Summary {
            format: SUMMARY_FORMAT.to_owned(),
            version: SUMMARY_VERSION,
            rollup: std::mem::take(&mut flow.side.rollup),
            edges: std::mem::take(&mut flow.side.edges),
            successes,
            has_access,
            fw_span,
            access_span,
            server_addrs: flow.side.servers.clone(),
            correlation,
            kernel,
            server_notes: std::mem::take(&mut flow.totals.server_notes),
            backscatter: (
                flow.side.backscatter,
                flow.side.backscatter_from.len() as u64,
            ),
            platform,
            forms: reads
                .iter()
                .zip(&forms)
                .filter(|(r, _)| r.unusable.is_none())
                .map(|(r, f)| FormReport::of(&r.name, f, r.tally.smallest_rule))
                .collect(),
            inputs: self.infos,
            notes: self.notes,
            warnings: self.warnings,
            unusable: self.unusable,
            year_inferred: self.opts.year.is_none()
                && reads.iter().any(|r| r.inferred_year.is_some()),
            zone_inferred: self.opts.zone.is_none(),
            zone_suggested,
            clock_offset_seconds: flow.offset.0.map(|o| o as f64 / 1e6),
            first_bytes_store: prefix.map(|st| {
                (
                    st.peak_entries as u64,
                    st.evicted_for_bytes + st.evicted_for_entries,
                )
            }),
            memory_mb: self.opts.memory_mb as u64,
            flows_evicted: table.evicted_half_open + table.evicted_other,
            matched_early: early_conns + early_reqs,
            netstat,
            skipped_total: self.skipped.total,
            skipped: self.skipped.kept,
        }
    }

    fn read_snapshots(&mut self, snapshots: Vec<Pending>) -> Option<NetstatSummary> {
        let mut out: Option<NetstatSummary> = None;
        for p in snapshots {
            let mut info = info_for(&p.name, Source::Netstat, Some("netstat".into()));
            let mut buf = Vec::new();
            let read = input::decompress(p.reader)
                .and_then(|r| r.take(MAX_NETSTAT_BYTES).read_to_end(&mut buf));
            match read {
                Ok(_) => {
                    let s = NetstatSummary::from_bytes(&buf);
                    info.lines =
                        buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count() as u64;
                    info.records = s.states.values().sum();
                    info.skipped = s.rejected.len() as u64;
                    for (line, e) in &s.rejected {
                        self.skipped.push(&p.name, *line, 0, e.clone());
                    }
                    if info.records == 0 {
                        let why = format!(
                            "{}: no socket line could be read (is it `netstat -an` or `ss -tan` output?)",
                            p.name
                        );
                        info.unusable = Some(why.clone());
                        self.unusable.push(why);
                    }
                    match &mut out {
                        None => out = Some(s),
                        Some(prev) => prev.merge(&s),
                    }
                }
                Err(e) => {
                    let why = format!("{}: {e}", p.name);
                    self.skipped.push(&p.name, 0, 0, e.to_string());
                    info.unusable = Some(why.clone());
                    self.unusable.push(why);
                }
            }
            self.infos.push(info);
        }
        out
    }

    /// Detects each web input's format (and learns the server's year and UTC offset from
    /// the first access-log time).
    fn prepare_web(&mut self, web: Vec<Pending>) -> (Vec<WebJob>, Option<(i64, i32)>) {
        let mut jobs = Vec::new();
        let mut hint: Option<(i64, i32)> = None;
        for p in web {
            let mut lines = LineReader::from_reader(p.reader, &p.name)
                .with_max_line_len(self.opts.max_line_len);
            let sample = input::read_sample(&mut lines);
            let refs: Vec<&[u8]> = input::sample_lines(&sample).collect();
            let format = if p.kind == Source::Access {
                let detected = match &self.opts.access_format {
                    Some(fmt) => LogFormat::compile(fmt).map_err(|e| e.to_string()),
                    None => requests::detect_access(&refs),
                };
                match detected {
                    Ok(f) => {
                        if hint.is_none() {
                            hint = refs
                                .iter()
                                .find_map(|l| f.parse(l).ok().and_then(|r| r.time))
                                .map(|t| (t.ts_us, t.utc_offset_secs));
                        }
                        Some(f)
                    }
                    Err(e) => {
                        let why = format!("{}: unrecognised access-log format: {e}", p.name);
                        self.skipped.push(
                            &p.name,
                            0,
                            0,
                            format!("unrecognised access-log format: {e}"),
                        );
                        let mut info = info_for(&p.name, p.kind, None);
                        info.unusable = Some(why.clone());
                        self.unusable.push(why);
                        self.infos.push(info);
                        continue;
                    }
                }
            } else {
                None
            };
            jobs.push(WebJob {
                name: p.name,
                format,
                lines,
                sample,
                err_zone: Zone::Utc,
            });
        }
        (jobs, hint)
    }

    fn report_inputs(&mut self, reads: &[InputRead], forms: &[InputForm]) {
        for (r, _f) in reads.iter().zip(forms) {
            let kind = if r.capture {
                Source::Pcap
            } else {
                Source::Firewall
            };
            let format = if r.capture {
                Some("pcap".to_owned())
            } else {
                r.format.map(|f| f.name().to_owned())
            };
            let mut info = info_for(&r.name, kind, format);
            info.lines = r.counts.lines;
            info.records = r.counts.records;
            info.skipped = r.counts.skipped;
            info.ignored = r.counts.ignored;
            info.unit = if r.capture { "packets" } else { "lines" }.to_owned();
            let mut why = r.unusable.clone();
            if why.is_none() {
                why = unusable_reason(r);
            }
            if let Some(w) = &why {
                let w = format!("{}: {w}", r.name);
                info.unusable = Some(w.clone());
                self.unusable.push(w);
            }
            self.infos.push(info);
        }
    }

    fn report_web(&mut self, dones: Vec<WebDone>) {
        for d in dones {
            let kind = if d.access {
                Source::Access
            } else {
                Source::ErrorLog
            };
            let mut info = info_for(&d.name, kind, d.format.clone());
            info.lines = d.counts.lines;
            info.records = d.counts.records;
            info.skipped = d.counts.skipped;
            info.ignored = d.counts.ignored;
            if let Some(w) = &d.unusable {
                let w = format!("{}: {w}", d.name);
                info.unusable = Some(w.clone());
                self.unusable.push(w);
            }
            self.skipped.merge(d.skipped);
            self.infos.push(info);
        }
    }

    /// A warning when the clock offset between the logs is large (a wrong --tz or --year
    /// shows there) or could not be found although both logs have requests and connections.
    fn check_offset(&mut self, (offset, pairs): (Option<i64>, u64), zone: Zone) {
        if let Some(o) = offset.filter(|o| o.unsigned_abs() >= 300_000_000) {
            self.warnings.push(format!(
                "the access log's clock is {:+.0} s off the firewall's ({} request/connection \
                 pairs agree): {}",
                o as f64 / 1e6,
                thousands(pairs),
                zone_of_the_offset(o, zone).map_or_else(
                    || "check --tz and the servers' clocks".to_owned(),
                    |(read, written)| format!(
                        "whole quarter hours, as a zone makes: the firewall's stamps, read at UTC{}, look written at UTC{} (give --tz {}); the offset is applied",
                        offsets::show(read),
                        offsets::show(written),
                        offsets::show(written).replace(':', "")
                    )
                )
            ));
        }
    }

    fn note_time_assumptions(&mut self, reads: &[InputRead], zone: Zone, access_hint: bool) {
        let mut years: Vec<i32> = reads.iter().filter_map(|r| r.inferred_year).collect();
        years.sort_unstable();
        years.dedup();
        if self.opts.year.is_none() && !years.is_empty() {
            let list: Vec<String> = years.iter().map(i32::to_string).collect();
            self.notes.push(format!(
                "firewall timestamps carry no year: assumed {} ({}); use --year to override",
                list.join(", "),
                if access_hint {
                    "from the access log's dates"
                } else {
                    "from the file's modification time or today"
                }
            ));
        }
        if self.opts.zone.is_none() && zoneless(reads) {
            self.notes.push(match zone {
                Zone::Fixed(o) if access_hint => format!(
                    "firewall timestamps carry no zone: assumed UTC{:+03}:{:02} (the access log's offset); use --tz to override",
                    o / 3600,
                    (o.abs() % 3600) / 60
                ),
                _ => "firewall timestamps carry no zone: assumed UTC; use --tz to override".to_owned(),
            });
        }
    }

    /// A warning when the access logs' UTC offsets changed within the firewall input's time
    /// (a daylight-saving change) while its zone-less stamps were read at one offset, or
    /// do not match the zone given. Gives the IANA zone that reads them as they were written,
    /// when none was given.
    fn check_zone(
        &mut self,
        zone: Zone,
        trails: &[OffsetTrail],
        fw_span: Option<(i64, i64)>,
        zoneless: bool,
    ) -> Option<String> {
        let (start, end) = fw_span.filter(|_| zoneless)?;
        if let Zone::Tz(tz) = zone {
            let off = trails.iter().find_map(|t| t.disagrees_with(tz))?;
            self.warnings.push(format!(
                "the access log's UTC offset was {} at {}, not {}'s {}: the firewall's zone-less stamps may be read in the wrong zone; check --tz",
                offsets::show(off.1),
                rfc3339(off.0),
                tz.name(),
                offsets::show(offsets::offset_at(tz, off.0).unwrap_or(0)),
            ));
            return None;
        }
        let fixed = zone.fixed_offset().unwrap_or(0);
        let change = trails
            .iter()
            .flat_map(OffsetTrail::changes)
            .find(|c| c.after_us >= start && c.before_us <= end)?;
        let zones = offsets::zones_agreeing(trails, offsets::system_zone());
        let suggested = zones.first().map(|z| z.name().to_owned());
        let advice = match (&suggested, self.opts.zone.is_some()) {
            (Some(z), false) => format!(
                "halfopen analyze reads them again with --tz {z} (its offsets are the access log's; {} zone(s) agree)",
                zones.len()
            ),
            (Some(z), true) => format!("give --tz {z} (its offsets are the access log's)"),
            (None, _) => "give the firewall's zone with --tz (an IANA name)".to_owned(),
        };
        self.warnings.push(format!(
            "the access log's UTC offset changed from {} to {} between {} and {} (a daylight-saving change) within the firewall input's time, but its zone-less stamps were all read at {}: those on the other side of the change are {} off and miss their requests; {advice}",
            offsets::show(change.old),
            offsets::show(change.new),
            rfc3339(change.before_us),
            rfc3339(change.after_us),
            offsets::show(fixed),
            offsets::show_span(change.new - change.old),
        ));
        suggested.filter(|_| self.opts.zone.is_none())
    }

    /// The server's platform: `--server-os`, else the firewall format, else what the error log
    /// says.
    fn platform(&self, reads: &[InputRead], notes: &[ServerNote]) -> Option<(Platform, String)> {
        if let Some(p) = self.opts.server_os {
            return Some((p, "given with --server-os".to_owned()));
        }
        let filter_missing = notes
            .iter()
            .any(|n| matches!(n, ServerNote::AcceptFilterMissing { .. }));
        let from_format = reads.iter().find_map(|r| {
            let f = r.format?;
            Platform::of_format(f).map(|p| (p, format!("the firewall log is {}", f.name())))
        });
        match from_format {
            Some((p, why)) if filter_missing => Some((
                p,
                format!("{why}; the error log says the accept filter is not in effect"),
            )),
            other => other,
        }
    }
}

/// A clock offset (access minus firewall, µs) of whole quarter hours, give or take 5 s, with
/// the firewall's stamps read at a fixed offset: (the offset they were read at, the one they
/// look written at).
fn zone_of_the_offset(offset_us: i64, zone: Zone) -> Option<(i32, i32)> {
    let read = zone.fixed_offset()?;
    let quarter = 900_000_000;
    let steps = offset_us.saturating_add(quarter / 2).div_euclid(quarter);
    let skew = offset_us.saturating_sub(steps.saturating_mul(quarter));
    if steps == 0 || skew.abs() > 5_000_000 {
        return None;
    }
    let written = i64::from(read).saturating_sub(steps.saturating_mul(900));
    Some((read, i32::try_from(written).ok()?))
}

/// Whether a firewall input wrote stamps without a zone (read in the zone given or assumed).
fn zoneless(reads: &[InputRead]) -> bool {
    reads.iter().any(|r| r.zone_used)
}

/// Why an input read without error still cannot be trusted, if so.
fn unusable_reason(r: &InputRead) -> Option<String> {
    if r.capture {
        let s = r.capture_stats?;
        if s.tcp == 0 && s.unsupported > 0 {
            return Some(format!(
                "{} frame(s) of an unsupported link type and no TCP segment",
                thousands(s.unsupported)
            ));
        }
        if s.frames > 0 && s.tcp == 0 {
            return Some("no TCP segment in the capture".to_owned());
        }
        return None;
    }
    let c = r.counts;
    let judged = c.records + c.skipped;
    if judged > 0 && c.skipped as f64 > MAX_SKIP_SHARE * judged as f64 {
        return Some(format!(
            "{} of {} lines skipped{}",
            thousands(c.skipped),
            thousands(judged),
            if r.other_format > 0 {
                format!(
                    " ({} of them another firewall format: mixed formats)",
                    thousands(r.other_format)
                )
            } else {
                String::new()
            }
        ));
    }
    None
}

fn info_for(name: &str, kind: Source, format: Option<String>) -> InputInfo {
    InputInfo {
        file: name.to_owned(),
        kind: kind.name().to_owned(),
        format,
        unit: "lines".to_owned(),
        ..InputInfo::default()
    }
}

/// Reads what is left of the web logs and returns what each gave.
fn drain_web(web: Option<WebStream>) -> Vec<WebDone> {
    let Some(mut web) = web else {
        return Vec::new();
    };
    while web.next_batch().is_some() {}
    web.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_of_whole_quarter_hours_names_the_zone_the_stamps_were_written_in() {
        // Read at +01:00, the access log an hour (and 2 s of skew) ahead: written in UTC.
        assert_eq!(
            zone_of_the_offset(3_602_000_000, Zone::Fixed(3600)),
            Some((3600, 0))
        );
        // Read in UTC, the access log 5 h 30 min behind: written at +05:30.
        assert_eq!(
            zone_of_the_offset(-19_800_000_000, Zone::Utc),
            Some((0, 19_800))
        );
        // Not whole quarter hours, less than one, or an IANA zone: no zone named.
        assert_eq!(zone_of_the_offset(3_630_000_000, Zone::Utc), None);
        assert_eq!(zone_of_the_offset(400_000_000, Zone::Utc), None);
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        assert_eq!(zone_of_the_offset(3_600_000_000, berlin), None);
    }
}
