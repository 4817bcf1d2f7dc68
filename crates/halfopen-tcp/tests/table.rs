//! Flow-table behaviour: evidence kinds, timeouts, port reuse, the bounded table.
#![allow(clippy::print_stdout)]

use std::net::{IpAddr, Ipv4Addr};

use halfopen_tcp::{
    Config, ConnState, Connection, EndReason, Event, Evidence, FlowTable, TcpFlags,
};

const S: TcpFlags = TcpFlags::SYN;
const A: TcpFlags = TcpFlags::ACK;
const F: TcpFlags = TcpFlags::FIN;
const R: TcpFlags = TcpFlags::RST;

fn client() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))
}
fn server() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))
}

/// A log-style event (flags only, no seq/payload).
fn ev(ts_s: f64, from_client: bool, flags: Option<TcpFlags>) -> Event {
    let ts = (ts_s * 1e6) as i64;
    let mut e = if from_client {
        Event::new(ts, client(), 51000, server(), 443)
    } else {
        Event::new(ts, server(), 443, client(), 51000)
    };
    e.flags = flags;
    e
}

fn all(t: &mut FlowTable) -> Vec<Connection> {
    t.finish();
    std::iter::from_fn(|| t.pop_finished()).collect()
}

#[test]
fn syn_only_logs_are_marked() {
    let mut t = FlowTable::new(Config::default());
    for s in [0.0, 1.0, 3.0, 7.0] {
        t.observe(&ev(s, true, Some(S)));
    }
    let c = all(&mut t);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, ConnState::S0);
    assert_eq!(c[0].evidence, Evidence::SynOnly);
    assert_eq!(c[0].syn_count, 4);
    assert_eq!(c[0].history.to_string(), "S");
    assert_eq!(c[0].orig_bytes, None);
    assert_eq!(c[0].orig_sent_payload, None);
}

#[test]
fn no_flag_records_are_attempts_with_unknown_outcome() {
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, true, None));
    t.observe(&ev(0.1, false, None));
    let c = all(&mut t);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, ConnState::AttemptUnknown);
    assert_eq!(c[0].state.as_str(), "attempt");
    assert_eq!(c[0].evidence, Evidence::NoFlags);
    assert_eq!(c[0].orig.ip(), client());
    assert_eq!((c[0].orig_pkts, c[0].resp_pkts), (1, 1));
}

#[test]
fn one_direction_with_flags() {
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, true, Some(S)));
    t.observe(&ev(0.1, true, Some(A)));
    t.observe(&ev(0.2, true, Some(A | TcpFlags::PSH)));
    let c = all(&mut t);
    assert_eq!(c[0].evidence, Evidence::FlagsOneDirection);
    assert_eq!(c[0].state, ConnState::S0);
}

#[test]
fn both_directions_handshake_and_close() {
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, true, Some(S)));
    t.observe(&ev(0.01, false, Some(S | A)));
    t.observe(&ev(0.02, true, Some(A)));
    t.observe(&ev(0.03, true, Some(F | A)));
    t.observe(&ev(0.04, false, Some(F | A)));
    t.observe(&ev(0.05, true, Some(A)));
    // The close linger (10 s) passes: the connection is reported before end of input.
    t.expire(20_000_000);
    let c = t.pop_finished().unwrap();
    assert_eq!(c.state, ConnState::SF);
    assert_eq!(c.end, EndReason::Closed);
    assert_eq!(c.evidence, Evidence::FlagsBothDirections);
    assert!(c.handshake_completed);
    assert_eq!(c.history.to_string(), "ShAFf");
    assert!(t.is_empty());
}

#[test]
fn rejected_attempt() {
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, true, Some(S)));
    t.observe(&ev(0.001, false, Some(R | A)));
    let c = all(&mut t);
    assert_eq!(c[0].state, ConnState::REJ);
    assert_eq!(c[0].history.to_string(), "Sr");
    assert!(!c[0].handshake_completed);
}

