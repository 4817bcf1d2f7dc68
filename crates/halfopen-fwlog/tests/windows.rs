//! Windows Firewall `pfirewall.log`: every corpus line, render round trips, proptests.

use std::net::IpAddr;

use halfopen_fwlog::formats::windows::{self, WindowsFields};
use halfopen_fwlog::{
    Action, Direction, Error, Format, Protocol, Record, TcpFlags, Timestamp, TimestampKind,
};
use proptest::prelude::*;

mod common;
use common::lines;

const CORPUS: &[(&str, &[u8])] = &[
    (
        "crowdsec-hub-windows-firewall-md.log",
        include_bytes!("data/windows/crowdsec-hub-windows-firewall-md.log"),
    ),
    (
        "microsoftdocs-azure-docs-azure-stack-edge-gpu-troubleshoot.log",
        include_bytes!(
            "data/windows/microsoftdocs-azure-docs-azure-stack-edge-gpu-troubleshoot.log"
        ),
    ),
    (
        "plaso-test-data-windows_firewall.log",
        include_bytes!("data/windows/plaso-test-data-windows_firewall.log"),
    ),
];

/// Lines the parser must reject, with the error it must give.
fn expected_error(file: &str, n: usize) -> Option<Error> {
    match (file, n) {
        ("microsoftdocs-azure-docs-azure-stack-edge-gpu-troubleshoot.log", 4) => {
            Some(Error::Syntax {
                line: 0,
                offset: 88,
                expected: "a value or `-` for every #Fields column (line truncated)",
            })
        }
        ("plaso-test-data-windows_firewall.log", 15) => Some(Error::NotAPacket {
            line: 0,
            what: "events-lost notice",
        }),
        _ => None,
    }
}

fn reparse(rec: &Record<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    windows::render(rec, &mut out);
    out
}

#[test]
fn every_corpus_line_parses_or_is_rejected_as_expected() {
    let mut parsed = 0;
    let mut rejected = 0;
    for (file, data) in CORPUS {
        for (n, line) in lines(data) {
            let got = windows::parse(line);
            match expected_error(file, n) {
                Some(err) => {
                    assert_eq!(got.unwrap_err(), err, "{file}:{n}");
                    rejected += 1;
                }
                None => {
                    let rec = got.unwrap_or_else(|e| panic!("{file}:{n}: {e}"));
                    assert_eq!(rec.format, Format::WindowsFirewall);
                    // render is the inverse of parse, byte for byte on real lines
                    let out = reparse(&rec);
                    assert_eq!(
                        String::from_utf8_lossy(&out),
                        String::from_utf8_lossy(line),
                        "{file}:{n}"
                    );
                    assert_eq!(windows::parse(&out).unwrap(), rec, "{file}:{n}");
                    parsed += 1;
                }
            }
        }
    }
    assert_eq!((parsed, rejected), (28, 2));
}

#[test]
fn tcp_syn_with_pid_column() {
    let line = CORPUS[0].1.split(|&b| b == b'\n').next().unwrap();
    let r = windows::parse(line).unwrap();
    let ts = r.timestamp.unwrap();
    assert_eq!(ts.raw, b"2022-01-31 12:24:51");
    assert_eq!(ts.kind, TimestampKind::Native);
    assert_eq!(
        (ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second),
        (Some(2022), 1, 31, 12, 24, 51)
    );
    assert_eq!(ts.utc_offset, None);
    assert_eq!(r.action, Some(Action::Deny));
    assert_eq!(r.action_text, Some(&b"DROP"[..]));
    assert_eq!(r.src, "192.168.9.163".parse::<IpAddr>().unwrap());
    assert_eq!(r.dst, "192.168.9.212".parse::<IpAddr>().unwrap());
    assert_eq!((r.src_port, r.dst_port), (Some(63619), Some(445)));
    assert_eq!(r.length, Some(64));
    assert_eq!(r.tcp_flags, Some(TcpFlags::SYN));
    assert_eq!(
        (r.seq, r.ack, r.window),
        (Some(1031365855), Some(0), Some(65535))
    );
    assert_eq!(r.icmp, None);
    assert_eq!(r.direction, Some(Direction::In));
    assert_eq!(
        r.extra.iter().collect::<Vec<_>>(),
        vec![(&b"pid"[..], &b"4"[..])]
    );
}

