//! Streaming line reader: files, standard input, gzip (also multi-member, so rotated and
//! concatenated `.gz` files work), one reused buffer, a line-length cap.

use std::io::{BufRead, BufReader, ErrorKind, Read};
use std::path::Path;

use crate::{Error, Result};

/// Default cap on a line's length in bytes (without the newline).
pub const DEFAULT_MAX_LINE_LEN: usize = 65_536;

/// Bytes asked of the source per read.
const CHUNK: usize = 64 * 1024;

/// One line of input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// Byte offset of the line start in the (decompressed) stream.
    pub offset: u64,
    /// The line, without `\n` and without a trailing `\r`.
    pub bytes: &'a [u8],
}

/// Wraps a reader in a (multi-member) gzip decoder when its first bytes are the gzip magic
/// `1f 8b`; otherwise returns it buffered, unchanged. For binary inputs (pcaps) and whole-file
/// reads; [`LineReader`] does this itself.
///
/// ```
/// use std::io::Read;
/// let mut r = halfopen_fwlog::reader::decompress(Box::new(&b"plain"[..])).unwrap();
/// let mut s = String::new();
/// r.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "plain");
/// ```
pub fn decompress(r: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut br = BufReader::with_capacity(CHUNK, r);
    let gz = loop {
        match br.fill_buf() {
            Ok(b) => break b.starts_with(&[0x1f, 0x8b]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    Ok(if gz {
        Box::new(flate2::bufread::MultiGzDecoder::new(br))
    } else {
        Box::new(br)
    })
}

enum Source {
    /// Not read yet: gzip or not is decided on the first bytes.
    Pending(Box<dyn Read + Send>),
    Ready(Box<dyn Read + Send>),
    Done,
}

/// Reads lines from a file, standard input or any reader; gunzips transparently.
///
/// ```
/// use halfopen_fwlog::reader::LineReader;
/// let data: &[u8] = b"first\r\nsecond\nthird";
/// let mut r = LineReader::from_reader(Box::new(data), "example");
/// let l = r.next_line().unwrap().unwrap();
/// assert_eq!((l.number, l.offset, l.bytes), (1, 0, &b"first"[..]));
/// let l = r.next_line().unwrap().unwrap();
/// assert_eq!((l.number, l.offset, l.bytes), (2, 7, &b"second"[..]));
/// assert_eq!(r.next_line().unwrap().unwrap().bytes, b"third");
/// assert!(r.next_line().is_none());
/// ```
pub struct LineReader {
    src: Source,
    name: String,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    scan: usize,
    eof: bool,
    max: usize,
    number: u64,
    offset: u64,
    /// Offset of the line last returned.
    line_offset: u64,
    /// Bytes of an over-long line discarded so far.
    skipping: Option<usize>,
}

impl std::fmt::Debug for LineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineReader")
            .field("name", &self.name)
            .field("number", &self.number)
            .field("offset", &self.offset)
            .field("max_line_len", &self.max)
            .finish_non_exhaustive()
    }
}

impl LineReader {
    /// Opens a file (`-` = standard input). Gzip is recognised by its magic bytes.
    pub fn open(path: &Path) -> Result<LineReader> {
        let name = path.display().to_string();
        if path == Path::new("-") {
            return Ok(LineReader::from_reader(Box::new(std::io::stdin()), "-"));
        }
        let f = std::fs::File::open(path).map_err(|e| Error::Io {
            path: name.clone(),
            message: e.to_string(),
        })?;
        Ok(LineReader::from_reader(Box::new(f), &name))
    }

    /// Reads from any reader; `name` is used in error messages.
    pub fn from_reader(r: Box<dyn Read + Send>, name: &str) -> LineReader {
        LineReader {
            src: Source::Pending(r),
            name: name.to_string(),
            buf: Vec::new(),
            start: 0,
            end: 0,
            scan: 0,
            eof: false,
            max: DEFAULT_MAX_LINE_LEN,
            number: 0,
            offset: 0,
            line_offset: 0,
            skipping: None,
        }
    }

    /// Sets the line-length cap (bytes, without the newline).
    pub fn with_max_line_len(mut self, n: usize) -> LineReader {
        self.max = n.max(1);
        self
    }

    /// The input's name (path or `-`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Byte offset (in the decompressed stream) at which the next line starts: call it
    /// before [`LineReader::next_line`] to know where an over-long line began.
    pub fn next_offset(&self) -> u64 {
        self.offset
    }

    /// Number of lines returned so far (including rejected over-long ones).
    pub fn lines_read(&self) -> u64 {
        self.number
    }

    /// The next line; `Err(LineTooLong)` once for an over-long line (reading continues at the
    /// next line), `Err(Io)` then `None` on a read error.
    pub fn next_line(&mut self) -> Option<Result<Line<'_>>> {
        let (s, e) = loop {
            if let Some(i) = self
                .buf
                .get(self.scan..self.end)
                .and_then(|b| memchr::memchr(b'\n', b))
            {
                let nl = self.scan + i;
                let (s, e) = (self.start, nl);
                self.start = nl + 1;
                self.scan = self.start;
                match self.finish_line(s, e, 1) {
                    Ok(()) => break (s, e),
                    Err(err) => return Some(Err(err)),
                }
            }
            self.scan = self.end;
            let pending = self.end - self.start;
            if self.skipping.is_some() || pending > self.max {
                *self.skipping.get_or_insert(0) += pending;
                self.start = self.end;
                self.scan = self.end;
            }
            if self.eof {
                let pending = self.end - self.start;
                if self.skipping.is_some() {
                    self.src = Source::Done;
                    let (s, e) = (self.start, self.end);
                    self.start = self.end;
                    self.scan = self.end;
                    return self.finish_line(s, e, 0).err().map(Err);
                }
                if pending == 0 {
                    return None;
                }
                let (s, e) = (self.start, self.end);
                self.start = self.end;
                self.scan = self.end;
                if let Err(err) = self.finish_line(s, e, 0) {
                    return Some(Err(err));
                }
                break (s, e);
            }
            if let Err(err) = self.fill() {
                self.eof = true;
                self.start = self.end;
                self.scan = self.end;
                self.skipping = None;
                self.src = Source::Done;
                return Some(Err(err));
            }
        };
        let mut bytes = self.buf.get(s..e).unwrap_or_default();
        if let Some(b) = bytes.strip_suffix(b"\r") {
            bytes = b;
        }
        Some(Ok(Line {
            number: self.number,
            offset: self.line_offset,
            bytes,
        }))
    }

    /// Counts a line `buf[s..e]` plus `nl` newline bytes; an error if it was over-long.
    fn finish_line(&mut self, s: usize, e: usize, nl: usize) -> Result<()> {
        let seen = e - s + self.skipping.take().unwrap_or(0);
        self.number += 1;
        self.line_offset = self.offset;
        self.offset = self.offset.saturating_add((seen + nl) as u64);
        if seen > self.max {
            return Err(Error::LineTooLong {
                line: self.number,
                len: seen,
                limit: self.max,
            });
        }
        Ok(())
    }

    /// Reads more bytes into the buffer (compacting and growing it as needed).
    fn fill(&mut self) -> Result<()> {
        if let Source::Pending(_) = self.src {
            let Source::Pending(r) = std::mem::replace(&mut self.src, Source::Done) else {
                return Ok(());
            };
            self.src = Source::Ready(decompress(r).map_err(|e| self.io(&e))?);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scan -= self.start;
            self.start = 0;
        }
        if self.buf.len() < self.end + CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        let Source::Ready(r) = &mut self.src else {
            self.eof = true;
            return Ok(());
        };
        loop {
            let Some(dst) = self.buf.get_mut(self.end..) else {
                self.eof = true;
                return Ok(());
            };
            match r.read(dst) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(&e)),
            }
        }
    }

    fn io(&self, e: &std::io::Error) -> Error {
        Error::Io {
            path: self.name.clone(),
            message: e.to_string(),
        }
    }
}
