//! Decoding one captured frame down to its TCP segment: link layers (Ethernet with
//! 802.1Q/QinQ tags, MPLS and Cisco FabricPath, raw IP, Linux cooked SLL and SLL2,
//! BSD loopback/null, pflog), IPv4 and IPv6 (extension headers, IP-in-IP, Teredo), TCP.
//!
//! Pure byte scanning with `get`: never panics, never allocates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::options;
use crate::pflog::{self, PflogMeta};
use crate::{Event, TcpFlags};

/// LINKTYPE_NULL: BSD loopback, host-endian address family.
pub const LINKTYPE_NULL: i32 = 0;
/// LINKTYPE_ETHERNET.
pub const LINKTYPE_ETHERNET: i32 = 1;
/// DLT_RAW as some systems number it.
pub const LINKTYPE_RAW_12: i32 = 12;
/// DLT_RAW on OpenBSD.
pub const LINKTYPE_RAW_14: i32 = 14;
/// LINKTYPE_RAW.
pub const LINKTYPE_RAW: i32 = 101;
/// LINKTYPE_LOOP: OpenBSD loopback, network-order address family.
pub const LINKTYPE_LOOP: i32 = 108;
/// LINKTYPE_LINUX_SLL (Linux cooked v1).
pub const LINKTYPE_LINUX_SLL: i32 = 113;
/// LINKTYPE_PFLOG.
pub const LINKTYPE_PFLOG: i32 = 117;
/// LINKTYPE_IPV4.
pub const LINKTYPE_IPV4: i32 = 228;
/// LINKTYPE_IPV6.
pub const LINKTYPE_IPV6: i32 = 229;
/// LINKTYPE_LINUX_SLL2 (Linux cooked v2).
pub const LINKTYPE_LINUX_SLL2: i32 = 276;

/// Most nested encapsulations followed (VLAN tags, MPLS labels, tunnels).
const MAX_DEPTH: usize = 8;

/// Why a frame produced no TCP event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// Not TCP (UDP, ICMP, ARP, ...).
    NotTcp,
    /// A non-first IP fragment (no TCP header in it).
    Fragment,
    /// Cut short (snap length or damage) before the TCP header ended.
    Truncated,
    /// A link type or encapsulation this decoder does not know.
    Unsupported,
    /// A malformed header (bad version, bad header length, bad pflog header).
    Malformed,
    /// The IPv4 header checksum is wrong (only when verification was asked for).
    BadChecksum,
}

/// A decoded segment and its captured payload (a slice of the frame).
type Seg<'a> = (Event, &'a [u8]);

/// One decoded TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// The segment as an event.
    pub event: Event,
    /// The pflog header, for LINKTYPE_PFLOG captures.
    pub pflog: Option<PflogMeta>,
}

fn be16(d: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(i)?, *d.get(i + 1)?]))
}

fn be32(d: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *d.get(i)?,
        *d.get(i + 1)?,
        *d.get(i + 2)?,
        *d.get(i + 3)?,
    ]))
}

fn arr<const N: usize>(d: &[u8], i: usize) -> Option<[u8; N]> {
    d.get(i..i.checked_add(N)?)?.try_into().ok()
}

/// Decodes a frame of link type `linktype` captured at `ts_us`.
///
/// ```
/// use halfopen_tcp::decode::{decode, LINKTYPE_RAW};
/// // IPv4 192.0.2.1 -> 198.51.100.7, TCP 40000 -> 80, SYN
/// let mut p = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7];
/// p.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
/// let d = decode(LINKTYPE_RAW, &p, 7).unwrap();
/// assert_eq!(d.event.dst_port, 80);
/// assert_eq!(d.event.flags, Some(halfopen_tcp::TcpFlags::SYN));
/// assert_eq!(d.event.payload_len, Some(0));
/// ```
pub fn decode(linktype: i32, frame: &[u8], ts_us: i64) -> Result<Decoded, Skip> {
    decode_with(linktype, frame, ts_us, false).map(|(d, _)| d)
}

/// Like [`decode`], and also returns the segment's payload as captured: the bytes after
/// the TCP header up to the IP length, cut where the snap length cut the frame
/// (`event.payload_captured` bytes; `event.payload_len` says how many were sent). It
/// borrows the frame: nothing is copied.
///
/// ```
/// use halfopen_tcp::decode::{decode_payload, LINKTYPE_RAW};
/// // IPv4 192.0.2.1 -> 198.51.100.7, TCP 40000 -> 80, PSH|ACK, payload "GET /"
/// let mut p = vec![0x45, 0, 0, 45, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7];
/// p.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
/// p.extend_from_slice(b"GET /");
/// p.extend_from_slice(&[0; 6]); // Ethernet-style padding after the IP packet
/// let (d, payload) = decode_payload(LINKTYPE_RAW, &p, 7, false).unwrap();
/// assert_eq!(payload, b"GET /");
/// assert_eq!(d.event.payload_len, Some(5));
/// ```
pub fn decode_payload(
    linktype: i32,
    frame: &[u8],
    ts_us: i64,
    verify_checksums: bool,
) -> Result<(Decoded, &[u8]), Skip> {
    decode_with(linktype, frame, ts_us, verify_checksums)
}

