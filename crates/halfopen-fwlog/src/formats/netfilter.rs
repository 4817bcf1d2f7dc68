//! Linux netfilter `LOG` target / nftables `log` statement (kernel `nf_log_syslog` text).
//!
//! ```text
//! Mar 11 20:35:11 linux kernel: [463490.251762] DROP IN=eth1 OUT= MAC=23:87:...:09:00 SRC=192.168.10.55 DST=192.168.10.1 LEN=44 TOS=0x00 PREC=0x00 TTL=53 ID=15270 PROTO=TCP SPT=56247 DPT=1025 WINDOW=3072 RES=0x00 SYN URGP=0 OPT (020405B4)
//! ```
//!
//! The message after the syslog header (kern.log, journald, dmesg `<6>[uptime]`, RFC 5424)
//! is `PREFIX` (anything, possibly glued: `[wan-lan-default-D]IN=`, `DROP(src wan)IN=`) then
//! the fields from `IN=` on, read **in order** by one tokenizer ([`Tokens`], shared with
//! [`super::nflog`]):
//!
//! - IP fields (`LEN TOS PREC TTL ID`, IPv6 `TC HOPLIMIT FLOWLBL`, bare `CE DF MF`, IP
//!   `OPT (...)`) fill their slots only before `PROTO=`;
//! - after `PROTO=`: `SPT DPT`, TCP `SEQ ACK WINDOW RES` flags `URGP OPT (...)`, ICMP
//!   `TYPE CODE ID SEQ`, ESP/AH `SPI`; `UID GID MARK` at the end;
//! - a typed slot is filled once: a repeated key (UDP `LEN=`, ICMP echo `ID=`) and everything
//!   inside the embedded packet of an ICMP error (`[SRC=... ]`) goes to [`Record::extra`],
//!   with the brackets kept as bare words `[` and `]`, so the outer packet is never overwritten.
//!
//! Everything without a typed slot is kept in [`Record::extra`] in line order (bare words like
//! `DF` with an empty key). TCP flags are known (`Some`, possibly empty: a NULL scan) once
//! `WINDOW=` or a flag word was read.

use std::net::IpAddr;

use crate::record::MAX_EXTRA_FIELDS;
use crate::scan::{dec_u8, dec_u16, dec_u32, hex_u32, ip, push_ip, push_u64};
use crate::syslog::{SyslogHeader, split};
use crate::time::parse_clf;
use crate::{Action, Direction, Error, Format, Protocol, Record, Result, TcpFlags};

/// One field of a netfilter-style line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// `KEY` of `KEY=value`, `OPT` for `OPT (...)`, empty for a bare word.
    pub key: &'a [u8],
    /// The value (without quotes or parentheses), or the bare word itself.
    pub value: &'a [u8],
    /// Byte offset of the token in the tokenized slice.
    pub offset: usize,
}

/// Tokenizer for `KEY=value` lines (netfilter, ulogd): `KEY=value`, `KEY="quoted value"`,
/// `OPT (hex)`, `INCOMPLETE [n bytes]`, bare words, and `[`/`]` around an embedded packet.
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Tokens<'a> {
    /// Tokenizes `b`.
    pub fn new(b: &'a [u8]) -> Tokens<'a> {
        Tokens { b, pos: 0 }
    }

    /// The next token; `Err` for an unterminated quote (an unterminated `OPT (` stays a bare
    /// word, as truncated lines have it).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Token<'a>>> {
        let b = self.b;
        let mut i = self.pos;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        let rest = b.get(i..)?;
        let first = *rest.first()?;
        let tok = |key: &'a [u8], value: &'a [u8]| Token {
            key,
            value,
            offset: i,
        };
        if first == b'[' {
            self.pos = i + 1;
            return Some(Ok(tok(&[], b.get(i..i + 1)?)));
        }
        let (end, first_eq) = word_end(rest);
        let word = rest.get(..end)?;
        // `OPT=x` is not the kernel's `OPT (hex)`: keep it as a bare word.
        if let Some(eq) = first_eq.filter(|eq| *eq > 0 && word.get(..*eq) != Some(b"OPT")) {
            let key = word.get(..eq)?;
            if rest.get(eq + 1) == Some(&b'"') {
                let vstart = eq + 2;
                let Some(close) = rest.get(vstart..).and_then(|r| memchr::memchr(b'"', r)) else {
                    return Some(Err(Error::syntax(i + eq + 1, "a closing '\"'")));
                };
                self.pos = i + vstart + close + 1;
                return Some(Ok(tok(key, rest.get(vstart..vstart + close)?)));
            }
            self.pos = i + end;
            return Some(Ok(tok(key, word.get(eq + 1..)?)));
        }
        if word == b"OPT" || word == b"INCOMPLETE" {
            let (open, close_char) = if word == b"OPT" {
                (b'(', b')')
            } else {
                (b'[', b']')
            };
            // Spaces between the word and its bracket do not matter.
            let mut o = end;
            while rest.get(o) == Some(&b' ') {
                o += 1;
            }
            if o > end && rest.get(o) == Some(&open) {
                let vstart = o + 1;
                // Unterminated (a truncated line): the word stays a bare word.
                if let Some(close) = rest
                    .get(vstart..)
                    .and_then(|r| memchr::memchr(close_char, r))
                {
                    self.pos = i + vstart + close + 1;
                    if word == b"OPT" {
                        return Some(Ok(tok(word, rest.get(vstart..vstart + close)?)));
                    }
                    return Some(Ok(tok(&[], rest.get(..vstart + close + 1)?)));
                }
            }
        }
        self.pos = i + end;
        Some(Ok(tok(&[], word)))
    }
}

