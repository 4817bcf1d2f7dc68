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
