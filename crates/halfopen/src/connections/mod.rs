//! Firewall logs and captures -> connections, streamed.
//!
//! Each input is read on its own thread ([`source`]): its format detected from its first
//! lines, its lines parsed into TCP events ([`line`]; past the form's decision, on worker
//! threads when there are cores for them: [`parallel`]), its form decided after its first
//! lines ([`crate::evidence::decide`]). This thread merges the inputs' events in time order (two
//! servers' logs of the same hours, rotated files one after the other) into one bounded
//! `halfopen_tcp::FlowTable` per kind (captures, firewall logs), and hands each connection
//! that ends to a [`ConnSink`], with its input's form, in the order they end. A connection seen
//! by a capture and a firewall log (the same traffic twice) is handed once, from the capture
//! ([`Dedup`]). Kernel messages about SYN floods found among the lines are kept as
//! server-level evidence.

mod channel;
mod line;
mod parallel;
mod source;

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use chrono::{DateTime, Utc};

use halfopen_fwlog::Format;
use halfopen_fwlog::kernel::KernelEvent;
use halfopen_tcp::prefix::{PrefixConfig, PrefixStore};
use halfopen_tcp::{Connection, FlowTable};

use crate::clock::Zone;
use crate::evidence::{ConnTally, FormTally, InputForm, Shows};
use crate::facts::{ConnFacts, Payload};
use crate::input::{self, LineCounts, Sample, Skipped};

pub use channel::EVENT_BATCH;
use channel::Msg;
pub use parallel::Workers;

/// A firewall log or a capture to read.
pub struct PacketInput {
    /// Name as given.
    pub name: String,
    /// A capture (true) or a firewall log.
    pub capture: bool,
    /// The bytes (gzip detected).
    pub reader: Box<dyn Read + Send>,
    /// The file's modification time (year inference).
    pub mtime: Option<DateTime<Utc>>,
}

/// A kernel message about a listener under a SYN flood.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KernelNote {
    /// When, µs (syslog stamp).
    pub ts_us: i64,
    /// What it said.
    #[serde(flatten)]
    pub what: KernelNoteKind,
}

/// What a kernel message said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KernelNoteKind {
    /// Linux: "Possible SYN flooding on port A:P. Sending cookies / Dropping request."
    SynFlooding {
        /// Listening address, when printed.
        addr: Option<IpAddr>,
        /// Port.
        port: u16,
        /// Syncookies answered the excess.
        cookies: bool,
    },
    /// FreeBSD: "sonewconn: ... Listen queue overflow: N already in queue".
    ListenQueueOverflow {
        /// Listening address and port, when printed.
        local: Option<SocketAddr>,
        /// Connections queued.
        queued: Option<u32>,
        /// Occurrences summarised.
        occurrences: Option<u32>,
    },
}

impl From<KernelEvent> for KernelNoteKind {
    fn from(e: KernelEvent) -> Self {
        match e {
            KernelEvent::SynFlooding {
                addr,
                port,
                cookies,
            } => KernelNoteKind::SynFlooding {
                addr,
                port,
                cookies,
            },
            KernelEvent::ListenQueueOverflow {
                local,
                queued,
                occurrences,
            } => KernelNoteKind::ListenQueueOverflow {
                local: local.map(|(a, p)| SocketAddr::new(a, p)),
                queued,
                occurrences,
            },
        }
    }
}

