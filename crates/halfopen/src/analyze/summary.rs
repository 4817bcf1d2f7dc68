//! The state an analysis keeps once its inputs are read (the rollups, the client set, the
//! counters and what the inputs showed): bounded, serialisable (`--summary-out FILE`) and
//! mergeable (`halfopen merge FILE...`: several servers or days in one report). The last
//! stages (verdicts, block-list policy, report) run on a summary, merged or not
//! ([`conclude`]).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Options;
use crate::connections::KernelNote;
use crate::edges::{Edges, Part};
use crate::error::{Error, Result};
use crate::escape::{rfc3339, thousands};
use crate::evidence::{Platform, WebServer};
use crate::input::SkippedLine;
use crate::judge::{Context, judge};
use crate::netstat::NetstatSummary;
use crate::policy::{Protect, decide as plan_blocks};
use crate::report::{
    CorrelationReport, Findings, FirstBytesReport, FormReport, InputInfo, Report, ScaleReport,
    platform_report,
};
use crate::requests::ServerNote;
use crate::rollup::{Rollup, Successes};

/// What a summary file says it is.
pub const SUMMARY_FORMAT: &str = "halfopen-summary";
/// The summary layout's version.
pub const SUMMARY_VERSION: u32 = 3;

/// Kernel and server notes kept in a summary (all counted).
const MAX_NOTES: usize = 10_000;
/// Skipped lines kept in a summary.
const MAX_SKIPPED: usize = 1000;

/// Everything the verdicts, the policy and the report need, without the inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SUMMARY_FORMAT`].
    pub format: String,
    /// [`SUMMARY_VERSION`].
    pub version: u32,
    /// The rollups.
    pub rollup: Rollup,
    /// The connections at the edges of the firewall inputs' time span, not rolled up yet (a
    /// merge joins the pieces of a connection that a cut split).
    pub edges: Edges,
    /// The clients with successful requests (the access logs', and whole requests a capture
    /// saw answered).
    pub successes: Successes,
    /// An access log was given.
    pub has_access: bool,
    /// The firewall inputs' time span (their clock), µs.
    pub fw_span: Option<(i64, i64)>,
    /// The access logs' time span on the firewall clock, µs.
    pub access_span: Option<(i64, i64)>,
    /// The server's own addresses (given and seen).
    pub server_addrs: Vec<IpAddr>,
    /// How requests were matched.
    pub correlation: CorrelationReport,
    /// The kernel's own SYN-flood messages.
    pub kernel: Vec<KernelNote>,
    /// What the web server said about itself.
    pub server_notes: Vec<ServerNote>,
    /// Unsolicited SYN-ACKs to the server and their senders.
    pub backscatter: (u64, u64),
    /// The server's platform, and why.
    pub platform: Option<(Platform, String)>,
    /// What each firewall input or capture shows.
    pub forms: Vec<FormReport>,
    /// Every input read.
    pub inputs: Vec<InputInfo>,
    /// Assumptions made.
    pub notes: Vec<String>,
    /// What makes the answer less trustworthy.
    pub warnings: Vec<String>,
    /// Inputs that gave nothing usable.
    pub unusable: Vec<String>,
    /// A year was inferred.
    pub year_inferred: bool,
    /// No zone was given.
    pub zone_inferred: bool,
    /// An IANA zone whose offsets are the access log's where they changed (a daylight-saving
    /// change) within the firewall inputs' time, when no zone was given: the firewall's
    /// zone-less stamps on one side of the change were read an hour off, and reading them in
    /// this zone reads them as they were written.
    #[serde(default)]
    pub zone_suggested: Option<String>,
    /// Access-log clock minus firewall clock, seconds.
    pub clock_offset_seconds: Option<f64>,
    /// The first-bytes store's peak entries and evictions (captures only).
    pub first_bytes_store: Option<(u64, u64)>,
    /// The memory budget it was made with, MB.
    pub memory_mb: u64,
    /// Flows the flow table evicted.
    pub flows_evicted: u64,
    /// Connections and requests matched early.
    pub matched_early: u64,
    /// The socket snapshot.
    pub netstat: Option<NetstatSummary>,
    /// Skipped lines, all counted.
    pub skipped_total: u64,
    /// The first of them.
    pub skipped: Vec<SkippedLine>,
}

