//! halfopen: find the TCP connections that reached the firewall but never showed in the web
//! server's log, explain what they were, and suggest a safe block list.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod analyze;
pub mod blocklist;
pub mod clock;
pub mod correlate;
pub mod error;
pub mod escape;
pub mod facts;
pub mod input;
pub mod netstat;
pub mod network;
pub mod report;
pub mod source;
pub mod summary;
pub mod verdict;

pub use analyze::{Analyzer, Options, Source};
pub use error::{Error, Result};
pub use report::Report;
pub use verdict::{Confidence, Evidence, Verdict};

pub use halfopen_fwlog as fwlog;
pub use halfopen_tcp as tcp;
pub use halfopen_weblog as weblog;
