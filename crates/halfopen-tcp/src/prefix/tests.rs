//! The store: keys, direction, port reuse, bounds.

use super::*;
use crate::TcpFlags;

const S: TcpFlags = TcpFlags::SYN;
const A: TcpFlags = TcpFlags::ACK;

fn client() -> SocketAddr {
    "203.0.113.9:51000".parse().unwrap()
}
fn server() -> SocketAddr {
    "192.0.2.10:80".parse().unwrap()
}

fn seg(ts: i64, from_client: bool, flags: TcpFlags, seq: u32, data: &[u8]) -> Event {
    let (a, b) = if from_client {
        (client(), server())
    } else {
        (server(), client())
    };
    let mut e = Event::new(ts, a.ip(), a.port(), b.ip(), b.port()).with_flags(flags);
    e.seq = Some(seq);
    e.payload_len = Some(data.len() as u32);
    e
}

fn feed(st: &mut PrefixStore, e: &Event, data: &[u8]) {
    st.observe(e, data);
}

#[test]
fn handshake_then_data_both_ways() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    feed(&mut st, &seg(0, true, S, 100, b""), b"");
    feed(&mut st, &seg(1, false, S | A, 900, b""), b"");
    feed(&mut st, &seg(2, true, A, 101, b""), b"");
    assert!(st.is_empty(), "no entry before payload");
    feed(
        &mut st,
        &seg(3, false, A, 901, b"220 hi\r\nmore"),
        b"220 hi\r\nmore",
    );
    feed(&mut st, &seg(4, true, A, 101, b"EHLO x\r\n"), b"EHLO x\r\n");
    assert_eq!(st.len(), 1);
    let p = st.take(server(), client()).map(|p| (p.orig, p.swapped));
    assert_eq!(p, Some((server(), true)), "the caller's orientation wins");
    assert!(st.is_empty());
    assert_eq!(st.stats().taken, 1);
}

#[test]
fn sides_follow_the_syn_not_the_ports() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    // the server on port 80 opens a connection to port 51000
    let mut syn = seg(0, false, S, 5, b"");
    syn.payload_len = Some(0);
    feed(&mut st, &syn, b"");
    feed(&mut st, &seg(1, false, A, 6, b"hello"), b"hello");
    let p = st.take(server(), client()).unwrap();
    assert!(!p.swapped);
    assert_eq!(p.client.bytes(), b"hello");
    assert!(!p.client.midstream());
    assert_eq!(st.stats().guessed_direction, 0);
}

#[test]
fn without_a_syn_the_server_port_decides_and_bytes_are_midstream() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    feed(
        &mut st,
        &seg(0, false, A, 77, b"HTTP/1.1 200 OK\r\n"),
        b"HTTP/1.1 200 OK\r\n",
    );
    feed(
        &mut st,
        &seg(1, true, A, 5, b"GET / HTTP/1.1\r\n"),
        b"GET / HTTP/1.1\r\n",
    );
    let p = st.take(client(), server()).unwrap();
    assert!(!p.swapped);
    assert_eq!(p.client.bytes(), b"GET / HTTP/1.1\r\n");
    assert_eq!(p.server.first_line(), b"HTTP/1.1 200 OK");
    assert!(p.client.midstream() && p.server.midstream());
    assert_eq!(st.stats().guessed_direction, 1);
}

#[test]
fn syn_with_data_starts_after_the_syn() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    feed(&mut st, &seg(0, true, S, 10, b"GET"), b"GET");
    feed(&mut st, &seg(1, true, A, 14, b" /"), b" /");
    let p = st.take(client(), server()).unwrap();
    assert_eq!(p.client.bytes(), b"GET /");
}

#[test]
fn a_new_isn_on_the_tuple_starts_a_new_entry() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    feed(&mut st, &seg(0, true, S, 10, b""), b"");
    feed(&mut st, &seg(1, true, A, 11, b"old"), b"old");
    feed(&mut st, &seg(2, true, S, 10, b""), b""); // a retransmitted SYN: same ISN
    assert_eq!(st.len(), 1);
    feed(&mut st, &seg(3, true, S, 5000, b""), b"");
    assert_eq!((st.len(), st.stats().replaced), (0, 1));
    feed(&mut st, &seg(4, true, A, 5001, b"new"), b"new");
    assert_eq!(st.take(client(), server()).unwrap().client.bytes(), b"new");
}

