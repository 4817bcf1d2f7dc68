//! Per-source aggregation: what one client address did, mergeable.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::facts::{ConnFacts, RequestKind};
use crate::verdict::{Confidence, Evidence, Verdict};

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
    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &VerdictCounts) {
        for v in Verdict::ALL {
            self.add(v, other.get(v));
        }
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

/// Most distinct ports a [`PortSet`] keeps (the smallest ones); beyond it only the flag is set.
pub const PORT_SET_CAP: usize = 1024;

/// A capped set of ports (the smallest [`PORT_SET_CAP`] distinct values are kept).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PortSet {
    /// The kept ports.
    pub ports: std::collections::BTreeSet<u16>,
    /// True when ports were dropped because of the cap.
    pub truncated: bool,
}

impl PortSet {
    /// Adds a port.
    pub fn insert(&mut self, p: u16) {
        self.ports.insert(p);
        if self.ports.len() > PORT_SET_CAP {
            self.ports.pop_last();
            self.truncated = true;
        }
    }
    /// Union.
    pub fn merge(&mut self, other: &PortSet) {
        for &p in &other.ports {
            self.insert(p);
        }
        self.truncated |= other.truncated;
    }
}

/// Minimum and maximum of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Range<T> {
    /// Smallest seen.
    pub min: Option<T>,
    /// Largest seen.
    pub max: Option<T>,
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

/// Source ports in arrival order: how sequential they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SourcePorts {
    /// Ports seen.
    pub count: u64,
    /// Consecutive connections whose port was the previous one + 1..=+8 (sequential allocators).
    pub sequential_steps: u64,
    /// First port.
    pub first: Option<u16>,
    /// Last port.
    pub last: Option<u16>,
}

impl SourcePorts {
    fn is_step(a: u16, b: u16) -> bool {
        b > a && b - a <= 8
    }
    /// Adds the next port.
    pub fn add(&mut self, p: u16) {
        if let Some(l) = self.last
            && Self::is_step(l, p)
        {
            self.sequential_steps += 1;
        }
        self.first.get_or_insert(p);
        self.last = Some(p);
        self.count += 1;
    }
    /// Appends `later` (which came after `self`).
    pub fn merge(&mut self, later: &SourcePorts) {
        if let (Some(l), Some(f)) = (self.last, later.first)
            && Self::is_step(l, f)
        {
            self.sequential_steps += 1;
        }
        self.sequential_steps += later.sequential_steps;
        if self.first.is_none() {
            self.first = later.first;
        }
        if later.last.is_some() {
            self.last = later.last;
        }
        self.count += later.count;
    }
    /// Whether the ports look random (fewer than half of the steps sequential), given >= 10 ports.
    pub fn looks_random(&self) -> Option<bool> {
        (self.count >= 10).then(|| self.sequential_steps * 2 < self.count.saturating_sub(1))
    }
}

/// What one source address did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceSummary {
    /// The client address.
    pub addr: IpAddr,
    /// Connections per verdict.
    pub verdicts: VerdictCounts,
    /// Best confidence seen per verdict.
    pub confidence: [Option<Confidence>; 9],
    /// First evidence seen per verdict.
    pub examples: BTreeMap<Verdict, Vec<Evidence>>,
    /// Connections.
    pub connections: u64,
    /// Complete HTTP requests logged.
    pub requests: u64,
    /// First connection start, µs.
    pub first_seen_us: i64,
    /// Last connection end, µs.
    pub last_seen_us: i64,
    /// SYNs seen (retransmissions included).
    pub syns: u64,
    /// SYN retransmissions (SYNs beyond the first of each connection).
    pub syn_retransmissions: u64,
    /// Connections whose handshake never completed.
    pub half_open: u64,
    /// Destination ports.
    pub dst_ports: PortSet,
    /// Source ports.
    pub src_ports: SourcePorts,
    /// TTL of the first SYNs.
    pub ttl: Range<u8>,
    /// IP ID of the first SYNs.
    pub ip_id: Range<u32>,
    /// SYNs with hping3-like headers (window 512, no options).
    pub crafted_syns: u64,
}

