//! The facade's own, owned facts about one connection, and the classifier.
//!
//! [`ConnFacts`] is filled from a `halfopen_tcp::Connection` plus the requests matched in
//! the access log and the error-log evidence; [`classify`] turns it into a verdict.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::escape;
use crate::verdict::{Confidence, Evidence, Verdict};

/// What kind of input the facts about a connection rest on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Packets (pcap): everything is seen.
    Packets,
    /// A firewall log with TCP flags in both directions.
    FlagsBothDirections,
    /// A firewall log with TCP flags for inbound packets only.
    FlagsOneDirection,
    /// A firewall log with inbound SYNs only (`-p tcp --syn -j LOG`).
    SynOnly,
    /// A firewall log without TCP flags (ipfw): only packet counts per 4-tuple.
    NoFlags,
}

/// The first SYN's header fields (tool fingerprints, spoofing indicators).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SynFingerprint {
    /// IP TTL.
    pub ttl: Option<u8>,
    /// IP identification.
    pub ip_id: Option<u32>,
    /// TCP window.
    pub window: Option<u16>,
    /// MSS option.
    pub mss: Option<u16>,
    /// Hash of the option kinds in order; `Some(0)` is used for "no options".
    pub options_fingerprint: Option<u32>,
    /// Whether the SYN carried TCP options, when the input says.
    pub has_options: Option<bool>,
}

impl SynFingerprint {
    /// True for a SYN that looks crafted by hping3 and friends: window 512, no options.
    pub fn looks_crafted(&self) -> bool {
        self.window == Some(512) && self.has_options == Some(false)
    }
}

/// What a logged request line says about the connection that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A complete HTTP request (any status but the ones below).
    Normal,
    /// 408 with no request line: the client sent nothing.
    TimeoutEmpty,
    /// 408 with a request line: an unfinished request.
    TimeoutPartial,
    /// 400 with bytes that are not HTTP/1 (TLS, HTTP/2 preface, binary, empty).
    NonHttp,
}

impl RequestKind {
    /// Classifies a logged request from its status and raw request line (as logged,
    /// escapes undecoded; `None` or `-` when absent).
    ///
    /// ```
    /// use halfopen::facts::RequestKind;
    /// assert_eq!(RequestKind::of(Some(408), Some(b"-")), RequestKind::TimeoutEmpty);
    /// assert_eq!(RequestKind::of(Some(400), Some(b"\\x16\\x03\\x01\\x02")), RequestKind::NonHttp);
    /// assert_eq!(RequestKind::of(Some(200), Some(b"GET / HTTP/1.1")), RequestKind::Normal);
    /// ```
    pub fn of(status: Option<u16>, raw: Option<&[u8]>) -> RequestKind {
        let raw = raw.filter(|r| !r.is_empty() && *r != b"-");
        match (status, raw) {
            (Some(408), None) => RequestKind::TimeoutEmpty,
            (Some(408), Some(r)) if non_http_kind(r).is_none() => RequestKind::TimeoutPartial,
            (Some(408), Some(_)) => RequestKind::NonHttp,
            (Some(400), None) => RequestKind::NonHttp,
            (Some(400), Some(r)) if non_http_kind(r).is_some() => RequestKind::NonHttp,
            _ => RequestKind::Normal,
        }
    }
}

/// What a request line that is not HTTP/1 looks like, or `None` when it looks like HTTP/1.
pub fn non_http_kind(raw: &[u8]) -> Option<&'static str> {
    if raw.starts_with(b"\\x16\\x03") || raw.starts_with(&[0x16, 0x03]) {
        return Some("TLS ClientHello on a plain-HTTP port");
    }
    if raw.starts_with(b"PRI * HTTP/2") {
        return Some("HTTP/2 preface on an HTTP/1 port");
    }
    if raw.is_empty() || raw == b"-" {
        return Some("empty or unreadable request");
    }
    let method_len = raw.iter().position(|&b| b == b' ').unwrap_or(raw.len());
    let method = raw.get(..method_len).unwrap_or_default();
    let token = !method.is_empty() && method.iter().all(|b| b.is_ascii_uppercase() || *b == b'-');
    if token {
        None
    } else {
        Some("binary or non-HTTP bytes")
    }
}

