//! Writes the weblog bench's generated Apache combined access log (same generator, same
//! seed 42) to a file, for the peer baselines in `benches/peers/run-peers.sh`:
//! `cargo run --release -p halfopen-benches --example write_access_log -- OUT [LINES]`.

use std::io::Write;

use halfopen_benches::weblog::combined_lines;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "access.log".to_string());
    let n: usize = args
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let data = combined_lines(n, 42);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&out)?);
    f.write_all(&data)?;
    f.flush()
}
