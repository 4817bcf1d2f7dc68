//! Property tests for the ipfw / netfilter / nflog parsers: render -> parse gives the same
//! record, and arbitrary bytes never panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use halfopen_fwlog::formats::{ipfw, netfilter, nflog, parse_line, render};
use halfopen_fwlog::syslog::split;
use halfopen_fwlog::time::{Timestamp, parse_clf, parse_iso8601, parse_rfc3164};
use halfopen_fwlog::{Action, Direction, Format, Protocol, Record, TcpFlags};
use proptest::prelude::*;

/// Everything a generated record borrows, owned.
#[derive(Debug, Clone)]
struct Owned {
    ts: Option<String>,
    host: Option<String>,
    prefix: Option<String>,
    ifname: String,
    rule: String,
    action_text: String,
    opts: String,
    extras: Vec<(String, String)>,
}

fn ts_text() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        (0usize..12, 1u8..=31, 0u8..24, 0u8..60, 0u8..60).prop_map(|(m, d, h, mi, s)| {
            const M: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            Some(format!("{} {d:>2} {h:02}:{mi:02}:{s:02}", M[m]))
        }),
        (
            2000i32..2040,
            1u8..=12,
            1u8..=28,
            0u8..24,
            0u32..1_000_000,
            -12i32..=12
        )
            .prop_map(|(y, m, d, h, us, oh)| {
                let z = if oh == 0 {
                    "Z".to_string()
                } else {
                    format!("{}{:02}:00", if oh < 0 { '-' } else { '+' }, oh.abs())
                };
                Some(format!("{y}-{m:02}-{d:02}T{h:02}:05:06.{us:06}{z}"))
            }),
    ]
}

fn timestamp(s: &Option<String>) -> Option<Timestamp<'_>> {
    let s = s.as_deref()?.as_bytes();
    Some(if s.first().is_some_and(u8::is_ascii_digit) {
        parse_iso8601(s).unwrap().0
    } else {
        parse_rfc3164(s).unwrap().0
    })
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        4 => any::<u32>().prop_map(|v| IpAddr::V4(Ipv4Addr::from(v))),
        1 => any::<u128>().prop_map(|v| IpAddr::V6(Ipv6Addr::from(v))),
    ]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        4 => Just(Protocol::Tcp),
        2 => Just(Protocol::Udp),
        1 => Just(Protocol::Icmp),
        1 => Just(Protocol::Icmpv6),
        1 => any::<u8>()
            .prop_filter("not a named protocol", |n| ![1, 6, 17, 58, 132].contains(n))
            .prop_map(Protocol::Other),
    ]
}

const PREFIXES: [&str; 9] = [
    "DROP",
    "[UFW BLOCK]",
    "filter_IN_public_REJECT:",
    "[wan-lan-default-D]",
    "Shorewall:net2fw:DROP:",
    "IPTABLES-DROP:",
    "TRACE: mangle:OUTPUT:policy:1",
    "DROP(src wan)",
    "SFW2-INext-ACC-TCP",
];

const SAFE_EXTRAS: [(&str, &str); 8] = [
    ("MAC", "00:13:46:3a:41:36:00:1b:b9:76:9c:e4:08:00"),
    ("", "DF"),
    ("PREC", "0x00"),
    ("UID", "1000"),
    ("GID", "1000"),
    ("MARK", "0xd4"),
    ("RES", "0x00"),
    ("URGP", "0"),
];

