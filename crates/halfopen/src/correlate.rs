//! Matching connections to access-log requests and error-log timeouts.
//!
//! Exact when the access log carries the client port (`%{remote}p`, `%{c}a`); otherwise by
//! client address and time: a request belongs to the most recent connection from that address
//! that was open when the request arrived (keep-alive: several requests per connection; log
//! lines written at request end are re-timed by whoever builds [`LoggedRequest`]). The clock
//! offset between the access log and the firewall log is estimated first, as the median of
//! (request time - nearest connection start) over all requests, rounded to whole seconds
//! (`%t` has one-second resolution).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::facts::{ConnFacts, InputKind, RequestFacts, RequestKind};

/// One request read from an access log (owned, escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// When the request was received (access-log clock), µs.
    pub ts_us: i64,
    /// Client address.
    pub client: IpAddr,
    /// Client port, when the format logs it.
    pub client_port: Option<u16>,
    /// Server port, when the format logs it.
    pub server_port: Option<u16>,
    /// Status.
    pub status: Option<u16>,
    /// Request line as logged (escaped for display, capped).
    pub request: String,
    /// What the line says.
    pub kind: RequestKind,
}

impl LoggedRequest {
    /// Builds a request from raw parts.
    pub fn new(
        ts_us: i64,
        client: IpAddr,
        client_port: Option<u16>,
        status: Option<u16>,
        raw: Option<&[u8]>,
    ) -> LoggedRequest {
        let f = RequestFacts::new(ts_us, status, raw);
        LoggedRequest {
            ts_us,
            client,
            client_port,
            server_port: None,
            status,
            request: f.request,
            kind: f.kind,
        }
    }
}

/// A request-header read timeout (AH01382) from the error log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutNote {
    /// When it was logged, µs.
    pub ts_us: i64,
    /// Client address.
    pub client: IpAddr,
    /// Client port, when logged (Apache 2.4 logs it).
    pub client_port: Option<u16>,
}

/// Tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorrelateOptions {
    /// Slack around a connection's lifetime, µs (default 2 s: `%t` is truncated to seconds).
    pub tolerance_us: i64,
    /// Largest clock offset considered, µs (default 15 min).
    pub max_offset_us: i64,
    /// A fixed offset (access minus firewall, µs) instead of the estimate.
    pub fixed_offset_us: Option<i64>,
}

impl Default for CorrelateOptions {
    fn default() -> Self {
        CorrelateOptions {
            tolerance_us: 2_000_000,
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
    /// Requests that matched none.
    pub unmatched: u64,
    /// Timeouts matched.
    pub timeouts_matched: u64,
}

fn can_carry(c: &ConnFacts) -> bool {
    match c.input {
        InputKind::Packets | InputKind::FlagsBothDirections | InputKind::FlagsOneDirection => {
            c.handshake_completed
        }
        InputKind::SynOnly => true,
        InputKind::NoFlags => c.orig_pkts >= 2,
    }
}

fn data_hint(c: &ConnFacts) -> bool {
    c.history.contains('D')
        || c.orig_sent_payload == Some(true)
        || (c.input == InputKind::NoFlags && c.orig_pkts >= 3)
}

struct ByAddr {
    /// Connection indices per client address, sorted by start.
    map: HashMap<IpAddr, Vec<usize>, foldhash::fast::RandomState>,
}

impl ByAddr {
    fn new(conns: &[ConnFacts]) -> ByAddr {
        let mut map: HashMap<IpAddr, Vec<usize>, foldhash::fast::RandomState> = HashMap::default();
        for (i, c) in conns.iter().enumerate() {
            if can_carry(c) {
                map.entry(c.orig.ip()).or_default().push(i);
            }
        }
        for v in map.values_mut() {
            v.sort_by_key(|&i| conns.get(i).map_or(0, |c| c.start_us));
        }
        ByAddr { map }
    }

    /// The connection a request at firewall time `t` belongs to: among the connections from
    /// that address open at `t`, the one on the logged port, else one that sent data, else one
    /// with no request yet, else the most recent.
    fn find(
        &self,
        conns: &[ConnFacts],
        load: &[u32],
        ip: IpAddr,
        port: Option<u16>,
        t: i64,
        tol: i64,
    ) -> Option<usize> {
        let list = self.map.get(&ip)?;
        let pp = list.partition_point(|&i| {
            conns
                .get(i)
                .is_some_and(|c| c.start_us <= t.saturating_add(tol))
        });
        let mut best: Option<((bool, bool), usize)> = None;
        for &i in list.get(..pp)?.iter().rev().take(256) {
            let Some(c) = conns.get(i) else { continue };
            if port.is_some_and(|p| p != c.orig.port()) {
                continue;
            }
            let open = c.input == InputKind::SynOnly || c.end_us.saturating_add(tol) >= t;
            if !open {
                continue;
            }
            if port.is_some() {
                return Some(i);
            }
            let score = (data_hint(c), load.get(i).copied().unwrap_or(0) == 0);
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, i));
            }
        }
        best.map(|(_, i)| i)
    }
}

