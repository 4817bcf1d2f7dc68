//! Reading inputs line by line: files, stdin, gzip (detected by its magic bytes, multi-member
//! so rotated `.gz` files work), with a line-length cap and byte offsets.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::error::{Error, Result};

/// Default longest line (longer lines are reported once and skipped).
pub const DEFAULT_MAX_LINE: usize = 65_536;

/// Opens a path (`-` is stdin) as a byte stream, gunzipping when the data starts with 1f 8b.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>> {
    let name = path.display().to_string();
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(|source| Error::Io {
            file: name.clone(),
            source,
        })?)
    };
    maybe_gunzip(raw, &name)
}

/// Wraps a reader in a gzip decoder when its first bytes are the gzip magic.
pub fn maybe_gunzip(r: Box<dyn Read + Send>, name: &str) -> Result<Box<dyn Read + Send>> {
    let mut br = BufReader::with_capacity(1 << 16, r);
    let head = br.fill_buf().map_err(|source| Error::Io {
        file: name.to_owned(),
        source,
    })?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(br)))
    } else {
        Ok(Box::new(br))
    }
}

/// One line: number (1-based), byte offset of its start, bytes (no `\n`, no trailing `\r`).
#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based line number.
    pub number: u64,
    /// Byte offset of the line start in the (decompressed) stream.
    pub offset: u64,
    /// The bytes.
    pub bytes: &'a [u8],
}

/// Lines of a byte stream, with a length cap and no allocation per line.
pub struct Lines {
    r: BufReader<Box<dyn Read + Send>>,
    buf: Vec<u8>,
    number: u64,
    offset: u64,
    max: usize,
    done: bool,
    /// Bytes of the reader's buffer handed out as the last line, consumed at the next call.
    pending: usize,
}

/// What [`Lines::next_line`] gives.
pub enum Next<'a> {
    /// A line.
    Line(Line<'a>),
    /// A line longer than the cap (skipped): number, offset, length.
    TooLong(u64, u64, usize),
    /// An I/O error (the stream ends).
    Err(std::io::Error),
    /// End of input.
    End,
}

impl Lines {
    /// Lines of `r`, capped at `max` bytes per line.
    pub fn new(r: Box<dyn Read + Send>, max: usize) -> Lines {
        Lines {
            r: BufReader::with_capacity(1 << 16, r),
            buf: Vec::with_capacity(1024),
            number: 0,
            offset: 0,
            max,
            done: false,
            pending: 0,
        }
    }

    /// The next line.
    pub fn next_line(&mut self) -> Next<'_> {
        if self.done {
            return Next::End;
        }
        self.r.consume(std::mem::take(&mut self.pending));
        // Fast path: the whole line is in the reader's buffer; hand it out without copying.
        let found = match self.r.fill_buf() {
            Ok(chunk) => memchr::memchr(b'\n', chunk),
            Err(_) => None,
        };
        if let Some(i) = found
            && i <= self.max
        {
            let start = self.offset;
            self.offset = self.offset.saturating_add(i as u64 + 1);
            self.number += 1;
            self.pending = i + 1;
            let line = self.r.buffer().get(..i).unwrap_or_default();
            return Next::Line(Line {
                number: self.number,
                offset: start,
                bytes: line.strip_suffix(b"\r").unwrap_or(line),
            });
        }
        self.buf.clear();
        let start = self.offset;
        let mut len = 0usize;
        let mut saw_any = false;
        loop {
            let chunk = match self.r.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Next::Err(e);
                }
            };
            if chunk.is_empty() {
                self.done = true;
                if !saw_any {
                    return Next::End;
                }
                break;
            }
            saw_any = true;
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            let room = self.max.saturating_sub(self.buf.len());
            if let Some(part) = chunk.get(..take.min(room)) {
                self.buf.extend_from_slice(part);
            }
            len = len.saturating_add(take);
            let consumed = if found { take + 1 } else { take };
            self.r.consume(consumed);
            self.offset = self.offset.saturating_add(consumed as u64);
            if found {
                break;
            }
        }
        self.number += 1;
        if len > self.max {
            return Next::TooLong(self.number, start, len);
        }
        let bytes = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
        Next::Line(Line {
            number: self.number,
            offset: start,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(data: Vec<u8>, max: usize) -> Vec<String> {
        let r = maybe_gunzip(Box::new(std::io::Cursor::new(data)), "t").unwrap();
        let mut l = Lines::new(r, max);
        let mut out = Vec::new();
        loop {
            match l.next_line() {
                Next::Line(x) => out.push(format!(
                    "{}@{}:{}",
                    x.number,
                    x.offset,
                    String::from_utf8_lossy(x.bytes)
                )),
                Next::TooLong(n, o, len) => out.push(format!("{n}@{o}:too long {len}")),
                Next::Err(e) => out.push(format!("err {e}")),
                Next::End => break,
            }
        }
        out
    }

    #[test]
    fn lines_offsets_caps() {
        assert_eq!(
            collect(b"ab\r\ncdefgh\n\nxy".to_vec(), 4),
            ["1@0:ab", "2@4:too long 6", "3@11:", "4@12:xy"]
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
