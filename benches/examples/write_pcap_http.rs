//! Writes the `end_to_end/pcap` bench's capture to a file, for timing the CLI or profiling:
//! `cargo run --release -p halfopen-benches --example write_pcap_http -- OUT [PACKETS]`.
#![allow(clippy::print_stdout)]

use halfopen_benches::pcap::render_pcap_http;
use halfopen_benches::tcp::connections;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "bench.pcap".into());
    let n = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let pcap = render_pcap_http(&connections(n, 7));
    std::fs::write(&out, &pcap)?;
    println!("{out}: {} bytes, {n} packets", pcap.len());
    Ok(())
}
