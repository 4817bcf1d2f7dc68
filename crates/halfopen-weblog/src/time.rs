//! Timestamps: the CLF `%t` fast path, epoch forms and a strftime subset, all resolved to
//! microseconds since the Unix epoch with integer arithmetic (no chrono on the hot path).

/// An instant read from a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogTime {
    /// Microseconds since the Unix epoch, UTC.
    pub ts_us: i64,
    /// The UTC offset the line was written in, in seconds (0 when the line has no zone and no
    /// default local offset was set).
    pub utc_offset_secs: i32,
    /// True when the time is the end of the request (`%{end:...}t`), false for the start.
    pub at_end: bool,
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
const MONTHS_FULL: [&[u8]; 12] = [
    b"January",
    b"February",
    b"March",
    b"April",
    b"May",
    b"June",
    b"July",
    b"August",
    b"September",
    b"October",
    b"November",
    b"December",
];
const WDAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const WDAYS_FULL: [&[u8]; 7] = [
    b"Sunday",
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
/// Valid for any year that fits 4 digits and more; `month` is 1..=12, `day` 1..=31.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

#[inline]
fn d2(b: &[u8], i: usize) -> Option<u32> {
    let hi = b.get(i)?.wrapping_sub(b'0');
    let lo = b.get(i + 1)?.wrapping_sub(b'0');
    if hi > 9 || lo > 9 {
        return None;
    }
    Some(u32::from(hi) * 10 + u32::from(lo))
}

/// Month number (1..=12) of an English three-letter abbreviation, ASCII case-insensitive.
pub fn month_from_abbr(b: &[u8]) -> Option<u32> {
    let key = [
        b.first()?.to_ascii_lowercase(),
        b.get(1)?.to_ascii_lowercase(),
        b.get(2)?.to_ascii_lowercase(),
    ];
    Some(match &key {
        b"jan" => 1,
        b"feb" => 2,
        b"mar" => 3,
        b"apr" => 4,
        b"may" => 5,
        b"jun" => 6,
        b"jul" => 7,
        b"aug" => 8,
        b"sep" => 9,
        b"oct" => 10,
        b"nov" => 11,
        b"dec" => 12,
        _ => return None,
    })
}

/// Offset of a few unambiguous zone abbreviations, as `strftime("%Z")` writes them.
pub fn zone_abbr(name: &[u8]) -> Option<i32> {
    const H: i32 = 3600;
    let n: &[(&[u8], i32)] = &[
        (b"UTC", 0),
        (b"GMT", 0),
        (b"UT", 0),
        (b"Z", 0),
        (b"EST", -5 * H),
        (b"EDT", -4 * H),
        (b"CST", -6 * H),
        (b"CDT", -5 * H),
        (b"MST", -7 * H),
        (b"MDT", -6 * H),
        (b"PST", -8 * H),
        (b"PDT", -7 * H),
        (b"CET", H),
        (b"CEST", 2 * H),
        (b"EET", 2 * H),
        (b"EEST", 3 * H),
    ];
    n.iter()
        .find(|(a, _)| a.eq_ignore_ascii_case(name))
        .map(|(_, o)| *o)
}

/// Build an instant from civil fields, validating ranges. `sec` may be 60 (leap second, folded).
pub fn instant(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    min: u32,
    sec: u32,
    offset_secs: i32,
) -> Option<i64> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs =
        days * 86_400 + i64::from(hour * 3600 + min * 60 + sec.min(59)) - i64::from(offset_secs);
    secs.checked_mul(1_000_000)
}

