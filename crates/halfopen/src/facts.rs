//! The facade's own, owned facts about one connection: what the firewall input showed of it
//! ([`ConnFacts`]), the first SYN's header fields ([`SynFingerprint`]) and what the web logs
//! said about it ([`ConnRequests`], [`RequestKind`]).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use halfopen_tcp::{ConnState, Connection, History};

use crate::escape;
use crate::evidence::Shows;

/// The first SYN's header fields (tool fingerprints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct SynFingerprint {
    /// IP TTL.
    pub ttl: Option<u8>,
    /// TCP window.
    pub window: Option<u16>,
    /// MSS option.
    pub mss: Option<u16>,
    /// Whether the SYN carried TCP options, when the input says.
    pub has_options: Option<bool>,
}

impl SynFingerprint {
    /// True for a SYN no operating system sends: no TCP options at all (every stack in use
    /// sends at least MSS). Raw-packet tools do (hping3: window 512; flood tools: window 0 or
    /// 65535).
    pub fn looks_crafted(&self) -> bool {
        self.has_options == Some(false)
    }

    /// The fingerprint of a tracked connection's first SYN.
    pub fn of(c: &Connection) -> Option<SynFingerprint> {
        let s = c.first_syn?;
        let header = if c.orig.is_ipv4() { 40 } else { 60 };
        let has_options = match (s.mss, s.options_fingerprint, s.ip_len) {
            (Some(_), _, _) => Some(true),
            // A capture always has a fingerprint; an empty option list's is `NO_OPTIONS`.
            (None, Some(fp), _) => Some(fp != halfopen_tcp::options::NO_OPTIONS),
            (None, None, Some(len)) => Some(len > header),
            (None, None, None) => None,
        };
        Some(SynFingerprint {
            ttl: s.ttl,
            window: s.window,
            mss: s.mss,
            has_options,
        })
    }
}

/// What a logged request line says about the connection that carried it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// A complete HTTP request answered 2xx or 3xx.
    Success,
    /// A complete HTTP request with another status (4xx but 400 and 408, 5xx).
    Other,
    /// 400 for a request line that looks like HTTP: the request was malformed or cut off
    /// (a client that closed in the middle of its headers).
    BadRequest,
    /// 408 with no request line: the client sent nothing.
    TimeoutEmpty,
    /// 408 with a request line: an unfinished request (slow headers or body).
    TimeoutPartial,
    /// 400 for an HTTP/2 connection preface (`PRI * HTTP/2.0`): a client speaking HTTP/2 with
    /// prior knowledge to an HTTP/1-only server.
    Http2Preface,
    /// 400 with bytes that are not HTTP (a TLS ClientHello, binary, empty).
    NonHttp,
}

impl RequestKind {
    /// Classifies a logged request from its status and raw request line (as logged,
    /// escapes undecoded; `None` or `-` when absent).
    ///
    /// ```
    /// use halfopen::facts::RequestKind;
    /// assert_eq!(RequestKind::of(Some(408), Some(b"-")), RequestKind::TimeoutEmpty);
    /// assert_eq!(RequestKind::of(Some(408), Some(b"GET / HTTP/1.1")), RequestKind::TimeoutPartial);
    /// assert_eq!(RequestKind::of(Some(400), Some(b"\\x16\\x03\\x01\\x02")), RequestKind::NonHttp);
    /// assert_eq!(RequestKind::of(Some(400), Some(b"PRI * HTTP/2.0")), RequestKind::Http2Preface);
    /// assert_eq!(RequestKind::of(Some(200), Some(b"GET / HTTP/1.1")), RequestKind::Success);
    /// assert_eq!(RequestKind::of(Some(404), Some(b"GET /x HTTP/1.1")), RequestKind::Other);
    /// assert_eq!(RequestKind::of(Some(400), Some(b"GET / HTTP/1.1")), RequestKind::BadRequest);
    /// ```
    pub fn of(status: Option<u16>, raw: Option<&[u8]>) -> RequestKind {
        let raw = raw.filter(|r| !r.is_empty() && *r != b"-");
        match (status, raw) {
            (Some(408), None) => RequestKind::TimeoutEmpty,
            (Some(408 | 400), Some(r)) if r.starts_with(b"PRI * HTTP/2") => {
                RequestKind::Http2Preface
            }
            (Some(408), Some(r)) if non_http_kind(r).is_none() => RequestKind::TimeoutPartial,
            (Some(408), Some(_)) => RequestKind::NonHttp,
            (Some(400), None) => RequestKind::NonHttp,
            (Some(400), Some(r)) if non_http_kind(r).is_some() => RequestKind::NonHttp,
            (Some(400), Some(_)) => RequestKind::BadRequest,
            (Some(s), _) if (200..400).contains(&s) => RequestKind::Success,
            _ => RequestKind::Other,
        }
    }

