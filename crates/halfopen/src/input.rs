//! Reading inputs: paths (`-` is stdin) and [`halfopen_fwlog::reader::LineReader`] (gzip by
//! magic bytes, multi-member, line cap, byte offsets), turned into the items the analysis
//! counts (a line, an over-long line, a read error).

use std::io::Read;
use std::path::Path;

use halfopen_fwlog::reader::LineReader;

use crate::error::{Error, Result};

pub use halfopen_fwlog::reader::{DEFAULT_MAX_LINE_LEN, decompress};

/// Opens a path (`-` is stdin) as a raw byte stream (gzip is detected by the readers).
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(std::io::stdin()));
    }
    match std::fs::File::open(path) {
        Ok(f) => Ok(Box::new(f)),
        Err(source) => Err(Error::Io {
            file: path.display().to_string(),
            source,
        }),
    }
}

/// One read from a line reader: a line (number, byte offset, bytes), an over-long line
/// (number, offset, error) or a read error (number, error; the input ends there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<B> {
    /// A line.
    Line(u64, u64, B),
    /// A line over the cap (skipped).
    TooLong(u64, u64, String),
    /// The input could not be read further.
    ReadError(u64, String),
}

impl Item<Vec<u8>> {
    /// The borrowed form.
    pub fn as_ref(&self) -> Item<&[u8]> {
        match self {
            Item::Line(n, o, b) => Item::Line(*n, *o, b.as_slice()),
            Item::TooLong(n, o, e) => Item::TooLong(*n, *o, e.clone()),
            Item::ReadError(n, e) => Item::ReadError(*n, e.clone()),
        }
    }
}

/// The next item of `lines`, `None` at the end.
///
/// ```
/// use halfopen::input::{next, Item};
/// let mut r = halfopen_fwlog::reader::LineReader::from_reader(Box::new(&b"ab\r\ncdefgh\nxy"[..]), "t")
///     .with_max_line_len(4);
/// assert_eq!(next(&mut r), Some(Item::Line(1, 0, &b"ab"[..])));
/// assert!(matches!(next(&mut r), Some(Item::TooLong(2, 4, _))));
/// assert_eq!(next(&mut r), Some(Item::Line(3, 11, &b"xy"[..])));
/// assert_eq!(next(&mut r), None);
/// ```
pub fn next(lines: &mut LineReader) -> Option<Item<&[u8]>> {
    let (number, offset) = (lines.lines_read().saturating_add(1), lines.next_offset());
    Some(match lines.next_line()? {
        Ok(l) => Item::Line(l.number, l.offset, l.bytes),
        Err(e @ halfopen_fwlog::Error::LineTooLong { .. }) => {
            Item::TooLong(number, offset, e.to_string())
        }
        Err(e) => Item::ReadError(number, e.to_string()),
    })
}

/// Lines read to detect a format.
pub const SAMPLE_LINES: usize = 200;

/// A line that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkippedLine {
    /// File name.
    pub file: String,
    /// 1-based line number (packet number for pcaps); 0 for the whole input.
    pub line: u64,
    /// Byte offset of the line start in the (decompressed) input.
    pub offset: u64,
    /// Why.
    pub error: String,
}

/// Skipped lines: all counted, the first `cap` kept with their reasons.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Lines skipped in total.
    pub total: u64,
    /// The first ones.
    pub kept: Vec<SkippedLine>,
    /// How many are kept.
    pub cap: usize,
}

impl Skipped {
    /// An empty list keeping at most `cap` lines.
    pub fn new(cap: usize) -> Skipped {
        Skipped {
            cap,
            ..Skipped::default()
        }
    }

    /// Counts a skipped line (kept while under the cap).
    pub fn push(&mut self, file: &str, line: u64, offset: u64, error: String) {
        self.total += 1;
        if self.kept.len() < self.cap {
            self.kept.push(SkippedLine {
                file: file.to_owned(),
                line,
                offset,
                error,
            });
        }
    }

    /// Adds every line of `o`.
    pub fn merge(&mut self, o: Skipped) {
        self.total += o.total;
        for s in o.kept {
            if self.kept.len() < self.cap {
                self.kept.push(s);
            }
        }
    }

    /// True when lines were counted but not kept.
    pub fn capped(&self) -> bool {
        self.total > self.kept.len() as u64
    }
}

/// Counts of one input: lines read, used, skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Lines (packets) read.
    pub lines: u64,
    /// Used.
    pub records: u64,
    /// Skipped (bad).
    pub skipped: u64,
    /// Read but not relevant (non-TCP records, other kernel messages, error-log lines that
    /// say nothing about connections).
    pub ignored: u64,
}

