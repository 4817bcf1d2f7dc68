//! Ready-made scenarios: the user's story, a mixed bag of behaviours, and a large one for benches.

use crate::rng::Rng;
use crate::{Actor, Behavior, Scenario, clock};
use std::net::{IpAddr, Ipv4Addr};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// The story: 45.76.87.206 sends a SYN to port 80 of 116.58.172.107 from a new random source
/// port every half second for about 10 minutes and never completes a handshake, while browsers
/// (some in the same /23: 45.76.86.x and 45.76.87.x) use the site normally and two clients
/// leave unused preconnects.
pub fn story() -> Scenario {
    let server = v4(116, 58, 172, 107);
    let start = clock::ts_us(2026, 3, 1, 18, 49, 0);
    let mut s = Scenario::new(server, 80, start, 20_260_301);
    s.actors.push(Actor {
        addr: v4(45, 76, 87, 206),
        behavior: Behavior::RandomPortSyns {
            count: 1200,
            interval_ms: 500,
        },
        start_us: 5_000_000,
    });
    let browsers: [(IpAddr, i64, u32, u32); 8] = [
        (v4(45, 76, 86, 23), 12_000_000, 3, 4),
        (v4(45, 76, 87, 41), 95_000_000, 2, 5),
        (v4(45, 76, 86, 200), 240_000_000, 2, 3),
        (v4(45, 76, 87, 130), 410_000_000, 1, 6),
        (v4(81, 2, 69, 160), 30_000_000, 3, 3),
        (v4(203, 0, 113, 57), 150_000_000, 2, 4),
        (v4(198, 18, 7, 9), 320_000_000, 2, 2),
        (v4(100, 64, 12, 34), 500_000_000, 1, 5),
    ];
    for (addr, t, c, r) in browsers {
        s.actors.push(Actor {
            addr,
            behavior: Behavior::Browser {
                connections: c,
                requests_per_conn: r,
            },
            start_us: t,
        });
    }
    s.actors.push(Actor {
        addr: v4(45, 76, 86, 77),
        behavior: Behavior::Preconnect {
            connections: 2,
            idle_ms: 10_000,
        },
        start_us: 60_000_000,
    });
    s.actors.push(Actor {
        addr: v4(81, 2, 69, 161),
        behavior: Behavior::Preconnect {
            connections: 1,
            idle_ms: 10_000,
        },
        start_us: 280_000_000,
    });
    s
}

/// Every behaviour at once: browsers, preconnects, idle-until-timeout, a SYN scanner, a connect
/// scanner, slowloris, TLS on port 80 and a spoofed flood from 198.51.100.0/24 (a few thousand packets).
pub fn mixed(seed: u64) -> Scenario {
    let server = v4(203, 0, 113, 80);
    let start = clock::ts_us(2026, 3, 2, 9, 0, 0);
    let mut s = Scenario::new(server, 80, start, seed);
    let mut rng = Rng::fork(seed, 0x006d_6978_6564);
    for i in 0..8u8 {
        s.actors.push(Actor {
            addr: v4(192, 0, 2, 10 + i),
            behavior: Behavior::Browser {
                connections: rng.range(1, 3) as u32,
                requests_per_conn: rng.range(1, 6) as u32,
            },
            start_us: rng.range_i64(0, 240_000_000),
        });
    }
    for (i, idle) in [(0u8, 10_000u32), (1, 10_000), (2, 40_000)] {
        s.actors.push(Actor {
            addr: v4(192, 0, 2, 40 + i),
            behavior: Behavior::Preconnect {
                connections: 2,
                idle_ms: idle,
            },
            start_us: rng.range_i64(0, 200_000_000),
        });
    }
    s.actors.push(Actor {
        addr: v4(198, 18, 0, 5),
        behavior: Behavior::IdleUntilTimeout { connections: 3 },
        start_us: 20_000_000,
    });
    let scan_ports: Vec<u16> = [
        21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1723, 3306, 3389,
        5900, 8080,
    ]
    .into_iter()
    .chain((1000..1060).map(|p| p as u16))
    .collect();
    s.actors.push(Actor {
        addr: v4(185, 220, 101, 4),
        behavior: Behavior::SynScan {
            ports: scan_ports.clone(),
        },
        start_us: 45_000_000,
    });
    s.actors.push(Actor {
        addr: v4(185, 220, 101, 9),
        behavior: Behavior::ConnectScan {
            ports: scan_ports[..20].to_vec(),
        },
        start_us: 130_000_000,
    });
    s.actors.push(Actor {
        addr: v4(203, 0, 113, 200),
        behavior: Behavior::Slowloris {
            connections: 12,
            interval_ms: 5_000,
        },
        start_us: 60_000_000,
    });
    s.actors.push(Actor {
        addr: v4(198, 18, 0, 77),
        behavior: Behavior::TlsOnHttp { connections: 3 },
        start_us: 10_000_000,
    });
    s.actors.push(Actor {
        addr: v4(198, 51, 100, 0),
        behavior: Behavior::SpoofedSynFlood {
            sources: "198.51.100.0/24".to_string(),
            count: 300,
            per_second: 50,
        },
        start_us: 180_000_000,
    });
    s
}

/// A large scenario of roughly `lines` packets (= firewall log lines), mostly browsers, with a
/// random-port SYN source and a spoofed flood; for benchmarks.
pub fn large(seed: u64, lines: usize) -> Scenario {
    let server = v4(203, 0, 113, 80);
    let start = clock::ts_us(2026, 3, 3, 0, 0, 0);
    let mut s = Scenario::new(server, 80, start, seed);
    let mut rng = Rng::fork(seed, 0x006c_6172_6765);
    // A browser with 2 connections x 3 requests makes about 41 packets, an unanswered SYN 7
    // (2 once the SYN queue is full and the server sends syncookies, as in most of the flood).
    let browsers = (lines * 6 / 10 / 41).max(1);
    let syns = (lines * 2 / 10 / 7).max(1) as u32;
    let flood = (lines * 2 / 10 * 10 / 27).max(1) as u32;
    let span = (browsers as i64).saturating_mul(2_000_000).max(60_000_000);
    for i in 0..browsers {
        let n = i as u32;
        s.actors.push(Actor {
            addr: IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 | (n + 1))),
            behavior: Behavior::Browser {
                connections: 2,
                requests_per_conn: 3,
            },
            start_us: rng.range_i64(0, span),
        });
    }
    s.actors.push(Actor {
        addr: v4(45, 76, 87, 206),
        behavior: Behavior::RandomPortSyns {
            count: syns,
            interval_ms: (span / 1000 / i64::from(syns)).clamp(1, 500) as u32,
        },
        start_us: 0,
    });
    s.actors.push(Actor {
        addr: v4(198, 51, 100, 0),
        behavior: Behavior::SpoofedSynFlood {
            sources: "198.51.100.0/24".to_string(),
            count: flood,
            per_second: 200,
        },
        start_us: span / 3,
    });
    s
}
