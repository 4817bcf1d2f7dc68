//! Deterministic traffic for halfopen's tests, samples and benchmarks, crafted packet by packet.
//!
//! A [`Scenario`] lists actors (clients, scanners, flooders) and what each one *does*
//! ([`Behavior`]). [`Scenario::render`] simulates every TCP connection at both ends (the client's
//! stack and a Linux server running Apache httpd 2.4 with Debian's defaults) and renders the same
//! traffic in every evidence form an admin may have ([`Form`]: a pcap; netfilter LOG on every
//! packet, on inbound packets, on inbound SYNs; nftables `log flags all`; ipfw on every packet and
//! on inbound SYNs) and as the access and error logs Apache would have written. The ground truth
//! ([`TruthRow`]) is each actor's behaviour, never a verdict.
//!
//! ```
//! use halfopen_testgen::{Actor, Behavior, Scenario};
//! let mut s = Scenario::new("203.0.113.80".parse().unwrap(), 80, 1_772_390_940_000_000, 7);
//! s.actors.push(Actor {
//!     addr: "192.0.2.10".parse().unwrap(),
//!     behavior: Behavior::Browser { connections: 1, requests_per_conn: 2 },
//!     start_us: 0,
//! });
//! let r = s.render();
//! assert_eq!(r.access_combined.lines().count(), 2);
//! assert_eq!(r.truth[0].behavior, "browser");
//! assert_eq!(r, s.render()); // deterministic
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod apache;
mod behaviors;
mod clients;
pub mod clock;
mod floods;
pub mod packet;
pub mod render;
pub mod rng;
pub mod scenarios;
mod sim;
mod truth;

use std::net::IpAddr;
use std::path::Path;

/// A simulated web server and the actors that talk to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    /// The web server's address (also the firewall host).
    pub server: IpAddr,
    /// Apache's plain-HTTP port.
    pub server_port: u16,
    /// Scenario start, µs since the Unix epoch (UTC).
    pub start_us: i64,
    /// PRNG seed: same seed, same bytes.
    pub seed: u64,
    /// Who does what.
    pub actors: Vec<Actor>,
    /// Apache's clock minus the firewall's clock (µs); 0 = same clock.
    pub access_clock_offset_us: i64,
    /// Ports with a listening socket besides `server_port` (SYN -> SYN-ACK); every other port
    /// answers RST.
    pub open_ports: Vec<u16>,
    /// Probability (per mille) that a SYN-ACK to a real client is lost, making it retransmit its SYN.
    pub loss_permille: u32,
    /// Listen backlog of the web port (Apache `ListenBacklog` 511, under `somaxconn` 4096).
    /// With `tcp_syncookies=1`, once this many unanswered SYNs are queued, further SYNs get a
    /// syncookie SYN-ACK that is never retransmitted. 0 = never (every SYN-ACK is retransmitted).
    pub syn_backlog: u32,
    /// The server's time zone as a fixed offset east of UTC (seconds): syslog stamps and the
    /// Apache logs are written in local time (`%t` shows the offset, the error log does not).
    /// Default 0 (UTC).
    pub utc_offset_secs: i32,
    /// The capture (every firewall form and the pcap) starts this long after `start_us`: packets
    /// before it are dropped, the Apache logs stay whole. `None`: from the start.
    pub capture_from_us: Option<i64>,
    /// The capture and the Apache logs end this long after `start_us` (the admin looks "now"):
    /// later packets and log lines do not exist yet. `None`: when the traffic ends.
    pub capture_until_us: Option<i64>,
}

impl Scenario {
    /// A scenario with no actors, open ports 22, `server_port` and 443, no clock offset, and
    /// 1 % SYN-ACK loss.
    pub fn new(server: IpAddr, server_port: u16, start_us: i64, seed: u64) -> Scenario {
        let mut open_ports = vec![22, server_port, 443];
        open_ports.sort_unstable();
        open_ports.dedup();
        Scenario {
            server,
            server_port,
            start_us,
            seed,
            actors: Vec::new(),
            access_clock_offset_us: 0,
            open_ports,
            loss_permille: 10,
            syn_backlog: 511,
            utc_offset_secs: 0,
            capture_from_us: None,
            capture_until_us: None,
        }
    }

