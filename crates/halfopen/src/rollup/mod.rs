//! Rollups: what each source, each network and each server port saw, summarised from the
//! correlated connections and mergeable (the summary of two halves merged is the summary of
//! the whole).
//!
//! A source summary is a fixed-size record (outcome and request counters, ranges, a capped
//! port set, one example connection): no per-connection state is kept. Sources are held one
//! by one up to a capacity (the memory budget's share), the busiest staying (Space-Saving,
//! [`crate::sketch::TopK`]); the lightest are folded into their network's and their server
//! port's counters ([`Folded`]). Distinct sources are counted by a [`DistinctCount`].

mod folded;
mod pace;
mod timeline;

pub use folded::{
    DEFAULT_FOLDED_NETWORKS, FloodPart, Folded, MAX_FOLDED_PORTS, PortFlood, wide_network_of,
};
pub use pace::{BusiestMinute, MINUTE_US};
pub use timeline::{BUCKET_US, MAX_BUCKETS, Timeline};

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::evidence::Shows;
use crate::facts::{
    ConnFacts, ConnRequests, FirstBytes, PayloadClass, RequestExample, RequestKind, SynFingerprint,
};
use crate::infer::{Outcome, outcome};
use crate::sketch::{ClientSet, ClientSetConfig, DistinctCount, Merge, TopK};

/// Counters per outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutcomeCounts(pub [u32; Outcome::COUNT]);

impl OutcomeCounts {
    /// Adds `n`.
    pub fn add(&mut self, o: Outcome, n: u32) {
        if let Some(c) = self.0.get_mut(o.index()) {
            *c = c.saturating_add(n);
        }
    }
    /// The count of one outcome.
    pub fn get(&self, o: Outcome) -> u32 {
        self.0.get(o.index()).copied().unwrap_or(0)
    }
    /// The sum over outcomes for which `f` holds.
    pub fn sum(&self, f: impl Fn(Outcome) -> bool) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| f(**o))
            .map(|o| u64::from(self.get(*o)))
            .sum()
    }
    /// Adds every counter of `o`.
    pub fn merge(&mut self, o: &OutcomeCounts) {
        for x in Outcome::ALL {
            self.add(x, o.get(x));
        }
    }
    /// Non-zero counters.
    pub fn iter(&self) -> impl Iterator<Item = (Outcome, u32)> + '_ {
        Outcome::ALL
            .into_iter()
            .map(|o| (o, self.get(o)))
            .filter(|(_, n)| *n > 0)
    }
}

/// Counters per request kind (as in [`ConnRequests::KINDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestCounts(pub [u32; 7]);

impl RequestCounts {
    /// The count of one kind.
    pub fn get(&self, k: RequestKind) -> u32 {
        ConnRequests::KINDS
            .iter()
            .position(|x| *x == k)
            .and_then(|i| self.0.get(i))
            .copied()
            .unwrap_or(0)
    }
    /// Adds the requests of one connection.
    pub fn add(&mut self, r: &ConnRequests) {
        for (a, b) in self.0.iter_mut().zip(r.counts) {
            *a = a.saturating_add(b);
        }
    }
    /// Adds every counter of `o`.
    pub fn merge(&mut self, o: &RequestCounts) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a = a.saturating_add(b);
        }
    }
    /// Complete requests (any status but timeouts, 400 and non-HTTP).
    pub fn completed(&self) -> u32 {
        self.get(RequestKind::Success)
            .saturating_add(self.get(RequestKind::Other))
    }
    /// All requests.
    pub fn total(&self) -> u32 {
        self.0.iter().fold(0u32, |a, b| a.saturating_add(*b))
    }
}

/// Most distinct destination ports a [`PortSet`] keeps.
pub const PORT_SET_CAP: usize = 32;

/// A capped set of ports: the first [`PORT_SET_CAP`] distinct ones, then a flag.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortSet {
    /// Ports, sorted.
    pub ports: Vec<u16>,
    /// More distinct ports were seen than kept.
    pub truncated: bool,
}

impl PortSet {
    /// Adds a port.
    pub fn insert(&mut self, p: u16) {
        match self.ports.binary_search(&p) {
            Ok(_) => {}
            Err(_) if self.ports.len() >= PORT_SET_CAP => self.truncated = true,
            Err(i) => self.ports.insert(i, p),
        }
    }
    /// Union.
    pub fn merge(&mut self, other: &PortSet) {
        for &p in &other.ports {
            self.insert(p);
        }
        self.truncated |= other.truncated;
    }
    /// Distinct ports (at least).
    pub fn len(&self) -> usize {
        self.ports.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }
}

/// Minimum and maximum of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range<T> {
    /// Smallest seen.
    pub min: Option<T>,
    /// Largest seen.
    pub max: Option<T>,
}

impl<T> Default for Range<T> {
    fn default() -> Self {
        Range {
            min: None,
            max: None,
        }
    }
}

impl<T: Copy + Ord> Range<T> {
    /// Adds a value.
    pub fn add(&mut self, v: T) {
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
    }
    /// Union.
    pub fn merge(&mut self, o: &Range<T>) {
        if let Some(v) = o.min {
            self.add(v);
        }
        if let Some(v) = o.max {
            self.add(v);
        }
    }
}

/// The pattern of a source's source ports, in the order its connections began.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourcePorts {
    /// Ports seen.
    pub count: u64,
    /// Consecutive connections whose port was the previous one + 1..=+8 (a sequential
    /// allocator, hping3's +1).
    pub sequential_steps: u64,
    /// Consecutive connections on the same port.
    pub repeats: u64,
    /// First port.
    pub first: Option<u16>,
    /// Last port.
    pub last: Option<u16>,
    /// Ports below 1024 (no operating system picks one for a client).
    #[serde(default)]
    pub privileged: u64,
    /// Ports below 10000 (below FreeBSD's, Linux's, Windows' and macOS's client ranges).
    #[serde(default)]
    pub below_10000: u64,
    /// Ports above 49151 (above OpenBSD's client range and Linux's default one's start).
    #[serde(default)]
    pub above_49151: u64,
}

