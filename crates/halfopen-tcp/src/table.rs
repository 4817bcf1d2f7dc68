//! The bounded flow table: [`FlowTable`], its [`Config`] and [`Stats`].
//!
//! Two tables share one cap. IPv4 flows that have only sent bare SYNs (half-open attempts,
//! what a spoofed flood creates) live in the SYN cache (`syn_cache.rs`: fixed-size,
//! set-associative, 72 bytes per slot, bucket-local O(1) eviction); any other event on
//! such a flow promotes it, with its exact state, to the flow maps (`flow_map.rs`: a slab
//! and a hash index of slot ids; one map for IPv4 keys, one for IPv6). There, expiry is
//! driven by event time and amortised: unanswered attempts sit in a FIFO in creation order;
//! flows in their handshake or closing have one entry in a deadline queue (a radix heap,
//! `timer_queue.rs`) that is re-checked lazily when it comes due; established flows whose
//! idle timeout is more than a quarter of that timeout away are *parked*, with no timer
//! entry at all, and a scan of the map once per quarter-timeout of event time gives the
//! ones that came near their deadline an entry (so every timeout stays exact). When the table is full, an
//! unanswered attempt is evicted first (like a kernel SYN cache), then the flow with the
//! nearest deadline. Finished connections queue in `finished.rs` until they are taken.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use crate::finished::{Finished, compact_connection};
use crate::flow::{
    CLOSING_SCHEDULED, CompactSyn, Flow, HALF_CLOSED_SCHEDULED, HAS_TIMER, ORIG_IS_A, PARKED,
};
use crate::flow_map::FlowMap;
use crate::key::{FlowKey, V4Key, V6Key, likely_server_port};
use crate::syn_cache::SynCache;
use crate::timer_queue::TimerQueue;
use crate::{Connection, EndReason, Event};

/// Default [`Config::max_flows`]: 7/8 of 2^20, so the SYN cache (2^20 slots, 72 MB) is
/// 87.5 % used when a flood fills the table, and the flow map's index stays at 2^21
/// buckets under churn.
pub const DEFAULT_MAX_FLOWS: usize = 917_504;

/// Flow-table limits and timeouts. All times in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Hard cap on tracked connections. Default [`DEFAULT_MAX_FLOWS`] (917 504): about
    /// 89 MB when a flood fills it with half-open attempts, about 116 MB if every flow were
    /// established; see `docs/halfopen-tcp.md` for the measurements.
    pub max_flows: usize,
    /// How long an unanswered attempt (SYN seen, nothing from the responder) is kept,
    /// counted from its first SYN. Default 63 s: Linux drops a half-open connection after
    /// `tcp_synack_retries` = 5 retransmissions, 1+2+4+8+16+32 s. FreeBSD's syncache gives
    /// up after about 15.6 s; Zeek's `tcp_attempt_delay` is 5 s ([`Config::zeek`]).
    /// Note Linux's deferred accept (`TCP_DEFER_ACCEPT`) re-sends a SYN-ACK at about
    /// +31 s to a client that completed the handshake but sent nothing: that is a silent
    /// client, not a half-open connection. Also used for flows whose handshake never
    /// completed and for records without flags (counted from their last record).
    pub syn_timeout_us: i64,
    /// Idle time after which an established connection is reported as timed out. Default
    /// 432 000 s (5 days), Linux `nf_conntrack_tcp_timeout_established`.
    pub established_idle_timeout_us: i64,
    /// How long a closed (FIN) or reset connection stays to absorb late segments before
    /// it is reported. Default 10 s, Linux `nf_conntrack_tcp_timeout_close`
    /// (TIME_WAIT is 120 s).
    pub closed_linger_us: i64,
    /// How long a half-closed connection (one side sent a FIN, the other, seen, has not)
    /// stays after its last segment. Default 180 s: the other side may still send, e.g. a
    /// saturated server that takes a connection from its accept queue minutes after the
    /// client gave up (measured: 136 s in the lab's prefork run). Linux conntrack keeps
    /// `CLOSE_WAIT` 60 s and `FIN_WAIT` 120 s; Zeek documents its 5-minute inactivity
    /// timeout but splits them in its test traces ([`Config::zeek`] does as Zeek
    /// does). A side never seen (one-direction input) holds the connection
    /// the same: the FIN's sender still answers what the other side sends late.
    pub half_closed_linger_us: i64,
    /// When the first segment of a connection is not a SYN (a SYN-ACK, or midstream), make
    /// the side with a well-known port the responder, like Zeek's `likely_server_ports`
    /// heuristic. Default true.
    pub server_port_heuristic: bool,
    /// An originator that acknowledged or sent data after its SYN, with no SYN-ACK in the
    /// input (one direction), got the SYN-ACK the input does not show: its connection lasts
    /// while it is active (the SYN timeout counts from its last segment), so a slow client's
    /// trickle is one connection. Zeek ends it at the attempt timeout after its start and
    /// begins a new one mid-stream (its `ssh.client-side-half-duplex` test trace). Default
    /// true.
    pub follow_one_way_activity: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_flows: DEFAULT_MAX_FLOWS,
            syn_timeout_us: 63_000_000,
            established_idle_timeout_us: 432_000_000_000,
            closed_linger_us: 10_000_000,
            half_closed_linger_us: 180_000_000,
            server_port_heuristic: true,
            follow_one_way_activity: true,
        }
    }
}

impl Config {
    /// Zeek's defaults (`tcp_attempt_delay` 5 s, `tcp_inactivity_timeout` 5 min,
    /// `tcp_close_delay` 5 s), for comparing with Zeek's `conn.log`.
    pub fn zeek() -> Config {
        Config {
            max_flows: DEFAULT_MAX_FLOWS,
            syn_timeout_us: 5_000_000,
            established_idle_timeout_us: 300_000_000,
            closed_linger_us: 5_000_000,
            // Zeek ends a connection a few seconds after one side's FIN even when the other
            // side keeps sending (its Teredo test traces show the split).
            half_closed_linger_us: 5_000_000,
            server_port_heuristic: true,
            follow_one_way_activity: false,
        }
    }
}

/// Counters kept by the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events observed.
    pub events: u64,
    /// Flows created.
    pub flows_created: u64,
    /// Unanswered attempts evicted because the table was full.
    pub evicted_half_open: u64,
    /// Other flows evicted because the table was full (no attempt was left to evict).
    pub evicted_other: u64,
    /// Most flows tracked at once.
    pub peak_flows: usize,
    /// Flows ended by a timeout (attempt or idle).
    pub timed_out: u64,
    /// Flows ended after their FIN/RST linger.
    pub closed: u64,
    /// Flows ended because a new SYN reused the 4-tuple of a closed one.
    pub reused: u64,
    /// Flows still open at [`FlowTable::finish`].
    pub ended_at_finish: u64,
}

