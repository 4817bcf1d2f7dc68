//! The simulation state: the server (Linux + Apache), per-connection TCP endpoints, and what got logged.

use crate::packet::{Packet, Stack, flag, linux_synack, ts_option};
use crate::rng::Rng;
use std::net::IpAddr;

/// Server kernel reaction time to an inbound segment (µs).
pub const KERNEL_US: i64 = 25;
/// Linux `tcp_synack_retries=5`: SYN-ACK retransmissions, µs after the first SYN-ACK.
pub const SYNACK_RETX_US: [i64; 5] = [1_000_000, 3_000_000, 7_000_000, 15_000_000, 31_000_000];
/// Debian's default `AcceptFilter http data` (TCP_DEFER_ACCEPT 30 s): a handshake with no data
/// stays in the kernel; the SYN-ACK is retransmitted once at about +31.5 s (lab tcpdump) and the
/// client's answering ACK finally wakes Apache.
pub const DEFER_ACCEPT_RETX_US: i64 = 31_512_000;
/// mod_reqtimeout `header=20-40,minrate=500`: first timeout (µs).
pub const HEADER_TIMEOUT_US: i64 = 20_000_000;
/// mod_reqtimeout header maximum (µs).
pub const HEADER_TIMEOUT_MAX_US: i64 = 40_000_000;
/// mod_reqtimeout minrate: each received byte extends the header timeout by 1/500 s.
pub const HEADER_MINRATE_US_PER_BYTE: i64 = 2_000;
/// Apache `KeepAliveTimeout 5`.
pub const KEEPALIVE_TIMEOUT_US: i64 = 5_000_000;

/// One access-log entry (rendered in several formats later).
#[derive(Debug, Clone)]
pub struct AccessEntry {
    /// When Apache wrote the line (end of the response), firewall clock.
    pub write_us: i64,
    /// Apache `%t` (request received), firewall clock.
    pub recv_us: i64,
    /// Client address (`%h`, no HostnameLookups).
    pub client: IpAddr,
    /// Client port (`%{remote}p`).
    pub port: u16,
    /// `%r` as Apache logs it (already escaped), or `-`.
    pub request: String,
    /// `%>s`.
    pub status: u16,
    /// `%b` (None = `-`).
    pub bytes: Option<u64>,
    /// Referer header.
    pub referer: Option<String>,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// Index of the actor that caused it.
    pub actor: usize,
}

/// One error-log entry (stamp added at render time).
#[derive(Debug, Clone)]
pub struct ErrorEntry {
    /// Firewall clock.
    pub ts_us: i64,
    /// `[module:level] [pid P:tid T] ...` (everything after the stamp).
    pub text: String,
}

/// Everything the simulation produced.
#[derive(Debug, Default)]
pub struct Sim {
    /// Packets at the server interface (unsorted).
    pub pkts: Vec<Packet>,
    /// Access-log entries (unsorted).
    pub access: Vec<AccessEntry>,
    /// Error-log entries (unsorted).
    pub errors: Vec<ErrorEntry>,
    /// Server address.
    pub server: Option<IpAddr>,
    /// Web server port.
    pub server_port: u16,
    /// Listening ports.
    pub open_ports: Vec<u16>,
    /// SYN-ACK loss on the way to the client (per mille).
    pub loss_permille: u32,
    /// Apache child pids (mpm_event).
    pub pids: Vec<u32>,
    /// Unanswered SYNs to the web port (for the SYN-queue / syncookie pass).
    pub half_open: Vec<HalfOpen>,
    /// Listen backlog of the web port; 0 disables syncookies.
    pub syn_backlog: usize,
    /// The actor whose traffic is being simulated (stamped on every packet).
    pub actor: usize,
    /// When Apache owned each accepted socket (for the `UID=`/`GID=` of nftables' `flags all`).
    pub owned: Vec<Owned>,
}

