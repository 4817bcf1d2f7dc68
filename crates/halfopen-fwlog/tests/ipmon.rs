//! IPFilter ipmon: every corpus line, render round trips, proptests.

use std::net::IpAddr;

use halfopen_fwlog::formats::ipmon;
use halfopen_fwlog::{Action, Direction, Error, Format, Protocol, TcpFlags, TimestampKind};
use proptest::prelude::*;

mod common;
use common::{ip, lines};

const CORPUS: &[(&str, &[u8])] = corpus!["ipmon":
    "ipfilter-perl-comments.log",
    "ipfilter-test-expected-l1.log",
    "omnios-docs-ipmon-o-SNI.log",
    "ossec-hids-decoder-solaris-ipmon.log",
];

fn line_of(file: &str, n: usize) -> &'static [u8] {
    common::line_of(CORPUS, file, n)
}

/// Lines the parser must reject, with the error it must give.
fn expected_error(file: &str, n: usize) -> Option<Error> {
    let nat = Error::NotAPacket {
        line: 0,
        what: "NAT record",
    };
    let state = Error::NotAPacket {
        line: 0,
        what: "state record",
    };
    match (file, n) {
        ("omnios-docs-ipmon-o-SNI.log", 1 | 8 | 9 | 10 | 11) => Some(nat),
        ("omnios-docs-ipmon-o-SNI.log", 2 | 12 | 13 | 14 | 15) => Some(state),
        _ => None,
    }
}

/// Lines whose rendering differs from the original only in spacing.
fn respaced(file: &str, n: usize) -> bool {
    (file, n) == ("ipfilter-perl-comments.log", 2)
}

#[test]
fn every_corpus_line_parses_or_is_rejected_as_expected() {
    let (mut parsed, mut rejected) = (0, 0);
    for (file, data) in CORPUS {
        for (n, line) in lines(data) {
            let got = ipmon::parse(line);
            if let Some(err) = expected_error(file, n) {
                assert_eq!(got.unwrap_err(), err, "{file}:{n}");
                rejected += 1;
                continue;
            }
            let rec = got.unwrap_or_else(|e| panic!("{file}:{n}: {e}"));
            assert_eq!(rec.format, Format::Ipmon);
            let mut out = Vec::new();
            ipmon::render(&rec, &mut out);
            if !respaced(file, n) {
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(line),
                    "{file}:{n}"
                );
            }
            let mut back = ipmon::parse(&out).unwrap();
            if let (Some(b), Some(r)) = (back.timestamp.as_mut(), rec.timestamp) {
                b.raw = r.raw;
            }
            assert_eq!(back, rec, "{file}:{n}");
            parsed += 1;
        }
    }
    assert_eq!((parsed, rejected), (41, 10));
}

#[test]
fn native_tcp_flags_keep_state_and_repeat() {
    let f = "ipfilter-test-expected-l1.log";
    let r = ipmon::parse(line_of(f, 1)).unwrap();
    let ts = r.timestamp.unwrap();
    assert_eq!(ts.kind, TimestampKind::Native);
    assert_eq!((ts.year, ts.month, ts.day), (Some(1970), 1, 1));
    assert_eq!(ts.raw, b"01/01/1970 00:00:00.000000");
    assert_eq!(r.in_interface, Some(&b"anon0"[..]));
    assert_eq!(r.rule, Some(&b"-1:-1"[..]));
    assert_eq!(r.action, Some(Action::Log));
    assert_eq!(r.tcp_flags, Some(TcpFlags::SYN));
    assert_eq!(r.direction, Some(Direction::In));
    assert_eq!((r.src, r.dst), (ip("1.1.1.1"), ip("2.2.2.2")));
    assert_eq!((r.src_port, r.dst_port), (Some(1025), Some(25)));
    assert_eq!(r.length, Some(40));
    assert_eq!(r.extra.get(b"hlen"), Some(&b"20"[..]));
    let r = ipmon::parse(line_of(f, 5)).unwrap();
    assert_eq!(r.extra.get(b"repeat"), Some(&b"2"[..]));
    assert_eq!(r.tcp_flags, Some(TcpFlags::ACK));
    let r = ipmon::parse(line_of(f, 3)).unwrap();
    assert_eq!(r.tcp_flags, Some(TcpFlags::ACK | TcpFlags::SYN));
    let r = ipmon::parse(line_of(f, 4)).unwrap();
    assert_eq!(r.tcp_flags, Some(TcpFlags::ACK | TcpFlags::FIN));
    let r = ipmon::parse(line_of(f, 9)).unwrap();
    assert_eq!(r.protocol, Protocol::Other(0));
    assert_eq!(r.length, Some(20));
    assert_eq!((r.src_port, r.dst_port), (None, None));
    let r = ipmon::parse(line_of(f, 19)).unwrap();
    assert_eq!(r.action, Some(Action::Accept));
    assert_eq!(r.extra.get(b"keep"), Some(&b"K-S"[..]));
    assert_eq!(r.direction, Some(Direction::Out));
    assert_eq!(r.out_interface, Some(&b"e1"[..]));
}

