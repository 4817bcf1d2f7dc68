//! Splits a syslog header (RFC 3164, RFC 5424, rsyslog ISO 8601, journald, dmesg) off a line.
//!
//! Every format module calls [`split`] first and parses the message part that follows.
//! Accepted shapes (each part optional unless said):
//!
//! - `<PRI>` (0–191);
//! - RFC 5424: `1 TIMESTAMP HOST APP PROCID MSGID SD MSG` (`-` for absent fields, structured
//!   data `[meta sequenceId="1"]`), with or without `<PRI>`;
//! - RFC 3164 `Mar  1 18:49:05` / `Mar 1 18:49:05` (optionally `.ffffff`), or rsyslog /
//!   journald ISO 8601 `2021-03-12T14:10:18Z`, then `HOST`, then `TAG:` / `TAG[PID]:`.
//!   The host may be absent (`Jan 22 18:34:00 filterlog: ...`), FreeBSD `<security.info>`
//!   and `user.info` facility words before the tag are skipped;
//! - a leading `TAG:` / `TAG[PID]:` without any timestamp (`kernel: ...`, `ipmon[11523]: ...`);
//! - a kernel uptime stamp `[  203.842973]` at the start of the message (or of the line,
//!   dmesg style `<6>[ 5739.482168] ...`).
//!
//! A line with none of these gets an empty header and the whole line as its message.

use crate::time::{In, NomError, Timestamp, offset_in, parse_iso8601, parse_rfc3164, run};
use crate::{Error, Result};
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{is_not, tag, take, take_till1};
use nom::character::complete::char;
use nom::combinator::{cut, map, opt, recognize, value};
use nom::multi::{many0_count, many1_count};
use nom::sequence::{delimited, preceded};

/// What the syslog header of a line says. Borrows from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyslogHeader<'a> {
    /// `<PRI>` value (facility * 8 + severity), 0–191.
    pub pri: Option<u8>,
    /// The header's timestamp.
    pub timestamp: Option<Timestamp<'a>>,
    /// Host name.
    pub host: Option<&'a [u8]>,
    /// Program tag (`kernel`, `/kernel`, `filterlog`, `ipmon`; RFC 5424 APP-NAME).
    pub tag: Option<&'a [u8]>,
    /// Process id (`tag[pid]:`, RFC 5424 PROCID when numeric).
    pub pid: Option<u32>,
    /// Kernel uptime stamp `[ 5739.482168]` in microseconds.
    pub uptime_us: Option<u64>,
    /// RFC 5424 STRUCTURED-DATA as written (`[meta sequenceId="1"]`); `None` for `-` and
    /// for other headers.
    pub structured_data: Option<&'a [u8]>,
    /// Everything after the timestamp (and its following spaces); everything after the
    /// `<PRI>` when there is no timestamp. Lets a format re-read the host/tag when the header guess does
    /// not fit it (a bare `Mar 1 18:49:05 TCP a:p b:p in` ipfw line has no host).
    pub after_timestamp: &'a [u8],
}

/// Longest tag accepted (RFC 3164 says 32; relays write longer ones).
pub const MAX_TAG_LEN: usize = 64;
/// Longest host name accepted.
pub const MAX_HOST_LEN: usize = 255;

