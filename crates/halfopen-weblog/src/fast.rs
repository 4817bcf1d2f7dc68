//! The single-pass fast path for formats made only of space-separated tokens, quoted strings
//! and CLF times (every Apache preset, nginx `combined`, and most custom formats that log
//! `%{remote}p`, `%D`, `%k`...).
//!
//! A format qualifies when [`FastPlan::build`] can turn it into a list of steps, one per
//! field, each knowing how its value ends (first space, first unescaped closing quote, the
//! fixed-width `[dd/Mon/yyyy:HH:MM:SS +zzzz]`, the end of the line) and which typed field it
//! feeds. Running the plan scans the line once and converts each value as it is found.
//!
//! The plan is an *oracle for the common case*: it either returns exactly the record the
//! general matcher ([`LogFormat::parse_general`]) would return, or `None` (any doubt: an
//! unusual separator, a `-` time, an out-of-range port, a value the general path would
//! reject...), and the caller then runs the general matcher. It takes the same split as the
//! general path's first candidate, which is the general path's answer whenever it matches.

use crate::directive::{Directive, DurationUnit, Field, PortKind, ProcKind, TimeKind};
use crate::format::{HeaderRole, Item, LogFormat};
use std::net::IpAddr;

use crate::parse::{escaped_quote, ipv4_prefix, parse_ip};
use crate::record::{AccessRecord, Client, RequestLine};
use crate::time::ClfCache;

/// Which typed field a value feeds, and how it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `%h`: address or host name.
    Host,
    /// `%a`: address or `-`.
    Ip,
    /// `%{c}a`.
    Peer,
    /// `%A`.
    ServerIp,
    /// `%v`, `%V`.
    Vhost,
    /// `%l`.
    Logname,
    /// `%u`.
    User,
    /// `%t` (with brackets) or nginx `$time_local` (`bare`).
    Time { bare: bool, at_end: bool },
    /// `%r`.
    Request,
    /// `%s`, `%>s`, `%<s`.
    Status,
    /// `%b`, `%B`.
    Body,
    /// `%I`.
    BytesIn,
    /// `%O`.
    BytesOut,
    /// `%S`.
    BytesTotal,
    /// `%D`, `%{us}T`, `%{ms}T`, `%T`: microseconds per unit.
    Duration(u64),
    /// `%p` and friends.
    Port(PortKind),
    /// `%{Referer}i`.
    Referer,
    /// `%{User-Agent}i`.
    UserAgent,
    /// Other free-text fields (headers, notes, env...): span only.
    Text,
    /// `%k`.
    KeepAlive,
    /// `%X`.
    ConnStatus,
    /// `%P`.
    Pid,
    /// `%{tid}P`.
    Tid,
    /// nginx `$connection`.
    ConnSerial,
}

impl Kind {
    fn of(f: &Field, role: HeaderRole) -> Option<Kind> {
        Some(match &f.directive {
            Directive::RemoteHost => Kind::Host,
            Directive::RemoteIp => Kind::Ip,
            Directive::PeerIp => Kind::Peer,
            Directive::LocalIp => Kind::ServerIp,
            Directive::ServerName | Directive::ServerNameUsed => Kind::Vhost,
            Directive::RemoteLogname => Kind::Logname,
            Directive::RemoteUser => Kind::User,
            Directive::Time(spec) => match spec.kind {
                TimeKind::Clf => Kind::Time {
                    bare: false,
                    at_end: spec.at_end,
                },
                TimeKind::ClfBare => Kind::Time {
                    bare: true,
                    at_end: spec.at_end,
                },
                _ => return None,
            },
            Directive::RequestLine => Kind::Request,
            Directive::Status => Kind::Status,
            Directive::BodyBytes | Directive::BodyBytesClf => Kind::Body,
            Directive::BytesIn => Kind::BytesIn,
            Directive::BytesOut => Kind::BytesOut,
            Directive::BytesTotal => Kind::BytesTotal,
            Directive::DurationMicros | Directive::Duration(DurationUnit::Micros) => {
                Kind::Duration(1)
            }
            Directive::Duration(DurationUnit::Millis) => Kind::Duration(1000),
            Directive::Duration(DurationUnit::Seconds) => Kind::Duration(1_000_000),
            Directive::Port(k) => Kind::Port(*k),
            Directive::RequestHeader(_) => match role {
                HeaderRole::Referer => Kind::Referer,
                HeaderRole::UserAgent => Kind::UserAgent,
                HeaderRole::Other => Kind::Text,
            },
            Directive::ResponseHeader(_)
            | Directive::Env(_)
            | Directive::Note(_)
            | Directive::Cookie(_)
            | Directive::TrailerIn(_)
            | Directive::TrailerOut(_)
            | Directive::Ssl(_)
            | Directive::NginxVar(_)
            | Directive::Filename
            | Directive::Handler => Kind::Text,
            Directive::KeepAlive => Kind::KeepAlive,
            Directive::ConnStatus => Kind::ConnStatus,
            Directive::Process(ProcKind::Pid) => Kind::Pid,
            Directive::Process(ProcKind::Tid) => Kind::Tid,
            Directive::ConnectionSerial => Kind::ConnSerial,
            _ => return None,
        })
    }

