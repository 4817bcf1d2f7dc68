#![no_main]
//! The flow table fed arbitrary event sequences (8 bytes per event): never panics, never
//! exceeds its cap, and accounts for every event.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let cap = 8;
    let mut t = FlowTable::new(Config {
        max_flows: cap,
        syn_timeout_us: 50,
        established_idle_timeout_us: 500,
        closed_linger_us: 20,
        half_closed_linger_us: 200,
        server_port_heuristic: data.first().is_some_and(|b| b & 1 == 1),
        follow_one_way_activity: data.first().is_some_and(|b| b & 2 == 2),
    });
    let mut ts = 0i64;
    let mut events = 0u64;
    let mut pkts = 0u64;
    for c in data.chunks_exact(8) {
        let [host, ports, flags, kind, s0, s1, len, dt] =
            [c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]];
        ts += i64::from(dt);
        let (a, b): (IpAddr, IpAddr) = if host & 0x80 != 0 {
            (
                IpAddr::V6(Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0,
                    0,
                    0,
                    0,
                    0,
                    u16::from(host & 3),
                )),
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, 1)),
            )
        } else {
            (
                IpAddr::V4(Ipv4Addr::new(10, 0, 0, host & 3)),
                IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)),
            )
        };
        let (pa, pb) = (1000 + u16::from(ports & 3), 80 + u16::from(ports >> 6));
        let mut e = if host & 0x40 != 0 {
            Event::new(ts, a, pa, b, pb)
        } else {
            Event::new(ts, b, pb, a, pa)
        };
        if kind & 1 == 1 {
            e.flags = Some(TcpFlags(flags));
        }
        if kind & 2 == 2 {
            e.seq = Some(u32::from_be_bytes([s0, s1, 0, 0]));
            e.ack = Some(u32::from_be_bytes([s1, s0, 0, 1]));
            e.payload_len = Some(u32::from(len));
        }
        if kind & 4 == 4 {
            e.window = Some(u16::from(len));
        }
        t.observe(&e);
        events += 1;
        assert!(t.len() <= cap);
        while let Some(c) = t.pop_finished() {
            pkts += c.orig_pkts + c.resp_pkts;
        }
    }
    t.finish();
    while let Some(c) = t.pop_finished() {
        pkts += c.orig_pkts + c.resp_pkts;
    }
    assert_eq!(pkts, events);
});
