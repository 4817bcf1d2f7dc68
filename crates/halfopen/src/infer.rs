//! The inference table: what one connection's observations prove, given what its input shows
//! ([`Shows`]). docs/halfopen.md has the same table in words; this module is its code.
//!
//! | observation | every packet | inbound only | SYNs only / one line per connection |
//! |---|---|---|---|
//! | a logged request | decides (served, slow, non-HTTP, timed out) | decides | decides |
//! | the client's first bytes (a capture), no logged request | a whole HTTP request: served (400/408 from the server: bad, slow); a head unfinished after 5 s: slow; another protocol: non-HTTP | — | — |
//! | no SYN from the client | already open when the input began: not an attempt | same | — |
//! | server RST to the SYN | refused (port closed) | not visible | not visible |
//! | SYN-ACK, then client RST | a real host refused the connection (raw-socket SYN tool) | client RST after its SYN | not visible |
//! | SYN-ACK never acknowledged | half-open, proven | not visible | not visible |
//! | one SYN, nothing else from the client | the server never answered | half-open likely (no retransmission, no ACK) | an attempt, outcome not visible |
//! | the SYN retransmitted, nothing else | a real stack retrying an unanswered SYN | same | an attempt, retried |
//! | client ACK or data after the SYN | handshake completed | handshake completed | not visible |
//! | no data, client closes within 1 s / later | connect-and-close / idle | same | not visible |
//! | no data, server closes first | idle until the server's timeout | not visible | not visible |
//! | the input ends within the SYN timeout | outcome unknown | same | same |

use serde::{Deserialize, Serialize};

use crate::evidence::Shows;
use crate::facts::{ConnFacts, PayloadClass, RequestKind};

/// What one connection's evidence shows happened, given its input's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// At least one complete request was logged.
    Served,
    /// An unfinished request the server timed out on (408 with a request line, or a read
    /// timeout after the client sent data).
    SlowRequest,
    /// A request the server rejected as malformed or cut off (400 with an HTTP request line).
    BadRequest,
    /// Bytes that are not HTTP (400 for a TLS ClientHello, binary).
    NonHttp,
    /// An HTTP/2 preface sent to an HTTP/1-only server (400 `PRI * HTTP/2.0`).
    Http2Preface,
    /// Nothing sent until the server gave up (408 `"-"`, a read timeout, or the server closed
    /// an idle connection first).
    IdleTimeout,
    /// No SYN from the client: the connection was open before the input began.
    Midstream,
    /// SYN-ACKs with no SYN in the input: a handshake begun before the input began (the
    /// server retransmitting to a flood's spoofed source), or backscatter when the server's
    /// own address is the one that never sent the SYN.
    UnsolicitedSynAck,
    /// The server answered the SYN with an RST: nothing listens (refused).
    Refused,
    /// The server never answered the SYN(s).
    ServerSilent,
    /// The server's SYN-ACK was never acknowledged and the client never reset it: proven
    /// half-open (a spoofed source, or one that drops what comes back).
    SynAckUnanswered,
    /// The client answered the SYN-ACK with an RST: a real host that did not want the
    /// connection (a raw-socket SYN tool such as nmap `-sS` or hping3 from its own address).
    ResetAfterSynAck,
    /// Inbound-only input: one SYN, no retransmission, and nothing more from the client.
    LoneSyn,
    /// The SYN was retransmitted and nothing more came from the client: a real stack retrying
    /// a SYN that was not answered in time.
    RetriedSyn,
    /// One line per connection or SYNs only: an attempt whose outcome is not visible.
    Attempt,
    /// The input ended within the SYN timeout after the SYN: the outcome is not known yet.
    LogEnded,
    /// Handshake completed, no data, the client closed within a second.
    ClosedAtOnce,
    /// Handshake completed, no data, the client closed after more than a second.
    ClosedIdle,
    /// Handshake completed, no data, still open when the input ended.
    OpenIdle,
    /// Handshake completed and the client sent data, but no request matched.
    DataNoRequest,
    /// A TLS handshake (or its start) to a port that speaks TLS, and no request logged: the
    /// client never asked the server anything (a TLS scanner's probes, a browser's unused
    /// HTTPS preconnect, a client that rejected the certificate).
    TlsNoRequest,
    /// Handshake completed (the client sent more than its SYN), nothing more is visible.
    Completed,
}

