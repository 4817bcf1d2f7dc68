//! One module per log format. Each exposes
//! `pub fn parse(line: &[u8]) -> Result<Record<'_>>` (one line, no trailing newline) and
//! `pub fn render(record: &Record<'_>, out: &mut Vec<u8>)` (the inverse, used by round-trip tests).

use crate::{Format, Record, Result};

pub mod filterlog;
pub mod ipfw;
pub mod ipmon;
pub mod netfilter;
pub mod nflog;
pub mod pf;
pub mod windows;

/// Parses one line as `format`.
pub fn parse_line(format: Format, line: &[u8]) -> Result<Record<'_>> {
    match format {
        Format::Ipfw => ipfw::parse(line),
        Format::Netfilter => netfilter::parse(line),
        Format::Nflog => nflog::parse(line),
        Format::PfTcpdump => pf::parse(line),
        Format::Filterlog => filterlog::parse(line),
        Format::Ipmon => ipmon::parse(line),
        Format::WindowsFirewall => windows::parse(line),
    }
}

/// Renders a record back to a line of its format (no trailing newline).
pub fn render(record: &Record<'_>, out: &mut Vec<u8>) {
    match record.format {
        Format::Ipfw => ipfw::render(record, out),
        Format::Netfilter => netfilter::render(record, out),
        Format::Nflog => nflog::render(record, out),
        Format::PfTcpdump => pf::render(record, out),
        Format::Filterlog => filterlog::render(record, out),
        Format::Ipmon => ipmon::render(record, out),
        Format::WindowsFirewall => windows::render(record, out),
    }
}