    /// True for a request the server completed (any status but the timeouts and non-HTTP).
    pub const fn completed(self) -> bool {
        matches!(self, RequestKind::Success | RequestKind::Other)
    }
}

/// What a request line that is not HTTP/1 looks like, or `None` when it looks like HTTP/1.
///
/// ```
/// use halfopen::facts::non_http_kind;
/// assert_eq!(non_http_kind(b"\\x16\\x03\\x01\\x02"), Some("a TLS ClientHello on a plain-HTTP port"));
/// assert_eq!(non_http_kind(b"GET / HTTP/1.1"), None);
/// ```
pub fn non_http_kind(raw: &[u8]) -> Option<&'static str> {
    if raw.starts_with(b"\\x16\\x03") || raw.starts_with(&[0x16, 0x03]) {
        return Some("a TLS ClientHello on a plain-HTTP port");
    }
    if raw.starts_with(b"PRI * HTTP/2") {
        return Some("an HTTP/2 preface on an HTTP/1-only server");
    }
    if raw.starts_with(b"SSH-") {
        return Some("an SSH banner on an HTTP port");
    }
    if raw.is_empty() || raw == b"-" {
        return Some("an empty or unreadable request");
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

/// One logged request kept as an example (escaped, capped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestExample {
    /// When the request was received (firewall clock), µs.
    pub ts_us: i64,
    /// HTTP status.
    pub status: Option<u16>,
    /// The request line as logged, escaped for display and capped.
    pub request: String,
    /// What it says.
    pub kind: RequestKind,
}

/// Longest request line kept in an example, in bytes of the original.
pub const EXAMPLE_REQUEST_CAP: usize = 120;

impl RequestExample {
    /// An example from raw parts.
    pub fn new(ts_us: i64, status: Option<u16>, raw: Option<&[u8]>) -> RequestExample {
        RequestExample {
            ts_us,
            status,
            request: escape::for_terminal_capped(raw.unwrap_or(b"-"), EXAMPLE_REQUEST_CAP),
            kind: RequestKind::of(status, raw),
        }
    }
}

/// The requests the web logs hold for one connection, counted by kind.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnRequests {
    /// Requests by kind, indexed like [`ConnRequests::KINDS`].
    pub counts: [u32; 7],
    /// The error log's request-header or body read timeout (AH01382/AH01383) for this
    /// connection.
    pub read_timeout: bool,
    /// The error log's mod_ssl AH01996 for this connection: plain HTTP on the TLS port.
    #[serde(default)]
    pub http_on_tls: bool,
    /// The error log says the connection ended before a request: nginx timed it out or the
    /// client closed it "while waiting for request" (`Some(true)`: timed out).
    #[serde(default)]
    pub no_request: Option<bool>,
    /// The first request that decided the connection's kind, as an example.
    pub example: Option<RequestExample>,
    /// Requests matched by the client port or as the only candidate.
    pub certain: u32,
    /// Requests matched by choosing among several open connections of the address.
    pub by_elimination: u32,
    /// How long after the connection's first packet its first completed request was read
    /// (a busy server keeps new connections waiting in the listen queue), µs.
    pub first_wait_us: Option<i64>,
    /// Requests that name a scanning tool (User-Agent, probe path).
    pub tool_requests: u32,
    /// The tool they name.
    #[serde(with = "tool_name")]
    pub tool: Tool,
}

/// A scanning tool's name, when one was named. (An alias, so that serde's derive does not
/// take the `'static` for a borrow from the input.)
pub type Tool = Option<&'static str>;

impl ConnRequests {
    /// Counts a request that names a scanning tool.
    pub fn add_tool(&mut self, tool: &'static str) {
        self.tool_requests = self.tool_requests.saturating_add(1);
        self.tool.get_or_insert(tool);
    }

    /// Adds the requests of another piece of the same connection (the day after).
    pub fn merge(&mut self, o: &ConnRequests) {
        for (a, b) in self.counts.iter_mut().zip(o.counts) {
            *a = a.saturating_add(b);
        }
        self.read_timeout |= o.read_timeout;
        self.http_on_tls |= o.http_on_tls;
        self.no_request = match (self.no_request, o.no_request) {
            (Some(a), Some(b)) => Some(a || b),
            (a, b) => a.or(b),
        };
        if let Some(e) = &o.example
            && self.tells_more(e)
        {
            self.example = Some(e.clone());
        }
        self.certain = self.certain.saturating_add(o.certain);
        self.by_elimination = self.by_elimination.saturating_add(o.by_elimination);
        self.first_wait_us = self.first_wait_us.or(o.first_wait_us);
        self.tool_requests = self.tool_requests.saturating_add(o.tool_requests);
        self.tool = self.tool.or(o.tool);
    }

    /// The kinds, in counter order.
    pub const KINDS: [RequestKind; 7] = [
        RequestKind::Success,
        RequestKind::Other,
        RequestKind::BadRequest,
        RequestKind::TimeoutEmpty,
        RequestKind::TimeoutPartial,
        RequestKind::Http2Preface,
        RequestKind::NonHttp,
    ];