/// Bytes of `w` equal to `b`: the lowest set high bit marks the first one exactly (the
/// classic "has zero byte" test on `w ^ b`; higher bits may be false positives).
#[inline]
fn bytes_equal(w: u64, b: u8) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let x = w ^ (LO * u64::from(b));
    x.wrapping_sub(LO) & !x & HI
}

/// The end of the word at the start of `rest` (its first space, else its length) and the
/// position of the word's first `=`, in one pass, eight bytes at a time (words are short:
/// this beats two memchr calls).
#[inline]
fn word_end(rest: &[u8]) -> (usize, Option<usize>) {
    let mut first_eq = None;
    let mut j = 0;
    while let Some(chunk) = rest.get(j..j + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let sp = bytes_equal(w, b' ');
        let sp_at = (sp != 0).then(|| j + (sp.trailing_zeros() / 8) as usize);
        if first_eq.is_none() {
            let eq = bytes_equal(w, b'=');
            if eq != 0 {
                let at = j + (eq.trailing_zeros() / 8) as usize;
                if sp_at.is_none_or(|s| at < s) {
                    first_eq = Some(at);
                }
            }
        }
        if let Some(s) = sp_at {
            return (s, first_eq);
        }
        j += 8;
    }
    for (k, &c) in rest.iter().enumerate().skip(j) {
        if c == b' ' {
            return (k, first_eq);
        }
        if c == b'=' && first_eq.is_none() {
            first_eq = Some(k);
        }
    }
    (rest.len(), first_eq)
}

/// Finds the `IN=` that starts the fields (not `PHYSIN=`, not inside a longer key).
pub(crate) fn find_in(region: &[u8]) -> Option<usize> {
    find_key(region, b"IN=")
}

/// Finds `key` (like `IN=`) where it is not the tail of a longer key.
fn find_key(region: &[u8], key: &[u8]) -> Option<usize> {
    // The key's first byte is rare in the prefix; memchr to it and compare the rest.
    let (&k0, krest) = key.split_first()?;
    let mut from = 0usize;
    let find = |r: &[u8]| -> Option<usize> {
        let mut at = 0usize;
        loop {
            let i = memchr::memchr(k0, r.get(at..)?)?;
            if r.get(at + i + 1..)?.starts_with(krest) {
                return Some(at + i);
            }
            at += i + 1;
        }
    };
    while let Some(i) = find(region.get(from..)?) {
        let at = from + i;
        match at.checked_sub(1).and_then(|p| region.get(p)) {
            Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => from = at + key.len(),
            _ => return Some(at),
        }
    }
    None
}

/// The action a log prefix implies, by the words firewall front-ends put there
/// (`DROP`, `REJECT`, `[UFW BLOCK]`, firewalld `_REJECT`, Ubiquiti `-D]`/`-A]`/`-R]`).
pub fn action_from_prefix(prefix: &[u8]) -> Option<Action> {
    // One pass over the (short) prefix, no searcher set-up: bit 0 reject, 1 deny, 2 accept,
    // 3 audit; the strongest found wins.
    let mut found = 0u8;
    for (i, &c) in prefix.iter().enumerate() {
        let rest = prefix.get(i..).unwrap_or_default();
        found |= match c {
            b'R' if rest.starts_with(b"REJECT") => 1,
            b'D' if rest.starts_with(b"DROP") || rest.starts_with(b"DENY") => 2,
            b'B' if rest.starts_with(b"BLOCK") => 2,
            b'A' if rest.starts_with(b"ACCEPT") || rest.starts_with(b"ALLOW") => 4,
            b'A' if rest.starts_with(b"AUDIT") => 8,
            b'-' => match (rest.get(1), rest.get(2)) {
                (Some(b'R'), Some(b']' | b'-')) => 1,
                (Some(b'D'), Some(b']' | b'-')) => 2,
                (Some(b'A'), Some(b']' | b'-')) => 4,
                _ => 0,
            },
            _ => 0,
        };
    }
    if found & 1 != 0 {
        Some(Action::Reject)
    } else if found & 2 != 0 {
        Some(Action::Deny)
    } else if found & 4 != 0 {
        Some(Action::Accept)
    } else if found & 8 != 0 {
        Some(Action::Log)
    } else {
        None
    }
}