    /// Adds an actor (builder style).
    pub fn with(mut self, addr: IpAddr, start_offset_us: i64, behavior: Behavior) -> Scenario {
        self.actors.push(Actor {
            addr,
            behavior,
            start_us: start_offset_us,
        });
        self
    }

    /// Simulates everything and renders every output.
    pub fn render(&self) -> Rendered {
        let mut sim = sim::Sim {
            server: Some(self.server),
            server_port: self.server_port,
            open_ports: {
                let mut p = self.open_ports.clone();
                p.push(self.server_port);
                p
            },
            loss_permille: self.loss_permille,
            syn_backlog: self.syn_backlog as usize,
            ..sim::Sim::default()
        };
        let mut rng = rng::Rng::fork(self.seed, u64::MAX);
        let pid0 = rng.range(900, 30_000) as u32;
        sim.pids = vec![pid0 + 2, pid0 + 3, pid0 + 4];
        let host = match self.server {
            IpAddr::V4(_) => "www.example.org",
            IpAddr::V6(_) => "www6.example.org",
        };
        let mut truth = Vec::with_capacity(self.actors.len());
        for (i, a) in self.actors.iter().enumerate() {
            sim.actor = i;
            let mut cx = behaviors::Ctx {
                sim: &mut sim,
                rng: rng::Rng::fork(self.seed, i as u64),
                actor: i,
                host,
                connections: 0,
            };
            let t0 = self.start_us.saturating_add(a.start_us);
            let detail = self.simulate(&mut cx, a, t0);
            let connections = cx.connections;
            truth.push(TruthRow {
                addr: a.addr,
                behavior: a.behavior.name().to_string(),
                connections,
                logged_requests: 0,
                detail,
                sources: Vec::new(),
                open_at_capture_start: 0,
                open_at_capture_end: 0,
            });
        }
        sim::apply_syncookies(&mut sim);
        sim.pkts.sort_by_key(|p| p.ts_us);
        truth::sources(&sim.pkts, &mut truth);
        let from = self
            .capture_from_us
            .map(|d| self.start_us.saturating_add(d));
        let until = self
            .capture_until_us
            .map(|d| self.start_us.saturating_add(d));
        truth::open_at_cuts(&sim.pkts, from, until, &mut truth);
        sim.pkts
            .retain(|p| from.is_none_or(|f| p.ts_us >= f) && until.is_none_or(|u| p.ts_us < u));
        if let Some(u) = until {
            sim.access.retain(|e| e.write_us < u);
            sim.errors.retain(|e| e.ts_us < u);
        }
        for e in &sim.access {
            if let Some(row) = truth.get_mut(e.actor) {
                row.logged_requests += 1;
            }
        }
        if from.is_some() || until.is_some() {
            truth::describe_cuts(&mut truth, from.is_some(), until.is_some());
        }
        sim.access.sort_by_key(|e| e.write_us);
        sim.errors.sort_by_key(|e| e.ts_us);
        let mut out = Rendered {
            pcap: render::pcap(&sim.pkts),
            packet_count: sim.pkts.len(),
            truth,
            ..Rendered::default()
        };
        self.render_firewall(&sim, &mut out);
        self.render_apache(&sim, pid0, &mut out);
        out
    }

