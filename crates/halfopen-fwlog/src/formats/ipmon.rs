//! IPFilter `ipmon` packet log lines.
//!
//! `dd/mm/yyyy hh:mm:ss.usec [Nx] iface @group:rule action src[,port] -> dst[,port] PR proto
//! len hlen tlen [-flags] [icmp type/code] [K-S] [IN|OUT] [words...]`, and the Solaris syslog
//! form `[host ]ipmon[pid]: [ID 702911 local0.warning] hh:mm:ss.usec ...` (time of day only;
//! the date comes from the syslog header, when there is one).
//! `NAT:` and `STATE:` records are valid ipmon output but not packets:
//! [`Error::NotAPacket`].
//!
//! ```
//! use halfopen_fwlog::formats::ipmon;
//! use halfopen_fwlog::{Action, Direction, Protocol, TcpFlags};
//!
//! let line = b"28/06/2020 18:57:52.179848 rge0 @0:12 b 192.168.1.100,40702 -> 77.238.185.51,993 PR tcp len 20 60 -S OUT";
//! let rec = ipmon::parse(line).unwrap();
//! assert_eq!(rec.action, Some(Action::Deny));
//! assert_eq!(rec.rule, Some(&b"0:12"[..]));
//! assert_eq!(rec.protocol, Protocol::Tcp);
//! assert_eq!((rec.src_port, rec.dst_port), (Some(40702), Some(993)));
//! assert_eq!(rec.tcp_flags, Some(TcpFlags::SYN));
//! assert_eq!(rec.length, Some(60));
//! assert_eq!(rec.direction, Some(Direction::Out));
//! assert_eq!(rec.out_interface, Some(&b"rge0"[..]));
//! assert_eq!(rec.timestamp.unwrap().year, Some(2020));
//! ```

use std::net::IpAddr;

use crate::formats::filterlog::{push_header_extras, render_header};
use crate::scan::{dec, time_of_day};
use crate::syslog;
use crate::time::{Timestamp, TimestampKind};
use crate::{Action, Direction, Error, Extra, Format, Protocol, Record, Result, TcpFlags};

/// Longest line accepted.
pub const MAX_LINE_LEN: usize = 4096;

/// ipmon's TCP flag letters, in the order it writes them (`-AS`, `-AF`, `-AP`).
const FLAG_LETTERS: [(TcpFlags, u8); 8] = [
    (TcpFlags::ACK, b'A'),
    (TcpFlags::RST, b'R'),
    (TcpFlags::SYN, b'S'),
    (TcpFlags::FIN, b'F'),
    (TcpFlags::URG, b'U'),
    (TcpFlags::PSH, b'P'),
    (TcpFlags::ECE, b'E'),
    (TcpFlags::CWR, b'C'),
];

/// Space-separated tokens (runs of spaces are one separator) with their offsets.
struct Tokens<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn next(&mut self) -> Option<(usize, &'a [u8])> {
        while self.s.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        let start = self.pos;
        while self.s.get(self.pos).is_some_and(|&b| b != b' ') {
            self.pos += 1;
        }
        (self.pos > start).then(|| (start, self.s.get(start..self.pos).unwrap_or_default()))
    }

    fn expect(&mut self, what: &'static str) -> Result<(usize, &'a [u8])> {
        let end = self.s.len();
        self.next().ok_or(Error::syntax(end, what))
    }
}

/// A decimal number that fits `T` (checked, no sign).
fn ip(v: &[u8]) -> Option<IpAddr> {
    crate::scan::ip(v)
}

/// `dd/mm/yyyy` at the start of the line.
fn native_date(d: &[u8]) -> Option<(u8, u8, i32)> {
    if d.len() != 10 || d.get(2) != Some(&b'/') || d.get(5) != Some(&b'/') {
        return None;
    }
    let day: u8 = dec(d.get(0..2)?)?;
    let month: u8 = dec(d.get(3..5)?)?;
    let year: i32 = dec(d.get(6..10)?)?;
    ((1..=31).contains(&day) && (1..=12).contains(&month)).then_some((day, month, year))
}

