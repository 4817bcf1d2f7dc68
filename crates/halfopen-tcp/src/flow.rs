//! Per-flow state (small, fixed size) and the per-segment update, modelled on Zeek's
//! `TCPSessionAdapter::Process`.

use crate::history::{Letter, flip_seen, is_scaled_threshold};
use std::net::SocketAddr;

use crate::state::{Endpoint, EndpointState, conn_state, transition};
use crate::{ConnState, Connection, EndReason, Event, Evidence, History, SynInfo, TcpFlags};

/// Sequence jumps larger than this on SYN/RST are not trusted (Zeek's `TOO_LARGE_SEQ_DELTA`).
const TOO_LARGE_SEQ_DELTA: i32 = 1 << 20;

// Side::bits
const SEQ_KNOWN: u8 = 1;
const HAS_SYN_SEQ: u8 = 2;
const HAS_FIN_SEQ: u8 = 4;
const HAS_RST_SEQ: u8 = 8;
const SENT_SYN: u8 = 16;
const SENT_SYNACK: u8 = 32;
const PAYLOAD_UNKNOWN: u8 = 64;
const PAYLOAD_SEEN: u8 = 128;
// Side::st: bits 0-2 the endpoint state, 3-5 the previous state, 6 the hole flag.
const ST_PREV_SHIFT: u8 = 3;
/// A segment started beyond the highest sequence seen: bytes are missing before it.
const HOLE: u8 = 64;

/// An `i64` time as two `u32` halves (low first): keeps a struct 4-byte aligned.
fn halves(t: i64) -> [u32; 2] {
    let t = t as u64;
    [t as u32, (t >> 32) as u32]
}

/// The `i64` time that [`halves`] split.
fn whole([lo, hi]: [u32; 2]) -> i64 {
    ((u64::from(hi) << 32) | u64::from(lo)) as i64
}

/// What one direction has done: 24 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Side {
    pub(crate) pkts: u32,
    pub(crate) bytes: u32,
    /// One past the highest sequence number seen from this side.
    last_seq: u32,
    /// First missing sequence number while [`HOLE`] is set.
    hole_start: u32,
    /// Low 8 bits of the sequence number of the last SYN / FIN / RST (history repeats).
    hist_syn: u8,
    hist_fin: u8,
    hist_rst: u8,
    rxmit: u8,
    zero_win: u8,
    gaps: u8,
    bits: u8,
    /// The endpoint's state and previous state, and [`HOLE`], in one byte.
    st: u8,
}

impl Side {
    /// The endpoint's state machine position.
    fn ep(&self) -> Endpoint {
        Endpoint {
            state: EndpointState::from_bits(self.st),
            prev: EndpointState::from_bits(self.st >> ST_PREV_SHIFT),
        }
    }

    /// Stores the endpoint's state machine position (the hole flag is kept).
    fn set_ep(&mut self, ep: Endpoint) {
        self.st = (self.st & HOLE) | (ep.state as u8) | ((ep.prev as u8) << ST_PREV_SHIFT);
    }

    fn state(&self) -> EndpointState {
        EndpointState::from_bits(self.st)
    }

    fn hole(&self) -> bool {
        self.st & HOLE != 0
    }

    fn set_hole(&mut self, on: bool) {
        if on {
            self.st |= HOLE;
        } else {
            self.st &= !HOLE;
        }
    }
}

// Flow::bits
const FLAGGED: u16 = 1;
const NO_FLAGS: u16 = 2;
const NOT_PACKETS: u16 = 4;
const NON_SYN: u16 = 8;
/// The originator is key endpoint `a`.
pub(crate) const ORIG_IS_A: u16 = 16;
/// The flow has its (single) entry in the timer queue rather than the attempt FIFO.
pub(crate) const HAS_TIMER: u16 = 32;
const HANDSHAKE: u16 = 64;
const HAS_SYN_INFO: u16 = 128;
/// A timer entry with the (shorter) closing deadline has been pushed.
pub(crate) const CLOSING_SCHEDULED: u16 = 256;
/// The flow has no timer entry: its deadline is an idle timeout far away, and the table
/// looks at it again on its periodic scan of parked flows.
pub(crate) const PARKED: u16 = 512;
/// A timer entry with the half-close deadline has been pushed.
pub(crate) const HALF_CLOSED_SCHEDULED: u16 = 1024;
/// The originator sent a segment with ACK set after its SYN (see
/// [`Connection::orig_acked_after_syn`]).
const ORIG_ACKED: u16 = 2048;
/// The originator's first segment after its SYN carried a TTL, and the SYN did too: the two
/// were compared (see [`Connection::orig_ttl_changed`]).
const LATER_TTL_SEEN: u16 = 4096;
/// That segment's TTL was not the SYN's.
const LATER_TTL_OTHER: u16 = 8192;

/// [`Connection::orig_ttl_changed`] from a flow's flag word.
fn ttl_changed(bits: u16) -> Option<bool> {
    (bits & LATER_TTL_SEEN != 0).then_some(bits & LATER_TTL_OTHER != 0)
}

/// The first SYN's fields, packed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct PackedSyn {
    ip_id: u32,
    fp: u32,
    ip_len: u16,
    window: u16,
    mss: u16,
    ttl: u8,
    /// Bits: ttl, ip_id, window, mss, fp, ip_len present.
    present: u8,
}

impl PackedSyn {
    /// The fields of a SYN.
    fn of(ev: &Event) -> PackedSyn {
        let mut p = PackedSyn::default();
        if let Some(v) = ev.ttl {
            p.ttl = v;
            p.present |= 1;
        }
        if let Some(v) = ev.ip_id {
            p.ip_id = v;
            p.present |= 2;
        }
        if let Some(v) = ev.window {
            p.window = v;
            p.present |= 4;
        }
        if let Some(v) = ev.mss {
            p.mss = v;
            p.present |= 8;
        }
        if let Some(v) = ev.options_fingerprint {
            p.fp = v;
            p.present |= 16;
        }
        if let Some(v) = ev.ip_len {
            p.ip_len = u16::try_from(v).unwrap_or(u16::MAX);
            p.present |= 32;
        }
        p
    }

