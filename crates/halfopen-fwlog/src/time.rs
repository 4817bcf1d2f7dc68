//! Timestamps as written in logs, and the resolver that turns them into instants.
//!
//! CONTRACT (written before the implementation): format modules fill a [`Timestamp`]
//! with the parts the text gives; the resolver (to be written here) adds the year and
//! zone a syslog RFC 3164 stamp leaves out.

use crate::{Error, Result};
use nom::Parser;
use nom::bytes::complete::take_while_m_n;
use nom::character::complete::{char, digit1, one_of};
use nom::combinator::{map, opt, verify};
use nom::sequence::preceded;

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

/// Most fraction digits accepted after the seconds (nanosecond precision).
pub const MAX_FRACTION_DIGITS: usize = 9;

/// The month number (1–12) of an English three-letter abbreviation (case-insensitive).
pub fn month_from_abbrev(b: &[u8]) -> Option<u8> {
    let &[x, y, z] = b else { return None };
    // Setting bit 5 lowers an ASCII capital and leaves a lowercase letter as it is; the
    // only other byte it turns into a given lowercase letter is that letter's capital, so
    // this matches exactly what a case-insensitive comparison matches.
    Some(match [x | 0x20, y | 0x20, z | 0x20] {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    })
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

/// Reads exactly `n` ASCII digits at `pos` (hand-written: the RFC 3164 stamp is on the hot
/// path of every classic syslog line).
fn digits(b: &[u8], pos: usize, n: usize) -> Option<u32> {
    let s = b.get(pos..pos.checked_add(n)?)?;
    let mut v: u32 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.saturating_mul(10).saturating_add(u32::from(c - b'0'));
    }
    Some(v)
}

// ---------------------------------------------------------------------------
// nom 8 building blocks (structured, non-hot-path grammars; `complete` parsers)
// ---------------------------------------------------------------------------

/// Input of the nom parsers: the bytes of a line.
pub(crate) type In<'a> = &'a [u8];
/// The nom error type the grammars use (position only: the crate's [`Error`] names what
/// was expected).
pub(crate) type NomError<'a> = nom::error::Error<In<'a>>;

/// Byte offset of `rest` within `line` (`rest` is a suffix of `line`).
pub(crate) fn offset_in(line: &[u8], rest: &[u8]) -> usize {
    line.len().saturating_sub(rest.len())
}

/// Runs `p` on `rest` (a suffix of `line`); a nom error becomes [`Error::Syntax`] at the
/// position where `rest` starts (the start of the part that did not fit), naming `expected`.
pub(crate) fn run<'a, O>(
    line: &'a [u8],
    rest: &'a [u8],
    mut p: impl Parser<In<'a>, Output = O, Error = NomError<'a>>,
    expected: &'static str,
) -> Result<(In<'a>, O)> {
    p.parse(rest)
        .map_err(|_| Error::syntax(offset_in(line, rest), expected))
}

/// Exactly `n` ASCII digits (`n` <= 9) as a number.
pub(crate) fn fixed_digits<'a>(
    n: usize,
) -> impl Parser<In<'a>, Output = u32, Error = NomError<'a>> {
    map(
        take_while_m_n(n, n, |c: u8| c.is_ascii_digit()),
        |d: In<'a>| {
            d.iter().fold(0u32, |v, c| {
                v.saturating_mul(10).saturating_add(u32::from(c - b'0'))
            })
        },
    )
}

/// `HH:MM:SS` with hour 0–23, minute 0–59, second 0–60.
fn clock<'a>() -> impl Parser<In<'a>, Output = (u8, u8, u8), Error = NomError<'a>> {
    map(
        verify(
            (
                fixed_digits(2),
                preceded(char(':'), fixed_digits(2)),
                preceded(char(':'), fixed_digits(2)),
            ),
            |&(h, m, s)| h <= 23 && m <= 59 && s <= 60,
        ),
        |(h, m, s)| (h as u8, m as u8, s as u8),
    )
}

