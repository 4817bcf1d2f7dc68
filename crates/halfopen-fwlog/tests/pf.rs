//! pf via tcpdump: every corpus line, render round trips, proptests.

use std::net::IpAddr;

use halfopen_fwlog::formats::pf;
use halfopen_fwlog::{Action, Direction, Error, Format, Protocol, TcpFlags, TimestampKind};
use proptest::prelude::*;

mod common;
use common::{ip, lines};

const CORPUS: &[(&str, &[u8])] = corpus!["pf":
    "blog-vjt-pfasciilogd-2023-freebsd-tcpdump-eni.log",
    "ossec-hids-pf_decoder-examples.log",
];

fn line_of(file: &str, n: usize) -> &'static [u8] {
    common::line_of(CORPUS, file, n)
}

fn rendered(rec: &halfopen_fwlog::Record<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    pf::render(rec, &mut out);
    out
}

#[test]
fn every_corpus_line_parses_and_renders_back_byte_for_byte() {
    let mut count = 0;
    for (file, data) in CORPUS {
        for (n, line) in lines(data) {
            let rec = pf::parse(line).unwrap_or_else(|e| panic!("{file}:{n}: {e}"));
            assert_eq!(rec.format, Format::PfTcpdump);
            let out = rendered(&rec);
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(line),
                "{file}:{n}"
            );
            assert_eq!(pf::parse(&out).unwrap(), rec, "{file}:{n}");
            count += 1;
        }
    }
    assert_eq!(count, 9);
}

#[test]
fn freebsd_upstream_tcpdump() {
    let f = "blog-vjt-pfasciilogd-2023-freebsd-tcpdump-eni.log";
    let r = pf::parse(line_of(f, 1)).unwrap();
    assert_eq!(r.timestamp, None);
    assert_eq!(r.extra.get(b"time"), Some(&b"01:48:13.748353"[..]));
    assert_eq!(r.extra.get(b"dialect"), Some(pf::DIALECT_TCPDUMP));
    assert_eq!(r.extra.get(b"reason"), Some(&b"match"[..]));
    assert_eq!((r.src, r.dst), (ip("121.224.77.46"), ip("46.38.233.77")));
    assert_eq!(
        r.tcp_options,
        Some(&b"mss 1460,sackOK,TS val 840989709 ecr 0,nop,wscale 7"[..])
    );
    assert_eq!(r.extra.get(b"datalen"), Some(&b"0"[..]));
    let r = pf::parse(line_of(f, 2)).unwrap();
    assert_eq!(r.protocol, Protocol::Udp);
    assert_eq!((r.src_port, r.dst_port), (Some(37422), Some(5632)));
    assert_eq!(r.extra.get(b"datalen"), Some(&b"3"[..]));
    let r = pf::parse(line_of(f, 3)).unwrap();
    assert_eq!(r.tcp_flags, Some(TcpFlags::SYN));
    assert_eq!(r.window, Some(1024));
    assert_eq!(r.tcp_options, None);
}

