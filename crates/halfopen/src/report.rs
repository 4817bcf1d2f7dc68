//! The report: a JSON document (serde) and a text rendering for a terminal.
//!
//! Every string that came from a log is escaped before it is stored (see [`crate::escape`]),
//! so neither rendering can carry control characters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::netstat::NetstatSummary;
use crate::network::{Block, BlockPolicy, NotBlocked, SourceRow, plan};
use crate::source::{SourceRules, SourceSummary, VerdictCounts};
use crate::summary::{BUCKET_US, Summary};
use crate::verdict::{Confidence, Evidence, Verdict};

/// Version of the JSON document's layout.
pub const SCHEMA_VERSION: u32 = 1;

/// The top-level keys of the JSON document (docs/json-schema.md).
pub const JSON_KEYS: [&str; 19] = [
    "version",
    "inputs",
    "notes",
    "year_inferred",
    "zone_inferred",
    "clock_offset_seconds",
    "headline",
    "connections_total",
    "connections",
    "states",
    "unmatched_requests",
    "sources",
    "networks",
    "not_blocked",
    "blocklist",
    "timeline",
    "netstat",
    "skipped_lines_total",
    "skipped_lines",
];

/// The keys of each item of `sources`.
pub const SOURCE_KEYS: [&str; 11] = [
    "addr",
    "verdict",
    "confidence",
    "connections",
    "requests",
    "syns",
    "verdicts",
    "first_seen",
    "last_seen",
    "dst_ports",
    "evidence",
];

/// Checks that a JSON report has exactly the documented keys, at the top level and in every
/// source, and that each evidence item has a `kind` and a `sentence`.
///
/// ```
/// let r = halfopen::Analyzer::new(halfopen::Options::default()).finish();
/// let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
/// halfopen::report::check_json_keys(&v).unwrap();
/// ```
pub fn check_json_keys(v: &serde_json::Value) -> std::result::Result<(), String> {
    fn keys(v: &serde_json::Value) -> std::collections::BTreeSet<&str> {
        v.as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
    let top = keys(v);
    if top != JSON_KEYS.into_iter().collect() {
        return Err(format!("top-level keys {top:?}, documented {JSON_KEYS:?}"));
    }
    for s in v["sources"].as_array().into_iter().flatten() {
        let k = keys(s);
        if k != SOURCE_KEYS.into_iter().collect() {
            return Err(format!("source keys {k:?}, documented {SOURCE_KEYS:?}"));
        }
        for e in s["evidence"].as_array().into_iter().flatten() {
            if e.get("kind").is_none() || e.get("sentence").is_none() {
                return Err(format!("evidence without kind or sentence: {e}"));
            }
        }
    }
    Ok(())
}

/// One input file and what was read from it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InputInfo {
    /// File name as given (`-` for stdin).
    pub file: String,
    /// `firewall`, `access`, `error`, `pcap` or `netstat`.
    pub kind: String,
    /// Detected format name.
    pub format: Option<String>,
    /// Lines (or packets) read.
    pub lines: u64,
    /// Lines used.
    pub records: u64,
    /// Lines skipped (bad or irrelevant).
    pub skipped: u64,
}

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedLine {
    /// File name.
    pub file: String,
    /// 1-based line number (packet number for pcaps).
    pub line: u64,
    /// Byte offset of the line start in the (decompressed) input.
    pub offset: u64,
    /// Why.
    pub error: String,
}

/// Evidence with its sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceItem {
    /// The typed evidence.
    #[serde(flatten)]
    pub evidence: Evidence,
    /// In English.
    pub sentence: String,
}

impl From<Evidence> for EvidenceItem {
    fn from(e: Evidence) -> Self {
        EvidenceItem {
            sentence: e.sentence(),
            evidence: e,
        }
    }
}

/// One source in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// Address.
    pub addr: IpAddr,
    /// Verdict.
    pub verdict: Verdict,
    /// Confidence.
    pub confidence: Confidence,
    /// Connections.
    pub connections: u64,
    /// Complete requests logged.
    pub requests: u64,
    /// SYNs (retransmissions included).
    pub syns: u64,
    /// Connections per verdict.
    pub verdicts: VerdictCounts,
    /// First seen (RFC 3339, UTC).
    pub first_seen: String,
    /// Last seen (RFC 3339, UTC).
    pub last_seen: String,
    /// Destination ports (up to 32).
    pub dst_ports: Vec<u16>,
    /// The evidence.
    pub evidence: Vec<EvidenceItem>,
}