fn assign(
    idx: &ByAddr,
    conns: &[ConnFacts],
    requests: &[LoggedRequest],
    offset: i64,
    tol: i64,
) -> Vec<Option<usize>> {
    let mut load = vec![0u32; conns.len()];
    requests
        .iter()
        .map(|r| {
            let t = r.ts_us.saturating_sub(offset);
            let found = idx.find(conns, &load, r.client, r.client_port, t, tol);
            if let Some(l) = found.and_then(|i| load.get_mut(i)) {
                *l = l.saturating_add(1);
            }
            found
        })
        .collect()
}

/// Estimates the clock offset (access minus firewall, µs) from matched pairs: per connection,
/// its first complete request minus its start; the median of those, rounded to whole seconds
/// (`%t` truncates to the second, so a request at the connection start reads up to 1 s early).
/// `None` with fewer than 3 pairs. Returns the estimate and the number of pairs.
pub fn estimate_offset(
    conns: &[ConnFacts],
    requests: &[LoggedRequest],
    assigned: &[Option<usize>],
) -> (Option<i64>, u64) {
    let mut first: HashMap<usize, i64, foldhash::fast::RandomState> = HashMap::default();
    for (r, a) in requests.iter().zip(assigned) {
        let (Some(i), RequestKind::Normal) = (*a, r.kind) else {
            continue;
        };
        let Some(c) = conns.get(i) else { continue };
        let d = r.ts_us.saturating_sub(c.start_us);
        let e = first.entry(i).or_insert(d);
        *e = (*e).min(d);
    }
    let mut deltas: Vec<i64> = first.into_values().collect();
    if deltas.len() < 3 {
        return (None, deltas.len() as u64);
    }
    let mid = deltas.len() / 2;
    let (_, median, _) = deltas.select_nth_unstable(mid);
    let secs = (*median as f64 / 1e6 + 0.5).floor() as i64;
    (Some(secs.saturating_mul(1_000_000)), deltas.len() as u64)
}