/// Which `--log-level`-free kernel tag means "the message is the netfilter text".
fn is_kernel_tag(tag: &[u8]) -> bool {
    tag == b"kernel" || tag == b"/kernel"
}

/// The part of the line a prefix is searched in: after the `kernel:` tag, or from the tag on
/// when the tag the header found is really part of the prefix (`DENY: IN=`).
pub(crate) fn message_region<'a>(line: &'a [u8], h: &SyslogHeader<'a>, msg: &'a [u8]) -> &'a [u8] {
    match h.tag {
        None => msg,
        Some(t) if is_kernel_tag(t) => msg,
        Some(t) => {
            // The tag borrows from the line: its offset is the distance between the two.
            let at = (t.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
            line.get(at..).unwrap_or(msg)
        }
    }
}

/// Parses one netfilter LOG line.
///
/// ```
/// use halfopen_fwlog::{formats::netfilter, Protocol, TcpFlags};
/// let line = b"Mar 11 20:35:11 linux kernel: [463490.251762] DROP IN=eth1 OUT= SRC=192.168.10.55 DST=192.168.10.1 LEN=44 TOS=0x00 PREC=0x00 TTL=53 ID=15270 PROTO=TCP SPT=56247 DPT=1025 WINDOW=3072 RES=0x00 SYN URGP=0 OPT (020405B4)";
/// let r = netfilter::parse(line).unwrap();
/// assert_eq!(r.prefix, Some(&b"DROP"[..]));
/// assert_eq!(r.protocol, Protocol::Tcp);
/// assert_eq!(r.tcp_flags, Some(TcpFlags::SYN));
/// assert_eq!(r.tcp_options, Some(&b"020405B4"[..]));
/// assert_eq!(r.uptime_us, Some(463_490_251_762));
/// ```
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    let (h, msg) = split(line)?;
    let region = message_region(line, &h, msg);
    let base = line.len().saturating_sub(region.len());
    let mut r = parse_fields(Format::Netfilter, line, base, &[])?;
    r.timestamp = h.timestamp;
    r.host = h.host;
    r.uptime_us = h.uptime_us;
    Ok(r)
}

/// Parses `PREFIX IN=...` starting at `line[start..]`: prefix, then the fields.
/// Offsets in errors are relative to `line`. Shared with [`super::nflog`].
pub(crate) fn parse_fields<'a>(
    format: Format,
    line: &'a [u8],
    start: usize,
    lead: &[(&'a [u8], &'a [u8])],
) -> Result<Record<'a>> {
    let region = line.get(start..).unwrap_or_default();
    // pvefw-logger leaves out an empty IN=, so an OUT= can start the fields of nflog lines.
    let found = match (find_in(region), format) {
        (Some(i), _) => Some(i),
        (None, Format::Nflog) => find_key(region, b"OUT="),
        (None, _) => None,
    };
    let Some(at) = found else {
        return Err(no_fields(region, start));
    };
    let mut prefix = trim(region.get(..at).unwrap_or_default());
    let mut descr = None;
    if format == Format::Nflog {
        // UniFi ulogd: `[RULE] DESCR="text" IN=...`.
        if let Some(d) = memchr::memmem::find(prefix, b"DESCR=\"") {
            let inner = prefix.get(d + 7..).unwrap_or_default();
            let v = inner.strip_suffix(b"\"").unwrap_or(inner);
            descr = Some(v);
            prefix = trim(prefix.get(..d).unwrap_or_default());
        }
    }
    let fields_at = start + at;
    let unspecified = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    let mut rec = Record::new(format, Protocol::Other(0), unspecified, unspecified);
    parse_kv(&mut rec, line, fields_at, lead, descr)?;
    if !prefix.is_empty() {
        rec.prefix = Some(prefix);
        rec.action = action_from_prefix(prefix);
    }
    Ok(rec)
}