/// Reads `HH:MM:SS` at `pos`, checking ranges (hand-written, hot path: RFC 3164 stamps).
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
    let rest = b.get(pos..).unwrap_or_default();
    let Ok((after_dot, _)) = char::<_, NomError<'_>>('.').parse(rest) else {
        return Ok((0, 0));
    };
    let (_, ds) = run(b, after_dot, digit1, "a digit after the decimal point")?;
    if ds.len() > MAX_FRACTION_DIGITS {
        return Err(Error::syntax(
            pos + 1 + MAX_FRACTION_DIGITS,
            "at most 9 fraction digits",
        ));
    }
    let mut nanos = ds.iter().fold(0u32, |v, c| {
        v.saturating_mul(10).saturating_add(u32::from(c - b'0'))
    });
    for _ in ds.len()..MAX_FRACTION_DIGITS {
        nanos *= 10;
    }
    Ok((nanos, ds.len() + 1))
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
    let rest = b.get(pos..).unwrap_or_default();
    if one_of::<_, _, NomError<'_>>("Zz").parse(rest).is_ok() {
        return Ok((Some(0), 1));
    }
    let Ok((r, sign)) = one_of::<_, _, NomError<'_>>("+-").parse(rest) else {
        return Ok((None, 0));
    };
    let (r, h) = run(b, r, fixed_digits(2), "offset hours")?;
    let (r, m) = match char::<_, NomError<'_>>(':').parse(r) {
        Ok((after_colon, _)) => run(b, after_colon, fixed_digits(2), "offset minutes")?,
        Err(_) => opt(fixed_digits(2))
            .map(|m| m.unwrap_or(0))
            .parse(r)
            .unwrap_or((r, 0)),
    };
    if h > 23 || m > 59 {
        return Err(Error::syntax(pos + 1, "an offset below 24:00"));
    }
    let secs = (h * 3600 + m * 60) as i32;
    let used = offset_in(rest, r);
    Ok((Some(if sign == '-' { -secs } else { secs }), used))
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
    let (r, year) = run(b, b, fixed_digits(4), "a 4-digit year")?;
    let (r, (month, day)) = run(
        b,
        r,
        (
            preceded(char('-'), fixed_digits(2)),
            preceded(char('-'), fixed_digits(2)),
        ),
        "a date YYYY-MM-DD",
    )?;
    if !check_day(month, day) {
        return Err(Error::syntax(5, "a valid month and day"));
    }
    let (r, _) = run(b, r, one_of("Tt"), "'T' between date and time")?;
    let (r, (hour, minute, second)) = run(b, r, clock(), "a time HH:MM:SS")?;
    let mut pos = offset_in(b, r);
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

// ---------------------------------------------------------------------------
// Resolver: year and zone inference
// ---------------------------------------------------------------------------

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};

/// The zone used for stamps that do not carry their own offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// UTC.
    Utc,
    /// A fixed offset, seconds east of UTC.
    Fixed(i32),
    /// An IANA zone with its DST rules.
    Tz(chrono_tz::Tz),
}

impl Zone {
    /// The offset of a fixed zone, seconds east (UTC: 0); `None` for an IANA zone, whose
    /// offset changes.
    ///
    /// ```
    /// use halfopen_fwlog::time::Zone;
    /// assert_eq!(Zone::parse("-05:00").unwrap().fixed_offset(), Some(-18_000));
    /// assert_eq!(Zone::Utc.fixed_offset(), Some(0));
    /// assert_eq!(Zone::parse("Europe/Berlin").unwrap().fixed_offset(), None);
    /// ```
    pub fn fixed_offset(self) -> Option<i32> {
        match self {
            Zone::Utc => Some(0),
            Zone::Fixed(o) => Some(o),
            Zone::Tz(_) => None,
        }
    }

    /// Parses `UTC` / `Z`, a fixed offset (`+0100`, `-05:00`, `+01`), or an IANA name
    /// (`Europe/Berlin`).
    ///
    /// ```
    /// use halfopen_fwlog::time::Zone;
    /// assert_eq!(Zone::parse("-05:00").unwrap(), Zone::Fixed(-5 * 3600));
    /// assert!(matches!(Zone::parse("Europe/Berlin").unwrap(), Zone::Tz(_)));
    /// assert!(Zone::parse("Mars/Olympus").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Zone> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
            return Ok(Zone::Utc);
        }
        if t.starts_with(['+', '-']) {
            return match zone_suffix(t.as_bytes(), 0) {
                Ok((Some(off), used)) if used == t.len() => Ok(Zone::Fixed(off)),
                _ => Err(Error::UnknownZone {
                    name: s.to_string(),
                }),
            };
        }
        t.parse::<chrono_tz::Tz>()
            .map(Zone::Tz)
            .map_err(|_| Error::UnknownZone {
                name: s.to_string(),
            })
    }
}

