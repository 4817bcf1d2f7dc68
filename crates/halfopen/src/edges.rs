//! The connections at the edges of an input's time span, kept whole so that a merge can join
//! the two pieces of a connection that a cut between two runs split (a day's log ends at
//! midnight while a connection is open; the next day's log has the rest of it).
//!
//! A run over one day cannot tell how a connection open at its end turns out, nor how one
//! already open at its start began. Rolled up as they are, both pieces count: the connection
//! twice, each piece with too little evidence (the SYN at 23:59:59 "the input ended", the
//! server's SYN-ACK retransmissions at 00:00:01 "a handshake begun before the input"). So the
//! rollup stage holds them back ([`Edges::hold`]); a summary carries them; `halfopen merge`
//! joins the pieces that meet at a cut ([`Edges::merge`], [`join_pieces`]) and rolls up what is
//! no longer at an edge; the last stages roll up the rest as they are.
//!
//! Held: connections still open when the input ended (the flow table's end of input), and
//! connections first seen within [`HEAD_WINDOW_US`] of the input's start without their SYN,
//! from inputs with TCP flags (without flags, where a line cannot show a SYN: any connection
//! within the SYN timeout, from inputs that show more than each connection's first packet).
//! Not held (rolled up at once): connections with first bytes from a capture (not
//! serialised), and any past the memory budget's cap (at most [`MAX_EDGES`]; counted).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use halfopen_tcp::state::state_of_history;

use crate::facts::ConnFacts;

/// How long after an input's start a connection first seen without its SYN may be the rest of
/// one the previous input ended with, µs (Apache's longest default wait on a client is 300 s).
pub const HEAD_WINDOW_US: i64 = 300_000_000;

/// Connections held at an input's edges at most; past it they are rolled up at once.
pub const MAX_EDGES: usize = 65_536;

/// The connections held at an input's (or merged inputs') edges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Edges {
    /// Open at the end of the input, or first seen without a SYN near its start.
    pub held: Vec<ConnFacts>,
    /// Edge connections rolled up at once because the cap ([`Edges::hold`]) was reached.
    pub not_held: u64,
    /// Pieces of one connection joined by merges.
    pub joined: u64,
    /// Summaries merged into these edges besides the first.
    pub merges: u64,
}

impl Edges {
    /// Holds `c` if it is at an edge of an input that began at `span_start` (µs) and fewer
    /// than `cap` (and [`MAX_EDGES`]) are held; false when it is not (roll it up).
    ///
    /// ```
    /// use halfopen::edges::Edges;
    /// use halfopen::evidence::Shows;
    /// use halfopen::facts::{ConnFacts, history_of};
    /// let mut c = ConnFacts::new("192.0.2.1:4000".parse().unwrap(), "198.51.100.1:80".parse().unwrap(), 9_000_000, Shows::EveryPacket);
    /// c.history = history_of("Sh");
    /// let mut e = Edges::default();
    /// assert!(!e.hold(&c, 0, 1000)); // it began inside the input and ended there
    /// c.open_at_end = true;
    /// assert!(e.hold(&c, 0, 1000));
    /// ```
    pub fn hold(&mut self, c: &ConnFacts, span_start: i64, cap: usize) -> bool {
        if c.payload.is_some() || !at_edge(c, span_start) {
            return false;
        }
        if self.held.len() >= cap.min(MAX_EDGES) {
            self.not_held += 1;
            return false;
        }
        self.held.push(c.clone());
        true
    }