/// `addr[,port]`.
fn endpoint(v: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    match memchr::memrchr(b',', v) {
        Some(i) => Some((ip(v.get(..i)?)?, Some(dec(v.get(i + 1..)?)?))),
        None => Some((ip(v)?, None)),
    }
}

fn protocol(name: &[u8]) -> Option<Protocol> {
    Some(match name {
        b"tcp" | b"TCP" => Protocol::Tcp,
        b"udp" | b"UDP" => Protocol::Udp,
        b"icmp" | b"ICMP" => Protocol::Icmp,
        b"ipv6-icmp" | b"icmpv6" | b"icmp6" => Protocol::Icmpv6,
        b"ip" => Protocol::Other(0),
        b"igmp" => Protocol::Other(2),
        b"gre" => Protocol::Other(47),
        b"esp" => Protocol::Other(50),
        b"ah" => Protocol::Other(51),
        _ => Protocol::from_number(dec(name)?),
    })
}

/// Parses one ipmon line.
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    if line.len() > MAX_LINE_LEN {
        return Err(Error::LineTooLong {
            line: 0,
            len: line.len(),
            limit: MAX_LINE_LEN,
        });
    }
    let mut extra = Extra::new();
    let full = |off: usize| Error::TooManyFields {
        line: 0,
        offset: off,
        limit: crate::record::MAX_EXTRA_FIELDS,
    };
    let mut toks;
    let timestamp;
    let mut host = None;
    if let Some((day, month, year)) = line.get(..10).and_then(native_date) {
        toks = Tokens { s: line, pos: 10 };
        let (toff, t) = toks.expect("a time hh:mm:ss.ffffff")?;
        let (hour, minute, second, nanos) =
            time_of_day(t).ok_or(Error::syntax(toff, "a time hh:mm:ss.ffffff"))?;
        timestamp = Some(Timestamp {
            raw: line.get(..toff.saturating_add(t.len())).unwrap_or(line),
            kind: TimestampKind::Native,
            year: Some(year),
            month,
            day,
            hour,
            minute,
            second,
            nanos,
            utc_offset: None,
        });
    } else {
        let (h, msg) = syslog::split(line)?;
        if h.tag.is_none() && h.timestamp.is_none() {
            return Err(Error::syntax(
                0,
                "a dd/mm/yyyy date or a syslog header with an ipmon tag",
            ));
        }
        timestamp = h.timestamp;
        host = h.host;
        push_header_extras(line, &h, &mut extra).ok_or(full(0))?;
        let mut pos = line.len().saturating_sub(msg.len());
        if msg.starts_with(b"[ID ") {
            let close = memchr::memchr(b']', msg)
                .ok_or(Error::syntax(pos, "`]` closing the Solaris message id"))?;
            let id = msg.get(4..close).unwrap_or_default();
            extra.push(b"id", id).then_some(()).ok_or(full(pos))?;
            pos = pos.saturating_add(close).saturating_add(1);
        }
        toks = Tokens { s: line, pos };
        let (toff, t) = toks.expect("a time hh:mm:ss.ffffff")?;
        time_of_day(t).ok_or(Error::syntax(toff, "a time hh:mm:ss.ffffff"))?;
        extra.push(b"time", t).then_some(()).ok_or(full(toff))?;
    }
    // [Nx] iface  |  @N NAT:...  |  STATE:...
    let (mut off, mut tok) = toks.expect("an interface")?;
    if tok.starts_with(b"STATE:") {
        return Err(Error::NotAPacket {
            line: 0,
            what: "state record",
        });
    }
    if tok.starts_with(b"NAT:") {
        return Err(Error::NotAPacket {
            line: 0,
            what: "NAT record",
        });
    }
    if let Some(n) = tok.strip_suffix(b"x").filter(|n| dec::<u32>(n).is_some()) {
        extra.push(b"repeat", n).then_some(()).ok_or(full(off))?;
        (off, tok) = toks.expect("an interface")?;
    }
    if tok.starts_with(b"@") {
        // `@1 NAT:MAP ...`: a NAT record has no interface
        let next = toks.next().map(|(_, t)| t).unwrap_or_default();
        if next.starts_with(b"NAT:") {
            return Err(Error::NotAPacket {
                line: 0,
                what: "NAT record",
            });
        }
        return Err(Error::syntax(off, "an interface before @group:rule"));
    }
    let iface = tok;
    let (roff, r) = toks.expect("@group:rule")?;
    let rule_tok = r
        .strip_prefix(b"@")
        .ok_or(Error::syntax(roff, "@group:rule"))?;
    let (aoff, action_text) = toks.expect("an action (p, b, L, ...)")?;
    if action_text.len() > 4 {
        return Err(Error::syntax(aoff, "an action (p, b, L, ...)"));
    }
    let action = if action_text.contains(&b'p') {
        Action::Accept
    } else if action_text.contains(&b'b') {
        Action::Deny
    } else if action_text.contains(&b'L') {
        Action::Log
    } else {
        Action::Other
    };
    let (soff, s) = toks.expect("a source address[,port]")?;
    let (src, src_port) = endpoint(s).ok_or(Error::syntax(soff, "a source address[,port]"))?;
    let (xoff, arrow) = toks.expect("`->`")?;
    if arrow != b"->" {
        return Err(Error::syntax(xoff, "`->`"));
    }
    let (doff, d) = toks.expect("a destination address[,port]")?;
    let (dst, dst_port) = endpoint(d).ok_or(Error::syntax(doff, "a destination address[,port]"))?;
    let (poff, pr) = toks.expect("`PR`")?;
    if pr != b"PR" {
        return Err(Error::syntax(poff, "`PR`"));
    }
    let (noff, name) = toks.expect("a protocol name or number")?;
    let proto = protocol(name).ok_or(Error::syntax(noff, "a protocol name or number"))?;
    extra.push(b"proto", name).then_some(()).ok_or(full(noff))?;
    let mut rec = Record::new(Format::Ipmon, proto, src, dst);
    rec.timestamp = timestamp;
    rec.host = host;
    rec.src_port = src_port;
    rec.dst_port = dst_port;
    rec.action = Some(action);
    rec.action_text = Some(action_text);
    rec.rule = Some(rule_tok);
    let (loff, len) = toks.expect("`len`")?;
    if len != b"len" {
        return Err(Error::syntax(loff, "`len`"));
    }
    let (hoff, hl) = toks.expect("a header length")?;
    if dec::<u16>(hl).is_none() {
        return Err(Error::syntax(hoff, "a header length"));
    }
    extra.push(b"hlen", hl).then_some(()).ok_or(full(hoff))?;
    let (toff, tl) = toks.expect("a packet length")?;
    let tl_digits = tl
        .strip_prefix(b"(")
        .and_then(|t| t.strip_suffix(b")"))
        .unwrap_or(tl);
    rec.length = Some(dec(tl_digits).ok_or(Error::syntax(toff, "a packet length"))?);
    rec.extra = extra;
    while let Some((off, t)) = toks.next() {
        let ok = match t {
            b"IN" => {
                rec.direction = Some(Direction::In);
                true
            }
            b"OUT" => {
                rec.direction = Some(Direction::Out);
                true
            }
            b"icmp" if rec.icmp.is_none() => {
                let (coff, tc) = toks.expect("an ICMP type/code")?;
                let (ty, code) = tc
                    .iter()
                    .position(|&b| b == b'/')
                    .and_then(|i| Some((dec(tc.get(..i)?)?, dec(tc.get(i + 1..)?)?)))
                    .ok_or(Error::syntax(coff, "an ICMP type/code"))?;
                rec.icmp = Some((ty, code));
                true
            }
            _ if t.starts_with(b"-")
                && rec.tcp_flags.is_none()
                && rec.protocol == Protocol::Tcp =>
            {
                let mut f = TcpFlags::empty();
                for &c in t.get(1..).unwrap_or_default() {
                    f |= FLAG_LETTERS
                        .iter()
                        .find(|(_, l)| *l == c)
                        .ok_or(Error::syntax(off, "TCP flags -[ARSFUPEC]"))?
                        .0;
                }
                rec.tcp_flags = Some(f);
                true
            }
            _ if t.starts_with(b"K-") => rec.extra.push(b"keep", t),
            _ => rec.extra.push(b"", t),
        };
        if !ok {
            return Err(full(off));
        }
    }
    if rec.direction == Some(Direction::Out) {
        rec.out_interface = Some(iface);
    } else {
        rec.in_interface = Some(iface);
    }
    Ok(rec)
}

