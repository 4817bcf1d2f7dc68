//! pf logs as tcpdump prints them from `pflog0` (or `/var/log/pflog`), one packet per line.
//!
//! Two tcpdump dialects are read:
//! - OpenBSD's tcpdump (`-e`, `-ttt`): `Mar 30 15:47:05.522341 rule 4/(match) block in on lo0:
//!   127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:1381529123(0) win 16384 <mss 33184,...> (DF)`;
//!   UDP `...: udp 73`, ICMP `a > b: icmp: echo reply`;
//! - upstream tcpdump 4.x (FreeBSD `tcpdump -eni pflog0`): `rule 1/0(match): block in on vtnet0:
//!   1.2.3.4.41854 > 5.6.7.8.6379: Flags [S], seq 1, win 29200, options [mss 1460,...], length 0`;
//!   UDP `UDP, length 3`, ICMP `ICMP echo request, id 1, seq 1, length 64`.
//!
//! The line may start with the packet time (`Mar 30 15:47:05.522341`, `01:48:13.748353`,
//! `2023-08-17 01:48:13.748353`, or `-tt` epoch seconds `1692236893.748353`) and may be
//! wrapped in a syslog header (`Mar 30 15:33:26 enigma pf: Mar 30 15:32:33.483712 rule ...`).
//! Addresses are `addr.port`; IPv6 works (`2001:db8::1.443`).
//!
//! ```
//! use halfopen_fwlog::formats::pf;
//! use halfopen_fwlog::{Action, Direction, Protocol, TcpFlags};
//!
//! let line = b"01:48:13.748353 rule 1/0(match): block in on vtnet0: 121.224.77.46.41854 > 46.38.233.77.6379: Flags [S], seq 1929621329, win 29200, options [mss 1460,sackOK,TS val 840989709 ecr 0,nop,wscale 7], length 0";
//! let rec = pf::parse(line).unwrap();
//! assert_eq!(rec.rule, Some(&b"1/0"[..]));
//! assert_eq!(rec.action, Some(Action::Deny));
//! assert_eq!(rec.direction, Some(Direction::In));
//! assert_eq!(rec.in_interface, Some(&b"vtnet0"[..]));
//! assert_eq!(rec.protocol, Protocol::Tcp);
//! assert_eq!((rec.src_port, rec.dst_port), (Some(41854), Some(6379)));
//! assert_eq!(rec.tcp_flags, Some(TcpFlags::SYN));
//! assert_eq!(rec.seq, Some(1929621329));
//! assert_eq!(rec.window, Some(29200));
//! assert_eq!(rec.extra.get(b"time"), Some(&b"01:48:13.748353"[..]));
//! ```

use std::net::IpAddr;

use crate::formats::filterlog::{push_header_extras, render_header};
use crate::scan::{dec, frac_nanos, time_of_day};
use crate::syslog;
use crate::time::{In, NomError, Timestamp, TimestampKind};
use crate::{Action, Direction, Error, Extra, Format, Protocol, Record, Result, TcpFlags};
use nom::Parser;
use nom::bytes::complete::{tag, take_till, take_until};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, opt};
use nom::sequence::{preceded, terminated};

/// Longest line accepted.
pub const MAX_LINE_LEN: usize = 8192;

/// `extra["dialect"]` for OpenBSD's tcpdump.
pub const DIALECT_OPENBSD: &[u8] = b"openbsd";
/// `extra["dialect"]` for upstream tcpdump 4.x (FreeBSD, Linux).
pub const DIALECT_TCPDUMP: &[u8] = b"tcpdump";

/// Upstream tcpdump's flag letters in its order (`.` is ACK).
const FLAGS_TCPDUMP: [(TcpFlags, u8); 8] = [
    (TcpFlags::FIN, b'F'),
    (TcpFlags::SYN, b'S'),
    (TcpFlags::RST, b'R'),
    (TcpFlags::PSH, b'P'),
    (TcpFlags::ACK, b'.'),
    (TcpFlags::URG, b'U'),
    (TcpFlags::ECE, b'E'),
    (TcpFlags::CWR, b'W'),
];

/// OpenBSD tcpdump's flag letters (ACK and URG show as `ack N` / `urg N`; `.` = none of these).
const FLAGS_OPENBSD: [(TcpFlags, u8); 6] = [
    (TcpFlags::SYN, b'S'),
    (TcpFlags::FIN, b'F'),
    (TcpFlags::RST, b'R'),
    (TcpFlags::PSH, b'P'),
    (TcpFlags::CWR, b'W'),
    (TcpFlags::ECE, b'E'),
];