    /// As a [`SynInfo`].
    #[inline(always)]
    fn info(&self, src_port: u16) -> SynInfo {
        let has = |b: u8| self.present & b != 0;
        SynInfo {
            ttl: has(1).then_some(self.ttl),
            ip_id: has(2).then_some(self.ip_id),
            window: has(4).then_some(self.window),
            mss: has(8).then_some(self.mss),
            options_fingerprint: has(16).then_some(self.fp),
            src_port,
            ip_len: has(32).then_some(u32::from(self.ip_len)),
        }
    }
}

/// What a flow's verdict rests on, from its flag bits and whether both directions sent
/// something.
fn evidence(bits: u16, both_directions: bool) -> Evidence {
    if bits & NO_FLAGS != 0 {
        Evidence::NoFlags
    } else if bits & NOT_PACKETS == 0 {
        Evidence::Packets
    } else if both_directions {
        Evidence::FlagsBothDirections
    } else if bits & NON_SYN == 0 {
        Evidence::SynOnly
    } else {
        Evidence::FlagsOneDirection
    }
}

/// One tracked connection. Kept small: see `docs/halfopen-tcp.md` for the measured size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flow {
    /// Time of the first segment, as two halves of an `i64` (keeps the flow 4-byte
    /// aligned, so a slot with its 12-byte key is 116 bytes, not 120).
    start: [u32; 2],
    /// Time of the latest segment, the same way.
    last: [u32; 2],
    /// `[originator, responder]`.
    pub(crate) sides: [Side; 2],
    syn: PackedSyn,
    pub(crate) history: History,
    seen: u32,
    pub(crate) gen_: u16,
    syn_count: u16,
    pub(crate) bits: u16,
}

/// A flow that has only seen bare SYNs from its originator, in 44 bytes (the SYN
/// cache's entry; the key is stored apart). Produced by [`Flow::compact`] only when
/// [`Flow::from_compact`] gives the very same flow back, so keeping a flow in this form
/// changes nothing in what it reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CompactSyn {
    /// `start_us` as two halves (keeps the entry 4-byte aligned: 44 bytes, not 48).
    start: [u32; 2],
    /// `last_us - start_us`.
    last_delta: u32,
    last_seq: u32,
    syn: PackedSyn,
    pkts: u16,
    syn_count: u16,
    bits: u16,
    ep: Endpoint,
    /// Number of `S` letters in the history.
    s_letters: u8,
    hist_syn: u8,
    side_bits: u8,
}

impl CompactSyn {
    /// All zero (an unused record).
    pub(crate) const EMPTY: CompactSyn = CompactSyn {
        start: [0; 2],
        last_delta: 0,
        last_seq: 0,
        syn: PackedSyn {
            ip_id: 0,
            fp: 0,
            ip_len: 0,
            window: 0,
            mss: 0,
            ttl: 0,
            present: 0,
        },
        pkts: 0,
        syn_count: 0,
        bits: 0,
        ep: Endpoint {
            state: EndpointState::Inactive,
            prev: EndpointState::Inactive,
        },
        s_letters: 0,
        hist_syn: 0,
        side_bits: 0,
    };

    /// The originator is key endpoint `a`.
    pub(crate) fn orig_is_a(&self) -> bool {
        self.bits & ORIG_IS_A != 0
    }

    /// Time of the first SYN.
    pub(crate) fn start_us(&self) -> i64 {
        whole(self.start)
    }
}

impl CompactSyn {
    /// The compact state of a new flow whose first event is `ev`, a bare SYN from the
    /// originator (key endpoint `a` when `orig_is_a`), computed directly: the same value as
    /// `Flow::new` + `Flow::update` + `Flow::compact` (a test checks it), about five times
    /// cheaper. `None` for the rare SYNs that need the general path: a bad checksum, a SYN
    /// with payload (retransmission bookkeeping), an advertised zero window (a `W` letter).
    #[inline(always)]
    pub(crate) fn first_syn(ev: &Event, orig_is_a: bool) -> Option<CompactSyn> {
        let flags = ev.flags?;
        let bare = flags.syn() && !flags.ack() && !flags.fin() && !flags.rst();
        if !bare
            || ev.tcp_checksum_ok == Some(false)
            || ev.payload_len.is_some_and(|n| n > 0)
            || ev.window == Some(0)
        {
            return None;
        }
        let mut bits = FLAGGED | HAS_SYN_INFO;
        if orig_is_a {
            bits |= ORIG_IS_A;
        }
        if ev.payload_len.is_none() || ev.seq.is_none() {
            bits |= NOT_PACKETS;
        }
        let mut side_bits = SENT_SYN;
        if ev.payload_len.is_none() {
            side_bits |= PAYLOAD_UNKNOWN;
        }
        let (last_seq, hist_syn) = match ev.seq {
            Some(seq) => {
                side_bits |= SEQ_KNOWN | HAS_SYN_SEQ;
                (seq.wrapping_add(1), (seq & 0xff) as u8)
            }
            None => (0, 0),
        };
        Some(CompactSyn {
            start: halves(ev.ts_us),
            last_delta: 0,
            last_seq,
            syn: PackedSyn::of(ev),
            pkts: 1,
            syn_count: 1,
            bits,
            ep: Endpoint {
                state: EndpointState::SynSent,
                prev: EndpointState::Inactive,
            },
            s_letters: 1,
            hist_syn,
            side_bits,
        })
    }

    /// The history of a compact flow: its `S` letters (a constant for the usual one).
    pub(crate) fn history(&self) -> History {
        let mut h = History::new();
        h.set_s_letters(self.s_letters);
        h
    }

    /// The originator's first SYN, given its port (as [`Flow::syn_info`]).
    #[inline(always)]
    fn syn_info(&self, src_port: u16) -> Option<SynInfo> {
        (self.bits & HAS_SYN_INFO != 0).then(|| self.syn.info(src_port))
    }

