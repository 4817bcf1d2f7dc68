//! Items due later than the line being written (a request logged after its SYN, a packet of a
//! connection that is still going on), handed back in time order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A time-ordered queue; items due at the same time come back in the order they were pushed.
///
/// ```
/// use halfopen_benches::scale::later::Later;
/// let mut q = Later::default();
/// q.push(20, "b");
/// q.push(10, "a");
/// q.push(20, "c");
/// assert_eq!(q.pop_due(15), Some("a"));
/// assert_eq!(q.pop_due(15), None);
/// assert_eq!(q.pop(), Some("b"));
/// assert_eq!(q.pop(), Some("c"));
/// ```
///
/// The heap holds 24-byte keys (due time, push order, slot); the items stay in a slab of
/// reused slots, so ordering costs the same whatever the size of an item.
pub struct Later<T> {
    heap: BinaryHeap<Reverse<(i64, u64, u32)>>,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    seq: u64,
}

impl<T> Default for Later<T> {
    fn default() -> Self {
        Later {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }
}

impl<T> std::fmt::Debug for Later<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Later").field("len", &self.len()).finish()
    }
}

impl<T> Later<T> {
    /// Adds `item`, due at `at`.
    pub fn push(&mut self, at: i64, item: T) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(i as usize) {
                    *s = Some(item);
                }
                i
            }
            None => {
                self.slots.push(Some(item));
                (self.slots.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at, self.seq, slot)));
    }

    /// The earliest item if it is due at or before `now`.
    pub fn pop_due(&mut self, now: i64) -> Option<T> {
        if self.heap.peek().is_some_and(|Reverse(e)| e.0 <= now) {
            self.pop()
        } else {
            None
        }
    }

    /// The earliest item.
    pub fn pop(&mut self) -> Option<T> {
        let Reverse((_, _, slot)) = self.heap.pop()?;
        self.free.push(slot);
        self.slots.get_mut(slot as usize).and_then(Option::take)
    }

    /// Due time of the earliest item.
    pub fn next_at(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse(e)| e.0)
    }

    /// Items waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
