//! Error logs: Apache 2.2 (`[date] [level] [client ip] msg`), Apache 2.4 (default
//! `ErrorLogFormat`, `%{cu}t`/`%{cuz}t` times, bracket pieces in any order), nginx
//! (`yyyy/mm/dd HH:MM:SS [level] pid#tid: *conn msg, client: ...`), syslog-wrapped lines
//! (`Feb 15 16:23:00 host httpd[1]: [...]`, no time: syslog drops Apache's own stamp) and
//! Apache's bare start-up lines (`AH00558: ...`).
//!
//! Error-log times carry no zone (except `%{cuz}t`): [`parse`] reads them as UTC,
//! [`parse_with`] as local time at a given offset.
//!
//! ```
//! use halfopen_weblog::error_log::{self, Known, Level};
//! let r = error_log::parse(b"[Tue Nov 24 20:50:30.336238 2026] [reqtimeout:info] [pid 13638:tid 13773] [client 127.0.0.1:41006] AH01382: Request header read timeout").unwrap();
//! assert_eq!(r.code.and_then(|c| c.known()), Some(Known::RequestHeaderReadTimeout));
//! assert_eq!((r.client_port, r.level), (Some(41006), Some(Level::Info)));
//! assert_eq!(r.time.unwrap().ts_us, 1_795_553_430_336_238);
//! ```

use std::net::IpAddr;

use crate::error::{Error, Expected, Result};
use crate::parse::parse_ip;
use crate::time::{self, LogTime, instant, month_from_abbr, parse_u64};

/// Longest error line accepted.
pub const MAX_LINE_LEN: usize = 65_536;

/// Severity, as written by Apache (`trace1`..`trace8` included) or nginx.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `emerg`.
    Emerg,
    /// `alert`.
    Alert,
    /// `crit`.
    Crit,
    /// `error`.
    Error,
    /// `warn`.
    Warn,
    /// `notice`.
    Notice,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
    /// `trace1`..`trace8`.
    Trace(u8),
}

impl Level {
    /// Parse a level word.
    pub fn parse(b: &[u8]) -> Option<Level> {
        Some(match b {
            b"emerg" => Level::Emerg,
            b"alert" => Level::Alert,
            b"crit" => Level::Crit,
            b"error" => Level::Error,
            b"warn" => Level::Warn,
            b"notice" => Level::Notice,
            b"info" => Level::Info,
            b"debug" => Level::Debug,
            [b't', b'r', b'a', b'c', b'e', d @ b'1'..=b'8'] => Level::Trace(d - b'0'),
            _ => return None,
        })
    }
}

/// An Apache `AHnnnnn` message code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AhCode(pub u32);

/// The AH codes that matter for connections that never became (or barely became) a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Known {
    /// AH01382 (mod_reqtimeout): the client did not send its headers in time (slowloris, idle
    /// preconnects).
    RequestHeaderReadTimeout,
    /// AH00135: invalid method (also 2.2's "Invalid method in request", e.g. TLS on port 80).
    InvalidMethod,
    /// AH00126: invalid URI in request.
    InvalidUri,
    /// AH00565: request line longer than `LimitRequestLine` (414).
    RequestLineTooLong,
    /// AH00566: malformed request line.
    MalformedRequestLine,
    /// AH00567: error reading the headers (client closed or timed out).
    ErrorReadingHeaders,
    /// AH00569: HTTP/1.1 request without a Host header.
    MissingHost,
    /// AH02427: malformed request header value.
    MalformedHeader,
    /// AH01964: TLS connection accepted by a child.
    SslConnectionEstablished,
    /// AH01991: SSL input filter read failed.
    SslInputFilterReadFailed,
    /// AH01996: plain HTTP spoken on the HTTPS port.
    SslHandshakeFailedHttpOnHttps,
    /// AH01998: connection closed with abortive shutdown.
    SslClosedAbortive,
    /// AH02001: connection closed with standard shutdown.
    SslClosedStandard,
    /// AH02006: TLS handshake stopped, the client closed the connection.
    SslHandshakeStoppedClosed,
    /// AH02007: TLS handshake interrupted by the system.
    SslHandshakeInterrupted,
    /// AH02008: TLS library error during the handshake.
    SslHandshakeLibraryError,
    /// AH00128: file does not exist.
    FileDoesNotExist,
    /// AH01630 / AH01797: client denied by server configuration.
    ClientDenied,
}