impl Summary {
    /// The summary as JSON (what `--summary-out` writes).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Reads a summary written by [`Summary::to_json`], checking what it says it is.
    pub fn from_json(name: &str, bytes: &[u8]) -> Result<Summary> {
        let bad = |why: String| Error::Summary {
            name: name.to_owned(),
            why,
        };
        let s: Summary = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        if s.format != SUMMARY_FORMAT || s.version != SUMMARY_VERSION {
            return Err(bad(format!(
                "a {} version {} file, not a {SUMMARY_FORMAT} version {SUMMARY_VERSION}",
                s.format, s.version
            )));
        }
        Ok(s)
    }

    /// Adds what `o` summarised (inputs that came after this summary's: another day, another
    /// server). Exact parts add up; the sketches merge within their error bounds.
    pub fn merge(&mut self, o: &Summary) {
        self.rollup.merge(&o.rollup);
        self.merge_edges(o);
        self.successes.merge(&o.successes);
        self.has_access |= o.has_access;
        self.fw_span = union(self.fw_span, o.fw_span);
        self.access_span = union(self.access_span, o.access_span);
        for a in &o.server_addrs {
            if !self.server_addrs.contains(a) {
                self.server_addrs.push(*a);
            }
        }
        add_correlation(&mut self.correlation, &o.correlation);
        extend_capped(&mut self.kernel, &o.kernel, MAX_NOTES);
        extend_capped(&mut self.server_notes, &o.server_notes, MAX_NOTES);
        self.backscatter.0 += o.backscatter.0;
        self.backscatter.1 += o.backscatter.1;
        if self.platform.is_none() {
            self.platform.clone_from(&o.platform);
        }
        self.forms.extend(o.forms.iter().cloned());
        self.inputs.extend(o.inputs.iter().cloned());
        for (mine, theirs) in [
            (&mut self.notes, &o.notes),
            (&mut self.warnings, &o.warnings),
            (&mut self.unusable, &o.unusable),
        ] {
            for n in theirs {
                if !mine.contains(n) {
                    mine.push(n.clone());
                }
            }
        }
        self.year_inferred |= o.year_inferred;
        self.zone_inferred |= o.zone_inferred;
        if self.zone_suggested.is_none() {
            self.zone_suggested.clone_from(&o.zone_suggested);
        }
        if self.clock_offset_seconds.is_none() {
            self.clock_offset_seconds = o.clock_offset_seconds;
        }
        self.first_bytes_store = match (self.first_bytes_store, o.first_bytes_store) {
            (Some((a, b)), Some((c, d))) => Some((a.max(c), b + d)),
            (x, y) => x.or(y),
        };
        self.memory_mb = self.memory_mb.max(o.memory_mb);
        self.flows_evicted += o.flows_evicted;
        self.matched_early += o.matched_early;
        match (&mut self.netstat, &o.netstat) {
            (Some(a), Some(b)) => a.merge(b),
            (None, Some(b)) => self.netstat = Some(b.clone()),
            _ => {}
        }
        self.skipped_total += o.skipped_total;
        extend_capped(&mut self.skipped, &o.skipped, MAX_SKIPPED);
    }

    /// Joins the edges of two summaries (call before the spans and servers are merged): the
    /// pieces of a connection a cut between them split become one, and what is no longer at
    /// an edge is rolled up ([`Edges::merge`]).
    fn merge_edges(&mut self, o: &Summary) {
        let mine = std::mem::take(&mut self.edges);
        let (edges, inside) = Edges::merge(
            Part {
                edges: mine,
                span: self.fw_span,
                servers: &self.server_addrs,
            },
            Part {
                edges: o.edges.clone(),
                span: o.fw_span,
                servers: &o.server_addrs,
            },
        );
        self.edges = edges;
        for c in &inside {
            self.rollup.add_among(c, &self.successes);
        }
    }
}

fn union(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (x, y) => x.or(y),
    }
}

fn extend_capped<T: Clone>(v: &mut Vec<T>, more: &[T], cap: usize) {
    let room = cap.saturating_sub(v.len());
    v.extend(more.iter().take(room).cloned());
}

