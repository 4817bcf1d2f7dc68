//! pfSense / OPNsense `filterlog` CSV, with or without its syslog header.
//!
//! The body is the comma-separated layout of pfSense's `filterlog` (also OPNsense's):
//!
//! `rule,subrule,anchor,tracker,interface,reason,action,direction,ipversion,` then
//! - IPv4: `tos,ecn,ttl,id,offset,flags,protoid,protoname,length,src,dst,`
//! - IPv6: `class,flowlabel,hoplimit,protoname,protoid,length,src,dst,`
//!
//! then, by protocol:
//! - TCP: `srcport,dstport,datalen,tcpflags,seq[:seq_end],ack,window,urg,options`
//! - UDP: `srcport,dstport,datalen`
//! - ICMP: `type,` then type-specific fields (`request,id,seq`, `unreachport,dstip,proto,port`, ...)
//! - anything else (IGMP, ICMPv6, CARP, fragments): `datalength=N` or the raw fields.
//!
//! ```
//! use halfopen_fwlog::formats::filterlog;
//! use halfopen_fwlog::{Action, Direction, Protocol, TcpFlags};
//!
//! let line = b"<134>1 2021-07-03T19:10:14.578288-05:00 pfSense.example.com filterlog 72237 - - 146,,,1535324496,igb1.12,match,block,in,4,0x0,,63,32989,0,DF,6,tcp,60,10.170.12.50,1.1.1.1,49652,853,0,S,1818117648,,64240,,mss;sackOK;TS;nop;wscale";
//! let rec = filterlog::parse(line).unwrap();
//! assert_eq!(rec.action, Some(Action::Deny));
//! assert_eq!(rec.direction, Some(Direction::In));
//! assert_eq!(rec.in_interface, Some(&b"igb1.12"[..]));
//! assert_eq!(rec.protocol, Protocol::Tcp);
//! assert_eq!(rec.dst_port, Some(853));
//! assert_eq!(rec.tcp_flags, Some(TcpFlags::SYN));
//! assert_eq!(rec.seq, Some(1818117648));
//! assert_eq!(rec.host, Some(&b"pfSense.example.com"[..]));
//! assert_eq!(rec.extra.get(b"tracker"), Some(&b"1535324496"[..]));
//! ```

use std::net::IpAddr;

use crate::scan::dec;
use crate::syslog::{self, SyslogHeader};
use crate::{Action, Direction, Error, Extra, Format, Protocol, Record, Result, TcpFlags};

/// Longest line accepted.
pub const MAX_LINE_LEN: usize = 8192;
/// Most comma-separated fields in a body.
pub const MAX_FIELDS: usize = 64;