/// Where the year of a stamp without one comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YearRef {
    /// The year is known (the first stamp of the input is in this year).
    Explicit(i32),
    /// A reference instant (file mtime, or now): a stamp that would be more than one day
    /// after it belongs to the year before.
    Reference(DateTime<Utc>),
}

/// A timestamp turned into an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// Microseconds since the Unix epoch, UTC.
    pub ts_us: i64,
    /// The offset from UTC that applied, seconds east.
    pub utc_offset_secs: i32,
    /// The year was not written and was inferred.
    pub year_inferred: bool,
    /// The offset was not written; the resolver's zone was used.
    pub zone_inferred: bool,
    /// The local time fell in a DST gap (does not exist) and was moved forward by the gap.
    pub dst_gap_shifted: bool,
}

/// Turns [`Timestamp`]s into instants, inferring the year and zone where the log leaves
/// them out.
///
/// Rules: a written year and offset are used as they are. Otherwise the year comes from
/// [`YearRef`] for the first stamp and is carried along: a stamp whose month is more than
/// six months before the previous stamp's (a January line after December lines) moves to the
/// next year. A local time in a DST gap is moved forward by the gap (`dst_gap_shifted`). A
/// local time that happens twice (the hour repeated when DST ends) takes the instant nearer
/// the previous stamp's: a log written in time order runs through the repeated hour twice,
/// first at the summer offset, then at the winter one; the first stamp of all takes the
/// earlier instant.
///
/// ```
/// use halfopen_fwlog::time::{parse_rfc3164, Resolver, YearRef, Zone};
/// let mut r = Resolver::new(YearRef::Explicit(2025), Zone::parse("UTC").unwrap());
/// let (dec, _) = parse_rfc3164(b"Dec 31 23:59:59").unwrap();
/// let (jan, _) = parse_rfc3164(b"Jan  1 00:00:01").unwrap();
/// let a = r.resolve(&dec).unwrap();
/// let b = r.resolve(&jan).unwrap();
/// assert_eq!(b.ts_us - a.ts_us, 2_000_000);
/// assert!(a.year_inferred && a.zone_inferred);
/// assert_eq!(r.first_inferred_year(), Some(2025));
/// ```
#[derive(Debug, Clone)]
pub struct Resolver {
    year_ref: YearRef,
    zone: Zone,
    /// Year and month of the previous stamp without a year.
    current: Option<(i32, u8)>,
    /// The year and month of the first stamp without a year.
    first: Option<(i32, u8)>,
    /// The instant of the previous stamp resolved (what a repeated local hour is read by).
    last_us: Option<i64>,
    /// Whether this resolver has resolved a stamp since it was made or resumed.
    resolved_any: bool,
    /// Whether a stamp without an offset was read in the resolver's zone.
    zone_used: bool,
    /// When the first stamp it resolved was a local time that happens twice: its two
    /// instants and whether the later was taken (it followed the stamp before, which a
    /// part of a log read on its own only assumed).
    first_repeated: Option<(i64, i64, bool)>,
}

/// What the year rollover rule carries from one year-less stamp to the next: the year and
/// month of the previous one (`None` before the first).
pub type YearState = Option<(i32, u8)>;

/// The year the rollover rule gives a year-less stamp of `month` after a year-less stamp
/// of `previous` (year, month): the same year, or the next when `month` is more than six
/// months before the previous stamp's (a January line after December lines). `None` past
/// the last representable year.
///
/// ```
/// use halfopen_fwlog::time::rollover_year;
/// assert_eq!(rollover_year((2025, 12), 1), Some(2026));
/// assert_eq!(rollover_year((2025, 3), 4), Some(2025));
/// assert_eq!(rollover_year((2025, 7), 1), Some(2025));
/// ```
pub fn rollover_year(previous: (i32, u8), month: u8) -> Option<i32> {
    let (year, last_month) = previous;
    if u32::from(month) + 6 < u32::from(last_month) {
        year.checked_add(1)
    } else {
        Some(year)
    }
}

