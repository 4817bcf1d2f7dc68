#![no_main]
//! Reassembly of a client's first bytes from arbitrary segment sequences (4 bytes each:
//! offset, length, flags): never panics; the prefix is never longer than the cap; with
//! segments that carry the true stream (in any order, duplicated, overlapping) it is
//! exactly the stream up to the first byte no segment covered (or the cap), and `gap`
//! says whether anything was seen past that hole; with forged overlaps (other bytes at
//! covered offsets) the first copy of every byte still wins.
use halfopen_tcp::prefix::{PrefixConfig, PrefixStore};
use halfopen_tcp::{Event, TcpFlags};

const STREAM: usize = 2048;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&[cap_hi, cap_lo, isn_seed], segs)) = data.split_first_chunk::<3>() else {
        return;
    };
    let cap = usize::from(u16::from_be_bytes([cap_hi, cap_lo]) % 1500) + 1;
    let isn = u32::from(isn_seed).wrapping_mul(0x0101_0101).wrapping_sub(700);
    let stream: Vec<u8> = (0..STREAM).map(|i| (i * 31 % 251) as u8).collect();
    let (c, s) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
    let mut store = PrefixStore::new(PrefixConfig {
        client_bytes: cap,
        ..PrefixConfig::default()
    });
    let mut syn = Event::new(0, c, 40000, s, 80).with_flags(TcpFlags::SYN);
    syn.seq = Some(isn);
    syn.payload_len = Some(0);
    store.observe(&syn, &[]);
    // covered[i]: some true segment carried byte i; first[i]: the first byte placed at i.
    let mut covered = vec![false; STREAM];
    let mut first: Vec<Option<u8>> = vec![None; STREAM];
    let mut reach = 0usize;
    for (t, seg) in segs.chunks_exact(4).enumerate() {
        let off = usize::from(u16::from_be_bytes([seg[0], seg[1]])) % STREAM;
        let len = (usize::from(seg[2]) * 4).min(STREAM - off);
        let forged = seg[3] & 1 == 1;
        let cut = if seg[3] & 2 == 2 { len / 2 } else { len };
        let bytes: Vec<u8> = if forged {
            stream[off..off + cut].iter().map(|b| b ^ 0x5a).collect()
        } else {
            stream[off..off + cut].to_vec()
        };
        let mut e = Event::new(t as i64, c, 40000, s, 80).with_flags(TcpFlags::ACK);
        e.seq = Some(isn.wrapping_add(1).wrapping_add(off as u32));
        e.payload_len = Some(len as u32);
        store.observe(&e, &bytes);
        for i in off..off + cut {
            if first[i].is_none() && i < cap {
                first[i] = Some(bytes[i - off]);
            }
            covered[i] = true;
        }
        if len > 0 {
            reach = reach.max(off + len);
        }
    }
    let Some(p) = store.take((c, 40000).into(), (s, 80).into()) else {
        assert!(reach == 0);
        return;
    };
    let got = p.client.bytes();
    assert!(got.len() <= cap);
    let hole = covered.iter().position(|&x| !x).unwrap_or(STREAM);
    assert_eq!(got.len(), hole.min(cap));
    for (i, b) in got.iter().enumerate() {
        assert_eq!(Some(*b), first[i], "byte {i}");
    }
    assert_eq!(p.client.gap(), hole < cap && reach > hole);
    assert!(!p.client.midstream());
});
