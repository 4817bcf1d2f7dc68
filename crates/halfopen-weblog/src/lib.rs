//! Zero-copy parsers for web-server logs, for telling which TCP connections never became a
//! logged request.
//!
//! * Access logs: an Apache `LogFormat` (or nginx `log_format`) string is compiled once into a
//!   [`LogFormat`]; [`LogFormat::parse`] then matches lines with memchr and returns an
//!   [`AccessRecord`] that borrows from the line (no allocation per line). Presets:
//!   [`LogFormat::preset`]; detection: [`detect_access_format`]; rendering (for test
//!   generators): [`LogFormat::render`] with [`AccessValues`].
//! * Error logs: [`error_log::parse`] reads Apache 2.2 / 2.4 and nginx error lines, with the
//!   AH codes that matter for connections that never became a request as [`error_log::Known`].
//!
//! ```
//! use halfopen_weblog::{LogFormat, unescape};
//! let f = LogFormat::preset("combined_debian").unwrap();
//! let line = br#"127.0.0.1 - - [24/Nov/2026:20:59:40 +0000] "\x16\x03\x01\x02" 400 463 "-" "-""#;
//! let r = f.parse(line).unwrap();
//! let req = r.request.unwrap();
//! assert_eq!(req.method, None); // a TLS ClientHello sent to a plain-HTTP port
//! assert_eq!(&*unescape(req.raw), b"\x16\x03\x01\x02");
//! assert_eq!(r.bytes, Some(463));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod detect;
pub mod directive;
pub mod error;
pub mod error_format;
pub mod error_log;
pub mod escape;
mod fast;
pub mod format;
mod parse;
pub mod record;
pub mod render;
pub mod time;

pub use detect::detect_access_format;
pub use directive::{Directive, DurationUnit, Field, PortKind, ProcKind, TimeKind, TimeSpec};
pub use error::{Error, Expected, Result};
pub use error_format::ErrorLogFormat;
pub use escape::{EscapeStyle, unescape};
pub use format::{AccessParser, LogFormat};
pub use parse::{MATCH_BUDGET, parse_ip};
pub use record::{AccessRecord, Client, RequestLine};
pub use render::AccessValues;
pub use time::LogTime;
