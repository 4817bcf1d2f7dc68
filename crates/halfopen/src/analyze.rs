//! The top-level API: feed firewall logs, access logs, error logs, pcaps and socket
//! snapshots, get a [`Report`].
//!
//! Formats are auto-detected; every bad line is counted and reported with its file, line
//! number, byte offset and reason, never fatal. Firewall input and pcaps go through one
//! bounded flow table (`halfopen_tcp::Config::max_flows`); access and error logs are parsed
//! on a second thread at the same time.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use chrono::{DateTime, Utc};

use halfopen_fwlog::Format;
use halfopen_tcp::{Connection, FlowTable};
use halfopen_weblog::error_log::Known;
use halfopen_weblog::{AccessParser, LogFormat};

use halfopen_fwlog::reader::LineReader;

use crate::clock::{CachedResolver, YearRef, Zone};
use crate::correlate::{CorrelateOptions, LoggedRequest, TimeoutNote, correlate};
use crate::error::Result;
use crate::facts::{ConnFacts, InputKind, SynFingerprint};
use crate::input::{self, Item};
use crate::netstat::NetstatSummary;
use crate::network::BlockPolicy;
use crate::report::{InputInfo, Report, ReportExtras, SkippedLine, rfc3339};
use crate::summary::Summary;

/// Lines read to detect a format.
pub const SAMPLE_LINES: usize = 200;
/// Events handed from the parsing thread to the tracking thread at a time.
pub const EVENT_BATCH: usize = 4096;
/// Largest netstat snapshot read, bytes.
pub const MAX_NETSTAT_BYTES: u64 = 64 << 20;

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
    /// Half-open attempts one address needs to be called a `syn_flood` on its own (default 10).
    pub min_flood_attempts: u64,
    /// Addresses of one /24 (IPv6 /64) with only unanswered SYNs that make a distributed
    /// flood (default 8).
    pub min_flood_sources: u64,
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
            min_flood_attempts: crate::source::DEFAULT_MIN_FLOOD_ATTEMPTS,
            min_flood_sources: crate::source::DEFAULT_MIN_FLOOD_SOURCES,
        }
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
    skipped: Skipped,
}

#[derive(Default)]
struct Skipped {
    total: u64,
    kept: Vec<SkippedLine>,
    cap: usize,
}

impl Skipped {
    fn push(&mut self, file: &str, line: u64, offset: u64, error: String) {
        self.total += 1;
        if self.kept.len() < self.cap {
            self.kept.push(SkippedLine {
                file: file.to_owned(),
                line,
                offset,
                error,
            });
        }
    }
    fn merge(&mut self, o: Skipped) {
        self.total += o.total;
        for s in o.kept {
            if self.kept.len() < self.cap {
                self.kept.push(s);
            }
        }
    }
}

impl Analyzer {
    /// A new analysis.
    pub fn new(opts: Options) -> Analyzer {
        let cap = opts.max_skipped_kept;
        Analyzer {
            opts,
            inputs: Vec::new(),
            skipped: Skipped {
                cap,
                ..Skipped::default()
            },
        }
    }

    fn add(&mut self, kind: Source, name: &str, reader: Box<dyn Read + Send>) {
        self.inputs.push(Pending {
            name: name.to_owned(),
            kind,
            reader,
            mtime: None,
        });
    }

