//! Matching logged requests and read timeouts to the connections that carried them, on every
//! evidence form.
//!
//! Exact when the access log carries the client port (`%{remote}p`, `%{c}p`). Otherwise by
//! client address and time: a request at `t` belongs to a connection from its address that
//! could carry one (a completed handshake where the input shows it; any attempt where it does
//! not) and was open at `t`: started by `t` plus the tolerance (Apache's `%t` is the request's
//! start, one-second resolution; kernel stamps may be a second off), and not closed before
//! `t` minus the tolerance, or, where the input does not show the end, started at most
//! [`CorrelateOptions::open_window_us`] before. Among several such connections: one on the
//! logged port, else one that sent data, else the oldest without a request yet (a busy server
//! accepts queued connections in order), else the most recent (keep-alive: several requests
//! per connection). A match with a single candidate is certain;
//! one chosen among several is "by elimination" and counted so.
//!
//! The clock offset between the access log and the firewall input is estimated first from the
//! differences between request times and connection starts of the same address.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::evidence::Shows;
use crate::facts::{ConnFacts, ConnRequests, PayloadClass, RequestKind};
use crate::requests::{ConnNote, LoggedRequest, NoteKind};

mod stream;
pub use stream::{Correlator, StreamLimits};

/// Tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelateOptions {
    /// Slack around a connection's lifetime, µs (default 2 s: `%t` and syslog stamps are
    /// truncated to seconds).
    pub tolerance_us: i64,
    /// Where an input does not show a connection's end (SYNs only, one line per connection):
    /// how long after its SYN it may still carry a request, µs (default 3 min: in the prefork
    /// lab run the listen queue held connections for up to 136 s before Apache read them).
    pub open_window_us: i64,
    /// Largest clock offset considered, µs (default 15 min).
    pub max_offset_us: i64,
    /// A fixed offset (access minus firewall, µs) instead of the estimate.
    pub fixed_offset_us: Option<i64>,
}

impl Default for CorrelateOptions {
    fn default() -> Self {
        CorrelateOptions {
            tolerance_us: 2_000_000,
            open_window_us: 180_000_000,
            max_offset_us: 900_000_000,
            fixed_offset_us: None,
        }
    }
}

/// What correlation found.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Correlation {
    /// Access-log clock minus firewall clock, µs (estimated or fixed).
    pub clock_offset_us: Option<i64>,
    /// Request/connection pairs the estimate rests on.
    pub offset_pairs: u64,
    /// Requests matched to a connection.
    pub matched: u64,
    /// Of those, matched by the client port or as the only candidate.
    pub certain: u64,
    /// Of those, matched by choosing among several open connections of the address.
    pub by_elimination: u64,
    /// Requests inside the firewall input's time span that matched no connection.
    pub unmatched: u64,
    /// Requests outside the firewall input's time span (nothing to match them with).
    pub outside_span: u64,
    /// Read timeouts matched.
    pub timeouts_matched: u64,
}

/// Whether a connection can have carried a request, as far as its input shows.
pub(crate) fn can_carry(c: &ConnFacts) -> bool {
    match (c.shows, c.flags) {
        (Shows::EveryPacket | Shows::Inbound, true) => {
            c.handshake_completed || c.reply_seen_by_orig || !c.syn_seen()
        }
        (Shows::EveryPacket | Shows::Inbound, false) => c.orig_pkts >= 2 || !c.syn_seen(),
        (Shows::SynOnly | Shows::FirstPacket, _) => true,
    }
}

/// Whether the input shows when a connection ended.
fn end_known(c: &ConnFacts) -> bool {
    matches!(c.shows, Shows::EveryPacket | Shows::Inbound)
}

fn data_hint(c: &ConnFacts) -> bool {
    c.sent_data() == Some(true) || (!c.flags && c.orig_pkts >= 3)
}

/// Connection indices per client address, sorted by the earliest time they may have
/// started ([`earliest_start`]).
struct ByAddr {
    map: HashMap<IpAddr, Vec<(i64, usize)>, foldhash::fast::RandomState>,
}

/// The earliest a connection may have started: its first packet, or, when no SYN was seen
/// (the input began while it was open), up to [`CorrelateOptions::open_window_us`] before.
fn earliest_start(c: &ConnFacts, opts: &CorrelateOptions) -> i64 {
    if c.syn_seen() {
        c.start_us
    } else {
        c.start_us.saturating_sub(opts.open_window_us)
    }
}

/// How a request was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    Certain(usize),
    ByElimination(usize),
}