/// Splits the syslog header off `line`: returns the header and the message that follows it.
///
/// Never panics; an error only when a header is clearly started but malformed (a `<PRI>`
/// out of range, an RFC 5424 header missing fields).
///
/// ```
/// use halfopen_fwlog::syslog::split;
/// let (h, msg) = split(b"Feb  3 16:02:58 lhotse /kernel: ipfw: 2700 Deny TCP 1.2.3.4:1103 5.6.7.8:135 in via tun0").unwrap();
/// assert_eq!(h.host, Some(&b"lhotse"[..]));
/// assert_eq!(h.tag, Some(&b"/kernel"[..]));
/// assert_eq!(h.timestamp.unwrap().day, 3);
/// assert!(msg.starts_with(b"ipfw: 2700"));
///
/// let (h, msg) = split(b"<134>1 2021-07-03T19:10:14.578288-05:00 pf.example filterlog 72237 - - 146,,,").unwrap();
/// assert_eq!((h.pri, h.pid), (Some(134), Some(72237)));
/// assert_eq!(msg, b"146,,,");
///
/// let (h, msg) = split(b"no header here").unwrap();
/// assert_eq!(h.timestamp, None);
/// assert_eq!(msg, b"no header here");
/// ```
pub fn split(line: &[u8]) -> Result<(SyslogHeader<'_>, &[u8])> {
    let mut h = SyslogHeader {
        after_timestamp: line,
        ..SyslogHeader::default()
    };
    let mut pos = 0usize;
    if let Some((pri, used)) = parse_pri(line)? {
        h.pri = Some(pri);
        pos = used;
    }
    pos = skip_spaces(line, pos);
    let rest = line.get(pos..).unwrap_or_default();
    // RFC 5424: version "1 " followed by a timestamp or "-".
    if rest.starts_with(b"1 ")
        && rest
            .get(2)
            .is_some_and(|c| c.is_ascii_digit() || *c == b'-')
    {
        return rfc5424(line, pos + 2, h);
    }
    let ts = if rest.first().is_some_and(u8::is_ascii_digit) {
        parse_iso8601(rest).ok()
    } else if rest.first().is_some_and(u8::is_ascii_alphabetic)
        && rest
            .get(..3)
            .and_then(crate::time::month_from_abbrev)
            .is_some()
        && rest.get(3) == Some(&b' ')
    {
        Some(parse_rfc3164(rest).map_err(|e| shift(e, pos))?)
    } else {
        None
    };
    let Some((ts, used)) = ts else {
        // No timestamp: maybe a dmesg uptime, maybe a bare tag.
        h.after_timestamp = rest;
        let (up, after) = uptime(line, pos);
        h.uptime_us = up;
        let mut mpos = after;
        if up.is_none() {
            if let Some((tag, pid, next)) = tag_at(line, pos) {
                h.tag = Some(tag);
                h.pid = pid;
                mpos = next;
                let (up, after) = uptime(line, mpos);
                h.uptime_us = up;
                mpos = after;
            }
        }
        return Ok((h, line.get(mpos..).unwrap_or_default()));
    };
    h.timestamp = Some(ts);
    pos = skip_spaces(line, pos + used);
    h.after_timestamp = line.get(pos..).unwrap_or_default();
    pos = skip_facility(line, pos);
    // Host, unless the first token is already the tag.
    if let Some((tag, pid, next)) = tag_at(line, pos) {
        h.tag = Some(tag);
        h.pid = pid;
        pos = next;
    } else if let Some((host, next)) = token(line, pos) {
        if next < line.len() && host.len() <= MAX_HOST_LEN {
            h.host = Some(host);
            pos = skip_facility(line, skip_spaces(line, next));
            if let Some((tag, pid, next)) = tag_at(line, pos) {
                h.tag = Some(tag);
                h.pid = pid;
                pos = next;
            }
        }
    }
    let (up, after) = uptime(line, pos);
    h.uptime_us = up;
    Ok((h, line.get(after..).unwrap_or_default()))
}

/// Moves a message-relative error offset to a line-relative one.
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

/// `<PRI>` at the start: Some((value, bytes used)).
fn parse_pri(line: &[u8]) -> Result<Option<(u8, usize)>> {
    if line.first() != Some(&b'<') || !line.get(1).is_some_and(u8::is_ascii_digit) {
        return Ok(None);
    }
    let mut v: u32 = 0;
    let mut i = 1;
    while let Some(c) = line.get(i).filter(|c| c.is_ascii_digit()) {
        if i > 3 {
            return Err(Error::syntax(i, "a PRI of at most 3 digits"));
        }
        v = v * 10 + u32::from(c - b'0');
        i += 1;
    }
    if line.get(i) != Some(&b'>') {
        return Err(Error::syntax(i, "'>' closing the PRI"));
    }
    if v > 191 {
        return Err(Error::syntax(1, "a PRI value 0-191"));
    }
    Ok(Some((v as u8, i + 1)))
}