/// Parses one `filterlog` line (syslog header optional).
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    if line.len() > MAX_LINE_LEN {
        return Err(Error::LineTooLong {
            line: 0,
            len: line.len(),
            limit: MAX_LINE_LEN,
        });
    }
    let (header, body) = if starts_like_csv(line) {
        (None, line)
    } else {
        let (h, msg) = syslog::split(line)?;
        (Some(h), msg)
    };
    let (header, body) = match header {
        Some(h) if h.host.is_some_and(starts_like_csv) => csv_after_timestamp(h),
        other => (other, body),
    };
    let base = line.len().saturating_sub(body.len());
    let mut f: [&[u8]; MAX_FIELDS] = [&[]; MAX_FIELDS];
    let mut n = 0usize;
    let mut offs = [0usize; MAX_FIELDS];
    let mut pos = base;
    for field in body.split(|&b| b == b',') {
        if n == MAX_FIELDS {
            return Err(Error::TooManyFields {
                line: 0,
                offset: pos,
                limit: MAX_FIELDS,
            });
        }
        f[n] = field;
        offs[n] = pos;
        n += 1;
        pos = pos.saturating_add(field.len()).saturating_add(1);
    }
    let get = |i: usize| -> &[u8] { if i < n { f[i] } else { &[] } };
    let at = |i: usize| -> usize { if i < n { offs[i] } else { line.len() } };
    if n < 9 {
        return Err(Error::syntax(
            line.len(),
            "rule,subrule,anchor,tracker,interface,reason,action,direction,ipversion",
        ));
    }
    if get(0).is_empty() || !get(0).iter().all(u8::is_ascii_digit) {
        return Err(Error::syntax(at(0), "a filterlog rule number"));
    }
    let v6 = match get(8) {
        b"4" => false,
        b"6" => true,
        _ => return Err(Error::syntax(at(8), "IP version 4 or 6")),
    };
    // Indexes of the IP-level fields.
    let (i_proto_id, i_proto_name, i_len, i_src, i_dst, tail) = if v6 {
        (13, 12, 14, 15, 16, 17)
    } else {
        (15, 16, 17, 18, 19, 20)
    };
    if n < tail {
        return Err(Error::syntax(
            line.len(),
            if v6 {
                "class,flowlabel,hoplimit,protoname,protoid,length,src,dst after the IP version"
            } else {
                "tos,ecn,ttl,id,offset,flags,protoid,protoname,length,src,dst after the IP version"
            },
        ));
    }
    let proto_num: u8 =
        dec(get(i_proto_id)).ok_or(Error::syntax(at(i_proto_id), "a protocol number"))?;
    // The addresses must match the IP version (render picks the layout from them).
    let src = ip(get(i_src))
        .filter(|a| a.is_ipv6() == v6)
        .ok_or(Error::syntax(at(i_src), "a source IP"))?;
    let dst = ip(get(i_dst))
        .filter(|a| a.is_ipv6() == v6)
        .ok_or(Error::syntax(at(i_dst), "a destination IP"))?;
    let mut rec = Record::new(
        Format::Filterlog,
        Protocol::from_number(proto_num),
        src,
        dst,
    );
    let too_many = |off: usize| Error::TooManyFields {
        line: 0,
        offset: off,
        limit: crate::record::MAX_EXTRA_FIELDS,
    };
    if let Some(h) = &header {
        rec.timestamp = h.timestamp;
        rec.host = h.host;
        push_header_extras(line, h, &mut rec.extra).ok_or(too_many(0))?;
    }
    rec.rule = Some(get(0));
    let mut ex = Pusher {
        extra: &mut rec.extra,
        ok: true,
    };
    ex.opt(b"subrule", get(1));
    ex.opt(b"anchor", get(2));
    ex.opt(b"tracker", get(3));
    ex.opt(b"reason", get(5));
    let action_text = get(6);
    let iface = get(4);
    let direction = match get(7) {
        b"in" => Some(Direction::In),
        b"out" => Some(Direction::Out),
        b"" => None,
        _ => return Err(Error::syntax(at(7), "a direction (in, out)")),
    };
    if v6 {
        ex.push(b"class", get(9));
        let fl = get(10);
        if !fl.is_empty() {
            rec.ip_id = Some(hex(fl).ok_or(Error::syntax(at(10), "a hex IPv6 flow label"))?);
        }
        rec.ttl = opt_num(get(11), at(11), "a hop limit")?;
    } else {
        ex.push(b"tos", get(9));
        ex.opt(b"ecn", get(10));
        rec.ttl = opt_num(get(11), at(11), "a TTL")?;
        rec.ip_id = opt_num(get(12), at(12), "an IP id")?;
        ex.push(b"offset", get(13));
        ex.push(b"ipflags", get(14));
    }
    ex.push(b"proto", get(i_proto_name));
    rec.length = opt_num(get(i_len), at(i_len), "an IP length")?;
    let t = |k: usize| get(tail.saturating_add(k));
    let ta = |k: usize| at(tail.saturating_add(k));
    let tail_len = n.saturating_sub(tail);
    let generic = t(0).starts_with(b"datalength=");
    match proto_num {
        6 | 17 if !generic => {
            let need = if proto_num == 6 { 9 } else { 3 };
            if tail_len != need {
                return Err(Error::syntax(
                    ta(tail_len.min(need)),
                    if proto_num == 6 {
                        "exactly srcport,dstport,datalen,flags,seq,ack,window,urg,options for TCP"
                    } else {
                        "exactly srcport,dstport,datalen for UDP"
                    },
                ));
            }
            rec.src_port = Some(dec(t(0)).ok_or(Error::syntax(ta(0), "a source port"))?);
            rec.dst_port = Some(dec(t(1)).ok_or(Error::syntax(ta(1), "a destination port"))?);
            ex.push(b"datalen", t(2));
            if dec::<u32>(t(2)).is_none() {
                return Err(Error::syntax(ta(2), "a data length"));
            }
            if proto_num == 6 {
                rec.tcp_flags =
                    Some(flags(t(3)).ok_or(Error::syntax(ta(3), "TCP flag letters (FSRPAUEC)"))?);
                let seq = t(4);
                let (s, end) = match memchr::memchr(b':', seq) {
                    Some(i) => (
                        seq.get(..i).unwrap_or_default(),
                        Some(seq.get(i + 1..).unwrap_or_default()),
                    ),
                    None => (seq, None),
                };
                rec.seq = opt_num(s, ta(4), "a sequence number or seq:seq_end")?;
                if let Some(end) = end {
                    if dec::<u32>(end).is_none() {
                        return Err(Error::syntax(ta(4), "a sequence number or seq:seq_end"));
                    }
                    ex.push(b"seq_end", end);
                }
                rec.ack = opt_num(t(5), ta(5), "an acknowledgment number")?;
                rec.window = opt_num(t(6), ta(6), "a window")?;
                ex.opt(b"urg", t(7));
                rec.tcp_options = (!t(8).is_empty()).then_some(t(8));
            }
        }
        _ => {
            let kind = if proto_num == 1 && !generic {
                t(0)
            } else {
                b""
            };
            let names: &[&[u8]] = match kind {
                b"request" | b"reply" | b"tstamp" => &[b"icmp_type", b"icmp_id", b"icmp_seq"],
                b"tstampreply" => &[
                    b"icmp_type",
                    b"icmp_id",
                    b"icmp_seq",
                    b"icmp_otime",
                    b"icmp_rtime",
                    b"icmp_ttime",
                ],
                b"unreachproto" => &[b"icmp_type", b"icmp_dstip", b"icmp_protoid"],
                b"unreachport" => &[b"icmp_type", b"icmp_dstip", b"icmp_protoid", b"icmp_port"],
                b"needfrag" => &[b"icmp_type", b"icmp_dstip", b"icmp_mtu"],
                b"" => &[],
                _ => &[b"icmp_type", b"icmp_description"],
            };
            rec.icmp = match kind {
                b"request" => Some((8, 0)),
                b"reply" => Some((0, 0)),
                b"tstamp" => Some((13, 0)),
                b"tstampreply" => Some((14, 0)),
                b"unreachproto" => Some((3, 2)),
                b"unreachport" => Some((3, 3)),
                b"needfrag" => Some((3, 4)),
                b"maskreply" => Some((18, 0)),
                _ => None,
            };
            for k in 0..tail_len {
                let v = t(k);
                if let Some(len) = v.strip_prefix(b"datalength=") {
                    ex.push(b"datalength", len);
                } else {
                    ex.push(names.get(k).copied().unwrap_or(b""), v);
                }
            }
        }
    }
    if !ex.ok {
        return Err(too_many(line.len()));
    }
    rec.action = Some(match action_text {
        b"pass" => Action::Accept,
        b"block" => Action::Deny,
        b"reject" => Action::Reject,
        _ => Action::Other,
    });
    rec.action_text = Some(action_text);
    rec.direction = direction;
    if direction == Some(Direction::Out) {
        rec.out_interface = Some(iface);
    } else {
        rec.in_interface = Some(iface);
    }
    Ok(rec)
}