    /// Runs one actor's behaviour; returns the truth row's detail.
    fn simulate(&self, cx: &mut behaviors::Ctx<'_>, a: &Actor, t0: i64) -> String {
        let same_family = a.addr.is_ipv4() == self.server.is_ipv4();
        let mut detail = String::new();
        match &a.behavior {
            b if !same_family && !b.addr_is_label() => {
                detail = "skipped: address family differs from the server's".to_string();
            }
            Behavior::Browser {
                connections,
                requests_per_conn,
            } => {
                behaviors::browser(cx, a.addr, t0, *connections, *requests_per_conn);
            }
            Behavior::Preconnect {
                connections,
                idle_ms,
            } => {
                behaviors::preconnect(cx, a.addr, t0, *connections, *idle_ms);
            }
            Behavior::IdleUntilTimeout { connections } => {
                behaviors::idle_until_timeout(cx, a.addr, t0, *connections);
            }
            Behavior::SynScan { ports } => behaviors::syn_scan(cx, a.addr, t0, ports),
            Behavior::ConnectScan { ports } => {
                behaviors::connect_scan(cx, a.addr, t0, ports);
            }
            Behavior::Slowloris {
                connections,
                interval_ms,
            } => {
                behaviors::slowloris(cx, a.addr, t0, *connections, *interval_ms);
            }
            Behavior::TlsOnHttp { connections } => {
                behaviors::tls_on_http(cx, a.addr, t0, *connections);
            }
            Behavior::H2PrefaceOnHttp1 { connections } => {
                behaviors::h2_preface_on_http1(cx, a.addr, t0, *connections);
            }
            Behavior::SpoofedSynFlood {
                sources,
                count,
                per_second,
            } => {
                detail = sources.clone();
                if self.server.is_ipv4() && behaviors::parse_v4_cidr(sources).is_some() {
                    behaviors::spoofed_syn_flood(cx, t0, sources, *count, *per_second);
                } else {
                    detail = format!("skipped: not an IPv4 CIDR: {sources}");
                }
            }
            Behavior::RandomPortSyns { count, interval_ms } => {
                behaviors::random_port_syns(cx, a.addr, t0, *count, *interval_ms);
            }
            Behavior::Hping3RealSource { count, interval_ms } => {
                floods::hping3_real_source(cx, a.addr, t0, *count, *interval_ms);
            }
            Behavior::ChromiumLike { pages } => clients::chromium_like(cx, a.addr, t0, *pages),
            Behavior::RandomSourceFlood { count, per_second } => {
                if self.server.is_ipv4() {
                    floods::random_source_flood(cx, t0, *count, *per_second);
                    detail = "random IPv4 sources".to_string();
                } else {
                    detail = "skipped: the server is not IPv4".to_string();
                }
            }
            Behavior::Ipv6PrefixFlood {
                prefix,
                count,
                per_second,
            } => {
                detail = prefix.clone();
                if !self.server.is_ipv6()
                    || !floods::ipv6_prefix_flood(cx, t0, prefix, *count, *per_second)
                {
                    detail = format!("skipped: not an IPv6 server and CIDR: {prefix}");
                }
            }
            Behavior::SynAckReflection { reflectors, count } => {
                if self.server.is_ipv4() {
                    let r = floods::synack_reflection(cx, t0, *reflectors, *count);
                    detail = format!("{} reflectors", r.len());
                } else {
                    detail = "skipped: the server is not IPv4".to_string();
                }
            }
            Behavior::RefusedOnce => clients::refused_once(cx, a.addr, t0),
            Behavior::RetriedSyn { retries } => clients::retried_syn(cx, a.addr, t0, *retries),
        }
        detail
    }

