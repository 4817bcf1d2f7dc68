//! The SYN cache: a compact, set-associative array for IPv4 flows that have only sent
//! bare SYNs (half-open attempts), in front of the flow table's hash map, like a kernel
//! SYN cache.
//!
//! Layout: buckets of [`WAYS`] entries, each bucket 576 contiguous bytes. Its 8 hash tags
//! and 8 insertion stamps fill one 64-byte, 64-aligned cache line (all that a lookup which
//! misses touches); the keys and 44-byte [`CompactSyn`] states are in eight
//! cache-line-aligned 64-byte entries beside it (touched on a tag match, an insert or an
//! eviction: one miss each, never two), in the same 4 KiB page as the line but for one
//! bucket in seven. A slot costs 72 bytes in all. The array grows by doubling (each old
//! bucket splits in two, so a rehash never overflows) while it is at least half full, up
//! to the power of two at or above `max_flows`; it never shrinks. Eviction is
//! bucket-local: the oldest entry of the bucket (smallest insertion stamp), O(1).
//!
//! Expiry is exact without a queue: buckets are grouped by [`GROUP_BUCKETS`], each group
//! keeps a lower bound of its entries' deadlines, and a sweep visits only the groups that
//! are due.

use prefetch_index::prefetch_index;

use crate::flow::CompactSyn;
use crate::flow_map::{MapKey, random_seeds};
use crate::key::V4Key;

/// Entries per bucket.
pub(crate) const WAYS: usize = 8;
/// Buckets per expiry group.
const GROUP_BUCKETS: usize = 64;
/// Initial number of buckets.
const INITIAL_BUCKETS: usize = 8;

/// A bucket's hash tags and insertion stamps (0 = empty slot): one 64-byte cache line,
/// all a lookup that misses touches.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct KeyLine {
    /// High 32 bits of each entry's hash.
    tags: [u32; WAYS],
    stamps: [u32; WAYS],
}

/// One entry: the full key (checked on a tag match) and the compact state, aligned to a
/// cache line so that reading one never costs two misses.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Entry {
    key: V4Key,
    syn: CompactSyn,
}

/// A bucket: its line of tags and stamps and its entries, 576 contiguous bytes (in the
/// compiler's field order: do not assume the line comes first). The line and the entry a
/// SYN evicts are then in the same 4 KiB page (but for the one bucket in seven that
/// straddles two): one page walk per SYN in a table larger than the TLB reaches, not two.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    line: KeyLine,
    ways: [Entry; WAYS],
}

fn tag(h: u64) -> u32 {
    (h >> 32) as u32
}

/// The bucket of hash `h` in an array of `mask + 1` buckets (a power of two).
#[inline(always)]
fn bucket_of(h: u64, mask: usize) -> usize {
    ((h ^ (h >> 29)) as usize) & mask
}

/// The first way after way `w` (cyclically) set in `occupied`; `w` itself when no other is.
#[inline]
fn next_occupied(occupied: u8, w: usize) -> usize {
    // With way `w` set the rotated mask is never 0.
    let m = occupied | (1 << (w % WAYS));
    let after = m.rotate_right((w as u32 + 1) % WAYS as u32);
    (w + 1 + after.trailing_zeros() as usize) % WAYS
}

/// The cache. Slots are addressed as `bucket * WAYS + way`.
pub(crate) struct SynCache {
    /// Per-process random hash keys (spoofed floods cannot aim at one bucket).
    seeds: [u64; 2],
    buckets: Vec<Bucket>,
    /// Per group of buckets: no entry of the group is due before this time.
    group_min: Vec<i64>,
    max_buckets: usize,
    len: usize,
    /// Insertion counter (never 0, which marks an empty slot).
    stamp: u32,
    /// Attempt timeout (deadline = first SYN + this).
    timeout_us: i64,
    /// No entry is due before this time.
    pub(crate) next_due: i64,
    /// Where [`SynCache::any_victim`] resumes.
    cursor: usize,
    /// Per bucket, the way after the one written last: under a flood, where the bucket's
    /// oldest entry (the next victim) almost always is. Lets [`SynCache::prefetch`]
    /// fetch the victim's line together with the bucket's line (1 byte per bucket: stays in
    /// cache).
    hint: Vec<u8>,
}

