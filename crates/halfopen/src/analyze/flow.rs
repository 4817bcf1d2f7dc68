//! The streaming middle of the pipeline: connections as they end and web-log items as they are
//! read meet in the [`Correlator`]; what leaves it is rolled up and dropped.
//!
//! The web logs are read ahead of the firewall time by [`AHEAD_US`] (the correlator releases a
//! connection only once they have passed it). Until the clock offset between the two logs is
//! known, the first connections and requests are held (at most [`WARM_US`] and [`WARM_LINGER_US`]
//! of firewall time, [`WARM_CONNECTIONS`] connections, [`WARM_ITEMS`] web items) to estimate it.
//! Where no offset of a few minutes fits, the web logs are read further ahead, within the same
//! caps, for an offset of whole quarter hours ([`ZONE_AHEAD_US`]: stamps written in another zone).

use std::collections::{BTreeSet, HashSet};
use std::net::IpAddr;

use super::budget::Budget;
use super::records::ConnWriter;
use crate::connections::ConnSink;
use crate::correlate::{
    CorrelateOptions, Correlation, Correlator, StreamLimits, can_carry, estimate_offset_within,
    span,
};
use crate::edges::Edges;
use crate::evidence::InputForm;
use crate::facts::{ConnFacts, RequestKind};
use crate::infer::{Outcome, outcome};
use crate::requests::{LoggedRequest, ServerNote, WebItem, WebStream};
use crate::rollup::{Rollup, Successes};

/// How far ahead of the firewall time the web logs are read, µs.
pub const AHEAD_US: i64 = 30_000_000;
/// Firewall time whose connections make the sample the clock offset is estimated from, µs.
pub const WARM_US: i64 = 60_000_000;
/// Firewall time waited on top of [`WARM_US`] for that time's connections to end, µs: a
/// connection reaches the correlator when it ends, and the inputs that do not show the end hold
/// it after its last packet (63 s for an unanswered or flag-less attempt, 180 s after a FIN the
/// other side's answer to is not shown). Without the wait the sample of a one-direction or
/// one-line-per-connection input held the connections of its first second or two, and no
/// offset was found: a web server's clock 40 s ahead left 50 of the floods run's 55 requests
/// unmatched on its inbound log, and an hour's zone difference was missed on every form of an
/// hour's log.
pub const WARM_LINGER_US: i64 = 185_000_000;
/// How far past the held firewall time the web logs are read when no offset of a few minutes
/// fits, for an offset of whole quarter hours (a zone): the largest difference between two
/// zones' offsets, 26 h.
pub const ZONE_AHEAD_US: i64 = 26 * 3_600_000_000;
/// Connections held to estimate the clock offset.
pub const WARM_CONNECTIONS: usize = 50_000;
/// Web-log items held to estimate the clock offset.
pub const WARM_ITEMS: usize = 200_000;
/// Server notes kept.
const MAX_SERVER_NOTES: usize = 10_000;
/// Addresses kept of the senders of SYN-ACKs nobody asked for.
const MAX_BACKSCATTER_ADDRS: usize = 65_536;

/// What the web logs gave, counted as they streamed by.
#[derive(Debug, Default)]
pub struct WebTotals {
    /// Client requests.
    pub requests: u64,
    /// Apache's own requests.
    pub internal: u64,
    /// Read timeouts.
    pub timeouts: u64,
    /// What the server said about itself.
    pub server_notes: Vec<ServerNote>,
    /// The clients with successful (2xx/3xx) requests.
    pub successes: Successes,
    /// The access logs' time span (their clock), µs.
    pub span: Option<(i64, i64)>,
}

impl WebTotals {
    fn count(&mut self, item: &WebItem) {
        match item {
            WebItem::Request(r) => {
                self.requests += 1;
                if r.kind() == RequestKind::Success {
                    self.successes.add(r.client, 1);
                }
                self.span = Some(match self.span {
                    None => (r.ts_us, r.ts_us),
                    Some((a, b)) => (a.min(r.ts_us), b.max(r.ts_us)),
                });
            }
            WebItem::Internal => self.internal += 1,
            WebItem::Note(n) if n.kind.is_timeout() => self.timeouts += 1,
            WebItem::Note(_) => {}
            WebItem::Server(n) => {
                if self.server_notes.len() < MAX_SERVER_NOTES {
                    self.server_notes.push(*n);
                }
            }
            WebItem::Nothing => {}
        }
    }
}