    /// The connection this compact flow stands for: the same value as building the
    /// [`Flow`] back and reporting it (a test checks it), without building the flow.
    pub(crate) fn connection(
        &self,
        orig: SocketAddr,
        resp: SocketAddr,
        end: EndReason,
    ) -> Connection {
        let mut c = Connection::blank(orig, resp);
        self.write_connection(orig, resp, end, &mut c);
        c
    }

    /// Overwrites every field of `out` with [`CompactSyn::connection`]'s value. Field by
    /// field into a value the caller reuses: built in a temporary and moved, the inline
    /// `History` and the addresses were written with narrow stores and read back 8 or 16
    /// bytes at a time, a store-forwarding stall on every evicted attempt of a flood.
    #[inline(always)]
    pub(crate) fn write_connection(
        &self,
        orig: SocketAddr,
        resp: SocketAddr,
        end: EndReason,
        out: &mut Connection,
    ) {
        let start_us = self.start_us();
        let unknown = self.side_bits & PAYLOAD_UNKNOWN != 0;
        out.orig = orig;
        out.resp = resp;
        out.start_us = start_us;
        out.end_us = start_us.saturating_add(i64::from(self.last_delta));
        out.history.set_s_letters(self.s_letters);
        // A compact flow's responder is inactive and no byte was counted.
        out.state = if self.bits & FLAGGED == 0 {
            ConnState::AttemptUnknown
        } else if self.ep.state == EndpointState::SynSent {
            // What `conn_state` says for a SYN-SENT originator and an inactive responder.
            ConnState::S0
        } else {
            conn_state(
                self.ep.state,
                EndpointState::Inactive,
                true,
                out.history.as_bytes(),
            )
        };
        out.orig_pkts = u64::from(self.pkts);
        out.resp_pkts = 0;
        out.orig_bytes = (!unknown).then_some(0);
        out.resp_bytes = Some(0);
        out.handshake_completed = self.bits & HANDSHAKE != 0;
        out.orig_acked_after_syn = self.bits & ORIG_ACKED != 0;
        out.orig_ttl_changed = ttl_changed(self.bits);
        out.orig_sent_payload = if self.side_bits & PAYLOAD_SEEN != 0 {
            Some(true)
        } else if unknown {
            None
        } else {
            Some(false)
        };
        out.syn_count = u32::from(self.syn_count);
        out.evidence = evidence(self.bits, false);
        out.first_syn = self.syn_info(orig.port());
        out.end = end;
    }
}

impl Flow {
    /// The compact form of a SYN-only flow, or `None` when the flow has anything the
    /// compact form cannot hold (a reply, payload, other letters, large counters...).
    /// Exact: the flow is compacted only if it round-trips (the generation aside).
    pub(crate) fn compact(&self) -> Option<CompactSyn> {
        let o = &self.sides[0];
        let c = CompactSyn {
            start: self.start,
            last_delta: u32::try_from(self.last_us().checked_sub(self.start_us())?).ok()?,
            last_seq: o.last_seq,
            syn: self.syn,
            pkts: u16::try_from(o.pkts).ok()?,
            syn_count: self.syn_count,
            bits: self.bits,
            ep: o.ep(),
            s_letters: u8::try_from(self.history.len()).ok()?,
            hist_syn: o.hist_syn,
            side_bits: o.bits,
        };
        let mut back = Flow::from_compact(&c);
        back.gen_ = self.gen_;
        (back == *self).then_some(c)
    }

    /// The flow a [`CompactSyn`] stands for (generation 0).
    pub(crate) fn from_compact(c: &CompactSyn) -> Flow {
        let start_us = c.start_us();
        let history = c.history();
        let mut origin = Side {
            pkts: u32::from(c.pkts),
            last_seq: c.last_seq,
            hist_syn: c.hist_syn,
            bits: c.side_bits,
            ..Side::default()
        };
        origin.set_ep(c.ep);
        Flow {
            start: c.start,
            last: halves(start_us.saturating_add(i64::from(c.last_delta))),
            sides: [origin, Side::default()],
            syn: c.syn,
            history,
            seen: if c.s_letters > 0 {
                Letter::Syn.bit(true)
            } else {
                0
            },
            gen_: 0,
            syn_count: c.syn_count,
            bits: c.bits,
        }
    }

    /// A new flow whose originator is key endpoint `a` when `orig_is_a`.
    pub(crate) fn new(ts_us: i64, orig_is_a: bool, gen_: u16) -> Flow {
        Flow {
            start: halves(ts_us),
            last: halves(ts_us),
            sides: [Side::default(); 2],
            syn: PackedSyn::default(),
            history: History::new(),
            seen: 0,
            gen_,
            syn_count: 0,
            bits: if orig_is_a { ORIG_IS_A } else { 0 },
        }
    }

    pub(crate) fn orig_is_a(&self) -> bool {
        self.bits & ORIG_IS_A != 0
    }

    /// Time of the first segment.
    pub(crate) fn start_us(&self) -> i64 {
        whole(self.start)
    }

    /// Time of the latest segment.
    pub(crate) fn last_us(&self) -> i64 {
        whole(self.last)
    }

    pub(crate) fn orig_state(&self) -> EndpointState {
        self.sides[0].state()
    }

    pub(crate) fn resp_state(&self) -> EndpointState {
        self.sides[1].state()
    }

    /// Swaps originator and responder (Zeek's `FlipRoles`), recording `^`.
    pub(crate) fn flip(&mut self) {
        self.sides.swap(0, 1);
        self.seen = flip_seen(self.seen);
        self.bits ^= ORIG_IS_A;
        self.history.push(b'^');
    }

    /// The raw state codes of the originator and the responder (`EndpointState as u8`;
    /// 7 does not occur and would read as `Reset`). The predicates below compare these
    /// directly: they run on every segment, and decoding to the enum first costs a jump
    /// table each.
    #[inline]
    fn codes(&self) -> (u8, u8) {
        (self.sides[0].st & 7, self.sides[1].st & 7)
    }

    /// An unanswered attempt: the originator sent a SYN, the responder nothing; or
    /// records without flags only. These are the eviction candidates of first resort.
    pub(crate) fn is_attempt(&self) -> bool {
        if self.bits & FLAGGED == 0 {
            return true;
        }
        let (o, r) = self.codes();
        // SynSent (1) or SynAckSent (2), and Inactive (0).
        o.wrapping_sub(1) < 2 && r == EndpointState::Inactive as u8
    }