    /// Adds a firewall log (any supported format, gzip or not).
    pub fn add_firewall(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Firewall, name, Box::new(r));
    }
    /// Adds an Apache/nginx access log.
    pub fn add_access(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Access, name, Box::new(r));
    }
    /// Adds an Apache/nginx error log.
    pub fn add_error_log(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::ErrorLog, name, Box::new(r));
    }
    /// Adds a pcap or pcapng capture (gzip detected).
    pub fn add_pcap(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Pcap, name, Box::new(r));
    }
    /// Adds a `netstat -an`/`ss -tan` snapshot.
    pub fn add_netstat(&mut self, name: &str, r: impl Read + Send + 'static) {
        self.add(Source::Netstat, name, Box::new(r));
    }

    /// Adds any reader as an input of `kind` (gzip detected), with the
    /// file's modification time as the reference for year inference.
    pub fn add_reader(
        &mut self,
        kind: Source,
        name: &str,
        r: Box<dyn Read + Send>,
        mtime: Option<DateTime<Utc>>,
    ) {
        self.add(kind, name, r);
        if let Some(last) = self.inputs.last_mut()
            && last.name == name
        {
            last.mtime = mtime;
        }
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
        self.inputs.push(Pending {
            name,
            kind,
            reader,
            mtime,
        });
        Ok(())
    }

    /// Runs the analysis.
    pub fn finish(self) -> Report {
        let Analyzer {
            opts,
            inputs,
            mut skipped,
        } = self;
        let cap = skipped.cap;
        let mut web = Vec::new();
        let mut fw = Vec::new();
        let mut netstat = None;
        let mut infos: Vec<InputInfo> = Vec::new();
        let has_access = inputs.iter().any(|p| p.kind == Source::Access);
        for p in inputs {
            match p.kind {
                Source::Access | Source::ErrorLog => web.push(p),
                Source::Firewall | Source::Pcap => fw.push(p),
                Source::Netstat => {
                    let mut buf = Vec::new();
                    let mut info = info_for(&p);
                    let read = input::decompress(p.reader)
                        .and_then(|r| r.take(MAX_NETSTAT_BYTES).read_to_end(&mut buf));
                    match read {
                        Ok(_) => {
                            let s = NetstatSummary::from_bytes(&buf);
                            info.lines = buf.split(|&b| b == b'\n').count() as u64;
                            info.records = s.states.values().sum();
                            info.skipped = s.rejected.len() as u64;
                            for (line, e) in &s.rejected {
                                skipped.push(&p.name, *line, 0, e.clone());
                            }
                            info.format = Some("netstat".into());
                            netstat = Some(match netstat.take() {
                                None => s,
                                Some(mut prev) => {
                                    merge_netstat(&mut prev, &s);
                                    prev
                                }
                            });
                        }
                        Err(e) => skipped.push(&p.name, 0, 0, e.to_string()),
                    }
                    infos.push(info);
                }
            }
        }
        // Web logs: detect formats now (and learn the server's year and UTC offset).
        let mut web_jobs = Vec::new();
        let mut hint: Option<(i64, i32)> = None;
        for p in web {
            let mut lines =
                LineReader::from_reader(p.reader, &p.name).with_max_line_len(opts.max_line_len);
            let sample = read_sample(&mut lines);
            let refs: Vec<&[u8]> = sample_lines(&sample).collect();
            let format = if p.kind == Source::Access {
                let detected = match &opts.access_format {
                    Some(fmt) => LogFormat::compile(fmt).map_err(|e| e.to_string()),
                    None => detect_access(&refs),
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
                        skipped.push(
                            &p.name,
                            0,
                            0,
                            format!("unrecognised access-log format: {e}"),
                        );
                        infos.push(info_for_parts(&p.name, p.kind, None));
                        continue;
                    }
                }
            } else {
                None
            };
            web_jobs.push((p.name, p.kind, lines, sample, format));
        }
        let zone = opts
            .zone
            .unwrap_or_else(|| Zone::Fixed(hint.map_or(0, |h| h.1)));
        let mut notes = Vec::new();
        let err_offset = match zone {
            Zone::Utc => 0,
            Zone::Fixed(o) => o,
            Zone::Tz(_) => hint.map_or(0, |h| h.1),
        };
        let (web_out, fw_out) = std::thread::scope(|s| {
            let web_handle = s.spawn(|| parse_web(web_jobs, err_offset, cap));
            let fw_out = parse_firewall(fw, &opts, zone, hint.map(|h| h.0), cap);
            (web_handle.join(), fw_out)
        });
        let web_out = web_out.unwrap_or_else(|_| WebOut {
            skipped: Skipped {
                cap,
                ..Skipped::default()
            },
            ..WebOut::default()
        });
        let FwOut {
            mut conns,
            infos: fw_infos,
            skipped: fw_skipped,
            year_inferred,
            years,
        } = fw_out;
        let merged = merge_same_connections(&mut conns);
        if merged > 0 {
            notes.push(format!(
                "{merged} connection(s) were seen by two inputs (e.g. a pcap and a firewall log of the same traffic): each is counted once, from the richer input"
            ));
        }
        infos.extend(fw_infos);
        infos.extend(web_out.infos);
        skipped.merge(fw_skipped);
        skipped.merge(web_out.skipped);
        if year_inferred {
            notes.push(format!(
                "firewall timestamps carry no year: assumed {} ({}); use --year to override",
                years,
                match hint {
                    Some(_) => "from the access log's dates",
                    None => "from the file's modification time or today",
                }
            ));
        }
        if opts.zone.is_none() && fw_has_zoneless(&infos) {
            notes.push(match (zone, hint) {
                (Zone::Fixed(o), Some(_)) => format!(
                    "firewall timestamps carry no zone: assumed UTC{:+03}:{:02} (the access log's offset); use --tz to override",
                    o / 3600,
                    (o.abs() % 3600) / 60
                ),
                _ => "firewall timestamps carry no zone: assumed UTC; use --tz to override".to_owned(),
            });
        }
        let has_web = infos.iter().any(|i| i.kind == "access");
        if !has_web {
            notes.push("no access log given: connections cannot be matched to requests".to_owned());
        }
        let corr = correlate(
            &mut conns,
            &web_out.requests,
            &web_out.timeouts,
            &opts.correlate,
        );
        let mut policy = opts.policy.clone();
        let mut servers: Vec<IpAddr> = conns
            .iter()
            .filter(|c| !c.requests.is_empty())
            .map(|c| c.resp.ip())
            .collect();
        servers.sort();
        servers.dedup();
        for s in servers {
            if !policy.server_addrs.contains(&s) {
                policy.server_addrs.push(s);
            }
        }
        let mut summary = Summary::default();
        for c in &conns {
            summary.add(c);
        }
        if let (Some(f), Some(l)) = (
            conns.iter().map(|c| c.start_us).min(),
            conns.iter().map(|c| c.end_us).max(),
        ) {
            notes.push(format!(
                "firewall input covers {} .. {}",
                rfc3339(f),
                rfc3339(l)
            ));
        }
        Report::build(
            &summary,
            &policy,
            ReportExtras {
                inputs: infos,
                notes,
                year_inferred,
                zone_inferred: opts.zone.is_none(),
                clock_offset_seconds: corr.clock_offset_us.map(|o| o as f64 / 1e6),
                unmatched_requests: corr.unmatched,
                netstat,
                skipped_lines_total: skipped.total,
                skipped_lines: skipped.kept,
                rules: crate::source::SourceRules {
                    min_flood_attempts: opts.min_flood_attempts,
                    min_flood_sources: opts.min_flood_sources,
                },
                no_access_log: !has_access,
            },
        )
    }
}