/// SYNs from one source, none answered, from which a source with only unknown connections is
/// called a flood.
pub const FLOOD_MIN_SYNS: u64 = 20;
/// Distinct destination ports from which unanswered/closed probes are called a scan.
pub const SCAN_MIN_PORTS: usize = 5;

/// Thresholds of the source-level verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRules {
    /// Half-open attempts (unanswered SYNs) one address needs to be called a `syn_flood`
    /// on its own (default [`DEFAULT_MIN_FLOOD_ATTEMPTS`]).
    pub min_flood_attempts: u64,
    /// Addresses of one /24 (IPv6 /64) that sent only unanswered SYNs from which each of them
    /// is part of a (distributed, often spoofed) flood, whatever its own count (default
    /// [`DEFAULT_MIN_FLOOD_SOURCES`]).
    pub min_flood_sources: u64,
}

/// Default of [`SourceRules::min_flood_attempts`].
pub const DEFAULT_MIN_FLOOD_ATTEMPTS: u64 = 10;
/// Default of [`SourceRules::min_flood_sources`].
pub const DEFAULT_MIN_FLOOD_SOURCES: u64 = 8;

impl Default for SourceRules {
    fn default() -> Self {
        SourceRules {
            min_flood_attempts: DEFAULT_MIN_FLOOD_ATTEMPTS,
            min_flood_sources: DEFAULT_MIN_FLOOD_SOURCES,
        }
    }
}

impl SourceSummary {
    /// An empty summary.
    pub fn new(addr: IpAddr) -> SourceSummary {
        SourceSummary {
            addr,
            verdicts: VerdictCounts::default(),
            confidence: [None; 9],
            examples: BTreeMap::new(),
            connections: 0,
            requests: 0,
            first_seen_us: i64::MAX,
            last_seen_us: i64::MIN,
            syns: 0,
            syn_retransmissions: 0,
            half_open: 0,
            dst_ports: PortSet::default(),
            src_ports: SourcePorts::default(),
            ttl: Range::default(),
            ip_id: Range::default(),
            crafted_syns: 0,
        }
    }

    /// Adds one classified connection.
    pub fn add(&mut self, c: &ConnFacts, v: Verdict, conf: Confidence, ev: &[Evidence]) {
        self.verdicts.add(v, 1);
        if let Some(slot) = self.confidence.get_mut(v.index()) {
            *slot = Some(slot.map_or(conf, |c| c.max(conf)));
        }
        self.examples.entry(v).or_insert_with(|| ev.to_vec());
        self.connections += 1;
        let reqs = c
            .requests
            .iter()
            .filter(|r| r.kind == RequestKind::Normal)
            .count();
        self.requests = self.requests.saturating_add(reqs as u64);
        self.first_seen_us = self.first_seen_us.min(c.start_us);
        self.last_seen_us = self.last_seen_us.max(c.end_us.max(c.start_us));
        let syns = u64::from(c.syn_count.max(1));
        self.syns = self.syns.saturating_add(syns);
        self.syn_retransmissions = self.syn_retransmissions.saturating_add(syns - 1);
        if c.half_open() {
            self.half_open += 1;
        }
        self.dst_ports.insert(c.resp.port());
        self.src_ports.add(c.orig.port());
        if let Some(s) = c.syn {
            if let Some(t) = s.ttl {
                self.ttl.add(t);
            }
            if let Some(i) = s.ip_id {
                self.ip_id.add(i);
            }
            if s.looks_crafted() {
                self.crafted_syns += 1;
            }
        }
    }