    /// The count of one kind.
    pub fn count(&self, k: RequestKind) -> u32 {
        Self::KINDS
            .iter()
            .position(|x| *x == k)
            .and_then(|i| self.counts.get(i))
            .copied()
            .unwrap_or(0)
    }

    /// Counts one request.
    pub fn add(&mut self, e: RequestExample, certain: bool) {
        if let Some(i) = Self::KINDS.iter().position(|x| *x == e.kind)
            && let Some(c) = self.counts.get_mut(i)
        {
            *c = c.saturating_add(1);
        }
        if certain {
            self.certain = self.certain.saturating_add(1);
        } else {
            self.by_elimination = self.by_elimination.saturating_add(1);
        }
        if self.tells_more(&e) {
            self.example = Some(e);
        }
    }

    /// Whether `e` would be a better example than the one kept (none kept: yes).
    fn tells_more(&self, e: &RequestExample) -> bool {
        self.example
            .as_ref()
            .is_none_or(|x| rank(e.kind) > rank(x.kind))
    }

    /// All requests.
    pub fn total(&self) -> u32 {
        self.counts.iter().fold(0u32, |a, b| a.saturating_add(*b))
    }

    /// Complete requests (any status but timeouts and non-HTTP).
    pub fn completed(&self) -> u32 {
        self.count(RequestKind::Success)
            .saturating_add(self.count(RequestKind::Other))
    }
}

/// Which request decides a connection's kind (the strongest evidence first).
fn rank(k: RequestKind) -> u8 {
    match k {
        RequestKind::Success => 7,
        RequestKind::Other => 6,
        RequestKind::BadRequest => 5,
        RequestKind::TimeoutPartial => 4,
        RequestKind::NonHttp => 3,
        RequestKind::Http2Preface => 2,
        RequestKind::TimeoutEmpty => 1,
    }
}

/// A history from its letters (examples and tests).
///
/// ```
/// assert_eq!(halfopen::facts::history_of("ShAD").to_string(), "ShAD");
/// ```
pub fn history_of(letters: &str) -> History {
    let mut h = History::new();
    for b in letters.bytes() {
        h.push(b);
    }
    h
}

/// Everything the facade knows about one TCP connection. Fixed-size but for the request
/// example (only connections that carried a request have one). Serialisable without its first
/// bytes (a summary carries the connections at its input's edges: [`crate::edges`]).
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
    /// Which input it came from (index into the report's inputs).
    pub input: u16,
    /// What that input shows.
    pub shows: Shows,
    /// Whether that input carries TCP flags.
    pub flags: bool,
    /// Zeek `conn_state` (`S0`, `SF`, `REJ`, ...), when tracked.
    #[serde(with = "state_name")]
    pub state: Option<ConnState>,
    /// Zeek history letters (upper case: client, lower case: server): S h A D F R ...
    #[serde(with = "history_letters")]
    pub history: History,
    /// Whether the whole handshake (SYN, SYN-ACK, ACK) was seen.
    pub handshake_completed: bool,
    /// Whether the client evidently got the SYN-ACK (ACK or data after its SYN).
    pub reply_seen_by_orig: bool,
    /// SYNs from the client, retransmissions included.
    pub syn_count: u32,
    /// Whether the client's bare RST right after its SYN (no ACK: a stack refusing a SYN-ACK
    /// it never asked for, RFC 9293 §3.10.7.1) came with another TTL than the SYN: the
    /// address's host reset a SYN another host sent in its name. `None` when its first
    /// segment after the SYN was not such an RST or the input did not show both TTLs (an
    /// RST with ACK after a crafted SYN is a flood tool's own pair: the StopDDoS `DOMINATE`
    /// capture). From `halfopen_tcp::Connection::orig_ttl_changed`.
    #[serde(default)]
    pub reset_ttl_changed: Option<bool>,
    /// Packets (lines) from the client.
    pub orig_pkts: u64,
    /// Packets (lines) from the server.
    pub resp_pkts: u64,
    /// Payload bytes from the client, when known.
    pub orig_bytes: Option<u64>,
    /// Whether the client sent payload, when known.
    pub orig_sent_payload: Option<bool>,
    /// The first SYN.
    pub syn: Option<SynFingerprint>,
    /// What the web logs hold for this connection.
    pub requests: ConnRequests,
    /// Set when the firewall input ended within the SYN timeout after this connection's first
    /// SYN, before its handshake completed: (seconds from the SYN to the end of the input,
    /// the SYN timeout in seconds). Its outcome is unknown.
    pub log_ended: Option<(u64, u64)>,
    /// Still open when its input ended (the flow table's end of input): the next day's input
    /// may hold the rest of it.
    pub open_at_end: bool,
    /// What its first bytes were, from a capture (not serialised).
    #[serde(skip)]
    pub payload: Option<Box<Payload>>,
}

