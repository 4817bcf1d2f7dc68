//! Matching a line against a compiled format (memchr/memmem, bounded backtracking, no
//! allocation) and turning the matched fields into typed values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::directive::{Directive, DurationUnit, Field, PortKind, ProcKind, TimeKind};
use crate::error::{Error, Expected, Result};
use crate::format::{HeaderRole, Item, LogFormat, MAX_FIELDS};
use crate::record::{AccessRecord, Client, RequestLine};
use crate::time::{self, ClfCache, LogTime, StrftimeValue, parse_u64};

/// Most candidate field ends tried per line before giving up (bounds backtracking).
pub const MATCH_BUDGET: u32 = 512;

/// A dotted quad at the start of `b` (1-3 digits per octet, each <= 255) and its length.
#[inline]
pub(crate) fn ipv4_prefix(b: &[u8]) -> Option<(Ipv4Addr, usize)> {
    #[inline]
    fn digit(c: Option<&u8>) -> Option<u32> {
        let d = c?.wrapping_sub(b'0');
        (d <= 9).then_some(u32::from(d))
    }
    let mut oct = [0u8; 4];
    let mut i = 0usize;
    for (k, o) in oct.iter_mut().enumerate() {
        let mut v = digit(b.get(i))?;
        i += 1;
        if let Some(d) = digit(b.get(i)) {
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(b.get(i)) {
                v = v * 10 + d;
                i += 1;
            }
        }
        *o = u8::try_from(v).ok()?;
        if k < 3 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    Some((Ipv4Addr::from(oct), i))
}

/// Dotted-quad IPv4 in one pass (no leading `+`, 1-3 digits per octet, each <= 255).
#[inline]
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    ipv4_prefix(b).and_then(|(ip, n)| (n == b.len()).then_some(ip))
}

/// IPv6 written as hex groups only (`2001:db8::1`, no embedded IPv4): 1-4 hex digits per
/// group, eight groups or at most seven around one `::`, the same rules as the standard
/// library's parser. `None` for anything else (the caller then asks the standard library).
#[inline]
fn parse_ipv6_hex(b: &[u8]) -> Option<Ipv6Addr> {
    let mut groups = [0u16; 8];
    let mut n = 0usize;
    // Index in `groups` where `::` stands, if any.
    let mut gap: Option<usize> = None;
    let mut i = 0usize;
    if b.starts_with(b"::") {
        gap = Some(0);
        i = 2;
        if i == b.len() {
            return Some(Ipv6Addr::UNSPECIFIED);
        }
    }
    loop {
        let start = i;
        let mut v = 0u16;
        while i - start < 4 {
            let Some(d) = b.get(i).and_then(|c| char::from(*c).to_digit(16)) else {
                break;
            };
            v = (v << 4) | d as u16;
            i += 1;
        }
        if i == start {
            return None;
        }
        *groups.get_mut(n)? = v;
        n += 1;
        let Some(&c) = b.get(i) else { break };
        if c != b':' {
            return None;
        }
        i += 1;
        if b.get(i) == Some(&b':') {
            if gap.is_some() {
                return None;
            }
            gap = Some(n);
            i += 1;
            if i == b.len() {
                break;
            }
        }
    }
    match gap {
        None if n == 8 => {}
        Some(at) if n <= 7 => {
            // Move the groups after `::` to the end.
            let tail = n - at;
            groups.copy_within(at..n, 8 - tail);
            groups.get_mut(at..8 - tail)?.fill(0);
        }
        _ => return None,
    }
    Some(Ipv6Addr::from(groups))
}