    /// Every firewall form from the (cut) packets.
    fn render_firewall(&self, sim: &sim::Sim, out: &mut Rendered) {
        use packet::flag::{ACK, RST, SYN};
        let boot_us = self.start_us - 3_456_789_012_345;
        let tz_us = i64::from(self.utc_offset_secs) * 1_000_000;
        let mut owned: std::collections::HashMap<(IpAddr, u16), Vec<&sim::Owned>> =
            std::collections::HashMap::new();
        for o in &sim.owned {
            owned.entry(o.client).or_default().push(o);
        }
        for p in &sim.pkts {
            render::netfilter_line(
                p,
                render::NfRule::All,
                boot_us,
                tz_us,
                &mut out.netfilter_all,
            );
            if p.inbound && p.flags & (SYN | ACK | RST) == SYN {
                render::netfilter_line(
                    p,
                    render::NfRule::SynOnly,
                    boot_us,
                    tz_us,
                    &mut out.netfilter_syn_only,
                );
            }
            render::ipfw_line(p, tz_us, &mut out.ipfw);
            if !p.inbound {
                continue;
            }
            render::netfilter_line(
                p,
                render::NfRule::All,
                boot_us,
                tz_us,
                &mut out.netfilter_inbound,
            );
            let client = (p.src, p.sport);
            let apache_holds = p.dport == self.server_port
                && owned
                    .get(&client)
                    .is_some_and(|v| v.iter().any(|o| o.covers(client, p.ts_us)));
            let owner = apache_holds.then_some(render::APACHE_UID_GID);
            render::nft_line(p, boot_us, tz_us, owner, &mut out.nft_log);
            if p.flags & (SYN | ACK) == SYN {
                render::ipfw_line(p, tz_us, &mut out.ipfw_setup);
            }
        }
    }

    /// The access and error logs.
    fn render_apache(&self, sim: &sim::Sim, pid0: u32, out: &mut Rendered) {
        let tz_us = i64::from(self.utc_offset_secs) * 1_000_000;
        let apache_us = self.access_clock_offset_us + tz_us;
        for e in &sim.access {
            render::access_line(
                e,
                self.access_clock_offset_us,
                self.utc_offset_secs,
                false,
                &mut out.access_combined,
            );
            render::access_line(
                e,
                self.access_clock_offset_us,
                self.utc_offset_secs,
                true,
                &mut out.access_with_port,
            );
        }
        let pt = format!("[pid {}:tid {}]", pid0 + 1, pid0 + 1);
        let boot = self.start_us - 3_600_000_000;
        out.error_log.push_str(&format!(
            "{} [mpm_event:notice] {pt} AH00489: {} configured -- resuming normal operations\n{} [core:notice] {pt} AH00094: Command line: '/usr/sbin/apache2'\n",
            clock::apache_error(boot + apache_us),
            apache::SERVER,
            clock::apache_error(boot + 12 + apache_us),
        ));
        for e in &sim.errors {
            render::error_line(e, apache_us, &mut out.error_log);
        }
    }
}

impl Default for Scenario {
    /// Server 203.0.113.80:80, start 2026-03-01 00:00 UTC, seed 0, no actors (see [`Scenario::new`]).
    fn default() -> Scenario {
        Scenario::new(
            IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 80)),
            80,
            clock::ts_us(2026, 3, 1, 0, 0, 0),
            0,
        )
    }
}

/// Someone talking to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Its address (for [`Behavior::SpoofedSynFlood`] only a label: the sources are random).
    pub addr: IpAddr,
    /// What it does.
    pub behavior: Behavior,
    /// When it starts, µs after the scenario start.
    pub start_us: i64,
}