#[test]
fn ipv6_and_events_without_sequence_numbers() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    let (c, s): (SocketAddr, SocketAddr) = (
        "[2001:db8::1]:40000".parse().unwrap(),
        "[2001:db8::2]:443".parse().unwrap(),
    );
    let mut e = Event::new(0, c.ip(), c.port(), s.ip(), s.port()).with_flags(A);
    e.payload_len = Some(3);
    st.observe(&e, b"abc"); // no seq (a log line): ignored
    assert!(st.is_empty());
    e.seq = Some(1);
    st.observe(&e, b"abc");
    assert_eq!(st.take(s, c).unwrap().server.bytes(), b"abc");
}

#[test]
fn memory_is_bounded_by_the_budget_and_the_entry_cap() {
    let cfg = PrefixConfig {
        max_bytes: 64 << 10,
        max_entries: 1000,
        syn_memo_slots: 0,
        ..PrefixConfig::default()
    };
    let mut st = PrefixStore::new(cfg);
    let data = vec![b'a'; 1400];
    for i in 0..5000u32 {
        let ip = IpAddr::from([10, 0, (i >> 8) as u8, i as u8]);
        let mut e = Event::new(i64::from(i), ip, 40000, server().ip(), 80).with_flags(A);
        for k in 0..4u32 {
            e.seq = Some(1 + k * 1400);
            e.payload_len = Some(1400);
            st.observe(&e, &data);
        }
        assert!(st.accounted() <= cfg.max_bytes);
    }
    let s = *st.stats();
    assert_eq!(s.entries, 5000);
    assert_eq!(
        s.entries,
        s.evicted_for_bytes + s.evicted_for_entries + st.len() as u64
    );
    assert!(s.peak_bytes <= cfg.max_bytes);
    // the newest entries are the ones kept
    let last = IpAddr::from([10, 0, (4999u32 >> 8) as u8, 4999u32 as u8]);
    let p = st.take((last, 40000).into(), server()).unwrap();
    assert_eq!(p.client.bytes().len(), 4096);
    assert!(st.memory_bytes() < 2 * cfg.max_bytes);
}

#[test]
fn the_eviction_queue_is_compacted() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    for i in 0..10_000u32 {
        let ip = IpAddr::from([10, 1, (i >> 8) as u8, i as u8]);
        let mut e = Event::new(0, ip, 40000, server().ip(), 80).with_flags(A);
        e.seq = Some(1);
        e.payload_len = Some(1);
        st.observe(&e, b"x");
        assert!(st.take((ip, 40000).into(), server()).is_some());
    }
    assert!(st.queue.len() <= 1024 + 2);
    assert_eq!(st.heap, 0);
}

#[test]
fn entry_sizes() {
    // An entry is boxed behind a 16-byte table slot; these sizes are in docs/performance.md.
    const {
        assert!(size_of::<Slot>() == 16);
        assert!(size_of::<Entry>() <= 320);
        assert!(ENTRY_BYTES <= 360);
    }
}

/// The StopDDoS DOMINATE capture: a SYN, then an RST from the same side whose 33 bytes are a
/// diagnostic text. Data on an RST is never delivered: no first bytes for the connection,
/// however the SYN memo's slots fell (they follow the random hash seeds; the text had been
/// read as the client's bytes, or as mid-stream bytes, from run to run).
#[test]
fn data_on_an_rst_is_not_the_clients_bytes() {
    let mut st = PrefixStore::new(PrefixConfig::default());
    feed(&mut st, &seg(0, true, S, 1_376_321_536, b""), b"");
    let text = b"(Ref.Id: ?sfu6usWzWq41jjge4zkQ8?";
    feed(
        &mut st,
        &seg(1, true, TcpFlags::RST, 1_376_321_537, text),
        text,
    );
    assert!(st.is_empty());
    assert!(st.take(client(), server()).is_none());
}