/// Where correlated connections go: the server's own are counted apart, the rest rolled up.
#[derive(Debug, Default)]
pub struct Side {
    /// Where each connection's record goes (`--connections`).
    pub records: Option<ConnWriter>,
    /// The rollup.
    pub rollup: Rollup,
    /// The server's addresses (given, and as each input's form says).
    pub servers: Vec<IpAddr>,
    /// The server's networks, as given.
    pub server_nets: Vec<ipnet::IpNet>,
    /// Connections from the server's own addresses or loopback.
    pub own: u64,
    /// SYN-ACKs the server received for connections it never opened.
    pub backscatter: u64,
    /// Their senders (the first ones).
    pub backscatter_from: BTreeSet<IpAddr>,
    /// The firewall time span of the connections.
    pub fw_span: Option<(i64, i64)>,
    /// The connections at the edges of that span, held back from the rollup.
    pub edges: Edges,
    /// How many of them the budget allows.
    pub edge_cap: usize,
}

impl Side {
    fn take(&mut self, c: &ConnFacts, clients: &Successes) {
        let ip = c.orig.ip();
        let own = self.servers.contains(&ip) || self.server_nets.iter().any(|n| n.contains(&ip));
        if own || ip.is_loopback() {
            self.own += 1;
            if outcome(c) == Outcome::UnsolicitedSynAck {
                // Every SYN-ACK counts: a reflector retransmits its SYN-ACK (an FTP
                // server's, 30 times in a minute).
                self.backscatter += c.resp_pkts.max(1);
                if self.backscatter_from.len() < MAX_BACKSCATTER_ADDRS {
                    self.backscatter_from.insert(c.resp.ip());
                }
            }
            return;
        }
        let start = self.fw_span.map_or(c.start_us, |s| s.0);
        let o = match self.edges.hold(c, start, self.edge_cap) {
            true => outcome(c),
            false => self.rollup.add_among(c, clients),
        };
        if let Some(w) = self.records.as_mut() {
            w.write(c, o);
        }
    }
}

/// The web logs read so far but not yet given to the correlator, while the offset is unknown.
#[derive(Debug, Default)]
struct Warm {
    conns: Vec<ConnFacts>,
    items: Vec<WebItem>,
    /// The addresses of the requests and notes held.
    named: HashSet<IpAddr>,
    /// The earliest start of the connections held.
    first: Option<i64>,
}

impl Warm {
    fn hold(&mut self, item: WebItem) {
        let named = match &item {
            WebItem::Request(r) => Some(r.client),
            WebItem::Note(n) => Some(n.client),
            _ => None,
        };
        self.named.extend(named);
        self.items.push(item);
    }

    /// Whether `c` waits with the sample: it may carry a request, or a request or note of its
    /// address is held (its connections reach the rollup in their order). Under a flood the
    /// others, the flood's unanswered SYNs, filled the sample's connections before the
    /// clients' first ones had ended: the floods run's inbound log with its flood ten times as
    /// dense found no offset.
    fn waits(&self, c: &ConnFacts) -> bool {
        can_carry(c) || self.named.contains(&c.orig.ip())
    }

    /// The firewall time whose connections are all held: the first [`WARM_US`] from the
    /// earliest start held once [`WARM_LINGER_US`] more have passed, all of it when the input
    /// `ended`, else (the caps ended the warm-up early) the held connections' own time.
    fn complete(&self, fw_now: i64, ended: bool) -> (i64, i64) {
        let whole = span(&self.conns).unwrap_or((i64::MIN, i64::MAX));
        let Some(first) = self.first else {
            return whole;
        };
        if ended {
            return (first, i64::MAX);
        }
        let to = first
            .saturating_add(WARM_US)
            .min(fw_now.saturating_sub(WARM_LINGER_US));
        if to > first { (first, to) } else { whole }
    }