/// While Apache holds an accepted socket, the kernel's early demux attaches it to every inbound
/// segment, and nf_log's `NF_LOG_UID` prints its owner (`UID=33 GID=33`, www-data): strictly
/// after the segment that made the socket acceptable, up to and including the segment that
/// arrived before Apache's `close()` (lab run2 `kern-nft.log`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    /// Client address and port.
    pub client: (IpAddr, u16),
    /// Arrival of the segment that woke Apache (data, FIN, or the ACK of the deferred-accept
    /// SYN-ACK retransmission); later segments are owned.
    pub from_us: i64,
    /// Apache's `close()`; segments arriving up to this time are owned.
    pub until_us: i64,
}

impl Owned {
    /// Whether an inbound segment from `client` at `ts_us` carries the socket owner.
    pub fn covers(&self, client: (IpAddr, u16), ts_us: i64) -> bool {
        self.client == client && ts_us > self.from_us && ts_us <= self.until_us
    }
}

/// Apache's lingering close (event MPM): after its FIN it keeps reading for up to 2 s, or until
/// the client's FIN, before `close()`.
pub const LINGER_US: i64 = 2_000_000;

/// A request socket that will never complete: its SYN time and its SYN-ACK retransmissions.
#[derive(Debug, Clone)]
pub struct HalfOpen {
    /// SYN arrival.
    pub t_syn: i64,
    /// Indices (in `Sim::pkts`, before sorting) of its SYN-ACK retransmissions.
    pub retx: std::ops::Range<usize>,
}

/// How long Linux keeps an unanswered request socket (5 retransmissions, then 32 s): ~63 s.
pub const HALF_OPEN_LIFETIME_US: i64 = 63_000_000;

/// Linux with `tcp_syncookies=1`: once `syn_backlog` request sockets are queued on the listener,
/// further SYNs are answered with a syncookie SYN-ACK that keeps no state and is never
/// retransmitted. Removes those retransmissions; returns how many SYNs got cookies.
pub fn apply_syncookies(sim: &mut Sim) -> usize {
    if sim.syn_backlog == 0 || sim.half_open.len() <= sim.syn_backlog {
        return 0;
    }
    let mut chains = std::mem::take(&mut sim.half_open);
    chains.sort_by_key(|c| c.t_syn);
    let mut queued = std::collections::BinaryHeap::new();
    let mut drop = vec![false; sim.pkts.len()];
    let mut cookies = 0;
    for c in &chains {
        while queued
            .peek()
            .is_some_and(|std::cmp::Reverse(exp)| *exp <= c.t_syn)
        {
            queued.pop();
        }
        if queued.len() >= sim.syn_backlog {
            cookies += 1;
            for i in c.retx.clone() {
                if let Some(d) = drop.get_mut(i) {
                    *d = true;
                }
            }
        } else {
            queued.push(std::cmp::Reverse(c.t_syn + HALF_OPEN_LIFETIME_US));
        }
    }
    if cookies > 0 {
        let mut i = 0;
        sim.pkts.retain(|_| {
            let keep = !drop[i];
            i += 1;
            keep
        });
    }
    cookies
}

impl Sim {
    /// Server address (IPv4 unspecified if unset).
    pub fn server_addr(&self) -> IpAddr {
        self.server
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
    }

    /// `[pid P:tid T]` of a random worker thread.
    pub fn pid_tid(&self, rng: &mut Rng) -> String {
        let pid = *rng.pick(&self.pids);
        let tid = pid + 1 + rng.range(0, 24) as u32;
        format!("[pid {pid}:tid {tid}]")
    }

    /// Adds an error-log line for a client.
    pub fn error(
        &mut self,
        rng: &mut Rng,
        ts_us: i64,
        module_level: &str,
        src: &str,
        client: (IpAddr, u16),
        msg: &str,
    ) {
        let pt = self.pid_tid(rng);
        let src = if src.is_empty() {
            String::new()
        } else {
            format!("{src}: ")
        };
        // log.c writes "%s:%d" (no brackets around an IPv6 address).
        let client = format!("{}:{}", client.0, client.1);
        self.errors.push(ErrorEntry {
            ts_us,
            text: format!("[{module_level}] {pt} {src}[client {client}] {msg}"),
        });
    }
}