impl AhCode {
    /// The typed meaning of the code, for the codes this crate knows.
    pub fn known(self) -> Option<Known> {
        Some(match self.0 {
            1382 => Known::RequestHeaderReadTimeout,
            135 => Known::InvalidMethod,
            126 => Known::InvalidUri,
            565 => Known::RequestLineTooLong,
            566 => Known::MalformedRequestLine,
            567 => Known::ErrorReadingHeaders,
            569 => Known::MissingHost,
            2427 => Known::MalformedHeader,
            1964 => Known::SslConnectionEstablished,
            1991 => Known::SslInputFilterReadFailed,
            1996 => Known::SslHandshakeFailedHttpOnHttps,
            1998 => Known::SslClosedAbortive,
            2001 => Known::SslClosedStandard,
            2006 => Known::SslHandshakeStoppedClosed,
            2007 => Known::SslHandshakeInterrupted,
            2008 => Known::SslHandshakeLibraryError,
            128 => Known::FileDoesNotExist,
            1630 | 1797 => Known::ClientDenied,
            _ => return None,
        })
    }
}

impl Known {
    /// True for events that mean the connection never produced a valid request.
    pub fn never_became_request(self) -> bool {
        matches!(
            self,
            Known::RequestHeaderReadTimeout
                | Known::InvalidMethod
                | Known::InvalidUri
                | Known::RequestLineTooLong
                | Known::MalformedRequestLine
                | Known::ErrorReadingHeaders
                | Known::SslHandshakeFailedHttpOnHttps
                | Known::SslHandshakeStoppedClosed
                | Known::SslHandshakeInterrupted
                | Known::SslHandshakeLibraryError
        )
    }
}

/// Which kind of error line it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorFlavor {
    /// Apache 2.0/2.2: `[date] [level] ...`.
    Apache22,
    /// Apache 2.4: `[date] [module:level] [pid N:tid T] ...`.
    Apache24,
    /// nginx.
    Nginx,
    /// Apache start-up line written before the log was opened (`AH00558: ...`), no prefix.
    Bare,
}

/// One error-log line, parsed (borrows from the line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRecord<'a> {
    /// Which layout the line has.
    pub flavor: ErrorFlavor,
    /// The time (see the module docs for the zone); `None` for syslog-wrapped and bare lines.
    pub time: Option<LogTime>,
    /// The syslog header (`Feb 15 16:23:00 srv httpd[22034]:`) when the line was wrapped.
    pub syslog_prefix: Option<&'a [u8]>,
    /// Apache 2.4 module (`core`, `ssl`, `reqtimeout`; `Some(b"")` for `[:error]`).
    pub module: Option<&'a [u8]>,
    /// Severity.
    pub level: Option<Level>,
    /// Process id.
    pub pid: Option<u32>,
    /// Thread id.
    pub tid: Option<u64>,
    /// nginx connection number (`*46`).
    pub connection: Option<u64>,
    /// Source location (`mod_rewrite.c(470)`), Apache 2.4 debug/trace lines.
    pub source: Option<&'a [u8]>,
    /// APR/OS error (`(70014)End of file found`).
    pub os_error: Option<&'a [u8]>,
    /// Client address (`[client a:p]`, `[remote a:p]`, nginx `client: a`).
    pub client: Option<IpAddr>,
    /// Client port, when logged (Apache 2.4).
    pub client_port: Option<u16>,
    /// The AH code.
    pub code: Option<AhCode>,
    /// The message (after the code), without Apache's `, referer: ...` suffix. For nginx, the
    /// whole text after `*conn` (including `, client: ...`).
    pub message: &'a [u8],
    /// Apache's `, referer: ...` suffix.
    pub referer: Option<&'a [u8]>,
    /// nginx `request: "..."`, without the quotes (raw bytes: nginx does not escape it).
    pub request: Option<&'a [u8]>,
}

impl<'a> ErrorRecord<'a> {
    /// A record of `flavor` with every field unset (parsers fill in what the line gives).
    pub(crate) fn empty(flavor: ErrorFlavor) -> ErrorRecord<'a> {
        ErrorRecord {
            flavor,
            time: None,
            syslog_prefix: None,
            module: None,
            level: None,
            pid: None,
            tid: None,
            connection: None,
            source: None,
            os_error: None,
            client: None,
            client_port: None,
            code: None,
            message: &[],
            referer: None,
            request: None,
        }
    }
}

