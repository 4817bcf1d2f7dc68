//! One side's first bytes, placed by sequence number: [`StreamPrefix`].

/// A segment whose offset from the stream's start is this far or further (forwards, or
/// any distance backwards) is not part of the prefix: an old segment, or a sequence
/// number from another connection.
const WINDOW: u32 = 1 << 30;

/// The first bytes one side of a connection sent, reassembled in sequence order, with
/// when and how they came.
///
/// Bytes are placed at `seq - start`, where `start` is the SYN's sequence number + 1
/// (or, without a SYN, the first sequence number seen: [`StreamPrefix::midstream`]).
/// Out-of-order segments wait in place until the hole before them fills; the first copy
/// of a byte wins (a retransmission never overwrites or duplicates it; one that carries
/// other bytes is counted in [`StreamPrefix::conflicting_overlaps`]). Nothing past the cap
/// is kept. No allocation until the first payload byte; the buffer grows with the data.
///
/// ```
/// use halfopen_tcp::prefix::{PrefixConfig, PrefixStore};
/// use halfopen_tcp::{Event, TcpFlags};
/// let (c, s) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
/// let seg = |ts, seq: u32, f| {
///     let mut e = Event::new(ts, c, 40000, s, 80).with_flags(f);
///     e.seq = Some(seq);
///     e
/// };
/// let mut store = PrefixStore::new(PrefixConfig::default());
/// let mut syn = seg(0, 999, TcpFlags::SYN);
/// syn.payload_len = Some(0);
/// store.observe(&syn, &[]);
/// // "GET / HTTP/1.1\r\n" sent as two segments that arrive in the wrong order
/// let mut b = seg(2_000_000, 1006, TcpFlags::ACK);
/// b.payload_len = Some(10);
/// store.observe(&b, b"HTTP/1.1\r\n");
/// let mut a = seg(1_000_000, 1000, TcpFlags::ACK);
/// a.payload_len = Some(6);
/// store.observe(&a, b"GET / ");
/// let p = store.take((c, 40000).into(), (s, 80).into()).unwrap();
/// assert_eq!(p.client.bytes(), b"GET / HTTP/1.1\r\n");
/// assert!(!p.client.gap() && !p.client.midstream());
/// assert_eq!(p.client.segments(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPrefix {
    /// Bytes at offsets `[0, buf.len())`; those not marked in `filled` are holes (zeros).
    buf: Vec<u8>,
    /// One bit per offset below the cap that holds a received byte; empty while every
    /// byte came in order (then `[0, contiguous)` is all there is).
    filled: Vec<u64>,
    /// `[0, contiguous)` is received, without a hole.
    contiguous: u32,
    /// Bytes kept at most.
    cap: u32,
    /// Keep only the first line: the cap shrinks to the first `\n` once it is in.
    line_only: bool,
    /// Sequence number of offset 0, once known.
    start: Option<u32>,
    /// `start` came from a SYN (else from the first segment seen).
    start_from_syn: bool,
    /// Furthest offset a segment reached (its sent length, not only what was kept).
    reach: u64,
    payload_bytes: u64,
    /// Payload segments that brought bytes past `reach`, and the others.
    advancing: u32,
    repeated: u32,
    first_us: i64,
    last_us: i64,
    largest_gap_us: i64,
    first_segment_len: u32,
    conflicts: u32,
    out_of_window: u32,
}

impl StreamPrefix {
    /// An empty side keeping at most `cap` bytes (only the first line if `line_only`).
    pub(crate) fn new(cap: usize, line_only: bool) -> StreamPrefix {
        StreamPrefix {
            buf: Vec::new(),
            filled: Vec::new(),
            contiguous: 0,
            cap: u32::try_from(cap).unwrap_or(u32::MAX).min(WINDOW),
            line_only,
            start: None,
            start_from_syn: false,
            reach: 0,
            payload_bytes: 0,
            advancing: 0,
            repeated: 0,
            first_us: 0,
            last_us: 0,
            largest_gap_us: 0,
            first_segment_len: 0,
            conflicts: 0,
            out_of_window: 0,
        }
    }

