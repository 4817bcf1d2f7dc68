//! One firewall line made into what the analysis uses: a TCP event with its stamp resolved,
//! a kernel message about a SYN flood, or nothing, with the input's tallies counted on the way
//! ([`ParseState`]).

use halfopen_fwlog::kernel;
use halfopen_fwlog::{Format, Record};

use super::{KernelNote, widen};
use crate::clock::CachedResolver;
use crate::evidence::FormTally;
use crate::input::Use;

/// Kernel messages kept per input (they are rate-limited by the kernel; a log with more is
/// summarised by the count).
const MAX_KERNEL_NOTES: usize = 10_000;

/// A parsed firewall line: an event, a kernel message (kept), nothing relevant.
enum Parsed {
    Event(halfopen_tcp::Event),
    Kernel,
    Irrelevant,
}

/// What reading a firewall log's lines carries from one line to the next: the stamp
/// resolver (the year rollover), the tallies, the kernel messages, the time span.
#[derive(Debug)]
pub struct ParseState {
    /// Turns the lines' stamps into instants.
    pub resolver: CachedResolver,
    /// What the lines show.
    pub tally: FormTally,
    /// Kernel messages, the first [`MAX_KERNEL_NOTES`].
    pub kernel: Vec<KernelNote>,
    /// Kernel messages, all counted.
    pub kernel_total: u64,
    /// Lines of another firewall format.
    pub other_format: u64,
    /// First and last event times, µs.
    pub span: Option<(i64, i64)>,
    /// Lines are only counted in the tally ([`FormTally::add_counts`]): a part of a log read
    /// past its form's decision.
    counts_only: bool,
}

impl ParseState {
    /// The state at an input's start, or (`counts_only`) at the start of a part read past
    /// the form's decision.
    pub fn new(resolver: CachedResolver, counts_only: bool) -> ParseState {
        ParseState {
            resolver,
            tally: FormTally::default(),
            kernel: Vec::new(),
            kernel_total: 0,
            other_format: 0,
            span: None,
            counts_only,
        }
    }

    /// What line `n` is used for, its event handed to `event`.
    pub fn use_line(
        &mut self,
        format: Format,
        n: u64,
        b: &[u8],
        event: impl FnOnce(halfopen_tcp::Event),
    ) -> Use {
        match self.line(format, n, b) {
            Ok(Parsed::Event(ev)) => {
                event(ev);
                Use::Record
            }
            Ok(Parsed::Kernel) => Use::Record,
            Ok(Parsed::Irrelevant) => Use::Ignored,
            Err(e) => Use::Bad(e),
        }
    }

    /// Adds the state a later part of the same log left, read from this state's year
    /// rollover on: its tallies, kernel messages and span; its year rollover state.
    pub fn follow(&mut self, later: &ParseState) {
        self.resolver.follow(&later.resolver);
        self.tally.merge(&later.tally);
        self.kernel_total += later.kernel_total;
        let room = MAX_KERNEL_NOTES.saturating_sub(self.kernel.len());
        self.kernel.extend(later.kernel.iter().take(room).copied());
        self.other_format += later.other_format;
        if let Some((a, b)) = later.span {
            widen(&mut self.span, a);
            widen(&mut self.span, b);
        }
    }

    /// One line.
    fn line(&mut self, format: Format, n: u64, b: &[u8]) -> Result<Parsed, String> {
        // Read in place: moving the 688-byte record out of the result copied it per line.
        let parsed = halfopen_fwlog::parse_line(format, b);
        let rec = match &parsed {
            Ok(r) => r,
            Err(e) => return self.not_a_record(format, n, b, e),
        };
        let ts = self.time(rec, n)?;
        if self.counts_only {
            self.tally.add_counts(rec);
        } else {
            self.tally.add_at(rec, ts);
        }
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
