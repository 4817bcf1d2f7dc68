//! Picking an access-log preset from a sample of lines.

use crate::error::{Error, Result};
use crate::format::{LogFormat, PRESETS};

/// Try every preset ([`crate::format::PRESETS`] in order, then `nginx_combined`; `referer` and
/// `agent` are skipped since they match any line) on the sample
/// and return the one that parses the most lines (the first one listed wins ties, so upstream
/// `combined` is preferred to its look-alikes). Blank lines are ignored.
///
/// ```
/// let lines: [&[u8]; 1] = [br#"lab.test:80 127.0.0.1 - - [24/Nov/2026:20:50:08 +0000] "GET / HTTP/1.1" 200 265 "-" "x""#];
/// let f = halfopen_weblog::detect_access_format(&lines).unwrap();
/// assert_eq!(f.name(), Some("vhost_combined"));
/// ```
pub fn detect_access_format(sample: &[&[u8]]) -> Result<LogFormat> {
    let mut best: Option<(usize, LogFormat)> = None;
    let lines = sample.iter().filter(|l| !l.is_empty()).count();
    let names = PRESETS
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !matches!(*n, "referer" | "agent"))
        .chain(std::iter::once("nginx_combined"));
    for name in names.clone() {
        let Some(f) = LogFormat::preset(name) else {
            continue;
        };
        let ok = sample
            .iter()
            .filter(|l| !l.is_empty())
            .filter(|l| f.parse(l).is_ok_and(|r| r.trailing.is_empty()))
            .count();
        if ok > 0 && best.as_ref().is_none_or(|(n, _)| ok > *n) {
            best = Some((ok, f));
            if ok == lines {
                // Every line parsed: no later preset can parse more (a tie keeps the first).
                break;
            }
        }
    }
    best.map(|(_, f)| f).ok_or_else(|| Error::UnknownFormat {
        tried: names.collect::<Vec<_>>().join(", "),
    })
}
