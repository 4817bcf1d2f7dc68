//! Times a spoofed SYN flood through tables of several sizes (a quick profiling aid):
//! `cargo run --release -p halfopen-tcp --example flood`.
#![allow(clippy::print_stdout)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use halfopen_tcp::{Config, Event, FlowTable, TcpFlags};

fn main() {
    for cap in [1_000usize, 10_000, 100_000, 900_000] {
        let n = 3_000_000u64;
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let evs: Vec<Event> = (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let src = IpAddr::V4(Ipv4Addr::from((x >> 32) as u32));
                let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
                Event::new(i as i64, src, (x as u16) | 1024, dst, 80).with_flags(TcpFlags::SYN)
            })
            .collect();
        let mut t = FlowTable::new(Config {
            max_flows: cap,
            ..Config::default()
        });
        let start = Instant::now();
        let mut popped = 0u64;
        for e in &evs {
            t.observe(e);
            while t.pop_finished().is_some() {
                popped += 1;
            }
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "cap {cap:>7}: {:.2} M events/s ({popped} evicted)",
            n as f64 / s / 1e6
        );
    }
}
