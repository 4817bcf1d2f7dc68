//! A progress bar on stderr for large inputs (hidden when stderr is not a terminal).

use std::io::Read;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this get no bar.
pub const MIN_BYTES: u64 = 32 << 20;

/// A bar for `total` bytes, or a hidden one.
pub fn bar(total: u64) -> ProgressBar {
    if total < MIN_BYTES {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} reading {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {wide_bar}",
    ) {
        pb.set_style(style);
    }
    pb
}

/// A reader that advances a bar.
pub struct Counting<R> {
    inner: R,
    bar: ProgressBar,
}

impl<R: Read> Counting<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, bar: ProgressBar) -> Self {
        Counting { inner, bar }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