struct Shard<K: FlowKey> {
    map: FlowMap<K, Flow>,
    /// Unanswered attempts in creation order: (slot id, generation).
    fifo: VecDeque<(u32, u16)>,
    timers: TimerQueue,
    /// When the parked flows are next looked at (`i64::MAX`: none parked). Every parked
    /// flow's deadline is later than this.
    scan_due: i64,
}

struct Ctx {
    cfg: Config,
    out: Finished,
    stats: Stats,
    /// Flow generation (wraps; a stale queue entry that collides is harmless: deadlines
    /// are always recomputed from the flow itself).
    gen_: u16,
    /// No deadline falls before this time: expiry can be skipped until then.
    next_due: i64,
    /// The table's clock (latest event time, or the time given to `expire`).
    now: i64,
}

impl Ctx {
    fn due_at(&mut self, t: i64) {
        if t < self.next_due {
            self.next_due = t;
        }
    }
}

fn connection<K: FlowKey>(k: &K, f: &Flow, end: EndReason) -> Connection {
    let (a, b) = k.endpoints();
    let (orig, resp) = if f.orig_is_a() { (a, b) } else { (b, a) };
    Connection {
        orig,
        resp,
        start_us: f.start_us(),
        end_us: f.last_us(),
        state: f.conn_state(),
        history: f.history,
        orig_pkts: u64::from(f.sides[0].pkts),
        resp_pkts: u64::from(f.sides[1].pkts),
        orig_bytes: f.bytes(0),
        resp_bytes: f.bytes(1),
        handshake_completed: f.handshake_completed(),
        orig_acked_after_syn: f.orig_acked_after_syn(),
        orig_ttl_changed: f.orig_ttl_changed(),
        orig_sent_payload: f.orig_sent_payload(),
        syn_count: f.syn_count(),
        evidence: f.evidence(),
        first_syn: f.syn_info(orig.port()),
        end,
    }
}

/// How far ahead of the clock a parked flow's deadline must be, and how often the parked
/// flows are looked at: a quarter of the idle timeout (30 h for the default 5 days).
fn horizon(cfg: &Config) -> i64 {
    (cfg.established_idle_timeout_us / 4).max(1)
}

/// A flow whose deadline is its idle timeout (neither closing nor in its handshake).
fn idles_out(f: &Flow) -> bool {
    !f.is_closing() && !f.is_half_closed() && !f.is_attempt() && !f.handshake_pending()
}

/// Parks flow `f` (no timer entry) if its deadline `d` is an idle timeout more than a
/// [`horizon`] away, making sure a scan of the parked flows (`scan_due`) is planned;
/// true when parked. Every parked flow's deadline is later than `scan_due`: a scan is
/// planned at most a horizon after the clock.
fn park(f: &mut Flow, d: i64, scan_due: &mut i64, ctx: &mut Ctx) -> bool {
    let h = horizon(&ctx.cfg);
    if f.bits & CLOSING_SCHEDULED != 0 || !idles_out(f) || d <= ctx.now.saturating_add(h) {
        return false;
    }
    f.bits = (f.bits | PARKED) & !HAS_TIMER;
    if *scan_due == i64::MAX {
        *scan_due = ctx.now.saturating_add(h);
        ctx.due_at(*scan_due);
    }
    true
}

/// When a flow with a timer entry is due, and why it would end then.
fn deadline(f: &Flow, cfg: &Config) -> (i64, EndReason) {
    if f.is_closing() {
        let why = if f.any_reset() {
            EndReason::Reset
        } else {
            EndReason::Closed
        };
        (f.last_us().saturating_add(cfg.closed_linger_us), why)
    } else if f.is_half_closed() {
        (
            f.last_us().saturating_add(
                cfg.half_closed_linger_us
                    .min(cfg.established_idle_timeout_us),
            ),
            EndReason::Closed,
        )
    } else if f.is_attempt() || f.handshake_pending() {
        (
            f.last_us().saturating_add(cfg.syn_timeout_us),
            EndReason::Timeout,
        )
    } else {
        (
            f.last_us().saturating_add(cfg.established_idle_timeout_us),
            EndReason::Timeout,
        )
    }
}

/// Deadline of a FIFO-resident (attempt) flow: the SYN timeout after its start, or after
/// its last segment when it is still active. Records without flags are all alike; an
/// originator that acknowledged or sent data after its SYN got the SYN-ACK the input does
/// not show (one direction, [`Config::follow_one_way_activity`]): a slow client's trickle,
/// one segment every 10 s, is one connection however long it goes on, not a new one begun
/// mid-stream each 63 s (the lab's prefork run, inbound only: 1,902 connections as in the
/// log of both directions, against 2,094 before).
fn attempt_deadline(f: &Flow, cfg: &Config) -> i64 {
    let h = &f.history;
    let spoke = cfg.follow_one_way_activity && (h.contains(b'A') || h.contains(b'D'));
    let base = if f.no_flags_only() || spoke {
        f.last_us()
    } else {
        f.start_us()
    };
    base.saturating_add(cfg.syn_timeout_us)
}

/// A new flow for the first event `ev` of key `k` (orientation decided here).
fn new_flow<K: FlowKey>(_k: &K, src_is_a: bool, ev: &Event, ctx: &mut Ctx) -> Flow {
    let mut orig_is_src = true;
    let (sp, dp) = (ev.src_port, ev.dst_port);
    match ev.flags {
        Some(fl) => {
            if (fl.ack() || !fl.syn()) && ctx.cfg.server_port_heuristic && likely_server_port(sp) {
                orig_is_src = if likely_server_port(dp) {
                    fl.syn() || sp >= dp
                } else {
                    false
                };
            }
        }
        // A flag-less record (ipfw) from a server port to a client port is the server's
        // answer (a log that starts mid-connection, a retransmitted SYN-ACK): the other side
        // is the originator.
        None => {
            if ctx.cfg.server_port_heuristic && likely_server_port(sp) && !likely_server_port(dp) {
                orig_is_src = false;
            }
        }
    }
    let orig_is_a = orig_is_src == src_is_a;
    ctx.gen_ = ctx.gen_.wrapping_add(1);
    let mut flow = Flow::new(ev.ts_us, orig_is_a, ctx.gen_);
    if !orig_is_src {
        flow.history.push(b'^');
    }
    ctx.stats.flows_created += 1;
    flow
}

/// Gives flow `f` (slot `id`) the timer entry its state now needs, if any: a first one
/// (or parks it, see [`park`]), or an earlier one when it started closing.
#[inline(always)]
fn schedule(f: &mut Flow, id: u32, timers: &mut TimerQueue, scan_due: &mut i64, ctx: &mut Ctx) {
    // The usual segment of a tracked connection changes nothing here (checked inline,
    // before the call: most segments stop here): its entry stands, or it is parked and
    // still idling out, so its deadline only moved later and the next scan looks again.
    let stands = f.bits & HAS_TIMER != 0
        && (f.bits & CLOSING_SCHEDULED != 0
            || (!f.is_closing() && (f.bits & HALF_CLOSED_SCHEDULED != 0 || !f.is_half_closed())));
    if stands || (f.bits & PARKED != 0 && idles_out(f)) {
        return;
    }
    schedule_entry(f, id, timers, scan_due, ctx);
}