/// What an actor does (never what a detector should conclude).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// A normal client: `connections` TCP connections, each with `requests_per_conn` HTTP/1.1
    /// requests (keep-alive), 200/404 responses, client or server closes.
    Browser {
        /// TCP connections.
        connections: u32,
        /// Requests per connection (at least 1).
        requests_per_conn: u32,
    },
    /// Browser preconnect: handshake, no data, client FIN after `idle_ms`.
    Preconnect {
        /// TCP connections.
        connections: u32,
        /// Idle time before the client's FIN.
        idle_ms: u32,
    },
    /// Handshake then silence until Apache's request-header timeout (408 "-" + AH01382, server FIN).
    IdleUntilTimeout {
        /// TCP connections.
        connections: u32,
    },
    /// nmap -sS: SYN to each port; SYN-ACKs from open ports answered with RST.
    SynScan {
        /// Ports probed, in order.
        ports: Vec<u16>,
    },
    /// nmap -sT: full handshake then immediate RST on open ports.
    ConnectScan {
        /// Ports probed, in order.
        ports: Vec<u16>,
    },
    /// Slowloris: request line + headers, one header every `interval_ms`, never the blank line.
    Slowloris {
        /// TCP connections.
        connections: u32,
        /// Time between headers.
        interval_ms: u32,
    },
    /// TLS ClientHello sent to the plain-HTTP port (Apache logs 400 "\x16\x03\x01\x02").
    TlsOnHttp {
        /// TCP connections.
        connections: u32,
    },
    /// HTTP/2 prior-knowledge preface + SETTINGS sent to the HTTP/1.1-only port (Apache logs
    /// 400 "PRI * HTTP/2.0" and AH03450 at debug).
    H2PrefaceOnHttp1 {
        /// TCP connections.
        connections: u32,
    },
    /// hping3 -S --flood --rand-source: spoofed SYNs from inside `sources` (IPv4 CIDR).
    SpoofedSynFlood {
        /// Source network, e.g. "198.51.100.0/24".
        sources: String,
        /// SYNs sent.
        count: u32,
        /// Rate.
        per_second: u32,
    },
    /// One source, a SYN to the web port with a new random source port every `interval_ms`.
    RandomPortSyns {
        /// SYNs sent.
        count: u32,
        /// Time between SYNs.
        interval_ms: u32,
    },
    /// `hping3 -S -p 80 -i uINTERVAL -c COUNT` from the actor's own address (lab run2): bare
    /// SYNs (window 512, no options, TTL 64 less the hops, random bits in the ack field), source
    /// port +1 each time; the sender's kernel resets every SYN-ACK (it has no socket).
    Hping3RealSource {
        /// SYNs sent.
        count: u32,
        /// Time between SYNs.
        interval_ms: u32,
    },
    /// A Chromium-like browser (lab: headless Chromium 156): per page a throwaway connection
    /// closed after ~30 ms, the page and its sub-resources over up to 6 parallel keep-alive
    /// connections, and from the second page on an unused speculative preconnect that Apache
    /// times out (`"-" 408` + AH01382 at ~51.5 s). Chromium FINs ~7 s after Apache's.
    ChromiumLike {
        /// Pages visited (about a minute or more apart).
        pages: u32,
    },
    /// Spoofed SYNs from all over IPv4 (at most 2 per /24, no special-purpose block), mixing
    /// the shapes of real flood tools (hping3 `--rand-source` default, `-w 65535`, `-X -Y -w 0`
    /// with ECE|CWR; raw flooders with window 64240 or 65535+MSS and random TTLs). Needs an
    /// IPv4 server; the actor's address is only a label.
    RandomSourceFlood {
        /// SYNs sent.
        count: u32,
        /// Rate.
        per_second: u32,
    },
    /// One SYN per random address of an IPv6 prefix (lab run2: synflood.py). Needs an IPv6
    /// server; the actor's address is only a label.
    Ipv6PrefixFlood {
        /// The prefix, e.g. "2001:db8:bad:1::/64".
        prefix: String,
        /// SYNs sent.
        count: u32,
        /// Rate.
        per_second: u32,
    },
    /// SYN-ACKs from `reflectors` web servers (port 80 or 443) to random high ports of the
    /// server, about 100 a second: someone spoofed the server's address in SYNs to them. The
    /// server's kernel answers each with a RST. Needs an IPv4 server; the actor's address is
    /// only a label.
    SynAckReflection {
        /// Distinct reflector addresses.
        reflectors: u32,
        /// SYN-ACKs received.
        count: u32,
    },
    /// A browser whose first connection attempt on the web port is refused (RST|ACK: the
    /// listener was down), which then browses normally a few seconds later.
    RefusedOnce,
    /// A Linux client whose SYN gets no answer (seen by the firewall, lost before the server's
    /// stack) and is retransmitted `retries` times (same ISN; Linux ≥ 6.5: 1 s apart for the
    /// first four, then doubling), then connects and makes a normal request. More than 6
    /// retries: Linux gives up.
    RetriedSyn {
        /// SYN retransmissions before the one that is answered.
        retries: u32,
    },
}

