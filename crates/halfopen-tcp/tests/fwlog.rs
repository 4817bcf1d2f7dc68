//! The adapter from halfopen-fwlog records (built directly with `Record::new`, as the
//! parsers are being written elsewhere) to TCP events.
#![cfg(feature = "fwlog")]

use halfopen_fwlog::{Format, Protocol, Record, TcpFlags as FwFlags};
use halfopen_tcp::{Config, ConnState, Evidence, FlowTable, TcpFlags, from_fwlog};

fn rec(format: Format, proto: Protocol) -> Record<'static> {
    let mut r = Record::new(
        format,
        proto,
        "203.0.113.9".parse().unwrap(),
        "192.0.2.10".parse().unwrap(),
    );
    r.src_port = Some(51515);
    r.dst_port = Some(443);
    r
}

#[test]
fn netfilter_syn_with_options() {
    // netfilter `--log-tcp-options`: OPT (020405B40402080A...)
    let mut r = rec(Format::Netfilter, Protocol::Tcp);
    r.tcp_flags = Some(FwFlags::SYN);
    r.ttl = Some(52);
    r.ip_id = Some(54321);
    r.length = Some(60);
    r.window = Some(64240);
    r.tcp_options = Some(b"020405B40402080A0A1B2C3D0000000001030307");
    let e = from_fwlog::event(&r, 1_000).unwrap();
    assert_eq!(e.flags, Some(TcpFlags::SYN));
    assert_eq!(e.mss, Some(1460));
    assert!(e.options_fingerprint.is_some());
    assert_eq!(
        (e.ttl, e.ip_id, e.ip_len, e.window),
        (Some(52), Some(54321), Some(60), Some(64240))
    );
    let mut t = FlowTable::new(Config::default());
    t.observe(&e);
    t.finish();
    let c = t.pop_finished().unwrap();
    let syn = c.first_syn.unwrap();
    assert_eq!(
        (syn.mss, syn.ttl, syn.src_port),
        (Some(1460), Some(52), 51515)
    );
    assert_eq!(c.evidence, Evidence::SynOnly);
}

#[test]
fn pf_text_options_are_not_hex() {
    let mut r = rec(Format::PfTcpdump, Protocol::Tcp);
    r.tcp_flags = Some(FwFlags::SYN);
    r.tcp_options = Some(b"<mss 1460,nop,wscale 7>");
    let e = from_fwlog::event(&r, 0).unwrap();
    assert_eq!(e.mss, None);
    assert_eq!(e.options_fingerprint, None);
}

#[test]
fn ipfw_records_have_no_flags() {
    let r = rec(Format::Ipfw, Protocol::Tcp);
    let e = from_fwlog::event(&r, 5).unwrap();
    assert_eq!(e.flags, None);
    let mut t = FlowTable::new(Config::default());
    t.observe(&e);
    t.finish();
    let c = t.pop_finished().unwrap();
    assert_eq!(c.state, ConnState::AttemptUnknown);
    assert_eq!(c.evidence, Evidence::NoFlags);
}

#[test]
fn non_tcp_and_portless_records_are_skipped() {
    assert!(from_fwlog::event(&rec(Format::Netfilter, Protocol::Udp), 0).is_none());
    assert!(from_fwlog::event(&rec(Format::Netfilter, Protocol::Icmp), 0).is_none());
    let mut r = rec(Format::Netfilter, Protocol::Tcp);
    r.dst_port = None;
    assert!(from_fwlog::event(&r, 0).is_none());
}

#[test]
fn null_scan_keeps_empty_flags() {
    let mut r = rec(Format::Netfilter, Protocol::Tcp);
    r.tcp_flags = Some(FwFlags::empty());
    let e = from_fwlog::event(&r, 0).unwrap();
    assert_eq!(e.flags, Some(TcpFlags::empty()));
}