    /// Free-text kinds only ever appear between quotes in a plan.
    fn free_text(self) -> bool {
        matches!(
            self,
            Kind::Request | Kind::Referer | Kind::UserAgent | Kind::Text
        )
    }

    /// The typed field this kind sets; a plan never has two fields for the same one, so the
    /// general path's "first one wins" rules reduce to plain assignments.
    fn target(self) -> Option<u8> {
        Some(match self {
            Kind::Host | Kind::Ip => 0,
            Kind::Peer => 1,
            Kind::ServerIp => 2,
            Kind::Vhost => 3,
            Kind::Logname => 4,
            Kind::User => 5,
            Kind::Time { .. } => 6,
            Kind::Request => 7,
            Kind::Status => 8,
            Kind::Body => 9,
            Kind::BytesIn => 10,
            Kind::BytesOut => 11,
            Kind::BytesTotal => 12,
            Kind::Duration(_) => 13,
            Kind::Port(PortKind::Remote) => 14,
            Kind::Port(PortKind::Local) => 15,
            Kind::Port(PortKind::Canonical) => 16,
            Kind::Referer => 17,
            Kind::UserAgent => 18,
            Kind::KeepAlive => 19,
            Kind::ConnStatus => 20,
            Kind::Pid => 21,
            Kind::Tid => 22,
            Kind::ConnSerial => 23,
            Kind::Text => return None,
        })
    }
}

/// How a value ends.
#[derive(Debug, Clone)]
enum End {
    /// At the first occurrence of this literal (which is then skipped).
    Lit(Box<[u8]>),
    /// Before this literal, which ends the line (the format's last item).
    Last(Box<[u8]>),
    /// At the end of the line.
    Eol,
}

/// How a value is found, precomputed from [`End`] and quoting so that running a step is one
/// jump.
#[derive(Debug, Clone)]
enum Scan {
    /// A token ended by the literal `" "`.
    Space,
    /// A token ended by a longer literal that starts with a space (`" \""`).
    SpaceThen(Box<[u8]>),
    /// A token ended by a literal that starts with another byte (`":"`).
    Byte(Box<[u8]>),
    /// A quoted value ended by this literal (which starts with `"`).
    Quote(Box<[u8]>),
    /// A quoted value ended by the format's last literal.
    LastQuote(Box<[u8]>),
    /// A token ended by the format's last literal.
    LastToken(Box<[u8]>),
    /// A token that ends the line.
    Eol,
    /// `[dd/Mon/yyyy:HH:MM:SS +zzzz]` then this literal.
    Clf(Box<[u8]>),
    /// `dd/Mon/yyyy:HH:MM:SS +zzzz` then this literal.
    ClfBare(Box<[u8]>),
}

#[derive(Debug, Clone)]
struct Step {
    slot: usize,
    kind: Kind,
    scan: Scan,
    /// `%h` / `%a` followed by `" "`: try a dotted quad followed by a space first.
    ipv4_first: bool,
}

/// A compiled fast path (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct FastPlan {
    lead: Box<[u8]>,
    steps: Box<[Step]>,
    has_body: bool,
}

