//! Zeek-compatible connection history ([`History`]): the letters, in the order they
//! happened, stored inline (no allocation).
//!
//! Letters (upper case = originator, lower case = responder): `S` SYN without ACK, `H`
//! SYN-ACK, `A` pure ACK, `D` packet with payload, `F` FIN, `R` RST, `G` content gap,
//! `T` retransmission, `W` zero window, `I` FIN+RST in one packet, `Q` other multi-flag
//! packet, `C` bad checksum (never produced here), `^` originator and responder were flipped.
//! Like Zeek, `A D I Q` appear at most once per direction, `S H F R` again only when the
//! sequence number differs from the previous one of that kind, and `T W G` again each time
//! their count reaches 10, 100, 1000, ...

use std::fmt;

/// Number of letters a [`History`] keeps; later letters are dropped and
/// [`History::truncated`] is set.
pub const HISTORY_CAP: usize = 13;

/// The history of a connection, in Zeek's letters. `Display` prints it like Zeek's
/// `conn.log` `history` column.
///
/// ```
/// use halfopen_tcp::History;
/// let mut h = History::new();
/// for c in *b"ShAD" { h.push(c); }
/// assert_eq!(h.to_string(), "ShAD");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct History {
    letters: [u8; HISTORY_CAP],
    /// Low 7 bits: length; bit 7: truncated.
    len: u8,
}

impl History {
    /// An empty history.
    pub const fn new() -> History {
        History {
            letters: [0; HISTORY_CAP],
            len: 0,
        }
    }

    /// The history `S` (a lone SYN: what almost every half-open attempt reports).
    pub(crate) const SYN: History = {
        let mut letters = [0; HISTORY_CAP];
        letters[0] = b'S';
        History { letters, len: 1 }
    };

    /// Makes this the history of `n` `S` letters (a SYN and its retransmissions), in
    /// place: the letters are stored straight into `self` (assigning a `History` value
    /// built in a branch went through a temporary that was written with narrow stores and
    /// read back 8 bytes at a time, stalling store forwarding on a flood's hot path).
    #[inline(always)]
    pub(crate) fn set_s_letters(&mut self, n: u8) {
        if n == 1 {
            // The usual attempt (one SYN, or retransmissions of it).
            self.letters = History::SYN.letters;
            self.len = 1;
        } else {
            self.set_s_letters_slow(n);
        }
    }

    #[cold]
    #[inline(never)]
    fn set_s_letters_slow(&mut self, n: u8) {
        *self = History::new();
        for _ in 0..n {
            self.push(b'S');
        }
    }

    /// Appends one letter (dropped, and the history marked truncated, when full).
    #[inline]
    pub fn push(&mut self, letter: u8) {
        let n = usize::from(self.len & 0x7f);
        match self.letters.get_mut(n) {
            Some(slot) => {
                *slot = letter;
                self.len += 1;
            }
            None => self.len |= 0x80,
        }
    }

    /// The letters, oldest first.
    pub fn as_bytes(&self) -> &[u8] {
        let n = usize::from(self.len & 0x7f).min(HISTORY_CAP);
        self.letters.get(..n).unwrap_or(&[])
    }

    /// The letters as a `&str` (always ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// True when letters were dropped because the history was full.
    pub fn truncated(&self) -> bool {
        self.len & 0x80 != 0
    }

