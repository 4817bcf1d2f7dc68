//! Every supported link type, built around the same TCP segments. The pflog cases rebuild
//! the packets of two real pf log lines (tests/data/blog-vjt-pfasciilogd-2023-freebsd-tcpdump-eni.log line 1 and
//! tests/data/ossec-hids-pf_decoder-examples.log line 2, see PROVENANCE.md)
//! in the FreeBSD and OpenBSD header layouts.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use halfopen_tcp::TcpFlags;
use halfopen_tcp::pcap::PacketReader;
use halfopen_tcp::pflog::{PfAction, PfDirection, PflogLayout};

/// TCP header with options (padded to 4 bytes).
fn tcp(sp: u16, dp: u16, seq: u32, flags: u8, win: u16, opts: &[u8]) -> Vec<u8> {
    let mut o = opts.to_vec();
    while o.len() % 4 != 0 {
        o.push(1);
    }
    let off = (20 + o.len()) / 4;
    let mut t = Vec::new();
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.push((off as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&win.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&o);
    t
}

fn ipv4(src: [u8; 4], dst: [u8; 4], ttl: u8, seg: &[u8]) -> Vec<u8> {
    let total = (20 + seg.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0x12, 0x34, 0x40, 0, ttl, 6, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(seg);
    p
}

fn ipv6_with_hbh(src: Ipv6Addr, dst: Ipv6Addr, seg: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0x01, 0x23, 0x45];
    p.extend_from_slice(&((seg.len() + 8) as u16).to_be_bytes());
    p.push(0); // hop-by-hop first
    p.push(57);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]); // HBH: next = TCP, PadN
    p.extend_from_slice(seg);
    p
}

/// A classic little-endian pcap with one record per frame.
fn pcap(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        out.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
        out.extend_from_slice(&250_000u32.to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(&(f.len() as u32).to_le_bytes());
        out.extend_from_slice(f);
    }
    out
}

fn read(bytes: Vec<u8>) -> Vec<halfopen_tcp::pcap::Packet> {
    PacketReader::new(Cursor::new(bytes))
        .unwrap()
        .map(|p| p.unwrap())
        .collect()
}

fn syn() -> Vec<u8> {
    // MSS 1460, SACK permitted, timestamps, NOP, wscale 7 (the FreeBSD log line's options)
    let opts = [
        2, 4, 5, 180, 4, 2, 8, 10, 0x32, 0x20, 0x6c, 0x0d, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    ipv4(
        [121, 224, 77, 46],
        [46, 38, 233, 77],
        50,
        &tcp(41854, 6379, 1929621329, 0x02, 29200, &opts),
    )
}

fn check_syn(p: &halfopen_tcp::pcap::Packet) {
    let e = &p.event;
    assert_eq!(e.src, IpAddr::V4(Ipv4Addr::new(121, 224, 77, 46)));
    assert_eq!((e.src_port, e.dst_port), (41854, 6379));
    assert_eq!(e.flags, Some(TcpFlags::SYN));
    assert_eq!(e.seq, Some(1929621329));
    assert_eq!(e.window, Some(29200));
    assert_eq!(e.mss, Some(1460));
    assert_eq!(e.payload_len, Some(0));
    assert_eq!(e.ttl, Some(50));
    assert_eq!(e.ip_id, Some(0x1234));
    assert_eq!(e.ts_us, 1_700_000_000_250_000);
}

#[test]
fn ethernet_vlan_qinq_mpls() {
    let mut eth = vec![0u8; 12];
    eth.extend_from_slice(&[0x08, 0x00]);
    eth.extend_from_slice(&syn());
    let mut vlan = vec![0u8; 12];
    vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
    vlan.extend_from_slice(&syn());
    let mut qinq = vec![0u8; 12];
    qinq.extend_from_slice(&[0x88, 0xa8, 0, 10, 0x81, 0x00, 0, 20, 0x08, 0x00]);
    qinq.extend_from_slice(&syn());
    let mut mpls = vec![0u8; 12];
    mpls.extend_from_slice(&[0x88, 0x47, 0, 0x01, 0x00, 0x40, 0, 0x02, 0x01, 0x40]);
    mpls.extend_from_slice(&syn());
    let got = read(pcap(1, &[eth, vlan, qinq, mpls]));
    assert_eq!(got.len(), 4);
    for p in &got[..1] {
        check_syn(p);
    }
    for p in &got {
        assert_eq!(p.event.seq, Some(1929621329));
    }
}

#[test]
fn raw_sll_sll2_null_loop() {
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&syn());
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&syn());
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&syn());
    let mut lo = 2u32.to_be_bytes().to_vec();
    lo.extend_from_slice(&syn());
    for (lt, f) in [
        (101, syn()),
        (113, sll),
        (276, sll2),
        (0, null),
        (108, lo),
        (228, syn()),
    ] {
        let got = read(pcap(lt, &[f]));
        assert_eq!(got.len(), 1, "linktype {lt}");
        check_syn(&got[0]);
    }
}

#[test]
fn ipv6_with_extension_header() {
    let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let b: Ipv6Addr = "2001:db8::80".parse().unwrap();
    let seg = tcp(50000, 443, 7, 0x12, 65535, &[2, 4, 5, 160]);
    let got = read(pcap(229, &[ipv6_with_hbh(a, b, &seg)]));
    let e = &got[0].event;
    assert_eq!((e.src, e.dst), (IpAddr::V6(a), IpAddr::V6(b)));
    assert_eq!(e.flags, Some(TcpFlags::SYN | TcpFlags::ACK));
    assert_eq!(e.mss, Some(1440));
    assert_eq!(e.ip_id, Some(0x12345));
    assert_eq!(e.payload_len, Some(0));
}