/// What was read from one firewall log or capture.
#[derive(Debug, Clone, Default)]
pub struct InputRead {
    /// Name as given.
    pub name: String,
    /// A capture.
    pub capture: bool,
    /// Detected format (`ipfw`, `netfilter`, ...; `None` for a capture or an unknown one).
    pub format: Option<Format>,
    /// Line (packet) counts.
    pub counts: LineCounts,
    /// Lines that parse as another firewall format than the detected one.
    pub other_format: u64,
    /// Tallies of its TCP lines.
    pub tally: FormTally,
    /// Tallies of the connections it made.
    pub conn_tally: ConnTally,
    /// First and last event times, µs.
    pub span: Option<(i64, i64)>,
    /// Capture reader counters (frames of unsupported link types...).
    pub capture_stats: Option<halfopen_tcp::pcap::ReaderStats>,
    /// Why the input could not be used at all, if so.
    pub unusable: Option<String>,
    /// The year inferred for its year-less stamps, if one was.
    pub inferred_year: Option<i32>,
    /// A stamp without an offset was read in the zone given or assumed.
    pub zone_used: bool,
    /// Its kernel messages (the first ones).
    pub kernel: Vec<KernelNote>,
    /// Its kernel messages, all counted.
    pub kernel_total: u64,
    /// Its skipped lines.
    pub skipped: Skipped,
    /// Parts of its lines a parsing thread read from a year state the parts before them then
    /// changed (the months went back and forth within the parts in flight), parsed again by
    /// its reading thread: the cost of parsing on threads, not a change in what was read.
    pub parsed_again: u64,
}

/// Everything read from the firewall logs and captures, but the connections (handed to the
/// sink as they ended).
#[derive(Debug, Default)]
pub struct PacketsRead {
    /// One per input, in input order.
    pub inputs: Vec<InputRead>,
    /// What each input shows, in input order.
    pub forms: Vec<InputForm>,
    /// Kernel messages, all inputs.
    pub kernel: Vec<KernelNote>,
    /// Skipped lines, all inputs.
    pub skipped: Skipped,
    /// Table counters summed over the tables.
    pub table: halfopen_tcp::Stats,
    /// Connections seen by a capture and a firewall log, handed once.
    pub merged: u64,
    /// Peak memory of the flow tables, bytes.
    pub table_bytes: usize,
    /// The first-bytes store's counters (captures, when kept).
    pub prefix: Option<halfopen_tcp::prefix::PrefixStats>,
}

/// Where connections go as they end.
pub trait ConnSink {
    /// What input `input` shows, once decided (before any of its connections).
    fn form(&mut self, input: usize, form: &InputForm);
    /// A connection that ended, its input's form applied.
    fn connection(&mut self, c: ConnFacts);
    /// Every connection that ended before the firewall time `fw_now` has been handed.
    fn tick(&mut self, fw_now: i64);
    /// The firewall inputs have ended: the connections still open come next, all at once and
    /// in no order of time.
    fn input_ended(&mut self) {}
}

/// How to read the firewall inputs.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// The flow table.
    pub tcp: halfopen_tcp::Config,
    /// Longest line.
    pub max_line_len: usize,
    /// Skipped lines kept.
    pub max_skipped_kept: usize,
    /// `--year`.
    pub year: Option<i32>,
    /// Zone of zone-less stamps.
    pub zone: Zone,
    /// The access log's first time (year inference reference), µs.
    pub access_hint_us: Option<i64>,
    /// Reference time when nothing else gives one.
    pub now: Option<DateTime<Utc>>,
    /// What the firewall inputs show, when the user says it.
    pub firewall_shows: Option<Shows>,
    /// Keep each capture connection's first bytes (`None`: do not).
    pub prefix: Option<PrefixConfig>,
    /// Quote the first bytes whole (escaped) rather than the method, path and header names.
    pub show_payload: bool,
    /// Worker threads for a firewall log's lines past its form's decision (the answer is
    /// the same with or without them).
    pub workers: Workers,
}

/// Detects the firewall format that parses most lines of a sample.
pub fn detect_firewall(sample: &Sample) -> Option<Format> {
    let mut best: Option<(usize, Format)> = None;
    for f in Format::ALL {
        let n = input::sample_lines(sample)
            .filter(|b| halfopen_fwlog::parse_line(f, b).is_ok())
            .count();
        if n > 0 && best.is_none_or(|(m, _)| n > m) {
            best = Some((n, f));
        }
    }
    best.map(|(_, f)| f)
}

