//! Turning firewall timestamps into instants: [`halfopen_fwlog::time::Resolver`] (the year
//! syslog leaves out, the Dec -> Jan rollover, fixed offsets and IANA zones with DST), with a
//! one-entry cache in front (logs repeat the same second many times).

use halfopen_fwlog::Timestamp;

pub use halfopen_fwlog::time::{Resolved, Resolver, YearRef, YearState, Zone};

/// The parts of a stamp that decide its instant.
type StampKey = (Option<i32>, [u8; 5], u32, Option<i32>);

/// A [`Resolver`] that remembers the last stamp it resolved.
///
/// Repeating the previous stamp gives the previous result without asking the resolver:
/// the same month cannot move the inferred year, so the answer is the same.
///
/// ```
/// use halfopen::clock::{CachedResolver, YearRef, Zone};
/// let (ts, _) = halfopen_fwlog::time::parse_rfc3164(b"Mar  1 18:49:05").unwrap();
/// let mut r = CachedResolver::new(YearRef::Explicit(2026), Zone::Utc);
/// assert_eq!(r.resolve(&ts).unwrap(), 1_772_390_945_000_000);
/// assert_eq!(r.resolve(&ts).unwrap(), 1_772_390_945_000_000);
/// assert_eq!(r.first_inferred_year(), Some(2026));
/// ```
#[derive(Debug, Clone)]
pub struct CachedResolver {
    inner: Resolver,
    last: Option<(StampKey, i64)>,
}

impl CachedResolver {
    /// A resolver for one input (the year rollover follows the line order).
    pub fn new(year_ref: YearRef, zone: Zone) -> CachedResolver {
        CachedResolver {
            inner: Resolver::new(year_ref, zone),
            last: None,
        }
    }

    /// µs since the epoch.
    pub fn resolve(&mut self, ts: &Timestamp<'_>) -> halfopen_fwlog::Result<i64> {
        let key: StampKey = (
            ts.year,
            [ts.month, ts.day, ts.hour, ts.minute, ts.second],
            ts.nanos,
            ts.utc_offset,
        );
        if let Some((k, v)) = self.last
            && k == key
        {
            return Ok(v);
        }
        let v = self.inner.resolve(ts)?.ts_us;
        self.last = Some((key, v));
        Ok(v)
    }

    /// The year inferred for the first year-less stamp, if there was one.
    pub fn first_inferred_year(&self) -> Option<i32> {
        self.inner.first_inferred_year()
    }

    /// The same resolver resumed after the year-less stamps that left `state`
    /// ([`Resolver::resumed`]).
    pub fn resumed(self, state: YearState) -> CachedResolver {
        CachedResolver {
            inner: self.inner.resumed(state),
            last: None,
        }
    }

    /// The same resolver, as if the stamp before had been at `last_us`
    /// ([`Resolver::after`]).
    pub fn after(self, last_us: Option<i64>) -> CachedResolver {
        CachedResolver {
            inner: self.inner.after(last_us),
            last: None,
        }
    }

    /// Whether a stamp without an offset was read in the zone ([`Resolver::zone_used`]).
    pub fn zone_used(&self) -> bool {
        self.inner.zone_used()
    }

    /// The instant of the last stamp resolved ([`Resolver::last_instant`]).
    pub fn last_instant(&self) -> Option<i64> {
        self.inner.last_instant()
    }

    /// See [`Resolver::repeated_hour_alike`].
    pub fn repeated_hour_alike(&self, actual: Option<i64>) -> bool {
        self.inner.repeated_hour_alike(actual)
    }

    /// What the year rollover carries to the next stamp ([`Resolver::year_state`]).
    pub fn year_state(&self) -> YearState {
        self.inner.year_state()
    }

    /// See [`Resolver::resumed_alike`].
    pub fn resumed_alike(&self, assumed: YearState, actual: YearState) -> bool {
        self.inner.resumed_alike(assumed, actual)
    }

    /// See [`Resolver::follow`].
    pub fn follow(&mut self, later: &CachedResolver) {
        self.inner.follow(&later.inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};
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

    fn rfc(us: i64) -> String {
        crate::escape::rfc3339(us)
    }

    #[test]
    fn year_inference_and_rollover() {
        let r = Utc.with_ymd_and_hms(2026, 1, 10, 0, 0, 0).unwrap();
        let mut res = CachedResolver::new(YearRef::Reference(r), Zone::Fixed(0));
        let dec = res.resolve(&stamp(12, 31)).unwrap();
        let jan = res.resolve(&stamp(1, 1)).unwrap();
        assert_eq!(rfc(dec), "2025-12-31T12:00:00Z");
        assert_eq!(rfc(jan), "2026-01-01T12:00:00Z");
        assert_eq!(res.first_inferred_year(), Some(2025));
        let mut res = CachedResolver::new(
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
        /// Arbitrary stamps never panic, and the cache answers like the resolver.
        #[test]
        fn cache_agrees_and_never_panics(
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
            let mut cached = CachedResolver::new(YearRef::Reference(r), zone);
            let mut plain = Resolver::new(YearRef::Reference(r), zone);
            for _ in 0..2 {
                let a = cached.resolve(&ts).ok();
                let b = plain.resolve(&ts).ok().map(|x| x.ts_us);
                proptest::prop_assert_eq!(a, b);
            }
        }
    }
}