/// Renders a record as an ipmon line (native `dd/mm/yyyy` form, or the Solaris syslog form
/// when the record came from one).
pub fn render(r: &Record<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    let ex = &r.extra;
    if let Some(time) = ex.get(b"time") {
        render_header(r, r.timestamp.as_ref().map(|t| t.raw), out);
        if let Some(id) = ex.get(b"id") {
            out.extend_from_slice(b"[ID ");
            out.extend_from_slice(id);
            out.extend_from_slice(b"] ");
        }
        out.extend_from_slice(time);
    } else if let Some(ts) = &r.timestamp {
        let _ = write!(
            out,
            "{:02}/{:02}/{:04} {:02}:{:02}:{:02}.{:06}",
            ts.day,
            ts.month,
            ts.year.unwrap_or(1970),
            ts.hour,
            ts.minute,
            ts.second,
            ts.nanos / 1000
        );
    } else {
        out.extend_from_slice(b"01/01/1970 00:00:00.000000");
    }
    out.push(b' ');
    if let Some(n) = ex.get(b"repeat") {
        out.extend_from_slice(n);
        out.extend_from_slice(b"x ");
    }
    out.extend_from_slice(r.in_interface.or(r.out_interface).unwrap_or(b"-"));
    out.extend_from_slice(b" @");
    out.extend_from_slice(r.rule.unwrap_or(b"0:0"));
    out.push(b' ');
    out.extend_from_slice(r.action_text.unwrap_or(match r.action {
        Some(Action::Accept) => b"p",
        Some(Action::Deny | Action::Reject) => b"b",
        _ => b"L",
    }));
    let ep = |out: &mut Vec<u8>, a: IpAddr, p: Option<u16>| {
        let _ = write!(out, " {a}");
        if let Some(p) = p {
            let _ = write!(out, ",{p}");
        }
    };
    ep(out, r.src, r.src_port);
    out.extend_from_slice(b" ->");
    ep(out, r.dst, r.dst_port);
    out.extend_from_slice(b" PR ");
    match ex.get(b"proto") {
        Some(p) => out.extend_from_slice(p),
        None => {
            let _ = write!(out, "{}", r.protocol.number());
        }
    }
    out.extend_from_slice(b" len ");
    out.extend_from_slice(ex.get(b"hlen").unwrap_or(b"20"));
    let len = r.length.unwrap_or(0);
    if r.src_port.is_some() || matches!(r.protocol, Protocol::Tcp | Protocol::Udp | Protocol::Icmp)
    {
        let _ = write!(out, " {len}");
    } else {
        let _ = write!(out, " ({len})");
    }
    if let Some(f) = r.tcp_flags {
        out.extend_from_slice(b" -");
        for (bit, letter) in FLAG_LETTERS {
            if f.contains(bit) {
                out.push(letter);
            }
        }
    }
    if let Some((t, c)) = r.icmp {
        let _ = write!(out, " icmp {t}/{c}");
    }
    if let Some(k) = ex.get(b"keep") {
        out.push(b' ');
        out.extend_from_slice(k);
    }
    match r.direction {
        Some(Direction::In) => out.extend_from_slice(b" IN"),
        Some(Direction::Out) => out.extend_from_slice(b" OUT"),
        _ => {}
    }
    for (k, v) in ex.iter() {
        if k.is_empty() {
            out.push(b' ');
            out.extend_from_slice(v);
        }
    }
}
