//! Shared, deterministic input generators for the benchmarks (no network, no files).
//!
//! One module per bench target; each owns its generators and its regex baseline. [`scale`]
//! streams inputs of any size (to stdout or FIFOs) for the peak-memory measurements.

pub mod end_to_end;
pub mod fwlog;
pub mod pcap;
pub mod scale;
pub mod tcp;
pub mod weblog;
