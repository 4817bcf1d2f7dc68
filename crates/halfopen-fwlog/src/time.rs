//! Timestamps as written in logs, and the resolver that turns them into instants.
//!
//! CONTRACT (written before the implementation): format modules fill a [`Timestamp`]
//! with the parts the text gives; the resolver (to be written here) adds the year and
//! zone a syslog RFC 3164 stamp leaves out.

use crate::{Error, Result};

/// How the timestamp was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimestampKind {
    /// RFC 3164 `Mar  1 18:49:05` (no year, no zone).
    Rfc3164,
    /// RFC 5424 / RFC 3339 / ISO 8601 (`2021-07-03T19:10:14.578288-05:00`), rsyslog high precision.
    Iso8601,
    /// A format's own layout (ipmon `dd/mm/yyyy`, Windows `yyyy-mm-dd hh:mm:ss`, Proxmox
    /// `dd/Mon/yyyy:HH:MM:SS +zzzz`, tcpdump `-tt` epoch seconds, ...).
    Native,
}

/// A timestamp as the log wrote it: the raw bytes and the parts they give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp<'a> {
    /// The bytes as written.
    pub raw: &'a [u8],
    /// Which layout.
    pub kind: TimestampKind,
    /// Year, when written.
    pub year: Option<i32>,
    /// Month 1–12.
    pub month: u8,
    /// Day of month 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–60 (leap second allowed as written).
    pub second: u8,
    /// Fraction of the second in nanoseconds.
    pub nanos: u32,
    /// Offset from UTC in seconds east, when written (`Z` = 0).
    pub utc_offset: Option<i32>,
}

// ---------------------------------------------------------------------------
// Timestamp layouts
// ---------------------------------------------------------------------------

/// English month abbreviations as syslog writes them.
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Most fraction digits accepted after the seconds (nanosecond precision).
pub const MAX_FRACTION_DIGITS: usize = 9;

/// The month number (1–12) of an English three-letter abbreviation (case-insensitive).
pub fn month_from_abbrev(b: &[u8]) -> Option<u8> {
    let b: &[u8; 3] = b.try_into().ok()?;
    let mut n = 0u8;
    for m in MONTHS {
        n += 1;
        if m.eq_ignore_ascii_case(b) {
            return Some(n);
        }
    }
    None
}

/// The English three-letter abbreviation of month 1–12 (`"Jan"` for anything out of range).
pub fn month_abbrev(month: u8) -> &'static str {
    match month {
        2 => "Feb",
        3 => "Mar",
        4 => "Apr",
        5 => "May",
        6 => "Jun",
        7 => "Jul",
        8 => "Aug",
        9 => "Sep",
        10 => "Oct",
        11 => "Nov",
        12 => "Dec",
        _ => "Jan",
    }
}

