//! Renders the simulated packets and log entries in each output format.

use crate::clock;
use crate::packet::{Packet, flag};
use crate::sim::{AccessEntry, ErrorEntry};
use etherparse::{IpNumber, Ipv4Header, Ipv6Header, TcpHeader};
use std::fmt::Write as _;
use std::net::IpAddr;

/// Server NIC MAC.
pub const SERVER_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x3a, 0x7c, 0x01];
/// Gateway MAC (every remote packet arrives through it).
pub const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];
/// Syslog host name.
pub const HOSTNAME: &str = "web";

/// The Ethernet frame of a packet (valid IP and TCP checksums).
pub fn frame(p: &Packet) -> Vec<u8> {
    let mut tcp = TcpHeader::new(p.sport, p.dport, p.seq, p.window);
    tcp.fin = p.flags & flag::FIN != 0;
    tcp.syn = p.flags & flag::SYN != 0;
    tcp.rst = p.flags & flag::RST != 0;
    tcp.psh = p.flags & flag::PSH != 0;
    tcp.ack = p.flags & flag::ACK != 0;
    tcp.urg = p.flags & flag::URG != 0;
    tcp.ece = p.flags & flag::ECE != 0;
    tcp.cwr = p.flags & flag::CWR != 0;
    tcp.acknowledgment_number = p.ack;
    // Options are built by this crate, never longer than 40 bytes.
    let _ = tcp.set_options_raw(&p.options);
    let (src_mac, dst_mac) = if p.inbound {
        (GATEWAY_MAC, SERVER_MAC)
    } else {
        (SERVER_MAC, GATEWAY_MAC)
    };
    let mut out = Vec::with_capacity(14 + p.ip_len());
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(&src_mac);
    let tcp_len = tcp.header_len() + p.payload.len();
    match (p.src, p.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&[0x08, 0x00]);
            let Ok(mut ip) =
                Ipv4Header::new(tcp_len as u16, p.ttl, IpNumber::TCP, s.octets(), d.octets())
            else {
                return Vec::new();
            };
            ip.identification = p.ip_id;
            ip.dont_fragment = p.df;
            ip.header_checksum = ip.calc_header_checksum();
            tcp.checksum = tcp.calc_checksum_ipv4(&ip, &p.payload).unwrap_or(0);
            out.extend_from_slice(&ip.to_bytes());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            out.extend_from_slice(&[0x86, 0xdd]);
            let ip = Ipv6Header {
                traffic_class: 0,
                flow_label: Default::default(),
                payload_length: tcp_len as u16,
                next_header: IpNumber::TCP,
                hop_limit: p.ttl,
                source: s.octets(),
                destination: d.octets(),
            };
            tcp.checksum = tcp.calc_checksum_ipv6(&ip, &p.payload).unwrap_or(0);
            out.extend_from_slice(&ip.to_bytes());
        }
        _ => return Vec::new(),
    }
    out.extend_from_slice(&tcp.to_bytes());
    out.extend_from_slice(&p.payload);
    out
}

/// The 24-byte header of the classic pcap [`pcap`] writes: magic `a1b2c3d4` (µs,
/// little-endian), version 2.4, snap length 65 535, LINKTYPE_ETHERNET.
///
/// ```
/// let mut out = Vec::new();
/// halfopen_testgen::render::pcap_header(&mut out);
/// assert_eq!(out.len(), 24);
/// assert_eq!(out[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
/// ```
pub fn pcap_header(out: &mut Vec<u8>) {
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
}

/// A classic pcap (µs, LINKTYPE_ETHERNET) of the packets, in the given order.
pub fn pcap(pkts: &[Packet]) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + pkts.len() * 120);
    pcap_header(&mut out);
    for p in pkts {
        let f = frame(p);
        let secs = p.ts_us.div_euclid(1_000_000) as u32;
        let usecs = p.ts_us.rem_euclid(1_000_000) as u32;
        out.extend_from_slice(&secs.to_le_bytes());
        out.extend_from_slice(&usecs.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&f);
    }
    out
}

fn mac(m: &[u8; 6], s: &mut String) {
    for b in m {
        let _ = write!(s, "{b:02x}:");
    }
}