/// One input being read: its channel, its next batch, its form and the connections that
/// ended before its form was known.
struct Reader {
    rx: Receiver<Msg>,
    /// Used batches back to the reading thread, to be filled again.
    spare: SyncSender<channel::Batch>,
    head: Option<channel::Batch>,
    form: Option<InputForm>,
    pending: Vec<ConnFacts>,
    done: Option<Box<InputRead>>,
    capture: bool,
    conn_tally: ConnTally,
    /// The sink was told the form.
    form_told: bool,
}

impl Reader {
    /// Waits for the next batch (taking the form and the end on the way).
    fn fill(&mut self) {
        while self.head.is_none() && self.done.is_none() {
            match self.rx.recv() {
                Ok(Msg::Events(b)) if b.events.is_empty() => {}
                Ok(Msg::Events(b)) => self.head = Some(b),
                Ok(Msg::Form(f)) => self.form = Some(f),
                Ok(Msg::Done(r)) => self.done = Some(r),
                Err(_) => self.done = Some(Box::default()),
            }
        }
    }

    fn head_time(&self) -> Option<i64> {
        self.head
            .as_ref()
            .and_then(|b| b.events.first())
            .map(|e| e.ts_us)
    }
}

/// Used batches that may wait for their reading thread to fill them again. It takes one back
/// for each batch it sends, so a few are enough; one that finds the channel full is dropped.
const SPARE_BATCHES: usize = 4;

/// Reads every input, handing each connection to `sink` as it ends.
pub fn read(inputs: Vec<PacketInput>, opts: &ReadOptions, sink: &mut impl ConnSink) -> PacketsRead {
    let captures: Vec<bool> = inputs.iter().map(|p| p.capture).collect();
    let both = captures.contains(&true) && captures.contains(&false);
    let mut out = PacketsRead {
        skipped: Skipped::new(opts.max_skipped_kept),
        ..PacketsRead::default()
    };
    std::thread::scope(|s| {
        let mut readers: Vec<Reader> = Vec::with_capacity(inputs.len());
        for p in inputs {
            let (tx, rx) = sync_channel::<Msg>(4);
            let (spare, spare_rx) = sync_channel::<channel::Batch>(SPARE_BATCHES);
            let capture = p.capture;
            let link = channel::Link {
                tx,
                spare: spare_rx,
            };
            s.spawn(move || source::read(p, opts, &link));
            readers.push(Reader {
                rx,
                spare,
                head: None,
                form: None,
                pending: Vec::new(),
                done: None,
                capture,
                conn_tally: ConnTally::default(),
                form_told: false,
            });
        }
        let mut tracker = Tracker {
            tables: [None, None],
            last: [i64::MIN, i64::MIN],
            last_input: [0, 0],
            fw_now: i64::MIN,
            dedup: Dedup::new(both, &opts.tcp),
            cfg: opts.tcp,
            peak_bytes: 0,
            prefix: opts.prefix.map(PrefixStore::new),
            show_payload: opts.show_payload,
            ended: (Vec::new(), Vec::new()),
        };
        tracker.run(&mut readers, &captures, sink);
        tracker.finish(&mut readers, &captures, sink);
        out.table = tracker.stats();
        out.table_bytes = tracker.peak_bytes;
        out.merged = tracker.dedup.merged;
        out.prefix = tracker.prefix.as_ref().map(|p| *p.stats());
        for r in readers {
            let mut read = r.done.map(|b| *b).unwrap_or_default();
            read.conn_tally = r.conn_tally;
            read.capture = r.capture;
            out.kernel.extend(read.kernel.iter().copied());
            out.skipped.merge(std::mem::take(&mut read.skipped));
            out.forms.push(r.form.unwrap_or_else(InputForm::capture));
            out.inputs.push(read);
        }
    });
    out
}

/// The merge loop's state: one table per kind (0: firewall logs, 1: captures).
struct Tracker {
    tables: [Option<FlowTable>; 2],
    last: [i64; 2],
    last_input: [usize; 2],
    fw_now: i64,
    dedup: Dedup,
    cfg: halfopen_tcp::Config,
    peak_bytes: usize,
    /// The first bytes of capture connections.
    prefix: Option<PrefixStore>,
    show_payload: bool,
    /// The connections that ended in one batch, and the order they are routed in.
    ended: (Vec<Connection>, Vec<(i64, i64, u32)>),
}