/// A remote host's stack and path to the server.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Address.
    pub addr: IpAddr,
    /// Stack.
    pub stack: Stack,
    /// Hops between the host and the server.
    pub hops: u8,
    /// Round-trip time (µs).
    pub rtt_us: i64,
    /// Next IP ID (Windows: host-global counter).
    pub ip_id: u16,
    /// Next ephemeral port.
    pub next_port: u16,
}

impl Peer {
    /// A peer with random path properties.
    pub fn new(addr: IpAddr, stack: Stack, rng: &mut Rng) -> Peer {
        let next_port = match stack {
            Stack::Windows => rng.range(49152, 54000) as u16,
            _ => rng.range(32768, 60000) as u16,
        };
        Peer {
            addr,
            stack,
            hops: rng.range(6, 22) as u8,
            rtt_us: rng.range_i64(8_000, 180_000),
            ip_id: rng.next_u32() as u16,
            next_port,
        }
    }

    /// TTL as seen at the server.
    pub fn ttl(&self) -> u8 {
        self.stack.initial_ttl().saturating_sub(self.hops)
    }

    /// The next ephemeral port (Windows: sequential; Linux: random-ish increments).
    pub fn ephemeral_port(&mut self, rng: &mut Rng) -> u16 {
        let p = self.next_port;
        let step = match self.stack {
            Stack::Windows => 1,
            _ => 2 * rng.range(1, 40) as u16,
        };
        let (lo, hi) = match self.stack {
            Stack::Windows => (49152u16, 65535u16),
            _ => (32768, 60999),
        };
        let n = u32::from(p) + u32::from(step);
        self.next_port = if n > u32::from(hi) {
            lo + (n - u32::from(hi)) as u16
        } else {
            n as u16
        };
        p
    }
}

/// One TCP connection between a peer and the server, both ends simulated.
#[derive(Debug)]
pub struct Conn {
    /// Client address.
    pub c_addr: IpAddr,
    /// Client port.
    pub c_port: u16,
    /// Server port.
    pub s_port: u16,
    stack: Stack,
    c_ttl: u8,
    c_id: u16,
    s_id: u16,
    /// Client ISN.
    pub c_isn: u32,
    /// Client next sequence number.
    pub c_nxt: u32,
    /// Server ISN.
    pub s_isn: u32,
    /// Server next sequence number.
    pub s_nxt: u32,
    ts: bool,
    c_ts_off: u32,
    s_ts_off: u32,
    last_c_tsval: u32,
    last_s_tsval: u32,
    syn_opts: Vec<u8>,
    /// Round-trip time (µs).
    pub rtt: i64,
    /// Client's largest segment.
    pub c_mss: usize,
    /// Server's largest segment.
    pub s_mss: usize,
    /// When the segment arrived that made Apache accept this connection (None: never accepted).
    pub accepted_us: Option<i64>,
    /// The server's SYN-ACK options and window, when they differ from IPv4 Linux (IPv6).
    pub synack_override: Option<(Vec<u8>, u16)>,
}

fn tsval(off: u32, t: i64) -> u32 {
    off.wrapping_add((t / 1000) as u32)
}

impl Conn {
    /// A new connection from `peer` to `s_port`, with a fresh ephemeral port.
    pub fn new(peer: &mut Peer, s_port: u16, rng: &mut Rng) -> Conn {
        let c_port = peer.ephemeral_port(rng);
        Conn::with_port(peer, c_port, s_port, rng)
    }

