//! Correlation as the records stream by, in bounded memory: [`Correlator`].
//!
//! Both logs are close to time order. Requests are held per client address until the firewall
//! time has passed them by the open window (then they are final: matched or not); finished
//! connections are held until the access log has been read past the last time a request could
//! belong to them (their end, or their start plus the open window where the input does not
//! show the end), then the requests of their address inside that window are matched with the
//! rules of the batch correlation ([`super::correlate`]) among the connections of the address
//! held at that moment, and the connection leaves, carrying its requests. A connection that
//! cannot carry a request leaves at once. When the held connections or requests exceed their
//! caps the oldest leave early, counted.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;

use super::{CorrelateOptions, Correlation, Match, Wanted, attach, can_carry, end_known, pick};
use crate::facts::ConnFacts;
use crate::requests::{ConnNote, LoggedRequest};

/// How much a [`Correlator`] may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Finished connections held waiting for the access log (default 400 000).
    pub max_held_connections: usize,
    /// Requests and read timeouts held waiting for their connection (default 400 000).
    pub max_held_requests: usize,
    /// How far behind the latest request time a later access-log line may be (Apache writes a
    /// line when the request ends), µs (default 5 s).
    pub reorder_us: i64,
    /// How long a request waits for a connection still open in the flow table (a kept-alive
    /// connection, a long download), µs (default 10 min).
    pub longest_connection_us: i64,
    /// How long after a connection's window the firewall time must have moved before it is
    /// decided, so that the other connections of its address open at the same time (which the
    /// flow table hands over up to its SYN timeout later) are there to compete for its
    /// requests, µs (default 75 s).
    pub settle_us: i64,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            max_held_connections: 400_000,
            max_held_requests: 400_000,
            reorder_us: 5_000_000,
            longest_connection_us: 600_000_000,
            settle_us: 75_000_000,
        }
    }
}

impl StreamLimits {
    /// Bytes held at most (estimated from the sizes of a held connection and request).
    pub fn memory_bytes(&self) -> usize {
        self.max_held_connections * (std::mem::size_of::<Held>() + 48)
            + self.max_held_requests * (std::mem::size_of::<Waiting>() + 96)
    }
}

/// A finished connection waiting for its requests.
#[derive(Debug)]
struct Held {
    c: ConnFacts,
    /// Requests matched to it so far.
    load: u32,
    /// The end of the window its requests fall in (firewall clock).
    ready_at: i64,
    seq: u64,
}

/// A request (or read timeout) waiting for its connection, at firewall time `t`.
#[derive(Debug)]
struct Waiting {
    t: i64,
    what: Item,
}

#[derive(Debug)]
enum Item {
    Request(LoggedRequest),
    Note(ConnNote),
}

#[derive(Debug, Default)]
struct Slot {
    held: Vec<Held>,
    waiting: VecDeque<Waiting>,
}

/// The streaming correlation.
///
/// ```
/// use halfopen::correlate::{Correlator, CorrelateOptions, StreamLimits};
/// use halfopen::evidence::Shows;
/// use halfopen::facts::{history_of, ConnFacts};
/// use halfopen::requests::LoggedRequest;
/// let mut c = ConnFacts::new("192.0.2.1:50000".parse().unwrap(), "198.51.100.1:80".parse().unwrap(), 10_000_000, Shows::SynOnly);
/// c.history = history_of("S");
/// let mut k = Correlator::new(CorrelateOptions::default(), StreamLimits::default(), 0);
/// k.push_request(LoggedRequest::new(10_000_000, "192.0.2.1".parse().unwrap(), None, Some(200), Some(b"GET / HTTP/1.1")));
/// k.advance_access(11_000_000);
/// let mut out = Vec::new();
/// k.push_connection(c, &mut |c| out.push(c));
/// k.finish(&mut |c| out.push(c));
/// assert_eq!(out[0].requests.completed(), 1);
/// assert_eq!(k.stats().matched, 1);
/// ```
#[derive(Debug)]
pub struct Correlator {
    opts: CorrelateOptions,
    limits: StreamLimits,
    offset: i64,
    slots: HashMap<IpAddr, Slot, foldhash::fast::RandomState>,
    ready: BinaryHeap<Reverse<(i64, u64, IpAddr)>>,
    order: VecDeque<(i64, IpAddr)>,
    held: usize,
    waiting: usize,
    seq: u64,
    /// The time (firewall clock) the web logs have been read up to.
    access_mark: i64,
    access_done: bool,
    /// The firewall time.
    fw_now: i64,
    /// The end of the firewall input: every connection is known.
    fw_done: bool,
    /// The firewall input has ended and its open connections are coming: hold them (caps
    /// permitting) until [`Correlator::finish`].
    holding: bool,
    /// The firewall time span of the connections seen.
    span: Option<(i64, i64)>,
    stats: Correlation,
    early_connections: u64,
    early_requests: u64,
}

