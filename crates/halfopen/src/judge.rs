//! Verdicts from the rollups: each source by what it did across all its connections, the
//! networks whose addresses flood together, and each server port under a flood.
//!
//! The rules, first match wins for a source (docs/halfopen.md says them in words):
//!
//! 1. slow requests: connections held with unfinished requests until the server's timeout,
//!    and not outnumbered by served ones (a handful of successful checks does not make a slow
//!    attacker legitimate);
//! 2. scan: probes (refused, reset after the SYN-ACK, closed at once, unanswered) to three or
//!    more ports, or a single probe;
//! 3. served: a completed request makes the source legitimate, whatever its other
//!    connections did (speculative, idle, closed without data, refused once, retried);
//! 4. not HTTP (TLS, an HTTP/2 preface): not hostile;
//! 5. flood: at least `min_flood_attempts` SYNs to one port that never completed, whatever
//!    the sender's stack did with the SYN-ACK; where the input does not show completion, the
//!    attempts of an address with no request while the access log covers them;
//! 6. idle until the server's timeout; 7. idle; else unknown, saying what is missing.
//!
//! Then networks (/24 up to /16, IPv6 /64 up to /48) whose addresses each sent a few
//! unanswered SYNs, and server ports with many unanswered SYNs from many addresses
//! (random-source floods).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::connections::{KernelNote, KernelNoteKind};
use crate::escape::thousands;
use crate::evidence::{Platform, Shows, WebServer};
use crate::facts::{RequestKind, is_tls_port};
use crate::infer::Outcome;
use crate::rollup::{
    FloodPart, PortFlood, PortPattern, Rollup, ServerSummary, SourceSummary, Successes,
    wide_network_of,
};
use crate::sketch::Merge;
use crate::verdict::{Confidence, Evidence, Verdict};

/// Thresholds of the verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// SYNs to one port that never completed from which one address is a `syn_flood`.
    pub min_flood_attempts: u64,
    /// Addresses of one network that each sent only unanswered SYNs from which the network
    /// floods as one.
    pub min_flood_sources: u64,
    /// Unanswered SYNs on one server port from which the port is under a flood.
    pub server_flood_attempts: u64,
    /// Addresses those SYNs must come from.
    pub server_flood_sources: u64,
    /// Slow connections (408 with a request line, read timeouts after data) from which a
    /// source that was also served is a slow attacker.
    pub slow_min: u64,
    /// Distinct ports probed from which a source is a scanner.
    pub scan_min_ports: usize,
}

/// Default of [`Rules::min_flood_attempts`].
pub const DEFAULT_MIN_FLOOD_ATTEMPTS: u64 = 10;
/// Default of [`Rules::min_flood_sources`].
pub const DEFAULT_MIN_FLOOD_SOURCES: u64 = 8;

impl Default for Rules {
    fn default() -> Self {
        Rules {
            min_flood_attempts: DEFAULT_MIN_FLOOD_ATTEMPTS,
            min_flood_sources: DEFAULT_MIN_FLOOD_SOURCES,
            server_flood_attempts: 100,
            server_flood_sources: 20,
            slow_min: 3,
            scan_min_ports: 3,
        }
    }
}

/// What the judge knows besides the rollups.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Thresholds.
    pub rules: Rules,
    /// Whether an access log was given.
    pub access_log: bool,
    /// The time span the access logs cover (firewall clock), µs.
    pub access_span: Option<(i64, i64)>,
    /// The server's platform, and why it was assumed.
    pub platform: Option<(Platform, String)>,
    /// The web server, as its error log tells.
    pub web_server: Option<WebServer>,
    /// Kernel messages about SYN floods.
    pub kernel: Vec<KernelNote>,
    /// The listen backlog of each port, from a socket snapshot.
    pub backlog: BTreeMap<u16, u64>,
    /// The clients with successful (2xx/3xx) requests in the access logs, matched or not.
    pub successes: Successes,
}

/// A source's verdict with its evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The address.
    pub addr: IpAddr,
    /// The verdict.
    pub verdict: Verdict,
    /// How sure.
    pub confidence: Confidence,
    /// Why.
    pub evidence: Vec<Evidence>,
    /// What would raise the confidence.
    pub raise: Option<String>,
    /// The verdict rests on "no request was logged" (where the input cannot show whether a
    /// handshake completed).
    pub rests_on_absent_request: bool,
    /// Part of a random-source flood: blocking the address does little.
    pub random_flood_member: bool,
    /// Its SYNs were sent in its name by another host ([`Evidence::SentInItsName`]): blocking
    /// the address cuts off its owner, not the sender.
    pub sent_in_its_name: bool,
    /// Successful (2xx/3xx) requests it made.
    pub successes: u64,
    /// Its connections.
    pub connections: u64,
}

/// A network whose addresses flood together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFlood {
    /// The network.
    pub network: IpNet,
    /// Addresses in it that sent only unanswered SYNs.
    pub sources: u64,
    /// Their SYNs.
    pub syns: u64,
    /// The sources look spoofed.
    pub likely_spoofed: bool,
    /// Why they look spoofed (or real).
    pub indicators: Vec<String>,
    /// Their hosts reset the server's SYN-ACKs from another TTL than the SYNs': the SYNs
    /// were sent in their names ([`Evidence::SentInItsName`]), and none of them is blocked.
    #[serde(default)]
    pub sent_in_their_names: bool,
}

/// A server port under a SYN flood from many addresses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerFlood {
    /// The server address and port.
    pub server: SocketAddr,
    /// SYNs that never completed (or attempts never followed by a request).
    pub unanswered: u64,
    /// Addresses they came from.
    pub addresses: u64,
    /// /24 (IPv6 /64) networks those addresses are in.
    pub networks: u64,
    /// /16 (IPv6 /32) networks.
    pub wide_networks: u64,
    /// First and last SYN, µs.
    pub span: (i64, i64),
    /// The busiest 10 s, in SYNs per second.
    pub peak_per_second: f64,
    /// Unanswered SYN-ACKs the server sent once and never retransmitted (syncookies).
    pub single_syn_ack: u64,
    /// Unanswered SYN-ACKs it retransmitted.
    pub retransmitted_syn_ack: u64,
    /// The sources look spoofed.
    pub likely_spoofed: bool,
    /// Why they look spoofed (or real).
    pub indicators: Vec<String>,
    /// Kernel messages for this port.
    pub kernel_messages: u64,
    /// The rate compared with the backlog.
    pub backlog_note: Option<String>,
    /// How sure.
    pub confidence: Confidence,
    /// The finding in words.
    pub sentence: String,
}

/// Everything judged.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// Sources, in the rollup's order.
    pub sources: Vec<Judged>,
    /// Networks flooding together.
    pub networks: Vec<NetworkFlood>,
    /// Server ports under a flood.
    pub servers: Vec<ServerFlood>,
}

/// Judges every source, network and server port.
pub fn judge(r: &Rollup, cx: &Context) -> Judgement {
    let list = r.sources_sorted();
    let mut sources: Vec<Judged> = list.iter().map(|s| judge_source(s, cx)).collect();
    let networks = network_floods(r, &list, cx, &mut sources);
    let servers = server_floods(r, &list, cx, &networks, &mut sources);
    mark_sent_in_their_names(&list, &mut sources);
    Judgement {
        sources,
        networks,
        servers,
    }
}

/// Connections that probe a port: refused, reset after the SYN-ACK, closed at once, or a lone
/// unanswered SYN.
fn probes(s: &SourceSummary) -> u64 {
    s.outcomes.sum(|o| {
        matches!(
            o,
            Outcome::Refused
                | Outcome::ResetAfterSynAck
                | Outcome::ClosedAtOnce
                | Outcome::LoneSyn
                | Outcome::ServerSilent
                | Outcome::SynAckUnanswered
        )
    })
}

/// SYNs that never became a connection and were not retried like a real stack retries.
fn flood_like(s: &SourceSummary) -> u64 {
    s.flood_like()
}

/// A source's SYNs that never became a request: the flood-like ones and the attempts whose
/// outcome the input does not show. What one address needs `min_flood_attempts` of to flood
/// on its own.
fn unanswered_syns(s: &SourceSummary) -> u64 {
    flood_like(s) + s.attempts()
}

fn covered(s: &SourceSummary, cx: &Context) -> bool {
    covers(cx, s.first_seen_us)
}

/// A single SYN reset after the server's SYN-ACK (or reset by its sender, where the server's
/// packets are not shown), judged a SYN-scan probe on its own (nmap -sS). During a flood from
/// random, likely spoofed addresses on the same port it is far more likely the spoofed
/// address's real owner answering the server's SYN-ACK for a SYN it never sent (the StopDDoS
/// capture: each such address's SYN came with TTL 242-244 and no DF, its RST with TTL 55 and
/// DF, a tenth of a second later): a member of the flood, never blocked on its own.
fn single_reset_probe(s: &SourceSummary, j: &Judged) -> bool {
    j.verdict == Verdict::SynScan
        && s.dst_ports.len() == 1
        && s.connections <= SINGLE_PROBES
        && s.requests.total() == 0
}