/// Like [`decode`], and also verifies checksums, as Zeek does unless run with `-C`: a bad
/// IPv4 header checksum drops the packet ([`Skip::BadChecksum`]); the TCP checksum verdict
/// goes into [`Event::tcp_checksum_ok`] (segments cut short by the snap length cannot be
/// verified: `None`).
pub fn decode_verified(linktype: i32, frame: &[u8], ts_us: i64) -> Result<Decoded, Skip> {
    decode_with(linktype, frame, ts_us, true).map(|(d, _)| d)
}

fn decode_with(linktype: i32, frame: &[u8], ts_us: i64, v: bool) -> Result<(Decoded, &[u8]), Skip> {
    let mut pf = None;
    let r = match linktype {
        LINKTYPE_ETHERNET => ethernet(frame, 0, v),
        LINKTYPE_RAW | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 => ip_by_version(frame, 0, v),
        LINKTYPE_IPV4 => ipv4(frame, 0, v),
        LINKTYPE_IPV6 => ipv6(frame, 0, v),
        LINKTYPE_LINUX_SLL => {
            let proto = be16(frame, 14).ok_or(Skip::Truncated)?;
            ethertype(proto, frame.get(16..).ok_or(Skip::Truncated)?, 0, v)
        }
        LINKTYPE_LINUX_SLL2 => {
            let proto = be16(frame, 0).ok_or(Skip::Truncated)?;
            ethertype(proto, frame.get(20..).ok_or(Skip::Truncated)?, 0, v)
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            let fam = arr::<4>(frame, 0).ok_or(Skip::Truncated)?;
            // Host byte order for NULL (either), network order for LOOP.
            let le = u32::from_le_bytes(fam);
            let be = u32::from_be_bytes(fam);
            let af = if linktype == LINKTYPE_LOOP || le > 0xffff {
                be
            } else {
                le
            };
            let body = frame.get(4..).ok_or(Skip::Truncated)?;
            match af {
                2 => ipv4(body, 0, v),
                10 | 24 | 28 | 30 => ipv6(body, 0, v),
                _ => Err(Skip::NotTcp),
            }
        }
        LINKTYPE_PFLOG => {
            let m = pflog::parse(frame).map_err(|_| Skip::Malformed)?;
            pf = Some(m);
            let body = frame.get(m.header_len..).ok_or(Skip::Truncated)?;
            if m.af == 2 {
                ipv4(body, 0, v)
            } else if m.is_ipv6() {
                ipv6(body, 0, v)
            } else {
                ip_by_version(body, 0, v)
            }
        }
        _ => Err(Skip::Unsupported),
    };
    let (mut event, payload) = r?;
    event.ts_us = ts_us;
    Ok((Decoded { event, pflog: pf }, payload))
}

fn ethernet(frame: &[u8], depth: usize, v: bool) -> Result<Seg<'_>, Skip> {
    let proto = be16(frame, 12).ok_or(Skip::Truncated)?;
    ethertype(proto, frame.get(14..).ok_or(Skip::Truncated)?, depth, v)
}

fn ethertype(proto: u16, body: &[u8], depth: usize, v: bool) -> Result<Seg<'_>, Skip> {
    if depth > MAX_DEPTH {
        return Err(Skip::Unsupported);
    }
    match proto {
        0x0800 => ipv4(body, depth, v),
        0x86dd => ipv6(body, depth, v),
        // 802.1Q, 802.1ad, old QinQ: 2 bytes TCI, then the inner ethertype.
        0x8100 | 0x88a8 | 0x9100 => {
            let inner = be16(body, 2).ok_or(Skip::Truncated)?;
            ethertype(inner, body.get(4..).ok_or(Skip::Truncated)?, depth + 1, v)
        }
        // MPLS unicast/multicast: labels until bottom-of-stack, then IP by version.
        0x8847 | 0x8848 => {
            let mut i = 0usize;
            for _ in 0..MAX_DEPTH {
                let label = be32(body, i).ok_or(Skip::Truncated)?;
                i += 4;
                if label & 0x100 != 0 {
                    return ip_by_version(body.get(i..).ok_or(Skip::Truncated)?, depth + 1, v);
                }
            }
            Err(Skip::Unsupported)
        }
        // Cisco FabricPath: 2 more bytes of tag, then a whole inner Ethernet frame.
        0x8903 => ethernet(body.get(2..).ok_or(Skip::Truncated)?, depth + 1, v),
        _ => Err(Skip::NotTcp),
    }
}