#[test]
fn openbsd_tcpdump_and_syslog_wrapped() {
    let f = "ossec-hids-pf_decoder-examples.log";
    let r = pf::parse(line_of(f, 1)).unwrap();
    assert_eq!(r.host, Some(&b"enigma"[..]));
    assert_eq!(r.extra.get(b"tag"), Some(&b"pf"[..]));
    assert_eq!(r.extra.get(b"syslog_time"), Some(&b"Mar 30 15:33:26"[..]));
    let ts = r.timestamp.unwrap();
    assert_eq!(ts.kind, TimestampKind::Rfc3164);
    assert_eq!(
        (ts.month, ts.day, ts.hour, ts.minute, ts.second),
        (3, 30, 15, 32, 33)
    );
    assert_eq!(ts.nanos, 483_712_000);
    assert_eq!(r.rule, Some(&b"2/"[..]));
    assert_eq!(r.action, Some(Action::Accept));
    assert_eq!(r.in_interface, Some(&b"xl0"[..]));
    assert_eq!(r.tcp_flags, Some(TcpFlags::PSH | TcpFlags::ACK));
    assert_eq!(
        (r.seq, r.ack, r.window),
        (Some(7408), Some(1773), Some(2520))
    );
    assert_eq!(r.extra.get(b"seq_end"), Some(&b"7677"[..]));
    assert_eq!(r.extra.get(b"datalen"), Some(&b"269"[..]));
    assert_eq!(r.extra.get(b"ipflags"), Some(&b"DF"[..]));

    let r = pf::parse(line_of(f, 2)).unwrap();
    assert_eq!(r.extra.get(b"dialect"), Some(pf::DIALECT_OPENBSD));
    assert_eq!(r.action, Some(Action::Deny));
    assert_eq!(r.tcp_flags, Some(TcpFlags::SYN));
    assert_eq!((r.src_port, r.dst_port), (Some(48784), Some(23)));
    assert_eq!(r.window, Some(16384));
    assert_eq!(
        r.tcp_options,
        Some(&b"mss 33184,nop,nop,sackOK,nop,wscale 0,[|tcp]"[..])
    );
    assert_eq!(r.extra.get(b"tos"), Some(&b"0x10"[..]));

    let r = pf::parse(line_of(f, 3)).unwrap();
    assert_eq!(r.protocol, Protocol::Udp);
    assert_eq!(r.direction, Some(Direction::Out));
    assert_eq!(r.out_interface, Some(&b"xl0"[..]));
    assert_eq!(r.extra.get(b"datalen"), Some(&b"73"[..]));

    let r = pf::parse(line_of(f, 5)).unwrap();
    assert_eq!(r.protocol, Protocol::Icmp);
    assert_eq!(r.icmp, Some((0, 0)));
    assert_eq!((r.src_port, r.dst_port), (None, None));
    let r = pf::parse(line_of(f, 6)).unwrap();
    assert_eq!(r.icmp, Some((8, 0)));
}

#[test]
fn ipv6_address_port_split_and_other_stamps() {
    let line = b"2023-08-17 01:48:13.748353 rule 3/0(match): pass in on em0: 2001:db8::1.443 > 2001:db8::2.55555: Flags [S.], seq 1, ack 2, win 65535, length 0";
    let r = pf::parse(line).unwrap();
    assert_eq!(r.src, ip("2001:db8::1"));
    assert_eq!((r.src_port, r.dst_port), (Some(443), Some(55555)));
    assert_eq!(r.tcp_flags, Some(TcpFlags::SYN | TcpFlags::ACK));
    let ts = r.timestamp.unwrap();
    assert_eq!((ts.year, ts.month, ts.day), (Some(2023), 8, 17));
    assert_eq!(rendered(&r), line);

    let line = b"1692236893.748353 rule 3/0(match): block in on em0: fe80::1 > ff02::1: ICMP6, echo request, id 1, seq 1, length 64";
    let r = pf::parse(line).unwrap();
    assert_eq!(r.protocol, Protocol::Icmpv6);
    assert_eq!(r.icmp, Some((128, 0)));
    let ts = r.timestamp.unwrap();
    assert_eq!((ts.year, ts.month, ts.day, ts.hour), (Some(2023), 8, 17, 1));
    assert_eq!(ts.utc_offset, Some(0));
    assert_eq!(rendered(&r), line);

    let line = b"rule 0/0(match): block in on em0: 10.0.0.1.53 > 10.0.0.2.3333: 1234+ A? example.com. (29)";
    let r = pf::parse(line).unwrap();
    assert_eq!(r.protocol, Protocol::Udp);
    assert_eq!(
        r.extra.get(b"info"),
        Some(&b"1234+ A? example.com. (29)"[..])
    );
    assert_eq!(rendered(&r), line);
}

#[test]
fn old_freebsd_colon_with_openbsd_body_renders_stably() {
    // found by fuzzing: a `(match):` header (upstream style) followed by an old-style body
    let line = b"rule 4/(match): block in on vt: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:1381529123(0) win 16384";
    let r = pf::parse(line).unwrap();
    assert_eq!(r.extra.get(b"dialect"), Some(pf::DIALECT_OPENBSD));
    let first = rendered(&r);
    let again = pf::parse(&first).unwrap();
    assert_eq!(again, r);
    assert_eq!(rendered(&again), first);
}