    /// Records only without flags.
    pub(crate) fn no_flags_only(&self) -> bool {
        self.bits & FLAGGED == 0
    }

    /// Over: one side reset, both sent a FIN, or one sent a FIN and the other was never
    /// seen (an input that shows one direction only).
    pub(crate) fn is_closing(&self) -> bool {
        let (o, r) = self.codes();
        let closed = EndpointState::Closed as u8;
        o.max(r) >= EndpointState::Reset as u8 || o.min(r) >= closed
    }

    /// Half-closed (RFC 9293 §3.6): one side sent a FIN, the other has not; it may still send
    /// (a server answering a request it read late from its accept queue). The other side
    /// may never be seen at all (an input of one direction): the FIN's sender still answers
    /// it, an RST to the server's late answer 90 s after its FIN in the lab's prefork run,
    /// and that RST belongs to this connection, not to a new one begun mid-stream.
    pub(crate) fn is_half_closed(&self) -> bool {
        let (o, r) = self.codes();
        let closed = EndpointState::Closed as u8;
        o.max(r) == closed && o.min(r) < closed
    }

    pub(crate) fn any_reset(&self) -> bool {
        let (o, r) = self.codes();
        o.max(r) >= EndpointState::Reset as u8
    }

    /// Handshake not seen through: originator still in SYN-SENT, or nothing valid seen.
    pub(crate) fn handshake_pending(&self) -> bool {
        let (o, r) = self.codes();
        o.wrapping_sub(1) < 2 || (o | r) == EndpointState::Inactive as u8
    }

    #[inline]
    fn letter(&mut self, is_orig: bool, l: Letter) -> bool {
        let bit = l.bit(is_orig);
        if self.seen & bit == 0 {
            self.seen |= bit;
            self.history.push(l.for_side(is_orig));
            false
        } else {
            true
        }
    }

    /// Records `S`/`H`, `F` or `R` (`l`) with Zeek's repeat rule: the letter again only
    /// when its sequence number's low byte `s` differs from the last one of that kind from
    /// this side (an unknown `s` never repeats, and is not remembered).
    #[inline]
    fn repeat_letter(&mut self, is_orig: bool, l: Letter, s: Option<u8>) {
        let again = self.letter(is_orig, l);
        let side = &mut self.sides[usize::from(!is_orig)];
        let (last, known) = match l {
            Letter::Fin => (&mut side.hist_fin, HAS_FIN_SEQ),
            Letter::Rst => (&mut side.hist_rst, HAS_RST_SEQ),
            _ => (&mut side.hist_syn, HAS_SYN_SEQ),
        };
        let Some(v) = s else {
            return;
        };
        let differs = side.bits & known == 0 || *last != v;
        *last = v;
        side.bits |= known;
        if again && differs {
            self.history.push(l.for_side(is_orig));
        }
    }

    fn scaled(&mut self, is_orig: bool, l: Letter, count: u8) {
        if is_scaled_threshold(u32::from(count)) {
            self.history.push(l.for_side(is_orig));
        }
    }

    /// Applies one event from the originator (`is_orig`) or the responder.
    #[inline]
    pub(crate) fn update(&mut self, is_orig: bool, ev: &Event) {
        if !self.update_in_order(is_orig, ev) && !self.update_syn_ack(is_orig, ev) {
            self.update_general(is_orig, ev);
        }
    }

    /// The responder's SYN-ACK to an originator that has only sent its SYN (a SYN-SENT
    /// originator, a responder that has sent nothing), computed directly: flags SYN and
    /// ACK (no FIN or RST), no payload, sequence and acknowledgment known, no zero window,
    /// acknowledging nothing beyond the originator's SYN. It gives the very same flow as
    /// [`Flow::update_general`] (a proptest checks it): the responder's sequence space
    /// starts, `h` is recorded, and both endpoints are established (§3.5 step 2, as the
    /// observer sees it). Returns false, having changed nothing, for any other event.
    #[inline]
    pub(crate) fn update_syn_ack(&mut self, is_orig: bool, ev: &Event) -> bool {
        const EST: u8 = EndpointState::Established as u8;
        const SYN_SENT: u8 = EndpointState::SynSent as u8;
        let (Some(flags), Some(0), Some(seq), Some(ack)) =
            (ev.flags, ev.payload_len, ev.seq, ev.ack)
        else {
            return false;
        };
        let (o, r) = (&self.sides[0], &self.sides[1]);
        let usual = !is_orig
            && flags.syn()
            && flags.ack()
            && !flags.fin()
            && !flags.rst()
            && ev.tcp_checksum_ok != Some(false)
            && ev.window != Some(0)
            && *r == Side::default()
            && o.st & (7 | HOLE) == SYN_SENT
            && (o.bits & SEQ_KNOWN == 0 || ack.wrapping_sub(o.last_seq) as i32 <= 0);
        if !usual {
            return false;
        }
        self.advance_last(ev.ts_us);
        self.bits |= FLAGGED | NON_SYN;
        let r = &mut self.sides[1];
        r.pkts = 1;
        r.bits = SENT_SYNACK | SEQ_KNOWN;
        r.last_seq = seq.wrapping_add(1);
        r.st = EST;
        let o = &mut self.sides[0];
        o.st = EST | (SYN_SENT << ST_PREV_SHIFT);
        self.repeat_letter(false, Letter::SynAck, Some((seq & 0xff) as u8));
        true
    }