#[test]
fn solaris_syslog_forms() {
    let r = ipmon::parse(line_of("ipfilter-perl-comments.log", 1)).unwrap();
    let ts = r.timestamp.unwrap();
    assert_eq!(ts.kind, TimestampKind::Rfc3164);
    assert_eq!((ts.month, ts.day, ts.hour, ts.minute), (11, 30, 4, 49));
    assert_eq!(r.host, Some(&b"raoul"[..]));
    assert_eq!(r.extra.get(b"tag"), Some(&b"ipmon"[..]));
    assert_eq!(r.extra.get(b"pid"), Some(&b"121"[..]));
    assert_eq!(r.extra.get(b"id"), Some(&b"702911 local0.warning"[..]));
    assert_eq!(r.extra.get(b"time"), Some(&b"04:49:36.420541"[..]));
    assert_eq!(r.action, Some(Action::Deny));
    assert_eq!(r.dst_port, Some(113));

    let f = "ossec-hids-decoder-solaris-ipmon.log";
    let r = ipmon::parse(line_of(f, 1)).unwrap();
    assert_eq!(r.timestamp, None);
    assert_eq!(r.extra.get(b"repeat"), Some(&b"3"[..]));
    assert_eq!(r.in_interface, Some(&b"ce0"[..]));
    assert_eq!(r.tcp_flags, Some(TcpFlags::ACK | TcpFlags::PSH));
    let r = ipmon::parse(line_of(f, 2)).unwrap();
    assert_eq!(r.direction, Some(Direction::In));
    assert_eq!(
        r.extra
            .iter()
            .filter(|(k, _)| k.is_empty())
            .collect::<Vec<_>>(),
        vec![(&b""[..], &b"mbcast"[..])]
    );
    let r = ipmon::parse(line_of(f, 3)).unwrap();
    assert_eq!(r.extra.get(b"id"), Some(&b"702911 local0.notice"[..]));
    assert_eq!(r.extra.get(b"keep"), Some(&b"K-S"[..]));
}

#[test]
fn ipv6_and_icmp() {
    let r = ipmon::parse(
        b"28/06/2020 18:57:52.179848 rge0 @0:12 b 2001:db8::1,40702 -> 2001:db8::2,993 PR tcp len 40 60 -S IN",
    )
    .unwrap();
    assert_eq!(r.src, ip("2001:db8::1"));
    assert_eq!(r.dst_port, Some(993));
    let r = ipmon::parse(
        b"28/06/2020 18:57:52.179848 rge0 @0:12 p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 84 icmp 8/0 IN",
    )
    .unwrap();
    assert_eq!(r.icmp, Some((8, 0)));
    let mut out = Vec::new();
    ipmon::render(&r, &mut out);
    assert_eq!(
        &out[..],
        &b"28/06/2020 18:57:52.179848 rge0 @0:12 p 10.0.0.1 -> 10.0.0.2 PR icmp len 20 84 icmp 8/0 IN"[..]
    );
}

