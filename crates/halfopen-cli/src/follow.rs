//! Following one file as it grows, is truncated, or is rotated, keeping a bounded tail of
//! whole lines.
//!
//! The file is read through a handle kept open between polls. When the path names another
//! file (logrotate's `create` mode renames the old one away and creates a new one), the old
//! handle is first read to its end, so the lines written just before the rename are not lost,
//! and only then is the new file opened and read from its start. A file that shrinks under the
//! handle (`copytruncate`) is read again from its start. While the path is missing the old
//! handle is kept: the writer may still append to it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::cli::CliError;

/// Bytes read at a time.
const CHUNK: usize = 64 << 10;

/// What identifies a file whatever its name.
type FileId = Option<(u64, u64)>;

#[cfg(unix)]
fn id_of(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn id_of(_: &std::fs::Metadata) -> FileId {
    None
}

/// The last `window` bytes of what was read, cut at line starts.
#[derive(Debug, Default)]
pub struct Tail {
    data: Vec<u8>,
    window: usize,
    /// The start of the current line was dropped: drop the rest of it too.
    skipping: bool,
}

impl Tail {
    /// An empty tail that keeps at most `window` bytes.
    pub fn new(window: usize) -> Tail {
        Tail {
            data: Vec::new(),
            window,
            skipping: false,
        }
    }

    /// Appends bytes, then drops whole lines from the front until at most `window` remain.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.skipping {
            let Some(nl) = memchr_newline(bytes) else {
                return;
            };
            bytes = bytes.get(nl + 1..).unwrap_or_default();
            self.skipping = false;
        }
        self.data.extend_from_slice(bytes);
        let excess = self.data.len().saturating_sub(self.window);
        if excess == 0 {
            return;
        }
        // Drop through the first newline at or after the last byte that must go.
        let from = excess - 1;
        match self.data.get(from..).and_then(memchr_newline) {
            Some(nl) => {
                self.data.drain(..from + nl + 1);
            }
            None => {
                self.data.clear();
                self.skipping = true;
            }
        }
    }

    /// Ends a last line that has no newline (its file is done).
    pub fn end_line(&mut self) {
        if self.data.last().is_some_and(|&b| b != b'\n') {
            self.push(b"\n");
        }
        self.skipping = false;
    }

    /// Forgets a partial first line (reading starts inside a file).
    pub fn skip_to_next_line(&mut self) {
        self.end_line();
        self.skipping = true;
    }

    /// The complete lines (a last line still being written is left out).
    pub fn complete(&self) -> &[u8] {
        let end = self
            .data
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        self.data.get(..end).unwrap_or_default()
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// An open file and how far it was read.
#[derive(Debug)]
struct Opened {
    file: File,
    id: FileId,
    pos: u64,
}

impl Opened {
    /// Reads what was appended since the last call (after a truncation: from the start) into
    /// `tail`; skips ahead when more than the window is waiting. True when bytes were read.
    fn drain(&mut self, tail: &mut Tail, name: &str) -> Result<bool, CliError> {
        let io = |e: std::io::Error| CliError::Input(format!("{name}: {e}"));
        let len = self.file.metadata().map_err(io)?.len();
        if len < self.pos {
            // Truncated in place (copytruncate): the new content starts at 0.
            tail.end_line();
            self.seek(0).map_err(io)?;
        }
        let waiting = len - self.pos;
        if waiting == 0 {
            return Ok(false);
        }
        let window = u64::try_from(tail.window).unwrap_or(u64::MAX);
        if waiting > window {
            // Only the last window can be kept: do not read what would be dropped.
            tail.skip_to_next_line();
            self.seek(len - window).map_err(io)?;
        }
        let mut buf = vec![0u8; CHUNK];
        let mut limited = (&mut self.file).take(len - self.pos);
        let mut read_any = false;
        loop {
            let n = match limited.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(e)),
            };
            tail.push(buf.get(..n).unwrap_or_default());
            self.pos += n as u64;
            read_any = true;
        }
        Ok(read_any)
    }

    fn seek(&mut self, to: u64) -> std::io::Result<()> {
        self.pos = self.file.seek(SeekFrom::Start(to))?;
        Ok(())
    }
}

/// One followed file.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    name: String,
    open: Option<Opened>,
    tail: Tail,
    /// Skip the content present at the first open (`--from-end`).
    start_at_end: bool,
}