    /// A new connection with a given client port.
    pub fn with_port(peer: &Peer, c_port: u16, s_port: u16, rng: &mut Rng) -> Conn {
        let ts = peer.stack.uses_ts();
        let c_isn = rng.next_u32();
        let s_isn = rng.next_u32();
        let mss = if ts { 1448 } else { 1460 };
        Conn {
            c_addr: peer.addr,
            c_port,
            s_port,
            stack: peer.stack,
            c_ttl: peer.ttl(),
            c_id: peer.ip_id,
            s_id: rng.next_u32() as u16,
            c_isn,
            c_nxt: c_isn,
            s_isn,
            s_nxt: s_isn,
            ts,
            c_ts_off: rng.next_u32(),
            s_ts_off: rng.next_u32(),
            last_c_tsval: 0,
            last_s_tsval: 0,
            syn_opts: Vec::new(),
            rtt: peer.rtt_us,
            c_mss: mss,
            s_mss: mss,
            accepted_us: None,
            synack_override: None,
        }
    }

    /// Apache closed its socket at `until_us`: records when it owned the socket (if it did).
    pub fn apache_closed(&self, sim: &mut Sim, until_us: i64) {
        if let Some(from_us) = self.accepted_us {
            sim.owned.push(Owned {
                client: (self.c_addr, self.c_port),
                from_us,
                until_us,
            });
        }
    }

    /// Hands the IP ID counter back to the peer (Windows hosts share one counter).
    pub fn done(&self, peer: &mut Peer) {
        peer.ip_id = self.c_id;
    }

    fn next_c_id(&mut self, rng: &mut Rng) -> u16 {
        match self.stack {
            Stack::Linux | Stack::Windows => {
                let id = self.c_id;
                self.c_id = self.c_id.wrapping_add(1);
                id
            }
            _ => rng.next_u32() as u16,
        }
    }

    fn client_pkt(&self, sim: &Sim, t: i64) -> Packet {
        Packet {
            ts_us: t,
            src: self.c_addr,
            sport: self.c_port,
            dst: sim.server_addr(),
            dport: self.s_port,
            inbound: true,
            flags: 0,
            seq: 0,
            ack: 0,
            window: 0,
            ttl: self.c_ttl,
            ip_id: 0,
            df: !matches!(self.stack, Stack::NmapRaw | Stack::Hping | Stack::RawTool),
            options: Vec::new(),
            payload: Vec::new(),
            actor: sim.actor,
        }
    }

    fn server_pkt(&self, sim: &Sim, t: i64) -> Packet {
        Packet {
            ts_us: t,
            src: sim.server_addr(),
            sport: self.s_port,
            dst: self.c_addr,
            dport: self.c_port,
            inbound: false,
            flags: 0,
            seq: 0,
            ack: 0,
            window: 0,
            ttl: 64,
            ip_id: 0,
            df: true,
            options: Vec::new(),
            payload: Vec::new(),
            actor: sim.actor,
        }
    }

    /// Client SYN (first or retransmitted: same ISN).
    pub fn c_syn(&mut self, sim: &mut Sim, rng: &mut Rng, t: i64) {
        let mut p = self.client_pkt(sim, t);
        p.flags = flag::SYN;
        p.seq = self.c_isn;
        p.window = self.stack.syn_window();
        let tv = tsval(self.c_ts_off, t);
        self.last_c_tsval = tv;
        p.options = self.stack.syn_options(tv);
        p.ip_id = self.next_c_id(rng);
        match self.stack {
            // hping3 --rand-source floods: the TTL of a spoofed packet says nothing.
            Stack::Hping => p.ttl = rng.range(40, 250) as u8,
            // nmap picks a random TTL in 37..=59 for its raw probes.
            Stack::NmapRaw => {
                p.ttl = (rng.range(37, 59) as u8).saturating_sub(64 - self.c_ttl.min(64));
            }
            _ => {}
        }
        self.syn_opts = p.options.clone();
        self.c_nxt = self.c_isn.wrapping_add(1);
        sim.pkts.push(p);
    }

    /// Server SYN-ACK (first or retransmitted: same ISN). Linux sends SYN-ACKs with IP ID 0.
    pub fn s_synack(&mut self, sim: &mut Sim, t: i64) {
        let mut p = self.server_pkt(sim, t);
        p.flags = flag::SYN | flag::ACK;
        p.seq = self.s_isn;
        p.ack = self.c_isn.wrapping_add(1);
        let tv = tsval(self.s_ts_off, t);
        self.last_s_tsval = tv;
        let (opts, win) = match &self.synack_override {
            Some((o, w)) => (o.clone(), *w),
            None => linux_synack(&self.syn_opts, tv, self.last_c_tsval),
        };
        p.options = opts;
        p.window = win;
        self.s_nxt = self.s_isn.wrapping_add(1);
        sim.pkts.push(p);
    }