    /// The usual segment of a capture, computed directly: an in-order ACK or data segment,
    /// or an in-order FIN (with its ACK), between endpoints that are established or have
    /// sent their FIN (no SYN or RST; sequence, acknowledgment and length known; nothing
    /// cut by the snap length; no zero window), which acknowledges nothing we did not see
    /// and starts exactly where the sender's last segment ended, with no hole open on
    /// either side. A FIN must come from an established endpoint. It gives the very same
    /// flow as [`Flow::update_general`] (a proptest checks it) with a fraction of the
    /// branches: no retransmission, gap, zero-window or repeat rule other than the FIN's
    /// can fire, and the state machine only moves the FIN's sender to closed (RFC 9293
    /// §3.10.7.4: an ACK in ESTABLISHED, or after our FIN, moves no state). Returns false,
    /// having changed nothing, for any other event.
    #[inline]
    pub(crate) fn update_in_order(&mut self, is_orig: bool, ev: &Event) -> bool {
        const EST: u8 = EndpointState::Established as u8;
        const CLOSED: u8 = EndpointState::Closed as u8;
        let (Some(flags), Some(len), Some(seq), Some(ack)) =
            (ev.flags, ev.payload_len, ev.seq, ev.ack)
        else {
            return false;
        };
        let fin = flags.fin();
        let i = usize::from(!is_orig);
        let (me, peer) = (&self.sides[i], &self.sides[1 - i]);
        // The state code with the hole flag: established or closed, and no hole.
        let (m, p) = (me.st & (7 | HOLE), peer.st & (7 | HOLE));
        let usual = flags.ack()
            && !flags.syn()
            && !flags.rst()
            && ev.tcp_checksum_ok != Some(false)
            && ev.window != Some(0)
            && ev.payload_captured.is_none_or(|c| c >= len)
            && len < TOO_LARGE_SEQ_DELTA as u32
            && (m == EST || (m == CLOSED && !fin))
            && (p == EST || p == CLOSED)
            && me.bits & SEQ_KNOWN != 0
            && seq == me.last_seq
            && (peer.bits & SEQ_KNOWN == 0 || ack.wrapping_sub(peer.last_seq) as i32 <= 0);
        if !usual {
            return false;
        }
        self.advance_last(ev.ts_us);
        self.bits |= FLAGGED | NON_SYN;
        self.note_handshake(is_orig, flags);
        self.note_later_ttl(is_orig, flags, ev.ttl);
        let s = &mut self.sides[i];
        s.pkts = s.pkts.saturating_add(1);
        if len > 0 {
            s.bits |= PAYLOAD_SEEN;
            s.bytes = s.bytes.saturating_add(len);
        }
        if fin {
            // The FIN takes one sequence number; its sender is closed now.
            let end = seq.wrapping_add(len);
            s.last_seq = end.wrapping_add(1);
            s.st = CLOSED | (EST << ST_PREV_SHIFT);
            self.repeat_letter(is_orig, Letter::Fin, Some((end & 0xff) as u8));
        } else if len > 0 {
            s.last_seq = seq.wrapping_add(len);
            self.letter(is_orig, Letter::Data);
        } else {
            self.letter(is_orig, Letter::Ack);
        }
        true
    }

    /// Moves the time of the latest segment to `ts_us` if that is later.
    #[inline]
    fn advance_last(&mut self, ts_us: i64) {
        if ts_us > self.last_us() {
            self.last = halves(ts_us);
        }
    }

    /// Marks the handshake completed when this segment is the originator's ACK after its
    /// SYN and the responder's SYN-ACK.
    #[inline]
    fn note_handshake(&mut self, is_orig: bool, flags: TcpFlags) {
        if is_orig && flags.ack() && !flags.syn() && self.sides[0].bits & SENT_SYN != 0 {
            self.bits |= ORIG_ACKED;
            if self.sides[1].bits & SENT_SYNACK != 0 {
                self.bits |= HANDSHAKE;
            }
        }
    }

    /// Compares the TTL of the originator's first segment after its SYN (an ACK, data, a FIN
    /// or an RST) with the SYN's, once.
    #[inline]
    fn note_later_ttl(&mut self, is_orig: bool, flags: TcpFlags, ttl: Option<u8>) {
        if !is_orig
            || flags.syn()
            || self.bits & (LATER_TTL_SEEN | HAS_SYN_INFO) != HAS_SYN_INFO
            || self.syn.present & 1 == 0
        {
            return;
        }
        if let Some(t) = ttl {
            self.bits |= LATER_TTL_SEEN;
            if t != self.syn.ttl {
                self.bits |= LATER_TTL_OTHER;
            }
        }
    }

