//! What the truth table says beyond behaviour: the addresses an actor's packets came from, and
//! its connections cut by the capture's start or end.

use crate::TruthRow;
use crate::packet::Packet;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// One connection attempt: the client endpoint (the non-server side) and the server port.
type ConnKey = ((IpAddr, u16), u16);

fn conn_key(p: &Packet) -> ConnKey {
    if p.inbound {
        ((p.src, p.sport), p.dport)
    } else {
        ((p.dst, p.dport), p.sport)
    }
}

/// Fills [`TruthRow::sources`]: the source addresses of each actor's inbound packets.
pub fn sources(pkts: &[Packet], truth: &mut [TruthRow]) {
    let mut per: Vec<BTreeSet<IpAddr>> = vec![BTreeSet::new(); truth.len()];
    for p in pkts.iter().filter(|p| p.inbound) {
        if let Some(s) = per.get_mut(p.actor) {
            s.insert(p.src);
        }
    }
    for (row, s) in truth.iter_mut().zip(per) {
        row.sources = s.into_iter().collect();
    }
}

/// Counts, per actor, the connections with packets on both sides of each cut.
pub fn open_at_cuts(
    pkts: &[Packet],
    from: Option<i64>,
    until: Option<i64>,
    truth: &mut [TruthRow],
) {
    if from.is_none() && until.is_none() {
        return;
    }
    // (actor, connection) -> (first, last) packet time.
    let mut span: HashMap<(usize, ConnKey), (i64, i64)> = HashMap::new();
    for p in pkts {
        let e = span
            .entry((p.actor, conn_key(p)))
            .or_insert((p.ts_us, p.ts_us));
        e.0 = e.0.min(p.ts_us);
        e.1 = e.1.max(p.ts_us);
    }
    for ((actor, _), (first, last)) in span {
        let Some(row) = truth.get_mut(actor) else {
            continue;
        };
        if from.is_some_and(|f| first < f && last >= f) {
            row.open_at_capture_start += 1;
        }
        if until.is_some_and(|u| first < u && last >= u) {
            row.open_at_capture_end += 1;
        }
    }
}

/// Appends the cut counts to each row's detail (only when the scenario has a cut, so the
/// truth of uncut scenarios stays as it was).
pub fn describe_cuts(truth: &mut [TruthRow], from: bool, until: bool) {
    for row in truth {
        let mut parts = Vec::new();
        if from {
            parts.push(format!(
                "open at capture start: {}",
                row.open_at_capture_start
            ));
        }
        if until {
            parts.push(format!("open at capture end: {}", row.open_at_capture_end));
        }
        let cut = parts.join(", ");
        row.detail = if row.detail.is_empty() {
            cut
        } else {
            format!("{}; {cut}", row.detail)
        };
    }
}
