//! What the access logs' UTC offsets say about the zone of the stamps that carry none.
//!
//! Syslog (ipfw, netfilter through rsyslog's traditional form) and Apache's error log write
//! local wall time without an offset; Apache's and nginx's access logs write the offset on
//! every line. Where no `--tz` is given the firewall's stamps are read at the access log's
//! first offset. A log that runs through a daylight-saving change then reads every stamp on
//! one side of it an hour off: the connections no longer meet their requests, and network
//! floods after the change fell outside the access log's time (the floods lab run moved
//! through the end of summer time in Berlin lost both of its network floods, without a
//! warning).
//!
//! [`OffsetTrail`] keeps, per access log, its first offset and where it changed;
//! [`zones_agreeing`] names the IANA zones that gave exactly those offsets at those instants
//! and agree with each other in between, so reading the stamps in one of them is reading
//! them as the server wrote them. [`LocalClock`] reads a local wall time in a zone (the
//! error log's stamps).

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use halfopen_fwlog::{Timestamp, TimestampKind};

use crate::clock::{Resolver, YearRef, Zone};

/// Offset changes kept per trail (a year of logs has two).
const MAX_CHANGES: usize = 16;

/// One change of the offset: the last line at the old offset, the first at the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetChange {
    /// The last line at the old offset, µs since the epoch.
    pub before_us: i64,
    /// The old offset, seconds east of UTC.
    pub old: i32,
    /// The first line at the new offset, µs.
    pub after_us: i64,
    /// The new offset, seconds east.
    pub new: i32,
}

/// The UTC offsets one access log's lines carried, in line order.
///
/// ```
/// use halfopen::offsets::OffsetTrail;
/// let mut t = OffsetTrail::default();
/// t.see(1_000_000, 3600);
/// t.see(2_000_000, 3600);
/// t.see(3_000_000, 7200);
/// assert_eq!(t.first(), Some((1_000_000, 3600)));
/// assert_eq!(t.changes().len(), 1);
/// assert_eq!((t.changes()[0].before_us, t.changes()[0].after_us), (2_000_000, 3_000_000));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OffsetTrail {
    first: Option<(i64, i32)>,
    last: Option<(i64, i32)>,
    changes: Vec<OffsetChange>,
    /// Changes past `MAX_CHANGES`, not kept.
    dropped: u64,
}

impl OffsetTrail {
    /// A line written at instant `ts_us` with offset `offset` (seconds east).
    pub fn see(&mut self, ts_us: i64, offset: i32) {
        match self.last {
            None => self.first = Some((ts_us, offset)),
            Some((before_us, old)) if old != offset => {
                if self.changes.len() < MAX_CHANGES {
                    self.changes.push(OffsetChange {
                        before_us,
                        old,
                        after_us: ts_us,
                        new: offset,
                    });
                } else {
                    self.dropped += 1;
                }
            }
            Some(_) => {}
        }
        self.last = Some((ts_us, offset));
    }

    /// The first line's instant and offset.
    pub fn first(&self) -> Option<(i64, i32)> {
        self.first
    }

    /// The last line's instant and offset.
    pub fn last(&self) -> Option<(i64, i32)> {
        self.last
    }

    /// Where the offset changed (the first 16).
    pub fn changes(&self) -> &[OffsetChange] {
        &self.changes
    }

    /// The first instant whose offset was not `tz`'s, and that offset.
    pub fn disagrees_with(&self, tz: chrono_tz::Tz) -> Option<(i64, i32)> {
        self.points()
            .find(|&(t, off)| offset_at(tz, t) != Some(off))
    }

    /// Every instant the trail knows an offset at: the first and last lines and both sides
    /// of each change.
    fn points(&self) -> impl Iterator<Item = (i64, i32)> + '_ {
        self.first.into_iter().chain(self.last).chain(
            self.changes
                .iter()
                .flat_map(|c| [(c.before_us, c.old), (c.after_us, c.new)]),
        )
    }
}

/// Instants checked inside one change's window at most (every 15 minutes: DST changes fall
/// on a quarter hour).
const MAX_CHECKS_PER_WINDOW: i64 = 2_000;