    /// Applies one event from the originator (`is_orig`) or the responder: every case.
    pub(crate) fn update_general(&mut self, is_orig: bool, ev: &Event) {
        self.advance_last(ev.ts_us);
        let i = usize::from(!is_orig);
        if ev.tcp_checksum_ok == Some(false) {
            // Zeek ignores the segment but remembers the checksum error.
            if ev.flags.is_some() {
                self.bits |= FLAGGED;
            }
            self.letter(is_orig, Letter::Checksum);
            return;
        }
        {
            let s = &mut self.sides[i];
            s.pkts = s.pkts.saturating_add(1);
            match ev.payload_len {
                Some(0) => {}
                Some(_) => s.bits |= PAYLOAD_SEEN,
                None => s.bits |= PAYLOAD_UNKNOWN,
            }
        }
        if ev.payload_len.is_none() || ev.seq.is_none() {
            self.bits |= NOT_PACKETS;
        }
        let Some(flags) = ev.flags else {
            self.bits |= NO_FLAGS | NON_SYN;
            if let Some(n) = ev.payload_len {
                let s = &mut self.sides[i];
                s.bytes = s.bytes.saturating_add(n);
            }
            return;
        };
        self.bits |= FLAGGED;
        let bare_syn = flags.syn() && !flags.ack() && !flags.fin() && !flags.rst();
        if !bare_syn {
            self.bits |= NON_SYN;
        }
        if is_orig && flags.syn() && !flags.ack() {
            self.syn_count = self.syn_count.saturating_add(1);
            if self.bits & HAS_SYN_INFO == 0 {
                self.bits |= HAS_SYN_INFO;
                self.record_syn(ev);
            }
        }
        if flags.syn() {
            self.sides[i].bits |= if flags.ack() { SENT_SYNACK } else { SENT_SYN };
        }
        self.note_handshake(is_orig, flags);
        self.note_later_ttl(is_orig, flags, ev.ttl);
        let len = ev.payload_len.unwrap_or(0);

        // Sequence bookkeeping (Zeek's init_endpoint).
        let seg_end = ev.seq.map(|seq| {
            let mut seg = len;
            if flags.syn() {
                seg = seg.wrapping_add(1);
            }
            if flags.fin() {
                seg = seg.wrapping_add(1);
            }
            if flags.rst() {
                seg = seg.wrapping_sub(len);
            }
            (seq, seq.wrapping_add(seg))
        });
        let uncaptured = ev.payload_captured.is_some_and(|c| c < len);
        if let Some((seq, end)) = seg_end {
            let s = &mut self.sides[i];
            if s.bits & SEQ_KNOWN != 0
                && !flags.syn()
                && !flags.rst()
                && s.state() != EndpointState::Reset
            {
                let d = seq.wrapping_sub(s.last_seq) as i32;
                if d > 0 && d < TOO_LARGE_SEQ_DELTA {
                    if !s.hole() {
                        s.set_hole(true);
                        s.hole_start = s.last_seq;
                    }
                } else if s.hole()
                    && !uncaptured
                    && seq.wrapping_sub(s.hole_start) as i32 <= 0
                    && end.wrapping_sub(s.hole_start) as i32 > 0
                {
                    // A late segment filled the hole.
                    s.set_hole(false);
                }
                if uncaptured && !s.hole() {
                    // Payload cut by the snap length: missing for a reassembler too.
                    s.set_hole(true);
                    s.hole_start = seq;
                }
            }
            if s.bits & SEQ_KNOWN == 0 {
                s.bits |= SEQ_KNOWN;
                s.last_seq = if flags.syn() { end } else { seq };
            } else if flags.syn()
                && (matches!(
                    s.state(),
                    EndpointState::SynSent
                        | EndpointState::SynAckSent
                        | EndpointState::Established
                        | EndpointState::Partial
                ) || (s.state() == EndpointState::Reset
                    && s.ep().prev == EndpointState::Inactive))
            {
                s.last_seq = end;
            }
        }

        self.update_history(is_orig, flags, ev.seq, len);

        // Zero window (Zeek: not with/after a RST, not after the peer's FIN).
        if ev.window == Some(0)
            && !flags.rst()
            && self.sides[1 - i].state() != EndpointState::Closed
            && self.sides[i].state() != EndpointState::Reset
        {
            let c = self.sides[i].zero_win.saturating_add(1);
            self.sides[i].zero_win = c;
            self.scaled(is_orig, Letter::ZeroWindow, c);
        }

        // New bytes, retransmissions (Zeek's update_last_seq).
        match seg_end {
            Some((_, end)) => {
                let s = &mut self.sides[i];
                let delta = end.wrapping_sub(s.last_seq) as i32;
                // Untrusted: a SYN/RST far off the known sequence space, or anything
                // after our RST.
                let untrusted = ((flags.syn() || flags.rst())
                    && !(-TOO_LARGE_SEQ_DELTA..=TOO_LARGE_SEQ_DELTA).contains(&delta))
                    || s.state() == EndpointState::Reset;
                if untrusted {
                    // Nothing learned.
                } else if delta > 0 {
                    if !flags.rst() {
                        s.bytes = s.bytes.saturating_add(len.min(delta.unsigned_abs()));
                    }
                    s.last_seq = end;
                } else if len > 0 {
                    let c = s.rxmit.saturating_add(1);
                    s.rxmit = c;
                    self.scaled(is_orig, Letter::Rxmit, c);
                }
            }
            None => {
                let s = &mut self.sides[i];
                s.bytes = s.bytes.saturating_add(len);
            }
        }

        // The state machine.
        let [o, r] = &mut self.sides;
        let (mut oe, mut re) = (o.ep(), r.ep());
        let t = transition(&mut oe, &mut re, is_orig, flags, len);
        o.set_ep(oe);
        r.set_ep(re);

        // Content gap: the sender acknowledges data of the peer we never saw
        // (not judged on FIN/RST segments, like Zeek).
        let ack = if flags.ack() && !flags.fin() && !flags.rst() {
            ev.ack
        } else {
            None
        };
        if let Some(ack) = ack {
            let peer_orig = !is_orig;
            let p = &mut self.sides[1 - i];
            if p.bits & SEQ_KNOWN != 0 {
                let d = ack.wrapping_sub(p.last_seq) as i32;
                let beyond = d > 0 && d < TOO_LARGE_SEQ_DELTA && p.bits & PAYLOAD_SEEN != 0;
                let hole_acked = p.hole() && ack.wrapping_sub(p.hole_start) as i32 > 0;
                if beyond || hole_acked {
                    p.set_hole(false);
                    if beyond {
                        p.last_seq = ack;
                    }
                    let c = p.gaps.saturating_add(1);
                    p.gaps = c;
                    self.scaled(peer_orig, Letter::Gap, c);
                }
            }
        }

        if t.flip {
            self.flip();
            if !is_orig && flags.syn() && !flags.ack() {
                // A SYN answering a SYN-ACK: its sender is the originator now, and this
                // was its SYN (not counted above while it was still the responder).
                self.syn_count = self.syn_count.saturating_add(1);
                if self.bits & HAS_SYN_INFO == 0 {
                    self.bits |= HAS_SYN_INFO;
                    self.record_syn(ev);
                }
            }
        }
    }

    fn update_history(&mut self, is_orig: bool, flags: TcpFlags, seq: Option<u32>, len: u32) {
        let n = u8::from(flags.syn()) + u8::from(flags.fin()) + u8::from(flags.rst());
        let low = |v: u32| (v & 0xff) as u8;
        if n > 1 {
            if flags.fin() && flags.rst() {
                self.letter(is_orig, Letter::FinRst);
            } else {
                self.letter(is_orig, Letter::MultiFlag);
            }
        } else if n == 1 {
            if flags.syn() {
                let l = if flags.ack() {
                    Letter::SynAck
                } else {
                    Letter::Syn
                };
                self.repeat_letter(is_orig, l, seq.map(low));
            }
            if flags.fin() {
                self.repeat_letter(is_orig, Letter::Fin, seq.map(|v| low(v.wrapping_add(len))));
            }
            if flags.rst() {
                self.repeat_letter(is_orig, Letter::Rst, seq.map(low));
            }
        } else if len > 0 {
            self.letter(is_orig, Letter::Data);
        } else if flags.ack() {
            self.letter(is_orig, Letter::Ack);
        }
    }

