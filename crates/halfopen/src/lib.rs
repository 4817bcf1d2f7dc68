//! halfopen: find the TCP connections that reached the firewall but never showed in the web
//! server's log, explain what they were, and suggest a safe block list.
//!
//! Feed an [`Analyzer`] firewall logs (ipfw, netfilter, pf, filterlog, ...), pcaps, Apache or
//! nginx access and error logs and `netstat`/`ss` snapshots; [`Analyzer::finish`] follows
//! every TCP connection (`halfopen_tcp`), matches connections to logged requests
//! ([`correlate`]), judges each source by what it did across its connections given what its
//! input shows ([`evidence`], [`infer`], [`rollup`], [`judge`]) with its [`Confidence`] and
//! typed [`Evidence`], and plans the smallest safe block list, its invariants enforced last
//! ([`policy`], [`blocklist`]). The result is a [`Report`] (JSON via serde, or text).
//!
//! ```
//! use std::io::Cursor;
//! use halfopen::{Analyzer, Options, Verdict};
//!
//! // 600 connections in a minute, 10 a second: a pace that fills a listen queue.
//! let mut fw = String::new();
//! for (i, port) in (40_000..40_600u16).enumerate() {
//!     fw.push_str(&format!(
//!         "Mar  1 18:49:{:02} web kernel: ipfw: 100 Accept TCP 45.76.87.206:{port} 116.58.172.107:80 in via em0\n",
//!         i / 10
//!     ));
//! }
//! let access = "45.76.86.23 - - [01/Mar/2026:18:49:12 +0000] \"GET / HTTP/1.1\" 200 3407 \"-\" \"Mozilla/5.0\"\n";
//! let mut a = Analyzer::new(Options::default());
//! a.add_firewall("ipfw.log", Cursor::new(fw.into_bytes()));
//! a.add_access("access.log", Cursor::new(access.as_bytes().to_vec()));
//! let report = a.finish();
//! assert_eq!(report.sources[0].verdict, Verdict::SynFlood);
//! assert_eq!(report.blocklist, ["45.76.87.206/32"]);
//! println!("{}", report.to_text(false));
//! ```
//!
//! The parts are re-exported: [`fwlog`], [`weblog`], [`tcp`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod analyze;
pub mod blocklist;
pub mod clock;
pub mod connections;
pub mod correlate;
pub mod edges;
pub mod error;
pub mod escape;
pub mod evidence;
pub mod facts;
pub mod infer;
pub mod input;
pub mod judge;
pub mod netstat;
pub mod offsets;
pub mod policy;
pub mod report;
pub mod requests;
pub mod rollup;
pub mod sketch;
pub mod tools;
pub mod verdict;

pub use analyze::{Analyzer, Options, Source};
pub use error::{Error, Result};
pub use report::Report;
pub use verdict::{Confidence, Evidence, Verdict};

pub use halfopen_fwlog as fwlog;
pub use halfopen_tcp as tcp;
pub use halfopen_weblog as weblog;
