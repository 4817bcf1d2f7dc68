//! `halfopen watch`: follow growing and rotating logs (polling; a file is reopened when its
//! inode changes or it shrinks) and print each source's verdict when it first forms or changes.
//!
//! Each tick re-analyses the retained tail of every file (at most `--window-mb` per file), so
//! memory stays bounded; verdicts already printed are not printed again.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use halfopen::{Analyzer, Source, Verdict};

use crate::cli::{CliError, InputArgs};

/// `halfopen watch`.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Inputs and options.
    #[command(flatten)]
    pub input: InputArgs,
    /// Seconds between polls.
    #[arg(long, default_value_t = 5)]
    pub interval: u64,
    /// Megabytes of each file kept for analysis.
    #[arg(long = "window-mb", default_value_t = 64)]
    pub window_mb: u64,
    /// Stop after this many polls (0 = run until interrupted).
    #[arg(long, default_value_t = 0)]
    pub polls: u64,
}

struct Followed {
    kind: Source,
    path: PathBuf,
    id: Option<(u64, u64)>,
    pos: u64,
    data: Vec<u8>,
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> Option<(u64, u64)> {
    None
}

impl Followed {
    /// Reads what was appended; reopens on rotation or truncation. True when data changed.
    fn poll(&mut self, window: usize) -> Result<bool, CliError> {
        let name = self.path.display().to_string();
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(false); // rotated away, not recreated yet
        };
        let id = file_id(&meta);
        if id != self.id || meta.len() < self.pos {
            self.id = id;
            self.pos = 0;
        }
        if meta.len() == self.pos {
            return Ok(false);
        }
        let mut f = std::fs::File::open(&self.path)
            .map_err(|e| CliError::Input(format!("{name}: cannot open: {e}")))?;
        f.seek(SeekFrom::Start(self.pos))
            .map_err(|e| CliError::Input(format!("{name}: {e}")))?;
        let mut buf = Vec::new();
        let n = f
            .take(window as u64)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::Input(format!("{name}: {e}")))?;
        self.pos += n as u64;
        self.data.extend_from_slice(&buf);
        if self.data.len() > window {
            let cut = self.data.len() - window;
            // Keep whole lines.
            let cut = self
                .data
                .get(cut..)
                .and_then(|t| t.iter().position(|&b| b == b'\n'))
                .map_or(cut, |p| cut + p + 1);
            self.data.drain(..cut.min(self.data.len()));
        }
        Ok(true)
    }
}

/// Runs `watch`.
pub fn run(w: &WatchArgs) -> Result<u8, CliError> {
    if w.input.firewall.is_empty() {
        return Err(CliError::Usage(
            "watch needs at least one --firewall FILE".into(),
        ));
    }
    let window = usize::try_from(w.window_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    let mut files: Vec<Followed> = w
        .input
        .all()
        .into_iter()
        .filter(|(k, p)| *k != Source::Pcap && p.as_os_str() != "-")
        .map(|(kind, path)| Followed {
            kind,
            path: path.to_path_buf(),
            id: None,
            pos: 0,
            data: Vec::new(),
        })
        .collect();
    let mut told: BTreeMap<IpAddr, Verdict> = BTreeMap::new();
    let mut out = anstream::stdout();
    let mut polls = 0u64;
    loop {
        let mut changed = false;
        for f in &mut files {
            changed |= f.poll(window)?;
        }
        if changed {
            let mut a = Analyzer::new(w.input.options()?);
            for f in &files {
                a.add_reader(
                    f.kind,
                    &f.path.display().to_string(),
                    Box::new(std::io::Cursor::new(f.data.clone())),
                    None,
                );
            }
            let report = a.finish();
            for s in &report.sources {
                if s.verdict == Verdict::Legitimate || s.verdict == Verdict::Unknown {
                    continue;
                }
                if told.get(&s.addr) != Some(&s.verdict) {
                    told.insert(s.addr, s.verdict);
                    let first = s
                        .evidence
                        .first()
                        .map(|e| e.sentence.as_str())
                        .unwrap_or("");
                    let _ = writeln!(
                        out,
                        "{} {} {} ({} confidence, {} connections): {}",
                        s.last_seen, s.addr, s.verdict, s.confidence, s.connections, first
                    );
                }
            }
            let _ = out.flush();
        }
        polls += 1;
        if w.polls > 0 && polls >= w.polls {
            return Ok(if told.values().any(|v| v.is_hostile()) {
                1
            } else {
                0
            });
        }
        std::thread::sleep(Duration::from_secs(w.interval.max(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_growth_rotation_and_truncation() {
        let dir = std::env::temp_dir().join(format!("halfopen-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fw.log");
        std::fs::write(&path, b"one\n").unwrap();
        let mut f = Followed {
            kind: Source::Firewall,
            path: path.clone(),
            id: None,
            pos: 0,
            data: Vec::new(),
        };
        assert!(f.poll(1 << 20).unwrap());
        assert!(!f.poll(1 << 20).unwrap());
        let mut h = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        h.write_all(b"two\n").unwrap();
        drop(h);
        assert!(f.poll(1 << 20).unwrap());
        assert_eq!(f.data, b"one\ntwo\n");
        // Rotation: the old file moves away, a new one appears.
        std::fs::rename(&path, dir.join("fw.log.0")).unwrap();
        assert!(!f.poll(1 << 20).unwrap());
        std::fs::write(&path, b"three\n").unwrap();
        assert!(f.poll(1 << 20).unwrap());
        assert_eq!(f.data, b"one\ntwo\nthree\n");
        // Truncation: read again from the start.
        std::fs::write(&path, b"").unwrap();
        f.poll(1 << 20).unwrap();
        std::fs::write(&path, b"4\n").unwrap();
        assert!(f.poll(1 << 20).unwrap());
        assert!(f.data.ends_with(b"three\n4\n"));
        // The window keeps whole lines only.
        assert!(f.poll(4).is_ok());
        std::fs::write(&path, b"4\n55555\n666\n").unwrap();
        f.poll(6).unwrap();
        assert!(f.data.len() <= 6 && (f.data.is_empty() || f.data.ends_with(b"\n")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
