//! Unanswered and unsolicited traffic: hping3 from a real address, random-source and IPv6
//! prefix SYN floods, SYN-ACK reflection. Each shape is what the tools were seen to send in the
//! lab (tests/data/run2, see PROVENANCE.md).

use crate::behaviors::{Ctx, unanswered_synack};
use crate::packet::Stack;
use crate::rng::Rng;
use crate::sim::{Conn, KERNEL_US, Peer, SynShape};
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// hping3's default window (the man page says 64; hping3 3.0.0-alpha-2 sends 512, lab run2).
pub const HPING3_WINDOW: u16 = 512;

/// The next source port of hping3: it starts at a random base and adds one per packet.
fn hping3_port(base: u16, i: u32) -> u16 {
    let span = u32::from(u16::MAX) - 1024 + 1;
    let off = (u32::from(base.max(1024)) - 1024 + i) % span;
    (1024 + off) as u16
}

/// hping3's random base source port.
fn hping3_base(rng: &mut Rng) -> u16 {
    rng.range(1024, 41_023) as u16
}

/// `hping3 -S -p PORT -i uINTERVAL -c COUNT` from the sender's own address (lab run2,
/// 198.51.100.30): bare SYNs, window 512, no options, no DF, random IP ID, TTL 64 less the hops,
/// random bits in the acknowledgement field, the source port one higher each time. The server
/// answers each with a SYN-ACK, which the sender's kernel (no socket) resets at once.
pub fn hping3_real_source(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, count: u32, interval_ms: u32) {
    let peer = Peer::new(addr, Stack::Hping, &mut cx.rng);
    let base = hping3_base(&mut cx.rng);
    let interval = i64::from(interval_ms.max(1)) * 1000;
    let dport = cx.sim.server_port;
    for i in 0..count {
        let mut c = Conn::with_port(&peer, hping3_port(base, i), dport, &mut cx.rng);
        cx.connections += 1;
        // hping3's timer drifts by about half a millisecond a packet.
        let t = t0 + i64::from(i) * (interval + 500) + cx.rng.range_i64(0, 200);
        let shape = SynShape {
            window: HPING3_WINDOW,
            options: Vec::new(),
            ttl: peer.ttl(),
            ip_id: cx.rng.next_u32() as u16,
            df: false,
            ack_field: cx.rng.next_u32(),
            ecn: false,
        };
        c.c_syn_shaped(cx.sim, t, &shape);
        let t_sa = t + KERNEL_US;
        c.s_synack(cx.sim, t_sa);
        c.c_rst_for_synack(cx.sim, t_sa + c.rtt);
    }
}

/// Whether an IPv4 address is in an IANA special-purpose block (private, loopback, link-local,
/// shared, documentation, benchmarking, multicast, reserved).
pub fn is_special_v4(a: Ipv4Addr) -> bool {
    let n = u32::from(a);
    const BLOCKS: [(u32, u8); 15] = [
        (0x0000_0000, 8),  // 0.0.0.0/8 this network
        (0x0a00_0000, 8),  // 10/8
        (0x6440_0000, 10), // 100.64/10 shared
        (0x7f00_0000, 8),  // 127/8
        (0xa9fe_0000, 16), // 169.254/16
        (0xac10_0000, 12), // 172.16/12
        (0xc000_0000, 24), // 192.0.0/24
        (0xc000_0200, 24), // 192.0.2/24 TEST-NET-1
        (0xc058_6300, 24), // 192.88.99/24 6to4 relay
        (0xc0a8_0000, 16), // 192.168/16
        (0xc612_0000, 15), // 198.18/15 benchmarking
        (0xc633_6400, 24), // 198.51.100/24 TEST-NET-2
        (0xcb00_7100, 24), // 203.0.113/24 TEST-NET-3
        (0xe000_0000, 4),  // 224/4 multicast
        (0xf000_0000, 4),  // 240/4 reserved, broadcast
    ];
    BLOCKS
        .iter()
        .any(|&(net, len)| n & (u32::MAX << (32 - len)) == net)
}

/// How many /24s [`PublicV4`] remembers (about a third of the public ones).
const MAX_TRACKED_24S: usize = 4_000_000;