/// Parse an IP address from bytes without allocating (IPv4 and plain IPv6 fast paths).
pub fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    if b.is_empty() || b.len() > 45 {
        return None;
    }
    if b.len() <= 15 {
        if let Some(v4) = parse_ipv4(b) {
            return Some(IpAddr::V4(v4));
        }
        if !b.contains(&b':') {
            return None;
        }
    }
    if let Some(v6) = parse_ipv6_hex(b) {
        return Some(IpAddr::V6(v6));
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn digits_or_dash(v: &[u8], max: usize) -> bool {
    v == b"-" || (!v.is_empty() && v.len() <= max && v.iter().all(u8::is_ascii_digit))
}

fn secs_frac_ok(v: &[u8]) -> bool {
    if v == b"-" {
        return true;
    }
    let mut parts = v.splitn(2, |c| *c == b'.');
    let int = parts.next().unwrap_or_default();
    let frac = parts.next().unwrap_or(b"0");
    !int.is_empty()
        && int.len() <= 12
        && int.iter().all(u8::is_ascii_digit)
        && !frac.is_empty()
        && frac.len() <= 9
        && frac.iter().all(u8::is_ascii_digit)
}

/// Cheap shape check used while matching, so that ambiguous formats (fields not separated by
/// literals, IPv6 before `:`) backtrack to the right split.
fn validate(f: &Field, v: &[u8], local_offset: i32) -> std::result::Result<(), &'static str> {
    let ok = match &f.directive {
        Directive::Status => digits_or_dash(v, 3),
        Directive::BodyBytesClf
        | Directive::BodyBytes
        | Directive::BytesIn
        | Directive::BytesOut
        | Directive::BytesTotal
        | Directive::DurationMicros
        | Directive::KeepAlive
        | Directive::ConnectionSerial
        | Directive::ConnectionRequests
        | Directive::Process(ProcKind::Pid | ProcKind::Tid) => digits_or_dash(v, 19),
        Directive::Duration(DurationUnit::SecondsFrac) => secs_frac_ok(v),
        Directive::Duration(_) => digits_or_dash(v, 19),
        Directive::Port(_) => digits_or_dash(v, 5),
        Directive::Process(ProcKind::HexTid) => {
            v == b"-" || (!v.is_empty() && v.len() <= 16 && v.iter().all(u8::is_ascii_hexdigit))
        }
        Directive::RemoteIp | Directive::PeerIp | Directive::LocalIp => {
            v == b"-" || parse_ip(v).is_some()
        }
        Directive::ConnStatus => matches!(v, b"X" | b"+" | b"-"),
        Directive::Query => v.is_empty() || v.first() == Some(&b'?') || v == b"-",
        Directive::RemoteHost
        | Directive::UrlPath
        | Directive::ServerName
        | Directive::ServerNameUsed => !v.is_empty() && !v.contains(&b' '),
        Directive::Time(spec) => match &spec.kind {
            TimeKind::Clf => {
                v == b"-" || (v.len() == 28 && v.first() == Some(&b'[') && v.last() == Some(&b']'))
            }
            TimeKind::ClfBare => v == b"-" || v.len() == 26,
            TimeKind::Iso8601 => v == b"-" || time::parse_iso8601(v).is_some(),
            TimeKind::Sec | TimeKind::Msec | TimeKind::Usec => digits_or_dash(v, 19),
            TimeKind::SecDotMsec => secs_frac_ok(v),
            TimeKind::MsecFrac => v == b"-" || (v.len() == 3 && v.iter().all(u8::is_ascii_digit)),
            TimeKind::UsecFrac => v == b"-" || (v.len() == 6 && v.iter().all(u8::is_ascii_digit)),
            TimeKind::Strftime(s) => v == b"-" || s.parse(v, local_offset).is_some(),
            TimeKind::Opaque(_) => true,
        },
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(shape_of(&f.directive))
    }
}

fn shape_of(d: &Directive) -> &'static str {
    match d {
        Directive::Status => "a 3-digit status or '-'",
        Directive::Port(_) => "a port number or '-'",
        Directive::RemoteIp | Directive::PeerIp | Directive::LocalIp => "an IP address or '-'",
        Directive::ConnStatus => "'X', '+' or '-'",
        Directive::Query => "'?query' or nothing",
        Directive::Time(_) => "a timestamp",
        Directive::Process(ProcKind::HexTid) => "hex digits",
        Directive::Duration(DurationUnit::SecondsFrac) => "seconds with a fraction",
        Directive::RemoteHost
        | Directive::UrlPath
        | Directive::ServerName
        | Directive::ServerNameUsed => "a non-empty word",
        _ => "digits or '-'",
    }
}

/// Directives whose values may contain spaces even when the field is not quoted.
fn free_text(d: &Directive) -> bool {
    match d {
        Directive::RequestLine
        | Directive::RequestHeader(_)
        | Directive::ResponseHeader(_)
        | Directive::Env(_)
        | Directive::Note(_)
        | Directive::Cookie(_)
        | Directive::TrailerIn(_)
        | Directive::TrailerOut(_)
        | Directive::Ssl(_)
        | Directive::NginxVar(_)
        | Directive::Filename
        | Directive::Handler => true,
        Directive::Time(spec) => matches!(
            spec.kind,
            TimeKind::Clf | TimeKind::ClfBare | TimeKind::Strftime(_) | TimeKind::Opaque(_)
        ),
        _ => false,
    }
}