impl SynCache {
    /// An empty cache for a table of at most `max_flows` flows.
    pub(crate) fn new(max_flows: usize, timeout_us: i64) -> SynCache {
        let max_entries = max_flows
            .max(1)
            .checked_next_power_of_two()
            .unwrap_or(usize::MAX / 2 + 1);
        let max_buckets = (max_entries / WAYS).max(1);
        let n = INITIAL_BUCKETS.min(max_buckets);
        SynCache {
            seeds: random_seeds(),
            buckets: vec![Bucket::default(); n],
            group_min: vec![i64::MAX; n.div_ceil(GROUP_BUCKETS)],
            max_buckets,
            len: 0,
            stamp: 0,
            timeout_us,
            next_due: i64::MAX,
            cursor: 0,
            hint: vec![0; n],
        }
    }

    /// Takes the hash keys of `other` (tests: two tables that place flows alike).
    #[cfg(test)]
    pub(crate) fn copy_seeds(&mut self, other: &SynCache) {
        self.seeds = other.seeds;
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated.
    pub(crate) fn capacity(&self) -> usize {
        self.buckets.len() * WAYS
    }

    /// Bytes of one slot (key, stamp, compact state).
    pub(crate) const fn slot_bytes() -> usize {
        std::mem::size_of::<KeyLine>() / WAYS + std::mem::size_of::<Entry>()
    }

    /// Heap bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.capacity() * SynCache::slot_bytes() + self.group_min.len() * 8 + self.hint.len()
    }

    /// The key's hash (random per-process seed).
    pub(crate) fn hash(&self, k: &V4Key) -> u64 {
        // The flow map's key hash, under this cache's seeds.
        k.fold(&self.seeds)
    }

    /// The entry in a slot.
    #[inline]
    fn entry(&self, slot: usize) -> Option<&Entry> {
        self.buckets.get(slot / WAYS)?.ways.get(slot % WAYS)
    }

    /// The entry in a slot, mutably.
    #[inline]
    fn entry_mut(&mut self, slot: usize) -> Option<&mut Entry> {
        self.buckets.get_mut(slot / WAYS)?.ways.get_mut(slot % WAYS)
    }

    fn bucket(&self, h: u64) -> usize {
        bucket_of(h, self.buckets.len().wrapping_sub(1))
    }

    fn deadline(&self, c: &CompactSyn) -> i64 {
        c.start_us().saturating_add(self.timeout_us)
    }

    /// The slot holding `k`.
    #[inline]
    pub(crate) fn find(&self, k: &V4Key, h: u64) -> Option<usize> {
        let b = self.bucket(h);
        let line = &self.buckets.get(b)?.line;
        let t = tag(h);
        // Branch-free compare of the 8 tags (one vector compare), then check the keys.
        let mut m = 0u32;
        for w in 0..WAYS {
            m |= u32::from(line.tags[w] == t && line.stamps[w] != 0) << w;
        }
        while m != 0 {
            let w = m.trailing_zeros() as usize;
            m &= m - 1;
            let s = b * WAYS + w;
            if self.entry(s).is_some_and(|e| e.key == *k) {
                return Some(s);
            }
        }
        None
    }

    /// One pass over `h`'s bucket: a free slot (the first), the oldest occupied slot
    /// (the first of the oldest), and the bitmask of occupied ways (for
    /// [`SynCache::insert`] / [`SynCache::replace`]). Branch-free over the ways.
    #[inline]
    pub(crate) fn scan(&self, h: u64) -> (Option<usize>, Option<usize>, u8) {
        let b = self.bucket(h);
        let Some(line) = self.buckets.get(b).map(|x| &x.line) else {
            return (None, None, 0);
        };
        let mut empty = 0u32;
        // Per occupied way: (age + 1) above 3 bits of (WAYS - 1 - way), so the largest
        // value is the oldest entry, the first way among equals; 0 for an empty way.
        let mut best = 0u64;
        for (w, &st) in line.stamps.iter().enumerate() {
            let occupied = st != 0;
            empty |= u32::from(!occupied) << w;
            let age = u64::from(self.stamp.wrapping_sub(st)) + 1;
            let v = ((age << 3) | (WAYS - 1 - w) as u64) * u64::from(occupied);
            best = best.max(v);
        }
        let free = (empty != 0).then(|| b * WAYS + empty.trailing_zeros() as usize);
        let oldest = (best != 0).then(|| b * WAYS + (WAYS - 1 - (best & 7) as usize));
        (free, oldest, !empty as u8)
    }

    /// Replaces the entry in an occupied slot with a new one (same bucket), handing the
    /// old entry to `evicted` first; returns the new deadline. `occupied`: the bucket's
    /// occupied ways from [`SynCache::scan`] (only steers the prefetch hint).
    #[inline]
    pub(crate) fn replace(
        &mut self,
        slot: usize,
        occupied: u8,
        h: u64,
        k: V4Key,
        c: &CompactSyn,
        evicted: impl FnOnce(&V4Key, &CompactSyn),
    ) -> i64 {
        if let Some(e) = self.entry(slot) {
            evicted(&e.key, &e.syn);
        }
        self.write(slot, occupied, h, k, c)
    }