/// A decimal number that fits `T` (checked, no sign).
fn ip(v: &[u8]) -> Option<IpAddr> {
    crate::scan::ip(v)
}

/// `addr` or `addr.port` (IPv4 or IPv6).
fn endpoint(v: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    if let Some(a) = ip(v) {
        return Some((a, None));
    }
    let i = memchr::memrchr(b'.', v)?;
    Some((ip(v.get(..i)?)?, Some(dec(v.get(i + 1..)?)?)))
}

fn offset_in(line: &[u8], sub: &[u8]) -> usize {
    (sub.as_ptr() as usize).saturating_sub(line.as_ptr() as usize)
}

/// The packet time before `rule`: a full stamp, or the time of day only (`None` + true).
enum PacketTime<'a> {
    Stamp(Timestamp<'a>),
    TimeOfDay,
}

fn packet_time(p: &[u8]) -> Option<PacketTime<'_>> {
    if p.first().is_some_and(u8::is_ascii_alphabetic) {
        let (ts, used) = crate::time::parse_rfc3164(p).ok()?;
        return (used == p.len()).then_some(PacketTime::Stamp(ts));
    }
    if time_of_day(p).is_some() {
        return Some(PacketTime::TimeOfDay);
    }
    if p.get(4) == Some(&b'-') && p.get(10) == Some(&b' ') {
        // -tttt: yyyy-mm-dd hh:mm:ss.ffffff
        let year: i32 = dec(p.get(..4)?)?;
        let month: u8 = dec(p.get(5..7)?)?;
        let day: u8 = dec(p.get(8..10)?)?;
        if p.get(7) != Some(&b'-') || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return None;
        }
        let (hour, minute, second, nanos) = time_of_day(p.get(11..)?)?;
        return Some(PacketTime::Stamp(Timestamp {
            raw: p,
            kind: TimestampKind::Native,
            year: Some(year),
            month,
            day,
            hour,
            minute,
            second,
            nanos,
            utc_offset: None,
        }));
    }
    // -tt: epoch seconds with a fraction
    let dot = memchr::memchr(b'.', p)?;
    let secs: i64 = dec(p.get(..dot)?)?;
    let nanos = frac_nanos(p.get(dot + 1..)?)?;
    let dt = chrono::DateTime::from_timestamp(secs, nanos)?;
    use chrono::{Datelike as _, Timelike as _};
    Some(PacketTime::Stamp(Timestamp {
        raw: p,
        kind: TimestampKind::Native,
        year: Some(dt.year()),
        month: u8::try_from(dt.month()).ok()?,
        day: u8::try_from(dt.day()).ok()?,
        hour: u8::try_from(dt.hour()).ok()?,
        minute: u8::try_from(dt.minute()).ok()?,
        second: u8::try_from(dt.second()).ok()?,
        nanos,
        utc_offset: Some(0),
    }))
}

/// Position of the `rule ` word that starts the pflog header.
fn find_rule(line: &[u8]) -> Option<usize> {
    if line.starts_with(b"rule ") {
        return Some(0);
    }
    memchr::memmem::find(line, b" rule ").map(|i| i + 1)
}

struct Ctx<'a> {
    line: &'a [u8],
    extra: Extra<'a>,
}

impl<'a> Ctx<'a> {
    fn push(&mut self, k: &'a [u8], v: &'a [u8]) -> Result<()> {
        if self.extra.push(k, v) {
            Ok(())
        } else {
            Err(Error::TooManyFields {
                line: 0,
                offset: offset_in(self.line, v),
                limit: crate::record::MAX_EXTRA_FIELDS,
            })
        }
    }
    fn err(&self, at: &[u8], expected: &'static str) -> Error {
        Error::syntax(offset_in(self.line, at), expected)
    }
}

/// Splits at the first occurrence of `sep`: (before, after).
fn split_at<'a>(s: &'a [u8], sep: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let i = memchr::memmem::find(s, sep)?;
    Some((s.get(..i)?, s.get(i + sep.len()..)?))
}