fn shape_ok(
    f: &Field,
    v: &[u8],
    quoted: bool,
    local_offset: i32,
) -> std::result::Result<(), &'static str> {
    if !quoted && !free_text(&f.directive) && memchr::memchr(b' ', v).is_some() {
        return Err("a value without spaces");
    }
    validate(f, v, local_offset)
}

/// `hay` starts with `p`: a byte loop, faster than `memcmp` for the 1-4 byte separators.
#[inline]
fn has_prefix(hay: &[u8], p: &[u8]) -> bool {
    hay.len() >= p.len() && hay.iter().zip(p).all(|(a, b)| a == b)
}

/// Find a literal: memchr on its first byte for the usual short separators (`" "`, `"] "`,
/// `"\" "`), the prebuilt memmem finder for longer ones.
#[inline]
fn find_lit(hay: &[u8], needle: &[u8], finder: &memchr::memmem::Finder<'_>) -> Option<usize> {
    match needle {
        [b] => memchr::memchr(*b, hay),
        [first, rest @ ..] if needle.len() <= 4 => {
            let mut from = 0;
            loop {
                let i = from + memchr::memchr(*first, hay.get(from..)?)?;
                if hay.get(i + 1..).is_some_and(|h| has_prefix(h, rest)) {
                    return Some(i);
                }
                from = i + 1;
            }
        }
        _ => finder.find(hay),
    }
}

/// An odd number of backslashes right before `q` (and after `start`): the quote at `q` is
/// escaped. Shared by the general matcher and the fast path.
#[inline]
pub(crate) fn escaped_quote(line: &[u8], start: usize, q: usize) -> bool {
    let mut n = 0usize;
    let mut i = q;
    while i > start {
        i -= 1;
        if line.get(i) == Some(&b'\\') {
            n += 1;
        } else {
            break;
        }
    }
    n % 2 == 1
}

struct Matcher<'f, 'l, 's> {
    items: &'f [Item],
    line: &'l [u8],
    spans: &'s mut [(u32, u32); MAX_FIELDS],
    budget: u32,
    lenient: bool,
    local_offset: i32,
    best: Option<(usize, Expected)>,
    end: usize,
}

