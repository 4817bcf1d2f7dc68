//! Firewall logs and captures -> connections.
//!
//! Each firewall input's format is detected from its first lines; its lines are parsed into
//! TCP events on a second thread while this one follows the connections in a bounded
//! `halfopen_tcp::FlowTable`. Consecutive inputs of one kind (rotated files) share a table;
//! captures and firewall logs get their own, and a connection seen by both is counted once
//! ([`merge_same_connections`]). While reading, each input's lines are tallied
//! ([`FormTally`], [`ConnTally`]) so that [`crate::evidence::decide`] can say what it shows.
//! Kernel messages about SYN floods found among the lines are kept as server-level evidence.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};

use halfopen_fwlog::kernel::{self, KernelEvent};
use halfopen_fwlog::reader::LineReader;
use halfopen_fwlog::{Format, Record};
use halfopen_tcp::{Connection, FlowTable};

use crate::clock::{CachedResolver, YearRef, Zone};
use crate::evidence::{ConnTally, FormTally, InputForm, Shows};
use crate::facts::ConnFacts;
use crate::input::{self, LineCounts, Sample, Skipped, Use};

/// Events handed from the parsing thread to the tracking thread at a time.
pub const EVENT_BATCH: usize = 4096;

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
    /// Detected format (`ipfw`, `netfilter`, ..., `pcap`).
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
}

/// Everything read from the firewall logs and captures.
#[derive(Debug, Default)]
pub struct PacketsRead {
    /// The connections, in the order they ended.
    pub conns: Vec<ConnFacts>,
    /// One per input, in input order.
    pub inputs: Vec<InputRead>,
    /// Kernel messages.
    pub kernel: Vec<KernelNote>,
    /// Skipped lines.
    pub skipped: Skipped,
    /// Table counters summed over the tables.
    pub table: halfopen_tcp::Stats,
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

/// Reads every input into connections (the forms are applied later, see [`apply_forms`]).
pub fn read(inputs: Vec<PacketInput>, opts: &ReadOptions) -> PacketsRead {
    let mut out = PacketsRead {
        skipped: Skipped::new(opts.max_skipped_kept),
        ..PacketsRead::default()
    };
    let mut table = FlowTable::new(opts.tcp);
    let mut last_ts = i64::MIN;
    let mut prev_capture: Option<bool> = None;
    for p in inputs {
        // Captures and firewall logs of the same traffic are tracked in separate tables;
        // consecutive inputs of one kind (rotated files) share the table.
        if prev_capture.is_some_and(|k| k != p.capture) {
            end_segment(&mut table, &mut out, last_ts);
            table = FlowTable::new(opts.tcp);
            last_ts = i64::MIN;
        }
        prev_capture = Some(p.capture);
        let index = out.inputs.len();
        let read = if p.capture {
            read_capture(p, index, &mut table, &mut out)
        } else {
            read_firewall(p, index, opts, &mut table, &mut out)
        };
        if let Some((_, l)) = read.span {
            last_ts = last_ts.max(l);
        }
        out.inputs.push(read);
    }
    end_segment(&mut table, &mut out, last_ts);
    out
}

fn widen(span: &mut Option<(i64, i64)>, ts: i64) {
    *span = Some(match *span {
        None => (ts, ts),
        Some((a, b)) => (a.min(ts), b.max(ts)),
    });
}

/// Drains the finished connections of the input being read into `conns`, counting them in
/// `tally`.
fn drain_into(
    table: &mut FlowTable,
    conns: &mut Vec<ConnFacts>,
    tally: &mut ConnTally,
    index: usize,
) {
    let input = u16::try_from(index).unwrap_or(u16::MAX);
    table.drain_finished(|c: &Connection| {
        tally.add(c);
        conns.push(ConnFacts::from_connection(
            c,
            input,
            Shows::EveryPacket,
            true,
        ));
    });
}

fn read_capture(
    p: PacketInput,
    index: usize,
    table: &mut FlowTable,
    out: &mut PacketsRead,
) -> InputRead {
    let mut read = InputRead {
        name: p.name.clone(),
        capture: true,
        ..InputRead::default()
    };
    let reader = input::decompress(p.reader).map_err(|e| e.to_string());
    let reader = reader.and_then(|r| {
        halfopen_tcp::pcap::PacketReader::new(r).map_err(|e| format!("not a pcap/pcapng: {e}"))
    });
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => {
            out.skipped.push(&p.name, 0, 0, e.clone());
            read.unusable = Some(e);
            return read;
        }
    };
    let mut consecutive_errors = 0;
    let mut events = 0u64;
    let mut n = 0u64;
    for item in reader.by_ref() {
        n += 1;
        read.counts.lines += 1;
        match item {
            Ok(pkt) => {
                consecutive_errors = 0;
                read.counts.records += 1;
                table.observe(&pkt.event);
                widen(&mut read.span, pkt.event.ts_us);
                events += 1;
                if events % 1024 == 0 {
                    table.expire(pkt.event.ts_us);
                    drain_into(table, &mut out.conns, &mut read.conn_tally, index);
                }
            }
            Err(e) => {
                read.counts.skipped += 1;
                out.skipped.push(&p.name, n, 0, e.to_string());
                // An I/O error (a truncated .gz) ends the capture early: what follows is
                // missing. A last record cut short is what a killed tcpdump leaves: counted.
                if matches!(e, halfopen_tcp::Error::Io(_)) {
                    read.unusable = Some(format!(
                        "read error at packet {n}: {e} (the input ends there: what follows it is missing)"
                    ));
                    break;
                }
                consecutive_errors += 1;
                if consecutive_errors > 100 {
                    break;
                }
            }
        }
    }
    drain_into(table, &mut out.conns, &mut read.conn_tally, index);
    let stats = *reader.stats();
    read.counts.ignored = stats.not_tcp + stats.unsupported + stats.fragments;
    read.capture_stats = Some(stats);
    read
}