fn owned() -> impl Strategy<Value = Owned> {
    (
        ts_text(),
        "[a-z][a-z0-9-]{0,10}",
        prop::option::of(prop::sample::select(&PREFIXES[..])),
        prop::sample::select(&["eth0", "em0", "eth0.90", "vmbr0", "tun0"][..]),
        0u32..65536,
        prop::sample::select(
            &[
                "Accept",
                "Deny",
                "Count",
                "Reset",
                "Unreach 3",
                "Divert 8668",
            ][..],
        ),
        "([0-9A-F]{2}){1,20}",
        prop::sample::subsequence(&SAFE_EXTRAS[..], 0..=SAFE_EXTRAS.len()),
    )
        .prop_map(
            |(ts, host, prefix, ifname, rule, action, opts, extras)| Owned {
                host: ts.as_ref().map(|_| host),
                ts,
                prefix: prefix.map(str::to_string),
                ifname: ifname.to_string(),
                rule: rule.to_string(),
                action_text: action.to_string(),
                opts,
                extras: extras
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
        )
}

/// Numbers and choices that are not borrowed.
#[derive(Debug, Clone)]
struct Nums {
    src: IpAddr,
    dst: IpAddr,
    proto: Protocol,
    sport: Option<u16>,
    dport: Option<u16>,
    icmp: Option<(u8, u8)>,
    dir: Option<Direction>,
    len: Option<u32>,
    ttl: Option<u8>,
    id: Option<u32>,
    seq: Option<u32>,
    ack: Option<u32>,
    flags: Option<(u32, u8)>,
    opts: bool,
    uptime: Option<u64>,
    frag: bool,
}

fn nums() -> impl Strategy<Value = Nums> {
    (
        (
            addr(),
            addr(),
            protocol(),
            any::<Option<u16>>(),
            any::<Option<u16>>(),
        ),
        (
            any::<Option<(u8, u8)>>(),
            prop::option::of(prop::sample::select(
                &[Direction::In, Direction::Out, Direction::Forward][..],
            )),
        ),
        (
            any::<Option<u32>>(),
            any::<Option<u8>>(),
            any::<Option<u32>>(),
            any::<Option<u32>>(),
            any::<Option<u32>>(),
        ),
        (
            any::<Option<(u32, u8)>>(),
            any::<bool>(),
            prop::option::of(0u64..10_000_000_000_000),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (src, dst, proto, sport, dport),
                (icmp, dir),
                (len, ttl, id, seq, ack),
                (flags, opts, uptime, frag),
            )| Nums {
                src,
                dst,
                proto,
                sport,
                dport,
                icmp,
                dir,
                len,
                ttl,
                id,
                seq,
                ack,
                flags,
                opts,
                uptime,
                frag,
            },
        )
}

fn ipfw_record<'a>(o: &'a Owned, n: &Nums) -> Record<'a> {
    let mut r = Record::new(Format::Ipfw, n.proto, n.src, n.dst);
    r.timestamp = timestamp(&o.ts);
    r.host = o.host.as_deref().map(str::as_bytes);
    r.rule = Some(o.rule.as_bytes());
    r.action_text = Some(o.action_text.as_bytes());
    r.action = Some(match o.action_text.split(' ').next().unwrap() {
        "Accept" => Action::Accept,
        "Deny" => Action::Deny,
        "Count" => Action::Log,
        "Reset" | "Unreach" => Action::Reject,
        _ => Action::Redirect,
    });
    if matches!(n.proto, Protocol::Tcp | Protocol::Udp) {
        r.src_port = Some(n.sport.unwrap_or(1));
        r.dst_port = Some(n.dport.unwrap_or(80));
    }
    if matches!(n.proto, Protocol::Icmp | Protocol::Icmpv6) {
        r.icmp = n.icmp;
    }
    match n.dir {
        Some(Direction::Out) => {
            r.direction = Some(Direction::Out);
            r.out_interface = Some(o.ifname.as_bytes());
        }
        Some(_) => {
            r.direction = Some(Direction::In);
            r.in_interface = Some(o.ifname.as_bytes());
        }
        None => {}
    }
    if n.frag {
        r.extra.push(b"frag", b"1234:1480@0+");
    }
    r
}

fn kv_record<'a>(format: Format, o: &'a Owned, n: &Nums) -> Record<'a> {
    let mut r = Record::new(format, n.proto, n.src, n.dst);
    r.timestamp = timestamp(&o.ts);
    r.host = o.host.as_deref().map(str::as_bytes);
    if format == Format::Netfilter {
        r.uptime_us = n.uptime;
    }
    r.prefix = o.prefix.as_deref().map(str::as_bytes);
    r.action = r.prefix.and_then(netfilter::action_from_prefix);
    let ifname = Some(o.ifname.as_bytes());
    r.direction = n.dir;
    match n.dir {
        Some(Direction::In) => r.in_interface = ifname,
        Some(Direction::Out) => r.out_interface = ifname,
        Some(Direction::Forward) => (r.in_interface, r.out_interface) = (ifname, ifname),
        None => {}
    }
    r.length = n.len;
    r.ttl = n.ttl;
    r.ip_id = n.id;
    if matches!(n.proto, Protocol::Tcp | Protocol::Udp) {
        r.src_port = n.sport;
        r.dst_port = n.dport;
    }
    if matches!(n.proto, Protocol::Icmp | Protocol::Icmpv6) {
        r.icmp = n.icmp;
    }
    if n.proto == Protocol::Tcp {
        r.seq = n.seq;
        r.ack = n.ack;
        if let Some((w, f)) = n.flags {
            r.window = Some(w);
            r.tcp_flags = Some(TcpFlags(f));
        }
        if n.opts {
            r.tcp_options = Some(o.opts.as_bytes());
        }
    }
    for (k, v) in &o.extras {
        r.extra.push(k.as_bytes(), v.as_bytes());
    }
    r
}