fn no_fields(region: &[u8], start: usize) -> Error {
    let has = |w: &[u8]| memchr::memmem::find(region, w).is_some();
    if !has(b"SRC=") && (has(b"PROTO=") || has(b"TTL=") || has(b"ID=")) {
        Error::NotAPacket {
            line: 0,
            what: "a continuation fragment of a split netfilter line (no IN=/SRC=)",
        }
    } else {
        Error::syntax(start, "IN= starting the netfilter fields")
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let s = b.iter().take_while(|c| **c == b' ').count();
    let b = b.get(s..).unwrap_or_default();
    let e = b.iter().rev().take_while(|c| **c == b' ').count();
    b.get(..b.len() - e).unwrap_or_default()
}

/// Interface names: printable, no `=`; a dot only before a VLAN number (`eth0.90`).
fn valid_ifname(v: &[u8]) -> bool {
    if v.len() > 64 || !v.iter().all(|c| c.is_ascii_graphic() && *c != b'=') {
        return false;
    }
    let mut parts = v.split(|c| *c == b'.');
    let _ = parts.next();
    parts.all(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
}

fn flag_bit(w: &[u8]) -> Option<TcpFlags> {
    Some(match w {
        b"SYN" => TcpFlags::SYN,
        b"ACK" => TcpFlags::ACK,
        b"FIN" => TcpFlags::FIN,
        b"RST" => TcpFlags::RST,
        b"PSH" => TcpFlags::PSH,
        b"URG" => TcpFlags::URG,
        b"ECE" => TcpFlags::ECE,
        b"CWR" => TcpFlags::CWR,
        _ => return None,
    })
}

fn proto_from(v: &[u8]) -> Option<Protocol> {
    Some(match v {
        b"TCP" => Protocol::Tcp,
        b"UDP" => Protocol::Udp,
        b"ICMP" => Protocol::Icmp,
        b"ICMPv6" => Protocol::Icmpv6,
        b"UDPLITE" => Protocol::Other(136),
        b"SCTP" => Protocol::Other(132),
        b"ESP" => Protocol::Other(50),
        b"AH" => Protocol::Other(51),
        b"IGMP" => Protocol::Other(2),
        b"GRE" => Protocol::Other(47),
        n => Protocol::from_number(dec_u8(n)?),
    })
}

/// Reads the fields from `IN=` (at `line[at..]`) to the end of the line.
fn parse_kv<'a>(
    r: &mut Record<'a>,
    line: &'a [u8],
    at: usize,
    lead: &[(&'a [u8], &'a [u8])],
    descr: Option<&'a [u8]>,
) -> Result<()> {
    let format = r.format;
    let body = line.get(at..).unwrap_or_default();
    let mut toks = Tokens::new(body);
    for (k, v) in lead {
        r.extra.push(k, v);
    }
    if let Some(d) = descr {
        r.extra.push(b"DESCR", d);
    }
    let mut src = None;
    let mut dst = None;
    let mut proto: Option<Protocol> = None;
    let mut nested = false;
    let mut icmp_type: Option<u8> = None;
    let mut in_if: Option<&[u8]> = None;
    let mut out_if: Option<&[u8]> = None;
    let mut seen_out = false;
    let mut seen_in = false;
    while let Some(t) = toks.next() {
        let t = t.map_err(|e| shift(e, at))?;
        let off = at + t.offset;
        let bad = |expected: &'static str| Error::syntax(off + t.key.len() + 1, expected);
        if nested {
            if t.key.is_empty() && t.value == b"]" {
                nested = false;
            }
            push_extra(r, t, off)?;
            continue;
        }
        let is_tcp = proto == Some(Protocol::Tcp);
        let stored = match (t.key, proto) {
            (b"", _) if t.value == b"[" => {
                nested = true;
                false
            }
            (b"", Some(Protocol::Tcp)) => match flag_bit(t.value) {
                Some(f) => {
                    r.tcp_flags = Some(r.tcp_flags.unwrap_or_default() | f);
                    true
                }
                None => false,
            },
            (b"IN", None) if !seen_in && !seen_out => {
                if !valid_ifname(t.value) {
                    return Err(bad(
                        "an interface name after IN= (a dot only before a VLAN number)",
                    ));
                }
                seen_in = true;
                in_if = Some(t.value);
                true
            }
            (b"OUT", None) if !seen_out => {
                if !valid_ifname(t.value) {
                    return Err(bad("an interface name after OUT="));
                }
                seen_out = true;
                out_if = Some(t.value);
                true
            }
            (b"SRC", None) if src.is_none() => {
                src = Some(ip(t.value).ok_or_else(|| bad("an IP address after SRC="))?);
                true
            }
            (b"DST", None) if dst.is_none() => {
                dst = Some(ip(t.value).ok_or_else(|| bad("an IP address after DST="))?);
                true
            }
            (b"LEN", None) if r.length.is_none() => {
                r.length = Some(dec_u32(t.value).ok_or_else(|| bad("a number after LEN="))?);
                true
            }
            (b"TTL" | b"HOPLIMIT", None) if r.ttl.is_none() => {
                r.ttl = Some(dec_u8(t.value).ok_or_else(|| bad("a number 0-255 after TTL="))?);
                true
            }
            (b"ID" | b"FLOWLBL", None) if r.ip_id.is_none() => {
                r.ip_id = Some(dec_u32(t.value).ok_or_else(|| bad("a number after ID="))?);
                true
            }
            (b"PROTO", None) => {
                proto = Some(
                    proto_from(t.value)
                        .ok_or_else(|| bad("a protocol name or number after PROTO="))?,
                );
                true
            }
            (b"SPT", Some(_)) if r.src_port.is_none() => {
                r.src_port = Some(dec_u16(t.value).ok_or_else(|| bad("a port after SPT="))?);
                true
            }
            (b"DPT", Some(_)) if r.dst_port.is_none() => {
                r.dst_port = Some(dec_u16(t.value).ok_or_else(|| bad("a port after DPT="))?);
                true
            }
            (b"SEQ", _) if is_tcp && r.seq.is_none() => {
                r.seq = Some(dec_u32(t.value).ok_or_else(|| bad("a number after SEQ="))?);
                true
            }
            (b"ACK", _) if is_tcp && r.ack.is_none() => {
                r.ack = Some(dec_u32(t.value).ok_or_else(|| bad("a number after ACK="))?);
                true
            }
            (b"WINDOW", _) if is_tcp && r.window.is_none() => {
                r.window = Some(dec_u32(t.value).ok_or_else(|| bad("a number after WINDOW="))?);
                r.tcp_flags.get_or_insert(TcpFlags::empty());
                true
            }
            (b"OPT", _) if is_tcp && r.tcp_options.is_none() => {
                r.tcp_options = Some(t.value);
                true
            }
            (b"TYPE", Some(Protocol::Icmp | Protocol::Icmpv6)) if icmp_type.is_none() => {
                icmp_type = Some(dec_u8(t.value).ok_or_else(|| bad("a number after TYPE="))?);
                true
            }
            (b"CODE", Some(Protocol::Icmp | Protocol::Icmpv6))
                if icmp_type.is_some() && r.icmp.is_none() =>
            {
                let code = dec_u8(t.value).ok_or_else(|| bad("a number after CODE="))?;
                r.icmp = icmp_type.map(|ty| (ty, code));
                true
            }
            (b"TOS", _) if format == Format::Netfilter && !t.value.starts_with(b"0x") => {
                return Err(bad(
                    "TOS=0x.. as the kernel writes it (ulogd's TOS=00 is nflog)",
                ));
            }
            (b"MARK", _) if hex_u32(t.value).is_none() => {
                return Err(bad("a hex mark after MARK="));
            }
            _ => false,
        };
        if !stored {
            if proto.is_none() && !is_ip_header_token(t.key, t.value) {
                return Err(Error::syntax(off, "a known IP header field before PROTO="));
            }
            push_extra(r, t, off)?;
        }
    }
    let (Some(s), Some(d)) = (src, dst) else {
        return Err(Error::syntax(
            line.len(),
            "SRC= and DST= in the netfilter fields",
        ));
    };
    let Some(p) = proto else {
        return Err(Error::syntax(line.len(), "PROTO= in the netfilter fields"));
    };
    if icmp_type.is_some() && r.icmp.is_none() {
        return Err(Error::syntax(line.len(), "CODE= after TYPE="));
    }
    r.src = s;
    r.dst = d;
    r.protocol = p;
    let in_if = in_if.filter(|v| !v.is_empty());
    let out_if = out_if.filter(|v| !v.is_empty());
    r.in_interface = in_if;
    r.out_interface = out_if;
    r.direction = match (in_if, out_if) {
        (Some(_), Some(_)) => Some(Direction::Forward),
        (Some(_), None) => Some(Direction::In),
        (None, Some(_)) => Some(Direction::Out),
        (None, None) => None,
    };
    Ok(())
}

fn push_extra<'a>(r: &mut Record<'a>, t: Token<'a>, off: usize) -> Result<()> {
    if r.extra.push(t.key, t.value) {
        Ok(())
    } else {
        Err(Error::TooManyFields {
            line: 0,
            offset: off,
            limit: MAX_EXTRA_FIELDS,
        })
    }
}