/// A parsed firewall line: an event, a kernel note, nothing relevant, or an error.
enum Parsed {
    Event(halfopen_tcp::Event),
    Kernel(KernelNote),
    Irrelevant,
}

fn read_firewall(
    p: PacketInput,
    index: usize,
    opts: &ReadOptions,
    table: &mut FlowTable,
    out: &mut PacketsRead,
) -> InputRead {
    let mut read = InputRead {
        name: p.name.clone(),
        ..InputRead::default()
    };
    let mut lines = LineReader::from_reader(p.reader, &p.name).with_max_line_len(opts.max_line_len);
    let sample = input::read_sample(&mut lines);
    let Some(format) = detect_firewall(&sample) else {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        let e = format!(
            "unrecognised firewall-log format (tried {})",
            names.join(", ")
        );
        // The kernel's own messages still count when the file holds nothing else.
        read.counts.lines = input::sample_lines(&sample).count() as u64;
        out.skipped.push(&p.name, 0, 0, e.clone());
        read.unusable = Some(e);
        return read;
    };
    read.format = Some(format);
    let year_ref = match opts.year {
        Some(y) => YearRef::Explicit(y),
        None => YearRef::Reference(
            opts.access_hint_us
                .and_then(DateTime::<Utc>::from_timestamp_micros)
                .and_then(|t| t.checked_add_signed(chrono::Duration::days(30)))
                .or(p.mtime)
                .or(opts.now)
                .unwrap_or_else(Utc::now),
        ),
    };
    let zone = opts.zone;
    let name = p.name.clone();
    let cap = out.skipped.cap;
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<halfopen_tcp::Event>>(8);
    let parsed = std::thread::scope(|s| {
        let parser = s.spawn(move || {
            let mut st = ParseState {
                resolver: CachedResolver::new(year_ref, zone),
                tally: FormTally::default(),
                kernel: Vec::new(),
                other_format: 0,
                span: None,
            };
            let mut skipped = Skipped::new(cap);
            let mut counts = LineCounts::default();
            let mut batch = Vec::with_capacity(EVENT_BATCH);
            let read_error = input::for_each_line(
                &name,
                &sample,
                &mut lines,
                &mut skipped,
                &mut counts,
                |n, _, b| match st.line(format, n, b) {
                    Ok(Parsed::Event(ev)) => {
                        batch.push(ev);
                        if batch.len() >= EVENT_BATCH {
                            let full =
                                std::mem::replace(&mut batch, Vec::with_capacity(EVENT_BATCH));
                            let _ = tx.send(full);
                        }
                        Use::Record
                    }
                    Ok(Parsed::Kernel(k)) => {
                        st.kernel.push(k);
                        Use::Record
                    }
                    Ok(Parsed::Irrelevant) => Use::Ignored,
                    Err(e) => Use::Bad(e),
                },
            );
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            (st, skipped, counts, read_error)
        });
        for batch in rx {
            // The batch API overlaps the flow table's cache misses across events; it also
            // runs every timeout that the events' times pass.
            table.observe_batch(&batch);
            drain_into(table, &mut out.conns, &mut read.conn_tally, index);
        }
        parser.join()
    });
    match parsed {
        Ok((st, skipped, counts, read_error)) => {
            out.skipped.merge(skipped);
            out.kernel.extend(st.kernel);
            read.counts = counts;
            read.tally = st.tally;
            read.other_format = st.other_format;
            read.span = st.span;
            read.inferred_year = st.resolver.first_inferred_year();
            // A read error (a truncated .gz) ends the input early: what follows is missing.
            if let Some(e) = read_error {
                read.unusable = Some(format!(
                    "{e} (the input ends there: what follows it is missing)"
                ));
            }
        }
        Err(_) => read.unusable = Some("the parser thread failed".to_owned()),
    }
    read
}