/// The IANA zones whose offset was the trails' at every instant they know one, and that
/// agree with each other on the offset at every quarter hour inside each change's window
/// (so any of them reads the stamps of that time alike). Empty when none fits, when they
/// disagree, or when a trail changed more often than it keeps; this machine's zone (`system`)
/// first when it is one of them.
///
/// ```
/// use halfopen::offsets::{zones_agreeing, OffsetTrail};
/// // An access log in Berlin over the end of summer time 2026 (25 Oct, 01:00 UTC).
/// let mut t = OffsetTrail::default();
/// t.see(1_792_887_000_000_000, 7200); // 00:50 UTC, +02:00
/// t.see(1_792_890_000_000_000, 3600); // 01:40 UTC, +01:00
/// let zones = zones_agreeing(&[t], None);
/// assert!(zones.iter().any(|z| z.name() == "Europe/Berlin"));
/// assert!(zones.iter().all(|z| z.name() != "America/New_York"));
/// ```
pub fn zones_agreeing(trails: &[OffsetTrail], system: Option<chrono_tz::Tz>) -> Vec<chrono_tz::Tz> {
    // More changes than kept: offsets mixed line by line (vhosts of several zones), which no
    // one zone wrote.
    if trails.iter().any(|t| t.dropped > 0) {
        return Vec::new();
    }
    let points: Vec<(i64, i32)> = trails.iter().flat_map(OffsetTrail::points).collect();
    if points.is_empty() {
        return Vec::new();
    }
    let mut fits: Vec<chrono_tz::Tz> = chrono_tz::TZ_VARIANTS
        .iter()
        .copied()
        .filter(|tz| {
            points
                .iter()
                .all(|&(t, off)| offset_at(*tz, t) == Some(off))
        })
        .collect();
    let Some(&reference) = fits.first() else {
        return fits;
    };
    let windows = trails.iter().flat_map(|t| t.changes.iter());
    for c in windows {
        let step = ((c.after_us - c.before_us) / MAX_CHECKS_PER_WINDOW).max(900_000_000);
        let mut t = c.before_us;
        while t < c.after_us {
            let want = offset_at(reference, t);
            if fits.iter().any(|tz| offset_at(*tz, t) != want) {
                return Vec::new();
            }
            t += step;
        }
    }
    fits.sort_by_key(|tz| (familiarity(tz.name()), tz.name()));
    if let Some(own) = system
        && let Some(i) = fits.iter().position(|tz| *tz == own)
    {
        let own = fits.remove(i);
        fits.insert(0, own);
    }
    fits
}

/// Zones an admin names first: the continents' cities, then the oceans', then the rest
/// (`CET`, `Etc/GMT-1`, old aliases); any of the agreeing zones reads the stamps alike.
fn familiarity(name: &str) -> usize {
    const REGIONS: [&str; 9] = [
        "Europe/",
        "America/",
        "Asia/",
        "Australia/",
        "Pacific/",
        "Africa/",
        "Atlantic/",
        "Indian/",
        "Antarctica/",
    ];
    REGIONS
        .iter()
        .position(|r| name.starts_with(r))
        .unwrap_or(REGIONS.len())
}