/// [`schedule`] past its first check.
#[inline(never)]
fn schedule_entry(
    f: &mut Flow,
    id: u32,
    timers: &mut TimerQueue,
    scan_due: &mut i64,
    ctx: &mut Ctx,
) {
    // A parked flow that still idles out has returned in `schedule`.
    let parked = f.bits & PARKED != 0;
    if f.bits & HAS_TIMER == 0 && (parked || !f.is_attempt()) {
        let (d, _) = deadline(f, &ctx.cfg);
        if park(f, d, scan_due, ctx) {
            return;
        }
        f.bits = (f.bits | HAS_TIMER) & !PARKED;
        if f.is_closing() {
            f.bits |= CLOSING_SCHEDULED;
        } else if f.is_half_closed() {
            f.bits |= HALF_CLOSED_SCHEDULED;
        }
        ctx.due_at(d);
        timers.push(d, f.gen_, id);
    } else if f.bits & HAS_TIMER != 0 && f.bits & CLOSING_SCHEDULED == 0 {
        // The deadline got shorter (a half-close, then the FIN/RST linger): add an entry
        // for it; the old one is re-checked and dropped when it comes due.
        if f.is_closing() {
            f.bits |= CLOSING_SCHEDULED;
        } else if f.is_half_closed() && f.bits & HALF_CLOSED_SCHEDULED == 0 {
            f.bits |= HALF_CLOSED_SCHEDULED;
        } else {
            return;
        }
        let (d, _) = deadline(f, &ctx.cfg);
        ctx.due_at(d);
        timers.push(d, f.gen_, id);
    }
}

impl<K: FlowKey> Shard<K> {
    fn new() -> Shard<K> {
        Shard {
            map: FlowMap::new(),
            fifo: VecDeque::new(),
            timers: TimerQueue::new(),
            scan_due: i64::MAX,
        }
    }

    /// Gives the parked flow in slot `id`, due at `d`, its timer entry.
    fn unpark(&mut self, id: u32, d: i64, ctx: &mut Ctx) {
        if let Some(f) = self.map.get_mut(id) {
            f.bits = (f.bits & !PARKED) | HAS_TIMER;
            ctx.due_at(d);
            self.timers.push(d, f.gen_, id);
        }
    }

    /// Looks at every parked flow: those due within a [`horizon`] get their timer entry,
    /// the rest stay parked until the next look, a horizon later.
    fn scan_parked(&mut self, ctx: &mut Ctx) {
        let limit = ctx.now.saturating_add(horizon(&ctx.cfg));
        let mut due = Vec::new();
        let mut parked = false;
        for (id, (_, f)) in self.map.iter() {
            if f.bits & PARKED != 0 {
                let (d, _) = deadline(f, &ctx.cfg);
                if d <= limit || !idles_out(f) {
                    due.push((id, d));
                } else {
                    parked = true;
                }
            }
        }
        for (id, d) in due {
            self.unpark(id, d, ctx);
        }
        self.scan_due = if parked { limit } else { i64::MAX };
        ctx.due_at(self.scan_due);
    }

    /// Gives the parked flows with the nearest deadlines (a 64th of them, at least 64)
    /// their timer entries, for [`Shard::evict_other`]; false when none is parked.
    fn unpark_nearest(&mut self, ctx: &mut Ctx) -> bool {
        let mut parked: Vec<(i64, u32)> = self
            .map
            .iter()
            .filter(|(_, (_, f))| f.bits & PARKED != 0)
            .map(|(id, (_, f))| (deadline(f, &ctx.cfg).0, id))
            .collect();
        if parked.is_empty() {
            self.scan_due = i64::MAX;
            return false;
        }
        let k = (parked.len() / 64).max(64).min(parked.len());
        if k < parked.len() {
            parked.select_nth_unstable(k - 1);
        }
        for &(d, id) in &parked[..k] {
            self.unpark(id, d, ctx);
        }
        true
    }

    /// The flow in slot `id` if it is still generation `g`.
    fn live(&self, id: u32, g: u16) -> Option<&Flow> {
        self.map.get(id).filter(|f| f.gen_ == g)
    }

    fn finish(&mut self, id: u32, end: EndReason, ctx: &mut Ctx) {
        if let Some((k, f)) = self.map.remove(id) {
            ctx.out.push(connection(&k, &f, end));
        }
    }

    fn schedule(&mut self, id: u32, ctx: &mut Ctx) {
        if let Some(f) = self.map.get_mut(id) {
            schedule(f, id, &mut self.timers, &mut self.scan_due, ctx);
        }
    }

    /// Takes a flow that is already up to date (new, or promoted from the SYN cache).
    /// A promoted attempt joins the FIFO at its end, so it may expire up to one attempt
    /// timeout late (rare: a SYN-only flow that stopped fitting the compact form).
    fn adopt(&mut self, k: K, f: Flow, ctx: &mut Ctx) {
        let attempt = f.is_attempt();
        let g = f.gen_;
        if attempt {
            let d = attempt_deadline(&f, &ctx.cfg)
                .min(f.start_us().saturating_add(ctx.cfg.syn_timeout_us));
            ctx.due_at(d);
        }
        let id = self.map.insert(k, f);
        if attempt {
            self.fifo.push_back((id, g));
        } else {
            self.schedule(id, ctx);
        }
    }

    /// Applies `ev` to the flow of `k`; `found` is `self.map.find(&k)`, which the caller
    /// has already looked up (one hash probe per event, not two).
    #[inline(always)]
    fn observe(&mut self, k: K, found: Option<u32>, src_is_a: bool, ev: &Event, ctx: &mut Ctx) {
        let flags = ev.flags;
        let bare_syn = flags.is_some_and(|f| f.syn() && !f.ack());
        let mut created = true;
        let id = match found {
            Some(id) => {
                let reuse = bare_syn
                    && self
                        .map
                        .get(id)
                        .is_some_and(|f| f.is_closing() || f.is_half_closed());
                if reuse {
                    // A new SYN on the 4-tuple of a finished connection: port reuse.
                    if let Some((_, old)) = self.map.remove(id) {
                        let why = if old.any_reset() {
                            EndReason::Reset
                        } else {
                            EndReason::Closed
                        };
                        ctx.stats.reused += 1;
                        ctx.out.push(connection(&k, &old, why));
                    }
                    self.map.insert(k, new_flow(&k, src_is_a, ev, ctx))
                } else {
                    created = false;
                    id
                }
            }
            None => self.map.insert(k, new_flow(&k, src_is_a, ev, ctx)),
        };
        let Some(f) = self.map.get_mut(id) else {
            return;
        };
        let is_orig = src_is_a == (f.bits & ORIG_IS_A != 0);
        f.update(is_orig, ev);
        if created && f.is_attempt() {
            let g = f.gen_;
            let d = attempt_deadline(f, &ctx.cfg)
                .min(f.start_us().saturating_add(ctx.cfg.syn_timeout_us));
            ctx.due_at(d);
            self.fifo.push_back((id, g));
        } else {
            schedule(f, id, &mut self.timers, &mut self.scan_due, ctx);
        }
    }