impl Match {
    fn index(self) -> usize {
        match self {
            Match::Certain(i) | Match::ByElimination(i) => i,
        }
    }
}

impl ByAddr {
    fn new(conns: &[ConnFacts], opts: &CorrelateOptions) -> ByAddr {
        let mut map: HashMap<IpAddr, Vec<(i64, usize)>, foldhash::fast::RandomState> =
            HashMap::default();
        for (i, c) in conns.iter().enumerate() {
            if can_carry(c) {
                map.entry(c.orig.ip())
                    .or_default()
                    .push((earliest_start(c, opts), i));
            }
        }
        for v in map.values_mut() {
            v.sort_unstable();
        }
        ByAddr { map }
    }

    /// The connection a request (or a read timeout) belongs to.
    fn find(
        &self,
        conns: &[ConnFacts],
        load: &[u32],
        ask: Ask,
        opts: &CorrelateOptions,
    ) -> Option<Match> {
        let list = self.map.get(&ask.ip)?;
        let pp = list.partition_point(|&(s, _)| s <= ask.t.saturating_add(opts.tolerance_us));
        let candidates = list
            .get(..pp)?
            .iter()
            .rev()
            .take(512)
            .filter_map(|&(_, i)| {
                let c = conns.get(i)?;
                Some((i, c, load.get(i).copied().unwrap_or(0)))
            });
        pick(candidates, ask.port, ask.t, ask.what, opts)
    }
}

/// What is matched: a request or a read timeout from `ip` (on `port` when logged) at firewall
/// time `t`.
#[derive(Debug, Clone, Copy)]
struct Ask {
    ip: IpAddr,
    port: Option<u16>,
    t: i64,
    what: Wanted,
}

/// What is being matched: a logged request of some kind, or a read timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// A request line (or its absence: `"-"`) in the access log.
    Request(RequestKind),
    /// A read timeout (AH01382) in the error log.
    Timeout,
    /// The error log's word that the connection ended before a request (nginx "while waiting
    /// for request"): timed out by the server, or closed by the client.
    NoRequest {
        /// The server timed it out.
        timed_out: bool,
    },
}

impl Wanted {
    /// A 408 or a read timeout: the server gave up waiting for the request.
    fn is_timeout(self) -> bool {
        matches!(
            self,
            Wanted::Timeout
                | Wanted::NoRequest { timed_out: true }
                | Wanted::Request(RequestKind::TimeoutPartial | RequestKind::TimeoutEmpty)
        )
    }
}

impl NoteKind {
    /// What a note of this kind is matched as.
    pub(crate) fn wanted(self) -> Wanted {
        match self {
            NoteKind::HeaderReadTimeout | NoteKind::BodyReadTimeout => Wanted::Timeout,
            // mod_ssl logs the connection's 400 too: the note goes where that line went.
            NoteKind::HttpOnTlsPort => Wanted::Request(RequestKind::BadRequest),
            NoteKind::NoRequestTimeout => Wanted::NoRequest { timed_out: true },
            NoteKind::ClosedWithoutRequest => Wanted::NoRequest { timed_out: false },
        }
    }

    /// Records the note on the connection's requests.
    pub(crate) fn attach(self, r: &mut ConnRequests) {
        match self {
            NoteKind::HeaderReadTimeout | NoteKind::BodyReadTimeout => r.read_timeout = true,
            NoteKind::HttpOnTlsPort => r.http_on_tls = true,
            NoteKind::NoRequestTimeout => r.no_request = Some(true),
            NoteKind::ClosedWithoutRequest => {
                r.no_request.get_or_insert(false);
            }
        }
    }

    /// True for a read timeout.
    pub(crate) fn is_timeout(self) -> bool {
        matches!(
            self,
            NoteKind::HeaderReadTimeout | NoteKind::BodyReadTimeout
        )
    }
}