    fn record_syn(&mut self, ev: &Event) {
        self.syn = PackedSyn::of(ev);
    }

    /// The first SYN, given the originator's port.
    pub(crate) fn syn_info(&self, src_port: u16) -> Option<SynInfo> {
        (self.bits & HAS_SYN_INFO != 0).then(|| self.syn.info(src_port))
    }

    pub(crate) fn conn_state(&self) -> ConnState {
        if self.no_flags_only() {
            return ConnState::AttemptUnknown;
        }
        let no_bytes = self.sides[0].bytes == 0 && self.sides[1].bytes == 0;
        conn_state(
            self.orig_state(),
            self.resp_state(),
            no_bytes,
            self.history.as_bytes(),
        )
    }

    pub(crate) fn evidence(&self) -> Evidence {
        evidence(self.bits, self.sides[0].pkts > 0 && self.sides[1].pkts > 0)
    }

    pub(crate) fn orig_acked_after_syn(&self) -> bool {
        self.bits & ORIG_ACKED != 0
    }

    /// Whether the originator's first segment after its SYN came with another TTL than the
    /// SYN, when both showed one ([`Connection::orig_ttl_changed`]).
    pub(crate) fn orig_ttl_changed(&self) -> Option<bool> {
        ttl_changed(self.bits)
    }

    pub(crate) fn handshake_completed(&self) -> bool {
        self.bits & HANDSHAKE != 0
    }

    pub(crate) fn syn_count(&self) -> u32 {
        u32::from(self.syn_count)
    }

    /// Bytes of a side, `None` when payload lengths were not (always) known.
    pub(crate) fn bytes(&self, i: usize) -> Option<u64> {
        let s = self.sides.get(i)?;
        (s.bits & PAYLOAD_UNKNOWN == 0).then_some(u64::from(s.bytes))
    }