    /// Once the input's start is known for good: the connections no longer at an edge (an
    /// earlier connection moved the start), to roll up.
    pub fn settle(&mut self, span_start: i64) -> Vec<ConnFacts> {
        let (keep, go) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|c| at_edge(c, span_start));
        self.held = keep;
        go
    }

    /// Every connection held, to roll up as it is (nothing is left to join).
    pub fn take_all(&mut self) -> Vec<ConnFacts> {
        std::mem::take(&mut self.held)
    }

    /// The edges of two summaries merged: a connection open at one's end and one the other
    /// picked up without its SYN are joined when they are pieces of one ([`join_pieces`]).
    /// Returns the merged edges and the connections no longer at an edge, to roll up. A
    /// connection open at one's end that the other does not continue, though it goes on past
    /// that end on the same server, timed out in between: it is no longer "open when the
    /// input ended". Summaries of other servers (not naming the connection's server) leave it
    /// open, for a later merge.
    pub fn merge(mut x: Part<'_>, mut y: Part<'_>) -> (Edges, Vec<ConnFacts>) {
        let start = match (x.span, y.span) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (a, b) => a.or(b).map_or(i64::MIN, |s| s.0),
        };
        let mut merged = Edges {
            held: Vec::new(),
            not_held: x.edges.not_held + y.edges.not_held,
            joined: x.edges.joined + y.edges.joined,
            merges: x.edges.merges + y.edges.merges + 1,
        };
        let mut all: Vec<(bool, Option<ConnFacts>)> = Vec::new();
        all.extend(x.edges.take_all().into_iter().map(|c| (true, Some(c))));
        all.extend(y.edges.take_all().into_iter().map(|c| (false, Some(c))));
        let mut ends: HashMap<(SocketAddr, SocketAddr), Vec<usize>> = HashMap::new();
        for (i, (_, c)) in all.iter().enumerate() {
            if let Some(c) = c.as_ref().filter(|c| c.open_at_end) {
                ends.entry(pair(c)).or_default().push(i);
            }
        }
        let mut out = Vec::new();
        for i in 0..all.len() {
            let Some((side, Some(b))) = all.get(i).map(|(s, c)| (*s, c.as_ref())) else {
                continue;
            };
            let found = ends.get(&pair(b)).and_then(|is| {
                is.iter().find_map(|&k| match all.get(k) {
                    Some((s, Some(a))) if *s != side => join_pieces(a, b).map(|j| (k, j)),
                    _ => None,
                })
            });
            if let Some((k, j)) = found {
                for n in [i, k] {
                    if let Some(slot) = all.get_mut(n) {
                        slot.1 = None;
                    }
                }
                merged.joined += 1;
                merged.place(j, start, &mut out);
            }
        }
        for (side, c) in all {
            let Some(mut c) = c else { continue };
            let other = if side { &y } else { &x };
            if c.open_at_end && other.continues_past(&c) {
                c.open_at_end = false;
                c.log_ended = None;
            }
            merged.place(c, start, &mut out);
        }
        (merged, out)
    }

    /// Holds `c` if it is still at an edge and there is room (counted when there is not);
    /// else hands it to `out`, to roll up.
    fn place(&mut self, c: ConnFacts, start: i64, out: &mut Vec<ConnFacts>) {
        let edge = at_edge(&c, start);
        if edge && self.held.len() < MAX_EDGES {
            self.held.push(c);
        } else {
            self.not_held += u64::from(edge);
            out.push(c);
        }
    }
}

/// One summary's side of a merge ([`Edges::merge`]).
#[derive(Debug)]
pub struct Part<'a> {
    /// Its edges.
    pub edges: Edges,
    /// Its connections' time span (firewall clock), µs.
    pub span: Option<(i64, i64)>,
    /// The servers it covers (none named: any).
    pub servers: &'a [IpAddr],
}

impl Part<'_> {
    /// Whether this summary's input goes on past `c`'s end on `c`'s server: had `c` been open
    /// there, this input would have shown it.
    fn continues_past(&self, c: &ConnFacts) -> bool {
        let server = c.resp.ip();
        self.span.is_some_and(|(_, end)| end > c.end_us)
            && (self.servers.is_empty() || self.servers.contains(&server))
    }
}