impl Correlator {
    /// A correlator for requests whose clock is `offset_us` ahead of the firewall's.
    pub fn new(opts: CorrelateOptions, limits: StreamLimits, offset_us: i64) -> Correlator {
        Correlator {
            opts,
            limits,
            offset: offset_us,
            slots: HashMap::default(),
            ready: BinaryHeap::new(),
            order: VecDeque::new(),
            held: 0,
            waiting: 0,
            seq: 0,
            access_mark: i64::MIN,
            access_done: false,
            fw_now: i64::MIN,
            fw_done: false,
            holding: false,
            span: None,
            stats: Correlation {
                clock_offset_us: Some(offset_us),
                ..Correlation::default()
            },
            early_connections: 0,
            early_requests: 0,
        }
    }

    /// What was matched so far.
    pub fn stats(&self) -> Correlation {
        self.stats
    }

    /// Connections and requests that left before their time because the caps were reached.
    pub fn early(&self) -> (u64, u64) {
        (self.early_connections, self.early_requests)
    }

    /// The time the web logs have been read up to, firewall clock (`i64::MIN` before any).
    pub fn access_mark(&self) -> i64 {
        self.access_mark
    }

    /// True once [`Correlator::access_done`] was called.
    pub fn is_access_done(&self) -> bool {
        self.access_done
    }

    /// Connections and requests held now.
    pub fn held(&self) -> (usize, usize) {
        (self.held, self.waiting)
    }

    /// Adds a request read from the access log.
    pub fn push_request(&mut self, r: LoggedRequest) {
        let t = r.ts_us.saturating_sub(self.offset);
        self.wait(r.client, t, Item::Request(r));
    }

    /// Says the web logs have been read up to `t` (their own clock): no request before `t`
    /// can still arrive.
    pub fn advance_access(&mut self, t: i64) {
        self.access_mark = self.access_mark.max(t.saturating_sub(self.offset));
    }

    /// Adds what the error log says about one connection (a read timeout, plain HTTP on the
    /// TLS port, nginx's word that it ended before a request).
    pub fn push_note(&mut self, n: ConnNote) {
        let t = n.ts_us.saturating_sub(self.offset);
        self.wait(n.client, t, Item::Note(n));
    }

    fn wait(&mut self, ip: IpAddr, t: i64, what: Item) {
        let slot = self.slots.entry(ip).or_default();
        // Mostly in order: insert from the back.
        let at = slot
            .waiting
            .iter()
            .rposition(|w| w.t <= t)
            .map_or(0, |i| i + 1);
        slot.waiting.insert(at, Waiting { t, what });
        self.order.push_back((t, ip));
        self.waiting += 1;
    }

    /// Says that the web logs have ended: every held connection can be decided.
    pub fn access_done(&mut self) {
        self.access_done = true;
    }

