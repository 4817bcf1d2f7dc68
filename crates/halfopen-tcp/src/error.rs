//! The crate's single error type.

/// Everything that can go wrong while reading packets.
///
/// Malformed packets inside a capture are not errors (they are skipped and counted,
/// see [`crate::pcap::ReaderStats`]); errors are reserved for input that stops the reader
/// from going on, or for a malformed header asked for explicitly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the underlying stream failed.
    #[error("I/O error while reading a capture: {0}")]
    Io(#[from] std::io::Error),
    /// The first bytes are neither a pcap nor a pcapng header.
    #[error("not a pcap or pcapng capture at byte offset {offset}: expected {expected}")]
    NotACapture {
        /// Byte offset in the stream.
        offset: u64,
        /// What was expected there.
        expected: &'static str,
    },
    /// The capture is damaged: a block could not be parsed.
    #[error("malformed capture block at byte offset {offset}: expected {expected}")]
    Malformed {
        /// Byte offset of the block in the stream (as far as the reader can tell).
        offset: u64,
        /// What was expected there.
        expected: &'static str,
    },
    /// The capture ends in the middle of a block.
    #[error("capture truncated at byte offset {offset}: expected {expected}")]
    Truncated {
        /// Byte offset of the incomplete block.
        offset: u64,
        /// What was expected there.
        expected: &'static str,
    },
    /// A pflog header was too short or inconsistent.
    #[error("bad pflog header at byte offset {offset}: expected {expected}")]
    Pflog {
        /// Byte offset inside the packet.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
}

/// Result alias with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