/// Open at the input's end, or possibly the rest of a connection open before its start: with
/// TCP flags, picked up without its SYN within [`HEAD_WINDOW_US`]; without (ipfw logging every
/// packet), any connection of an input that shows more than first packets, within the SYN
/// timeout (the flow table's idle limit for flag-less flows).
fn at_edge(c: &ConnFacts, span_start: i64) -> bool {
    let since = c.start_us.saturating_sub(span_start);
    c.open_at_end
        || match c.flags {
            true => !c.syn_seen() && since <= HEAD_WINDOW_US,
            false => c.shows.client_after_syn() && since <= syn_timeout(),
        }
}

/// The flow table's SYN timeout (its default), µs.
fn syn_timeout() -> i64 {
    halfopen_tcp::Config::default().syn_timeout_us
}

/// A connection's endpoints, in an order that does not depend on who was taken as originator.
fn pair(c: &ConnFacts) -> (SocketAddr, SocketAddr) {
    if c.orig <= c.resp {
        (c.orig, c.resp)
    } else {
        (c.resp, c.orig)
    }
}

/// `a` (open when its input ended) and `b` (picked up without its SYN by the next input, or any
/// flag-less piece) as one connection, when they are pieces of one: the same endpoints, both
/// with TCP flags or both without, `b` starting after `a` within the flow table's timeout for
/// `a`'s state (the SYN timeout before a handshake or without flags, [`HEAD_WINDOW_US`] after).
/// The joined connection is what one run over both inputs would have reported: `a`'s start,
/// SYN and first packets, `b`'s end, the histories appended ([`halfopen_tcp::History::append`]),
/// the packets and requests added, the state replayed from the history.
///
/// ```
/// use halfopen::evidence::Shows;
/// use halfopen::facts::{ConnFacts, history_of};
/// use halfopen::edges::join_pieces;
/// use halfopen::infer::{Outcome, outcome};
/// let (c, s) = ("192.0.2.1:4000".parse().unwrap(), "198.51.100.1:80".parse().unwrap());
/// // A flood's SYN a second before midnight, answered; the input ended.
/// let mut a = ConnFacts::new(c, s, 86_399_000_000, Shows::EveryPacket);
/// a.history = history_of("Sh");
/// a.syn_count = 1;
/// a.open_at_end = true;
/// a.log_ended = Some((0, 3));
/// // The server's SYN-ACK retransmissions after midnight.
/// let mut b = ConnFacts::new(c, s, 86_401_000_000, Shows::EveryPacket);
/// b.history = history_of("^h");
/// b.resp_pkts = 5;
/// assert_eq!(outcome(&a), Outcome::LogEnded);
/// assert_eq!(outcome(&b), Outcome::UnsolicitedSynAck);
/// let joined = join_pieces(&a, &b).unwrap();
/// assert_eq!(outcome(&joined), Outcome::SynAckUnanswered);
/// assert_eq!(joined.history.to_string(), "Sh");
/// ```
pub fn join_pieces(a: &ConnFacts, b: &ConnFacts) -> Option<ConnFacts> {
    let continues = match b.flags {
        true => !b.syn_seen(),
        // A flag-less line cannot show a SYN: the first of a 4-tuple is taken as one.
        false => b.shows.client_after_syn(),
    };
    if !a.open_at_end || a.flags != b.flags || !continues || b.start_us < a.end_us {
        return None;
    }
    let flipped = match (
        a.orig == b.orig && a.resp == b.resp,
        a.orig == b.resp && a.resp == b.orig,
    ) {
        (true, _) => false,
        (_, true) => true,
        _ => return None,
    };
    let established = a.flags && (a.handshake_completed || a.reply_seen_by_orig);
    let limit = match established {
        true => HEAD_WINDOW_US,
        false => syn_timeout(),
    };
    if b.start_us - a.end_us > limit {
        return None;
    }
    // `b`'s letters as `a`'s originator would have them.
    let later = match flipped {
        true => b.history.turned_round(),
        false => b.history,
    };
    let mut j = a.clone();
    j.end_us = b.end_us.max(a.end_us);
    j.history.append(&later);
    let (b_orig, b_resp) = match flipped {
        false => (b.orig_pkts, b.resp_pkts),
        true => (b.resp_pkts, b.orig_pkts),
    };
    j.orig_pkts = a.orig_pkts.saturating_add(b_orig);
    j.resp_pkts = a.resp_pkts.saturating_add(b_resp);
    if !flipped {
        j.orig_bytes = match (a.orig_bytes, b.orig_bytes) {
            (Some(x), Some(y)) => Some(x.saturating_add(y)),
            (x, y) => x.or(y),
        };
        j.orig_sent_payload = match (a.orig_sent_payload, b.orig_sent_payload) {
            (Some(x), Some(y)) => Some(x || y),
            (x, y) => x.or(y),
        };
    }
    let later = later.as_bytes();
    j.handshake_completed = a.handshake_completed || b.handshake_completed || completes(a, later);
    j.reply_seen_by_orig = j.handshake_completed
        || a.reply_seen_by_orig
        || (a.has('S') && later.iter().any(|&x| x == b'A' || x == b'D'));
    if j.state.is_some() {
        let no_bytes = !j.has('D') && !j.has('d');
        j.state = Some(state_of_history(j.history.as_bytes(), no_bytes));
    }
    j.requests.merge(&b.requests);
    j.open_at_end = b.open_at_end;
    j.log_ended = match b.open_at_end && !j.handshake_completed && !j.reply_seen_by_orig {
        true => b.log_ended,
        false => None,
    };
    Some(j)
}

