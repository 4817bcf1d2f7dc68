//! Passive TCP connection tracking with Zeek-compatible `conn_state` and history.
//!
//! Feed [`Event`]s (from captured packets via [`pcap::PacketReader`], or from firewall
//! log records via `from_fwlog`) to a [`FlowTable`]; it follows both endpoints of every
//! connection through Zeek's endpoint state machine ([`state`]) and hands back each
//! [`Connection`] when it ends, with its [`ConnState`], [`History`], counters and the
//! kind of [`Evidence`] the verdict rests on. The table is bounded
//! ([`Config::max_flows`]): when full it evicts the oldest unanswered attempt first.
//!
//! ```
//! use halfopen_tcp::{Config, ConnState, Event, FlowTable, TcpFlags};
//! let (c, s) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
//! let mut t = FlowTable::new(Config::default());
//! let ev = |ts, from_client: bool, f| {
//!     let e = if from_client { Event::new(ts, c, 40000, s, 443) } else { Event::new(ts, s, 443, c, 40000) };
//!     e.with_flags(f)
//! };
//! t.observe(&ev(0, true, TcpFlags::SYN));
//! t.observe(&ev(10, false, TcpFlags::SYN | TcpFlags::ACK));
//! t.observe(&ev(20, true, TcpFlags::ACK));
//! t.observe(&ev(30, true, TcpFlags::FIN | TcpFlags::ACK));
//! t.observe(&ev(40, false, TcpFlags::FIN | TcpFlags::ACK));
//! t.finish();
//! let conn = t.pop_finished().unwrap();
//! assert_eq!(conn.state, ConnState::SF);
//! assert_eq!(conn.history.to_string(), "ShAFf");
//! assert!(conn.handshake_completed);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod connection;
mod error;
mod event;
mod finished;
mod flags;
mod flow;
mod flow_map;
mod history;
mod key;
mod syn_cache;
mod table;
mod timer_queue;

pub mod decode;
#[cfg(feature = "fwlog")]
pub mod from_fwlog;
pub mod options;
pub mod pcap;
pub mod pflog;
pub mod prefix;
pub mod state;

pub use connection::{ConnState, Connection, EndReason, Evidence, SynInfo};
pub use error::{Error, Result};
pub use event::Event;
pub use flags::TcpFlags;
pub use history::{HISTORY_CAP, History};
pub use table::{BATCH, Config, DEFAULT_MAX_FLOWS, FlowTable, Stats};