/// Parse a `+hhmm` / `-hhmm` zone (also `+hh:mm` and `Z`) into seconds east of UTC.
pub fn parse_offset(b: &[u8]) -> Option<i32> {
    if b == b"Z" || b == b"z" {
        return Some(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match b.len() {
        5 => (d2(b, 1)?, d2(b, 3)?),
        6 if b.get(3) == Some(&b':') => (d2(b, 1)?, d2(b, 4)?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i32 * 3600 + m as i32 * 60))
}

/// Parse the body of a CLF timestamp, `10/Oct/2000:13:55:36 -0700` (exactly 26 bytes), as
/// written by Apache's `%t` (between the brackets) and nginx's `$time_local`.
#[inline]
pub fn parse_clf_body(b: &[u8]) -> Option<LogTime> {
    if b.len() != 26
        || b.get(2) != Some(&b'/')
        || b.get(6) != Some(&b'/')
        || b.get(11) != Some(&b':')
        || b.get(14) != Some(&b':')
        || b.get(17) != Some(&b':')
        || b.get(20) != Some(&b' ')
    {
        return None;
    }
    let day = d2(b, 0)?;
    let month = month_from_abbr(b.get(3..6)?)?;
    let year = d2(b, 7)? * 100 + d2(b, 9)?;
    let hour = d2(b, 12)?;
    let min = d2(b, 15)?;
    let sec = d2(b, 18)?;
    let off = parse_offset(b.get(21..26)?)?;
    let ts_us = instant(i64::from(year), month, day, hour, min, sec, off)?;
    Some(LogTime {
        ts_us,
        utc_offset_secs: off,
        at_end: false,
    })
}

/// A one-entry memo for CLF timestamp bodies: consecutive lines of a log usually share the
/// minute (often the second), so the date arithmetic runs once per minute and a hit costs a
/// few integer compares plus the two seconds digits. The result is exactly that of
/// [`parse_clf_body`] (the memo only skips work); keep one per reader, e.g. in
/// [`crate::format::AccessParser`].
///
/// ```
/// use halfopen_weblog::time::{ClfCache, parse_clf_body};
/// let mut c = ClfCache::new();
/// for b in [&b"10/Oct/2000:13:55:36 -0700"[..], b"10/Oct/2000:13:55:59 -0700", b"10/Oct/2000:13:55:60 -0700"] {
///     assert_eq!(c.parse_body(b), parse_clf_body(b));
/// }
/// assert_eq!(c.parse_body(b"10/Oct/2000:13:55:61 -0700"), None);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ClfCache {
    /// Bytes 0..24 of the last body with the seconds (bytes 18, 19) zeroed, and bytes 24..26.
    key: [u64; 3],
    key_tail: u16,
    /// The instant of second 0 of the cached minute.
    minute_us: i64,
    offset_secs: i32,
    valid: bool,
}

/// Clears bytes 18 and 19 (the seconds) of the third 8-byte word of a CLF body.
const SECONDS_MASK: u64 = !0xFFFF_0000;

impl ClfCache {
    /// An empty memo.
    pub fn new() -> ClfCache {
        ClfCache::default()
    }

    /// [`parse_clf_body`], remembering the minute of the last valid body.
    #[inline]
    pub fn parse_body(&mut self, b: &[u8]) -> Option<LogTime> {
        let b: &[u8; 26] = b.try_into().ok()?;
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(b.get(i..i + 8).unwrap_or(&[0; 8]));
            u64::from_le_bytes(w)
        };
        let key = [word(0), word(8), word(16) & SECONDS_MASK];
        let key_tail = u16::from_le_bytes([b[24], b[25]]);
        if self.valid && self.key == key && self.key_tail == key_tail {
            let sec = d2(b, 18)?;
            if sec > 60 {
                return None;
            }
            return Some(LogTime {
                ts_us: self
                    .minute_us
                    .checked_add(i64::from(sec.min(59)) * 1_000_000)?,
                utc_offset_secs: self.offset_secs,
                at_end: false,
            });
        }
        let t = parse_clf_body(b)?;
        let sec = d2(b, 18)?;
        self.key = key;
        self.key_tail = key_tail;
        self.minute_us = t.ts_us.checked_sub(i64::from(sec.min(59)) * 1_000_000)?;
        self.offset_secs = t.utc_offset_secs;
        self.valid = true;
        Some(t)
    }
}