/// How well a connection's first bytes (a capture's) fit what is matched, given the requests
/// already matched to it (`load`): 2 they show it, 1 nothing is known, 0 they contradict it (a
/// 200 on a connection whose head never ended, or on one whose every byte is in and whose
/// heads all have their request already; a server's timeout on a connection over too soon
/// for one).
fn fits(c: &ConnFacts, what: Wanted, load: u32) -> u8 {
    if what.is_timeout() && too_short_to_time_out(c) {
        return 0;
    }
    // A connection ends before a request once, and not after one.
    if matches!(what, Wanted::NoRequest { .. })
        && (c.requests.no_request.is_some() || c.requests.total() > 0)
    {
        return 0;
    }
    let Some(p) = c.payload.as_deref() else {
        return 1;
    };
    let shows = match (what, p.class) {
        // Encrypted: whatever followed the handshake could be any request.
        (_, PayloadClass::Midstream | PayloadClass::HttpCut | PayloadClass::TlsHandshake) => {
            return 1;
        }
        (Wanted::Timeout, _) => return 1,
        // Nothing sent, or a TLS handshake and nothing asked.
        (Wanted::NoRequest { .. }, class) => {
            matches!(class, PayloadClass::Empty | PayloadClass::TlsHandshake)
        }
        (Wanted::Request(k), class) => match k {
            RequestKind::Success | RequestKind::Other => {
                // (halfopen_tcp follows at most 64 pipelined heads after the first)
                class == PayloadClass::HttpComplete
                    && !(p.whole && load >= p.heads && p.heads <= 64)
            }
            RequestKind::TimeoutPartial => {
                matches!(
                    class,
                    PayloadClass::HttpComplete | PayloadClass::HttpPartial
                )
            }
            RequestKind::BadRequest => matches!(
                class,
                PayloadClass::HttpComplete
                    | PayloadClass::HttpPartial
                    | PayloadClass::HttpOnTlsPort
            ),
            RequestKind::TimeoutEmpty => class == PayloadClass::Empty,
            RequestKind::NonHttp => matches!(class, PayloadClass::Other(_)),
            RequestKind::Http2Preface => class == PayloadClass::Http2Preface,
        },
    };
    if shows { 2 } else { 0 }
}

/// Shortest wait after which a server times a request out, µs: Apache's mod_reqtimeout
/// allows 20-40 s for a head, nginx's `client_header_timeout` 60 s; no server gives up within
/// seconds.
const MIN_SERVER_TIMEOUT_US: i64 = 2_000_000;

/// Whether the input shows the whole life of a connection, and it was too short for the
/// server to time a request out on it. In the nginx lab run cut mid-stream, nginx stamped a
/// slowloris's 40 408s when it gave up, the second its availability probe came and went in a
/// millisecond: all 40 went to the probe, the oldest connection with a SYN, and the slow
/// connections (open before the cut) were "no request".
fn too_short_to_time_out(c: &ConnFacts) -> bool {
    c.syn_seen() && end_known(c) && c.end_us.saturating_sub(c.start_us) < MIN_SERVER_TIMEOUT_US
}

/// Whether a connection was open at `t` as far as its input shows.
fn open_at(c: &ConnFacts, t: i64, opts: &CorrelateOptions) -> bool {
    if earliest_start(c, opts) > t.saturating_add(opts.tolerance_us) {
        return false;
    }
    if end_known(c) {
        c.end_us.saturating_add(opts.tolerance_us) >= t
    } else {
        c.start_us.saturating_add(opts.open_window_us) >= t
    }
}

/// How a candidate ranks (higher is better): its first bytes fit, it awaits a read timeout,
/// it carried data (none, for the word that it ended before a request), it carries no request
/// yet, its start (oldest first when free).
type Score = (u8, bool, bool, bool, i64);

/// The connection a request at `t` (from the candidates' address, on `port` when logged)
/// belongs to, among candidates given as (id, connection, requests already matched to it).
fn pick<'a>(
    candidates: impl Iterator<Item = (usize, &'a ConnFacts, u32)>,
    port: Option<u16>,
    t: i64,
    what: Wanted,
    opts: &CorrelateOptions,
) -> Option<Match> {
    let mut best: Option<(Score, usize)> = None;
    let mut count = 0u32;
    for (i, c, load) in candidates {
        if !can_carry(c) || !open_at(c, t, opts) {
            continue;
        }
        if let Some(p) = port {
            if p == c.orig.port() {
                return Some(Match::Certain(i));
            }
            continue;
        }
        count += 1;
        // A busy server accepts queued connections in order: a new request goes to the
        // oldest connection without one; a further request on a kept-alive connection to
        // the most recent.
        let free = load == 0;
        let order = if free { -c.start_us } else { c.start_us };
        // A read timeout goes with the connection whose request timed out (its 408 line).
        let awaits = what == Wanted::Timeout && awaits_timeout(c);
        // First bytes that show the request come first, then no knowledge, then bytes that
        // contradict it.
        // A connection that ended before a request goes to one that carried no data.
        let data = match what {
            Wanted::NoRequest { .. } => !data_hint(c),
            _ => data_hint(c),
        };
        let score = (fits(c, what, load), awaits, data, free, order);
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, i));
        }
    }
    best.map(|(_, i)| {
        if count == 1 {
            Match::Certain(i)
        } else {
            Match::ByElimination(i)
        }
    })
}