fn add_correlation(a: &mut CorrelationReport, b: &CorrelationReport) {
    a.requests += b.requests;
    a.matched += b.matched;
    a.certain += b.certain;
    a.by_elimination += b.by_elimination;
    a.unmatched += b.unmatched;
    a.outside_span += b.outside_span;
    a.internal += b.internal;
    a.timeouts += b.timeouts;
    a.timeouts_matched += b.timeouts_matched;
}

/// Merges summaries in the order given (oldest first) and concludes.
///
/// ```no_run
/// use halfopen::analyze::{Summary, merge_summaries};
/// let days: Vec<Summary> = ["mon.json", "tue.json"]
///     .iter()
///     .map(|f| Summary::from_json(f, &std::fs::read(f).unwrap()).unwrap())
///     .collect();
/// let report = merge_summaries(days, &halfopen::Options::default()).unwrap();
/// println!("{}", report.to_text(false));
/// ```
pub fn merge_summaries(summaries: Vec<Summary>, opts: &Options) -> Result<Report> {
    let mut it = summaries.into_iter();
    let Some(mut all) = it.next() else {
        return Err(Error::Summary {
            name: "(none)".to_owned(),
            why: "no summary to merge".to_owned(),
        });
    };
    for s in it {
        all.merge(&s);
    }
    Ok(conclude(all, opts))
}

/// The last stages on a summary: verdicts, the block-list policy, the report.
pub fn conclude(mut s: Summary, opts: &Options) -> Report {
    // 4b. The connections at the inputs' edges, as they are: nothing is left to join.
    for c in s.edges.take_all() {
        s.rollup.add_among(&c, &s.successes);
    }
    note_edges(&mut s);
    let overlap = check_overlap(&mut s) && check_access_addresses(&mut s);
    if let Some((a, b)) = s.fw_span {
        s.notes.push(format!(
            "firewall input covers {} .. {}",
            rfc3339(a),
            rfc3339(b)
        ));
    }
    let first_bytes = s
        .first_bytes_store
        .map(|(peak, evicted)| FirstBytesReport::of(&s.rollup.first_bytes, peak, evicted));
    if let Some(fb) = &first_bytes {
        let covers = s.has_access && overlap;
        check_first_bytes(&mut s, fb, covers);
    }
    // 5. Verdicts.
    let backlog = s
        .netstat
        .as_ref()
        .map(|n| n.listen_backlog.clone())
        .unwrap_or_default();
    let web_server = web_server_of(&s.inputs);
    let mut cx = Context {
        rules: opts.rules,
        access_log: s.has_access,
        access_span: if overlap { s.access_span } else { None },
        platform: s.platform.clone(),
        web_server,
        kernel: s.kernel.clone(),
        backlog,
        successes: std::mem::take(&mut s.successes),
    };
    let judgement = judge(&s.rollup, &cx);
    // 6. Block-list policy.
    let mut policy = opts.policy.clone();
    for a in &s.server_addrs {
        if !policy.server_addrs.contains(a) {
            policy.server_addrs.push(*a);
        }
    }
    let protect = Protect {
        successes: std::mem::take(&mut cx.successes),
        absent_requests_count: overlap,
    };
    let view = plan_blocks(&judgement.sources, &protect, &policy);
    // 7. Report.
    for u in &s.unusable {
        s.warnings.insert(0, format!("unusable input: {u}"));
    }
    let findings = Findings {
        warnings: s.warnings,
        inputs: s.inputs,
        forms: s.forms,
        platform: s
            .platform
            .map(|(p, why)| platform_report(p, &why, web_server)),
        notes: s.notes,
        year_inferred: s.year_inferred,
        zone_inferred: s.zone_inferred,
        zone_suggested: s.zone_suggested,
        clock_offset_seconds: s.clock_offset_seconds,
        correlation: s.correlation,
        first_bytes,
        scale: ScaleReport {
            memory_mb: s.memory_mb,
            flows_evicted: s.flows_evicted,
            matched_early: s.matched_early,
            ..ScaleReport::default()
        },
        top: opts.top,
        kernel: s.kernel,
        server_notes: s.server_notes,
        backscatter: (s.backscatter.0 > 0).then_some(s.backscatter),
        netstat: s.netstat,
        skipped_lines_total: s.skipped_total,
        skipped_lines: s.skipped,
        no_access_log: !s.has_access,
        unusable_inputs: s.unusable,
    };
    Report::build(&s.rollup, &judgement, view, findings)
}

