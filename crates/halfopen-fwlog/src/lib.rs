//! Zero-copy parsers for firewall logs.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod detect;
pub mod error;
pub mod kernel;
pub mod reader;
pub mod record;
pub mod scan;
pub mod syslog;
pub mod time;

pub use detect::detect;
pub use error::{Error, Result};
pub use record::{Action, Direction, Extra, Format, Protocol, Record, TcpFlags};
pub use time::{Timestamp, TimestampKind};
pub mod formats;

pub use formats::{parse_line, render};
