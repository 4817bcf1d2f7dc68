//! Times the whole analysis of a capture read from a file into memory (as the
//! `end_to_end/pcap` bench does with its generated capture), five runs, outside criterion:
//! for comparing builds of different commits in the same minutes on a noisy machine (the file
//! is the same for both; `write_pcap_http` writes the bench's).
//! `cargo run --release -p halfopen-benches --example pcap_e2e -- FILE`
#![allow(clippy::print_stdout)]

use std::time::Instant;

fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "bench.pcap".into());
    let pcap = std::fs::read(&path)?;
    for _ in 0..5 {
        let copy = pcap.clone();
        let t0 = Instant::now();
        let mut a = halfopen::Analyzer::new(halfopen::Options::default());
        a.add_pcap("capture.pcap", std::io::Cursor::new(copy));
        let r = a.finish();
        let secs = t0.elapsed().as_secs_f64();
        println!(
            "{secs:.3} s: {} connections, {:.0} MB/s",
            r.connections_total,
            pcap.len() as f64 / secs / 1e6
        );
    }
    Ok(())
}