/// Common layouts beyond the weblog presets (client port logged for exact matching).
pub const EXTRA_ACCESS_FORMATS: [&str; 4] = [
    r#"%h %{remote}p %l %u %t "%r" %>s %b %D "%{Referer}i" "%{User-Agent}i""#,
    r#"%h %{remote}p %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#,
    r#"%a %{c}p %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#,
    r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D"#,
];

fn detect_access(sample: &[&[u8]]) -> std::result::Result<LogFormat, String> {
    let preset = halfopen_weblog::detect_access_format(sample);
    let score = |f: &LogFormat| sample.iter().filter(|l| f.parse(l).is_ok()).count();
    let mut best = preset.as_ref().ok().map(|f| (score(f), f.clone()));
    for fmt in EXTRA_ACCESS_FORMATS {
        if let Ok(f) = LogFormat::compile(fmt) {
            let n = score(&f);
            if n > 0 && best.as_ref().is_none_or(|(m, _)| n > *m) {
                best = Some((n, f));
            }
        }
    }
    match best {
        Some((_, f)) => Ok(f),
        None => Err(match preset {
            Err(e) => {
                format!("{e} (and the common layouts with %{{remote}}p); use --access-format")
            }
            Ok(_) => "no line parsed; use --access-format".to_owned(),
        }),
    }
}

fn merge_netstat(a: &mut NetstatSummary, b: &NetstatSummary) {
    for (k, v) in &b.states {
        *a.states.entry(*k).or_insert(0) += v;
    }
    for (k, v) in &b.half_open_by_local_port {
        *a.half_open_by_local_port.entry(*k).or_insert(0) += v;
    }
    for (k, v) in &b.half_open_by_remote {
        *a.half_open_by_remote.entry(*k).or_insert(0) += v;
    }
    for (k, v) in &b.listen_backlog {
        let e = a.listen_backlog.entry(*k).or_insert(0);
        *e = (*e).max(*v);
    }
}

fn fw_has_zoneless(infos: &[InputInfo]) -> bool {
    infos
        .iter()
        .any(|i| i.kind == "firewall" && i.format.as_deref() != Some("windows"))
}