impl Matcher<'_, '_, '_> {
    fn fail(&mut self, offset: usize, e: Expected) {
        if self.best.is_none_or(|(o, _)| offset > o) {
            self.best = Some((offset, e));
        }
    }

    fn set(&mut self, slot: usize, s: usize, e: usize) {
        if let Some(sp) = self.spans.get_mut(slot) {
            *sp = (s as u32, e as u32);
        }
    }

    fn run(&mut self, i: usize, pos: usize) -> bool {
        let line = self.line;
        let rest = line.get(pos..).unwrap_or_default();
        let Some(item) = self.items.get(i) else {
            if rest.is_empty() || (self.lenient && rest.first() == Some(&b' ')) {
                self.end = pos;
                return true;
            }
            self.fail(pos, Expected::EndOfLine);
            return false;
        };
        match item {
            Item::Lit { bytes, .. } => {
                if has_prefix(rest, bytes) {
                    self.run(i + 1, pos + bytes.len())
                } else {
                    self.fail(pos, Expected::Literal { item: i });
                    false
                }
            }
            Item::Field { field, slot } => {
                let slot = *slot;
                match self.items.get(i + 1) {
                    None => {
                        let end = if self.lenient {
                            memchr::memchr(b' ', rest).map_or(line.len(), |p| pos + p)
                        } else {
                            line.len()
                        };
                        let v = line.get(pos..end).unwrap_or_default();
                        if let Err(what) = shape_ok(field, v, false, self.local_offset) {
                            self.fail(
                                pos,
                                Expected::Value {
                                    directive: field.directive.name(),
                                    what,
                                },
                            );
                            return false;
                        }
                        self.set(slot, pos, end);
                        self.run(i + 1, end)
                    }
                    Some(Item::Lit { bytes, finder }) => {
                        let quoted = bytes.first() == Some(&b'"')
                            && i > 0
                            && matches!(self.items.get(i - 1), Some(Item::Lit { bytes: p, .. }) if p.last() == Some(&b'"'));
                        let last_lit = i + 2 == self.items.len();
                        let mut from = pos;
                        loop {
                            if self.budget == 0 {
                                return false;
                            }
                            self.budget -= 1;
                            let q = if last_lit && !self.lenient {
                                // Strict: the final literal must end the line.
                                let tail = line.len().wrapping_sub(bytes.len());
                                if from > pos
                                    || tail < pos
                                    || tail > line.len()
                                    || !has_prefix(line.get(tail..).unwrap_or_default(), bytes)
                                {
                                    self.fail(line.len(), Expected::Literal { item: i + 1 });
                                    return false;
                                }
                                tail
                            } else {
                                match find_lit(line.get(from..).unwrap_or_default(), bytes, finder)
                                {
                                    Some(off) => from + off,
                                    None => {
                                        if from == pos {
                                            self.fail(
                                                line.len(),
                                                Expected::Literal { item: i + 1 },
                                            );
                                        }
                                        return false;
                                    }
                                }
                            };
                            let first_candidate = from == pos;
                            from = q + 1;
                            if quoted && escaped_quote(line, pos, q) {
                                if last_lit && !self.lenient {
                                    self.fail(line.len(), Expected::Literal { item: i + 1 });
                                    return false;
                                }
                                continue;
                            }
                            let v = line.get(pos..q).unwrap_or_default();
                            // Found by memchr(' '): the value cannot hold a space.
                            let no_space_check = quoted || (first_candidate && &bytes[..] == b" ");
                            if let Err(what) = shape_ok(field, v, no_space_check, self.local_offset)
                            {
                                self.fail(
                                    pos,
                                    Expected::Value {
                                        directive: field.directive.name(),
                                        what,
                                    },
                                );
                                continue;
                            }
                            self.set(slot, pos, q);
                            if self.run(i + 1, q) {
                                return true;
                            }
                        }
                    }
                    Some(Item::Field { .. }) => {
                        // Two fields with nothing between them: try every split, shortest first.
                        for end in pos..=line.len() {
                            if self.budget == 0 {
                                return false;
                            }
                            self.budget -= 1;
                            let v = line.get(pos..end).unwrap_or_default();
                            if shape_ok(field, v, false, self.local_offset).is_err() {
                                continue;
                            }
                            self.set(slot, pos, end);
                            if self.run(i + 1, end) {
                                return true;
                            }
                        }
                        self.fail(
                            pos,
                            Expected::Value {
                                directive: field.directive.name(),
                                what: shape_of(&field.directive),
                            },
                        );
                        false
                    }
                }
            }
        }
    }
}

/// Date, time of day, zone and begin/end gathered from split `%{..}t` fields.
type TimeParts = (
    Option<(i64, u32, u32)>,
    Option<(u32, u32, u32)>,
    Option<i32>,
    bool,
);

fn dash(v: &[u8]) -> Option<&[u8]> {
    (v != b"-").then_some(v)
}

fn num(v: &[u8]) -> Option<u64> {
    parse_u64(v)
}

