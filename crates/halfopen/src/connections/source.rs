//! One firewall log or capture read on its own thread into batches of TCP events, its form
//! decided after its first [`FORM_LINES`] lines ([`Msg::Form`]), its counts and kernel
//! messages handed over at its end ([`Msg::Done`]).

use chrono::{DateTime, Utc};

use halfopen_fwlog::Format;
use halfopen_fwlog::reader::LineReader;

use super::channel::{Link, MAX_SEGMENT_PAYLOAD, Msg, Outbox};
use super::line::ParseState;
use super::parallel::{self, Rest};
use super::{InputRead, PacketInput, ReadOptions, detect_firewall, widen};
use crate::clock::{CachedResolver, YearRef};
use crate::evidence::{FORM_LINES, Shows, decide, decide_capture};
use crate::input::{self, Item, LineCounts, Skipped};

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
    let resolver = CachedResolver::new(year_reference(opts, p.mtime), opts.zone);
    let mut skipped = Skipped::new(opts.max_skipped_kept);
    let mut counts = LineCounts::default();
    let name = p.name.as_str();
    // The lines up to the form's decision on this thread; the rest on the workers, if any.
    let mut head = Head {
        st: ParseState::new(resolver.clone(), false),
        out: Outbox::new(link),
        form_sent: false,
        format,
        name,
        shows: opts.firewall_shows,
    };
    let mut read_error = sample
        .iter()
        .find_map(|item| head.item(item.as_ref(), &mut skipped, &mut counts));
    let parallel = opts.workers.parallel();
    while read_error.is_none() && !(head.form_sent && parallel) {
        let Some(item) = input::next(&mut lines) else {
            break;
        };
        read_error = head.item(item, &mut skipped, &mut counts);
    }
    let Head {
        mut st,
        mut out,
        form_sent,
        ..
    } = head;
    if read_error.is_none() && form_sent && parallel {
        let rest = Rest {
            format,
            name,
            st: &mut st,
            skipped: &mut skipped,
            counts: &mut counts,
            out: &mut out,
        };
        let end = parallel::read_rest(
            &mut lines,
            rest,
            resolver,
            opts.max_skipped_kept,
            opts.workers,
        );
        read_error = end.read_error;
        read.parsed_again = end.parsed_again;
    }
    if !form_sent {
        out.send_form(decide(&st.tally, opts.firewall_shows));
    }
    out.flush();
    read.skipped.merge(skipped);
    read.counts = counts;
    keep_state(&mut read, st);
    // A read error (a truncated .gz) ends the input early: what follows is missing.
    if let Some(e) = read_error {
        read.unusable = Some(format!(
            "{e} (the input ends there: what follows it is missing)"
        ));
    }
    read
}

/// Where the year of year-less stamps comes from: `--year`, else 30 days after the access
/// log's first time, the file's modification time, the reference time given, or now.
fn year_reference(opts: &ReadOptions, mtime: Option<DateTime<Utc>>) -> YearRef {
    match opts.year {
        Some(y) => YearRef::Explicit(y),
        None => YearRef::Reference(
            opts.access_hint_us
                .and_then(DateTime::<Utc>::from_timestamp_micros)
                .and_then(|t| t.checked_add_signed(chrono::Duration::days(30)))
                .or(mtime)
                .or(opts.now)
                .unwrap_or_else(Utc::now),
        ),
    }
}

/// What reading the lines left, kept with the input's counts.
fn keep_state(read: &mut InputRead, st: ParseState) {
    read.other_format = st.other_format;
    read.span = st.span;
    read.inferred_year = st.resolver.first_inferred_year();
    read.zone_used = st.resolver.zone_used();
    read.kernel = st.kernel;
    read.kernel_total = st.kernel_total;
    read.tally = st.tally;
}

/// A firewall log's lines up to its form's decision, read on its reading thread.
struct Head<'a, 'o> {
    st: ParseState,
    out: Outbox<'o>,
    form_sent: bool,
    format: Format,
    name: &'a str,
    shows: Option<Shows>,
}

impl Head<'_, '_> {
    /// Counts and uses one item; the form is sent once its lines are read, before the batch
    /// holding the line that decided it.
    fn item(
        &mut self,
        item: Item<&[u8]>,
        skipped: &mut Skipped,
        counts: &mut LineCounts,
    ) -> Option<String> {
        input::count_item(self.name, item, skipped, counts, |n, _, b| {
            let out = &mut self.out;
            let used = self
                .st
                .use_line(self.format, n, b, |ev| out.batch.events.push(ev));
            if !self.form_sent && self.st.tally.tcp >= FORM_LINES {
                out.send_form(decide(&self.st.tally, self.shows));
                self.form_sent = true;
            }
            out.send_if_full();
            used
        })
    }
}