#[test]
fn openbsd_verbose_ip_fields() {
    let line = b"Mar 30 15:47:05.522341 rule 4/(match) block in on em0: 10.1.1.1.48784 > 10.2.2.2.80: S 1381529123:1381529123(0) win 1024 <mss 1460> (DF) (ttl 42, id 54321, len 44)";
    let r = pf::parse(line).unwrap();
    assert_eq!(
        (r.ttl, r.ip_id, r.length),
        (Some(42), Some(54321), Some(44))
    );
    assert_eq!(r.extra.get(b"ipflags"), Some(&b"DF"[..]));
    assert_eq!(r.extra.get(b"info"), None);
    assert_eq!(rendered(&r), line);
    let line = b"Mar 30 15:54:22.171929 rule 3/(match) pass out on xl0: 192.168.2.10.1514 > 192.168.2.190.1030:  udp 73 (ttl 64, id 7, len 101)";
    let r = pf::parse(line).unwrap();
    assert_eq!((r.ttl, r.ip_id, r.length), (Some(64), Some(7), Some(101)));
    assert_eq!(rendered(&r), line);
    assert_eq!(
        pf::parse(b"rule 3/(match) pass out on xl0: 1.2.3.4.1 > 5.6.7.8.2:  udp 73 (ttl 64)")
            .unwrap_err(),
        Error::syntax(68, "(ttl N, id N, len N)")
    );
}

#[test]
fn openbsd_user_info() {
    let line = b"Mar 30 15:47:05.522341 rule 0/(match) [uid 0, pid 31536] pass out on em0: 10.1.1.1.48784 > 10.2.2.2.80: S 1:1(0) win 16384";
    let r = pf::parse(line).unwrap();
    assert_eq!(r.extra.get(b"user"), Some(&b"0, pid 31536"[..]));
    assert_eq!(r.action, Some(Action::Accept));
    assert_eq!(r.out_interface, Some(&b"em0"[..]));
    assert_eq!(rendered(&r), line);
}

#[test]
fn rule_word_inside_a_syslog_header_is_rejected() {
    // found by fuzzing: RFC 5424 structured data swallowed the pf text
    let line = b" 1 - \x13\x13{\x00047\x1f\x00\x00\x00\x00\x00\x00\x00\x1543 Y%MaFla01:\x00\x00\xdc\x00\x00\x00\x0030 15:47:\xb4M\x14\x83i\x04\x00\x00ptions \x17\x133 [e1 rul0 15:47:05.522341 rule 4/(mat\x17ch) k in on lo0: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:124(0) wz]";
    assert_eq!(
        pf::parse(line).unwrap_err(),
        Error::syntax(0, "a packet time or a syslog header before `rule`")
    );
}

#[test]
fn specific_errors() {
    let cases: &[(&[u8], Error)] = &[
        (
            b"hello",
            Error::syntax(0, "a pflog header `rule N/M(reason)`"),
        ),
        (
            b"rule 1/0(match): block sideways on em0: 1.2.3.4.1 > 5.6.7.8.2: UDP, length 3",
            Error::syntax(23, "a direction (in, out)"),
        ),
        (
            b"rule 1/0(match): block in on em0: 1.2.3.4.1 > 5.6.7.8.99999: UDP, length 3",
            Error::syntax(46, "a destination address[.port]"),
        ),
        (
            b"rule 1/0(match): block in on em0: 1.2.3.4.1 > 5.6.7.8.2: Flags [SX], seq 1",
            Error::syntax(64, "TCP flags [FSRP.UEW]"),
        ),
        (
            b"rule 1/0(match): block in on em0: 1.2.3.4 > 5.6.7.8: something odd",
            Error::syntax(53, "a TCP, UDP or ICMP packet description"),
        ),
        (
            b"garbage here rule 1/0(match): block in on em0: 1.2.3.4.1 > 5.6.7.8.2: UDP, length 3",
            Error::syntax(0, "a packet time or a syslog header before `rule`"),
        ),
    ];
    for (line, err) in cases {
        assert_eq!(
            &pf::parse(line).unwrap_err(),
            err,
            "{}",
            String::from_utf8_lossy(line)
        );
    }
    let long = vec![b'1'; pf::MAX_LINE_LEN + 1];
    assert!(matches!(pf::parse(&long), Err(Error::LineTooLong { .. })));
}

// ---- proptest -------------------------------------------------------------------------

fn flags_text(f: u8, order: &str, ack: bool) -> String {
    let bits = [0x02u8, 0x01, 0x04, 0x08, 0x80, 0x40];
    let mut s = String::new();
    if order == "openbsd" {
        for (i, c) in "SFRPWE".chars().enumerate() {
            if f & bits[i] != 0 {
                s.push(c);
            }
        }
        if s.is_empty() {
            s.push('.');
        }
    } else {
        for (i, c) in "FSRP.UEW".chars().enumerate() {
            if (ack || c != '.') && f & (1 << i) != 0 {
                s.push(c);
            }
        }
    }
    s
}