#[test]
fn plaso_flags_icmp_open_close() {
    let data = CORPUS[2].1;
    let recs: Vec<_> = lines(data)
        .map(|(_, l)| windows::parse(l))
        .collect::<Vec<_>>();
    let r = recs[2].as_ref().unwrap();
    assert_eq!(r.action, Some(Action::Accept));
    assert_eq!(r.action_text, Some(&b"OPEN"[..]));
    assert_eq!(r.length, None);
    assert_eq!(r.direction, None);
    let r = recs[4].as_ref().unwrap();
    assert_eq!(r.action, Some(Action::Other));
    assert_eq!(r.action_text, Some(&b"CLOSE"[..]));
    let r = recs[8].as_ref().unwrap();
    assert_eq!(r.tcp_flags, Some(TcpFlags::ACK | TcpFlags::PSH));
    let r = recs[9].as_ref().unwrap();
    assert_eq!(r.protocol, Protocol::Icmp);
    assert_eq!(r.icmp, Some((8, 0)));
    let r = recs[13].as_ref().unwrap();
    assert_eq!(r.tcp_flags, Some(TcpFlags::FIN | TcpFlags::ACK));
    assert_eq!(r.seq, Some(2351482979));
}

#[test]
fn ipv6_link_local() {
    let r = windows::parse(
        b"2019-11-06 12:35:19 DROP UDP fe80::3680:dff:fe01:9e88 ff02::fb 5353 5353 89 - - - - - - - RECEIVE",
    )
    .unwrap();
    assert_eq!(r.src, "fe80::3680:dff:fe01:9e88".parse::<IpAddr>().unwrap());
    assert_eq!(r.dst, "ff02::fb".parse::<IpAddr>().unwrap());
    assert_eq!(r.protocol, Protocol::Udp);
    assert_eq!(r.length, Some(89));
}

#[test]
fn header_lines_are_not_packets() {
    for l in [
        &b"#Version: 1.5"[..],
        b"#Software: Microsoft Windows Firewall",
        b"#Time Format: Local",
        b"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path",
    ] {
        assert_eq!(
            windows::parse(l).unwrap_err(),
            Error::NotAPacket { line: 0, what: "header" }
        );
    }
    assert!(windows::is_fields_header(b"#Fields: date time"));
}

#[test]
fn fields_header_with_pid_and_custom_order() {
    let std17 = b"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path";
    assert_eq!(
        WindowsFields::compile(std17).unwrap(),
        WindowsFields::default()
    );
    let with_pid = WindowsFields::compile(b"#Fields: date time action protocol src-ip dst-ip src-port dst-port size tcpflags tcpsyn tcpack tcpwin icmptype icmpcode info path pid").unwrap();
    assert_eq!(with_pid.len(), 18);
    let line = b"2022-01-31 12:24:51 DROP TCP 192.168.9.163 192.168.9.212 63619 445 64 S 1031365855 0 65535 - - - RECEIVE 4";
    let r = windows::parse_with(&with_pid, line).unwrap();
    assert_eq!(r, windows::parse(line).unwrap());
    let mut out = Vec::new();
    windows::render_with(&with_pid, &r, &mut out);
    assert_eq!(out, line);

    let custom =
        WindowsFields::compile(b"#Fields: src-ip dst-ip protocol action dst-port vendor").unwrap();
    let r = windows::parse_with(&custom, b"10.0.0.1 10.0.0.2 TCP ALLOW 443 acme").unwrap();
    assert_eq!(r.dst_port, Some(443));
    assert_eq!(r.action, Some(Action::Accept));
    assert_eq!(r.timestamp, None);
    assert_eq!(r.extra.get(b"vendor"), Some(&b"acme"[..]));
    assert!(matches!(
        WindowsFields::compile(b"#Fields: date time src-ip"),
        Err(Error::Syntax { .. })
    ));
    assert!(matches!(
        WindowsFields::compile(b"#Fields: action protocol src-ip dst-ip src-ip"),
        Err(Error::Syntax { offset: 39, .. })
    ));
}

#[test]
fn specific_errors() {
    let cases: &[(&[u8], Error)] = &[
        (b"", Error::syntax(0, "a value or `-` for every #Fields column (line truncated)")),
        (
            b"2019-11-06 12:35:19 DROP UDP 5.5.3.x 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE",
            Error::syntax(29, "a source IP"),
        ),
        (
            b"2019-11-06 12:35:19 DROP UDP 5.5.3.1 224.0.0.251 99999 5353 59 - - - - - - - RECEIVE",
            Error::syntax(49, "a source port or `-`"),
        ),
        (
            b"2019-13-06 12:35:19 DROP UDP 5.5.3.1 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE",
            Error::syntax(0, "a date with month 1-12 and day 1-31"),
        ),
        (
            b"2019-11-06 12:35:19 DROP TCP 5.5.3.1 224.0.0.251 5353 5353 59 SX - - - - - - RECEIVE",
            Error::syntax(62, "TCP flag letters (FSRPAU) or `-`"),
        ),
        (
            b"2019-11-06 12:35:19 DROP UDP 5.5.3.1 224.0.0.251 5353 5353 59 - - - - - - - RECEIVE 4 5",
            Error::syntax(86, "the end of the line (too many columns)"),
        ),
        (
            b"2019-11-06 12:35:19 DROP UDP 5.5.3.1 224.0.0.251 5353 5353 59 - - - - 3 - - RECEIVE",
            Error::syntax(70, "both icmptype and icmpcode, or neither"),
        ),
    ];
    for (line, err) in cases {
        assert_eq!(
            &windows::parse(line).unwrap_err(),
            err,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    let long = vec![b'1'; windows::MAX_LINE_LEN + 1];
    assert!(matches!(
        windows::parse(&long),
        Err(Error::LineTooLong { .. })
    ));
}

// ---- proptest -------------------------------------------------------------------------

fn arb_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

fn arb_protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Icmp),
        Just(Protocol::Icmpv6),
        any::<u8>().prop_map(Protocol::from_number),
    ]
}