impl Outcome {
    /// Every outcome, in counter order.
    pub const ALL: [Outcome; 22] = [
        Outcome::Served,
        Outcome::SlowRequest,
        Outcome::BadRequest,
        Outcome::NonHttp,
        Outcome::Http2Preface,
        Outcome::IdleTimeout,
        Outcome::Midstream,
        Outcome::UnsolicitedSynAck,
        Outcome::Refused,
        Outcome::ServerSilent,
        Outcome::SynAckUnanswered,
        Outcome::ResetAfterSynAck,
        Outcome::LoneSyn,
        Outcome::RetriedSyn,
        Outcome::Attempt,
        Outcome::LogEnded,
        Outcome::ClosedAtOnce,
        Outcome::ClosedIdle,
        Outcome::OpenIdle,
        Outcome::DataNoRequest,
        Outcome::TlsNoRequest,
        Outcome::Completed,
    ];

    /// Number of outcomes.
    pub const COUNT: usize = Outcome::ALL.len();

    /// Counter index.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Served => "served",
            Outcome::SlowRequest => "slow_request",
            Outcome::BadRequest => "bad_request",
            Outcome::NonHttp => "non_http",
            Outcome::Http2Preface => "http2_preface",
            Outcome::IdleTimeout => "idle_timeout",
            Outcome::Midstream => "midstream",
            Outcome::UnsolicitedSynAck => "unsolicited_syn_ack",
            Outcome::Refused => "refused",
            Outcome::ServerSilent => "server_silent",
            Outcome::SynAckUnanswered => "syn_ack_unanswered",
            Outcome::ResetAfterSynAck => "reset_after_syn_ack",
            Outcome::LoneSyn => "lone_syn",
            Outcome::RetriedSyn => "retried_syn",
            Outcome::Attempt => "attempt",
            Outcome::LogEnded => "log_ended",
            Outcome::ClosedAtOnce => "closed_at_once",
            Outcome::ClosedIdle => "closed_idle",
            Outcome::OpenIdle => "open_idle",
            Outcome::DataNoRequest => "data_no_request",
            Outcome::TlsNoRequest => "tls_no_request",
            Outcome::Completed => "completed",
        }
    }

    /// True for an attempt that never became a connection as far as the input shows: these
    /// are what a flood is made of.
    pub const fn never_completed(self) -> bool {
        matches!(
            self,
            Outcome::SynAckUnanswered
                | Outcome::ResetAfterSynAck
                | Outcome::LoneSyn
                | Outcome::ServerSilent
                | Outcome::RetriedSyn
        )
    }

    /// True when the outcome itself proves the handshake did not complete.
    pub const fn proven_half_open(self) -> bool {
        matches!(
            self,
            Outcome::SynAckUnanswered | Outcome::ResetAfterSynAck | Outcome::LoneSyn
        )
    }

    /// True for an outcome decided by a logged request (or the error log).
    pub const fn from_web_log(self) -> bool {
        matches!(
            self,
            Outcome::Served
                | Outcome::SlowRequest
                | Outcome::BadRequest
                | Outcome::NonHttp
                | Outcome::Http2Preface
                | Outcome::IdleTimeout
        )
    }

    /// In words (one connection).
    pub fn sentence(self) -> &'static str {
        match self {
            Outcome::Served => "carried a request the server completed",
            Outcome::SlowRequest => "held an unfinished request until the server timed out",
            Outcome::BadRequest => {
                "sent a request the server rejected as malformed or cut off (400)"
            }
            Outcome::NonHttp => "sent bytes that are not HTTP",
            Outcome::Http2Preface => "sent an HTTP/2 preface to an HTTP/1-only server",
            Outcome::IdleTimeout => "sent nothing until the server gave up",
            Outcome::Midstream => {
                "no SYN seen: the connection was already open when the input began"
            }
            Outcome::UnsolicitedSynAck => {
                "SYN-ACKs without a SYN in the input (a handshake begun before the input began, or \
                 backscatter)"
            }
            Outcome::Refused => "the server refused the SYN with an RST (nothing listens)",
            Outcome::ServerSilent => "the server never answered the SYN",
            Outcome::SynAckUnanswered => {
                "the server's SYN-ACK was never acknowledged and never reset"
            }
            Outcome::ResetAfterSynAck => {
                "the client's host answered the server's SYN-ACK with an RST (a real address; a \
                 raw-socket SYN tool)"
            }
            Outcome::LoneSyn => "a single SYN, no retransmission, and nothing more from the client",
            Outcome::RetriedSyn => {
                "the SYN was retransmitted (a real TCP stack retrying) and nothing more came"
            }
            Outcome::Attempt => "a connection attempt whose outcome the input does not show",
            Outcome::LogEnded => "the input ended within the SYN timeout: outcome not known",
            Outcome::ClosedAtOnce => "handshake, no data, the client closed within a second",
            Outcome::ClosedIdle => "handshake, no data, the client closed later",
            Outcome::OpenIdle => "handshake, no data, still open when the input ended",
            Outcome::DataNoRequest => "the client sent data but no request was logged for it",
            Outcome::TlsNoRequest => {
                "a TLS handshake to a port that speaks TLS, and no request logged for it"
            }
            Outcome::Completed => "the handshake completed; nothing more is visible",
        }
    }
}

