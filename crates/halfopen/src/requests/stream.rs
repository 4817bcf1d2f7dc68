//! The web logs read on their own threads, one per file, merged by time: [`WebStream`].
//!
//! Each file's thread parses its lines into [`WebItem`]s and sends them in batches with the
//! time it has read up to, even when a stretch of lines held nothing relevant. The consumer
//! takes batches in time order across files and knows how far every file has been read: the
//! [`WebStream::watermark`], the time before which no request can still arrive.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use halfopen_fwlog::reader::LineReader;
use halfopen_weblog::LogFormat;

use super::{WebItem, access_item_and_offset, error_item_and_server};
use crate::clock::Zone;
use crate::escape::thousands;
use crate::input::{self, LineCounts, Sample, Skipped, Use};
use crate::offsets::{LocalClock, OffsetTrail};

/// Lines read between two batches (a batch is sent after this many lines even when empty, so
/// the consumer learns how far the file has been read).
pub const LINES_PER_BATCH: usize = 4096;

/// Share of a web log's lines that may be skipped before it counts as unusable.
const MAX_SKIP_SHARE: f64 = 0.5;

/// One web log, its format detected, ready to read.
pub struct WebJob {
    /// Name as given.
    pub name: String,
    /// An access log (with its format) or an error log (`None`).
    pub format: Option<LogFormat>,
    /// Its lines.
    pub lines: LineReader,
    /// Its first lines, already read for detection.
    pub sample: Sample,
    /// The zone of error-log stamps (they carry none).
    pub err_zone: Zone,
}

/// What one web log gave, at its end.
#[derive(Debug, Clone, Default)]
pub struct WebDone {
    /// Name.
    pub name: String,
    /// An access log (true) or an error log.
    pub access: bool,
    /// The format's name.
    pub format: Option<String>,
    /// Line counts.
    pub counts: LineCounts,
    /// Skipped lines.
    pub skipped: Skipped,
    /// Why it cannot be trusted, if so.
    pub unusable: Option<String>,
    /// The UTC offsets an access log's lines carried.
    pub offsets: OffsetTrail,
}

/// A batch of one web log's items.
#[derive(Debug)]
pub struct WebBatch {
    /// The items, in file order.
    pub items: Vec<(i64, WebItem)>,
    /// The latest line time read so far (the file's own clock), µs.
    pub upto: Option<i64>,
}

enum WebMsg {
    Batch(WebBatch),
    Done(WebDone),
}

/// The format name of an error log whose lines do not say which server wrote it.
const UNTOLD_ERROR_LOG: &str = "apache/nginx error log";

/// Reads one web log to its end on the calling thread, sending batches.
fn read_job(mut job: WebJob, cap: usize, tx: &SyncSender<WebMsg>) {
    let access = job.format.is_some();
    let mut done = WebDone {
        name: job.name.clone(),
        access,
        format: Some(match &job.format {
            Some(f) => f.name().unwrap_or("custom").to_owned(),
            None => UNTOLD_ERROR_LOG.to_owned(),
        }),
        skipped: Skipped::new(cap),
        ..WebDone::default()
    };
    let mut parser = job.format.as_ref().map(LogFormat::parser);
    let mut err_clock = LocalClock::new(job.err_zone);
    let mut offsets = OffsetTrail::default();
    let mut items: Vec<(i64, WebItem)> = Vec::new();
    let mut upto: Option<i64> = None;
    let mut since = 0usize;
    let mut gone = false;
    let mut counts = LineCounts::default();
    let mut server = None;
    let read_error = input::for_each_line(
        &job.name,
        &job.sample,
        &mut job.lines,
        &mut done.skipped,
        &mut counts,
        |_, _, b| {
            let item = match &mut parser {
                Some(p) => access_item_and_offset(p, b).map(|(item, offset)| {
                    if let (Some(t), Some(o)) = (item.time(), offset) {
                        offsets.see(t, o);
                    }
                    item
                }),
                None => error_item_and_server(b, &mut err_clock).map(|(item, said)| {
                    server = server.or(said);
                    item
                }),
            };
            let used = match item {
                Ok(WebItem::Nothing) => Use::Ignored,
                Ok(WebItem::Internal) => {
                    items.push((upto.unwrap_or(i64::MIN), WebItem::Internal));
                    Use::Ignored
                }
                Ok(it) => {
                    let t = it.time().unwrap_or(i64::MIN);
                    upto = Some(upto.map_or(t, |u| u.max(t)));
                    items.push((t, it));
                    Use::Record
                }
                Err(e) => Use::Bad(e),
            };
            since += 1;
            if since >= LINES_PER_BATCH && !gone {
                since = 0;
                let batch = WebBatch {
                    items: std::mem::take(&mut items),
                    upto,
                };
                gone = tx.send(WebMsg::Batch(batch)).is_err();
            }
            used
        },
    );
    if !items.is_empty() {
        let _ = tx.send(WebMsg::Batch(WebBatch { items, upto }));
    }
    if let Some(w) = server {
        done.format = Some(w.error_log_format().to_owned());
    }
    done.counts = counts;
    done.offsets = offsets;
    done.unusable = unusable(access, &counts, read_error);
    let _ = tx.send(WebMsg::Done(done));
}

