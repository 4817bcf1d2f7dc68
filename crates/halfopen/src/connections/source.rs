//! One firewall log or capture read on its own thread into batches of TCP events, its form
//! decided after its first [`FORM_LINES`] lines ([`Msg::Form`]), its counts and kernel
//! messages handed over at its end ([`Msg::Done`]).

use std::sync::mpsc::{Receiver, SyncSender};

use chrono::{DateTime, Utc};

use halfopen_fwlog::kernel;
use halfopen_fwlog::reader::LineReader;
use halfopen_fwlog::{Format, Record};

use super::{InputRead, KernelNote, PacketInput, ReadOptions, detect_firewall, widen};
use crate::clock::{CachedResolver, YearRef};
use crate::evidence::{FORM_LINES, FormTally, InputForm, decide, decide_capture};
use crate::input::{self, LineCounts, Skipped, Use};

/// Events handed from a reading thread to the tracking thread at a time.
pub const EVENT_BATCH: usize = 4096;

/// Kernel messages kept per input (they are rate-limited by the kernel; a log with more is
/// summarised by the count).
const MAX_KERNEL_NOTES: usize = 10_000;

/// Payload bytes a capture's batch carries beyond this are not copied (the store keeps the
/// first 4 KiB of a client's bytes and a server's first line; a batch is sent early when its
/// payload reaches this).
const MAX_BATCH_PAYLOAD: usize = 4 << 20;

/// Payload bytes copied per segment at most.
const MAX_SEGMENT_PAYLOAD: usize = 4096;

/// TCP events in the input's order; for a capture, each event's payload (or its first
/// [`MAX_SEGMENT_PAYLOAD`] bytes) in `payload`, at `spans[i]`.
#[derive(Debug, Default)]
pub struct Batch {
    /// The events.
    pub events: Vec<halfopen_tcp::Event>,
    /// The payload bytes, one after the other.
    pub payload: Vec<u8>,
    /// Each event's (start, length) in `payload` (empty for a firewall log).
    pub spans: Vec<(u32, u32)>,
}

impl Batch {
    fn with_capacity(n: usize) -> Batch {
        Batch {
            events: Vec::with_capacity(n),
            ..Batch::default()
        }
    }

    /// The payload of event `i`.
    pub fn payload(&self, i: usize) -> &[u8] {
        self.spans
            .get(i)
            .and_then(|&(a, n)| {
                self.payload
                    .get(a as usize..(a as usize).saturating_add(n as usize))
            })
            .unwrap_or_default()
    }

    fn full(&self) -> bool {
        self.events.len() >= EVENT_BATCH || self.payload.len() >= MAX_BATCH_PAYLOAD
    }

    /// Empties the batch, keeping its buffers for the next one.
    pub fn clear(&mut self) {
        self.events.clear();
        self.payload.clear();
        self.spans.clear();
    }
}

/// A reading thread's ends of its two channels: messages to the tracking thread, and the
/// batches it has used coming back to be filled again (a fresh 0.5-4 MB batch per send
/// costs page faults on every one: the allocator hands such blocks back to the kernel).
#[derive(Debug)]
pub struct Link {
    /// Messages to the tracking thread.
    pub tx: SyncSender<Msg>,
    /// Used batches, emptied, to fill again.
    pub spare: Receiver<Batch>,
}

impl Link {
    /// An empty batch: a used one when one has come back, else a new one.
    fn empty_batch(&self) -> Batch {
        match self.spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => Batch::with_capacity(EVENT_BATCH),
        }
    }

    /// Sends the events gathered so far; false when the receiver is gone.
    fn send_batch(&self, batch: &mut Batch) -> bool {
        if batch.events.is_empty() {
            return true;
        }
        let full = std::mem::replace(batch, self.empty_batch());
        self.tx.send(Msg::Events(full)).is_ok()
    }

    fn send_form(&self, f: InputForm) {
        let _ = self.tx.send(Msg::Form(f));
    }
}

/// What a reading thread sends.
#[derive(Debug)]
pub enum Msg {
    /// TCP events, in the input's order.
    Events(Batch),
    /// What the input shows (sent once, before the events that follow its first lines).
    Form(InputForm),
    /// The input's counts (the last message).
    Done(Box<InputRead>),
}

/// Reads one input to its end, sending batches (a closed receiver stops it).
pub fn read(p: PacketInput, opts: &ReadOptions, link: &Link) {
    let read = if p.capture {
        read_capture(p, opts, link)
    } else {
        read_firewall(p, opts, link)
    };
    let _ = link.tx.send(Msg::Done(Box::new(read)));
}

