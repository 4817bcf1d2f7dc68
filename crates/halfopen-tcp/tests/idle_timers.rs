//! Established flows keep no timer entry while their idle timeout is far away ("parked");
//! these tests check that timeouts stay exact, that eviction still takes the flow with the
//! nearest deadline, and the memory this saves.
#![allow(clippy::print_stdout)]

use std::net::{IpAddr, Ipv4Addr};

use halfopen_tcp::{Config, Connection, EndReason, Event, FlowTable, TcpFlags};
use proptest::prelude::*;

const S: TcpFlags = TcpFlags::SYN;
const A: TcpFlags = TcpFlags::ACK;
const F: TcpFlags = TcpFlags::FIN;

fn server() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))
}

fn client(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | i))
}

fn seg(ts: i64, i: u32, from_client: bool, flags: TcpFlags) -> Event {
    if from_client {
        Event::new(ts, client(i), 40000, server(), 443).with_flags(flags)
    } else {
        Event::new(ts, server(), 443, client(i), 40000).with_flags(flags)
    }
}

/// SYN, SYN-ACK, ACK of client `i` at `ts`.
fn open(t: &mut FlowTable, ts: i64, i: u32) {
    t.observe(&seg(ts, i, true, S));
    t.observe(&seg(ts, i, false, S | A));
    t.observe(&seg(ts, i, true, A));
}

fn popped(t: &mut FlowTable) -> Vec<Connection> {
    std::iter::from_fn(|| t.pop_finished()).collect()
}

#[test]
fn an_idle_established_flow_times_out_exactly() {
    let cfg = Config::default();
    let idle = cfg.established_idle_timeout_us;
    let mut t = FlowTable::new(cfg);
    open(&mut t, 0, 1);
    // Past the handshake timers: the flow is parked.
    t.expire(64_000_000);
    t.observe(&seg(100_000_000, 1, true, A));
    t.expire(100_000_000 + idle - 1);
    assert!(popped(&mut t).is_empty());
    assert_eq!(t.len(), 1);
    t.expire(100_000_000 + idle);
    let c = popped(&mut t);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].end, c[0].end_us), (EndReason::Timeout, 100_000_000));
    assert!(c[0].handshake_completed);
}

#[test]
fn a_segment_after_the_idle_timeout_starts_a_new_connection() {
    let cfg = Config {
        established_idle_timeout_us: 1_000_000,
        ..Config::default()
    };
    let mut t = FlowTable::new(cfg);
    open(&mut t, 0, 1);
    t.observe(&seg(500_000, 1, true, A));
    // The next segment comes exactly at the deadline: the old connection ends first.
    t.observe(&seg(1_500_000, 1, true, A));
    let c = popped(&mut t);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].end, c[0].end_us), (EndReason::Timeout, 500_000));
    assert_eq!(t.len(), 1);
}

#[test]
fn parked_flows_cost_no_timer_memory() {
    let n = 100_000u32;
    let mut t = FlowTable::new(Config::default());
    for i in 0..n {
        open(&mut t, i64::from(i), i);
    }
    let fresh = t.memory_bytes() / n as usize;
    t.expire(64_000_000);
    let later = t.memory_bytes() / n as usize;
    println!(
        "established flows: {fresh} B each just after the handshake, {later} B a minute later"
    );
    assert_eq!(t.len(), n as usize);
    assert!(fresh <= 128, "{fresh} bytes per established flow");
    assert!(later <= 128, "{later} bytes per established flow");
}

#[test]
fn eviction_takes_the_established_flow_idle_longest() {
    let cfg = Config {
        max_flows: 1000,
        ..Config::default()
    };
    let mut t = FlowTable::new(cfg);
    for i in 0..1000u32 {
        open(&mut t, 1_000 * i64::from(i), i);
    }
    t.expire(64_000_000);
    assert!(popped(&mut t).is_empty());
    // Touch every flow but client 7 and client 300, in that order.
    for i in (0..1000u32).filter(|&i| i != 7 && i != 300) {
        t.observe(&seg(70_000_000 + i64::from(i), i, true, A));
    }
    open(&mut t, 80_000_000, 5000);
    open(&mut t, 80_000_001, 5001);
    let c = popped(&mut t);
    let ended: Vec<IpAddr> = c.iter().map(|c| c.orig.ip()).collect();
    assert_eq!(ended, vec![client(7), client(300)]);
    assert!(c.iter().all(|c| c.end == EndReason::Evicted));
    assert_eq!(t.stats().evicted_other, 2);
    assert_eq!(t.len(), 1000);
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Open(u32),
    Data(u32),
    Close(u32),
    Wait,
}

fn arb_op() -> impl Strategy<Value = (Op, i64)> {
    (
        prop_oneof![
            (0u32..12).prop_map(Op::Open),
            (0u32..12).prop_map(Op::Data),
            (0u32..12).prop_map(Op::Close),
            Just(Op::Wait),
        ],
        prop_oneof![0i64..5, 0i64..400, Just(250), Just(1000)],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the mix of opens, data, closes and waits: an idle connection is reported
    /// in the first `expire` at or after its idle deadline, a closed one at or after its
    /// linger, never earlier and never later; the cap holds.
    #[test]
    fn timeouts_are_exact(ops in proptest::collection::vec(arb_op(), 1..120), cap in 4usize..40) {
        let cfg = Config {
            max_flows: cap,
            syn_timeout_us: 500,
            established_idle_timeout_us: 1000,
            closed_linger_us: 100,
            ..Config::default()
        };
        let mut t = FlowTable::new(cfg);
        let (mut ts, mut prev) = (0i64, i64::MIN);
        for (op, dt) in ops {
            ts += dt;
            let reused_before = t.stats().reused;
            match op {
                Op::Open(i) => open(&mut t, ts, i),
                Op::Data(i) => t.observe(&seg(ts, i, true, A | TcpFlags::PSH)),
                Op::Close(i) => {
                    t.observe(&seg(ts, i, true, F | A));
                    t.observe(&seg(ts, i, false, F | A));
                }
                Op::Wait => {}
            }
            t.expire(ts);
            // A SYN on the 4-tuple of a closed connection ends it at once (port reuse).
            let reused = t.stats().reused > reused_before;
            for c in popped(&mut t) {
                let wait = match c.end {
                    EndReason::Timeout if c.handshake_completed && !c.history.as_str().contains(['F', 'f', 'R', 'r']) => cfg.established_idle_timeout_us,
                    EndReason::Closed => cfg.closed_linger_us,
                    _ => continue,
                };
                let due = c.end_us + wait;
                prop_assert!(due <= ts || (reused && c.end == EndReason::Closed), "{c:?} reported at {ts}, due {due}");
                prop_assert!(due > prev, "{c:?} reported late at {ts}, due {due}, previous expire {prev}");
            }
            prop_assert!(t.len() <= cap);
            prev = ts;
        }
        // Nothing still tracked at the end was already due.
        t.finish();
        for c in popped(&mut t) {
            prop_assert_eq!(c.end, EndReason::EndOfInput);
            let closed = c.history.as_str().contains(['F', 'f', 'R', 'r']);
            if c.handshake_completed && !closed {
                prop_assert!(c.end_us + cfg.established_idle_timeout_us > prev, "{:?} overdue at {}", c, prev);
            }
        }
    }
}