    /// Adds a finished connection; connections that are ready leave through `out`.
    pub fn push_connection(&mut self, c: ConnFacts, out: &mut impl FnMut(ConnFacts)) {
        let end = c.end_us.max(c.start_us);
        self.span = Some(match self.span {
            None => (c.start_us, end),
            Some((a, b)) => (a.min(c.start_us), b.max(end)),
        });
        // While holding, a connection of an address whose requests wait waits its turn even if
        // it cannot carry one: handed on at once, it would reach the rollup before the earlier
        // connections of its address (a client's refused first SYN made it a flood member
        // there, in the floods run's inbound log).
        let alone = self.nothing_can_match(c.orig.ip());
        if alone || (!self.holding && !can_carry(&c)) {
            out(c);
            return;
        }
        let window_end = if end_known(&c) {
            end.saturating_add(self.opts.tolerance_us)
        } else {
            c.start_us.saturating_add(self.opts.open_window_us)
        };
        let ready_at = window_end;
        let ip = c.orig.ip();
        self.seq += 1;
        let seq = self.seq;
        self.slots.entry(ip).or_default().held.push(Held {
            c,
            load: 0,
            ready_at,
            seq,
        });
        self.ready.push(Reverse((ready_at, seq, ip)));
        self.held += 1;
        self.release(out);
    }

    /// No request can ever be matched to a connection of `ip`: the web logs are done (or
    /// there are none: a capture alone) and none of their requests from `ip` waits. Such a
    /// connection is handed on at once instead of held for its window.
    fn nothing_can_match(&self, ip: IpAddr) -> bool {
        self.access_done && self.slots.get(&ip).is_none_or(|s| s.waiting.is_empty())
    }

    /// Releases the connections the access log has passed, and the requests the firewall
    /// time `fw_now` has passed by the open window (those are final, matched or not).
    pub fn tick(&mut self, fw_now: i64, out: &mut impl FnMut(ConnFacts)) {
        self.fw_now = self.fw_now.max(fw_now);
        self.release(out);
        let wait = self
            .opts
            .open_window_us
            .max(self.limits.longest_connection_us);
        let horizon = fw_now
            .saturating_sub(wait)
            .saturating_sub(self.limits.reorder_us)
            .saturating_sub(self.opts.tolerance_us);
        self.drop_requests_before(horizon);
    }

    /// The firewall input has ended: the connections still open in the flow table come next,
    /// all at once and in the table's order, not in time. Each is held (up to the caps) until
    /// [`Correlator::finish`], so that a request or a note goes to its own connection and not
    /// to the one of its address that happened to come first: in the nginx lab run's inbound
    /// log, where every connection the client closed waits for the server's FIN the log does
    /// not show, 15 of the port monitor's 120 connections lost their note to a neighbour.
    pub fn hold(&mut self) {
        self.holding = true;
    }

    /// Releases everything: the end of the input.
    pub fn finish(&mut self, out: &mut impl FnMut(ConnFacts)) {
        self.holding = false;
        self.access_done = true;
        self.fw_done = true;
        self.release(out);
        self.drop_requests_before(i64::MAX);
    }

    fn release(&mut self, out: &mut impl FnMut(ConnFacts)) {
        loop {
            // Too many held: the oldest connections are decided now, with the requests read so
            // far (those that belong to them came soon after their SYN), before any request is
            // let go unmatched.
            let over = self.held > self.limits.max_held_connections
                || self.waiting > self.limits.max_held_requests;
            let Some(&Reverse((ready_at, seq, ip))) = self.ready.peek() else {
                break;
            };
            // The web logs have passed its window, and so has the firewall input (with time
            // for the table to hand over the other connections open alongside it).
            let web_past = self.access_done
                || ready_at.saturating_add(self.limits.reorder_us) <= self.access_mark;
            let fw_past =
                self.fw_done || ready_at.saturating_add(self.limits.settle_us) <= self.fw_now;
            let due = web_past && fw_past && !self.holding;
            if !due && !over {
                break;
            }
            self.ready.pop();
            if !due {
                self.early_connections += 1;
            }
            if let Some(c) = self.decide(ip, seq) {
                out(c);
            }
            if self.fw_done {
                self.decide_the_rest_of(ip, out);
            }
        }
        while self.waiting > self.limits.max_held_requests {
            let Some((t, _)) = self.order.front().copied() else {
                break;
            };
            self.early_requests += 1;
            self.drop_requests_before(t.saturating_add(1));
        }
    }