/// The order to route the connections that ended in one batch: by end, start and endpoints.
/// The table hands them in timer order, whose ties fall to slot numbers, which depend on the
/// table's random hash seeds; this order depends on the connections only. The times are
/// compared as integers, the endpoints only between connections of the same end and start.
fn ended_order(ended: &[Connection], order: &mut Vec<(i64, i64, u32)>) {
    order.clear();
    order.extend(
        ended
            .iter()
            .enumerate()
            .map(|(i, c)| (c.end_us, c.start_us, u32::try_from(i).unwrap_or(u32::MAX))),
    );
    let endpoints = |i: u32| ended.get(i as usize).map(|c| (c.orig, c.resp));
    order.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| endpoints(a.2).cmp(&endpoints(b.2)))
    });
}

impl Tracker {
    fn run(&mut self, readers: &mut [Reader], captures: &[bool], sink: &mut impl ConnSink) {
        loop {
            for r in readers.iter_mut() {
                r.fill();
            }
            self.flush_forms(readers, captures, sink);
            let next = readers
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.head_time().map(|t| (t, i)))
                .min();
            let Some((_, i)) = next else { break };
            let Some(batch) = readers.get_mut(i).and_then(|r| r.head.take()) else {
                break;
            };
            let kind = usize::from(captures.get(i).copied().unwrap_or(false));
            let cfg = self.cfg;
            let mut table = self.tables[kind]
                .take()
                .unwrap_or_else(|| FlowTable::new(cfg));
            table.observe_batch(&batch.events);
            self.peak_bytes = self.peak_bytes.max(table.memory_bytes());
            if let Some(store) = self.prefix.as_mut().filter(|_| kind == 1) {
                for (n, ev) in batch.events.iter().enumerate() {
                    store.observe(ev, batch.payload(n));
                }
            }
            if let Some(t) = batch.events.iter().map(|e| e.ts_us).max() {
                self.last[kind] = self.last[kind].max(t);
                self.fw_now = self.fw_now.max(t);
            }
            self.last_input[kind] = i;
            // The table is out of `self` while its connections are routed.
            let (mut ended, mut order) = std::mem::take(&mut self.ended);
            table.drain_finished(|c: &Connection| ended.push(c.clone()));
            ended_order(&ended, &mut order);
            for &(_, _, k) in &order {
                if let Some(c) = ended.get(k as usize) {
                    self.route(readers, captures, i, c, false, sink);
                }
            }
            ended.clear();
            self.ended = (ended, order);
            self.tables[kind] = Some(table);
            if let Some(r) = readers.get(i) {
                // A full return channel (or a reader gone) drops the batch.
                let _ = r.spare.try_send(batch);
            }
            self.flush_forms(readers, captures, sink);
            self.dedup.tick(self.fw_now, sink);
            sink.tick(self.fw_now);
        }
    }

    /// Ends every connection still open, table by table.
    fn finish(&mut self, readers: &mut [Reader], captures: &[bool], sink: &mut impl ConnSink) {
        sink.input_ended();
        for kind in 0..2 {
            let Some(mut table) = self.tables[kind].take() else {
                continue;
            };
            let last = self.last[kind];
            let i = self.last_input[kind];
            // One connection at a time: a full table holds up to the budget's flow share, and
            // a copy of it all at once would double that.
            table.finish_with(|c: &Connection| {
                let grace = last.saturating_sub(c.end_us) < LOG_END_GRACE_US;
                self.route(readers, captures, i, c, grace, sink);
            });
            self.tables[kind] = Some(table);
        }
        for r in readers.iter_mut() {
            if r.form.is_none() {
                r.form = Some(InputForm::capture());
            }
        }
        self.flush_forms(readers, captures, sink);
        self.dedup.finish(sink);
        sink.tick(self.fw_now);
    }

    /// A connection that ended while input `i` was read: counted in `i`'s tallies, handed on
    /// with `i`'s form (or kept until that form is known).
    fn route(
        &mut self,
        readers: &mut [Reader],
        captures: &[bool],
        i: usize,
        c: &Connection,
        cut_off: bool,
        sink: &mut impl ConnSink,
    ) {
        let Some(r) = readers.get_mut(i) else { return };
        r.conn_tally.add(c);
        let mut f = ConnFacts::from_connection(
            c,
            u16::try_from(i).unwrap_or(u16::MAX),
            Shows::EveryPacket,
            true,
        );
        if r.capture {
            if let Some(store) = self.prefix.as_mut() {
                f.payload = store
                    .take(c.orig, c.resp)
                    .map(|p| Box::new(Payload::of(&p, self.show_payload)));
            }
        }
        if cut_off {
            mark_log_ended(
                std::slice::from_mut(&mut f),
                self.last[usize::from(r.capture)],
            );
        }
        match &r.form {
            Some(form) if r.form_told => {
                f.shows = form.shows;
                f.flags = form.flags;
                self.dedup.push(f, captures, self.fw_now, sink);
            }
            _ => r.pending.push(f),
        }
    }

    fn flush_forms(&mut self, readers: &mut [Reader], captures: &[bool], sink: &mut impl ConnSink) {
        for (i, r) in readers.iter_mut().enumerate() {
            let Some(form) = &r.form else { continue };
            if !r.form_told {
                sink.form(i, form);
                r.form_told = true;
            }
            for mut f in std::mem::take(&mut r.pending) {
                f.shows = form.shows;
                f.flags = form.flags;
                self.dedup.push(f, captures, self.fw_now, sink);
            }
        }
    }

    fn stats(&self) -> halfopen_tcp::Stats {
        let mut s = halfopen_tcp::Stats::default();
        for t in self.tables.iter().flatten() {
            add_stats(&mut s, t.stats());
        }
        s
    }
}