impl Resolver {
    /// A resolver with a year reference and a default zone.
    pub fn new(year_ref: YearRef, zone: Zone) -> Resolver {
        Resolver {
            year_ref,
            zone,
            current: None,
            first: None,
            last_us: None,
            resolved_any: false,
            zone_used: false,
            first_repeated: None,
        }
    }

    /// The same resolver resumed after the year-less stamps that left `state` (see
    /// [`Resolver::year_state`]): a part of a log read on its own resolves as it would have
    /// after the part before it. The first inferred year is this resolver's own.
    ///
    /// ```
    /// use halfopen_fwlog::time::{parse_rfc3164, Resolver, YearRef, Zone};
    /// let mut whole = Resolver::new(YearRef::Explicit(2025), Zone::Utc);
    /// let (dec, _) = parse_rfc3164(b"Dec 31 23:59:59").unwrap();
    /// let (jan, _) = parse_rfc3164(b"Jan  1 00:00:01").unwrap();
    /// whole.resolve(&dec).unwrap();
    /// let mut rest = Resolver::new(YearRef::Explicit(2025), Zone::Utc).resumed(whole.year_state());
    /// assert_eq!(rest.resolve(&jan).unwrap(), whole.resolve(&jan).unwrap());
    /// assert_eq!(rest.first_inferred_stamp(), Some((2026, 1)));
    /// ```
    pub fn resumed(mut self, state: YearState) -> Resolver {
        self.current = state;
        self.resolved_any = false;
        self.first_repeated = None;
        self
    }

    /// The same resolver, as if the stamp before had been the instant `last_us` (see
    /// [`Resolver::last_instant`]): a part of a log read on its own reads a repeated local
    /// hour as it would have after the part before it.
    pub fn after(mut self, last_us: Option<i64>) -> Resolver {
        self.last_us = last_us;
        self
    }

    /// The instant of the last stamp resolved.
    pub fn last_instant(&self) -> Option<i64> {
        self.last_us
    }

    /// Whether this resolver, made [`Resolver::after`] an assumed instant to read a part of a
    /// log, read the part's first stamp as it would have after `actual` (the last instant the
    /// part before really gave): only a first stamp whose local time happens twice depends
    /// on it.
    ///
    /// ```
    /// use halfopen_fwlog::time::{parse_rfc3164, Resolver, YearRef, Zone};
    /// let berlin = Zone::parse("Europe/Berlin").unwrap();
    /// let (stamp, _) = parse_rfc3164(b"Oct 26 02:10:00").unwrap();
    /// let mut part = Resolver::new(YearRef::Explicit(2025), berlin).after(None);
    /// part.resolve(&stamp).unwrap(); // no stamp before: the earlier instant (CEST)
    /// let cest_0259 = 1_761_440_340_000_000; // 02:59 CEST, the first pass's end
    /// assert!(!part.repeated_hour_alike(Some(cest_0259)));
    /// assert!(part.repeated_hour_alike(None));
    /// ```
    pub fn repeated_hour_alike(&self, actual: Option<i64>) -> bool {
        match self.first_repeated {
            None => true,
            Some((earlier, later, took_later)) => takes_later(actual, earlier, later) == took_later,
        }
    }

    /// The year and month of the last year-less stamp resolved (what the rollover rule
    /// carries to the next one).
    pub fn year_state(&self) -> YearState {
        self.current
    }

    /// Whether this resolver, resumed from `assumed` to read a part of a log, gave the part's
    /// stamps the instants it would have given resumed from `actual` (the state the part
    /// before really left): the states are the same, or the part's first year-less stamp
    /// gets the same year from both (only that stamp's year depends on the state before it).
    ///
    /// ```
    /// use halfopen_fwlog::time::{parse_rfc3164, Resolver, YearRef, Zone};
    /// let (jan, _) = parse_rfc3164(b"Jan  1 00:00:01").unwrap();
    /// let mut part = Resolver::new(YearRef::Explicit(2025), Zone::Utc).resumed(Some((2025, 11)));
    /// part.resolve(&jan).unwrap();
    /// // December came in between: January still follows in 2026.
    /// assert!(part.resumed_alike(Some((2025, 11)), Some((2025, 12))));
    /// // From June, January would stay in 2025.
    /// assert!(!part.resumed_alike(Some((2025, 11)), Some((2025, 6))));
    /// ```
    pub fn resumed_alike(&self, assumed: YearState, actual: YearState) -> bool {
        assumed == actual
            || matches!((actual, self.first), (Some(previous), Some((year, month)))
                if rollover_year(previous, month) == Some(year))
    }