fn log_line(file: &str, n: usize) -> String {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(path).unwrap();
    String::from_utf8_lossy(&text)
        .lines()
        .nth(n - 1)
        .unwrap()
        .to_string()
}

fn pflog_header(total: usize, af: u8, action: u8, ifname: &[u8], rule: u32, dir: u8) -> Vec<u8> {
    let mut h = vec![0u8; total];
    h[0] = if total == 64 { 61 } else { total as u8 };
    h[1] = af;
    h[2] = action;
    h[4..4 + ifname.len()].copy_from_slice(ifname);
    h[36..40].copy_from_slice(&rule.to_be_bytes());
    h[40..44].copy_from_slice(&0u32.to_be_bytes());
    h[60] = dir;
    h
}

#[test]
fn pflog_freebsd_block_in() {
    // "rule 1/0(match): block in on vtnet0: 121.224.77.46.41854 > 46.38.233.77.6379:
    //  Flags [S], seq 1929621329, win 29200, options [mss 1460,sackOK,TS ...,nop,wscale 7]"
    let line = log_line("blog-vjt-pfasciilogd-2023-freebsd-tcpdump-eni.log", 1);
    for part in [
        "rule 1/0(match): block in on vtnet0",
        "121.224.77.46.41854 > 46.38.233.77.6379: Flags [S], seq 1929621329, win 29200",
        "mss 1460,sackOK",
        "wscale 7",
    ] {
        assert!(line.contains(part), "{line}");
    }
    let mut f = pflog_header(64, 2, 1, b"vtnet0", 1, 1);
    f.extend_from_slice(&syn());
    let got = read(pcap(117, &[f]));
    check_syn(&got[0]);
    let m = got[0].pflog.unwrap();
    assert_eq!(m.layout, PflogLayout::FreeBsd);
    assert_eq!((m.action, m.direction), (PfAction::Block, PfDirection::In));
    assert_eq!((m.rule, m.subrule), (1, 0));
    assert_eq!(m.ifname(), b"vtnet0");
    assert_eq!(m.ruleset(), b"");
}

#[test]
fn pflog_openbsd_block_in_on_lo0() {
    // "rule 4/(match) block in on lo0: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123:
    //  1381529123(0) win 16384 <mss 33184,nop,nop,sackOK,nop,wscale 0,...> (DF)"
    let line = log_line("ossec-hids-pf_decoder-examples.log", 2);
    for part in [
        "rule 4/(match) block in on lo0: 127.0.0.1.48784 > 127.0.0.1.23: S 1381529123",
        "win 16384 <mss 33184,nop,nop,sackOK,nop,wscale 0",
    ] {
        assert!(line.contains(part), "{line}");
    }
    let opts = [2, 4, 0x81, 0xa0, 1, 1, 4, 2, 1, 3, 3, 0];
    let seg = tcp(48784, 23, 1381529123, 0x02, 16384, &opts);
    let mut f = pflog_header(100, 2, 1, b"lo0", 4, 1);
    f.extend_from_slice(&ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64, &seg));
    let got = read(pcap(117, &[f]));
    let e = &got[0].event;
    assert_eq!((e.src_port, e.dst_port), (48784, 23));
    assert_eq!(e.mss, Some(33184));
    assert_eq!(e.window, Some(16384));
    let m = got[0].pflog.unwrap();
    assert_eq!(m.layout, PflogLayout::OpenBsd);
    assert_eq!(m.header_len, 100);
    assert_eq!((m.rule, m.ifname()), (4, &b"lo0"[..]));
}

#[test]
fn pflog_bad_header_is_skipped_and_counted() {
    let f = vec![10u8, 2, 1];
    let mut r = PacketReader::new(Cursor::new(pcap(117, &[f]))).unwrap();
    assert!(r.next().is_none());
    assert_eq!(r.stats().malformed, 1);
}

#[test]
fn pcapng_nanosecond_interface() {
    // SHB, IDB (linktype RAW, if_tsresol = 9), EPB.
    let frame = syn();
    let mut out = Vec::new();
    let shb: Vec<u8> = [
        &0x0a0d0d0au32.to_le_bytes()[..],
        &28u32.to_le_bytes(),
        &0x1a2b3c4du32.to_le_bytes(),
        &1u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &(-1i64).to_le_bytes(),
        &28u32.to_le_bytes(),
    ]
    .concat();
    out.extend_from_slice(&shb);
    let idb: Vec<u8> = [
        &1u32.to_le_bytes()[..],
        &32u32.to_le_bytes(),
        &101u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &65535u32.to_le_bytes(),
        &9u16.to_le_bytes(), // if_tsresol
        &1u16.to_le_bytes(),
        &[9, 0, 0, 0],
        &0u32.to_le_bytes(), // opt_endofopt
        &32u32.to_le_bytes(),
    ]
    .concat();
    out.extend_from_slice(&idb);
    let ts: u64 = 1_700_000_000_250_000_123;
    let mut data = frame.clone();
    while data.len() % 4 != 0 {
        data.push(0);
    }
    let blen = 32 + data.len() as u32;
    let epb: Vec<u8> = [
        &6u32.to_le_bytes()[..],
        &blen.to_le_bytes(),
        &0u32.to_le_bytes(),
        &((ts >> 32) as u32).to_le_bytes(),
        &(ts as u32).to_le_bytes(),
        &(frame.len() as u32).to_le_bytes(),
        &(frame.len() as u32).to_le_bytes(),
        &data,
        &blen.to_le_bytes(),
    ]
    .concat();
    out.extend_from_slice(&epb);
    let got = read(out);
    assert_eq!(got.len(), 1);
    check_syn(&got[0]);
}
