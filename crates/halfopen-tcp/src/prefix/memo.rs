//! Recent SYNs' initial sequence numbers, in a fixed-size array of 4-way sets (a
//! set-associative cache, oldest attempt out): the store learns where a stream starts
//! without keeping an entry per attempt (a SYN flood only overwrites slots; memory never
//! grows).

/// What a slot knows about one 4-tuple.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// High bits of the key's hash, to tell keys sharing the slot apart.
    tag: u32,
    orig_isn: u32,
    resp_isn: u32,
    bits: u8,
}

const USED: u8 = 1;
const HAS_ORIG: u8 = 2;
const HAS_RESP: u8 = 4;
const ORIG_IS_A: u8 = 8;

/// What the memo says about a 4-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Handshake {
    /// The originator (the SYN's sender, or the SYN-ACK's receiver) is key endpoint `a`.
    pub(crate) orig_is_a: bool,
    /// The originator's ISN (its SYN's sequence number).
    pub(crate) orig_isn: Option<u32>,
    /// The responder's ISN (its SYN-ACK's sequence number).
    pub(crate) resp_isn: Option<u32>,
}

/// Slots per set. A key may sit in any slot of its set, so a SYN is forgotten only when
/// [`WAYS`] later attempts fell into the same set, not whenever one other key's hash
/// shares its slot: with one slot per key, which of two connections opened together lost
/// its ISN followed the random hash seeds (ApacheBench behind haproxy, the proxy lab run:
/// 0-2 of 3,914 connections read as mid-stream, from run to run).
const WAYS: usize = 4;

/// One set: [`WAYS`] slots, the most recently begun attempt first; 64 bytes, one cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Set([Slot; WAYS]);

impl Set {
    /// The way holding the key with this tag.
    fn find(&self, tag: u32) -> Option<usize> {
        self.0
            .iter()
            .position(|s| s.bits & USED != 0 && s.tag == tag)
    }

    /// Puts `slot` first, dropping the key in way `from` (the oldest when the key is new).
    fn put_first(&mut self, from: Option<usize>, slot: Slot) {
        let end = from.unwrap_or(WAYS - 1);
        self.0.copy_within(0..end, 1);
        self.0[0] = slot;
    }
}

/// The memo: `slots` is a power of two (or empty: off), in sets of [`WAYS`].
#[derive(Debug, Clone)]
pub(crate) struct SynMemo {
    sets: Vec<Set>,
}