    /// The clock offset the held connections and requests give.
    fn estimate(&self, complete: (i64, i64), opts: &CorrelateOptions) -> (Option<i64>, u64) {
        let requests: Vec<LoggedRequest> = self
            .items
            .iter()
            .filter_map(|i| match i {
                WebItem::Request(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        estimate_offset_within(&self.conns, &requests, complete, opts)
    }
}

/// The streaming middle: a [`ConnSink`] for the connection stage.
pub struct Flow {
    web: Option<WebStream>,
    warm: Option<Warm>,
    corr: Option<Correlator>,
    opts: CorrelateOptions,
    limits: StreamLimits,
    /// The offset found (access minus firewall), µs, and the pairs it rests on.
    pub offset: (Option<i64>, u64),
    /// What the web logs gave.
    pub totals: WebTotals,
    /// What left the correlator.
    pub side: Side,
    fw_now: i64,
    /// The firewall input has ended: the flow table hands over what it held.
    ended: bool,
}

impl Flow {
    /// A flow reading `web` (none: no web logs), with `servers` known from the start.
    pub fn new(
        web: Option<WebStream>,
        opts: CorrelateOptions,
        limits: StreamLimits,
        servers: Vec<IpAddr>,
        server_nets: Vec<ipnet::IpNet>,
        budget: &Budget,
    ) -> Flow {
        Flow {
            web,
            warm: Some(Warm::default()),
            corr: None,
            opts,
            limits: budget.stream(limits),
            offset: (None, 0),
            totals: WebTotals {
                successes: Successes::new(budget.clients()),
                ..WebTotals::default()
            },
            side: Side {
                servers,
                server_nets,
                rollup: Rollup::new(budget.sources),
                edge_cap: budget.edges,
                ..Side::default()
            },
            fw_now: i64::MIN,
            ended: false,
        }
    }

    /// Connections held to estimate the clock offset (half the correlation's own cap at most).
    fn warm_connections(&self) -> usize {
        WARM_CONNECTIONS
            .min(self.limits.max_held_connections / 2)
            .max(1)
    }

    /// Web items held to estimate the clock offset.
    fn warm_items(&self) -> usize {
        WARM_ITEMS.min(self.limits.max_held_requests).max(1)
    }

    /// Reads web-log items until the web logs are at least `target` (their clock) or ended
    /// (during the warm-up, or until [`Flow::warm_items`] are held).
    fn pull(&mut self, target: i64) {
        let warm_items = self.warm_items();
        let Some(web) = self.web.as_mut() else { return };
        while !web.is_done() && web.watermark() < target {
            if self
                .warm
                .as_ref()
                .is_some_and(|w| w.items.len() >= warm_items)
            {
                break;
            }
            let Some(batch) = web.next_batch() else { break };
            for (_, item) in batch {
                self.totals.count(&item);
                match (&mut self.warm, &mut self.corr) {
                    (Some(w), _) => w.hold(item),
                    (None, Some(k)) => give(k, item),
                    (None, None) => {}
                }
            }
        }
        let (mark, done) = (web.watermark(), web.is_done());
        if let Some(k) = self.corr.as_mut() {
            k.advance_access(mark);
            if done {
                k.access_done();
            }
        }
    }

    /// The clock offset the held connections and requests give; where none fits within a few
    /// minutes, the web logs are first read further ahead (a zone's whole hours).
    fn estimate_held_offset(&mut self, ended: bool) -> (Option<i64>, u64) {
        let Some(complete) = self.warm.as_ref().map(|w| w.complete(self.fw_now, ended)) else {
            return (None, 0);
        };
        let found = self
            .warm
            .as_ref()
            .map_or((None, 0), |w| w.estimate(complete, &self.opts));
        if found.0.is_some() || self.web.as_ref().is_none_or(WebStream::is_done) {
            return found;
        }
        let Some(first) = self.warm.as_ref().and_then(|w| w.first) else {
            return found;
        };
        let before = self.warm.as_ref().map_or(0, |w| w.items.len());
        self.pull(first.saturating_add(WARM_US + WARM_LINGER_US + ZONE_AHEAD_US));
        match self.warm.as_ref() {
            Some(w) if w.items.len() > before => w.estimate(complete, &self.opts),
            _ => found,
        }
    }

    /// Ends the warm-up (the firewall input `ended`, or the warm-up's time or caps did):
    /// estimates the offset and gives the correlator what was held.
    fn start(&mut self, ended: bool) {
        let (offset, pairs) = match self.opts.fixed_offset_us {
            Some(o) => (Some(o), 0),
            None => self.estimate_held_offset(ended),
        };
        let Some(warm) = self.warm.take() else { return };
        self.offset = (offset, pairs);
        let mut k = Correlator::new(self.opts, self.limits, offset.unwrap_or(0));
        for item in warm.items {
            give(&mut k, item);
        }
        match self.web.as_ref() {
            Some(web) if !web.is_done() => k.advance_access(web.watermark()),
            _ => k.access_done(),
        }
        let (side, clients) = (&mut self.side, &self.totals.successes);
        for c in warm.conns {
            k.push_connection(c, &mut |c| side.take(&c, clients));
        }
        k.tick(self.fw_now, &mut |c| side.take(&c, clients));
        self.corr = Some(k);
    }

    /// Everything left: the rest of the web logs, every held connection.
    pub fn finish(&mut self) -> Correlation {
        if self.warm.is_some() {
            self.pull(i64::MAX);
            self.start(true);
        }
        self.pull(i64::MAX);
        let (side, clients) = (&mut self.side, &self.totals.successes);
        let stats = match self.corr.as_mut() {
            Some(k) => {
                k.finish(&mut |c| side.take(&c, clients));
                k.stats()
            }
            None => Correlation::default(),
        };
        if let Some((start, _)) = side.fw_span {
            for c in side.edges.settle(start) {
                side.rollup.add_among(&c, clients);
            }
        }
        stats
    }

    /// The web logs' ends (call after [`Flow::finish`]).
    pub fn take_web(&mut self) -> Option<WebStream> {
        self.web.take()
    }

    /// Connections and requests the correlator let go before their time (its caps).
    pub fn early(&self) -> (u64, u64) {
        self.corr.as_ref().map_or((0, 0), Correlator::early)
    }
}

fn give(k: &mut Correlator, item: WebItem) {
    match item {
        WebItem::Request(r) => k.push_request(r),
        WebItem::Note(t) => k.push_note(t),
        _ => {}
    }
}

impl ConnSink for Flow {
    fn form(&mut self, _input: usize, form: &InputForm) {
        for a in &form.server_addrs {
            if !self.side.servers.contains(a) {
                self.side.servers.push(*a);
            }
        }
    }

    fn connection(&mut self, c: ConnFacts) {
        let end = c.end_us.max(c.start_us);
        self.side.fw_span = Some(match self.side.fw_span {
            None => (c.start_us, end),
            Some((a, b)) => (a.min(c.start_us), b.max(end)),
        });
        let warm_conns = self.warm_connections();
        if let Some(w) = self.warm.as_mut() {
            if !self.ended && !w.waits(&c) {
                self.side.take(&c, &self.totals.successes);
                return;
            }
            w.first = Some(w.first.map_or(c.start_us, |f| f.min(c.start_us)));
            w.conns.push(c);
            if w.conns.len() >= warm_conns {
                self.start(false);
            }
            return;
        }
        let (side, clients) = (&mut self.side, &self.totals.successes);
        if let Some(k) = self.corr.as_mut() {
            k.push_connection(c, &mut |c| side.take(&c, clients));
        }
    }

    fn input_ended(&mut self) {
        self.ended = true;
        if let Some(k) = self.corr.as_mut() {
            k.hold();
        }
    }

    fn tick(&mut self, fw_now: i64) {
        self.fw_now = self.fw_now.max(fw_now);
        if self.warm.is_some() {
            self.pull(fw_now.saturating_add(self.opts.max_offset_us));
            let (first, held) = self
                .warm
                .as_ref()
                .map_or((None, 0), |w| (w.first, w.conns.len()));
            let waited =
                first.is_some_and(|f| fw_now.saturating_sub(f) >= WARM_US + WARM_LINGER_US);
            if waited || held >= self.warm_connections() {
                self.start(false);
            }
            return;
        }
        let offset = self.offset.0.unwrap_or(0);
        self.pull(fw_now.saturating_add(offset).saturating_add(AHEAD_US));
        let (side, clients) = (&mut self.side, &self.totals.successes);
        if let Some(k) = self.corr.as_mut() {
            k.tick(fw_now, &mut |c| side.take(&c, clients));
        }
    }
}