/// A connection whose request timed out (a 408 line) and has no read timeout yet.
fn awaits_timeout(c: &ConnFacts) -> bool {
    let r = &c.requests;
    !r.read_timeout && r.count(RequestKind::TimeoutPartial) + r.count(RequestKind::TimeoutEmpty) > 0
}

/// Attaches a request (at firewall time `t`) to its connection.
fn attach(c: &mut ConnFacts, r: &LoggedRequest, t: i64, certain: bool) {
    let mut e = r.example.clone();
    e.ts_us = t;
    if r.kind().completed() && c.syn_seen() {
        let wait = t.saturating_sub(c.start_us).max(0);
        c.requests.first_wait_us = Some(c.requests.first_wait_us.map_or(wait, |w| w.min(wait)));
    }
    c.requests.add(e, certain);
    if let Some(tool) = r.tool {
        c.requests.add_tool(tool);
    }
}

/// Distinct connections an offset must rest on: one connection's requests, a keep-alive's
/// spread over a minute, fit any offset (the nginx lab run's inbound log, with nmap's one
/// connection in the sample, read +5 s).
const MIN_OFFSET_CONNECTIONS: usize = 3;

/// The pairs of requests and connection starts that put the offset at one difference.
#[derive(Debug, Default)]
struct Support {
    /// Requests with a connection start at this difference.
    requests: u64,
    /// Their votes: each request shares [`VOTE`] among the differences it meets.
    votes: u64,
    /// The first distinct connections (address, start) among them.
    connections: Vec<(IpAddr, i64)>,
}

/// One request's vote, shared among the differences it meets (integer parts of it).
const VOTE: u64 = 1 << 20;

/// Connection starts on each side of a request that it is paired with.
const NEAREST_STARTS: usize = 128;

impl Support {
    fn add(&mut self, client: IpAddr, start_us: i64) {
        self.requests += 1;
        let c = (client, start_us);
        if self.connections.len() < MIN_OFFSET_CONNECTIONS && !self.connections.contains(&c) {
            self.connections.push(c);
        }
    }

    /// Distinct connections of this and `other` (up to [`MIN_OFFSET_CONNECTIONS`]).
    fn connections_with(&self, other: &Support) -> usize {
        let extra = other
            .connections
            .iter()
            .filter(|c| !self.connections.contains(c))
            .count();
        self.connections.len() + extra
    }
}

/// Estimates the clock offset (access minus firewall, µs): over a sample of requests, the
/// differences (in whole seconds) between each request's time and the starts of the
/// connections of its address within [`CorrelateOptions::max_offset_us`] (the
/// 128 nearest on each side), each request sharing one vote among the
/// differences it meets; the difference with the most votes is the offset, if enough pairs,
/// from at least [`MIN_OFFSET_CONNECTIONS`] connections, agree. Offsets within the tolerance
/// count as 0.
/// Returns the estimate and the number of pairs that agree with it.
///
/// Every connection of the input is in `conns`; [`estimate_offset_within`] takes a sample.
pub fn estimate_offset(
    conns: &[ConnFacts],
    requests: &[LoggedRequest],
    opts: &CorrelateOptions,
) -> (Option<i64>, u64) {
    let complete = span(conns).unwrap_or((i64::MIN, i64::MAX));
    estimate_offset_within(conns, requests, complete, opts)
}