/// The web server whose error log was given (the first that tells); none without one.
fn web_server_of(inputs: &[InputInfo]) -> Option<WebServer> {
    inputs
        .iter()
        .filter(|i| i.kind == "error")
        .find_map(|i| WebServer::of_error_log_format(i.format.as_deref()?))
}

/// What the merge of summaries did at the cuts between them.
fn note_edges(s: &mut Summary) {
    if s.edges.joined > 0 {
        s.notes.push(format!(
            "{} connection(s) open across a cut between two summaries (one's input ended, the \
             next one's began) were joined into one each",
            thousands(s.edges.joined)
        ));
    }
    if s.edges.merges > 0 && s.edges.not_held > 0 {
        s.notes.push(format!(
            "{} connection(s) at an input's start or end were rolled up as they were, not \
             kept for a merge to join (the memory budget's share for them was full): a merge \
             may count them twice",
            thousands(s.edges.not_held)
        ));
    }
}

/// Whether the access log and the firewall input overlap in time; a warning when they do not.
fn check_overlap(s: &mut Summary) -> bool {
    if !s.has_access {
        return false;
    }
    let (Some((f0, f1)), Some((a0, a1))) = (s.fw_span, s.access_span) else {
        return true;
    };
    const SLACK: i64 = 60_000_000;
    if a1.saturating_add(SLACK) < f0 || f1.saturating_add(SLACK) < a0 {
        s.warnings.push(format!(
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

/// Requests inside the firewall input's time that matched no connection, from which (when they
/// are also most of them) the access log does not name the addresses the firewall saw.
pub const FOREIGN_REQUESTS_MIN: u64 = 50;

/// Whether the access log names the addresses that connected: most of its requests inside the
/// firewall input's time matched a connection. Behind a reverse proxy or a CDN whose header
/// Apache trusts (mod_remoteip, X-Forwarded-For), the log names the clients and the firewall
/// sees the proxy, which then seems to send thousands of connections no request came of: the
/// lab's proxy run, where that made the proxy a blocked `syn_flood` on the SYN-only forms. When
/// they do not match, a warning, and no verdict or block rests on "no request was logged".
fn check_access_addresses(s: &mut Summary) -> bool {
    let c = &s.correlation;
    let inside = c.matched.saturating_add(c.unmatched);
    if c.unmatched < FOREIGN_REQUESTS_MIN || c.unmatched.saturating_mul(2) <= inside {
        return true;
    }
    s.warnings.push(format!(
        "{} of the access log's {} request(s) inside the firewall input's time match no \
         connection it shows: the access log does not name the addresses that connected (a \
         reverse proxy, load balancer or CDN in front, whose header the server trusts: \
         mod_remoteip, X-Forwarded-For; or a firewall input that misses the ports or \
         addresses the server answers on). No verdict or block rests on \"no request was \
         logged\"; log the connecting address too (Apache: %{{c}}a, nginx: $realip_remote_addr)",
        thousands(c.unmatched),
        thousands(inside)
    ));
    false
}

/// A capture that saw whole requests the access log does not have, or lost first bytes to the
/// store's caps, says so.
fn check_first_bytes(s: &mut Summary, fb: &FirstBytesReport, access_covers: bool) {
    if access_covers && fb.requests_not_logged > 0 {
        let example = fb
            .not_logged_example
            .as_ref()
            .map(|e| format!(" (the first: {} -> {}: {})", e.client, e.server, e.bytes))
            .unwrap_or_default();
        s.warnings.push(format!(
            "the capture shows {} whole HTTP request(s) the access log does not have{example}: \
             is every virtual host's access log given, and is it the same server?",
            thousands(fb.requests_not_logged)
        ));
    }
    if fb.evicted > 0 {
        s.notes.push(format!(
            "the first bytes of {} connection(s) were dropped before their connection ended \
             (the store's caps): their outcome rests on the TCP packets alone",
            thousands(fb.evicted)
        ));
    }
}