fn round_trip(r: &Record<'_>) -> Result<(), TestCaseError> {
    let mut line = Vec::new();
    render(r, &mut line);
    let back = parse_line(r.format, &line)
        .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&line))))?;
    prop_assert_eq!(&back, r, "line: {}", String::from_utf8_lossy(&line));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ipfw_round_trip(o in owned(), n in nums()) {
        round_trip(&ipfw_record(&o, &n))?;
    }

    #[test]
    fn netfilter_round_trip(o in owned(), n in nums()) {
        round_trip(&kv_record(Format::Netfilter, &o, &n))?;
    }

    #[test]
    fn nflog_ulogd_round_trip(o in owned(), n in nums()) {
        round_trip(&kv_record(Format::Nflog, &o, &n))?;
    }

    #[test]
    fn nflog_pvefw_round_trip(o in owned(), n in nums(), vmid in 0u32..100_000, lvl in 0u8..8) {
        let ts = "20/Jun/2022:13:09:14 +0200";
        let vmid = vmid.to_string();
        let lvl = lvl.to_string();
        let o = Owned { ts: None, host: None, prefix: Some("policy DROP:".into()), ..o };
        let mut r = kv_record(Format::Nflog, &o, &n);
        let mut extra = halfopen_fwlog::Extra::new();
        extra.push(b"vmid", vmid.as_bytes());
        extra.push(b"loglevel", lvl.as_bytes());
        for (k, v) in r.extra.iter() {
            extra.push(k, v);
        }
        r.extra = extra;
        r.timestamp = Some(parse_clf(ts.as_bytes()).unwrap().0);
        r.rule = Some(b"PVEFW-HOST-IN");
        round_trip(&r)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = split(&b);
        let _ = ipfw::parse(&b);
        let _ = netfilter::parse(&b);
        let _ = nflog::parse(&b);
    }

    #[test]
    fn mutated_real_lines_never_panic(
        which in 0usize..3,
        cut in 0usize..400,
        flip in any::<(usize, u8)>(),
    ) {
        let lines: [&[u8]; 3] = [
            b"Feb  3 16:02:58 lhotse /kernel: ipfw: 2700 Deny TCP 213.76.70.104:1103 12.34.56.78:135 in via tun0 (frag 1:2@3+)",
            b"Jan  8 03:37:09 DENY: IN=eth0 OUT= MAC=90:10 SRC=192.168.2.71 DST=192.168.2.83 LEN=88 TOS=0x00 PREC=0x00 TTL=118 ID=21684 PROTO=ICMP TYPE=3 CODE=3 [SRC=192.168.2.83 DST=192.168.173.191 LEN=60 TOS=0x00 PREC=0x00 TTL=54 ID=0 DF PROTO=UDP SPT=21458 DPT=62936 LEN=40 ] OPT (0204)",
            b"0 1 PVEFW-HOST-OUT 20/Jun/2022:13:16:23 +0200 REJECT: OUT=vmbr0.94 SRC=10.3.94.12 DST=10.3.94.10 LEN=60 TOS=0x10 PREC=0x00 TTL=64 ID=59156 DF PROTO=TCP SPT=49566 DPT=22 SEQ=708451139 ACK=0 WINDOW=64240 SYN ",
        ];
        let mut l = lines[which].to_vec();
        l.truncate(cut);
        if !l.is_empty() {
            let i = flip.0 % l.len();
            l[i] = flip.1;
        }
        for f in [Format::Ipfw, Format::Netfilter, Format::Nflog] {
            let _ = parse_line(f, &l);
        }
    }
}

