//! The crate's single error type.

use std::fmt;

/// What the parser expected at the byte offset where a line stopped matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// The literal text of the format item with this index (e.g. `" "` or `"] \""`).
    Literal {
        /// Index of the literal item in the compiled format.
        item: usize,
    },
    /// A value for a directive, such as digits for `%>s`.
    Value {
        /// The directive, as written in a `LogFormat` (e.g. `%>s`).
        directive: &'static str,
        /// What the value should look like.
        what: &'static str,
    },
    /// The end of the line (the format is fully matched but bytes remain).
    EndOfLine,
    /// Some text in an error-log line (e.g. `'['` or `"a level"`).
    Text(&'static str),
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Literal { item } => write!(f, "the literal text of format item {item}"),
            Expected::Value { directive, what } => write!(f, "{what} for {directive}"),
            Expected::EndOfLine => f.write_str("the end of the line"),
            Expected::Text(t) => f.write_str(t),
        }
    }
}

/// Everything that can go wrong in this crate. Per-line errors carry the byte offset in the line;
/// the line number is added by whoever reads the lines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `LogFormat` / nginx `log_format` string could not be compiled.
    #[error("bad log format string at byte {offset}: {reason}")]
    BadFormat {
        /// Byte offset in the format string.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A directive letter (or parameter) that mod_log_config does not know.
    #[error("unknown directive at byte {offset} of the format string: {directive:?}")]
    UnknownDirective {
        /// Byte offset of the `%` in the format string.
        offset: usize,
        /// The directive text.
        directive: String,
    },
    /// The format has more items or fields than the parser accepts.
    #[error("log format too large: more than {max} {what}")]
    FormatTooLarge {
        /// The cap.
        max: usize,
        /// `"items"` or `"fields"`.
        what: &'static str,
    },
    /// The line is longer than the cap.
    #[error("line too long: {len} bytes (max {max})")]
    LineTooLong {
        /// Length of the line.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The line does not match: at `offset` the parser expected something else.
    #[error("at byte {offset}: expected {expected}")]
    Syntax {
        /// Byte offset in the line.
        offset: usize,
        /// What was expected there.
        expected: Expected,
    },
    /// The line matched the format but a value could not be interpreted.
    #[error("at byte {offset}: invalid value for {directive}: {reason}")]
    BadValue {
        /// Byte offset of the value in the line.
        offset: usize,
        /// The directive the value belongs to.
        directive: &'static str,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// An empty line.
    #[error("empty line")]
    Empty,
    /// No access-log preset parsed the sample.
    #[error("no access log format matched the sample (tried: {tried})")]
    UnknownFormat {
        /// The preset names tried, comma separated.
        tried: String,
    },
}

impl Error {
    /// The byte offset in the line (or format string) where the problem is, if any.
    pub fn offset(&self) -> Option<usize> {
        match self {
            Error::BadFormat { offset, .. }
            | Error::UnknownDirective { offset, .. }
            | Error::Syntax { offset, .. }
            | Error::BadValue { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