/// Whether the resets of a source's SYN-ACKs came from another TTL than its SYNs: most of
/// them were set beside their SYN's, and most of those differed. One host sends its SYN and
/// its RST from one initial TTL along one path; a live host whose address was spoofed resets
/// the SYN-ACKs from its own (the lab's reflection run: hping3's SYNs at TTL 63, a
/// Windows-like host's RSTs at 127; a /28 of them, the SYNs at 47 to 239). nmap `-sS` picks
/// a random TTL for its SYNs too, but probes many ports: a scan, judged before this.
fn sent_in_its_name(s: &SourceSummary) -> bool {
    let resets = count(s, Outcome::ResetAfterSynAck);
    resets > 0
        && resets * 2 >= unanswered_syns(s)
        && s.resets_ttl_compared * 2 >= resets
        && s.resets_other_ttl * 2 > s.resets_ttl_compared
}

/// The evidence that another host sent a source's SYNs ([`sent_in_its_name`]).
fn named_by_another(s: &SourceSummary) -> Evidence {
    Evidence::SentInItsName {
        resets: s.resets_other_ttl,
        compared: s.resets_ttl_compared,
        syn_ttl_min: s.ttl.min,
        syn_ttl_max: s.ttl.max,
    }
}

/// Marks every `syn_flood` whose SYNs were sent in its name ([`sent_in_its_name`]), whichever
/// rule made it one: its own SYNs, a network's or a server port's flood (a reflection spread
/// thin over a network's live hosts gives each a few SYNs, below the flood of one address).
fn mark_sent_in_their_names(summaries: &[&SourceSummary], judged: &mut [Judged]) {
    for (s, j) in summaries.iter().zip(judged.iter_mut()) {
        if j.verdict == Verdict::SynFlood && sent_in_its_name(s) {
            j.sent_in_its_name = true;
            j.evidence.push(named_by_another(s));
        }
    }
}

/// Whether a source's attempts (SYNs whose outcome the input does not show: SYN-only, one
/// line per connection) may count in a flood: it has none; each was a crafted SYN (no TCP
/// options: no operating system sends one, so no client whose handshake went on to complete
/// sent it); or the access log covers their time (no request came of them).
fn attempts_count(s: &SourceSummary, cx: &Context) -> bool {
    s.attempts() <= s.crafted_syns || (cx.access_log && covered(s, cx))
}

/// Whether the access logs cover the time `t` (a minute either side).
fn covers(cx: &Context, t: i64) -> bool {
    cx.access_span.is_some_and(|(a, b)| {
        t >= a.saturating_sub(60_000_000) && t <= b.saturating_add(60_000_000)
    })
}

/// Whether the folded flood sources of `p` count in a flood: they showed the outcome of
/// their SYNs, every address with attempts sent a crafted SYN, or the access log covers
/// their attempts (as [`attempts_count`] for a source held).
fn part_counts(p: &FloodPart, cx: &Context) -> bool {
    p.attempt_addresses <= p.crafted || (cx.access_log && p.span.min.is_some_and(|t| covers(cx, t)))
}

struct Draft {
    verdict: Verdict,
    confidence: Confidence,
    evidence: Vec<Evidence>,
    raise: Option<String>,
    absent: bool,
}

impl Draft {
    fn new(verdict: Verdict, confidence: Confidence) -> Draft {
        Draft {
            verdict,
            confidence,
            evidence: Vec::new(),
            raise: None,
            absent: false,
        }
    }
    fn with(mut self, e: Evidence) -> Draft {
        self.evidence.push(e);
        self
    }
    fn raise(mut self, what: &str) -> Draft {
        self.raise = Some(what.to_owned());
        self
    }
}

fn judge_source(s: &SourceSummary, cx: &Context) -> Judged {
    let d = slow_attack(s, cx)
        .or_else(|| scan(s, cx))
        .or_else(|| served(s, cx))
        .or_else(|| non_http(s))
        .or_else(|| flood(s, cx))
        .or_else(|| served_elsewhere(s, cx))
        .or_else(|| idle(s, cx))
        .unwrap_or_else(|| undecided(s, cx));
    let mut evidence = d.evidence;
    evidence.extend(aggregates(s, d.verdict));
    Judged {
        addr: s.addr,
        verdict: d.verdict,
        confidence: d.confidence,
        evidence,
        raise: d.raise,
        rests_on_absent_request: d.absent,
        random_flood_member: false,
        sent_in_its_name: false,
        successes: u64::from(s.requests.get(RequestKind::Success)),
        connections: s.connections,
    }
}

fn count(s: &SourceSummary, o: Outcome) -> u64 {
    u64::from(s.outcomes.get(o))
}

fn slow_attack(s: &SourceSummary, cx: &Context) -> Option<Draft> {
    let slow = count(s, Outcome::SlowRequest);
    let served = count(s, Outcome::Served);
    let bad = count(s, Outcome::BadRequest);
    let held = slow + bad;
    let attacker = slow > 0 && (served == 0 || (slow >= cx.rules.slow_min && held >= served));
    if !attacker {
        return None;
    }
    let partial = u64::from(s.requests.get(RequestKind::TimeoutPartial));
    let mut d = Draft::new(
        Verdict::SlowRequest,
        if partial > 0 {
            Confidence::High
        } else {
            Confidence::Medium
        },
    );
    if let Some(e) = s
        .request_example
        .as_ref()
        .filter(|e| e.kind == RequestKind::TimeoutPartial)
    {
        d = d.with(Evidence::Timeout408Partial {
            request: e.request.clone(),
        });
    }
    if s.read_timeouts > 0 {
        d = d.with(Evidence::HeaderReadTimeout);
    }
    let seen = first_bytes(s, |class| class == "http_partial");
    if let Some(e) = seen {
        d = d.with(e);
        d.confidence = Confidence::High;
    }
    d = d.with(Evidence::Aggregate {
        text: format!(
            "{} connection(s) held unfinished requests until the server's timeout, {} cut off \
             (400), {} served",
            thousands(slow),
            thousands(bad),
            thousands(served)
        ),
    });
    if partial == 0 && d.confidence != Confidence::High {
        d = d.raise("the access log's 408 lines with the unfinished request line would confirm it");
    }
    Some(d)
}

fn scan(s: &SourceSummary, cx: &Context) -> Option<Draft> {
    if s.tool_requests > 0 {
        let tool = s.tool.as_deref().unwrap_or("a scanner");
        return Some(Draft::new(Verdict::ConnectScan, Confidence::High).with(
            Evidence::Aggregate {
                text: format!(
                    "{} request(s) name a scanning tool in their User-Agent or path ({tool}); {}",
                    thousands(u64::from(s.tool_requests)),
                    outcome_list(s)
                ),
            },
        ));
    }
    let ports = s.dst_ports.len();
    let probes = probes(s);
    let served = count(s, Outcome::Served);
    let attempts = s.attempts();
    let weak = s.forms.max.is_some_and(|f| !f.client_after_syn());
    if ports >= cx.rules.scan_min_ports && probes >= 2 && probes >= served * 2 {
        let connect = count(s, Outcome::ClosedAtOnce) > 0 || served > 0;
        let v = if connect {
            Verdict::ConnectScan
        } else {
            Verdict::SynScan
        };
        let mut d = Draft::new(v, Confidence::High).with(Evidence::Aggregate {
            text: format!(
                "probed {}{} distinct ports: {}",
                ports,
                if s.dst_ports.truncated { "+" } else { "" },
                outcome_list(s)
            ),
        });
        if s.forms.max == Some(Shows::Inbound) {
            d.confidence = Confidence::Medium;
            d = d.raise("a log of both directions or a capture would show the server's answers");
        }
        return Some(d);
    }
    if weak && ports >= cx.rules.scan_min_ports && attempts >= 2 && s.requests.total() == 0 {
        return Some(
            Draft::new(Verdict::SynScan, Confidence::Medium)
                .with(Evidence::Aggregate {
                    text: format!(
                        "{} attempts to {}{} distinct ports and not one logged request",
                        thousands(attempts),
                        ports,
                        if s.dst_ports.truncated { "+" } else { "" }
                    ),
                })
                .with(Evidence::Form {
                    shows: weakest(s).as_str().to_owned(),
                    what: "a SYN scan and a connect scan look the same here".to_owned(),
                })
                .raise("a log of every packet with TCP flags or a capture would tell a SYN scan from a connect scan"),
        );
    }
    // Single probes: a SYN reset after the SYN-ACK (nmap -sS), a connection closed at once
    // without a byte (nmap -sT), nothing else.
    let at_once = count(s, Outcome::ClosedAtOnce);
    let resets = count(s, Outcome::ResetAfterSynAck);
    let single = at_once + resets + count(s, Outcome::Refused);
    if s.requests.total() == 0 && single == s.connections && s.connections <= SINGLE_PROBES {
        let (v, e) = if at_once > 0 {
            let reset = s.examples.first().is_some_and(|e| e.history.contains(b'R'));
            let ms = s.examples.first().map_or(0, |e| e.duration_ms);
            (
                Verdict::ConnectScan,
                Evidence::ClosedWithoutData {
                    reset,
                    duration_ms: ms,
                },
            )
        } else if resets > 0 {
            (Verdict::SynScan, Evidence::ResetAfterSynAck)
        } else {
            return None;
        };
        let mut d = Draft::new(v, Confidence::Medium).with(e);
        if resets > 0 && s.forms.max == Some(Shows::Inbound) {
            d = d.with(Evidence::Form {
                shows: Shows::Inbound.as_str().to_owned(),
                what: "the server's SYN-ACK is not in it; the client's RST right after its SYN \
                       says one came"
                    .to_owned(),
            });
        }
        return Some(
            d.raise("more probes from this address (other ports or hosts) would confirm a scan"),
        );
    }
    None
}