fn shift(e: Error, by: usize) -> Error {
    match e {
        Error::Syntax {
            line,
            offset,
            expected,
        } => Error::Syntax {
            line,
            offset: offset.saturating_add(by),
            expected,
        },
        other => other,
    }
}

/// Renders a record as a kern.log netfilter line (the inverse of [`parse`]).
pub fn render(record: &Record<'_>, out: &mut Vec<u8>) {
    if let Some(ts) = &record.timestamp {
        out.extend_from_slice(ts.raw);
        out.push(b' ');
        if let Some(host) = record.host {
            out.extend_from_slice(host);
            out.push(b' ');
        }
    }
    out.extend_from_slice(b"kernel: ");
    render_uptime(record.uptime_us, out);
    render_fields(record, out);
}

/// Writes `[secs.micros] ` for a kernel uptime.
pub(crate) fn render_uptime(uptime_us: Option<u64>, out: &mut Vec<u8>) {
    if let Some(up) = uptime_us {
        out.push(b'[');
        push_u64(out, up / 1_000_000);
        out.push(b'.');
        let frac = up % 1_000_000;
        let mut digits = [b'0'; 6];
        let mut f = frac;
        for d in digits.iter_mut().rev() {
            *d = b'0' + (f % 10) as u8;
            f /= 10;
        }
        out.extend_from_slice(&digits);
        out.extend_from_slice(b"] ");
    }
}