impl Behavior {
    /// Stable snake_case name used in `TRUTH.tsv`.
    pub fn name(&self) -> &'static str {
        match self {
            Behavior::Browser { .. } => "browser",
            Behavior::Preconnect { .. } => "preconnect",
            Behavior::IdleUntilTimeout { .. } => "idle_until_timeout",
            Behavior::SynScan { .. } => "syn_scan",
            Behavior::ConnectScan { .. } => "connect_scan",
            Behavior::Slowloris { .. } => "slowloris",
            Behavior::TlsOnHttp { .. } => "tls_on_http",
            Behavior::H2PrefaceOnHttp1 { .. } => "h2_preface_on_http1",
            Behavior::SpoofedSynFlood { .. } => "spoofed_syn_flood",
            Behavior::RandomPortSyns { .. } => "random_port_syns",
            Behavior::Hping3RealSource { .. } => "hping3_real_source",
            Behavior::ChromiumLike { .. } => "chromium_like",
            Behavior::RandomSourceFlood { .. } => "random_source_flood",
            Behavior::Ipv6PrefixFlood { .. } => "ipv6_prefix_flood",
            Behavior::SynAckReflection { .. } => "synack_reflection",
            Behavior::RefusedOnce => "refused_once",
            Behavior::RetriedSyn { .. } => "retried_syn",
        }
    }

    /// Whether the actor's address is only a label (the packets come from other, forged or
    /// third-party addresses: see [`TruthRow::sources`]).
    pub fn addr_is_label(&self) -> bool {
        matches!(
            self,
            Behavior::SpoofedSynFlood { .. }
                | Behavior::RandomSourceFlood { .. }
                | Behavior::Ipv6PrefixFlood { .. }
                | Behavior::SynAckReflection { .. }
        )
    }
}

/// Ground truth for one actor: what it did, never a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthRow {
    /// The actor's address.
    pub addr: IpAddr,
    /// [`Behavior::name`].
    pub behavior: String,
    /// Connection attempts (distinct TCP 4-tuples) the actor opened.
    pub connections: u32,
    /// Access-log lines its traffic produced.
    pub logged_requests: u32,
    /// Extra detail (the CIDR of a spoofed flood, why an actor was skipped, connections open
    /// at a capture cut), often empty.
    pub detail: String,
    /// Every address the actor's packets came from, sorted (one for most actors; the forged
    /// sources of a flood, the reflectors of a reflection). Not in `TRUTH.tsv`.
    pub sources: Vec<IpAddr>,
    /// Connections with packets both before and after the capture start
    /// ([`Scenario::capture_from_us`]): already open when the capture began.
    pub open_at_capture_start: u32,
    /// Connections with packets both before and after the capture end
    /// ([`Scenario::capture_until_us`]): still open (or half-open) when it ended.
    pub open_at_capture_end: u32,
}

/// Every rendering of one simulated scenario.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rendered {
    /// Classic pcap, LINKTYPE_ETHERNET, both directions, every packet, valid checksums.
    pub pcap: Vec<u8>,
    /// Number of packets in `pcap` (= lines of `netfilter_all` and `ipfw`).
    pub packet_count: usize,
    /// kern.log lines for every packet, both directions, `--log-tcp-sequence --log-tcp-options`.
    pub netfilter_all: String,
    /// Only inbound SYNs, from a plain `-p tcp --syn -j LOG` rule.
    pub netfilter_syn_only: String,
    /// FreeBSD ipfw log lines for every packet.
    pub ipfw: String,
    /// kern.log lines for every inbound packet: an INPUT-chain LOG rule, the same line form as
    /// `netfilter_all` (= its `[INPUT]` lines).
    pub netfilter_inbound: String,
    /// kern.log lines of an nftables `log prefix "web-in: " flags all` rule in an `inet` table's
    /// input chain: every inbound packet (an input hook never sees outbound ones), decoded MAC
    /// (`MACSRC= MACDST= MACPROTO=`), `SEQ= ACK=`, `OPT (...)`, and `UID=33 GID=33` while Apache
    /// holds the socket (lab run2).
    pub nft_log: String,
    /// FreeBSD ipfw lines of a `log ... setup` rule: one per inbound SYN (retransmissions
    /// included), no flags, like derive.py's ipfw.log.
    pub ipfw_setup: String,
    /// Apache combined (`%b`).
    pub access_combined: String,
    /// `%h %{remote}p %l %u %t "%r" %>s %b %D "%{Referer}i" "%{User-Agent}i"`.
    pub access_with_port: String,
    /// Apache 2.4 error log, `LogLevel info core:debug`.
    pub error_log: String,
    /// One row per actor.
    pub truth: Vec<TruthRow>,
}

