//! FreeBSD ipfw verbose logging (`net.inet.ip.fw.verbose=1`).
//!
//! ```text
//! Feb  3 16:02:58 lhotse /kernel: ipfw: 2700 Deny TCP 213.76.70.104:1103 12.34.56.78:135 in via tun0
//! Jan  6 22:31:29 lhotse /kernel: ipfw: 140 Deny ICMP:11.0 1.2.3.4 5.6.7.8 in via vx3
//! Mar 1 18:49:05 TCP 45.76.87.206:58896 116.58.172.107:80 in
//! ```
//!
//! Layout after the syslog header: `ipfw: RULE ACTION PROTO SRC DST (in|out) via IF [(frag ...)]`
//! or `... [no if info]`. `ACTION` is one word, or two for the ones with an argument
//! (`Unreach 3`, `Divert 8668`, `Fwd 10.0.0.1:80`, `SkipTo 500`, `Tee 1`, ...). `PROTO` is
//! `TCP`, `UDP`, `SCTP` (with `addr:port` endpoints), `ICMP:type.code`, `ICMPv6:type.code`,
//! `ICMP`/`ICMPv6` (fragments) or `P:number`. IPv6 endpoints are bracketed: `[2001:db8::1]:80`.
//! The fragment note `(frag id:len@off+)` goes to [`Record::extra`] under key `frag`.
//! ipfw does not log TCP flags: `tcp_flags` is always `None`.

use std::net::IpAddr;

use crate::scan::{dec_u8, dec_u16, ip, ipv4_prefix, push_ip, push_u64, word};
use crate::syslog::split;
use crate::{Action, Direction, Error, Format, Protocol, Record, Result};

/// Parses one ipfw line.
///
/// ```
/// use halfopen_fwlog::{formats::ipfw, Action, Protocol};
/// let r = ipfw::parse(b"Feb  3 16:02:58 lhotse /kernel: ipfw: 2700 Deny TCP 213.76.70.104:1103 12.34.56.78:135 in via tun0").unwrap();
/// assert_eq!(r.action, Some(Action::Deny));
/// assert_eq!(r.protocol, Protocol::Tcp);
/// assert_eq!((r.src_port, r.dst_port), (Some(1103), Some(135)));
/// assert_eq!(r.in_interface, Some(&b"tun0"[..]));
/// assert_eq!(r.tcp_flags, None);
/// ```
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    let (h, msg) = split(line)?;
    let base = |part: &[u8]| line.len().saturating_sub(part.len());
    // With a tag the message must start with "ipfw: "; without one, the bare form
    // `TCP a:p b:p in` follows the timestamp directly.
    let (body, bare) = if let Some(b) = msg.strip_prefix(b"ipfw: ") {
        (b, false)
    } else if h.tag.is_none() {
        (h.after_timestamp, true)
    } else {
        return Err(Error::syntax(base(msg), "\"ipfw: \" after the syslog tag"));
    };

    let mut rest = body;
    let mut rule = None;
    let mut action = None;
    let mut action_text = None;
    if !bare || !is_proto_word(word(rest).0) {
        let (r, after) = word(rest);
        if r.is_empty() || !valid_rule(r) {
            return Err(Error::syntax(base(rest), "an ipfw rule number"));
        }
        rule = Some(r);
        rest = after;
        let (a, after) = word(rest);
        let (kind, has_arg) = action_kind(a).ok_or(Error::syntax(
            base(rest),
            "an ipfw action (Accept, Deny, ...)",
        ))?;
        let start = base(rest);
        let mut end = start + a.len();
        rest = after;
        if has_arg {
            let (arg, after) = word(rest);
            if arg.is_empty() {
                return Err(Error::syntax(base(rest), "the action's argument"));
            }
            end = base(rest) + arg.len();
            rest = after;
        }
        action = Some(kind);
        action_text = line.get(start..end);
    }

    // Protocol.
    let (p, after) = word(rest);
    let ppos = base(rest);
    let (protocol, icmp, ported) = proto(p).ok_or_else(|| {
        if p == b"MAC" {
            Error::NotAPacket {
                line: 0,
                what: "a non-IP (MAC layer) ipfw record",
            }
        } else {
            Error::syntax(ppos, "an ipfw protocol (TCP, UDP, ICMP:t.c, P:n)")
        }
    })?;
    rest = after;
    let (s, after) = word(rest);
    let (src, src_port) =
        endpoint(s, ported).ok_or(Error::syntax(base(rest), "the source address[:port]"))?;
    rest = after;
    let (d, after) = word(rest);
    let (dst, dst_port) =
        endpoint(d, ported).ok_or(Error::syntax(base(rest), "the destination address[:port]"))?;
    rest = after;

    let mut r = Record::new(Format::Ipfw, protocol, src, dst);
    r.timestamp = h.timestamp;
    r.uptime_us = h.uptime_us;
    r.host = if bare { None } else { h.host };
    r.rule = rule;
    r.action = action;
    r.action_text = action_text;
    r.src_port = src_port;
    r.dst_port = dst_port;
    r.icmp = icmp;

    // Direction and interface, or "[no if info]".
    if let Some(after) = rest.strip_prefix(b"[no if info]") {
        rest = after;
    } else {
        let (dir, after) = word(rest);
        let direction = match dir {
            b"in" => Direction::In,
            b"out" => Direction::Out,
            _ => return Err(Error::syntax(base(rest), "\"in\" or \"out\"")),
        };
        r.direction = Some(direction);
        rest = after;
        if let Some(after) = rest.strip_prefix(b"via ") {
            let (ifname, after) = word(after);
            if ifname.is_empty() {
                return Err(Error::syntax(
                    base(after),
                    "an interface name after \"via\"",
                ));
            }
            match direction {
                Direction::Out => r.out_interface = Some(ifname),
                _ => r.in_interface = Some(ifname),
            }
            rest = after;
        }
    }
    // Optional fragment note, then nothing but spaces.
    let trimmed = trim_start(rest);
    if let Some(inner) = trimmed.strip_prefix(b"(frag ") {
        let close = memchr::memchr(b')', inner)
            .ok_or(Error::syntax(base(inner), "')' closing the fragment note"))?;
        r.extra
            .push(b"frag", inner.get(..close).unwrap_or_default());
        rest = inner.get(close + 1..).unwrap_or_default();
    } else {
        rest = trimmed;
    }
    if !trim_start(rest).is_empty() {
        return Err(Error::syntax(base(rest), "the end of the line"));
    }
    Ok(r)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ').count();
    b.get(n..).unwrap_or_default()
}

