#![no_main]
//! The first-bytes classifier and its report text on arbitrary bytes: never panics, and
//! the text never carries a control character or a raw non-ASCII byte (everything from the
//! wire is escaped; `…` is the only non-ASCII character written).
use halfopen_tcp::prefix::{PrefixConfig, PrefixStore, classify, render};
use halfopen_tcp::{Event, TcpFlags};

fn clean(text: &str) {
    assert!(
        text.chars().all(|c| c == '…' || (' '..='~').contains(&c)),
        "unescaped character in {text:?}"
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = classify::client(data).name();
    let _ = classify::server(data);
    clean(&render::quote(data, 64).to_string());
    // The same bytes as a client's first segment and as a server's, through the store.
    let (c, s) = ("192.0.2.1".parse().unwrap(), "198.51.100.7".parse().unwrap());
    let mut store = PrefixStore::new(PrefixConfig::default());
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(split);
    for (i, (from_client, part)) in [(true, a), (true, b), (false, data)].into_iter().enumerate() {
        let mut e = if from_client {
            Event::new(i as i64 * 1_000_000, c, 40000, s, 80)
        } else {
            Event::new(0, s, 80, c, 40000)
        };
        e = e.with_flags(TcpFlags::ACK);
        e.seq = Some(if from_client && i == 1 { 1 + split as u32 } else { 1 });
        e.payload_len = Some(part.len() as u32);
        store.observe(&e, part);
    }
    if let Some(p) = store.take((c, 40000).into(), (s, 80).into()) {
        assert!(p.client.bytes().len() <= 4096);
        assert!(p.server.bytes().len() <= 256);
        clean(&render::client(&p.client, false).to_string());
        clean(&render::client(&p.client, true).to_string());
        clean(&render::server(&p.server).to_string());
    }
});