#[test]
fn half_open_times_out_after_syn_timeout() {
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, true, Some(S)));
    t.observe(&ev(1.0, true, Some(S)));
    t.expire(62_000_000);
    assert!(
        t.pop_finished().is_none(),
        "Linux keeps a half-open for ~63 s"
    );
    t.expire(64_000_000);
    let c = t.pop_finished().unwrap();
    assert_eq!(c.end, EndReason::Timeout);
    assert_eq!(c.state, ConnState::S0);
    assert_eq!(c.syn_count, 2);
    assert_eq!(t.stats().timed_out, 1);
}

#[test]
fn silent_client_is_not_half_open() {
    // Handshake completes, client sends nothing; Linux deferred accept re-sends the
    // SYN-ACK at ~31 s. That is an established, idle connection (S1), not S0.
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, true, Some(S)));
    t.observe(&ev(0.01, false, Some(S | A)));
    t.observe(&ev(0.02, true, Some(A)));
    t.observe(&ev(31.0, false, Some(S | A)));
    t.expire(100_000_000);
    assert!(t.pop_finished().is_none());
    let c = all(&mut t);
    assert_eq!(c[0].state, ConnState::S1);
    assert!(c[0].handshake_completed);
}

#[test]
fn port_reuse_starts_a_new_connection() {
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, true, Some(S)));
    t.observe(&ev(0.001, false, Some(R | A)));
    t.observe(&ev(2.0, true, Some(S)));
    let first = t.pop_finished().unwrap();
    assert_eq!(first.state, ConnState::REJ);
    assert_eq!(first.end, EndReason::Reset);
    let rest = all(&mut t);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].state, ConnState::S0);
    assert_eq!(t.stats().reused, 1);
}

#[test]
fn synack_first_is_flipped_by_server_port() {
    let mut t = FlowTable::new(Config::default());
    t.observe(&ev(0.0, false, Some(S | A)));
    let c = all(&mut t);
    assert_eq!(c[0].orig.ip(), client());
    assert_eq!(c[0].history.to_string(), "^h");
    assert_eq!(c[0].state, ConnState::OTH);
}

#[test]
fn ipv6_and_mixed_flows() {
    let mut t = FlowTable::new(Config::default());
    let a: IpAddr = "2001:db8::1".parse().unwrap();
    let b: IpAddr = "2001:db8::2".parse().unwrap();
    t.observe(&Event::new(0, a, 40000, b, 80).with_flags(S));
    t.observe(&Event::new(1, b, 80, a, 40000).with_flags(S | A));
    let c = all(&mut t);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, ConnState::S1);
    assert_eq!(c[0].orig.ip(), a);
}

#[test]
fn syn_flood_stays_under_the_cap() {
    // ~200k spoofed SYNs, cap 1000: the table never grows past the cap and every
    // created flow is accounted for.
    let cap = 1000;
    let mut t = FlowTable::new(Config {
        max_flows: cap,
        ..Config::default()
    });
    let dst = server();
    let mut reported = 0u64;
    let n = 200_000u32;
    for i in 0..n {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i));
        let e = Event::new(i64::from(i), src, 1024 + (i % 60000) as u16, dst, 80).with_flags(S);
        t.observe(&e);
        assert!(t.len() <= cap);
        while let Some(c) = t.pop_finished() {
            assert_eq!(c.end, EndReason::Evicted);
            assert_eq!(c.state, ConnState::S0);
            reported += 1;
        }
    }
    let s = *t.stats();
    assert_eq!(s.flows_created, u64::from(n));
    assert_eq!(s.evicted_half_open, u64::from(n) - cap as u64);
    assert_eq!(s.evicted_other, 0);
    assert_eq!(reported, s.evicted_half_open);
    assert_eq!(s.peak_flows, cap);
    assert_eq!(all(&mut t).len(), cap);
}

#[test]
fn established_flows_survive_a_flood() {
    let cap = 100;
    let mut t = FlowTable::new(Config {
        max_flows: cap,
        ..Config::default()
    });
    t.observe(&ev(0.0, true, Some(S)));
    t.observe(&ev(0.01, false, Some(S | A)));
    t.observe(&ev(0.02, true, Some(A)));
    for i in 0..10_000u32 {
        let src = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 | i));
        t.observe(&Event::new(30_000 + i64::from(i), src, 4000, server(), 80).with_flags(S));
    }
    assert_eq!(t.stats().evicted_other, 0);
    let rest = all(&mut t);
    assert!(
        rest.iter()
            .any(|c| c.orig.ip() == client() && c.state == ConnState::S1)
    );
}