pub(crate) fn widen(span: &mut Option<(i64, i64)>, ts: i64) {
    *span = Some(match *span {
        None => (ts, ts),
        Some((a, b)) => (a.min(ts), b.max(ts)),
    });
}

fn add_stats(a: &mut halfopen_tcp::Stats, b: &halfopen_tcp::Stats) {
    a.events += b.events;
    a.flows_created += b.flows_created;
    a.evicted_half_open += b.evicted_half_open;
    a.evicted_other += b.evicted_other;
    a.peak_flows = a.peak_flows.max(b.peak_flows);
    a.timed_out += b.timed_out;
    a.closed += b.closed;
    a.reused += b.reused;
    a.ended_at_finish += b.ended_at_finish;
}

/// How long after a connection's last packet a real TCP stack has retried its SYN (1 s) or
/// answered a SYN-ACK (one round trip): an attempt whose last packet came closer than this to
/// the end of the input has no outcome yet.
pub const LOG_END_GRACE_US: i64 = 3_000_000;

/// Marks the attempts still undecided at the end of the input whose last packet came within
/// [`LOG_END_GRACE_US`] of the input's last event: their outcome is unknown.
pub fn mark_log_ended(open_at_end: &mut [ConnFacts], last_ts: i64) {
    for c in open_at_end {
        let since = last_ts.saturating_sub(c.end_us);
        if !c.handshake_completed && !c.reply_seen_by_orig && since < LOG_END_GRACE_US {
            let secs = |us: i64| u64::try_from(us / 1_000_000).unwrap_or(0);
            c.log_ended = Some((secs(since), secs(LOG_END_GRACE_US)));
        }
    }
}

/// Two observations of one connection start within this of each other (syslog stamps have
/// one-second resolution).
const SAME_CONNECTION_US: i64 = 2_000_000;

/// How long a connection waits for its twin from the other kind of input beyond the
/// tracker's longest linger after a close ([`twin_wait_us`]).
const TWIN_SLACK_US: i64 = 30_000_000;