/// Client packets of a silent connection the server timed out: SYN, ACK, then the ACK and FIN
/// answering the server's close (and one retransmission).
pub const TRICKLE_PACKETS: u64 = 5;

/// Largest lifetime of a connection the client closes "at once" (connect scans close within
/// milliseconds; browsers keep an unused connection 10 s and more).
pub const AT_ONCE_MS: u64 = 500;

/// What one connection's evidence shows, from the web logs first, then the packets its input
/// shows.
///
/// ```
/// use halfopen::evidence::Shows;
/// use halfopen::facts::ConnFacts;
/// use halfopen::infer::{outcome, Outcome};
/// let mut c = ConnFacts::new("192.0.2.1:50000".parse().unwrap(), "198.51.100.1:80".parse().unwrap(), 0, Shows::EveryPacket);
/// c.history = halfopen::facts::history_of("Sh");
/// c.syn_count = 1;
/// assert_eq!(outcome(&c), Outcome::SynAckUnanswered);
/// c.shows = Shows::SynOnly;
/// c.history = halfopen::facts::history_of("S");
/// assert_eq!(outcome(&c), Outcome::Attempt);
/// ```
pub fn outcome(c: &ConnFacts) -> Outcome {
    if let Some(o) = from_web_logs(c) {
        return o;
    }
    if let Some(o) = from_first_bytes(c) {
        return o;
    }
    match (c.shows, c.flags) {
        (Shows::EveryPacket, true) => every_packet(c),
        (Shows::Inbound, true) => inbound(c),
        (Shows::EveryPacket, false) => every_packet_flagless(c),
        (Shows::Inbound, false) => inbound_flagless(c),
        (Shows::SynOnly | Shows::FirstPacket, _) => {
            if !c.syn_seen() {
                Outcome::Midstream
            } else {
                Outcome::Attempt
            }
        }
    }
}

fn from_web_logs(c: &ConnFacts) -> Option<Outcome> {
    let r = &c.requests;
    if r.completed() > 0 {
        return Some(Outcome::Served);
    }
    if r.count(RequestKind::TimeoutPartial) > 0 {
        return Some(Outcome::SlowRequest);
    }
    if r.count(RequestKind::BadRequest) > 0 {
        // mod_ssl logs plain HTTP on its port as a 400 for `GET / HTTP/1.0`, whatever was sent.
        return Some(if c.http_on_tls_port() {
            Outcome::NonHttp
        } else {
            Outcome::BadRequest
        });
    }
    if r.count(RequestKind::NonHttp) > 0 {
        return Some(Outcome::NonHttp);
    }
    if r.count(RequestKind::Http2Preface) > 0 {
        return Some(Outcome::Http2Preface);
    }
    if r.count(RequestKind::TimeoutEmpty) > 0 {
        return Some(Outcome::IdleTimeout);
    }
    match r.no_request {
        Some(true) => return Some(Outcome::IdleTimeout),
        Some(false) => return Some(closed_before_request(c)),
        None => {}
    }
    if r.read_timeout {
        // Flag-less lines show no payload, but a slow client's trickle shows as packets: more
        // than the SYN, the handshake's ACK and the closing ACK and FIN of a silent client.
        // On a port that speaks TLS the handshake is data and packets of its own.
        let trickled = !c.flags && c.shows.client_after_syn() && c.orig_pkts > TRICKLE_PACKETS;
        let sent = (c.sent_data() == Some(true) || trickled) && !c.bytes_may_be_tls_handshake();
        return Some(if sent {
            Outcome::SlowRequest
        } else {
            Outcome::IdleTimeout
        });
    }
    None
}