/// What a connection's first bytes were (a capture keeps them: `halfopen_tcp::prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// What the client's bytes are.
    pub class: PayloadClass,
    /// Milliseconds from the client's first byte to its last new byte (a slowloris client
    /// trickles its head over many seconds).
    pub spread_ms: u64,
    /// The evidence in words: the client's first bytes quoted (escaped, capped; by default only
    /// the method, the path and the header names), how they came, and the server's first line.
    pub evidence: String,
    /// The server's HTTP status, when its first line is one (400, 408...).
    pub server_status: Option<u16>,
    /// The scanning tool the request names (User-Agent, probe path), when HTTP.
    pub tool: Option<&'static str>,
    /// Complete HTTP/1 request heads in the bytes kept: the requests the connection carried
    /// when [`Payload::whole`] (a keep-alive client's requests follow one another).
    pub heads: u32,
    /// Every byte the client sent is in (no cap reached, no hole).
    pub whole: bool,
}

/// What a client's first bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadClass {
    /// Nothing sent.
    Empty,
    /// One complete HTTP/1 request head, or several (pipelined).
    HttpComplete,
    /// An HTTP/1 request head that never ended, all its bytes seen (the client stopped
    /// sending: slowloris, or a capture that ended first).
    HttpPartial,
    /// An HTTP/1 request head longer than the bytes kept, or cut by a hole in the capture.
    HttpCut,
    /// Bytes that do not start at the stream's start (the capture began mid-stream, no
    /// SYN seen, or missed the first segment): not classified.
    Midstream,
    /// An HTTP/2 connection preface (prior knowledge).
    Http2Preface,
    /// A TLS ClientHello to a port that speaks TLS (HTTPS): the server answered it in TLS,
    /// or, when the input does not show the server's bytes, the port is 443 or 8443. What the
    /// client sent after it is encrypted: only the web logs say whether it was a request.
    TlsHandshake,
    /// A plain-HTTP request head to a port that speaks TLS (443 or 8443) which the server
    /// answered with a 400: Apache's AH01996 "HTTP spoken on HTTPS port", nginx's "plain HTTP
    /// request was sent to HTTPS port". A client's mistake (`http://host:443/`), not an attack.
    HttpOnTlsPort,
    /// Another protocol, by its stable name: `tls` (a ClientHello on a plain-HTTP port), `ssh`, `socks`, `rdp`,
    /// `tpkt` (ISO transport, not RDP), `smb`, `proxy_protocol`, `text` (not HTTP), `binary`.
    Other(&'static str),
}