/// One request from the access log matched to a connection (owned, escaped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestFacts {
    /// When the request was received (access-log clock, corrected for the estimated offset).
    pub ts_us: i64,
    /// HTTP status.
    pub status: Option<u16>,
    /// Request line, escaped for display.
    pub request: String,
    /// What the line says about the connection.
    pub kind: RequestKind,
}

impl RequestFacts {
    /// Builds the facts from a status and a raw request line.
    pub fn new(ts_us: i64, status: Option<u16>, raw: Option<&[u8]>) -> RequestFacts {
        RequestFacts {
            ts_us,
            status,
            request: escape::for_terminal_capped(raw.unwrap_or(b"-"), 200),
            kind: RequestKind::of(status, raw),
        }
    }
}

/// Everything the facade knows about one TCP connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnFacts {
    /// The client (initiator).
    pub orig: SocketAddr,
    /// The server (responder).
    pub resp: SocketAddr,
    /// First packet, microseconds since the epoch.
    pub start_us: i64,
    /// Last packet.
    pub end_us: i64,
    /// What the facts rest on.
    pub input: InputKind,
    /// Zeek `conn_state` name (`S0`, `SF`, `REJ`, ...).
    pub state: String,
    /// Zeek history letters (upper case: client, lower case: server): S h A D F R ...
    pub history: String,
    /// Whether the handshake completed (as far as the input can tell).
    pub handshake_completed: bool,
    /// SYNs from the client, retransmissions included.
    pub syn_count: u32,
    /// Packets from the client.
    pub orig_pkts: u64,
    /// Packets from the server.
    pub resp_pkts: u64,
    /// Payload bytes from the client, when known.
    pub orig_bytes: Option<u64>,
    /// Whether the client sent payload, when known.
    pub orig_sent_payload: Option<bool>,
    /// The first SYN.
    pub syn: Option<SynFingerprint>,
    /// Requests matched in the access log.
    pub requests: Vec<RequestFacts>,
    /// The error log has a request-header read timeout (AH01382) for this connection.
    pub header_timeout: bool,
    /// Set when the firewall input ended within the SYN timeout after this connection's first
    /// SYN, before its handshake completed: (seconds from the SYN to the end of the input,
    /// the SYN timeout in seconds). Its outcome is unknown.
    pub log_ended: Option<(u64, u64)>,
}

impl ConnFacts {
    /// Facts for a connection with nothing known yet but its endpoints and time.
    pub fn new(orig: SocketAddr, resp: SocketAddr, start_us: i64, input: InputKind) -> ConnFacts {
        ConnFacts {
            orig,
            resp,
            start_us,
            end_us: start_us,
            input,
            state: String::new(),
            history: String::new(),
            handshake_completed: false,
            syn_count: 0,
            orig_pkts: 0,
            resp_pkts: 0,
            orig_bytes: None,
            orig_sent_payload: None,
            syn: None,
            requests: Vec::new(),
            header_timeout: false,
            log_ended: None,
        }
    }

    /// The evidence that the input ended before this connection's outcome was known.
    fn log_ended_evidence(&self) -> Option<Evidence> {
        self.log_ended.map(
            |(seconds_before_end, syn_timeout_seconds)| Evidence::LogEnded {
                seconds_before_end,
                syn_timeout_seconds,
            },
        )
    }

    /// True when the connection never got past the SYN (as far as the input shows) and
    /// carried no logged request: flag-less logs count one inbound packet as half-open.
    pub fn half_open(&self) -> bool {
        let normal = self.requests.iter().any(|r| r.kind == RequestKind::Normal);
        !normal
            && match self.input {
                InputKind::NoFlags => self.orig_pkts <= 1,
                _ => !self.handshake_completed,
            }
    }