/// How long a connection waits for its twin from the other kind of input: the tracker's
/// longest linger after a close and [`TWIN_SLACK_US`] more (210 s with the default
/// `halfopen_tcp::Config`). A log of both directions ends a connection `closed_linger_us`
/// (10 s) after both FINs; a capture of one direction (or an inbound log) sees only the
/// client's FIN and holds it `half_closed_linger_us` (180 s) for the server's late answer, so
/// the twin comes up to 170 s later (the floods lab run with `server-in.pcap`: 43 connections
/// counted twice with a 30 s wait).
pub fn twin_wait_us(cfg: &halfopen_tcp::Config) -> i64 {
    cfg.half_closed_linger_us
        .max(cfg.closed_linger_us)
        .saturating_add(TWIN_SLACK_US)
}

/// Connections held by [`Dedup`] at most.
const DEDUP_CAP: usize = 200_000;

/// The same connection given twice, by a capture and a firewall log of the same traffic: a
/// connection waits [`twin_wait_us`] (firewall time) for its twin from the other kind of input;
/// the observation of the input that shows more is kept ([`shows_more`]: a log of both
/// directions over a capture of one), with the capture's first bytes and SYN fingerprint
/// when it kept none. Off (no delay) when only one kind of input is given.
#[derive(Debug, Default)]
pub struct Dedup {
    on: bool,
    wait_us: i64,
    queue: VecDeque<(i64, u64, (SocketAddr, SocketAddr))>,
    held: HashMap<(SocketAddr, SocketAddr), Vec<(u64, ConnFacts)>>,
    count: usize,
    seq: u64,
    /// Connections dropped as the twin of one kept.
    pub merged: u64,
}

impl Dedup {
    /// A stage, on when both kinds of input are read, for connections the tracker configured
    /// by `cfg` hands on.
    pub fn new(on: bool, cfg: &halfopen_tcp::Config) -> Dedup {
        Dedup {
            on,
            wait_us: twin_wait_us(cfg),
            ..Dedup::default()
        }
    }

    /// Takes a connection (`captures[input]`: whether its input is a capture).
    pub fn push(&mut self, c: ConnFacts, captures: &[bool], now: i64, sink: &mut impl ConnSink) {
        if !self.on {
            sink.connection(c);
            return;
        }
        let is_capture =
            |x: &ConnFacts| captures.get(usize::from(x.input)).copied().unwrap_or(false);
        let key = (c.orig, c.resp);
        let twins = self.held.entry(key).or_default();
        if let Some((_, twin)) = twins.iter_mut().find(|(_, t)| {
            is_capture(t) != is_capture(&c) && (t.start_us - c.start_us).abs() <= SAME_CONNECTION_US
        }) {
            if shows_more(&c, is_capture(&c), twin, is_capture(twin)) {
                let other = std::mem::replace(twin, c);
                add_what_only_the_other_shows(twin, other);
            } else {
                add_what_only_the_other_shows(twin, c);
            }
            self.merged += 1;
            return;
        }
        self.seq += 1;
        twins.push((self.seq, c));
        self.queue
            .push_back((now.saturating_add(self.wait_us), self.seq, key));
        self.count += 1;
        self.tick(now, sink);
    }

    /// Hands on the connections whose wait is over.
    pub fn tick(&mut self, now: i64, sink: &mut impl ConnSink) {
        while let Some(&(due, seq, key)) = self.queue.front() {
            if due > now && self.count <= DEDUP_CAP {
                break;
            }
            self.queue.pop_front();
            self.release(seq, key, sink);
        }
    }

    /// Hands on everything.
    pub fn finish(&mut self, sink: &mut impl ConnSink) {
        while let Some((_, seq, key)) = self.queue.pop_front() {
            self.release(seq, key, sink);
        }
    }

    fn release(&mut self, seq: u64, key: (SocketAddr, SocketAddr), sink: &mut impl ConnSink) {
        let Some(list) = self.held.get_mut(&key) else {
            return;
        };
        if let Some(pos) = list.iter().position(|(s, _)| *s == seq) {
            let (_, c) = list.swap_remove(pos);
            self.count = self.count.saturating_sub(1);
            sink.connection(c);
        }
        if list.is_empty() {
            self.held.remove(&key);
        }
    }
}

