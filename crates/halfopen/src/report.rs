//! The report: a JSON document (serde) and a text rendering for a terminal.
//!
//! Every string that came from a log is escaped before it is stored (see [`crate::escape`]),
//! so neither rendering can carry control characters.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::connections::KernelNote;
use crate::escape::{rfc3339, thousands};
use crate::evidence::{DecidedBy, InputForm, Platform, Shows, WebServer};
use crate::infer::Outcome;
use crate::input::SkippedLine;
use crate::judge::{Judged, Judgement, NetworkFlood, SPOOFED_FLOOD_ADVICE, ServerFlood};
use crate::netstat::NetstatSummary;
use crate::policy::{Block, NetworkView, NotBlocked};
use crate::requests::ServerNote;
use crate::rollup::{BUCKET_US, Rollup, SourceSummary};
use crate::verdict::{Confidence, Evidence, Verdict};

/// Version of the JSON document's layout. 2: the verdict rules per evidence form, and
/// `timeline.hostile` counts attempts that never completed (it counted attempts of sources
/// judged hostile); every other field of version 1 keeps its name and meaning.
pub const SCHEMA_VERSION: u32 = 2;

/// The top-level keys of the JSON document (docs/json-schema.md).
pub const JSON_KEYS: [&str; 32] = [
    "version",
    "warnings",
    "unusable_inputs",
    "inputs",
    "forms",
    "platform",
    "notes",
    "year_inferred",
    "zone_inferred",
    "zone_suggested",
    "clock_offset_seconds",
    "headline",
    "server_findings",
    "network_floods",
    "kernel_messages",
    "server_notes",
    "connections_total",
    "connections",
    "states",
    "unmatched_requests",
    "correlation",
    "first_bytes",
    "scale",
    "sources",
    "networks",
    "not_blocked",
    "blocklist",
    "hostile_found",
    "timeline",
    "netstat",
    "skipped_lines_total",
    "skipped_lines",
];

/// The keys of each item of `sources`.
pub const SOURCE_KEYS: [&str; 12] = [
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
    "raise_confidence",
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

/// Counters per verdict (indexed by [`Verdict::index`]); serialised as `{"name": count}`
/// without zero entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerdictCounts(pub [u64; 9]);

impl VerdictCounts {
    /// Adds `n` to a verdict.
    pub fn add(&mut self, v: Verdict, n: u64) {
        if let Some(c) = self.0.get_mut(v.index()) {
            *c = c.saturating_add(n);
        }
    }
    /// The count of a verdict.
    pub fn get(&self, v: Verdict) -> u64 {
        self.0.get(v.index()).copied().unwrap_or(0)
    }
    /// The sum of all counts.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }
    /// Non-zero entries, in [`Verdict::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Verdict, u64)> + '_ {
        Verdict::ALL
            .into_iter()
            .map(|v| (v, self.get(v)))
            .filter(|(_, n)| *n > 0)
    }
}

impl Serialize for VerdictCounts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        for (v, n) in self.iter() {
            m.serialize_entry(v.as_str(), &n)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for VerdictCounts {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = BTreeMap::<Verdict, u64>::deserialize(d)?;
        let mut c = VerdictCounts::default();
        for (v, n) in m {
            c.add(v, n);
        }
        Ok(c)
    }
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
    /// Lines (or packets, for a capture) read.
    pub lines: u64,
    /// Lines used.
    pub records: u64,
    /// Lines skipped (bad).
    pub skipped: u64,
    /// Lines read but not relevant (non-TCP records, other kernel or error-log messages).
    #[serde(default)]
    pub ignored: u64,
    /// What `lines` counts: `lines` or `packets`.
    #[serde(default)]
    pub unit: String,
    /// Why the input could not be used, when it could not.
    #[serde(default)]
    pub unusable: Option<String>,
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
    /// What would raise the confidence.
    pub raise_confidence: Option<String>,
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
    /// Attempts that never completed (or carried no request, where the input does not show
    /// completion), per bucket.
    pub hostile: Vec<u64>,
}

/// What one firewall input or capture shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormReport {
    /// File name.
    pub file: String,
    /// Which packets (`every-packet`, `inbound`, `first-packet`, `syn-only`).
    pub shows: Shows,
    /// Whether lines carry TCP flags.
    pub flags: bool,
    /// Decided from the data or given.
    pub decided_by: DecidedBy,
    /// Why.
    pub reason: String,
    /// What that means, in words.
    pub meaning: String,
    /// The server's addresses it shows.
    pub server_addrs: Vec<IpAddr>,
    /// The smallest firewall rule number its lines show (ipfw), where a deny rule must come
    /// before.
    #[serde(default)]
    pub smallest_rule: Option<u32>,
}

impl FormReport {
    /// The report item of an input's form.
    pub fn of(file: &str, f: &InputForm, smallest_rule: Option<u32>) -> FormReport {
        FormReport {
            file: file.to_owned(),
            shows: f.shows,
            flags: f.flags,
            decided_by: f.decided_by,
            reason: f.reason.clone(),
            meaning: f.shows.sentence().to_owned(),
            server_addrs: f.server_addrs.clone(),
            smallest_rule,
        }
    }
}

/// The platform assumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformReport {
    /// `linux`, `freebsd`, `bsd`, `windows`.
    pub name: String,
    /// Why it was assumed.
    pub why: String,
    /// What "the web server logged nothing" means there, and the check that tells half-open
    /// from established.
    pub means: String,
    /// `apache` or `nginx`, as the error log tells (none without an error log).
    pub web_server: Option<String>,
}

/// How requests were matched to connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CorrelationReport {
    /// Client requests read.
    pub requests: u64,
    /// Matched to a connection.
    pub matched: u64,
    /// Matched by the client port or as the only candidate.
    pub certain: u64,
    /// Matched by choosing among several open connections of the address.
    pub by_elimination: u64,
    /// Inside the firewall input's time span but matched to no connection.
    pub unmatched: u64,
    /// Outside the firewall input's time span.
    pub outside_span: u64,
    /// Apache's own requests (internal dummy connections), kept apart.
    pub internal: u64,
    /// Read timeouts (AH01382) read and matched.
    pub timeouts: u64,
    /// Read timeouts matched.
    pub timeouts_matched: u64,
}