    /// A client segment with `flags` and `payload` at the client's next sequence number.
    pub fn c_seg(&mut self, sim: &mut Sim, rng: &mut Rng, t: i64, flags: u8, payload: &[u8]) {
        let mut p = self.client_pkt(sim, t);
        p.flags = flags;
        p.seq = self.c_nxt;
        if flags & flag::ACK != 0 {
            p.ack = self.s_nxt;
        }
        p.window = if flags & flag::RST != 0 && flags & flag::ACK == 0 {
            0
        } else {
            self.stack.est_window()
        };
        if self.ts && flags & flag::RST == 0 {
            let tv = tsval(self.c_ts_off, t);
            self.last_c_tsval = tv;
            p.options = ts_option(tv, self.last_s_tsval);
        }
        p.ip_id = self.next_c_id(rng);
        p.payload = payload.to_vec();
        let adv = payload.len() as u32 + u32::from(flags & flag::FIN != 0);
        self.c_nxt = self.c_nxt.wrapping_add(adv);
        sim.pkts.push(p);
    }

    /// A server segment with `flags` and `payload`.
    pub fn s_seg(&mut self, sim: &mut Sim, t: i64, flags: u8, payload: &[u8]) {
        let mut p = self.server_pkt(sim, t);
        p.flags = flags;
        p.seq = self.s_nxt;
        if flags & flag::ACK != 0 {
            p.ack = self.c_nxt;
        }
        let scaled = self.syn_opts.len() > 4 || self.stack == Stack::Windows;
        p.window = if flags & flag::RST != 0 {
            0
        } else if scaled {
            509
        } else {
            64240
        };
        if self.ts && flags & flag::RST == 0 {
            let tv = tsval(self.s_ts_off, t);
            self.last_s_tsval = tv;
            p.options = ts_option(tv, self.last_c_tsval);
        }
        if flags & flag::RST == 0 {
            p.ip_id = self.s_id;
            self.s_id = self.s_id.wrapping_add(1);
        }
        p.payload = payload.to_vec();
        let adv = payload.len() as u32 + u32::from(flags & flag::FIN != 0);
        self.s_nxt = self.s_nxt.wrapping_add(adv);
        sim.pkts.push(p);
    }

    /// Server data in MSS-sized segments (PSH on the last); returns the time of the last one.
    pub fn s_data(&mut self, sim: &mut Sim, t: i64, data: &[u8]) -> i64 {
        let mut t = t;
        let chunks: Vec<&[u8]> = data.chunks(self.s_mss.max(1)).collect();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            let f = if i + 1 == n {
                flag::PSH | flag::ACK
            } else {
                flag::ACK
            };
            self.s_seg(sim, t, f, c);
            if i + 1 < n {
                t += 12;
            }
        }
        t
    }

    /// Client data in MSS-sized segments; returns the time of the last one. The first data
    /// segment to the web port wakes Apache (TCP_DEFER_ACCEPT): the socket is accepted.
    pub fn c_data(&mut self, sim: &mut Sim, rng: &mut Rng, t: i64, data: &[u8]) -> i64 {
        if self.accepted_us.is_none() && self.s_port == sim.server_port && !data.is_empty() {
            self.accepted_us = Some(t);
        }
        let mut t = t;
        let chunks: Vec<&[u8]> = data.chunks(self.c_mss.max(1)).collect();
        let n = chunks.len();
        for (i, c) in chunks.into_iter().enumerate() {
            let f = if i + 1 == n {
                flag::PSH | flag::ACK
            } else {
                flag::ACK
            };
            self.c_seg(sim, rng, t, f, c);
            if i + 1 < n {
                t += 15;
            }
        }
        t
    }

    /// The server kernel's RST|ACK for a SYN to a closed port (seq 0, window 0, IP ID 0).
    pub fn s_rst_closed(&mut self, sim: &mut Sim, t: i64) {
        let mut p = self.server_pkt(sim, t);
        p.flags = flag::RST | flag::ACK;
        p.seq = 0;
        p.ack = self.c_isn.wrapping_add(1);
        sim.pkts.push(p);
    }

    /// The client kernel's bare RST for an unexpected SYN-ACK (seq = the SYN-ACK's ack; ID 0, DF).
    pub fn c_rst_for_synack(&mut self, sim: &mut Sim, t: i64) {
        let mut p = self.client_pkt(sim, t);
        p.flags = flag::RST;
        p.seq = self.c_isn.wrapping_add(1);
        p.df = true;
        sim.pkts.push(p);
    }
}