    fn has(&self, letter: char) -> bool {
        self.history.contains(letter)
    }

    /// Who closed first: `Some(true)` the client, `Some(false)` the server, with whether it was an RST.
    fn first_close(&self) -> Option<(bool, bool)> {
        self.history.chars().find_map(|c| match c {
            'F' => Some((true, false)),
            'R' => Some((true, true)),
            'f' => Some((false, false)),
            'r' => Some((false, true)),
            _ => None,
        })
    }

    fn duration_ms(&self) -> u64 {
        u64::try_from(self.end_us.saturating_sub(self.start_us) / 1000).unwrap_or(0)
    }

    fn sent_data(&self) -> Option<bool> {
        if self.has('D') {
            return Some(true);
        }
        self.orig_sent_payload
            .or_else(|| self.orig_bytes.map(|b| b > 0))
    }
}

/// How long a handshake-then-close without data may last to count as a connect scan.
pub const CONNECT_SCAN_MAX_MS: u64 = 1_000;

/// Classifies one connection.
///
/// ```
/// use halfopen::facts::{classify, ConnFacts, InputKind, RequestFacts};
/// use halfopen::Verdict;
/// let mut c = ConnFacts::new("192.0.2.1:50000".parse().unwrap(), "198.51.100.1:80".parse().unwrap(), 0, InputKind::Packets);
/// c.history = "ShADadFf".into();
/// c.handshake_completed = true;
/// c.requests.push(RequestFacts::new(0, Some(200), Some(b"GET / HTTP/1.1")));
/// assert_eq!(classify(&c).0, Verdict::Legitimate);
/// ```
pub fn classify(c: &ConnFacts) -> (Verdict, Confidence, Vec<Evidence>) {
    let mut ev = Vec::new();
    if let Some(r) = classify_by_requests(c, &mut ev) {
        return r;
    }
    match c.input {
        InputKind::Packets | InputKind::FlagsBothDirections | InputKind::FlagsOneDirection => {
            classify_by_flags(c, ev)
        }
        InputKind::SynOnly => classify_syn_only(c, ev),
        InputKind::NoFlags => classify_no_flags(c, ev),
    }
}

fn classify_by_requests(
    c: &ConnFacts,
    ev: &mut Vec<Evidence>,
) -> Option<(Verdict, Confidence, Vec<Evidence>)> {
    let normal = c
        .requests
        .iter()
        .filter(|r| r.kind == RequestKind::Normal)
        .count();
    if normal > 0 {
        ev.push(Evidence::RequestsLogged {
            count: u32::try_from(normal).unwrap_or(u32::MAX),
        });
        return Some((Verdict::Legitimate, Confidence::High, std::mem::take(ev)));
    }
    if let Some(r) = c
        .requests
        .iter()
        .find(|r| r.kind == RequestKind::TimeoutPartial)
    {
        ev.push(Evidence::Timeout408Partial {
            request: r.request.clone(),
        });
        if c.header_timeout {
            ev.push(Evidence::HeaderReadTimeout);
        }
        return Some((Verdict::SlowRequest, Confidence::High, std::mem::take(ev)));
    }
    if let Some(r) = c.requests.iter().find(|r| r.kind == RequestKind::NonHttp) {
        let looks_like = non_http_kind(r.request.as_bytes()).unwrap_or("binary or non-HTTP bytes");
        ev.push(Evidence::NonHttpRequest {
            request: r.request.clone(),
            looks_like: looks_like.to_owned(),
        });
        return Some((Verdict::NonHttp, Confidence::High, std::mem::take(ev)));
    }
    if c.requests
        .iter()
        .any(|r| r.kind == RequestKind::TimeoutEmpty)
    {
        ev.push(Evidence::Timeout408Empty);
        if c.header_timeout {
            ev.push(Evidence::HeaderReadTimeout);
        }
        return Some((Verdict::IdleTimeout, Confidence::High, std::mem::take(ev)));
    }
    if c.header_timeout {
        // AH01382 without an access-log line: the server timed out on this client.
        ev.push(Evidence::HeaderReadTimeout);
        let v = if c.sent_data() == Some(true) {
            Verdict::SlowRequest
        } else {
            Verdict::IdleTimeout
        };
        return Some((v, Confidence::Medium, std::mem::take(ev)));
    }
    None
}