/// [`estimate_offset`] on a sample: `conns` holds every connection that started within
/// `complete` (firewall clock, µs) and maybe some others; only those are paired. An offset
/// must have a quarter of the votes of the requests it puts inside that time: a request whose
/// connection started later may have no connection in the sample, and does not count against
/// it (the web logs are read minutes, for a zone hours, past the connections held).
pub fn estimate_offset_within(
    conns: &[ConnFacts],
    requests: &[LoggedRequest],
    complete: (i64, i64),
    opts: &CorrelateOptions,
) -> (Option<i64>, u64) {
    let mut by_addr: HashMap<IpAddr, Vec<i64>, foldhash::fast::RandomState> = HashMap::default();
    // Only connections whose start the input shows: one open before the input began starts
    // at its first packet there, long after its requests (the https run cut mid-stream read
    // -16 s from the browser's connections, and 51 of 63 requests matched nothing).
    // And only those that started in the `complete` time: a request whose own connection is
    // not held meets only other connections of its address (eight copies of the floods run
    // one after another read a copy's gap, 854 s, from the requests of the copy four later).
    let held =
        complete.0.saturating_sub(opts.tolerance_us)..=complete.1.saturating_add(opts.tolerance_us);
    for c in conns
        .iter()
        .filter(|c| can_carry(c) && c.syn_seen() && held.contains(&c.start_us))
    {
        by_addr.entry(c.orig.ip()).or_default().push(c.start_us);
    }
    for v in by_addr.values_mut() {
        v.sort_unstable();
    }
    let step = (requests.len() / 5000).max(1);
    let mut hist: HashMap<i64, Support, foldhash::fast::RandomState> = HashMap::default();
    for r in requests
        .iter()
        .step_by(step)
        .filter(|r| r.kind().completed())
    {
        let Some(starts) = by_addr.get(&r.client) else {
            continue;
        };
        let met = differences_met(starts, r.ts_us, opts);
        let part = share(met.len());
        for (d, s) in met {
            let support = hist.entry(d).or_default();
            support.add(r.client, s);
            support.votes += part;
        }
    }
    let none = Support::default();
    let both = |d: i64| {
        (
            hist.get(&d).unwrap_or(&none),
            hist.get(&(d - 1)).unwrap_or(&none),
        )
    };
    // The most votes: a request that meets one connection of its address gives it its whole
    // vote; one of an address that connects every two seconds (a health check) meets every
    // difference in its window alike and says little about which is the offset. (Counted
    // whole, such a check met its own neighbouring connections at 0 s, 2 s, ... and read 0 s
    // where the periodic run's web server was 40 s ahead.)
    let best = best_second(
        |d| hist.get(&d).map_or(0, |s| s.votes),
        hist.keys().copied(),
    );
    let sample = || {
        requests
            .iter()
            .step_by(step)
            .filter(|r| r.kind().completed())
    };
    let near = best.filter(|&(votes, d)| {
        let (a, b) = both(d);
        let pairs = a.requests + b.requests;
        let at = (d - 1).saturating_mul(1_000_000);
        // The votes of the requests inside, each its share as in the estimate.
        let inside: u64 = inside_complete(&by_addr, sample(), at, complete, opts.tolerance_us)
            .map(|(r, starts)| share(differences_met(starts, r.ts_us, opts).len()))
            .sum();
        pairs >= 3 && votes * 4 >= inside && a.connections_with(b) >= MIN_OFFSET_CONNECTIONS
    });
    let Some((_, d)) = near else {
        return match zone_offset(&by_addr, sample(), complete, opts) {
            Some(found) => found,
            None => (None, best.map_or(0, |b| b.0)),
        };
    };
    let (a, b) = both(d);
    let secs = whole_seconds(d, opts);
    (
        Some(secs.saturating_mul(1_000_000)),
        a.requests + b.requests,
    )
}

/// The differences (whole seconds) between a request at `t` and the starts of its address's
/// connections within [`CorrelateOptions::max_offset_us`], the [`NEAREST_STARTS`] nearest on
/// each side, each with the first start that gives it.
fn differences_met(starts: &[i64], t: i64, opts: &CorrelateOptions) -> Vec<(i64, i64)> {
    let lo = starts.partition_point(|s| *s < t.saturating_sub(opts.max_offset_us));
    let hi = starts.partition_point(|s| *s <= t.saturating_add(opts.max_offset_us));
    let window = starts.get(lo..hi).unwrap_or_default();
    let mid = window.partition_point(|s| *s <= t);
    let from = mid.saturating_sub(NEAREST_STARTS);
    let to = (mid + NEAREST_STARTS).min(window.len());
    let mut met: Vec<(i64, i64)> = Vec::new();
    // Sorted starts give falling differences: the same one only next to itself.
    for s in window.get(from..to).unwrap_or_default() {
        let d = t.saturating_sub(*s).div_euclid(1_000_000);
        if met.last().is_none_or(|(last, _)| *last != d) {
            met.push((d, *s));
        }
    }
    met
}

/// One request's share of its vote for each of the `met` differences it meets.
fn share(met: usize) -> u64 {
    VOTE / (met as u64).max(1)
}