impl LineCounts {
    /// Adds the counts of `o` (another part of the same input).
    pub fn add(&mut self, o: &LineCounts) {
        self.lines += o.lines;
        self.records += o.records;
        self.skipped += o.skipped;
        self.ignored += o.ignored;
    }
}

/// The first lines of an input (format detection), replayed by [`for_each_line`].
pub type Sample = Vec<Item<Vec<u8>>>;

/// Reads the first [`SAMPLE_LINES`] lines.
pub fn read_sample(lines: &mut LineReader) -> Sample {
    let mut out = Vec::new();
    while out.len() < SAMPLE_LINES {
        match next(lines) {
            Some(Item::Line(n, o, b)) => out.push(Item::Line(n, o, b.to_vec())),
            Some(Item::TooLong(n, o, e)) => out.push(Item::TooLong(n, o, e)),
            Some(Item::ReadError(n, e)) => {
                out.push(Item::ReadError(n, e));
                break;
            }
            None => break,
        }
    }
    out
}

/// The non-empty lines of a sample.
pub fn sample_lines(sample: &Sample) -> impl Iterator<Item = &[u8]> {
    sample.iter().filter_map(|i| match i {
        Item::Line(_, _, b) if !b.is_empty() => Some(b.as_slice()),
        _ => None,
    })
}

/// What a line handler made of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// Used.
    Record,
    /// Read, not relevant.
    Ignored,
    /// Rejected, with the reason.
    Bad(String),
}

/// Counts one item of an input and hands a line to `f(number, offset, bytes)`: a line is
/// counted as used, ignored or skipped by what `f` made of it (an empty line only as read),
/// an over-long line as skipped. Returns the error of a read error, which ends the input.
pub fn count_item(
    name: &str,
    item: Item<&[u8]>,
    skipped: &mut Skipped,
    counts: &mut LineCounts,
    mut f: impl FnMut(u64, u64, &[u8]) -> Use,
) -> Option<String> {
    match item {
        Item::Line(n, o, b) => {
            counts.lines += 1;
            if b.is_empty() {
                return None;
            }
            match f(n, o, b) {
                Use::Record => counts.records += 1,
                Use::Ignored => counts.ignored += 1,
                Use::Bad(e) => {
                    counts.skipped += 1;
                    skipped.push(name, n, o, e);
                }
            }
        }
        Item::TooLong(n, o, e) => {
            counts.lines += 1;
            counts.skipped += 1;
            skipped.push(name, n, o, e);
        }
        Item::ReadError(n, e) => {
            let e = format!("read error: {e}");
            skipped.push(name, n, 0, e.clone());
            return Some(e);
        }
    }
    None
}

/// Calls `f(number, offset, bytes)` for the sample lines then the rest, counting lines and
/// skipped ones ([`count_item`]). Returns the read error that ended the input early, if one
/// did.
pub fn for_each_line(
    name: &str,
    sample: &Sample,
    lines: &mut LineReader,
    skipped: &mut Skipped,
    counts: &mut LineCounts,
    mut f: impl FnMut(u64, u64, &[u8]) -> Use,
) -> Option<String> {
    for item in sample {
        if let Some(e) = count_item(name, item.as_ref(), skipped, counts, &mut f) {
            return Some(e);
        }
    }
    while let Some(item) = next(lines) {
        if let Some(e) = count_item(name, item, skipped, counts, &mut f) {
            return Some(e);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(data: Vec<u8>, max: usize) -> Vec<String> {
        let mut l = LineReader::from_reader(Box::new(std::io::Cursor::new(data)), "t")
            .with_max_line_len(max);
        let mut out = Vec::new();
        while let Some(item) = next(&mut l) {
            out.push(match item {
                Item::Line(n, o, b) => format!("{n}@{o}:{}", String::from_utf8_lossy(b)),
                Item::TooLong(n, o, _) => format!("{n}@{o}:too long"),
                Item::ReadError(n, e) => format!("{n}:err {e}"),
            });
        }
        out
    }

    #[test]
    fn lines_offsets_caps() {
        assert_eq!(
            collect(b"ab\r\ncdefgh\n\nxy".to_vec(), 4),
            ["1@0:ab", "2@4:too long", "3@11:", "4@12:xy"]
        );
    }

    #[test]
    fn multi_member_gzip() {
        let mut out = Vec::new();
        for part in [&b"one\n"[..], b"two\n"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            out.extend(e.finish().unwrap());
        }
        assert_eq!(collect(out, 100), ["1@0:one", "2@4:two"]);
    }
}
