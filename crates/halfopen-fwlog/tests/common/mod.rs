//! Helpers shared by the per-format corpus tests (filterlog, ipmon, pf, windows).
#![allow(dead_code)] // each test file uses a different subset

use std::net::IpAddr;

/// A corpus: `&[(file name, contents)]`, embedded at compile time from `tests/data/<dir>/`.
#[macro_export]
macro_rules! corpus {
    ($dir:literal: $($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("data/", $dir, "/", $name)))),*]
    };
}

/// The non-empty lines of a file with their 1-based line numbers.
pub fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    data.split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| (i + 1, l))
}

/// Line `n` of `file` in `corpus`.
pub fn line_of(corpus: &[(&str, &'static [u8])], file: &str, n: usize) -> &'static [u8] {
    let data = corpus.iter().find(|(f, _)| *f == file).unwrap().1;
    lines(data).find(|(i, _)| *i == n).unwrap().1
}

/// An address literal.
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