/// Bytes a valid `[dd/Mon/yyyy:HH:MM:SS +zzzz]` (`bare`: without the brackets) can contain.
fn in_clf(c: u8, bare: bool) -> bool {
    c.is_ascii_alphanumeric() || b"/: +-".contains(&c) || (!bare && b"[]".contains(&c))
}

/// True when `lit` cannot start inside a valid CLF time, so the first occurrence of `lit`
/// after the time's first byte is right after the time (the general path's first candidate).
/// The only space inside the time is followed by the zone's sign.
fn ends_clf_cleanly(lit: &[u8], bare: bool) -> bool {
    match lit {
        [] => false,
        [b' ', second, ..] => !matches!(second, b'+' | b'-'),
        [first, ..] => !in_clf(*first, bare),
    }
}

impl FastPlan {
    /// The plan for a compiled format, or `None` when the format has anything the fast path
    /// does not handle (adjacent fields, unquoted free text, strftime times, repeated typed
    /// fields...).
    pub(crate) fn build(items: &[Item], roles: &[HeaderRole]) -> Option<FastPlan> {
        let n = items.len();
        let mut lead: Box<[u8]> = Box::default();
        let mut steps = Vec::new();
        let mut seen = 0u32;
        let mut has_body = false;
        for (i, item) in items.iter().enumerate() {
            let (field, slot) = match item {
                Item::Lit { bytes, .. } => {
                    if i == 0 {
                        lead = bytes.clone();
                    } else if !matches!(items.get(i - 1), Some(Item::Field { .. })) {
                        return None;
                    }
                    continue;
                }
                Item::Field { field, slot } => (field, *slot),
            };
            let kind = Kind::of(field, roles.get(slot).copied().unwrap_or(HeaderRole::Other))?;
            if let Some(t) = kind.target() {
                if seen & (1 << t) != 0 {
                    return None;
                }
                seen |= 1 << t;
            }
            has_body |= kind == Kind::Body;
            let end = match items.get(i + 1) {
                None => End::Eol,
                Some(Item::Lit { bytes, .. }) if i + 2 == n => End::Last(bytes.clone()),
                Some(Item::Lit { bytes, .. }) => End::Lit(bytes.clone()),
                Some(Item::Field { .. }) => return None,
            };
            let next_lit = match &end {
                End::Lit(b) | End::Last(b) => Some(&b[..]),
                End::Eol => None,
            };
            let quoted = next_lit.is_some_and(|b| b.first() == Some(&b'"'))
                && i > 0
                && matches!(items.get(i - 1), Some(Item::Lit { bytes: p, .. }) if p.last() == Some(&b'"'));
            let ok = match kind {
                Kind::Time { bare, .. } => {
                    !quoted && matches!(&end, End::Lit(l) if ends_clf_cleanly(l, bare))
                }
                k if k.free_text() => quoted,
                Kind::Logname | Kind::User => !matches!(&end, End::Last(l) if &l[..] == b" "),
                _ => !quoted && !matches!(&end, End::Last(l) if &l[..] == b" "),
            };
            if !ok {
                return None;
            }
            let scan = match (kind, end) {
                (Kind::Time { bare: true, .. }, End::Lit(l)) => Scan::ClfBare(l),
                (Kind::Time { .. }, End::Lit(l)) => Scan::Clf(l),
                (_, End::Lit(l)) if quoted => Scan::Quote(l),
                (_, End::Last(l)) if quoted => Scan::LastQuote(l),
                (_, End::Eol) => Scan::Eol,
                (_, End::Last(l)) => Scan::LastToken(l),
                (_, End::Lit(l)) if &l[..] == b" " => Scan::Space,
                (_, End::Lit(l)) if l.first() == Some(&b' ') => Scan::SpaceThen(l),
                (_, End::Lit(l)) => Scan::Byte(l),
            };
            let ipv4_first = matches!(scan, Scan::Space) && matches!(kind, Kind::Host | Kind::Ip);
            steps.push(Step {
                slot,
                kind,
                scan,
                ipv4_first,
            });
        }
        Some(FastPlan {
            lead,
            steps: steps.into_boxed_slice(),
            has_body,
        })
    }