    /// Takes over what `later` left: a resolver of the next part of the same log, resumed
    /// from this one's [`Resolver::year_state`]. Its year state, when it resolved a year-less
    /// stamp; its first inferred stamp, when this one had none.
    pub fn follow(&mut self, later: &Resolver) {
        if later.first.is_some() {
            self.current = later.current;
        }
        if later.resolved_any {
            self.last_us = later.last_us;
        }
        self.zone_used |= later.zone_used;
        if self.first.is_none() {
            self.first = later.first;
        }
    }

    /// The year inferred for the first stamp without a year (`None` until there was one):
    /// what a report says it assumed.
    pub fn first_inferred_year(&self) -> Option<i32> {
        self.first.map(|(y, _)| y)
    }

    /// The year inferred for the first stamp without a year, and that stamp's month.
    pub fn first_inferred_stamp(&self) -> YearState {
        self.first
    }

    /// The zone used for stamps without an offset.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    /// Whether a stamp without an offset was read in [`Resolver::zone`] (a log whose stamps
    /// all carry their offset does not depend on it).
    pub fn zone_used(&self) -> bool {
        self.zone_used
    }

    /// Resolves one timestamp (call in line order: the year rollover depends on it).
    pub fn resolve(&mut self, ts: &Timestamp<'_>) -> Result<Resolved> {
        let (year, year_inferred) = match ts.year {
            Some(y) => (y, false),
            None => (self.infer_year(ts)?, true),
        };
        let naive = naive(year, ts)?;
        let leap = i64::from(ts.second == 60) * 1_000_000;
        let (utc, offset, zone_inferred, shifted) = match ts.utc_offset {
            Some(off) => (
                naive - chrono::Duration::seconds(i64::from(off)),
                off,
                false,
                false,
            ),
            None => {
                self.zone_used = true;
                let (utc, off, shifted) = self.local_to_utc_after(naive)?;
                (utc, off, true, shifted)
            }
        };
        let ts_us =
            utc.and_utc()
                .timestamp_micros()
                .checked_add(leap)
                .ok_or(Error::InvalidTime {
                    line: 0,
                    what: "out of range",
                })?;
        self.last_us = Some(ts_us);
        self.resolved_any = true;
        Ok(Resolved {
            ts_us,
            utc_offset_secs: offset,
            year_inferred,
            zone_inferred,
            dst_gap_shifted: shifted,
        })
    }

    fn infer_year(&mut self, ts: &Timestamp<'_>) -> Result<i32> {
        let year = match self.current {
            Some(previous) => rollover_year(previous, ts.month).ok_or(Error::InvalidTime {
                line: 0,
                what: "year out of range",
            })?,
            None => match self.year_ref {
                YearRef::Explicit(y) => y,
                YearRef::Reference(r) => {
                    let y = r.year();
                    let limit = r + chrono::Duration::days(1);
                    match naive(y, ts).and_then(|n| self.local_to_utc(n)) {
                        Ok((utc, _, _)) if utc.and_utc() > limit => y - 1,
                        // Feb 29 of a year that has none: the previous leap year is further
                        // back; take last year and let `naive` report the bad date.
                        Err(_) => y - 1,
                        Ok(_) => y,
                    }
                }
            },
        };
        self.current = Some((year, ts.month));
        self.first.get_or_insert((year, ts.month));
        Ok(year)
    }

    /// [`Resolver::local_to_utc`], a local time that happens twice read by the stamp before.
    fn local_to_utc_after(&mut self, naive: NaiveDateTime) -> Result<(NaiveDateTime, i32, bool)> {
        if let Zone::Tz(tz) = self.zone
            && let LocalResult::Ambiguous(earlier, later) = tz.from_local_datetime(&naive)
        {
            let (e, l) = (
                earlier.naive_utc().and_utc().timestamp_micros(),
                later.naive_utc().and_utc().timestamp_micros(),
            );
            let take_later = takes_later(self.last_us, e, l);
            if !self.resolved_any {
                self.first_repeated = Some((e, l, take_later));
            }
            let dt = if take_later { later } else { earlier };
            return Ok((dt.naive_utc(), dt.offset().fix().local_minus_utc(), false));
        }
        self.local_to_utc(naive)
    }