/// Parses one pf/tcpdump line.
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    if line.len() > MAX_LINE_LEN {
        return Err(Error::LineTooLong {
            line: 0,
            len: line.len(),
            limit: MAX_LINE_LEN,
        });
    }
    let mut cx = Ctx {
        line,
        extra: Extra::new(),
    };
    let rule_at = find_rule(line).ok_or(Error::syntax(0, "a pflog header `rule N/M(reason)`"))?;
    let prefix = line.get(..rule_at).unwrap_or_default();
    let prefix = prefix.strip_suffix(b" ").unwrap_or(prefix);
    let mut timestamp = None;
    let mut host = None;
    if !prefix.is_empty() {
        let (ptime, wrapped) = match packet_time(prefix) {
            Some(t) => (Some((t, prefix)), false),
            None => (None, true),
        };
        let ptime = if wrapped {
            let (h, msg) = syslog::split(line)?;
            if h.tag.is_none() {
                return Err(Error::syntax(
                    0,
                    "a packet time or a syslog header before `rule`",
                ));
            }
            if line.len().saturating_sub(msg.len()) > rule_at {
                return Err(Error::syntax(
                    0,
                    "a packet time or a syslog header before `rule`",
                ));
            }
            host = h.host;
            push_header_extras(line, &h, &mut cx.extra).ok_or(Error::TooManyFields {
                line: 0,
                offset: 0,
                limit: crate::record::MAX_EXTRA_FIELDS,
            })?;
            if let Some(ts) = h.timestamp {
                cx.push(b"syslog_time", ts.raw)?;
            }
            let inner = msg
                .get(..rule_at.saturating_sub(line.len().saturating_sub(msg.len())))
                .unwrap_or_default();
            let inner = inner.strip_suffix(b" ").unwrap_or(inner);
            if inner.is_empty() {
                None
            } else {
                Some((
                    packet_time(inner).ok_or(cx.err(inner, "a packet time before `rule`"))?,
                    inner,
                ))
            }
        } else {
            ptime
        };
        match ptime {
            Some((PacketTime::Stamp(ts), _)) => timestamp = Some(ts),
            Some((PacketTime::TimeOfDay, raw)) => cx.push(b"time", raw)?,
            None => {}
        }
    }
    // rule N/M(reason)[:] action dir on iface:
    let rest = line.get(rule_at.saturating_add(5)..).unwrap_or_default();
    let (rest, rule) = terminated(take_till(|c| c == b'('), char('('))
        .parse(rest)
        .map_err(|_: nom::Err<NomError<'_>>| cx.err(rest, "`(` after the rule number"))?;
    if rule.is_empty() || rule.len() > 64 || rule.contains(&b' ') {
        return Err(cx.err(rule, "a rule number `N/M`"));
    }
    let (rest, reason) = terminated(take_till(|c| c == b')'), char(')'))
        .parse(rest)
        .map_err(|_: nom::Err<NomError<'_>>| cx.err(rest, "`)` closing the reason"))?;
    cx.push(b"reason", reason)?;
    let (rest, colon) = opt(char::<_, NomError<'_>>(':'))
        .parse(rest)
        .unwrap_or((rest, None));
    let dialect = if colon.is_some() {
        DIALECT_TCPDUMP
    } else {
        DIALECT_OPENBSD
    };
    let (rest, _) = char(' ')
        .parse(rest)
        .map_err(|_: nom::Err<NomError<'_>>| cx.err(rest, "a space after the reason"))?;
    // OpenBSD: `[uid 0, pid 31536] ` for rules with `log (user)`
    let rest = match tag::<_, _, NomError<'_>>(&b"[uid "[..]).parse(rest) {
        Ok((r, _)) => {
            let (r2, user) = terminated(take_until("] "), tag(&b"] "[..]))
                .parse(r)
                .map_err(|_: nom::Err<NomError<'_>>| cx.err(r, "`] ` closing [uid N, pid N]"))?;
            cx.push(b"user", user)?;
            r2
        }
        Err(_) => rest,
    };
    let (action_text, rest) = split_at(rest, b" ").ok_or(cx.err(rest, "an action"))?;
    let (dir, rest) = split_at(rest, b" ").ok_or(cx.err(rest, "a direction"))?;
    let direction = match dir {
        b"in" => Some(Direction::In),
        b"out" => Some(Direction::Out),
        _ => return Err(cx.err(dir, "a direction (in, out)")),
    };
    let rest = rest
        .strip_prefix(b"on ")
        .ok_or(cx.err(rest, "`on` and an interface"))?;
    let (iface, rest) = split_at(rest, b": ").ok_or(cx.err(rest, "an interface and `: `"))?;
    if iface.is_empty() || iface.contains(&b' ') {
        return Err(cx.err(iface, "an interface name"));
    }
    // src > dst: packet
    let (src_t, rest) = split_at(rest, b" > ").ok_or(cx.err(rest, "`src > dst:`"))?;
    let (dst_t, body) = match split_at(rest, b": ") {
        Some(v) => v,
        None => (rest.strip_suffix(b":").unwrap_or(rest), &[][..]),
    };
    let (src, src_port) = endpoint(src_t).ok_or(cx.err(src_t, "a source address[.port]"))?;
    let (dst, dst_port) = endpoint(dst_t).ok_or(cx.err(dst_t, "a destination address[.port]"))?;
    let dialect = body_dialect(body, src_port.is_some() && dst_port.is_some()).unwrap_or(dialect);
    cx.push(b"dialect", dialect)?;
    let mut rec = Record::new(Format::PfTcpdump, Protocol::Other(0), src, dst);
    rec.timestamp = timestamp;
    rec.host = host;
    rec.rule = Some(rule);
    rec.action_text = Some(action_text);
    rec.action = Some(match action_text {
        b"pass" => Action::Accept,
        b"block" => Action::Deny,
        b"match" => Action::Log,
        b"nat" | b"rdr" | b"binat" => Action::Redirect,
        _ => Action::Other,
    });
    rec.direction = direction;
    if direction == Some(Direction::Out) {
        rec.out_interface = Some(iface);
    } else {
        rec.in_interface = Some(iface);
    }
    rec.src_port = src_port;
    rec.dst_port = dst_port;
    packet(&mut cx, &mut rec, body)?;
    rec.extra = cx.extra;
    Ok(rec)
}

/// The dialect a packet description is written in, when its words tell.
fn body_dialect(body: &[u8], has_ports: bool) -> Option<&'static [u8]> {
    if body.starts_with(b"Flags [") || body.starts_with(b"UDP, ") || body.starts_with(b"ICMP") {
        return Some(DIALECT_TCPDUMP);
    }
    let n = body.iter().take_while(|&&b| b == b' ').count();
    let trimmed = body.get(n..).unwrap_or_default();
    let first = trimmed.split(|&b| b == b' ').next().unwrap_or_default();
    if trimmed.starts_with(b"udp ")
        || body.starts_with(b"icmp: ")
        || body.starts_with(b"icmp6: ")
        || (has_ports && is_openbsd_flags(first))
    {
        return Some(DIALECT_OPENBSD);
    }
    None
}

/// True for an OpenBSD TCP flags word: letters of `SFRPWE`, or `.`.
fn is_openbsd_flags(w: &[u8]) -> bool {
    w == b"." || (!w.is_empty() && w.len() <= 6 && w.iter().all(|c| b"SFRPWE".contains(c)))
}

fn packet<'a>(cx: &mut Ctx<'a>, rec: &mut Record<'a>, body: &'a [u8]) -> Result<()> {
    let trimmed = {
        let n = body.iter().take_while(|&&b| b == b' ').count();
        body.get(n..).unwrap_or_default()
    };
    let has_ports = rec.src_port.is_some() && rec.dst_port.is_some();
    if let Some(r) = body.strip_prefix(b"Flags [") {
        rec.protocol = Protocol::Tcp;
        return tcp_upstream(cx, rec, r);
    }
    let first = trimmed.split(|&b| b == b' ').next().unwrap_or_default();
    if has_ports && is_openbsd_flags(first) {
        rec.protocol = Protocol::Tcp;
        return tcp_openbsd(cx, rec, body);
    }
    if let Some(r) = body.strip_prefix(b"UDP, length ") {
        rec.protocol = Protocol::Udp;
        let (len, info) = match split_at(r, b": ") {
            Some((l, i)) => (l, Some(i)),
            None => (r, None),
        };
        if dec::<u32>(len).is_none() {
            return Err(cx.err(len, "a UDP length"));
        }
        cx.push(b"datalen", len)?;
        if let Some(i) = info {
            cx.push(b"info", i)?;
        }
        return Ok(());
    }
    if let Some(r) = trimmed.strip_prefix(b"udp ") {
        rec.protocol = Protocol::Udp;
        let (len, mut rest) = split_at(r, b" ").unwrap_or((r, &[]));
        if dec::<u32>(len).is_none() {
            return Err(cx.err(len, "a UDP length"));
        }
        cx.push(b"datalen", len)?;
        while let Some(r2) = ip_trailer(cx, rec, rest)? {
            rest = r2;
        }
        if !rest.is_empty() {
            return Err(cx.err(rest, "(DF), [tos N], (ttl N, id N, len N) or the end"));
        }
        return Ok(());
    }
    let icmp = if let Some(r) = body.strip_prefix(b"ICMP6, ") {
        Some((Protocol::Icmpv6, r))
    } else if let Some(r) = body.strip_prefix(b"ICMP ") {
        Some((Protocol::Icmp, r))
    } else if let Some(r) = body.strip_prefix(b"icmp6: ") {
        Some((Protocol::Icmpv6, r))
    } else {
        body.strip_prefix(b"icmp: ").map(|r| (Protocol::Icmp, r))
    };
    if let Some((proto, r)) = icmp {
        rec.protocol = proto;
        let v6 = proto == Protocol::Icmpv6;
        rec.icmp = if r.starts_with(b"echo request") {
            Some((if v6 { 128 } else { 8 }, 0))
        } else if r.starts_with(b"echo reply") {
            Some((if v6 { 129 } else { 0 }, 0))
        } else {
            None
        };
        cx.push(b"info", r)?;
        return Ok(());
    }
    if let Some(r) = body.strip_prefix(b"ip-proto-") {
        let (n, info) = match split_at(r, b" ") {
            Some((n, i)) => (n, Some(i)),
            None => (r, None),
        };
        rec.protocol = Protocol::from_number(dec(n).ok_or(cx.err(n, "an IP protocol number"))?);
        if let Some(i) = info {
            cx.push(b"info", i)?;
        }
        return Ok(());
    }
    if has_ports && !body.is_empty() {
        // an application decode (DNS, NTP, ...) of a UDP payload
        rec.protocol = Protocol::Udp;
        cx.push(b"info", body)?;
        return Ok(());
    }
    Err(cx.err(body, "a TCP, UDP or ICMP packet description"))
}

/// `Flags [S.], seq 1:10, ack 1, win 229, urg 0, options [...], length 9[: info]`
/// (`r` starts after `Flags [`).
fn tcp_upstream<'a>(cx: &mut Ctx<'a>, rec: &mut Record<'a>, r: &'a [u8]) -> Result<()> {
    let (letters, mut rest) = split_at(r, b"]").ok_or(cx.err(r, "`]` closing the flags"))?;
    let mut f = TcpFlags::empty();
    for &c in letters {
        f |= FLAGS_TCPDUMP
            .iter()
            .find(|(_, l)| *l == c)
            .ok_or(cx.err(letters, "TCP flags [FSRP.UEW]"))?
            .0;
    }
    rec.tcp_flags = Some(f);
    while let Some(item) = rest.strip_prefix(b", ") {
        if let Some(o) = item.strip_prefix(b"options [") {
            let (r2, opts) = option_list(']')
                .parse(o)
                .map_err(|_| cx.err(o, "`]` closing the options"))?;
            rec.tcp_options = Some(opts);
            rest = r2;
            continue;
        }
        let end = item
            .iter()
            .position(|&b| b == b',' || b == b':')
            .unwrap_or(item.len());
        let (kv, r2) = (
            item.get(..end).unwrap_or_default(),
            item.get(end..).unwrap_or_default(),
        );
        let (k, v) = split_at(kv, b" ").ok_or(cx.err(kv, "a TCP field `name value`"))?;
        match k {
            b"seq" => {
                let (s, e) = match split_at(v, b":") {
                    Some((s, e)) => (s, Some(e)),
                    None => (v, None),
                };
                rec.seq = Some(dec(s).ok_or(cx.err(s, "a sequence number"))?);
                if let Some(e) = e {
                    dec::<u32>(e).ok_or(cx.err(e, "a sequence number"))?;
                    cx.push(b"seq_end", e)?;
                }
            }
            b"ack" => rec.ack = Some(dec(v).ok_or(cx.err(v, "an acknowledgment number"))?),
            b"win" => rec.window = Some(dec(v).ok_or(cx.err(v, "a window"))?),
            b"urg" => {
                dec::<u32>(v).ok_or(cx.err(v, "an urgent pointer"))?;
                cx.push(b"urg", v)?;
            }
            b"length" => {
                dec::<u32>(v).ok_or(cx.err(v, "a payload length"))?;
                cx.push(b"datalen", v)?;
            }
            _ => return Err(cx.err(k, "seq, ack, win, urg, options or length")),
        }
        rest = r2;
    }
    if let Some(info) = rest.strip_prefix(b": ") {
        cx.push(b"info", info)?;
    } else if !rest.is_empty() {
        return Err(cx.err(rest, "`, ` and a TCP field, `: ` or the end"));
    }
    Ok(())
}

