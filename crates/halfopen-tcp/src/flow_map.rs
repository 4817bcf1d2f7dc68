//! [`FlowMap`]: a compact map for the flow table. The `(key, value)` pairs live in a slab
//! of fixed-size chunks and the hash index holds only 4-byte slot ids, so a tracked flow
//! costs `size_of::<(K, V)>()` plus about 10 bytes of index and bookkeeping, instead of
//! the 1.5-2.3x of a `HashMap<K, V>` that stores the pairs inline at 7/16-7/8 load.
//!
//! Layout:
//! - slab: `chunks`, each exactly [`CHUNK`] (256) entries, allocated only when no freed slot and
//!   no never-used slot is left; released only by [`FlowMap::clear`]/[`FlowMap::drain`].
//!   Slot id = `chunk * CHUNK + offset`, a `u32`.
//! - `free`: freed ids, reused last-in first-out (the most recently touched memory first).
//! - `live`: one bit per slot.
//! - `index`: a `hashbrown::HashTable<u32>` of live ids, hashed by their key
//!   ([`MapKey::fold`], keyed by per-map random seeds); the equality and rehash closures
//!   read the key from the slab.
//! - `recent`: a direct-mapped cache of [`RECENT`] (hash tag, id) pairs, indexed by other
//!   bits of the same hash, remembering the id each key was last found at. The flows being
//!   talked to now are a small set among all tracked ones; for them a lookup reads one
//!   `recent` entry and the slab entry it names (whose key and liveness are checked, so a
//!   stale id only costs the usual probe; an absent key, a flood's SYN, almost never
//!   matches the 32-bit tag and costs no slab read), instead of a hashbrown control group,
//!   then a bucket, then the slab: one dependent cache miss fewer per event.

// Used by table.rs (integration in progress).
#![allow(dead_code)] // `clear`, `iter`, `key`... are used by the tests only

use std::hash::BuildHasher;
use std::mem::size_of;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

/// Entries per slab chunk (a power of two: ids split into chunk and offset by shifting).
pub(crate) const CHUNK: usize = 256;
const CHUNK_SHIFT: u32 = CHUNK.trailing_zeros();
const CHUNK_MASK: u32 = (CHUNK as u32) - 1;
/// The index is rebuilt in place (instead of doubled) when its live ids leave at least
/// `1 / SPARE_DIVISOR` of its usable capacity free: see [`FlowMap::make_room`].
const SPARE_DIVISOR: usize = 8;
/// Liveness words per chunk.
const WORDS_PER_CHUNK: usize = CHUNK / 64;
/// Entries of the `recent` cache (a power of two): 32 KiB of (tag, id) pairs.
pub(crate) const RECENT: usize = 4096;
/// An empty `recent` entry (its id is never a slot id: ids stay below 2^32 - [`CHUNK`]).
const NO_ID: (u32, u32) = (0, u32::MAX);

/// The `recent` entry for hash `h` (bits 32 and up: hashbrown positions by the low bits
/// and tags by the top seven).
#[inline]
fn recent_of(h: u64) -> usize {
    (h >> 32) as usize & (RECENT - 1)
}

/// A key [`FlowMap`] can hash: with keyed folded multiplies (the construction `foldhash`
/// uses) on the key's words, computed from registers. The derived `Hash` feeds a generic
/// hasher field by field, which costs more and, measured, stalled on reading the key's
/// parts back from memory.
pub(crate) trait MapKey: Copy + Eq + Default {
    /// The key's hash under `seeds` (random per map).
    fn fold(&self, seeds: &[u64; 2]) -> u64;
}

/// Two random hash seeds (per call: per map, per SYN cache), the first odd.
pub(crate) fn random_seeds() -> [u64; 2] {
    let r = RandomState::default();
    [r.hash_one(0x5eed_u64) | 1, r.hash_one(0xc0ffee_u64)]
}

/// One folded multiply: the 128-bit product's halves, xored.
#[inline]
pub(crate) fn fold_mul(x: u64, y: u64) -> u64 {
    let m = u128::from(x) * u128::from(y);
    (m as u64) ^ ((m >> 64) as u64)
}