impl Payload {
    /// Classifies the first bytes a capture kept of a connection (`show_payload`: quote them
    /// whole, escaped, instead of the method, the path and the header names only).
    ///
    /// ```
    /// use halfopen::facts::{Payload, PayloadClass};
    /// use halfopen_tcp::prefix::{PrefixConfig, PrefixStore};
    /// use halfopen_tcp::{Event, TcpFlags};
    /// let (c, s) = ("192.0.2.1:40000".parse().unwrap(), "198.51.100.1:80".parse().unwrap());
    /// let mut store = PrefixStore::new(PrefixConfig::default());
    /// let mut syn = Event::new(0, "192.0.2.1".parse().unwrap(), 40000, "198.51.100.1".parse().unwrap(), 80);
    /// syn.flags = Some(TcpFlags::SYN);
    /// syn.seq = Some(1000);
    /// store.observe(&syn, b"");
    /// let mut data = syn;
    /// data.flags = Some(TcpFlags::ACK | TcpFlags::PSH);
    /// data.seq = Some(1001);
    /// data.payload_len = Some(20);
    /// store.observe(&data, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdefgh");
    /// let p = Payload::of(&store.take(c, s).unwrap(), false);
    /// assert_eq!(p.class, PayloadClass::Other("tls"));
    /// ```
    pub fn of(p: &halfopen_tcp::prefix::ConnPrefix, show_payload: bool) -> Payload {
        use halfopen_tcp::prefix::classify::{self, ClientKind, HeadShape, ServerKind};
        use halfopen_tcp::prefix::render;
        let bytes = p.client.bytes();
        let cut = p.client.full() || p.client.gap();
        let server_kind = classify::server(p.server.bytes());
        let server_status = match server_kind {
            ServerKind::HttpStatus(st) => Some(st.code),
            _ => None,
        };
        let tls_port = is_tls_port(p.resp.port());
        let client_kind = classify::client(bytes);
        let heads = match client_kind {
            ClientKind::Http(h) => u32::try_from(h.complete_heads).unwrap_or(u32::MAX),
            _ => 0,
        };
        let class = match client_kind {
            _ if p.client.midstream() => PayloadClass::Midstream,
            ClientKind::Empty if p.client.gap() => PayloadClass::Midstream,
            ClientKind::Empty => PayloadClass::Empty,
            ClientKind::Http(_) if tls_port && server_status == Some(400) => {
                PayloadClass::HttpOnTlsPort
            }
            ClientKind::Http(h) => match h.shape() {
                HeadShape::Partial if cut => PayloadClass::HttpCut,
                HeadShape::Partial => PayloadClass::HttpPartial,
                _ => PayloadClass::HttpComplete,
            },
            ClientKind::Http2Preface => PayloadClass::Http2Preface,
            ClientKind::TlsClientHello(_) => match server_kind {
                ServerKind::Tls(_) => PayloadClass::TlsHandshake,
                ServerKind::None if tls_port => PayloadClass::TlsHandshake,
                _ => PayloadClass::Other("tls"),
            },
            ClientKind::Ssh(_) => PayloadClass::Other("ssh"),
            ClientKind::Socks4 { .. } | ClientKind::Socks5 { .. } => PayloadClass::Other("socks"),
            ClientKind::TpktConnect { rdp: true } => PayloadClass::Other("rdp"),
            ClientKind::TpktConnect { rdp: false } => PayloadClass::Other("tpkt"),
            ClientKind::Smb { .. } => PayloadClass::Other("smb"),
            ClientKind::ProxyProtocol { .. } => PayloadClass::Other("proxy_protocol"),
            ClientKind::Text => PayloadClass::Other("text"),
            ClientKind::Binary => PayloadClass::Other("binary"),
        };
        let answered = server_status.is_some_and(|s| (100..400).contains(&s));
        let evidence = if class == PayloadClass::HttpComplete && answered && !show_payload {
            // The usual case, a served request: its request line and the status are enough
            // (and cheap: every client connection of a capture comes here).
            format!(
                "{}; the server answered {}",
                render::quote(p.client.first_line(), crate::facts::EXAMPLE_REQUEST_CAP),
                server_status.unwrap_or_default()
            )
        } else {
            let mut e = render::client(&p.client, show_payload).to_string();
            if !p.server.first_line().is_empty() {
                e.push_str("; the server answered ");
                e.push_str(&render::server(&p.server).to_string());
            }
            e
        };
        let spread_us = match (p.client.first_payload_us(), p.client.last_payload_us()) {
            (Some(a), Some(b)) => b.saturating_sub(a),
            _ => 0,
        };
        let tool = match class {
            PayloadClass::HttpComplete | PayloadClass::HttpPartial | PayloadClass::HttpCut => {
                crate::tools::tool_in_head(bytes)
            }
            _ => None,
        };
        Payload {
            class,
            tool,
            spread_ms: u64::try_from(spread_us / 1000).unwrap_or(0),
            evidence: crate::escape::printable(&evidence),
            server_status,
            heads,
            whole: !cut && !p.client.midstream(),
        }
    }
}

/// The ports where a TLS ClientHello is the protocol, not a mistake, when the input does not
/// show the server's answer: HTTPS (443, RFC 2818) and its common alternative 8443.
pub const TLS_PORTS: [u16; 2] = [443, 8443];

/// True for a port of [`TLS_PORTS`].
///
/// ```
/// assert!(halfopen::facts::is_tls_port(443));
/// assert!(!halfopen::facts::is_tls_port(80));
/// ```
pub fn is_tls_port(port: u16) -> bool {
    TLS_PORTS.contains(&port)
}

/// A source's most telling first bytes, kept as an example (escaped, capped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FirstBytes {
    /// The class's stable name ([`PayloadClass::name`]).
    pub class: String,
    /// What they are, in words.
    pub protocol: String,
    /// The bytes quoted and the server's answer ([`Payload::evidence`]).
    pub evidence: String,
    /// The server's HTTP status, when it answered with one.
    pub server_status: Option<u16>,
}

impl FirstBytes {
    /// The example of one connection's first bytes.
    pub fn of(p: &Payload) -> FirstBytes {
        FirstBytes {
            class: p.class.name().to_owned(),
            protocol: p.class.protocol().to_owned(),
            evidence: p.evidence.clone(),
            server_status: p.server_status,
        }
    }

    /// How much the example tells: another protocol over an unfinished head over a whole
    /// request over the rest.
    pub fn rank(&self) -> u8 {
        FirstBytes::rank_of(&self.class)
    }

    /// The rank of a class by its stable name ([`FirstBytes::rank`]).
    pub fn rank_of(class: &str) -> u8 {
        match class {
            "http_complete" => 2,
            "http_partial" => 3,
            "empty" | "http_cut" | "midstream" | "tls_handshake" => 1,
            _ => FirstBytes::OTHER_PROTOCOL,
        }
    }

    /// The rank of bytes that are not what the port speaks: another protocol, an HTTP/2
    /// preface, plain HTTP on a TLS port.
    const OTHER_PROTOCOL: u8 = 4;