/// What a source's source ports look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PortPattern {
    /// One port for every connection (a raw-socket tool with a fixed source port: nmap).
    Fixed,
    /// Each port a small step after the previous one (an OS allocator, hping3's +1).
    Sequential,
    /// No order.
    Random,
}

impl SourcePorts {
    fn step(a: u16, b: u16) -> (bool, bool) {
        (b > a && b - a <= 8, a == b)
    }
    /// Adds the next port.
    pub fn add(&mut self, p: u16) {
        if let Some(l) = self.last {
            let (seq, rep) = Self::step(l, p);
            self.sequential_steps += u64::from(seq);
            self.repeats += u64::from(rep);
        }
        self.first.get_or_insert(p);
        self.last = Some(p);
        self.count += 1;
        self.privileged += u64::from(p < 1024);
        self.below_10000 += u64::from(p < 10_000);
        self.above_49151 += u64::from(p > 49_151);
    }
    /// Whether no one operating system's allocator picks ports like these: a port below 1024,
    /// or ports both below 10000 and above 49151 (client ranges: Linux 32768-60999, Windows
    /// and macOS 49152-65535, FreeBSD 10000-65535, OpenBSD 1024-49151). A tool that picks
    /// source ports at random over the whole range (the lab's run1 spoofer) does.
    ///
    /// ```
    /// use halfopen::rollup::SourcePorts;
    /// let mut linux = SourcePorts::default();
    /// let mut tool = SourcePorts::default();
    /// for p in [34523, 41977, 48345, 53582] {
    ///     linux.add(p);
    ///     tool.add(p);
    /// }
    /// tool.add(6960);
    /// assert!(!linux.beyond_any_one_allocator());
    /// assert!(tool.beyond_any_one_allocator());
    /// ```
    pub fn beyond_any_one_allocator(&self) -> bool {
        self.privileged > 0 || (self.below_10000 > 0 && self.above_49151 > 0)
    }
    /// Appends `later` (which came after `self`).
    pub fn merge(&mut self, later: &SourcePorts) {
        if let (Some(l), Some(f)) = (self.last, later.first) {
            let (seq, rep) = Self::step(l, f);
            self.sequential_steps += u64::from(seq);
            self.repeats += u64::from(rep);
        }
        self.sequential_steps += later.sequential_steps;
        self.repeats += later.repeats;
        if self.first.is_none() {
            self.first = later.first;
        }
        if later.last.is_some() {
            self.last = later.last;
        }
        self.count += later.count;
        self.privileged += later.privileged;
        self.below_10000 += later.below_10000;
        self.above_49151 += later.above_49151;
    }
    /// The pattern, given at least 10 ports.
    pub fn pattern(&self) -> Option<PortPattern> {
        let steps = self.count.checked_sub(1).filter(|_| self.count >= 10)?;
        Some(if self.repeats * 2 > steps {
            PortPattern::Fixed
        } else if self.sequential_steps * 2 >= steps {
            PortPattern::Sequential
        } else {
            PortPattern::Random
        })
    }
}

/// One connection kept as an example (for the evidence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnExample {
    /// Client end.
    pub orig: SocketAddr,
    /// Server end.
    pub resp: SocketAddr,
    /// Start, µs.
    pub start_us: i64,
    /// Lifetime, ms.
    pub duration_ms: u64,
    /// Zeek history.
    #[serde(with = "history_text")]
    pub history: halfopen_tcp::History,
    /// What happened.
    pub outcome: Outcome,
    /// SYNs.
    pub syns: u32,
    /// The client's first bytes (a capture), quoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bytes: Option<String>,
}

impl ConnExample {
    fn of(c: &ConnFacts, o: Outcome) -> ConnExample {
        ConnExample {
            orig: c.orig,
            resp: c.resp,
            start_us: c.start_us,
            duration_ms: c.duration_ms(),
            history: c.history,
            outcome: o,
            syns: c.syn_count,
            first_bytes: c.payload.as_ref().map(|p| p.evidence.clone()),
        }
    }
}

/// A history as its letters in serde.
mod history_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &halfopen_tcp::History, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(h.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<halfopen_tcp::History, D::Error> {
        let text = String::deserialize(d)?;
        Ok(crate::facts::history_of(&text))
    }
}

/// Lifetime from which a connection without a completed request counts as held open.
pub const HELD_MS: u64 = 5_000;