fn kv(out: &mut Vec<u8>, key: &[u8], v: u64) {
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    push_u64(out, v);
}

/// Writes `PREFIX IN=... ` and the fields in kernel order, then the extras.
pub(crate) fn render_fields(r: &Record<'_>, out: &mut Vec<u8>) {
    if let Some(p) = r.prefix {
        out.extend_from_slice(p);
        // A bracketed prefix is written against what follows, as it can only have been read:
        // with a space after it, a prefix `[ 5739.482168]` would read back as an uptime stamp.
        if !(p.first() == Some(&b'[') && p.last() == Some(&b']')) {
            out.push(b' ');
        }
    }
    let lead = nflog_lead(r);
    if let Some((_, d)) = r.extra.iter().take(lead).find(|(k, _)| *k == b"DESCR") {
        out.extend_from_slice(b"DESCR=\"");
        out.extend_from_slice(d);
        out.extend_from_slice(b"\" ");
    }
    out.extend_from_slice(b"IN=");
    out.extend_from_slice(r.in_interface.unwrap_or_default());
    out.extend_from_slice(b" OUT=");
    out.extend_from_slice(r.out_interface.unwrap_or_default());
    out.extend_from_slice(b" SRC=");
    push_ip(out, r.src);
    out.extend_from_slice(b" DST=");
    push_ip(out, r.dst);
    if let Some(v) = r.length {
        kv(out, b"LEN", u64::from(v));
    }
    let v6 = r.src.is_ipv6();
    if let Some(v) = r.ttl {
        kv(out, if v6 { b"HOPLIMIT" } else { b"TTL" }, u64::from(v));
    }
    if let Some(v) = r.ip_id {
        kv(out, if v6 { b"FLOWLBL" } else { b"ID" }, u64::from(v));
    }
    // Extras read before PROTO= (MAC, TOS, IP options, DF...) go back before it, so that an
    // IP-level `OPT (...)` is not read as the TCP options.
    let ip_level = lead
        + r.extra
            .iter()
            .skip(lead)
            .take_while(|(k, v)| is_ip_header_token(k, v))
            .count();
    render_extras(r, out, lead, ip_level);
    out.extend_from_slice(b" PROTO=");
    match r.protocol {
        Protocol::Tcp => out.extend_from_slice(b"TCP"),
        Protocol::Udp => out.extend_from_slice(b"UDP"),
        Protocol::Icmp => out.extend_from_slice(b"ICMP"),
        Protocol::Icmpv6 => out.extend_from_slice(b"ICMPv6"),
        Protocol::Other(n) => push_u64(out, u64::from(n)),
    }
    if let Some((t, c)) = r.icmp {
        kv(out, b"TYPE", u64::from(t));
        kv(out, b"CODE", u64::from(c));
    }
    if let Some(v) = r.src_port {
        kv(out, b"SPT", u64::from(v));
    }
    if let Some(v) = r.dst_port {
        kv(out, b"DPT", u64::from(v));
    }
    if r.protocol == Protocol::Tcp {
        if let Some(v) = r.seq {
            kv(out, b"SEQ", u64::from(v));
        }
        if let Some(v) = r.ack {
            kv(out, b"ACK", u64::from(v));
        }
        if let Some(v) = r.window {
            kv(out, b"WINDOW", u64::from(v));
        }
        if let Some(f) = r.tcp_flags {
            for (bit, name) in [
                (TcpFlags::CWR, "CWR"),
                (TcpFlags::ECE, "ECE"),
                (TcpFlags::URG, "URG"),
                (TcpFlags::ACK, "ACK"),
                (TcpFlags::PSH, "PSH"),
                (TcpFlags::RST, "RST"),
                (TcpFlags::SYN, "SYN"),
                (TcpFlags::FIN, "FIN"),
            ] {
                if f.contains(bit) {
                    out.push(b' ');
                    out.extend_from_slice(name.as_bytes());
                }
            }
        }
        if let Some(o) = r.tcp_options {
            out.extend_from_slice(b" OPT (");
            out.extend_from_slice(o);
            out.push(b')');
        }
    }
    render_extras(r, out, ip_level, usize::MAX);
}