    /// Appends `later` (connections that came after this summary's).
    pub fn merge(&mut self, later: &SourceSummary) {
        self.verdicts.merge(&later.verdicts);
        for (slot, o) in self.confidence.iter_mut().zip(later.confidence) {
            *slot = match (*slot, o) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        for (v, e) in &later.examples {
            self.examples.entry(*v).or_insert_with(|| e.clone());
        }
        self.connections += later.connections;
        self.requests = self.requests.saturating_add(later.requests);
        self.first_seen_us = self.first_seen_us.min(later.first_seen_us);
        self.last_seen_us = self.last_seen_us.max(later.last_seen_us);
        self.syns = self.syns.saturating_add(later.syns);
        self.syn_retransmissions = self
            .syn_retransmissions
            .saturating_add(later.syn_retransmissions);
        self.half_open += later.half_open;
        self.dst_ports.merge(&later.dst_ports);
        self.src_ports.merge(&later.src_ports);
        self.ttl.merge(&later.ttl);
        self.ip_id.merge(&later.ip_id);
        self.crafted_syns += later.crafted_syns;
    }

    /// Seconds between first and last sight.
    pub fn duration_secs(&self) -> f64 {
        if self.last_seen_us < self.first_seen_us {
            return 0.0;
        }
        (self.last_seen_us.saturating_sub(self.first_seen_us)) as f64 / 1e6
    }

    /// True when every connection of this source stayed half-open, carried no request and
    /// aimed at fewer than [`SCAN_MIN_PORTS`] ports: the shape of a flood member.
    pub fn only_unanswered_syns(&self) -> bool {
        self.connections > 0
            && self.requests == 0
            && self.half_open == self.connections
            && self.dst_ports.ports.len() < SCAN_MIN_PORTS
    }

    /// The source's verdict under the default [`SourceRules`].
    pub fn verdict(&self) -> (Verdict, Confidence, Vec<Evidence>) {
        self.verdict_with(&SourceRules::default())
    }

    /// The source's verdict, its confidence and the evidence (aggregates first).
    ///
    /// A `syn_flood` needs at least `rules.min_flood_attempts` half-open attempts; below
    /// that the source is `unknown` (low) and the evidence says so (the network view may
    /// still call it part of a distributed flood, see [`crate::report`]).
    pub fn verdict_with(&self, rules: &SourceRules) -> (Verdict, Confidence, Vec<Evidence>) {
        let legit = self.verdicts.get(Verdict::Legitimate);
        let hostile: u64 = self
            .verdicts
            .iter()
            .filter(|(v, _)| v.is_hostile())
            .map(|(_, n)| n)
            .sum();
        let mut ev = Vec::new();
        let (v, conf) = if legit > 0 && legit >= hostile {
            (Verdict::Legitimate, Confidence::High)
        } else if let Some((v, _)) = self
            .verdicts
            .iter()
            .filter(|(v, _)| *v != Verdict::Unknown && *v != Verdict::Legitimate)
            .max_by_key(|(v, n)| (*n, std::cmp::Reverse(v.index())))
        {
            let conf = self
                .confidence
                .get(v.index())
                .copied()
                .flatten()
                .unwrap_or(Confidence::Low);
            self.refine(v, conf)
        } else if self.verdicts.get(Verdict::Unknown) > 0
            && self.requests == 0
            && self.dst_ports.ports.len() >= SCAN_MIN_PORTS
        {
            ev.push(Evidence::Aggregate {
                text: format!(
                    "{} SYNs to {} distinct ports and not one logged request",
                    self.syns,
                    self.dst_ports.ports.len()
                ),
            });
            (Verdict::SynScan, Confidence::Medium)
        } else if self.verdicts.get(Verdict::Unknown) > 0
            && self.requests == 0
            && self.syns >= FLOOD_MIN_SYNS
            && self.half_open >= rules.min_flood_attempts
            && self.syn_retransmissions == 0
        {
            ev.push(Evidence::Aggregate {
                text: format!(
                    "{} SYNs and not one logged request or SYN retransmission from this address",
                    self.syns
                ),
            });
            (Verdict::SynFlood, Confidence::Medium)
        } else if legit > 0 {
            (Verdict::Legitimate, Confidence::High)
        } else {
            (Verdict::Unknown, Confidence::Low)
        };
        let (v, conf, shown) =
            if v == Verdict::SynFlood && self.half_open < rules.min_flood_attempts {
                ev.push(Evidence::TooFewAttempts {
                    half_open: self.half_open,
                    needed: rules.min_flood_attempts,
                });
                (Verdict::Unknown, Confidence::Low, Verdict::SynFlood)
            } else {
                (v, conf, v)
            };
        if v == Verdict::Legitimate {
            ev.push(Evidence::RequestsLogged {
                count: u32::try_from(self.requests).unwrap_or(u32::MAX),
            });
            ev.extend(self.aggregate_evidence(v));
            return (v, conf, ev);
        }
        ev.extend(self.aggregate_evidence(v));
        if let Some(ex) = self
            .examples
            .get(&shown)
            .or_else(|| self.examples.get(&Verdict::Unknown))
        {
            for e in ex {
                if !ev.contains(e) {
                    ev.push(e.clone());
                }
            }
        }
        (v, conf, ev)
    }

    /// Source-level corrections of the majority verdict.
    fn refine(&self, v: Verdict, conf: Confidence) -> (Verdict, Confidence) {
        let ports = self.dst_ports.ports.len();
        match v {
            // Closed-port probes (low-confidence syn_scan) next to handshake-then-close
            // connections: a connect scanner hitting closed ports.
            Verdict::SynScan
                if conf == Confidence::Low && self.verdicts.get(Verdict::ConnectScan) > 0 =>
            {
                let c = self
                    .confidence
                    .get(Verdict::ConnectScan.index())
                    .copied()
                    .flatten()
                    .unwrap_or(Confidence::Medium);
                (Verdict::ConnectScan, c)
            }
            // A flood aims at a service; unanswered SYNs to many ports are a scan.
            Verdict::SynFlood if ports >= SCAN_MIN_PORTS => (Verdict::SynScan, conf),
            _ => (v, conf),
        }
    }

    fn aggregate_evidence(&self, v: Verdict) -> Vec<Evidence> {
        let mut ev = Vec::new();
        let mut parts: Vec<String> = self
            .verdicts
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect();
        if parts.len() > 1 {
            parts.insert(0, format!("{} connections:", self.connections));
            ev.push(Evidence::Aggregate {
                text: parts.join(" "),
            });
        }
        if matches!(v, Verdict::SynFlood | Verdict::SynScan | Verdict::Unknown) && self.syns > 1 {
            let secs = self.duration_secs();
            if secs > 0.0 {
                ev.push(Evidence::Aggregate {
                    text: format!(
                        "{} SYNs over {:.0} s ({:.2}/s), {} retransmission(s)",
                        crate::report::thousands(self.syns),
                        secs,
                        self.syns as f64 / secs,
                        self.syn_retransmissions
                    ),
                });
            }
            if let Some(random) = self.src_ports.looks_random() {
                ev.push(Evidence::Aggregate {
                    text: format!(
                        "source ports {} ({} of {} steps sequential)",
                        if random { "random" } else { "sequential" },
                        crate::report::thousands(self.src_ports.sequential_steps),
                        crate::report::thousands(self.src_ports.count.saturating_sub(1))
                    ),
                });
            }
            if let (Some(a), Some(b)) = (self.ttl.min, self.ttl.max)
                && b.saturating_sub(a) > 8
            {
                ev.push(Evidence::Aggregate {
                    text: format!("TTL varies from {a} to {b}: addresses likely spoofed"),
                });
            }
            if self.crafted_syns > 0 {
                ev.push(Evidence::Aggregate {
                    text: format!(
                        "{} SYN(s) with window 512 and no options (hping3-like)",
                        self.crafted_syns
                    ),
                });
            }
        }
        if matches!(v, Verdict::SynScan | Verdict::ConnectScan) {
            ev.push(Evidence::Aggregate {
                text: format!(
                    "{}{} distinct destination port(s)",
                    self.dst_ports.ports.len(),
                    if self.dst_ports.truncated { "+" } else { "" }
                ),
            });
        }
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ports_merge_is_append() {
        let ports = [1000u16, 1001, 1002, 5000, 5001, 77];
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
        assert_eq!(whole.sequential_steps, 3);
    }

    #[test]
    fn port_set_keeps_smallest() {
        let mut s = PortSet::default();
        for p in (0..2000u16).rev() {
            s.insert(p);
        }
        assert_eq!(s.ports.len(), PORT_SET_CAP);
        assert!(s.truncated);
        assert_eq!(s.ports.last(), Some(&1023));
    }
}