/// What one source address did, across all its connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSummary {
    /// The client address.
    pub addr: IpAddr,
    /// Connections per outcome.
    pub outcomes: OutcomeCounts,
    /// Requests per kind.
    pub requests: RequestCounts,
    /// Read timeouts (AH01382) matched to its connections.
    pub read_timeouts: u32,
    /// Connections that spoke plain HTTP to a port that speaks TLS (AH01996, or the
    /// capture's first bytes).
    pub http_on_tls: u32,
    /// Connections the error log says ended before a request (nginx "while waiting for
    /// request": timed out, closed or reset).
    #[serde(default)]
    pub no_request_noted: u32,
    /// Requests matched by the client port or as the only candidate.
    pub certain_matches: u32,
    /// Requests matched by choosing among several connections.
    pub matches_by_elimination: u32,
    /// Connections.
    pub connections: u64,
    /// SYNs seen (retransmissions included).
    pub syns: u64,
    /// SYN retransmissions.
    pub syn_retransmissions: u64,
    /// Connections without a completed request held open for [`HELD_MS`] or more.
    pub held_open: u64,
    /// SYN-ACKs the server sent once and never retransmitted, on unanswered connections
    /// (the server answered with a SYN cookie).
    pub single_syn_ack: u64,
    /// First connection start, µs.
    pub first_seen_us: i64,
    /// Last connection end, µs.
    pub last_seen_us: i64,
    /// The most connections it began in one clock minute (its pace: a flood is a rate).
    #[serde(default)]
    pub busiest_minute: BusiestMinute,
    /// Destination ports.
    pub dst_ports: PortSet,
    /// Source-port pattern.
    pub src_ports: SourcePorts,
    /// TTL of the first SYNs.
    pub ttl: Range<u8>,
    /// TCP window of the first SYNs.
    pub window: Range<u16>,
    /// SYNs without any TCP option (no OS sends those: a raw-packet tool).
    pub crafted_syns: u64,
    /// Its connections reset right after the server's SYN-ACK whose RST's TTL the input set
    /// beside their SYN's ([`crate::facts::ConnFacts::reset_ttl_changed`]).
    #[serde(default)]
    pub resets_ttl_compared: u64,
    /// Of those, the ones whose RST came with another TTL than their SYN: the address's host
    /// reset a SYN-ACK for a SYN another host sent in its name (or a raw-packet tool chose
    /// the SYN's TTL).
    #[serde(default)]
    pub resets_other_ttl: u64,
    /// The weakest and the richest form its connections came from.
    pub forms: Range<Shows>,
    /// The first connection, and the first one that never completed, as examples.
    pub examples: Vec<ConnExample>,
    /// The strongest request seen, as an example.
    pub request_example: Option<RequestExample>,
    /// The most telling first bytes a capture kept of its connections.
    pub first_bytes: Option<FirstBytes>,
    /// Connections whose first bytes a capture kept (payload sent from the stream's start).
    pub first_bytes_seen: u64,
    /// Requests that name a scanning tool.
    pub tool_requests: u32,
    /// The tool they name.
    pub tool: Option<String>,
    /// The longest wait from a connection's first packet to its first completed request, µs.
    pub max_wait_us: i64,
    /// Starts of the connections whose first request waited [`LONG_WAIT_US`] or more.
    pub waited: Range<i64>,
}

/// A wait from SYN to request from which a client was kept waiting (a saturated server).
pub const LONG_WAIT_US: i64 = 5_000_000;

impl SourceSummary {
    /// An empty summary.
    pub fn new(addr: IpAddr) -> SourceSummary {
        SourceSummary {
            addr,
            outcomes: OutcomeCounts::default(),
            requests: RequestCounts::default(),
            read_timeouts: 0,
            http_on_tls: 0,
            no_request_noted: 0,
            certain_matches: 0,
            matches_by_elimination: 0,
            connections: 0,
            syns: 0,
            syn_retransmissions: 0,
            held_open: 0,
            single_syn_ack: 0,
            first_seen_us: i64::MAX,
            last_seen_us: i64::MIN,
            busiest_minute: BusiestMinute::default(),
            dst_ports: PortSet::default(),
            src_ports: SourcePorts::default(),
            ttl: Range::default(),
            window: Range::default(),
            crafted_syns: 0,
            resets_ttl_compared: 0,
            resets_other_ttl: 0,
            forms: Range::default(),
            examples: Vec::new(),
            request_example: None,
            first_bytes: None,
            first_bytes_seen: 0,
            tool_requests: 0,
            tool: None,
            max_wait_us: 0,
            waited: Range::default(),
        }
    }

    /// Adds one connection (whose outcome is `o`).
    pub fn add(&mut self, c: &ConnFacts, o: Outcome) {
        self.outcomes.add(o, 1);
        self.tool_requests = self.tool_requests.saturating_add(c.requests.tool_requests);
        if self.tool.is_none() {
            self.tool = c.requests.tool.map(str::to_owned);
        }
        if let Some(w) = c.requests.first_wait_us {
            self.max_wait_us = self.max_wait_us.max(w);
            if w >= LONG_WAIT_US {
                self.waited.add(c.start_us);
            }
        }
        self.requests.add(&c.requests);
        self.read_timeouts += u32::from(c.requests.read_timeout);
        self.http_on_tls += u32::from(c.http_on_tls_port());
        self.no_request_noted += u32::from(c.requests.no_request.is_some());
        self.certain_matches = self.certain_matches.saturating_add(c.requests.certain);
        self.matches_by_elimination = self
            .matches_by_elimination
            .saturating_add(c.requests.by_elimination);
        self.connections += 1;
        let syns = u64::from(c.syn_count.max(u32::from(c.syn_seen())));
        self.syns = self.syns.saturating_add(syns);
        self.syn_retransmissions += syns.saturating_sub(1);
        if c.requests.completed() == 0 && c.duration_ms() >= HELD_MS && c.reply_seen_by_orig {
            self.held_open += 1;
        }
        if o == Outcome::SynAckUnanswered && c.resp_pkts == 1 && c.flags {
            self.single_syn_ack += 1;
        }
        self.first_seen_us = self.first_seen_us.min(c.start_us);
        self.last_seen_us = self.last_seen_us.max(c.end_us.max(c.start_us));
        self.busiest_minute.add(c.start_us);
        self.dst_ports.insert(c.resp.port());
        if c.syn_seen() {
            self.src_ports.add(c.orig.port());
        }
        if let Some(s) = c.syn {
            self.add_syn(&s);
        }
        if let (Outcome::ResetAfterSynAck, Some(other)) = (o, c.reset_ttl_changed) {
            self.resets_ttl_compared += 1;
            self.resets_other_ttl += u64::from(other);
        }
        self.forms.add(c.shows);
        let first_of_kind = self.examples.is_empty()
            || (o.never_completed() && !self.examples.iter().any(|e| e.outcome.never_completed()));
        if first_of_kind && self.examples.len() < 2 {
            self.examples.push(ConnExample::of(c, o));
        }
        if let Some(p) = c.payload.as_deref() {
            if let (Some(tool), 0) = (p.tool, c.requests.tool_requests) {
                self.tool_requests = self.tool_requests.saturating_add(1);
                self.tool.get_or_insert_with(|| tool.to_owned());
            }
            self.first_bytes_seen += 1;
            let better = self
                .first_bytes
                .as_ref()
                .is_none_or(|x| FirstBytes::rank_of(p.class.name()) > x.rank());
            if better {
                self.first_bytes = Some(FirstBytes::of(p));
            }
        }
        if let Some(e) = &c.requests.example {
            let better = self
                .request_example
                .as_ref()
                .is_none_or(|x| kind_rank(e.kind) > kind_rank(x.kind));
            if better {
                self.request_example = Some(e.clone());
            }
        }
    }