fn info_for(p: &Pending) -> InputInfo {
    info_for_parts(&p.name, p.kind, None)
}

fn info_for_parts(name: &str, kind: Source, format: Option<String>) -> InputInfo {
    InputInfo {
        file: name.to_owned(),
        kind: kind.name().to_owned(),
        format,
        ..InputInfo::default()
    }
}

/// The first lines of an input (format detection), replayed by [`for_each_line`].
type Sample = Vec<Item<Vec<u8>>>;

fn read_sample(lines: &mut LineReader) -> Sample {
    let mut out = Vec::new();
    while out.len() < SAMPLE_LINES {
        match input::next(lines) {
            Some(Item::Line(n, o, b)) => out.push(Item::Line(n, o, b.to_vec())),
            Some(Item::TooLong(n, o, e)) => out.push(Item::TooLong(n, o, e)),
            Some(Item::ReadError(n, e)) => {
                out.push(Item::ReadError(n, e));
                break;
            }
            None => break,
        }
    }
    out
}

/// The non-empty lines of a sample.
fn sample_lines(sample: &Sample) -> impl Iterator<Item = &[u8]> {
    sample.iter().filter_map(|i| match i {
        Item::Line(_, _, b) if !b.is_empty() => Some(b.as_slice()),
        _ => None,
    })
}

/// Calls `f(number, offset, bytes)` for the sample lines then the rest; counts skipped.
fn for_each_line(
    name: &str,
    sample: &Sample,
    lines: &mut LineReader,
    skipped: &mut Skipped,
    info: &mut InputInfo,
    mut f: impl FnMut(u64, u64, &[u8]) -> std::result::Result<bool, String>,
) {
    // false when the input ends (read error).
    let mut handle = |item: Item<&[u8]>, skipped: &mut Skipped, info: &mut InputInfo| {
        match item {
            Item::Line(n, o, b) => {
                info.lines += 1;
                if b.is_empty() {
                    return true;
                }
                match f(n, o, b) {
                    Ok(true) => info.records += 1,
                    Ok(false) => {}
                    Err(e) => {
                        info.skipped += 1;
                        skipped.push(name, n, o, e);
                    }
                }
            }
            Item::TooLong(n, o, e) => {
                info.lines += 1;
                info.skipped += 1;
                skipped.push(name, n, o, e);
            }
            Item::ReadError(n, e) => {
                skipped.push(name, n, 0, format!("read error: {e}"));
                return false;
            }
        }
        true
    };
    for item in sample {
        if !handle(item.as_ref(), skipped, info) {
            return;
        }
    }
    while let Some(item) = input::next(lines) {
        if !handle(item, skipped, info) {
            break;
        }
    }
}

#[derive(Default)]
struct WebOut {
    requests: Vec<LoggedRequest>,
    timeouts: Vec<TimeoutNote>,
    infos: Vec<InputInfo>,
    skipped: Skipped,
}

type WebJob = (String, Source, LineReader, Sample, Option<LogFormat>);

fn parse_web(jobs: Vec<WebJob>, err_offset: i32, cap: usize) -> WebOut {
    let mut out = WebOut {
        skipped: Skipped {
            cap,
            ..Skipped::default()
        },
        ..WebOut::default()
    };
    for (name, kind, mut lines, sample, format) in jobs {
        let mut info = info_for_parts(
            &name,
            kind,
            Some(match &format {
                Some(f) => f.name().unwrap_or("custom").to_owned(),
                None => "apache/nginx error log".to_owned(),
            }),
        );
        let requests = &mut out.requests;
        let timeouts = &mut out.timeouts;
        // The stateful parser remembers the last `%t` minute (logs repeat it).
        let mut parser = format.as_ref().map(LogFormat::parser);
        for_each_line(
            &name,
            &sample,
            &mut lines,
            &mut out.skipped,
            &mut info,
            |_, _, b| match &mut parser {
                Some(p) => {
                    requests.push(access_request(p, b)?);
                    Ok(true)
                }
                None => Ok(error_timeout(b, err_offset)?
                    .map(|t| timeouts.push(t))
                    .is_some()),
            },
        );
        out.infos.push(info);
    }
    out
}