/// The timeline of connection attempts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TimelineReport {
    /// Bucket width in seconds.
    pub bucket_seconds: u64,
    /// First bucket start (RFC 3339).
    pub start: Option<String>,
    /// Attempts per bucket.
    pub attempts: Vec<u64>,
    /// Hostile attempts per bucket.
    pub hostile: Vec<u64>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub version: u32,
    /// The inputs.
    pub inputs: Vec<InputInfo>,
    /// Notes about assumptions (year or zone inferred, missing inputs...).
    pub notes: Vec<String>,
    /// True when a year was inferred for year-less timestamps.
    pub year_inferred: bool,
    /// True when a time zone was assumed.
    pub zone_inferred: bool,
    /// Estimated offset access-log clock minus firewall clock, seconds (median of matched pairs).
    pub clock_offset_seconds: Option<f64>,
    /// The headline: what happened, most important first.
    pub headline: Vec<String>,
    /// Connections in total.
    pub connections_total: u64,
    /// Connections by verdict.
    pub connections: VerdictCounts,
    /// Connections by Zeek state.
    pub states: BTreeMap<String, u64>,
    /// Requests in the access logs that matched no connection.
    pub unmatched_requests: u64,
    /// Sources, hostile first, then by connections.
    pub sources: Vec<SourceReport>,
    /// Suggested blocks with their collateral.
    pub networks: Vec<Block>,
    /// Hostile sources not blocked, and why.
    pub not_blocked: Vec<NotBlocked>,
    /// The block list (CIDR strings).
    pub blocklist: Vec<String>,
    /// Connection attempts over time.
    pub timeline: TimelineReport,
    /// netstat/ss snapshot, when given.
    pub netstat: Option<NetstatSummary>,
    /// Lines skipped in total.
    pub skipped_lines_total: u64,
    /// Skipped lines (the first 1000), with reasons.
    pub skipped_lines: Vec<SkippedLine>,
}

/// Formats microseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(ts_us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(ts_us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ts_us.to_string())
}

/// Formats a count with thousands separators (`1,200`).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ports_text(s: &SourceSummary) -> String {
    let ports: Vec<String> = s
        .dst_ports
        .ports
        .iter()
        .take(5)
        .map(u16::to_string)
        .collect();
    let more = s.dst_ports.ports.len() > 5 || s.dst_ports.truncated;
    let word = if s.dst_ports.ports.len() == 1 {
        "port"
    } else {
        "ports"
    };
    format!(
        "{word} {}{}",
        ports.join(", "),
        if more { ", ..." } else { "" }
    )
}

fn source_headline(s: &SourceSummary, v: Verdict, conf: Confidence, no_access_log: bool) -> String {
    let addr = s.addr;
    let n = thousands(s.connections);
    let what = match v {
        Verdict::SynFlood => format!(
            "{addr} sent {} SYNs to {} that never completed a handshake{}",
            thousands(s.syns),
            ports_text(s),
            match (s.requests, no_access_log) {
                (_, true) => " (no access log was given)",
                (0, false) => " and has no request in the access log",
                _ => "",
            }
        ),
        Verdict::SynScan => format!(
            "{addr} probed {} port(s) with SYNs and never completed a handshake ({n} attempts)",
            s.dst_ports.ports.len()
        ),
        Verdict::ConnectScan => format!(
            "{addr} opened {n} connection(s) to {} and closed them at once without sending data",
            ports_text(s)
        ),
        Verdict::SlowRequest => format!(
            "{addr} held {n} connection(s) to {} open with unfinished requests until the server timed out",
            ports_text(s)
        ),
        _ => format!("{addr}: {n} connection(s)"),
    };
    format!("{what}: {v} ({conf} confidence)")
}