    fn keep_first_bytes(&mut self, e: FirstBytes) {
        if self
            .first_bytes
            .as_ref()
            .is_none_or(|x| e.rank() > x.rank())
        {
            self.first_bytes = Some(e);
        }
    }

    fn add_syn(&mut self, s: &SynFingerprint) {
        if let Some(t) = s.ttl {
            self.ttl.add(t);
        }
        if let Some(w) = s.window {
            self.window.add(w);
        }
        if s.looks_crafted() {
            self.crafted_syns += 1;
        }
    }

    /// Appends `later` (connections that came after this summary's).
    pub fn merge(&mut self, later: &SourceSummary) {
        self.outcomes.merge(&later.outcomes);
        self.tool_requests = self.tool_requests.saturating_add(later.tool_requests);
        if self.tool.is_none() {
            self.tool.clone_from(&later.tool);
        }
        self.max_wait_us = self.max_wait_us.max(later.max_wait_us);
        self.waited.merge(&later.waited);
        self.requests.merge(&later.requests);
        self.read_timeouts = self.read_timeouts.saturating_add(later.read_timeouts);
        self.http_on_tls = self.http_on_tls.saturating_add(later.http_on_tls);
        self.no_request_noted = self.no_request_noted.saturating_add(later.no_request_noted);
        self.certain_matches = self.certain_matches.saturating_add(later.certain_matches);
        self.matches_by_elimination = self
            .matches_by_elimination
            .saturating_add(later.matches_by_elimination);
        self.connections += later.connections;
        self.syns = self.syns.saturating_add(later.syns);
        self.syn_retransmissions = self
            .syn_retransmissions
            .saturating_add(later.syn_retransmissions);
        self.held_open += later.held_open;
        self.single_syn_ack += later.single_syn_ack;
        self.first_seen_us = self.first_seen_us.min(later.first_seen_us);
        self.last_seen_us = self.last_seen_us.max(later.last_seen_us);
        self.busiest_minute.merge(&later.busiest_minute);
        self.dst_ports.merge(&later.dst_ports);
        self.src_ports.merge(&later.src_ports);
        self.ttl.merge(&later.ttl);
        self.window.merge(&later.window);
        self.crafted_syns += later.crafted_syns;
        self.resets_ttl_compared += later.resets_ttl_compared;
        self.resets_other_ttl += later.resets_other_ttl;
        self.forms.merge(&later.forms);
        for e in &later.examples {
            let first_of_kind = self.examples.is_empty()
                || (e.outcome.never_completed()
                    && !self.examples.iter().any(|x| x.outcome.never_completed()));
            if first_of_kind && self.examples.len() < 2 {
                self.examples.push(e.clone());
            }
        }
        self.first_bytes_seen += later.first_bytes_seen;
        if let Some(e) = &later.first_bytes {
            self.keep_first_bytes(e.clone());
        }
        if let Some(e) = &later.request_example {
            let better = self
                .request_example
                .as_ref()
                .is_none_or(|x| kind_rank(e.kind) > kind_rank(x.kind));
            if better {
                self.request_example = Some(e.clone());
            }
        }
    }

    /// Seconds between first and last sight.
    pub fn duration_secs(&self) -> f64 {
        if self.last_seen_us < self.first_seen_us {
            return 0.0;
        }
        (self.last_seen_us.saturating_sub(self.first_seen_us)) as f64 / 1e6
    }

    /// SYNs that never became a connection and were not retried like a real stack retries
    /// (answered by nothing, by a SYN-ACK left unanswered, or by the client's RST).
    pub fn flood_like(&self) -> u64 {
        self.outcomes.sum(|o| {
            matches!(
                o,
                Outcome::SynAckUnanswered
                    | Outcome::ResetAfterSynAck
                    | Outcome::LoneSyn
                    | Outcome::ServerSilent
            )
        })
    }

    /// Connections that never completed, as far as the input shows (proven or retried).
    pub fn never_completed(&self) -> u64 {
        self.outcomes.sum(Outcome::never_completed)
    }

    /// Attempts whose outcome the input does not show (SYN-only, one line per connection).
    pub fn attempts(&self) -> u64 {
        u64::from(self.outcomes.get(Outcome::Attempt))
    }

    /// True when every connection is an attempt that never became a request (a flood member
    /// as far as the input shows; attempts cut off by the end of the input count too).
    pub fn only_unanswered(&self) -> bool {
        self.connections > 0
            && self.requests.total() == 0
            && self.never_completed()
                + self.attempts()
                + u64::from(self.outcomes.get(Outcome::LogEnded))
                == self.connections
    }
}