/// The zone's offset at instant `ts_us`, seconds east.
pub fn offset_at(tz: chrono_tz::Tz, ts_us: i64) -> Option<i32> {
    let utc = DateTime::<Utc>::from_timestamp_micros(ts_us)?;
    Some(
        tz.offset_from_utc_datetime(&utc.naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// An offset as written in ISO 8601: `+01:00`, `-05:30`.
///
/// ```
/// assert_eq!(halfopen::offsets::show(-19_800), "-05:30");
/// ```
pub fn show(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let a = secs.unsigned_abs();
    format!("{sign}{:02}:{:02}", a / 3600, a % 3600 / 60)
}

/// A length of time in hours and minutes: `1 h`, `30 min`, `1 h 30 min`.
///
/// ```
/// assert_eq!(halfopen::offsets::show_span(-3600), "1 h");
/// assert_eq!(halfopen::offsets::show_span(1800), "30 min");
/// ```
pub fn show_span(secs: i32) -> String {
    let a = secs.unsigned_abs();
    match (a / 3600, a % 3600 / 60) {
        (h, 0) => format!("{h} h"),
        (0, m) => format!("{m} min"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// The zone this machine keeps its clock in (`TZ`, else `/etc/localtime`'s link into the
/// zone database), when it names an IANA zone.
pub fn system_zone() -> Option<chrono_tz::Tz> {
    let from_env = std::env::var("TZ").ok();
    let name = from_env.or_else(|| {
        let link = std::fs::read_link("/etc/localtime").ok()?;
        let s = link.to_str()?;
        let at = s.find("zoneinfo/")?;
        s.get(at + "zoneinfo/".len()..).map(str::to_owned)
    })?;
    name.trim_start_matches(':').parse().ok()
}

/// Reads local wall times (given as µs since the epoch read as if UTC) in a zone: a fixed
/// offset, or an IANA zone through [`Resolver`] (a DST gap moved forward, a repeated hour
/// read in the order the lines were written).
///
/// ```
/// use halfopen::clock::Zone;
/// use halfopen::offsets::LocalClock;
/// let mut c = LocalClock::new(Zone::Fixed(3600));
/// assert_eq!(c.instant(7_200_000_000), 3_600_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct LocalClock {
    zone: Zone,
    resolver: Resolver,
}

impl LocalClock {
    /// A clock in `zone`.
    pub fn new(zone: Zone) -> LocalClock {
        LocalClock {
            zone,
            resolver: Resolver::new(YearRef::Explicit(1970), zone),
        }
    }

    /// The instant of local wall time `local_us`.
    pub fn instant(&mut self, local_us: i64) -> i64 {
        if let Some(o) = self.zone.fixed_offset() {
            return local_us.saturating_sub(i64::from(o) * 1_000_000);
        }
        let Some(naive) = DateTime::<Utc>::from_timestamp_micros(local_us).map(|d| d.naive_utc())
        else {
            return local_us;
        };
        let ts = stamp_of(&naive);
        self.resolver.resolve(&ts).map_or(local_us, |r| r.ts_us)
    }
}

/// A timestamp with every field written but the offset.
fn stamp_of(n: &NaiveDateTime) -> Timestamp<'static> {
    Timestamp {
        raw: b"",
        kind: TimestampKind::Iso8601,
        year: Some(n.year()),
        month: n.month() as u8,
        day: n.day() as u8,
        hour: n.hour() as u8,
        minute: n.minute() as u8,
        second: n.second() as u8,
        nanos: n.nanosecond(),
        utc_offset: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
    }

    #[test]
    fn a_trail_through_the_start_of_summer_time_names_the_zones_that_made_it() {
        let mut t = OffsetTrail::default();
        t.see(us("2026-03-29T00:58:59Z"), 3600);
        t.see(us("2026-03-29T00:59:31Z"), 3600);
        t.see(us("2026-03-29T01:00:28Z"), 7200);
        t.see(us("2026-03-29T01:00:49Z"), 7200);
        let zones = zones_agreeing(std::slice::from_ref(&t), None);
        let names: Vec<&str> = zones.iter().map(|z| z.name()).collect();
        assert!(names.contains(&"Europe/Berlin") && names.contains(&"Europe/Paris"));
        assert!(!names.contains(&"Europe/London") && !names.contains(&"Africa/Lagos"));
        // The system's zone first when it fits.
        let paris: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(zones_agreeing(&[t], Some(paris))[0], paris);
    }

    #[test]
    fn a_fixed_trail_fits_zones_without_a_change_and_none_fits_nonsense() {
        let mut t = OffsetTrail::default();
        t.see(us("2026-12-06T11:14:31Z"), 0);
        t.see(us("2026-12-06T11:16:19Z"), 0);
        assert!(
            zones_agreeing(std::slice::from_ref(&t), None)
                .iter()
                .any(|z| z.name() == "UTC")
        );
        let mut odd = OffsetTrail::default();
        odd.see(us("2026-12-06T11:14:31Z"), 3600);
        odd.see(us("2026-12-06T11:16:19Z"), 7200);
        assert!(zones_agreeing(&[odd], None).is_empty());
        // Two zones' lines mixed: more changes than kept, no zone.
        let mut mixed = OffsetTrail::default();
        for i in 0..40 {
            mixed.see(
                us("2026-12-06T11:14:31Z") + i,
                if i % 2 == 0 { 0 } else { 3600 },
            );
        }
        assert_eq!(mixed.changes().len(), 16);
        assert!(zones_agreeing(&[mixed], None).is_empty());
    }

    #[test]
    fn the_local_clock_reads_a_repeated_hour_in_order() {
        let mut c = LocalClock::new(Zone::parse("Europe/Berlin").unwrap());
        // 02:59:59 CEST, then 02:00:00 CET (local wall times read as if UTC).
        assert_eq!(
            c.instant(us("2026-10-25T02:59:59Z")),
            us("2026-10-25T00:59:59Z")
        );
        assert_eq!(
            c.instant(us("2026-10-25T02:00:00Z")),
            us("2026-10-25T01:00:00Z")
        );
    }
}