    /// Whether a class (by its stable name) shows bytes that are not what the port speaks:
    /// the evidence of a `non_http` source. Not HTTP/1, nothing, cut or mid-stream bytes, nor a
    /// TLS handshake (HTTPS, the port's own protocol).
    ///
    /// ```
    /// use halfopen::facts::FirstBytes;
    /// assert!(FirstBytes::is_other_protocol("ssh"));
    /// assert!(FirstBytes::is_other_protocol("http_on_tls_port"));
    /// assert!(!FirstBytes::is_other_protocol("tls_handshake"));
    /// assert!(!FirstBytes::is_other_protocol("http_partial"));
    /// ```
    pub fn is_other_protocol(class: &str) -> bool {
        FirstBytes::rank_of(class) == FirstBytes::OTHER_PROTOCOL
    }
}

impl PayloadClass {
    /// The protocol's name as the evidence says it.
    pub fn protocol(self) -> &'static str {
        match self {
            PayloadClass::Empty => "nothing",
            PayloadClass::HttpComplete => "an HTTP/1 request",
            PayloadClass::HttpPartial => "an unfinished HTTP/1 request head",
            PayloadClass::HttpCut => "an HTTP/1 request head longer than the bytes kept",
            PayloadClass::Midstream => "bytes from the middle of the stream",
            PayloadClass::Http2Preface => "an HTTP/2 preface",
            PayloadClass::TlsHandshake => "a TLS handshake (HTTPS: what followed is encrypted)",
            PayloadClass::HttpOnTlsPort => "plain HTTP to a port that speaks TLS",
            PayloadClass::Other(name) => match name {
                "tls" => "a TLS ClientHello",
                "ssh" => "an SSH client banner",
                "socks" => "a SOCKS request",
                "rdp" => "an RDP connection request",
                "tpkt" => "an ISO transport (TPKT) connection request",
                "smb" => "an SMB negotiation",
                "proxy_protocol" => "a PROXY protocol header",
                "text" => "text that is not HTTP",
                _ => "binary bytes",
            },
        }
    }

    /// The stable name (JSON): `empty`, `http_complete`, `http_partial`, `http_cut`,
    /// `midstream`, `http2_preface`, `tls_handshake`, `http_on_tls_port`, or another protocol's name ([`PayloadClass::Other`]).
    pub fn name(self) -> &'static str {
        match self {
            PayloadClass::Empty => "empty",
            PayloadClass::HttpComplete => "http_complete",
            PayloadClass::HttpPartial => "http_partial",
            PayloadClass::HttpCut => "http_cut",
            PayloadClass::Midstream => "midstream",
            PayloadClass::Http2Preface => "http2_preface",
            PayloadClass::TlsHandshake => "tls_handshake",
            PayloadClass::HttpOnTlsPort => "http_on_tls_port",
            PayloadClass::Other(name) => name,
        }
    }
}

impl ConnFacts {
    /// Facts for a connection with nothing known yet but its endpoints and time.
    pub fn new(orig: SocketAddr, resp: SocketAddr, start_us: i64, shows: Shows) -> ConnFacts {
        ConnFacts {
            orig,
            resp,
            start_us,
            end_us: start_us,
            input: 0,
            shows,
            flags: shows != Shows::FirstPacket,
            state: None,
            history: History::new(),
            handshake_completed: false,
            reply_seen_by_orig: false,
            syn_count: 0,
            reset_ttl_changed: None,
            orig_pkts: 0,
            resp_pkts: 0,
            orig_bytes: None,
            orig_sent_payload: None,
            syn: None,
            requests: ConnRequests::default(),
            log_ended: None,
            open_at_end: false,
            payload: None,
        }
    }

    /// The facts of a tracked connection from an input showing `shows`.
    pub fn from_connection(c: &Connection, input: u16, shows: Shows, flags: bool) -> ConnFacts {
        // An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address.
        let canonical =
            |a: std::net::SocketAddr| std::net::SocketAddr::new(a.ip().to_canonical(), a.port());
        let mut f = ConnFacts::new(canonical(c.orig), canonical(c.resp), c.start_us, shows);
        f.input = input;
        f.flags = flags;
        f.end_us = c.end_us;
        f.state = Some(c.state);
        f.history = c.history;
        f.handshake_completed = c.handshake_completed;
        f.syn_count = c.syn_count;
        f.reset_ttl_changed = c.orig_ttl_changed.filter(|_| !c.orig_acked_after_syn);
        f.orig_pkts = c.orig_pkts;
        f.resp_pkts = c.resp_pkts;
        f.orig_bytes = c.orig_bytes;
        f.orig_sent_payload = c.orig_sent_payload;
        f.syn = SynFingerprint::of(c);
        f.reply_seen_by_orig = c.reply_seen_by_orig() || aborted_by_its_socket(c, f.syn);
        f.open_at_end = c.end == halfopen_tcp::EndReason::EndOfInput;
        if syn_acks_only_from_orig(c) {
            f.turn_round();
        }
        f
    }

