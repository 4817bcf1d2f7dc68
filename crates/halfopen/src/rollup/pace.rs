//! How fast a source began its connections: the most it began in one clock minute, kept in
//! three integers whatever the number of connections (a tumbling window: the minute being
//! counted and the busiest minute so far).
//!
//! A SYN flood is a rate, not a count: one address that sends a SYN every half second for an
//! hour has sent 7,200 of them and never held more than 126 half-open connections at once,
//! a quarter of Apache's default listen queue. The lab's periodic run (a load balancer's
//! health check, a port monitor, a client whose SYN-ACKs are lost) is that pattern.

use serde::{Deserialize, Serialize};

/// One clock minute, µs.
pub const MINUTE_US: i64 = 60_000_000;

/// The busiest clock minute of a stream of connection starts.
///
/// Starts arrive in the order connections end, which is their start order for the short
/// connections a flood is made of; a start that arrives after a later minute has begun
/// counts in no minute (the figure is then a lower bound).
///
/// ```
/// use halfopen::rollup::BusiestMinute;
/// let mut m = BusiestMinute::default();
/// for i in 0..150 {
///     m.add(i * 500_000); // every 0.5 s for 75 s
/// }
/// assert_eq!(m.most(), 120);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BusiestMinute {
    /// The first minute counted (start µs / 60 s), if any.
    first: Option<i64>,
    /// Starts counted in it.
    in_first: u64,
    /// The minute being counted.
    current: Option<i64>,
    /// Starts counted in it.
    in_current: u64,
    /// Starts in the busiest minute before the current one.
    busiest: u64,
}

impl BusiestMinute {
    /// Counts a connection that began at `start_us`.
    pub fn add(&mut self, start_us: i64) {
        let minute = start_us.div_euclid(MINUTE_US);
        match self.current {
            None => {
                *self = BusiestMinute {
                    first: Some(minute),
                    in_first: 1,
                    current: Some(minute),
                    in_current: 1,
                    busiest: 0,
                }
            }
            Some(m) if m == minute => {
                self.in_current += 1;
                if self.first == self.current {
                    self.in_first += 1;
                }
            }
            Some(m) if m > minute => {}
            Some(_) => {
                self.busiest = self.most();
                self.current = Some(minute);
                self.in_current = 1;
            }
        }
    }

    /// The most connections begun in one clock minute.
    pub fn most(&self) -> u64 {
        self.busiest.max(self.in_current)
    }

    /// Appends `later`, the figure of the connections that came after these: exactly the
    /// figure of the whole when the starts came in order.
    pub fn merge(&mut self, later: &BusiestMinute) {
        let (Some(now), Some(next)) = (self.current, later.first) else {
            if self.current.is_none() {
                *self = *later;
            }
            return;
        };
        let later_one_minute = later.current == later.first;
        if next == now {
            let joined = self.in_current + later.in_first;
            if self.first == self.current {
                self.in_first = joined;
            }
            if later_one_minute {
                self.in_current = joined;
            } else {
                self.busiest = self.busiest.max(joined).max(later.busiest);
                self.current = later.current;
                self.in_current = later.in_current;
            }
        } else if next > now {
            self.busiest = self.most().max(later.busiest);
            self.current = later.current;
            self.in_current = later.in_current;
        } else if later.current > self.current {
            // Overlapping, out of order: a lower bound, as for starts added out of order.
            self.busiest = self.most().max(later.busiest);
            self.current = later.current;
            self.in_current = later.in_current;
        } else {
            self.busiest = self.busiest.max(later.most());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn of(starts: &[i64]) -> BusiestMinute {
        let mut m = BusiestMinute::default();
        for &s in starts {
            m.add(s);
        }
        m
    }

    /// The exact busiest clock minute of sorted starts.
    fn exact(starts: &[i64]) -> u64 {
        let mut best = 0;
        let mut i = 0;
        while i < starts.len() {
            let minute = starts[i].div_euclid(MINUTE_US);
            let n = starts[i..]
                .iter()
                .take_while(|s| s.div_euclid(MINUTE_US) == minute)
                .count();
            best = best.max(n as u64);
            i += n;
        }
        best
    }

    #[test]
    fn a_health_check_every_half_second_begins_120_a_minute() {
        let starts: Vec<i64> = (0..7_200).map(|i| 1_000_000 + i * 500_000).collect();
        assert_eq!(of(&starts).most(), 120);
    }

    #[test]
    fn a_burst_is_counted_in_its_minute() {
        let mut starts: Vec<i64> = (0..10).map(|i| i * 30_000_000).collect();
        starts.extend((0..1_000).map(|i| 400_000_000 + i * 1_000));
        starts.sort_unstable();
        assert_eq!(of(&starts).most(), 1_000);
    }

    proptest! {
        #[test]
        fn sorted_starts_give_the_exact_busiest_minute(mut starts in prop::collection::vec(0i64..600_000_000, 0..300)) {
            starts.sort_unstable();
            prop_assert_eq!(of(&starts).most(), exact(&starts));
        }

        #[test]
        fn merging_two_halves_gives_the_whole(mut starts in prop::collection::vec(0i64..600_000_000, 0..300), cut in 0usize..300) {
            starts.sort_unstable();
            let cut = cut.min(starts.len());
            let (a, b) = starts.split_at(cut);
            let mut merged = of(a);
            merged.merge(&of(b));
            prop_assert_eq!(merged.most(), of(&starts).most());
        }

        #[test]
        fn out_of_order_starts_never_raise_the_figure(starts in prop::collection::vec(0i64..600_000_000, 0..300)) {
            let mut sorted = starts.clone();
            sorted.sort_unstable();
            prop_assert!(of(&starts).most() <= exact(&sorted));
        }
    }
}
