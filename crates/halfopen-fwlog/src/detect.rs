//! Format auto-detection over the first lines of an input.

use crate::formats::parse_line;
use crate::{Error, Format, Result};

/// The formats tried, as named in [`Error::UnknownFormat`].
pub const TRIED: &str = "netfilter, nflog, ipfw, filterlog, pf, ipmon, windows";

/// How well one format fits a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// The format.
    pub format: Format,
    /// Lines parsed as packet records.
    pub parsed: usize,
    /// Lines the format recognised as its own but that are not packets (headers, fragments).
    pub recognised: usize,
    /// Non-empty lines tried.
    pub lines: usize,
}

/// Scores every format of [`Format::ALL`] on the sample (empty lines are skipped).
pub fn scores(sample: &[&[u8]]) -> [Score; 7] {
    Format::ALL.map(|format| {
        let mut s = Score {
            format,
            parsed: 0,
            recognised: 0,
            lines: 0,
        };
        for line in sample.iter().filter(|l| !l.is_empty()) {
            s.lines += 1;
            match parse_line(format, line) {
                Ok(_) => s.parsed += 1,
                Err(Error::NotAPacket { .. }) => s.recognised += 1,
                Err(_) => {}
            }
        }
        s
    })
}

/// Picks the format that parses most of the sample lines.
///
/// A format fits when at least one line parses as a packet record and at least half of the
/// non-empty lines parse or are recognised as the format's non-packet lines (headers,
/// continuation fragments). Among fitting formats the one with the most such lines wins, then
/// the one with the most parsed records, then the first in [`Format::ALL`] order (netfilter
/// before nflog for lines both accept).
///
/// ```
/// use halfopen_fwlog::{detect, Format};
/// let lines: [&[u8]; 2] = [
///     b"Feb  3 16:02:58 lhotse /kernel: ipfw: 2700 Deny TCP 213.76.70.104:1103 12.34.56.78:135 in via tun0",
///     b"Aug  4 10:57:26 r40e kernel: ipfw: 299 Deny TCP 1.2.3.4:49312 5.6.7.8:80 out via bge0",
/// ];
/// assert_eq!(detect(&lines).unwrap(), Format::Ipfw);
/// assert!(detect(&[&b"%ASA-6-302013: Built inbound TCP connection"[..]]).is_err());
/// ```
pub fn detect(sample: &[&[u8]]) -> Result<Format> {
    let mut best: Option<Score> = None;
    for s in scores(sample) {
        let fits = s.parsed > 0 && (s.parsed + s.recognised) * 2 >= s.lines;
        let better = match best {
            None => true,
            Some(b) => (s.parsed + s.recognised, s.parsed) > (b.parsed + b.recognised, b.parsed),
        };
        if fits && better {
            best = Some(s);
        }
    }
    best.map(|s| s.format).ok_or(Error::UnknownFormat {
        line: u64::from(!sample.is_empty()),
        tried: TRIED,
    })
}