/// One access-log line as a request (the time moved back by the duration when the line was
/// written at the request's end).
fn access_request(
    p: &mut AccessParser<'_>,
    b: &[u8],
) -> std::result::Result<LoggedRequest, String> {
    let r = p.parse(b).map_err(|e| e.to_string())?;
    let Some(ip) = r.client.as_ref().and_then(|c| c.ip()) else {
        return Err("no client address (host names are not resolved)".into());
    };
    let Some(t) = r.time else {
        return Err("no request time".into());
    };
    let ts = if t.at_end {
        t.ts_us.saturating_sub(
            r.duration_us
                .and_then(|d| i64::try_from(d).ok())
                .unwrap_or(0),
        )
    } else {
        t.ts_us
    };
    let mut lr = LoggedRequest::new(
        ts,
        ip,
        r.client_port,
        r.status,
        r.request.as_ref().map(|q| q.raw),
    );
    lr.server_port = r.server_port;
    Ok(lr)
}

/// One error-log line: an AH01382 request-header read timeout with its client, if it is one.
fn error_timeout(b: &[u8], err_offset: i32) -> std::result::Result<Option<TimeoutNote>, String> {
    let r = halfopen_weblog::error_log::parse_with(b, err_offset).map_err(|e| e.to_string())?;
    if r.known() == Some(Known::RequestHeaderReadTimeout)
        && let (Some(ip), Some(t)) = (r.client, r.time)
    {
        return Ok(Some(TimeoutNote {
            ts_us: t.ts_us,
            client: ip,
            client_port: r.client_port,
        }));
    }
    Ok(None)
}

struct FwOut {
    conns: Vec<ConnFacts>,
    infos: Vec<InputInfo>,
    skipped: Skipped,
    year_inferred: bool,
    years: String,
}

/// Converts a finished connection into the facade's facts.
pub fn facts_from(c: &Connection) -> ConnFacts {
    use halfopen_tcp::Evidence as E;
    let input = match c.evidence {
        E::Packets => InputKind::Packets,
        E::FlagsBothDirections => InputKind::FlagsBothDirections,
        E::FlagsOneDirection => InputKind::FlagsOneDirection,
        E::SynOnly => InputKind::SynOnly,
        E::NoFlags => InputKind::NoFlags,
    };
    let mut f = ConnFacts::new(c.orig, c.resp, c.start_us, input);
    f.end_us = c.end_us;
    f.state = c.state.as_str().to_owned();
    f.history = c.history.to_string();
    f.handshake_completed = c.handshake_completed;
    f.syn_count = c.syn_count;
    f.orig_pkts = c.orig_pkts;
    f.resp_pkts = c.resp_pkts;
    f.orig_bytes = c.orig_bytes;
    f.orig_sent_payload = c.orig_sent_payload;
    f.syn = c.first_syn.map(|s| {
        let header = if c.orig.is_ipv4() { 40 } else { 60 };
        let has_options = if s.mss.is_some() {
            Some(true)
        } else {
            s.ip_len.map(|l| l > header)
        };
        SynFingerprint {
            ttl: s.ttl,
            ip_id: s.ip_id,
            window: s.window,
            mss: s.mss,
            options_fingerprint: s.options_fingerprint,
            has_options,
        }
    });
    f
}

fn drain(t: &mut FlowTable, out: &mut Vec<ConnFacts>) {
    t.drain_finished(|c| out.push(facts_from(c)));
}

fn detect_firewall(sample: &Sample) -> Option<Format> {
    let mut best: Option<(usize, Format)> = None;
    for f in Format::ALL {
        let n = sample_lines(sample)
            .filter(|b| halfopen_fwlog::parse_line(f, b).is_ok())
            .count();
        if n > 0 && best.is_none_or(|(m, _)| n > m) {
            best = Some((n, f));
        }
    }
    best.map(|(_, f)| f)
}