prop_compose! {
    fn arb_line()(
        stamp in 0u8..5,
        t in (1u8..=28, 0u8..24, 0u8..60, 0u8..60, 0u32..1_000_000),
        openbsd in any::<bool>(),
        rule in (0u16..500, 0u16..10),
        action in prop::sample::select(vec!["pass", "block", "match"]),
        dir in prop::sample::select(vec!["in", "out"]),
        v6 in any::<bool>(),
        addrs in (any::<[u8; 16]>(), any::<[u8; 16]>()),
        ports in (any::<u16>(), any::<u16>()),
        proto in 0u8..3,
        flags in any::<u8>(),
        tcp in (any::<u32>(), any::<Option<u32>>(), any::<u16>(), 0u16..1500),
        opts in any::<bool>(),
    ) -> String {
        let (d, h, mi, s, us) = t;
        let mut l = match stamp {
            0 => String::new(),
            1 => format!("Mar {d:2} {h:02}:{mi:02}:{s:02}.{us:06} "),
            2 => format!("{h:02}:{mi:02}:{s:02}.{us:06} "),
            3 => format!("2024-02-{d:02} {h:02}:{mi:02}:{s:02}.{us:06} "),
            _ => format!("Mar {d:2} {h:02}:{mi:02}:{s:02} fw pf: Mar {d:2} {h:02}:{mi:02}:{s:02}.{us:06} "),
        };
        let (src, dst) = if v6 {
            (IpAddr::from(addrs.0), IpAddr::from(addrs.1))
        } else {
            let (a, b) = addrs;
            (IpAddr::from([a[0], a[1], a[2], a[3]]), IpAddr::from([b[0], b[1], b[2], b[3]]))
        };
        if openbsd {
            l += &format!("rule {}/({}) {action} {dir} on em0: ", rule.0, "match");
        } else {
            l += &format!("rule {}/{}(match): {action} {dir} on em0: ", rule.0, rule.1);
        }
        let (seq, ack, win, len) = tcp;
        match (proto, openbsd) {
            (0, true) => {
                l += &format!("{src}.{} > {dst}.{}: {} {seq}:{}({len})", ports.0, ports.1, flags_text(flags, "openbsd", false), seq.wrapping_add(u32::from(len)));
                if let Some(a) = ack { l += &format!(" ack {a}"); }
                l += &format!(" win {win}");
                if opts { l += " <mss 1460,nop,nop,sackOK> (DF)"; }
            }
            (0, false) => {
                l += &format!("{src}.{} > {dst}.{}: Flags [{}], seq {seq}", ports.0, ports.1, flags_text(flags, "tcpdump", ack.is_some()));
                if let Some(a) = ack { l += &format!(", ack {a}"); }
                l += &format!(", win {win}");
                if opts { l += ", options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7]"; }
                l += &format!(", length {len}");
            }
            (1, true) => l += &format!("{src}.{} > {dst}.{}:  udp {len}", ports.0, ports.1),
            (1, false) => l += &format!("{src}.{} > {dst}.{}: UDP, length {len}", ports.0, ports.1),
            (_, true) => l += &format!("{src} > {dst}: icmp{}: echo request", if v6 { "6" } else { "" }),
            (_, false) => l += &format!("{src} > {dst}: ICMP{} echo request, id 1, seq 1, length 64", if v6 { "6," } else { "" }),
        }
        l
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Generated lines parse; rendering the record gives the line back byte for byte, and
    /// parsing that gives the same record.
    #[test]
    fn generated_lines_round_trip(line in arb_line()) {
        let rec = pf::parse(line.as_bytes()).unwrap();
        let out = rendered(&rec);
        prop_assert_eq!(String::from_utf8_lossy(&out), line.as_str());
        prop_assert_eq!(pf::parse(&out).unwrap(), rec);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = pf::parse(&data);
    }

    #[test]
    fn mutated_real_lines_never_panic(idx in 0usize..6, pos in 0usize..200, byte in any::<u8>()) {
        let mut m: Vec<u8> = lines(CORPUS[1].1).nth(idx).unwrap().1.to_vec();
        if let Some(b) = m.get_mut(pos) { *b = byte; } else { m.truncate(pos / 2); }
        if let Ok(r) = pf::parse(&m) {
            let _ = rendered(&r);
        }
    }
}