fn valid_rule(r: &[u8]) -> bool {
    let digits = r.strip_prefix(b"-").unwrap_or(r);
    !digits.is_empty() && digits.len() <= 10 && digits.iter().all(u8::is_ascii_digit)
}

fn is_proto_word(w: &[u8]) -> bool {
    proto(w).is_some()
}

/// Action word → (action, takes an argument).
fn action_kind(a: &[u8]) -> Option<(Action, bool)> {
    Some(match a {
        b"Accept" => (Action::Accept, false),
        b"Deny" => (Action::Deny, false),
        b"Count" => (Action::Log, false),
        b"Reset" | b"Abort" | b"Reject" => (Action::Reject, false),
        b"Unreach" | b"Unreach6" => (Action::Reject, true),
        b"Divert" | b"Tee" | b"Fwd" | b"Pipe" | b"Queue" | b"Netgraph" | b"Ngtee" => {
            (Action::Redirect, true)
        }
        b"Nat" => (Action::Redirect, false),
        b"SkipTo" | b"Call" | b"SetFib" | b"SetDscp" => (Action::Other, true),
        b"Return" | b"Reass" | b"Tag" | b"Untag" => (Action::Other, false),
        _ => return None,
    })
}

/// A protocol word read: (protocol, ICMP type/code, endpoints carry ports).
type ProtoWord = (Protocol, Option<(u8, u8)>, bool);

/// Protocol word → (protocol, icmp type/code, endpoints carry ports).
fn proto(p: &[u8]) -> Option<ProtoWord> {
    match p {
        b"TCP" => return Some((Protocol::Tcp, None, true)),
        b"UDP" => return Some((Protocol::Udp, None, true)),
        b"SCTP" => return Some((Protocol::Other(132), None, true)),
        b"ICMP" => return Some((Protocol::Icmp, None, false)),
        b"ICMPv6" => return Some((Protocol::Icmpv6, None, false)),
        _ => {}
    }
    if let Some(tc) = p.strip_prefix(b"ICMP:") {
        return Some((Protocol::Icmp, Some(type_code(tc)?), false));
    }
    if let Some(tc) = p.strip_prefix(b"ICMPv6:") {
        return Some((Protocol::Icmpv6, Some(type_code(tc)?), false));
    }
    if let Some(n) = p.strip_prefix(b"P:") {
        return Some((Protocol::from_number(dec_u8(n)?), None, false));
    }
    None
}