fn arb_action() -> impl Strategy<Value = Option<(Action, &'static [u8])>> {
    prop_oneof![
        Just(None),
        Just(Some((Action::Deny, &b"DROP"[..]))),
        Just(Some((Action::Accept, &b"ALLOW"[..]))),
        Just(Some((Action::Accept, &b"OPEN"[..]))),
        Just(Some((Action::Accept, &b"OPEN-INBOUND"[..]))),
        Just(Some((Action::Other, &b"CLOSE"[..]))),
    ]
}

#[derive(Debug, Clone)]
struct Gen {
    ts: Option<(i32, u8, u8, u8, u8, u8)>,
    action: Option<(Action, &'static [u8])>,
    protocol: Protocol,
    src: IpAddr,
    dst: IpAddr,
    ports: (Option<u16>, Option<u16>),
    size: Option<u32>,
    flags: Option<u8>,
    tcp: (Option<u32>, Option<u32>, Option<u32>),
    icmp: Option<(u8, u8)>,
    dir: Option<Direction>,
    pid: Option<u16>,
}

fn arb_gen() -> impl Strategy<Value = Gen> {
    (
        proptest::option::of((
            1000i32..=9999,
            1u8..=12,
            1u8..=31,
            0u8..=23,
            0u8..=59,
            0u8..=60,
        )),
        arb_action(),
        arb_protocol(),
        arb_ip(),
        arb_ip(),
        (any::<Option<u16>>(), any::<Option<u16>>()),
        any::<Option<u32>>(),
        proptest::option::of(1u8..=255),
        (
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            any::<Option<u32>>(),
        ),
        any::<Option<(u8, u8)>>(),
        proptest::option::of(prop_oneof![
            Just(Direction::In),
            Just(Direction::Out),
            Just(Direction::Forward)
        ]),
        any::<Option<u16>>(),
    )
        .prop_map(
            |(ts, action, protocol, src, dst, ports, size, flags, tcp, icmp, dir, pid)| Gen {
                ts,
                action,
                protocol,
                src,
                dst,
                ports,
                size,
                flags,
                tcp,
                icmp,
                dir,
                pid,
            },
        )
}

fn build<'a>(g: &Gen, pid: &'a [u8]) -> Record<'a> {
    let mut r = Record::new(Format::WindowsFirewall, g.protocol, g.src, g.dst);
    r.timestamp =
        g.ts.map(|(year, month, day, hour, minute, second)| Timestamp {
            raw: b"",
            kind: TimestampKind::Native,
            year: Some(year),
            month,
            day,
            hour,
            minute,
            second,
            nanos: 0,
            utc_offset: None,
        });
    if let Some((a, t)) = g.action {
        r.action = Some(a);
        r.action_text = Some(t);
    }
    (r.src_port, r.dst_port) = g.ports;
    r.length = g.size;
    r.tcp_flags = g.flags.map(TcpFlags);
    (r.seq, r.ack, r.window) = g.tcp;
    r.icmp = g.icmp;
    r.direction = g.dir;
    if g.pid.is_some() {
        r.extra.push(b"pid", pid);
    }
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn render_then_parse_is_identity(g in arb_gen()) {
        let pid = g.pid.map(|p| p.to_string()).unwrap_or_default();
        let rec = build(&g, pid.as_bytes());
        let mut out = Vec::new();
        windows::render(&rec, &mut out);
        let mut back = windows::parse(&out).unwrap();
        // the raw timestamp text is the rendered one
        if let (Some(b), Some(_)) = (back.timestamp.as_mut(), rec.timestamp) {
            prop_assert_eq!(b.raw.len(), 19);
            b.raw = b"";
        }
        prop_assert_eq!(back, rec);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = windows::parse(&data);
    }

    #[test]
    fn mutated_real_lines_never_panic(idx in 0usize..14, pos in 0usize..120, byte in any::<u8>()) {
        let mut m: Vec<u8> = lines(CORPUS[2].1).nth(idx).unwrap().1.to_vec();
        if let Some(b) = m.get_mut(pos) { *b = byte; } else { m.truncate(pos / 2); }
        let _ = windows::parse(&m);
    }
}