/// The difference (whole seconds) that most pairs put the offset at, with its score: a
/// request at its connection's start reads 0 or 1 s later in whole-second stamps, so each
/// difference `d` is scored with its neighbour `d - 1` (`count`), the smaller one first on a
/// tie.
fn best_second(
    count: impl Fn(i64) -> u64,
    candidates: impl Iterator<Item = i64>,
) -> Option<(u64, i64)> {
    candidates
        .map(|d| (count(d) + count(d - 1), std::cmp::Reverse(d.abs()), d))
        .max()
        .map(|(score, _, d)| (score, d))
}

/// The offset, whole seconds, of the best difference `d` ([`best_second`]): `d - 1`, or 0
/// within the tolerance.
fn whole_seconds(d: i64, opts: &CorrelateOptions) -> i64 {
    if (d - 1).abs() * 1_000_000 <= opts.tolerance_us || d.abs() * 1_000_000 <= opts.tolerance_us {
        0
    } else {
        d - 1
    }
}

/// The sampled requests of addresses with connections that an offset of `at` µs puts inside
/// the `complete` time (± `slack`): those whose connection, if the input has it, is held;
/// each with its address's connection starts.
fn inside_complete<'r, 'a>(
    by_addr: &'a HashMap<IpAddr, Vec<i64>, foldhash::fast::RandomState>,
    sample: impl Iterator<Item = &'r LoggedRequest>,
    at: i64,
    complete: (i64, i64),
    slack: i64,
) -> impl Iterator<Item = (&'r LoggedRequest, &'a [i64])> {
    let (from, to) = (
        complete.0.saturating_sub(slack),
        complete.1.saturating_add(slack),
    );
    sample
        .filter(move |r| (from..=to).contains(&r.ts_us.saturating_sub(at)))
        .filter_map(|r| by_addr.get(&r.client).map(|s| (r, s.as_slice())))
}

/// Time zones are whole quarter hours apart: stamps written in one zone and read in another
/// put the access log a whole number of quarter hours off the firewall, up to 14 hours, plus
/// the two clocks' own skew.
const ZONE_STEP_US: i64 = 900_000_000;

/// Quarter hours of the largest zone difference (UTC-12 to UTC+14).
const MAX_ZONE_STEPS: i64 = 104;

/// Skew between the two clocks on top of a zone difference, µs.
const ZONE_SKEW_US: i64 = 5_000_000;

/// Requests a zone difference must rest on: it moves every match by hours, so it needs more
/// than the near offset's 3.
const MIN_ZONE_PAIRS: u64 = 10;

/// Where no near offset (within [`CorrelateOptions::max_offset_us`]) fits: the offset of whole
/// quarter hours (a firewall writing its stamps in another zone than the access log's offset
/// they were read at; a FreeBSD firewall box kept in UTC in front of an Apache in local time)
/// at which the sample's requests meet their addresses' connection starts within a few
/// seconds. It must rest on [`MIN_ZONE_PAIRS`] requests from [`MIN_OFFSET_CONNECTIONS`]
/// connections, on a quarter of the requests it puts inside the `complete` time whose address
/// has connections (as the near offset), and on three times as many as any other quarter
/// hour.
fn zone_offset<'r>(
    by_addr: &HashMap<IpAddr, Vec<i64>, foldhash::fast::RandomState>,
    sample: impl Iterator<Item = &'r LoggedRequest> + Clone,
    complete: (i64, i64),
    opts: &CorrelateOptions,
) -> Option<(Option<i64>, u64)> {
    let mut per_step: HashMap<i64, (Support, Vec<i64>), foldhash::fast::RandomState> =
        HashMap::default();
    for r in sample.clone() {
        let Some(starts) = by_addr.get(&r.client) else {
            continue;
        };
        for k in (-MAX_ZONE_STEPS..=MAX_ZONE_STEPS).filter(|k| *k != 0) {
            let at = r.ts_us.saturating_sub(k * ZONE_STEP_US);
            let lo = starts.partition_point(|s| *s < at.saturating_sub(ZONE_SKEW_US));
            let Some(&s) = starts
                .get(lo)
                .filter(|s| **s <= at.saturating_add(ZONE_SKEW_US))
            else {
                continue;
            };
            let (support, skews) = per_step.entry(k).or_default();
            support.add(r.client, s);
            let skew = r.ts_us.saturating_sub(s).saturating_sub(k * ZONE_STEP_US);
            skews.push(skew.div_euclid(1_000_000));
        }
    }
    // Each quarter hour scored by the pairs at its best second of skew (and the one before):
    // one clock's difference puts its pairs there, while a client's regular visits meet other
    // quarter hours at any skew within the window (the floods run's clients, replayed over an
    // hour, met +1.5 h with 26 pairs within 5 s, against 65 at +1 h).
    let best = |skews: &[i64]| {
        let count = |d: i64| skews.iter().filter(|x| **x == d).count() as u64;
        best_second(count, -5..=6)
    };
    let mut ranked: Vec<(u64, i64, i64)> = per_step
        .iter()
        .filter_map(|(k, (_, skews))| best(skews).map(|(score, d)| (score, *k, d)))
        .collect();
    ranked.sort_unstable_by(|a, b| b.cmp(a));
    let &(support, k, d) = ranked.first()?;
    let runner_up = ranked.get(1).map_or(0, |r| r.0);
    let (found, _) = per_step.get(&k)?;
    let inside =
        inside_complete(by_addr, sample, k * ZONE_STEP_US, complete, ZONE_SKEW_US).count() as u64;
    if support < MIN_ZONE_PAIRS
        || support * 4 < inside
        || support < 3 * runner_up
        || found.connections.len() < MIN_OFFSET_CONNECTIONS
    {
        return None;
    }
    // The skew as the near offset reads it.
    let skew = whole_seconds(d, opts);
    Some((
        Some((k * ZONE_STEP_US).saturating_add(skew * 1_000_000)),
        support,
    ))
}