fn skip_spaces(line: &[u8], mut pos: usize) -> usize {
    while line.get(pos) == Some(&b' ') {
        pos += 1;
    }
    pos
}

/// The space-delimited token at `pos`: (token, position after it).
fn token(line: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = line.get(pos..)?;
    let len = crate::scan::find_byte(b' ', rest).unwrap_or(rest.len());
    if len == 0 {
        return None;
    }
    Some((rest.get(..len)?, pos + len))
}

fn is_tag_byte(c: u8) -> bool {
    TAG_BYTES.get(usize::from(c)).copied().unwrap_or(false)
}

/// The bytes a syslog tag is made of (letters, digits, `_-./@`), one lookup per byte: two
/// tags are tried on every line (the host, then the tag).
const TAG_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'@');
        c += 1;
    }
    t
};

/// `TAG:` or `TAG[PID]:` followed by a space or the end: (tag, pid, message position).
fn tag_at(line: &[u8], pos: usize) -> Option<(&[u8], Option<u32>, usize)> {
    let rest = line.get(pos..)?;
    let n = rest
        .iter()
        .take(MAX_TAG_LEN + 1)
        .take_while(|c| is_tag_byte(**c))
        .count();
    if n == 0 || n > MAX_TAG_LEN {
        return None;
    }
    let tag = rest.get(..n)?;
    let mut i = n;
    let mut pid = None;
    if rest.get(i) == Some(&b'[') {
        let close = rest.get(i..)?.iter().take(12).position(|c| *c == b']')?;
        let digits = rest.get(i + 1..i + close)?;
        pid = parse_u32(digits);
        pid?;
        i += close + 1;
    }
    if rest.get(i) != Some(&b':') {
        return None;
    }
    i += 1;
    match rest.get(i) {
        None => Some((tag, pid, pos + i)),
        Some(b' ') => Some((tag, pid, pos + i + 1)),
        Some(_) => None,
    }
}

/// Skips FreeBSD `<security.info>` and `user.info` facility.level words at `pos`.
fn skip_facility(line: &[u8], pos: usize) -> usize {
    let Some((tok, next)) = token(line, pos) else {
        return pos;
    };
    let inner = tok
        .strip_prefix(b"<")
        .and_then(|t| t.strip_suffix(b">"))
        .unwrap_or(tok);
    // A short word: a plain loop, not memchr's vector set-up.
    let Some(dot) = inner.iter().position(|c| *c == b'.') else {
        return pos;
    };
    let level = inner.get(dot + 1..).unwrap_or_default();
    const LEVELS: [&[u8]; 11] = [
        b"emerg", b"alert", b"crit", b"err", b"error", b"warn", b"warning", b"notice", b"info",
        b"debug", b"panic",
    ];
    let fac = inner.get(..dot).unwrap_or_default();
    if LEVELS.contains(&level)
        && !fac.is_empty()
        && fac.iter().all(u8::is_ascii_lowercase)
        && next < line.len()
    {
        skip_spaces(line, next)
    } else {
        pos
    }
}

fn parse_u32(d: &[u8]) -> Option<u32> {
    if d.is_empty() || d.len() > 10 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in d {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
    }
    Some(v)
}