    fn expire(&mut self, ctx: &mut Ctx) {
        let now = ctx.now;
        if now >= self.scan_due {
            self.scan_parked(ctx);
        } else {
            ctx.due_at(self.scan_due);
        }
        let mut requeue_budget = self.fifo.len();
        while let Some(&(id, g)) = self.fifo.front() {
            let Some(f) = self.live(id, g) else {
                self.fifo.pop_front();
                continue;
            };
            if f.bits & (HAS_TIMER | PARKED) != 0 {
                self.fifo.pop_front();
                continue;
            }
            let start_due = f.start_us().saturating_add(ctx.cfg.syn_timeout_us) <= now;
            if !start_due {
                ctx.due_at(f.start_us().saturating_add(ctx.cfg.syn_timeout_us));
                break;
            }
            if attempt_deadline(f, &ctx.cfg) <= now {
                self.fifo.pop_front();
                ctx.stats.timed_out += 1;
                self.finish(id, EndReason::Timeout, ctx);
            } else if requeue_budget > 0 {
                // Records without flags that are still active: check again later.
                requeue_budget -= 1;
                self.fifo.pop_front();
                self.fifo.push_back((id, g));
            } else {
                ctx.due_at(now.saturating_add(1));
                break;
            }
        }
        loop {
            let (_, g, id) = match self.timers.pop_due(now) {
                Ok(due) => due,
                Err(next) => {
                    if let Some(d) = next {
                        ctx.due_at(d);
                    }
                    break;
                }
            };
            // Only a flow with a timer entry (`HAS_TIMER`) owns one: anything else is stale.
            let Some(f) = self.live(id, g).filter(|f| f.bits & HAS_TIMER != 0) else {
                continue;
            };
            let (d2, why) = deadline(f, &ctx.cfg);
            if d2 <= now {
                match why {
                    EndReason::Timeout => ctx.stats.timed_out += 1,
                    _ => ctx.stats.closed += 1,
                }
                self.finish(id, why, ctx);
            } else {
                let parked = match self.map.get_mut(id) {
                    Some(f) => park(f, d2, &mut self.scan_due, ctx),
                    None => false,
                };
                if !parked {
                    self.timers.push(d2, g, id);
                }
            }
        }
        // Release the room of timer entries that ran out (a burst of handshakes).
        self.timers.shrink_if_sparse();
    }

    /// Evicts the oldest unanswered attempt; false when there is none.
    fn evict_attempt(&mut self, ctx: &mut Ctx) -> bool {
        while let Some((id, g)) = self.fifo.pop_front() {
            if self
                .live(id, g)
                .is_some_and(|f| f.bits & (HAS_TIMER | PARKED) == 0)
            {
                ctx.stats.evicted_half_open += 1;
                self.finish(id, EndReason::Evicted, ctx);
                return true;
            }
        }
        false
    }

    /// Evicts the flow with the nearest deadline; false when the shard is empty.
    fn evict_other(&mut self, ctx: &mut Ctx) -> bool {
        loop {
            while let Some((_, g, id)) = self.timers.pop() {
                if self.live(id, g).is_some_and(|f| f.bits & HAS_TIMER != 0) {
                    ctx.stats.evicted_other += 1;
                    self.finish(id, EndReason::Evicted, ctx);
                    return true;
                }
            }
            if !self.unpark_nearest(ctx) {
                return false;
            }
        }
    }

    /// Forgets every flow.
    fn clear(&mut self) {
        self.map.clear();
        self.fifo.clear();
        self.timers.clear();
        self.scan_due = i64::MAX;
    }

    fn memory_bytes(&self) -> usize {
        self.map.memory_bytes()
            + self.fifo.capacity() * std::mem::size_of::<(u32, u16)>()
            + self.timers.memory_bytes()
    }
}

/// Events per look-ahead batch in [`FlowTable::observe_batch`].
pub const BATCH: usize = 32;