impl Default for SourceSummary {
    fn default() -> Self {
        SourceSummary::new(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }
}

/// Two summaries of one source combine (the held summary first).
impl Merge for SourceSummary {
    fn merge(&mut self, other: &Self) {
        if self.connections == 0 {
            self.addr = other.addr;
        }
        SourceSummary::merge(self, other);
    }

    fn heap_bytes(&self) -> usize {
        self.dst_ports.ports.capacity() * 2
            + self.examples.capacity() * size_of::<ConnExample>()
            + self
                .examples
                .iter()
                .map(|e| e.first_bytes.as_ref().map_or(0, String::capacity))
                .sum::<usize>()
            + self
                .request_example
                .as_ref()
                .map_or(0, |e| e.request.capacity())
            + self.first_bytes.as_ref().map_or(0, |f| {
                f.class.capacity() + f.protocol.capacity() + f.evidence.capacity()
            })
            + self.tool.as_ref().map_or(0, String::capacity)
    }
}

fn kind_rank(k: RequestKind) -> u8 {
    match k {
        RequestKind::Success => 7,
        RequestKind::TimeoutPartial => 6,
        RequestKind::Other => 5,
        RequestKind::BadRequest => 4,
        RequestKind::NonHttp => 3,
        RequestKind::Http2Preface => 2,
        RequestKind::TimeoutEmpty => 1,
    }
}

/// What one server port saw.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServerSummary {
    /// Connections per outcome.
    pub outcomes: OutcomeCounts,
    /// Distinct sources (exact up to [`ServerSummary::SOURCES_CAP`], then a lower bound).
    pub sources: u64,
    /// Unanswered SYN-ACKs sent once and never retransmitted (syncookies).
    pub single_syn_ack: u64,
    /// Unanswered SYN-ACKs retransmitted.
    pub retransmitted_syn_ack: u64,
    /// Attempts that never completed, per bucket.
    pub never_completed: Timeline,
    /// Those of them that may have held a place in the listen queue, per bucket: all but the
    /// ones the client's side reset right after the server's SYN-ACK (a reset frees the
    /// place at once).
    #[serde(default)]
    pub held: Timeline,
    /// All attempts, per bucket.
    pub attempts: Timeline,
    /// First and last connection start.
    pub span: Range<i64>,
}

impl ServerSummary {
    /// Distinct sources counted exactly.
    pub const SOURCES_CAP: u64 = 1 << 20;

    /// Adds what `o` summarised.
    pub fn merge(&mut self, o: &ServerSummary) {
        self.outcomes.merge(&o.outcomes);
        self.sources = self
            .sources
            .saturating_add(o.sources)
            .min(Self::SOURCES_CAP);
        self.single_syn_ack += o.single_syn_ack;
        self.retransmitted_syn_ack += o.retransmitted_syn_ack;
        self.never_completed.merge(&o.never_completed);
        self.held.merge(&o.held);
        self.attempts.merge(&o.attempts);
        self.span.merge(&o.span);
    }
}

/// Most addresses whose successful requests are counted one by one (for the collateral
/// figures); every one is in the [`Successes::clients`] set regardless.
pub const MAX_COUNTED_CLIENTS: usize = 100_000;

/// The clients with successful (2xx/3xx) requests, from the access logs (and whole requests a
/// capture saw answered): a set that never forgets one (exact to a cap, then a Bloom filter
/// with no false negative: the block list must never hold one), and their request counts for
/// the busiest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Successes {
    /// Every address with a successful request.
    pub clients: ClientSet,
    /// Successful requests per address, for at most [`MAX_COUNTED_CLIENTS`] addresses.
    pub counts: BTreeMap<IpAddr, u64>,
    /// Successful requests of addresses past that cap.
    pub not_counted: u64,
}

impl Default for Successes {
    fn default() -> Self {
        Successes::new(ClientSetConfig::default())
    }
}

impl Successes {
    /// Empty, the set made with `config` (an invalid one falls back to the default).
    pub fn new(config: ClientSetConfig) -> Successes {
        Successes {
            clients: ClientSet::with_config(config).unwrap_or_default(),
            counts: BTreeMap::new(),
            not_counted: 0,
        }
    }

    /// Counts `n` successful requests from `a`.
    pub fn add(&mut self, a: IpAddr, n: u64) {
        // An address counted before is in the set already.
        if !count_capped(
            &mut self.counts,
            MAX_COUNTED_CLIENTS,
            a,
            n,
            &mut self.not_counted,
        ) {
            self.clients.insert(a);
        }
    }

    /// Successful requests of `a` as counted (at least 1 when the set holds it uncounted).
    pub fn count(&self, a: &IpAddr) -> u64 {
        self.counts
            .get(a)
            .copied()
            .unwrap_or_else(|| u64::from(!self.clients.is_exact() && self.clients.contains(*a)))
    }

    /// Whether any address of `net` made a successful request (never a false "no").
    pub fn any_in(&self, net: IpNet) -> bool {
        self.clients.contains_in(net)
    }

    /// The addresses known one by one (all of them while the set is exact).
    pub fn known(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.clients.exact_addrs()
    }

    /// Whether no success was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.not_counted == 0 && self.clients.exact_len() == 0
    }

    /// Adds what `o` counted.
    pub fn merge(&mut self, o: &Successes) {
        // Sets made with the default parameters merge; a file from another configuration is
        // refused by `halfopen merge` before this.
        let _ = self.clients.merge(&o.clients);
        for (a, n) in &o.counts {
            count_capped(
                &mut self.counts,
                MAX_COUNTED_CLIENTS,
                *a,
                *n,
                &mut self.not_counted,
            );
        }
        self.not_counted += o.not_counted;
    }
}

