//! Where a generated stream goes: a file, a FIFO or stdout, written in large chunks, with
//! line and byte counters and a one-line summary for the measuring script.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Bytes gathered before one `write` (a pipe takes 64 KiB at a time; larger chunks cost
/// fewer system calls).
pub const CHUNK: usize = 256 * 1024;

/// One output stream of a generator.
pub struct Sink {
    name: &'static str,
    out: Option<Box<dyn Write + Send>>,
    /// The pending bytes: generators append whole lines or records here.
    pub buf: Vec<u8>,
    lines: u64,
    written: u64,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("name", &self.name)
            .field("on", &self.out.is_some())
            .field("lines", &self.lines)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl Sink {
    /// A sink writing to `out`.
    pub fn new(name: &'static str, out: Box<dyn Write + Send>) -> Sink {
        Sink {
            name,
            out: Some(out),
            buf: Vec::with_capacity(CHUNK + 4096),
            lines: 0,
            written: 0,
        }
    }

    /// A sink that is not wanted: generators skip rendering into it (but keep their random
    /// draws, so the other outputs stay the same bytes).
    pub fn off(name: &'static str) -> Sink {
        Sink {
            name,
            out: None,
            buf: Vec::new(),
            lines: 0,
            written: 0,
        }
    }

    /// An in-memory sink (tests): the bytes are kept in a shared buffer.
    pub fn memory(name: &'static str) -> (Sink, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
        let shared = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = Shared(shared.clone());
        (Sink::new(name, Box::new(w)), shared)
    }

    /// Whether anything is written.
    pub fn is_on(&self) -> bool {
        self.out.is_some()
    }

    /// The stream's name (`firewall`, `access`, `pcap`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Counts one line or record appended to [`Sink::buf`].
    pub fn end_line(&mut self) {
        self.lines += 1;
    }

    /// Lines or records produced so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Bytes produced so far (written or pending).
    pub fn bytes(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// Whether the pending bytes make a chunk.
    pub fn full(&self) -> bool {
        self.buf.len() >= CHUNK
    }

    /// Writes the pending bytes.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(out) = &mut self.out {
            out.write_all(&self.buf)?;
            self.written += self.buf.len() as u64;
        }
        self.buf.clear();
        Ok(())
    }

    /// Writes everything and flushes the underlying writer.
    pub fn finish(&mut self) -> io::Result<()> {
        self.flush()?;
        if let Some(out) = &mut self.out {
            out.flush()?;
        }
        Ok(())
    }

    /// `"name":{"lines":L,"bytes":B}` for the summary (bytes actually handed to the writer).
    fn summary(&self) -> String {
        format!(
            "\"{}\":{{\"lines\":{},\"bytes\":{}}}",
            self.name, self.lines, self.written
        )
    }
}

/// Flushes `first` then `second` when either holds a chunk. When the two are FIFOs read by
/// one consumer, the smaller stream (the access log) goes first, so a reader that wants the
/// start of one input before it reads the other never waits on bytes still buffered here.
pub fn flush_pair(first: &mut Sink, second: &mut Sink) -> io::Result<()> {
    if first.full() || second.full() {
        first.flush()?;
        second.flush()?;
    }
    Ok(())
}

#[derive(Debug)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self.0.lock() {
            Ok(mut v) => {
                v.extend_from_slice(b);
                Ok(b.len())
            }
            Err(_) => Err(io::Error::other("poisoned")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Opens every path for writing (`-` = stdout), each on its own thread: opening a FIFO
/// blocks until its reader opens it, and the reader may open them in any order.
pub fn open_all(paths: &[PathBuf]) -> io::Result<Vec<Box<dyn Write + Send>>> {
    let opened: Vec<io::Result<Box<dyn Write + Send>>> = std::thread::scope(|s| {
        let handles: Vec<_> = paths.iter().map(|p| s.spawn(move || open(p))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(io::Error::other("open thread panicked")))
            })
            .collect()
    });
    opened.into_iter().collect()
}

fn open(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdout()));
    }
    let f = File::create(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(Box::new(f))
}

/// Prints the generator's summary on stderr as one JSON line (the measuring script reads it):
/// `{"generator":..,"complete":..,"seconds":..,"mb_per_s":..,"<sink>":{"lines":..,"bytes":..},..}`.
/// `complete` is false when a write failed (a reader that went away: `"error"` says why).
pub fn report(generator: &str, sinks: &[&Sink], started: Instant, result: &io::Result<()>) {
    let secs = started.elapsed().as_secs_f64();
    let total: u64 = sinks.iter().map(|s| s.written).sum();
    let mut line = format!(
        "{{\"generator\":\"{generator}\",\"complete\":{},\"seconds\":{secs:.3},\"mb_per_s\":{:.1}",
        result.is_ok(),
        total as f64 / 1e6 / secs.max(1e-9)
    );
    for s in sinks.iter().filter(|s| s.is_on()) {
        line.push(',');
        line.push_str(&s.summary());
    }
    if let Err(e) = result {
        let msg = e.to_string().replace(['"', '\\'], "'");
        line.push_str(&format!(",\"error\":\"{msg}\""));
    }
    line.push('}');
    eprintln!("{line}");
}

/// Parses a size: a number with an optional suffix `K`, `M`, `G`, `T` (powers of 1000) or
/// `Ki`, `Mi`, `Gi`, `Ti` (powers of 1024); `_` separators allowed; fractions allowed with a
/// suffix (`6.25M`).
///
/// ```
/// use halfopen_benches::scale::sink::parse_size;
/// assert_eq!(parse_size("100M"), Ok(100_000_000));
/// assert_eq!(parse_size("6.25M"), Ok(6_250_000));
/// assert_eq!(parse_size("2Gi"), Ok(2 << 30));
/// assert_eq!(parse_size("1_000"), Ok(1000));
/// assert!(parse_size("ten").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t: String = s.trim().chars().filter(|&c| c != '_').collect();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let mult: f64 = match suffix {
        "" => 1.0,
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "{s}: unknown suffix {suffix:?} (K, M, G, Ki, Mi, Gi)"
            ));
        }
    };
    let n: f64 = num.parse().map_err(|_| format!("{s}: not a number"))?;
    let v = (n * mult).round();
    if !(0.0..=9.0e18).contains(&v) {
        return Err(format!("{s}: out of range"));
    }
    Ok(v as u64)
}
