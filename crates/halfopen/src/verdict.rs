//! Verdicts, confidence levels and the typed evidence behind them.
//!
//! The serde names of [`Verdict`] and [`Confidence`] are a stable public API: they appear in
//! the JSON report.

use serde::{Deserialize, Serialize};

/// What a connection (or a source) was, judged from what the logs show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The connection carried at least one logged HTTP request.
    Legitimate,
    /// SYNs that never completed a handshake and were never retried like a real stack would.
    SynFlood,
    /// SYN, then RST after the server's SYN-ACK (nmap `-sS`).
    SynScan,
    /// Full handshake, then an immediate close without data (nmap `-sT`).
    ConnectScan,
    /// Handshake, no request, the client closed (browser preconnect, health check).
    Idle,
    /// Handshake, nothing sent until the server gave up (408 `"-"`, AH01382).
    IdleTimeout,
    /// A partial request the server timed out on (slowloris: 408 with a request line).
    SlowRequest,
    /// Bytes that are not HTTP/1 on an HTTP port (TLS ClientHello, HTTP/2 preface, binary).
    NonHttp,
    /// Not enough evidence; the evidence says what is missing.
    Unknown,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 9] = [
        Verdict::Legitimate,
        Verdict::SynFlood,
        Verdict::SynScan,
        Verdict::ConnectScan,
        Verdict::Idle,
        Verdict::IdleTimeout,
        Verdict::SlowRequest,
        Verdict::NonHttp,
        Verdict::Unknown,
    ];

    /// The stable name (same as the JSON name).
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Legitimate => "legitimate",
            Verdict::SynFlood => "syn_flood",
            Verdict::SynScan => "syn_scan",
            Verdict::ConnectScan => "connect_scan",
            Verdict::Idle => "idle",
            Verdict::IdleTimeout => "idle_timeout",
            Verdict::SlowRequest => "slow_request",
            Verdict::NonHttp => "non_http",
            Verdict::Unknown => "unknown",
        }
    }

    /// Parses a stable name.
    pub fn from_name(name: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// The position of this verdict in [`Verdict::ALL`] (for per-verdict counters).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// True for the verdicts a block list is built from (floods, scans, slowloris).
    pub const fn is_hostile(self) -> bool {
        matches!(
            self,
            Verdict::SynFlood | Verdict::SynScan | Verdict::ConnectScan | Verdict::SlowRequest
        )
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// A guess resting on an assumption the evidence says.
    Low,
    /// Inferred from indirect evidence (packet counts without flags, SYN-only logs).
    Medium,
    /// Seen directly (flags in both directions, packets, or a logged request).
    High,
}

impl Confidence {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl std::fmt::Display for Confidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One typed piece of evidence behind a verdict; [`Evidence::sentence`] says it in English.
///
/// Strings inside evidence come from logs (attacker-controlled): they are stored escaped
/// (see [`crate::escape`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// The access log has requests for this connection.
    RequestsLogged {
        /// How many.
        count: u32,
    },
    /// The handshake never completed.
    HandshakeNeverCompleted {
        /// SYNs seen from the client (including retransmissions).
        syns: u32,
    },
    /// One SYN only: a real TCP stack retransmits an unanswered SYN (after 1 s, 3 s, ...).
    NoSynRetransmission,
    /// The server answered with a SYN-ACK that the client never acknowledged.
    SynAckUnanswered,
    /// The client reset the connection right after the server's SYN-ACK.
    ResetAfterSynAck,
    /// The server reset the SYN: nothing listens on that port.
    PortClosed,
    /// The SYN looks crafted: window 512 and no TCP options (hping3 defaults).
    CraftedSyn {
        /// The SYN's window.
        window: u16,
    },
    /// The handshake completed and the client closed it without sending a byte.
    ClosedWithoutData {
        /// Whether the client used an RST (true) or a FIN (false).
        reset: bool,
        /// Connection lifetime in milliseconds.
        duration_ms: u64,
    },
    /// Connections to a port that speaks TLS that carried no logged request: a TLS handshake
    /// (or its start) and nothing the server answered, as a TLS scanner's probes, a browser's
    /// unused HTTPS preconnect or a client that rejected the certificate.
    TlsWithoutRequest {
        /// How many.
        connections: u64,
        /// The TLS port (443, 8443), when it is one of them; else the capture showed the
        /// server answering in TLS.
        port: Option<u16>,
        /// Whether an access log was given (without one, what followed the handshake is
        /// encrypted and nothing says whether it held requests).
        access_log: bool,
    },
    /// Plain HTTP sent to a port that speaks TLS (mod_ssl's AH01996 "HTTP spoken on HTTPS
    /// port", or the capture's first bytes answered with a 400): a client's mistake.
    HttpOnTlsPort {
        /// How many connections.
        connections: u64,
    },
    /// The web server's error log says connections ended before a request (nginx at `info`:
    /// "client timed out" or "client closed connection" "while waiting for request").
    NoRequestNoted {
        /// How many connections.
        connections: u64,
    },
    /// The server closed a connection on which the client sent nothing.
    ServerClosedIdle,
    /// The access log has a 408 with no request line (`"-"`).
    Timeout408Empty,
    /// The access log has a 408 with a request line: the request was never finished.
    Timeout408Partial {
        /// The request line as logged (escaped).
        request: String,
    },
    /// The error log has AH01382 (request header read timeout) for this client.
    HeaderReadTimeout,
    /// The access log has a 400 whose request line is not HTTP/1.
    NonHttpRequest {
        /// The request line as logged (escaped).
        request: String,
        /// What it looks like (`TLS ClientHello`, `HTTP/2 preface`, `binary`).
        looks_like: String,
    },
    /// The client sent data but no request was logged for it.
    DataWithoutRequest {
        /// Payload bytes from the client, when known.
        bytes: Option<u64>,
    },
    /// Flag-less log: the number of inbound packets on this 4-tuple.
    InboundPacketCount {
        /// Inbound packets.
        packets: u64,
        /// What that count implies, with its assumption.
        meaning: String,
    },
    /// Something the input does not show and that would decide the verdict.
    Missing {
        /// What is missing and how to get it.
        what: String,
    },
    /// The firewall input ended before the connection's outcome was known: its last packet
    /// came too close to the end for a real client to have retried or answered.
    LogEnded {
        /// Seconds from its last packet to the end of the firewall input.
        seconds_before_end: u64,
        /// The grace a real client needs, seconds.
        syn_timeout_seconds: u64,
    },
    /// Source level: too few unanswered SYNs to call a flood.
    TooFewAttempts {
        /// Half-open attempts from the source.
        half_open: u64,
        /// The minimum for a flood (`Options::min_flood_attempts`).
        needed: u64,
    },
    /// Source level: its SYNs came from a real TCP stack (TCP options, or an input that does
    /// not show them) too slowly to fill a listen queue: a periodic client (a load balancer's
    /// health check, a monitor that connects and closes, a client whose SYN-ACKs are lost)
    /// as much as a slow probe, and not a flood.
    TooSlowToFlood {
        /// Its connections that never became a request.
        syns: u64,
        /// The most connections it began in one clock minute.
        busiest_minute: u64,
        /// The listen backlog assumed (Apache's default, or a socket snapshot's).
        backlog: u64,
        /// Connections a minute from which one address floods that backlog.
        needed_per_minute: u64,
    },
    /// Source level: one of many sources of one network that sent only unanswered SYNs
    /// (a distributed, often spoofed, flood).
    NetworkFlood {
        /// The network (a /24, IPv6 /64).
        network: String,
        /// Sources in it that sent only unanswered SYNs.
        sources: u64,
    },
    /// Source level: how many connections of each kind, or a rate.
    Aggregate {
        /// The sentence.
        text: String,
    },
    /// SYNs sent in this address's name by another host: its host reset the server's
    /// SYN-ACKs (a bare RST: it never asked for them), its RSTs at another TTL than the
    /// SYNs. Blocking the address cuts off its owner, not the sender (the lab's reflection
    /// run).
    SentInItsName {
        /// Its connections reset by its host at another TTL than their SYN's.
        resets: u64,
        /// Its resets whose TTL could be set beside the SYN's.
        compared: u64,
        /// The lowest TTL its SYNs came with.
        syn_ttl_min: Option<u8>,
        /// The highest.
        syn_ttl_max: Option<u8>,
    },
    /// The address is live: its host answered the server's SYN-ACKs with RSTs (or completed
    /// handshakes), from the TTL of its SYNs where the input shows TTLs, so the SYNs most
    /// likely came from it and blocking it stops them.
    RealAddress {
        /// Connections that prove it.
        proofs: u64,
    },
    /// No request from this address is in the access log, which covers the time of its
    /// attempts.
    NoRequestLogged {
        /// Its attempts.
        attempts: u64,
    },
    /// One of many addresses in a SYN flood on one server port (random, likely spoofed
    /// sources): blocking the addresses does little.
    ServerFlood {
        /// The server address and port.
        server: String,
        /// Addresses in the flood.
        addresses: u64,
    },
    /// What the input shows, when it limits the verdict.
    Form {
        /// The form's stable name (`first-packet`, `syn-only`, `inbound`, `every-packet`).
        shows: String,
        /// What that means for this verdict.
        what: String,
    },
    /// What "the web server logged nothing" means on the server's platform.
    Platform {
        /// The platform's stable name.
        platform: String,
        /// The caveat in words.
        means: String,
    },
    /// A capture kept the client's first bytes.
    FirstBytes {
        /// What they are, in words.
        protocol: String,
        /// The bytes quoted (escaped, capped) and the server's answer.
        bytes: String,
    },
    /// A hostile source that also made successful requests.
    AlsoServed {
        /// Its successful (2xx/3xx) requests.
        requests: u64,
    },
}

impl Evidence {
    /// The evidence as one English sentence (no trailing period); counts are written with
    /// thousands separators, as everywhere in the report.
    pub fn sentence(&self) -> String {
        let n = |v: u64| crate::escape::thousands(v);
        match self {
            Evidence::RequestsLogged { count } => {
                format!("{} request(s) in the access log", n(u64::from(*count)))
            }
            Evidence::HandshakeNeverCompleted { syns } => {
                format!(
                    "{} SYN(s), the handshake never completed",
                    n(u64::from(*syns))
                )
            }
            Evidence::NoSynRetransmission => {
                "a single SYN with no retransmission (a real TCP stack retries an unanswered SYN)"
                    .to_owned()
            }
            Evidence::SynAckUnanswered => "the server's SYN-ACK was never acknowledged".to_owned(),
            Evidence::ResetAfterSynAck => {
                "the client answered the server's SYN-ACK with an RST".to_owned()
            }
            Evidence::PortClosed => {
                "the server answered the SYN with an RST (port closed)".to_owned()
            }
            Evidence::CraftedSyn { window } => {
                format!("crafted SYN: window {window} and no TCP options (hping3-like)")
            }
            Evidence::ClosedWithoutData { reset, duration_ms } => format!(
                "handshake completed, the client closed with {} after {} ms without sending data",
                if *reset { "an RST" } else { "a FIN" },
                n(*duration_ms)
            ),
            Evidence::TlsWithoutRequest {
                connections,
                port,
                access_log,
            } => {
                let to = port.map_or_else(
                    || "a port that speaks TLS".to_owned(),
                    |p| format!("port {p} (TLS)"),
                );
                if *access_log {
                    format!(
                        "{} connection(s) to {to} with no request in the access log: a TLS \
                         handshake at most (a TLS scanner's probes, a browser's unused HTTPS \
                         preconnect, a client that rejected the certificate)",
                        n(*connections)
                    )
                } else {
                    format!(
                        "{} connection(s) to {to}: what followed the TLS handshake is \
                         encrypted, and no access log was given to say whether it held requests",
                        n(*connections)
                    )
                }
            }
            Evidence::NoRequestNoted { connections } => format!(
                "the web server's error log says {} connection(s) ended before any request \
                 (nginx: \"client timed out\" or \"client closed connection\" \"while waiting \
                 for request\")",
                n(*connections)
            ),
            Evidence::HttpOnTlsPort { connections } => format!(
                "{} connection(s) spoke plain HTTP to a port that speaks TLS (the error log's \
                 \"HTTP spoken on HTTPS port\", AH01996, or nginx's \"plain HTTP request to \
                 HTTPS port\"; or a capture's request answered 400): a client asking http:// \
                 of an https:// port, a mistake, not an attack",
                n(*connections)
            ),
            Evidence::ServerClosedIdle => {
                "the server closed the connection; the client had sent nothing".to_owned()
            }
            Evidence::Timeout408Empty => "the access log has a 408 with no request line".to_owned(),
            Evidence::Timeout408Partial { request } => {
                format!("the access log has a 408 for the unfinished request \"{request}\"")
            }
            Evidence::HeaderReadTimeout => {
                "the error log has AH01382 (request header read timeout)".to_owned()
            }
            Evidence::NonHttpRequest {
                request,
                looks_like,
            } => format!("the access log has a 400 for \"{request}\" ({looks_like})"),
            Evidence::DataWithoutRequest { bytes } => match bytes {
                Some(b) => format!(
                    "the client sent {} byte(s) but no request was logged",
                    n(*b)
                ),
                None => "the client sent data but no request was logged".to_owned(),
            },
            Evidence::InboundPacketCount { packets, meaning } => {
                format!(
                    "the firewall log shows {} inbound packet(s): {meaning}",
                    n(*packets)
                )
            }
            Evidence::Missing { what } => format!("missing: {what}"),
            Evidence::LogEnded {
                seconds_before_end,
                syn_timeout_seconds,
            } => format!(
                "outcome unknown: the input ended {} s after its last packet, sooner than the \
                 {syn_timeout_seconds} s a real client needs to retry or answer",
                n(*seconds_before_end)
            ),
            Evidence::TooFewAttempts { half_open, needed } => format!(
                "only {} unanswered SYN(s): too few to call a flood (at least {} from one \
                 address, or many such addresses in one network)",
                n(*half_open),
                n(*needed)
            ),
            Evidence::TooSlowToFlood {
                syns,
                busiest_minute,
                backlog,
                needed_per_minute,
            } => format!(
                "{} SYN(s) that never became a request, at most {} begun in one minute ({:.1} a \
                 second), nothing marking a raw-packet tool: too slow to fill a listen queue of \
                 {} (about {} a minute from one address); the pace of a periodic client (a load balancer's \
                 health check, a monitor that connects and closes, a client whose SYN-ACKs do \
                 not reach it) as much as of a slow probe, and not a flood",
                n(*syns),
                n(*busiest_minute),
                *busiest_minute as f64 / 60.0,
                n(*backlog),
                n(*needed_per_minute)
            ),
            Evidence::NetworkFlood { network, sources } => format!(
                "one of {} addresses in {network} that sent only unanswered SYNs: a \
                 distributed flood",
                n(*sources)
            ),
            Evidence::Aggregate { text } => text.clone(),
            Evidence::SentInItsName {
                resets,
                compared,
                syn_ttl_min,
                syn_ttl_max,
            } => format!(
                "its host reset {} of the server's SYN-ACKs ({} compared) from another TTL than \
                 its SYNs'{}: a host resets a SYN-ACK it never asked for, so another host sent \
                 the SYNs in this address's name, and blocking it would cut off its owner, not \
                 the sender",
                n(*resets),
                n(*compared),
                match (syn_ttl_min, syn_ttl_max) {
                    (Some(a), Some(z)) if a == z => format!(" (the SYNs at TTL {a})"),
                    (Some(a), Some(z)) => format!(" (the SYNs at TTL {a} to {z})"),
                    _ => String::new(),
                }
            ),
            Evidence::RealAddress { proofs } => format!(
                "the address is live: its host answered {} SYN-ACK(s) with an RST (from its \
                 SYNs' TTL, where the input shows TTLs) or completed a handshake, so the SYNs \
                 most likely came from it and blocking it stops them (a host spoofing it from \
                 the same distance would look the same)",
                n(*proofs)
            ),
            Evidence::NoRequestLogged { attempts } => format!(
                "no request from this address is in the access log, which covers the time of \
                 its {} attempt(s)",
                n(*attempts)
            ),
            Evidence::ServerFlood { server, addresses } => format!(
                "one of {} addresses in the SYN flood on {server} (random, likely \
                 spoofed sources: blocking them does little)",
                n(*addresses)
            ),
            Evidence::Form { shows, what } => {
                let form = crate::evidence::Shows::from_name(shows)
                    .map_or_else(|| shows.clone(), |s| s.sentence().to_owned());
                // The form's own words may already say it ("... is not visible").
                if form.ends_with(what.as_str()) {
                    format!("the firewall input shows {form}")
                } else {
                    format!("the firewall input shows {form}: {what}")
                }
            }
            Evidence::Platform { platform, means } => format!("assumed {platform}: {means}"),
            Evidence::FirstBytes { protocol, bytes } => {
                format!("the capture shows the client's first bytes, {protocol}: {bytes}")
            }
            Evidence::AlsoServed { requests } => format!(
                "it also made {} successful request(s), so it is not blocked \
                 (--block-hostile-clients to include it)",
                n(*requests)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_stable() {
        let names: Vec<String> = Verdict::ALL
            .iter()
            .map(|v| serde_json::to_string(v).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"legitimate\"",
                "\"syn_flood\"",
                "\"syn_scan\"",
                "\"connect_scan\"",
                "\"idle\"",
                "\"idle_timeout\"",
                "\"slow_request\"",
                "\"non_http\"",
                "\"unknown\""
            ]
        );
        for v in Verdict::ALL {
            assert_eq!(
                format!("\"{}\"", v.as_str()),
                serde_json::to_string(&v).unwrap()
            );
            assert_eq!(Verdict::from_name(v.as_str()), Some(v));
            assert_eq!(Verdict::ALL[v.index()], v);
        }
        assert_eq!(
            serde_json::to_string(&Confidence::Medium).unwrap(),
            "\"medium\""
        );
    }

    #[test]
    fn evidence_is_tagged_and_has_sentences() {
        let e = Evidence::HandshakeNeverCompleted { syns: 3 };
        let j = serde_json::to_string(&e).unwrap();
        assert_eq!(j, r#"{"kind":"handshake_never_completed","syns":3}"#);
        assert_eq!(e.sentence(), "3 SYN(s), the handshake never completed");
        let back: Evidence = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
    }

    /// Counts in sentences carry thousands separators, as the report's own figures do (the
    /// README story said "1194 SYN(s)" beside "1,200 SYNs").
    #[test]
    fn sentence_counts_have_separators() {
        let cases = [
            (
                Evidence::HandshakeNeverCompleted { syns: 1194 },
                "1,194 SYN(s), the handshake never completed",
            ),
            (
                Evidence::RequestsLogged { count: 12_345 },
                "12,345 request(s) in the access log",
            ),
            (
                Evidence::ServerFlood {
                    server: "192.0.2.10:80".to_owned(),
                    addresses: 2_996_393,
                },
                "one of 2,996,393 addresses in the SYN flood on 192.0.2.10:80 (random, likely \
                 spoofed sources: blocking them does little)",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.sentence(), want);
        }
    }
}