    /// The same connection seen from its other end: what the tracker took for the
    /// originator's packets are the responder's. Used only for a connection of SYN-ACKs
    /// alone, which carries no client bytes, SYN or request.
    fn turn_round(&mut self) {
        std::mem::swap(&mut self.orig, &mut self.resp);
        std::mem::swap(&mut self.orig_pkts, &mut self.resp_pkts);
        self.history = self.history.turned_round();
        self.syn_count = 0;
        self.reset_ttl_changed = None;
        self.syn = None;
        self.orig_bytes = None;
        self.orig_sent_payload = None;
    }

    /// Whether the history has a letter.
    pub fn has(&self, letter: char) -> bool {
        u8::try_from(letter).is_ok_and(|b| self.history.contains(b))
    }

    /// True when a SYN from the client was seen: the connection began inside the input.
    pub fn syn_seen(&self) -> bool {
        match self.flags {
            true => self.has('S'),
            // Flag-less lines: the first line of a 4-tuple is taken as its SYN unless the
            // table turned the endpoints round (its first line came from the server).
            false => self.history.as_bytes().first() != Some(&b'^'),
        }
    }

    /// Who closed first: `Some((true, reset))` the client, `Some((false, reset))` the server.
    pub fn first_close(&self) -> Option<(bool, bool)> {
        self.history.as_bytes().iter().find_map(|c| match c {
            b'F' => Some((true, false)),
            b'R' => Some((true, true)),
            b'f' => Some((false, false)),
            b'r' => Some((false, true)),
            _ => None,
        })
    }

    /// Lifetime in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        u64::try_from(self.end_us.saturating_sub(self.start_us) / 1000).unwrap_or(0)
    }

    /// The client's bytes, if it sent any, may be a TLS handshake alone: a capture shows a
    /// TLS handshake to a port that speaks TLS or, where no first bytes were kept (a firewall
    /// log), the port is one of [`TLS_PORTS`].
    pub fn bytes_may_be_tls_handshake(&self) -> bool {
        match self.payload.as_deref() {
            Some(p) => p.class == PayloadClass::TlsHandshake,
            None => is_tls_port(self.resp.port()),
        }
    }

    /// Plain HTTP to a port that speaks TLS: the error log's AH01996 or the capture's first
    /// bytes ([`PayloadClass::HttpOnTlsPort`]) show it.
    pub fn http_on_tls_port(&self) -> bool {
        self.requests.http_on_tls
            || self
                .payload
                .as_deref()
                .is_some_and(|p| p.class == PayloadClass::HttpOnTlsPort)
    }

    /// Whether the client sent any payload: `None` when the input cannot tell.
    pub fn sent_data(&self) -> Option<bool> {
        if self.has('D') {
            return Some(true);
        }
        self.orig_sent_payload
            .or_else(|| self.orig_bytes.map(|b| b > 0))
    }
}

/// A real stack's SYN (TCP options) followed by its RST with ACK: its socket had the SYN-ACK,
/// seen or not, and aborted (RFC 9293 §3.10.7.1: a stack answers a SYN-ACK it never asked for
/// with a bare RST). A load balancer's TCP check does this: haproxy's RST+ACK before any ACK,
/// the lab's periodic run, where the one-direction forms called it a reset probe. A crafted
/// SYN's RST+ACK is a flood tool's own pair (the StopDDoS `DOMINATE` capture: 31 such, the
/// RST's TTL 233 against the SYN's 242), not a socket's.
fn aborted_by_its_socket(c: &Connection, syn: Option<SynFingerprint>) -> bool {
    c.orig_acked_after_syn && syn.is_some_and(|s| s.has_options == Some(true))
}

/// A connection of SYN-ACKs from the side the tracker took for its originator, and nothing
/// else from either side. A SYN-ACK answers a SYN: its receiver is the client, whoever sent
/// the SYN (a reflection spoofs it). The tracker keeps Zeek's rule for a first segment
/// between two well-known ports (no flip for a SYN-ACK, "to avoid confusing stealth scans"),
/// so an FTP server's reflected SYN-ACKs from port 21 to port 21 arrive turned round, and
/// so does a SYN-ACK from a port no list knows.
fn syn_acks_only_from_orig(c: &Connection) -> bool {
    let h = c.history.as_bytes();
    c.resp_pkts == 0 && !h.is_empty() && h.iter().all(|b| *b == b'H')
}

/// A scanning tool's name, written as a string and read back as the same `&'static str`
/// ([`crate::tools::named`]).
mod tool_name {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &Option<&'static str>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        t.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<&'static str>, D::Error> {
        let name: Option<String> = Option::deserialize(d)?;
        Ok(name.and_then(|n| crate::tools::named(&n)))
    }
}