/// A header whose "host" is the CSV body itself (`<134>Jul  3 19:10:33 32,,,...`: no host, no
/// tag, and no space in the body before its end, so the whole body read as one token): the
/// body starts right after the timestamp. A host name holds no comma. Without this, whether
/// the body read as a host hung on its length (at most 255 bytes), and a body a few bytes
/// shorter after rendering (`ff02::0:2` written `ff02::2`) parsed as something else (the
/// fuzzer's `regression-syslog-header-in-the-tail`).
fn csv_after_timestamp(h: SyslogHeader<'_>) -> (Option<SyslogHeader<'_>>, &[u8]) {
    let body = h.after_timestamp;
    let header = SyslogHeader {
        host: None,
        tag: None,
        pid: None,
        uptime_us: None,
        ..h
    };
    (Some(header), body)
}

/// A bare CSV body (`146,,,...`) rather than a syslog header.
fn starts_like_csv(line: &[u8]) -> bool {
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    digits > 0 && line.get(digits) == Some(&b',')
}

/// Pushes into `extra`, remembering whether every push fitted.
struct Pusher<'r, 'a> {
    extra: &'r mut Extra<'a>,
    ok: bool,
}

impl<'a> Pusher<'_, 'a> {
    fn push(&mut self, k: &'a [u8], v: &'a [u8]) {
        self.ok &= self.extra.push(k, v);
    }
    fn opt(&mut self, k: &'a [u8], v: &'a [u8]) {
        if !v.is_empty() {
            self.push(k, v);
        }
    }
}

fn opt_num<T: TryFrom<u64>>(v: &[u8], off: usize, expected: &'static str) -> Result<Option<T>> {
    if v.is_empty() {
        return Ok(None);
    }
    dec(v).map(Some).ok_or(Error::syntax(off, expected))
}

