//! A finished connection as reported by the flow table: [`Connection`] and its parts.

use std::fmt;
use std::net::SocketAddr;

use crate::History;

/// Zeek's `conn_state` values, plus [`ConnState::AttemptUnknown`] for records without flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum ConnState {
    /// Connection attempt seen, no reply.
    S0,
    /// Established, not terminated.
    S1,
    /// Normal establishment and termination.
    SF,
    /// Connection attempt rejected (RST answering the SYN).
    REJ,
    /// Established, close attempt by the originator seen (no reply from the responder).
    S2,
    /// Established, close attempt by the responder seen (no reply from the originator).
    S3,
    /// Established, originator aborted (sent a RST).
    RSTO,
    /// Responder sent a RST.
    RSTR,
    /// Originator sent a SYN followed by a RST, no SYN-ACK from the responder seen.
    RSTOS0,
    /// Responder sent a SYN-ACK followed by a RST, no SYN from the (purported) originator.
    RSTRH,
    /// Originator sent a SYN followed by a FIN, no SYN-ACK from the responder (half open).
    SH,
    /// Responder sent a SYN-ACK followed by a FIN, no SYN from the originator.
    SHR,
    /// No SYN seen, just midstream traffic (one example is a "partial connection").
    OTH,
    /// Records without TCP flags (ipfw): an attempt was seen, its outcome is unknown.
    AttemptUnknown,
}

impl ConnState {
    /// The Zeek name (`"attempt"` for [`ConnState::AttemptUnknown`]).
    pub fn as_str(&self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
            ConnState::AttemptUnknown => "attempt",
        }
    }
}

impl ConnState {
    /// Every state.
    pub const ALL: [ConnState; 14] = [
        ConnState::S0,
        ConnState::S1,
        ConnState::SF,
        ConnState::REJ,
        ConnState::S2,
        ConnState::S3,
        ConnState::RSTO,
        ConnState::RSTR,
        ConnState::RSTOS0,
        ConnState::RSTRH,
        ConnState::SH,
        ConnState::SHR,
        ConnState::OTH,
        ConnState::AttemptUnknown,
    ];

    /// The state [`ConnState::as_str`] names.
    ///
    /// ```
    /// use halfopen_tcp::ConnState;
    /// assert_eq!(ConnState::from_name("REJ"), Some(ConnState::REJ));
    /// assert_eq!(ConnState::from_name("attempt"), Some(ConnState::AttemptUnknown));
    /// assert_eq!(ConnState::from_name("S9"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<ConnState> {
        ConnState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for ConnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of input a connection's verdict rests on, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Evidence {
    /// Captured packets (flags, sequence numbers and payload lengths known).
    Packets,
    /// Log records with TCP flags, from both directions.
    FlagsBothDirections,
    /// Log records with TCP flags, from one direction only: the missing direction was
    /// probably not logged, its absence proves nothing.
    FlagsOneDirection,
    /// Only SYNs were logged (a `--syn` LOG rule): "no SYN-ACK seen" is not evidence
    /// that none was sent.
    SynOnly,
    /// Records without TCP flags (ipfw): the outcome is unknown.
    NoFlags,
}

/// What the first SYN from the originator looked like (for tool fingerprints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SynInfo {
    /// IP TTL / hop limit.
    pub ttl: Option<u8>,
    /// IPv4 identification / IPv6 flow label.
    pub ip_id: Option<u32>,
    /// TCP window.
    pub window: Option<u16>,
    /// MSS option.
    pub mss: Option<u16>,
    /// Hash of the option kinds in order ([`crate::options::fingerprint`]).
    pub options_fingerprint: Option<u32>,
    /// Source port of the SYN.
    pub src_port: u16,
    /// IP total length.
    pub ip_len: Option<u32>,
}

/// Why a connection left the flow table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// FIN seen (from one or both sides) and the close linger passed, or the 4-tuple was
    /// reused by a new SYN.
    Closed,
    /// RST seen and the linger passed, or the 4-tuple was reused by a new SYN.
    Reset,
    /// Idle (or unanswered) for longer than the configured timeout.
    Timeout,
    /// Pushed out of a full table.
    Evicted,
    /// Still open at the end of the input ([`crate::FlowTable::finish`]).
    EndOfInput,
}