impl SynMemo {
    /// A memo of `slots` slots, rounded up to a power of two (at least one set); 0 turns
    /// it off.
    pub(crate) fn new(slots: usize) -> SynMemo {
        let sets = if slots == 0 {
            0
        } else {
            slots.next_power_of_two().div_ceil(WAYS)
        };
        SynMemo {
            sets: vec![Set::default(); sets],
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.sets.capacity() * size_of::<Set>()
    }

    fn set_mut(&mut self, hash: u64) -> Option<(&mut Set, u32)> {
        let mask = self.sets.len().checked_sub(1)?;
        let tag = (hash >> 32) as u32;
        self.sets
            .get_mut(hash as usize & mask)
            .map(|set| (set, tag))
    }

    /// A SYN (without ACK) from the originator, key endpoint `a` if `orig_is_a`.
    pub(crate) fn syn(&mut self, hash: u64, orig_is_a: bool, isn: u32) {
        let Some((set, tag)) = self.set_mut(hash) else {
            return;
        };
        let bits = USED | HAS_ORIG | if orig_is_a { ORIG_IS_A } else { 0 };
        let way = set.find(tag);
        if let Some(old) = way.map(|w| set.0[w]) {
            let same_dir = (old.bits & ORIG_IS_A) == (bits & ORIG_IS_A);
            if same_dir && old.bits & HAS_ORIG != 0 && old.orig_isn == isn {
                return; // a retransmission
            }
        }
        // A new attempt: forget the old answer.
        let slot = Slot {
            tag,
            orig_isn: isn,
            resp_isn: 0,
            bits,
        };
        set.put_first(way, slot);
    }

    /// A SYN-ACK from the responder; the originator is endpoint `a` if `orig_is_a`.
    pub(crate) fn syn_ack(&mut self, hash: u64, orig_is_a: bool, isn: u32) {
        let Some((set, tag)) = self.set_mut(hash) else {
            return;
        };
        let dir = if orig_is_a { ORIG_IS_A } else { 0 };
        let way = set.find(tag);
        match way {
            Some(w) if set.0[w].bits & ORIG_IS_A == dir => {
                set.0[w].resp_isn = isn;
                set.0[w].bits |= HAS_RESP;
            }
            _ => set.put_first(
                way,
                Slot {
                    tag,
                    orig_isn: 0,
                    resp_isn: isn,
                    bits: USED | HAS_RESP | dir,
                },
            ),
        }
    }

    /// What is known about the key with this hash.
    pub(crate) fn get(&self, hash: u64) -> Option<Handshake> {
        let mask = self.sets.len().checked_sub(1)?;
        let set = self.sets.get(hash as usize & mask)?;
        let slot = set.0[set.find((hash >> 32) as u32)?];
        Some(Handshake {
            orig_is_a: slot.bits & ORIG_IS_A != 0,
            orig_isn: (slot.bits & HAS_ORIG != 0).then_some(slot.orig_isn),
            resp_isn: (slot.bits & HAS_RESP != 0).then_some(slot.resp_isn),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_then_syn_ack() {
        let mut m = SynMemo::new(8);
        m.syn(0x1234_0000_0003, true, 7);
        m.syn_ack(0x1234_0000_0003, true, 9);
        let h = m.get(0x1234_0000_0003).unwrap();
        assert_eq!(
            (h.orig_is_a, h.orig_isn, h.resp_isn),
            (true, Some(7), Some(9))
        );
        // a new ISN on the same key forgets the old answer
        m.syn(0x1234_0000_0003, true, 2);
        assert_eq!(m.get(0x1234_0000_0003).unwrap().resp_isn, None);
        // a retransmitted SYN keeps it
        m.syn_ack(0x1234_0000_0003, true, 5);
        m.syn(0x1234_0000_0003, true, 2);
        assert_eq!(m.get(0x1234_0000_0003).unwrap().resp_isn, Some(5));
        assert!(SynMemo::new(0).get(3).is_none());
    }

    #[test]
    fn keys_of_one_set_are_kept_until_four_later_attempts_fell_into_it() {
        let mut m = SynMemo::new(8); // two sets of four
        let key = |tag: u64| tag << 32 | 1; // all in set 1
        m.syn(key(1), true, 100);
        for tag in 2..=4 {
            m.syn(key(tag), false, 100 + tag as u32);
        }
        m.syn(0x77 << 32, true, 9); // the other set
        for tag in 1..=4 {
            let h = m.get(key(tag)).unwrap();
            let isn = if tag == 1 { 100 } else { 100 + tag as u32 };
            assert_eq!(h.orig_isn, Some(isn));
        }
        // A SYN-ACK for a known key does not make it younger; a fifth key drops the oldest.
        m.syn_ack(key(1), true, 50);
        m.syn(key(5), true, 105);
        assert!(m.get(key(1)).is_none());
        assert_eq!(m.get(key(2)).unwrap().orig_isn, Some(102));
        assert_eq!(m.get(0x77 << 32).unwrap().orig_isn, Some(9));
        // A new attempt on a known key makes it the youngest.
        m.syn(key(2), false, 7);
        m.syn(key(6), true, 106);
        assert_eq!(m.get(key(2)).unwrap().orig_isn, Some(7));
        assert!(m.get(key(3)).is_none());
        assert_eq!(m.memory_bytes(), 2 * 64);
    }
}