/// How much of the input was held one by one and how much summarised (the memory budget), and
/// which figures are therefore estimates.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScaleReport {
    /// The memory budget, MB.
    pub memory_mb: u64,
    /// Distinct source addresses (exact up to 1024, then a HyperLogLog estimate).
    pub distinct_sources: u64,
    /// Whether `distinct_sources` is exact.
    pub distinct_sources_exact: bool,
    /// Its relative standard error (0 when exact).
    pub distinct_sources_error: f64,
    /// Sources held one by one (judged one by one).
    pub sources_held: u64,
    /// Sources listed in `sources` (`--top`).
    pub sources_listed: u64,
    /// Sources folded into their network's and server port's counters (the lightest, when
    /// more came than the budget holds; an address folded twice counts twice).
    pub sources_folded: u64,
    /// Their connections.
    pub connections_folded: u64,
    /// Flows the flow table evicted at its cap (counted, their outcome unknown).
    pub flows_evicted: u64,
    /// Connections and requests matched before the other log had passed them (the
    /// correlation's caps).
    pub matched_early: u64,
    /// What is estimated, in words (empty when everything is exact).
    pub estimates: Vec<String>,
}

/// What the first bytes a capture kept of each connection showed (`null` without a capture
/// or with `--payload-bytes 0`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FirstBytesReport {
    /// Connections whose client side sent bytes a capture kept.
    pub connections: u64,
    /// Connections per class (`http_complete`, `http_partial`, `tls`, ...).
    pub classes: BTreeMap<String, u64>,
    /// Connections with a whole HTTP request in the capture and no request in the web logs.
    pub requests_not_logged: u64,
    /// The first of them.
    pub not_logged_example: Option<NotLoggedExample>,
    /// Entries the store held at most.
    pub peak_entries: u64,
    /// Entries evicted before their connection ended (their classes are missing).
    pub evicted: u64,
}

/// A whole request the capture saw and the web logs do not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotLoggedExample {
    /// Client end.
    pub client: SocketAddr,
    /// Server end.
    pub server: SocketAddr,
    /// The bytes quoted (escaped, capped).
    pub bytes: String,
}

impl FirstBytesReport {
    /// The report of a rollup's tally and the store's counters.
    pub fn of(
        t: &crate::rollup::FirstBytesTally,
        peak_entries: u64,
        evicted: u64,
    ) -> FirstBytesReport {
        FirstBytesReport {
            connections: t.classes.values().sum(),
            classes: t.classes.clone(),
            requests_not_logged: t.requests_not_logged,
            not_logged_example: t
                .not_logged_example
                .as_ref()
                .map(|(c, s, b)| NotLoggedExample {
                    client: *c,
                    server: *s,
                    bytes: b.clone(),
                }),
            peak_entries,
            evicted,
        }
    }
}

/// A finding about a server port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerFinding {
    /// A SYN flood from many addresses.
    SynFlood(ServerFlood),
    /// Every worker busy (AH00161/AH00484): clients waited in the listen queue.
    WorkersExhausted {
        /// First and last such message, RFC 3339.
        from: String,
        /// Last one.
        to: String,
        /// Messages.
        messages: u64,
        /// The longest a legitimate client waited from its SYN to its request, seconds.
        longest_wait_seconds: Option<f64>,
        /// The finding in words.
        sentence: String,
    },
    /// SYN-ACKs for connections this server never opened (backscatter, reflection).
    Backscatter {
        /// SYN-ACKs.
        syn_acks: u64,
        /// Addresses that sent them.
        addresses: u64,
        /// The finding in words.
        sentence: String,
    },
}