struct ParseState {
    resolver: CachedResolver,
    tally: FormTally,
    kernel: Vec<KernelNote>,
    other_format: u64,
    span: Option<(i64, i64)>,
}

impl ParseState {
    fn line(&mut self, format: Format, n: u64, b: &[u8]) -> Result<Parsed, String> {
        let rec = match halfopen_fwlog::parse_line(format, b) {
            Ok(r) => r,
            Err(e) => return self.not_a_record(format, n, b, &e),
        };
        let ts = self.time(&rec, n)?;
        self.tally.add(&rec);
        let Some(ev) = halfopen_tcp::from_fwlog::event(&rec, ts) else {
            return Ok(Parsed::Irrelevant);
        };
        widen(&mut self.span, ts);
        Ok(Parsed::Event(ev))
    }

    fn time(&mut self, rec: &Record<'_>, n: u64) -> Result<i64, String> {
        match (&rec.timestamp, rec.uptime_us) {
            (Some(t), _) => self
                .resolver
                .resolve(t)
                .map_err(|e| e.at_line(n).to_string()),
            (None, Some(u)) => Ok(i64::try_from(u).unwrap_or(i64::MAX)),
            (None, None) => Err("no timestamp".to_owned()),
        }
    }

    /// A line the input's format rejects: a kernel message about a SYN flood (evidence), a
    /// line of another firewall format (counted: mixed formats), or a bad line.
    fn not_a_record(
        &mut self,
        format: Format,
        n: u64,
        b: &[u8],
        e: &halfopen_fwlog::Error,
    ) -> Result<Parsed, String> {
        if let Some(m) = kernel::parse(b) {
            let ts = match (&m.timestamp, m.uptime_us) {
                (Some(t), _) => self.resolver.resolve(t).ok(),
                (None, Some(u)) => i64::try_from(u).ok(),
                (None, None) => None,
            };
            return Ok(match ts {
                Some(ts_us) => Parsed::Kernel(KernelNote {
                    ts_us,
                    what: m.event.into(),
                }),
                None => Parsed::Irrelevant,
            });
        }
        if let Some(other) = Format::ALL
            .into_iter()
            .find(|f| *f != format && halfopen_fwlog::parse_line(*f, b).is_ok())
        {
            self.other_format += 1;
            return Err(format!(
                "{} (the line is {} but the input was detected as {})",
                e.clone().at_line(n),
                other.name(),
                format.name()
            ));
        }
        Err(e.clone().at_line(n).to_string())
    }
}