/// A decimal number that fits `T` (checked, no sign).
fn hex(v: &[u8]) -> Option<u32> {
    crate::scan::hex_u32(v)
}

fn ip(v: &[u8]) -> Option<IpAddr> {
    crate::scan::ip(v)
}

/// filterlog's TCP flag letters, in the order it writes them.
const FLAG_LETTERS: [(TcpFlags, u8); 8] = [
    (TcpFlags::FIN, b'F'),
    (TcpFlags::SYN, b'S'),
    (TcpFlags::RST, b'R'),
    (TcpFlags::PSH, b'P'),
    (TcpFlags::ACK, b'A'),
    (TcpFlags::URG, b'U'),
    (TcpFlags::ECE, b'E'),
    (TcpFlags::CWR, b'C'),
];

fn flags(v: &[u8]) -> Option<TcpFlags> {
    if v.len() > 8 {
        return None;
    }
    let mut f = TcpFlags::empty();
    for &b in v {
        let bit = match b {
            b'W' => TcpFlags::CWR,
            _ => FLAG_LETTERS.iter().find(|(_, l)| *l == b)?.0,
        };
        f |= bit;
    }
    Some(f)
}

// ---- syslog header, shared with the pf and ipmon modules -------------------------------

/// Byte offset of `sub` (a subslice of `line`) in `line`.
fn offset_in(line: &[u8], sub: &[u8]) -> usize {
    (sub.as_ptr() as usize).saturating_sub(line.as_ptr() as usize)
}

/// Keeps what the syslog header says beyond timestamp and host, so that [`render_header`]
/// can write the line back: `pri` (digits), `syslog` = `rfc5424` for RFC 5424 headers,
/// `tag`, `pid` (digits), `sequenceId` (OPNsense's `[meta sequenceId="..."]`).
/// `None` when `extra` is full.
pub(crate) fn push_header_extras<'a>(
    line: &'a [u8],
    h: &SyslogHeader<'a>,
    extra: &mut Extra<'a>,
) -> Option<()> {
    let mut p = 0usize;
    if h.pri.is_some() {
        let close = memchr::memchr(b'>', line)?;
        extra.push(b"pri", line.get(1..close)?).then_some(())?;
        p = close.saturating_add(1);
    }
    // `syslog::split` skips spaces after the PRI, so does the RFC 5424 test here
    p = p.saturating_add(
        line.get(p..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| b == b' ')
            .count(),
    );
    let rfc5424 = line.get(p..)?.starts_with(b"1 ")
        && line
            .get(p.saturating_add(2))
            .is_some_and(|c| c.is_ascii_digit() || *c == b'-');
    if rfc5424 {
        extra.push(b"syslog", b"rfc5424").then_some(())?;
    }
    if let Some(tag) = h.tag {
        extra.push(b"tag", tag).then_some(())?;
        if h.pid.is_some() {
            let start = offset_in(line, tag)
                .saturating_add(tag.len())
                .saturating_add(1);
            let rest = line.get(start..)?;
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            extra.push(b"pid", rest.get(..digits)?).then_some(())?;
        }
    }
    if rfc5424 {
        // The structured data only: a host name may hold `sequenceId="` too (the fuzzer's
        // `regression-sequenceid-in-hostname`).
        let sd = h.structured_data.unwrap_or_default();
        if let Some(i) = memchr::memmem::find(sd, b"sequenceId=\"") {
            let v = sd.get(i.saturating_add(12)..)?;
            let end = memchr::memchr(b'"', v)?;
            extra.push(b"sequenceId", v.get(..end)?).then_some(())?;
        }
    }
    Some(())
}

/// Writes the syslog header [`push_header_extras`] recorded (nothing when there was none).
/// `ts` is the header's timestamp as written.
pub(crate) fn render_header(r: &Record<'_>, ts: Option<&[u8]>, out: &mut Vec<u8>) {
    let ex = &r.extra;
    if let Some(pri) = ex.get(b"pri") {
        out.push(b'<');
        out.extend_from_slice(pri);
        out.push(b'>');
    }
    let dash = |v: Option<&[u8]>, out: &mut Vec<u8>| {
        out.extend_from_slice(v.unwrap_or(b"-"));
        out.push(b' ');
    };
    if ex.get(b"syslog") == Some(b"rfc5424") {
        out.extend_from_slice(b"1 ");
        dash(ts, out);
        dash(r.host, out);
        dash(ex.get(b"tag"), out);
        dash(ex.get(b"pid"), out);
        out.extend_from_slice(b"- ");
        match ex.get(b"sequenceId") {
            Some(s) => {
                out.extend_from_slice(b"[meta sequenceId=\"");
                out.extend_from_slice(s);
                out.extend_from_slice(b"\"] ");
            }
            None => out.extend_from_slice(b"- "),
        }
        return;
    }
    if let Some(ts) = ts {
        out.extend_from_slice(ts);
        out.push(b' ');
        if let Some(h) = r.host {
            out.extend_from_slice(h);
            out.push(b' ');
        }
    }
    if let Some(tag) = ex.get(b"tag") {
        out.extend_from_slice(tag);
        if let Some(pid) = ex.get(b"pid") {
            out.push(b'[');
            out.extend_from_slice(pid);
            out.push(b']');
        }
        out.extend_from_slice(b": ");
    }
}

