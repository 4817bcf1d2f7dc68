//! Prints every TCP segment of a capture and the connections the flow table reports
//! (a debugging aid): `cargo run -p halfopen-tcp --example dump -- file.pcap`.
#![allow(clippy::print_stdout)]

use halfopen_tcp::pcap::PacketReader;
use halfopen_tcp::{Config, FlowTable};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: dump FILE")?;
    let mut r = PacketReader::new(std::fs::File::open(path)?)?;
    let mut t = FlowTable::new(Config::zeek());
    for p in r.by_ref() {
        let e = p?.event;
        println!(
            "{:.6} {}:{} > {}:{} {} seq={:?} ack={:?} len={:?} win={:?}",
            e.ts_us as f64 / 1e6,
            e.src,
            e.src_port,
            e.dst,
            e.dst_port,
            e.flags.unwrap_or_default(),
            e.seq,
            e.ack,
            e.payload_len,
            e.window
        );
        t.observe(&e);
        while let Some(c) = t.pop_finished() {
            println!(
                "  => {} {} {} {} {:?}",
                c.orig, c.resp, c.state, c.history, c.end
            );
        }
    }
    t.finish();
    while let Some(c) = t.pop_finished() {
        println!(
            "  => {} {} {} {} {:?}",
            c.orig, c.resp, c.state, c.history, c.end
        );
    }
    println!("{:?}", r.stats());
    Ok(())
}