/// Adds `n` for `a` to `counts`, which keeps at most `cap` addresses; what finds no room is
/// added to `not_kept`. Returns whether `a` was counted already.
fn count_capped(
    counts: &mut BTreeMap<IpAddr, u64>,
    cap: usize,
    a: IpAddr,
    n: u64,
    not_kept: &mut u64,
) -> bool {
    let full = counts.len() >= cap;
    // One search: a map of 100,000 addresses is four levels deep.
    match counts.entry(a) {
        Entry::Occupied(mut c) => {
            *c.get_mut() += n;
            true
        }
        Entry::Vacant(_) if full => {
            *not_kept += n;
            false
        }
        Entry::Vacant(v) => {
            v.insert(n);
            false
        }
    }
}

/// A key that sorts addresses as `IpAddr`'s own order does: IPv4 before IPv6, each by its
/// bits.
fn addr_order(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// The network (/24, IPv6 /64) a source is grouped in.
pub fn network_of(a: IpAddr) -> IpNet {
    let len = if a.is_ipv4() { 24 } else { 64 };
    IpNet::new(a, len)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(a))
}

/// Everything counted over the correlated connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// Per source, the busiest held one by one (at most the capacity).
    pub sources: TopK<IpAddr, SourceSummary>,
    /// The sources that no longer fitted, summed.
    pub folded: Folded,
    /// Distinct sources (exact to 1024, then a HyperLogLog estimate).
    pub distinct_sources: DistinctCount,
    /// Per server address and port (at most [`MAX_SERVERS`]; more go to the unspecified
    /// address of their port).
    pub servers: BTreeMap<SocketAddr, ServerSummary>,
    /// Connections per outcome.
    pub outcomes: OutcomeCounts,
    /// Connections by Zeek state name.
    pub states: BTreeMap<String, u64>,
    /// Attempts over time.
    pub timeline: Timeline,
    /// Connections.
    pub connections: u64,
    /// What the capture's first bytes showed.
    pub first_bytes: FirstBytesTally,
}

/// Most client addresses kept whose whole HTTP requests a capture saw answered.
pub const MAX_CAPTURE_CLIENTS: usize = 100_000;

/// What the first bytes a capture kept showed, over all connections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstBytesTally {
    /// Connections per class ([`crate::facts::PayloadClass::name`]).
    pub classes: BTreeMap<String, u64>,
    /// Connections with a whole HTTP request in the capture and none in the web logs.
    pub requests_not_logged: u64,
    /// The first such connection: client, server, the bytes.
    pub not_logged_example: Option<(SocketAddr, SocketAddr, String)>,
    /// Whole requests the server answered with a 1xx-3xx status, per client address (at most
    /// [`MAX_CAPTURE_CLIENTS`] addresses; protected like the access log's successes).
    pub answered: BTreeMap<IpAddr, u64>,
    /// Answered requests not counted per address once the cap was reached.
    pub answered_not_kept: u64,
}

impl FirstBytesTally {
    /// Adds what `o` counted.
    pub fn merge(&mut self, o: &FirstBytesTally) {
        for (k, n) in &o.classes {
            *self.classes.entry(k.clone()).or_insert(0) += n;
        }
        self.requests_not_logged += o.requests_not_logged;
        if self.not_logged_example.is_none() {
            self.not_logged_example.clone_from(&o.not_logged_example);
        }
        for (a, n) in &o.answered {
            count_capped(
                &mut self.answered,
                MAX_CAPTURE_CLIENTS,
                *a,
                *n,
                &mut self.answered_not_kept,
            );
        }
        self.answered_not_kept += o.answered_not_kept;
    }

    fn add(&mut self, c: &ConnFacts) {
        let Some(p) = c.payload.as_deref() else {
            return;
        };
        match self.classes.get_mut(p.class.name()) {
            Some(n) => *n += 1,
            None => {
                self.classes.insert(p.class.name().to_owned(), 1);
            }
        }
        if p.class != PayloadClass::HttpComplete || c.requests.total() > 0 {
            return;
        }
        self.requests_not_logged += 1;
        if self.not_logged_example.is_none() {
            self.not_logged_example = Some((c.orig, c.resp, p.evidence.clone()));
        }
        if p.server_status.is_some_and(|s| (100..400).contains(&s)) {
            count_capped(
                &mut self.answered,
                MAX_CAPTURE_CLIENTS,
                c.orig.ip(),
                1,
                &mut self.answered_not_kept,
            );
        }
    }
}

/// Weight of a connection in the choice of the sources held one by one: a connection that
/// carried a request weighs [`REQUEST_WEIGHT`] (a client is listed and judged on its own before
/// the single SYNs of a random-source flood), any other 1.
fn weight(c: &ConnFacts) -> u64 {
    if c.requests.total() > 0 {
        REQUEST_WEIGHT
    } else {
        1
    }
}

/// See [`weight`].
pub const REQUEST_WEIGHT: u64 = 16;

/// Server addresses and ports summarised apart; a firewall in front of more servers folds the
/// rest per port.
pub const MAX_SERVERS: usize = 4096;

/// Sources held one by one by default (about 1 KB each).
pub const DEFAULT_SOURCES: usize = 65_536;

impl Default for Rollup {
    fn default() -> Self {
        Rollup::new(DEFAULT_SOURCES)
    }
}

impl Rollup {
    /// An empty rollup holding at most `sources` sources one by one (and a quarter as many
    /// networks of folded ones, at least 1024).
    pub fn new(sources: usize) -> Rollup {
        Rollup {
            sources: TopK::new(sources),
            folded: Folded::new((sources / 4).max(1024)),
            distinct_sources: DistinctCount::new(),
            servers: BTreeMap::new(),
            outcomes: OutcomeCounts::default(),
            states: BTreeMap::new(),
            timeline: Timeline::default(),
            connections: 0,
            first_bytes: FirstBytesTally::default(),
        }
    }