impl ServerFinding {
    /// The finding in words.
    pub fn sentence(&self) -> &str {
        match self {
            ServerFinding::SynFlood(f) => &f.sentence,
            ServerFinding::WorkersExhausted { sentence, .. }
            | ServerFinding::Backscatter { sentence, .. } => sentence,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Layout version ([`SCHEMA_VERSION`]).
    pub version: u32,
    /// Problems that make the answer untrustworthy (unusable inputs, logs that do not
    /// overlap in time...): shown first.
    pub warnings: Vec<String>,
    /// Inputs that were given but gave nothing usable (or had most lines skipped): the
    /// answer cannot be trusted (the command exits 3).
    pub unusable_inputs: Vec<String>,
    /// The inputs.
    pub inputs: Vec<InputInfo>,
    /// What each firewall input or capture shows.
    pub forms: Vec<FormReport>,
    /// The server's platform, as assumed.
    pub platform: Option<PlatformReport>,
    /// Notes about assumptions (year or zone inferred, missing inputs...).
    pub notes: Vec<String>,
    /// True when a year was inferred for year-less timestamps.
    pub year_inferred: bool,
    /// True when a time zone was assumed.
    pub zone_inferred: bool,
    /// With no `--tz`: an IANA zone whose offsets are the access log's where they changed (a
    /// daylight-saving change) within the firewall input's time; the firewall's zone-less
    /// stamps on one side of the change were read an hour off (`halfopen analyze` reads the
    /// inputs again in it when it can).
    #[serde(default)]
    pub zone_suggested: Option<String>,
    /// Estimated offset access-log clock minus firewall clock, seconds.
    pub clock_offset_seconds: Option<f64>,
    /// The headline: what happened, what to block and what not, most important first.
    pub headline: Vec<String>,
    /// Server ports under a flood, worker exhaustion, backscatter.
    pub server_findings: Vec<ServerFinding>,
    /// Networks whose addresses flood together.
    pub network_floods: Vec<NetworkFlood>,
    /// Kernel messages about SYN floods.
    pub kernel_messages: Vec<KernelNote>,
    /// What the web server said about itself (error log).
    pub server_notes: Vec<ServerNote>,
    /// Connections in total.
    pub connections_total: u64,
    /// Connections by verdict.
    pub connections: VerdictCounts,
    /// Connections by Zeek state.
    pub states: BTreeMap<String, u64>,
    /// Requests in the access logs that matched no connection although the firewall input
    /// covers their time.
    pub unmatched_requests: u64,
    /// How requests were matched.
    pub correlation: CorrelationReport,
    /// What the capture's first bytes showed (`null` without a capture).
    pub first_bytes: Option<FirstBytesReport>,
    /// What was held one by one and what summarised.
    pub scale: ScaleReport,
    /// Sources, hostile first, then by connections.
    pub sources: Vec<SourceReport>,
    /// Suggested blocks with their collateral.
    pub networks: Vec<Block>,
    /// Hostile sources (or blocks) not blocked, and why.
    pub not_blocked: Vec<NotBlocked>,
    /// The block list (CIDR strings).
    pub blocklist: Vec<String>,
    /// True when hostile traffic was found (a hostile source or a server-level finding).
    pub hostile_found: bool,
    /// Connection attempts over time.
    pub timeline: TimelineReport,
    /// netstat/ss snapshot, when given.
    pub netstat: Option<NetstatSummary>,
    /// Lines skipped in total.
    pub skipped_lines_total: u64,
    /// Skipped lines (the first 1000), with reasons.
    pub skipped_lines: Vec<SkippedLine>,
}

/// Everything the pipeline hands to the report.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Warnings.
    pub warnings: Vec<String>,
    /// Inputs.
    pub inputs: Vec<InputInfo>,
    /// Forms.
    pub forms: Vec<FormReport>,
    /// Platform.
    pub platform: Option<PlatformReport>,
    /// Notes.
    pub notes: Vec<String>,
    /// Year inferred.
    pub year_inferred: bool,
    /// Zone inferred.
    pub zone_inferred: bool,
    /// The zone the access logs' offsets suggest.
    pub zone_suggested: Option<String>,
    /// Clock offset, seconds.
    pub clock_offset_seconds: Option<f64>,
    /// Correlation counts.
    pub correlation: CorrelationReport,
    /// What the capture's first bytes showed.
    pub first_bytes: Option<FirstBytesReport>,
    /// What was held one by one and what summarised (completed by the report).
    pub scale: ScaleReport,
    /// Sources listed at most.
    pub top: usize,
    /// Kernel messages.
    pub kernel: Vec<KernelNote>,
    /// Server notes.
    pub server_notes: Vec<ServerNote>,
    /// Unsolicited SYN-ACKs to the server (backscatter): (SYN-ACKs, addresses).
    pub backscatter: Option<(u64, u64)>,
    /// The socket snapshot.
    pub netstat: Option<NetstatSummary>,
    /// Skipped lines in total.
    pub skipped_lines_total: u64,
    /// Skipped lines kept.
    pub skipped_lines: Vec<SkippedLine>,
    /// True when no access log was given.
    pub no_access_log: bool,
    /// Inputs that gave nothing usable.
    pub unusable_inputs: Vec<String>,
}

/// The verdict a connection gets from what it showed and its source's verdict.
pub fn connection_verdict(o: Outcome, source: Verdict) -> Verdict {
    match o {
        Outcome::Served => Verdict::Legitimate,
        Outcome::SlowRequest => Verdict::SlowRequest,
        Outcome::NonHttp | Outcome::Http2Preface => Verdict::NonHttp,
        Outcome::IdleTimeout => Verdict::IdleTimeout,
        Outcome::ClosedIdle | Outcome::OpenIdle | Outcome::TlsNoRequest => Verdict::Idle,
        Outcome::ClosedAtOnce if source == Verdict::ConnectScan => Verdict::ConnectScan,
        Outcome::ClosedAtOnce => Verdict::Idle,
        Outcome::BadRequest if source == Verdict::SlowRequest => Verdict::SlowRequest,
        Outcome::Refused
        | Outcome::ResetAfterSynAck
        | Outcome::LoneSyn
        | Outcome::ServerSilent
        | Outcome::SynAckUnanswered
        | Outcome::Attempt
        | Outcome::RetriedSyn
            if source.is_hostile() =>
        {
            source
        }
        _ => Verdict::Unknown,
    }
}

fn verdict_counts(s: &SourceSummary, v: Verdict) -> VerdictCounts {
    let mut c = VerdictCounts::default();
    for (o, n) in s.outcomes.iter() {
        c.add(connection_verdict(o, v), u64::from(n));
    }
    c
}

fn ports_text(ports: &[u16]) -> String {
    let shown: Vec<String> = ports.iter().take(5).map(u16::to_string).collect();
    format!(
        "{} {}{}",
        if ports.len() == 1 { "port" } else { "ports" },
        shown.join(", "),
        if ports.len() > 5 { ", ..." } else { "" }
    )
}

impl Report {
    /// Builds the report from the rollup, the judgement and the block-list view.
    pub fn build(
        rollup: &Rollup,
        judgement: &Judgement,
        mut view: NetworkView,
        f: Findings,
    ) -> Report {
        mark_spoofed_blocks(&mut view, &judgement.networks);
        let mut connections = VerdictCounts::default();
        let mut order: Vec<(&SourceSummary, &Judged)> = Vec::with_capacity(judgement.sources.len());
        for (s, j) in judged_sources(rollup, judgement) {
            for (v, n) in verdict_counts(s, j.verdict).iter() {
                connections.add(v, n);
            }
            order.push((s, j));
        }
        // Only the listed ones are written out (`top`), in `listing_order`.
        order.sort_by_key(|(a, ja)| listing_order(a, ja));
        let sources_held = order.len() as u64;
        let sources: Vec<(SourceReport, bool)> = order
            .into_iter()
            .take(f.top)
            .map(|(s, j)| {
                (
                    source_report(s, j, verdict_counts(s, j.verdict)),
                    j.random_flood_member,
                )
            })
            .collect();
        let mut server_findings: Vec<ServerFinding> = judgement
            .servers
            .iter()
            .cloned()
            .map(ServerFinding::SynFlood)
            .collect();
        let waits = legitimate_waits(rollup, judgement);
        if let Some(w) = workers_finding(&f.server_notes, waits) {
            server_findings.push(w);
        }
        if let Some((syn_acks, addresses)) = f.backscatter {
            let one_way = f.forms.iter().any(|x| x.shows == Shows::Inbound);
            server_findings.push(ServerFinding::Backscatter {
                syn_acks,
                addresses,
                sentence: backscatter_sentence(syn_acks, addresses, one_way),
            });
        }
        let hostile_found = sources.iter().any(|(s, _)| s.verdict.is_hostile())
            || server_findings
                .iter()
                .any(|s| matches!(s, ServerFinding::SynFlood(_)));
        let judged_by_addr: BTreeMap<IpAddr, &Judged> =
            judgement.sources.iter().map(|j| (j.addr, j)).collect();
        let headline = headline(
            &sources.iter().map(|(s, _)| s).collect::<Vec<_>>(),
            &judged_by_addr,
            &server_findings,
            &judgement.networks,
            &view,
            &f,
        );
        let timeline = timeline(rollup);
        let mut scale = f.scale;
        scale.sources_held = sources_held;
        scale.sources_listed = sources.len() as u64;
        scale.distinct_sources = rollup.distinct_sources.count();
        scale.distinct_sources_exact = rollup.distinct_sources.is_exact();
        scale.distinct_sources_error = rollup.distinct_sources.relative_standard_error();
        scale.sources_folded = rollup.folded.sources;
        scale.connections_folded = rollup.folded.connections;
        scale.estimates = estimates(&scale);
        Report {
            version: SCHEMA_VERSION,
            warnings: f.warnings,
            unusable_inputs: f.unusable_inputs,
            inputs: f.inputs,
            forms: f.forms,
            platform: f.platform,
            notes: f.notes,
            year_inferred: f.year_inferred,
            zone_inferred: f.zone_inferred,
            zone_suggested: f.zone_suggested,
            clock_offset_seconds: f.clock_offset_seconds,
            headline,
            server_findings,
            network_floods: judgement.networks.clone(),
            kernel_messages: f.kernel,
            server_notes: f.server_notes,
            connections_total: rollup.connections,
            connections,
            states: rollup.states.clone(),
            unmatched_requests: f.correlation.unmatched,
            correlation: f.correlation,
            first_bytes: f.first_bytes,
            scale,
            sources: sources.into_iter().map(|(s, _)| s).collect(),
            blocklist: view.cidrs(),
            networks: view.blocks,
            not_blocked: view.not_blocked,
            hostile_found,
            timeline,
            netstat: f.netstat,
            skipped_lines_total: f.skipped_lines_total,
            skipped_lines: f.skipped_lines,
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

/// What the scale figures make estimates of, in words.
fn estimates(s: &ScaleReport) -> Vec<String> {
    let mut out = Vec::new();
    if !s.distinct_sources_exact {
        out.push(format!(
            "distinct sources: {} is an estimate (relative standard error {:.1} %)",
            thousands(s.distinct_sources),
            s.distinct_sources_error * 100.0
        ));
    }
    if s.sources_folded > 0 {
        out.push(format!(
            "{} of the lightest sources ({} connections) were folded into their network's and \
             server port's counters to stay within {} MB: they are judged together (network and \
             server-level floods), not one by one; the sources held entered with an error of \
             at most the lightest held count",
            thousands(s.sources_folded),
            thousands(s.connections_folded),
            s.memory_mb
        ));
    }
    if s.flows_evicted > 0 {
        out.push(format!(
            "{} flows were evicted from the flow table at its cap (the oldest unanswered \
             attempts first): their outcome is unknown",
            thousands(s.flows_evicted)
        ));
    }
    if s.matched_early > 0 {
        out.push(format!(
            "{} connections and requests were matched before the other log had passed them",
            thousands(s.matched_early)
        ));
    }
    out
}

/// Marks the blocks of networks whose flood looks spoofed: suggested anyway (blocking the
/// network stops it while the tool picks addresses inside it), with what helps more.
fn mark_spoofed_blocks(view: &mut NetworkView, nets: &[NetworkFlood]) {
    for b in &mut view.blocks {
        if let Some(n) = nets.iter().find(|n| {
            n.likely_spoofed && (n.network.contains(&b.cidr) || b.cidr.contains(&n.network))
        }) {
            b.likely_spoofed = true;
            b.spoofing_indicators = n.indicators.clone();
            b.advice = Some(SPOOFED_FLOOD_ADVICE.to_owned());
        }
    }
}

/// Where a source stands in the listing (ascending): the addresses of a random-source flood
/// last (one spoofed address each, which the server finding sums up: 4,720 of them filled
/// the first 1,000 places of the nginx lab run, and its clients, its port monitor and its
/// scanners were not listed), then hostile sources first, then by connections, then by
/// address.
fn listing_order(s: &SourceSummary, j: &Judged) -> (bool, bool, std::cmp::Reverse<u64>, IpAddr) {
    (
        j.random_flood_member,
        !j.verdict.is_hostile(),
        std::cmp::Reverse(s.connections),
        s.addr,
    )
}

fn source_report(s: &SourceSummary, j: &Judged, verdicts: VerdictCounts) -> SourceReport {
    SourceReport {
        addr: s.addr,
        verdict: j.verdict,
        confidence: j.confidence,
        connections: s.connections,
        requests: u64::from(s.requests.completed()),
        syns: s.syns,
        verdicts,
        first_seen: rfc3339(s.first_seen_us),
        last_seen: rfc3339(s.last_seen_us),
        dst_ports: s.dst_ports.ports.clone(),
        evidence: j.evidence.iter().cloned().map(EvidenceItem::from).collect(),
        raise_confidence: j.raise.clone(),
    }
}

/// Each judged source with its summary (looked up by address: the judgement holds the held
/// sources, in its own order).
fn judged_sources<'a>(
    r: &'a Rollup,
    j: &'a Judgement,
) -> impl Iterator<Item = (&'a SourceSummary, &'a Judged)> {
    j.sources
        .iter()
        .filter_map(|v| r.source(&v.addr).map(|s| (s, v)))
}

/// The longest wait of a legitimate client from its SYN to its request, and the span of the
/// connections that waited: (longest, first, last), µs.
fn legitimate_waits(r: &Rollup, j: &Judgement) -> Option<(i64, i64, i64)> {
    let mut out: Option<(i64, i64, i64)> = None;
    for (s, v) in judged_sources(r, j) {
        if v.verdict != Verdict::Legitimate || !waits_are_shown(s) {
            continue;
        }
        let (Some(a), Some(b)) = (s.waited.min, s.waited.max) else {
            continue;
        };
        out = Some(match out {
            None => (s.max_wait_us, a, b),
            Some((w, x, y)) => (w.max(s.max_wait_us), x.min(a), y.max(b)),
        });
    }
    out
}

/// Whether a source's waits from SYN to request say how long the server kept it. Where the input
/// shows the client's packets after its SYN, the connection that carried a request is known.
/// Where it shows only SYNs or first packets, a request goes to one of the address's
/// connections by the order a busy server accepts them in, which is right only when hardly any
/// connection of the address went without a request (at most one in ten): a spare attempt a
/// few seconds older takes the request and makes a wait. The reflection run's `ipfw.log`:
/// 1,500 of hping3's SYNs in a client's name made its 16 requests look 35 s late; the carpet
/// run's: three SYNs in a client's name among its eight connections, 10 s; each time the server
/// "saturated", though it answered in a millisecond.
fn waits_are_shown(s: &SourceSummary) -> bool {
    let served = u64::from(s.outcomes.get(Outcome::Served));
    let spare = s.connections.saturating_sub(served);
    s.forms.max.is_some_and(Shows::client_after_syn) || spare * 10 <= s.connections
}

/// Worker exhaustion (the error log's AH00161/AH00484), or legitimate clients kept waiting
/// (the firewall's SYN long before the access log's request), or both.
fn workers_finding(notes: &[ServerNote], waits: Option<(i64, i64, i64)>) -> Option<ServerFinding> {
    let times: Vec<i64> = notes
        .iter()
        .filter_map(|n| match n {
            ServerNote::WorkersExhausted { ts_us } => Some(*ts_us),
            ServerNote::AcceptFilterMissing { .. } => None,
        })
        .collect();
    let first = times.iter().min().copied();
    let last = times.iter().max().copied();
    let waited = waits.map(|(w, a, b)| {
        format!(
            "legitimate requests waited up to {:.0} s from their SYN to their request line ({})",
            w as f64 / 1e6,
            if a == b {
                format!("a connection opened at {}", rfc3339(a))
            } else {
                format!("connections opened from {} to {}", rfc3339(a), rfc3339(b))
            }
        )
    });
    let sentence = match (first, &waited) {
        (Some(f), Some(w)) => format!(
            "the web server ran out of workers (AH00161/AH00484 \"server reached \
             MaxRequestWorkers\" at {}): new connections waited in the listen queue; {w}",
            rfc3339(f)
        ),
        (Some(f), None) => format!(
            "the web server ran out of workers (AH00161/AH00484 \"server reached \
             MaxRequestWorkers\" at {}): new connections waited in the listen queue",
            rfc3339(f)
        ),
        (None, Some(w)) => format!("the web server was saturated: {w}"),
        (None, None) => return None,
    };
    let (from, to) = match (waits, first, last) {
        (Some((_, a, b)), _, _) => (a.min(first.unwrap_or(a)), b.max(last.unwrap_or(b))),
        (None, Some(f), Some(l)) => (f, l),
        _ => return None,
    };
    Some(ServerFinding::WorkersExhausted {
        from: rfc3339(from),
        to: rfc3339(to),
        messages: times.len() as u64,
        longest_wait_seconds: waits.map(|(w, _, _)| w as f64 / 1e6),
        sentence,
    })
}

fn timeline(r: &Rollup) -> TimelineReport {
    let buckets = &r.timeline.buckets;
    let (Some((&first, _)), Some((&last, _))) =
        (buckets.first_key_value(), buckets.last_key_value())
    else {
        return TimelineReport {
            bucket_seconds: (BUCKET_US / 1_000_000) as u64,
            ..TimelineReport::default()
        };
    };
    let n = usize::try_from((last - first) / BUCKET_US + 1)
        .unwrap_or(0)
        .min(10_000);
    let mut unanswered: BTreeMap<i64, u64> = BTreeMap::new();
    for s in r.servers.values() {
        for (b, c) in &s.never_completed.buckets {
            *unanswered.entry(*b).or_insert(0) += c;
        }
    }
    let col = |m: &BTreeMap<i64, u64>| -> Vec<u64> {
        let mut v = vec![0u64; n];
        for (b, c) in m {
            let i = usize::try_from((b - first) / BUCKET_US).unwrap_or(usize::MAX);
            if let Some(x) = v.get_mut(i.min(n.saturating_sub(1))) {
                *x += c;
            }
        }
        v
    };
    TimelineReport {
        bucket_seconds: (BUCKET_US / 1_000_000) as u64,
        start: Some(rfc3339(first)),
        attempts: col(buckets),
        hostile: col(&unanswered),
    }
}

/// The first lines: is it a flood (and is its rate dangerous), is it spoofed, what to block
/// and what not to block, each confidence with what would raise it.
fn headline(
    sources: &[&SourceReport],
    judged: &BTreeMap<IpAddr, &Judged>,
    servers: &[ServerFinding],
    nets: &[NetworkFlood],
    view: &NetworkView,
    f: &Findings,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in servers {
        match s {
            ServerFinding::SynFlood(x) => {
                let mut line = x.sentence.clone();
                if let Some(b) = &x.backlog_note {
                    line.push_str(&format!(". {b}"));
                }
                if x.likely_spoofed {
                    line.push_str(&format!(
                        ". Spoofed: {}. Do not block the addresses; {}",
                        x.indicators.join("; "),
                        SPOOFED_FLOOD_ADVICE
                    ));
                } else if !x.indicators.is_empty() {
                    line.push_str(&format!(". {}", x.indicators.join("; ")));
                }
                line.push_str(&format!(" ({} confidence)", x.confidence));
                out.push(line);
            }
            other => out.push(other.sentence().to_owned()),
        }
    }
    for n in nets.iter().filter(|n| n.sent_in_their_names) {
        out.push(format!(
            "{} addresses in {} were named on {} SYNs that never completed, and their hosts \
             reset the server's SYN-ACKs from another TTL than the SYNs': another host sent \
             the SYNs in their names (a reflection at those hosts); not blocked (blocking \
             would cut off their owners, not the sender); {}",
            thousands(n.sources),
            n.network,
            thousands(n.syns),
            n.indicators.join("; ")
        ));
    }
    for n in nets.iter().filter(|n| !n.sent_in_their_names) {
        out.push(format!(
            "{} addresses in {} sent only unanswered SYNs ({} SYNs): a flood from one network{}",
            thousands(n.sources),
            n.network,
            thousands(n.syns),
            if n.likely_spoofed {
                format!(
                    "; likely spoofed ({}): blocking the network stops it only while the tool \
                     picks addresses inside it",
                    n.indicators.join("; ")
                )
            } else {
                format!("; {}", n.indicators.join("; "))
            }
        ));
    }
    let mut told = 0;
    for s in sources.iter().filter(|s| s.verdict.is_hostile()) {
        let j = judged.get(&s.addr);
        if j.is_some_and(|j| j.random_flood_member)
            || nets.iter().any(|n| n.network.contains(&s.addr))
        {
            continue;
        }
        if told >= 8 {
            break;
        }
        told += 1;
        out.push(source_headline(s, f.no_access_log));
    }
    for b in &view.blocks {
        let mut line = format!(
            "block {}: {} hostile source(s), {} connection(s); it cuts off no client with \
             successful requests",
            b.cidr,
            thousands(b.sources),
            thousands(b.connections)
        );
        // The wider blocks an admin reaches for (up to /22, IPv6 /48), each where it would cut
        // off more clients than the narrower one.
        let mut shown = 0u64;
        let mut dont = Vec::new();
        for w in b.wider.iter().filter(|w| {
            let limit = if w.cidr.addr().is_ipv4() { 22 } else { 48 };
            w.cidr.prefix_len() >= limit
        }) {
            if w.collateral.clients > shown {
                shown = w.collateral.clients;
                dont.push(format!(
                    "{} (it holds {} client(s) with {} successful request(s))",
                    w.cidr,
                    thousands(w.collateral.clients),
                    thousands(w.collateral.requests)
                ));
            }
        }
        if !dont.is_empty() {
            line.push_str(&format!(". Do not block {}", dont.join(" or ")));
        }
        if b.likely_spoofed {
            line.push_str(" (the sources look spoofed: blocking them does little)");
        }
        out.push(line);
    }
    if let Some(ns) = &f.netstat {
        for (port, n) in &ns.half_open_by_local_port {
            let backlog = ns.listen_backlog.get(port).copied();
            out.push(format!(
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
    let not_blocked = view.not_blocked.len();
    if not_blocked > 0 {
        let first = view
            .not_blocked
            .first()
            .map(|n| format!("{}: {}", n.addr, n.reason));
        out.push(format!(
            "{} hostile source(s) or block(s) not blocked{}",
            thousands(not_blocked as u64),
            first.map(|f| format!(", e.g. {f}")).unwrap_or_default()
        ));
    }
    if out.is_empty() {
        let total: u64 = sources.iter().map(|s| s.connections).sum();
        out.push(format!(
            "no hostile traffic found in {} connection(s) from {} source(s)",
            thousands(total),
            thousands(sources.len() as u64)
        ));
    }
    let paced: Vec<(&SourceReport, Pace)> = sources
        .iter()
        .filter_map(|s| pace_if_too_slow(s).map(|p| (*s, p)))
        .collect();
    if let Some(line) = paced_headline(&paced) {
        out.push(line);
    }
    for v in [
        Verdict::Idle,
        Verdict::IdleTimeout,
        Verdict::NonHttp,
        Verdict::Unknown,
    ] {
        let srcs: Vec<&&SourceReport> = sources
            .iter()
            .filter(|s| s.verdict == v && pace_if_too_slow(s).is_none())
            .collect();
        if srcs.is_empty() {
            continue;
        }
        let conns: u64 = srcs.iter().map(|s| s.connections).sum();
        out.push(format!(
            "{} source(s) with {} connection(s) were {}",
            thousands(srcs.len() as u64),
            thousands(conns),
            match v {
                Verdict::Idle => "idle: handshake, no request, the client closed (preconnects, health checks): idle, not hostile",
                Verdict::IdleTimeout => "idle until the server timed out: idle_timeout",
                Verdict::NonHttp => "not the port's protocol (TLS or an HTTP/2 preface on a plain-HTTP port, plain HTTP on a TLS port): non_http, not hostile",
                _ => "not decidable from the input (their evidence says what is missing): unknown",
            }
        ));
    }
    out
}

/// What [`Evidence::TooSlowToFlood`] says of a source: its busiest minute, the backlog, the
/// pace that fills it.
#[derive(Clone, Copy)]
struct Pace {
    busiest_minute: u64,
    backlog: u64,
    needed_per_minute: u64,
}

/// The pace of an `unknown` source whose SYNs were too slow to flood.
fn pace_if_too_slow(s: &SourceReport) -> Option<Pace> {
    if s.verdict != Verdict::Unknown {
        return None;
    }
    s.evidence.iter().find_map(|e| match e.evidence {
        Evidence::TooSlowToFlood {
            busiest_minute,
            backlog,
            needed_per_minute,
            ..
        } => Some(Pace {
            busiest_minute,
            backlog,
            needed_per_minute,
        }),
        _ => None,
    })
}

/// One headline for the sources too slow to flood (the story's pattern: a new connection
/// every half second that Apache never logs), with the busiest of them as the example.
fn paced_headline(paced: &[(&SourceReport, Pace)]) -> Option<String> {
    let (top, pace) = paced
        .iter()
        .max_by_key(|(s, p)| (p.busiest_minute, s.connections))?;
    let conns: u64 = paced.iter().map(|(s, _)| s.connections).sum();
    Some(format!(
        "{} source(s) with {} connection(s) and no logged request began them too slowly to be \
         a flood (the busiest, {}, began {} in one minute; a listen queue of {} fills at about \
         {} a minute from one address): what a load balancer's health check, a monitor or a \
         client whose SYN-ACKs are lost looks like, as much as a slow probe: unknown, not \
         blocked; a capture of both directions would tell",
        thousands(paced.len() as u64),
        thousands(conns),
        top.addr,
        thousands(pace.busiest_minute),
        thousands(pace.backlog),
        thousands(pace.needed_per_minute)
    ))
}

fn source_headline(s: &SourceReport, no_access_log: bool) -> String {
    let addr = s.addr;
    let n = thousands(s.connections);
    let has = |want: fn(&Evidence) -> bool| s.evidence.iter().any(|e| want(&e.evidence));
    let in_its_name = has(|e| matches!(e, Evidence::SentInItsName { .. }));
    // A client also served: its served connections' SYNs did complete.
    let served = s.verdicts.get(Verdict::Legitimate);
    let never_completed = thousands(s.syns.saturating_sub(served));
    let what = match s.verdict {
        Verdict::SynFlood if in_its_name => format!(
            "{never_completed} SYNs to {} in the name of {addr} never completed a handshake",
            ports_text(&s.dst_ports)
        ),
        Verdict::SynFlood => {
            format!(
                "{addr} sent {never_completed} SYNs to {} that never completed a handshake{}",
                ports_text(&s.dst_ports),
                match (s.requests, no_access_log) {
                    (_, true) => " (no access log was given)".to_owned(),
                    (0, false) => " and has no request in the access log".to_owned(),
                    _ => format!(", beside {} served connection(s)", thousands(served)),
                }
            )
        }
        Verdict::SynScan => format!(
            "{addr} probed {} port(s) with SYNs and never completed a handshake ({n} attempts)",
            s.dst_ports.len()
        ),
        Verdict::ConnectScan => format!(
            "{addr} scanned {} with full connections ({n} connection(s); {})",
            ports_text(&s.dst_ports),
            s.evidence.first().map_or("", |e| e.sentence.as_str())
        ),
        Verdict::SlowRequest => format!(
            "{addr} held {} of its {n} connection(s) to {} with unfinished requests until the server timed out",
            thousands(s.verdicts.get(Verdict::SlowRequest)),
            ports_text(&s.dst_ports)
        ),
        _ => format!("{addr}: {n} connection(s)"),
    };
    let mut line = format!("{what}: {} ({} confidence", s.verdict, s.confidence);
    if let Some(r) = &s.raise_confidence {
        line.push_str(&format!("; to be surer: {r}"));
    }
    line.push(')');
    if in_its_name {
        line.push_str(
            ". Its host reset the SYN-ACKs from another TTL than the SYNs', so another host sent \
             them: not blocked (blocking would cut off the address's owner, not the sender)",
        );
    } else if has(|e| matches!(e, Evidence::RealAddress { .. })) {
        line.push_str(
            ". The address is live (its host reset the SYN-ACKs): blocking it most likely stops it",
        );
    }
    line
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

/// Like [`sparkline`], scaled so that `max` (or the largest column, if larger) is `@`.
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

/// Sources shown one by one in the text report.
const TEXT_SOURCES: usize = 25;

/// What unsolicited SYN-ACKs to the server mean, and what helps. `one_way`: an input shows
/// only what came in, so the server's own SYNs would not show either.
fn backscatter_sentence(syn_acks: u64, addresses: u64, one_way: bool) -> String {
    let (arrived, unless) = if one_way {
        (
            "arrived with no SYN from this server in the input (it shows only what came in)",
            "unless this server opened that many connections itself, ",
        )
    } else {
        ("arrived for connections this server never opened", "")
    };
    format!(
        "{} SYN-ACK(s) from {} address(es) {arrived}: {unless}backscatter of a flood that \
         spoofed this server's address (or a reflection); those addresses are victims too, not \
         attackers: do not block them (a stateful firewall already drops SYN-ACKs that match no \
         connection of its own; if they fill the link, ask the provider to filter upstream)",
        thousands(syn_acks),
        thousands(addresses)
    )
}

fn render_text(r: &Report, color: bool) -> String {
    let (b, e) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let mut o = String::new();
    for w in &r.warnings {
        let _ = writeln!(o, "{b}WARNING{e}: {w}");
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "{b}What happened{e}");
    for h in &r.headline {
        let _ = writeln!(o, "  * {h}");
    }
    let _ = writeln!(o);
    render_forms(r, &mut o, b, e);
    if !r.notes.is_empty() || r.clock_offset_seconds.is_some() {
        let _ = writeln!(o, "{b}Notes{e}");
        for n in &r.notes {
            let _ = writeln!(o, "  - {n}");
        }
        if let Some(off) = r.clock_offset_seconds {
            let _ = writeln!(o, "  - access-log clock minus firewall clock: {off:+.0} s");
        }
        let _ = writeln!(o);
    }
    if !r.scale.estimates.is_empty() {
        let _ = writeln!(
            o,
            "{b}Estimates{e} (memory budget {} MB)",
            r.scale.memory_mb
        );
        for n in &r.scale.estimates {
            let _ = writeln!(o, "  - {n}");
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
    if r.scale.connections_folded > 0 {
        let _ = writeln!(
            o,
            "  {:<14} {:>10}  (of sources folded into their network's and server port's counters: \
             judged together there, not one by one)",
            "folded",
            thousands(r.scale.connections_folded)
        );
    }
    let c = &r.correlation;
    if c.requests > 0 {
        let _ = writeln!(
            o,
            "  requests: {} read, {} matched ({} certain, {} by elimination), {} unmatched, {} \
             outside the firewall input's time{}",
            thousands(c.requests),
            thousands(c.matched),
            thousands(c.certain),
            thousands(c.by_elimination),
            thousands(c.unmatched),
            thousands(c.outside_span),
            if c.internal > 0 {
                format!(
                    "; {} of Apache's own (internal dummy connection) kept apart",
                    thousands(c.internal)
                )
            } else {
                String::new()
            }
        );
    }
    if let Some(fb) = r.first_bytes.as_ref().filter(|f| f.connections > 0) {
        let classes: Vec<String> = fb
            .classes
            .iter()
            .map(|(c, n)| format!("{c} {}", thousands(*n)))
            .collect();
        let _ = writeln!(
            o,
            "  first bytes (capture): {} connection(s): {}",
            thousands(fb.connections),
            classes.join(", ")
        );
    }
    let _ = writeln!(o);
    render_timeline(r, &mut o, b, e);
    render_sources(r, &mut o, b, e, color);
    render_blocks(r, &mut o, b, e);
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
    render_inputs(r, &mut o, b, e);
    o
}

fn render_forms(r: &Report, o: &mut String, b: &str, e: &str) {
    if r.forms.is_empty() && r.platform.is_none() {
        return;
    }
    let _ = writeln!(o, "{b}What the inputs show{e}");
    for f in &r.forms {
        let _ = writeln!(
            o,
            "  - {}: {} ({}; {})",
            crate::escape::for_terminal(f.file.as_bytes()),
            f.meaning,
            match f.decided_by {
                DecidedBy::User => "as given",
                DecidedBy::Data => "decided from the data",
            },
            f.reason
        );
    }
    if let Some(p) = &r.platform {
        let web = p
            .web_server
            .as_ref()
            .map(|w| format!("; web server {w}, as its error log says"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  - server platform assumed {} ({}{web}): {}",
            p.name, p.why, p.means
        );
    }
    let _ = writeln!(o);
}

fn render_timeline(r: &Report, o: &mut String, b: &str, e: &str) {
    if r.timeline.attempts.is_empty() {
        return;
    }
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
        "{b}Timeline{e} of connection attempts from {}: one column per {} s, peak {} per column \
         (scale ' .:-=+*#%@': blank none, '@' the peak)",
        r.timeline.start.as_deref().unwrap_or("?"),
        r.timeline.bucket_seconds.saturating_mul(per as u64),
        thousands(peak),
    );
    let _ = writeln!(
        o,
        "  all        |{}|",
        sparkline(&r.timeline.attempts, TIMELINE_WIDTH)
    );
    let _ = writeln!(
        o,
        "  unanswered |{}|",
        sparkline_scaled(&r.timeline.hostile, TIMELINE_WIDTH, peak)
    );
    let _ = writeln!(o);
}

fn render_sources(r: &Report, o: &mut String, b: &str, e: &str, color: bool) {
    let groups: Vec<(&Block, Vec<&SourceReport>)> = r
        .networks
        .iter()
        .filter(|n| n.sources >= GROUP_MIN_SOURCES)
        .map(|n| {
            (
                n,
                r.sources
                    .iter()
                    .filter(|s| s.verdict.is_hostile() && n.cidr.contains(&s.addr))
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, m)| {
            m.first()
                .is_some_and(|f| m.iter().all(|x| x.verdict == f.verdict))
        })
        .collect();
    let flood_members: Vec<&SourceReport> = r
        .sources
        .iter()
        .filter(|s| {
            s.evidence
                .iter()
                .any(|e| matches!(e.evidence, Evidence::ServerFlood { .. }))
        })
        .collect();
    let in_group = |a: &IpAddr| groups.iter().any(|(g, _)| g.cidr.contains(a));
    let singles: Vec<&SourceReport> = r
        .sources
        .iter()
        .filter(|s| !in_group(&s.addr))
        .filter(|s| {
            !(flood_members.len() >= GROUP_MIN_SOURCES as usize
                && flood_members.iter().any(|m| m.addr == s.addr))
        })
        .collect();
    let sc = &r.scale;
    if sc.sources_held > sc.sources_listed || sc.sources_folded > 0 || !sc.distinct_sources_exact {
        let _ = writeln!(
            o,
            "{b}Sources{e} ({} listed of {} judged one by one; {}{} distinct)",
            thousands(sc.sources_listed),
            thousands(sc.sources_held),
            if sc.distinct_sources_exact {
                ""
            } else {
                "about "
            },
            thousands(sc.distinct_sources)
        );
    } else {
        let _ = writeln!(o, "{b}Sources{e} ({})", thousands(r.sources.len() as u64));
    }
    for (g, members) in &groups {
        let Some(first) = members.first() else {
            continue;
        };
        let _ = writeln!(
            o,
            "  {:<39} {} {:>7} conn  {} addresses, all {}",
            g.cidr.to_string(),
            paint(first.verdict, color),
            thousands(g.connections),
            thousands(members.len() as u64),
            first.verdict
        );
        let top: Vec<String> = members
            .iter()
            .take(GROUP_TOP)
            .map(|m| format!("{} ({} conn)", m.addr, thousands(m.connections)))
            .collect();
        let _ = writeln!(
            o,
            "      - top addresses: {}{}",
            top.join(", "),
            if members.len() > GROUP_TOP {
                ", ... (every address: --format json)"
            } else {
                ""
            }
        );
    }
    if flood_members.len() >= GROUP_MIN_SOURCES as usize {
        let _ = writeln!(
            o,
            "  {} addresses of a many-source SYN flood (see the server finding; every address: --format json)",
            thousands(flood_members.len() as u64)
        );
    }
    for s in singles.iter().take(TEXT_SOURCES) {
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
        for ev in s.evidence.iter().take(6) {
            let _ = writeln!(o, "      - {}", ev.sentence);
        }
        if let Some(raise) = &s.raise_confidence {
            let _ = writeln!(o, "      - to be surer: {raise}");
        }
    }
    if singles.len() > TEXT_SOURCES {
        let _ = writeln!(
            o,
            "  ... and {} more (see --format json)",
            thousands((singles.len() - TEXT_SOURCES) as u64)
        );
    }
    let _ = writeln!(o);
}

fn render_blocks(r: &Report, o: &mut String, b: &str, e: &str) {
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
    let groups = not_blocked_by_reason(&r.not_blocked);
    for g in groups.iter().take(NOT_BLOCKED_LINES) {
        match g.addrs.as_slice() {
            [one] => {
                let _ = writeln!(o, "  not blocked: {one} ({})", g.reason);
            }
            many => {
                let examples: Vec<String> = many
                    .iter()
                    .take(NOT_BLOCKED_EXAMPLES)
                    .map(ToString::to_string)
                    .collect();
                let _ = writeln!(
                    o,
                    "  not blocked: {} addresses ({}), e.g. {}",
                    thousands(many.len() as u64),
                    g.reason,
                    examples.join(", ")
                );
            }
        }
    }
    let hidden: usize = groups
        .iter()
        .skip(NOT_BLOCKED_LINES)
        .map(|g| g.addrs.len())
        .sum();
    if hidden > 0 {
        let _ = writeln!(
            o,
            "  ... and {} more not blocked (see --format json)",
            thousands(hidden as u64)
        );
    }
    let _ = writeln!(o);
}

/// Lines of "not blocked" the text report shows (each one reason).
const NOT_BLOCKED_LINES: usize = 20;

/// Addresses a "not blocked" line shared by several names.
const NOT_BLOCKED_EXAMPLES: usize = 3;

/// Addresses not blocked for one and the same reason.
struct NotBlockedGroup<'a> {
    reason: &'a str,
    addrs: Vec<IpAddr>,
}

/// The not-blocked entries grouped by their reason, in the order each reason first appears
/// (a random-source flood's thousands of addresses share one reason: one line, not a page).
fn not_blocked_by_reason(entries: &[NotBlocked]) -> Vec<NotBlockedGroup<'_>> {
    let mut groups: Vec<NotBlockedGroup<'_>> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for nb in entries {
        let at = *index.entry(nb.reason.as_str()).or_insert_with(|| {
            groups.push(NotBlockedGroup {
                reason: nb.reason.as_str(),
                addrs: Vec::new(),
            });
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(at) {
            g.addrs.push(nb.addr);
        }
    }
    groups
}

fn render_inputs(r: &Report, o: &mut String, b: &str, e: &str) {
    let _ = writeln!(o, "{b}Inputs{e}");
    for i in &r.inputs {
        let unit = if i.unit.is_empty() {
            "lines"
        } else {
            i.unit.as_str()
        };
        let _ = writeln!(
            o,
            "  {} ({}, {}): {} {unit}, {} used, {} skipped, {} ignored{}",
            crate::escape::for_terminal(i.file.as_bytes()),
            i.kind,
            i.format.as_deref().unwrap_or("?"),
            thousands(i.lines),
            thousands(i.records),
            thousands(i.skipped),
            thousands(i.ignored),
            i.unusable
                .as_ref()
                .map(|u| format!(" — UNUSABLE: {}", crate::escape::for_terminal(u.as_bytes())))
                .unwrap_or_default()
        );
    }
    if r.skipped_lines_total > 0 {
        let _ = writeln!(
            o,
            "  {} line(s) skipped{}; the first ones:",
            thousands(r.skipped_lines_total),
            if r.skipped_lines_total > r.skipped_lines.len() as u64 {
                format!(
                    " ({} kept in the JSON report)",
                    thousands(r.skipped_lines.len() as u64)
                )
            } else {
                String::new()
            }
        );
        for s in r.skipped_lines.iter().take(10) {
            let file = crate::escape::for_terminal(s.file.as_bytes());
            let error = crate::escape::for_terminal(s.error.as_bytes());
            let _ = if s.line == 0 {
                writeln!(o, "    {file} (whole input): {error}")
            } else {
                writeln!(o, "    {file}:{} (byte {}): {error}", s.line, s.offset)
            };
        }
    }
}

/// The platform report for a platform, why it was assumed, and the web server where its error
/// log tells.
pub fn platform_report(p: Platform, why: &str, web: Option<WebServer>) -> PlatformReport {
    PlatformReport {
        name: p.as_str().to_owned(),
        why: why.to_owned(),
        means: p.no_log_line_means_of(web).to_owned(),
        web_server: web.map(|w| w.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_sparklines() {
        assert_eq!(sparkline(&[], 10), "");
        assert_eq!(sparkline(&[1, 1, 1, 1], 2).len(), 2);
    }

    #[test]
    fn connection_verdicts_follow_the_source() {
        assert_eq!(
            connection_verdict(Outcome::Attempt, Verdict::SynFlood),
            Verdict::SynFlood
        );
        assert_eq!(
            connection_verdict(Outcome::Attempt, Verdict::Legitimate),
            Verdict::Unknown
        );
        assert_eq!(
            connection_verdict(Outcome::ClosedAtOnce, Verdict::Legitimate),
            Verdict::Idle
        );
        assert_eq!(
            connection_verdict(Outcome::Served, Verdict::SynFlood),
            Verdict::Legitimate
        );
    }
}