    /// Parse `line` (already stripped of `\r` and checked for length); `None` hands the line
    /// to the general matcher.
    /// `rec` is a fresh [`AccessRecord::empty`] for `line`; on `None` it is left partly
    /// filled.
    #[inline]
    pub(crate) fn run<'a>(
        &self,
        fmt: &LogFormat,
        line: &'a [u8],
        cache: &mut ClfCache,
        rec: &mut AccessRecord<'a>,
    ) -> Option<()> {
        let mut pos = 0usize;
        if !self.lead.is_empty() {
            if !has_prefix(line, &self.lead) {
                return None;
            }
            pos = self.lead.len();
        }
        let mut canonical_port = None;
        for step in &self.steps[..] {
            if step.ipv4_first {
                // The usual `%h`: a dotted quad and its space, read in one go.
                if let Some((ip, len)) = ipv4_prefix(line.get(pos..)?) {
                    if line.get(pos + len) == Some(&b' ') {
                        rec.client = Some(Client::Ip(IpAddr::V4(ip)));
                        *rec.spans.get_mut(step.slot)? = (pos as u32, (pos + len) as u32);
                        pos += len + 1;
                        continue;
                    }
                }
            }
            let (end, next) = match &step.scan {
                Scan::Space => {
                    let q = pos + find_space(line.get(pos..)?)?;
                    (q, q + 1)
                }
                Scan::SpaceThen(lit) => {
                    let q = pos + find_space(line.get(pos..)?)?;
                    if !has_prefix(line.get(q..)?, lit) {
                        return None;
                    }
                    (q, q + lit.len())
                }
                Scan::Byte(lit) => {
                    let first = *lit.first()?;
                    let q = pos + memchr::memchr2(first, b' ', line.get(pos..)?)?;
                    if line.get(q) != Some(&first) || !has_prefix(line.get(q..)?, lit) {
                        return None;
                    }
                    (q, q + lit.len())
                }
                Scan::Quote(lit) => {
                    let q = find_closing_quote(line, pos, lit)?;
                    (q, q + lit.len())
                }
                Scan::LastQuote(lit) | Scan::LastToken(lit) => {
                    let tail = line.len().checked_sub(lit.len())?;
                    if tail < pos || !has_prefix(line.get(tail..)?, lit) {
                        return None;
                    }
                    if matches!(step.scan, Scan::LastQuote(_)) {
                        if escaped_quote(line, pos, tail) {
                            return None;
                        }
                    } else if memchr::memchr(b' ', line.get(pos..tail)?).is_some() {
                        return None;
                    }
                    (tail, line.len())
                }
                Scan::Eol => {
                    if memchr::memchr(b' ', line.get(pos..)?).is_some() {
                        return None;
                    }
                    (line.len(), line.len())
                }
                Scan::Clf(lit) | Scan::ClfBare(lit) => {
                    let bare = matches!(step.scan, Scan::ClfBare(_));
                    let end = pos + if bare { 26 } else { 28 };
                    if !bare && (line.get(pos) != Some(&b'[') || line.get(end - 1) != Some(&b']')) {
                        return None;
                    }
                    if !has_prefix(line.get(end..)?, lit) {
                        return None;
                    }
                    (end, end + lit.len())
                }
            };
            let v = line.get(pos..end)?;
            match step.kind {
                Kind::Host => {
                    if v.is_empty() {
                        return None;
                    }
                    rec.client = dash(v).map(|v| parse_ip(v).map_or(Client::Host(v), Client::Ip));
                }
                Kind::Ip => {
                    if v != b"-" {
                        rec.client = Some(Client::Ip(parse_ip(v)?));
                    }
                }
                Kind::Peer => rec.peer = ip_or_dash(v)?,
                Kind::ServerIp => rec.server_ip = ip_or_dash(v)?,
                Kind::Vhost => {
                    if v.is_empty() {
                        return None;
                    }
                    rec.vhost = dash(v);
                }
                Kind::Logname => rec.remote_logname = dash(v),
                Kind::User => rec.remote_user = dash(v),
                Kind::Time { bare, at_end } => {
                    let body = if bare { v } else { v.get(1..27)? };
                    let mut t = cache.parse_body(body)?;
                    t.at_end = at_end;
                    rec.time = Some(t);
                }
                Kind::Request => rec.request = dash(v).map(RequestLine::parse),
                Kind::Status => {
                    rec.status = match digits(v, 3)? {
                        Some(n) => Some(u16::try_from(n).ok()?),
                        None => None,
                    };
                }
                Kind::Body => rec.bytes = Some(digits(v, 19)?.unwrap_or(0)),
                Kind::BytesIn => rec.bytes_in = digits(v, 19)?,
                Kind::BytesOut => rec.bytes_out = digits(v, 19)?,
                Kind::BytesTotal => rec.bytes_total = digits(v, 19)?,
                Kind::Duration(unit) => {
                    rec.duration_us = digits(v, 19)?.map(|n| n.saturating_mul(unit));
                }
                Kind::Port(kind) => {
                    let p = match digits(v, 5)? {
                        Some(n) => Some(u16::try_from(n).ok()?),
                        None => None,
                    };
                    match kind {
                        PortKind::Remote => rec.client_port = p,
                        PortKind::Local => rec.server_port = p,
                        PortKind::Canonical => canonical_port = p,
                    }
                }
                Kind::Referer => rec.referer = dash(v),
                Kind::UserAgent => rec.user_agent = dash(v),
                Kind::Text => {}
                Kind::KeepAlive => {
                    rec.keepalive = digits(v, 19)?.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
                }
                Kind::ConnStatus => {
                    if !matches!(v, b"X" | b"+" | b"-") {
                        return None;
                    }
                    rec.conn_status = v.first().copied();
                }
                Kind::Pid => rec.pid = digits(v, 19)?.and_then(|n| u32::try_from(n).ok()),
                Kind::Tid => rec.tid = digits(v, 19)?,
                Kind::ConnSerial => rec.connection_serial = digits(v, 19)?,
            }
            *rec.spans.get_mut(step.slot)? = (pos as u32, end as u32);
            pos = next;
        }
        if pos != line.len() {
            return None;
        }
        if rec.server_port.is_none() {
            rec.server_port = canonical_port;
        }
        if !self.has_body {
            rec.bytes = rec.bytes_out;
        }
        rec.n_fields = fmt.fields.len();
        rec.trailing = line.get(line.len()..).unwrap_or_default();
        Some(())
    }
}