fn read_capture(p: PacketInput, opts: &ReadOptions, link: &Link) -> InputRead {
    let mut read = InputRead {
        name: p.name.clone(),
        capture: true,
        skipped: Skipped::new(opts.max_skipped_kept),
        ..InputRead::default()
    };
    let reader = input::decompress(p.reader).map_err(|e| e.to_string());
    let reader = reader.and_then(|r| {
        halfopen_tcp::pcap::PacketReader::new(r).map_err(|e| format!("not a pcap/pcapng: {e}"))
    });
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => {
            read.skipped.push(&p.name, 0, 0, e.clone());
            read.unusable = Some(e);
            link.send_form(decide_capture(&read.tally));
            return read;
        }
    };
    let mut batch = link.empty_batch();
    let mut form_sent = false;
    let mut consecutive_errors = 0;
    let mut n = 0u64;
    while let Some(item) = reader.next_with_payload() {
        n += 1;
        read.counts.lines += 1;
        match item {
            Ok((pkt, payload)) => {
                consecutive_errors = 0;
                read.counts.records += 1;
                read.tally.add_event(&pkt.event);
                widen(&mut read.span, pkt.event.ts_us);
                let kept = payload
                    .get(..payload.len().min(MAX_SEGMENT_PAYLOAD))
                    .unwrap_or_default();
                let start = u32::try_from(batch.payload.len()).unwrap_or(u32::MAX);
                batch.payload.extend_from_slice(kept);
                batch
                    .spans
                    .push((start, u32::try_from(kept.len()).unwrap_or(0)));
                batch.events.push(pkt.event);
                if !form_sent && read.tally.tcp >= FORM_LINES {
                    link.send_form(decide_capture(&read.tally));
                    form_sent = true;
                }
                if batch.full() && !link.send_batch(&mut batch) {
                    return read;
                }
            }
            Err(e) => {
                read.counts.skipped += 1;
                let offset = match &e {
                    halfopen_tcp::Error::Malformed { offset, .. }
                    | halfopen_tcp::Error::Truncated { offset, .. }
                    | halfopen_tcp::Error::NotACapture { offset, .. } => *offset,
                    _ => 0,
                };
                read.skipped.push(&p.name, n, offset, e.to_string());
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
    if !form_sent {
        link.send_form(decide_capture(&read.tally));
    }
    link.send_batch(&mut batch);
    let stats = *reader.stats();
    // Every frame is counted, not only the TCP segments the reader hands over.
    read.counts.lines = read.counts.lines.max(stats.frames);
    read.counts.ignored = stats.not_tcp + stats.unsupported + stats.fragments;
    read.capture_stats = Some(stats);
    read
}

fn read_firewall(p: PacketInput, opts: &ReadOptions, link: &Link) -> InputRead {
    let mut read = InputRead {
        name: p.name.clone(),
        skipped: Skipped::new(opts.max_skipped_kept),
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
        read.counts.lines = input::sample_lines(&sample).count() as u64;
        read.skipped.push(&p.name, 0, 0, e.clone());
        read.unusable = Some(e);
        link.send_form(decide(&read.tally, opts.firewall_shows));
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
    let mut st = ParseState {
        resolver: CachedResolver::new(year_ref, opts.zone),
        tally: FormTally::default(),
        kernel: Vec::new(),
        kernel_total: 0,
        other_format: 0,
        span: None,
    };
    let mut skipped = Skipped::new(opts.max_skipped_kept);
    let mut counts = LineCounts::default();
    let mut batch = link.empty_batch();
    let mut form_sent = false;
    let mut gone = false;
    let read_error = input::for_each_line(
        &p.name,
        &sample,
        &mut lines,
        &mut skipped,
        &mut counts,
        |n, _, b| {
            let used = match st.line(format, n, b) {
                Ok(Parsed::Event(ev)) => {
                    batch.events.push(ev);
                    Use::Record
                }
                Ok(Parsed::Kernel) => Use::Record,
                Ok(Parsed::Irrelevant) => Use::Ignored,
                Err(e) => Use::Bad(e),
            };
            if !form_sent && st.tally.tcp >= FORM_LINES {
                link.send_form(decide(&st.tally, opts.firewall_shows));
                form_sent = true;
            }
            if batch.full() && !gone {
                gone = !link.send_batch(&mut batch);
            }
            used
        },
    );
    if !form_sent {
        link.send_form(decide(&st.tally, opts.firewall_shows));
    }
    link.send_batch(&mut batch);
    read.skipped.merge(skipped);
    read.counts = counts;
    read.other_format = st.other_format;
    read.span = st.span;
    read.inferred_year = st.resolver.first_inferred_year();
    read.kernel = st.kernel;
    read.kernel_total = st.kernel_total;
    read.tally = st.tally;
    // A read error (a truncated .gz) ends the input early: what follows is missing.
    if let Some(e) = read_error {
        read.unusable = Some(format!(
            "{e} (the input ends there: what follows it is missing)"
        ));
    }
    read
}

/// A parsed firewall line: an event, a kernel message (kept), nothing relevant.
enum Parsed {
    Event(halfopen_tcp::Event),
    Kernel,
    Irrelevant,
}

struct ParseState {
    resolver: CachedResolver,
    tally: FormTally,
    kernel: Vec<KernelNote>,
    kernel_total: u64,
    other_format: u64,
    span: Option<(i64, i64)>,
}

impl ParseState {
    fn line(&mut self, format: Format, n: u64, b: &[u8]) -> Result<Parsed, String> {
        // Read in place: moving the 688-byte record out of the result copied it per line.
        let parsed = halfopen_fwlog::parse_line(format, b);
        let rec = match &parsed {
            Ok(r) => r,
            Err(e) => return self.not_a_record(format, n, b, e),
        };
        let ts = self.time(rec, n)?;
        self.tally.add_at(rec, ts);
        let Some(ev) = halfopen_tcp::from_fwlog::event(rec, ts) else {
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
            let Some(ts_us) = ts else {
                return Ok(Parsed::Irrelevant);
            };
            self.kernel_total += 1;
            if self.kernel.len() < MAX_KERNEL_NOTES {
                self.kernel.push(KernelNote {
                    ts_us,
                    what: m.event.into(),
                });
            }
            return Ok(Parsed::Kernel);
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
