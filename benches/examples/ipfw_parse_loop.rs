//! The ipfw parser alone over the `end_to_end` bench's firewall log, for counting its
//! instructions per line with callgrind (deterministic, unlike timings on a shared VM):
//! `valgrind --tool=callgrind target/release/examples/ipfw_parse_loop [MB]`, then
//! `callgrind_annotate --inclusive=yes` and divide `ipfw::parse`'s count by the lines printed.
#![allow(clippy::print_stdout)]

use halfopen_benches::end_to_end::generate;
use halfopen_fwlog::formats::ipfw;

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let inputs = generate(mb << 20, 42);
    let (mut lines, mut parsed, mut ports) = (0u64, 0u64, 0u64);
    for line in inputs
        .firewall
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
    {
        lines += 1;
        if let Ok(r) = ipfw::parse(line) {
            parsed += 1;
            ports = ports.wrapping_add(u64::from(r.src_port.unwrap_or(0)));
            std::hint::black_box(&r);
        }
    }
    println!("{lines} lines, {parsed} parsed (port sum {ports})");
}