fn syn_flood_evidence(c: &ConnFacts, ev: &mut Vec<Evidence>) -> Confidence {
    ev.push(Evidence::HandshakeNeverCompleted {
        syns: c.syn_count.max(1),
    });
    let mut confidence = Confidence::Medium;
    if c.syn_count <= 1 {
        ev.push(Evidence::NoSynRetransmission);
        confidence = Confidence::High;
    }
    if let Some(w) = c
        .syn
        .filter(SynFingerprint::looks_crafted)
        .and_then(|s| s.window)
    {
        ev.push(Evidence::CraftedSyn { window: w });
        confidence = Confidence::High;
    }
    confidence
}

fn classify_by_flags(c: &ConnFacts, mut ev: Vec<Evidence>) -> (Verdict, Confidence, Vec<Evidence>) {
    let synack = c.has('h');
    if !c.handshake_completed {
        if c.has('r') && !synack {
            ev.push(Evidence::PortClosed);
            return (Verdict::SynScan, Confidence::Low, ev);
        }
        if synack && c.has('R') {
            ev.push(Evidence::ResetAfterSynAck);
            return (Verdict::SynScan, Confidence::High, ev);
        }
        let crafted = c.syn.is_some_and(|s| s.looks_crafted());
        if let Some(e) = c.log_ended_evidence().filter(|_| !crafted) {
            ev.push(e);
            return (Verdict::Unknown, Confidence::Low, ev);
        }
        if synack {
            ev.push(Evidence::SynAckUnanswered);
        } else if c.input == InputKind::FlagsOneDirection {
            ev.push(Evidence::Missing {
                what: "the log shows inbound packets only, so the server's SYN-ACK is not visible"
                    .to_owned(),
            });
        }
        let mut conf = syn_flood_evidence(c, &mut ev);
        if c.syn_count > 1 && !synack && c.input != InputKind::FlagsOneDirection {
            // A real client retrying a SYN nobody answered: not necessarily hostile.
            ev.push(Evidence::Missing {
                what: "no SYN-ACK was seen: the server may not have answered at all".to_owned(),
            });
            return (Verdict::Unknown, Confidence::Low, ev);
        }
        if c.input == InputKind::FlagsOneDirection {
            conf = conf.min(Confidence::Medium);
        }
        return (Verdict::SynFlood, conf, ev);
    }
    match (c.sent_data(), c.first_close()) {
        (Some(true), _) => {
            ev.push(Evidence::DataWithoutRequest {
                bytes: c.orig_bytes,
            });
            ev.push(Evidence::Missing {
                what: "no access-log line matched this connection (was the access log of this \
                       port and time given?)"
                    .to_owned(),
            });
            (Verdict::Unknown, Confidence::Low, ev)
        }
        (_, Some((true, reset))) => {
            let ms = c.duration_ms();
            ev.push(Evidence::ClosedWithoutData {
                reset,
                duration_ms: ms,
            });
            if ms <= CONNECT_SCAN_MAX_MS {
                let conf = if reset {
                    Confidence::High
                } else {
                    Confidence::Medium
                };
                (Verdict::ConnectScan, conf, ev)
            } else {
                (Verdict::Idle, Confidence::High, ev)
            }
        }
        (_, Some((false, _))) => {
            ev.push(Evidence::ServerClosedIdle);
            (Verdict::IdleTimeout, Confidence::Medium, ev)
        }
        (_, None) => {
            ev.push(Evidence::Missing {
                what: "the connection had not ended when the input ended".to_owned(),
            });
            (Verdict::Idle, Confidence::Low, ev)
        }
    }
}

