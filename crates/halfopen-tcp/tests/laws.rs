//! Property tests: arbitrary inputs never panic, the table never exceeds its cap, every
//! connection ends in a valid state, and totals do not depend on event order.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use halfopen_tcp::{Config, Connection, Event, FlowTable, TcpFlags};
use proptest::prelude::*;

/// (host pair, direction, port, flags, seq, payload, packet-like)
type Raw = (u8, bool, u8, Option<u8>, u32, u16, bool);

fn arb_event() -> impl Strategy<Value = Raw> {
    (
        0u8..6,                            // which host pair
        any::<bool>(),                     // direction
        0u8..4,                            // port choice
        proptest::option::of(any::<u8>()), // flags
        any::<u32>(),                      // seq
        0u16..3000,                        // payload
        any::<bool>(),                     // packet-like (seq/len known)
    )
}

fn build(evs: &[Raw]) -> Vec<Event> {
    evs.iter()
        .enumerate()
        .map(|(i, &(pair, dir, port, flags, seq, len, pkt))| {
            let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, pair));
            let b = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1));
            let (pa, pb) = (40000 + u16::from(port), 80);
            let mut e = if dir {
                Event::new(i as i64 * 1000, a, pa, b, pb)
            } else {
                Event::new(i as i64 * 1000, b, pb, a, pa)
            };
            e.flags = flags.map(TcpFlags);
            if pkt {
                e.seq = Some(seq);
                e.ack = Some(seq.rotate_left(7));
                e.payload_len = Some(u32::from(len));
            }
            e
        })
        .collect()
}

fn run(evs: &[Event], cfg: Config) -> (Vec<Connection>, FlowTable) {
    let mut t = FlowTable::new(cfg);
    let mut out = Vec::new();
    for e in evs {
        t.observe(e);
        assert!(t.len() <= cfg.max_flows.max(1));
        out.extend(std::iter::from_fn(|| t.pop_finished()));
    }
    t.finish();
    out.extend(std::iter::from_fn(|| t.pop_finished()));
    (out, t)
}

const VALID: &[&str] = &[
    "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
    "attempt",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_sequence_ends_in_a_valid_state(evs in proptest::collection::vec(arb_event(), 0..60), cap in 1usize..8) {
        let evs = build(&evs);
        let cfg = Config { max_flows: cap, ..Config::default() };
        let (conns, t) = run(&evs, cfg);
        let total: u64 = conns.iter().map(|c| c.orig_pkts + c.resp_pkts).sum();
        prop_assert_eq!(total, evs.len() as u64);
        prop_assert_eq!(conns.len() as u64, t.stats().flows_created);
        prop_assert!(t.is_empty());
        for c in &conns {
            prop_assert!(VALID.contains(&c.state.as_str()), "{:?}", c.state);
            prop_assert!(c.start_us <= c.end_us);
            prop_assert!(c.history.as_bytes().iter().all(|b| b"^SHADFRGTWIQshadfrgtwiq".contains(b)));
            if c.handshake_completed {
                prop_assert!(c.syn_count >= 1);
            }
        }
    }

    #[test]
    fn totals_per_pair_do_not_depend_on_order(evs in proptest::collection::vec(arb_event(), 0..40), seed in any::<u64>()) {
        let evs = build(&evs);
        let mut shuffled = evs.clone();
        // Deterministic shuffle, then re-stamp times so both runs see increasing clocks.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for (i, e) in shuffled.iter_mut().enumerate() {
            e.ts_us = i as i64 * 1000;
        }
        let per_pair = |conns: &[Connection]| {
            let mut m: BTreeMap<(std::net::SocketAddr, std::net::SocketAddr), u64> = BTreeMap::new();
            for c in conns {
                let k = if c.orig < c.resp { (c.orig, c.resp) } else { (c.resp, c.orig) };
                *m.entry(k).or_default() += c.orig_pkts + c.resp_pkts;
            }
            m
        };
        let (a, _) = run(&evs, Config::default());
        let (b, _) = run(&shuffled, Config::default());
        prop_assert_eq!(per_pair(&a), per_pair(&b));
    }

    #[test]
    fn decode_never_panics(lt in prop::sample::select(vec![0, 1, 12, 14, 101, 108, 113, 117, 228, 229, 276, 999]), data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = halfopen_tcp::decode::decode(lt, &data, 0);
        let _ = halfopen_tcp::decode::decode_verified(lt, &data, 0);
        let _ = halfopen_tcp::pflog::parse(&data);
        let _ = halfopen_tcp::options::parse(&data);
    }

    #[test]
    fn packet_reader_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        // A valid pcap header followed by arbitrary bytes.
        let mut bytes = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        bytes.extend_from_slice(&data);
        if let Ok(r) = halfopen_tcp::pcap::PacketReader::new(std::io::Cursor::new(bytes)) {
            for _ in r.take(100) {}
        }
        if let Ok(r) = halfopen_tcp::pcap::PacketReader::new(std::io::Cursor::new(data)) {
            for _ in r.take(100) {}
        }
    }
}
