//! Windows Firewall `pfirewall.log` (W3C extended log style).
//!
//! A log starts with `#Version`, `#Software`, `#Time Format` and `#Fields:` header lines;
//! every other line is one space-separated record whose columns follow the `#Fields:` line.
//! [`WindowsFields`] compiles a `#Fields:` line; [`parse`] uses the standard 17 columns
//! (`date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack
//! tcpwin icmptype icmpcode info path`), with one optional extra trailing `pid` column.
//! `-` means "no value".
//!
//! ```
//! use halfopen_fwlog::formats::windows;
//! use halfopen_fwlog::{Action, Direction, Protocol, TcpFlags};
//!
//! let line = b"2022-01-31 12:24:51 DROP TCP 192.168.9.163 192.168.9.212 63619 445 64 S 1031365855 0 65535 - - - RECEIVE 4";
//! let rec = windows::parse(line).unwrap();
//! assert_eq!(rec.action, Some(Action::Deny));
//! assert_eq!(rec.protocol, Protocol::Tcp);
//! assert_eq!(rec.dst_port, Some(445));
//! assert_eq!(rec.tcp_flags, Some(TcpFlags::SYN));
//! assert_eq!(rec.direction, Some(Direction::In));
//! assert_eq!(rec.extra.get(b"pid"), Some(&b"4"[..]));
//! ```

use std::net::IpAddr;

use crate::scan::dec;
use crate::time::{In, NomError, Timestamp, TimestampKind, offset_in};
use crate::{Action, Direction, Error, Format, Protocol, Record, Result, TcpFlags};
use nom::Parser;
use nom::bytes::complete::{tag, take_till1, take_while};
use nom::combinator::opt as optional;
use nom::sequence::preceded;

/// Longest line accepted (a real line is under 200 bytes).
pub const MAX_LINE_LEN: usize = 4096;
/// Most columns a `#Fields:` line may declare.
pub const MAX_COLUMNS: usize = 32;

/// One column of a `#Fields:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Date,
    Time,
    Action,
    Protocol,
    SrcIp,
    DstIp,
    SrcPort,
    DstPort,
    Size,
    TcpFlags,
    TcpSyn,
    TcpAck,
    TcpWin,
    IcmpType,
    IcmpCode,
    Info,
    Path,
    Pid,
    /// A column this parser does not know, kept in `extra` under its name.
    Other(Box<[u8]>),
}

impl Column {
    fn from_name(name: &[u8]) -> Column {
        match name {
            b"date" => Column::Date,
            b"time" => Column::Time,
            b"action" => Column::Action,
            b"protocol" => Column::Protocol,
            b"src-ip" => Column::SrcIp,
            b"dst-ip" => Column::DstIp,
            b"src-port" => Column::SrcPort,
            b"dst-port" => Column::DstPort,
            b"size" => Column::Size,
            b"tcpflags" => Column::TcpFlags,
            b"tcpsyn" => Column::TcpSyn,
            b"tcpack" => Column::TcpAck,
            b"tcpwin" => Column::TcpWin,
            b"icmptype" => Column::IcmpType,
            b"icmpcode" => Column::IcmpCode,
            b"info" => Column::Info,
            b"path" => Column::Path,
            b"pid" => Column::Pid,
            other => Column::Other(other.into()),
        }
    }

    fn name(&self) -> &[u8] {
        match self {
            Column::Date => b"date",
            Column::Time => b"time",
            Column::Action => b"action",
            Column::Protocol => b"protocol",
            Column::SrcIp => b"src-ip",
            Column::DstIp => b"dst-ip",
            Column::SrcPort => b"src-port",
            Column::DstPort => b"dst-port",
            Column::Size => b"size",
            Column::TcpFlags => b"tcpflags",
            Column::TcpSyn => b"tcpsyn",
            Column::TcpAck => b"tcpack",
            Column::TcpWin => b"tcpwin",
            Column::IcmpType => b"icmptype",
            Column::IcmpCode => b"icmpcode",
            Column::Info => b"info",
            Column::Path => b"path",
            Column::Pid => b"pid",
            Column::Other(name) => name,
        }
    }
}

