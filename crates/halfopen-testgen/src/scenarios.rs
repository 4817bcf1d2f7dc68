//! Ready-made scenarios: the user's story, a mixed bag of behaviours, a large one for benches, and
//! the evidence matrix (one small scenario per behaviour group).

use crate::rng::Rng;
use crate::{Actor, Behavior, Scenario, clock};
use std::net::{IpAddr, Ipv4Addr};

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(segments: [u16; 8]) -> IpAddr {
    IpAddr::V6(std::net::Ipv6Addr::from(segments))
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

/// A scenario with two ordinary browsers (192.0.2.10, 192.0.2.11), so every matrix scenario
/// also has clients that must never be blocked.
fn with_neighbours(mut s: Scenario) -> Scenario {
    for (i, t) in [(10u8, 2_000_000i64), (11, 40_000_000)] {
        s.actors.push(Actor {
            addr: v4(192, 0, 2, i),
            behavior: Behavior::Browser {
                connections: 1,
                requests_per_conn: 3,
            },
            start_us: t,
        });
    }
    s
}

fn base(day: u32, seed: u64) -> Scenario {
    Scenario::new(
        v4(203, 0, 113, 80),
        80,
        clock::ts_us(2026, 3, day, 10, 0, 0),
        seed,
    )
}

/// The story's attacker (45.76.87.206: a SYN with a new random port every 0.5 s) among clients
/// of the same /23 (45.76.86.0/23) that do everything a real client does and still get no
/// access-log line for some connections: browsers, a Chromium-like browser (throwaway and
/// speculative connections), a preconnect, a client refused once, a client whose first SYNs
/// were lost. Small: about a thousand packets.
pub fn attacker_neighbourhood() -> Scenario {
    let mut s = Scenario::new(
        v4(116, 58, 172, 107),
        80,
        clock::ts_us(2026, 3, 4, 18, 49, 0),
        20_260_304,
    );
    s = s
        .with(
            v4(45, 76, 87, 206),
            5_000_000,
            Behavior::RandomPortSyns {
                count: 60,
                interval_ms: 500,
            },
        )
        .with(
            v4(45, 76, 86, 23),
            1_000_000,
            Behavior::Browser {
                connections: 1,
                requests_per_conn: 3,
            },
        )
        .with(
            v4(45, 76, 87, 41),
            12_000_000,
            Behavior::Browser {
                connections: 1,
                requests_per_conn: 2,
            },
        )
        .with(
            v4(45, 76, 86, 150),
            3_000_000,
            Behavior::ChromiumLike { pages: 2 },
        )
        .with(
            v4(45, 76, 86, 77),
            8_000_000,
            Behavior::Preconnect {
                connections: 1,
                idle_ms: 10_000,
            },
        )
        .with(v4(45, 76, 87, 12), 15_000_000, Behavior::RefusedOnce)
        .with(
            v4(45, 76, 87, 99),
            20_000_000,
            Behavior::RetriedSyn { retries: 2 },
        )
        .with(
            v4(81, 2, 69, 160),
            6_000_000,
            Behavior::Browser {
                connections: 1,
                requests_per_conn: 2,
            },
        );
    s
}

/// A spoofed flood from one /26 (198.51.100.128/26, 20 SYNs a second) that lasts 20 s, and a
/// capture (firewall, pcap and Apache logs) that ends 5 s after it: shorter than the 63 s a
/// Linux server keeps an unanswered request, so every flood connection is still half-open at
/// the end (`TruthRow::open_at_capture_end`).
pub fn short_flood() -> Scenario {
    let mut s = with_neighbours(base(5, 5));
    s.actors.push(Actor {
        addr: v4(198, 51, 100, 128),
        behavior: Behavior::SpoofedSynFlood {
            sources: "198.51.100.128/26".to_string(),
            count: 400,
            per_second: 20,
        },
        start_us: 10_000_000,
    });
    s.capture_until_us = Some(10_000_000 + 20_000_000 + 5_000_000);
    s
}

/// A capture that starts in the middle of the traffic (30 s after the scenario start) while
/// the Apache logs are whole: a browser, an idle connection waiting for Apache's timeout, a
/// slowloris client and a random-port SYN source all have connections open at the cut
/// (`TruthRow::open_at_capture_start`).
pub fn mid_stream_capture() -> Scenario {
    let mut s = base(6, 6)
        .with(
            v4(192, 0, 2, 20),
            20_000_000,
            Behavior::Browser {
                connections: 2,
                requests_per_conn: 4,
            },
        )
        .with(
            v4(192, 0, 2, 21),
            5_000_000,
            Behavior::IdleUntilTimeout { connections: 1 },
        )
        .with(
            v4(198, 51, 100, 21),
            25_000_000,
            Behavior::Slowloris {
                connections: 2,
                interval_ms: 5_000,
            },
        )
        .with(
            v4(45, 76, 87, 206),
            0,
            Behavior::RandomPortSyns {
                count: 40,
                interval_ms: 1_000,
            },
        )
        .with(
            v4(192, 0, 2, 22),
            45_000_000,
            Behavior::Browser {
                connections: 1,
                requests_per_conn: 2,
            },
        );
    s.capture_from_us = Some(30_000_000);
    s
}

/// nmap's top ports and a few more, for the scan scenarios.
fn scan_ports() -> Vec<u16> {
    vec![
        21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 443, 445, 993, 995, 1723, 3306, 3389,
        5900, 8080,
    ]
}

/// One small scenario per behaviour group, named, for a test that renders each in every
/// [`crate::Form`] and checks the verdict each actor's evidence allows. Every scenario but the
/// IPv6 one also has two ordinary browsers; all are a few hundred to a few thousand packets, so
/// the whole matrix renders in well under a second in a debug build.
///
/// ```
/// let m = halfopen_testgen::scenarios::evidence_matrix();
/// assert!(m.iter().any(|(name, _)| *name == "chromium"));
/// let names: std::collections::BTreeSet<_> = m.iter().map(|(n, _)| *n).collect();
/// assert_eq!(names.len(), m.len(), "names are unique");
/// ```
pub fn evidence_matrix() -> Vec<(&'static str, Scenario)> {
    let one = |day: u32, addr: IpAddr, b: Behavior| {
        with_neighbours(base(day, u64::from(day))).with(addr, 1_000_000, b)
    };
    let mut ipv6 = Scenario::new(
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x80]),
        80,
        clock::ts_us(2026, 3, 7, 10, 0, 0),
        7,
    );
    ipv6 = ipv6
        .with(
            v6([0x2001, 0xdb8, 1, 0, 0, 0, 0, 7]),
            2_000_000,
            Behavior::Browser {
                connections: 1,
                requests_per_conn: 3,
            },
        )
        .with(
            v6([0x2001, 0xdb8, 0xbad, 1, 0, 0, 0, 0]),
            5_000_000,
            Behavior::Ipv6PrefixFlood {
                prefix: "2001:db8:bad:1::/64".to_string(),
                count: 100,
                per_second: 20,
            },
        );
    vec![
        ("story", attacker_neighbourhood()),
        (
            "chromium",
            one(8, v4(192, 0, 2, 30), Behavior::ChromiumLike { pages: 2 }),
        ),
        (
            "hping3_real_source",
            one(
                9,
                v4(198, 51, 100, 30),
                Behavior::Hping3RealSource {
                    count: 20,
                    interval_ms: 500,
                },
            ),
        ),
        (
            "random_source_flood",
            one(
                10,
                v4(0, 0, 0, 0),
                Behavior::RandomSourceFlood {
                    count: 3_000,
                    per_second: 300,
                },
            ),
        ),
        ("ipv6_prefix_flood", ipv6),
        ("short_flood", short_flood()),
        (
            "synack_reflection",
            one(
                11,
                v4(198, 18, 0, 0),
                Behavior::SynAckReflection {
                    reflectors: 12,
                    count: 200,
                },
            ),
        ),
        (
            "refused_once",
            one(12, v4(192, 0, 2, 40), Behavior::RefusedOnce),
        ),
        (
            "retried_syn",
            one(13, v4(192, 0, 2, 41), Behavior::RetriedSyn { retries: 3 }),
        ),
        ("mid_stream_capture", mid_stream_capture()),
        (
            "slowloris",
            one(
                14,
                v4(198, 51, 100, 21),
                Behavior::Slowloris {
                    connections: 3,
                    interval_ms: 5_000,
                },
            ),
        ),
        (
            "tls_on_http",
            one(
                15,
                v4(198, 51, 100, 22),
                Behavior::TlsOnHttp { connections: 2 },
            ),
        ),
        (
            "idle_until_timeout",
            one(
                16,
                v4(198, 51, 100, 23),
                Behavior::IdleUntilTimeout { connections: 2 },
            ),
        ),
        (
            "nmap_syn_scan",
            one(
                17,
                v4(198, 51, 100, 24),
                Behavior::SynScan {
                    ports: scan_ports(),
                },
            ),
        ),
        (
            "nmap_connect_scan",
            one(
                18,
                v4(198, 51, 100, 25),
                Behavior::ConnectScan {
                    ports: scan_ports(),
                },
            ),
        ),
    ]
}
