//! The rest of a firewall log, once its form is decided, parsed on worker threads.
//!
//! Parsing is most of a firewall log's reading. Past the form's decision ([`FORM_LINES`]
//! TCP lines) a line's outcome depends on the lines before it only through its stamp: the
//! year the rollover rule gives a year-less stamp, and which of its two instants a local time
//! that a DST end repeats takes (the one nearer the stamp before). The tallies are plain
//! counts then ([`FormTally::add_counts`]), the kernel messages and skipped lines are kept in
//! order. So the reading thread cuts the rest of the log into parts of whole lines
//! ([`Part`]), hands them to the workers in turn, each part with the year state and the last
//! stamp's instant the reading had reached when it was sent, and takes the parsed parts back
//! in order. It checks that the part's first year-less stamp got the year it gets from the
//! state the part before really left ([`CachedResolver::resumed_alike`]) and that a first
//! stamp in a repeated hour took the instant the part before's last stamp gives it
//! ([`CachedResolver::repeated_hour_alike`]); otherwise it parses the part again itself, from
//! that state. Then it adds the part's counts and puts its events into the batches for the
//! tracking thread at the places one thread would have. Every count, kept line, event and
//! batch is the one reading the log on one thread gives (tests: `tests/parallel_parse.rs`).
//!
//! [`FORM_LINES`]: crate::evidence::FORM_LINES
//! [`FormTally::add_counts`]: crate::evidence::FormTally::add_counts

use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use halfopen_fwlog::Format;
use halfopen_fwlog::reader::LineReader;

use super::channel::Outbox;
use super::line::ParseState;
use crate::clock::{CachedResolver, YearState};
use crate::input::{self, Item, LineCounts, Skipped};

/// A part holds at most this many bytes of lines (plus one line).
const PART_BYTES: usize = 256 << 10;

/// Parts sent to the workers and not yet taken back, per worker.
const IN_FLIGHT_PER_WORKER: usize = 4;

/// How the rest of a firewall log is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// Worker threads (none: the reading thread parses every line).
    pub threads: usize,
    /// Lines per part (at least one).
    pub part_lines: usize,
}

impl Workers {
    /// Whether the rest is parsed on workers.
    pub fn parallel(&self) -> bool {
        self.threads >= 1
    }
}

/// Whole lines of the log, in order: each line's bytes at its range of `bytes`.
#[derive(Debug, Default)]
struct Part {
    bytes: Vec<u8>,
    items: Vec<Item<Range<usize>>>,
}

/// How filling a part ended.
enum Filled {
    /// The part is full; the log goes on.
    Full,
    /// The log ended.
    End,
    /// A read error ended the log (line number, error).
    ReadError(u64, String),
}

impl Part {
    fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
    }

    /// Reads lines into the part until it is full or the log ends.
    fn fill(&mut self, lines: &mut LineReader, max_lines: usize) -> Filled {
        while self.items.len() < max_lines && self.bytes.len() < PART_BYTES {
            match input::next(lines) {
                None => return Filled::End,
                Some(Item::Line(number, offset, b)) => {
                    let start = self.bytes.len();
                    self.bytes.extend_from_slice(b);
                    self.items
                        .push(Item::Line(number, offset, start..self.bytes.len()));
                }
                Some(Item::TooLong(number, offset, error)) => {
                    self.items.push(Item::TooLong(number, offset, error));
                }
                Some(Item::ReadError(n, e)) => return Filled::ReadError(n, e),
            }
        }
        Filled::Full
    }
}

/// What is needed to parse a part, the same for every part.
struct PartReader<'a> {
    format: Format,
    name: &'a str,
    skipped_cap: usize,
    /// A resolver at the log's start (its zone and year reference), resumed per part.
    resolver: CachedResolver,
}

/// What a part is parsed from: the year state and the last stamp's instant the reading had
/// reached when it was sent.
#[derive(Debug, Clone, Copy)]
struct Assumed {
    year: YearState,
    last_us: Option<i64>,
}