/// Extra facts the analysis adds to a report.
#[derive(Debug, Clone, Default)]
pub struct ReportExtras {
    /// Inputs.
    pub inputs: Vec<InputInfo>,
    /// Notes.
    pub notes: Vec<String>,
    /// Year inferred.
    pub year_inferred: bool,
    /// Zone inferred.
    pub zone_inferred: bool,
    /// Clock offset.
    pub clock_offset_seconds: Option<f64>,
    /// Unmatched requests.
    pub unmatched_requests: u64,
    /// netstat snapshot.
    pub netstat: Option<NetstatSummary>,
    /// Skipped lines in total.
    pub skipped_lines_total: u64,
    /// Skipped lines kept.
    pub skipped_lines: Vec<SkippedLine>,
    /// Thresholds of the source verdicts.
    pub rules: SourceRules,
    /// True when no access log was given (the headline does not blame the access log).
    pub no_access_log: bool,
}

/// The network (/24, IPv6 /64) a source is grouped in for the distributed-flood rule.
fn flood_network(a: IpAddr) -> IpNet {
    let len = if a.is_ipv4() { 24 } else { 64 };
    IpNet::new(a, len)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(a))
}

/// What helps against a flood from spoofed addresses (the text and JSON say it with the block).
pub const SPOOFED_FLOOD_ADVICE: &str = "blocking spoofed source addresses does little (a flood \
tool picks new ones, and the real owners of the addresses get blocked); what helps: SYN cookies \
(Linux: sysctl net.ipv4.tcp_syncookies=1; FreeBSD: sysctl net.inet.tcp.syncookies=1), a larger \
SYN backlog (Linux: net.ipv4.tcp_max_syn_backlog and the listen backlog, net.core.somaxconn; \
FreeBSD: kern.ipc.soacceptqueue), and filtering upstream (ask the provider to filter or \
rate-limit SYNs to this address)";

/// Marks a block whose sources look spoofed: a `syn_flood` from at least
/// `rules.min_flood_sources` addresses, with TTLs spread over more than 8, hping3-like SYNs
/// from at least half of them, or 16 addresses or more.
fn mark_spoofed(b: &mut Block, judged: &[Judged<'_>], rules: &SourceRules) {
    let members: Vec<&SourceSummary> = judged
        .iter()
        .filter(|j| j.1.is_hostile() && b.cidr.contains(&j.0.addr))
        .map(|j| j.0)
        .collect();
    let floods = judged
        .iter()
        .filter(|j| j.1 == Verdict::SynFlood && b.cidr.contains(&j.0.addr))
        .count();
    let n = members.len();
    if n < usize::try_from(rules.min_flood_sources.max(2)).unwrap_or(usize::MAX) || floods * 2 <= n
    {
        return;
    }
    let mut why = vec![format!("{n} addresses")];
    let ttl_min = members.iter().filter_map(|m| m.ttl.min).min();
    let ttl_max = members.iter().filter_map(|m| m.ttl.max).max();
    let ttl_spread = matches!((ttl_min, ttl_max), (Some(a), Some(z)) if z.saturating_sub(a) > 8);
    if let (true, Some(a), Some(z)) = (ttl_spread, ttl_min, ttl_max) {
        why.push(format!("TTL from {a} to {z}"));
    }
    let crafted = members.iter().filter(|m| m.crafted_syns > 0).count();
    if crafted > 0 {
        why.push(format!(
            "{crafted} of them sent hping3-like SYNs (window 512, no options)"
        ));
    }
    let few = members
        .iter()
        .filter(|m| m.half_open < rules.min_flood_attempts)
        .count();
    if few * 2 >= n {
        why.push(format!(
            "{few} of them sent fewer than {} SYNs each",
            rules.min_flood_attempts
        ));
    }
    if ttl_spread || crafted * 2 >= n || n >= 16 {
        b.likely_spoofed = true;
        b.spoofing_indicators = why;
        b.advice = Some(SPOOFED_FLOOD_ADVICE.to_owned());
    }
}

type Judged<'a> = (&'a SourceSummary, Verdict, Confidence, Vec<Evidence>);