// ---- render ---------------------------------------------------------------------------

/// Renders a record as a `filterlog` line (with the syslog header it was parsed with).
pub fn render(r: &Record<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    render_header(r, r.timestamp.as_ref().map(|t| t.raw), out);
    let ex = &r.extra;
    let g = |k: &[u8]| ex.get(k).unwrap_or_default();
    let v6 = r.src.is_ipv6();
    out.extend_from_slice(r.rule.unwrap_or(b"0"));
    for k in [&b"subrule"[..], b"anchor", b"tracker"] {
        out.push(b',');
        out.extend_from_slice(g(k));
    }
    out.push(b',');
    out.extend_from_slice(r.in_interface.or(r.out_interface).unwrap_or_default());
    out.push(b',');
    out.extend_from_slice(g(b"reason"));
    out.push(b',');
    if let Some(t) = r.action_text {
        out.extend_from_slice(t);
    } else {
        out.extend_from_slice(match r.action {
            Some(Action::Accept) => b"pass",
            Some(Action::Reject) => b"reject",
            _ => b"block",
        });
    }
    out.extend_from_slice(match r.direction {
        Some(Direction::In) => b",in,",
        Some(Direction::Out) => b",out,",
        _ => b",,",
    });
    let num = |v: Option<u32>, out: &mut Vec<u8>| {
        if let Some(v) = v {
            let _ = write!(out, "{v}");
        }
    };
    let pnum = r.protocol.number();
    if v6 {
        let _ = write!(out, "6,{},", String::from_utf8_lossy(g(b"class")));
        if let Some(fl) = r.ip_id {
            let _ = write!(out, "0x{fl:05x}");
        }
        out.push(b',');
        num(r.ttl.map(u32::from), out);
        let _ = write!(out, ",{},{pnum},", String::from_utf8_lossy(g(b"proto")));
    } else {
        let _ = write!(out, "4,{},", String::from_utf8_lossy(g(b"tos")));
        out.extend_from_slice(g(b"ecn"));
        out.push(b',');
        num(r.ttl.map(u32::from), out);
        out.push(b',');
        num(r.ip_id, out);
        out.push(b',');
        out.extend_from_slice(g(b"offset"));
        out.push(b',');
        out.extend_from_slice(g(b"ipflags"));
        let _ = write!(out, ",{pnum},");
        out.extend_from_slice(g(b"proto"));
        out.push(b',');
    }
    num(r.length, out);
    let _ = write!(out, ",{},{}", r.src, r.dst);
    let generic = !matches!(pnum, 6 | 17) || ex.get(b"datalength").is_some();
    if generic {
        for (k, v) in ex.iter() {
            if k == b"datalength" {
                out.extend_from_slice(b",datalength=");
                out.extend_from_slice(v);
            } else if k.is_empty() || k.starts_with(b"icmp_") {
                out.push(b',');
                out.extend_from_slice(v);
            }
        }
        return;
    }
    out.push(b',');
    num(r.src_port.map(u32::from), out);
    out.push(b',');
    num(r.dst_port.map(u32::from), out);
    out.push(b',');
    out.extend_from_slice(g(b"datalen"));
    if pnum == 17 {
        return;
    }
    out.push(b',');
    if let Some(f) = r.tcp_flags {
        for (bit, letter) in FLAG_LETTERS {
            if f.contains(bit) {
                out.push(letter);
            }
        }
    }
    out.push(b',');
    num(r.seq, out);
    if let Some(end) = ex.get(b"seq_end") {
        out.push(b':');
        out.extend_from_slice(end);
    }
    out.push(b',');
    num(r.ack, out);
    out.push(b',');
    num(r.window, out);
    out.push(b',');
    out.extend_from_slice(g(b"urg"));
    out.push(b',');
    out.extend_from_slice(r.tcp_options.unwrap_or_default());
}