/// Reads exactly `n` ASCII digits at `pos`.
fn digits(b: &[u8], pos: usize, n: usize) -> Option<u32> {
    let s = b.get(pos..pos.checked_add(n)?)?;
    let mut v: u32 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// Reads `HH:MM:SS` at `pos`, checking ranges.
fn hms(b: &[u8], pos: usize) -> Option<(u8, u8, u8)> {
    let h = digits(b, pos, 2)?;
    let m = digits(b, pos + 3, 2)?;
    let s = digits(b, pos + 6, 2)?;
    if b.get(pos + 2) != Some(&b':') || b.get(pos + 5) != Some(&b':') {
        return None;
    }
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    Some((h as u8, m as u8, s as u8))
}

/// Reads an optional `.ddddd` fraction at `pos`: (nanos, bytes used).
fn fraction(b: &[u8], pos: usize) -> Result<(u32, usize)> {
    if b.get(pos) != Some(&b'.') {
        return Ok((0, 0));
    }
    let mut n = 0usize;
    let mut nanos: u32 = 0;
    while let Some(c) = b.get(pos + 1 + n).filter(|c| c.is_ascii_digit()) {
        if n == MAX_FRACTION_DIGITS {
            return Err(Error::syntax(pos + 1 + n, "at most 9 fraction digits"));
        }
        nanos = nanos * 10 + u32::from(c - b'0');
        n += 1;
    }
    if n == 0 {
        return Err(Error::syntax(pos + 1, "a digit after the decimal point"));
    }
    for _ in n..MAX_FRACTION_DIGITS {
        nanos *= 10;
    }
    Ok((nanos, n + 1))
}

fn check_day(month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Parses an RFC 3164 stamp `Mar  1 18:49:05` / `Mar 1 18:49:05` (also with a `.ffffff`
/// fraction, as tcpdump and some relays write it) at the start of `b`.
/// Returns the timestamp and the bytes it used.
///
/// ```
/// use halfopen_fwlog::time::parse_rfc3164;
/// let (ts, used) = parse_rfc3164(b"Mar  1 18:49:05 host").unwrap();
/// assert_eq!((ts.month, ts.day, ts.hour, ts.second), (3, 1, 18, 5));
/// assert_eq!(used, 15);
/// ```
pub fn parse_rfc3164(b: &[u8]) -> Result<(Timestamp<'_>, usize)> {
    let month = b
        .get(..3)
        .and_then(month_from_abbrev)
        .ok_or(Error::syntax(0, "a month abbreviation (Jan..Dec)"))?;
    if b.get(3) != Some(&b' ') {
        return Err(Error::syntax(3, "a space after the month"));
    }
    let mut pos = 4;
    if b.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let (day, dlen) = if let Some(d) = digits(b, pos, 2) {
        (d, 2)
    } else if let Some(d) = digits(b, pos, 1) {
        (d, 1)
    } else {
        return Err(Error::syntax(pos, "a day of month"));
    };
    if !check_day(u32::from(month), day) {
        return Err(Error::syntax(pos, "a day of month 1-31"));
    }
    pos += dlen;
    if b.get(pos) != Some(&b' ') {
        return Err(Error::syntax(pos, "a space after the day"));
    }
    pos += 1;
    let (hour, minute, second) = hms(b, pos).ok_or(Error::syntax(pos, "a time HH:MM:SS"))?;
    pos += 8;
    let (nanos, flen) = fraction(b, pos)?;
    pos += flen;
    let ts = Timestamp {
        raw: b.get(..pos).unwrap_or_default(),
        kind: TimestampKind::Rfc3164,
        year: None,
        month,
        day: day as u8,
        hour,
        minute,
        second,
        nanos,
        utc_offset: None,
    };
    Ok((ts, pos))
}

/// Parses a zone suffix `Z`, `+HH:MM`, `+HHMM`, `-HH` at `pos`: (offset seconds east, bytes used).
fn zone_suffix(b: &[u8], pos: usize) -> Result<(Option<i32>, usize)> {
    match b.get(pos) {
        Some(b'Z' | b'z') => Ok((Some(0), 1)),
        Some(&c @ (b'+' | b'-')) => {
            let h = digits(b, pos + 1, 2).ok_or(Error::syntax(pos + 1, "offset hours"))?;
            let (m, used) = if b.get(pos + 3) == Some(&b':') {
                (
                    digits(b, pos + 4, 2).ok_or(Error::syntax(pos + 4, "offset minutes"))?,
                    6,
                )
            } else if let Some(m) = digits(b, pos + 3, 2) {
                (m, 5)
            } else {
                (0, 3)
            };
            if h > 23 || m > 59 {
                return Err(Error::syntax(pos + 1, "an offset below 24:00"));
            }
            let secs = (h * 3600 + m * 60) as i32;
            Ok((Some(if c == b'-' { -secs } else { secs }), used))
        }
        _ => Ok((None, 0)),
    }
}

/// Parses an RFC 3339 / ISO 8601 stamp `2021-07-03T19:10:14.578288-05:00` (also `Z`,
/// `+0100` as journald `short-iso` writes it, or no zone at all) at the start of `b`.
/// Returns the timestamp and the bytes it used.
///
/// ```
/// use halfopen_fwlog::time::parse_iso8601;
/// let (ts, used) = parse_iso8601(b"2021-07-03T19:10:14.578288-05:00 host").unwrap();
/// assert_eq!(ts.year, Some(2021));
/// assert_eq!(ts.nanos, 578_288_000);
/// assert_eq!(ts.utc_offset, Some(-5 * 3600));
/// assert_eq!(used, 32);
/// ```
pub fn parse_iso8601(b: &[u8]) -> Result<(Timestamp<'_>, usize)> {
    let year = digits(b, 0, 4).ok_or(Error::syntax(0, "a 4-digit year"))?;
    let month = digits(b, 5, 2).filter(|_| b.get(4) == Some(&b'-'));
    let day = digits(b, 8, 2).filter(|_| b.get(7) == Some(&b'-'));
    let (Some(month), Some(day)) = (month, day) else {
        return Err(Error::syntax(4, "a date YYYY-MM-DD"));
    };
    if !check_day(month, day) {
        return Err(Error::syntax(5, "a valid month and day"));
    }
    if !matches!(b.get(10), Some(b'T' | b't')) {
        return Err(Error::syntax(10, "'T' between date and time"));
    }
    let (hour, minute, second) = hms(b, 11).ok_or(Error::syntax(11, "a time HH:MM:SS"))?;
    let mut pos = 19;
    let (nanos, flen) = fraction(b, pos)?;
    pos += flen;
    let (utc_offset, zlen) = zone_suffix(b, pos)?;
    pos += zlen;
    let ts = Timestamp {
        raw: b.get(..pos).unwrap_or_default(),
        kind: TimestampKind::Iso8601,
        year: Some(year as i32),
        month: month as u8,
        day: day as u8,
        hour,
        minute,
        second,
        nanos,
        utc_offset,
    };
    Ok((ts, pos))
}

/// Parses the Apache-style stamp `20/Jun/2022:13:09:14 +0200` (Proxmox `pvefw-logger`)
/// at the start of `b`. Returns the timestamp and the bytes it used.
///
/// ```
/// use halfopen_fwlog::time::parse_clf;
/// let (ts, used) = parse_clf(b"20/Jun/2022:13:09:14 +0200 policy").unwrap();
/// assert_eq!((ts.year, ts.month, ts.utc_offset), (Some(2022), 6, Some(7200)));
/// assert_eq!(used, 26);
/// ```
pub fn parse_clf(b: &[u8]) -> Result<(Timestamp<'_>, usize)> {
    let day = digits(b, 0, 2).ok_or(Error::syntax(0, "a 2-digit day"))?;
    let month = b
        .get(3..6)
        .and_then(month_from_abbrev)
        .filter(|_| b.get(2) == Some(&b'/') && b.get(6) == Some(&b'/'))
        .ok_or(Error::syntax(2, "/Mon/"))?;
    if !check_day(u32::from(month), day) {
        return Err(Error::syntax(0, "a day of month 1-31"));
    }
    let year = digits(b, 7, 4).ok_or(Error::syntax(7, "a 4-digit year"))?;
    if b.get(11) != Some(&b':') {
        return Err(Error::syntax(11, "':' before the time"));
    }
    let (hour, minute, second) = hms(b, 12).ok_or(Error::syntax(12, "a time HH:MM:SS"))?;
    if b.get(20) != Some(&b' ') {
        return Err(Error::syntax(20, "a space before the offset"));
    }
    let sign = match b.get(21) {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(Error::syntax(21, "an offset +HHMM")),
    };
    let oh = digits(b, 22, 2).ok_or(Error::syntax(22, "an offset +HHMM"))?;
    let om = digits(b, 24, 2).ok_or(Error::syntax(24, "an offset +HHMM"))?;
    if oh > 23 || om > 59 {
        return Err(Error::syntax(22, "an offset below 24:00"));
    }
    let ts = Timestamp {
        raw: b.get(..26).unwrap_or_default(),
        kind: TimestampKind::Native,
        year: Some(year as i32),
        month,
        day: day as u8,
        hour,
        minute,
        second,
        nanos: 0,
        utc_offset: Some(sign * (oh * 3600 + om * 60) as i32),
    };
    Ok((ts, 26))
}