/// A connection the error log says the client closed (or reset) before a request: after a TLS
/// handshake where the port speaks TLS; else within a second or later, where the input shows
/// its end (a form of first packets or SYNs does not: within a second is all it can say).
fn closed_before_request(c: &ConnFacts) -> Outcome {
    if c.bytes_may_be_tls_handshake() {
        Outcome::TlsNoRequest
    } else if c.duration_ms() > AT_ONCE_MS {
        Outcome::ClosedIdle
    } else {
        Outcome::ClosedAtOnce
    }
}

/// How long an unfinished request head may take to arrive before it is a slow request, ms:
/// a browser sends its head in one segment; a slowloris client trickles a header line every
/// 10-15 s.
pub const SLOW_HEAD_MS: u64 = 5_000;

/// What the client's first bytes (kept from a capture) prove when no logged request did.
/// The web logs, when they have the connection, are the server's word and come first.
fn from_first_bytes(c: &ConnFacts) -> Option<Outcome> {
    let p = c.payload.as_deref()?;
    match p.class {
        PayloadClass::HttpComplete => match p.server_status {
            Some(400) => Some(Outcome::BadRequest),
            Some(408) => Some(Outcome::SlowRequest),
            Some(_) => Some(Outcome::Served),
            // No status line kept: served only if the capture shows the server sending data.
            // A capture of one direction never does, and a whole head alone proves nothing:
            // a slow-body attack sends its head whole and trickles the body.
            None if c.has('d') => Some(Outcome::Served),
            None => None,
        },
        PayloadClass::HttpPartial => {
            let server_closed = matches!(c.first_close(), Some((false, _)));
            let slow = p.server_status == Some(408)
                || p.spread_ms >= SLOW_HEAD_MS
                || (server_closed && c.duration_ms() >= SLOW_HEAD_MS);
            if slow {
                Some(Outcome::SlowRequest)
            } else if p.server_status == Some(400) {
                Some(Outcome::BadRequest)
            } else {
                None
            }
        }
        PayloadClass::Http2Preface => Some(Outcome::Http2Preface),
        PayloadClass::Other(_) | PayloadClass::HttpOnTlsPort => Some(Outcome::NonHttp),
        // The port's own protocol: whether a request followed is encrypted; the web logs say.
        PayloadClass::TlsHandshake => None,
        PayloadClass::Empty | PayloadClass::HttpCut | PayloadClass::Midstream => None,
    }
}

/// Outcomes of a connection that never got past the SYN, when the log ended before its
/// outcome could be known.
fn cut_off(c: &ConnFacts) -> Option<Outcome> {
    c.log_ended.map(|_| Outcome::LogEnded)
}

fn every_packet(c: &ConnFacts) -> Outcome {
    if !c.syn_seen() {
        return without_syn(c);
    }
    if !c.handshake_completed {
        let synack = c.has('h');
        if c.has('r') && !synack {
            return Outcome::Refused;
        }
        if synack && c.has('R') {
            return Outcome::ResetAfterSynAck;
        }
        if c.reply_seen_by_orig {
            // The client acknowledged a SYN-ACK the capture missed.
            return established(c);
        }
        if let Some(o) = cut_off(c) {
            return o;
        }
        if synack {
            return Outcome::SynAckUnanswered;
        }
        return if c.syn_count > 1 {
            Outcome::RetriedSyn
        } else {
            Outcome::ServerSilent
        };
    }
    established(c)
}