/// Kernel uptime stamp `[  203.842973]` at `pos`, followed by a space or the end:
/// (microseconds, position after it and one space).
fn uptime(line: &[u8], pos: usize) -> (Option<u64>, usize) {
    let none = (None, pos);
    let Some(rest) = line.get(skip_spaces(line, pos)..) else {
        return none;
    };
    let pos = skip_spaces(line, pos);
    if rest.first() != Some(&b'[') {
        return none;
    }
    let mut i = 1;
    while rest.get(i) == Some(&b' ') {
        i += 1;
    }
    let start = i;
    let mut secs: u64 = 0;
    while let Some(c) = rest.get(i).filter(|c| c.is_ascii_digit()) {
        if i - start >= 12 {
            return none;
        }
        secs = secs * 10 + u64::from(c - b'0');
        i += 1;
    }
    if i == start || rest.get(i) != Some(&b'.') {
        return none;
    }
    i += 1;
    let fstart = i;
    let mut frac: u64 = 0;
    while let Some(c) = rest.get(i).filter(|c| c.is_ascii_digit()) {
        if i - fstart >= 6 {
            return none;
        }
        frac = frac * 10 + u64::from(c - b'0');
        i += 1;
    }
    if i == fstart || rest.get(i) != Some(&b']') {
        return none;
    }
    for _ in (i - fstart)..6 {
        frac *= 10;
    }
    i += 1;
    match rest.get(i) {
        Some(b' ') => i += 1,
        None => {}
        // `[1.5]x`: not an uptime stamp (the kernel always writes a space after it).
        Some(_) => return none,
    }
    (Some(secs * 1_000_000 + frac), pos + i)
}

/// One RFC 5424 header field after its space: `SP token`, `-` meaning absent.
fn header_field<'a>() -> impl Parser<In<'a>, Output = Option<&'a [u8]>, Error = NomError<'a>> {
    map(
        preceded(char(' '), take_till1(|c| c == b' ')),
        |tok: In<'a>| (tok != b"-").then_some(tok),
    )
}

/// Runs `p` on `rest` (a suffix of `line`); a nom error becomes [`Error::Syntax`] at the
/// byte where the grammar stopped matching, naming `expected`.
fn run_at<'a, O>(
    line: &'a [u8],
    rest: &'a [u8],
    mut p: impl Parser<In<'a>, Output = O, Error = NomError<'a>>,
    expected: &'static str,
) -> Result<(In<'a>, O)> {
    p.parse(rest).map_err(|e| {
        let at = match &e {
            nom::Err::Error(e) | nom::Err::Failure(e) => e.input,
            nom::Err::Incomplete(_) => &[][..],
        };
        Error::syntax(offset_in(line, at), expected)
    })
}

/// RFC 5424 after `VERSION SP` at `pos`:
/// `TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP STRUCTURED-DATA [SP MSG]`.
fn rfc5424<'a>(
    line: &'a [u8],
    pos: usize,
    mut h: SyslogHeader<'a>,
) -> Result<(SyslogHeader<'a>, &'a [u8])> {
    let rest = line.get(pos..).unwrap_or_default();
    let r = match char::<_, NomError<'_>>('-').parse(rest) {
        Ok((r, _)) => r,
        Err(_) => {
            let (ts, used) = parse_iso8601(rest).map_err(|e| shift(e, pos))?;
            h.timestamp = Some(ts);
            rest.get(used..).unwrap_or_default()
        }
    };
    h.after_timestamp = r.get(1..).unwrap_or_default();
    let (r, host) = run_at(line, r, header_field(), "an RFC 5424 HOSTNAME")?;
    let (r, app) = run_at(line, r, header_field(), "an RFC 5424 APP-NAME")?;
    let (r, procid) = run_at(line, r, header_field(), "an RFC 5424 PROCID")?;
    let (r, _msgid) = run_at(line, r, header_field(), "an RFC 5424 MSGID")?;
    h.host = host;
    h.tag = app;
    h.pid = procid.and_then(parse_u32);
    let (sd, _) = run(line, r, char(' '), "structured data after MSGID")?;
    let r = match alt((value(false, char('-')), value(true, structured_data()))).parse(sd) {
        Ok((r, written)) => {
            h.structured_data = written
                .then(|| sd.get(..sd.len().saturating_sub(r.len())))
                .flatten();
            r
        }
        Err(nom::Err::Failure(e)) => {
            return Err(Error::syntax(
                offset_in(line, e.input),
                "']' closing the structured data",
            ));
        }
        Err(_) => {
            return Err(Error::syntax(
                offset_in(line, sd),
                "structured data ('-' or '[')",
            ));
        }
    };
    if r.is_empty() {
        return Ok((h, &[]));
    }
    let (msg, _) = run(line, r, char(' '), "a space before the message")?;
    let (msg, _) = opt(tag::<_, _, NomError<'_>>(&b"\xEF\xBB\xBF"[..]))
        .parse(msg)
        .unwrap_or((msg, None));
    // A kernel message relayed as RFC 5424 keeps its uptime stamp.
    let (up, after) = uptime(line, offset_in(line, msg));
    h.uptime_us = up;
    Ok((h, line.get(after..).unwrap_or_default()))
}