/// Tracks TCP connections from a stream of [`Event`]s and reports each one as a
/// [`Connection`] when it ends.
///
/// ```
/// use halfopen_tcp::{Config, ConnState, Event, FlowTable, TcpFlags};
/// let (c, s) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
/// let mut t = FlowTable::new(Config::default());
/// t.observe(&Event::new(0, c, 40000, s, 80).with_flags(TcpFlags::SYN));
/// t.observe(&Event::new(1_000_000, c, 40000, s, 80).with_flags(TcpFlags::SYN));
/// t.finish();
/// let conn = t.pop_finished().unwrap();
/// assert_eq!(conn.state, ConnState::S0);
/// assert_eq!(conn.syn_count, 2);
/// assert_eq!(conn.history.to_string(), "S");
/// ```
pub struct FlowTable {
    syn: SynCache,
    v4: Shard<V4Key>,
    v6: Shard<V6Key>,
    ctx: Ctx,
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: Config) -> FlowTable {
        FlowTable {
            syn: SynCache::new(cfg.max_flows, cfg.syn_timeout_us),
            v4: Shard::new(),
            v6: Shard::new(),
            ctx: Ctx {
                cfg,
                out: Finished::default(),
                stats: Stats::default(),
                gen_: 0,
                next_due: i64::MAX,
                now: i64::MIN,
            },
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.ctx.cfg
    }

    /// Feeds one event. Events should come in time order; a late event is processed but
    /// does not move the table's clock back.
    pub fn observe(&mut self, ev: &Event) {
        let v4 = self.v4_key(ev);
        self.observe_keyed::<true>(ev, v4);
    }

    /// The IPv4 key of `ev` (with "the source is endpoint `a`" and its SYN-cache hash),
    /// or `None` when either address is IPv6.
    #[inline]
    fn v4_key(&self, ev: &Event) -> Option<(V4Key, bool, u64)> {
        match (ev.src, ev.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let (k, src_is_a) = V4Key::new(s, ev.src_port, d, ev.dst_port);
                Some((k, src_is_a, self.syn.hash(&k)))
            }
            _ => None,
        }
    }

    /// [`FlowTable::observe`] with the key already computed by [`FlowTable::v4_key`].
    /// `INLINE_V4`: the IPv4 path inlined here (one event at a time: the call and the key's
    /// trip through memory cost more than the code size) or called (the batch loop, whose
    /// flood path measured faster with it out of line).
    #[inline(always)]
    fn observe_keyed<const INLINE_V4: bool>(&mut self, ev: &Event, v4: Option<(V4Key, bool, u64)>) {
        self.ctx.stats.events += 1;
        if ev.ts_us > self.ctx.now {
            self.ctx.now = ev.ts_us;
            if self.ctx.now >= self.ctx.next_due {
                self.run_expiry();
            }
        }
        match v4 {
            Some((k, src_is_a, h)) if INLINE_V4 => self.observe_v4(k, src_is_a, h, ev),
            Some((k, src_is_a, h)) => self.observe_v4_call(k, src_is_a, h, ev),
            None => {
                let to6 = |a: IpAddr| match a {
                    IpAddr::V4(v) => v.to_ipv6_mapped(),
                    IpAddr::V6(v) => v,
                };
                let (k, src_is_a) = V6Key::new(to6(ev.src), ev.src_port, to6(ev.dst), ev.dst_port);
                let found = self.v6.map.find(&k);
                if found.is_none() {
                    // Evicts other flows only: `k` stays absent.
                    self.make_room();
                }
                self.v6.observe(k, found, src_is_a, ev, &mut self.ctx);
            }
        }
        let n = self.len();
        if n > self.ctx.stats.peak_flows {
            self.ctx.stats.peak_flows = n;
        }
    }

    /// Feeds events in order: exactly the same as calling [`FlowTable::observe`] on each,
    /// but faster when the table is larger than the CPU caches (a SYN flood): the SYN
    /// cache lines of the next [`BATCH`] events are prefetched together before they are
    /// processed, so their cache misses overlap instead of coming one after another.
    /// Finished connections queue up; collect them with [`FlowTable::pop_finished`].
    ///
    /// ```
    /// use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};
    /// let s = "198.51.100.7".parse().unwrap();
    /// let evs: Vec<Event> = (0..100u32)
    ///     .map(|i| Event::new(i.into(), std::net::Ipv4Addr::from(i).into(), 4000, s, 80)
    ///         .with_flags(TcpFlags::SYN))
    ///     .collect();
    /// let mut t = FlowTable::new(Config { max_flows: 10, ..Config::default() });
    /// t.observe_batch(&evs);
    /// assert_eq!(t.len(), 10);
    /// assert_eq!(t.stats().evicted_half_open, 90);
    /// ```
    pub fn observe_batch(&mut self, evs: &[Event]) {
        // Each event's key and hash, computed once (look-ahead, then processing).
        let mut keys = [None; BATCH];
        let mut hs = [0u64; BATCH];
        for chunk in evs.chunks(BATCH) {
            for ((slot, h), ev) in keys.iter_mut().zip(&mut hs).zip(chunk) {
                *slot = self.v4_key(ev);
                *h = slot.map_or(0, |(_, _, h)| h);
            }
            // The prefetches alone, in a tight loop: the misses of the whole chunk are in
            // flight at once (an IPv6 event just prefetches bucket 0's lines).
            if self.syn.len() > 0 {
                for &h in hs.get(..chunk.len()).unwrap_or(&hs) {
                    self.syn.prefetch(h);
                }
            }
            for (&v4, ev) in keys.iter().zip(chunk) {
                self.observe_keyed::<false>(ev, v4);
            }
        }
    }

    /// [`FlowTable::observe_v4`] out of line.
    #[inline(never)]
    fn observe_v4_call(&mut self, k: V4Key, src_is_a: bool, h: u64, ev: &Event) {
        self.observe_v4(k, src_is_a, h, ev);
    }

    #[inline(always)]
    fn observe_v4(&mut self, k: V4Key, src_is_a: bool, h: u64, ev: &Event) {
        if self.syn.len() > 0 {
            if let Some(slot) = self.syn.find(&k, h) {
                let mut f = Flow::from_compact(&self.syn.get(slot));
                let is_orig = src_is_a == f.orig_is_a();
                f.update(is_orig, ev);
                // The compact form holds the originator's side only: anything from the
                // responder (a SYN-ACK, the usual case here) promotes the flow.
                debug_assert!(is_orig || f.compact().is_none());
                if let Some(c) = is_orig.then(|| f.compact()).flatten() {
                    self.syn.set(slot, c);
                } else {
                    // The handshake progressed (or anything else happened): promote.
                    self.syn.remove(slot);
                    self.ctx.gen_ = self.ctx.gen_.wrapping_add(1);
                    f.gen_ = self.ctx.gen_;
                    self.v4.adopt(k, f, &mut self.ctx);
                }
                return;
            }
        }
        if !self.v4.map.is_empty() {
            if let Some(id) = self.v4.map.find(&k) {
                self.v4.observe(k, Some(id), src_is_a, ev, &mut self.ctx);
                return;
            }
        }
        // A new flow. The common case under a flood, a bare SYN, goes straight to the SYN
        // cache in its compact form.
        if let Some(c) = CompactSyn::first_syn(ev, src_is_a) {
            self.ctx.gen_ = self.ctx.gen_.wrapping_add(1);
            self.ctx.stats.flows_created += 1;
            if self.insert_syn(k, h, &c) {
                return;
            }
            let mut f = Flow::from_compact(&c);
            f.gen_ = self.ctx.gen_;
            self.make_room();
            self.v4.adopt(k, f, &mut self.ctx);
            return;
        }
        let bare_syn = ev
            .flags
            .is_some_and(|f| f.syn() && !f.ack() && !f.fin() && !f.rst())
            && ev.tcp_checksum_ok != Some(false);
        if !bare_syn {
            // Not in the map (looked up above), and making room evicts other flows only.
            self.make_room();
            self.v4.observe(k, None, src_is_a, ev, &mut self.ctx);
            return;
        }
        let mut f = new_flow(&k, src_is_a, ev, &mut self.ctx);
        f.update(src_is_a == f.orig_is_a(), ev);
        if let Some(c) = f.compact() {
            if self.insert_syn(k, h, &c) {
                return;
            }
        }
        // Not compact, or its bucket is full while the table is not: the hash map.
        self.make_room();
        self.v4.adopt(k, f, &mut self.ctx);
    }

    /// Puts a new half-open flow in the SYN cache; false when its bucket is full and the
    /// table is not (the flow then goes to the hash map).
    #[inline]
    fn insert_syn(&mut self, k: V4Key, h: u64, c: &CompactSyn) -> bool {
        self.syn.maybe_grow();
        let (free, oldest, occupied) = self.syn.scan(h);
        if self.len() >= self.ctx.cfg.max_flows.max(1) {
            // Full. If the bucket has room and attempts overflowed into the hash map while
            // the table filled, evict the oldest of those (it drains the map, whose probe
            // every SYN pays); otherwise replace the oldest attempt of this bucket, O(1),
            // like a kernel SYN cache.
            if free.is_none() || !self.v4.evict_attempt(&mut self.ctx) {
                match oldest {
                    Some(slot) => {
                        let out = &mut self.ctx.out;
                        let d = self.syn.replace(slot, occupied, h, k, c, |ok, oc| {
                            out.push_syn(ok, oc, EndReason::Evicted);
                        });
                        self.ctx.stats.evicted_half_open += 1;
                        self.ctx.due_at(d);
                        return true;
                    }
                    None => self.make_room(),
                }
            }
        }
        match free {
            Some(slot) => {
                let d = self.syn.insert(slot, occupied, h, k, c);
                self.ctx.due_at(d);
                true
            }
            None => false,
        }
    }

    fn evict_syn(&mut self, slot: usize) {
        let (k, c) = self.syn.remove(slot);
        self.ctx.stats.evicted_half_open += 1;
        self.ctx.out.push_syn(&k, &c, EndReason::Evicted);
    }

    fn evict_any_syn(&mut self) -> bool {
        match self.syn.any_victim() {
            Some(slot) => {
                self.evict_syn(slot);
                true
            }
            None => false,
        }
    }

    fn make_room(&mut self) {
        let cap = self.ctx.cfg.max_flows.max(1);
        while self.len() >= cap {
            let done = self.v4.evict_attempt(&mut self.ctx)
                || self.v6.evict_attempt(&mut self.ctx)
                || self.evict_any_syn()
                || self.v4.evict_other(&mut self.ctx)
                || self.v6.evict_other(&mut self.ctx);
            if !done {
                break;
            }
        }
    }

    fn run_expiry(&mut self) {
        let now = self.ctx.now;
        self.ctx.next_due = i64::MAX;
        if now >= self.syn.next_due {
            let mut due = Vec::new();
            self.syn.sweep(now, &mut due);
            due.sort_unstable_by_key(|(k, c)| (c.start_us(), *k));
            for (k, c) in due {
                self.ctx.stats.timed_out += 1;
                self.ctx.out.push_syn(&k, &c, EndReason::Timeout);
            }
        }
        self.ctx.due_at(self.syn.next_due);
        self.v4.expire(&mut self.ctx);
        self.v6.expire(&mut self.ctx);
    }

    /// Ends every connection whose timeout has passed at `now_us` (also done
    /// automatically as events arrive).
    pub fn expire(&mut self, now_us: i64) {
        if now_us > self.ctx.now {
            self.ctx.now = now_us;
        }
        self.run_expiry();
    }

    /// The next connection that ended, in the order they ended.
    pub fn pop_finished(&mut self) -> Option<Connection> {
        self.ctx.out.pop()
    }

    /// Takes every connection that ended so far, in order, handing each to `f` by
    /// reference; returns how many. The same as a [`FlowTable::pop_finished`] loop, without
    /// moving each 192-byte [`Connection`] out (under a flood, millions per second).
    ///
    /// ```
    /// use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};
    /// let s = "198.51.100.7".parse().unwrap();
    /// let mut t = FlowTable::new(Config { max_flows: 2, ..Config::default() });
    /// for i in 0..5u32 {
    ///     let c = std::net::Ipv4Addr::from(0x0a00_0000 + i).into();
    ///     t.observe(&Event::new(i.into(), c, 40000, s, 80).with_flags(TcpFlags::SYN));
    /// }
    /// let mut sources = Vec::new();
    /// assert_eq!(t.drain_finished(|c| sources.push(c.orig.ip())), 3);
    /// assert_eq!(sources[0].to_string(), "10.0.0.0");
    /// ```
    pub fn drain_finished(&mut self, f: impl FnMut(&Connection)) -> usize {
        self.ctx.out.drain_with(f)
    }

    /// Ends every remaining connection (end of input, [`EndReason::EndOfInput`], ordered
    /// by start time); collect them with [`FlowTable::pop_finished`].
    pub fn finish(&mut self) {
        let mut ended = Vec::new();
        self.end_remaining(|c| ended.push(c.clone()));
        for c in ended {
            self.ctx.out.push(c);
        }
    }

    /// Ends every remaining connection as [`FlowTable::finish`] does and hands each to `f`
    /// in the same order, after the connections already queued; returns how many were
    /// handed over. Nothing is copied out whole: a full table ends with one 16-byte sort key
    /// per flow, where `finish` queues every connection at its full size.
    ///
    /// ```
    /// use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};
    /// let s = "198.51.100.7".parse().unwrap();
    /// let mut t = FlowTable::new(Config::default());
    /// for (i, c) in ["192.0.2.9", "192.0.2.1"].iter().enumerate() {
    ///     let ev = Event::new(i as i64, c.parse().unwrap(), 40000, s, 80);
    ///     t.observe(&ev.with_flags(TcpFlags::SYN));
    /// }
    /// let mut ended = Vec::new();
    /// assert_eq!(t.finish_with(|c| ended.push(c.orig.ip().to_string())), 2);
    /// assert_eq!(ended, ["192.0.2.9", "192.0.2.1"]);
    /// assert!(t.is_empty());
    /// ```
    pub fn finish_with(&mut self, mut f: impl FnMut(&Connection)) -> usize {
        self.drain_finished(&mut f) + self.end_remaining(f)
    }

    /// Ends every flow still in the table, handing each to `f` in the end-of-input order
    /// (by start time, then originator and responder); returns how many.
    fn end_remaining(&mut self, mut f: impl FnMut(&Connection)) -> usize {
        let mut cached = Vec::with_capacity(self.syn.len());
        self.syn.drain(&mut cached);
        let left = Remaining {
            v4: (&self.v4.map, self.v4.map.iter().map(|(id, _)| id).collect()),
            cached: &cached,
            v6: (&self.v6.map, self.v6.map.iter().map(|(id, _)| id).collect()),
        };
        let mut ended = 0;
        for c in left
            .end_of_input_order()
            .into_iter()
            .filter_map(|i| left.connection(i))
        {
            f(&c);
            ended += 1;
        }
        self.ctx.stats.ended_at_finish += ended as u64;
        self.v4.clear();
        self.v6.clear();
        ended
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.ctx.stats
    }

    /// Connections currently tracked.
    pub fn len(&self) -> usize {
        self.syn.len() + self.v4.map.len() + self.v6.map.len()
    }

    /// True when no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap memory held by the table's structures (maps, queues), in bytes.
    pub fn memory_bytes(&self) -> usize {
        self.syn.memory_bytes() + self.v4.memory_bytes() + self.v6.memory_bytes()
    }

    /// Size of one slot of the SYN cache, where IPv4 flows that have only sent bare SYNs
    /// are kept (key, insertion stamp and compact state), in bytes.
    pub fn syn_cache_slot_bytes() -> usize {
        SynCache::slot_bytes()
    }

    /// Slots allocated in the SYN cache (grows by doubling up to the power of two at or
    /// above [`Config::max_flows`], never beyond).
    pub fn syn_cache_capacity(&self) -> usize {
        self.syn.capacity()
    }

    /// Flows currently held in the SYN cache (half-open IPv4 attempts), part of
    /// [`FlowTable::len`].
    pub fn syn_cache_len(&self) -> usize {
        self.syn.len()
    }

    /// Size of one tracked IPv4 flow's slot (key and state) in the flow map, in bytes
    /// (116); its hash index adds 4 bytes and a control byte per bucket (5-12 bytes per
    /// flow, depending on the load), and a flow in its handshake or closing 16 bytes in the
    /// timer queue (an established flow has no timer entry until its idle timeout is near).
    pub fn ipv4_slot_bytes() -> usize {
        std::mem::size_of::<(V4Key, Flow)>()
    }
}