fn type_code(tc: &[u8]) -> Option<(u8, u8)> {
    let dot = memchr::memchr(b'.', tc)?;
    Some((dec_u8(tc.get(..dot)?)?, dec_u8(tc.get(dot + 1..)?)?))
}

/// `1.2.3.4:80`, `1.2.3.4`, `[2001:db8::1]:80`, `[2001:db8::1]`.
fn endpoint(b: &[u8], ported: bool) -> Option<(IpAddr, Option<u16>)> {
    // Nearly every line: a dotted quad, a colon and a port, read in one pass.
    if ported && let Some((v4, used)) = ipv4_prefix(b) {
        if let Some(port) = b.get(used..).and_then(|t| t.strip_prefix(b":")) {
            return Some((IpAddr::V4(v4), Some(dec_u16(port)?)));
        }
    }
    endpoint_general(b, ported)
}

/// Any endpoint: `[v6]:port`, `[v6]`, `a.b.c.d:port`, a bare address (ported protocols'
/// fragments); IPv6 unbracketed.
fn endpoint_general(b: &[u8], ported: bool) -> Option<(IpAddr, Option<u16>)> {
    if let Some(inner) = b.strip_prefix(b"[") {
        let close = memchr::memchr(b']', inner)?;
        let addr = ip(inner.get(..close)?)?;
        let tail = inner.get(close + 1..)?;
        if tail.is_empty() {
            return Some((addr, None));
        }
        let port = dec_u16(tail.strip_prefix(b":")?)?;
        return ported.then_some((addr, Some(port)));
    }
    if ported {
        // `a.b.c.d:port`: one colon (an unbracketed IPv6 address has several).
        let mut colons = b.iter().enumerate().filter(|(_, c)| **c == b':');
        if let (Some((colon, _)), None) = (colons.next(), colons.next()) {
            return Some((ip(b.get(..colon)?)?, Some(dec_u16(b.get(colon + 1..)?)?)));
        }
    }
    // Fragments print the address without a port.
    Some((ip(b)?, None))
}