/// Parse an Apache `%t` timestamp, with or without the surrounding brackets:
/// `[10/Oct/2000:13:55:36 -0700]`.
///
/// ```
/// let t = halfopen_weblog::time::parse_clf(b"[10/Oct/2000:13:55:36 -0700]").unwrap();
/// assert_eq!(t.ts_us, 971_211_336_000_000);
/// assert_eq!(t.utc_offset_secs, -7 * 3600);
/// ```
pub fn parse_clf(b: &[u8]) -> Option<LogTime> {
    let b = b.strip_prefix(b"[").unwrap_or(b);
    let b = b.strip_suffix(b"]").unwrap_or(b);
    parse_clf_body(b)
}

/// Parse an ISO 8601 timestamp as nginx writes `$time_iso8601`: `2026-11-24T20:56:22+00:00`.
pub fn parse_iso8601(b: &[u8]) -> Option<LogTime> {
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if !matches!(b.get(10), Some(b'T' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let year = d2(b, 0)? * 100 + d2(b, 2)?;
    let (month, day, hour, min, sec) = (d2(b, 5)?, d2(b, 8)?, d2(b, 11)?, d2(b, 14)?, d2(b, 17)?);
    let mut rest = b.get(19..)?;
    let mut frac_us = 0i64;
    if let Some(r) = rest.strip_prefix(b".") {
        let n = r.iter().take_while(|c| c.is_ascii_digit()).count();
        let (digits, tail) = r.split_at(n);
        frac_us = frac_to_us(digits)?;
        rest = tail;
    }
    let off = parse_offset(rest)?;
    let ts = instant(i64::from(year), month, day, hour, min, sec, off)?;
    Some(LogTime {
        ts_us: ts.checked_add(frac_us)?,
        utc_offset_secs: off,
        at_end: false,
    })
}

/// Digits of a decimal fraction (1..=9 digits) as microseconds.
pub fn frac_to_us(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i64 = 0;
    for (i, c) in digits.iter().enumerate() {
        if i < 6 {
            v = v * 10 + i64::from(c - b'0');
        }
    }
    for _ in digits.len()..6 {
        v *= 10;
    }
    Some(v)
}

/// Parse unsigned decimal digits (at most 19, so no overflow) into `u64`.
#[inline]
pub fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u64::from(d);
    }
    Some(v)
}

/// Render a CLF timestamp body (`10/Oct/2000:13:55:36 -0700`, no brackets) for an instant and
/// offset. Sub-second precision is dropped.
pub fn render_clf_body(ts_us: i64, offset_secs: i32, out: &mut Vec<u8>) {
    let local = ts_us.div_euclid(1_000_000) + i64::from(offset_secs);
    let days = local.div_euclid(86_400);
    let sod = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let month = MONTHS
        .get((m as usize).wrapping_sub(1))
        .copied()
        .unwrap_or(b"Jan");
    push2(out, d as i64);
    out.push(b'/');
    out.extend_from_slice(month);
    out.push(b'/');
    push_year(out, y);
    out.push(b':');
    push2(out, sod / 3600);
    out.push(b':');
    push2(out, (sod / 60) % 60);
    out.push(b':');
    push2(out, sod % 60);
    out.push(b' ');
    out.push(if offset_secs < 0 { b'-' } else { b'+' });
    let a = i64::from(offset_secs).abs();
    push2(out, a / 3600);
    push2(out, (a / 60) % 60);
}

fn push2(out: &mut Vec<u8>, v: i64) {
    let v = v.rem_euclid(100) as u8;
    out.push(b'0' + v / 10);
    out.push(b'0' + v % 10);
}

fn push_year(out: &mut Vec<u8>, y: i64) {
    let y = y.rem_euclid(10_000);
    push2(out, y / 100);
    push2(out, y % 100);
}