impl LogFormat {
    /// Parse one line (without its `\n`; a trailing `\r` is ignored). The record borrows from
    /// `line`. Bytes after a fully matched format are accepted when they start with a space
    /// and are exposed as [`AccessRecord::trailing`].
    ///
    /// ```
    /// use halfopen_weblog::{LogFormat, Client};
    /// let f = LogFormat::preset("combined").unwrap();
    /// let r = f.parse(br#"::1 - - [24/Nov/2026:20:58:23 +0000] "-" 408 - "-" "-""#).unwrap();
    /// assert_eq!(r.client, Some(Client::Ip("::1".parse().unwrap())));
    /// assert!(r.request.is_none());
    /// assert_eq!((r.status, r.bytes), (Some(408), Some(0)));
    /// ```
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<AccessRecord<'a>> {
        self.parse_cached(line, &mut ClfCache::new())
    }

    /// [`LogFormat::parse`] without the single-pass fast path: always the general matcher.
    /// Gives the same results (tests compare the two); only useful to check that.
    #[doc(hidden)]
    pub fn parse_general<'a>(&self, line: &'a [u8]) -> Result<AccessRecord<'a>> {
        let line = self.check_line(line)?;
        self.parse_slow(line, &mut ClfCache::new())
    }

    /// Only the single-pass fast path: `None` when the format has none or the line needs the
    /// general matcher (or is rejected). Only useful to test the fast path's coverage.
    #[doc(hidden)]
    pub fn parse_fast<'a>(&self, line: &'a [u8]) -> Option<AccessRecord<'a>> {
        let line = self.check_line(line).ok()?;
        let mut rec = AccessRecord::empty(line);
        self.fast
            .as_ref()?
            .run(self, line, &mut ClfCache::new(), &mut rec)?;
        Some(rec)
    }

    /// Strip a trailing `\r`; reject over-long and empty lines.
    #[inline]
    fn check_line<'a>(&self, line: &'a [u8]) -> Result<&'a [u8]> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > self.max_line_len {
            return Err(Error::LineTooLong {
                len: line.len(),
                max: self.max_line_len,
            });
        }
        if line.is_empty() {
            return Err(Error::Empty);
        }
        Ok(line)
    }

    /// [`LogFormat::parse`] with a caller-kept timestamp memo.
    #[inline]
    pub(crate) fn parse_cached<'a>(
        &self,
        line: &'a [u8],
        cache: &mut ClfCache,
    ) -> Result<AccessRecord<'a>> {
        let line = self.check_line(line)?;
        // One record, built where it is returned (no copies of the ~800-byte record).
        let mut out = Ok(AccessRecord::empty(line));
        if let (Some(plan), Ok(rec)) = (&self.fast, &mut out) {
            if plan.run(self, line, cache, rec).is_some() {
                return out;
            }
        }
        out = self.parse_slow(line, cache);
        out
    }

    /// The general matcher: first candidates in one pass, then bounded backtracking.
    fn parse_slow<'a>(&self, line: &'a [u8], cache: &mut ClfCache) -> Result<AccessRecord<'a>> {
        let mut rec = AccessRecord::empty(line);
        if let Some(end) = self.first_candidate_match(line, &mut rec.spans) {
            rec.n_fields = self.fields.len();
            rec.trailing = line.get(end..).unwrap_or_default();
            self.interpret(&mut rec, cache)?;
            return Ok(rec);
        }
        let mut m = Matcher {
            items: &self.items,
            line,
            spans: &mut rec.spans,
            budget: MATCH_BUDGET,
            lenient: false,
            local_offset: self.local_offset_secs,
            best: None,
            end: line.len(),
        };
        if !m.run(0, 0) {
            let strict_best = m.best;
            m.lenient = true;
            m.budget = MATCH_BUDGET;
            m.best = None;
            if !m.run(0, 0) {
                let (offset, expected) = strict_best.or(m.best).unwrap_or((0, Expected::EndOfLine));
                return Err(Error::Syntax { offset, expected });
            }
        }
        let end = m.end;
        rec.n_fields = self.fields.len();
        rec.trailing = line.get(end..).unwrap_or_default();
        rec.trailing = rec.trailing.strip_prefix(b" ").unwrap_or(rec.trailing);
        self.interpret(&mut rec, cache)?;
        Ok(rec)
    }

    /// Fast path: walk the items once, taking the first candidate end of every field (what the
    /// backtracking matcher tries first). `None` when that does not match the whole line or
    /// the format has adjacent fields; the caller then runs the full matcher.
    fn first_candidate_match(
        &self,
        line: &[u8],
        spans: &mut [(u32, u32); MAX_FIELDS],
    ) -> Option<usize> {
        let items = &self.items;
        let n = items.len();
        let mut pos = 0usize;
        let mut i = 0usize;
        while let Some(item) = items.get(i) {
            let rest = line.get(pos..)?;
            match item {
                Item::Lit { bytes, .. } => {
                    if !has_prefix(rest, bytes) {
                        return None;
                    }
                    pos += bytes.len();
                }
                Item::Field { field, slot } => {
                    let (end, spaces_ok) = match items.get(i + 1) {
                        None => (line.len(), false),
                        Some(Item::Lit { bytes, finder }) => {
                            let quoted = bytes.first() == Some(&b'"')
                                && i > 0
                                && matches!(items.get(i - 1), Some(Item::Lit { bytes: p, .. }) if p.last() == Some(&b'"'));
                            let q = if i + 2 == n {
                                let tail = line.len().checked_sub(bytes.len())?;
                                if tail < pos || !has_prefix(line.get(tail..)?, bytes) {
                                    return None;
                                }
                                if quoted && escaped_quote(line, pos, tail) {
                                    return None;
                                }
                                tail
                            } else {
                                let mut from = pos;
                                loop {
                                    let q = from + find_lit(line.get(from..)?, bytes, finder)?;
                                    if quoted && escaped_quote(line, pos, q) {
                                        from = q + 1;
                                        continue;
                                    }
                                    break q;
                                }
                            };
                            (q, quoted || &bytes[..] == b" ")
                        }
                        Some(Item::Field { .. }) => return None,
                    };
                    let v = line.get(pos..end)?;
                    shape_ok(field, v, spaces_ok, self.local_offset_secs).ok()?;
                    *spans.get_mut(*slot)? = (pos as u32, end as u32);
                    pos = end;
                }
            }
            i += 1;
        }
        (pos == line.len()).then_some(pos)
    }

    /// The raw bytes of the first field with directive `d` in a record parsed by this format.
    ///
    /// ```
    /// use halfopen_weblog::{Directive, LogFormat};
    /// let f = LogFormat::compile(r#"%h "%{X-Forwarded-For}i""#).unwrap();
    /// let r = f.parse(br#"10.0.0.1 "203.0.113.9""#).unwrap();
    /// let xff = f.get(&r, &Directive::RequestHeader("x-forwarded-for".into()));
    /// assert_eq!(xff, Some(&b"203.0.113.9"[..]));
    /// ```
    pub fn get<'a>(&self, rec: &AccessRecord<'a>, d: &Directive) -> Option<&'a [u8]> {
        rec.field(self.index_of(d)?)
    }

    fn interpret<'a>(&self, rec: &mut AccessRecord<'a>, cache: &mut ClfCache) -> Result<()> {
        let mut status_final = false;
        let mut duration_rank = 0u8;
        let mut has_body_bytes = false;
        let mut frac: Option<(i64, bool)> = None;
        let mut time_whole_secs = false;
        let mut canonical_port = None;
        let (mut seen_referer, mut seen_ua) = (false, false);
        let (mut time_zone_known, mut time_is_epoch) = (false, false);
        let mut parts: TimeParts = (None, None, None, false);
        for (slot, f) in self.fields.iter().enumerate() {
            let Some(v) = rec.field(slot) else { continue };
            let offset = rec.field_offset(slot).unwrap_or(0);
            let bad = |reason: &'static str| Error::BadValue {
                offset,
                directive: f.directive.name(),
                reason,
            };
            match &f.directive {
                Directive::RemoteIp => {
                    if let Some(ip) = parse_ip(v) {
                        rec.client = Some(Client::Ip(ip));
                    }
                }
                Directive::RemoteHost if rec.client.is_none() => {
                    rec.client = dash(v).map(|v| parse_ip(v).map_or(Client::Host(v), Client::Ip));
                }
                Directive::PeerIp => rec.peer = parse_ip(v),
                Directive::LocalIp => rec.server_ip = parse_ip(v),
                Directive::Port(kind) => {
                    let p = match dash(v) {
                        Some(v) => Some(
                            num(v)
                                .and_then(|n| u16::try_from(n).ok())
                                .ok_or_else(|| bad("port out of range"))?,
                        ),
                        None => None,
                    };
                    match kind {
                        PortKind::Remote => rec.client_port = p,
                        PortKind::Local => rec.server_port = p,
                        PortKind::Canonical => canonical_port = p,
                    }
                }
                Directive::ServerName | Directive::ServerNameUsed if rec.vhost.is_none() => {
                    rec.vhost = dash(v);
                }
                Directive::RemoteLogname => rec.remote_logname = dash(v),
                Directive::RemoteUser => rec.remote_user = dash(v),
                Directive::Time(spec) => {
                    if v == b"-" {
                        continue;
                    }
                    let (t, whole) = match &spec.kind {
                        TimeKind::Clf => (
                            Some(clf_cached(v, cache).ok_or_else(|| {
                                bad("not a [dd/Mon/yyyy:HH:MM:SS +zzzz] timestamp")
                            })?),
                            true,
                        ),
                        TimeKind::ClfBare => (
                            Some(cache.parse_body(v).ok_or_else(|| {
                                bad("not a dd/Mon/yyyy:HH:MM:SS +zzzz timestamp")
                            })?),
                            true,
                        ),
                        TimeKind::Iso8601 => (time::parse_iso8601(v), false),
                        TimeKind::Sec | TimeKind::Msec | TimeKind::Usec | TimeKind::SecDotMsec => {
                            let us = epoch_us(&spec.kind, v)
                                .ok_or_else(|| bad("epoch value out of range"))?;
                            (
                                Some(LogTime {
                                    ts_us: us,
                                    utc_offset_secs: 0,
                                    at_end: false,
                                }),
                                matches!(spec.kind, TimeKind::Sec),
                            )
                        }
                        TimeKind::MsecFrac | TimeKind::UsecFrac => {
                            if frac.is_none() {
                                frac = time::frac_to_us(v).map(|us| (us, spec.at_end));
                            }
                            (None, false)
                        }
                        TimeKind::Strftime(s) => {
                            let sv = s
                                .parse(v, self.local_offset_secs)
                                .ok_or_else(|| bad("does not match the strftime pattern"))?;
                            (
                                sv.ts_us.map(|ts_us| LogTime {
                                    ts_us,
                                    utc_offset_secs: sv
                                        .offset_secs
                                        .unwrap_or(self.local_offset_secs),
                                    at_end: false,
                                }),
                                true,
                            )
                        }
                        TimeKind::Opaque(_) => (None, false),
                    };
                    if let (TimeKind::Strftime(s), None) = (&spec.kind, t) {
                        // Date and time of day may come from separate fields.
                        if let Some(sv) = s.parse(v, self.local_offset_secs) {
                            parts.0 = parts.0.or(sv.date);
                            parts.1 = parts.1.or(sv.time_of_day);
                            parts.2 = parts.2.or(sv.offset_secs);
                            parts.3 |= spec.at_end;
                        }
                    }
                    if let (Some(mut t), None) = (t, rec.time) {
                        t.at_end = spec.at_end;
                        rec.time = Some(t);
                        time_whole_secs = whole;
                        time_zone_known = match &spec.kind {
                            TimeKind::Strftime(s) => {
                                s.parse(v, 0).is_some_and(|sv| sv.offset_secs.is_some())
                            }
                            TimeKind::Sec
                            | TimeKind::Msec
                            | TimeKind::Usec
                            | TimeKind::SecDotMsec => false,
                            _ => true,
                        };
                        time_is_epoch = match &spec.kind {
                            TimeKind::Strftime(s) => s.is_epoch(),
                            k => matches!(
                                k,
                                TimeKind::Sec
                                    | TimeKind::Msec
                                    | TimeKind::Usec
                                    | TimeKind::SecDotMsec
                            ),
                        };
                    } else if let (TimeKind::Strftime(s), Some(t)) = (&spec.kind, rec.time.as_mut())
                    {
                        // A separate `%{%z}t` gives the zone of an earlier zone-less time.
                        if let Some(StrftimeValue {
                            ts_us: None,
                            offset_secs: Some(off),
                            ..
                        }) = s.parse(v, 0)
                        {
                            if !time_zone_known {
                                if !time_is_epoch {
                                    let shift = i64::from(off) - i64::from(self.local_offset_secs);
                                    t.ts_us =
                                        t.ts_us.saturating_sub(shift.saturating_mul(1_000_000));
                                }
                                t.utc_offset_secs = off;
                                time_zone_known = true;
                            }
                        }
                    }
                }
                Directive::RequestLine if rec.request.is_none() => {
                    rec.request = dash(v).map(RequestLine::parse);
                }
                Directive::Status if f.final_status || (!status_final && rec.status.is_none()) => {
                    let s = match dash(v) {
                        Some(v) => Some(
                            num(v)
                                .and_then(|n| u16::try_from(n).ok())
                                .ok_or_else(|| bad("status out of range"))?,
                        ),
                        None => None,
                    };
                    if f.final_status {
                        status_final = true;
                    }
                    rec.status = s;
                }
                Directive::BodyBytes | Directive::BodyBytesClf if !has_body_bytes => {
                    has_body_bytes = true;
                    rec.bytes = if v == b"-" { Some(0) } else { num(v) };
                }
                Directive::BytesIn => rec.bytes_in = dash(v).and_then(num),
                Directive::BytesOut => rec.bytes_out = dash(v).and_then(num),
                Directive::BytesTotal => rec.bytes_total = dash(v).and_then(num),
                Directive::DurationMicros | Directive::Duration(_) => {
                    let (rank, us) = match &f.directive {
                        Directive::DurationMicros | Directive::Duration(DurationUnit::Micros) => {
                            (4, dash(v).and_then(num))
                        }
                        Directive::Duration(DurationUnit::Millis) => {
                            (3, dash(v).and_then(num).map(|n| n.saturating_mul(1000)))
                        }
                        Directive::Duration(DurationUnit::SecondsFrac) => {
                            (2, dash(v).and_then(secs_frac_us))
                        }
                        _ => (
                            1,
                            dash(v).and_then(num).map(|n| n.saturating_mul(1_000_000)),
                        ),
                    };
                    if rank > duration_rank && us.is_some() {
                        duration_rank = rank;
                        rec.duration_us = us;
                    }
                }
                Directive::RequestHeader(_) => {
                    // A header without `<`/`>` wins over modified ones; else the first one.
                    let plain = !f.original && !f.final_status;
                    match self.header_roles.get(slot) {
                        Some(HeaderRole::Referer) if plain || !seen_referer => {
                            seen_referer |= plain;
                            rec.referer = dash(v);
                        }
                        Some(HeaderRole::UserAgent) if plain || !seen_ua => {
                            seen_ua |= plain;
                            rec.user_agent = dash(v);
                        }
                        _ => {}
                    }
                }
                Directive::KeepAlive => {
                    rec.keepalive = dash(v)
                        .and_then(num)
                        .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                }
                Directive::ConnectionRequests => {
                    rec.keepalive = dash(v)
                        .and_then(num)
                        .map(|n| u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX));
                }
                Directive::ConnectionSerial => rec.connection_serial = dash(v).and_then(num),
                Directive::ConnStatus => rec.conn_status = v.first().copied(),
                Directive::Process(ProcKind::Pid) => {
                    rec.pid = dash(v).and_then(num).and_then(|n| u32::try_from(n).ok());
                }
                Directive::Process(ProcKind::Tid) => rec.tid = dash(v).and_then(num),
                Directive::Process(ProcKind::HexTid) => {
                    rec.tid = dash(v)
                        .and_then(|v| std::str::from_utf8(v).ok())
                        .and_then(|s| u64::from_str_radix(s, 16).ok());
                }
                _ => {}
            }
        }
        if rec.server_port.is_none() {
            rec.server_port = canonical_port;
        }
        if let (None, (Some((y, mo, d)), Some((h, mi, sec)), off, at_end)) = (rec.time, parts) {
            let off = off.unwrap_or(self.local_offset_secs);
            rec.time = time::instant(y, mo, d, h, mi, sec, off).map(|ts_us| LogTime {
                ts_us,
                utc_offset_secs: off,
                at_end,
            });
            time_whole_secs = true;
        }
        if !has_body_bytes {
            rec.bytes = rec.bytes_out;
        }
        if let (Some(t), Some((us, at_end))) = (rec.time.as_mut(), frac) {
            if time_whole_secs && t.at_end == at_end && t.ts_us.rem_euclid(1_000_000) == 0 {
                t.ts_us = t.ts_us.saturating_add(us);
            }
        }
        Ok(())
    }
}

