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

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, Utc};

use halfopen_fwlog::reader::LineReader;
use halfopen_weblog::LogFormat;

use crate::clock::Zone;
use crate::connections::{self, InputRead, PacketInput, PacketsRead, ReadOptions};
use crate::correlate::{CorrelateOptions, correlate};
use crate::error::{Error, Result};
use crate::escape::{rfc3339, thousands};
use crate::evidence::{InputForm, Platform, Shows, decide};
use crate::facts::{ConnFacts, RequestKind};
use crate::infer::{Outcome, outcome};
use crate::input::{self, LineCounts, Skipped, Use};
use crate::judge::{Context, Rules, judge};
use crate::netstat::NetstatSummary;
use crate::policy::{BlockPolicy, Protect, decide as plan_blocks};
use crate::report::{CorrelationReport, Findings, FormReport, InputInfo, Report, platform_report};
use crate::requests::{self, LoggedRequest, ServerNote, TimeoutNote, WebItem};
use crate::rollup::Rollup;

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
            max_line_len: input::DEFAULT_MAX_LINE_LEN,
            max_skipped_kept: 1000,
            access_format: None,
            rules: Rules::default(),
            firewall_shows: None,
            server_os: None,
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
        if self.rules.min_flood_attempts == 0 || self.rules.min_flood_sources == 0 {
            return bad("min_flood", "0 would make every attempt a flood".to_owned());
        }
        Ok(())
    }
}

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
}

impl Analyzer {
    /// A new analysis.
    pub fn new(opts: Options) -> Analyzer {
        Analyzer {
            opts,
            inputs: Vec::new(),
            notes: Vec::new(),
        }
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
        let Analyzer {
            opts,
            inputs,
            notes,
        } = self;
        Pipeline::new(opts, notes).run(inputs)
    }
}

/// What the web logs gave.
#[derive(Debug, Default)]
struct WebRead {
    requests: Vec<LoggedRequest>,
    timeouts: Vec<TimeoutNote>,
    server_notes: Vec<ServerNote>,
    internal: u64,
    /// Successful requests per client address (matched or not).
    successes: BTreeMap<IpAddr, u64>,
    /// Access-log time span, access clock, µs.
    span: Option<(i64, i64)>,
    infos: Vec<InputInfo>,
    unusable: Vec<String>,
    skipped: Skipped,
}

/// One web input after format detection.
struct WebJob {
    name: String,
    kind: Source,
    lines: LineReader,
    sample: input::Sample,
    format: Option<LogFormat>,
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