/// One conversion of a compiled strftime pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimeTok {
    /// Literal bytes.
    Lit(Box<[u8]>),
    /// `%n`, `%t`: any amount of whitespace (possibly none).
    Space,
    /// `%d`, `%e`: day of month.
    Day,
    /// `%m`: month number.
    Month,
    /// `%b`, `%h`: English abbreviated month name.
    MonthAbbr,
    /// `%B`: English full month name.
    MonthFull,
    /// `%Y`: four-digit year.
    Year,
    /// `%y`: two-digit year (69..=99 => 19xx, else 20xx).
    Year2,
    /// `%H`: hour 00..=23.
    Hour,
    /// `%I`: hour 01..=12.
    Hour12,
    /// `%p`: AM/PM.
    AmPm,
    /// `%M`: minutes.
    Minute,
    /// `%S`: seconds.
    Second,
    /// `%z`: `+hhmm`.
    Zone,
    /// `%Z`: a zone abbreviation; the unambiguous common ones (UTC, GMT, US and central
    /// European zones) give the offset, others are ignored.
    ZoneName,
    /// `%s`: seconds since the epoch.
    Epoch,
    /// `%a`: English abbreviated weekday (checked, not used).
    WdayAbbr,
    /// `%A`: English full weekday (checked, not used).
    WdayFull,
    /// `%j`: day of year (checked, not used for the date).
    DayOfYear,
    /// `%u`, `%w`: weekday number (checked, not used).
    WdayNum,
}

/// A compiled strftime pattern (the subset needed to read Apache `%{format}t` values).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Strftime {
    toks: Vec<TimeTok>,
    /// The pattern as written.
    pub source: String,
}

/// Compile a strftime pattern; `None` when it uses a conversion outside the supported subset
/// (locale forms such as `%c`, `%x`, ISO week dates), in which case the value is kept as text.
pub fn compile_strftime(pat: &str) -> Option<Strftime> {
    let mut toks = Vec::new();
    let mut lit = Vec::new();
    let b = pat.as_bytes();
    let mut i = 0;
    let flush = |lit: &mut Vec<u8>, toks: &mut Vec<TimeTok>| {
        if !lit.is_empty() {
            toks.push(TimeTok::Lit(std::mem::take(lit).into_boxed_slice()));
        }
    };
    while let Some(&c) = b.get(i) {
        i += 1;
        if c != b'%' {
            lit.push(c);
            continue;
        }
        let conv = *b.get(i)?;
        i += 1;
        let seq: &[TimeTok] = match conv {
            b'%' => {
                lit.push(b'%');
                continue;
            }
            b'n' | b't' => &[TimeTok::Space],
            b'd' | b'e' => &[TimeTok::Day],
            b'm' => &[TimeTok::Month],
            b'b' | b'h' => &[TimeTok::MonthAbbr],
            b'B' => &[TimeTok::MonthFull],
            b'Y' => &[TimeTok::Year],
            b'y' => &[TimeTok::Year2],
            b'H' | b'k' => &[TimeTok::Hour],
            b'I' | b'l' => &[TimeTok::Hour12],
            b'p' => &[TimeTok::AmPm],
            b'M' => &[TimeTok::Minute],
            b'S' => &[TimeTok::Second],
            b'z' => &[TimeTok::Zone],
            b'Z' => &[TimeTok::ZoneName],
            b's' => &[TimeTok::Epoch],
            b'a' => &[TimeTok::WdayAbbr],
            b'A' => &[TimeTok::WdayFull],
            b'j' => &[TimeTok::DayOfYear],
            b'u' | b'w' => &[TimeTok::WdayNum],
            b'T' => {
                flush(&mut lit, &mut toks);
                toks.extend([
                    TimeTok::Hour,
                    TimeTok::Lit(Box::new(*b":")),
                    TimeTok::Minute,
                    TimeTok::Lit(Box::new(*b":")),
                    TimeTok::Second,
                ]);
                continue;
            }
            b'R' => {
                flush(&mut lit, &mut toks);
                toks.extend([
                    TimeTok::Hour,
                    TimeTok::Lit(Box::new(*b":")),
                    TimeTok::Minute,
                ]);
                continue;
            }
            b'D' => {
                flush(&mut lit, &mut toks);
                toks.extend([
                    TimeTok::Month,
                    TimeTok::Lit(Box::new(*b"/")),
                    TimeTok::Day,
                    TimeTok::Lit(Box::new(*b"/")),
                    TimeTok::Year2,
                ]);
                continue;
            }
            b'F' => {
                flush(&mut lit, &mut toks);
                toks.extend([
                    TimeTok::Year,
                    TimeTok::Lit(Box::new(*b"-")),
                    TimeTok::Month,
                    TimeTok::Lit(Box::new(*b"-")),
                    TimeTok::Day,
                ]);
                continue;
            }
            _ => return None,
        };
        flush(&mut lit, &mut toks);
        toks.extend_from_slice(seq);
    }
    flush(&mut lit, &mut toks);
    if toks.iter().all(|t| matches!(t, TimeTok::Lit(_))) {
        return None; // no conversion at all: not a time
    }
    Some(Strftime {
        toks,
        source: pat.to_owned(),
    })
}

