//! Streaming generators of inputs at any scale, for the peak-memory measurements
//! (`benches/memory/peak.sh`, docs/performance.md "Memory at scale").
//!
//! Each generator writes its output as it goes (to stdout, files or FIFOs), in chunks of
//! [`sink::CHUNK`] bytes, keeping only what is still due (the requests of recent connections,
//! the packets of connections in progress): its memory does not grow with the size asked for.
//! Same seed, same bytes.
//!
//! - [`flood`]: a random-source SYN flood as the lab's netfilter LOG lines, with a few real
//!   clients and their access log (examples/gen_random_flood.rs);
//! - [`story`]: the README's ipfw story (one line per inbound SYN) of many browsers and a few
//!   attackers, with the matching access log (examples/gen_ipfw_story.rs);
//! - [`pcap`]: an Ethernet pcap of HTTP connections and a SYN flood (examples/gen_pcap.rs).

pub mod flood;
pub mod later;
pub mod net;
pub mod pcap;
pub mod sink;
pub mod story;
pub mod text;
pub mod web;