fn inbound(c: &ConnFacts) -> Outcome {
    if !c.syn_seen() {
        return without_syn(c);
    }
    if c.reply_seen_by_orig {
        return established(c);
    }
    if c.has('R') {
        return Outcome::ResetAfterSynAck;
    }
    if let Some(o) = cut_off(c) {
        return o;
    }
    if c.syn_count > 1 {
        Outcome::RetriedSyn
    } else {
        Outcome::LoneSyn
    }
}

/// A connection whose SYN the input does not show: SYN-ACKs and nothing from the receiving
/// end (backscatter, a reflection; in an input of one direction, also the receiver's own
/// connection, whose SYN and ACK went the other way), else one already open.
fn without_syn(c: &ConnFacts) -> Outcome {
    if c.has('h') && !c.has('A') && !c.has('D') {
        Outcome::UnsolicitedSynAck
    } else {
        Outcome::Midstream
    }
}

/// A completed handshake: what the client did next. A TLS handshake on a port that speaks
/// TLS is not a request: with none logged, the client sent the server nothing it could
/// answer, as a browser's unused HTTPS preconnect or a TLS scanner's probes.
fn established(c: &ConnFacts) -> Outcome {
    // (No request was matched to it: any would have decided in `from_web_logs`.)
    if c.sent_data() == Some(true) {
        if !c.bytes_may_be_tls_handshake() {
            return Outcome::DataNoRequest;
        }
        // The server ends a failed handshake at once (an alert, then its FIN); later, it
        // gave up waiting for a request.
        return match c.first_close() {
            Some((false, _)) if c.duration_ms() > AT_ONCE_MS => Outcome::IdleTimeout,
            _ => Outcome::TlsNoRequest,
        };
    }
    match c.first_close() {
        Some((true, _)) if c.duration_ms() <= AT_ONCE_MS => Outcome::ClosedAtOnce,
        Some((true, _)) => Outcome::ClosedIdle,
        Some((false, _)) => Outcome::IdleTimeout,
        None if c.sent_data().is_none() => Outcome::Completed,
        None => Outcome::OpenIdle,
    }
}

/// Every packet, no flags (ipfw logging both directions): packet counts per 4-tuple.
fn every_packet_flagless(c: &ConnFacts) -> Outcome {
    if !c.syn_seen() {
        return Outcome::Midstream;
    }
    match c.orig_pkts {
        0 | 1 => {
            if let Some(o) = cut_off(c) {
                return o;
            }
            if c.resp_pkts > 0 {
                Outcome::SynAckUnanswered
            } else {
                Outcome::ServerSilent
            }
        }
        _ => Outcome::Completed,
    }
}