/// The distributed-flood rule: when a /24 (IPv6 /64) holds at least
/// `rules.min_flood_sources` addresses that sent only unanswered SYNs (at least one of them
/// judged a flood attempt by itself), each of them is a `syn_flood`, whatever its own count.
fn network_floods(judged: &mut [Judged<'_>], rules: &SourceRules) {
    // At least one connection judged a flood attempt on its own: a SYN-only log (every
    // connection looks unanswered) or SYNs cut off by the end of the log are not enough.
    let candidate = |j: &Judged<'_>| {
        matches!(j.1, Verdict::SynFlood | Verdict::Unknown)
            && j.0.only_unanswered_syns()
            && j.0.verdicts.get(Verdict::SynFlood) > 0
    };
    let mut counts: BTreeMap<IpNet, u64> = BTreeMap::new();
    for j in judged.iter().filter(|j| candidate(j)) {
        *counts.entry(flood_network(j.0.addr)).or_insert(0) += 1;
    }
    for j in judged.iter_mut().filter(|j| candidate(j)) {
        let network = flood_network(j.0.addr);
        let sources = counts.get(&network).copied().unwrap_or(0);
        if sources < rules.min_flood_sources.max(2) {
            continue;
        }
        if j.1 != Verdict::SynFlood {
            j.1 = Verdict::SynFlood;
            j.2 = Confidence::Medium;
            j.3.retain(|e| !matches!(e, Evidence::TooFewAttempts { .. }));
        }
        j.3.insert(
            0,
            Evidence::NetworkFlood {
                network: network.to_string(),
                sources,
            },
        );
    }
}