/// Ends every connection still open at the end of a run of inputs (`last_ts`: its last event).
fn end_segment(table: &mut FlowTable, out: &mut PacketsRead, last_ts: i64) {
    let decided = out.conns.len();
    table.finish();
    let index = out.inputs.len().saturating_sub(1);
    let input = u16::try_from(index).unwrap_or(u16::MAX);
    let mut local = ConnTally::default();
    table.drain_finished(|c: &Connection| {
        local.add(c);
        out.conns.push(ConnFacts::from_connection(
            c,
            input,
            Shows::EveryPacket,
            true,
        ));
    });
    if let Some(i) = out.inputs.get_mut(index) {
        i.conn_tally.merge(&local);
    }
    let stats = *table.stats();
    add_stats(&mut out.table, &stats);
    mark_log_ended(out.conns.get_mut(decided..).unwrap_or_default(), last_ts);
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

/// Gives every connection the form of the input it came from.
pub fn apply_forms(conns: &mut [ConnFacts], forms: &[InputForm]) {
    for c in conns {
        if let Some(f) = forms.get(usize::from(c.input)) {
            c.shows = f.shows;
            c.flags = f.flags;
        }
    }
}

/// How much an input form shows of a connection (higher: richer).
fn richness(c: &ConnFacts) -> (u8, bool) {
    (c.shows as u8, c.flags)
}

/// Two observations of one connection start within this of each other (syslog stamps have
/// one-second resolution).
const SAME_CONNECTION_US: i64 = 2_000_000;

/// Client address (family, bits), client port, server address, server port, start time.
type SortKey = ((bool, u128), u16, (bool, u128), u16, i64);

fn sort_key(c: &ConnFacts) -> SortKey {
    let ip = |a: &SocketAddr| match a.ip() {
        IpAddr::V4(v) => (false, u128::from(u32::from(v))),
        IpAddr::V6(v) => (true, u128::from(v)),
    };
    (
        ip(&c.orig),
        c.orig.port(),
        ip(&c.resp),
        c.resp.port(),
        c.start_us,
    )
}

/// The same connection given twice, by a capture and a firewall log (or two inputs of
/// different forms): keeps the observation from the richer input, drops the other, and
/// returns how many were dropped. Observations from one input are different connections
/// (port reuse) and are all kept.
pub fn merge_same_connections(conns: &mut Vec<ConnFacts>, captures: &[bool]) -> usize {
    let is_capture = |c: &ConnFacts| captures.get(usize::from(c.input)).copied().unwrap_or(false);
    let Some(first) = conns.first().map(is_capture) else {
        return 0;
    };
    if conns.iter().all(|c| is_capture(c) == first) {
        return 0;
    }
    let mut order: Vec<(SortKey, usize)> = conns
        .iter()
        .enumerate()
        .map(|(i, c)| (sort_key(c), i))
        .collect();
    order.sort_unstable();
    let mut drop = vec![false; conns.len()];
    let mut last: Option<usize> = None;
    for i in order.into_iter().map(|(_, i)| i) {
        let (Some(c), Some(l)) = (conns.get(i), last.and_then(|l| conns.get(l))) else {
            last = Some(i);
            continue;
        };
        if l.orig == c.orig
            && l.resp == c.resp
            && is_capture(l) != is_capture(c)
            && c.start_us.saturating_sub(l.start_us) <= SAME_CONNECTION_US
        {
            let c_richer = (is_capture(c), richness(c)) > (is_capture(l), richness(l));
            if c_richer {
                if let Some(d) = last.and_then(|l| drop.get_mut(l)) {
                    *d = true;
                }
                last = Some(i);
            } else if let Some(d) = drop.get_mut(i) {
                *d = true;
            }
        } else {
            last = Some(i);
        }
    }
    let before = conns.len();
    let mut flags = drop.into_iter();
    conns.retain(|_| !flags.next().unwrap_or(false));
    before - conns.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(port: u16, start_s: i64, input: u16) -> ConnFacts {
        let orig = SocketAddr::from(([192, 0, 2, 1], port));
        let resp = SocketAddr::from(([198, 51, 100, 1], 80));
        let mut c = ConnFacts::new(orig, resp, start_s * 1_000_000, Shows::EveryPacket);
        c.input = input;
        c
    }

    #[test]
    fn one_connection_from_two_inputs_is_counted_once_from_the_capture() {
        let captures = [false, true];
        let mut v = vec![
            conn(40000, 10, 0),
            conn(40001, 11, 1),
            conn(40000, 10, 1),
            conn(40001, 12, 0),
        ];
        assert_eq!(merge_same_connections(&mut v, &captures), 2);
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|c| c.input == 1));
    }

    #[test]
    fn port_reuse_in_one_input_and_distant_starts_are_kept() {
        let captures = [true, false];
        let mut v = vec![conn(40000, 10, 0), conn(40000, 11, 0), conn(40000, 100, 1)];
        assert_eq!(merge_same_connections(&mut v, &captures), 0);
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn cut_off_attempts_are_marked() {
        let mut v = vec![conn(1, 0, 0), conn(2, 109, 0)];
        mark_log_ended(&mut v, 110_000_000);
        assert_eq!(v[0].log_ended, None);
        assert_eq!(v[1].log_ended, Some((1, 3)));
    }
}
