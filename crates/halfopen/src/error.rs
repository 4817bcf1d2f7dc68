//! The crate's one error type.

/// Errors of the facade.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `netstat`/`ss` line that could not be read.
    #[error("netstat/ss line: at byte {offset}: expected {expected}")]
    Netstat {
        /// Byte offset in the line.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A line longer than the cap.
    #[error("line of {len} bytes is longer than the {max}-byte cap")]
    LineTooLong {
        /// Length.
        len: usize,
        /// Cap.
        max: usize,
    },
    /// An input whose format could not be recognised or read.
    #[error("{file}: {what}")]
    Input {
        /// File name as given.
        file: String,
        /// What went wrong.
        what: String,
    },
    /// A summary file (`--summary-out`) that cannot be read or merged.
    #[error("{name}: not a usable summary: {why}")]
    Summary {
        /// File name as given.
        name: String,
        /// Why.
        why: String,
    },
    /// An option value with no meaning.
    #[error("{option}: {why}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// Why it has no meaning.
        why: String,
    },
    /// An I/O error on an input.
    #[error("{file}: {source}")]
    Io {
        /// File name as given.
        file: String,
        /// The error.
        source: std::io::Error,
    },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
