#![no_main]
//! The pcap/pcapng reader and frame decoder on arbitrary bytes: never panics, and every
//! packet it yields feeds the flow table.
use halfopen_tcp::pcap::PacketReader;
use halfopen_tcp::{Config, FlowTable};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(reader) = PacketReader::new(std::io::Cursor::new(data.to_vec())) else {
        return;
    };
    let mut t = FlowTable::new(Config {
        max_flows: 16,
        ..Config::default()
    });
    for p in reader.take(10_000) {
        match p {
            Ok(p) => t.observe(&p.event),
            Err(_) => break,
        }
        while t.pop_finished().is_some() {}
    }
    t.finish();
    while t.pop_finished().is_some() {}
});