    /// At the end of the input, the other held connections of `ip`, in their order: an
    /// address's connections then reach the rollup one after another. (Between them, new
    /// sources of a flood could push a client whose first connection was a refused SYN out of
    /// a full source table as a flood member: in the floods run's inbound log, one more
    /// address of the /24 and a `203.0.113.0/24` network flood where the flood is the /26.)
    fn decide_the_rest_of(&mut self, ip: IpAddr, out: &mut impl FnMut(ConnFacts)) {
        let mut rest: Vec<(i64, u64)> = self.slots.get(&ip).map_or_else(Vec::new, |s| {
            s.held.iter().map(|h| (h.ready_at, h.seq)).collect()
        });
        rest.sort_unstable();
        for (_, seq) in rest {
            if let Some(c) = self.decide(ip, seq) {
                out(c);
            }
        }
    }

    /// Matches the requests of `ip` that fall inside the window of its held connection `seq`
    /// among every held connection of `ip`, and returns that connection.
    fn decide(&mut self, ip: IpAddr, seq: u64) -> Option<ConnFacts> {
        let opts = self.opts;
        let slot = self.slots.get_mut(&ip)?;
        let pos = slot.held.iter().position(|h| h.seq == seq)?;
        let until = slot.held.get(pos).map_or(i64::MIN, |h| h.ready_at);
        let mut kept = VecDeque::with_capacity(slot.waiting.len());
        while let Some(w) = slot.waiting.pop_front() {
            if w.t > until {
                kept.push_back(w);
                continue;
            }
            let (port, wanted) = match &w.what {
                Item::Request(r) => (r.client_port, Wanted::Request(r.kind())),
                Item::Note(n) => (n.client_port, n.kind.wanted()),
            };
            let candidates = slot.held.iter().enumerate().map(|(i, h)| (i, &h.c, h.load));
            match pick(candidates, port, w.t, wanted, &opts) {
                Some(m) => {
                    let i = match m {
                        Match::Certain(i) | Match::ByElimination(i) => i,
                    };
                    if let Some(h) = slot.held.get_mut(i) {
                        match &w.what {
                            Item::Request(r) => {
                                h.load = h.load.saturating_add(1);
                                attach(&mut h.c, r, w.t, matches!(m, Match::Certain(_)));
                                self.stats.matched += 1;
                                match m {
                                    Match::Certain(_) => self.stats.certain += 1,
                                    Match::ByElimination(_) => self.stats.by_elimination += 1,
                                }
                            }
                            Item::Note(n) => {
                                n.kind.attach(&mut h.c.requests);
                                self.stats.timeouts_matched += u64::from(n.kind.is_timeout());
                            }
                        }
                    }
                    self.waiting = self.waiting.saturating_sub(1);
                }
                // No held connection can take it now: a connection still open may, later.
                None => kept.push_back(w),
            }
        }
        slot.waiting = kept;
        let h = slot.held.swap_remove(pos);
        self.held = self.held.saturating_sub(1);
        if slot.held.is_empty() && slot.waiting.is_empty() {
            self.slots.remove(&ip);
        }
        Some(h.c)
    }