/// A source's connections by outcome, in words (`2 closed at once, 13 retried syn`).
fn outcome_list(s: &SourceSummary) -> String {
    s.outcomes
        .iter()
        .map(|(o, n)| {
            format!(
                "{} {}",
                thousands(u64::from(n)),
                o.as_str().replace('_', " ")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Connections of a source that are all single probes (connect-and-close, reset after the
/// SYN-ACK) up to which it is a scanner; more to one port look like health checks.
const SINGLE_PROBES: u64 = 3;

fn served(s: &SourceSummary, cx: &Context) -> Option<Draft> {
    let served = count(s, Outcome::Served);
    if served == 0 {
        return None;
    }
    let flood = flood_like(s);
    if flood >= cx.rules.min_flood_attempts.max(served * 10) && !too_slow_to_flood(s, cx) {
        let mut d = Draft::new(Verdict::SynFlood, Confidence::Medium).with(Evidence::Aggregate {
            text: format!(
                "{} SYNs that never completed against {} served connection(s)",
                thousands(flood),
                thousands(served)
            ),
        });
        let ok = u64::from(s.requests.get(RequestKind::Success));
        if ok > 0 {
            d = d.with(Evidence::AlsoServed { requests: ok });
        }
        return Some(d);
    }
    let completed = u64::from(s.requests.completed());
    let mut d = Draft::new(Verdict::Legitimate, Confidence::High);
    if completed > 0 {
        d = d.with(Evidence::RequestsLogged {
            count: u32::try_from(completed).unwrap_or(u32::MAX),
        });
    }
    if let Some(e) = first_bytes(s, |class| class == "http_complete") {
        d = d.with(e);
    }
    let others = s.connections.saturating_sub(served);
    if others > 0 {
        let parts: Vec<String> = s
            .outcomes
            .iter()
            .filter(|(o, _)| *o != Outcome::Served)
            .map(|(o, n)| {
                format!(
                    "{} {}",
                    thousands(u64::from(n)),
                    o.as_str().replace('_', " ")
                )
            })
            .collect();
        d = d.with(Evidence::Aggregate {
            text: format!(
                "its other {} connection(s) ({}) are what clients do: speculative, idle or \
                 retried connections",
                thousands(others),
                parts.join(", ")
            ),
        });
    }
    Some(d)
}

/// A source whose connections here carried no request, but which made successful requests
/// the access log holds outside them (before a capture began, on connections the input does
/// not show): a client.
fn served_elsewhere(s: &SourceSummary, cx: &Context) -> Option<Draft> {
    let ok = cx.successes.count(&s.addr);
    if ok == 0 {
        return None;
    }
    Some(
        Draft::new(Verdict::Legitimate, Confidence::Medium)
            .with(Evidence::Aggregate {
                text: format!(
                    "{} successful request(s) from this address are in the access log, on \
                     connections the firewall input does not show (before it began, or not \
                     logged); its {} connection(s) here: {}",
                    thousands(ok),
                    thousands(s.connections),
                    outcome_list(s)
                ),
            })
            .raise(
                "a firewall input covering the access log's whole time would match its requests",
            ),
    )
}

/// The source's first-bytes example as evidence, when its class passes `wanted`.
fn first_bytes(s: &SourceSummary, wanted: impl Fn(&str) -> bool) -> Option<Evidence> {
    s.first_bytes
        .as_ref()
        .filter(|e| wanted(&e.class))
        .map(|e| Evidence::FirstBytes {
            protocol: e.protocol.clone(),
            bytes: e.evidence.clone(),
        })
}

fn non_http(s: &SourceSummary) -> Option<Draft> {
    let h2 = count(s, Outcome::Http2Preface);
    let other = count(s, Outcome::NonHttp);
    if h2 + other == 0 {
        return None;
    }
    let logged = s
        .request_example
        .as_ref()
        .is_some_and(|e| matches!(e.kind, RequestKind::NonHttp | RequestKind::Http2Preface));
    let seen = first_bytes(s, crate::facts::FirstBytes::is_other_protocol);
    if s.http_on_tls > 0 {
        let d = Draft::new(Verdict::NonHttp, Confidence::High).with(Evidence::HttpOnTlsPort {
            connections: u64::from(s.http_on_tls),
        });
        return Some(match seen {
            Some(seen) => d.with(seen),
            None => d,
        });
    }
    if let (false, Some(seen)) = (logged, seen) {
        return Some(Draft::new(Verdict::NonHttp, Confidence::High).with(seen));
    }
    let request = s
        .request_example
        .as_ref()
        .map(|e| e.request.clone())
        .unwrap_or_default();
    let looks_like = if h2 > 0 {
        "an HTTP/2 preface on an HTTP/1-only server (a client speaking HTTP/2 with prior \
         knowledge, not an attack)"
    } else {
        crate::facts::non_http_kind(request.as_bytes()).unwrap_or("binary or non-HTTP bytes")
    };
    Some(
        Draft::new(Verdict::NonHttp, Confidence::High).with(Evidence::NonHttpRequest {
            request,
            looks_like: looks_like.to_owned(),
        }),
    )
}

/// Lone SYNs from a real TCP stack (TCP options, or no fingerprint at all) in an input of one
/// direction. A real stack retransmits an unanswered SYN after a second (Linux, Windows,
/// macOS), and acknowledges a SYN-ACK where an inbound input shows it; a SYN it sent once and
/// followed with nothing was refused (the server's RST, not in the input) or given up at once.
/// The lab's retry run: a monitoring check (curl every 2 s) against a stopped Apache, 30 SYNs
/// each reset by the kernel, was a `syn_flood`, blocked, from `kern-in.log`, `server-in.pcap`
/// and `ipfw-all.log`. They are attempts whose outcome the input does not show: a flood only
/// with the access log covering their time, as attempts are.
fn answers_not_shown(s: &SourceSummary) -> u64 {
    if s.forms.max != Some(Shows::Inbound) {
        return 0;
    }
    count(s, Outcome::LoneSyn).saturating_sub(s.crafted_syns)
}

fn weakest(s: &SourceSummary) -> Shows {
    s.forms.min.unwrap_or(Shows::FirstPacket)
}

/// The listen backlog of the one port a source sent to (a socket snapshot's, or Apache's
/// default).
fn backlog_of(s: &SourceSummary, cx: &Context) -> u64 {
    s.dst_ports
        .ports
        .first()
        .filter(|_| s.dst_ports.len() == 1)
        .and_then(|p| cx.backlog.get(p))
        .copied()
        .unwrap_or(DEFAULT_BACKLOG)
}

/// Connections one address must begin in a clock minute before its unanswered SYNs can flood
/// a listen queue of `backlog` on their own: the backlog renewed every 63 s (the life of a
/// half-open connection), halved, as a burst may straddle two clock minutes. 244 for
/// Apache's default 511: about 4 a second.
fn flood_pace(backlog: u64) -> u64 {
    ((backlog as f64 * 60.0 / SYN_RECV_LIFETIME_S) / 2.0).ceil() as u64
}

/// Whether a source's SYNs came from a real TCP stack (most carried TCP options, or the input
/// shows none) too slowly to fill a listen queue. The story's pattern, a new connection every
/// half second that Apache never logs, is what a load balancer's health check, a port monitor
/// and a client whose SYN-ACKs are lost all look like (the lab's periodic run: each was a
/// `syn_flood`, blocked, from the forms that do not show the handshake, and the lost client
/// from every form). Crafted SYNs (no TCP options: a raw-packet tool) keep their verdict at
/// any pace.
fn too_slow_to_flood(s: &SourceSummary, cx: &Context) -> bool {
    real_stack(s) && s.busiest_minute.most() < flood_pace(backlog_of(s, cx))
}

/// Whether a source sent enough unanswered SYNs for a flood of its own, but too slowly
/// ([`too_slow_to_flood`]): a periodic client.
fn periodic(s: &SourceSummary, cx: &Context) -> bool {
    unanswered_syns(s) >= cx.rules.min_flood_attempts && too_slow_to_flood(s, cx)
}

/// Whether a source's SYNs may come from an operating system's TCP stack: most carried TCP
/// options (or the input does not show them), and its source ports fit one system's client
/// range ([`crate::rollup::SourcePorts::beyond_any_one_allocator`]).
fn real_stack(s: &SourceSummary) -> bool {
    s.crafted_syns * 2 < s.connections && !s.src_ports.beyond_any_one_allocator()
}

/// The verdict of a source whose SYNs are too slow to flood ([`too_slow_to_flood`]).
fn paced(s: &SourceSummary, cx: &Context, syns: u64) -> Draft {
    let backlog = backlog_of(s, cx);
    let mut d = Draft::new(Verdict::Unknown, Confidence::Low).with(Evidence::TooSlowToFlood {
        syns,
        busiest_minute: s.busiest_minute.most(),
        backlog,
        needed_per_minute: flood_pace(backlog),
    });
    if count(s, Outcome::SynAckUnanswered) * 2 >= syns {
        d = d.with(Evidence::SynAckUnanswered);
    }
    d.raise(
        "a capture of both directions (tcpdump -w) during its connections would show whether \
         its handshakes complete and close at once (a health check or monitor), or its SYN-ACKs \
         go unanswered (a return path that loses them, or a spoofed address); the owner of the \
         address can say what runs there",
    )
}

fn flood(s: &SourceSummary, cx: &Context) -> Option<Draft> {
    let ports = s.dst_ports.len();
    if ports >= cx.rules.scan_min_ports {
        return None;
    }
    let unseen = answers_not_shown(s);
    let flood = flood_like(s) - unseen;
    let min = cx.rules.min_flood_attempts;
    if s.requests.total() == 0 && periodic(s, cx) {
        return Some(paced(s, cx, unanswered_syns(s)));
    }
    if flood >= min {
        let answered_by_server =
            count(s, Outcome::SynAckUnanswered) + count(s, Outcome::ResetAfterSynAck);
        let resets = count(s, Outcome::ResetAfterSynAck);
        let mut d = Draft::new(
            Verdict::SynFlood,
            if answered_by_server * 2 >= flood {
                Confidence::High
            } else {
                Confidence::Medium
            },
        )
        .with(Evidence::HandshakeNeverCompleted {
            syns: u32::try_from(flood).unwrap_or(u32::MAX),
        });
        // Resets from another TTL say the opposite ([`mark_sent_in_their_names`]).
        if resets * 2 >= flood && !sent_in_its_name(s) {
            d = d.with(Evidence::RealAddress { proofs: resets });
        } else if count(s, Outcome::SynAckUnanswered) * 2 >= flood {
            d = d.with(Evidence::SynAckUnanswered);
        }
        if d.confidence == Confidence::Medium {
            d = d.raise("a log of both directions or a capture would show whether the SYN-ACKs were answered");
        }
        return Some(d);
    }
    let attempts = s.attempts() + unseen;
    if attempts >= min && s.requests.total() == 0 {
        let form = Evidence::Form {
            shows: weakest(s).as_str().to_owned(),
            what: if unseen > 0 {
                "a real TCP stack's SYN sent once and never retransmitted was refused (an RST, \
                 when nothing listens) or given up at once, and the input does not show which"
            } else {
                "whether a handshake completed is not visible"
            }
            .to_owned(),
        };
        if !cx.access_log {
            return Some(
                Draft::new(Verdict::Unknown, Confidence::Low)
                    .with(form)
                    .with(Evidence::Missing {
                        what: format!(
                            "{} attempts to {} and no access log to tell a flood from a busy \
                             client: give the access log (--access)",
                            thousands(attempts),
                            ports_text(s)
                        ),
                    }),
            );
        }
        if !covered(s, cx) {
            return Some(
                Draft::new(Verdict::Unknown, Confidence::Low)
                    .with(form)
                    .with(Evidence::Missing {
                        what: if cx.access_span.is_some() {
                            "its attempts fall outside the time the access log covers"
                        } else {
                            // No overlap in time, or the log names other addresses (a proxy):
                            // the warning says which.
                            "an access log that covers its attempts: this one does not speak \
                             for them (see the warning)"
                        }
                        .to_owned(),
                    }),
            );
        }
        let mut d = Draft::new(Verdict::SynFlood, Confidence::Medium)
            .with(Evidence::NoRequestLogged { attempts })
            .with(form)
            .raise(
                "a log of both directions with TCP flags or a capture (tcpdump -w) would show \
                 whether the SYN-ACKs were answered; a netstat/ss snapshot during the event \
                 (--netstat) would show half-open sockets; and give every access log: requests \
                 written to another (a virtual host's own, a conditional CustomLog) look like \
                 none here",
            );
        if let Some((p, _)) = cx
            .platform
            .as_ref()
            .filter(|(p, _)| *p == Platform::FreeBsd)
        {
            d = d.with(Evidence::Platform {
                platform: p.as_str().to_owned(),
                means: p.no_log_line_means_of(cx.web_server).to_owned(),
            });
        }
        d.absent = true;
        return Some(d);
    }
    None
}

fn idle(s: &SourceSummary, cx: &Context) -> Option<Draft> {
    let timeouts = count(s, Outcome::IdleTimeout);
    if timeouts > 0 {
        let mut d = Draft::new(Verdict::IdleTimeout, Confidence::High);
        if u64::from(s.requests.get(RequestKind::TimeoutEmpty)) > 0 {
            d = d.with(Evidence::Timeout408Empty);
        } else if s.no_request_noted > 0 {
            d = d.with(no_request_noted(s));
        } else {
            d.confidence = Confidence::Medium;
            d = d.with(Evidence::ServerClosedIdle);
        }
        if s.read_timeouts > 0 {
            d = d.with(Evidence::HeaderReadTimeout);
        }
        return Some(d);
    }
    let tls = count(s, Outcome::TlsNoRequest);
    let quiet = count(s, Outcome::ClosedIdle)
        + count(s, Outcome::ClosedAtOnce)
        + count(s, Outcome::OpenIdle)
        + tls;
    if quiet > 0
        && quiet
            + count(s, Outcome::Refused)
            + count(s, Outcome::RetriedSyn)
            + count(s, Outcome::LogEnded)
            + count(s, Outcome::Midstream)
            >= s.connections
    {
        let mut d = Draft::new(Verdict::Idle, Confidence::High);
        d = if tls > 0 {
            if !cx.access_log {
                // Encrypted, and no log to say whether requests were in it.
                d.confidence = Confidence::Low;
            }
            d.with(Evidence::TlsWithoutRequest {
                connections: tls,
                port: s.dst_ports.ports.iter().copied().find(|p| is_tls_port(*p)),
                access_log: cx.access_log,
            })
        } else if shows_closes(s) {
            d.with(Evidence::ClosedWithoutData {
                reset: s.examples.first().is_some_and(|e| e.history.contains(b'R')),
                duration_ms: s.examples.first().map_or(0, |e| e.duration_ms),
            })
        } else {
            d
        };
        if s.no_request_noted > 0 {
            d = d.with(no_request_noted(s));
        }
        if s.forms.max == Some(Shows::Inbound) {
            d.confidence = Confidence::Medium;
        }
        return Some(d);
    }
    None
}

fn no_request_noted(s: &SourceSummary) -> Evidence {
    Evidence::NoRequestNoted {
        connections: u64::from(s.no_request_noted),
    }
}

/// Whether the source's inputs show how its connections closed (packets of the client after
/// its SYN): a form of first packets or SYNs alone does not.
fn shows_closes(s: &SourceSummary) -> bool {
    matches!(s.forms.max, Some(Shows::EveryPacket | Shows::Inbound))
}

fn undecided(s: &SourceSummary, cx: &Context) -> Draft {
    let mut d = Draft::new(Verdict::Unknown, Confidence::Low);
    let flood = unanswered_syns(s);
    if flood > 0 && s.requests.total() == 0 {
        d = d.with(Evidence::TooFewAttempts {
            half_open: flood,
            needed: cx.rules.min_flood_attempts,
        });
    }
    let main = s.outcomes.iter().max_by_key(|(_, n)| *n).map(|(o, _)| o);
    match main {
        Some(Outcome::Refused) => d.with(Evidence::PortClosed),
        Some(Outcome::RetriedSyn) => d.with(Evidence::Aggregate {
            text: "its SYNs were retransmitted like a real TCP stack retries an unanswered SYN: \
                   a client, not a flood"
                .to_owned(),
        }),
        Some(Outcome::LogEnded) => d.with(Evidence::Missing {
            what: "the input ended before the outcome of its attempts was known".to_owned(),
        }),
        Some(Outcome::Midstream) => d.with(Evidence::Missing {
            what: "its connections were already open when the input began (no SYN seen): not \
                   attempts"
                .to_owned(),
        }),
        Some(Outcome::UnsolicitedSynAck) => d.with(Evidence::Aggregate {
            text: "SYN-ACKs without a SYN (backscatter or reflection)".to_owned(),
        }),
        Some(Outcome::DataNoRequest) => {
            d.with(Evidence::DataWithoutRequest { bytes: None })
                .with(Evidence::Missing {
                    what:
                        "no access-log line matched its data (was the access log of this port and \
                       time given?)"
                            .to_owned(),
                })
        }
        Some(Outcome::Completed) => d.with(Evidence::Missing {
            what: "the handshake completed but the firewall log carries no TCP flags: enable \
                   flag logging (or give a capture) to tell a scan, a preconnect and a slow \
                   client apart"
                .to_owned(),
        }),
        Some(Outcome::Attempt) => d.with(Evidence::Form {
            shows: weakest(s).as_str().to_owned(),
            what: "log every packet with its TCP flags (or give a capture) to tell a flood, a \
                   scan and a preconnect apart"
                .to_owned(),
        }),
        Some(o) => d.with(Evidence::Aggregate {
            text: o.sentence().to_owned(),
        }),
        None => d,
    }
}

fn ports_text(s: &SourceSummary) -> String {
    let ports: Vec<String> = s
        .dst_ports
        .ports
        .iter()
        .take(5)
        .map(u16::to_string)
        .collect();
    let more = s.dst_ports.len() > 5 || s.dst_ports.truncated;
    format!(
        "{} {}{}",
        if s.dst_ports.len() == 1 {
            "port"
        } else {
            "ports"
        },
        ports.join(", "),
        if more { ", ..." } else { "" }
    )
}

/// Source-level aggregates for the evidence: rate, retransmissions, port pattern, TTLs.
fn aggregates(s: &SourceSummary, v: Verdict) -> Vec<Evidence> {
    let mut ev = Vec::new();
    if !matches!(v, Verdict::SynFlood | Verdict::SynScan | Verdict::Unknown) || s.syns < 2 {
        return ev;
    }
    let secs = s.duration_secs();
    if secs > 0.0 {
        ev.push(Evidence::Aggregate {
            text: format!(
                "{} SYNs to {} over {:.0} s ({:.2}/s), {} retransmission(s)",
                thousands(s.syns),
                ports_text(s),
                secs,
                s.syns as f64 / secs,
                s.syn_retransmissions
            ),
        });
    }
    if let Some(p) = s.src_ports.pattern() {
        let what = match p {
            PortPattern::Random => "random",
            PortPattern::Sequential => "sequential (each the previous + 1..8)",
            PortPattern::Fixed => "one fixed port (a raw-socket tool)",
        };
        ev.push(Evidence::Aggregate {
            text: format!("source ports {what}"),
        });
    }
    if s.crafted_syns > 0 {
        let w = match (s.window.min, s.window.max) {
            (Some(a), Some(b)) if a == b => format!(", window {a}"),
            _ => String::new(),
        };
        ev.push(Evidence::Aggregate {
            text: format!(
                "{} SYN(s) without any TCP option{w}: crafted by a raw-packet tool (hping3 and \
                 flood tools send these; no operating system does)",
                thousands(s.crafted_syns)
            ),
        });
    }
    ev
}

/// The network of `a` with `len` bits.
fn net(a: IpAddr, len: u8) -> IpNet {
    IpNet::new(a, len)
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(a))
}

/// Prefix lengths tried for a network flood, narrowest first.
const NET_LENS_V4: [u8; 3] = [24, 20, 16];
const NET_LENS_V6: [u8; 3] = [64, 56, 48];

/// Networks whose addresses each sent only unanswered SYNs, densely enough not to be the
/// background of a random-source flood; their members become `syn_flood`.
fn network_floods(
    r: &Rollup,
    summaries: &[&SourceSummary],
    cx: &Context,
    judged: &mut [Judged],
) -> Vec<NetworkFlood> {
    // A single reset probe whose RST came from another TTL than its SYN is nmap `-sS` (a
    // random TTL on its SYN) or a host named on one SYN of a reflection spread thin over its
    // network: one address cannot tell, many of one network at once can.
    let candidate = |s: &SourceSummary, j: &Judged| {
        s.only_unanswered()
            && (matches!(j.verdict, Verdict::SynFlood | Verdict::Unknown)
                || (single_reset_probe(s, j) && sent_in_its_name(s)))
            && attempts_count(s, cx)
    };
    // The sources whose SYNs were sent in their names group apart: a reflection at a network's
    // live hosts is its own finding, and must not lend them to a flood whose addresses sent
    // their own SYNs (nor take those in).
    let members = |in_their_names: bool| -> Vec<usize> {
        summaries
            .iter()
            .zip(judged.iter())
            .enumerate()
            .filter(|(_, (s, j))| candidate(s, j) && sent_in_its_name(s) == in_their_names)
            .map(|(i, _)| i)
            .collect()
    };
    let (own, in_names) = (members(false), members(true));
    // Flood-like sources folded per /24 (/64) when more sources came than are held.
    let folded: Vec<(IpNet, &FloodPart)> = r
        .folded
        .networks
        .iter()
        .map(|(n, c)| (*n, &c.payload))
        .filter(|(_, p)| part_counts(p, cx))
        .collect();
    let mut out = floods_among(&own, &folded, summaries, cx, judged);
    for mut f in floods_among(&in_names, &[], summaries, cx, judged) {
        f.sent_in_their_names = true;
        out.push(f);
    }
    out
}

/// The networks whose `members` (indices into `summaries` and `judged`) and `folded` sources
/// flood together, narrowest first met; each member joins its network's flood.
fn floods_among(
    members: &[usize],
    folded: &[(IpNet, &FloodPart)],
    summaries: &[&SourceSummary],
    cx: &Context,
    judged: &mut [Judged],
) -> Vec<NetworkFlood> {
    let min = cx.rules.min_flood_sources.max(2);
    let folded_v4: u64 = folded
        .iter()
        .filter(|(n, _)| n.addr().is_ipv4())
        .map(|(_, p)| p.addresses)
        .sum();
    let folded_all: u64 = folded.iter().map(|(_, p)| p.addresses).sum();
    let total_v4 = members
        .iter()
        .filter(|&&i| judged.get(i).is_some_and(|j| j.addr.is_ipv4()))
        .count() as f64
        + folded_v4 as f64;
    let total_v6 = (members.len() as u64 + folded_all) as f64 - total_v4;
    let mut grouped: Vec<bool> = vec![false; judged.len()];
    let mut folded_grouped: Vec<bool> = vec![false; folded.len()];
    let mut out = Vec::new();
    for level in 0..3 {
        let lens = |a: IpAddr| {
            if a.is_ipv4() {
                NET_LENS_V4.get(level).copied()
            } else {
                NET_LENS_V6.get(level).copied()
            }
        };
        // Per network: the held members and the folded parts in it.
        let mut by_net: BTreeMap<IpNet, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
        for &i in members {
            if grouped.get(i).copied().unwrap_or(true) {
                continue;
            }
            let Some(j) = judged.get(i) else { continue };
            let Some(len) = lens(j.addr) else { continue };
            by_net.entry(net(j.addr, len)).or_default().0.push(i);
        }
        for (k, (n, _)) in folded.iter().enumerate() {
            if folded_grouped.get(k).copied().unwrap_or(true) {
                continue;
            }
            let Some(len) = lens(n.addr()) else { continue };
            by_net.entry(net(n.addr(), len)).or_default().1.push(k);
        }
        let folded_in = |fidx: &[usize]| {
            let mut part = FloodPart::default();
            for &k in fidx {
                if let Some((_, p)) = folded.get(k) {
                    part.merge(p);
                }
            }
            part
        };
        // A random-source flood spreads its addresses over many networks: a network floods as
        // one only when it holds many more of them than the other networks do (and than its
        // share of the address space).
        let occupied = by_net.len().max(1) as f64;
        let all: f64 = by_net
            .values()
            .map(|(idx, fidx)| idx.len() as f64 + folded_in(fidx).addresses as f64)
            .sum();
        for (wide, (idx, fidx)) in by_net {
            let extra = folded_in(&fidx);
            let (bits, total) = if wide.addr().is_ipv4() {
                (32u32, total_v4)
            } else {
                (128, total_v6)
            };
            let share = total * 2f64.powi(-(i32::from(wide.prefix_len()).min(bits as i32)));
            let here = idx.len() as f64 + extra.addresses as f64;
            let background = if occupied > 1.0 {
                (all - here) / (occupied - 1.0)
            } else {
                0.0
            };
            if (here as u64) < min || here < share * 20.0 || here < background * 10.0 {
                continue;
            }
            // The flood's own network: the narrowest one inside that holds nearly all of them
            // (the spoofed /26, not its neighbours that scanned or browsed); folded sources are
            // known by their /24 (/64) only.
            let addrs: Vec<IpAddr> = idx
                .iter()
                .filter_map(|&i| judged.get(i))
                .map(|j| j.addr)
                .collect();
            let network = if fidx.is_empty() {
                densest(wide, &addrs)
            } else {
                wide
            };
            let idx: Vec<usize> = idx
                .into_iter()
                .filter(|&i| judged.get(i).is_some_and(|j| network.contains(&j.addr)))
                .collect();
            let n = idx.len() as u64 + extra.addresses;
            if n < min || (fidx.is_empty() && too_slow_together(&idx, summaries, cx)) {
                continue;
            }
            let mut part = extra;
            let mut wide16: BTreeSet<IpNet> = fidx
                .iter()
                .filter_map(|&k| folded.get(k))
                .map(|(n, _)| wide_network_of(n.addr()))
                .collect();
            for &i in &idx {
                if let Some(s) = summaries.get(i) {
                    part.add(s);
                    wide16.insert(wide_network_of(s.addr));
                }
            }
            for &k in &fidx {
                if let Some(g) = folded_grouped.get_mut(k) {
                    *g = true;
                }
            }
            for &i in &idx {
                if let Some(g) = grouped.get_mut(i) {
                    *g = true;
                }
                if let Some(j) = judged.get_mut(i) {
                    join_as_member(
                        j,
                        true,
                        Evidence::NetworkFlood {
                            network: network.to_string(),
                            sources: n,
                        },
                    );
                }
            }
            let (likely_spoofed, indicators) = spoofing(&part, wide16.len() as u64);
            out.push(NetworkFlood {
                network,
                sources: n,
                syns: part.syns,
                likely_spoofed,
                indicators,
                sent_in_their_names: false,
            });
        }
    }
    out
}

/// Whether the sources `idx` of one network were each too slow to flood on their own
/// ([`too_slow_to_flood`]: periodic, from a real TCP stack) and began too few connections
/// together to fill a listen queue even if their busiest minutes fell together: a monitoring
/// service's probes from one network, not a flood. Addresses that sent a SYN or two each
/// (a spoofed network's) are not periodic clients and keep the network rule.
fn too_slow_together(idx: &[usize], summaries: &[&SourceSummary], cx: &Context) -> bool {
    let members = || idx.iter().filter_map(|&i| summaries.get(i));
    let each_paced = members().count() == idx.len() && members().all(|s| periodic(s, cx));
    let pace: u64 = members().map(|s| s.busiest_minute.most()).sum();
    let backlog = members()
        .map(|s| backlog_of(s, cx))
        .min()
        .unwrap_or(DEFAULT_BACKLOG);
    each_paced && pace < flood_pace(backlog)
}

/// The narrowest network inside `wide` that holds at least 90 % of `addrs`.
fn densest(wide: IpNet, addrs: &[IpAddr]) -> IpNet {
    let full: u8 = if wide.addr().is_ipv4() { 32 } else { 128 };
    let need = (addrs.len() * 9).div_ceil(10);
    let mut best = wide;
    for len in wide.prefix_len().saturating_add(1)..full {
        let mut counts: BTreeMap<IpNet, usize> = BTreeMap::new();
        for a in addrs {
            *counts.entry(net(*a, len)).or_insert(0) += 1;
        }
        match counts.into_iter().max_by_key(|(_, n)| *n) {
            Some((n, c)) if c >= need && c >= 2 => best = n,
            _ => break,
        }
    }
    best
}

/// What helps against a flood from spoofed addresses.
pub const SPOOFED_FLOOD_ADVICE: &str = "blocking spoofed source addresses does little (a flood \
tool picks new ones, and the real owners of the addresses get blocked); what helps: SYN cookies \
(Linux: sysctl net.ipv4.tcp_syncookies=1; FreeBSD: sysctl net.inet.tcp.syncookies=1), a larger \
SYN backlog (Linux: net.ipv4.tcp_max_syn_backlog and the listen backlog, net.core.somaxconn; \
FreeBSD: kern.ipc.soacceptqueue), and filtering upstream (ask the provider to filter or \
rate-limit SYNs to this address)";

/// How long a half-open connection waits for its ACK (Linux: 5 SYN-ACK retransmissions).
const SYN_RECV_LIFETIME_S: f64 = 63.0;
/// Apache's default listen backlog.
const DEFAULT_BACKLOG: u64 = 511;

/// Server ports with many unanswered SYNs from many addresses (or the kernel's own word).
fn server_floods(
    r: &Rollup,
    summaries: &[&SourceSummary],
    cx: &Context,
    networks: &[NetworkFlood],
    judged: &mut [Judged],
) -> Vec<ServerFlood> {
    // Flood-like sources by destination port (sources with one port only).
    // Keyed by family and port: a source's address family is its server's.
    let mut by_port: BTreeMap<(bool, u16), Vec<usize>> = BTreeMap::new();
    for (i, s) in summaries.iter().enumerate() {
        let weak_ok = attempts_count(s, cx);
        let undecided = judged
            .get(i)
            .is_some_and(|j| matches!(j.verdict, Verdict::SynFlood | Verdict::Unknown));
        if s.only_unanswered()
            && s.dst_ports.len() == 1
            && weak_ok
            && undecided
            && let Some(&p) = s.dst_ports.ports.first()
        {
            by_port.entry((s.addr.is_ipv4(), p)).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (server, sum) in &r.servers {
        let port = server.port();
        let key = (server.ip().is_ipv4(), port);
        let idx = by_port.get(&key).cloned().unwrap_or_default();
        let folded = r
            .folded
            .ports
            .get(&key)
            .filter(|p| part_counts(&p.part, cx));
        let addresses = idx.len() as u64 + folded.map_or(0, |p| p.part.addresses);
        let unanswered: u64 = idx
            .iter()
            .filter_map(|&i| summaries.get(i))
            .map(|s| unanswered_syns(s) + count(s, Outcome::LogEnded))
            .sum::<u64>()
            + folded.map_or(0, |p| p.part.unanswered);
        let kernel = cx
            .kernel
            .iter()
            .filter(|k| match k.what {
                KernelNoteKind::SynFlooding { port: p, addr, .. } => {
                    p == port && addr.is_none_or(|a| a.is_unspecified() || a == server.ip())
                }
                KernelNoteKind::ListenQueueOverflow { local, .. } => {
                    local.is_none_or(|l| l.port() == port)
                }
            })
            .count() as u64;
        let many = unanswered >= cx.rules.server_flood_attempts
            && addresses >= cx.rules.server_flood_sources;
        let kernel_says = kernel > 0 && addresses >= 2;
        if !(many || kernel_says) {
            continue;
        }
        let mut f = describe_server_flood(*server, sum, &idx, summaries, folded, cx, kernel);
        f.unanswered = unanswered;
        f.addresses = addresses;
        (f.networks, f.wide_networks) = networks_within(addresses, f.networks, f.wide_networks);
        f.sentence = server_sentence(&f);
        for &i in &idx {
            // A periodic client caught up in the flood (a health check whose SYN-ACKs are lost
            // while spoofed SYNs pour in) keeps its own verdict: not a member.
            if summaries.get(i).is_some_and(|s| periodic(s, cx)) {
                continue;
            }
            // A single attempt whose outcome the input does not show is counted in the flood
            // but not named a flood member on its own.
            let own = summaries
                .get(i)
                .is_some_and(|s| flood_like(s) > 0 || s.crafted_syns > 0);
            // An address that floods on its own is blocked on its own (it stops what it sends);
            // the many addresses of a random-source flood are not.
            let alone = summaries
                .get(i)
                .is_some_and(|s| unanswered_syns(s) >= cx.rules.min_flood_attempts);
            if let Some(j) = judged.get_mut(i) {
                let in_network = networks.iter().any(|n| n.network.contains(&j.addr));
                join_flood(j, &f, own, f.likely_spoofed && !in_network && !alone);
            }
        }
        if f.likely_spoofed {
            spoofed_owners(summaries, judged, key, &f);
        }
        out.push(f);
    }
    out
}

/// The single reset probes to a port under a likely spoofed flood ([`single_reset_probe`]):
/// not blocked; a flood member when their SYN was crafted (the flood tool's, not a scanner's
/// stack). They are left out of the flood's counts and its spoofing evidence.
fn spoofed_owners(
    summaries: &[&SourceSummary],
    judged: &mut [Judged],
    (v4, port): (bool, u16),
    f: &ServerFlood,
) {
    for (s, j) in summaries.iter().zip(judged.iter_mut()) {
        if s.addr.is_ipv4() != v4
            || s.dst_ports.ports.first() != Some(&port)
            || !single_reset_probe(s, j)
        {
            continue;
        }
        join_flood(j, f, s.crafted_syns > 0, true);
    }
}

/// Makes `j` one of flood `f`'s addresses: `random` when it is one of a random-source
/// flood's (never blocked on its own); `own` when its SYNs show it flooding, which makes it a
/// `syn_flood` (medium) where it was not.
fn join_flood(j: &mut Judged, f: &ServerFlood, own: bool, random: bool) {
    j.random_flood_member = random;
    join_as_member(
        j,
        own,
        Evidence::ServerFlood {
            server: f.server.to_string(),
            addresses: f.addresses,
        },
    );
}

/// Puts the flood `membership` (a network's or a server port's) first in `j`'s evidence;
/// with `flooding` (its own SYNs show it), `j` becomes a `syn_flood` (medium) where it was
/// not, and "too few attempts" no longer applies.
fn join_as_member(j: &mut Judged, flooding: bool, membership: Evidence) {
    if j.verdict != Verdict::SynFlood && flooding {
        j.verdict = Verdict::SynFlood;
        j.confidence = Confidence::Medium;
        j.evidence
            .retain(|e| !matches!(e, Evidence::TooFewAttempts { .. }));
    }
    j.evidence.insert(0, membership);
}

/// Whether the input shows what came of a server port's SYN-ACKs for some of its attempts
/// (unanswered, reset, the client's lone SYN, no SYN-ACK at all), not only attempts whose
/// outcome is not visible (SYNs alone, first packets).
fn answers_shown(sum: &ServerSummary) -> bool {
    sum.outcomes
        .sum(|o| o.proven_half_open() || o == Outcome::ServerSilent)
        > 0
}

fn describe_server_flood(
    server: SocketAddr,
    sum: &ServerSummary,
    idx: &[usize],
    summaries: &[&SourceSummary],
    folded: Option<&PortFlood>,
    cx: &Context,
    kernel: u64,
) -> ServerFlood {
    // The flood's many addresses, held and folded (not those that flood on their own).
    let mut all = folded.cloned().unwrap_or_default();
    for s in idx
        .iter()
        .filter_map(|&i| summaries.get(i).copied())
        .filter(|s| unanswered_syns(s) < cx.rules.min_flood_attempts)
    {
        all.add(s);
    }
    let nets24 = all.nets24.count();
    let nets16 = all.nets16.count();
    let (likely_spoofed, indicators) = spoofing(&all.part, nets16);
    let span = (sum.span.min.unwrap_or(0), sum.span.max.unwrap_or(0));
    let peak = sum.never_completed.peak_per_second();
    let resets = u64::from(sum.outcomes.get(Outcome::ResetAfterSynAck));
    // A SYN-ACK reset at once frees its place in the queue: only the others can fill it (a
    // summary written before `held` existed counts every one).
    let held_peak = match resets {
        0 => peak,
        _ => sum.held.peak_per_second(),
    };
    let backlog = cx.backlog.get(&server.port()).copied();
    let backlog_note = (peak > 0.0).then(|| {
        if held_peak == 0.0 {
            return format!(
                "the client side reset every SYN-ACK at once ({} of them): none held a place in \
                 the listen queue",
                thousands(resets)
            );
        }
        let peak = held_peak;
        let b = backlog.unwrap_or(DEFAULT_BACKLOG);
        let at_once = peak * SYN_RECV_LIFETIME_S;
        // Where the input shows SYNs alone, what came of their SYN-ACKs is not known: a reset
        // at once (the carpet run's live hosts) holds no place at all.
        let unseen = !answers_shown(sum);
        format!(
            "{peak:.1} unanswered SYNs per second at the peak: with a half-open connection kept \
             {SYN_RECV_LIFETIME_S:.0} s (Linux), {}about {} at once against a backlog of {b}{}: {}",
            if unseen {
                "if none of their SYN-ACKs was answered (the input does not show), "
            } else {
                ""
            },
            thousands(at_once as u64),
            if backlog.is_none() {
                " (Apache's default; --netstat gives the real one)"
            } else {
                ""
            },
            match (at_once >= b as f64, unseen) {
                (true, false) => {
                    "the backlog overflows: legitimate clients get no answer unless SYN cookies \
                     are on"
                }
                (true, true) => {
                    "the backlog would overflow (a log of every inbound packet or a capture would \
                     show the resets that free it)"
                }
                (false, _) => "below the backlog",
            }
        )
    });
    let confidence = if kernel > 0 || sum.single_syn_ack + sum.retransmitted_syn_ack > 0 {
        Confidence::High
    } else {
        Confidence::Medium
    };
    ServerFlood {
        server,
        unanswered: 0,
        addresses: 0,
        networks: nets24,
        wide_networks: nets16,
        span,
        peak_per_second: peak,
        single_syn_ack: sum.single_syn_ack,
        retransmitted_syn_ack: sum.retransmitted_syn_ack,
        likely_spoofed,
        indicators,
        kernel_messages: kernel,
        backlog_note,
        confidence,
        sentence: String::new(),
    }
}

/// Whether a group of flood sources looks spoofed, and the indicators either way: most send
/// one or two SYNs, none resets a SYN-ACK (a real host resets one it did not ask for), SYNs
/// without options, TTLs spread wide across the group (`wide16`: the /16s they are in).
fn spoofing(members: &FloodPart, wide16: u64) -> (bool, Vec<String>) {
    let few = members.few;
    let resets = members.resets;
    let unanswered_acks = members.unanswered_acks;
    let crafted = members.crafted;
    let mut indicators = Vec::new();
    let total = members.addresses;
    let n = total.max(1);
    if few * 2 >= n {
        indicators.push(format!(
            "{} of {} addresses sent at most 2 SYNs each",
            thousands(few),
            thousands(total)
        ));
    }
    if wide16 >= 16 {
        indicators.push(format!("spread over {} /16 networks", thousands(wide16)));
    }
    if unanswered_acks > 0 && resets == 0 {
        indicators.push(format!(
            "none of the {} SYN-ACKs was answered, not even with an RST (a real host resets a \
             SYN-ACK it did not ask for)",
            thousands(unanswered_acks)
        ));
    }
    if crafted * 2 >= n {
        indicators.push(format!(
            "{} addresses sent SYNs without TCP options (a raw-packet tool)",
            thousands(crafted)
        ));
    }
    if let (Some(a), Some(z)) = (members.ttl.min, members.ttl.max)
        && z.saturating_sub(a) > 16
    {
        indicators.push(format!("TTLs from {a} to {z}"));
    }
    // Resets from another TTL than the SYNs' are the spoofed addresses' owners answering.
    let owners = members.resets_other_ttl;
    let own_resets = resets.saturating_sub(owners);
    let spoofed = total >= 8
        && (own_resets == 0 || owners * 2 > resets)
        && ((few * 2 >= n && total >= 16)
            || unanswered_acks > 0
            || crafted * 2 >= n
            || owners * 2 > resets);
    if owners > 0 {
        indicators.push(format!(
            "{} SYN-ACK(s) were reset by the addresses' hosts from another TTL than the SYNs': \
             live hosts that did not send them",
            thousands(owners)
        ));
    }
    if own_resets > 0 {
        indicators.push(format!(
            "{} SYN-ACK(s) were answered with an RST from the SYNs' TTL (or where the TTL is \
             not shown): those addresses are live",
            thousands(own_resets)
        ));
    }
    if indicators.is_empty() {
        indicators.push(
            "nothing in the input shows whether the addresses are real (the server's SYN-ACKs \
             and the answers to them are not logged)"
                .to_owned(),
        );
    }
    (spoofed, indicators)
}

/// The /24 and /16 network counts of a flood's addresses, kept within what they can be: no
/// more networks than addresses, no more /16s than /24s. The network counts are estimates
/// (distinct-count sketches, 1.6 % standard error): on a 3 M-address random-source flood the
/// /24 count came out 2.4 % above the address count.
fn networks_within(addresses: u64, nets24: u64, nets16: u64) -> (u64, u64) {
    let nets24 = nets24.min(addresses);
    (nets24, nets16.min(nets24))
}

fn server_sentence(f: &ServerFlood) -> String {
    let mut s = format!(
        "SYN flood on {}: {} unanswered SYNs from {} addresses in {} network(s){}",
        f.server,
        thousands(f.unanswered),
        thousands(f.addresses),
        thousands(f.networks),
        if f.likely_spoofed {
            ", likely spoofed"
        } else {
            ""
        }
    );
    if f.kernel_messages > 0 {
        s.push_str(&format!(
            "; the kernel logged \"Possible SYN flooding\" {} time(s)",
            f.kernel_messages
        ));
    }
    if f.single_syn_ack > 0 && f.retransmitted_syn_ack == 0 {
        s.push_str(&format!(
            "; the server answered {} of them with one SYN-ACK and no retransmission (SYN \
             cookies in use)",
            thousands(f.single_syn_ack)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ConnFacts, RequestExample};

    fn conn(addr: &str, port: u16, start_s: i64, shows: Shows, history: &str) -> ConnFacts {
        let mut c = ConnFacts::new(
            format!("{addr}:{port}").parse().unwrap(),
            "192.0.2.10:80".parse().unwrap(),
            start_s * 1_000_000,
            shows,
        );
        c.history = crate::facts::history_of(history);
        c.flags = shows != Shows::FirstPacket;
        c.handshake_completed = history.contains('A') && history.contains('h');
        c.reply_seen_by_orig = history.contains('A');
        c.syn_count = 1;
        c.orig_pkts = 1;
        c.end_us = c.start_us + 1_000;
        c
    }

    fn verdicts(conns: &[ConnFacts], cx: &Context) -> BTreeMap<IpAddr, Verdict> {
        let mut r = Rollup::default();
        for c in conns {
            r.add(c);
        }
        judge(&r, cx)
            .sources
            .into_iter()
            .map(|j| (j.addr, j.verdict))
            .collect()
    }

    /// hping3's SYN: window 512, no TCP options.
    fn crafted(mut c: ConnFacts) -> ConnFacts {
        c.syn = Some(crate::facts::SynFingerprint {
            ttl: Some(64),
            window: Some(512),
            mss: None,
            has_options: Some(false),
        });
        c
    }

    #[test]
    fn hping3_from_a_real_address_is_a_flood_not_a_scan() {
        let conns: Vec<ConnFacts> = (0..180)
            .map(|i| {
                crafted(conn(
                    "198.51.100.30",
                    3000 + i,
                    i64::from(i) / 2,
                    Shows::EveryPacket,
                    "ShR",
                ))
            })
            .collect();
        let v = verdicts(&conns, &Context::default());
        assert_eq!(v.values().next(), Some(&Verdict::SynFlood));
    }

    /// A health check whose SYN-ACKs are lost (every 0.5 s, a real stack's SYNs) while a
    /// spoofed random-source flood hits the same port: counted in the server's flood, but not
    /// named a member of it nor blocked on its own.
    #[test]
    fn a_periodic_client_caught_in_a_random_source_flood_is_not_a_member() {
        let mut conns: Vec<ConnFacts> = (0..400u32)
            .map(|i| {
                let addr = format!("{}.{}.{}.7", 11 + i % 200, i % 251, i / 3);
                let mut c = crafted(conn(&addr, 1024 + i as u16, 0, Shows::EveryPacket, "Sh"));
                c.start_us = 10_000_000 + i64::from(i) * 10_000;
                c.end_us = c.start_us + 1_000;
                c
            })
            .collect();
        for i in 0..120u16 {
            let mut c = conn("203.0.113.22", 40_000 + i * 3, 0, Shows::EveryPacket, "Sh");
            c.start_us = 5_000_000 + i64::from(i) * 500_000;
            c.end_us = c.start_us + 31_000_000;
            c.syn = Some(crate::facts::SynFingerprint {
                ttl: Some(63),
                window: Some(64240),
                mss: Some(1460),
                has_options: Some(true),
            });
            conns.push(c);
        }
        let mut r = Rollup::default();
        for c in &conns {
            r.add(c);
        }
        let j = judge(&r, &Context::default());
        assert_eq!(j.servers.len(), 1, "{:?}", j.servers);
        let lost = j
            .sources
            .iter()
            .find(|j| j.addr.to_string() == "203.0.113.22")
            .unwrap();
        assert_eq!(lost.verdict, Verdict::Unknown, "{:?}", lost.evidence);
        assert!(!lost.random_flood_member);
        assert!(matches!(
            lost.evidence.first(),
            Some(Evidence::TooSlowToFlood { .. })
        ));
    }

    /// A monitoring service probing from eight addresses of one /24, each every 5 s, on the
    /// story's form: no network flood (the eight together begin 96 connections a minute),
    /// where eight addresses of a /24 sending only unanswered SYNs otherwise are one.
    #[test]
    fn a_monitoring_service_s_probes_from_one_network_are_not_a_network_flood() {
        let probes = |every_s: i64| -> Vec<ConnFacts> {
            (1..=8u8)
                .flat_map(|host| {
                    (0..12i64).map(move |k| {
                        conn(
                            &format!("198.51.100.{host}"),
                            40_000 + (k as u16) * 7,
                            5 + k * every_s + i64::from(host),
                            Shows::FirstPacket,
                            "",
                        )
                    })
                })
                .collect()
        };
        let cx = Context {
            access_log: true,
            access_span: Some((0, 700_000_000)),
            ..Context::default()
        };
        let mut r = Rollup::default();
        for c in &probes(5) {
            r.add(c);
        }
        let j = judge(&r, &cx);
        assert!(j.networks.is_empty(), "{:?}", j.networks);
        assert!(j.sources.iter().all(|s| s.verdict == Verdict::Unknown));
    }

    /// The story's evidence: one ipfw line per connection, a new port every half second, no
    /// access-log line. The lab's periodic run showed that load balancers' health checks and
    /// port monitors write exactly this (they were blocked as floods): at that pace it is not a
    /// flood, and the report says so and what would tell.
    #[test]
    fn the_story_on_one_line_per_connection() {
        let mut conns: Vec<ConnFacts> = (0..1200)
            .map(|i| {
                conn(
                    "45.76.87.206",
                    40000 + (i * 7919 % 20000) as u16,
                    5 + i / 2,
                    Shows::FirstPacket,
                    "",
                )
            })
            .collect();
        let mut browser = conn("45.76.86.23", 50000, 100, Shows::FirstPacket, "");
        browser.requests.add(
            RequestExample::new(100, Some(200), Some(b"GET / HTTP/1.1")),
            false,
        );
        conns.push(browser);
        let cx = Context {
            access_log: true,
            access_span: Some((0, 700_000_000)),
            ..Context::default()
        };
        // One SYN every half second is the pace of a health check: unknown, and why.
        let mut r = Rollup::default();
        for c in &conns {
            r.add(c);
        }
        let j = judge(&r, &cx);
        let story = j
            .sources
            .iter()
            .find(|j| j.addr.to_string() == "45.76.87.206")
            .unwrap();
        assert_eq!(story.verdict, Verdict::Unknown);
        assert!(
            story.evidence.iter().any(|e| matches!(
                e,
                Evidence::TooSlowToFlood {
                    busiest_minute: 120,
                    needed_per_minute: 244,
                    ..
                }
            )),
            "{:?}",
            story.evidence
        );
        let v = verdicts(&conns, &cx);
        assert_eq!(
            v[&"45.76.86.23".parse::<IpAddr>().unwrap()],
            Verdict::Legitimate
        );
        // The same lines ten times as fast (20 a second) can fill a listen queue: a flood.
        let fast: Vec<ConnFacts> = (0..1200)
            .map(|i| {
                let mut c = conn(
                    "45.76.87.206",
                    40000 + (i * 7919 % 20000) as u16,
                    0,
                    Shows::FirstPacket,
                    "",
                );
                c.start_us = 5_000_000 + i64::from(i) * 50_000;
                c.end_us = c.start_us + 1_000;
                c
            })
            .collect();
        let v = verdicts(&fast, &cx);
        assert_eq!(
            v[&"45.76.87.206".parse::<IpAddr>().unwrap()],
            Verdict::SynFlood
        );
        // Without an access log, attempts alone are not a flood.
        let v = verdicts(&conns, &Context::default());
        assert_eq!(
            v[&"45.76.87.206".parse::<IpAddr>().unwrap()],
            Verdict::Unknown
        );
    }

    #[test]
    fn clients_are_not_floods_or_scans() {
        let cx = Context::default();
        // Refused once, then served.
        let mut served = conn("203.0.113.50", 40001, 2, Shows::EveryPacket, "ShADadFf");
        served.requests.add(
            RequestExample::new(2, Some(200), Some(b"GET / HTTP/1.1")),
            true,
        );
        let conns = vec![
            conn("203.0.113.50", 40000, 1, Shows::EveryPacket, "Sr"),
            served,
        ];
        assert_eq!(
            verdicts(&conns, &cx).values().next(),
            Some(&Verdict::Legitimate)
        );
        // One refused connection only.
        let conns = vec![conn("203.0.113.51", 40000, 1, Shows::EveryPacket, "Sr")];
        assert_eq!(
            verdicts(&conns, &cx).values().next(),
            Some(&Verdict::Unknown)
        );
        // A retransmitted SYN.
        let mut c = conn("203.0.113.52", 40000, 1, Shows::EveryPacket, "S");
        c.syn_count = 3;
        assert_eq!(verdicts(&[c], &cx).values().next(), Some(&Verdict::Unknown));
        // A capture starting mid-stream.
        let conns: Vec<ConnFacts> = (0..20)
            .map(|i| conn("203.0.113.53", 40000 + i, 1, Shows::EveryPacket, "^DdA"))
            .collect();
        assert_eq!(
            verdicts(&conns, &cx).values().next(),
            Some(&Verdict::Unknown)
        );
    }

    #[test]
    fn slow_attackers_with_a_few_successes_are_slow() {
        let mut conns = Vec::new();
        for i in 0..60u16 {
            let mut c = conn("198.51.100.40", 30000 + i, 1, Shows::EveryPacket, "ShADafF");
            c.requests.add(
                RequestExample::new(10, Some(408), Some(b"GET / HTTP/1.1")),
                false,
            );
            conns.push(c);
        }
        for i in 0..12u16 {
            let mut c = conn(
                "198.51.100.40",
                31000 + i,
                1,
                Shows::EveryPacket,
                "ShADadFf",
            );
            c.requests.add(
                RequestExample::new(10, Some(200), Some(b"GET / HTTP/1.1")),
                false,
            );
            conns.push(c);
        }
        assert_eq!(
            verdicts(&conns, &Context::default()).values().next(),
            Some(&Verdict::SlowRequest)
        );
    }

    #[test]
    fn random_source_flood_is_a_server_finding() {
        let conns: Vec<ConnFacts> = (0..2000u32)
            .map(|i| {
                let a = std::net::Ipv4Addr::from(
                    0x0b00_0000u32.wrapping_add(i.wrapping_mul(2_654_435_761)),
                );
                conn(
                    &a.to_string(),
                    1024 + (i % 50000) as u16,
                    i64::from(i / 50),
                    Shows::EveryPacket,
                    "Sh",
                )
            })
            .collect();
        let mut r = Rollup::default();
        for c in &conns {
            r.add(c);
        }
        let j = judge(&r, &Context::default());
        assert_eq!(j.servers.len(), 1);
        assert!(j.servers[0].likely_spoofed, "{:?}", j.servers[0]);
        assert!(
            j.sources
                .iter()
                .all(|s| s.verdict == Verdict::SynFlood && s.random_flood_member)
        );
        assert!(j.networks.is_empty(), "{:?}", j.networks);
    }

    proptest::proptest! {
        /// A flood's network counts never exceed its address count, the /16s never the
        /// /24s, and counts that already hold are kept.
        #[test]
        fn network_counts_stay_within_the_addresses(
            addresses in 0u64..10_000_000,
            nets24 in 0u64..10_000_000,
            nets16 in 0u64..10_000_000,
        ) {
            let (n24, n16) = networks_within(addresses, nets24, nets16);
            proptest::prop_assert!(n24 <= addresses && n16 <= n24);
            if nets24 <= addresses && nets16 <= nets24 {
                proptest::prop_assert_eq!((n24, n16), (nets24, nets16));
            }
        }
    }
}