/// A `conn_state` as Zeek names it.
mod state_name {
    use halfopen_tcp::ConnState;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(t: &Option<ConnState>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|st| st.as_str()).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<ConnState>, D::Error> {
        let name: Option<String> = Option::deserialize(d)?;
        name.map(|n| {
            ConnState::from_name(&n).ok_or_else(|| D::Error::custom(format!("no conn_state {n:?}")))
        })
        .transpose()
    }
}

/// A history as its letters.
mod history_letters {
    use halfopen_tcp::{HISTORY_CAP, History};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(h: &History, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(h.as_str())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<History, D::Error> {
        let letters = String::deserialize(d)?;
        if letters.len() > HISTORY_CAP
            || !letters
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || b == b'^')
        {
            return Err(D::Error::custom(format!("not a history: {letters:?}")));
        }
        Ok(super::history_of(&letters))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fingerprint of a SYN a capture held: no TCP options is crafted (the options'
    /// fingerprint of an empty list, not 0, which the capture path never gives); MSS and the
    /// usual options are an operating system's.
    #[test]
    fn a_captured_syn_without_options_looks_crafted() {
        use halfopen_tcp::options::{NO_OPTIONS, fingerprint};
        let first_syn = |options_fingerprint: u32, mss: Option<u16>| {
            let mut ev = halfopen_tcp::Event::new(
                0,
                "198.51.100.9".parse().unwrap(),
                4000,
                "192.0.2.10".parse().unwrap(),
                80,
            )
            .with_flags(halfopen_tcp::TcpFlags::SYN);
            ev.seq = Some(1);
            ev.payload_len = Some(0);
            ev.window = Some(512);
            ev.ip_len = Some(40);
            ev.options_fingerprint = Some(options_fingerprint);
            ev.mss = mss;
            let mut t = halfopen_tcp::FlowTable::new(halfopen_tcp::Config::default());
            t.observe(&ev);
            t.finish();
            let c = t.pop_finished().expect("the attempt");
            SynFingerprint::of(&c).expect("a SYN")
        };
        assert!(first_syn(NO_OPTIONS, None).looks_crafted());
        let linux = [
            2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert!(!first_syn(fingerprint(&linux), Some(1460)).looks_crafted());
        // An option list without MSS is still options (not crafted by this rule).
        assert!(!first_syn(fingerprint(&[1, 1, 4, 2]), None).looks_crafted());
    }

    /// Only a bare RST after the SYN is its address's host refusing a SYN-ACK: its TTL against
    /// the SYN's is kept. An RST with ACK after a crafted SYN is a flood tool's own pair (the
    /// StopDDoS `DOMINATE` capture: SYN at TTL 242, RST+ACK at 233): not compared.
    #[test]
    fn only_a_bare_reset_is_compared_with_the_syn_ttl() {
        use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};
        let reset = |flags: TcpFlags, ttl: u8| {
            let at = |t: i64, f: TcpFlags, ttl: u8| {
                let mut e = Event::new(
                    t,
                    "198.51.100.9".parse().unwrap(),
                    4000,
                    "192.0.2.10".parse().unwrap(),
                    80,
                )
                .with_flags(f);
                e.ttl = Some(ttl);
                e
            };
            let mut t = FlowTable::new(Config::default());
            t.observe(&at(0, TcpFlags::SYN, 242));
            t.observe(&at(100_000, flags, ttl));
            t.finish();
            let c = t.pop_finished().expect("the connection");
            ConnFacts::from_connection(&c, 0, Shows::Inbound, true).reset_ttl_changed
        };
        assert_eq!(reset(TcpFlags::RST, 55), Some(true));
        assert_eq!(reset(TcpFlags::RST, 242), Some(false));
        assert_eq!(reset(TcpFlags::RST | TcpFlags::ACK, 233), None);
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
            RequestKind::Http2Preface
        );
        assert_eq!(RequestKind::of(Some(400), Some(b"")), RequestKind::NonHttp);
        assert_eq!(
            RequestKind::of(Some(400), Some(b"GET /parth HTTP/1.1")),
            RequestKind::BadRequest
        );
        assert_eq!(
            RequestKind::of(Some(304), Some(b"GET / HTTP/1.1")),
            RequestKind::Success
        );
    }

    #[test]
    fn requests_keep_the_strongest_example() {
        let mut r = ConnRequests::default();
        r.add(RequestExample::new(0, Some(408), None), true);
        r.add(
            RequestExample::new(1, Some(200), Some(b"GET / HTTP/1.1")),
            false,
        );
        r.add(
            RequestExample::new(2, Some(404), Some(b"GET /x HTTP/1.1")),
            false,
        );
        assert_eq!(
            r.example.as_ref().map(|e| e.kind),
            Some(RequestKind::Success)
        );
        assert_eq!(
            (r.total(), r.completed(), r.certain, r.by_elimination),
            (3, 2, 1, 2)
        );
    }
}