fn parse_firewall(
    inputs: Vec<Pending>,
    opts: &Options,
    zone: Zone,
    access_hint_us: Option<i64>,
    cap: usize,
) -> FwOut {
    let mut table = FlowTable::new(opts.tcp);
    let mut out = FwOut {
        conns: Vec::new(),
        infos: Vec::new(),
        skipped: Skipped {
            cap,
            ..Skipped::default()
        },
        year_inferred: false,
        years: String::new(),
    };
    let mut years: Vec<i32> = Vec::new();
    let mut events = 0u64;
    let mut last_ts = i64::MIN;
    let mut prev_kind: Option<Source> = None;
    for p in inputs {
        // Captures and firewall logs of the same traffic are tracked in separate tables (a
        // connection seen by both is merged afterwards by `merge_same_connections`);
        // consecutive inputs of one kind (rotated files) share the table.
        if prev_kind.is_some_and(|k| k != p.kind) {
            end_tables_segment(&mut table, &mut out.conns, last_ts, opts.tcp.syn_timeout_us);
            table = FlowTable::new(opts.tcp);
            last_ts = i64::MIN;
        }
        prev_kind = Some(p.kind);
        if p.kind == Source::Pcap {
            let mut info = info_for_parts(&p.name, Source::Pcap, Some("pcap".into()));
            let reader = input::decompress(p.reader).map_err(|e| e.to_string());
            match reader.and_then(|r| {
                halfopen_tcp::pcap::PacketReader::new(r)
                    .map_err(|e| format!("not a pcap/pcapng: {e}"))
            }) {
                Ok(reader) => {
                    let mut consecutive_errors = 0;
                    for (i, item) in reader.enumerate() {
                        info.lines += 1;
                        match item {
                            Ok(pkt) => {
                                consecutive_errors = 0;
                                info.records += 1;
                                table.observe(&pkt.event);
                                last_ts = last_ts.max(pkt.event.ts_us);
                                events += 1;
                                if events % 1024 == 0 {
                                    table.expire(pkt.event.ts_us);
                                }
                                drain(&mut table, &mut out.conns);
                            }
                            Err(e) => {
                                info.skipped += 1;
                                out.skipped.push(&p.name, i as u64 + 1, 0, e.to_string());
                                consecutive_errors += 1;
                                if consecutive_errors > 100 {
                                    break;
                                }
                            }
                        }
                    }
                }
                Err(e) => out.skipped.push(&p.name, 0, 0, e),
            }
            out.infos.push(info);
            continue;
        }
        let mut lines =
            LineReader::from_reader(p.reader, &p.name).with_max_line_len(opts.max_line_len);
        let sample = read_sample(&mut lines);
        let Some(format) = detect_firewall(&sample) else {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            out.skipped.push(
                &p.name,
                0,
                0,
                format!(
                    "unrecognised firewall-log format (tried {})",
                    names.join(", ")
                ),
            );
            out.infos
                .push(info_for_parts(&p.name, Source::Firewall, None));
            continue;
        };
        let year_ref = match opts.year {
            Some(y) => YearRef::Explicit(y),
            None => YearRef::Reference(
                access_hint_us
                    .and_then(DateTime::<Utc>::from_timestamp_micros)
                    .and_then(|t| t.checked_add_signed(chrono::Duration::days(30)))
                    .or(p.mtime)
                    .or(opts.now)
                    .unwrap_or_else(Utc::now),
            ),
        };
        // Two stages: this input's lines are parsed into events on a second thread while
        // this one tracks the connections.
        let name = p.name.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<halfopen_tcp::Event>>(8);
        let (info, skipped, resolver) = std::thread::scope(|s| {
            let parser = s.spawn(move || {
                let mut resolver = CachedResolver::new(year_ref, zone);
                let mut info =
                    info_for_parts(&name, Source::Firewall, Some(format.name().to_owned()));
                let mut skipped = Skipped {
                    cap,
                    ..Skipped::default()
                };
                let mut batch = Vec::with_capacity(EVENT_BATCH);
                for_each_line(
                    &name,
                    &sample,
                    &mut lines,
                    &mut skipped,
                    &mut info,
                    |n, _, b| {
                        let rec = halfopen_fwlog::parse_line(format, b)
                            .map_err(|e| e.at_line(n).to_string())?;
                        let ts = match (&rec.timestamp, rec.uptime_us) {
                            (Some(t), _) => {
                                resolver.resolve(t).map_err(|e| e.at_line(n).to_string())?
                            }
                            (None, Some(u)) => i64::try_from(u).unwrap_or(i64::MAX),
                            (None, None) => return Err("no timestamp".to_owned()),
                        };
                        let Some(ev) = halfopen_tcp::from_fwlog::event(&rec, ts) else {
                            return Ok(false);
                        };
                        batch.push(ev);
                        if batch.len() >= EVENT_BATCH {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(EVENT_BATCH));
                            let _ = tx.send(full);
                        }
                        Ok(true)
                    },
                );
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
                (info, skipped, resolver)
            });
            for batch in rx {
                // The batch API overlaps the flow table's cache misses across events; it
                // also runs every timeout that the events' times pass.
                table.observe_batch(&batch);
                if let Some(t) = batch.iter().map(|ev| ev.ts_us).max() {
                    last_ts = last_ts.max(t);
                }
                events += batch.len() as u64;
                drain(&mut table, &mut out.conns);
            }
            parser.join()
        })
        .unwrap_or_else(|_| {
            (
                info_for_parts(&p.name, Source::Firewall, Some(format.name().to_owned())),
                Skipped {
                    cap,
                    ..Skipped::default()
                },
                CachedResolver::new(YearRef::Explicit(1970), zone),
            )
        });
        out.skipped.merge(skipped);
        if let Some(y) = resolver.first_inferred_year() {
            out.year_inferred = true;
            years.push(y);
        }
        out.infos.push(info);
    }
    end_tables_segment(&mut table, &mut out.conns, last_ts, opts.tcp.syn_timeout_us);
    years.sort_unstable();
    years.dedup();
    out.years = years
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    out
}