fn classify_syn_only(c: &ConnFacts, mut ev: Vec<Evidence>) -> (Verdict, Confidence, Vec<Evidence>) {
    if let Some(w) = c
        .syn
        .filter(SynFingerprint::looks_crafted)
        .and_then(|s| s.window)
    {
        ev.push(Evidence::CraftedSyn { window: w });
        ev.push(Evidence::Missing {
            what: "the firewall log shows inbound SYNs only, so the handshake is not visible"
                .to_owned(),
        });
        return (Verdict::SynFlood, Confidence::Medium, ev);
    }
    ev.push(Evidence::Missing {
        what: format!(
            "the firewall log shows inbound SYNs only ({} here) and no request matched: log every \
             packet with its TCP flags to tell a flood, a scan and a preconnect apart",
            c.syn_count.max(1)
        ),
    });
    (Verdict::Unknown, Confidence::Low, ev)
}

fn classify_no_flags(c: &ConnFacts, mut ev: Vec<Evidence>) -> (Verdict, Confidence, Vec<Evidence>) {
    let inbound = c.orig_pkts;
    if inbound <= 1
        && let Some(e) = c.log_ended_evidence()
    {
        ev.push(e);
        return (Verdict::Unknown, Confidence::Low, ev);
    }
    if inbound <= 1 {
        ev.push(Evidence::InboundPacketCount {
            packets: inbound,
            meaning: "the handshake never completed (a completed handshake needs at least 2 \
                      inbound packets; assumes the log shows every packet)"
                .to_owned(),
        });
        return (Verdict::SynFlood, Confidence::Medium, ev);
    }
    let meaning = if inbound == 2 {
        "enough for a handshake but not for a request (a request needs at least 3)".to_owned()
    } else {
        "enough for a request, but none matched in the access log".to_owned()
    };
    ev.push(Evidence::InboundPacketCount {
        packets: inbound,
        meaning,
    });
    ev.push(Evidence::Missing {
        what: format!(
            "the firewall log carries no TCP flags and shows {inbound} inbound packets: enable \
             flag logging (or give a pcap) to tell a scan, a preconnect and a slow client apart"
        ),
    });
    (Verdict::Unknown, Confidence::Low, ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(input: InputKind, history: &str) -> ConnFacts {
        let mut c = ConnFacts::new(
            "192.0.2.7:40000".parse().unwrap(),
            "198.51.100.1:80".parse().unwrap(),
            1_000_000,
            input,
        );
        c.history = history.to_owned();
        c.handshake_completed = history.contains('A') && history.contains('h');
        c.syn_count = 1;
        c
    }

    #[test]
    fn request_kinds_follow_the_lab() {
        assert_eq!(RequestKind::of(Some(408), None), RequestKind::TimeoutEmpty);
        assert_eq!(
            RequestKind::of(Some(408), Some(b"GET /loris HTTP/1.1")),
            RequestKind::TimeoutPartial
        );
        assert_eq!(
            RequestKind::of(Some(400), Some(b"PRI * HTTP/2.0")),
            RequestKind::NonHttp
        );
        assert_eq!(RequestKind::of(Some(400), Some(b"")), RequestKind::NonHttp);
        assert_eq!(
            RequestKind::of(Some(400), Some(b"GET /parth HTTP/1.1")),
            RequestKind::Normal
        );
        assert_eq!(
            RequestKind::of(Some(404), Some(b"GET /nope HTTP/1.1")),
            RequestKind::Normal
        );
    }

    #[test]
    fn verdicts_from_flags() {
        let mut c = conn(InputKind::Packets, "Sh");
        assert_eq!(classify(&c).0, Verdict::SynFlood);
        assert_eq!(classify(&c).1, Confidence::High);
        c.history = "ShR".into();
        assert_eq!(classify(&c).0, Verdict::SynScan);
        c.history = "Sr".into();
        assert_eq!(classify(&c).0, Verdict::SynScan);
        let mut c = conn(InputKind::Packets, "ShAR");
        c.end_us = c.start_us + 2_000;
        assert_eq!(
            classify(&c),
            (
                Verdict::ConnectScan,
                Confidence::High,
                vec![Evidence::ClosedWithoutData {
                    reset: true,
                    duration_ms: 2
                }]
            )
        );
        c.history = "ShAFf".into();
        c.end_us = c.start_us + 10_000_000;
        assert_eq!(classify(&c).0, Verdict::Idle);
        c.history = "ShAfF".into();
        assert_eq!(classify(&c).0, Verdict::IdleTimeout);
        c.history = "ShADFf".into();
        assert_eq!(classify(&c).0, Verdict::Unknown);
        c.requests.push(RequestFacts::new(
            0,
            Some(400),
            Some(b"\\x16\\x03\\x01\\x02"),
        ));
        assert_eq!(classify(&c).0, Verdict::NonHttp);
        c.requests
            .push(RequestFacts::new(0, Some(200), Some(b"GET / HTTP/1.1")));
        assert_eq!(classify(&c).0, Verdict::Legitimate);
    }

    #[test]
    fn real_client_retrying_is_not_a_flood() {
        let mut c = conn(InputKind::Packets, "S");
        c.syn_count = 3;
        assert_eq!(classify(&c).0, Verdict::Unknown);
    }

    #[test]
    fn crafted_syn_is_high_confidence() {
        let mut c = conn(InputKind::SynOnly, "S");
        c.syn = Some(SynFingerprint {
            window: Some(512),
            has_options: Some(false),
            ..SynFingerprint::default()
        });
        assert_eq!(classify(&c).0, Verdict::SynFlood);
        c.syn = None;
        let (v, _, ev) = classify(&c);
        assert_eq!(v, Verdict::Unknown);
        assert!(ev[0].sentence().contains("inbound SYNs only"));
    }

    #[test]
    fn flagless_counts() {
        let mut c = conn(InputKind::NoFlags, "");
        c.orig_pkts = 1;
        assert_eq!(classify(&c).0, Verdict::SynFlood);
        assert_eq!(classify(&c).1, Confidence::Medium);
        c.orig_pkts = 2;
        let (v, _, ev) = classify(&c);
        assert_eq!(v, Verdict::Unknown);
        assert!(
            ev.iter()
                .any(|e| e.sentence().contains("enable flag logging"))
        );
    }

    #[test]
    fn a_syn_just_before_the_end_of_the_log_has_no_outcome_yet() {
        let mut c = conn(InputKind::NoFlags, "");
        c.orig_pkts = 1;
        c.log_ended = Some((5, 63));
        let (v, conf, ev) = classify(&c);
        assert_eq!((v, conf), (Verdict::Unknown, Confidence::Low));
        assert!(
            ev[0]
                .sentence()
                .starts_with("outcome unknown: the log ended 5 s")
        );
        let mut c = conn(InputKind::Packets, "Sh");
        c.log_ended = Some((5, 63));
        assert_eq!(classify(&c).0, Verdict::Unknown);
        // Decided outcomes and crafted SYNs do not wait for the timeout.
        c.history = "ShR".into();
        assert_eq!(classify(&c).0, Verdict::SynScan);
        c.history = "Sh".into();
        c.syn = Some(SynFingerprint {
            window: Some(512),
            has_options: Some(false),
            ..SynFingerprint::default()
        });
        assert_eq!(classify(&c).0, Verdict::SynFlood);
    }

    #[test]
    fn timeouts() {
        let mut c = conn(InputKind::Packets, "ShAfF");
        c.requests.push(RequestFacts::new(0, Some(408), None));
        c.header_timeout = true;
        assert_eq!(classify(&c).0, Verdict::IdleTimeout);
        c.requests.push(RequestFacts::new(
            0,
            Some(408),
            Some(b"GET /loris HTTP/1.1"),
        ));
        assert_eq!(classify(&c).0, Verdict::SlowRequest);
    }
}
