//! Every line of every ipfw / netfilter / nflog corpus file (copies in `tests/data/`) parses,
//! or is rejected with the specific error listed here.

use std::net::IpAddr;

use halfopen_fwlog::formats::parse_line;
use halfopen_fwlog::{Action, Direction, Error, Format, Protocol, Record, TcpFlags};

/// (file, 1-based line, expected error text as `Display` without the line prefix).
const REJECTED: &[(&str, u64, &str)] = &[
    // Redacted address `192.168.xx.xx`.
    (
        "ipfw/forum-ubuntu-mdns-2021-ipfw.log",
        1,
        "byte 63: expected the source address[:port]",
    ),
    // CrowdSec negative tests: `IN=enp.1s0` and `XX=enp1s0`.
    (
        "netfilter/crowdsec-hub-iptables-logs.log",
        2,
        "byte 55: expected an interface name after IN= (a dot only before a VLAN number)",
    ),
    (
        "netfilter/crowdsec-hub-iptables-logs.log",
        3,
        "byte 52: expected IN= starting the netfilter fields",
    ),
    // UniFi ulogd lines in the netfilter file: they parse as nflog (checked below).
    (
        "netfilter/elastic-integrations-iptables-test-iptables-raw.log",
        23,
        "byte 164: expected TOS=0x.. as the kernel writes it (ulogd's TOS=00 is nflog)",
    ),
    (
        "netfilter/elastic-integrations-iptables-test-iptables-raw.log",
        24,
        "byte 164: expected TOS=0x.. as the kernel writes it (ulogd's TOS=00 is nflog)",
    ),
];

/// Ubiquiti continuation fragments (lines 6-11).
const FRAGMENTS: (&str, std::ops::RangeInclusive<u64>) = (
    "netfilter/elastic-integrations-iptables-test-ubiquiti.log",
    6..=11,
);

fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let mut out: Vec<_> = std::fs::read_dir(format!("{root}{dir}"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| {
            let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no corpus files in {dir}");
    out
}

fn lines(data: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    data.split(|c| *c == b'\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.is_empty())
}

fn check_dir(dir: &str, format: Format) -> usize {
    let mut ok = 0;
    for (name, data) in files(dir) {
        for (n, line) in lines(&data) {
            let res = parse_line(format, line).map_err(|e| e.at_line(n));
            let expected = REJECTED.iter().find(|(f, l, _)| *f == name && *l == n);
            match (res, expected) {
                (Ok(r), None) => {
                    assert_eq!(r.format, format);
                    ok += 1;
                }
                (Err(e), Some((_, _, want))) => {
                    assert_eq!(e.to_string(), format!("line {n}, {want}"), "{name}:{n}");
                }
                (Err(Error::NotAPacket { line, what }), None)
                    if name == FRAGMENTS.0 && FRAGMENTS.1.contains(&n) =>
                {
                    assert_eq!(line, n);
                    assert!(what.contains("continuation fragment"), "{name}:{n}: {what}");
                }
                (Err(e), None) => panic!("{name}:{n}: unexpected error {e}"),
                (Ok(r), Some(_)) => panic!("{name}:{n}: expected an error, parsed {r:?}"),
            }
        }
    }
    ok
}

#[test]
fn every_ipfw_line() {
    assert_eq!(check_dir("ipfw", Format::Ipfw), 21);
}

#[test]
fn every_netfilter_line() {
    assert_eq!(check_dir("netfilter", Format::Netfilter), 265);
}

#[test]
fn every_nflog_line() {
    assert_eq!(check_dir("nflog", Format::Nflog), 13);
}

#[test]
fn unifi_lines_in_the_netfilter_file_are_nflog() {
    let (_, data) = files("netfilter")
        .into_iter()
        .find(|(n, _)| n.ends_with("iptables-raw.log"))
        .unwrap();
    for (n, line) in lines(&data).filter(|(n, _)| *n >= 23) {
        let r = parse_line(Format::Nflog, line).unwrap_or_else(|e| panic!("line {n}: {e}"));
        assert_eq!(r.host, Some(&b"Abc-A1"[..]));
        assert_eq!(r.prefix, Some(&b"[SOMETHING-1234-A]"[..]));
    }
}

fn line_of(dir: &str, file: &str, n: u64) -> Vec<u8> {
    let (_, data) = files(dir)
        .into_iter()
        .find(|(f, _)| f.ends_with(file))
        .unwrap();
    lines(&data).find(|(i, _)| *i == n).unwrap().1.to_vec()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn netfilter_field_values() {
    let l = line_of("netfilter", "linuc-textbook-ja-firewalld-kern-log.log", 1);
    let r: Record<'_> = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(r.prefix, Some(&b"filter_IN_public_REJECT:"[..]));
    assert_eq!(r.action, Some(Action::Reject));
    assert_eq!(
        r.tcp_flags,
        Some(TcpFlags::CWR | TcpFlags::ECE | TcpFlags::SYN)
    );
    assert_eq!((r.src, r.dst), (ip("192.168.11.115"), ip("192.168.56.101")));
    assert_eq!(
        (r.src_port, r.dst_port, r.window),
        (Some(62291), Some(443), Some(65535))
    );
    assert_eq!(r.direction, Some(Direction::In));

    let l = line_of("netfilter", "topera_ipv6_syn_scan_with_ip_opts.log", 1);
    let r = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(r.src, ip("2012:1234:1234::1"));
    assert_eq!((r.ttl, r.ip_id, r.length), (Some(64), Some(0), Some(132)));
    assert_eq!(r.extra.iter().filter(|(k, _)| *k == b"OPT").count(), 9);
    assert_eq!(r.tcp_flags, Some(TcpFlags::SYN));
    assert_eq!(r.uptime_us, Some(449_059_230));

    let l = line_of("netfilter", "blog-k8s-iptables-trace-kern-log.log", 1);
    let r = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(r.prefix, Some(&b"TRACE: mangle:OUTPUT:policy:1"[..]));
    assert_eq!((r.seq, r.ack), (Some(1_655_794_081), Some(0)));
    assert_eq!(
        r.tcp_options,
        Some(&b"020405B40402080A031715B70000000001030307"[..])
    );
    assert_eq!(r.extra.get(b"UID"), Some(&b"0"[..]));

    let l = line_of("netfilter", "psad-test-scans-ipv4_valid_ping.log", 1);
    let r = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(
        (r.protocol, r.icmp, r.ip_id),
        (Protocol::Icmp, Some((8, 0)), Some(18443))
    );
    assert_eq!(r.extra.get(b"ID"), Some(&b"2158"[..]));
    assert_eq!(r.seq, None);

    let l = line_of("netfilter", "psad-test-scans-syslog_time_fmt1.log", 3);
    let r = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(r.protocol, Protocol::Other(2));
    assert_eq!(r.timestamp.unwrap().utc_offset, Some(7200));

    let l = line_of("netfilter", "android-app-comment-dmesg-log-uid.log", 1);
    let r = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(
        (r.uptime_us, r.prefix),
        (Some(5_739_482_168), Some(&b"CMWRAP"[..]))
    );
    assert_eq!(r.timestamp, None);

    let l = line_of(
        "netfilter",
        "elastic-integrations-iptables-test-journald-message.log",
        1,
    );
    let r = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(r.prefix, Some(&b"iptables DROP_INPUT:"[..]));
    assert_eq!(r.tcp_flags, Some(TcpFlags::RST));

    let l = line_of("netfilter", "psad-test-scans-null_scan_1000_1150.log", 1);
    let r = parse_line(Format::Netfilter, &l).unwrap();
    assert_eq!(r.tcp_flags, Some(TcpFlags::empty()));
}

#[test]
fn ipfw_field_values() {
    let l = line_of("ipfw", "prelude-lml-rules-ipfw.log", 4);
    let r = parse_line(Format::Ipfw, &l).unwrap();
    assert_eq!((r.protocol, r.icmp), (Protocol::Icmp, Some((11, 0))));
    assert_eq!(
        (r.rule, r.in_interface),
        (Some(&b"140"[..]), Some(&b"vx3"[..]))
    );
    let l = line_of("ipfw", "blog-sakura-vps-broadcast-2013-ipfw.log", 1);
    let r = parse_line(Format::Ipfw, &l).unwrap();
    assert_eq!((r.host, r.action), (Some(&b"ns3"[..]), Some(Action::Deny)));
    assert_eq!(r.dst, ip("255.255.255.255"));
}

#[test]
fn nflog_field_values() {
    let l = line_of("nflog", "crowdsec-hub-proxmox-pvefw-logger.log", 8);
    let r = parse_line(Format::Nflog, &l).unwrap();
    assert_eq!(
        (r.in_interface, r.out_interface),
        (None, Some(&b"vmbr0.94"[..]))
    );
    assert_eq!(r.direction, Some(Direction::Out));
    assert_eq!(r.extra.get(b"vmid"), Some(&b"0"[..]));
    let l = line_of("nflog", "gist-udm-pro-ulogd-syslogemu.log", 2);
    let r = parse_line(Format::Nflog, &l).unwrap();
    assert_eq!(
        r.extra.get(b"DESCR"),
        Some(&b"[WAN_LOCAL]Block All Other Tra"[..])
    );
    assert_eq!(r.action, Some(Action::Deny));
}

/// What the fuzz targets check, on every real line: render -> parse -> render is stable.
#[test]
fn render_is_stable_on_every_parsed_corpus_line() {
    use halfopen_fwlog::render;
    for (dir, format) in [
        ("ipfw", Format::Ipfw),
        ("netfilter", Format::Netfilter),
        ("nflog", Format::Nflog),
    ] {
        for (name, data) in files(dir) {
            for (n, line) in lines(&data) {
                let Ok(rec) = parse_line(format, line) else {
                    continue;
                };
                let mut first = Vec::new();
                render(&rec, &mut first);
                let again = parse_line(format, &first).unwrap_or_else(|e| {
                    panic!("{name}:{n}: {e}: {}", String::from_utf8_lossy(&first))
                });
                assert_eq!(
                    again,
                    rec,
                    "{name}:{n}: {}",
                    String::from_utf8_lossy(&first)
                );
                let mut second = Vec::new();
                render(&again, &mut second);
                assert_eq!(first, second, "{name}:{n}");
            }
        }
    }
}