/// How much an input kind shows of a connection (higher: richer).
fn richness(k: InputKind) -> u8 {
    match k {
        InputKind::Packets => 4,
        InputKind::FlagsBothDirections => 3,
        InputKind::FlagsOneDirection => 2,
        InputKind::SynOnly => 1,
        InputKind::NoFlags => 0,
    }
}

/// Two observations of one connection start within this of each other (syslog stamps have
/// one-second resolution).
const SAME_CONNECTION_US: i64 = 2_000_000;

/// Client address (family, bits), client port, server address, server port, start time.
type SortKey = ((bool, u128), u16, (bool, u128), u16, i64);

fn sort_key(c: &ConnFacts) -> SortKey {
    let ip = |a: &SocketAddr| match a.ip() {
        IpAddr::V4(v) => (false, u128::from(u32::from(v))),
        IpAddr::V6(v) => (true, u128::from(v)),
    };
    (
        ip(&c.orig),
        c.orig.port(),
        ip(&c.resp),
        c.resp.port(),
        c.start_us,
    )
}

/// The same connection given twice, by inputs of different kinds (a pcap and the firewall log
/// of the same traffic): keeps the observation from the richer input, drops the other, and
/// returns how many were dropped. Observations of the same kind are different connections
/// (port reuse) and are all kept.
fn merge_same_connections(conns: &mut Vec<ConnFacts>) -> usize {
    // Only observations from inputs of different kinds can be one connection: with a single
    // kind (one firewall log, the usual case) there is nothing to merge.
    let Some(kind) = conns.first().map(|c| c.input) else {
        return 0;
    };
    if conns.iter().all(|c| c.input == kind) {
        return 0;
    }
    // Sorted by (client, server, start), ties in input order: the keys are made once, as
    // plain integers, instead of being looked up and compared as socket addresses.
    let mut order: Vec<(SortKey, usize)> = conns
        .iter()
        .enumerate()
        .map(|(i, c)| (sort_key(c), i))
        .collect();
    order.sort_unstable();
    let mut drop = vec![false; conns.len()];
    let mut last: Option<usize> = None;
    for i in order.into_iter().map(|(_, i)| i) {
        let (Some(c), Some(l)) = (conns.get(i), last.and_then(|l| conns.get(l))) else {
            last = Some(i);
            continue;
        };
        if l.orig == c.orig
            && l.resp == c.resp
            && l.input != c.input
            && c.start_us.saturating_sub(l.start_us) <= SAME_CONNECTION_US
        {
            // One connection, two observations: keep the richer one as the group's head.
            if richness(c.input) > richness(l.input) {
                if let Some(d) = last.and_then(|l| drop.get_mut(l)) {
                    *d = true;
                }
                last = Some(i);
            } else if let Some(d) = drop.get_mut(i) {
                *d = true;
            }
        } else {
            last = Some(i);
        }
    }
    let before = conns.len();
    let mut flags = drop.into_iter();
    conns.retain(|_| !flags.next().unwrap_or(false));
    before - conns.len()
}

/// Ends every connection still open at the end of a run of inputs (`last_ts`: its last event).
fn end_tables_segment(
    table: &mut FlowTable,
    conns: &mut Vec<ConnFacts>,
    last_ts: i64,
    syn_timeout_us: i64,
) {
    let decided = conns.len();
    table.finish();
    drain(table, conns);
    mark_log_ended(
        conns.get_mut(decided..).unwrap_or_default(),
        last_ts,
        syn_timeout_us,
    );
}

