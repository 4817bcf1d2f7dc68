//! Deterministic input for the `pcap` benchmarks: the ordinary connections of
//! [`crate::tcp::connections`] rendered as a classic pcap whose payloads look like HTTP
//! (a request head from the client, a status line, headers and a body from the server),
//! and the capture loop the facade runs over it.

use std::hint::black_box;

use halfopen_tcp::pcap::PacketReader;
use halfopen_tcp::prefix::{PrefixConfig, PrefixStore, classify};
use halfopen_tcp::{Event, FlowTable};

/// Events between two `FlowTable::expire` calls in the capture loop (as in the facade).
pub const EXPIRE_EVERY: u64 = 1024;

/// An HTTP/1.1 request head of exactly `len` bytes when `len` is at least the head
/// without padding (a `X-Pad` header fills the rest), else that head's first `len` bytes.
fn request(len: usize, n: u32) -> Vec<u8> {
    let head = format!(
        "GET /item?id={n} HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\nX-Pad: "
    );
    let mut out = head.into_bytes();
    let fill = len.saturating_sub(out.len() + 4);
    out.resize(out.len() + fill, b'a');
    out.extend_from_slice(b"\r\n\r\n");
    out.truncate(len);
    out
}

/// A response of `len` bytes: status line, two headers, then body bytes.
fn response(len: usize) -> Vec<u8> {
    let mut out =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 0000\r\n\r\n".to_vec();
    out.resize(len.max(out.len()), b'<');
    out.truncate(len);
    out
}

/// Renders events as a classic little-endian pcap (LINKTYPE_RAW, IPv4 only, zero
/// checksums) like [`crate::tcp::render_pcap`], with HTTP-looking payloads: a segment to
/// port 443 carries a request head, one from port 443 a response.
pub fn render_pcap_http(events: &[Event]) -> Vec<u8> {
    let mut n = 0u32;
    crate::tcp::render_pcap_with(events, 300, |e, payload| {
        let len = e.payload_len.unwrap_or(0) as usize;
        if len == 0 {
            return;
        }
        if e.dst_port == 443 {
            n = n.wrapping_add(1);
            payload.extend_from_slice(&request(len, n));
        } else {
            payload.extend_from_slice(&response(len));
        }
    })
}

/// The facade's capture loop without the payload: every packet into the flow table,
/// `expire` every [`EXPIRE_EVERY`] packets, finished connections taken as they end.
/// Returns the number of connections.
pub fn capture_to_table(pcap: &'static [u8]) -> u64 {
    let reader = PacketReader::new(std::io::Cursor::new(pcap)).expect("a pcap");
    let mut table = FlowTable::new(halfopen_tcp::Config::default());
    let mut events = 0u64;
    let mut conns = 0u64;
    for p in reader {
        let Ok(p) = p else { break };
        table.observe(&p.event);
        events += 1;
        if events.is_multiple_of(EXPIRE_EVERY) {
            table.expire(p.event.ts_us);
        }
        while let Some(c) = table.pop_finished() {
            black_box(&c);
            conns += 1;
        }
    }
    table.finish();
    while let Some(c) = table.pop_finished() {
        black_box(&c);
        conns += 1;
    }
    conns
}

/// What the payload-aware capture loop does with the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefixes {
    /// Read with `next_with_payload`, no store (the cost of the lending API alone).
    Off,
    /// Feed a [`PrefixStore`] and take each finished connection's entry.
    Store,
    /// The same, and classify each entry's client bytes and server line.
    Classify,
}

/// The facade's capture loop with payloads: as [`capture_to_table`], reading with
/// `PacketReader::next_with_payload`, and per `mode` feeding a default [`PrefixStore`]
/// (after the table, as the facade does) and taking what ended. Returns the number of
/// connections and of entries taken.
pub fn capture_with_prefixes(pcap: &'static [u8], mode: Prefixes) -> (u64, u64) {
    let mut reader = PacketReader::new(std::io::Cursor::new(pcap)).expect("a pcap");
    let mut table = FlowTable::new(halfopen_tcp::Config::default());
    let mut store = PrefixStore::new(PrefixConfig::default());
    let mut events = 0u64;
    let (mut conns, mut taken) = (0u64, 0u64);
    let mut drain = |table: &mut FlowTable, store: &mut PrefixStore| {
        while let Some(c) = table.pop_finished() {
            conns += 1;
            if mode == Prefixes::Off {
                black_box(&c);
                continue;
            }
            if let Some(p) = store.take(c.orig, c.resp) {
                taken += 1;
                if mode == Prefixes::Classify {
                    black_box(classify::client(p.client.bytes()));
                    black_box(classify::server(p.server.bytes()));
                }
            }
        }
    };
    while let Some(item) = reader.next_with_payload() {
        let Ok((p, payload)) = item else { break };
        table.observe(&p.event);
        events += 1;
        if events.is_multiple_of(EXPIRE_EVERY) {
            table.expire(p.event.ts_us);
        }
        drain(&mut table, &mut store);
        if mode != Prefixes::Off {
            store.observe(&p.event, payload);
        }
    }
    table.finish();
    drain(&mut table, &mut store);
    (conns, taken)
}

/// A store fed every packet of `pcap` with no limit and nothing taken: its memory and
/// entry count (memory per connection that carried payload).
pub fn prefix_memory(pcap: &'static [u8]) -> (usize, usize) {
    let mut reader = PacketReader::new(std::io::Cursor::new(pcap)).expect("a pcap");
    let mut store = PrefixStore::new(PrefixConfig {
        max_bytes: usize::MAX,
        max_entries: usize::MAX,
        ..PrefixConfig::default()
    });
    while let Some(item) = reader.next_with_payload() {
        let Ok((p, payload)) = item else { break };
        store.observe(&p.event, payload);
    }
    (store.memory_bytes(), store.len())
}