/// Untyped fields the kernel (and ulogd) print before `PROTO=`.
fn is_ip_header_token(k: &[u8], v: &[u8]) -> bool {
    match k {
        b"" => {
            matches!(v, b"CE" | b"DF" | b"MF") || v.starts_with(b"FRAG:") || v.starts_with(b"ID:")
        }
        b"MAC" | b"MACSRC" | b"MACDST" | b"MACPROTO" | b"PHYSIN" | b"PHYSOUT" | b"TOS"
        | b"PREC" | b"TC" | b"OPT" | b"FRAG" => true,
        _ => false,
    }
}

/// How many leading extras nflog writes outside the fields: pvefw's `vmid` and `loglevel`,
/// then a `DESCR` that came from before `IN=`.
fn nflog_lead(r: &Record<'_>) -> usize {
    if r.format != Format::Nflog {
        return 0;
    }
    let n = if is_pvefw(r) { 2 } else { 0 };
    n + usize::from(r.extra.iter().nth(n).is_some_and(|(k, _)| k == b"DESCR"))
}

/// A pvefw-logger record: `vmid` and a one-digit `loglevel` lead the extras, the chain is the
/// rule, and the stamp is the 26-byte `dd/Mon/yyyy:HH:MM:SS +zzzz`.
pub(crate) fn is_pvefw(r: &Record<'_>) -> bool {
    let mut it = r.extra.iter();
    let vmid = it.next();
    let level = it.next();
    r.format == Format::Nflog
        && vmid.is_some_and(|(k, v)| k == b"vmid" && dec_u32(v).is_some())
        && level.is_some_and(|(k, v)| {
            k == b"loglevel" && v.len() == 1 && v.first().is_some_and(u8::is_ascii_digit)
        })
        && r.rule.is_some_and(|c| !c.is_empty() && !c.contains(&b' '))
        && r.timestamp
            .is_some_and(|t| t.raw.len() == 26 && parse_clf(t.raw).is_ok())
}