/// Marks the connections still open at the end of the input whose first SYN came within the
/// SYN timeout before the input's last event: their outcome is unknown.
fn mark_log_ended(open_at_end: &mut [ConnFacts], last_ts: i64, syn_timeout_us: i64) {
    for c in open_at_end {
        if !c.handshake_completed && c.start_us.saturating_add(syn_timeout_us) > last_ts {
            let secs = |us: i64| u64::try_from(us / 1_000_000).unwrap_or(0);
            c.log_ended = Some((
                secs(last_ts.saturating_sub(c.start_us)),
                secs(syn_timeout_us),
            ));
        }
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn conn(port: u16, start_s: i64, input: InputKind) -> ConnFacts {
        let orig = std::net::SocketAddr::from(([192, 0, 2, 1], port));
        let resp = std::net::SocketAddr::from(([198, 51, 100, 1], 80));
        ConnFacts::new(orig, resp, start_s * 1_000_000, input)
    }

    #[test]
    fn one_connection_from_two_inputs_is_counted_once_from_the_richer() {
        let mut v = vec![
            conn(40000, 10, InputKind::SynOnly),
            conn(40001, 11, InputKind::Packets),
            conn(40000, 10, InputKind::Packets),
            conn(40001, 12, InputKind::SynOnly),
        ];
        assert_eq!(merge_same_connections(&mut v), 2);
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|c| c.input == InputKind::Packets));
    }

    #[test]
    fn port_reuse_in_one_input_and_distant_starts_are_kept() {
        let mut v = vec![
            conn(40000, 10, InputKind::Packets),
            conn(40000, 11, InputKind::Packets),
            conn(40000, 100, InputKind::SynOnly),
        ];
        assert_eq!(merge_same_connections(&mut v), 0);
        assert_eq!(v.len(), 3);
    }

    /// The rule written the obvious way: a stable sort by socket addresses and start.
    fn reference(conns: &mut Vec<ConnFacts>) -> usize {
        let mut order: Vec<usize> = (0..conns.len()).collect();
        order.sort_by_key(|&i| (conns[i].orig, conns[i].resp, conns[i].start_us));
        let mut drop = vec![false; conns.len()];
        let mut last: Option<usize> = None;
        for i in order {
            let Some(l) = last else {
                last = Some(i);
                continue;
            };
            let (c, p) = (&conns[i], &conns[l]);
            if p.orig == c.orig
                && p.resp == c.resp
                && p.input != c.input
                && c.start_us - p.start_us <= SAME_CONNECTION_US
            {
                if richness(c.input) > richness(p.input) {
                    drop[l] = true;
                    last = Some(i);
                } else {
                    drop[i] = true;
                }
            } else {
                last = Some(i);
            }
        }
        let before = conns.len();
        let mut flags = drop.into_iter();
        conns.retain(|_| !flags.next().unwrap_or(false));
        before - conns.len()
    }

    proptest::proptest! {
        /// The merge keeps exactly what the obvious rule keeps, in the same order, for any
        /// mix of clients (IPv4 and IPv6), ports, starts and input kinds.
        #[test]
        fn merge_is_the_reference(
            cs in proptest::collection::vec((0u8..4, 0u16..3, 0i64..6, 0usize..5), 0..40),
        ) {
            let kinds = [
                InputKind::Packets,
                InputKind::FlagsBothDirections,
                InputKind::FlagsOneDirection,
                InputKind::SynOnly,
                InputKind::NoFlags,
            ];
            let mut v: Vec<ConnFacts> = cs
                .iter()
                .map(|&(host, port, start, kind)| {
                    let ip: std::net::IpAddr = if host == 3 {
                        "2001:db8::1".parse().unwrap()
                    } else {
                        std::net::Ipv4Addr::new(192, 0, 2, host).into()
                    };
                    let orig = std::net::SocketAddr::new(ip, 40000 + port);
                    let resp = std::net::SocketAddr::from(([198, 51, 100, 1], 80));
                    ConnFacts::new(orig, resp, start * 1_000_000, kinds[kind])
                })
                .collect();
            let mut w = v.clone();
            proptest::prop_assert_eq!(merge_same_connections(&mut v), reference(&mut w));
            proptest::prop_assert_eq!(v, w);
        }
    }
}