    /// The stream starts at `seq` (a SYN's sequence number + 1). Ignored once bytes are in.
    pub(crate) fn start_at(&mut self, seq: u32) {
        if self.reach == 0 && self.payload_bytes == 0 {
            self.start = Some(seq);
            self.start_from_syn = true;
        }
    }

    /// Heap bytes held (buffer and hole map).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.filled.capacity() * 8
    }

    /// Takes one segment: `sent` payload bytes at sequence number `seq` (of which `data`
    /// were captured, the first ones) at time `ts_us`.
    pub(crate) fn segment(&mut self, seq: u32, data: &[u8], sent: u32, ts_us: i64) {
        let sent = sent.max(u32::try_from(data.len()).unwrap_or(u32::MAX));
        if sent == 0 {
            return;
        }
        self.payload_bytes = self.payload_bytes.saturating_add(u64::from(sent));
        let Some((off, data, sent)) = self.offset_of(seq, data, sent) else {
            self.out_of_window = self.out_of_window.saturating_add(1);
            return;
        };
        let end = u64::from(off) + u64::from(sent);
        let mut placed = 0;
        if off < self.cap {
            let room = usize::try_from(self.cap - off).unwrap_or(usize::MAX);
            let mut kept = data.get(..data.len().min(room)).unwrap_or(&[]);
            if self.line_only {
                // Nothing after the line end is kept: do not even copy it.
                if let Some(i) = kept.iter().position(|&b| b == b'\n') {
                    kept = kept.get(..=i).unwrap_or(kept);
                }
            }
            if !kept.is_empty() {
                let before = self.contiguous;
                placed = self.place(off as usize, kept);
                if self.line_only && self.contiguous > before {
                    self.cut_after_first_line(before as usize);
                }
            }
        }
        if placed > 0 || end > self.reach {
            self.note_new(ts_us, sent);
        } else {
            self.repeated = self.repeated.saturating_add(1);
        }
        self.reach = self.reach.max(end);
        if self.contiguous >= self.cap {
            self.filled = Vec::new();
        }
    }

    /// The segment's offset from the start (setting the start if unknown), with the part
    /// before the start cut off; `None` when it lies outside the window.
    fn offset_of<'a>(
        &mut self,
        seq: u32,
        data: &'a [u8],
        sent: u32,
    ) -> Option<(u32, &'a [u8], u32)> {
        let start = match self.start {
            Some(s) => s,
            None => {
                self.start = Some(seq);
                seq
            }
        };
        let off = seq.wrapping_sub(start);
        if off < WINDOW {
            return Some((off, data, sent));
        }
        let back = start.wrapping_sub(seq);
        if back < sent && back < WINDOW {
            // Overlaps the start: keep the part from offset 0 on.
            let cut = usize::try_from(back).unwrap_or(usize::MAX);
            return Some((0, data.get(cut..).unwrap_or(&[]), sent - back));
        }
        if self.reach == 0 {
            // Nothing placed yet and the SYN's start does not fit (a stale start, or a
            // capture that missed this connection's SYN): start here instead.
            self.start = Some(seq);
            self.start_from_syn = false;
            return Some((0, data, sent));
        }
        None
    }

    fn note_new(&mut self, ts_us: i64, sent: u32) {
        if self.advancing == 0 {
            self.first_us = ts_us;
            self.first_segment_len = sent;
        } else {
            let gap = ts_us.saturating_sub(self.last_us);
            self.largest_gap_us = self.largest_gap_us.max(gap);
        }
        self.last_us = ts_us;
        self.advancing = self.advancing.saturating_add(1);
    }

    /// Writes `data` at `off` (within the cap) where no byte is yet; returns how many
    /// bytes were new.
    fn place(&mut self, off: usize, data: &[u8]) -> usize {
        let end = off + data.len();
        let c = self.contiguous as usize;
        if self.filled.is_empty() && off <= c {
            // In order (or a retransmission overlapping the end).
            let overlap = end.min(c);
            if off < overlap && self.buf.get(off..overlap) != data.get(..overlap - off) {
                self.conflicts = self.conflicts.saturating_add(1);
            }
            if end <= c {
                return 0;
            }
            self.grow_to(end);
            self.buf
                .extend_from_slice(data.get(c - off..).unwrap_or(&[]));
            self.contiguous = end as u32;
            return end - c;
        }
        self.place_out_of_order(off, data)
    }

    fn place_out_of_order(&mut self, off: usize, data: &[u8]) -> usize {
        let end = off + data.len();
        if self.filled.is_empty() {
            let words = (self.cap as usize).div_ceil(64);
            self.filled = vec![0; words];
            self.mark(0, self.contiguous as usize);
        }
        if self.buf.len() < end {
            self.grow_to(end);
            self.buf.resize(end, 0);
        }
        let mut conflict = false;
        let mut placed = 0;
        let mut i = off;
        while i < end {
            let held = self.is_filled(i);
            let mut j = i + 1;
            while j < end && self.is_filled(j) == held {
                j += 1;
            }
            let src = data.get(i - off..j - off).unwrap_or(&[]);
            if held {
                conflict |= self.buf.get(i..j) != Some(src);
            } else if let Some(dst) = self.buf.get_mut(i..j) {
                dst.copy_from_slice(src);
                self.mark(i, j);
                placed += j - i;
            }
            i = j;
        }
        if conflict {
            self.conflicts = self.conflicts.saturating_add(1);
        }
        let mut c = self.contiguous as usize;
        while c < self.buf.len() && self.is_filled(c) {
            c += 1;
        }
        self.contiguous = c as u32;
        if c == self.buf.len() {
            // No island beyond the contiguous part: back to the in-order path.
            self.filled = Vec::new();
        }
        placed
    }

    fn is_filled(&self, i: usize) -> bool {
        self.filled
            .get(i / 64)
            .is_some_and(|w| (w >> (i % 64)) & 1 == 1)
    }

    fn mark(&mut self, from: usize, to: usize) {
        for i in from..to {
            if let Some(w) = self.filled.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
    }

    /// Reserves room for `len` bytes: doubling, but never past the cap.
    fn grow_to(&mut self, len: usize) {
        if self.buf.capacity() >= len {
            return;
        }
        let least = if self.line_only { len } else { 64 };
        let want = len
            .max(self.buf.capacity() * 2)
            .max(least)
            .min((self.cap as usize).max(len));
        self.buf.reserve_exact(want - self.buf.len());
    }

    /// Line mode: once a `\n` is in the contiguous part (searched from `from`), keep the
    /// line and nothing after it.
    fn cut_after_first_line(&mut self, from: usize) {
        let Some(tail) = self.buf.get(from..self.contiguous as usize) else {
            return;
        };
        if let Some(i) = tail.iter().position(|&b| b == b'\n') {
            let end = from + i + 1;
            self.buf.truncate(end);
            self.contiguous = end as u32;
            self.cap = end as u32;
            self.filled = Vec::new();
        }
    }

    /// The bytes received from the start without a hole, at most the cap.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.contiguous as usize).unwrap_or(&[])
    }

    /// The first line of [`StreamPrefix::bytes`] without its `\r\n` (or `\n`); all of
    /// them when no line end is in.
    pub fn first_line(&self) -> &[u8] {
        let b = self.bytes();
        match b.iter().position(|&c| c == b'\n') {
            Some(i) => {
                let line = b.get(..i).unwrap_or(&[]);
                line.strip_suffix(b"\r").unwrap_or(line)
            }
            None => b,
        }
    }

    /// A line end is among the bytes kept.
    pub fn first_line_complete(&self) -> bool {
        self.bytes().contains(&b'\n')
    }

    /// The stream went on past a hole: bytes were seen (or sent but cut by the snap
    /// length) beyond [`StreamPrefix::bytes`] while the prefix was not full.
    pub fn gap(&self) -> bool {
        self.contiguous < self.cap && self.reach > u64::from(self.contiguous)
    }

    /// The prefix reached its cap (or, for a first line, its line end).
    pub fn full(&self) -> bool {
        self.contiguous >= self.cap
    }

    /// No SYN was seen for this side: the bytes start at the first sequence number seen,
    /// which may be in the middle of the stream (a capture started late).
    pub fn midstream(&self) -> bool {
        self.start.is_some() && !self.start_from_syn
    }

    /// Payload bytes seen in all segments of this side, retransmissions included.
    pub fn payload_bytes(&self) -> u64 {
        self.payload_bytes
    }

    /// Payload segments that brought new bytes (bytes not kept before, or past the
    /// furthest seen).
    pub fn segments(&self) -> u32 {
        self.advancing
    }

    /// Payload segments that brought nothing new (retransmissions, duplicates).
    pub fn repeated_segments(&self) -> u32 {
        self.repeated
    }

    /// Arrival time of the first segment with new bytes, µs since the Unix epoch.
    pub fn first_payload_us(&self) -> Option<i64> {
        (self.advancing > 0).then_some(self.first_us)
    }

    /// Time of the last segment with new bytes.
    pub fn last_payload_us(&self) -> Option<i64> {
        (self.advancing > 0).then_some(self.last_us)
    }

    /// Longest wait between two consecutive segments with new bytes, µs (0 with fewer
    /// than two): a slowloris client trickles one header line every 10-15 s.
    pub fn largest_gap_us(&self) -> i64 {
        self.largest_gap_us
    }

    /// Payload length of the first segment with new bytes.
    pub fn first_segment_len(&self) -> usize {
        self.first_segment_len as usize
    }

    /// Segments that overlapped bytes already received with different bytes (the first
    /// copy was kept): a sign of a TCP-level evasion attempt.
    pub fn conflicting_overlaps(&self) -> u32 {
        self.conflicts
    }

    /// Segments ignored because their sequence number was far from the stream's start.
    pub fn out_of_window_segments(&self) -> u32 {
        self.out_of_window
    }

    /// No payload seen on this side.
    pub fn is_empty(&self) -> bool {
        self.payload_bytes == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stream(cap: usize) -> StreamPrefix {
        let mut s = StreamPrefix::new(cap, false);
        s.start_at(1000);
        s
    }

    #[test]
    fn in_order_retransmission_and_conflict() {
        let mut s = stream(64);
        s.segment(1000, b"abcd", 4, 1);
        s.segment(1002, b"cdef", 4, 2);
        s.segment(1000, b"XXcd", 4, 3);
        assert_eq!(s.bytes(), b"abcdef");
        assert_eq!((s.segments(), s.repeated_segments()), (2, 1));
        assert_eq!(s.conflicting_overlaps(), 1);
        assert!(!s.gap());
    }

    #[test]
    fn hole_stops_the_prefix_and_sets_gap() {
        let mut s = stream(64);
        s.segment(1000, b"ab", 2, 1);
        s.segment(1004, b"ef", 2, 2);
        assert_eq!(s.bytes(), b"ab");
        assert!(s.gap());
        s.segment(1002, b"cd", 2, 3);
        assert_eq!(s.bytes(), b"abcdef");
        assert!(!s.gap());
        assert!(s.filled.is_empty());
    }

    #[test]
    fn snap_length_cut_is_a_gap() {
        let mut s = stream(64);
        s.segment(1000, b"ab", 10, 1);
        assert_eq!(s.bytes(), b"ab");
        assert!(s.gap());
    }

    #[test]
    fn cap_and_midstream() {
        let mut s = StreamPrefix::new(4, false);
        s.segment(7, b"abcdef", 6, 1);
        assert_eq!(s.bytes(), b"abcd");
        assert!(s.full() && !s.gap() && s.midstream());
        s.segment(5, b"zzab", 4, 2);
        assert_eq!(s.bytes(), b"abcd");
    }

    #[test]
    fn line_mode_keeps_the_first_line_only() {
        let mut s = StreamPrefix::new(256, true);
        s.start_at(1);
        s.segment(1, b"HTTP/1.1 408 Request Timeout\r\nDate: x\r\n", 40, 1);
        assert_eq!(s.first_line(), b"HTTP/1.1 408 Request Timeout");
        assert_eq!(s.bytes(), b"HTTP/1.1 408 Request Timeout\r\n");
        assert!(s.full() && s.first_line_complete());
    }

    #[test]
    fn segment_before_the_start_is_cut() {
        let mut s = stream(64);
        s.segment(998, b"xxab", 4, 1);
        assert_eq!(s.bytes(), b"ab");
        s.segment(500, b"zz", 2, 2);
        assert_eq!(s.out_of_window_segments(), 1);
    }

    #[test]
    fn stale_syn_start_gives_way_to_the_first_segment() {
        let mut s = stream(64);
        s.segment(0x8000_0000, b"hi", 2, 1);
        assert_eq!(s.bytes(), b"hi");
        assert!(s.midstream());
    }

    #[test]
    fn timing_of_a_trickle() {
        let mut s = stream(64);
        for i in 0..5u32 {
            s.segment(1000 + 2 * i, b"ab", 2, i64::from(i) * 15_000_000);
        }
        assert_eq!(s.segments(), 5);
        assert_eq!(s.largest_gap_us(), 15_000_000);
        assert_eq!(s.first_payload_us(), Some(0));
        assert_eq!(s.last_payload_us(), Some(60_000_000));
        assert_eq!(s.first_segment_len(), 2);
    }

    /// A stream cut into segments (lengths from `cuts`), each sent `dup[i] + 1` times.
    fn segments_of(stream: &[u8], cuts: &[usize]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        for &c in cuts {
            if at >= stream.len() {
                break;
            }
            let end = (at + c.max(1)).min(stream.len());
            out.push((at as u32, stream[at..end].to_vec()));
            at = end;
        }
        if at < stream.len() {
            out.push((at as u32, stream[at..].to_vec()));
        }
        out
    }

    proptest! {
        /// Any order and any duplication of the segments of a stream give the stream's
        /// first `cap` bytes; dropping one segment gives the bytes before it, and `gap`.
        #[test]
        fn any_permutation_gives_the_prefix(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            cuts in proptest::collection::vec(1usize..40, 0..40),
            order in proptest::collection::vec(any::<u32>(), 40),
            dups in proptest::collection::vec(0usize..3, 40),
            cap in 1usize..400,
            isn in any::<u32>(),
            drop in proptest::option::of(0usize..40),
        ) {
            let segs = segments_of(&data, &cuts);
            let mut sent: Vec<(u32, usize)> = Vec::new();
            for (i, _) in segs.iter().enumerate() {
                if Some(i) == drop.map(|d| d % segs.len().max(1)) {
                    continue;
                }
                for _ in 0..=dups[i % dups.len()] {
                    sent.push((order[sent.len() % order.len()], i));
                }
            }
            sent.sort();
            let mut s = StreamPrefix::new(cap, false);
            s.start_at(isn.wrapping_add(1));
            for (t, (_, i)) in sent.iter().enumerate() {
                let (off, bytes) = &segs[*i];
                s.segment(isn.wrapping_add(1).wrapping_add(*off), bytes, bytes.len() as u32, t as i64);
            }
            let dropped = drop.map(|d| d % segs.len().max(1)).filter(|_| !segs.is_empty());
            let until = match dropped {
                Some(d) => segs[d].0 as usize,
                None => data.len(),
            };
            let want = &data[..until.min(cap)];
            prop_assert_eq!(s.bytes(), want);
            prop_assert!(s.bytes().len() <= cap);
            prop_assert!(s.heap_bytes() <= cap + cap.div_ceil(64) * 8);
            let later_data = dropped.is_some_and(|d| d + 1 < segs.len());
            let truncated_by_hole = dropped.is_some() && until < cap && later_data;
            prop_assert_eq!(s.gap(), truncated_by_hole);
            prop_assert_eq!(s.conflicting_overlaps(), 0);
        }
    }
}