/// The time span `[first, last]` covered by the connections, µs.
pub fn span(conns: &[ConnFacts]) -> Option<(i64, i64)> {
    let first = conns.iter().map(|c| c.start_us).min()?;
    let last = conns.iter().map(|c| c.end_us.max(c.start_us)).max()?;
    Some((first, last))
}

/// Attaches requests and timeouts to the connections they belong to.
///
/// ```
/// use halfopen::correlate::{correlate, CorrelateOptions};
/// use halfopen::evidence::Shows;
/// use halfopen::facts::ConnFacts;
/// use halfopen::requests::LoggedRequest;
/// let mut c = ConnFacts::new("192.0.2.1:50000".parse().unwrap(), "198.51.100.1:80".parse().unwrap(), 10_000_000, Shows::SynOnly);
/// c.history = halfopen::facts::history_of("S");
/// let mut conns = vec![c];
/// let reqs = [LoggedRequest::new(10_000_000, "192.0.2.1".parse().unwrap(), None, Some(200), Some(b"GET / HTTP/1.1"))];
/// let r = correlate(&mut conns, &reqs, &[], &CorrelateOptions::default());
/// assert_eq!((r.matched, r.certain), (1, 1));
/// assert_eq!(conns[0].requests.completed(), 1);
/// ```
pub fn correlate(
    conns: &mut [ConnFacts],
    requests: &[LoggedRequest],
    notes: &[ConnNote],
    opts: &CorrelateOptions,
) -> Correlation {
    let idx = ByAddr::new(conns, opts);
    let (estimate, pairs) = match opts.fixed_offset_us {
        Some(o) => (Some(o), 0),
        None => estimate_offset(conns, requests, opts),
    };
    let offset = estimate.unwrap_or(0);
    let mut out = Correlation {
        clock_offset_us: estimate,
        offset_pairs: pairs,
        ..Correlation::default()
    };
    let covered = span(conns);
    let mut order: Vec<usize> = (0..requests.len()).collect();
    order.sort_by_key(|&i| requests.get(i).map_or(0, |r| r.ts_us));
    let mut load = vec![0u32; conns.len()];
    for ri in order {
        let Some(r) = requests.get(ri) else { continue };
        let t = r.ts_us.saturating_sub(offset);
        let ask = Ask {
            ip: r.client,
            port: r.client_port,
            t,
            what: Wanted::Request(r.kind()),
        };
        let found = idx.find(conns, &load, ask, opts);
        let Some(m) = found else {
            let inside = covered.is_some_and(|(a, b)| {
                t >= a.saturating_sub(opts.tolerance_us) && t <= b.saturating_add(opts.tolerance_us)
            });
            if inside {
                out.unmatched += 1;
            } else {
                out.outside_span += 1;
            }
            continue;
        };
        let i = m.index();
        if let Some(l) = load.get_mut(i) {
            *l = l.saturating_add(1);
        }
        if let Some(c) = conns.get_mut(i) {
            attach(c, r, t, matches!(m, Match::Certain(_)));
            out.matched += 1;
            match m {
                Match::Certain(_) => out.certain += 1,
                Match::ByElimination(_) => out.by_elimination += 1,
            }
        }
    }
    for note in notes {
        let t = note.ts_us.saturating_sub(offset);
        // A note is written when the timeout fires or the connection fails, after it started.
        let found = idx
            .find(
                conns,
                &load,
                Ask {
                    ip: note.client,
                    port: note.client_port,
                    t,
                    what: note.kind.wanted(),
                },
                opts,
            )
            .map(Match::index);
        if let Some(c) = found.and_then(|i| conns.get_mut(i)) {
            note.kind.attach(&mut c.requests);
            out.timeouts_matched += u64::from(note.kind.is_timeout());
        }
    }
    out
}