impl Report {
    /// Builds the report from a summary.
    ///
    /// ```
    /// use halfopen::{facts::{ConnFacts, InputKind}, summary::Summary, report::{Report, ReportExtras}, network::BlockPolicy};
    /// let mut s = Summary::default();
    /// for port in 40000..40030u16 {
    ///     let mut c = ConnFacts::new(format!("45.76.87.206:{port}").parse().unwrap(), "116.58.172.107:80".parse().unwrap(), i64::from(port) * 500_000, InputKind::NoFlags);
    ///     c.orig_pkts = 1;
    ///     s.add(&c);
    /// }
    /// let r = Report::build(&s, &BlockPolicy::default(), ReportExtras::default());
    /// assert_eq!(r.blocklist, ["45.76.87.206/32"]);
    /// assert!(r.headline[0].starts_with("45.76.87.206 sent 30 SYNs to port 80 that never completed a handshake and has no request in the access log: syn_flood"));
    /// ```
    pub fn build(summary: &Summary, policy: &BlockPolicy, extras: ReportExtras) -> Report {
        let mut judged: Vec<Judged<'_>> = summary
            .sources
            .values()
            .map(|s| {
                let (v, c, e) = s.verdict_with(&extras.rules);
                (s, v, c, e)
            })
            .collect();
        network_floods(&mut judged, &extras.rules);
        judged.sort_by(|a, b| {
            (b.1.is_hostile(), b.0.connections, a.0.addr).cmp(&(
                a.1.is_hostile(),
                a.0.connections,
                b.0.addr,
            ))
        });
        let rows: Vec<SourceRow> = judged
            .iter()
            .map(|(s, v, _, _)| SourceRow {
                addr: s.addr,
                hostile: v.is_hostile(),
                requests: s.requests,
                connections: s.connections,
            })
            .collect();
        let mut view = plan(&rows, policy);
        for b in &mut view.blocks {
            mark_spoofed(b, &judged, &extras.rules);
        }
        let mut headline = Vec::new();
        // Blocks with several sources get one line; single sources their own.
        let mut told: Vec<IpAddr> = Vec::new();
        for b in view.blocks.iter().filter(|b| b.sources >= 4) {
            let members: Vec<&(&SourceSummary, Verdict, Confidence, Vec<Evidence>)> = judged
                .iter()
                .filter(|j| j.1.is_hostile() && b.cidr.contains(&j.0.addr))
                .collect();
            let syns: u64 = members.iter().map(|m| m.0.syns).sum();
            let mut by_v: BTreeMap<Verdict, u64> = BTreeMap::new();
            for m in &members {
                *by_v.entry(m.1).or_insert(0) += 1;
                told.push(m.0.addr);
            }
            let top = by_v.iter().max_by_key(|(_, n)| **n).map(|(v, _)| *v);
            headline.push(format!(
                "{} addresses in {} made {} connection attempts ({} SYNs){}{}",
                thousands(b.sources),
                b.cidr,
                thousands(b.connections),
                thousands(syns),
                match top {
                    Some(v) => format!(": {v}"),
                    None => String::new(),
                },
                if b.likely_spoofed {
                    " (likely spoofed: blocking the addresses does little, enable SYN cookies; see the suggested blocks)"
                } else {
                    ""
                }
            ));
        }
        for (s, v, c, _) in judged.iter().filter(|j| j.1.is_hostile()) {
            if told.contains(&s.addr) || headline.len() >= 8 {
                continue;
            }
            headline.push(source_headline(s, *v, *c, extras.no_access_log));
        }
        if headline.is_empty() {
            headline.push(format!(
                "no hostile traffic found in {} connection(s)",
                thousands(summary.connections())
            ));
        }
        if let Some(ns) = &extras.netstat {
            for (port, n) in &ns.half_open_by_local_port {
                let backlog = ns.listen_backlog.get(port).copied();
                headline.push(format!(
                    "the socket snapshot shows {} half-open connection(s) on port {port}{}",
                    thousands(*n),
                    match backlog {
                        Some(b) if b > 0 => format!(
                            " against a listen backlog of {b}{}",
                            if *n >= b { ": the backlog is full" } else { "" }
                        ),
                        _ => String::new(),
                    }
                ));
            }
        }
        for v in [
            Verdict::Idle,
            Verdict::IdleTimeout,
            Verdict::NonHttp,
            Verdict::Unknown,
        ] {
            let n = summary.verdicts.get(v);
            if n > 0 {
                let srcs = judged.iter().filter(|j| j.0.verdicts.get(v) > 0).count();
                headline.push(format!(
                    "{} connection(s) from {} source(s) were {}",
                    thousands(n),
                    srcs,
                    match v {
                        Verdict::Idle => "idle: handshake, no request, client closed (preconnects, health checks): idle",
                        Verdict::IdleTimeout => "idle until the server timed out: idle_timeout",
                        Verdict::NonHttp => "not HTTP/1 (TLS or binary on the HTTP port): non_http",
                        _ => "not decidable from the input (see the evidence for what is missing): unknown",
                    }
                ));
            }
        }
        let buckets = &summary.timeline.buckets;
        let span = buckets
            .keys()
            .last()
            .zip(buckets.keys().next())
            .map_or(0, |(l, f)| {
                usize::try_from(l.saturating_sub(*f) / BUCKET_US + 1).unwrap_or(0)
            });
        let cols = summary.timeline.columns(span.min(10_000));
        let timeline = TimelineReport {
            bucket_seconds: (BUCKET_US / 1_000_000) as u64,
            start: summary.timeline.buckets.keys().next().map(|t| rfc3339(*t)),
            attempts: cols.iter().map(|c| c.0).collect(),
            hostile: cols.iter().map(|c| c.1).collect(),
        };
        let sources = judged
            .into_iter()
            .map(|(s, v, c, e)| SourceReport {
                addr: s.addr,
                verdict: v,
                confidence: c,
                connections: s.connections,
                requests: s.requests,
                syns: s.syns,
                verdicts: s.verdicts,
                first_seen: rfc3339(s.first_seen_us),
                last_seen: rfc3339(s.last_seen_us),
                dst_ports: s.dst_ports.ports.iter().take(32).copied().collect(),
                evidence: e.into_iter().map(EvidenceItem::from).collect(),
            })
            .collect();
        Report {
            version: SCHEMA_VERSION,
            inputs: extras.inputs,
            notes: extras.notes,
            year_inferred: extras.year_inferred,
            zone_inferred: extras.zone_inferred,
            clock_offset_seconds: extras.clock_offset_seconds,
            headline,
            connections_total: summary.connections(),
            connections: summary.verdicts,
            states: summary.states.clone(),
            unmatched_requests: extras.unmatched_requests,
            sources,
            blocklist: view.cidrs(),
            networks: view.blocks,
            not_blocked: view.not_blocked,
            timeline,
            netstat: extras.netstat,
            skipped_lines_total: extras.skipped_lines_total,
            skipped_lines: extras.skipped_lines,
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as text for a terminal (ANSI bold headings when `color`).
    pub fn to_text(&self, color: bool) -> String {
        render_text(self, color)
    }
}

/// An ASCII sparkline of `values` (` .:-=+*#%@`), at most `width` columns.
///
/// ```
/// assert_eq!(halfopen::report::sparkline(&[0, 1, 9, 9], 4), " .@@");
/// ```
pub fn sparkline(values: &[u64], width: usize) -> String {
    sparkline_scaled(values, width, 0)
}

/// Columns of the text timeline.
const TIMELINE_WIDTH: usize = 72;

/// Like [`sparkline`], scaled so that `max` (or the largest column, if larger) is `@`: the
/// hostile line uses the peak of all attempts, so both lines share one scale.
///
/// ```
/// assert_eq!(halfopen::report::sparkline_scaled(&[0, 1, 9], 3, 18), " .+");
/// ```
pub fn sparkline_scaled(values: &[u64], width: usize, max: u64) -> String {
    const RAMP: &[u8] = b" .:-=+*#%@";
    if values.is_empty() || width == 0 {
        return String::new();
    }
    let per = values.len().div_ceil(width).max(1);
    let cols: Vec<u64> = values.chunks(per).map(|c| c.iter().sum()).collect();
    let max = cols.iter().copied().max().unwrap_or(0).max(max).max(1);
    cols.iter()
        .map(|&v| {
            let level = if v == 0 {
                0
            } else {
                1 + (v.saturating_mul(8) / max).min(8) as usize
            };
            char::from(RAMP.get(level).copied().unwrap_or(b'@'))
        })
        .collect()
}

/// The verdict name padded to 13 columns, red for hostile and green for legitimate when `color`.
fn paint(v: Verdict, color: bool) -> String {
    let name = format!("{:<13}", v.as_str());
    match (color, v) {
        (false, _) => name,
        (true, Verdict::Legitimate) => format!("\x1b[32m{name}\x1b[0m"),
        (true, v) if v.is_hostile() => format!("\x1b[31m{name}\x1b[0m"),
        (true, _) => name,
    }
}

/// Suggested blocks with at least this many hostile sources sharing one verdict are listed
/// once in the text report (the JSON keeps every source).
pub const GROUP_MIN_SOURCES: u64 = 8;
/// Addresses named for a network listed once.
const GROUP_TOP: usize = 5;

/// A network of hostile sources with one verdict, listed once in the text report.
struct SourceGroup<'a> {
    block: &'a Block,
    verdict: Verdict,
    confidence: Confidence,
    /// By connections, most first (the report's order).
    members: Vec<&'a SourceReport>,
    first_seen: &'a str,
    last_seen: &'a str,
    /// Evidence sentences at least half of the members share, in the first member's order.
    shared: Vec<&'a str>,
}

fn source_groups(r: &Report) -> Vec<SourceGroup<'_>> {
    let mut out = Vec::new();
    for block in r.networks.iter().filter(|n| n.sources >= GROUP_MIN_SOURCES) {
        let members: Vec<&SourceReport> = r
            .sources
            .iter()
            .filter(|s| s.verdict.is_hostile() && block.cidr.contains(&s.addr))
            .collect();
        let Some(first) = members.first() else {
            continue;
        };
        if members.iter().any(|m| m.verdict != first.verdict) {
            continue;
        }
        let mut confidences = [0usize; 3];
        for m in &members {
            if let Some(c) = confidences.get_mut(m.confidence as usize) {
                *c += 1;
            }
        }
        let confidence = [Confidence::Low, Confidence::Medium, Confidence::High]
            .into_iter()
            .max_by_key(|c| confidences.get(*c as usize).copied().unwrap_or(0))
            .unwrap_or(Confidence::Low);
        let shared = first
            .evidence
            .iter()
            .filter(|e| !matches!(e.evidence, Evidence::NetworkFlood { .. }))
            .map(|e| e.sentence.as_str())
            .filter(|s| {
                let n = members
                    .iter()
                    .filter(|m| m.evidence.iter().any(|e| e.sentence == *s))
                    .count();
                n * 2 >= members.len()
            })
            .take(5)
            .collect();
        out.push(SourceGroup {
            block,
            verdict: first.verdict,
            confidence,
            first_seen: members
                .iter()
                .map(|m| m.first_seen.as_str())
                .min()
                .unwrap_or_default(),
            last_seen: members
                .iter()
                .map(|m| m.last_seen.as_str())
                .max()
                .unwrap_or_default(),
            members,
            shared,
        });
    }
    out
}