/// The flows left at the end of the input, read where they are (the maps with the ids of their
/// live entries; the SYN cache's entries copied out). Their order of record: the IPv4 flows,
/// then the SYN cache's entries, then the IPv6 flows.
struct Remaining<'a> {
    v4: (&'a FlowMap<V4Key, Flow>, Vec<u32>),
    cached: &'a [(V4Key, CompactSyn)],
    v6: (&'a FlowMap<V6Key, Flow>, Vec<u32>),
}

/// One remaining flow, as it is stored.
enum Stored<'a> {
    V4(&'a (V4Key, Flow)),
    Cached(&'a (V4Key, CompactSyn)),
    V6(&'a (V6Key, Flow)),
}

impl Remaining<'_> {
    fn len(&self) -> usize {
        self.v4.1.len() + self.cached.len() + self.v6.1.len()
    }

    /// The `i`-th flow of record.
    fn stored(&self, i: usize) -> Option<Stored<'_>> {
        let (n4, nc) = (self.v4.1.len(), self.cached.len());
        if i < n4 {
            self.v4.0.entry(self.v4.1[i]).map(Stored::V4)
        } else if i < n4 + nc {
            self.cached.get(i - n4).map(Stored::Cached)
        } else {
            let id = *self.v6.1.get(i - n4 - nc)?;
            self.v6.0.entry(id).map(Stored::V6)
        }
    }

    /// Start time and (originator, responder) of the `i`-th flow of record.
    fn start_and_ends(&self, i: usize) -> (i64, (SocketAddr, SocketAddr)) {
        let ends = |(a, b): (SocketAddr, SocketAddr), orig_is_a: bool| {
            if orig_is_a { (a, b) } else { (b, a) }
        };
        match self.stored(i) {
            Some(Stored::V4((k, f))) => (f.start_us(), ends(k.endpoints(), f.orig_is_a())),
            Some(Stored::Cached((k, c))) => (c.start_us(), ends(k.endpoints(), c.orig_is_a())),
            Some(Stored::V6((k, f))) => (f.start_us(), ends(k.endpoints(), f.orig_is_a())),
            None => {
                let none = SocketAddr::from(([0; 4], 0));
                (i64::MAX, (none, none))
            }
        }
    }

    /// The `i`-th flow of record as a connection ended by the end of the input.
    fn connection(&self, i: usize) -> Option<Connection> {
        let end = EndReason::EndOfInput;
        Some(match self.stored(i)? {
            Stored::V4((k, f)) => connection(k, f, end),
            Stored::Cached((k, c)) => compact_connection(k, c, end),
            Stored::V6((k, f)) => connection(k, f, end),
        })
    }

    /// By start time, then originator and responder, then the order of record (sorting
    /// 16-byte keys: the addresses are looked up only to break ties).
    fn end_of_input_order(&self) -> Vec<usize> {
        let mut order: Vec<(i64, u32)> = (0..self.len())
            .map(|i| (self.start_and_ends(i).0, i as u32))
            .collect();
        order.sort_unstable_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| {
                    let ends = |i: u32| self.start_and_ends(i as usize).1;
                    ends(a.1).cmp(&ends(b.1))
                })
                .then(a.1.cmp(&b.1))
        });
        order.into_iter().map(|(_, i)| i as usize).collect()
    }
}