#[test]
fn memory_per_flow_is_measured() {
    let n = 100_000u32;
    let mut t = FlowTable::new(Config::default());
    for i in 0..n {
        let src = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i));
        t.observe(&Event::new(0, src, 5555, server(), 80).with_flags(S));
    }
    let slot = FlowTable::ipv4_slot_bytes();
    let per_flow = t.memory_bytes() / n as usize;
    println!("ipv4 slot {slot} bytes, table memory / flows = {per_flow} bytes");
    assert!(slot <= 129, "slot grew to {slot}");
    assert!(per_flow <= 2 * slot + 32, "{per_flow}");
}

#[test]
fn retransmitted_syn_vs_new_isn() {
    let pkt = |ts: i64, seq: u32| {
        let mut e = Event::new(ts, client(), 51000, server(), 443).with_flags(S);
        e.seq = Some(seq);
        e.payload_len = Some(0);
        e
    };
    let mut t = FlowTable::new(Config::default());
    for (ts, seq) in [(0, 1000), (1_000_000, 1000), (3_000_000, 1000)] {
        t.observe(&pkt(ts, seq));
    }
    let c = all(&mut t);
    assert_eq!((c[0].syn_count, c[0].history.as_str()), (3, "S"));
    assert_eq!(c[0].evidence, Evidence::Packets);

    let mut t = FlowTable::new(Config::default());
    for (ts, seq) in [(0, 1000), (1_000_000, 777_777)] {
        t.observe(&pkt(ts, seq));
    }
    let c = all(&mut t);
    assert_eq!((c[0].syn_count, c[0].history.as_str()), (2, "SS"));
}

/// The originator's first segment after its SYN is compared with the SYN's TTL: a spoofed
/// address's owner resets the SYN-ACK from its own distance (the lab's reflection run: SYNs at
/// TTL 63, the owner's RSTs at 127); a client's ACK comes at its SYN's TTL; a SYN retransmission
/// is not that segment; and an input without TTLs says nothing.
#[test]
fn the_first_segment_after_the_syn_is_compared_with_its_ttl() {
    let with_ttl = |mut e: Event, ttl: u8| {
        e.ttl = Some(ttl);
        e
    };
    let run = |events: Vec<Event>| {
        let mut t = FlowTable::new(Config::default());
        for e in &events {
            t.observe(e);
        }
        t.finish();
        all(&mut t)
            .into_iter()
            .map(|c| c.orig_ttl_changed)
            .collect::<Vec<_>>()
    };
    let syn = || ev(0.0, true, Some(TcpFlags::SYN));
    let synack = || ev(0.001, false, Some(TcpFlags::SYN | TcpFlags::ACK));
    let rst = || ev(0.002, true, Some(TcpFlags::RST));
    let ack = || ev(0.002, true, Some(TcpFlags::ACK));
    assert_eq!(
        run(vec![with_ttl(syn(), 63), synack(), with_ttl(rst(), 127)]),
        [Some(true)]
    );
    assert_eq!(
        run(vec![with_ttl(syn(), 63), synack(), with_ttl(ack(), 63)]),
        [Some(false)]
    );
    // Only the first later segment counts: a later one at another TTL changes nothing.
    let late = with_ttl(ev(0.5, true, Some(TcpFlags::FIN | TcpFlags::ACK)), 60);
    assert_eq!(
        run(vec![
            with_ttl(syn(), 63),
            synack(),
            with_ttl(ack(), 63),
            late
        ]),
        [Some(false)]
    );
    // A retransmitted SYN at another TTL is not a later segment.
    let again = with_ttl(ev(1.0, true, Some(TcpFlags::SYN)), 50);
    assert_eq!(run(vec![with_ttl(syn(), 63), again]), [None]);
    // No TTL on the SYN (or on the reset): not compared.
    assert_eq!(run(vec![syn(), synack(), with_ttl(rst(), 127)]), [None]);
    assert_eq!(run(vec![with_ttl(syn(), 63), synack(), rst()]), [None]);
}