    /// Writes an entry into a slot (free or to be overwritten); returns its deadline.
    #[inline(always)]
    fn write(&mut self, slot: usize, occupied: u8, h: u64, k: V4Key, c: &CompactSyn) -> i64 {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.stamp = 1;
        }
        let (b, w) = (slot / WAYS, slot % WAYS);
        if let Some(line) = self.buckets.get_mut(b).map(|x| &mut x.line) {
            line.tags[w] = tag(h);
            line.stamps[w] = self.stamp;
        }
        // The next occupied way after this one: the oldest once the bucket rotates, as
        // under a flood. Only a prefetch target, so a stale `occupied` would be harmless.
        if let Some(x) = self.hint.get_mut(b) {
            *x = next_occupied(occupied, w) as u8;
        }
        if let Some(e) = self.entry_mut(slot) {
            e.key = k;
            e.syn = *c;
        }
        let d = self.deadline(c);
        if let Some(g) = self.group_min.get_mut(b / GROUP_BUCKETS) {
            *g = (*g).min(d);
        }
        self.next_due = self.next_due.min(d);
        d
    }

    /// The state in a slot.
    pub(crate) fn get(&self, slot: usize) -> CompactSyn {
        self.entry(slot).map(|e| e.syn).unwrap_or_default()
    }

    /// Replaces the state in an occupied slot (same first-SYN time, so the same deadline).
    pub(crate) fn set(&mut self, slot: usize, c: CompactSyn) {
        if let Some(d) = self.entry_mut(slot) {
            d.syn = c;
        }
    }

    /// Empties a slot, returning what it held.
    pub(crate) fn remove(&mut self, slot: usize) -> (V4Key, CompactSyn) {
        let (b, w) = (slot / WAYS, slot % WAYS);
        let bucket = &mut self.buckets[b];
        bucket.line.stamps[w] = 0;
        self.len -= 1;
        let e = bucket.ways[w];
        (e.key, e.syn)
    }

    fn oldest_of(&self, b: usize) -> Option<usize> {
        let line = &self.buckets.get(b)?.line;
        (0..WAYS)
            .filter(|&w| line.stamps[w] != 0)
            .max_by_key(|&w| self.stamp.wrapping_sub(line.stamps[w]))
            .map(|w| b * WAYS + w)
    }

    /// The oldest entry of the next non-empty bucket from a rotating cursor (eviction
    /// when the new flow's own bucket is empty).
    pub(crate) fn any_victim(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let n = self.buckets.len();
        for i in 0..n {
            let b = (self.cursor + i) & (n - 1);
            if let Some(s) = self.oldest_of(b) {
                self.cursor = b + 1;
                return Some(s);
            }
        }
        None
    }

    /// Doubles the bucket array when it is at least half full and may still grow.
    #[inline]
    pub(crate) fn maybe_grow(&mut self) {
        let n = self.buckets.len();
        if n >= self.max_buckets || (self.len + 1) * 2 <= n * WAYS {
            return;
        }
        self.grow();
    }

    /// Doubles the bucket array.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let n = self.buckets.len();
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); n * 2]);
        self.hint = vec![0; n * 2];
        self.group_min = vec![i64::MAX; (n * 2).div_ceil(GROUP_BUCKETS)];
        for bucket in &old {
            for (&stamp, e) in bucket.line.stamps.iter().zip(&bucket.ways) {
                if stamp == 0 {
                    continue;
                }
                let h = self.hash(&e.key);
                let nb = self.bucket(h);
                let d = self.deadline(&e.syn);
                let new = &mut self.buckets[nb];
                // An old bucket splits into two new ones: there is always room.
                if let Some(nw) = (0..WAYS).find(|&x| new.line.stamps[x] == 0) {
                    new.line.tags[nw] = tag(h);
                    new.line.stamps[nw] = stamp;
                    new.ways[nw] = *e;
                    let g = nb / GROUP_BUCKETS;
                    self.group_min[g] = self.group_min[g].min(d);
                }
            }
        }
    }

    /// Prefetches the SYN-cache lines of hash `h`: its bucket's tag line and the entry
    /// its [`hint`](SynCache::hint) points at (the next victim under a flood). A prefetch
    /// does not wait for the line (a load would block the core until it arrived), so the
    /// misses of a batch of hashes are all in flight together.
    #[inline(always)]
    pub(crate) fn prefetch(&self, h: u64) {
        let b = self.bucket(h);
        let w = usize::from(self.hint.get(b).copied().unwrap_or(0)) & (WAYS - 1);
        if let Some(x) = self.buckets.get(b) {
            prefetch_index(std::slice::from_ref(&x.line), 0);
            prefetch_index(x.ways.as_slice(), w);
        }
    }

    /// Stores a new entry in a free slot; returns its deadline. `occupied` as for
    /// [`SynCache::replace`].
    #[inline]
    pub(crate) fn insert(
        &mut self,
        slot: usize,
        occupied: u8,
        h: u64,
        k: V4Key,
        c: &CompactSyn,
    ) -> i64 {
        self.len += 1;
        self.write(slot, occupied, h, k, c)
    }

    /// Removes every entry due at `now` into `out`; recomputes `next_due`.
    pub(crate) fn sweep(&mut self, now: i64, out: &mut Vec<(V4Key, CompactSyn)>) {
        let mut next = i64::MAX;
        for g in 0..self.group_min.len() {
            if self.group_min[g] <= now {
                let mut m = i64::MAX;
                let end = ((g + 1) * GROUP_BUCKETS).min(self.buckets.len());
                for b in g * GROUP_BUCKETS..end {
                    for w in 0..WAYS {
                        if self.buckets[b].line.stamps[w] == 0 {
                            continue;
                        }
                        let d = self.deadline(&self.buckets[b].ways[w].syn);
                        if d <= now {
                            out.push(self.remove(b * WAYS + w));
                        } else {
                            m = m.min(d);
                        }
                    }
                }
                self.group_min[g] = m;
            }
            next = next.min(self.group_min[g]);
        }
        self.next_due = next;
    }

    /// Removes every entry into `out`.
    pub(crate) fn drain(&mut self, out: &mut Vec<(V4Key, CompactSyn)>) {
        for b in 0..self.buckets.len() {
            for w in 0..WAYS {
                if self.buckets[b].line.stamps[w] != 0 {
                    out.push(self.remove(b * WAYS + w));
                }
            }
        }
        self.group_min.fill(i64::MAX);
        self.next_due = i64::MAX;
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use proptest::prelude::*;

    use super::{SynCache, WAYS, next_occupied};
    use crate::{Config, EndReason, Event, FlowTable, TcpFlags};

    fn server() -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))
    }

    fn syn(src: u32, ts: i64) -> Event {
        Event::new(ts, IpAddr::V4(Ipv4Addr::from(src)), 40000, server(), 80)
            .with_flags(TcpFlags::SYN)
    }

    #[test]
    fn flood_keeps_the_cap_and_constant_memory() {
        let cap = 4096;
        let mut t = FlowTable::new(Config {
            max_flows: cap,
            ..Config::default()
        });
        let mut mem = 0;
        let mut evicted = 0u64;
        for i in 0..100_000u32 {
            t.observe(&syn(i.wrapping_mul(2_654_435_761), i64::from(i)));
            while let Some(c) = t.pop_finished() {
                assert_eq!(c.end, EndReason::Evicted);
                evicted += 1;
            }
            assert!(t.len() <= cap);
            assert!(t.syn_cache_capacity() <= cap.next_power_of_two());
            if i == 20_000 {
                mem = t.memory_bytes();
            }
        }
        assert_eq!(t.memory_bytes(), mem, "memory grew during the flood");
        assert_eq!(evicted, 100_000 - cap as u64);
        assert_eq!(t.stats().evicted_half_open, evicted);
        assert!(
            t.memory_bytes() / cap <= 128,
            "{} bytes per flow",
            t.memory_bytes() / cap
        );
        assert_eq!(SynCache::slot_bytes(), 72);
    }

    #[test]
    fn expiry_is_exact() {
        let mut t = FlowTable::new(Config::default());
        for i in 0..1000u32 {
            t.observe(&syn(i, i64::from(i) * 1000));
        }
        // Attempt i is due at i ms + 63 s.
        t.expire(63_000_000 + 499_000);
        let mut starts = Vec::new();
        while let Some(c) = t.pop_finished() {
            assert_eq!(c.end, EndReason::Timeout);
            starts.push(c.start_us);
        }
        starts.sort_unstable();
        assert_eq!(starts, (0..500).map(|i| i * 1000).collect::<Vec<i64>>());
        assert_eq!(t.len(), 500);
    }

    /// Expiry stays exact over many expiry groups: sweeps at several times end exactly the
    /// attempts due by then, and only those.
    #[test]
    fn expiry_is_exact_across_groups() {
        let mut t = FlowTable::new(Config {
            max_flows: 1 << 20,
            ..Config::default()
        });
        let n = 200_000u32;
        // Distinct sources 10 µs apart: the cache grows to 2^16 buckets, 1,024 groups.
        for i in 0..n {
            t.observe(&syn(i.wrapping_mul(2_654_435_761), i64::from(i) * 10));
        }
        assert!(t.syn_cache_capacity() / WAYS >= super::GROUP_BUCKETS * 1024);
        let mut ended = 0i64;
        for upto in [0i64, 1, 17_345, 17_346, 123_457, i64::from(n) - 1] {
            // Attempt i is due at i * 10 µs + 63 s.
            t.expire(upto * 10 + 63_000_000);
            let mut starts = Vec::new();
            while let Some(c) = t.pop_finished() {
                assert_eq!(c.end, EndReason::Timeout);
                starts.push(c.start_us);
            }
            starts.sort_unstable();
            let want: Vec<i64> = (ended..=upto).map(|i| i * 10).collect();
            assert_eq!(starts, want, "ended by attempt {upto}");
            ended = upto + 1;
            assert_eq!(t.len() as i64, i64::from(n) - ended);
        }
    }

    /// The straightforward version of `scan`, for reference.
    fn scan_reference(stamps: &[u32; WAYS], now: u32) -> (Option<usize>, Option<usize>) {
        let (mut free, mut oldest, mut age) = (None, None, 0u32);
        for (w, &st) in stamps.iter().enumerate() {
            if st == 0 {
                free = free.or(Some(w));
            } else {
                let a = now.wrapping_sub(st);
                if oldest.is_none() || a > age {
                    oldest = Some(w);
                    age = a;
                }
            }
        }
        (free, oldest)
    }

    fn arb_stamps() -> impl Strategy<Value = [u32; WAYS]> {
        proptest::array::uniform8(prop_oneof![
            Just(0u32),
            Just(1),
            Just(u32::MAX),
            0u32..16,
            any::<u32>()
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The branch-free bucket scan picks the same slots as the obvious loop.
        #[test]
        fn scan_is_the_reference(
            stamps in arb_stamps(),
            now in prop_oneof![Just(1u32), Just(u32::MAX), 0u32..32, any::<u32>()],
        ) {
            let mut c = SynCache::new(64, 1);
            c.stamp = now;
            c.buckets[0].line.stamps = stamps;
            // Hash 0 is bucket 0.
            let (free, oldest, occupied) = c.scan(0);
            prop_assert_eq!((free, oldest), scan_reference(&stamps, now));
            for (w, &st) in stamps.iter().enumerate() {
                prop_assert_eq!(occupied & (1 << w) != 0, st != 0);
            }
        }

        /// The victim hint is the next occupied way after the one written.
        #[test]
        fn next_occupied_is_the_reference(occupied in any::<u8>(), w in 0usize..WAYS) {
            let set = |x: usize| x == w || occupied & (1 << x) != 0;
            let want = (1..=WAYS).map(|i| (w + i) % WAYS).find(|&x| set(x));
            prop_assert_eq!(Some(next_occupied(occupied, w)), want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the mix of SYNs, replies and timeouts: the table never holds more
        /// than its cap, and every flow created ends exactly once.
        #[test]
        fn never_exceeds_the_cap(
            cap in 1usize..40,
            evs in proptest::collection::vec((0u32..64, 0u8..5, 0i64..400_000), 0..300),
        ) {
            let mut t = FlowTable::new(Config {
                max_flows: cap,
                syn_timeout_us: 1_000_000,
                ..Config::default()
            });
            let (mut ts, mut ended) = (0i64, 0u64);
            for (k, kind, dt) in evs {
                ts += dt;
                let client = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | k));
                let e = match kind {
                    0..=2 => Event::new(ts, client, 40000, server(), 80).with_flags(TcpFlags::SYN),
                    3 => Event::new(ts, server(), 80, client, 40000)
                        .with_flags(TcpFlags::SYN | TcpFlags::ACK),
                    _ => Event::new(ts, client, 40000, server(), 80).with_flags(TcpFlags::ACK),
                };
                t.observe(&e);
                prop_assert!(t.len() <= cap);
                prop_assert!(t.syn_cache_len() <= t.len());
                while t.pop_finished().is_some() {
                    ended += 1;
                }
            }
            t.finish();
            while t.pop_finished().is_some() {
                ended += 1;
            }
            prop_assert_eq!(ended, t.stats().flows_created);
            prop_assert_eq!(t.len(), 0);
        }
    }
}