    /// The sources held, by address.
    pub fn sources_sorted(&self) -> Vec<&SourceSummary> {
        // Sorted on keys copied next to the references: comparing through the references
        // reached every summary once per comparison, far apart in memory.
        let mut v: Vec<((bool, u128), &SourceSummary)> = self
            .sources
            .iter()
            .map(|(_, c)| (addr_order(c.payload.addr), &c.payload))
            .collect();
        v.sort_unstable_by_key(|(k, _)| *k);
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// The held source `a`, if held.
    pub fn source(&self, a: &IpAddr) -> Option<&SourceSummary> {
        self.sources.get(a).map(|c| &c.payload)
    }

    /// Whether every source was held one by one (nothing folded).
    pub fn exact(&self) -> bool {
        self.folded.sources == 0
    }

    /// Adds what `o` summarised (the inputs that came after this rollup's).
    pub fn merge(&mut self, o: &Rollup) {
        for (_, c) in o.sources.iter() {
            let s = &c.payload;
            let (held, gone) = self.sources.entry_evicting(s.addr, s.connections);
            Merge::merge(held, s);
            if let Some((_, g)) = gone {
                self.folded.fold(&g.payload, false);
            }
        }
        self.folded.merge(&o.folded);
        let _ = self.distinct_sources.merge(&o.distinct_sources);
        for (k, v) in &o.servers {
            self.server_entry(*k).merge(v);
        }
        self.outcomes.merge(&o.outcomes);
        for (k, n) in &o.states {
            *self.states.entry(k.clone()).or_insert(0) += n;
        }
        self.timeline.merge(&o.timeline);
        self.connections += o.connections;
        self.first_bytes.merge(&o.first_bytes);
    }

    fn server_entry(&mut self, k: SocketAddr) -> &mut ServerSummary {
        let key = if self.servers.len() >= MAX_SERVERS && !self.servers.contains_key(&k) {
            SocketAddr::new(
                if k.is_ipv4() {
                    IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
                } else {
                    IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
                },
                k.port(),
            )
        } else {
            k
        };
        self.servers.entry(key).or_default()
    }

    /// Heap bytes held (about).
    pub fn memory_bytes(&self) -> usize {
        self.sources.memory_bytes()
            + self.folded.memory_bytes()
            + self.distinct_sources.memory_bytes()
            + self.timeline.memory_bytes()
            + self
                .servers
                .values()
                .map(|s| {
                    256 + s.never_completed.memory_bytes()
                        + s.held.memory_bytes()
                        + s.attempts.memory_bytes()
                })
                .sum::<usize>()
    }

    /// Adds one correlated connection.
    pub fn add(&mut self, c: &ConnFacts) -> Outcome {
        self.add_among(c, &Successes::default())
    }

    /// Adds one correlated connection, knowing the `clients` the access log shows served so
    /// far: a source folded to make room is never counted as a flood's if it is one of them.
    /// (In the floods run's inbound log, a client's refused first SYN came long before its
    /// other connections; the source, folded with that SYN alone, made the /26 flood a /24.)
    pub fn add_among(&mut self, c: &ConnFacts, clients: &Successes) -> Outcome {
        let o = outcome(c);
        self.connections += 1;
        self.outcomes.add(o, 1);
        self.first_bytes.add(c);
        if let Some(st) = c.state {
            *self.states.entry(st.as_str().to_owned()).or_insert(0) += 1;
        }
        self.timeline.add(c.start_us);
        let ip = c.orig.ip();
        let fresh = self.sources.get(&ip).is_none();
        if fresh {
            self.distinct_sources.insert(&ip);
        }
        let (held, gone) = self.sources.entry_evicting(ip, weight(c));
        if held.connections == 0 {
            *held = SourceSummary::new(ip);
        }
        held.add(c, o);
        if let Some((_, g)) = gone {
            let client = clients.count(&g.payload.addr) > 0;
            self.folded.fold(&g.payload, client);
        }
        let s = self.server_entry(c.resp);
        s.outcomes.add(o, 1);
        if fresh && s.sources < ServerSummary::SOURCES_CAP {
            s.sources += 1;
        }
        if o == Outcome::SynAckUnanswered && c.flags {
            if c.resp_pkts <= 1 {
                s.single_syn_ack += 1;
            } else {
                s.retransmitted_syn_ack += 1;
            }
        }
        s.attempts.add(c.start_us);
        if o.never_completed() || o == Outcome::Attempt {
            s.never_completed.add(c.start_us);
            if o != Outcome::ResetAfterSynAck {
                s.held.add(c.start_us);
            }
        }
        s.span.add(c.start_us);
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::Shows;
    use proptest::prelude::*;

    /// The memory budget gives each source held one by one 1 KiB (`analyze::budget`): the
    /// summary itself, its examples on the heap and the top-K's index.
    #[test]
    fn a_source_summary_fits_its_share_of_the_budget() {
        let n = std::mem::size_of::<SourceSummary>();
        assert!(n <= 640, "{n}");
    }

    /// A connection from one of a few clients, with one of a few histories.
    fn conn(client: u8, port: u16, t: i64, kind: u8) -> ConnFacts {
        let mut c = ConnFacts::new(
            SocketAddr::new(IpAddr::from([198, 51, 100, client]), port),
            "192.0.2.10:80".parse().unwrap(),
            t,
            Shows::EveryPacket,
        );
        let h = ["Sh", "ShADadFf", "S", "ShR", "ShAF"][usize::from(kind % 5)];
        c.history = crate::facts::history_of(h);
        c.handshake_completed = h.contains('A');
        c.reply_seen_by_orig = h.contains('A');
        c.syn_count = 1 + u32::from(kind / 5);
        c.orig_pkts = h.len() as u64;
        c.end_us = t + i64::from(kind) * 1000;
        c
    }

    fn stream() -> impl Strategy<Value = Vec<ConnFacts>> {
        proptest::collection::vec((0u8..40, 1024u16..65535, 0i64..5_000_000, 0u8..15), 1..300)
            .prop_map(|mut v| {
                v.sort_by_key(|x| x.2);
                v.into_iter()
                    .enumerate()
                    .map(|(i, (c, p, dt, k))| conn(c, p, i as i64 * 1_000_000 + dt, k))
                    .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// The sort key orders addresses as `IpAddr` does (IPv4-mapped and -compatible IPv6
        /// included).
        #[test]
        fn addr_order_is_the_address_order(a in any::<[u8; 16]>(), b in any::<[u8; 16]>(), v4: [bool; 2]) {
            let ip = |x: [u8; 16], four: bool| -> IpAddr {
                if four {
                    IpAddr::from([x[0], x[1], x[2], x[3]])
                } else {
                    IpAddr::from(x)
                }
            };
            let (x, y) = (ip(a, v4[0]), ip(b, v4[1]));
            prop_assert_eq!(addr_order(x).cmp(&addr_order(y)), x.cmp(&y));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Under its capacity a rollup is exact, and the rollups of the two halves of a stream
        /// merged are the rollup of the whole: every source summary, every counter.
        #[test]
        fn merge_of_halves_is_the_whole(conns in stream(), cut in 0usize..300) {
            let cut = cut.min(conns.len());
            let mut whole = Rollup::new(64);
            conns.iter().for_each(|c| { whole.add(c); });
            let (mut a, mut b) = (Rollup::new(64), Rollup::new(64));
            conns[..cut].iter().for_each(|c| { a.add(c); });
            conns[cut..].iter().for_each(|c| { b.add(c); });
            a.merge(&b);
            prop_assert!(whole.exact());
            prop_assert_eq!(a.sources_sorted(), whole.sources_sorted());
            prop_assert_eq!(a.outcomes, whole.outcomes);
            prop_assert_eq!(&a.states, &whole.states);
            prop_assert_eq!(a.connections, whole.connections);
            prop_assert_eq!(a.distinct_sources.count(), whole.distinct_sources.count());
            let w = a.timeline.width_us.max(whole.timeline.width_us);
            prop_assert_eq!(a.timeline.at_width(w), whole.timeline.at_width(w));
            prop_assert_eq!(a.servers.len(), whole.servers.len());
        }

        /// Past its capacity nothing is lost: every connection is in a held source or in the
        /// folded counters, in one run and in a merge of halves alike.
        #[test]
        fn folding_loses_no_connection(conns in stream(), cut in 0usize..300) {
            let cut = cut.min(conns.len());
            let held = |r: &Rollup| r.sources.iter().map(|(_, c)| c.payload.connections).sum::<u64>();
            let mut whole = Rollup::new(8);
            conns.iter().for_each(|c| { whole.add(c); });
            prop_assert_eq!(held(&whole) + whole.folded.connections, conns.len() as u64);
            prop_assert!(whole.sources.len() <= 8);
            let (mut a, mut b) = (Rollup::new(8), Rollup::new(8));
            conns[..cut].iter().for_each(|c| { a.add(c); });
            conns[cut..].iter().for_each(|c| { b.add(c); });
            a.merge(&b);
            prop_assert_eq!(held(&a) + a.folded.connections, conns.len() as u64);
            prop_assert_eq!(a.connections, whole.connections);
            prop_assert_eq!(a.outcomes, whole.outcomes);
        }

        /// A summary read back is the summary written.
        #[test]
        fn rollup_survives_serde(conns in stream()) {
            let mut r = Rollup::new(16);
            conns.iter().for_each(|c| { r.add(c); });
            let text = serde_json::to_string(&r).unwrap();
            let back: Rollup = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, r);
        }
    }

    #[test]
    fn source_ports_merge_is_append() {
        let ports = [1000u16, 1001, 1002, 5000, 5001, 77, 77];
        let mut whole = SourcePorts::default();
        ports.iter().for_each(|p| whole.add(*p));
        for cut in 0..=ports.len() {
            let mut a = SourcePorts::default();
            let mut b = SourcePorts::default();
            ports[..cut].iter().for_each(|p| a.add(*p));
            ports[cut..].iter().for_each(|p| b.add(*p));
            a.merge(&b);
            assert_eq!(a, whole, "cut {cut}");
        }
        assert_eq!((whole.sequential_steps, whole.repeats), (3, 1));
    }

    #[test]
    fn port_patterns() {
        let mut seq = SourcePorts::default();
        (40000..40020u16).for_each(|p| seq.add(p));
        assert_eq!(seq.pattern(), Some(PortPattern::Sequential));
        let mut fixed = SourcePorts::default();
        (0..20).for_each(|_| fixed.add(61_000));
        assert_eq!(fixed.pattern(), Some(PortPattern::Fixed));
        let mut random = SourcePorts::default();
        (0..20u16).for_each(|i| random.add(i.wrapping_mul(7919).wrapping_add(1024)));
        assert_eq!(random.pattern(), Some(PortPattern::Random));
    }

    #[test]
    fn port_set_is_capped() {
        let mut s = PortSet::default();
        for p in (0..100u16).rev() {
            s.insert(p);
        }
        assert_eq!(s.len(), PORT_SET_CAP);
        assert!(s.truncated);
    }
}