/// A part parsed from an assumed year state.
struct Parsed {
    part: Part,
    assumed: Assumed,
    st: ParseState,
    counts: LineCounts,
    skipped: Skipped,
    events: Vec<halfopen_tcp::Event>,
}

impl PartReader<'_> {
    fn parse(&self, part: Part, assumed: Assumed, mut events: Vec<halfopen_tcp::Event>) -> Parsed {
        events.clear();
        let resolver = self
            .resolver
            .clone()
            .resumed(assumed.year)
            .after(assumed.last_us);
        let mut st = ParseState::new(resolver, true);
        let mut counts = LineCounts::default();
        let mut skipped = Skipped::new(self.skipped_cap);
        for item in &part.items {
            let item = match item {
                Item::Line(number, offset, range) => Item::Line(
                    *number,
                    *offset,
                    part.bytes.get(range.clone()).unwrap_or_default(),
                ),
                Item::TooLong(number, offset, error) => {
                    Item::TooLong(*number, *offset, error.clone())
                }
                Item::ReadError(number, error) => Item::ReadError(*number, error.clone()),
            };
            input::count_item(self.name, item, &mut skipped, &mut counts, |n, _, b| {
                st.use_line(self.format, n, b, |ev| events.push(ev))
            });
        }
        Parsed {
            part,
            assumed,
            st,
            counts,
            skipped,
            events,
        }
    }
}

/// What the reading thread holds while the rest is parsed.
pub struct Rest<'a, 'o> {
    /// The log's format.
    pub format: Format,
    /// The log's name.
    pub name: &'a str,
    /// The state the lines before left.
    pub st: &'a mut ParseState,
    /// Skipped lines so far.
    pub skipped: &'a mut Skipped,
    /// Line counts so far.
    pub counts: &'a mut LineCounts,
    /// The batch being filled.
    pub out: &'a mut Outbox<'o>,
}

/// A worker's two channels, seen from the reading thread.
struct WorkerLink {
    to: SyncSender<(Part, Assumed, Vec<halfopen_tcp::Event>)>,
    from: Receiver<Parsed>,
}

/// How reading the rest ended.
#[derive(Debug, Default)]
pub struct RestEnd {
    /// The read error that ended the log, if one did.
    pub read_error: Option<String>,
    /// Parts parsed again by the reading thread (a worker had them from another year state).
    pub parsed_again: u64,
}

/// Parses the rest of `lines` on `workers`, adding everything to `rest` in line order.
pub fn read_rest(
    lines: &mut LineReader,
    rest: Rest<'_, '_>,
    resolver: CachedResolver,
    skipped_cap: usize,
    workers: Workers,
) -> RestEnd {
    let reader = PartReader {
        format: rest.format,
        name: rest.name,
        skipped_cap,
        resolver,
    };
    let threads = workers.threads.max(1);
    let max_lines = workers.part_lines.max(1);
    std::thread::scope(|s| {
        let mut links = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (to, parts) = sync_channel(IN_FLIGHT_PER_WORKER + 1);
            let (done, from) = sync_channel(IN_FLIGHT_PER_WORKER + 1);
            let reader = &reader;
            s.spawn(move || work(reader, &parts, &done));
            links.push(WorkerLink { to, from });
        }
        let mut order = Order {
            rest,
            reader: &reader,
            spare: Vec::new(),
            spare_events: Vec::new(),
            parsed_again: 0,
        };
        let end = order.pump(lines, &links, max_lines);
        drop(links);
        let parsed_again = order.parsed_again;
        let read_error = match end {
            Filled::ReadError(n, e) => {
                let r = order.rest;
                input::count_item(
                    r.name,
                    Item::ReadError(n, e),
                    r.skipped,
                    r.counts,
                    |_, _, _| input::Use::Ignored,
                )
            }
            Filled::Full | Filled::End => None,
        };
        RestEnd {
            read_error,
            parsed_again,
        }
    })
}