/// `hay` starts with `p`: a byte loop (the separators are 1-3 bytes; `memcmp` costs a call).
#[inline]
fn has_prefix(hay: &[u8], p: &[u8]) -> bool {
    hay.len() >= p.len() && hay.iter().zip(p).all(|(a, b)| a == b)
}

#[inline]
fn dash(v: &[u8]) -> Option<&[u8]> {
    (v != b"-").then_some(v)
}

/// `-` -> `Some(None)`, an address -> `Some(Some(ip))`, anything else `None`.
#[inline]
fn ip_or_dash(v: &[u8]) -> Option<Option<IpAddr>> {
    if v == b"-" {
        Some(None)
    } else {
        parse_ip(v).map(Some)
    }
}

/// `-` -> `Some(None)`, 1..=`max` digits -> `Some(Some(n))`, anything else `None`.
/// `max` is at most 19, so the value cannot overflow.
#[inline]
fn digits(v: &[u8], max: usize) -> Option<Option<u64>> {
    if v == b"-" {
        return Some(None);
    }
    if v.is_empty() || v.len() > max.min(19) {
        return None;
    }
    let mut n = 0u64;
    for &c in v {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(Some(n))
}

/// First space: a byte loop over the short tokens (`-`, a status, an address), memchr after.
#[inline]
fn find_space(hay: &[u8]) -> Option<usize> {
    let head = hay.get(..16).unwrap_or(hay);
    if let Some(i) = head.iter().position(|&c| c == b' ') {
        return Some(i);
    }
    let from = head.len();
    memchr::memchr(b' ', hay.get(from..)?).map(|i| from + i)
}

/// The first occurrence of `lit` (which starts with `"`) at or after `pos` whose quote is not
/// escaped.
#[inline]
fn find_closing_quote(line: &[u8], pos: usize, lit: &[u8]) -> Option<usize> {
    let mut from = pos;
    loop {
        let q = from + memchr::memchr(b'"', line.get(from..)?)?;
        if has_prefix(line.get(q..)?, lit) && !escaped_quote(line, pos, q) {
            return Some(q);
        }
        from = q + 1;
    }
}