/// True when the request kind proves the client was served.
pub fn proves_service(k: RequestKind) -> bool {
    k == RequestKind::Success
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(ip: &str, port: u16, start_s: i64, end_s: i64, hist: &str) -> ConnFacts {
        let mut c = ConnFacts::new(
            format!("{ip}:{port}").parse().unwrap(),
            "198.51.100.1:80".parse().unwrap(),
            start_s * 1_000_000,
            Shows::EveryPacket,
        );
        c.end_us = end_s * 1_000_000;
        c.history = crate::facts::history_of(hist);
        c.handshake_completed = hist.contains('A');
        c.reply_seen_by_orig = hist.contains('A');
        c
    }

    fn req(ip: &str, port: Option<u16>, t_s: i64) -> LoggedRequest {
        LoggedRequest::new(
            t_s * 1_000_000,
            ip.parse().unwrap(),
            port,
            Some(200),
            Some(b"GET / HTTP/1.1"),
        )
    }

    #[test]
    fn keepalive_and_offset() {
        // Access clock 63 s ahead; keep-alive on the first two connections.
        let mut conns = vec![
            conn("192.0.2.1", 1000, 100, 110, "ShADadFf"),
            conn("192.0.2.1", 1001, 200, 205, "ShADadFf"),
            conn("192.0.2.1", 1005, 250, 251, "ShADadFf"),
            conn("192.0.2.1", 1002, 300, 301, "ShAR"),
            conn("192.0.2.9", 1003, 150, 151, "Sh"),
        ];
        let reqs = [
            req("192.0.2.1", None, 163),
            req("192.0.2.1", None, 168),
            req("192.0.2.1", None, 263),
            req("192.0.2.1", None, 264),
            req("192.0.2.1", None, 313),
        ];
        let r = correlate(&mut conns, &reqs, &[], &CorrelateOptions::default());
        assert_eq!(r.clock_offset_us, Some(63_000_000));
        assert_eq!(r.matched, 5);
        assert_eq!(conns[0].requests.total(), 2);
        assert_eq!(conns[1].requests.total(), 2);
        assert_eq!(conns[2].requests.total(), 1);
    }

    #[test]
    fn weak_forms_match_one_request_per_attempt_first() {
        let mut conns: Vec<ConnFacts> = (0..6)
            .map(|i| {
                let mut c = conn("203.0.113.5", 45000 + i, 47, 47, "S");
                c.shows = Shows::FirstPacket;
                c.flags = false;
                c
            })
            .collect();
        let reqs: Vec<LoggedRequest> = (0..6).map(|_| req("203.0.113.5", None, 47)).collect();
        let r = correlate(&mut conns, &reqs, &[], &CorrelateOptions::default());
        assert_eq!((r.matched, r.unmatched), (6, 0));
        assert!(conns.iter().all(|c| c.requests.total() == 1));
        assert_eq!(r.by_elimination, 6);
    }

    #[test]
    fn exact_ports_and_timeouts() {
        let mut conns = vec![
            conn("192.0.2.1", 1000, 100, 121, "ShAfF"),
            conn("192.0.2.1", 1001, 100, 130, "ShADadFf"),
        ];
        let reqs = [
            req("192.0.2.1", Some(1001), 100),
            req("192.0.2.1", Some(4444), 100),
        ];
        let t = [ConnNote {
            ts_us: 120_000_000,
            client: "192.0.2.1".parse().unwrap(),
            client_port: Some(1000),
            kind: NoteKind::HeaderReadTimeout,
        }];
        let opts = CorrelateOptions {
            fixed_offset_us: Some(0),
            ..CorrelateOptions::default()
        };
        let r = correlate(&mut conns, &reqs, &t, &opts);
        assert_eq!((r.matched, r.unmatched, r.timeouts_matched), (1, 1, 1));
        assert_eq!(conns[1].requests.total(), 1);
        assert!(conns[0].requests.read_timeout);
    }
}