/// RFC 5424 STRUCTURED-DATA: one or more `[id k="v" ...]` elements, `\"`, `\\` and `\]`
/// escaped inside quoted values. Once a `[` is open, a missing `]` (or `"`) is a
/// [`nom::Err::Failure`] at the end of the line.
fn structured_data<'a>() -> impl Parser<In<'a>, Output = (), Error = NomError<'a>> {
    let quoted = delimited(
        char('"'),
        many0_count(alt((
            recognize(preceded(char('\\'), cut(take(1usize)))),
            is_not("\\\""),
        ))),
        cut(char('"')),
    );
    let element = delimited(
        char('['),
        many0_count(alt((value(0, quoted), value(0, is_not("\"]"))))),
        cut(char(']')),
    );
    value((), many1_count(element))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(b: &[u8]) -> &str {
        std::str::from_utf8(b).unwrap()
    }

    #[test]
    fn rfc3164_host_tag() {
        let line = b"Feb  3 08:00:02 ns3 kernel: ipfw: 900 Deny UDP 133.242.138.73:17500 255.255.255.255:17500 in via em0";
        let (h, m) = split(line).unwrap();
        let ts = h.timestamp.unwrap();
        assert_eq!(
            (ts.month, ts.day, ts.hour, ts.minute, ts.second),
            (2, 3, 8, 0, 2)
        );
        assert_eq!(s(ts.raw), "Feb  3 08:00:02");
        assert_eq!(h.host, Some(&b"ns3"[..]));
        assert_eq!(h.tag, Some(&b"kernel"[..]));
        assert!(m.starts_with(b"ipfw: 900 Deny"));
    }

    #[test]
    fn unpadded_day_and_bare_ipfw() {
        let line = b"Mar 1 18:49:05 TCP 45.76.87.206:58896 116.58.172.107:80 in";
        let (h, _m) = split(line).unwrap();
        assert_eq!(h.timestamp.unwrap().day, 1);
        assert_eq!(
            s(h.after_timestamp),
            "TCP 45.76.87.206:58896 116.58.172.107:80 in"
        );
    }

    #[test]
    fn freebsd_facility_and_no_host() {
        let (h, m) = split(b"Mar 17 23:43:27 <security.info> FW kernel: ipfw: 9999 Deny UDP 192.168.xx.xx:5353 224.0.0.251:5353 in via em0").unwrap();
        assert_eq!((h.host, h.tag), (Some(&b"FW"[..]), Some(&b"kernel"[..])));
        assert!(m.starts_with(b"ipfw: 9999"));
        let (h, m) = split(b"Jan 22 18:34:00 filterlog: 65,,,0,vmx1").unwrap();
        assert_eq!((h.host, h.tag), (None, Some(&b"filterlog"[..])));
        assert_eq!(m, b"65,,,0,vmx1");
        let (h, m) = split(b"<134>Jul  3 19:10:30 filterlog[72237]: 146,,,").unwrap();
        assert_eq!(
            (h.pri, h.tag, h.pid),
            (Some(134), Some(&b"filterlog"[..]), Some(72237))
        );
        assert_eq!(m, b"146,,,");
        let (h, m) =
            split(b"May  5 20:46:45 My-Office-Gateway user.info kernel: TTL=126 ID=15317").unwrap();
        assert_eq!(
            (h.host, h.tag),
            (Some(&b"My-Office-Gateway"[..]), Some(&b"kernel"[..]))
        );
        assert_eq!(m, b"TTL=126 ID=15317");
    }

    #[test]
    fn uptime_forms() {
        let (h, m) =
            split(b"Sep 27 20:56:38 ubuntu-focal kernel: [  203.842973] IPTABLES-DROP: IN=lo OUT=")
                .unwrap();
        assert_eq!(h.uptime_us, Some(203_842_973));
        assert_eq!(m, b"IPTABLES-DROP: IN=lo OUT=");
        let (h, m) = split(b"<6>[ 5739.482168] CMWRAP IN= OUT=ppp0").unwrap();
        assert_eq!((h.pri, h.uptime_us), (Some(6), Some(5_739_482_168)));
        assert_eq!(m, b"CMWRAP IN= OUT=ppp0");
        let (h, _) =
            split(b"Jun  8 14:34:33 sd-126005 kernel: [50028442.088484] IN=enp1s0").unwrap();
        assert_eq!(h.uptime_us, Some(50_028_442_088_484));
    }

    #[test]
    fn iso_forms() {
        let (h, m) =
            split(b"<6>2021-03-12T14:10:18Z Hostname kernel: [wan-lan-default-D]IN=eth0 OUT=")
                .unwrap();
        let ts = h.timestamp.unwrap();
        assert_eq!((ts.year, ts.utc_offset), (Some(2021), Some(0)));
        assert_eq!(h.host, Some(&b"Hostname"[..]));
        assert_eq!(m, b"[wan-lan-default-D]IN=eth0 OUT=");
        let (h, _) =
            split(b"2015-03-07T05:09:30.045015+02:00 servername kernel: DROP: IN=eth0").unwrap();
        let ts = h.timestamp.unwrap();
        assert_eq!((ts.nanos, ts.utc_offset), (45_015_000, Some(7200)));
        let (h, _) = split(b"2013-03-05T15:28:14+0100 host kernel: x").unwrap();
        assert_eq!(h.timestamp.unwrap().utc_offset, Some(3600));
    }

    #[test]
    fn rfc5424_forms() {
        let (h, m) = split(b"<134>1 2022-06-09T14:44:11-06:00 OPNsense.example.com filterlog 76404 - [meta sequenceId=\"1\"] 124,,,fae5").unwrap();
        assert_eq!(h.host, Some(&b"OPNsense.example.com"[..]));
        assert_eq!((h.tag, h.pid), (Some(&b"filterlog"[..]), Some(76404)));
        assert_eq!(m, b"124,,,fae5");
        assert_eq!(h.structured_data, Some(&b"[meta sequenceId=\"1\"]"[..]));
        let (h, m) = split(b"1 2021-08-04T06:59:07.691848+04:00 BBFW01.posoiden.local filterlog 48906 - - 98,,,1627710987").unwrap();
        assert_eq!(h.structured_data, None);
        assert_eq!(h.pri, None);
        assert_eq!(h.timestamp.unwrap().utc_offset, Some(4 * 3600));
        assert_eq!(m, b"98,,,1627710987");
        let (h, m) = split(b"<14>1 - - - - - [a x=\"q\\]\"][b] msg").unwrap();
        assert_eq!((h.timestamp, h.host, h.tag), (None, None, None));
        assert_eq!(h.structured_data, Some(&b"[a x=\"q\\]\"][b]"[..]));
        assert_eq!(m, b"msg");
        assert!(matches!(
            split(b"<134>1 2022-06-09T14:44:11Z host app"),
            Err(Error::Syntax { .. })
        ));
        assert!(matches!(
            split(b"<14>1 - - - - - [unterminated"),
            Err(Error::Syntax { .. })
        ));
    }

    #[test]
    fn no_header_and_bare_tag() {
        let l = b"iptables DROP_INPUT: IN=eth0 OUT= MAC=dc";
        let (h, m) = split(l).unwrap();
        assert_eq!(
            h,
            SyslogHeader {
                after_timestamp: l,
                ..SyslogHeader::default()
            }
        );
        assert_eq!(m, l);
        let (h, m) = split(b"kernel: Dropped outbound packet: IN= OUT=lo").unwrap();
        assert_eq!(h.tag, Some(&b"kernel"[..]));
        assert_eq!(m, b"Dropped outbound packet: IN= OUT=lo");
        let (h, m) = split(b"ipmon[11523]: [ID 702911 local0.warning] 09:30:39.300795").unwrap();
        assert_eq!((h.tag, h.pid), (Some(&b"ipmon"[..]), Some(11523)));
        assert_eq!(m, b"[ID 702911 local0.warning] 09:30:39.300795");
        let (h, m) = split(b"").unwrap();
        assert_eq!((h.tag, m), (None, &b""[..]));
    }

    #[test]
    fn bad_headers() {
        assert!(matches!(
            split(b"<999>x"),
            Err(Error::Syntax { offset: 1, .. })
        ));
        assert!(matches!(
            split(b"<13 x"),
            Err(Error::Syntax { offset: 3, .. })
        ));
        assert!(matches!(
            split(b"Mar 40 10:00:00 h t: x"),
            Err(Error::Syntax { offset: 4, .. })
        ));
        assert!(matches!(
            split(b"<13>Mar  1 25:00:00 h"),
            Err(Error::Syntax { offset: 11, .. })
        ));
    }

    /// The nom grammars report the same offsets and expectations as the hand-written scan did.
    #[test]
    fn rfc5424_error_offsets() {
        let at = |l: &[u8]| match split(l) {
            Err(Error::Syntax {
                offset, expected, ..
            }) => (offset, expected),
            other => panic!("{other:?}"),
        };
        assert_eq!(at(b"<1>1 -"), (6, "an RFC 5424 HOSTNAME"));
        assert_eq!(at(b"<1>1 - "), (7, "an RFC 5424 HOSTNAME"));
        assert_eq!(at(b"<1>1 - h a p"), (12, "an RFC 5424 MSGID"));
        assert_eq!(at(b"<1>1 - h a p m"), (14, "structured data after MSGID"));
        assert_eq!(
            at(b"<1>1 - h a p m x"),
            (15, "structured data ('-' or '[')")
        );
        assert_eq!(at(b"<1>1 - h a p m -x"), (16, "a space before the message"));
        assert_eq!(
            at(b"<1>1 - h a p m [a][b"),
            (20, "']' closing the structured data")
        );
        assert_eq!(
            at(b"<1>1 - h a p m [a k=\"v]"),
            (23, "']' closing the structured data")
        );
        assert_eq!(
            at(b"<1>1 - h a p m [a k=\"\\"),
            (22, "']' closing the structured data")
        );
        assert_eq!(
            at(b"<1>1 2021-13-01T00:00:00Z h"),
            (10, "a valid month and day")
        );
        assert_eq!(
            at(b"<1>1 2021-01-01 00:00:00Z h"),
            (15, "'T' between date and time")
        );
        assert_eq!(at(b"<1>1 2021-01-01T24:00:00Z h"), (16, "a time HH:MM:SS"));
        assert_eq!(
            at(b"<1>1 2021-01-01T00:00:00. h"),
            (25, "a digit after the decimal point")
        );
        assert_eq!(
            at(b"<1>1 2021-01-01T00:00:00.1234567890Z h"),
            (34, "at most 9 fraction digits")
        );
        assert_eq!(at(b"<1>1 2021-01-01T00:00:00+1 h"), (25, "offset hours"));
        assert_eq!(
            at(b"<1>1 2021-01-01T00:00:00+01:x h"),
            (28, "offset minutes")
        );
        assert_eq!(
            at(b"<1>1 2021-01-01T00:00:00+25 h"),
            (25, "an offset below 24:00")
        );
        let (h, m) = split(b"<1>1 - h a p m [a k=\"x\\\"]\" y=\"]\"][b] \xEF\xBB\xBFmsg").unwrap();
        assert_eq!(
            (h.host, h.tag, h.pid),
            (Some(&b"h"[..]), Some(&b"a"[..]), None)
        );
        assert_eq!(m, b"msg");
        let (h, m) = split(b"<1>1 2021-01-01T00:00:00+0130 h a 7 m -").unwrap();
        assert_eq!(
            (h.timestamp.unwrap().utc_offset, h.pid),
            (Some(5400), Some(7))
        );
        assert_eq!(m, b"");
    }
}
