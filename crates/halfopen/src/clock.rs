//! Turning firewall timestamps into instants: the year syslog leaves out (explicit, or from a
//! reference time, with the Dec -> Jan rollover inside a file) and the zone (fixed offset or
//! an IANA name, DST aware).

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};

use halfopen_fwlog::Timestamp;

/// A time zone for stamps that carry none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// Fixed offset east of UTC, seconds.
    Fixed(i32),
    /// An IANA zone.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses `UTC`, `Z`, `+0100`, `-05:00` or an IANA name like `Europe/Berlin`.
    ///
    /// ```
    /// use halfopen::clock::Zone;
    /// assert_eq!(Zone::parse("+0130"), Some(Zone::Fixed(5400)));
    /// assert_eq!(Zone::parse("-05:00"), Some(Zone::Fixed(-18000)));
    /// assert!(Zone::parse("Europe/Berlin").is_some());
    /// assert!(Zone::parse("Mars/Olympus").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<Zone> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("utc") || s == "Z" || s.eq_ignore_ascii_case("gmt") {
            return Some(Zone::Fixed(0));
        }
        let b = s.as_bytes();
        if let Some(&sign) = b.first()
            && (sign == b'+' || sign == b'-')
        {
            let digits: Vec<u8> = b.get(1..)?.iter().copied().filter(|c| *c != b':').collect();
            if digits.len() != 4 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let h = i32::from(digits.first()? - b'0') * 10 + i32::from(digits.get(1)? - b'0');
            let m = i32::from(digits.get(2)? - b'0') * 10 + i32::from(digits.get(3)? - b'0');
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            return Some(Zone::Fixed(if sign == b'-' { -secs } else { secs }));
        }
        s.parse::<chrono_tz::Tz>().ok().map(Zone::Named)
    }

    /// Local wall-clock time to µs since the epoch (a time in a DST gap is shifted forward by
    /// an hour; an ambiguous one takes the earlier instant).
    pub fn to_utc_us(&self, local: NaiveDateTime) -> Option<i64> {
        match self {
            Zone::Fixed(off) => Some(
                local
                    .and_utc()
                    .timestamp_micros()
                    .saturating_sub(i64::from(*off) * 1_000_000),
            ),
            Zone::Named(tz) => {
                let r = tz.from_local_datetime(&local);
                let dt = r.earliest().or_else(|| {
                    tz.from_local_datetime(&local.checked_add_signed(chrono::Duration::hours(1))?)
                        .earliest()
                })?;
                Some(dt.with_timezone(&Utc).timestamp_micros())
            }
        }
    }
}

/// Where the year comes from for year-less stamps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum YearRef {
    /// This year.
    Explicit(i32),
    /// The file's mtime or now: a stamp later than this + 1 day is from the year before.
    Reference(DateTime<Utc>),
}

/// Resolves a stream of stamps (one per file: tracks the Dec -> Jan rollover).
#[derive(Debug, Clone)]
pub struct Resolver {
    year_ref: YearRef,
    zone: Zone,
    year: Option<i32>,
    first_year: Option<i32>,
    last_month: u8,
    /// The last stamp resolved (logs repeat the same second many times) and its result.
    cache: Option<(StampKey, i64)>,
    /// True once a year was inferred.
    pub year_inferred: bool,
}

impl Resolver {
    /// A resolver.
    pub fn new(year_ref: YearRef, zone: Zone) -> Resolver {
        Resolver {
            year_ref,
            zone,
            year: None,
            first_year: None,
            last_month: 0,
            cache: None,
            year_inferred: false,
        }
    }

    /// The first year assigned to a year-less stamp, if any.
    pub fn first_year(&self) -> Option<i32> {
        self.first_year
    }