fn ip_by_version(p: &[u8], depth: usize, v: bool) -> Result<Seg<'_>, Skip> {
    match p.first().map(|b| b >> 4) {
        Some(4) => ipv4(p, depth, v),
        Some(6) => ipv6(p, depth, v),
        Some(_) => Err(Skip::Malformed),
        None => Err(Skip::Truncated),
    }
}

/// One's-complement sum of 16-bit big-endian words (odd byte padded with zero).
fn sum16(data: &[u8], mut acc: u64) -> u64 {
    let mut it = data.chunks_exact(2);
    for w in it.by_ref() {
        if let [a, b] = w {
            acc += u64::from(u16::from_be_bytes([*a, *b]));
        }
    }
    if let [last] = it.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

struct IpInfo {
    /// Checksum sum of the pseudo-header without the length.
    pseudo: u64,
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
    ip_id: u32,
    ip_len: u32,
}

fn ipv4(p: &[u8], depth: usize, v: bool) -> Result<Seg<'_>, Skip> {
    let b0 = *p.first().ok_or(Skip::Truncated)?;
    if b0 >> 4 != 4 {
        return Err(Skip::Malformed);
    }
    let ihl = usize::from(b0 & 0x0f) * 4;
    if ihl < 20 {
        return Err(Skip::Malformed);
    }
    let total = usize::from(be16(p, 2).ok_or(Skip::Truncated)?);
    let id = be16(p, 4).ok_or(Skip::Truncated)?;
    let frag = be16(p, 6).ok_or(Skip::Truncated)?;
    let ttl = *p.get(8).ok_or(Skip::Truncated)?;
    let proto = *p.get(9).ok_or(Skip::Truncated)?;
    let src = Ipv4Addr::from(arr::<4>(p, 12).ok_or(Skip::Truncated)?);
    let dst = Ipv4Addr::from(arr::<4>(p, 16).ok_or(Skip::Truncated)?);
    if frag & 0x1fff != 0 {
        return Err(Skip::Fragment);
    }
    if v {
        let hdr = p.get(..ihl).ok_or(Skip::Truncated)?;
        if fold(sum16(hdr, 0)) != 0xffff {
            return Err(Skip::BadChecksum);
        }
    }
    let pseudo = sum16(&src.octets(), sum16(&dst.octets(), u64::from(proto)));
    if total < ihl {
        return Err(Skip::Malformed);
    }
    // Ethernet padding may follow the packet; a TSO capture may say 0 total length.
    let end = if total == 0 {
        p.len()
    } else {
        total.min(p.len())
    };
    let body = p.get(ihl..end).ok_or(Skip::Truncated)?;
    let info = IpInfo {
        pseudo,
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        ttl,
        ip_id: u32::from(id),
        ip_len: total as u32,
    };
    // Declared payload length, even when the capture was cut short.
    let declared = if total == 0 { body.len() } else { total - ihl };
    transport(proto, body, declared, &info, depth, v)
}

fn ipv6(p: &[u8], depth: usize, v: bool) -> Result<Seg<'_>, Skip> {
    let b0 = *p.first().ok_or(Skip::Truncated)?;
    if b0 >> 4 != 6 {
        return Err(Skip::Malformed);
    }
    let flow = be32(p, 0).ok_or(Skip::Truncated)? & 0x000f_ffff;
    let plen = usize::from(be16(p, 4).ok_or(Skip::Truncated)?);
    let mut next = *p.get(6).ok_or(Skip::Truncated)?;
    let hops = *p.get(7).ok_or(Skip::Truncated)?;
    let src = Ipv6Addr::from(arr::<16>(p, 8).ok_or(Skip::Truncated)?);
    let dst = Ipv6Addr::from(arr::<16>(p, 24).ok_or(Skip::Truncated)?);
    let end = if plen == 0 {
        p.len()
    } else {
        40usize.saturating_add(plen).min(p.len())
    };
    let mut body = p.get(40..end).ok_or(Skip::Truncated)?;
    let mut declared = if plen == 0 { body.len() } else { plen };
    // Extension headers: hop-by-hop, routing, destination options, fragment, AH.
    for _ in 0..MAX_DEPTH {
        let hdr_len = match next {
            0 | 43 | 60 => (usize::from(*body.get(1).ok_or(Skip::Truncated)?) + 1) * 8,
            44 => {
                let off = be16(body, 2).ok_or(Skip::Truncated)?;
                if off & 0xfff8 != 0 {
                    return Err(Skip::Fragment);
                }
                8
            }
            51 => (usize::from(*body.get(1).ok_or(Skip::Truncated)?) + 2) * 4,
            _ => break,
        };
        next = *body.first().ok_or(Skip::Truncated)?;
        body = body.get(hdr_len..).ok_or(Skip::Truncated)?;
        declared = declared.saturating_sub(hdr_len);
    }
    let info = IpInfo {
        pseudo: sum16(&src.octets(), sum16(&dst.octets(), u64::from(next))),
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        ttl: hops,
        ip_id: flow,
        ip_len: (plen as u32).saturating_add(40),
    };
    transport(next, body, declared, &info, depth, v)
}