/// Renders a record as an ipfw line (the inverse of [`parse`] for what ipfw can say).
///
/// Uses the timestamp as written (`raw`), the host, the tag `kernel`, and the record's rule and
/// action text (`Deny` and rule `65535` when absent).
pub fn render(record: &Record<'_>, out: &mut Vec<u8>) {
    if let Some(ts) = &record.timestamp {
        out.extend_from_slice(ts.raw);
        out.push(b' ');
        if let Some(host) = record.host {
            out.extend_from_slice(host);
            out.push(b' ');
        }
    }
    out.extend_from_slice(b"kernel: ipfw: ");
    out.extend_from_slice(record.rule.unwrap_or(b"65535"));
    out.push(b' ');
    out.extend_from_slice(record.action_text.unwrap_or(b"Deny"));
    out.push(b' ');
    let ported = match record.protocol {
        Protocol::Tcp => {
            out.extend_from_slice(b"TCP");
            true
        }
        Protocol::Udp => {
            out.extend_from_slice(b"UDP");
            true
        }
        Protocol::Other(132) => {
            out.extend_from_slice(b"SCTP");
            true
        }
        Protocol::Icmp | Protocol::Icmpv6 => {
            out.extend_from_slice(if record.protocol == Protocol::Icmp {
                b"ICMP"
            } else {
                b"ICMPv6"
            });
            if let Some((t, c)) = record.icmp {
                out.push(b':');
                push_u64(out, u64::from(t));
                out.push(b'.');
                push_u64(out, u64::from(c));
            }
            false
        }
        Protocol::Other(n) => {
            out.extend_from_slice(b"P:");
            push_u64(out, u64::from(n));
            false
        }
    };
    for (addr, port) in [(record.src, record.src_port), (record.dst, record.dst_port)] {
        out.push(b' ');
        if addr.is_ipv6() {
            out.push(b'[');
            push_ip(out, addr);
            out.push(b']');
        } else {
            push_ip(out, addr);
        }
        if let (true, Some(p)) = (ported, port) {
            out.push(b':');
            push_u64(out, u64::from(p));
        }
    }
    match record.direction {
        Some(Direction::Out) => {
            out.extend_from_slice(b" out");
            if let Some(i) = record.out_interface {
                out.extend_from_slice(b" via ");
                out.extend_from_slice(i);
            }
        }
        Some(_) => {
            out.extend_from_slice(b" in");
            if let Some(i) = record.in_interface {
                out.extend_from_slice(b" via ");
                out.extend_from_slice(i);
            }
        }
        None => out.extend_from_slice(b" [no if info]"),
    }
    if let Some(frag) = record.extra.get(b"frag") {
        out.extend_from_slice(b" (frag ");
        out.extend_from_slice(frag);
        out.push(b')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = parse(
            b"Jan  6 22:31:29 lhotse /kernel: ipfw: 140 Deny ICMP:11.0 1.2.3.4 5.6.7.8 in via vx3",
        )
        .unwrap();
        assert_eq!((r.protocol, r.icmp), (Protocol::Icmp, Some((11, 0))));
        assert_eq!(r.src_port, None);
        let r = parse(b"Aug  4 10:57:26 r40e kernel: ipfw: 299 Deny TCP 1.2.3.4:49312 5.6.7.8:80 out via bge0").unwrap();
        assert_eq!(
            (r.direction, r.out_interface),
            (Some(Direction::Out), Some(&b"bge0"[..]))
        );
        let r = parse(b"Mar 1 18:49:05 TCP 45.76.87.206:58896 116.58.172.107:80 in").unwrap();
        assert_eq!((r.rule, r.action, r.host), (None, None, None));
        assert_eq!(r.dst_port, Some(80));
        assert_eq!(r.direction, Some(Direction::In));
        let r = parse(b"kernel: ipfw: 100 Unreach 3 TCP [2001:db8::1]:5678 [2001:db8::2]:80 in via em0 (frag 1234:1480@0+)").unwrap();
        assert_eq!(r.action_text, Some(&b"Unreach 3"[..]));
        assert_eq!(r.action, Some(Action::Reject));
        assert!(r.src.is_ipv6());
        assert_eq!(r.extra.get(b"frag"), Some(&b"1234:1480@0+"[..]));
        let r = parse(b"kernel: ipfw: 10 Fwd 10.0.0.1:8080 UDP 1.2.3.4:5 5.6.7.8:53 [no if info]")
            .unwrap();
        assert_eq!((r.action, r.direction), (Some(Action::Redirect), None));
        let r = parse(b"kernel: ipfw: 10 Deny P:47 1.2.3.4 5.6.7.8 in via em0").unwrap();
        assert_eq!(r.protocol, Protocol::Other(47));
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            parse(b"Mar 17 23:43:27 <security.info> FW kernel: ipfw: 9999 Deny UDP 192.168.xx.xx:5353 224.0.0.251:5353 in via em0"),
            Err(Error::Syntax { offset: 63, expected: "the source address[:port]", .. })
        ));
        assert!(matches!(
            parse(b"kernel: ipfw: 1 Deny MAC in via em0"),
            Err(Error::NotAPacket { .. })
        ));
        assert!(matches!(
            parse(b"kernel: ipfw: x Deny TCP"),
            Err(Error::Syntax { offset: 14, .. })
        ));
        assert!(matches!(
            parse(b"Mar  1 00:00:00 host sshd[1]: hello"),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(parse(b""), Err(Error::Syntax { .. })));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// The one-pass reading of `a.b.c.d:port` gives what the general reader gives.
        #[test]
        fn endpoint_fast_path_agrees(s in "[0-9.:\\[\\]a-f]{0,24}", ported: bool) {
            proptest::prop_assert_eq!(
                endpoint(s.as_bytes(), ported),
                endpoint_general(s.as_bytes(), ported)
            );
        }
        #[test]
        fn endpoint_fast_path_agrees_on_addresses(a: [u8; 4], port in 0u32..70_000, sep in "[:.]?", ported: bool) {
            let s = format!("{}.{}.{}.{}{sep}{port}", a[0], a[1], a[2], a[3]);
            proptest::prop_assert_eq!(
                endpoint(s.as_bytes(), ported),
                endpoint_general(s.as_bytes(), ported)
            );
        }
    }
}