/// Writes extras `from..to` (in order).
fn render_extras(r: &Record<'_>, out: &mut Vec<u8>, from: usize, to: usize) {
    for (k, v) in r.extra.iter().skip(from).take(to.saturating_sub(from)) {
        out.push(b' ');
        if k == b"OPT" {
            out.extend_from_slice(b"OPT (");
            out.extend_from_slice(v);
            out.push(b')');
        } else if k.is_empty() {
            out.extend_from_slice(v);
        } else {
            out.extend_from_slice(k);
            out.push(b'=');
            if memchr::memchr(b' ', v).is_some() || v.first() == Some(&b'"') {
                out.push(b'"');
                out.extend_from_slice(v);
                out.push(b'"');
            } else {
                out.extend_from_slice(v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_icmp_error_goes_to_extra() {
        let r = parse(b"Jan  8 03:37:09 DENY: IN=eth0 OUT= MAC=90:10 SRC=192.168.2.71 DST=192.168.2.83 LEN=88 TOS=0x00 PREC=0x00 TTL=118 ID=21684 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.168.2.83 DST=192.168.173.191 LEN=60 TOS=0x00 PREC=0x00 TTL=54 ID=0 DF PROTO=UDP SPT=21458 DPT=62936 LEN=40 ]").unwrap();
        assert_eq!(r.src, "192.168.2.71".parse::<IpAddr>().unwrap());
        assert_eq!(
            (r.length, r.ttl, r.ip_id),
            (Some(88), Some(118), Some(21684))
        );
        assert_eq!(r.icmp, Some((3, 3)));
        assert_eq!((r.src_port, r.dst_port), (None, None));
        assert_eq!(r.prefix, Some(&b"DENY:"[..]));
        assert_eq!(r.action, Some(Action::Deny));
        assert_eq!(r.extra.get(b"SPT"), Some(&b"21458"[..]));
        assert_eq!(r.extra.get(b"SRC"), Some(&b"192.168.2.83"[..]));
    }

    #[test]
    fn prefixes() {
        let r = parse(b"<161>Oct 10 07:25:12 Hostname kernel: [wan-lan-default-D]IN=eth0 OUT= MAC=90 SRC=67.43.156.15 DST=10.4.0.5 LEN=52 TOS=0x00 PREC=0x00 TTL=63 ID=0 DF PROTO=TCP SPT=38842 DPT=443 WINDOW=2853 RES=0x00 ACK URGP=0").unwrap();
        assert_eq!(r.prefix, Some(&b"[wan-lan-default-D]"[..]));
        assert_eq!(r.action, Some(Action::Deny));
        assert_eq!(r.tcp_flags, Some(TcpFlags::ACK));
        let r = parse(b"kernel: Dropped outbound packet: IN= OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=52 TOS=0x00 PREC=0x00 TTL=64 ID=42742 DF PROTO=TCP SPT=40892 DPT=8332 WINDOW=43690 RES=0x00 SYN URGP=0 UID=1000 GID=1000").unwrap();
        assert_eq!(r.prefix, Some(&b"Dropped outbound packet:"[..]));
        assert_eq!(
            (r.direction, r.out_interface),
            (Some(Direction::Out), Some(&b"lo"[..]))
        );
        assert_eq!(r.extra.get(b"UID"), Some(&b"1000"[..]));
    }

    #[test]
    fn null_scan_has_empty_flags() {
        let r = parse(b"Mar 16 21:22:27 linux kernel: [898326.372250] DROP INVALID IN=eth0 OUT= SRC=192.168.10.55 DST=192.168.10.1 LEN=40 TOS=0x00 PREC=0x00 TTL=44 ID=51445 PROTO=TCP SPT=52836 DPT=1025 WINDOW=1024 RES=0x00 URGP=0 ").unwrap();
        assert_eq!(r.tcp_flags, Some(TcpFlags::empty()));
    }

    #[test]
    fn errors() {
        let l = b"Jun  8 14:34:33 sd kernel: [1.000000] IN=enp.1s0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 PROTO=TCP";
        assert!(matches!(parse(l), Err(Error::Syntax { offset: 41, .. })));
        let l =
            b"May  5 20:46:45 gw user.info kernel: TTL=126 ID=15317 DF PROTO=TCP SPT=59344 DPT=443";
        assert!(matches!(parse(l), Err(Error::NotAPacket { .. })));
        // A truncated `OPT (` stays a bare word.
        let l = b"x IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=60 PROTO=TCP OPT (0204";
        let r = parse(l).unwrap();
        assert_eq!((r.tcp_options, r.extra.get(b"")), (None, Some(&b"OPT"[..])));
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    proptest::proptest! {
        /// The word scan finds what the plain byte loop finds.
        #[test]
        fn word_end_is_the_byte_loop(
            rest in proptest::collection::vec(
                proptest::sample::select(vec![b' ', b'=', b'a', b'0', 0x80, 0xff, 0xa0, 0x3c]),
                0..40,
            )
        ) {
            let mut end = rest.len();
            let mut first_eq = None;
            for (j, &c) in rest.iter().enumerate() {
                if c == b' ' {
                    end = j;
                    break;
                }
                if c == b'=' && first_eq.is_none() {
                    first_eq = Some(j);
                }
            }
            proptest::prop_assert_eq!(super::word_end(&rest), (end, first_eq));
        }
    }

    /// `=DPT=443` is one bare word (empty key), not a DPT field once rendered.
    #[test]
    fn leading_equals_is_a_bare_word() {
        let l =
            b"IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=60 PROTO=TCP SPT=1 =DPT=443 WINDOW=5 SYN";
        let r = parse(l).unwrap();
        assert_eq!(r.dst_port, None);
        assert_eq!(r.extra.get(b""), Some(&b"=DPT=443"[..]));
        let mut out = Vec::new();
        render(&r, &mut out);
        assert_eq!(parse(&out).unwrap(), r);
    }
}