/// The standard 17 columns and the trailing `pid` some writers add.
const STANDARD_PID: [Column; 18] = [
    Column::Date,
    Column::Time,
    Column::Action,
    Column::Protocol,
    Column::SrcIp,
    Column::DstIp,
    Column::SrcPort,
    Column::DstPort,
    Column::Size,
    Column::TcpFlags,
    Column::TcpSyn,
    Column::TcpAck,
    Column::TcpWin,
    Column::IcmpType,
    Column::IcmpCode,
    Column::Info,
    Column::Path,
    Column::Pid,
];

/// The standard `#Fields:` columns (Windows default).
const STANDARD: &[Column] = STANDARD_PID.split_at(17).0;

/// The column layout of a `pfirewall.log`, compiled from its `#Fields:` header line.
///
/// The [`Default`] is the standard 17-column layout every Windows version writes; a line
/// with one more trailing value than the layout has is read as if the layout ended in `pid`
/// (Windows 10 1809+ writes `pid` when the `#Fields:` line lists it).
///
/// ```
/// use halfopen_fwlog::formats::windows::{self, WindowsFields};
///
/// let fields = WindowsFields::compile(b"#Fields: date time action protocol src-ip dst-ip src-port dst-port path").unwrap();
/// let rec = windows::parse_with(&fields, b"2019-11-06 12:35:19 DROP UDP 5.5.3.197 224.0.0.251 5353 5353 RECEIVE").unwrap();
/// assert_eq!(rec.src_port, Some(5353));
/// assert!(rec.length.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowsFields {
    columns: Vec<Column>,
}

impl Default for WindowsFields {
    fn default() -> Self {
        WindowsFields {
            columns: STANDARD.to_vec(),
        }
    }
}