#[cfg(test)]
mod finish_order_tests {
    use std::net::{IpAddr, Ipv4Addr};

    use proptest::prelude::*;

    use crate::{Config, Event, FlowTable, TcpFlags};

    fn table(conns: &[(i64, u8, u16, bool)]) -> FlowTable {
        let mut t = FlowTable::new(Config::default());
        for (ts, host, port, syn) in conns {
            let src = IpAddr::V4(Ipv4Addr::new(10, 0, 0, *host));
            let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
            let flags = if *syn { TcpFlags::SYN } else { TcpFlags::ACK };
            t.observe(&Event::new(*ts, src, 1000 + port, dst, 80).with_flags(flags));
        }
        t
    }

    proptest! {
        /// Flows of the SYN cache and of the flow map alike end in the order of a sort by
        /// (start, originator, responder), and `finish` queues what `finish_with` hands over.
        #[test]
        fn is_the_sort_by_start_and_addresses(
            conns in proptest::collection::vec((0i64..4, 0u8..3, 0u16..3, any::<bool>()), 0..60),
        ) {
            let mut streamed = Vec::new();
            let n = table(&conns).finish_with(|c| streamed.push(c.clone()));
            prop_assert_eq!(n, streamed.len());
            let key = |c: &crate::Connection| (c.start_us, c.orig, c.resp);
            prop_assert!(streamed.windows(2).all(|w| key(&w[0]) < key(&w[1])));
            let mut queued = Vec::new();
            let mut t = table(&conns);
            t.finish();
            t.drain_finished(|c| queued.push(c.clone()));
            prop_assert_eq!(queued, streamed);
        }
    }
}

#[cfg(test)]
mod compact_tests {
    use std::net::{IpAddr, Ipv4Addr};

    use proptest::prelude::*;

    use super::connection;
    use crate::finished::compact_connection;
    use crate::flow::{CompactSyn, Flow};
    use crate::key::V4Key;
    use crate::{ConnState, Connection, EndReason, Event, TcpFlags};