    /// Local wall time in the resolver's zone -> (UTC naive, offset, shifted by a DST gap);
    /// a local time that happens twice gives the earlier instant.
    fn local_to_utc(&self, naive: NaiveDateTime) -> Result<(NaiveDateTime, i32, bool)> {
        match self.zone {
            Zone::Utc => Ok((naive, 0, false)),
            Zone::Fixed(off) => Ok((
                naive - chrono::Duration::seconds(i64::from(off)),
                off,
                false,
            )),
            Zone::Tz(tz) => match tz.from_local_datetime(&naive) {
                LocalResult::Single(dt) => {
                    let off = dt.offset().fix().local_minus_utc();
                    Ok((dt.naive_utc(), off, false))
                }
                LocalResult::Ambiguous(earlier, _) => {
                    let off = earlier.offset().fix().local_minus_utc();
                    Ok((earlier.naive_utc(), off, false))
                }
                LocalResult::None => {
                    // In a gap: use the offset in force just before it, which lands the
                    // instant after the gap, moved forward by the gap's length.
                    for back_h in 1..=24 {
                        let before = naive - chrono::Duration::hours(back_h);
                        if let LocalResult::Single(dt) = tz.from_local_datetime(&before) {
                            let off_before = dt.offset().fix().local_minus_utc();
                            let utc = naive - chrono::Duration::seconds(i64::from(off_before));
                            let off_after =
                                tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
                            return Ok((utc, off_after, true));
                        }
                    }
                    Err(Error::InvalidTime {
                        line: 0,
                        what: "local time in a DST gap longer than a day",
                    })
                }
            },
        }
    }
}

/// Whether a local time that happens twice, at instants `earlier` and `later` (µs), is the
/// later one after a stamp at `last_us`: the one nearer it.
fn takes_later(last_us: Option<i64>, earlier: i64, later: i64) -> bool {
    last_us.is_some_and(|last| last > earlier + (later - earlier) / 2)
}

/// The naive local date-time of `ts` in `year` (a leap second 60 is read as 59; the caller
/// adds the second back).
fn naive(year: i32, ts: &Timestamp<'_>) -> Result<NaiveDateTime> {
    let date = NaiveDate::from_ymd_opt(year, u32::from(ts.month), u32::from(ts.day)).ok_or(
        Error::InvalidTime {
            line: 0,
            what: "no such date (day past the end of the month)",
        },
    )?;
    date.and_hms_nano_opt(
        u32::from(ts.hour),
        u32::from(ts.minute),
        u32::from(ts.second.min(59)),
        ts.nanos.min(999_999_999),
    )
    .ok_or(Error::InvalidTime {
        line: 0,
        what: "no such time of day",
    })
}

#[cfg(test)]
mod resolver_tests {
    use super::*;