impl ErrorRecord<'_> {
    /// The typed meaning: the AH code when known, else a recognised Apache 2.2 wording
    /// (`Invalid method in request`, `request failed: error reading the headers`, ...).
    pub fn known(&self) -> Option<Known> {
        if let Some(k) = self.code.and_then(AhCode::known) {
            return Some(k);
        }
        let m = self.message;
        let has = |p: &[u8]| memchr::memmem::find(m, p).is_some();
        if m.starts_with(b"Invalid method in request") {
            Some(Known::InvalidMethod)
        } else if m.starts_with(b"Invalid URI in request") {
            Some(Known::InvalidUri)
        } else if has(b"request failed: error reading the headers") {
            Some(Known::ErrorReadingHeaders)
        } else if has(b"request failed: URI too long") {
            Some(Known::RequestLineTooLong)
        } else if has(b"request failed: malformed request line") {
            Some(Known::MalformedRequestLine)
        } else {
            None
        }
    }
}

fn syntax(offset: usize, what: &'static str) -> Error {
    Error::Syntax {
        offset,
        expected: Expected::Text(what),
    }
}

/// Parse an error line, reading zone-less times as UTC. See [`parse_with`].
pub fn parse(line: &[u8]) -> Result<ErrorRecord<'_>> {
    parse_with(line, 0)
}

/// Parse an error line, reading zone-less times as local time at `offset_secs` east of UTC.
pub fn parse_with(line: &[u8], offset_secs: i32) -> Result<ErrorRecord<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.len() > MAX_LINE_LEN {
        return Err(Error::LineTooLong {
            len: line.len(),
            max: MAX_LINE_LEN,
        });
    }
    if line.is_empty() {
        return Err(Error::Empty);
    }
    let mut rec = ErrorRecord::empty(ErrorFlavor::Apache22);
    let first = line.first().copied().unwrap_or(0);
    if first == b'[' {
        apache(line, 0, offset_secs, &mut rec)?;
    } else if first.is_ascii_digit() && line.get(4) == Some(&b'/') {
        nginx(line, offset_secs, &mut rec)?;
    } else if line.starts_with(b"AH") && code_at(line, 0).is_some() {
        rec.flavor = ErrorFlavor::Bare;
        tail(line, 0, &mut rec);
    } else if let Some(body) = syslog_body(line) {
        rec.syslog_prefix = line.get(..body.saturating_sub(2));
        match line.get(body) {
            Some(b'[') => apache_after_time(line, body, &mut rec)?,
            Some(c) if c.is_ascii_digit() => {
                nginx(line.get(body..).unwrap_or_default(), offset_secs, &mut rec)
                    .map_err(|e| shift(e, body))?;
            }
            _ => return Err(syntax(body, "'[' or a date after the syslog header")),
        }
    } else {
        return Err(syntax(
            0,
            "'[date]', 'yyyy/mm/dd', 'AHnnnnn:' or a syslog header",
        ));
    }
    Ok(rec)
}

fn shift(e: Error, by: usize) -> Error {
    match e {
        Error::Syntax { offset, expected } => Error::Syntax {
            offset: offset + by,
            expected,
        },
        other => other,
    }
}

/// `[Mmm dd HH:MM:SS] host tag[pid]: ` (possibly repeated, as relays do) -> offset of the body:
/// the first `": "` (among the first few, within 256 bytes) followed by `[` or a `yyyy/` date.
fn syslog_body(line: &[u8]) -> Option<usize> {
    let head = line.get(..line.len().min(256))?;
    for k in memchr::memmem::find_iter(head, b": ").take(4) {
        let body = k + 2;
        let rest = line.get(body..)?;
        if rest.first() == Some(&b'[')
            || (rest.get(..4)?.iter().all(u8::is_ascii_digit) && rest.get(4) == Some(&b'/'))
        {
            // the prefix must look like a syslog tag: no brackets before the tag's `[pid]`
            return Some(body);
        }
    }
    None
}

pub(crate) fn code_at(line: &[u8], i: usize) -> Option<AhCode> {
    let b = line.get(i..i + 8)?;
    if b.get(..2)? != b"AH" || b.get(7)? != &b':' {
        return None;
    }
    let n = parse_u64(b.get(2..7)?)?;
    Some(AhCode(u32::try_from(n).ok()?))
}

