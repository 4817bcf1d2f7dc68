//! Placeholder: being written.

use crate::{Error, Record, Result};

/// Parses one line (placeholder).
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    let _ = line;
    Err(Error::syntax(0, "a ipfw line (parser not written yet)"))
}

/// Renders a record (placeholder).
pub fn render(record: &Record<'_>, out: &mut Vec<u8>) {
    let _ = (record, out);
}