/// A hash map from `K` to `V` whose entries have stable `u32` ids (slot numbers) until
/// removed; freed ids are reused. See the module docs for the layout.
pub(crate) struct FlowMap<K, V> {
    /// The slab: every chunk holds exactly [`CHUNK`] pairs (dead slots hold stale data).
    chunks: Vec<Box<[(K, V)]>>,
    /// Freed slot ids, reused LIFO.
    free: Vec<u32>,
    /// Slots `next..slots()` have never been handed out.
    next: u32,
    /// Liveness bitset, bit `id % 64` of word `id / 64`.
    live: Vec<u64>,
    /// Live ids, hashed by their key.
    index: HashTable<u32>,
    /// Where keys were last found ([`RECENT`] entries once the map holds anything).
    recent: Vec<(u32, u32)>,
    /// The hash seeds.
    seeds: [u64; 2],
    /// How many times the index was rebuilt in place to clear tombstones.
    rebuilds: u64,
}

/// The pair stored in slot `id`, live or not; `None` when `id` is outside the slab.
#[inline]
fn slot<K, V>(chunks: &[Box<[(K, V)]>], id: u32) -> Option<&(K, V)> {
    chunks
        .get((id >> CHUNK_SHIFT) as usize)?
        .get((id & CHUNK_MASK) as usize)
}

/// Mutable twin of [`slot`].
#[inline]
fn slot_mut<K, V>(chunks: &mut [Box<[(K, V)]>], id: u32) -> Option<&mut (K, V)> {
    chunks
        .get_mut((id >> CHUNK_SHIFT) as usize)?
        .get_mut((id & CHUNK_MASK) as usize)
}

/// Word index and bit mask of `id` in the liveness bitset.
#[inline]
fn bit(id: u32) -> (usize, u64) {
    ((id / 64) as usize, 1u64 << (id % 64))
}