/// Attaches requests and timeouts to the connections they belong to.
///
/// ```
/// use halfopen::correlate::{correlate, CorrelateOptions, LoggedRequest};
/// use halfopen::facts::{ConnFacts, InputKind};
/// let mut c = ConnFacts::new("192.0.2.1:50000".parse().unwrap(), "198.51.100.1:80".parse().unwrap(), 10_000_000, InputKind::Packets);
/// c.handshake_completed = true;
/// c.end_us = 12_000_000;
/// let mut conns = vec![c];
/// let reqs = [LoggedRequest::new(10_000_000, "192.0.2.1".parse().unwrap(), None, Some(200), Some(b"GET / HTTP/1.1"))];
/// let r = correlate(&mut conns, &reqs, &[], &CorrelateOptions::default());
/// assert_eq!(r.matched, 1);
/// assert_eq!(conns[0].requests.len(), 1);
/// ```
pub fn correlate(
    conns: &mut [ConnFacts],
    requests: &[LoggedRequest],
    timeouts: &[TimeoutNote],
    opts: &CorrelateOptions,
) -> Correlation {
    let idx = ByAddr::new(conns);
    let tol = opts.tolerance_us;
    let mut assigned = assign(
        &idx,
        conns,
        requests,
        opts.fixed_offset_us.unwrap_or(0),
        tol,
    );
    let (estimate, pairs) = match opts.fixed_offset_us {
        Some(o) => (Some(o), 0),
        None => {
            let (e, n) = estimate_offset(conns, requests, &assigned);
            let e = e.filter(|o| o.unsigned_abs() <= opts.max_offset_us.unsigned_abs());
            if let Some(o) = e.filter(|o| *o != 0) {
                assigned = assign(&idx, conns, requests, o, tol);
            }
            (e, n)
        }
    };
    let offset = estimate.unwrap_or(0);
    let mut out = Correlation {
        clock_offset_us: estimate,
        offset_pairs: pairs,
        ..Correlation::default()
    };
    for (r, a) in requests.iter().zip(assigned) {
        let t = r.ts_us.saturating_sub(offset);
        match a {
            Some(i) => {
                if let Some(c) = conns.get_mut(i) {
                    if c.requests.len() < 10_000 {
                        c.requests.push(RequestFacts {
                            ts_us: t,
                            status: r.status,
                            request: r.request.clone(),
                            kind: r.kind,
                        });
                    }
                    out.matched += 1;
                }
            }
            None => out.unmatched += 1,
        }
    }
    for tnote in timeouts {
        let t = tnote.ts_us.saturating_sub(offset);
        // The note is written when the timeout fires, long after the connection started.
        let found = idx
            .find(
                conns,
                &[],
                tnote.client,
                tnote.client_port,
                t,
                opts.tolerance_us,
            )
            .filter(|&i| {
                conns
                    .get(i)
                    .is_some_and(|c| c.end_us.saturating_add(opts.tolerance_us) >= t)
            });
        if let Some(c) = found.and_then(|i| conns.get_mut(i)) {
            c.header_timeout = true;
            out.timeouts_matched += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(ip: &str, port: u16, start_s: i64, end_s: i64, hist: &str) -> ConnFacts {
        let mut c = ConnFacts::new(
            format!("{ip}:{port}").parse().unwrap(),
            "198.51.100.1:80".parse().unwrap(),
            start_s * 1_000_000,
            InputKind::Packets,
        );
        c.end_us = end_s * 1_000_000;
        c.history = hist.to_owned();
        c.handshake_completed = hist.contains('A');
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
        // Access clock 3 s ahead; keep-alive on the first two connections.
        let mut conns = vec![
            conn("192.0.2.1", 1000, 100, 110, "ShADadFf"),
            conn("192.0.2.1", 1001, 200, 205, "ShADadFf"),
            conn("192.0.2.1", 1005, 250, 251, "ShADadFf"),
            conn("192.0.2.1", 1002, 300, 301, "ShAR"),
            conn("192.0.2.9", 1003, 150, 151, "Sh"),
        ];
        let reqs = [
            req("192.0.2.1", None, 103),
            req("192.0.2.1", None, 108),
            req("192.0.2.1", None, 203),
            req("192.0.2.1", None, 204),
            req("192.0.2.1", None, 253),
        ];
        let r = correlate(&mut conns, &reqs, &[], &CorrelateOptions::default());
        assert_eq!(r.clock_offset_us, Some(3_000_000));
        assert_eq!(r.matched, 5);
        assert_eq!(conns[0].requests.len(), 2);
        assert_eq!(conns[1].requests.len(), 2);
        assert!(conns[3].requests.is_empty());
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
        let t = [TimeoutNote {
            ts_us: 120_000_000,
            client: "192.0.2.1".parse().unwrap(),
            client_port: Some(1000),
        }];
        let opts = CorrelateOptions {
            fixed_offset_us: Some(0),
            ..CorrelateOptions::default()
        };
        let r = correlate(&mut conns, &reqs, &t, &opts);
        assert_eq!((r.matched, r.unmatched, r.timeouts_matched), (1, 1, 1));
        assert_eq!(conns[1].requests.len(), 1);
        assert!(conns[0].header_timeout);
    }
}