impl Rendered {
    /// `TRUTH.tsv`: header `addr behavior connections logged_requests detail`, one row per actor.
    pub fn truth_tsv(&self) -> String {
        let mut s = String::from("addr\tbehavior\tconnections\tlogged_requests\tdetail\n");
        for r in &self.truth {
            s.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\n",
                r.addr, r.behavior, r.connections, r.logged_requests, r.detail
            ));
        }
        s
    }

    /// The bytes of one firewall or pcap form.
    pub fn form(&self, form: Form) -> &[u8] {
        match form {
            Form::Pcap => &self.pcap,
            Form::NetfilterAll => self.netfilter_all.as_bytes(),
            Form::NetfilterInbound => self.netfilter_inbound.as_bytes(),
            Form::NetfilterSynOnly => self.netfilter_syn_only.as_bytes(),
            Form::NftLog => self.nft_log.as_bytes(),
            Form::IpfwAll => self.ipfw.as_bytes(),
            Form::IpfwSetup => self.ipfw_setup.as_bytes(),
        }
    }

    /// Every firewall and pcap form, in [`Form::ALL`] order, so a test can loop over them.
    ///
    /// ```
    /// use halfopen_testgen::{Behavior, Form, Scenario};
    /// let r = Scenario::default()
    ///     .with("192.0.2.7".parse().unwrap(), 0, Behavior::RefusedOnce)
    ///     .render();
    /// let names: Vec<&str> = r.forms().iter().map(|(f, _)| f.name()).collect();
    /// assert_eq!(names, ["pcap", "netfilter_all", "netfilter_inbound", "netfilter_syn_only",
    ///                    "nft_log", "ipfw_all", "ipfw_setup"]);
    /// // The refused SYN and the browser's SYNs: one ipfw `setup` line each.
    /// assert_eq!(r.form(Form::IpfwSetup), r.ipfw_setup.as_bytes());
    /// assert!(r.ipfw_setup.lines().count() >= 2);
    /// ```
    pub fn forms(&self) -> Vec<(Form, &[u8])> {
        Form::ALL.iter().map(|&f| (f, self.form(f))).collect()
    }

    /// Writes `capture.pcap`, `netfilter.log`, `netfilter-syn-only.log`, `ipfw.log`,
    /// `access.log`, `access-port.log`, `error.log`, `TRUTH.tsv`, `netfilter-inbound.log`,
    /// `nft.log` and `ipfw-setup.log` into `dir` (created if needed).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        self.write_to_with(dir, None)
    }

    /// Like [`Rendered::write_to`], but a file larger than `gzip_over` bytes is written
    /// gzip-compressed as `<name>.gz` instead (halfopen's line reader detects gzip by its magic).
    pub fn write_to_with(&self, dir: &Path, gzip_over: Option<usize>) -> std::io::Result<()> {
        use std::io::Write as _;
        std::fs::create_dir_all(dir)?;
        let truth = self.truth_tsv();
        let files: [(&str, &[u8]); 11] = [
            ("capture.pcap", &self.pcap),
            ("netfilter.log", self.netfilter_all.as_bytes()),
            ("netfilter-syn-only.log", self.netfilter_syn_only.as_bytes()),
            ("ipfw.log", self.ipfw.as_bytes()),
            ("access.log", self.access_combined.as_bytes()),
            ("access-port.log", self.access_with_port.as_bytes()),
            ("error.log", self.error_log.as_bytes()),
            ("TRUTH.tsv", truth.as_bytes()),
            ("netfilter-inbound.log", self.netfilter_inbound.as_bytes()),
            ("nft.log", self.nft_log.as_bytes()),
            ("ipfw-setup.log", self.ipfw_setup.as_bytes()),
        ];
        for (name, bytes) in files {
            let plain = dir.join(name);
            let gz = dir.join(format!("{name}.gz"));
            if gzip_over.is_some_and(|limit| bytes.len() > limit) {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(bytes)?;
                std::fs::write(&gz, enc.finish()?)?;
                if plain.exists() {
                    std::fs::remove_file(&plain)?;
                }
            } else {
                std::fs::write(&plain, bytes)?;
                if gz.exists() {
                    std::fs::remove_file(&gz)?;
                }
            }
        }
        Ok(())
    }
}

