//! [`TimerQueue`]: the flow table's deadlines (deadline, generation, slot id), smallest
//! first, in the same order as a binary min-heap of those triples, but without its cost:
//! a heap of 100 000 closing connections spends most of a pop on cache misses down 17
//! levels (a fifth of an ordinary-traffic run), while deadlines here only ever move
//! forward with the clock.
//!
//! A radix heap: every entry is at least `last` (the last key taken out) and sits in the
//! bucket numbered by the highest bit in which it differs from `last` (bucket 0: equal).
//! A push is an append; a pop takes from bucket 0, and when that is empty, redistributes
//! the first non-empty bucket around its smallest key, each entry moving to a lower
//! bucket. Each bucket remembers its smallest key, so [`TimerQueue::peek`] changes
//! nothing. The rare key below `last` (a late event's deadline, or a push after an
//! eviction took a far deadline out) goes to a small binary heap of its own, so the order
//! stays exact. (The `radix-heap` crate has no peek and panics on such a key, so it does
//! not fit.)
//!
//! In front of the radix heap are a few sorted runs ([`LANES`] of them): most deadlines are
//! the clock plus a constant (a close linger), so they come in order, and a key at least
//! as large as the last key of a run is appended to it (to the run whose last key is the
//! largest such), O(1), and never moved again; a pop takes the smallest of the runs'
//! fronts and the heap's minimum. A key that fits no run goes to the radix heap. In a long
//! run of ordinary connections almost every key takes a run: the first FIN's deadlines
//! one, the re-queued deadlines of connections whose last segment came later another.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Buckets: radix distances 0..=128 of a 128-bit key.
const BUCKETS: usize = 129;
/// Sorted runs in front of the radix heap.
const LANES: usize = 3;

/// Where the smallest key is.
#[derive(Clone, Copy)]
enum From {
    Lane(usize),
    Early,
    Buckets,
}

/// A deadline queue of `(deadline, generation, slot id)`, smallest first.
pub(crate) struct TimerQueue {
    /// `buckets[i]`: keys whose highest bit differing from `last` is bit `i - 1`.
    buckets: Vec<Vec<u128>>,
    /// The smallest key of each non-empty bucket.
    mins: [u128; BUCKETS],
    /// Bit `i`: bucket `i` is non-empty.
    nonempty: [u64; 3],
    /// Every key in the buckets is at least this.
    last: u128,
    /// Keys pushed below `last`.
    early: BinaryHeap<Reverse<u128>>,
    /// Sorted runs: each lane's keys in increasing order.
    lanes: [VecDeque<u128>; LANES],
    len: usize,
    /// Pops since [`TimerQueue::shrink_if_sparse`] last summed the buffers' room.
    pops: u32,
}

/// The key of a timer: ordered as the triple.
#[inline]
fn key(d: i64, g: u16, id: u32) -> u128 {
    let d = (d as u64) ^ (1 << 63);
    (u128::from(d) << 64) | (u128::from(g) << 32) | u128::from(id)
}

/// The triple of a key.
#[inline]
fn triple(k: u128) -> (i64, u16, u32) {
    let d = ((k >> 64) as u64 ^ (1 << 63)) as i64;
    (d, (k >> 32) as u16, k as u32)
}

/// The bucket of key `k` when the floor is `last` (`k >= last`).
#[inline]
fn bucket_of(k: u128, last: u128) -> usize {
    (128 - (k ^ last).leading_zeros()) as usize
}

impl TimerQueue {
    /// An empty queue; allocates nothing.
    pub(crate) fn new() -> TimerQueue {
        TimerQueue {
            buckets: Vec::new(),
            mins: [0; BUCKETS],
            nonempty: [0; 3],
            last: 0,
            early: BinaryHeap::new(),
            lanes: Default::default(),
            len: 0,
            pops: 0,
        }
    }

    /// Entries queued.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Entries the buffers have room for.
    fn capacity(&self) -> usize {
        self.buckets.iter().map(Vec::capacity).sum::<usize>()
            + self.early.capacity()
            + self.lanes.iter().map(VecDeque::capacity).sum::<usize>()
    }