fn render_text(r: &Report, color: bool) -> String {
    let (b, e) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let mut o = String::new();
    let _ = writeln!(o, "{b}What happened{e}");
    for h in &r.headline {
        let _ = writeln!(o, "  * {h}");
    }
    let _ = writeln!(o);
    if !r.notes.is_empty() || r.clock_offset_seconds.is_some() {
        let _ = writeln!(o, "{b}Notes{e}");
        for n in &r.notes {
            let _ = writeln!(o, "  - {n}");
        }
        if let Some(off) = r.clock_offset_seconds {
            let _ = writeln!(
                o,
                "  - access-log clock minus firewall clock: {off:+.3} s (median of matched connections)"
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(
        o,
        "{b}Connections by verdict{e} ({} in total)",
        thousands(r.connections_total)
    );
    for (v, n) in r.connections.iter() {
        let _ = writeln!(o, "  {:<14} {:>10}", v.as_str(), thousands(n));
    }
    if r.unmatched_requests > 0 {
        let _ = writeln!(
            o,
            "  ({} access-log request(s) matched no connection in the firewall input)",
            thousands(r.unmatched_requests)
        );
    }
    let _ = writeln!(o);
    if !r.timeline.attempts.is_empty() {
        // The sparkline sums `per` buckets into one column; say what a column is.
        let per = r.timeline.attempts.len().div_ceil(TIMELINE_WIDTH).max(1);
        let peak = r
            .timeline
            .attempts
            .chunks(per)
            .map(|c| c.iter().sum::<u64>())
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            o,
            "{b}Timeline{e} of connection attempts from {}: one column per {} s, peak {} per column (@ = most)",
            r.timeline.start.as_deref().unwrap_or("?"),
            r.timeline.bucket_seconds.saturating_mul(per as u64),
            thousands(peak),
        );
        let _ = writeln!(
            o,
            "  all     |{}|",
            sparkline(&r.timeline.attempts, TIMELINE_WIDTH)
        );
        let _ = writeln!(
            o,
            "  hostile |{}|",
            sparkline_scaled(&r.timeline.hostile, TIMELINE_WIDTH, peak)
        );
        let _ = writeln!(o);
    }
    let groups = source_groups(r);
    let in_group = |a: &IpAddr| groups.iter().any(|g| g.block.cidr.contains(a));
    let singles: Vec<&SourceReport> = r.sources.iter().filter(|s| !in_group(&s.addr)).collect();
    let grouped = r.sources.len() - singles.len();
    let _ = writeln!(
        o,
        "{b}Sources{e} ({}{})",
        r.sources.len(),
        if grouped > 0 {
            format!(
                "; {} of them in {} network(s), each listed once",
                thousands(grouped as u64),
                groups.len()
            )
        } else {
            String::new()
        }
    );
    for g in &groups {
        let _ = writeln!(
            o,
            "  {:<39} {} {:<6} {:>7} conn {:>7} req  {} .. {}",
            g.block.cidr.to_string(),
            paint(g.verdict, color),
            g.confidence.as_str(),
            thousands(g.block.connections),
            thousands(g.members.iter().map(|m| m.requests).sum()),
            g.first_seen,
            g.last_seen
        );
        let _ = writeln!(
            o,
            "      - {} addresses, all {}",
            thousands(g.members.len() as u64),
            g.verdict
        );
        for sentence in &g.shared {
            let _ = writeln!(o, "      - {sentence}");
        }
        let top: Vec<String> = g
            .members
            .iter()
            .take(GROUP_TOP)
            .map(|m| format!("{} ({} conn)", m.addr, thousands(m.connections)))
            .collect();
        let _ = writeln!(
            o,
            "      - top addresses: {}{}",
            top.join(", "),
            if g.members.len() > GROUP_TOP {
                ", ... (every address: --format json)"
            } else {
                ""
            }
        );
    }
    for s in singles.iter().take(25) {
        let _ = writeln!(
            o,
            "  {:<39} {} {:<6} {:>7} conn {:>7} req  {} .. {}",
            s.addr.to_string(),
            paint(s.verdict, color),
            s.confidence.as_str(),
            thousands(s.connections),
            thousands(s.requests),
            s.first_seen,
            s.last_seen
        );
        if s.verdict != Verdict::Legitimate {
            for ev in s.evidence.iter().take(5) {
                let _ = writeln!(o, "      - {}", ev.sentence);
            }
        }
    }
    if singles.len() > 25 {
        let _ = writeln!(
            o,
            "  ... and {} more (see --format json)",
            singles.len() - 25
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{b}Suggested blocks{e}");
    if r.networks.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for n in &r.networks {
        let _ = writeln!(
            o,
            "  {}: {} hostile source(s), {} connection(s); cuts off no client with requests{}",
            n.cidr,
            thousands(n.sources),
            thousands(n.connections),
            if n.collateral.other_sources > 0 {
                format!(
                    " ({} other source(s) without requests inside)",
                    n.collateral.other_sources
                )
            } else {
                String::new()
            }
        );
        if n.likely_spoofed {
            let _ = writeln!(
                o,
                "    likely spoofed ({}): suggested anyway, but {}",
                n.spoofing_indicators.join(", "),
                n.advice.as_deref().unwrap_or(SPOOFED_FLOOD_ADVICE)
            );
        }
        let mut shown = 0u64;
        for w in n.wider.iter().filter(|w| w.refused.is_none()) {
            if w.collateral.clients <= shown {
                continue;
            }
            shown = w.collateral.clients;
            let _ = writeln!(
                o,
                "    blocking {} would also block {} client(s) with {} successful request(s) (e.g. {})",
                w.cidr,
                thousands(w.collateral.clients),
                thousands(w.collateral.requests),
                w.collateral
                    .examples
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    for nb in &r.not_blocked {
        let _ = writeln!(o, "  not blocked: {} ({})", nb.addr, nb.reason);
    }
    let _ = writeln!(o);
    if let Some(ns) = &r.netstat {
        let _ = writeln!(
            o,
            "{b}Socket snapshot{e}: {} half-open socket(s)",
            ns.half_open()
        );
        for (p, n) in &ns.half_open_by_local_port {
            let backlog = ns
                .listen_backlog
                .get(p)
                .map(|b| format!(" (listen backlog {b})"))
                .unwrap_or_default();
            let _ = writeln!(o, "  port {p}: {n} half-open{backlog}");
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "{b}Inputs{e}");
    for i in &r.inputs {
        let _ = writeln!(
            o,
            "  {} ({}, {}): {} line(s), {} used, {} skipped",
            crate::escape::for_terminal(i.file.as_bytes()),
            i.kind,
            i.format.as_deref().unwrap_or("?"),
            thousands(i.lines),
            thousands(i.records),
            thousands(i.skipped)
        );
    }
    if r.skipped_lines_total > 0 {
        let _ = writeln!(
            o,
            "  {} line(s) skipped; the first ones:",
            thousands(r.skipped_lines_total)
        );
        for s in r.skipped_lines.iter().take(10) {
            let file = crate::escape::for_terminal(s.file.as_bytes());
            let error = crate::escape::for_terminal(s.error.as_bytes());
            // Line 0: the whole input (unreadable, or its format was not recognised).
            let _ = if s.line == 0 {
                writeln!(o, "    {file} (whole input): {error}")
            } else {
                writeln!(o, "    {file}:{} (byte {}): {error}", s.line, s.offset)
            };
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1200), "1,200");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(sparkline(&[], 10), "");
        assert_eq!(sparkline(&[1, 1, 1, 1], 2).len(), 2);
    }
}