/// The handshake `a` began (its SYN) completes in the later piece's letters: the server's
/// SYN-ACK (in `a` or the later piece) and then the client's ACK (alone, with data or with a
/// FIN).
fn completes(a: &ConnFacts, later: &[u8]) -> bool {
    if !a.has('S') {
        return false;
    }
    let after_synack = match a.has('h') {
        true => later,
        false => match later.iter().position(|&x| x == b'h') {
            Some(i) => later.get(i + 1..).unwrap_or(&[]),
            None => return false,
        },
    };
    // A FIN carries the ACK flag (every stack sets it once it has the SYN-ACK).
    after_synack
        .iter()
        .any(|&x| matches!(x, b'A' | b'D' | b'F'))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};

    use super::*;
    use crate::evidence::Shows;
    use crate::facts::{RequestExample, history_of};
    use crate::infer::{Outcome, outcome};

    const CLIENT: &str = "192.0.2.1:40000";
    const SERVER: &str = "198.51.100.7:80";

    fn piece(start_s: i64, end_s: i64, history: &str) -> ConnFacts {
        let (c, s) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
        let mut f = ConnFacts::new(c, s, start_s * 1_000_000, Shows::EveryPacket);
        f.end_us = end_s * 1_000_000;
        f.history = history_of(history);
        f.syn_count = u32::from(history.contains('S'));
        f.handshake_completed = history.contains("ShA");
        f.reply_seen_by_orig = f.handshake_completed;
        f
    }

    /// The events of one connection through one flow table, ended at the end of input: its
    /// facts, when the events made exactly one connection.
    fn tracked(events: &[(i64, bool, TcpFlags, u32)]) -> Option<ConnFacts> {
        let (c, s): (SocketAddr, SocketAddr) = (CLIENT.parse().ok()?, SERVER.parse().ok()?);
        let mut t = FlowTable::new(Config::default());
        for &(ts, from_client, flags, len) in events {
            let (a, b) = if from_client { (c, s) } else { (s, c) };
            let mut e = Event::new(ts, a.ip(), a.port(), b.ip(), b.port()).with_flags(flags);
            e.payload_len = Some(len);
            t.observe(&e);
        }
        t.finish();
        let conn = t.pop_finished()?;
        if t.pop_finished().is_some() {
            return None;
        }
        Some(ConnFacts::from_connection(
            &conn,
            0,
            Shows::EveryPacket,
            true,
        ))
    }

    fn segment() -> impl Strategy<Value = (bool, TcpFlags, u32)> {
        prop_oneof![
            Just((false, TcpFlags::SYN | TcpFlags::ACK, 0)),
            Just((true, TcpFlags::ACK, 0)),
            Just((true, TcpFlags::ACK, 120)),
            Just((false, TcpFlags::ACK, 900)),
            Just((true, TcpFlags::FIN | TcpFlags::ACK, 0)),
            Just((false, TcpFlags::FIN | TcpFlags::ACK, 0)),
            Just((true, TcpFlags::RST, 0)),
            Just((false, TcpFlags::RST | TcpFlags::ACK, 0)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            max_global_rejects: 1_000_000,
            ..ProptestConfig::with_cases(512)
        })]

        /// A connection cut in two by the end of one input and the start of the next, each
        /// piece tracked alone and the pieces joined, has the outcome, state and counts that
        /// one flow table over all of it gave.
        #[test]
        fn joined_pieces_are_the_whole_connection(
            rest in proptest::collection::vec((segment(), 0i64..4_000_000), 1..8),
            cut in 1usize..8,
        ) {
            let mut events = vec![(0i64, true, TcpFlags::SYN, 0u32)];
            let mut ts = 0;
            for ((from_client, flags, len), gap) in rest {
                ts += gap + 1;
                events.push((ts, from_client, flags, len));
            }
            // A client stack sends nothing after its SYN before the SYN-ACK (an input may
            // miss the SYN-ACK altogether: inbound-only logs).
            let synack = events.iter().position(|e| e.2 == TcpFlags::SYN | TcpFlags::ACK);
            if let Some(i) = synack {
                prop_assume!(events[1..i].iter().all(|e| !e.1));
            }
            let cut = cut.min(events.len() - 1);
            let (Some(whole), Some(a), Some(b)) = (
                tracked(&events),
                tracked(&events[..cut]),
                tracked(&events[cut..]),
            ) else {
                return Ok(());
            };
            prop_assume!(!b.syn_seen());
            let j = join_pieces(&a, &b);
            prop_assert!(j.is_some(), "{} + {} not joined", a.history, b.history);
            let j = j.unwrap_or(whole.clone());
            prop_assert_eq!(outcome(&j), outcome(&whole), "{} + {} vs {}", a.history, b.history, whole.history);
            prop_assert_eq!(j.state, whole.state, "{} + {} vs {}", a.history, b.history, whole.history);
            prop_assert_eq!(
                (j.orig_pkts, j.resp_pkts, j.orig_bytes, j.handshake_completed, j.reply_seen_by_orig),
                (whole.orig_pkts, whole.resp_pkts, whole.orig_bytes, whole.handshake_completed, whole.reply_seen_by_orig)
            );
            prop_assert_eq!((j.start_us, j.end_us), (whole.start_us, whole.end_us));
        }
    }

    #[test]
    fn a_cut_open_connection_is_joined_whole() {
        let mut a = piece(86_390, 86_399, "ShAD");
        a.open_at_end = true;
        let mut b = piece(86_401, 86_410, "^dADFf");
        b.requests.add(
            RequestExample::new(0, Some(200), Some(b"GET / HTTP/1.1")),
            true,
        );
        let mut later = Edges::default();
        assert!(later.hold(&b, 86_400_000_000, MAX_EDGES));
        let mut earlier = Edges::default();
        assert!(earlier.hold(&a, 0, MAX_EDGES));
        let (merged, inside) = Edges::merge(part(earlier, 0, 86_399), part(later, 86_401, 90_000));
        assert_eq!((merged.joined, merged.merges), (1, 1));
        assert!(merged.held.is_empty());
        let [j] = &inside[..] else {
            panic!("{inside:?}")
        };
        assert_eq!(j.history.to_string(), "ShADdFf");
        assert_eq!((j.start_us, j.end_us), (86_390_000_000, 86_410_000_000));
        assert_eq!(outcome(j), Outcome::Served);
        assert!(!j.open_at_end);
    }

    #[test]
    fn a_connection_the_next_input_does_not_continue_timed_out() {
        let mut a = piece(100, 100, "S");
        a.open_at_end = true;
        a.log_ended = Some((1, 3));
        assert_eq!(outcome(&a), Outcome::LogEnded);
        let mut earlier = Edges::default();
        assert!(earlier.hold(&a, 0, MAX_EDGES));
        // Too late to be the same attempt: past the SYN timeout.
        let mut b = piece(200, 201, "^h");
        b.resp_pkts = 2;
        let mut later = Edges::default();
        assert!(later.hold(&b, 150_000_000, MAX_EDGES));
        let (merged, inside) = Edges::merge(part(earlier, 0, 100), part(later, 150, 300));
        assert_eq!(merged.joined, 0);
        // The SYN-ACKs are still near the merged start (within the head window): held.
        assert_eq!(merged.held.len(), 1);
        let [lone] = &inside[..] else {
            panic!("{inside:?}")
        };
        assert_eq!(outcome(lone), Outcome::ServerSilent);
        assert!(!lone.open_at_end && lone.log_ended.is_none());
    }

    fn part(edges: Edges, from_s: i64, to_s: i64) -> Part<'static> {
        Part {
            edges,
            span: Some((from_s * 1_000_000, to_s * 1_000_000)),
            servers: &[],
        }
    }

    #[test]
    fn another_servers_summary_leaves_a_connection_open() {
        let mut a = piece(100, 100, "S");
        a.open_at_end = true;
        a.log_ended = Some((1, 3));
        let mut mine = Edges::default();
        assert!(mine.hold(&a, 0, MAX_EDGES));
        let other_server: &[IpAddr] = &["198.51.100.8".parse().unwrap()];
        let theirs = Part {
            edges: Edges::default(),
            span: Some((0, 200_000_000)),
            servers: other_server,
        };
        let (merged, inside) = Edges::merge(part(mine, 0, 100), theirs);
        assert!(inside.is_empty());
        assert_eq!(merged.held, vec![a]);
    }

    #[test]
    fn pieces_seen_from_the_other_side_are_turned_round() {
        let mut a = piece(10, 20, "ShA");
        a.open_at_end = true;
        // The next input took the server as originator (its first packet came from it).
        let (c, s) = (CLIENT.parse().unwrap(), SERVER.parse().unwrap());
        let mut b = ConnFacts::new(s, c, 21_000_000, Shows::EveryPacket);
        b.end_us = 22_000_000;
        b.history = history_of("DFaf");
        b.orig_pkts = 2;
        b.resp_pkts = 2;
        let j = join_pieces(&a, &b).expect("joined");
        assert_eq!(j.history.to_string(), "ShAdfF");
        assert_eq!((j.orig, j.resp), (a.orig, a.resp));
        assert_eq!((j.orig_pkts, j.resp_pkts), (2, 2));
    }

    #[test]
    fn edges_survive_a_summary_file() {
        let mut a = piece(10, 20, "ShAD");
        a.open_at_end = true;
        a.state = Some(halfopen_tcp::ConnState::S1);
        a.requests.add_tool("masscan");
        let mut e = Edges::default();
        assert!(e.hold(&a, 0, MAX_EDGES));
        let back: Edges =
            serde_json::from_str(&serde_json::to_string(&e).expect("json")).expect("read back");
        assert_eq!(back, e);
        assert_eq!(back.held[0].requests.tool, Some("masscan"));
    }

    #[test]
    fn edges_are_capped_and_counted() {
        let mut e = Edges::default();
        let mut c = piece(0, 1, "S");
        c.open_at_end = true;
        for _ in 0..MAX_EDGES + 5 {
            e.hold(&c, 0, MAX_EDGES);
        }
        assert_eq!((e.held.len(), e.not_held), (MAX_EDGES, 5));
    }
}