    /// Bytes held by the queue's buffers.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.capacity() * size_of::<u128>() + self.buckets.capacity() * size_of::<Vec<u128>>()
    }

    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
        for b in &mut self.buckets {
            b.clear();
        }
        self.nonempty = [0; 3];
        self.early.clear();
        for l in &mut self.lanes {
            l.clear();
        }
        self.last = 0;
        self.len = 0;
    }

    /// Releases the room of entries that ran out, once the buffers hold more than four
    /// times what is queued (a burst of handshakes or closes has passed). Looks at most
    /// once every 1024 pops (summing the 129 buckets' room costs more than a pop).
    pub(crate) fn shrink_if_sparse(&mut self) {
        if self.pops < 1024 {
            return;
        }
        self.pops = 0;
        let cap = self.capacity();
        if cap > 1024 && cap > 4 * self.len {
            for b in &mut self.buckets {
                b.shrink_to(b.len() * 2);
            }
            self.early.shrink_to(self.early.len() * 2);
            for l in &mut self.lanes {
                l.shrink_to(l.len() * 2);
            }
        }
    }

    /// Queues a deadline.
    #[inline]
    pub(crate) fn push(&mut self, d: i64, g: u16, id: u32) {
        let k = key(d, g, id);
        self.len += 1;
        // The run whose last key is the largest one not above `k`; else an empty run.
        let mut fit: Option<(usize, u128)> = None;
        let mut empty = None;
        for (i, l) in self.lanes.iter().enumerate() {
            match l.back() {
                Some(&b) if b <= k && fit.is_none_or(|(_, f)| b > f) => fit = Some((i, b)),
                None if empty.is_none() => empty = Some(i),
                _ => {}
            }
        }
        if let Some(l) = fit
            .map(|(i, _)| i)
            .or(empty)
            .and_then(|i| self.lanes.get_mut(i))
        {
            l.push_back(k);
            return;
        }
        if k < self.last {
            self.early.push(Reverse(k));
            return;
        }
        self.put(k);
    }

    /// Puts `k` (at least `last`) in its bucket.
    #[inline]
    fn put(&mut self, k: u128) {
        let i = bucket_of(k, self.last);
        if self.buckets.len() < BUCKETS {
            self.buckets.resize_with(BUCKETS, Vec::new);
        }
        let (w, bit) = (i / 64, 1u64 << (i % 64));
        let Some(word) = self.nonempty.get_mut(w) else {
            return;
        };
        let (Some(b), Some(m)) = (self.buckets.get_mut(i), self.mins.get_mut(i)) else {
            return;
        };
        if *word & bit == 0 {
            *word |= bit;
            *m = k;
        } else if k < *m {
            *m = k;
        }
        b.push(k);
    }

    /// The first non-empty bucket.
    #[inline]
    fn first(&self) -> Option<usize> {
        let (i, w) = self.nonempty.iter().enumerate().find(|(_, w)| **w != 0)?;
        Some(i * 64 + w.trailing_zeros() as usize)
    }

    /// The smallest key in the buckets.
    #[inline]
    fn bucket_min(&self) -> Option<u128> {
        self.first().and_then(|i| self.mins.get(i).copied())
    }

    /// The smallest key and where it is.
    #[inline]
    fn smallest(&self) -> Option<(From, u128)> {
        let mut best = self.bucket_min().map(|b| (From::Buckets, b));
        if let Some(&Reverse(e)) = self.early.peek() {
            if best.is_none_or(|(_, b)| e < b) {
                best = Some((From::Early, e));
            }
        }
        for (i, l) in self.lanes.iter().enumerate() {
            if let Some(&f) = l.front() {
                if best.is_none_or(|(_, b)| f < b) {
                    best = Some((From::Lane(i), f));
                }
            }
        }
        best
    }

    /// The smallest entry, left in place (the tests' model check; the
    /// table pops with [`TimerQueue::pop_due`]).
    #[cfg(test)]
    pub(crate) fn peek(&self) -> Option<(i64, u16, u32)> {
        self.smallest().map(|(_, k)| triple(k))
    }

    /// Takes the smallest entry out.
    pub(crate) fn pop(&mut self) -> Option<(i64, u16, u32)> {
        let (from, k) = self.smallest()?;
        self.take(from);
        Some(triple(k))
    }

    /// Takes the smallest entry out if its deadline is at most `now`; otherwise leaves
    /// the queue alone and says when the smallest is due (`Err(None)`: empty). Looks for
    /// the smallest once, where a peek and then a [`TimerQueue::pop`] would look twice.
    #[inline]
    pub(crate) fn pop_due(&mut self, now: i64) -> Result<(i64, u16, u32), Option<i64>> {
        if self.len == 0 {
            return Err(None);
        }
        let Some((from, k)) = self.smallest() else {
            return Err(None);
        };
        let t = triple(k);
        if t.0 > now {
            return Err(Some(t.0));
        }
        self.take(from);
        Ok(t)
    }

    /// Removes the smallest key, found by [`TimerQueue::smallest`] in `from`.
    #[inline]
    fn take(&mut self, from: From) {
        match from {
            From::Lane(i) => {
                if let Some(l) = self.lanes.get_mut(i) {
                    l.pop_front();
                }
            }
            From::Early => {
                self.early.pop();
            }
            From::Buckets => {
                if let Some(i) = self.first() {
                    if i != 0 {
                        self.redistribute(i);
                    }
                }
                if let Some(b) = self.buckets.first_mut() {
                    b.pop();
                    if b.is_empty() {
                        self.nonempty[0] &= !1;
                    }
                }
            }
        }
        self.len -= 1;
        self.pops = self.pops.wrapping_add(1);
    }

    /// Makes bucket `i`'s smallest key the floor and moves its entries to lower buckets
    /// (bucket 0 gets at least that key).
    fn redistribute(&mut self, i: usize) {
        let Some(&m) = self.mins.get(i) else {
            return;
        };
        let Some(b) = self.buckets.get_mut(i) else {
            return;
        };
        self.last = m;
        let mut moved = std::mem::take(b);
        if let Some(w) = self.nonempty.get_mut(i / 64) {
            *w &= !(1u64 << (i % 64));
        }
        // Every key moves to a bucket below `i`.
        for &k in &moved {
            self.put(k);
        }
        // The emptied vector goes back to bucket `i` with its room.
        moved.clear();
        if let Some(b) = self.buckets.get_mut(i) {
            *b = moved;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_order_as_triples() {
        let ts = [
            (i64::MIN, 0, 0),
            (-1, u16::MAX, u32::MAX),
            (0, 0, 0),
            (0, 0, 1),
            (0, 1, 0),
            (5, 0, 0),
            (i64::MAX, u16::MAX, u32::MAX),
        ];
        for w in ts.windows(2) {
            assert!(key(w[0].0, w[0].1, w[0].2) < key(w[1].0, w[1].1, w[1].2));
        }
        for t in ts {
            assert_eq!(triple(key(t.0, t.1, t.2)), t);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(i64, u16, u32),
        Pop,
        PopDue(i64),
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (-50i64..200, 0u16..3, 0u32..4).prop_map(|(d, g, i)| Op::Push(d, g, i)),
            1 => (any::<i64>(), any::<u16>(), any::<u32>()).prop_map(|(d, g, i)| Op::Push(d, g, i)),
            3 => Just(Op::Pop),
            2 => (-50i64..200).prop_map(Op::PopDue),
            1 => Just(Op::Clear),
        ]
    }

    proptest! {
        /// Every pop and peek gives what a binary min-heap of the triples gives, whatever
        /// the pushes (also below the last key taken out).
        #[test]
        fn is_a_min_heap_of_triples(ops in prop::collection::vec(op(), 0..300)) {
            let mut q = TimerQueue::new();
            let mut h: BinaryHeap<Reverse<(i64, u16, u32)>> = BinaryHeap::new();
            for op in ops {
                match op {
                    Op::Push(d, g, i) => {
                        q.push(d, g, i);
                        h.push(Reverse((d, g, i)));
                    }
                    Op::Pop => prop_assert_eq!(q.pop(), h.pop().map(|r| r.0)),
                    Op::PopDue(now) => {
                        let want = match h.peek() {
                            Some(&Reverse(t)) if t.0 <= now => Ok(h.pop().map_or(t, |r| r.0)),
                            Some(&Reverse(t)) => Err(Some(t.0)),
                            None => Err(None),
                        };
                        prop_assert_eq!(q.pop_due(now), want);
                    }
                    Op::Clear => {
                        q.clear();
                        h.clear();
                    }
                }
                prop_assert_eq!(q.peek(), h.peek().map(|r| r.0));
                prop_assert_eq!(q.len(), h.len());
                q.shrink_if_sparse();
            }
            while let Some(Reverse(t)) = h.pop() {
                prop_assert_eq!(q.pop(), Some(t));
            }
            prop_assert_eq!(q.pop(), None);
        }
    }

    #[test]
    fn a_clock_driven_run_stays_in_the_buckets() {
        // Deadlines pushed as a clock advances, popped when due: nothing goes early.
        let mut q = TimerQueue::new();
        let mut now = 0i64;
        for i in 0..10_000u32 {
            now += 10;
            q.push(now + 10_000, 0, i);
            while q.peek().is_some_and(|(d, _, _)| d <= now) {
                let (d, _, _) = q.pop().unwrap_or_default();
                assert!(d <= now);
            }
        }
        assert!(q.early.is_empty());
        assert_eq!(q.len(), 1000);
    }
}