impl WindowsFields {
    /// Compiles a `#Fields:` line (the `#Fields:` prefix is optional).
    ///
    /// The layout must name `action`, `protocol`, `src-ip` and `dst-ip`; at most
    /// [`MAX_COLUMNS`] columns, each named once.
    pub fn compile(line: &[u8]) -> Result<WindowsFields> {
        let (mut rest, _) = optional(tag::<_, _, NomError<'_>>(&b"#Fields:"[..]))
            .parse(line)
            .unwrap_or((line, None));
        let mut columns: Vec<Column> = Vec::new();
        while let Ok((r, name)) = column_name().parse(rest) {
            let start = offset_in(line, r).saturating_sub(name.len());
            if columns.len() == MAX_COLUMNS {
                return Err(Error::TooManyFields {
                    line: 0,
                    offset: start,
                    limit: MAX_COLUMNS,
                });
            }
            let col = Column::from_name(name);
            if columns.contains(&col) {
                return Err(Error::syntax(start, "a column name not already listed"));
            }
            columns.push(col);
            rest = r;
        }
        for required in [
            Column::Action,
            Column::Protocol,
            Column::SrcIp,
            Column::DstIp,
        ] {
            if !columns.contains(&required) {
                return Err(Error::syntax(
                    line.len(),
                    "a #Fields: line naming action, protocol, src-ip and dst-ip",
                ));
            }
        }
        Ok(WindowsFields { columns })
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True when there are no columns (never true for a compiled layout).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Column names in order.
    pub fn names(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.columns.iter().map(Column::name)
    }

    fn accepts_trailing_pid(&self) -> bool {
        !self.columns.contains(&Column::Pid)
    }
}

/// One column name of a `#Fields:` line after its separating spaces (runs of spaces are one
/// separator).
fn column_name<'a>() -> impl Parser<In<'a>, Output = &'a [u8], Error = NomError<'a>> {
    preceded(take_while(|c| c == b' '), take_till1(|c| c == b' '))
}

/// True for a `#Fields:` header line (compile it with [`WindowsFields::compile`]).
pub fn is_fields_header(line: &[u8]) -> bool {
    line.starts_with(b"#Fields:")
}

/// Parses one line with the standard 17-column layout (plus an optional trailing `pid`).
///
/// `#` header lines yield [`Error::NotAPacket`] `{ what: "header" }`; the firewall's
/// `INFO-EVENTS-LOST` notice yields [`Error::NotAPacket`] `{ what: "events-lost notice" }`.
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    static DEFAULT: std::sync::OnceLock<WindowsFields> = std::sync::OnceLock::new();
    parse_with(DEFAULT.get_or_init(WindowsFields::default), line)
}

/// Parses one line with the column layout of a `#Fields:` line.
///
/// Columns without a typed slot in [`Record`] (`info`, `pid`, unknown names) are kept in
/// `extra` under their column name when they are not `-`.
pub fn parse_with<'a>(fields: &'a WindowsFields, line: &'a [u8]) -> Result<Record<'a>> {
    if line.len() > MAX_LINE_LEN {
        return Err(Error::LineTooLong {
            line: 0,
            len: line.len(),
            limit: MAX_LINE_LEN,
        });
    }
    if line.first() == Some(&b'#') {
        return Err(Error::NotAPacket {
            line: 0,
            what: "header",
        });
    }
    let mut p = Partial::default();
    let mut values = line.split(|&b| b == b' ');
    let mut offset = 0usize;
    for col in &fields.columns {
        let value = match values.next() {
            Some(v) if !v.is_empty() => v,
            _ => {
                return Err(Error::syntax(
                    offset.min(line.len()),
                    "a value or `-` for every #Fields column (line truncated)",
                ));
            }
        };
        p.set(col, value, offset)?;
        offset = offset.saturating_add(value.len()).saturating_add(1);
    }
    if let Some(value) = values.next() {
        if fields.accepts_trailing_pid() && !value.is_empty() {
            p.set(&Column::Pid, value, offset)?;
            offset = offset.saturating_add(value.len()).saturating_add(1);
        } else if !value.is_empty() || values.next().is_some() {
            return Err(Error::syntax(
                offset,
                "the end of the line (too many columns)",
            ));
        }
    }
    if values.next().is_some() {
        return Err(Error::syntax(
            offset,
            "the end of the line (too many columns)",
        ));
    }
    p.finish(line)
}

/// Values gathered from the columns before the record can be built.
#[derive(Default)]
struct Partial<'a> {
    date: Option<(usize, &'a [u8])>,
    time: Option<(usize, &'a [u8])>,
    action: Option<&'a [u8]>,
    protocol: Option<Protocol>,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    size: Option<u32>,
    flags: Option<TcpFlags>,
    seq: Option<u32>,
    ack: Option<u32>,
    win: Option<u32>,
    icmp_type: Option<(usize, u8)>,
    icmp_code: Option<(usize, u8)>,
    path: Option<&'a [u8]>,
    extra: [(&'a [u8], &'a [u8]); MAX_COLUMNS],
    extra_len: usize,
}

fn num<T: TryFrom<u64>>(v: &[u8], offset: usize, expected: &'static str) -> Result<Option<T>> {
    if v == b"-" {
        return Ok(None);
    }
    dec(v).map(Some).ok_or(Error::syntax(offset, expected))
}

/// A decimal number that fits `T` (checked, no sign).
fn ip(v: &[u8]) -> Option<IpAddr> {
    crate::scan::ip(v)
}

impl<'a> Partial<'a> {
    fn set(&mut self, col: &'a Column, v: &'a [u8], off: usize) -> Result<()> {
        match col {
            Column::Date => self.date = (v != b"-").then_some((off, v)),
            Column::Time => self.time = (v != b"-").then_some((off, v)),
            Column::Action => {
                if v == b"INFO-EVENTS-LOST" {
                    return Err(Error::NotAPacket {
                        line: 0,
                        what: "events-lost notice",
                    });
                }
                self.action = (v != b"-").then_some(v);
            }
            Column::Protocol => {
                self.protocol = Some(
                    protocol(v).ok_or(Error::syntax(off, "a protocol (TCP, UDP, ICMP, number)"))?,
                );
            }
            Column::SrcIp => self.src = Some(ip(v).ok_or(Error::syntax(off, "a source IP"))?),
            Column::DstIp => {
                self.dst = Some(ip(v).ok_or(Error::syntax(off, "a destination IP"))?);
            }
            Column::SrcPort => self.src_port = num(v, off, "a source port or `-`")?,
            Column::DstPort => self.dst_port = num(v, off, "a destination port or `-`")?,
            Column::Size => self.size = num(v, off, "a packet size or `-`")?,
            Column::TcpFlags => {
                self.flags = if v == b"-" {
                    None
                } else {
                    Some(flags(v).ok_or(Error::syntax(off, "TCP flag letters (FSRPAU) or `-`"))?)
                };
            }
            Column::TcpSyn => self.seq = num(v, off, "a TCP sequence number or `-`")?,
            Column::TcpAck => self.ack = num(v, off, "a TCP acknowledgment number or `-`")?,
            Column::TcpWin => self.win = num(v, off, "a TCP window or `-`")?,
            Column::IcmpType => {
                self.icmp_type = num(v, off, "an ICMP type or `-`")?.map(|t| (off, t));
            }
            Column::IcmpCode => {
                self.icmp_code = num(v, off, "an ICMP code or `-`")?.map(|c| (off, c));
            }
            Column::Path => self.path = (v != b"-").then_some(v),
            Column::Info | Column::Pid | Column::Other(_) => {
                if v != b"-" {
                    let slot = self
                        .extra
                        .get_mut(self.extra_len)
                        .ok_or(Error::TooManyFields {
                            line: 0,
                            offset: off,
                            limit: MAX_COLUMNS,
                        })?;
                    *slot = (col.name(), v);
                    self.extra_len += 1;
                }
            }
        }
        Ok(())
    }

    fn finish(self, line: &'a [u8]) -> Result<Record<'a>> {
        let (Some(protocol), Some(src), Some(dst)) = (self.protocol, self.src, self.dst) else {
            return Err(Error::syntax(
                line.len(),
                "protocol, src-ip and dst-ip values",
            ));
        };
        let mut rec = Record::new(Format::WindowsFirewall, protocol, src, dst);
        rec.timestamp = timestamp(line, self.date, self.time)?;
        if let Some(a) = self.action {
            rec.action = Some(action(a));
            rec.action_text = Some(a);
        }
        rec.src_port = self.src_port;
        rec.dst_port = self.dst_port;
        rec.length = self.size;
        rec.tcp_flags = self.flags;
        rec.seq = self.seq;
        rec.ack = self.ack;
        rec.window = self.win;
        rec.icmp = match (self.icmp_type, self.icmp_code) {
            (Some((_, t)), Some((_, c))) => Some((t, c)),
            (None, None) => None,
            (Some((off, _)), None) | (None, Some((off, _))) => {
                return Err(Error::syntax(off, "both icmptype and icmpcode, or neither"));
            }
        };
        let full = Error::TooManyFields {
            line: 0,
            offset: line.len(),
            limit: crate::record::MAX_EXTRA_FIELDS,
        };
        match self.path {
            Some(b"RECEIVE") => rec.direction = Some(Direction::In),
            Some(b"SEND") => rec.direction = Some(Direction::Out),
            Some(b"FORWARD") => rec.direction = Some(Direction::Forward),
            Some(other) if !rec.extra.push(b"path", other) => return Err(full),
            Some(_) | None => {}
        }
        for (k, v) in self.extra.iter().take(self.extra_len) {
            if !rec.extra.push(k, v) {
                return Err(full);
            }
        }
        Ok(rec)
    }
}

fn protocol(v: &[u8]) -> Option<Protocol> {
    if v.eq_ignore_ascii_case(b"TCP") {
        Some(Protocol::Tcp)
    } else if v.eq_ignore_ascii_case(b"UDP") {
        Some(Protocol::Udp)
    } else if v.eq_ignore_ascii_case(b"ICMP") {
        Some(Protocol::Icmp)
    } else if v.eq_ignore_ascii_case(b"ICMPv6") {
        Some(Protocol::Icmpv6)
    } else {
        dec::<u8>(v).map(Protocol::from_number)
    }
}

fn action(v: &[u8]) -> Action {
    match v {
        b"DROP" => Action::Deny,
        b"ALLOW" | b"OPEN" | b"OPEN-INBOUND" => Action::Accept,
        _ => Action::Other,
    }
}

/// TCP flag letters, one per set flag (Windows writes `S`, `A`, `AP`, `FA`, ...).
fn flags(v: &[u8]) -> Option<TcpFlags> {
    if v.is_empty() || v.len() > 8 {
        return None;
    }
    let mut f = TcpFlags::empty();
    for &b in v {
        f |= match b {
            b'F' => TcpFlags::FIN,
            b'S' => TcpFlags::SYN,
            b'R' => TcpFlags::RST,
            b'P' => TcpFlags::PSH,
            b'A' => TcpFlags::ACK,
            b'U' => TcpFlags::URG,
            b'E' => TcpFlags::ECE,
            b'C' => TcpFlags::CWR,
            _ => return None,
        };
    }
    Some(f)
}

/// Two digits at `s[i..i + 2]`.
fn two(s: &[u8], i: usize) -> Option<u8> {
    dec(s.get(i..i.checked_add(2)?)?)
}

fn timestamp<'a>(
    line: &'a [u8],
    date: Option<(usize, &'a [u8])>,
    time: Option<(usize, &'a [u8])>,
) -> Result<Option<Timestamp<'a>>> {
    let (Some((doff, d)), Some((toff, t))) = (date, time) else {
        return match date.or(time) {
            Some((off, _)) => Err(Error::syntax(off, "both date and time, or neither")),
            None => Ok(None),
        };
    };
    // yyyy-mm-dd
    let (Some(year), Some(month), Some(day)) =
        (d.get(0..4).and_then(dec::<u16>), two(d, 5), two(d, 8))
    else {
        return Err(Error::syntax(doff, "a date yyyy-mm-dd"));
    };
    if d.len() != 10 || d.get(4) != Some(&b'-') || d.get(7) != Some(&b'-') {
        return Err(Error::syntax(doff, "a date yyyy-mm-dd"));
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(Error::syntax(doff, "a date with month 1-12 and day 1-31"));
    }
    // hh:mm:ss
    let (Some(hour), Some(minute), Some(second)) = (two(t, 0), two(t, 3), two(t, 6)) else {
        return Err(Error::syntax(toff, "a time hh:mm:ss"));
    };
    if t.len() != 8 || t.get(2) != Some(&b':') || t.get(5) != Some(&b':') {
        return Err(Error::syntax(toff, "a time hh:mm:ss"));
    }
    if hour > 23 || minute > 59 || second > 60 {
        return Err(Error::syntax(
            toff,
            "a time with hour 0-23, minute 0-59, second 0-60",
        ));
    }
    let (lo, hi) = if doff <= toff {
        (doff, toff.saturating_add(t.len()))
    } else {
        (toff, doff.saturating_add(d.len()))
    };
    Ok(Some(Timestamp {
        raw: line.get(lo..hi).unwrap_or(d),
        kind: TimestampKind::Native,
        year: Some(i32::from(year)),
        month,
        day,
        hour,
        minute,
        second,
        nanos: 0,
        utc_offset: None,
    }))
}

/// Renders a record as a line of the standard 17-column layout, plus a `pid` column when
/// `extra` holds one.
///
/// `extra` fields other than `info`, `path` and `pid` have no column and are not written.
pub fn render(record: &Record<'_>, out: &mut Vec<u8>) {
    if record.extra.get(b"pid").is_some() {
        render_columns(&STANDARD_PID, record, out);
    } else {
        render_columns(STANDARD, record, out);
    }
}

/// Renders a record in the column layout of `fields`.
pub fn render_with(fields: &WindowsFields, record: &Record<'_>, out: &mut Vec<u8>) {
    render_columns(&fields.columns, record, out);
}

fn render_columns(cols: &[Column], r: &Record<'_>, out: &mut Vec<u8>) {
    use std::io::Write as _;
    for (i, col) in cols.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        let start = out.len();
        // Writing to a Vec never fails.
        let _ = match col {
            Column::Date => match &r.timestamp {
                Some(ts) => write!(
                    out,
                    "{:04}-{:02}-{:02}",
                    ts.year.unwrap_or(1970),
                    ts.month,
                    ts.day
                ),
                None => Ok(()),
            },
            Column::Time => match &r.timestamp {
                Some(ts) => write!(out, "{:02}:{:02}:{:02}", ts.hour, ts.minute, ts.second),
                None => Ok(()),
            },
            Column::Action => {
                if let Some(t) = r.action_text {
                    out.extend_from_slice(t);
                } else {
                    match r.action {
                        Some(Action::Accept) => out.extend_from_slice(b"ALLOW"),
                        Some(Action::Deny | Action::Reject) => out.extend_from_slice(b"DROP"),
                        _ => {}
                    }
                }
                Ok(())
            }
            Column::Protocol => match r.protocol {
                Protocol::Tcp => write!(out, "TCP"),
                Protocol::Udp => write!(out, "UDP"),
                Protocol::Icmp => write!(out, "ICMP"),
                Protocol::Icmpv6 => write!(out, "ICMPv6"),
                Protocol::Other(n) => write!(out, "{n}"),
            },
            Column::SrcIp => write!(out, "{}", r.src),
            Column::DstIp => write!(out, "{}", r.dst),
            Column::SrcPort => opt(out, r.src_port),
            Column::DstPort => opt(out, r.dst_port),
            Column::Size => opt(out, r.length),
            Column::TcpFlags => {
                if let Some(f) = r.tcp_flags {
                    for (bit, letter) in FLAG_LETTERS {
                        if f.contains(bit) {
                            out.push(letter);
                        }
                    }
                }
                Ok(())
            }
            Column::TcpSyn => opt(out, r.seq),
            Column::TcpAck => opt(out, r.ack),
            Column::TcpWin => opt(out, r.window),
            Column::IcmpType => opt(out, r.icmp.map(|(t, _)| t)),
            Column::IcmpCode => opt(out, r.icmp.map(|(_, c)| c)),
            Column::Path => {
                match r.direction {
                    Some(Direction::In) => out.extend_from_slice(b"RECEIVE"),
                    Some(Direction::Out) => out.extend_from_slice(b"SEND"),
                    Some(Direction::Forward) => out.extend_from_slice(b"FORWARD"),
                    None => {
                        if let Some(p) = r.extra.get(b"path") {
                            out.extend_from_slice(p);
                        }
                    }
                }
                Ok(())
            }
            Column::Info | Column::Pid | Column::Other(_) => {
                if let Some(v) = r.extra.get(col.name()) {
                    out.extend_from_slice(v);
                }
                Ok(())
            }
        };
        if out.len() == start {
            out.push(b'-');
        }
    }
}

/// Render order of flag letters (matches the `AP`, `FA` seen in real logs).
const FLAG_LETTERS: [(TcpFlags, u8); 8] = [
    (TcpFlags::FIN, b'F'),
    (TcpFlags::SYN, b'S'),
    (TcpFlags::RST, b'R'),
    (TcpFlags::ACK, b'A'),
    (TcpFlags::PSH, b'P'),
    (TcpFlags::URG, b'U'),
    (TcpFlags::ECE, b'E'),
    (TcpFlags::CWR, b'C'),
];

fn opt<T: std::fmt::Display>(out: &mut Vec<u8>, v: Option<T>) -> std::io::Result<()> {
    use std::io::Write as _;
    match v {
        Some(v) => write!(out, "{v}"),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_header_grammar() {
        let f = WindowsFields::compile(b"#Fields:   action  protocol src-ip dst-ip x\r ").unwrap();
        let names: Vec<&[u8]> = f.names().collect();
        assert_eq!(
            names,
            [
                &b"action"[..],
                b"protocol",
                b"src-ip",
                b"dst-ip",
                &b"x\r"[..]
            ]
        );
        let f = WindowsFields::compile(b"action protocol src-ip dst-ip").unwrap();
        assert_eq!(f.len(), 4);
        let mut many = b"#Fields: action protocol src-ip dst-ip".to_vec();
        for i in 0..MAX_COLUMNS {
            many.extend_from_slice(format!(" x{i}").as_bytes());
        }
        let first_over = format!(" x{} ", MAX_COLUMNS - 4);
        let at = many
            .windows(first_over.len())
            .position(|w| w == first_over.as_bytes())
            .unwrap()
            + 1;
        assert!(
            matches!(
                WindowsFields::compile(&many),
                Err(Error::TooManyFields { offset, .. }) if offset == at
            ),
            "{:?}",
            WindowsFields::compile(&many)
        );
        assert!(matches!(
            WindowsFields::compile(b"#Fields: action protocol src-ip"),
            Err(Error::Syntax { offset: 31, .. })
        ));
    }
}