/// A worker: parses the parts it is sent, in turn, until the reading thread hangs up.
fn work(
    reader: &PartReader<'_>,
    parts: &Receiver<(Part, Assumed, Vec<halfopen_tcp::Event>)>,
    done: &SyncSender<Parsed>,
) {
    for (part, assumed, events) in parts {
        if done.send(reader.parse(part, assumed, events)).is_err() {
            return;
        }
    }
}

/// The parsed parts taken back in line order.
struct Order<'r, 'a, 'o> {
    rest: Rest<'a, 'o>,
    reader: &'r PartReader<'r>,
    spare: Vec<Part>,
    spare_events: Vec<Vec<halfopen_tcp::Event>>,
    parsed_again: u64,
}

impl Order<'_, '_, '_> {
    /// Sends the log's parts to the workers in turn and takes them back in order, up to
    /// [`IN_FLIGHT_PER_WORKER`] parts per worker out at a time, until the log ends.
    fn pump(&mut self, lines: &mut LineReader, links: &[WorkerLink], max_lines: usize) -> Filled {
        let threads = links.len().max(1);
        let in_flight = IN_FLIGHT_PER_WORKER * threads;
        let (mut sent, mut taken) = (0usize, 0usize);
        loop {
            let mut part = self.spare.pop().unwrap_or_default();
            part.clear();
            let filled = part.fill(lines, max_lines);
            if !part.items.is_empty() {
                let events = self.spare_events.pop().unwrap_or_default();
                let assumed = self.assumed();
                let Some(link) = links.get(sent % threads) else {
                    return filled;
                };
                if link.to.send((part, assumed, events)).is_err() {
                    return filled;
                }
                sent += 1;
            }
            let last = !matches!(filled, Filled::Full);
            while taken < sent && (sent - taken >= in_flight || last) {
                let Some(parsed) = links.get(taken % threads).and_then(|l| l.from.recv().ok())
                else {
                    break;
                };
                self.take(parsed);
                taken += 1;
            }
            if last {
                return filled;
            }
        }
    }

    /// What the reading has reached: the state the next part is parsed from.
    fn assumed(&self) -> Assumed {
        let r = &self.rest.st.resolver;
        Assumed {
            year: r.year_state(),
            last_us: r.last_instant(),
        }
    }

    /// Adds the next part: parsed again from the actual state when it was parsed from another
    /// one that gives a year-less stamp of it another year, or its first stamp, in an hour a
    /// DST end repeats, the other instant.
    fn take(&mut self, parsed: Parsed) {
        let actual = self.assumed();
        let mut parsed = parsed;
        let resolver = &parsed.st.resolver;
        if !resolver.resumed_alike(parsed.assumed.year, actual.year)
            || !resolver.repeated_hour_alike(actual.last_us)
        {
            parsed = self.reader.parse(parsed.part, actual, parsed.events);
            self.parsed_again += 1;
        }
        let Parsed {
            part,
            st,
            counts,
            skipped,
            mut events,
            ..
        } = parsed;
        self.rest.st.follow(&st);
        self.rest.counts.add(&counts);
        self.rest.skipped.merge(skipped);
        self.rest.out.extend(&mut events);
        self.spare.push(part);
        self.spare_events.push(events);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::mpsc::sync_channel;

    use chrono::{TimeZone, Utc};

    use super::super::channel::{Link, Msg};
    use super::super::{InputRead, PacketInput, ReadOptions, source};
    use super::Workers;
    use crate::clock::Zone;
    use crate::evidence::InputForm;

    /// The floods lab run's kern.log (real kernel, real flood tools), restamped: its first
    /// 30,000 lines in December, the next 20 in June, the rest in January. After June,
    /// January stays in the same year; after December it would be the next: a part sent
    /// while the December lines were being taken back is parsed from the wrong state.
    fn restamped_kern_log() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/lab/floods/kern.log.gz"
        );
        let raw = std::fs::read(path).expect("lab file");
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut text)
            .expect("gzip");
        let mut out = Vec::with_capacity(text.len());
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let month: &[u8] = match i {
                0..30_000 => b"Dec",
                30_000..30_020 => b"Jun",
                _ => b"Jan",
            };
            if let Some(rest) = line.strip_prefix(&b"Dec"[..]) {
                out.extend_from_slice(month);
                out.extend_from_slice(rest);
            } else {
                out.extend_from_slice(line);
            }
            out.push(b'\n');
        }
        out
    }

    /// Everything a reading thread sends, in order: each batch's events, the form and where
    /// it came among the batches, and the input's counts.
    #[derive(Debug, PartialEq)]
    struct Sent {
        batches: Vec<Vec<halfopen_tcp::Event>>,
        form_after_batches: Option<(usize, InputForm)>,
        done: String,
    }

    fn read(log: &[u8], workers: Workers) -> (Sent, u64) {
        let opts = ReadOptions {
            tcp: halfopen_tcp::Config::default(),
            max_line_len: 4096,
            max_skipped_kept: 5,
            year: None,
            zone: Zone::Utc,
            access_hint_us: None,
            now: Some(Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap()),
            firewall_shows: None,
            prefix: None,
            show_payload: false,
            workers,
        };
        let (tx, rx) = sync_channel(4);
        let (_spare_tx, spare) = sync_channel(4);
        let link = Link { tx, spare };
        let input = PacketInput {
            name: "kern.log".to_owned(),
            capture: false,
            reader: Box::new(std::io::Cursor::new(log.to_vec())),
            mtime: None,
        };
        std::thread::scope(|s| {
            let (opts, link) = (&opts, link);
            s.spawn(move || source::read(input, opts, &link));
            let mut sent = Sent {
                batches: Vec::new(),
                form_after_batches: None,
                done: String::new(),
            };
            let mut again = 0;
            for m in rx.iter() {
                match m {
                    Msg::Events(b) => sent.batches.push(b.events),
                    Msg::Form(f) => sent.form_after_batches = Some((sent.batches.len(), f)),
                    Msg::Done(r) => {
                        again = r.parsed_again;
                        let r = InputRead {
                            parsed_again: 0,
                            ..*r
                        };
                        // The tally's counts, kept lines, kernel messages, span, year.
                        sent.done = format!(
                            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                            r.counts,
                            r.skipped,
                            r.kernel,
                            r.kernel_total,
                            r.span,
                            r.inferred_year,
                            r.other_format,
                            (
                                r.tally.tcp,
                                r.tally.flagged,
                                r.tally.inbound,
                                r.tally.outbound
                            ),
                            (r.tally.bare_syns, r.tally.syn_acks, r.tally.inbound_non_syn),
                            (r.tally.denied, r.tally.smallest_rule, r.tally.with_options),
                        );
                        break;
                    }
                }
            }
            (sent, again)
        })
    }

    #[test]
    fn workers_send_what_one_thread_sends_and_reparse_a_part_from_the_wrong_year() {
        let log = restamped_kern_log();
        let one = Workers {
            threads: 0,
            part_lines: 1,
        };
        let (serial, again) = read(&log, one);
        assert_eq!(again, 0);
        assert!(
            serial.batches.len() > 10,
            "{} batches",
            serial.batches.len()
        );
        for (threads, part_lines) in [(2, 7), (3, 100), (2, 5000)] {
            let (parallel, again) = read(
                &log,
                Workers {
                    threads,
                    part_lines,
                },
            );
            assert!(
                parallel == serial,
                "{threads} workers, parts of {part_lines}: not what one thread sent"
            );
            if part_lines < 1000 {
                assert!(
                    again > 0,
                    "{threads} workers, parts of {part_lines}: no part parsed again"
                );
            }
        }
    }
}
