//! Mergeable summaries: classify connections into per-verdict, per-source and per-minute
//! counters; `merge(a, b)` of two consecutive halves equals the summary of the whole.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::facts::{ConnFacts, classify};
use crate::source::{SourceSummary, VerdictCounts};
use crate::verdict::Verdict;

/// Width of a timeline bucket, µs.
pub const BUCKET_US: i64 = 10_000_000;

/// Connection attempts per 10-second bucket ([`BUCKET_US`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timeline {
    /// Bucket start (µs, multiple of [`BUCKET_US`]) -> (all attempts, attempts judged hostile).
    pub buckets: BTreeMap<i64, (u64, u64)>,
}

impl Timeline {
    /// Counts one attempt at `ts_us`.
    pub fn add(&mut self, ts_us: i64, hostile: bool) {
        let b = ts_us.div_euclid(BUCKET_US).saturating_mul(BUCKET_US);
        let e = self.buckets.entry(b).or_insert((0, 0));
        e.0 += 1;
        e.1 += u64::from(hostile);
    }
    /// Adds every bucket of `other`.
    pub fn merge(&mut self, other: &Timeline) {
        for (b, (n, h)) in &other.buckets {
            let e = self.buckets.entry(*b).or_insert((0, 0));
            e.0 += n;
            e.1 += h;
        }
    }
    /// Rebins into `width` columns between the first and last bucket (all attempts,
    /// hostile attempts), for a sparkline.
    pub fn columns(&self, width: usize) -> Vec<(u64, u64)> {
        let (Some((&first, _)), Some((&last, _))) = (
            self.buckets.first_key_value(),
            self.buckets.last_key_value(),
        ) else {
            return Vec::new();
        };
        let width = width.max(1);
        let span = last.saturating_sub(first).saturating_add(BUCKET_US).max(1);
        let mut cols = vec![(0u64, 0u64); width];
        for (b, (n, h)) in &self.buckets {
            let off = i128::from(b.saturating_sub(first));
            let idx = (off * width as i128 / i128::from(span)) as usize;
            if let Some(c) = cols.get_mut(idx.min(width - 1)) {
                c.0 += n;
                c.1 += h;
            }
        }
        cols
    }
}

/// Everything counted over a set of connections.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Connections per verdict.
    pub verdicts: VerdictCounts,
    /// Per source address.
    pub sources: BTreeMap<IpAddr, SourceSummary>,
    /// Attempts per minute.
    pub timeline: Timeline,
    /// Connections by Zeek state name.
    pub states: BTreeMap<String, u64>,
}

impl Summary {
    /// Classifies a connection and counts it; returns its verdict.
    pub fn add(&mut self, c: &ConnFacts) -> Verdict {
        let (v, conf, ev) = classify(c);
        self.verdicts.add(v, 1);
        self.sources
            .entry(c.orig.ip())
            .or_insert_with(|| SourceSummary::new(c.orig.ip()))
            .add(c, v, conf, &ev);
        self.timeline.add(c.start_us, v.is_hostile());
        if let Some(n) = self.states.get_mut(&c.state) {
            *n += 1;
        } else if !c.state.is_empty() {
            self.states.insert(c.state.clone(), 1);
        }
        v
    }

    /// Appends `later` (connections that came after this summary's).
    pub fn merge(&mut self, later: &Summary) {
        self.verdicts.merge(&later.verdicts);
        for (a, s) in &later.sources {
            match self.sources.get_mut(a) {
                Some(mine) => mine.merge(s),
                None => {
                    self.sources.insert(*a, s.clone());
                }
            }
        }
        self.timeline.merge(&later.timeline);
        for (k, n) in &later.states {
            *self.states.entry(k.clone()).or_insert(0) += n;
        }
    }

    /// Connections counted.
    pub fn connections(&self) -> u64 {
        self.verdicts.total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{InputKind, RequestFacts, SynFingerprint};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, SocketAddr};

    fn arb_conn() -> impl Strategy<Value = ConnFacts> {
        (
            0u8..6,
            any::<u16>(),
            prop_oneof![Just(80u16), Just(443), 1u16..1024],
            0i64..3_600_000_000,
            0i64..20_000_000,
            prop::sample::select(vec![
                "S", "Sh", "ShR", "Sr", "ShAR", "ShAFf", "ShADadFf", "ShAfF",
            ]),
            0u32..4,
            0u64..5,
            prop::option::of((any::<u8>(), any::<u16>(), any::<bool>())),
            prop::option::of(prop::sample::select(vec![200u16, 408, 400])),
            prop::sample::select(vec![
                InputKind::Packets,
                InputKind::SynOnly,
                InputKind::NoFlags,
            ]),
        )
            .prop_map(
                |(host, sport, dport, start, dur, hist, syns, pkts, syn, status, input)| {
                    let mut c = ConnFacts::new(
                        SocketAddr::new(Ipv4Addr::new(192, 0, 2, host).into(), sport),
                        SocketAddr::new(Ipv4Addr::new(198, 51, 100, 1).into(), dport),
                        start,
                        input,
                    );
                    c.end_us = start + dur;
                    c.history = hist.to_owned();
                    c.handshake_completed = hist.contains('A');
                    c.syn_count = syns;
                    c.orig_pkts = pkts;
                    c.syn = syn.map(|(ttl, window, opts)| SynFingerprint {
                        ttl: Some(ttl),
                        window: Some(window),
                        has_options: Some(opts),
                        ..SynFingerprint::default()
                    });
                    if let Some(s) = status {
                        c.requests
                            .push(RequestFacts::new(start, Some(s), Some(b"GET / HTTP/1.1")));
                    }
                    c
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn merge_of_halves_is_whole(conns in prop::collection::vec(arb_conn(), 0..40), cut in 0usize..40) {
            let cut = cut.min(conns.len());
            let mut whole = Summary::default();
            conns.iter().for_each(|c| { whole.add(c); });
            let mut a = Summary::default();
            let mut b = Summary::default();
            conns[..cut].iter().for_each(|c| { a.add(c); });
            conns[cut..].iter().for_each(|c| { b.add(c); });
            a.merge(&b);
            prop_assert_eq!(&a, &whole);
            prop_assert_eq!(whole.connections(), conns.len() as u64);
            let per_source: u64 = whole.sources.values().map(|s| s.connections).sum();
            prop_assert_eq!(per_source, conns.len() as u64);
        }

        #[test]
        fn merge_with_empty_is_identity(conns in prop::collection::vec(arb_conn(), 0..20)) {
            let mut s = Summary::default();
            conns.iter().for_each(|c| { s.add(c); });
            let mut t = s.clone();
            t.merge(&Summary::default());
            prop_assert_eq!(&t, &s);
            let mut e = Summary::default();
            e.merge(&s);
            prop_assert_eq!(e, s);
        }
    }

    #[test]
    fn timeline_columns() {
        let mut t = Timeline::default();
        t.add(0, true);
        t.add(BUCKET_US * 9 + 5, false);
        let cols = t.columns(10);
        assert_eq!(cols.len(), 10);
        assert_eq!(cols[0], (1, 1));
        assert_eq!(cols[9], (1, 0));
    }
}