/// One TCP connection, as seen passively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// Originator (who sent the SYN, or Zeek's guess without one).
    pub orig: SocketAddr,
    /// Responder.
    pub resp: SocketAddr,
    /// Time of the first event, µs since the Unix epoch.
    pub start_us: i64,
    /// Time of the last event, µs since the Unix epoch.
    pub end_us: i64,
    /// Zeek's `conn_state`.
    pub state: ConnState,
    /// Zeek's `history`.
    pub history: History,
    /// Events from the originator.
    pub orig_pkts: u64,
    /// Events from the responder.
    pub resp_pkts: u64,
    /// New payload bytes from the originator (retransmissions not counted), where the
    /// input says payload lengths.
    pub orig_bytes: Option<u64>,
    /// New payload bytes from the responder, where known.
    pub resp_bytes: Option<u64>,
    /// SYN, SYN-ACK and the originator's ACK were all seen.
    pub handshake_completed: bool,
    /// The originator sent a segment with ACK set after its SYN (a pure ACK, data, a FIN, or
    /// an RST with ACK), whether or not the SYN-ACK it acknowledges was seen: its socket had
    /// the SYN-ACK. A stack answering a SYN-ACK it never asked for (nmap `-sS`, hping3, a
    /// spoofed address's owner) sends a bare RST, without ACK (RFC 9293 §3.10.7.1), so in an
    /// input of one direction a real stack's SYN then RST+ACK is a connection opened and
    /// aborted (a load balancer's health check), not a reset probe. A flood tool may send
    /// the pair itself (crafted SYN, RST+ACK with another TTL: the StopDDoS `DOMINATE`
    /// capture); the caller weighs the SYN.
    pub orig_acked_after_syn: bool,
    /// Whether the originator's first segment after its SYN (an ACK, data, a FIN or an RST)
    /// came with another IP TTL (hop limit) than the SYN; `None` when the two were not both
    /// seen with one. One host sends both along one path from one initial TTL, so they agree
    /// for every real client. They differ when the SYN was sent in the address's name by
    /// another host and the address's owner reset the SYN-ACK it never asked for (a spoofed
    /// source that is alive), or when a raw-packet tool chose its SYN's TTL and its own kernel
    /// sent the RST (nmap `-sS` picks a random one).
    pub orig_ttl_changed: Option<bool>,
    /// Whether the originator sent payload (`None` when payload lengths are unknown).
    pub orig_sent_payload: Option<bool>,
    /// SYNs from the originator, retransmissions included.
    pub syn_count: u32,
    /// What the verdict rests on.
    pub evidence: Evidence,
    /// The originator's first SYN, if one was seen.
    pub first_syn: Option<SynInfo>,
    /// Why it left the table.
    pub end: EndReason,
}

impl Connection {
    /// A placeholder between `orig` and `resp` that the table overwrites field by field.
    pub(crate) fn blank(orig: SocketAddr, resp: SocketAddr) -> Connection {
        Connection {
            orig,
            resp,
            start_us: 0,
            end_us: 0,
            state: ConnState::S0,
            history: History::new(),
            orig_pkts: 0,
            resp_pkts: 0,
            orig_bytes: None,
            resp_bytes: None,
            handshake_completed: false,
            orig_acked_after_syn: false,
            orig_ttl_changed: None,
            orig_sent_payload: None,
            syn_count: 0,
            evidence: Evidence::Packets,
            first_syn: None,
            end: EndReason::EndOfInput,
        }
    }

    /// Duration from the first to the last event, in microseconds.
    pub fn duration_us(&self) -> i64 {
        self.end_us.saturating_sub(self.start_us)
    }

    /// True when the originator evidently received the responder's SYN-ACK: the handshake
    /// was seen, or the originator sent a pure ACK or payload after its SYN (a stack does
    /// that only once it has the SYN-ACK). An RST with ACK is not counted here: a flood tool
    /// crafts those too; [`Connection::orig_acked_after_syn`] says it was sent. With
    /// [`Evidence::FlagsOneDirection`] logs this tells an `S0` that is really an established
    /// connection (history `SA`, `SAD`...) from a true unanswered attempt (history `S`).
    ///
    /// ```
    /// use halfopen_tcp::{Config, ConnState, Event, FlowTable, TcpFlags};
    /// let (c, s) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
    /// let mut t = FlowTable::new(Config::default());
    /// t.observe(&Event::new(0, c, 40000, s, 80).with_flags(TcpFlags::SYN));
    /// t.observe(&Event::new(9, c, 40000, s, 80).with_flags(TcpFlags::ACK));
    /// t.finish();
    /// let conn = t.pop_finished().unwrap();
    /// assert_eq!(conn.state, ConnState::S0); // Zeek's verdict: nothing seen from the server
    /// assert!(conn.reply_seen_by_orig());     // but the client got its SYN-ACK
    ///
    /// // A health check's abortive close (RST with ACK) and nmap -sS's kernel reset (bare RST).
    /// let mut t = FlowTable::new(Config::default());
    /// t.observe(&Event::new(0, c, 40001, s, 80).with_flags(TcpFlags::SYN));
    /// t.observe(&Event::new(9, c, 40001, s, 80).with_flags(TcpFlags::RST | TcpFlags::ACK));
    /// t.observe(&Event::new(0, c, 40002, s, 80).with_flags(TcpFlags::SYN));
    /// t.observe(&Event::new(9, c, 40002, s, 80).with_flags(TcpFlags::RST));
    /// t.finish();
    /// let mut seen = Vec::new();
    /// while let Some(conn) = t.pop_finished() {
    ///     seen.push((conn.orig.port(), conn.orig_acked_after_syn, conn.reply_seen_by_orig()));
    /// }
    /// seen.sort();
    /// assert_eq!(seen, [(40001, true, false), (40002, false, false)]);
    /// ```
    pub fn reply_seen_by_orig(&self) -> bool {
        if self.handshake_completed {
            return true;
        }
        let h = self.history.as_bytes();
        match h.iter().position(|&c| c == b'S') {
            Some(i) => h
                .get(i + 1..)
                .unwrap_or(&[])
                .iter()
                .any(|&c| c == b'A' || c == b'D'),
            None => false,
        }
    }
}