    fn run(mut self, inputs: Vec<Pending>) -> Report {
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
        let err_offset = match zone {
            Zone::Utc => 0,
            Zone::Fixed(o) => o,
            Zone::Tz(_) => hint.map_or(0, |h| h.1),
        };
        let read_opts = ReadOptions {
            tcp: self.opts.tcp,
            max_line_len: self.opts.max_line_len,
            max_skipped_kept: self.opts.max_skipped_kept,
            year: self.opts.year,
            zone,
            access_hint_us: hint.map(|h| h.0),
            now: self.opts.now,
        };
        // 3. Connections and requests, on two threads.
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
        let (web_read, packets_read) = std::thread::scope(|s| {
            let web = s.spawn(move || read_web(jobs, err_offset, cap));
            let packets = connections::read(packet_inputs, &read_opts);
            (web.join(), packets)
        });
        let web_read = web_read.unwrap_or_default();
        // 2. What each input shows.
        let forms = self.forms(&packets_read);
        self.note_time_assumptions(&packets_read, zone, hint.is_some());
        let PacketsRead {
            mut conns,
            inputs: reads,
            kernel,
            skipped,
            ..
        } = packets_read;
        self.skipped.merge(skipped);
        self.report_inputs(&reads, &forms);
        self.report_web(&web_read);
        connections::apply_forms(&mut conns, &forms);
        let captures: Vec<bool> = reads.iter().map(|r| r.capture).collect();
        let merged = connections::merge_same_connections(&mut conns, &captures);
        if merged > 0 {
            self.notes.push(format!(
                "{merged} connection(s) were seen by two inputs (a capture and a firewall log of the same traffic): each is counted once, from the capture"
            ));
        }
        let mut server_addrs: Vec<IpAddr> = self.opts.policy.server_addrs.clone();
        for f in &forms {
            for a in &f.server_addrs {
                if !server_addrs.contains(a) {
                    server_addrs.push(*a);
                }
            }
        }
        let mut own = 0u64;
        let backscatter = take_server_side(&mut conns, &server_addrs, &mut own);
        if own > 0 {
            self.notes.push(format!(
                "{} connection(s) from the server's own addresses or loopback (its own traffic, \
                 Apache's internal dummy connections) are left out: they are not clients",
                thousands(own)
            ));
        }
        // 4. Correlation.
        if !has_access {
            self.notes
                .push("no access log given: connections cannot be matched to requests".to_owned());
        }
        let corr = correlate(
            &mut conns,
            &web_read.requests,
            &web_read.timeouts,
            &self.opts.correlate,
        );
        let offset = corr.clock_offset_us.unwrap_or(0);
        let fw_span = connections_span(&conns);
        let access_span = web_read
            .span
            .map(|(a, b)| (a.saturating_sub(offset), b.saturating_sub(offset)));
        let overlap = self.check_overlap(has_access, fw_span, access_span);
        // 5. Rollups and verdicts.
        let mut rollup = Rollup::default();
        for c in &conns {
            rollup.add(c);
        }
        let platform = self.platform(&reads, &web_read.server_notes);
        let backlog = netstat
            .as_ref()
            .map(|n| n.listen_backlog.clone())
            .unwrap_or_default();
        let cx = Context {
            rules: self.opts.rules,
            access_log: has_access,
            access_span: if overlap { access_span } else { None },
            platform: platform.clone(),
            kernel: kernel.clone(),
            backlog,
            successes: web_read.successes.clone(),
        };
        let judgement = judge(&rollup, &cx);
        // 6. Block-list policy.
        let mut policy = self.opts.policy.clone();
        policy.server_addrs = server_addrs;
        let protect = Protect {
            successful_clients: web_read.successes.keys().copied().collect(),
            success_counts: web_read.successes.clone(),
            absent_requests_count: overlap,
        };
        let view = plan_blocks(&judgement.sources, &protect, &policy);
        // 7. Report.
        let correlation = CorrelationReport {
            requests: web_read.requests.len() as u64,
            matched: corr.matched,
            certain: corr.certain,
            by_elimination: corr.by_elimination,
            unmatched: corr.unmatched,
            outside_span: corr.outside_span,
            internal: web_read.internal,
            timeouts: web_read.timeouts.len() as u64,
            timeouts_matched: corr.timeouts_matched,
        };
        if let Some((a, b)) = fw_span {
            self.notes.push(format!(
                "firewall input covers {} .. {}",
                rfc3339(a),
                rfc3339(b)
            ));
        }
        for u in &self.unusable {
            self.warnings.insert(0, format!("unusable input: {u}"));
        }
        let findings = Findings {
            warnings: self.warnings,
            inputs: self.infos,
            forms: reads
                .iter()
                .zip(&forms)
                .filter(|(r, _)| r.unusable.is_none())
                .map(|(r, f)| FormReport::of(&r.name, f))
                .collect(),
            platform: platform.map(|(p, why)| platform_report(p, &why)),
            notes: self.notes,
            year_inferred: self.opts.year.is_none()
                && reads.iter().any(|r| r.inferred_year.is_some()),
            zone_inferred: self.opts.zone.is_none(),
            clock_offset_seconds: corr.clock_offset_us.map(|o| o as f64 / 1e6),
            correlation,
            kernel,
            server_notes: web_read.server_notes,
            backscatter,
            netstat,
            skipped_lines_total: self.skipped.total + web_read.skipped.total,
            skipped_lines: {
                let mut s = self.skipped;
                s.merge(web_read.skipped);
                s.kept
            },
            no_access_log: !has_access,
            unusable_inputs: self.unusable,
        };
        Report::build(&rollup, &judgement, view, findings)
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
                kind: p.kind,
                lines,
                sample,
                format,
            });
        }
        (jobs, hint)
    }

    fn forms(&self, read: &PacketsRead) -> Vec<InputForm> {
        read.inputs
            .iter()
            .map(|r| {
                if r.capture {
                    let mut f = InputForm::capture();
                    f.server_addrs = r.conn_tally.answerers.dominant(0.05);
                    f
                } else {
                    decide(&r.tally, &r.conn_tally, self.opts.firewall_shows)
                }
            })
            .collect()
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

    fn report_web(&mut self, w: &WebRead) {
        self.infos.extend(w.infos.iter().cloned());
        self.unusable.extend(w.unusable.iter().cloned());
    }

    fn note_time_assumptions(&mut self, read: &PacketsRead, zone: Zone, access_hint: bool) {
        let mut years: Vec<i32> = read.inputs.iter().filter_map(|r| r.inferred_year).collect();
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
        let zoneless = read.inputs.iter().any(|r| {
            !r.capture
                && r.format
                    .is_some_and(|f| f != halfopen_fwlog::Format::WindowsFirewall)
        });
        if self.opts.zone.is_none() && zoneless {
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

    /// Whether the access log and the firewall input overlap in time; a warning when they do
    /// not.
    fn check_overlap(
        &mut self,
        has_access: bool,
        fw: Option<(i64, i64)>,
        access: Option<(i64, i64)>,
    ) -> bool {
        if !has_access {
            return false;
        }
        let (Some((f0, f1)), Some((a0, a1))) = (fw, access) else {
            return true;
        };
        const SLACK: i64 = 60_000_000;
        if a1.saturating_add(SLACK) < f0 || f1.saturating_add(SLACK) < a0 {
            self.warnings.push(format!(
                "the firewall input ({} .. {}) and the access log ({} .. {}) do not overlap in \
                 time: no verdict or block rests on \"no request was logged\" (check --year and \
                 --tz)",
                rfc3339(f0),
                rfc3339(f1),
                rfc3339(a0),
                rfc3339(a1)
            ));
            return false;
        }
        true
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

/// Removes the connections whose originator is one of the server's own addresses (its own
/// outbound traffic, or SYN-ACKs it received for connections it never opened): they are not
/// clients. Returns the backscatter seen among them: (SYN-ACKs, addresses).
fn take_server_side(
    conns: &mut Vec<ConnFacts>,
    servers: &[IpAddr],
    own_count: &mut u64,
) -> Option<(u64, u64)> {
    let mut syn_acks = 0u64;
    let mut from: BTreeSet<IpAddr> = BTreeSet::new();
    conns.retain(|c| {
        let own = servers.contains(&c.orig.ip()) || c.orig.ip().is_loopback();
        if !own {
            return true;
        }
        *own_count += 1;
        if outcome(c) == Outcome::UnsolicitedSynAck {
            syn_acks += 1;
            from.insert(c.resp.ip());
        }
        false
    });
    (syn_acks > 0).then_some((syn_acks, from.len() as u64))
}

fn connections_span(conns: &[ConnFacts]) -> Option<(i64, i64)> {
    crate::correlate::span(conns)
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

fn read_web(jobs: Vec<WebJob>, err_offset: i32, cap: usize) -> WebRead {
    let mut out = WebRead {
        skipped: Skipped::new(cap),
        ..WebRead::default()
    };
    for mut job in jobs {
        let mut info = info_for(
            &job.name,
            job.kind,
            Some(match &job.format {
                Some(f) => f.name().unwrap_or("custom").to_owned(),
                None => "apache/nginx error log".to_owned(),
            }),
        );
        let mut counts = LineCounts::default();
        let mut parser = job.format.as_ref().map(LogFormat::parser);
        let WebRead {
            requests,
            timeouts,
            server_notes,
            internal,
            successes,
            span,
            skipped,
            ..
        } = &mut out;
        let read_error = input::for_each_line(
            &job.name,
            &job.sample,
            &mut job.lines,
            skipped,
            &mut counts,
            |_, _, b| {
                let item = match &mut parser {
                    Some(p) => requests::access_item(p, b),
                    None => requests::error_item(b, err_offset),
                };
                match item {
                    Ok(WebItem::Request(r)) => {
                        if r.kind() == RequestKind::Success {
                            *successes.entry(r.client).or_insert(0) += 1;
                        }
                        *span = Some(match *span {
                            None => (r.ts_us, r.ts_us),
                            Some((a, b)) => (a.min(r.ts_us), b.max(r.ts_us)),
                        });
                        requests.push(r);
                        Use::Record
                    }
                    Ok(WebItem::Internal) => {
                        *internal += 1;
                        Use::Ignored
                    }
                    Ok(WebItem::Timeout(t)) => {
                        timeouts.push(t);
                        Use::Record
                    }
                    Ok(WebItem::Server(n)) => {
                        server_notes.push(n);
                        Use::Record
                    }
                    Ok(WebItem::Nothing) => Use::Ignored,
                    Err(e) => Use::Bad(e),
                }
            },
        );
        info.lines = counts.lines;
        info.records = counts.records;
        info.skipped = counts.skipped;
        info.ignored = counts.ignored;
        let judged = counts.records + counts.skipped;
        let why = match read_error {
            // A read error (a truncated .gz) ends the input early: what follows is missing.
            Some(e) => Some(format!(
                "{e} (the input ends there: what follows it is missing)"
            )),
            _ if job.kind == Source::Access
                && counts.records == 0
                && counts.ignored == 0
                && counts.lines > 0 =>
            {
                Some("no line could be read as an access-log line".to_owned())
            }
            _ if judged > 0 && counts.skipped as f64 > MAX_SKIP_SHARE * judged as f64 => {
                Some(format!(
                    "{} of {} lines skipped",
                    thousands(counts.skipped),
                    thousands(judged)
                ))
            }
            _ => None,
        };
        if let Some(w) = why {
            let w = format!("{}: {w}", job.name);
            info.unusable = Some(w.clone());
            out.unusable.push(w);
        }
        out.infos.push(info);
    }
    out
}