    fn ts(s: &str) -> Timestamp<'_> {
        if s.as_bytes()[0].is_ascii_digit() {
            parse_iso8601(s.as_bytes()).unwrap().0
        } else {
            parse_rfc3164(s.as_bytes()).unwrap().0
        }
    }

    fn us(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
    }

    #[test]
    fn explicit_offsets_win() {
        let mut r = Resolver::new(
            YearRef::Explicit(2000),
            Zone::parse("Europe/Berlin").unwrap(),
        );
        let x = r.resolve(&ts("2021-07-03T19:10:14.578288-05:00")).unwrap();
        assert_eq!(x.ts_us, us("2021-07-04T00:10:14.578288Z"));
        assert_eq!(
            (x.utc_offset_secs, x.year_inferred, x.zone_inferred),
            (-18000, false, false)
        );
        assert!(!r.zone_used(), "no stamp was read in the zone");
        r.resolve(&ts("Jul  4 00:10:14")).unwrap();
        assert!(r.zone_used());
    }

    #[test]
    fn year_from_reference() {
        let now = DateTime::parse_from_rfc3339("2026-01-10T12:00:00Z")
            .unwrap()
            .to_utc();
        let mut r = Resolver::new(YearRef::Reference(now), Zone::Utc);
        // A December stamp is later than the reference: last year.
        let x = r.resolve(&ts("Dec 30 10:00:00")).unwrap();
        assert_eq!(x.ts_us, us("2025-12-30T10:00:00Z"));
        assert!(x.year_inferred);
        // Then January: rollover to the reference's year.
        let y = r.resolve(&ts("Jan  2 10:00:00")).unwrap();
        assert_eq!(y.ts_us, us("2026-01-02T10:00:00Z"));
        // Within one day after the reference is still this year.
        let mut r = Resolver::new(YearRef::Reference(now), Zone::Utc);
        assert_eq!(
            r.resolve(&ts("Jan 11 11:00:00")).unwrap().ts_us,
            us("2026-01-11T11:00:00Z")
        );
        let mut r = Resolver::new(YearRef::Reference(now), Zone::Utc);
        assert_eq!(
            r.resolve(&ts("Jan 11 13:00:00")).unwrap().ts_us,
            us("2025-01-11T13:00:00Z")
        );
    }

    #[test]
    fn rollover_and_small_disorder() {
        let mut r = Resolver::new(YearRef::Explicit(2025), Zone::Fixed(3600));
        let a = r.resolve(&ts("Dec 31 23:59:58")).unwrap();
        assert_eq!(a.ts_us, us("2025-12-31T22:59:58Z"));
        let b = r.resolve(&ts("Jan  1 00:00:02")).unwrap();
        assert_eq!(b.ts_us, us("2025-12-31T23:00:02Z"));
        // A slightly older stamp does not roll over again.
        let c = r.resolve(&ts("Jan  1 00:00:01")).unwrap();
        assert_eq!(c.ts_us, us("2025-12-31T23:00:01Z"));
        let d = r.resolve(&ts("Mar  1 00:00:00")).unwrap();
        assert_eq!(d.ts_us, us("2026-02-28T23:00:00Z"));
    }

    #[test]
    fn dst_gap_and_overlap() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let mut r = Resolver::new(YearRef::Explicit(2025), berlin);
        // 2025-03-30 02:30 does not exist in Berlin: moved to 03:30 CEST = 01:30 UTC.
        let g = r.resolve(&ts("Mar 30 02:30:00")).unwrap();
        assert!(g.dst_gap_shifted);
        assert_eq!(g.ts_us, us("2025-03-30T01:30:00Z"));
        assert_eq!(g.utc_offset_secs, 7200);
        // 2025-10-26 02:30 happens twice: after a stamp of March, the earlier (CEST) instant.
        let o = r.resolve(&ts("Oct 26 02:30:00")).unwrap();
        assert_eq!(o.ts_us, us("2025-10-26T00:30:00Z"));
        assert_eq!((o.utc_offset_secs, o.dst_gap_shifted), (7200, false));
        let w = r.resolve(&ts("Nov  1 12:00:00")).unwrap();
        assert_eq!(w.utc_offset_secs, 3600);
    }

    /// A log written in time order through the end of summer time: the repeated hour comes
    /// twice, first at +02:00, then at +01:00; a line a second late in the second pass still
    /// belongs to the first.
    #[test]
    fn the_repeated_hour_is_read_in_the_order_it_was_written() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let mut r = Resolver::new(YearRef::Explicit(2025), berlin);
        let lines = [
            ("Oct 26 01:59:59", "2025-10-25T23:59:59Z"),
            ("Oct 26 02:00:00", "2025-10-26T00:00:00Z"),
            ("Oct 26 02:59:59", "2025-10-26T00:59:59Z"),
            ("Oct 26 02:00:00", "2025-10-26T01:00:00Z"),
            ("Oct 26 02:59:58", "2025-10-26T00:59:58Z"),
            ("Oct 26 02:00:01", "2025-10-26T01:00:01Z"),
            ("Oct 26 02:30:00", "2025-10-26T01:30:00Z"),
            ("Oct 26 03:00:00", "2025-10-26T02:00:00Z"),
        ];
        for (stamp, want) in lines {
            assert_eq!(r.resolve(&ts(stamp)).unwrap().ts_us, us(want), "{stamp}");
        }
        // A part read on its own from the second pass: it assumed no stamp before, so the
        // earlier instant, which the real stamp before says is wrong.
        let mut part = Resolver::new(YearRef::Explicit(2025), berlin).after(None);
        assert_eq!(
            part.resolve(&ts("Oct 26 02:00:02")).unwrap().ts_us,
            us("2025-10-26T00:00:02Z")
        );
        assert!(!part.repeated_hour_alike(r.last_instant()));
        let mut again = Resolver::new(YearRef::Explicit(2025), berlin).after(r.last_instant());
        assert_eq!(
            again.resolve(&ts("Oct 26 02:00:02")).unwrap().ts_us,
            us("2025-10-26T01:00:02Z")
        );
        assert!(again.repeated_hour_alike(r.last_instant()));
    }

    #[test]
    fn bad_dates_and_zones() {
        let mut r = Resolver::new(YearRef::Explicit(2025), Zone::Utc);
        assert!(matches!(
            r.resolve(&ts("Feb 29 10:00:00")),
            Err(Error::InvalidTime { .. })
        ));
        let mut r = Resolver::new(YearRef::Explicit(2024), Zone::Utc);
        assert!(r.resolve(&ts("Feb 29 10:00:00")).is_ok());
        assert!(matches!(
            Zone::parse("+25:00"),
            Err(Error::UnknownZone { .. })
        ));
        assert_eq!(Zone::parse("+0100").unwrap(), Zone::Fixed(3600));
        assert_eq!(Zone::parse("utc").unwrap(), Zone::Utc);
    }

    #[test]
    fn leap_second() {
        let mut r = Resolver::new(YearRef::Explicit(2016), Zone::Utc);
        let x = r.resolve(&ts("2016-12-31T23:59:60Z")).unwrap();
        assert_eq!(x.ts_us, us("2017-01-01T00:00:00Z"));
    }
}