fn transport<'a>(
    proto: u8,
    body: &'a [u8],
    declared: usize,
    ip: &IpInfo,
    depth: usize,
    v: bool,
) -> Result<Seg<'a>, Skip> {
    match proto {
        6 => tcp(body, declared, ip, v),
        4 if depth < MAX_DEPTH => ipv4(body, depth + 1, v),
        41 if depth < MAX_DEPTH => ipv6(body, depth + 1, v),
        17 if depth < MAX_DEPTH => {
            // Teredo (RFC 4380, UDP port 3544): IPv6 inside UDP, possibly after an
            // authentication and/or origin indication header.
            // Teredo peers also talk on other ports: accept any UDP payload that is
            // exactly one well-formed IPv6 packet.
            let sp = be16(body, 0).ok_or(Skip::Truncated)?;
            let dp = be16(body, 2).ok_or(Skip::Truncated)?;
            let mut inner = body.get(8..).ok_or(Skip::Truncated)?;
            let teredo_port = sp == 3544 || dp == 3544;
            let exact_ipv6 = inner.first().is_some_and(|b| b >> 4 == 6)
                && be16(inner, 4).map(|l| usize::from(l) + 40) == Some(inner.len());
            if !teredo_port && !exact_ipv6 {
                return Err(Skip::NotTcp);
            }
            if be16(inner, 0) == Some(0x0001) {
                let id_len = usize::from(*inner.get(2).ok_or(Skip::Truncated)?);
                let au_len = usize::from(*inner.get(3).ok_or(Skip::Truncated)?);
                inner = inner
                    .get(4 + id_len + au_len + 9..)
                    .ok_or(Skip::Truncated)?;
            }
            if be16(inner, 0) == Some(0x0000) {
                inner = inner.get(8..).ok_or(Skip::Truncated)?;
            }
            match inner.first().map(|b| b >> 4) {
                Some(6) => ipv6(inner, depth + 1, v),
                _ => Err(Skip::NotTcp),
            }
        }
        _ => Err(Skip::NotTcp),
    }
}

fn tcp<'a>(seg: &'a [u8], declared: usize, ip: &IpInfo, v: bool) -> Result<Seg<'a>, Skip> {
    let sp = be16(seg, 0).ok_or(Skip::Truncated)?;
    let dp = be16(seg, 2).ok_or(Skip::Truncated)?;
    let seq = be32(seg, 4).ok_or(Skip::Truncated)?;
    let ack = be32(seg, 8).ok_or(Skip::Truncated)?;
    let off = usize::from(*seg.get(12).ok_or(Skip::Truncated)? >> 4) * 4;
    let flags = *seg.get(13).ok_or(Skip::Truncated)?;
    let window = be16(seg, 14).ok_or(Skip::Truncated)?;
    if off < 20 {
        return Err(Skip::Malformed);
    }
    let mut tcp_ok = None;
    if v {
        if let Some(whole) = seg.get(..declared) {
            let len = u64::try_from(declared).unwrap_or(0);
            tcp_ok = Some(fold(sum16(whole, ip.pseudo + len)) == 0xffff);
        }
    }
    let opts = seg.get(20..off).unwrap_or(&[]);
    let o = options::parse(opts);
    let payload = declared.saturating_sub(off);
    let captured = seg.len().min(declared).saturating_sub(off).min(payload);
    let mut ev = Event::new(0, ip.src, sp, ip.dst, dp);
    ev.flags = Some(TcpFlags(flags));
    ev.payload_len = Some(u32::try_from(payload).unwrap_or(u32::MAX));
    ev.payload_captured = Some(u32::try_from(captured).unwrap_or(u32::MAX));
    ev.tcp_checksum_ok = tcp_ok;
    ev.seq = Some(seq);
    ev.ack = Some(ack);
    ev.window = Some(window);
    ev.ttl = Some(ip.ttl);
    ev.ip_id = Some(ip.ip_id);
    ev.ip_len = Some(ip.ip_len);
    ev.mss = o.mss;
    ev.options_fingerprint = Some(o.fingerprint);
    let data = seg
        .get(off..)
        .and_then(|p| p.get(..captured))
        .unwrap_or(&[]);
    Ok((ev, data))
}