/// Whether observation `a` shows its connection better than its twin `b`: the input that
/// shows more packets ([`Shows`], every packet over inbound ones over SYNs), and at equal
/// forms the capture (TCP options, first bytes).
fn shows_more(a: &ConnFacts, a_capture: bool, b: &ConnFacts, b_capture: bool) -> bool {
    (a.shows, a_capture) > (b.shows, b_capture)
}

/// Gives `kept` what only its twin `other` shows: the first bytes and SYN fingerprint a
/// capture keeps.
fn add_what_only_the_other_shows(kept: &mut ConnFacts, other: ConnFacts) {
    if kept.payload.is_none() {
        kept.payload = other.payload;
    }
    if kept.syn.is_none() {
        kept.syn = other.syn;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<ConnFacts>);

    impl ConnSink for Collect {
        fn form(&mut self, _: usize, _: &InputForm) {}
        fn connection(&mut self, c: ConnFacts) {
            self.0.push(c);
        }
        fn tick(&mut self, _: i64) {}
    }

    fn conn(port: u16, start_s: i64, input: u16) -> ConnFacts {
        let orig = SocketAddr::from(([192, 0, 2, 1], port));
        let resp = SocketAddr::from(([198, 51, 100, 1], 80));
        let mut c = ConnFacts::new(orig, resp, start_s * 1_000_000, Shows::EveryPacket);
        c.input = input;
        c
    }

    #[test]
    fn one_connection_from_two_inputs_is_handed_once_from_the_capture() {
        let captures = [false, true];
        let mut d = Dedup::new(true, &halfopen_tcp::Config::default());
        let mut out = Collect::default();
        for c in [
            conn(40000, 10, 0),
            conn(40001, 11, 1),
            conn(40000, 10, 1),
            conn(40001, 12, 0),
        ] {
            d.push(c, &captures, 20_000_000, &mut out);
        }
        d.finish(&mut out);
        assert_eq!(d.merged, 2);
        assert_eq!(out.0.len(), 2);
        assert!(out.0.iter().all(|c| c.input == 1));
    }

    /// A capture of one direction shows less than a log of both: the log's observation is
    /// kept, with the capture's SYN fingerprint; however late the capture's twin comes within
    /// the wait (a one-way input holds a connection 180 s after the client's FIN).
    #[test]
    fn the_twin_that_shows_more_is_kept() {
        let captures = [false, true];
        let mut d = Dedup::new(true, &halfopen_tcp::Config::default());
        let mut out = Collect::default();
        let log = conn(40000, 10, 0);
        let mut one_way = conn(40000, 10, 1);
        one_way.shows = Shows::Inbound;
        one_way.syn = Some(crate::facts::SynFingerprint {
            ttl: Some(64),
            window: Some(64240),
            mss: Some(1460),
            has_options: Some(true),
        });
        d.push(log, &captures, 20_000_000, &mut out);
        d.push(one_way, &captures, 20_000_000 + 175_000_000, &mut out);
        d.finish(&mut out);
        assert_eq!((d.merged, out.0.len()), (1, 1));
        assert_eq!(out.0[0].input, 0);
        assert_eq!(out.0[0].shows, Shows::EveryPacket);
        assert_eq!(out.0[0].syn.and_then(|s| s.mss), Some(1460));
    }

    #[test]
    fn port_reuse_in_one_input_and_distant_starts_are_kept() {
        let captures = [true, false];
        let mut d = Dedup::new(true, &halfopen_tcp::Config::default());
        let mut out = Collect::default();
        for c in [conn(40000, 10, 0), conn(40000, 11, 0), conn(40000, 100, 1)] {
            d.push(c, &captures, 300_000_000, &mut out);
        }
        d.finish(&mut out);
        assert_eq!((d.merged, out.0.len()), (0, 3));
    }

    #[test]
    fn cut_off_attempts_are_marked() {
        let mut v = vec![conn(1, 0, 0), conn(2, 109, 0)];
        mark_log_ended(&mut v, 110_000_000);
        assert_eq!(v[0].log_ended, None);
        assert_eq!(v[1].log_ended, Some((1, 3)));
    }
}