/// The header of a SYN crafted by a tool rather than a stack (hping3, raw flooders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynShape {
    /// TCP window.
    pub window: u16,
    /// Raw TCP options (none for hping3).
    pub options: Vec<u8>,
    /// TTL / hop limit as seen at the server.
    pub ttl: u8,
    /// IPv4 identification.
    pub ip_id: u16,
    /// IPv4 don't-fragment bit.
    pub df: bool,
    /// The acknowledgement field, which hping3 fills with random bits although ACK is clear.
    pub ack_field: u32,
    /// ECE and CWR set (an ECN-setup SYN; hping3 `-X -Y`).
    pub ecn: bool,
}

impl Conn {
    /// A tool's SYN with exactly this header (first or retransmitted: same ISN).
    pub fn c_syn_shaped(&mut self, sim: &mut Sim, t: i64, shape: &SynShape) {
        let mut p = self.client_pkt(sim, t);
        p.flags = flag::SYN;
        if shape.ecn {
            p.flags |= flag::ECE | flag::CWR;
        }
        p.seq = self.c_isn;
        p.ack = shape.ack_field;
        p.window = shape.window;
        p.options = shape.options.clone();
        p.ttl = shape.ttl;
        p.ip_id = shape.ip_id;
        p.df = shape.df;
        self.syn_opts = shape.options.clone();
        self.c_nxt = self.c_isn.wrapping_add(1);
        sim.pkts.push(p);
    }

    /// A SYN-ACK the server never asked for (the "client" here is a reflector answering a SYN
    /// spoofed with the server's address): Linux's answer to a bare SYN, window 64240, MSS
    /// 1460 only, IP ID 0, DF (lab run1's SYN-ACKs to synflood.py's SYNs). `ack`: the spoofed
    /// SYN's ISN + 1.
    pub fn c_synack_unsolicited(&mut self, sim: &mut Sim, t: i64, ack: u32) {
        let mut p = self.client_pkt(sim, t);
        p.flags = flag::SYN | flag::ACK;
        p.seq = self.c_isn;
        p.ack = ack;
        p.window = 64240;
        p.options = vec![2, 4, 0x05, 0xb4];
        p.df = true;
        self.c_nxt = self.c_isn.wrapping_add(1);
        sim.pkts.push(p);
    }

    /// The server kernel's RST for a segment with ACK set that no socket expects (an unsolicited
    /// SYN-ACK): seq = its ack field, no ACK, window 0, IP ID 0, DF (lab run2).
    pub fn s_rst_for_ack(&mut self, sim: &mut Sim, t: i64, their_ack: u32) {
        let mut p = self.server_pkt(sim, t);
        p.flags = flag::RST;
        p.seq = their_ack;
        sim.pkts.push(p);
    }

    /// A TCP keep-alive probe: a bare ACK one byte behind (seq = next - 1), with timestamps
    /// (Chromium enables SO_KEEPALIVE with a 45 s idle time).
    pub fn c_keepalive_probe(&mut self, sim: &mut Sim, rng: &mut Rng, t: i64) {
        let nxt = self.c_nxt;
        self.c_nxt = nxt.wrapping_sub(1);
        self.c_seg(sim, rng, t, flag::ACK, &[]);
        self.c_nxt = nxt;
    }