    /// Final for the requests older than `t`: unmatched (inside the firewall input's span) or
    /// outside it.
    fn drop_requests_before(&mut self, t: i64) {
        while let Some(&(wt, ip)) = self.order.front() {
            if wt >= t {
                break;
            }
            self.order.pop_front();
            let Some(slot) = self.slots.get_mut(&ip) else {
                continue;
            };
            // The request may have been matched already (the order list is not pruned then).
            let Some(pos) = slot.waiting.iter().position(|w| w.t == wt) else {
                continue;
            };
            let Some(w) = slot.waiting.remove(pos) else {
                continue;
            };
            self.waiting = self.waiting.saturating_sub(1);
            if let Item::Request(_) = w.what {
                let tol = self.opts.tolerance_us;
                let inside = self.span.is_some_and(|(a, b)| {
                    w.t >= a.saturating_sub(tol) && w.t <= b.saturating_add(tol)
                });
                if inside {
                    self.stats.unmatched += 1;
                } else {
                    self.stats.outside_span += 1;
                }
            }
            if slot.held.is_empty() && slot.waiting.is_empty() {
                self.slots.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::correlate;
    use crate::evidence::Shows;
    use crate::facts::history_of;
    use proptest::prelude::*;

    fn conn(host: u8, port: u16, start_s: i64, dur_s: i64, shows: Shows, hist: &str) -> ConnFacts {
        let mut c = ConnFacts::new(
            std::net::SocketAddr::from(([192, 0, 2, host], port)),
            "198.51.100.1:80".parse().unwrap(),
            start_s * 1_000_000,
            shows,
        );
        c.end_us = (start_s + dur_s) * 1_000_000;
        c.history = history_of(hist);
        c.flags = shows != Shows::FirstPacket;
        c.handshake_completed = hist.contains('A') && hist.contains('h');
        c.reply_seen_by_orig = hist.contains('A');
        c.syn_count = 1;
        c
    }

    fn req(host: u8, t_s: i64, status: u16) -> LoggedRequest {
        LoggedRequest::new(
            t_s * 1_000_000,
            IpAddr::from([192, 0, 2, host]),
            None,
            Some(status),
            Some(b"GET / HTTP/1.1"),
        )
    }

    /// Streams connections in end order and requests in time order, as the analysis does.
    fn stream(
        conns: &[ConnFacts],
        reqs: &[LoggedRequest],
        limits: StreamLimits,
    ) -> (Vec<ConnFacts>, Correlation) {
        let mut k = Correlator::new(CorrelateOptions::default(), limits, 0);
        let mut out = Vec::new();
        let mut cs: Vec<&ConnFacts> = conns.iter().collect();
        cs.sort_by_key(|c| c.end_us);
        let mut rs: Vec<&LoggedRequest> = reqs.iter().collect();
        rs.sort_by_key(|r| r.ts_us);
        let mut ri = rs.into_iter().peekable();
        for c in cs {
            // The access log is read ahead of the firewall log; its end is said.
            while let Some(r) = ri.next_if(|r| r.ts_us <= c.end_us + 30_000_000) {
                k.push_request(r.clone());
            }
            k.advance_access(c.end_us + 30_000_000);
            if ri.peek().is_none() {
                k.access_done();
            }
            k.push_connection(c.clone(), &mut |c| out.push(c));
            k.tick(c.end_us, &mut |c| out.push(c));
        }
        for r in ri {
            k.push_request(r.clone());
        }
        k.finish(&mut |c| out.push(c));
        (out, k.stats())
    }

    #[test]
    fn keepalive_requests_stay_on_their_connection() {
        let conns = vec![
            conn(1, 1000, 100, 10, Shows::EveryPacket, "ShADadFf"),
            conn(1, 1001, 200, 5, Shows::EveryPacket, "ShADadFf"),
            conn(9, 1003, 150, 1, Shows::EveryPacket, "Sh"),
        ];
        let reqs = vec![
            req(1, 101, 200),
            req(1, 108, 200),
            req(1, 201, 200),
            req(1, 500, 200),
        ];
        let (out, st) = stream(&conns, &reqs, StreamLimits::default());
        assert_eq!((st.matched, st.unmatched, st.outside_span), (3, 0, 1));
        let by_port: HashMap<u16, u32> = out
            .iter()
            .map(|c| (c.orig.port(), c.requests.total()))
            .collect();
        assert_eq!(by_port[&1000], 2);
        assert_eq!(by_port[&1001], 1);
        assert_eq!(by_port[&1003], 0);
    }

    #[test]
    fn caps_release_early_and_count() {
        let conns: Vec<ConnFacts> = (0..50)
            .map(|i| conn(2, 2000 + i, i64::from(i), 1, Shows::SynOnly, "S"))
            .collect();
        let limits = StreamLimits {
            max_held_connections: 5,
            ..StreamLimits::default()
        };
        let (out, _) = stream(&conns, &[], limits);
        assert_eq!(out.len(), 50);
    }

    #[test]
    fn without_requests_to_come_a_connection_is_not_held() {
        let mut k = Correlator::new(CorrelateOptions::default(), StreamLimits::default(), 0);
        k.access_done();
        let mut out = Vec::new();
        // A capture alone: nothing can be matched, each connection is handed on at once.
        k.push_connection(
            conn(1, 1000, 100, 2, Shows::EveryPacket, "ShADadFf"),
            &mut |c| out.push(c),
        );
        assert_eq!(out.len(), 1);
        // A request of host 2 still waits: host 2's connection waits for its window.
        k.push_request(req(2, 301, 200));
        k.push_connection(
            conn(2, 1001, 300, 2, Shows::EveryPacket, "ShADadFf"),
            &mut |c| out.push(c),
        );
        assert_eq!(out.len(), 1);
        k.finish(&mut |c| out.push(c));
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].requests.total(), 1);
    }

    /// The flow table's open connections come at the end of the input in its own order: held,
    /// each gets the request of its own time, not the one of whichever came first.
    #[test]
    fn connections_handed_over_at_the_end_are_decided_in_time_order() {
        let late = conn(1, 1001, 101, 0, Shows::Inbound, "SADF");
        let early = conn(1, 1000, 100, 0, Shows::Inbound, "SADF");
        for hold in [false, true] {
            let mut k = Correlator::new(CorrelateOptions::default(), StreamLimits::default(), 0);
            k.push_request(req(1, 100, 200));
            k.push_request(req(1, 101, 404));
            k.access_done();
            k.tick(200_000_000, &mut |_| {});
            if hold {
                k.hold();
            }
            let mut out = Vec::new();
            // The later connection first: within the tolerance of both requests.
            k.push_connection(late.clone(), &mut |c| out.push(c));
            k.push_connection(early.clone(), &mut |c| out.push(c));
            k.finish(&mut |c| out.push(c));
            let status = |port: u16| {
                out.iter()
                    .find(|c| c.orig.port() == port)
                    .and_then(|c| c.requests.example.as_ref())
                    .and_then(|e| e.status)
            };
            let own = (status(1000), status(1001)) == (Some(200), Some(404));
            assert_eq!(own, hold, "hold {hold}: {:?}", (status(1000), status(1001)));
        }
    }

    fn arb_case() -> impl Strategy<Value = (Vec<ConnFacts>, Vec<LoggedRequest>)> {
        let c = (0u8..6, 0i64..400, 0i64..30, 0usize..4);
        let r = (
            0u8..6,
            0i64..450,
            prop::sample::select(vec![200u16, 404, 408]),
        );
        (
            prop::collection::vec(c, 0..40),
            prop::collection::vec(r, 0..40),
        )
            .prop_map(|(cs, rs)| {
                let forms = [
                    (Shows::EveryPacket, "ShADadFf"),
                    (Shows::Inbound, "SADF"),
                    (Shows::SynOnly, "S"),
                    (Shows::FirstPacket, ""),
                ];
                let conns = cs
                    .iter()
                    .enumerate()
                    .map(|(i, &(h, s, d, f))| {
                        let (shows, hist) = forms[f];
                        conn(h, 3000 + i as u16, s, d, shows, hist)
                    })
                    .collect();
                let reqs = rs.iter().map(|&(h, t, st)| req(h, t, st)).collect();
                (conns, reqs)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Streaming matches as many requests as the batch correlation, from the same sources
        /// (per source: the same number of requests attached), when no cap is reached.
        #[test]
        fn streaming_matches_like_batch((conns, reqs) in arb_case()) {
            let opts = CorrelateOptions { fixed_offset_us: Some(0), ..CorrelateOptions::default() };
            let mut batch = conns.clone();
            let b = correlate(&mut batch, &reqs, &[], &opts);
            let (out, s) = stream(&conns, &reqs, StreamLimits::default());
            prop_assert_eq!(out.len(), conns.len());
            prop_assert_eq!(s.matched + s.unmatched + s.outside_span, reqs.len() as u64);
            prop_assert_eq!(s.matched, b.matched);
            let per_source = |v: &[ConnFacts]| {
                let mut m: std::collections::BTreeMap<IpAddr, u32> = std::collections::BTreeMap::new();
                for c in v {
                    *m.entry(c.orig.ip()).or_insert(0) += c.requests.total();
                }
                m
            };
            prop_assert_eq!(per_source(&out), per_source(&batch));
        }
    }
}