fn take_num(b: &[u8], pos: &mut usize, max_digits: usize) -> Option<u32> {
    // strftime values may be space padded (%e, %k).
    while b.get(*pos) == Some(&b' ') && max_digits == 2 {
        *pos += 1;
        if b.get(*pos).is_some_and(u8::is_ascii_digit) {
            break;
        }
    }
    let start = *pos;
    let mut v: u32 = 0;
    while *pos - start < max_digits {
        match b.get(*pos) {
            Some(c) if c.is_ascii_digit() => {
                v = v * 10 + u32::from(c - b'0');
                *pos += 1;
            }
            _ => break,
        }
    }
    (*pos > start).then_some(v)
}

fn take_name(b: &[u8], pos: &mut usize, names: &[&[u8]]) -> Option<usize> {
    let rest = b.get(*pos..)?;
    for (i, n) in names.iter().enumerate() {
        if rest.len() >= n.len() && rest.get(..n.len())?.eq_ignore_ascii_case(n) {
            *pos += n.len();
            return Some(i);
        }
    }
    None
}

/// What a strftime value told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StrftimeValue {
    /// The instant, when the pattern carries a full date and time (or `%s`).
    pub ts_us: Option<i64>,
    /// The zone, when the pattern carries `%z` (or `%Z` = UTC/GMT).
    pub offset_secs: Option<i32>,
    /// `(year, month, day)` when the pattern carries a full date.
    pub date: Option<(i64, u32, u32)>,
    /// `(hour, minute, second)` when the pattern carries a time of day.
    pub time_of_day: Option<(u32, u32, u32)>,
}

impl Strftime {
    /// True when the pattern carries `%s` (an absolute instant whatever the zone).
    pub fn is_epoch(&self) -> bool {
        self.toks.contains(&TimeTok::Epoch)
    }

