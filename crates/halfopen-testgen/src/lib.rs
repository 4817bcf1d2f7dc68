//! Deterministic traffic for halfopen's tests, samples and benchmarks, crafted packet by packet.
//!
//! A [`Scenario`] lists actors (clients, scanners, flooders) and what each one *does*
//! ([`Behavior`]). [`Scenario::render`] simulates every TCP connection at both ends (the client's
//! stack and a Linux server running Apache httpd 2.4 with Debian's defaults) and renders the same
//! traffic as a pcap, firewall logs (netfilter, ipfw) and the access and error logs Apache would
//! have written. The ground truth ([`TruthRow`]) is each actor's behaviour, never a verdict.
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
pub mod clock;
pub mod packet;
pub mod render;
pub mod rng;
pub mod scenarios;
mod sim;

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
            let mut cx = behaviors::Ctx {
                sim: &mut sim,
                rng: rng::Rng::fork(self.seed, i as u64),
                actor: i,
                host,
                connections: 0,
            };
            let t0 = self.start_us.saturating_add(a.start_us);
            let same_family = a.addr.is_ipv4() == self.server.is_ipv4();
            let mut detail = String::new();
            match &a.behavior {
                _ if !same_family && !matches!(a.behavior, Behavior::SpoofedSynFlood { .. }) => {
                    detail = "skipped: address family differs from the server's".to_string();
                }
                Behavior::Browser {
                    connections,
                    requests_per_conn,
                } => {
                    behaviors::browser(&mut cx, a.addr, t0, *connections, *requests_per_conn);
                }
                Behavior::Preconnect {
                    connections,
                    idle_ms,
                } => {
                    behaviors::preconnect(&mut cx, a.addr, t0, *connections, *idle_ms);
                }
                Behavior::IdleUntilTimeout { connections } => {
                    behaviors::idle_until_timeout(&mut cx, a.addr, t0, *connections);
                }
                Behavior::SynScan { ports } => behaviors::syn_scan(&mut cx, a.addr, t0, ports),
                Behavior::ConnectScan { ports } => {
                    behaviors::connect_scan(&mut cx, a.addr, t0, ports);
                }
                Behavior::Slowloris {
                    connections,
                    interval_ms,
                } => {
                    behaviors::slowloris(&mut cx, a.addr, t0, *connections, *interval_ms);
                }
                Behavior::TlsOnHttp { connections } => {
                    behaviors::tls_on_http(&mut cx, a.addr, t0, *connections);
                }
                Behavior::H2PrefaceOnHttp1 { connections } => {
                    behaviors::h2_preface_on_http1(&mut cx, a.addr, t0, *connections);
                }
                Behavior::SpoofedSynFlood {
                    sources,
                    count,
                    per_second,
                } => {
                    detail = sources.clone();
                    if self.server.is_ipv4() && behaviors::parse_v4_cidr(sources).is_some() {
                        behaviors::spoofed_syn_flood(&mut cx, t0, sources, *count, *per_second);
                    } else {
                        detail = format!("skipped: not an IPv4 CIDR: {sources}");
                    }
                }
                Behavior::RandomPortSyns { count, interval_ms } => {
                    behaviors::random_port_syns(&mut cx, a.addr, t0, *count, *interval_ms);
                }
            }
            let connections = cx.connections;
            truth.push(TruthRow {
                addr: a.addr,
                behavior: a.behavior.name().to_string(),
                connections,
                logged_requests: 0,
                detail,
            });
        }
        for e in &sim.access {
            if let Some(row) = truth.get_mut(e.actor) {
                row.logged_requests += 1;
            }
        }
        sim::apply_syncookies(&mut sim);
        sim.pkts.sort_by_key(|p| p.ts_us);
        sim.access.sort_by_key(|e| e.write_us);
        sim.errors.sort_by_key(|e| e.ts_us);
        let boot_us = self.start_us - 3_456_789_012_345;
        let mut out = Rendered {
            pcap: render::pcap(&sim.pkts),
            packet_count: sim.pkts.len(),
            truth,
            ..Rendered::default()
        };
        let tz_us = i64::from(self.utc_offset_secs) * 1_000_000;
        let apache_us = self.access_clock_offset_us + tz_us;
        for p in &sim.pkts {
            render::netfilter_line(
                p,
                render::NfRule::All,
                boot_us,
                tz_us,
                &mut out.netfilter_all,
            );
            if p.inbound
                && p.flags & (packet::flag::SYN | packet::flag::ACK | packet::flag::RST)
                    == packet::flag::SYN
            {
                render::netfilter_line(
                    p,
                    render::NfRule::SynOnly,
                    boot_us,
                    tz_us,
                    &mut out.netfilter_syn_only,
                );
            }
            render::ipfw_line(p, tz_us, &mut out.ipfw);
        }
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
        out
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
        }
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
    /// Extra detail (the CIDR of a spoofed flood, why an actor was skipped), often empty.
    pub detail: String,
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

    /// Writes `capture.pcap`, `netfilter.log`, `netfilter-syn-only.log`, `ipfw.log`,
    /// `access.log`, `access-port.log`, `error.log` and `TRUTH.tsv` into `dir` (created if needed).
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        self.write_to_with(dir, None)
    }

    /// Like [`Rendered::write_to`], but a file larger than `gzip_over` bytes is written
    /// gzip-compressed as `<name>.gz` instead (halfopen's line reader detects gzip by its magic).
    pub fn write_to_with(&self, dir: &Path, gzip_over: Option<usize>) -> std::io::Result<()> {
        use std::io::Write as _;
        std::fs::create_dir_all(dir)?;
        let truth = self.truth_tsv();
        let files: [(&str, &[u8]); 8] = [
            ("capture.pcap", &self.pcap),
            ("netfilter.log", self.netfilter_all.as_bytes()),
            ("netfilter-syn-only.log", self.netfilter_syn_only.as_bytes()),
            ("ipfw.log", self.ipfw.as_bytes()),
            ("access.log", self.access_combined.as_bytes()),
            ("access-port.log", self.access_with_port.as_bytes()),
            ("error.log", self.error_log.as_bytes()),
            ("TRUTH.tsv", truth.as_bytes()),
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