/// One form of firewall or capture evidence an admin may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Form {
    /// The pcap: every packet, both directions, headers and payloads.
    Pcap,
    /// netfilter LOG on every packet, both directions, flags, sequence numbers, options.
    NetfilterAll,
    /// netfilter LOG on every inbound packet (INPUT chain), same line form.
    NetfilterInbound,
    /// netfilter `-p tcp --syn -j LOG`: inbound SYNs only, no sequence numbers or options.
    NetfilterSynOnly,
    /// nftables `log prefix "web-in: " flags all` in an input chain: every inbound packet.
    NftLog,
    /// ipfw `log` on every packet, both directions, no flags.
    IpfwAll,
    /// ipfw `log ... setup`: one line per inbound SYN, no flags.
    IpfwSetup,
}

impl Form {
    /// Every form, in a stable order.
    pub const ALL: [Form; 7] = [
        Form::Pcap,
        Form::NetfilterAll,
        Form::NetfilterInbound,
        Form::NetfilterSynOnly,
        Form::NftLog,
        Form::IpfwAll,
        Form::IpfwSetup,
    ];

    /// Stable snake_case name (`pcap`, `netfilter_all`, `netfilter_inbound`,
    /// `netfilter_syn_only`, `nft_log`, `ipfw_all`, `ipfw_setup`).
    pub fn name(self) -> &'static str {
        match self {
            Form::Pcap => "pcap",
            Form::NetfilterAll => "netfilter_all",
            Form::NetfilterInbound => "netfilter_inbound",
            Form::NetfilterSynOnly => "netfilter_syn_only",
            Form::NftLog => "nft_log",
            Form::IpfwAll => "ipfw_all",
            Form::IpfwSetup => "ipfw_setup",
        }
    }

    /// The file [`Rendered::write_to`] writes it to.
    pub fn file_name(self) -> &'static str {
        match self {
            Form::Pcap => "capture.pcap",
            Form::NetfilterAll => "netfilter.log",
            Form::NetfilterInbound => "netfilter-inbound.log",
            Form::NetfilterSynOnly => "netfilter-syn-only.log",
            Form::NftLog => "nft.log",
            Form::IpfwAll => "ipfw.log",
            Form::IpfwSetup => "ipfw-setup.log",
        }
    }

    /// Whether the form shows the server's own packets (SYN-ACKs, RSTs, FINs).
    pub fn has_outbound(self) -> bool {
        matches!(self, Form::Pcap | Form::NetfilterAll | Form::IpfwAll)
    }

    /// Whether each line or record carries the TCP flags.
    pub fn has_flags(self) -> bool {
        !matches!(self, Form::IpfwAll | Form::IpfwSetup)
    }

    /// Whether only connection openings (inbound SYNs) are logged.
    pub fn syns_only(self) -> bool {
        matches!(self, Form::NetfilterSynOnly | Form::IpfwSetup)
    }
}