/// OpenBSD's IP words after the transport part: ` (DF)`, `[tos 0x10]`, and with `-v`
/// `(ttl 64, id 1234, len 60)`. Consumes one of them (and a following space) and returns
/// the rest, or `None` when `rest` starts with none of them.
fn ip_trailer<'a>(
    cx: &mut Ctx<'a>,
    rec: &mut Record<'a>,
    rest: &'a [u8],
) -> Result<Option<&'a [u8]>> {
    let after = |r: &'a [u8]| Some(r.strip_prefix(b" ").unwrap_or(r));
    if let Some(r) = rest.strip_prefix(b"(DF)") {
        cx.push(b"ipflags", b"DF")?;
        return Ok(after(r));
    }
    if let Some(r) = rest.strip_prefix(b"[tos ") {
        let (tos, r2) = split_at(r, b"]").ok_or(cx.err(r, "`]` closing the tos"))?;
        cx.push(b"tos", tos)?;
        return Ok(after(r2));
    }
    if let Some(r) = rest.strip_prefix(b"(ttl ") {
        let (inner, r2) = split_at(r, b")").ok_or(cx.err(r, "`)` closing (ttl, id, len)"))?;
        let parts = split_at(inner, b", id ")
            .and_then(|(ttl, r)| split_at(r, b", len ").map(|(id, len)| (ttl, id, len)));
        let Some((ttl, id, len)) = parts else {
            return Err(cx.err(inner, "(ttl N, id N, len N)"));
        };
        rec.ttl = Some(dec(ttl).ok_or(cx.err(ttl, "a TTL"))?);
        rec.ip_id = Some(dec(id).ok_or(cx.err(id, "an IP id"))?);
        rec.length = Some(dec(len).ok_or(cx.err(len, "an IP length"))?);
        return Ok(after(r2));
    }
    Ok(None)
}