#[cfg(test)]
mod layout_props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn rfc3164_components_round_trip(m in 1u8..=12, d in 1u8..=31, h in 0u8..24, mi in 0u8..60, s in 0u8..60, pad: bool) {
            let text = if pad {
                format!("{} {d:>2} {h:02}:{mi:02}:{s:02}", month_abbrev(m))
            } else {
                format!("{} {d} {h:02}:{mi:02}:{s:02}", month_abbrev(m))
            };
            let (ts, used) = parse_rfc3164(text.as_bytes()).unwrap();
            prop_assert_eq!(used, text.len());
            prop_assert_eq!((ts.month, ts.day, ts.hour, ts.minute, ts.second), (m, d, h, mi, s));
        }

        #[test]
        fn iso_resolves_like_chrono(secs in 0i64..4_000_000_000, micros in 0u32..1_000_000, off_q in -48i32..=56) {
            let off = chrono::FixedOffset::east_opt(off_q * 900).unwrap();
            let dt = DateTime::from_timestamp(secs, micros * 1000).unwrap().with_timezone(&off);
            let text = dt.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string();
            let (ts, _) = parse_iso8601(text.as_bytes()).unwrap();
            let mut r = Resolver::new(YearRef::Explicit(1970), Zone::Utc);
            let got = r.resolve(&ts).unwrap();
            prop_assert_eq!(got.ts_us, secs * 1_000_000 + i64::from(micros));
            prop_assert_eq!(got.utc_offset_secs, off_q * 900);
        }

        /// The byte-folding match agrees with a case-insensitive comparison against the
        /// abbreviations, on any three bytes.
        #[test]
        fn month_abbrev_matches_case_insensitively(b in prop::array::uniform3(any::<u8>()), m in 1u8..=12, case in any::<[bool; 3]>()) {
            let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
            let plain = names.iter().position(|n| n.as_bytes().eq_ignore_ascii_case(&b)).map(|i| i as u8 + 1);
            prop_assert_eq!(month_from_abbrev(&b), plain);
            let mut name: Vec<u8> = names[usize::from(m - 1)].bytes().collect();
            for (c, up) in name.iter_mut().zip(case) {
                *c = if up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
            }
            prop_assert_eq!(month_from_abbrev(&name), Some(m));
        }

        #[test]
        fn layouts_never_panic(b in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = parse_rfc3164(&b);
            let _ = parse_iso8601(&b);
            let _ = parse_clf(&b);
        }
    }
}