/// Apache `apr_ctime`-style `Tue Nov 24 20:50:18.736671 2026` or ISO `2025-07-22 15:45:51.323610 +0200`.
pub(crate) fn apache_time(b: &[u8], offset_secs: i32) -> Option<LogTime> {
    if b.first()?.is_ascii_digit() {
        // %{cu}t / %{cuz}t
        let date = b.get(..10)?;
        let year = i64::from(parse_u64(date.get(..4)?)? as u32);
        let month = parse_u64(date.get(5..7)?)? as u32;
        let day = parse_u64(date.get(8..10)?)? as u32;
        let mut rest = b.get(11..)?;
        let (h, mi, s) = hms(rest)?;
        rest = rest.get(8..)?;
        let mut frac = 0;
        if let Some(r) = rest.strip_prefix(b".") {
            let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
            frac = time::frac_to_us(r.get(..n)?)?;
            rest = r.get(n..)?;
        }
        let off = match rest.strip_prefix(b" ") {
            Some(z) => time::parse_offset(z)?,
            None if rest.is_empty() => offset_secs,
            None => return None,
        };
        let ts = instant(year, month, day, h, mi, s, off)?;
        return Some(LogTime {
            ts_us: ts.checked_add(frac)?,
            utc_offset_secs: off,
            at_end: false,
        });
    }
    // Www Mmm dd HH:MM:SS[.ffffff] yyyy
    let month = month_from_abbr(b.get(4..7)?)?;
    let day_b = b.get(8..10)?;
    let day = match day_b {
        [b' ', d] if d.is_ascii_digit() => u32::from(d - b'0'),
        _ => parse_u64(day_b)? as u32,
    };
    let t = b.get(11..)?;
    let (h, mi, s) = hms(t)?;
    let mut rest = t.get(8..)?;
    let mut frac = 0;
    if let Some(r) = rest.strip_prefix(b".") {
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        frac = time::frac_to_us(r.get(..n)?)?;
        rest = r.get(n..)?;
    }
    let year = rest.strip_prefix(b" ")?;
    if year.len() != 4 {
        return None;
    }
    let year = i64::try_from(parse_u64(year)?).ok()?;
    let ts = instant(year, month, day, h, mi, s, offset_secs)?;
    Some(LogTime {
        ts_us: ts.checked_add(frac)?,
        utc_offset_secs: offset_secs,
        at_end: false,
    })
}

fn hms(t: &[u8]) -> Option<(u32, u32, u32)> {
    if t.get(2) != Some(&b':') || t.get(5) != Some(&b':') {
        return None;
    }
    Some((
        parse_u64(t.get(..2)?)? as u32,
        parse_u64(t.get(3..5)?)? as u32,
        parse_u64(t.get(6..8)?)? as u32,
    ))
}

fn apache<'a>(
    line: &'a [u8],
    start: usize,
    offset_secs: i32,
    rec: &mut ErrorRecord<'a>,
) -> Result<()> {
    let rest = line.get(start + 1..).unwrap_or_default();
    let close =
        memchr::memchr(b']', rest).ok_or_else(|| syntax(line.len(), "']' closing the date"))?;
    let stamp = rest.get(..close).unwrap_or_default();
    rec.time = Some(
        apache_time(stamp, offset_secs)
            .ok_or_else(|| syntax(start + 1, "a date like 'Tue Nov 24 20:50:18.736671 2026'"))?,
    );
    apache_after_time(line, start + 1 + close + 1, rec)
}

/// Index of the `]` closing a bracket piece whose content starts `b` (skipping the inner
/// brackets of `client [v6]:port`).
fn closing_bracket(b: &[u8]) -> Option<usize> {
    for prefix in [&b"client ["[..], b"remote ["] {
        if b.starts_with(prefix) {
            let inner = memchr::memmem::find(b, b"]:")?;
            return memchr::memchr(b']', b.get(inner + 2..)?).map(|c| c + inner + 2);
        }
    }
    memchr::memchr(b']', b)
}

pub(crate) fn split_addr_port(b: &[u8]) -> (Option<IpAddr>, Option<u16>) {
    if let Some(ip) = parse_ip(b) {
        return (Some(ip), None);
    }
    // a.b.c.d:port or v6:port (Apache 2.4 writes IPv6 without brackets)
    let b = b.strip_prefix(b"[").unwrap_or(b);
    if let Some(c) = memchr::memrchr(b':', b) {
        let host = b.get(..c).unwrap_or_default();
        let host = host.strip_suffix(b"]").unwrap_or(host);
        let port = b
            .get(c + 1..)
            .and_then(parse_u64)
            .and_then(|p| u16::try_from(p).ok());
        if let (Some(ip), Some(p)) = (parse_ip(host), port) {
            return (Some(ip), Some(p));
        }
    }
    (None, None)
}