#[test]
fn specific_errors() {
    let cases: &[(&[u8], Error)] = &[
        (
            b"hello world",
            Error::syntax(0, "a dd/mm/yyyy date or a syslog header with an ipmon tag"),
        ),
        (
            b"28/06/2020 18:57:52 rge0 @0:12 b host.example.com,40702 -> 77.238.185.51,993 PR tcp len 20 60 -S OUT",
            Error::syntax(33, "a source address[,port]"),
        ),
        (
            b"28/06/2020 18:57:52 rge0 @0:12 b 1.2.3.4,smtp -> 77.238.185.51,993 PR tcp len 20 60 -S OUT",
            Error::syntax(33, "a source address[,port]"),
        ),
        (
            b"28/06/2020 18:57:52 rge0 0:12 b 1.2.3.4,1 -> 5.6.7.8,2 PR tcp len 20 60",
            Error::syntax(25, "@group:rule"),
        ),
        (
            b"28/06/2020 18:57:52 rge0 @0:12 b 1.2.3.4,1 -> 5.6.7.8,2 PR tcp len 20 60 -SX",
            Error::syntax(73, "TCP flags -[ARSFUPEC]"),
        ),
        (
            b"28/06/2020 18:57:52 rge0 @0:12 b 1.2.3.4,1 -> 5.6.7.8,2 PR tcp",
            Error::syntax(62, "`len`"),
        ),
        (
            b"28/06/2020 25:57:52 rge0 @0:12 b 1.2.3.4,1 -> 5.6.7.8,2 PR tcp len 20 60",
            Error::syntax(11, "a time hh:mm:ss.ffffff"),
        ),
    ];
    for (line, err) in cases {
        assert_eq!(
            &ipmon::parse(line).unwrap_err(),
            err,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    let long = vec![b'1'; ipmon::MAX_LINE_LEN + 1];
    assert!(matches!(
        ipmon::parse(&long),
        Err(Error::LineTooLong { .. })
    ));
}

// ---- proptest -------------------------------------------------------------------------

prop_compose! {
    fn arb_line()(
        date in (1u8..=28, 1u8..=12, 1970u16..2100, 0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000),
        syslog in any::<bool>(),
        repeat in proptest::option::of(2u32..1000),
        iface in prop::sample::select(vec!["anon0", "e1", "rge0", "hme0", "le0"]),
        rule in (0u16..200, 0u16..200),
        action in prop::sample::select(vec!["p", "b", "L", "S", "n"]),
        v6 in any::<bool>(),
        addrs in (any::<[u8; 16]>(), any::<[u8; 16]>()),
        ports in (any::<u16>(), any::<u16>()),
        proto in prop::sample::select(vec!["tcp", "udp", "ip", "icmp"]),
        flags in any::<u8>(),
        icmp in (any::<u8>(), any::<u8>()),
        tl in 20u16..1500,
        keep in any::<bool>(),
        dir in prop::sample::select(vec!["IN", "OUT"]),
        cast in prop::sample::select(vec!["", " mbcast", " bcast"]),
    ) -> String {
        let (d, mo, y, h, mi, s, us) = date;
        let mut l = if syslog {
            format!("ipmon[11523]: [ID 702911 local0.warning] {h:02}:{mi:02}:{s:02}.{us:06}")
        } else {
            format!("{d:02}/{mo:02}/{y:04} {h:02}:{mi:02}:{s:02}.{us:06}")
        };
        if let Some(n) = repeat {
            l += &format!(" {n}x");
        }
        let (src, dst) = if v6 {
            (IpAddr::from(addrs.0), IpAddr::from(addrs.1))
        } else {
            let (a, b) = addrs;
            (IpAddr::from([a[0], a[1], a[2], a[3]]), IpAddr::from([b[0], b[1], b[2], b[3]]))
        };
        l += &format!(" {iface} @{}:{} {action} ", rule.0, rule.1);
        match proto {
            "tcp" | "udp" => l += &format!("{src},{} -> {dst},{} PR {proto} len 20 {tl}", ports.0, ports.1),
            "icmp" => l += &format!("{src} -> {dst} PR icmp len 20 {tl} icmp {}/{}", icmp.0, icmp.1),
            _ => l += &format!("{src} -> {dst} PR ip len 20 ({tl})"),
        }
        if proto == "tcp" {
            l.push_str(" -");
            for (i, c) in "ARSFUPEC".chars().enumerate() {
                if flags & (1 << i) != 0 {
                    l.push(c);
                }
            }
        }
        if keep {
            l += " K-S";
        }
        l += &format!(" {dir}{cast}");
        l
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Generated lines parse; rendering the record gives the line back byte for byte, and
    /// parsing that gives the same record.
    #[test]
    fn generated_lines_round_trip(line in arb_line()) {
        let rec = ipmon::parse(line.as_bytes()).unwrap();
        let mut out = Vec::new();
        ipmon::render(&rec, &mut out);
        prop_assert_eq!(String::from_utf8_lossy(&out), line.as_str());
        prop_assert_eq!(ipmon::parse(&out).unwrap(), rec);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = ipmon::parse(&data);
    }

    #[test]
    fn mutated_real_lines_never_panic(idx in 0usize..31, pos in 0usize..120, byte in any::<u8>()) {
        let mut m: Vec<u8> = lines(CORPUS[1].1).nth(idx).unwrap().1.to_vec();
        if let Some(b) = m.get_mut(pos) { *b = byte; } else { m.truncate(pos / 2); }
        if let Ok(r) = ipmon::parse(&m) {
            let mut out = Vec::new();
            ipmon::render(&r, &mut out);
        }
    }
}
