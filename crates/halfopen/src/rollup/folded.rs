//! Sources no longer held one by one, summed: when more distinct sources arrive than the
//! memory budget holds (a random-source flood), the lightest are folded into the counters of
//! their network and of the server port they flooded, which is all the network-level and
//! server-level flood findings need.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{OutcomeCounts, Range, RequestCounts, SourceSummary, network_of};
use crate::infer::Outcome;
use crate::sketch::{DistinctCount, Merge, TopK};

/// What a group of flood-like sources (each sent only attempts that never became a request,
/// to one port) did, summed: the figures the spoofing indicators read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FloodPart {
    /// Addresses.
    pub addresses: u64,
    /// Their SYNs (retransmissions included).
    pub syns: u64,
    /// Their connections that never completed or whose outcome is not visible.
    pub unanswered: u64,
    /// Addresses with at most 2 SYNs.
    pub few: u64,
    /// Connections reset by the client after the server's SYN-ACK (a real host).
    pub resets: u64,
    /// Of those, the ones reset from another TTL than their SYN's (a live host whose address
    /// another host used: [`SourceSummary::resets_other_ttl`]).
    #[serde(default)]
    pub resets_other_ttl: u64,
    /// SYN-ACKs never answered.
    pub unanswered_acks: u64,
    /// Addresses that sent a crafted SYN (no TCP options).
    pub crafted: u64,
    /// Addresses whose attempts' outcome the input does not show (SYN-only, one line per
    /// connection): they count only where the access log covers their time.
    pub attempt_addresses: u64,
    /// First and last sight of the addresses, µs.
    pub span: Range<i64>,
    /// TTLs of their SYNs.
    pub ttl: Range<u8>,
}

impl FloodPart {
    /// Adds one source.
    pub fn add(&mut self, s: &SourceSummary) {
        self.addresses += 1;
        self.syns = self.syns.saturating_add(s.syns);
        self.unanswered = self.unanswered.saturating_add(
            s.flood_like() + s.attempts() + u64::from(s.outcomes.get(Outcome::LogEnded)),
        );
        self.few += u64::from(s.syns <= 2);
        self.resets += u64::from(s.outcomes.get(Outcome::ResetAfterSynAck));
        self.resets_other_ttl += s.resets_other_ttl;
        self.unanswered_acks += u64::from(s.outcomes.get(Outcome::SynAckUnanswered));
        self.crafted += u64::from(s.crafted_syns > 0);
        self.attempt_addresses += u64::from(s.attempts() > 0);
        self.span.add(s.first_seen_us);
        self.span.add(s.last_seen_us.max(s.first_seen_us));
        self.ttl.merge(&s.ttl);
    }
}

impl Merge for FloodPart {
    fn merge(&mut self, o: &Self) {
        self.addresses += o.addresses;
        self.syns = self.syns.saturating_add(o.syns);
        self.unanswered = self.unanswered.saturating_add(o.unanswered);
        self.few += o.few;
        self.resets += o.resets;
        self.resets_other_ttl += o.resets_other_ttl;
        self.unanswered_acks += o.unanswered_acks;
        self.crafted += o.crafted;
        self.attempt_addresses += o.attempt_addresses;
        self.span.merge(&o.span);
        self.ttl.merge(&o.ttl);
    }
}

/// The flood-like sources folded for one server port: their figures and the networks they
/// came from.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PortFlood {
    /// The figures.
    pub part: FloodPart,
    /// Distinct /24 (IPv6 /64) networks.
    pub nets24: DistinctCount,
    /// Distinct /16 (IPv6 /32) networks.
    pub nets16: DistinctCount,
}

impl PortFlood {
    /// Adds one source.
    pub fn add(&mut self, s: &SourceSummary) {
        self.part.add(s);
        self.add_networks(s.addr);
    }

    /// Counts the networks of `a`.
    pub fn add_networks(&mut self, a: IpAddr) {
        self.nets24.insert(&network_of(a));
        self.nets16.insert(&wide_network_of(a));
    }

    /// Adds what `o` holds.
    pub fn merge(&mut self, o: &PortFlood) {
        self.part.merge(&o.part);
        // Both are made with the same parameters; a mismatch (a summary file from another
        // build) leaves the count a lower bound.
        let _ = self.nets24.merge(&o.nets24);
        let _ = self.nets16.merge(&o.nets16);
    }
}

