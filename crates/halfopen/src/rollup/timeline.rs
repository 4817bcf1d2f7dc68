//! Attempts over time in bounded memory: buckets that widen (10 s, 20 s, 40 s, ...) when there
//! would be more than [`MAX_BUCKETS`], and the busiest 10 s kept apart (a flood's peak rate
//! must not be averaged away by a week-long input).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Width of the finest bucket, µs.
pub const BUCKET_US: i64 = 10_000_000;

/// Most buckets a timeline holds; past it the buckets widen (twice as wide, half as many).
pub const MAX_BUCKETS: usize = 4096;

/// Finest (10 s) buckets kept for the peak rate: about 43 minutes behind the latest. Connections
/// reach the rollup within minutes of their start (SYN timeout, half-close linger), so the peak
/// sees nearly all of them.
const PEAK_WINDOW: usize = 256;

/// Connection attempts per bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeline {
    /// Bucket width, µs (a power-of-two multiple of [`BUCKET_US`]).
    pub width_us: i64,
    /// Bucket start (µs, multiple of `width_us`) -> attempts.
    pub buckets: BTreeMap<i64, u64>,
    /// The latest 10-second buckets, for the peak.
    recent: BTreeMap<i64, u64>,
    /// The busiest 10-second bucket that left `recent`.
    peak: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width_us: BUCKET_US,
            buckets: BTreeMap::new(),
            recent: BTreeMap::new(),
            peak: 0,
        }
    }
}

impl Timeline {
    /// Counts one attempt at `ts_us`.
    ///
    /// ```
    /// use halfopen::rollup::Timeline;
    /// let mut t = Timeline::default();
    /// for s in 0..100_000i64 {
    ///     t.add(s * 60_000_000); // one a minute for 69 days
    /// }
    /// assert!(t.buckets.len() <= halfopen::rollup::MAX_BUCKETS);
    /// assert_eq!(t.buckets.values().sum::<u64>(), 100_000);
    /// assert_eq!(t.peak_per_second(), 0.1);
    /// ```
    pub fn add(&mut self, ts_us: i64) {
        self.add_n(ts_us, 1);
    }

    fn add_n(&mut self, ts_us: i64, n: u64) {
        let b = start_of(ts_us, self.width_us);
        // Connections come nearly in time order: most go to the latest bucket.
        if !bump_last(&mut self.buckets, b, n) {
            *self.buckets.entry(b).or_insert(0) += n;
            if self.buckets.len() > MAX_BUCKETS {
                self.widen();
            }
        }
        let fine = start_of(ts_us, BUCKET_US);
        if bump_last(&mut self.recent, fine, n) {
            return;
        }
        let oldest = self.recent.first_key_value().map(|(k, _)| *k);
        if self.recent.len() < PEAK_WINDOW || oldest.is_some_and(|o| fine >= o) {
            *self.recent.entry(fine).or_insert(0) += n;
            self.trim_recent();
        }
    }

    /// Twice as wide buckets.
    fn widen(&mut self) {
        while self.buckets.len() > MAX_BUCKETS {
            self.width_us = self.width_us.saturating_mul(2);
            let old = std::mem::take(&mut self.buckets);
            for (b, n) in old {
                *self.buckets.entry(start_of(b, self.width_us)).or_insert(0) += n;
            }
        }
    }

    fn trim_recent(&mut self) {
        while self.recent.len() > PEAK_WINDOW {
            if let Some((_, n)) = self.recent.pop_first() {
                self.peak = self.peak.max(n);
            }
        }
    }

    /// Adds every attempt of `other` (the merge of two inputs' timelines).
    pub fn merge(&mut self, other: &Timeline) {
        for (b, n) in &other.buckets {
            let width = self.width_us.max(other.width_us);
            if width > self.width_us {
                self.width_us = width;
                let old = std::mem::take(&mut self.buckets);
                for (c, m) in old {
                    *self.buckets.entry(start_of(c, width)).or_insert(0) += m;
                }
            }
            *self.buckets.entry(start_of(*b, self.width_us)).or_insert(0) += n;
        }
        if self.buckets.len() > MAX_BUCKETS {
            self.widen();
        }
        for (b, n) in &other.recent {
            *self.recent.entry(*b).or_insert(0) += n;
        }
        self.peak = self.peak.max(other.peak);
        self.trim_recent();
    }

    /// The busiest 10 seconds, as attempts per second.
    pub fn peak_per_second(&self) -> f64 {
        let recent = self.recent.values().copied().max().unwrap_or(0);
        self.peak.max(recent) as f64 / (BUCKET_US as f64 / 1e6)
    }

    /// The buckets at width `width_us` (at least this timeline's width).
    pub fn at_width(&self, width_us: i64) -> BTreeMap<i64, u64> {
        let mut out = BTreeMap::new();
        for (b, n) in &self.buckets {
            *out.entry(start_of(*b, width_us.max(self.width_us)))
                .or_insert(0) += n;
        }
        out
    }

    /// Heap bytes held (about).
    pub fn memory_bytes(&self) -> usize {
        (self.buckets.len() + self.recent.len()) * 48
    }
}

/// Adds `n` to the last bucket if its start is `b`; false otherwise.
fn bump_last(m: &mut BTreeMap<i64, u64>, b: i64, n: u64) -> bool {
    match m.last_entry() {
        Some(mut e) if *e.key() == b => {
            *e.get_mut() += n;
            true
        }
        _ => false,
    }
}

fn start_of(ts_us: i64, width: i64) -> i64 {
    ts_us.div_euclid(width.max(1)).saturating_mul(width.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Bounded, nothing lost, and two halves merged count what the whole counted; the
        /// peak of the merge is the whole's, or less only for the 10 s the cut split.
        #[test]
        fn bounded_and_mergeable(times in proptest::collection::vec(0i64..400_000_000_000, 1..3000), cut in 0usize..3000) {
            let mut sorted = times;
            sorted.sort_unstable();
            let cut = cut.min(sorted.len());
            let mut whole = Timeline::default();
            sorted.iter().for_each(|t| whole.add(*t));
            let (mut a, mut b) = (Timeline::default(), Timeline::default());
            sorted[..cut].iter().for_each(|t| a.add(*t));
            sorted[cut..].iter().for_each(|t| b.add(*t));
            a.merge(&b);
            prop_assert!(whole.buckets.len() <= MAX_BUCKETS);
            prop_assert_eq!(whole.buckets.values().sum::<u64>(), sorted.len() as u64);
            prop_assert_eq!(a.buckets.values().sum::<u64>(), sorted.len() as u64);
            prop_assert!(a.peak_per_second() <= whole.peak_per_second());
            prop_assert!(a.peak_per_second() * 2.0 >= whole.peak_per_second());
            let w = a.width_us.max(whole.width_us);
            prop_assert_eq!(a.at_width(w), whole.at_width(w));
        }
    }

    #[test]
    fn the_peak_survives_widening() {
        let mut t = Timeline::default();
        for i in 0..500 {
            t.add(1_000_000 + i); // 500 in one 10-second bucket
        }
        for d in 0..100_000i64 {
            t.add(20_000_000 + d * 3_600_000_000 / 100); // spread over 1,000 hours
        }
        assert!(t.width_us > BUCKET_US);
        assert_eq!(t.peak_per_second(), 50.0);
    }
}