fn v6_full(a: &std::net::Ipv6Addr) -> String {
    let seg = a.segments();
    seg.iter()
        .map(|x| format!("{x:04x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Which netfilter rule produced the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NfRule {
    /// `-j LOG --log-prefix "[INPUT] "/"[OUTPUT] " --log-tcp-sequence --log-tcp-options` on every packet.
    All,
    /// `-p tcp --syn -j LOG` (no prefix, no sequence, no options) on INPUT only.
    SynOnly,
}

/// The prefix of an nftables `log prefix "web-in: " flags all` rule.
pub const NFT_PREFIX: &str = "web-in: ";
/// Apache's socket owner as nf_log prints it (`UID=33 GID=33`: Debian's www-data).
pub const APACHE_UID_GID: (u32, u32) = (33, 33);

/// The syslog stamp, host and tag, and (for the forms that have it) the kernel's uptime stamp.
fn syslog_head(p: &Packet, uptime: Option<i64>, tz_us: i64, out: &mut String) {
    let _ = write!(
        out,
        "{} {HOSTNAME} kernel: ",
        clock::syslog(p.ts_us + tz_us)
    );
    if let Some(boot_us) = uptime {
        let up = p.ts_us.saturating_sub(boot_us).max(0);
        let _ = write!(out, "[{:>5}.{:06}] ", up / 1_000_000, up % 1_000_000);
    }
}

/// nf_log's `IN=`/`OUT=` and MAC part: `MAC=dst:src:type` for LOG, or decoded
/// (`MACSRC= MACDST= MACPROTO=`) for `flags all` (NF_LOG_MACDECODE), inbound only.
fn interfaces(p: &Packet, mac_decode: bool, out: &mut String) {
    if !p.inbound {
        out.push_str("IN= OUT=eth0 ");
        return;
    }
    out.push_str("IN=eth0 OUT= ");
    let proto = if p.src.is_ipv4() { "0800" } else { "86dd" };
    if mac_decode {
        out.push_str("MACSRC=");
        mac(&GATEWAY_MAC, out);
        out.pop();
        out.push_str(" MACDST=");
        mac(&SERVER_MAC, out);
        out.pop();
        let _ = write!(out, " MACPROTO={proto} ");
    } else {
        out.push_str("MAC=");
        mac(&SERVER_MAC, out);
        mac(&GATEWAY_MAC, out);
        out.push_str(&proto[..2]);
        out.push(':');
        out.push_str(&proto[2..]);
        out.push(' ');
    }
}

/// nf_log's IPv4 or IPv6 header fields.
fn ip_fields(p: &Packet, out: &mut String) {
    match (p.src, p.dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let _ = write!(
                out,
                "SRC={} DST={} LEN={} TC=0 HOPLIMIT={} FLOWLBL=0 ",
                v6_full(&s),
                v6_full(&d),
                p.ip_len(),
                p.ttl
            );
        }
        (s, d) => {
            let _ = write!(
                out,
                "SRC={s} DST={d} LEN={} TOS=0x00 PREC=0x00 TTL={} ID={} ",
                p.ip_len(),
                p.ttl,
                p.ip_id
            );
            if p.df {
                out.push_str("DF ");
            }
        }
    }
}

/// nf_log's TCP header fields (`seq`: NF_LOG_TCPSEQ, `opts`: NF_LOG_TCPOPT), flags in the
/// kernel's order (CWR ECE URG ACK PSH RST SYN FIN).
fn tcp_fields(p: &Packet, seq: bool, opts: bool, out: &mut String) {
    let _ = write!(out, "PROTO=TCP SPT={} DPT={} ", p.sport, p.dport);
    if seq {
        let _ = write!(out, "SEQ={} ACK={} ", p.seq, p.ack);
    }
    let _ = write!(out, "WINDOW={} RES=0x00 ", p.window);
    for (bit, name) in [
        (flag::CWR, "CWR "),
        (flag::ECE, "ECE "),
        (flag::URG, "URG "),
        (flag::ACK, "ACK "),
        (flag::PSH, "PSH "),
        (flag::RST, "RST "),
        (flag::SYN, "SYN "),
        (flag::FIN, "FIN "),
    ] {
        if p.flags & bit != 0 {
            out.push_str(name);
        }
    }
    out.push_str("URGP=0 ");
    if opts && !p.options.is_empty() {
        out.push_str("OPT (");
        for b in &p.options {
            let _ = write!(out, "{b:02X}");
        }
        out.push_str(") ");
    }
}

/// One kern.log line as the kernel's nf_log_syslog writes it (with its trailing space).
/// `tz_us`: the host's UTC offset (syslog stamps are local time).
pub fn netfilter_line(p: &Packet, rule: NfRule, boot_us: i64, tz_us: i64, out: &mut String) {
    let all = rule == NfRule::All;
    syslog_head(p, all.then_some(boot_us), tz_us, out);
    if all {
        out.push_str(if p.inbound { "[INPUT] " } else { "[OUTPUT] " });
    }
    interfaces(p, false, out);
    ip_fields(p, out);
    tcp_fields(p, all, all, out);
    out.push('\n');
}

/// One kern.log line of an nftables `log prefix "web-in: " flags all` rule in an `inet` table's
/// input chain (kernel nf_log_syslog with NF_LOG_MASK: decoded MAC, sequence numbers, TCP and IP
/// options, socket owner). `owner`: the `UID=`/`GID=` of the socket early demux attached to the
/// segment, if a process holds it (Apache, between accepting and closing the socket). Lab run2
/// `kern-nft.log`.
///
/// ```
/// use halfopen_testgen::{Behavior, Scenario};
/// let r = Scenario::default()
///     .with("192.0.2.5".parse().unwrap(), 0, Behavior::Browser { connections: 1, requests_per_conn: 2 })
///     .render();
/// let first = r.nft_log.lines().next().unwrap();
/// assert!(first.contains(" kernel: [") && first.contains("] web-in: IN=eth0 OUT= MACSRC="));
/// assert!(first.contains(" MACPROTO=0800 SRC=192.0.2.5 ") && first.contains(" SYN URGP=0 OPT ("));
/// // Once Apache has accepted the connection, its socket owner (www-data) shows.
/// assert!(r.nft_log.contains(" UID=33 GID=33 \n"));
/// ```
pub fn nft_line(p: &Packet, boot_us: i64, tz_us: i64, owner: Option<(u32, u32)>, out: &mut String) {
    syslog_head(p, Some(boot_us), tz_us, out);
    out.push_str(NFT_PREFIX);
    interfaces(p, true, out);
    ip_fields(p, out);
    tcp_fields(p, true, true, out);
    if let Some((uid, gid)) = owner {
        let _ = write!(out, "UID={uid} GID={gid} ");
    }
    out.push('\n');
}

/// One FreeBSD ipfw `log` line (rule 100 allows inbound, rule 200 outbound).
pub fn ipfw_line(p: &Packet, tz_us: i64, out: &mut String) {
    let ep = |a: IpAddr, port: u16| match a {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    };
    let (rule, dir) = if p.inbound { (100, "in") } else { (200, "out") };
    let _ = writeln!(
        out,
        "{} {HOSTNAME} kernel: ipfw: {rule} Accept TCP {} {} {dir} via em0",
        clock::syslog(p.ts_us + tz_us),
        ep(p.src, p.sport),
        ep(p.dst, p.dport)
    );
}

/// Apache access-log line. `with_port`: `%h %{remote}p %l %u %t "%r" %>s %b %D "%{Referer}i" "%{User-Agent}i"`,
/// else combined with `%b`.
/// `offset_us`: Apache's clock error; `utc_offset_secs`: the host's zone.
pub fn access_line(
    e: &AccessEntry,
    offset_us: i64,
    utc_offset_secs: i32,
    with_port: bool,
    out: &mut String,
) {
    let q = |v: &Option<String>| {
        v.as_deref()
            .map(crate::apache::escape_logitem_str)
            .unwrap_or_else(|| "-".to_string())
    };
    let bytes = e
        .bytes
        .filter(|&b| b > 0)
        .map(|b| b.to_string())
        .unwrap_or_else(|| "-".to_string());
    let _ = write!(out, "{} ", e.client);
    if with_port {
        let _ = write!(out, "{} ", e.port);
    }
    let _ = write!(
        out,
        "- - {} \"{}\" {} {bytes} ",
        clock::apache_t_local(e.recv_us + offset_us, utc_offset_secs),
        e.request,
        e.status
    );
    if with_port {
        let _ = write!(out, "{} ", (e.write_us - e.recv_us).max(0));
    }
    let _ = writeln!(out, "\"{}\" \"{}\"", q(&e.referer), q(&e.user_agent));
}

/// Apache 2.4 error-log line (default ErrorLogFormat).
/// Error-log stamps are local time without a zone; `offset_us` includes the host's UTC offset.
pub fn error_line(e: &ErrorEntry, offset_us: i64, out: &mut String) {
    let _ = writeln!(
        out,
        "{} {}",
        clock::apache_error(e.ts_us + offset_us),
        e.text
    );
}