    /// Match `value` completely against the pattern. `default_offset` is used for the instant
    /// when the pattern has no zone. `None` when the value does not fit the pattern.
    pub fn parse(&self, value: &[u8], default_offset: i32) -> Option<StrftimeValue> {
        let mut pos = 0usize;
        let (mut y, mut mo, mut d) = (None, None, None);
        let (mut h, mut mi, mut s) = (None, None, None);
        let mut pm: Option<bool> = None;
        let mut h12 = false;
        let mut off = None;
        let mut epoch: Option<i64> = None;
        for t in &self.toks {
            match t {
                TimeTok::Lit(l) => {
                    if !value.get(pos..)?.starts_with(l) {
                        return None;
                    }
                    pos += l.len();
                }
                TimeTok::Space => {
                    while value.get(pos).is_some_and(u8::is_ascii_whitespace) {
                        pos += 1;
                    }
                }
                TimeTok::Day => d = Some(take_num(value, &mut pos, 2)?),
                TimeTok::Month => mo = Some(take_num(value, &mut pos, 2)?),
                TimeTok::MonthAbbr => {
                    mo = Some(month_from_abbr(value.get(pos..pos + 3)?)?);
                    pos += 3;
                }
                TimeTok::MonthFull => {
                    mo = Some(take_name(value, &mut pos, &MONTHS_FULL)? as u32 + 1);
                }
                TimeTok::Year => y = Some(i64::from(take_num(value, &mut pos, 4)?)),
                TimeTok::Year2 => {
                    let v = i64::from(take_num(value, &mut pos, 2)?);
                    y = Some(if v >= 69 { 1900 + v } else { 2000 + v });
                }
                TimeTok::Hour => h = Some(take_num(value, &mut pos, 2)?),
                TimeTok::Hour12 => {
                    h = Some(take_num(value, &mut pos, 2)?);
                    h12 = true;
                }
                TimeTok::AmPm => {
                    let r = value.get(pos..)?;
                    if r.len() >= 2 && r.get(..2)?.eq_ignore_ascii_case(b"am") {
                        pm = Some(false);
                        pos += 2;
                    } else if r.len() >= 2 && r.get(..2)?.eq_ignore_ascii_case(b"pm") {
                        pm = Some(true);
                        pos += 2;
                    }
                }
                TimeTok::Minute => mi = Some(take_num(value, &mut pos, 2)?),
                TimeTok::Second => s = Some(take_num(value, &mut pos, 2)?),
                TimeTok::Zone => {
                    let z = value.get(pos..pos + 5)?;
                    off = Some(parse_offset(z)?);
                    pos += 5;
                }
                TimeTok::ZoneName => {
                    let n = value
                        .get(pos..)?
                        .iter()
                        .take_while(|c| c.is_ascii_alphabetic())
                        .count();
                    let name = value.get(pos..pos + n)?;
                    if name.is_empty() {
                        return None;
                    }
                    off = zone_abbr(name).or(off);
                    pos += n;
                }
                TimeTok::Epoch => {
                    let neg = value.get(pos) == Some(&b'-');
                    if neg {
                        pos += 1;
                    }
                    let n = value
                        .get(pos..)?
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    let v = parse_u64(value.get(pos..pos + n)?)?;
                    pos += n;
                    let v = i64::try_from(v).ok()?;
                    epoch = Some(if neg { -v } else { v });
                }
                TimeTok::WdayAbbr => {
                    take_name(value, &mut pos, &WDAYS.map(|w| &w[..]))?;
                }
                TimeTok::WdayFull => {
                    take_name(value, &mut pos, &WDAYS_FULL)?;
                }
                TimeTok::DayOfYear => {
                    take_num(value, &mut pos, 3)?;
                }
                TimeTok::WdayNum => {
                    take_num(value, &mut pos, 1)?;
                }
            }
        }
        if pos != value.len() {
            return None;
        }
        if h12 {
            if let (Some(hv), Some(p)) = (h, pm) {
                h = Some(hv % 12 + if p { 12 } else { 0 });
            }
        }
        let ts_us = if let Some(e) = epoch {
            e.checked_mul(1_000_000)
        } else if let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) = (y, mo, d, h, mi) {
            Some(instant(
                y,
                mo,
                d,
                h,
                mi,
                s.unwrap_or(0),
                off.unwrap_or(default_offset),
            )?)
        } else {
            None
        };
        let date = match (y, mo, d) {
            (Some(y), Some(mo), Some(d)) => Some((y, mo, d)),
            _ => None,
        };
        let time_of_day = match (h, mi) {
            (Some(h), Some(mi)) => Some((h, mi, s.unwrap_or(0))),
            _ => None,
        };
        Some(StrftimeValue {
            ts_us,
            offset_secs: off,
            date,
            time_of_day,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in [-719_468i64, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn clf() {
        let t = parse_clf(b"[31/Dec/1969:19:00:00 +0500]").unwrap();
        assert_eq!(t.ts_us, -10 * 3600 * 1_000_000);
        assert!(parse_clf(b"13/Mar/2016:01:59:59 -05:00").is_none());
        assert!(parse_clf(b"13/Sma/2016:01:59:59 -0500").is_none());
        let mut out = Vec::new();
        render_clf_body(t.ts_us, t.utc_offset_secs, &mut out);
        assert_eq!(out, b"31/Dec/1969:19:00:00 +0500");
    }
}