    /// Apache closes a kept-alive connection the client no longer uses: server FIN at `t_fin`,
    /// the client's delayed ACK; Apache's lingering close ends 2 s later; the client sends its
    /// FIN only at `t_client_fin` (when the browser notices), and the server's orphan ACKs it.
    pub fn server_close_client_later(
        &mut self,
        sim: &mut Sim,
        rng: &mut Rng,
        t_fin: i64,
        t_client_fin: i64,
    ) -> i64 {
        self.s_seg(sim, t_fin, flag::FIN | flag::ACK, &[]);
        let ta = t_fin + self.rtt + rng.range_i64(35_000, 45_000);
        self.c_seg(sim, rng, ta, flag::ACK, &[]);
        let tf = t_client_fin.max(ta + 1_000);
        self.apache_closed(sim, tf.min(t_fin + LINGER_US));
        self.c_seg(sim, rng, tf, flag::FIN | flag::ACK, &[]);
        self.s_seg(sim, tf + KERNEL_US, flag::ACK, &[]);
        tf + KERNEL_US
    }
}

/// Three-way handshake; returns (time of the first SYN-ACK, time the client's ACK arrives).
/// With probability `sim.loss_permille` the SYN-ACK is lost on the way to the client: the client
/// retransmits its SYN after its 1 s RTO and the server answers it with a second SYN-ACK.
pub fn handshake(c: &mut Conn, sim: &mut Sim, rng: &mut Rng, t0: i64) -> (i64, i64) {
    c.c_syn(sim, rng, t0);
    let t_sa = t0 + KERNEL_US + rng.range_i64(0, 30);
    c.s_synack(sim, t_sa);
    let mut last_sa = t_sa;
    if rng.chance(sim.loss_permille) {
        let t_re = t0 + 1_000_000 + rng.range_i64(0, 4_000);
        c.c_syn(sim, rng, t_re);
        last_sa = t_re + KERNEL_US;
        c.s_synack(sim, last_sa);
    }
    let t_ack = last_sa + c.rtt + rng.range_i64(0, 200);
    c.c_seg(sim, rng, t_ack, flag::ACK, &[]);
    (t_sa, t_ack)
}

/// The server closes (FIN); the client ACKs, then closes its side; the server ACKs.
pub fn server_close(c: &mut Conn, sim: &mut Sim, rng: &mut Rng, t: i64) -> i64 {
    c.s_seg(sim, t, flag::FIN | flag::ACK, &[]);
    let ta = t + c.rtt + rng.range_i64(0, 300);
    c.c_seg(sim, rng, ta, flag::ACK, &[]);
    let tf = ta + rng.range_i64(50, 3_000);
    c.c_seg(sim, rng, tf, flag::FIN | flag::ACK, &[]);
    c.s_seg(sim, tf + KERNEL_US, flag::ACK, &[]);
    // Lingering close: Apache reads until the client's FIN (or 2 s), then closes.
    c.apache_closed(sim, tf.min(t + LINGER_US));
    tf + KERNEL_US
}

/// The client closes (FIN); Apache reads EOF and closes; the client ACKs the server's FIN.
pub fn client_close(c: &mut Conn, sim: &mut Sim, rng: &mut Rng, t: i64) -> i64 {
    c.c_seg(sim, rng, t, flag::FIN | flag::ACK, &[]);
    if c.accepted_us.is_none() && c.s_port == sim.server_port {
        // A FIN wakes a deferred accept too (lab: the FIN itself carries no owner).
        c.accepted_us = Some(t);
    }
    let ts = t + rng.range_i64(80, 600);
    c.s_seg(sim, ts, flag::FIN | flag::ACK, &[]);
    // Apache read EOF, sent its FIN and closed.
    c.apache_closed(sim, ts);
    let ta = ts + c.rtt + rng.range_i64(0, 300);
    c.c_seg(sim, rng, ta, flag::ACK, &[]);
    ta
}