/// Writes what [`ip_trailer`] reads.
fn render_ip_trailer(r: &Record<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    if r.extra.get(b"ipflags").is_some() {
        out.extend_from_slice(b" (DF)");
    }
    if let Some(t) = r.extra.get(b"tos") {
        out.extend_from_slice(b" [tos ");
        out.extend_from_slice(t);
        out.push(b']');
    }
    if let (Some(ttl), Some(id), Some(len)) = (r.ttl, r.ip_id, r.length) {
        let _ = write!(out, " (ttl {ttl}, id {id}, len {len})");
    }
}

/// OpenBSD: `S 1:1(0) ack 2 win 16384 urg 1 <mss 1460,...> (DF) [tos 0x10]`.
fn tcp_openbsd<'a>(cx: &mut Ctx<'a>, rec: &mut Record<'a>, body: &'a [u8]) -> Result<()> {
    let (letters, mut rest) = split_at(body, b" ").unwrap_or((body, &[]));
    let mut f = TcpFlags::empty();
    if letters != b"." {
        for &c in letters {
            f |= FLAGS_OPENBSD
                .iter()
                .find(|(_, l)| *l == c)
                .ok_or(cx.err(letters, "TCP flags [SFRPWE] or `.`"))?
                .0;
        }
    }
    // seq:end(len)
    if rest.first().is_some_and(u8::is_ascii_digit) {
        let (tok, r2) = split_at(rest, b" ").unwrap_or((rest, &[]));
        let (s, e) = split_at(tok, b":").ok_or(cx.err(tok, "seq:end(len)"))?;
        let (e, l) = split_at(e, b"(").ok_or(cx.err(tok, "seq:end(len)"))?;
        let l = l.strip_suffix(b")").ok_or(cx.err(tok, "seq:end(len)"))?;
        rec.seq = Some(dec(s).ok_or(cx.err(s, "a sequence number"))?);
        dec::<u32>(e).ok_or(cx.err(e, "a sequence number"))?;
        dec::<u32>(l).ok_or(cx.err(l, "a payload length"))?;
        cx.push(b"seq_end", e)?;
        cx.push(b"datalen", l)?;
        rest = r2;
    }
    loop {
        if let Some(r) = rest.strip_prefix(b"<") {
            let (r2, opts) = option_list('>')
                .parse(r)
                .map_err(|_| cx.err(r, "`>` closing the options"))?;
            rec.tcp_options = Some(opts);
            rest = r2.strip_prefix(b" ").unwrap_or(r2);
            continue;
        }
        if let Some(r) = ip_trailer(cx, rec, rest)? {
            rest = r;
            continue;
        }
        let Some((k, r)) = split_at(rest, b" ") else {
            break;
        };
        let (v, r2) = split_at(r, b" ").unwrap_or((r, &[]));
        match k {
            b"ack" => {
                rec.ack = Some(dec(v).ok_or(cx.err(v, "an acknowledgment number"))?);
                f |= TcpFlags::ACK;
            }
            b"win" => rec.window = Some(dec(v).ok_or(cx.err(v, "a window"))?),
            b"urg" => {
                dec::<u32>(v).ok_or(cx.err(v, "an urgent pointer"))?;
                cx.push(b"urg", v)?;
                f |= TcpFlags::URG;
            }
            _ => break,
        }
        rest = r2;
    }
    rec.tcp_flags = Some(f);
    if !rest.is_empty() {
        cx.push(b"info", rest)?;
    }
    Ok(())
}