impl<K, V> FlowMap<K, V>
where
    K: MapKey,
    V: Copy + Default,
{
    /// An empty map; allocates nothing.
    pub(crate) fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty map whose index holds `n` entries without growing. Slab chunks are still
    /// allocated lazily, one [`CHUNK`] at a time.
    pub(crate) fn with_capacity(n: usize) -> Self {
        FlowMap {
            chunks: Vec::new(),
            free: Vec::new(),
            next: 0,
            live: Vec::new(),
            index: HashTable::with_capacity(n),
            recent: Vec::new(),
            seeds: random_seeds(),
            rebuilds: 0,
        }
    }

    /// Number of live entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no entry is live.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The id space: every id ever handed out is below this (`chunks * CHUNK`).
    #[inline]
    pub(crate) fn slots(&self) -> usize {
        self.chunks.len() * CHUNK
    }

    /// The id of the live entry with key `k`: one hash, then the `recent` entry and the
    /// slab entry it names; when that is not `k`, one index probe and one slab read per
    /// candidate (and the `recent` entry remembers the id found).
    #[inline]
    pub(crate) fn find(&mut self, k: &K) -> Option<u32> {
        let h = k.fold(&self.seeds);
        let r = recent_of(h);
        let tag = h as u32;
        if let Some(&(t, id)) = self.recent.get(r) {
            if t == tag && self.entry(id).is_some_and(|e| e.0 == *k) {
                return Some(id);
            }
        }
        let chunks = &self.chunks;
        let id = *self
            .index
            .find(h, |&id| slot(chunks, id).is_some_and(|e| e.0 == *k))?;
        if let Some(x) = self.recent.get_mut(r) {
            *x = (tag, id);
        }
        Some(id)
    }

    /// True when `id` names a live entry.
    #[inline]
    pub(crate) fn is_live(&self, id: u32) -> bool {
        let (w, m) = bit(id);
        self.live.get(w).is_some_and(|&word| word & m != 0)
    }

    /// The live entry `id`, or `None` if `id` is stale or out of range.
    #[inline]
    pub(crate) fn entry(&self, id: u32) -> Option<&(K, V)> {
        if self.is_live(id) {
            slot(&self.chunks, id)
        } else {
            None
        }
    }

    /// The value of the live entry `id`, or `None` if `id` is stale or out of range.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&V> {
        self.entry(id).map(|e| &e.1)
    }

    /// The value of the live entry `id`, mutably, or `None` if `id` is stale or out of
    /// range. (The key cannot be changed in place: it positions the entry in the index.)
    #[inline]
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut V> {
        if self.is_live(id) {
            slot_mut(&mut self.chunks, id).map(|e| &mut e.1)
        } else {
            None
        }
    }

    /// The key of the live entry `id`, or `None` if `id` is stale or out of range.
    #[inline]
    pub(crate) fn key(&self, id: u32) -> Option<K> {
        self.entry(id).map(|e| e.0)
    }

    /// Inserts `(k, v)` and returns its id. The caller guarantees `k` is absent (checked
    /// in debug builds only). Allocates only when the slab needs a new chunk or the index
    /// grows.
    ///
    /// # Panics
    /// If the map would need more than 2^32 - [`CHUNK`] slots (over 4 billion entries).
    pub(crate) fn insert(&mut self, k: K, v: V) -> u32 {
        debug_assert!(
            self.find(&k).is_none(),
            "FlowMap::insert: key already present"
        );
        let id = self.take_slot();
        if let Some(e) = slot_mut(&mut self.chunks, id) {
            *e = (k, v);
        }
        let (w, m) = bit(id);
        if let Some(word) = self.live.get_mut(w) {
            *word |= m;
        }
        if self.index.len() == self.index.capacity() {
            self.make_room();
        }
        let (chunks, seeds) = (&self.chunks, &self.seeds);
        let h = k.fold(seeds);
        self.index
            .insert_unique(h, id, |&id| match slot(chunks, id) {
                Some(e) => e.0.fold(seeds),
                None => 0,
            });
        if self.recent.is_empty() {
            self.recent = vec![NO_ID; RECENT];
        }
        if let Some(x) = self.recent.get_mut(recent_of(h)) {
            *x = (h as u32, id);
        }
        id
    }

    /// Called when the index has no room left for one more id. Removals leave tombstones
    /// in a hashbrown table (when the removed id sat in a run of 16 full or deleted
    /// buckets), and they use up its spare room: left alone, hashbrown would then double
    /// the table even though the live ids fit (it rehashes in place only below half
    /// load), which under steady insert/remove churn at the cap costs 5-10 more bytes per
    /// entry. So when the live ids would leave at least `1 / SPARE_DIVISOR` of the
    /// table's usable capacity free, rebuild the index at the same size instead (O(len),
    /// amortised over the tombstone-making removals it took to fill that spare room; it
    /// briefly holds two indexes); otherwise let hashbrown grow it.
    #[cold]
    fn make_room(&mut self) {
        let buckets = self.index.num_buckets();
        let full = if buckets < 8 {
            buckets.saturating_sub(1)
        } else {
            buckets / 8 * 7
        };
        if full.saturating_sub(self.index.len()) < (full / SPARE_DIVISOR).max(1) {
            return;
        }
        let mut fresh = HashTable::with_capacity(full);
        debug_assert_eq!(fresh.num_buckets(), buckets);
        let (chunks, seeds) = (&self.chunks, &self.seeds);
        let hash = |&id: &u32| match slot(chunks, id) {
            Some(e) => e.0.fold(seeds),
            None => 0,
        };
        // In the old table's bucket order: measured faster than walking the slab in id order.
        for id in self.index.drain() {
            fresh.insert_unique(hash(&id), id, hash);
        }
        self.index = fresh;
        self.rebuilds += 1;
    }

    /// A free slot id: the last freed one, else the next never-used one, else the first
    /// slot of a new chunk.
    fn take_slot(&mut self) -> u32 {
        if let Some(id) = self.free.pop() {
            return id;
        }
        if self.next as usize >= self.slots() {
            self.grow();
        }
        let id = self.next;
        self.next += 1;
        id
    }

    /// Appends one chunk to the slab (and its liveness words).
    fn grow(&mut self) {
        let id_space = (self.chunks.len() + 1) * CHUNK;
        assert!(
            id_space <= u32::MAX as usize,
            "FlowMap: more than 2^32 - CHUNK slots needed"
        );
        self.chunks
            .push(vec![(K::default(), V::default()); CHUNK].into_boxed_slice());
        self.live.reserve_exact(WORDS_PER_CHUNK);
        self.live.resize(self.live.len() + WORDS_PER_CHUNK, 0);
    }

    /// Removes the live entry `id` (from the index too) and returns it; `None` if `id` is
    /// stale or out of range. The id goes on the free list for reuse.
    pub(crate) fn remove(&mut self, id: u32) -> Option<(K, V)> {
        let (w, m) = bit(id);
        let word = self.live.get_mut(w)?;
        if *word & m == 0 {
            return None;
        }
        *word &= !m;
        let e = *slot(&self.chunks, id)?;
        if let Ok(found) = self.index.find_entry(e.0.fold(&self.seeds), |&x| x == id) {
            found.remove();
        } else {
            debug_assert!(
                false,
                "FlowMap::remove: live id {id} missing from the index"
            );
        }
        self.free.push(id);
        Some(e)
    }

    /// Removes every entry and releases the slab, free list, bitset and index (the hash
    /// seeds are kept).
    pub(crate) fn clear(&mut self) {
        self.chunks = Vec::new();
        self.free = Vec::new();
        self.next = 0;
        self.live = Vec::new();
        self.index = HashTable::new();
        self.recent = Vec::new();
    }

    /// The live entries with their ids, in id order (walks the liveness bitset).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &(K, V))> + '_ {
        self.live.iter().enumerate().flat_map(move |(w, &word)| {
            let base = (w * 64) as u32;
            let mut rest = word;
            std::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let id = base + rest.trailing_zeros();
                rest &= rest - 1;
                Some(id)
            })
            .filter_map(move |id| slot(&self.chunks, id).map(|e| (id, e)))
        })
    }

    /// Heap bytes held by the map: slab `chunks * CHUNK * size_of::<(K, V)>()`, plus the
    /// index's exact allocation (`HashTable::allocation_size`: `buckets * (4 + 1)` for
    /// the ids and one control byte each, plus one group of trailing control bytes, rounded
    /// up to alignment), plus `free.capacity() * 4 + live.capacity() * 8`, plus the chunk
    /// pointer vector and the `recent` cache (32 KiB).
    pub(crate) fn memory_bytes(&self) -> usize {
        self.slots() * size_of::<(K, V)>()
            + self.index.allocation_size()
            + self.recent.capacity() * size_of::<(u32, u32)>()
            + self.free.capacity() * size_of::<u32>()
            + self.live.capacity() * size_of::<u64>()
            + self.chunks.capacity() * size_of::<Box<[(K, V)]>>()
    }
}