/// [`time::parse_clf`] through the memo.
fn clf_cached(v: &[u8], cache: &mut ClfCache) -> Option<LogTime> {
    let b = v.strip_prefix(b"[").unwrap_or(v);
    cache.parse_body(b.strip_suffix(b"]").unwrap_or(b))
}

fn secs_frac_us(v: &[u8]) -> Option<u64> {
    let mut parts = v.splitn(2, |c| *c == b'.');
    let int = parse_u64(parts.next()?)?;
    let frac = match parts.next() {
        Some(f) => u64::try_from(time::frac_to_us(f)?).ok()?,
        None => 0,
    };
    int.checked_mul(1_000_000)?.checked_add(frac)
}

fn epoch_us(kind: &TimeKind, v: &[u8]) -> Option<i64> {
    let us = match kind {
        TimeKind::Sec => parse_u64(v)?.checked_mul(1_000_000)?,
        TimeKind::Msec => parse_u64(v)?.checked_mul(1000)?,
        TimeKind::Usec => parse_u64(v)?,
        _ => secs_frac_us(v)?,
    };
    i64::try_from(us).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_fast_path_agrees_with_std() {
        let cases = [
            "::",
            "::1",
            "1::",
            "1::2",
            "2001:db8::1",
            "2001:db8:0:0:0:0:2:1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6::8",
            "fe80::1ff:fe23:4567:890a",
            "ABCD:ef01::",
            "0000:0000::0001",
            ":",
            ":::",
            "1:::2",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "12345::",
            "1:",
            ":1",
            "1::2:",
            "g::1",
            "::ffff:192.0.2.1",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "1:2:3:4::5:6:7:8",
            "::0:0",
            "fe80::1%eth0",
        ];
        for c in cases {
            let std: Option<IpAddr> = c.parse().ok();
            assert_eq!(parse_ip(c.as_bytes()), std, "{c}");
            if let Some(v6) = parse_ipv6_hex(c.as_bytes()) {
                assert_eq!(Some(IpAddr::V6(v6)), std, "{c}");
            }
        }
    }
}
