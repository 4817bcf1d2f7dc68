//! Recent SYNs' initial sequence numbers, in a fixed-size direct-mapped array: the
//! store learns where a stream starts without keeping an entry per attempt (a SYN flood
//! only overwrites slots; memory never grows).

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

/// The memo: `slots` is a power of two (or empty: off).
#[derive(Debug, Clone)]
pub(crate) struct SynMemo {
    slots: Vec<Slot>,
}

impl SynMemo {
    /// A memo of `slots` slots, rounded up to a power of two; 0 turns it off.
    pub(crate) fn new(slots: usize) -> SynMemo {
        let n = if slots == 0 {
            0
        } else {
            slots.next_power_of_two()
        };
        SynMemo {
            slots: vec![Slot::default(); n],
        }
    }

    pub(crate) fn memory_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
    }

    fn slot_mut(&mut self, hash: u64) -> Option<(&mut Slot, u32)> {
        let mask = self.slots.len().checked_sub(1)?;
        let tag = (hash >> 32) as u32;
        self.slots
            .get_mut(hash as usize & mask)
            .map(|slot| (slot, tag))
    }

    /// A SYN (without ACK) from the originator, key endpoint `a` if `orig_is_a`.
    pub(crate) fn syn(&mut self, hash: u64, orig_is_a: bool, isn: u32) {
        let Some((slot, tag)) = self.slot_mut(hash) else {
            return;
        };
        let bits = USED | HAS_ORIG | if orig_is_a { ORIG_IS_A } else { 0 };
        let same = slot.bits & USED != 0
            && slot.tag == tag
            && (slot.bits & ORIG_IS_A) == (bits & ORIG_IS_A);
        if same && slot.bits & HAS_ORIG != 0 && slot.orig_isn == isn {
            return; // a retransmission
        }
        // A new attempt (or a new key in this slot): forget the old answer.
        *slot = Slot {
            tag,
            orig_isn: isn,
            resp_isn: 0,
            bits,
        };
    }

    /// A SYN-ACK from the responder; the originator is endpoint `a` if `orig_is_a`.
    pub(crate) fn syn_ack(&mut self, hash: u64, orig_is_a: bool, isn: u32) {
        let Some((slot, tag)) = self.slot_mut(hash) else {
            return;
        };
        let dir = if orig_is_a { ORIG_IS_A } else { 0 };
        if slot.bits & USED != 0 && slot.tag == tag && slot.bits & ORIG_IS_A == dir {
            slot.resp_isn = isn;
            slot.bits |= HAS_RESP;
        } else {
            *slot = Slot {
                tag,
                orig_isn: 0,
                resp_isn: isn,
                bits: USED | HAS_RESP | dir,
            };
        }
    }

    /// What is known about the key with this hash.
    pub(crate) fn get(&self, hash: u64) -> Option<Handshake> {
        let mask = self.slots.len().checked_sub(1)?;
        let slot = self.slots.get(hash as usize & mask)?;
        if slot.bits & USED == 0 || slot.tag != (hash >> 32) as u32 {
            return None;
        }
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
        // another key in the same slot replaces it
        m.syn(0x9999_0000_0003, false, 1);
        assert!(m.get(0x1234_0000_0003).is_none());
        // a new ISN on the same key forgets the old answer
        m.syn_ack(0x9999_0000_0003, false, 5);
        m.syn(0x9999_0000_0003, false, 2);
        assert_eq!(m.get(0x9999_0000_0003).unwrap().resp_isn, None);
        assert!(SynMemo::new(0).get(3).is_none());
    }
}