fn apache_after_time<'a>(line: &'a [u8], mut i: usize, rec: &mut ErrorRecord<'a>) -> Result<()> {
    // Bracketed pieces in any order: [module:level] [level] [pid N:tid T] [client a:p] [remote a:p]
    loop {
        while line.get(i) == Some(&b' ') {
            i += 1;
        }
        if line.get(i) != Some(&b'[') {
            break;
        }
        let inner_start = i + 1;
        let Some(close) = closing_bracket(line.get(inner_start..).unwrap_or_default()) else {
            break;
        };
        let inner = line
            .get(inner_start..inner_start + close)
            .unwrap_or_default();
        if let Some(p) = inner.strip_prefix(b"pid ") {
            let (pid, tid) = match memchr::memmem::find(p, b":tid ") {
                Some(k) => (p.get(..k), p.get(k + 5..)),
                None => (Some(p), None),
            };
            rec.pid = pid.and_then(parse_u64).and_then(|n| u32::try_from(n).ok());
            rec.tid = tid.and_then(parse_u64);
            rec.flavor = ErrorFlavor::Apache24;
        } else if let Some(a) = inner
            .strip_prefix(b"client ")
            .or_else(|| inner.strip_prefix(b"remote "))
        {
            if rec.client.is_some() {
                break; // a second [client] is part of the message (mod_security)
            }
            let (ip, port) = split_addr_port(a);
            if ip.is_none() {
                break;
            }
            rec.client = ip;
            rec.client_port = port;
        } else if rec.level.is_none() {
            let (module, level) = match memchr::memrchr(b':', inner) {
                Some(c) => (inner.get(..c), inner.get(c + 1..).unwrap_or_default()),
                None => (None, inner),
            };
            let Some(level) = Level::parse(level) else {
                break;
            };
            rec.level = Some(level);
            rec.module = module;
            if module.is_some() {
                rec.flavor = ErrorFlavor::Apache24;
            }
        } else {
            break;
        }
        i = inner_start + close + 1;
    }
    if rec.level.is_none() {
        return Err(syntax(i, "'[level]' or '[module:level]'"));
    }
    // 2.4: optional "file.c(NNN): " then "(errno)text: " then "[client ...] " then "AHnnnnn: ".
    let rest = line.get(i..).unwrap_or_default();
    if let Some(sp) = memchr::memchr(b' ', rest) {
        let tok = rest.get(..sp).unwrap_or_default();
        if tok.ends_with(b"):") && memchr::memchr(b'(', tok).is_some_and(|p| p > 0) {
            rec.source = tok.get(..tok.len() - 1);
            i += sp + 1;
        }
    }
    let rest = line.get(i..).unwrap_or_default();
    if rest.first() == Some(&b'(') {
        let digits = rest
            .get(1..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits > 0 && rest.get(1 + digits) == Some(&b')') {
            if let Some(k) = memchr::memmem::find(rest, b": ") {
                rec.os_error = rest.get(..k);
                i += k + 2;
            }
        }
    }
    if rec.client.is_none()
        && line
            .get(i..)
            .is_some_and(|r| r.starts_with(b"[client ") || r.starts_with(b"[remote "))
    {
        if let Some(close) = closing_bracket(line.get(i + 1..).unwrap_or_default()).map(|c| c + 1) {
            let (ip, port) = split_addr_port(line.get(i + 8..i + close).unwrap_or_default());
            if ip.is_some() {
                rec.client = ip;
                rec.client_port = port;
                i += close + 1;
                if line.get(i) == Some(&b' ') {
                    i += 1;
                }
            }
        }
    }
    tail(line, i, rec);
    Ok(())
}

fn tail<'a>(line: &'a [u8], mut i: usize, rec: &mut ErrorRecord<'a>) {
    if let Some(c) = code_at(line, i) {
        rec.code = Some(c);
        i += 8;
        if line.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    let mut msg = line.get(i..).unwrap_or_default();
    if let Some(k) = memchr::memmem::rfind(msg, b", referer: ") {
        rec.referer = msg.get(k + 11..);
        msg = msg.get(..k).unwrap_or_default();
    } else if let Some(stripped) = msg.strip_suffix(b", referer: ") {
        rec.referer = Some(&[]);
        msg = stripped;
    }
    rec.message = msg;
}