    /// µs since the epoch, or `None` for an impossible date.
    pub fn resolve(&mut self, ts: &Timestamp<'_>) -> Option<i64> {
        let year = match ts.year {
            Some(y) => y,
            None => {
                self.year_inferred = true;
                let y = match (self.year, self.year_ref) {
                    (Some(y), _) => {
                        if self.last_month == 12 && ts.month == 1 {
                            y.saturating_add(1)
                        } else {
                            y
                        }
                    }
                    (None, YearRef::Explicit(y)) => y,
                    (None, YearRef::Reference(r)) => {
                        let y = r.year();
                        let local = naive(y, ts)?;
                        let limit = r
                            .naive_utc()
                            .checked_add_signed(chrono::Duration::days(1))
                            .unwrap_or(chrono::NaiveDateTime::MAX);
                        if local > limit { y - 1 } else { y }
                    }
                };
                self.year = Some(y);
                self.first_year.get_or_insert(y);
                y
            }
        };
        self.last_month = ts.month;
        let key: StampKey = (
            year,
            [ts.month, ts.day, ts.hour, ts.minute, ts.second],
            ts.nanos,
            ts.utc_offset,
        );
        if let Some((k, v)) = self.cache
            && k == key
        {
            return Some(v);
        }
        let local = naive(year, ts)?;
        let v = match ts.utc_offset {
            Some(off) => Some(
                local
                    .and_utc()
                    .timestamp_micros()
                    .saturating_sub(i64::from(off) * 1_000_000),
            ),
            None => self.zone.to_utc_us(local),
        }?;
        self.cache = Some((key, v));
        Some(v)
    }
}

/// The parts of a stamp that decide its instant.
type StampKey = (i32, [u8; 5], u32, Option<i32>);

fn naive(year: i32, ts: &Timestamp<'_>) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(year, u32::from(ts.month), u32::from(ts.day))?.and_hms_nano_opt(
        u32::from(ts.hour),
        u32::from(ts.minute),
        u32::from(ts.second.min(59)),
        ts.nanos.min(999_999_999),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use halfopen_fwlog::TimestampKind;

    fn stamp(month: u8, day: u8) -> Timestamp<'static> {
        Timestamp {
            raw: b"",
            kind: TimestampKind::Rfc3164,
            year: None,
            month,
            day,
            hour: 12,
            minute: 0,
            second: 0,
            nanos: 0,
            utc_offset: None,
        }
    }

    #[test]
    fn year_inference_and_rollover() {
        let r = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
        let mut res = Resolver::new(YearRef::Reference(r), Zone::Fixed(0));
        let dec = res.resolve(&stamp(12, 31)).unwrap();
        let jan = res.resolve(&stamp(1, 1)).unwrap();
        assert_eq!(rfc(dec), "2025-12-31T12:00:00Z");
        assert_eq!(rfc(jan), "2026-01-01T12:00:00Z");
        assert!(res.year_inferred);
        let mut res = Resolver::new(
            YearRef::Explicit(2024),
            Zone::parse("Europe/Berlin").unwrap(),
        );
        assert_eq!(
            rfc(res.resolve(&stamp(7, 1)).unwrap()),
            "2024-07-01T10:00:00Z"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_stamps_never_panic(
            parts in proptest::prelude::any::<[u8; 5]>(),
            nanos in proptest::prelude::any::<u32>(),
            year in proptest::prelude::any::<Option<i32>>(),
            off in proptest::prelude::any::<Option<i32>>(),
            ref_secs in proptest::prelude::any::<i64>(),
            named in proptest::prelude::any::<bool>(),
        ) {
            let ts = Timestamp {
                raw: b"",
                kind: TimestampKind::Rfc3164,
                year,
                month: parts[0],
                day: parts[1],
                hour: parts[2],
                minute: parts[3],
                second: parts[4],
                nanos,
                utc_offset: off,
            };
            let zone = if named { Zone::parse("America/New_York").unwrap() } else { Zone::Fixed(3600) };
            let r = DateTime::<Utc>::from_timestamp(ref_secs % 300_000_000_000, 0).unwrap_or_default();
            let mut res = Resolver::new(YearRef::Reference(r), zone);
            let _ = res.resolve(&ts);
            let _ = res.resolve(&ts);
        }
    }

    fn rfc(us: i64) -> String {
        crate::report::rfc3339(us)
    }
}