    fn event(
        ts: i64,
        flags: Option<u8>,
        len: Option<u32>,
        seq: Option<u32>,
        window: Option<u16>,
        ttl: Option<u8>,
        csum: Option<bool>,
    ) -> Event {
        let mut e = Event::new(
            ts,
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)),
            40000,
            IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
            80,
        );
        e.flags = flags.map(TcpFlags);
        e.payload_len = len;
        e.seq = seq;
        e.window = window;
        e.ttl = ttl;
        e.tcp_checksum_ok = csum;
        e.ip_id = seq.map(|s| s >> 8);
        e
    }

    fn arb_event() -> impl Strategy<Value = Event> {
        (
            0i64..10_000_000,
            prop_oneof![
                Just(None),
                Just(Some(0x02u8)),
                Just(Some(0xc2)),
                any::<u8>().prop_map(Some)
            ],
            prop_oneof![Just(None), Just(Some(0u32)), (0u32..3).prop_map(Some)],
            proptest::option::of(any::<u32>()),
            proptest::option::of(prop_oneof![Just(0u16), any::<u16>()]),
            proptest::option::of(any::<u8>()),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(ts, f, l, s, w, t, c)| event(ts, f, l, s, w, t, c))
    }

    /// The sizes the memory budget (<= 128 bytes per tracked flow, index included) rests on.
    #[test]
    fn flow_sizes() {
        use std::mem::size_of;
        assert_eq!(size_of::<crate::flow::Side>(), 24);
        assert_eq!(size_of::<Flow>(), 104);
        assert_eq!(size_of::<(V4Key, Flow)>(), 116);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The direct SYN path computes exactly what the general path computes.
        #[test]
        fn first_syn_is_the_general_path(ev in arb_event(), orig_is_a in any::<bool>()) {
            let mut f = Flow::new(ev.ts_us, orig_is_a, 0);
            f.update(true, &ev);
            if let Some(c) = CompactSyn::first_syn(&ev, orig_is_a) {
                prop_assert_eq!(Some(c), f.compact());
            }
        }

        /// The fast path of a compact connection (one `S`, a SYN-SENT originator: a
        /// flood's attempts) reports what the general path reports for the same flow.
        #[test]
        fn lone_syn_fast_path_is_the_general_path(
            ev in arb_event(),
            orig_is_a in any::<bool>(),
            again in proptest::option::of(arb_event()),
        ) {
            let mut ev = ev;
            ev.flags = Some(TcpFlags::SYN);
            let (k, _) = V4Key::new(
                Ipv4Addr::new(203, 0, 113, 9), 40000, Ipv4Addr::new(192, 0, 2, 10), 80);
            if let Some(c) = CompactSyn::first_syn(&ev, orig_is_a) {
                let conn = compact_connection(&k, &c, EndReason::Evicted);
                prop_assert_eq!(conn.history.as_str(), "S");
                prop_assert_eq!(conn.state, ConnState::S0);
                prop_assert_eq!(
                    &conn, &connection(&k, &Flow::from_compact(&c), EndReason::Evicted));
                // A retransmission (or anything else that stays compact) too.
                if let Some(mut e2) = again {
                    e2.ts_us = e2.ts_us.max(ev.ts_us);
                    let mut f = Flow::from_compact(&c);
                    f.update(true, &e2);
                    if let Some(c2) = f.compact() {
                        prop_assert_eq!(
                            compact_connection(&k, &c2, EndReason::Timeout),
                            connection(&k, &Flow::from_compact(&c2), EndReason::Timeout)
                        );
                    }
                }
            }
        }

        /// A SYN-cache entry reports the same connection as its flow would, whatever
        /// sequence of originator events made it.
        #[test]
        fn compact_connection_is_the_flow_connection(
            evs in proptest::collection::vec(arb_event(), 1..6),
            orig_is_a in any::<bool>(),
        ) {
            let mut f = Flow::new(evs[0].ts_us, orig_is_a, 0);
            let (k, _) = V4Key::new(
                Ipv4Addr::new(203, 0, 113, 9), 40000, Ipv4Addr::new(192, 0, 2, 10), 80);
            // What `drain_finished` overwrites in place: the previous record's connection.
            let mut scratch: Option<Connection> = None;
            for ev in &evs {
                f.update(true, ev);
                if let Some(c) = f.compact() {
                    for end in [EndReason::Evicted, EndReason::Timeout, EndReason::EndOfInput] {
                        let want = connection(&k, &Flow::from_compact(&c), end);
                        prop_assert_eq!(&compact_connection(&k, &c, end), &want);
                        let dirty = scratch.get_or_insert_with(|| connection(&k, &f, end));
                        c.write_connection(want.orig, want.resp, end, dirty);
                        prop_assert_eq!(&*dirty, &want);
                    }
                }
                // A flow that is not compact any more leaves other values behind.
                scratch = Some(connection(&k, &f, EndReason::Closed));
            }
        }
    }
}

#[cfg(test)]
mod batch_tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use crate::{Config, Event, FlowTable, TcpFlags};

    /// (host, to the server, port, flags, seq + payload known, IPv6, time step, late)
    type Raw = (u8, bool, u8, Option<u8>, bool, bool, u8, bool);

    fn event(i: usize, r: &Raw) -> Event {
        let &(host, out, port, flags, pkt, v6, step, late) = r;
        let (c, s) = if v6 {
            (
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host))),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1)),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)),
                IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)),
            )
        };
        let ts = i as i64 * 100_000 * i64::from(step) - if late { 150_000 } else { 0 };
        let cp = 40000 + u16::from(port);
        let mut e = if out {
            Event::new(ts, c, cp, s, 80)
        } else {
            Event::new(ts, s, 80, c, cp)
        };
        e.flags = flags.map(TcpFlags);
        if pkt {
            e.seq = Some((i as u32).wrapping_mul(2_654_435_761));
            e.payload_len = Some(u32::from(host % 3) * 100);
        }
        e
    }

    fn arb_raw() -> impl Strategy<Value = Raw> {
        (
            0u8..8,
            any::<bool>(),
            0u8..4,
            prop_oneof![
                Just(Some(0x02u8)),
                Just(Some(0x12)),
                Just(Some(0x10)),
                proptest::option::of(any::<u8>())
            ],
            any::<bool>(),
            prop::bool::weighted(0.2),
            0u8..4,
            prop::bool::weighted(0.1),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `observe_batch` is exactly `observe` on each event in turn, whatever the mix:
        /// IPv6 and IPv4 flows, evictions and timeouts inside a batch, late events; and
        /// `drain_finished` hands over what a `pop_finished` loop would.
        #[test]
        fn batch_is_one_by_one(
            raws in proptest::collection::vec(arb_raw(), 0..150),
            cap in 1usize..24,
            split in 0usize..150,
        ) {
            let evs: Vec<Event> = raws.iter().enumerate().map(|(i, r)| event(i, r)).collect();
            let cfg = Config { max_flows: cap, syn_timeout_us: 1_000_000, ..Config::default() };
            let mut one = FlowTable::new(cfg);
            let mut batch = FlowTable::new(cfg);
            // The same hash keys: flows land in the same SYN-cache buckets.
            batch.syn.copy_seeds(&one.syn);
            let mut want = Vec::new();
            for e in &evs {
                one.observe(e);
                want.extend(std::iter::from_fn(|| one.pop_finished()));
            }
            one.finish();
            want.extend(std::iter::from_fn(|| one.pop_finished()));
            let mut got = Vec::new();
            let split = split.min(evs.len());
            batch.observe_batch(&evs[..split]);
            batch.drain_finished(|c| got.push(c.clone()));
            batch.observe_batch(&evs[split..]);
            batch.finish();
            let n = batch.drain_finished(|c| got.push(c.clone()));
            prop_assert!(n <= got.len());
            prop_assert_eq!(want, got);
            prop_assert_eq!(one.stats(), batch.stats());
        }
    }
}