/// Random public IPv4 addresses, at most `per_24` from any /24 (among the last
/// 4 million /24s used).
pub struct PublicV4 {
    per_24: u8,
    used: HashMap<u32, u8>,
}

impl PublicV4 {
    /// A generator allowing `per_24` addresses per /24.
    pub fn new(per_24: u8) -> PublicV4 {
        PublicV4 {
            per_24: per_24.max(1),
            used: HashMap::new(),
        }
    }

    /// The next address.
    pub fn next(&mut self, rng: &mut Rng) -> Ipv4Addr {
        // Bounded memory, and never stuck: past this many /24s, start counting afresh.
        if self.used.len() >= MAX_TRACKED_24S {
            self.used.clear();
        }
        loop {
            let a = Ipv4Addr::from(rng.next_u32());
            if is_special_v4(a) || u32::from(a) & 0xff == 0 || u32::from(a) & 0xff == 255 {
                continue;
            }
            let n = self.used.entry(u32::from(a) >> 8).or_default();
            if *n < self.per_24 {
                *n += 1;
                return a;
            }
        }
    }
}

/// The flood tools a random-source flood is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FloodTool {
    /// `hping3 -S --rand-source`: window 512.
    Hping3,
    /// `hping3 -S --rand-source -w 65535`.
    Hping3Win65535,
    /// `hping3 -S -X -Y -w 0 --rand-source`: ECE and CWR on the SYN, window 0.
    Hping3EcnWin0,
    /// A raw-socket flooder like the lab's synflood.py: window 64240, no options, random port,
    /// a TTL picked per packet from a few values.
    RawNoOptions,
    /// A raw flooder that adds an MSS option, window 65535, random port and TTL.
    RawWithMss,
}