/// Regression (cargo-fuzz `fwlog_netfilter`, 2026-12-06): a log prefix that looks like a
/// kernel uptime stamp but is written against `IN=` (`<6>[ 5739.482168]IN=`) was rendered
/// with a space after it, which read back as an uptime stamp and rendered differently.
#[test]
fn a_prefix_that_looks_like_an_uptime_stamp_renders_stably() {
    for line in [
        &b"<6>[ 5739.482168]IN= OUT=ppp0 SRC=10.94.85.105 DST=121.14.125.26 LEN=60 TTL=64 ID=49871 DF PROTO=TCP SPT=51454 DPT=80"[..],
        b"kernel: [DROP]IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.10 LEN=60 TTL=64 ID=1 PROTO=TCP SPT=40000 DPT=80",
        include_bytes!("../../../fuzz/seeds/fwlog_netfilter/regression-prefix-like-uptime"),
        include_bytes!("../../../fuzz/seeds/fwlog_netfilter/regression-bracket-prefix-then-space"),
    ] {
        let Ok(first) = netfilter::parse(line) else {
            continue;
        };
        let mut a = Vec::new();
        netfilter::render(&first, &mut a);
        let again = netfilter::parse(&a).expect("a rendered line parses");
        let mut b = Vec::new();
        netfilter::render(&again, &mut b);
        assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        assert_eq!(first.uptime_us, again.uptime_us);
        assert_eq!(first.prefix, again.prefix);
    }
}

/// Regression (cargo-fuzz `fwlog_filterlog`, 2026-12-07): an RFC 5424 host name holding
/// `sequenceId="` was read as OPNsense's sequence id (the first one in the header, not the one
/// in the structured data), and each render moved what followed it into the id.
#[test]
fn a_sequence_id_in_the_host_name_is_not_the_structured_datas() {
    use halfopen_fwlog::formats::filterlog;
    let line =
        include_bytes!("../../../fuzz/seeds/fwlog_filterlog/regression-sequenceid-in-hostname");
    let first = filterlog::parse(line).expect("the fuzzer's line parses");
    assert_eq!(first.extra.get(b"sequenceId"), Some(&b"2633353"[..]));
    let mut a = Vec::new();
    filterlog::render(&first, &mut a);
    let again = filterlog::parse(&a).expect("a rendered line parses");
    let mut b = Vec::new();
    filterlog::render(&again, &mut b);
    assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
    assert_eq!(again.extra.get(b"sequenceId"), Some(&b"2633353"[..]));
}

/// Parses `line` with a format's `parse`, renders it, and checks that the rendered line parses
/// and renders the same again (what the fuzz targets check).
fn renders_stably(
    line: &[u8],
    parse: impl for<'a> Fn(&'a [u8]) -> halfopen_fwlog::Result<halfopen_fwlog::Record<'a>>,
    render: impl Fn(&halfopen_fwlog::Record<'_>, &mut Vec<u8>),
) {
    let Ok(first) = parse(line) else {
        return;
    };
    let mut a = Vec::new();
    render(&first, &mut a);
    let again = match parse(&a) {
        Ok(r) => r,
        Err(e) => panic!("{e}: {:?}", String::from_utf8_lossy(&a)),
    };
    let mut b = Vec::new();
    render(&again, &mut b);
    assert_eq!(String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
}

/// Regression (cargo-fuzz `fwlog_filterlog`, 2026-12-07, the CI run of `73fbf20`): a line whose
/// body, one token without spaces, read as a host name once rendering made it shorter.
#[test]
fn a_filterlog_body_is_never_a_host_name() {
    use halfopen_fwlog::formats::filterlog;
    let line =
        include_bytes!("../../../fuzz/seeds/fwlog_filterlog/regression-syslog-header-in-the-tail");
    assert!(filterlog::parse(line).is_ok(), "the fuzzer's line parses");
    renders_stably(line, filterlog::parse, filterlog::render);
}

/// Regression (cargo-fuzz `fwlog_nflog`, 2026-12-07, a longer local run): a start that only
/// looks like an RFC 5424 header (`1 - [...`) is prefix and fields.
#[test]
fn an_nflog_start_that_only_looks_like_a_header_renders_stably() {
    use halfopen_fwlog::formats::nflog;
    let line = include_bytes!("../../../fuzz/seeds/fwlog_nflog/regression-unclosed-descr");
    assert!(nflog::parse(line).is_ok(), "the fuzzer's line parses");
    renders_stably(line, nflog::parse, nflog::render);
}