/// Every inbound packet, no flags: a second line within a second of the first is the
/// handshake's ACK; lines a second or more apart may be SYN retransmissions.
fn inbound_flagless(c: &ConnFacts) -> Outcome {
    if !c.syn_seen() {
        return Outcome::Midstream;
    }
    if c.orig_pkts >= 3 || (c.orig_pkts == 2 && c.duration_ms() < 1_000) {
        return Outcome::Completed;
    }
    if let Some(o) = cut_off(c) {
        return o;
    }
    if c.orig_pkts >= 2 {
        Outcome::RetriedSyn
    } else {
        Outcome::LoneSyn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::RequestExample;

    fn conn(shows: Shows, history: &str) -> ConnFacts {
        let mut c = ConnFacts::new(
            "192.0.2.7:40000".parse().unwrap(),
            "198.51.100.1:80".parse().unwrap(),
            1_000_000,
            shows,
        );
        c.history = crate::facts::history_of(history);
        c.handshake_completed = history.contains('A') && history.contains('h');
        c.reply_seen_by_orig = history.contains('A') || history.contains('D');
        c.syn_count = 1;
        c.orig_pkts = 1;
        c
    }

    #[test]
    fn every_packet_table() {
        let e = Shows::EveryPacket;
        assert_eq!(outcome(&conn(e, "Sh")), Outcome::SynAckUnanswered);
        assert_eq!(outcome(&conn(e, "ShR")), Outcome::ResetAfterSynAck);
        assert_eq!(outcome(&conn(e, "Sr")), Outcome::Refused);
        assert_eq!(outcome(&conn(e, "S")), Outcome::ServerSilent);
        let mut c = conn(e, "S");
        c.syn_count = 3;
        assert_eq!(outcome(&c), Outcome::RetriedSyn);
        assert_eq!(outcome(&conn(e, "^hR")), Outcome::UnsolicitedSynAck);
        assert_eq!(outcome(&conn(e, "^DdA")), Outcome::Midstream);
        let mut c = conn(e, "ShAR");
        c.end_us = c.start_us + 2_000;
        assert_eq!(outcome(&c), Outcome::ClosedAtOnce);
        c.history = crate::facts::history_of("ShAFf");
        c.end_us = c.start_us + 10_000_000;
        assert_eq!(outcome(&c), Outcome::ClosedIdle);
        c.history = crate::facts::history_of("ShAfF");
        assert_eq!(outcome(&c), Outcome::IdleTimeout);
        c.history = crate::facts::history_of("ShADFf");
        assert_eq!(outcome(&c), Outcome::DataNoRequest);
        c.requests.add(
            RequestExample::new(0, Some(200), Some(b"GET / HTTP/1.1")),
            true,
        );
        assert_eq!(outcome(&c), Outcome::Served);
        let mut c = conn(e, "Sh");
        c.log_ended = Some((5, 63));
        assert_eq!(outcome(&c), Outcome::LogEnded);
    }

    /// On a port that speaks TLS, a client's data with no request logged is a TLS handshake
    /// at most: `tls_no_request`, never a connect-and-close probe and never "data, no request"
    /// (lab run `https`: a TLS scanner's 57 handshakes); the server closing first after a
    /// while is still an idle timeout, at once a refused handshake. Port 80 keeps its row.
    #[test]
    fn data_without_a_request_on_a_tls_port_is_a_handshake() {
        let mut c = conn(Shows::EveryPacket, "ShADadFf");
        c.resp = "198.51.100.1:443".parse().unwrap();
        c.end_us = c.start_us + 5_000;
        assert_eq!(outcome(&c), Outcome::TlsNoRequest);
        c.history = crate::facts::history_of("ShADadfF");
        assert_eq!(
            outcome(&c),
            Outcome::TlsNoRequest,
            "the server's alert and FIN"
        );
        c.end_us = c.start_us + 20_000_000;
        assert_eq!(outcome(&c), Outcome::IdleTimeout);
        c.resp = "198.51.100.1:80".parse().unwrap();
        assert_eq!(outcome(&c), Outcome::DataNoRequest);
    }

    #[test]
    fn inbound_table() {
        let i = Shows::Inbound;
        assert_eq!(outcome(&conn(i, "S")), Outcome::LoneSyn);
        assert_eq!(outcome(&conn(i, "SR")), Outcome::ResetAfterSynAck);
        let mut c = conn(i, "SADF");
        c.end_us = c.start_us + 5_000_000;
        assert_eq!(outcome(&c), Outcome::DataNoRequest);
        let mut c = conn(i, "SAF");
        c.end_us = c.start_us + 5_000_000;
        assert_eq!(outcome(&c), Outcome::ClosedIdle);
        assert_eq!(outcome(&conn(i, "A")), Outcome::Midstream);
    }

    #[test]
    fn weak_forms_show_attempts_only() {
        for s in [Shows::SynOnly, Shows::FirstPacket] {
            let mut c = conn(s, "S");
            c.flags = s == Shows::SynOnly;
            c.syn_count = 3;
            assert_eq!(outcome(&c), Outcome::Attempt);
        }
        let mut c = conn(Shows::FirstPacket, "");
        c.flags = false;
        c.requests
            .add(RequestExample::new(0, Some(408), Some(b"-")), false);
        assert_eq!(outcome(&c), Outcome::IdleTimeout);
    }

    #[test]
    fn flagless_counts() {
        let mut c = conn(Shows::Inbound, "");
        c.flags = false;
        assert_eq!(outcome(&c), Outcome::LoneSyn);
        c.orig_pkts = 2;
        c.end_us = c.start_us + 1_000;
        assert_eq!(outcome(&c), Outcome::Completed);
        c.end_us = c.start_us + 3_000_000;
        assert_eq!(outcome(&c), Outcome::RetriedSyn);
        let mut c = conn(Shows::EveryPacket, "");
        c.flags = false;
        c.resp_pkts = 2;
        assert_eq!(outcome(&c), Outcome::SynAckUnanswered);
    }
}