/// The MSS announced in tcpdump's text TCP options (`mss 1460,sackOK,...`, as kept in
/// [`Record::tcp_options`] for pf lines), if any.
///
/// ```
/// use halfopen_fwlog::formats::pf::option_mss;
/// assert_eq!(option_mss(b"mss 1460,sackOK,TS val 840989709 ecr 0,nop,wscale 7"), Some(1460));
/// assert_eq!(option_mss(b"nop,nop,timestamp 3960674784 2860123562"), None);
/// ```
pub fn option_mss(options: &[u8]) -> Option<u16> {
    options.split(|&b| b == b',').find_map(|o| {
        let (_, d) = all_consuming(preceded(tag::<_, _, NomError<'_>>(&b"mss "[..]), digit1))
            .parse(o)
            .ok()?;
        dec::<u16>(d)
    })
}

/// The text of a tcpdump TCP option list up to its closing bracket (`close` is `]` for
/// upstream `options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]`, `>` for OpenBSD
/// `<mss 1460,nop,nop,sackOK>`), the bracket consumed.
fn option_list<'a>(close: char) -> impl Parser<In<'a>, Output = &'a [u8], Error = NomError<'a>> {
    terminated(take_till(move |c: u8| char::from(c) == close), char(close))
}

/// Renders a record as a pf/tcpdump line in the dialect it was parsed from
/// (`extra["dialect"]`; upstream tcpdump when absent).
pub fn render(r: &Record<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let ex = &r.extra;
    render_header(r, ex.get(b"syslog_time"), out);
    if let Some(ts) = &r.timestamp {
        out.extend_from_slice(ts.raw);
        out.push(b' ');
    } else if let Some(t) = ex.get(b"time") {
        out.extend_from_slice(t);
        out.push(b' ');
    }
    let openbsd = ex.get(b"dialect") == Some(DIALECT_OPENBSD);
    out.extend_from_slice(b"rule ");
    out.extend_from_slice(r.rule.unwrap_or(b"0/0"));
    out.push(b'(');
    out.extend_from_slice(ex.get(b"reason").unwrap_or(b"match"));
    out.extend_from_slice(if openbsd { b") " } else { b"): " });
    if let Some(u) = ex.get(b"user") {
        out.extend_from_slice(b"[uid ");
        out.extend_from_slice(u);
        out.extend_from_slice(b"] ");
    }
    out.extend_from_slice(r.action_text.unwrap_or(match r.action {
        Some(Action::Accept) => b"pass",
        _ => b"block",
    }));
    out.extend_from_slice(match r.direction {
        Some(Direction::Out) => b" out on ",
        _ => b" in on ",
    });
    out.extend_from_slice(r.in_interface.or(r.out_interface).unwrap_or(b"pflog0"));
    let ep = |out: &mut Vec<u8>, a: IpAddr, p: Option<u16>| {
        let _ = write!(out, "{a}");
        if let Some(p) = p {
            let _ = write!(out, ".{p}");
        }
    };
    out.extend_from_slice(b": ");
    ep(out, r.src, r.src_port);
    out.extend_from_slice(b" > ");
    ep(out, r.dst, r.dst_port);
    out.push(b':');
    let info = ex.get(b"info");
    let field = |out: &mut Vec<u8>, sep: &[u8], k: &[u8], v: Option<&[u8]>| {
        if let Some(v) = v {
            out.extend_from_slice(sep);
            out.extend_from_slice(k);
            out.extend_from_slice(v);
        }
    };
    match r.protocol {
        Protocol::Tcp if openbsd => {
            out.push(b' ');
            let f = r.tcp_flags.unwrap_or_default();
            let start = out.len();
            for (bit, l) in FLAGS_OPENBSD {
                if f.contains(bit) {
                    out.push(l);
                }
            }
            if out.len() == start {
                out.push(b'.');
            }
            if let Some(s) = r.seq {
                let _ = write!(out, " {s}:");
                out.extend_from_slice(ex.get(b"seq_end").unwrap_or(b"0"));
                out.push(b'(');
                out.extend_from_slice(ex.get(b"datalen").unwrap_or(b"0"));
                out.push(b')');
            }
            if let Some(a) = r.ack {
                let _ = write!(out, " ack {a}");
            }
            if let Some(w) = r.window {
                let _ = write!(out, " win {w}");
            }
            field(out, b" ", b"urg ", ex.get(b"urg"));
            if let Some(o) = r.tcp_options {
                out.extend_from_slice(b" <");
                out.extend_from_slice(o);
                out.push(b'>');
            }
            render_ip_trailer(r, out);
            field(out, b" ", b"", info);
        }
        Protocol::Tcp => {
            out.extend_from_slice(b" Flags [");
            let f = r.tcp_flags.unwrap_or_default();
            for (bit, l) in FLAGS_TCPDUMP {
                if f.contains(bit) {
                    out.push(l);
                }
            }
            out.push(b']');
            if let Some(s) = r.seq {
                let _ = write!(out, ", seq {s}");
                field(out, b":", b"", ex.get(b"seq_end"));
            }
            if let Some(a) = r.ack {
                let _ = write!(out, ", ack {a}");
            }
            if let Some(w) = r.window {
                let _ = write!(out, ", win {w}");
            }
            field(out, b", ", b"urg ", ex.get(b"urg"));
            if let Some(o) = r.tcp_options {
                out.extend_from_slice(b", options [");
                out.extend_from_slice(o);
                out.push(b']');
            }
            field(out, b", ", b"length ", ex.get(b"datalen"));
            field(out, b": ", b"", info);
        }
        Protocol::Udp => match (ex.get(b"datalen"), openbsd) {
            (Some(l), true) => {
                field(out, b"  ", b"udp ", Some(l));
                render_ip_trailer(r, out);
            }
            (Some(l), false) => {
                field(out, b" ", b"UDP, length ", Some(l));
                field(out, b": ", b"", info);
            }
            (None, _) => field(out, b" ", b"", info),
        },
        Protocol::Icmp | Protocol::Icmpv6 => {
            out.extend_from_slice(match (r.protocol == Protocol::Icmpv6, openbsd) {
                (false, true) => b" icmp: ",
                (true, true) => b" icmp6: ",
                (false, false) => b" ICMP ",
                (true, false) => b" ICMP6, ",
            });
            out.extend_from_slice(info.unwrap_or_default());
        }
        Protocol::Other(n) => {
            let _ = write!(out, " ip-proto-{n}");
            field(out, b" ", b"", info);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_at(line: &[u8]) -> (usize, &'static str) {
        match parse(line) {
            Err(Error::Syntax {
                offset, expected, ..
            }) => (offset, expected),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rule_header_errors() {
        assert_eq!(err_at(b"rule 1/0 block"), (5, "`(` after the rule number"));
        assert_eq!(err_at(b"rule 1/0(match"), (9, "`)` closing the reason"));
        assert_eq!(err_at(b"rule (match): x"), (5, "a rule number `N/M`"));
        assert_eq!(
            err_at(b"rule 1/0(match):x"),
            (16, "a space after the reason")
        );
        assert_eq!(
            err_at(b"rule 1/0(match) [uid 0, pid 1 block"),
            (21, "`] ` closing [uid N, pid N]")
        );
    }

    #[test]
    fn option_lists() {
        assert_eq!(
            option_list(']').parse(&b"mss 1460,nop], length 0"[..]),
            Ok((&b", length 0"[..], &b"mss 1460,nop"[..]))
        );
        assert!(option_list('>').parse(&b"mss 1460,nop"[..]).is_err());
        let l = b"01:48:13.748353 rule 1/0(match): block in on vtnet0: 1.2.3.4.41854 > 5.6.7.8.6379: Flags [S], seq 1, win 29200, options [mss 1460,sackOK";
        assert_eq!(err_at(l), (121, "`]` closing the options"));
        assert_eq!(option_mss(b"nop,mss 536"), Some(536));
        assert_eq!(option_mss(b"mss x,mss 99999,mss 12"), Some(12));
    }
}