fn nginx<'a>(line: &'a [u8], offset_secs: i32, rec: &mut ErrorRecord<'a>) -> Result<()> {
    rec.flavor = ErrorFlavor::Nginx;
    let d = line
        .get(..19)
        .ok_or_else(|| syntax(0, "'yyyy/mm/dd HH:MM:SS'"))?;
    let bad_date = || syntax(0, "'yyyy/mm/dd HH:MM:SS'");
    if d.get(4) != Some(&b'/') || d.get(7) != Some(&b'/') || d.get(10) != Some(&b' ') {
        return Err(bad_date());
    }
    let year = parse_u64(d.get(..4).unwrap_or_default()).ok_or_else(bad_date)?;
    let month = parse_u64(d.get(5..7).unwrap_or_default()).ok_or_else(bad_date)?;
    let day = parse_u64(d.get(8..10).unwrap_or_default()).ok_or_else(bad_date)?;
    let (h, mi, s) = hms(d.get(11..).unwrap_or_default()).ok_or_else(bad_date)?;
    let ts = instant(year as i64, month as u32, day as u32, h, mi, s, offset_secs)
        .ok_or_else(bad_date)?;
    rec.time = Some(LogTime {
        ts_us: ts,
        utc_offset_secs: offset_secs,
        at_end: false,
    });
    let mut i = 19;
    if line.get(i..i + 2) != Some(b" [") {
        return Err(syntax(i, "' [level]'"));
    }
    i += 2;
    let close = memchr::memchr(b']', line.get(i..).unwrap_or_default())
        .ok_or_else(|| syntax(i, "a level and ']'"))?;
    rec.level = Some(
        Level::parse(line.get(i..i + close).unwrap_or_default())
            .ok_or_else(|| syntax(i, "a level"))?,
    );
    i += close + 1;
    if line.get(i) != Some(&b' ') {
        return Err(syntax(i, "' pid#tid:'"));
    }
    i += 1;
    let hash = memchr::memchr(b'#', line.get(i..).unwrap_or_default())
        .ok_or_else(|| syntax(i, "'pid#tid:'"))?;
    rec.pid = line
        .get(i..i + hash)
        .and_then(parse_u64)
        .and_then(|n| u32::try_from(n).ok());
    if rec.pid.is_none() {
        return Err(syntax(i, "a pid"));
    }
    i += hash + 1;
    let colon = memchr::memchr(b':', line.get(i..).unwrap_or_default())
        .ok_or_else(|| syntax(i, "'tid:'"))?;
    rec.tid = line.get(i..i + colon).and_then(parse_u64);
    if rec.tid.is_none() {
        return Err(syntax(i, "a thread id"));
    }
    i += colon + 1;
    if line.get(i) == Some(&b' ') {
        i += 1;
    }
    if line.get(i) == Some(&b'*') {
        let n = line
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        rec.connection = line.get(i + 1..i + 1 + n).and_then(parse_u64);
        i += 1 + n;
        if line.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    let msg = line.get(i..).unwrap_or_default();
    rec.message = msg;
    // nginx appends `, client: A, server: S, request: "R", ...` to the message. Both the
    // message (user names) and the request are attacker-controlled and not escaped, so take the
    // last `, request: "` and the last `, client: ` before it (fail2ban's choice for the
    // injection sample in its tests).
    let req_at = memchr::memmem::rfind(msg, b", request: \"");
    let before = msg.get(..req_at.unwrap_or(msg.len())).unwrap_or_default();
    if let Some(k) = memchr::memmem::rfind(before, b", client: ") {
        let a = msg.get(k + 10..).unwrap_or_default();
        let end = memchr::memchr(b',', a).unwrap_or(a.len());
        rec.client = a.get(..end).and_then(parse_ip);
    }
    if let Some(k) = req_at {
        let r = msg.get(k + 12..).unwrap_or_default();
        // nginx does not escape the request: take up to the `", ` that starts the next item.
        let end =
            memchr::memmem::find(r, b"\", ").or_else(|| r.strip_suffix(b"\"").map(<[u8]>::len));
        rec.request = end.and_then(|e| r.get(..e));
    }
    Ok(())
}