impl<K, V> Default for FlowMap<K, V>
where
    K: MapKey,
    V: Copy + Default,
{
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V> std::fmt::Debug for FlowMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowMap")
            .field("len", &self.index.len())
            .field("slots", &(self.chunks.len() * CHUNK))
            .field("free", &self.free.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
    struct K12([u32; 3]);

    impl MapKey for K12 {
        fn fold(&self, seeds: &[u64; 2]) -> u64 {
            let [a, b, c] = self.0;
            fold_mul(
                (u64::from(a) << 32 | u64::from(b)) ^ seeds[0],
                u64::from(c) ^ seeds[1],
            )
        }
    }

    type Big = [u32; 26];

    fn k(i: u32) -> K12 {
        K12([i, i.wrapping_mul(0x9e37_79b9), !i])
    }

    #[test]
    fn sizes_of_the_memory_test_types() {
        assert_eq!(size_of::<K12>(), 12);
        assert_eq!(size_of::<Big>(), 104);
        assert_eq!(size_of::<(K12, Big)>(), 116);
    }

    #[test]
    fn insert_find_get_mut_remove() {
        let mut m: FlowMap<K12, u64> = FlowMap::new();
        assert!(m.is_empty());
        assert_eq!(m.memory_bytes(), 0);
        assert_eq!(m.find(&k(1)), None);
        assert_eq!(m.get(0), None);
        assert_eq!(m.remove(0), None);

        let a = m.insert(k(1), 10);
        let b = m.insert(k(2), 20);
        assert_ne!(a, b);
        assert_eq!(m.len(), 2);
        assert_eq!(m.find(&k(1)), Some(a));
        assert_eq!(m.find(&k(2)), Some(b));
        assert_eq!(m.find(&k(3)), None);
        assert_eq!(m.get(a), Some(&10));
        assert_eq!(m.key(b), Some(k(2)));
        assert_eq!(m.entry(b), Some(&(k(2), 20)));
        assert!(m.is_live(a) && m.is_live(b));

        *m.get_mut(a).unwrap() += 5;
        assert_eq!(m.get(a), Some(&15));

        assert_eq!(m.remove(a), Some((k(1), 15)));
        assert_eq!(m.remove(a), None, "a stale id removes nothing");
        assert!(!m.is_live(a));
        assert_eq!(m.find(&k(1)), None);
        assert_eq!(m.get(a), None);
        assert_eq!(m.get_mut(a), None);
        assert_eq!(m.key(a), None);
        assert_eq!(m.entry(a), None);
        assert_eq!(m.len(), 1);
        assert_eq!(m.find(&k(2)), Some(b));
    }

    #[test]
    fn out_of_range_ids_are_none() {
        let mut m: FlowMap<K12, u8> = FlowMap::new();
        m.insert(k(0), 1);
        for id in [CHUNK as u32, u32::MAX, u32::MAX - 63, 1 << 20] {
            assert!(!m.is_live(id));
            assert_eq!(m.get(id), None);
            assert_eq!(m.get_mut(id), None);
            assert_eq!(m.key(id), None);
            assert_eq!(m.entry(id), None);
            assert_eq!(m.remove(id), None);
        }
        // In range but never handed out.
        assert_eq!(m.get(1), None);
        assert_eq!(m.remove(1), None);
    }

    #[test]
    fn freed_ids_are_reused_lifo() {
        let mut m: FlowMap<K12, u32> = FlowMap::new();
        let ids: Vec<u32> = (0..10).map(|i| m.insert(k(i), i)).collect();
        assert_eq!(ids, (0..10).collect::<Vec<_>>(), "fresh ids count up");
        m.remove(3);
        m.remove(7);
        assert_eq!(m.insert(k(100), 100), 7);
        assert_eq!(m.insert(k(101), 101), 3);
        assert_eq!(m.insert(k(102), 102), 10, "then fresh ids again");
        assert_eq!(m.find(&k(3)), None);
        assert_eq!(m.find(&k(100)), Some(7));
        assert_eq!(m.get(3), Some(&101));
    }

    #[test]
    fn drain_is_in_id_order_and_empties() {
        let mut m: FlowMap<K12, u32> = FlowMap::new();
        for i in 0..(CHUNK as u32 + 100) {
            m.insert(k(i), i);
        }
        for i in (0..CHUNK as u32 + 100).step_by(3) {
            assert_eq!(m.remove(i), Some((k(i), i)));
        }
        // Refill two freed slots: the last freed id comes back first.
        let hi = m.insert(k(1_000_000), 1_000_000);
        assert_eq!(hi, CHUNK as u32 + 98);
        let lo = m.insert(k(1_000_001), 1_000_001);
        assert_eq!(lo, CHUNK as u32 + 95);
        let before: Vec<(u32, (K12, u32))> = m.iter().map(|(id, e)| (id, *e)).collect();
        assert!(before.windows(2).all(|w| w[0].0 < w[1].0));
        let d: Vec<(K12, u32)> = m.iter().map(|(_, e)| *e).collect();
        m.clear();
        assert_eq!(d, before.iter().map(|&(_, e)| e).collect::<Vec<_>>());
        assert_eq!(d.len(), (CHUNK + 100) - (CHUNK + 100).div_ceil(3) + 2);
        assert!(m.is_empty());
        assert_eq!(m.slots(), 0);
        assert_eq!(m.memory_bytes(), 0);
        assert_eq!(m.find(&k(1)), None);
        // Usable again, ids restart at 0.
        assert_eq!(m.insert(k(5), 5), 0);
        assert_eq!(m.find(&k(5)), Some(0));
    }

    #[test]
    fn memory_grows_by_whole_chunks() {
        let mut m: FlowMap<K12, Big> = FlowMap::with_capacity(3 * CHUNK);
        let index_only = m.memory_bytes();
        assert!(
            index_only > 0 && m.slots() == 0,
            "with_capacity sizes the index only"
        );
        let chunk_bytes = CHUNK * size_of::<(K12, Big)>();
        let mut last = index_only;
        for i in 0..(3 * CHUNK) as u32 {
            m.insert(k(i), [i; 26]);
            let now = m.memory_bytes();
            if (i as usize) % CHUNK == 0 {
                assert!(
                    now >= last + chunk_bytes,
                    "chunk {} allocated",
                    i as usize / CHUNK
                );
            } else {
                assert_eq!(now, last, "no growth inside a chunk (i = {i})");
            }
            last = now;
        }
        assert_eq!(m.slots(), 3 * CHUNK);
        assert!(m.memory_bytes() >= 3 * chunk_bytes);
        // Removing never releases memory; reinserting reuses the freed slots.
        for i in 0..CHUNK as u32 {
            m.remove(i);
        }
        for i in 0..CHUNK as u32 {
            m.insert(k(i + 1_000_000), [0; 26]);
        }
        assert_eq!(m.slots(), 3 * CHUNK);
        m.clear();
        assert_eq!(m.memory_bytes(), 0);
    }

    /// Fills to `n`, then churns `n` times (remove the oldest, insert a new key).
    fn churned(n: u32) -> FlowMap<K12, Big> {
        let mut m: FlowMap<K12, Big> = FlowMap::new();
        let mut ids = std::collections::VecDeque::with_capacity(n as usize);
        for i in 0..n {
            ids.push_back(m.insert(k(i), [i; 26]));
        }
        for i in n..2 * n {
            let old = ids.pop_front().unwrap();
            assert!(m.remove(old).is_some());
            ids.push_back(m.insert(k(i), [i; 26]));
        }
        assert_eq!(m.len(), n as usize);
        assert_eq!(m.find(&k(2 * n - 1)), ids.back().copied());
        m
    }

    #[test]
    fn at_most_128_bytes_per_entry_after_churn() {
        let m = churned(200_000);
        // 200_000 live ids fit 2^18 buckets (usable capacity 229_376) with more than 1/8
        // spare: churn tombstones are cleared by rebuilds, the index never doubles.
        assert_eq!(m.index.num_buckets(), 1 << 18);
        assert!(m.rebuilds > 0);
        assert!(
            m.memory_bytes() / m.len() <= 128,
            "{} bytes for {} entries",
            m.memory_bytes(),
            m.len()
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u16, u32),
        Remove(u16),
        RemoveId(u32),
        Find(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Small key space so removes and re-inserts hit existing keys often.
        prop_oneof![
            4 => (0u16..300, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (0u16..300).prop_map(Op::Remove),
            1 => (0u32..5000).prop_map(Op::RemoveId),
            1 => (0u16..300).prop_map(Op::Find),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn behaves_like_a_hashmap(ops in prop::collection::vec(op(), 0..400)) {
            let mut m: FlowMap<K12, u32> = FlowMap::new();
            let mut model: HashMap<K12, (u32, u32)> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(key, v) => {
                        let key = k(u32::from(key));
                        if let Some(&(id, _)) = model.get(&key) {
                            prop_assert_eq!(m.find(&key), Some(id));
                            *m.get_mut(id).unwrap() = v;
                            model.insert(key, (id, v));
                        } else {
                            prop_assert_eq!(m.find(&key), None);
                            let id = m.insert(key, v);
                            prop_assert!((id as usize) < m.slots());
                            prop_assert!(
                                model.values().all(|&(other, _)| other != id),
                                "id {} handed out twice", id
                            );
                            model.insert(key, (id, v));
                        }
                    }
                    Op::Remove(key) => {
                        let key = k(u32::from(key));
                        match model.remove(&key) {
                            Some((id, v)) => prop_assert_eq!(m.remove(id), Some((key, v))),
                            None => prop_assert_eq!(m.find(&key), None),
                        }
                    }
                    Op::RemoveId(id) => {
                        let expect = model.iter().find(|&(_, &(i, _))| i == id).map(|(&k, &(_, v))| (k, v));
                        if let Some((key, _)) = expect {
                            model.remove(&key);
                        }
                        prop_assert_eq!(m.remove(id), expect);
                    }
                    Op::Find(key) => {
                        let key = k(u32::from(key));
                        prop_assert_eq!(m.find(&key), model.get(&key).map(|&(id, _)| id));
                    }
                }
                prop_assert_eq!(m.len(), model.len());
            }
            let mut seen = HashSet::new();
            for (key, &(id, v)) in &model {
                prop_assert!((id as usize) < m.slots());
                prop_assert!(seen.insert(id), "id {} live twice", id);
                prop_assert!(m.is_live(id));
                prop_assert_eq!(m.find(key), Some(id));
                prop_assert_eq!(m.key(id), Some(*key));
                prop_assert_eq!(m.get(id), Some(&v));
            }
            prop_assert_eq!(m.iter().count(), model.len());
            let mut expect: Vec<(u32, K12, u32)> = model.iter().map(|(&k, &(id, v))| (id, k, v)).collect();
            expect.sort_unstable_by_key(|e| e.0);
            let drained: Vec<(K12, u32)> = m.iter().map(|(_, e)| *e).collect();
            m.clear();
            prop_assert_eq!(drained, expect.into_iter().map(|(_, k, v)| (k, v)).collect::<Vec<_>>());
            prop_assert!(m.is_empty());
        }
    }
}