fn unusable(access: bool, counts: &LineCounts, read_error: Option<String>) -> Option<String> {
    let judged = counts.records + counts.skipped;
    match read_error {
        // A read error (a truncated .gz) ends the input early: what follows is missing.
        Some(e) => Some(format!(
            "{e} (the input ends there: what follows it is missing)"
        )),
        None if access && counts.records == 0 && counts.ignored == 0 && counts.lines > 0 => {
            Some("no line could be read as an access-log line".to_owned())
        }
        None if judged > 0 && counts.skipped as f64 > MAX_SKIP_SHARE * judged as f64 => {
            Some(format!(
                "{} of {} lines skipped",
                thousands(counts.skipped),
                thousands(judged)
            ))
        }
        None => None,
    }
}

struct Feed {
    rx: Receiver<WebMsg>,
    head: Option<WebBatch>,
    /// The latest time this file has been read up to.
    upto: i64,
    done: Option<WebDone>,
}

impl Feed {
    fn fill(&mut self) {
        while self.head.is_none() && self.done.is_none() {
            match self.rx.recv() {
                Ok(WebMsg::Batch(b)) => {
                    if let Some(u) = b.upto {
                        self.upto = self.upto.max(u);
                    }
                    self.head = Some(b);
                }
                Ok(WebMsg::Done(d)) => self.done = Some(d),
                Err(_) => self.done = Some(WebDone::default()),
            }
        }
    }

    fn head_time(&self) -> Option<i64> {
        let b = self.head.as_ref()?;
        Some(
            b.items
                .iter()
                .map(|(t, _)| *t)
                .find(|t| *t != i64::MIN)
                .unwrap_or(self.upto),
        )
    }
}

/// The web logs, merged by time.
pub struct WebStream {
    feeds: Vec<Feed>,
}

impl WebStream {
    /// Starts one thread per web log in `scope`.
    pub fn start<'s>(
        scope: &'s std::thread::Scope<'s, '_>,
        jobs: Vec<WebJob>,
        cap: usize,
    ) -> WebStream {
        let feeds = jobs
            .into_iter()
            .map(|job| {
                let (tx, rx) = sync_channel::<WebMsg>(8);
                scope.spawn(move || read_job(job, cap, &tx));
                Feed {
                    rx,
                    head: None,
                    upto: i64::MIN,
                    done: None,
                }
            })
            .collect();
        WebStream { feeds }
    }

    /// The next batch of items in time order across files, `None` when every file has ended.
    pub fn next_batch(&mut self) -> Option<Vec<(i64, WebItem)>> {
        for f in &mut self.feeds {
            f.fill();
        }
        let i = self
            .feeds
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.head_time().map(|t| (t, i)))
            .min()
            .map(|(_, i)| i)?;
        let batch = self.feeds.get_mut(i)?.head.take()?;
        Some(batch.items)
    }

    /// The time (each file's own clock) before which no item can still arrive: the least
    /// of the times the unfinished files have been read up to; `i64::MAX` when all ended.
    pub fn watermark(&self) -> i64 {
        self.feeds
            .iter()
            .filter(|f| f.done.is_none() || f.head.is_some())
            .map(|f| f.upto)
            .min()
            .unwrap_or(i64::MAX)
    }

    /// True when every file has ended and every batch was taken.
    pub fn is_done(&self) -> bool {
        self.feeds
            .iter()
            .all(|f| f.done.is_some() && f.head.is_none())
    }

    /// What each file gave (after [`WebStream::next_batch`] returned `None`).
    pub fn finish(self) -> Vec<WebDone> {
        self.feeds.into_iter().filter_map(|f| f.done).collect()
    }
}