impl Follower {
    /// Follows `path`, keeping at most `window` bytes; `from_end` skips what the file holds
    /// when it is first opened.
    pub fn new(path: &Path, window: usize, from_end: bool) -> Follower {
        Follower {
            path: path.to_path_buf(),
            name: path.display().to_string(),
            open: None,
            tail: Tail::new(window),
            start_at_end: from_end,
        }
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The complete lines kept.
    pub fn lines(&self) -> &[u8] {
        self.tail.complete()
    }

    /// Reads what is new. True when lines may have changed.
    pub fn poll(&mut self) -> Result<bool, CliError> {
        let mut changed = self.drain_open()?;
        let Ok(meta) = std::fs::metadata(&self.path) else {
            // Renamed away and not recreated yet: keep the old handle.
            self.start_at_end = false;
            return Ok(changed);
        };
        let id = id_of(&meta);
        let same = self.open.as_ref().is_some_and(|o| o.id == id);
        if !same {
            // Rotated (or first open): finish the old file, then take the new one.
            if self.open.is_some() {
                changed |= self.drain_open()?;
                self.tail.end_line();
            }
            self.open = self.open_path()?;
            changed |= self.drain_open()?;
        }
        Ok(changed)
    }

    fn drain_open(&mut self) -> Result<bool, CliError> {
        match &mut self.open {
            Some(o) => o.drain(&mut self.tail, &self.name),
            None => Ok(false),
        }
    }

    fn open_path(&mut self) -> Result<Option<Opened>, CliError> {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            // Gone between the stat and the open: try again next poll.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CliError::Input(format!("{}: cannot open: {e}", self.name))),
        };
        let meta = file
            .metadata()
            .map_err(|e| CliError::Input(format!("{}: {e}", self.name)))?;
        let mut opened = Opened {
            file,
            id: id_of(&meta),
            pos: 0,
        };
        if std::mem::take(&mut self.start_at_end) {
            opened
                .seek(meta.len())
                .map_err(|e| CliError::Input(format!("{}: {e}", self.name)))?;
        }
        Ok(Some(opened))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("halfopen-follow-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut h = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        h.write_all(bytes).unwrap();
    }

    #[test]
    fn no_line_is_lost_when_the_file_is_rotated_between_polls() {
        let d = dir("rotate");
        let path = d.join("fw.log");
        std::fs::write(&path, b"one\n").unwrap();
        let mut f = Follower::new(&path, 1 << 20, false);
        assert!(f.poll().unwrap());
        assert_eq!(f.lines(), b"one\n");
        assert!(!f.poll().unwrap());
        // Within one poll interval: append, rename away, recreate, write the new file.
        append(&path, b"two\n");
        std::fs::rename(&path, d.join("fw.log.1")).unwrap();
        append(&d.join("fw.log.1"), b"three (written to the old handle)\n");
        std::fs::write(&path, b"four\n").unwrap();
        assert!(f.poll().unwrap());
        assert_eq!(
            f.lines(),
            b"one\ntwo\nthree (written to the old handle)\nfour\n"
        );
        // Renamed away and not yet recreated: the old handle is still read.
        std::fs::rename(&path, d.join("fw.log.2")).unwrap();
        append(&d.join("fw.log.2"), b"five");
        assert!(f.poll().unwrap());
        std::fs::write(&path, b"six\n").unwrap();
        assert!(f.poll().unwrap());
        assert_eq!(
            f.lines(),
            b"one\ntwo\nthree (written to the old handle)\nfour\nfive\nsix\n"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn truncation_reads_from_the_start_and_partial_lines_wait() {
        let d = dir("trunc");
        let path = d.join("fw.log");
        std::fs::write(&path, b"one\ntwo\n").unwrap();
        let mut f = Follower::new(&path, 1 << 20, false);
        f.poll().unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&path, b"3\n4");
        assert!(f.poll().unwrap());
        assert_eq!(f.lines(), b"one\ntwo\n3\n");
        append(&path, b"\n");
        f.poll().unwrap();
        assert_eq!(f.lines(), b"one\ntwo\n3\n4\n");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn from_end_skips_what_is_there_and_missing_files_are_waited_for() {
        let d = dir("end");
        let path = d.join("fw.log");
        std::fs::write(&path, b"old\n").unwrap();
        let mut f = Follower::new(&path, 1 << 20, true);
        assert!(!f.poll().unwrap());
        append(&path, b"new\n");
        assert!(f.poll().unwrap());
        assert_eq!(f.lines(), b"new\n");
        let late = d.join("late.log");
        let mut g = Follower::new(&late, 1 << 20, true);
        assert!(!g.poll().unwrap());
        std::fs::write(&late, b"first\n").unwrap();
        assert!(g.poll().unwrap());
        assert_eq!(g.lines(), b"first\n", "a file created later is read whole");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_window_keeps_whole_lines_and_bounds_memory() {
        let mut t = Tail::new(8);
        t.push(b"aaa\nbbb\nccc\n");
        assert_eq!(t.complete(), b"bbb\nccc\n");
        t.push(b"0123456789abc");
        assert_eq!(t.complete(), b"");
        t.push(b"def\ng\n");
        assert_eq!(
            t.complete(),
            b"g\n",
            "the rest of an over-long line is dropped"
        );
        let mut zero = Tail::new(0);
        zero.push(b"x\ny\n");
        assert_eq!(zero.complete(), b"");
        // Skipping ahead in a big file keeps the last window only, from a line start.
        let d = dir("window");
        let path = d.join("big.log");
        let mut big = Vec::new();
        for i in 0..10_000 {
            big.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        std::fs::write(&path, &big).unwrap();
        let mut f = Follower::new(&path, 100, false);
        f.poll().unwrap();
        assert!(f.lines().len() <= 100);
        assert!(f.lines().starts_with(b"line "));
        assert!(f.lines().ends_with(b"line 9999\n"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