    pub(crate) fn orig_sent_payload(&self) -> Option<bool> {
        let s = &self.sides[0];
        if s.bits & PAYLOAD_SEEN != 0 {
            Some(true)
        } else if s.bits & PAYLOAD_UNKNOWN != 0 {
            None
        } else {
            Some(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr};

    /// One segment of a test connection, its numbers relative to where each side is.
    #[derive(Debug, Clone)]
    struct Step {
        from_orig: bool,
        flags: u8,
        len: u32,
        /// Added to the sender's next expected sequence number (mostly 0: in order).
        seq_off: i32,
        /// Added to the peer's next expected sequence number for the acknowledgment.
        ack_off: i32,
        window: Option<u16>,
        checksum_ok: Option<bool>,
        captured: Option<u32>,
        known: bool,
    }

    impl Step {
        /// An in-order segment with everything known and nothing unusual.
        fn in_order(from_orig: bool, flags: u8, len: u32) -> Step {
            Step {
                from_orig,
                flags,
                len,
                seq_off: 0,
                ack_off: 0,
                window: Some(512),
                checksum_ok: None,
                captured: None,
                known: true,
            }
        }
    }

    prop_compose! {
        fn step()(
            from_orig in any::<bool>(),
            flags in prop_oneof![
                4 => Just(0x10u8),
                4 => Just(0x18),
                1 => Just(0x11),
                1 => Just(0x14),
                1 => Just(0x12),
                1 => Just(0x02),
                1 => Just(0x08),
                1 => Just(0x00),
                1 => any::<u8>(),
            ],
            len in prop_oneof![Just(0u32), Just(1), Just(300), Just(1400), Just(2_000_000)],
            seq_off in prop_oneof![6 => Just(0i32), 1 => Just(-1), 1 => Just(7), 1 => any::<i32>()],
            ack_off in prop_oneof![6 => Just(0i32), 1 => Just(-300), 1 => Just(5), 1 => any::<i32>()],
            window in prop_oneof![6 => Just(Some(512u16)), 1 => Just(Some(0)), 1 => Just(None)],
            checksum_ok in prop_oneof![6 => Just(None), 1 => Just(Some(true)), 1 => Just(Some(false))],
            captured in prop_oneof![6 => Just(None), 1 => (0u32..2000).prop_map(Some)],
            known in prop_oneof![9 => Just(true), 1 => Just(false)],
        ) -> Step {
            Step { from_orig, flags, len, seq_off, ack_off, window, checksum_ok, captured, known }
        }
    }

    fn event(ts: i64, f: &Flow, s: &Step) -> Event {
        let i = usize::from(!s.from_orig);
        let (me, peer) = (&f.sides[i], &f.sides[1 - i]);
        let a = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
        let b = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
        let mut e = if s.from_orig {
            Event::new(ts, a, 40000, b, 80)
        } else {
            Event::new(ts, b, 80, a, 40000)
        };
        e.flags = Some(TcpFlags(s.flags));
        e.payload_len = s.known.then_some(s.len);
        e.seq = Some(me.last_seq.wrapping_add(s.seq_off as u32));
        e.ack = s
            .known
            .then(|| peer.last_seq.wrapping_add(s.ack_off as u32));
        e.window = s.window;
        e.tcp_checksum_ok = s.checksum_ok;
        e.payload_captured = s.captured;
        e
    }

    /// The predicates on raw state codes say what they say on the decoded states.
    #[test]
    fn state_predicates_match_the_decoded_states() {
        use EndpointState::*;
        for (o, r, flagged) in
            (0..8u8).flat_map(|o| (0..8u8).flat_map(move |r| [(o, r, false), (o, r, true)]))
        {
            let mut f = Flow::new(0, true, 0);
            f.sides[0].st = o | (3 << ST_PREV_SHIFT) | HOLE;
            f.sides[1].st = r | (2 << ST_PREV_SHIFT);
            if flagged {
                f.bits |= FLAGGED;
            }
            let (os, rs) = (EndpointState::from_bits(o), EndpointState::from_bits(r));
            let msg = format!("{os:?} {rs:?} flagged {flagged}");
            assert_eq!(
                f.is_attempt(),
                !flagged || (matches!(os, SynSent | SynAckSent) && rs == Inactive),
                "{msg}"
            );
            let ended = |s: EndpointState| matches!(s, Closed | Reset);
            assert_eq!(
                f.is_closing(),
                os == Reset || rs == Reset || (ended(os) && ended(rs)),
                "{msg}"
            );
            assert_eq!(
                f.is_half_closed(),
                (os == Closed && !ended(rs)) || (rs == Closed && !ended(os)),
                "{msg}"
            );
            assert_eq!(f.any_reset(), os == Reset || rs == Reset, "{msg}");
            assert_eq!(
                f.handshake_pending(),
                matches!(os, SynSent | SynAckSent) || (os == Inactive && rs == Inactive),
                "{msg}"
            );
        }
    }

    /// A connection after its handshake (originator seq 1000, responder 5000).
    fn established() -> Flow {
        let mut f = Flow::new(0, true, 0);
        let hs = [
            (true, 0x02u8, 999u32, None),
            (false, 0x12, 4999, Some(1000u32)),
            (true, 0x10, 1000, Some(5000)),
        ];
        for (t, (o, fl, seq, ack)) in hs.into_iter().enumerate() {
            let mut e = event(t as i64, &f, &Step::in_order(o, fl, 0));
            e.seq = Some(seq);
            e.ack = ack;
            f.update_general(o, &e);
        }
        f
    }

    #[test]
    fn in_order_segments_take_the_direct_path() {
        let mut f = established();
        assert_eq!(f.orig_state(), EndpointState::Established);
        assert_eq!(f.resp_state(), EndpointState::Established);
        let data = Step::in_order(true, 0x18, 300);
        let e = event(10, &f, &data);
        let mut g = f;
        g.update_general(true, &e);
        assert!(f.update_in_order(true, &e));
        assert_eq!(f, g);
        assert_eq!(f.history.as_str(), "ShAD");
        // Not in order: the general path.
        let e = event(11, &f, &Step { seq_off: 7, ..data });
        assert!(!f.update_in_order(true, &e));
        // The close: FIN, FIN, last ACK, all direct.
        for (t, (o, fl)) in [(true, 0x11u8), (false, 0x11), (true, 0x10)]
            .into_iter()
            .enumerate()
        {
            let e = event(12 + t as i64, &f, &Step::in_order(o, fl, 0));
            let mut g = f;
            g.update_general(o, &e);
            assert!(f.update_in_order(o, &e), "segment {t}");
            assert_eq!(f, g, "segment {t}");
        }
        assert_eq!(f.history.as_str(), "ShADFf");
        assert!(f.is_closing());
    }

    /// Applies `steps` from flow `f` (the first at time `t0`, then one per microsecond)
    /// through the general update, and checks before each that the direct path `direct`,
    /// when it accepts the segment, gives exactly the general update's flow, and when it
    /// declines, has changed nothing.
    fn direct_is_general(
        mut f: Flow,
        steps: &[Step],
        t0: i64,
        direct: fn(&mut Flow, bool, &Event) -> bool,
    ) -> Result<(), TestCaseError> {
        for (t, s) in steps.iter().enumerate() {
            let e = event(t0 + t as i64, &f, s);
            let mut general = f;
            general.update_general(s.from_orig, &e);
            let mut d = f;
            if direct(&mut d, s.from_orig, &e) {
                prop_assert_eq!(d, general);
            } else {
                prop_assert_eq!(d, f);
            }
            f = general;
        }
        Ok(())
    }

    /// A flow after one SYN from the originator (sequence number 999, or unknown).
    fn syn_sent(seq_known: bool) -> Flow {
        let mut f = Flow::new(0, true, 0);
        let mut e = event(0, &f, &Step::in_order(true, 0x02, 0));
        e.seq = seq_known.then_some(999);
        e.ack = None;
        f.update_general(true, &e);
        f
    }

    #[test]
    fn a_syn_ack_takes_the_direct_path() {
        let mut f = syn_sent(true);
        let mut e = event(1, &f, &Step::in_order(false, 0x12, 0));
        e.seq = Some(4999);
        e.ack = Some(1000);
        let mut g = f;
        g.update_general(false, &e);
        assert!(f.update_syn_ack(false, &e));
        assert_eq!(f, g);
        assert_eq!(f.history.as_str(), "Sh");
        assert_eq!(f.orig_state(), EndpointState::Established);
        // The originator's own SYN-ACK, or a second one: the general path.
        assert!(!f.update_syn_ack(false, &e));
        assert!(!syn_sent(true).update_syn_ack(true, &e));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The direct path of a SYN-ACK gives exactly the flow the general path gives,
        /// from any flow a SYN and then any mix of segments lead to; and when it declines,
        /// it has changed nothing.
        #[test]
        fn syn_ack_path_is_the_general_path(
            seq_known in any::<bool>(),
            answer in step(),
            flags in prop_oneof![3 => Just(0x12u8), 1 => any::<u8>()],
            steps in prop::collection::vec(step(), 0..12),
        ) {
            // Mostly a responder's SYN-ACK first, however odd its other fields.
            let answer = Step { from_orig: flags == 0x12 && answer.from_orig, flags, ..answer };
            let steps: Vec<Step> = std::iter::once(answer).chain(steps).collect();
            direct_is_general(syn_sent(seq_known), &steps, 1, Flow::update_syn_ack)?;
        }

        /// The direct path of an in-order segment gives exactly the flow the general path
        /// gives, after any mix of segments (in order or not, gaps, retransmissions,
        /// closes, resets, zero windows, bad checksums, snap-length cuts); and when it
        /// declines, it has changed nothing.
        #[test]
        fn in_order_path_is_the_general_path(steps in prop::collection::vec(step(), 0..40)) {
            direct_is_general(established(), &steps, 10, Flow::update_in_order)?;
        }
    }
}
