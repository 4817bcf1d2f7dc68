//! The crate's one error type.

/// Everything that can go wrong reading a firewall log.
///
/// Line parsers know the byte offset but not the line number; they report `line: 0`
/// and the [`crate::reader`] fills it in with [`Error::at_line`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The line does not have the shape of the format.
    #[error("line {line}, byte {offset}: expected {expected}")]
    Syntax {
        /// 1-based line number (0 when unknown).
        line: u64,
        /// Byte offset within the line where parsing stopped.
        offset: usize,
        /// What the parser expected there.
        expected: &'static str,
    },
    /// The line is longer than the reader's cap.
    #[error("line {line}: {len} bytes is longer than the {limit}-byte cap")]
    LineTooLong {
        /// 1-based line number (0 when unknown).
        line: u64,
        /// Length seen (at least `limit + 1`).
        len: usize,
        /// The cap in force.
        limit: usize,
    },
    /// The line has more fields than a record keeps.
    #[error("line {line}, byte {offset}: more than {limit} fields")]
    TooManyFields {
        /// 1-based line number (0 when unknown).
        line: u64,
        /// Byte offset of the first field over the cap.
        offset: usize,
        /// The cap.
        limit: usize,
    },
    /// No supported format fits the input.
    #[error("line {line}: no supported firewall log format fits (tried {tried})")]
    UnknownFormat {
        /// 1-based line number of the first line tried (0 when unknown).
        line: u64,
        /// The formats tried, comma-separated.
        tried: &'static str,
    },
    /// A valid log line that is not a packet record (a rule-set dump, a NAT event, a header).
    #[error("line {line}: not a packet record ({what})")]
    NotAPacket {
        /// 1-based line number (0 when unknown).
        line: u64,
        /// What the line is instead.
        what: &'static str,
    },
    /// A timestamp names a date or time that does not exist (`Feb 30`, `Feb 29` in an inferred
    /// non-leap year), or is out of the supported range.
    #[error("line {line}: invalid time ({what})")]
    InvalidTime {
        /// 1-based line number (0 when unknown).
        line: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A time zone name or offset that is not understood.
    #[error("unknown time zone {name:?} (expected an IANA name like Europe/Berlin, UTC, or +0100)")]
    UnknownZone {
        /// The name as given.
        name: String,
    },
    /// Reading the input failed.
    #[error("{path}: {message}")]
    Io {
        /// The file (or `-` for standard input).
        path: String,
        /// The operating system's message.
        message: String,
    },
}

impl Error {
    /// A syntax error at `offset` of the current line.
    pub fn syntax(offset: usize, expected: &'static str) -> Error {
        Error::Syntax {
            line: 0,
            offset,
            expected,
        }
    }

    /// The same error with its line number set.
    pub fn at_line(mut self, n: u64) -> Error {
        match &mut self {
            Error::Syntax { line, .. }
            | Error::LineTooLong { line, .. }
            | Error::TooManyFields { line, .. }
            | Error::UnknownFormat { line, .. }
            | Error::NotAPacket { line, .. }
            | Error::InvalidTime { line, .. } => *line = n,
            Error::Io { .. } | Error::UnknownZone { .. } => {}
        }
        self
    }

    /// The 1-based line number, where known.
    pub fn line(&self) -> Option<u64> {
        match self {
            Error::Syntax { line, .. }
            | Error::LineTooLong { line, .. }
            | Error::TooManyFields { line, .. }
            | Error::UnknownFormat { line, .. }
            | Error::NotAPacket { line, .. }
            | Error::InvalidTime { line, .. } => (*line > 0).then_some(*line),
            Error::Io { .. } | Error::UnknownZone { .. } => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