    /// Number of letters kept.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len & 0x7f == 0
    }

    /// True when `letter` occurs in the history.
    pub fn contains(&self, letter: u8) -> bool {
        self.as_bytes().contains(&letter)
    }

    /// Appends the letters of a later piece of the same connection (seen by another run over
    /// the input that came next: a day cut in two), as Zeek would have recorded them in one
    /// piece: `A D I Q` only when not yet in this history; `S H F R` not when this history has
    /// the letter already (Zeek repeats them only for a new sequence number, which the pieces
    /// do not carry: taken as a retransmission); `^` never (the earlier piece set the
    /// originator). A later piece that took the other side as originator is
    /// [`History::turned_round`] first.
    ///
    /// ```
    /// use halfopen_tcp::History;
    /// let (mut a, mut b) = (History::new(), History::new());
    /// for c in *b"ShAD" { a.push(c); }
    /// for c in *b"^hdADFf" { b.push(c); }
    /// a.append(&b);
    /// assert_eq!(a.to_string(), "ShADdFf");
    /// ```
    pub fn append(&mut self, later: &History) {
        let earlier = *self;
        for &c in later.as_bytes() {
            let letter = c.to_ascii_uppercase();
            let retransmitted = b"SHFR".contains(&letter) && earlier.contains(c);
            let once_seen = b"ADIQ".contains(&letter) && self.contains(c);
            if c == b'^' || retransmitted || once_seen {
                continue;
            }
            self.push(c);
        }
        if later.truncated() {
            self.len |= 0x80;
        }
    }

    /// The same letters with originator and responder swapped (upper case and lower case
    /// exchanged), for a piece of a connection that took the other side as originator.
    ///
    /// ```
    /// use halfopen_tcp::History;
    /// let mut h = History::new();
    /// for c in *b"^DFaf" { h.push(c); }
    /// assert_eq!(h.turned_round().to_string(), "^dfAF");
    /// ```
    pub fn turned_round(&self) -> History {
        let mut t = *self;
        for c in t.letters.iter_mut() {
            *c = if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
        }
        t
    }
}

impl fmt::Display for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for History {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "History({:?}{})",
            self.as_str(),
            if self.truncated() { "…" } else { "" }
        )
    }
}

/// Zeek's "once per direction" letters, as bit positions in a seen-set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Letter {
    Syn = 0,
    SynAck = 1,
    Ack = 2,
    Data = 3,
    Fin = 4,
    Rst = 5,
    Gap = 6,
    Rxmit = 7,
    ZeroWindow = 8,
    FinRst = 9,
    MultiFlag = 10,
    Checksum = 11,
}

impl Letter {
    /// The originator's (upper-case) letter.
    pub(crate) fn code(self) -> u8 {
        match self {
            Letter::Syn => b'S',
            Letter::SynAck => b'H',
            Letter::Ack => b'A',
            Letter::Data => b'D',
            Letter::Fin => b'F',
            Letter::Rst => b'R',
            Letter::Gap => b'G',
            Letter::Rxmit => b'T',
            Letter::ZeroWindow => b'W',
            Letter::FinRst => b'I',
            Letter::MultiFlag => b'Q',
            Letter::Checksum => b'C',
        }
    }

    /// Bit in the seen-set for this letter and direction.
    pub(crate) fn bit(self, is_orig: bool) -> u32 {
        let b = 1u32 << (self as u32);
        if is_orig { b } else { b << 16 }
    }

    /// The letter for a direction: upper case for the originator.
    pub(crate) fn for_side(self, is_orig: bool) -> u8 {
        if is_orig {
            self.code()
        } else {
            self.code().to_ascii_lowercase()
        }
    }
}

/// Swaps the two halves of a seen-set (used when originator and responder are flipped).
pub(crate) fn flip_seen(seen: u32) -> u32 {
    seen.rotate_left(16)
}

/// True when a counter just reached 1, 10, 100, ... (Zeek's scaled history entries).
pub(crate) fn is_scaled_threshold(count: u32) -> bool {
    let mut t = 1u32;
    loop {
        if count == t {
            return true;
        }
        if count < t {
            return false;
        }
        t = match t.checked_mul(10) {
            Some(v) => v,
            None => return false,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_and_flags() {
        let mut h = History::new();
        for _ in 0..20 {
            h.push(b'T');
        }
        assert_eq!(h.len(), HISTORY_CAP);
        assert!(h.truncated());
    }

    #[test]
    fn syn_constant_is_one_pushed_s() {
        let mut h = History::new();
        h.push(b'S');
        assert_eq!(History::SYN, h);
    }

    #[test]
    fn set_s_letters_is_pushing_s() {
        // Over whatever was there before, truncation included.
        for n in 0..=20u8 {
            let mut want = History::new();
            for _ in 0..n {
                want.push(b'S');
            }
            let mut h = History::new();
            for _ in 0..HISTORY_CAP + 1 {
                h.push(b'R');
            }
            h.set_s_letters(n);
            assert_eq!(h, want, "{n} letters");
        }
    }

    #[test]
    fn thresholds() {
        let hits: Vec<u32> = (0..2000).filter(|&c| is_scaled_threshold(c)).collect();
        assert_eq!(hits, vec![1, 10, 100, 1000]);
    }
}
