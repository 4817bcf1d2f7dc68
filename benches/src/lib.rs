//! Shared, deterministic input generators for the benchmarks (no network, no files).
//!
//! One module per bench target; each owns its generators and its regex baseline.

pub mod end_to_end;
pub mod fwlog;
pub mod pcap;
pub mod tcp;
pub mod weblog;