/// The /16 (IPv6 /32) of an address.
pub fn wide_network_of(a: IpAddr) -> IpNet {
    let len = if a.is_ipv4() { 16 } else { 32 };
    IpNet::new(a, len)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(a))
}

/// Server ports whose folded flood sources are counted apart (more are summed in `other`).
pub const MAX_FOLDED_PORTS: usize = 1024;

/// Networks whose folded flood sources are counted apart (Space-Saving: the busiest stay).
pub const DEFAULT_FOLDED_NETWORKS: usize = 65_536;

/// Everything about the sources that were folded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Folded {
    /// Sources folded (an address folded twice, after coming back, counts twice).
    pub sources: u64,
    /// Their connections.
    pub connections: u64,
    /// Their connections per outcome.
    pub outcomes: OutcomeCounts,
    /// Their requests per kind.
    pub requests: RequestCounts,
    /// Flood-like sources per network (/24, IPv6 /64).
    pub networks: TopK<IpNet, FloodPart>,
    /// Flood-like sources of networks that left `networks`, summed.
    pub other_networks: FloodPart,
    /// Flood-like sources per (IPv4?, server port).
    #[serde(with = "as_list")]
    pub ports: BTreeMap<(bool, u16), PortFlood>,
    /// Flood-like sources to ports past [`MAX_FOLDED_PORTS`].
    pub other_ports: FloodPart,
    /// Sources folded that were not flood-like (clients, scanners): counted only.
    pub others: u64,
}

impl Default for Folded {
    fn default() -> Self {
        Folded::new(DEFAULT_FOLDED_NETWORKS)
    }
}

impl Folded {
    /// Empty, keeping at most `networks` networks apart.
    pub fn new(networks: usize) -> Folded {
        Folded {
            sources: 0,
            connections: 0,
            outcomes: OutcomeCounts::default(),
            requests: RequestCounts::default(),
            networks: TopK::new(networks),
            other_networks: FloodPart::default(),
            ports: BTreeMap::new(),
            other_ports: FloodPart::default(),
            others: 0,
        }
    }

    /// Folds one source summary in; a `client` (an address the access log shows served) is
    /// never counted as a flood's.
    pub fn fold(&mut self, s: &SourceSummary, client: bool) {
        self.sources += 1;
        self.connections = self.connections.saturating_add(s.connections);
        self.outcomes.merge(&s.outcomes);
        self.requests.merge(&s.requests);
        let port = match s.dst_ports.ports.as_slice() {
            [p] if s.only_unanswered() && !s.dst_ports.truncated && !client => *p,
            _ => {
                self.others += 1;
                return;
            }
        };
        let (part, gone) = self.networks.entry_evicting(network_of(s.addr), 1);
        part.add(s);
        if let Some((_, counted)) = gone {
            self.other_networks.merge(&counted.payload);
        }
        let key = (s.addr.is_ipv4(), port);
        if self.ports.len() >= MAX_FOLDED_PORTS && !self.ports.contains_key(&key) {
            self.other_ports.add(s);
        } else {
            self.ports.entry(key).or_default().add(s);
        }
    }

    /// Adds what `o` folded.
    pub fn merge(&mut self, o: &Folded) {
        self.sources += o.sources;
        self.connections = self.connections.saturating_add(o.connections);
        self.outcomes.merge(&o.outcomes);
        self.requests.merge(&o.requests);
        self.networks.merge(&o.networks);
        self.other_networks.merge(&o.other_networks);
        for (k, p) in &o.ports {
            if self.ports.len() >= MAX_FOLDED_PORTS && !self.ports.contains_key(k) {
                self.other_ports.merge(&p.part);
            } else {
                self.ports.entry(*k).or_default().merge(p);
            }
        }
        self.other_ports.merge(&o.other_ports);
        self.others += o.others;
    }

    /// Heap bytes held (about).
    pub fn memory_bytes(&self) -> usize {
        self.networks.memory_bytes()
            + self
                .ports
                .values()
                .map(|p| 200 + p.nets24.memory_bytes() + p.nets16.memory_bytes())
                .sum::<usize>()
    }
}

/// A map with tuple keys as a list of pairs (JSON keys must be strings).
mod as_list {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        m: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(m.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<BTreeMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Ord,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