impl FloodTool {
    fn pick(rng: &mut Rng) -> FloodTool {
        match rng.range(0, 99) {
            0..=29 => FloodTool::Hping3,
            30..=44 => FloodTool::Hping3Win65535,
            45..=59 => FloodTool::Hping3EcnWin0,
            60..=84 => FloodTool::RawNoOptions,
            _ => FloodTool::RawWithMss,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A SYN flood with spoofed sources spread over all of IPv4 (at most 2 per /24, no
/// special-purpose block), from a mix of real flood tools (lab run2: hping3 `--rand-source` in
/// three shapes, and raw flooders like synflood.py): windows 512, 65535, 0 (with ECE|CWR) and
/// 64240, options for some, hping3's source port +1 per packet and fixed TTL, the raw tools'
/// random ports and TTLs. Nothing answers the server's SYN-ACKs; the SYN queue and syncookies
/// rules apply. `label` (the actor's address) is only a name.
pub fn random_source_flood(cx: &mut Ctx<'_>, t0: i64, count: u32, per_second: u32) {
    let gap = 1_000_000 / i64::from(per_second.max(1));
    let mut sources = PublicV4::new(2);
    // The attacker's own path: hping3's TTL (64) arrives less these hops.
    let hops = cx.rng.range(4, 20) as u8;
    let mut next_port = [0u16; 3];
    for p in &mut next_port {
        *p = hping3_base(&mut cx.rng);
    }
    let mut sent = [0u32; 3];
    for i in 0..count {
        let tool = FloodTool::pick(&mut cx.rng);
        let addr = IpAddr::V4(sources.next(&mut cx.rng));
        let (sport, shape) = match tool {
            FloodTool::Hping3 | FloodTool::Hping3Win65535 | FloodTool::Hping3EcnWin0 => {
                let k = tool.index();
                let n = sent.get(k).copied().unwrap_or(0);
                if let Some(s) = sent.get_mut(k) {
                    *s += 1;
                }
                let port = hping3_port(next_port.get(k).copied().unwrap_or(1024), n);
                let window = match tool {
                    FloodTool::Hping3 => HPING3_WINDOW,
                    FloodTool::Hping3Win65535 => 65535,
                    _ => 0,
                };
                let shape = SynShape {
                    window,
                    options: Vec::new(),
                    ttl: 64 - hops,
                    ip_id: cx.rng.next_u32() as u16,
                    df: false,
                    ack_field: cx.rng.next_u32(),
                    ecn: tool == FloodTool::Hping3EcnWin0,
                };
                (port, shape)
            }
            FloodTool::RawNoOptions => {
                let ttl = *cx.rng.pick(&[48u8, 52, 117, 240]);
                let shape = SynShape {
                    window: 64240,
                    options: Vec::new(),
                    ttl,
                    ip_id: cx.rng.next_u32() as u16,
                    df: false,
                    ack_field: 0,
                    ecn: false,
                };
                (cx.rng.range(1024, 65535) as u16, shape)
            }
            FloodTool::RawWithMss => {
                let shape = SynShape {
                    window: 65535,
                    options: vec![2, 4, 0x05, 0xb4],
                    ttl: cx.rng.range(30, 250) as u8,
                    ip_id: cx.rng.next_u32() as u16,
                    df: false,
                    ack_field: 0,
                    ecn: false,
                };
                (cx.rng.range(1024, 65535) as u16, shape)
            }
        };
        let peer = spoofed_peer(addr);
        let mut c = Conn::with_port(&peer, sport, cx.sim.server_port, &mut cx.rng);
        cx.connections += 1;
        let t = t0 + i64::from(i) * gap + cx.rng.range_i64(0, gap / 2);
        c.c_syn_shaped(cx.sim, t, &shape);
        unanswered_synack(&mut c, cx.sim, t);
    }
}

/// A peer that only exists as a forged source address.
fn spoofed_peer(addr: IpAddr) -> Peer {
    Peer {
        addr,
        stack: Stack::RawTool,
        hops: 0,
        rtt_us: 50_000,
        ip_id: 0,
        next_port: 1024,
    }
}

/// Parses `addr/len` (IPv6).
pub fn parse_v6_cidr(s: &str) -> Option<(u128, u8)> {
    let (a, n) = s.trim().split_once('/')?;
    let a: Ipv6Addr = a.parse().ok()?;
    let n: u8 = n.parse().ok()?;
    if n > 128 {
        return None;
    }
    let mask = if n == 0 { 0 } else { u128::MAX << (128 - n) };
    Some((u128::from(a) & mask, n))
}

/// The server's (Linux) SYN-ACK over IPv6 to a SYN without options: MSS 1440, window 64800
/// (lab run2, the answers to synflood.py's IPv6 SYNs).
pub fn linux_v6_bare_synack() -> (Vec<u8>, u16) {
    (vec![2, 4, 0x05, 0xa0], 64800)
}

/// One SYN from each of `count` random addresses of an IPv6 prefix (lab run2: synflood.py with
/// 2001:db8:bad:1::/64): window 64240, no options, a random source port, a hop limit picked
/// from 48, 52, 117 and 240. The server's SYN-ACKs go unanswered. Returns false (nothing sent)
/// if `prefix` is not an IPv6 CIDR.
pub fn ipv6_prefix_flood(
    cx: &mut Ctx<'_>,
    t0: i64,
    prefix: &str,
    count: u32,
    per_second: u32,
) -> bool {
    let Some((net, len)) = parse_v6_cidr(prefix) else {
        return false;
    };
    let host_bits = 128 - u32::from(len);
    let gap = 1_000_000 / i64::from(per_second.max(1));
    let mut used = HashSet::new();
    for i in 0..count {
        let host = if host_bits == 0 {
            0
        } else {
            let r = (u128::from(cx.rng.next_u64()) << 64) | u128::from(cx.rng.next_u64());
            let h = r & (u128::MAX >> (128 - host_bits));
            h.max(1)
        };
        let addr = IpAddr::V6(Ipv6Addr::from(net | host));
        let sport = loop {
            let p = cx.rng.range(1024, 65535) as u16;
            if used.insert((addr, p)) || used.len() > 1_000_000 {
                break p;
            }
        };
        let mut c = Conn::with_port(&spoofed_peer(addr), sport, cx.sim.server_port, &mut cx.rng);
        c.synack_override = Some(linux_v6_bare_synack());
        cx.connections += 1;
        let shape = SynShape {
            window: 64240,
            options: Vec::new(),
            ttl: *cx.rng.pick(&[48u8, 52, 117, 240]),
            ip_id: 0,
            df: false,
            ack_field: 0,
            ecn: false,
        };
        let t = t0 + i64::from(i) * gap + cx.rng.range_i64(0, gap / 2);
        c.c_syn_shaped(cx.sim, t, &shape);
        unanswered_synack(&mut c, cx.sim, t);
    }
    true
}

/// SYN-ACK reflection seen from the victim: someone sends SYNs with the server's address as
/// source to `reflectors` web servers (port 80 or 443, random public addresses); their SYN-ACKs
/// (Linux's answer to a bare SYN: window 64240, MSS 1460, IP ID 0, DF) arrive at random high
/// ports of the server, about 100 a second, and the server's kernel answers each with a RST
/// (lab run2, 198.18.0.1-6). The reflectors never sent a SYN and never retransmit (the RST
/// clears their request). Returns the reflector addresses.
pub fn synack_reflection(cx: &mut Ctx<'_>, t0: i64, reflectors: u32, count: u32) -> Vec<IpAddr> {
    let mut pool = PublicV4::new(1);
    let peers: Vec<(Peer, u16)> = (0..reflectors.max(1))
        .map(|_| {
            let addr = IpAddr::V4(pool.next(&mut cx.rng));
            let stack = if cx.rng.chance(700) {
                Stack::Linux
            } else {
                Stack::Windows
            };
            let peer = Peer::new(addr, stack, &mut cx.rng);
            let port = if cx.rng.chance(700) { 80 } else { 443 };
            (peer, port)
        })
        .collect();
    let gap = 10_000;
    for i in 0..count {
        let Some((peer, sport)) = peers.get(cx.rng.range(0, peers.len() as u64 - 1) as usize)
        else {
            break;
        };
        let dport = loop {
            let p = cx.rng.range(1024, 65535) as u16;
            if !cx.sim.open_ports.contains(&p) {
                break p;
            }
        };
        let mut c = Conn::with_port(peer, *sport, dport, &mut cx.rng);
        cx.connections += 1;
        let t = t0 + i64::from(i) * gap + cx.rng.range_i64(0, gap / 2);
        let their_ack = cx.rng.next_u32();
        c.c_synack_unsolicited(cx.sim, t, their_ack);
        c.s_rst_for_ack(cx.sim, t + KERNEL_US, their_ack);
    }
    peers.into_iter().map(|(p, _)| p.addr).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hping3_ports_step_by_one_and_wrap() {
        assert_eq!(hping3_port(1989, 0), 1989);
        assert_eq!(hping3_port(1989, 9), 1998);
        assert_eq!(hping3_port(65535, 1), 1024);
    }

    #[test]
    fn special_ranges_are_recognised() {
        for a in [
            "10.1.2.3",
            "127.0.0.1",
            "192.168.1.1",
            "172.20.0.1",
            "100.100.0.1",
            "198.19.255.1",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "0.1.2.3",
        ] {
            assert!(is_special_v4(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "45.76.87.206", "172.32.0.1", "198.20.0.1"] {
            assert!(!is_special_v4(a.parse().unwrap()), "{a}");
        }
    }

    #[test]
    fn at_most_two_per_24() {
        let mut g = PublicV4::new(2);
        let mut rng = Rng::new(3);
        let mut per: HashMap<u32, u32> = HashMap::new();
        for _ in 0..5000 {
            *per.entry(u32::from(g.next(&mut rng)) >> 8).or_default() += 1;
        }
        assert!(per.values().all(|&n| n <= 2));
    }

    #[test]
    fn v6_cidr() {
        let (net, len) = parse_v6_cidr("2001:db8:bad:1::/64").unwrap();
        assert_eq!(len, 64);
        assert_eq!(
            Ipv6Addr::from(net),
            "2001:db8:bad:1::".parse::<Ipv6Addr>().unwrap()
        );
        assert!(parse_v6_cidr("10.0.0.0/8").is_none());
    }
}
