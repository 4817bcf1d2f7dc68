//! `PacketReader::next_with_payload` on every capture in tests/data: the same packets and
//! counters as the iterator, and payloads of exactly the captured length, whose bytes are
//! those tshark shows.

use std::path::Path;

use halfopen_tcp::pcap::PacketReader;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn captures(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            captures(&p, out);
        } else if p.extension().is_some_and(|x| x == "pcap" || x == "pcapng") {
            out.push(p);
        }
    }
}

#[test]
fn lending_reader_agrees_with_the_iterator() {
    let mut files = Vec::new();
    captures(Path::new(DATA), &mut files);
    assert!(files.len() >= 32);
    for f in files {
        let open = || PacketReader::new(std::fs::File::open(&f).unwrap()).unwrap();
        let mut it = open();
        let plain: Vec<_> = it.by_ref().map(|p| p.map_err(|e| e.to_string())).collect();
        let mut lend = open();
        let mut lent = Vec::new();
        let mut bytes = 0u64;
        while let Some(item) = lend.next_with_payload() {
            let item = item.map(|(p, payload)| {
                assert_eq!(
                    Some(payload.len() as u32),
                    p.event.payload_captured,
                    "{f:?}"
                );
                bytes += payload.len() as u64;
                p
            });
            lent.push(item.map_err(|e| e.to_string()));
        }
        assert_eq!(plain, lent, "{f:?}");
        assert_eq!(it.stats(), lend.stats(), "{f:?}");
        let declared: u64 = plain
            .iter()
            .filter_map(|p| p.as_ref().ok()?.event.payload_captured)
            .map(u64::from)
            .sum();
        assert_eq!(bytes, declared);
    }
}

#[test]
fn payload_bytes_are_the_segments_bytes() {
    // tshark -r ssl-to-http-server.pcap -Y tcp.len>0 -T fields -e tcp.payload: frame 3,
    // 119 bytes from 192.168.1.108:62561, starting 16 03 01 00 72 01 00 00 6e 03 01;
    // frame 8, 341 bytes from port 80, "HTTP/1.1 400 Bad Request\r\nServer: kittenx\r\n".
    let path = Path::new(DATA).join("zeek/Traces/tls/ssl-to-http-server.pcap");
    let mut r = PacketReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut seen = Vec::new();
    while let Some(item) = r.next_with_payload() {
        let (p, payload) = item.unwrap();
        if !payload.is_empty() {
            seen.push((p.event.src_port, payload.len(), payload[..11].to_vec()));
        }
    }
    assert_eq!(seen.len(), 2);
    assert_eq!((seen[0].0, seen[0].1), (62561, 119));
    assert_eq!(seen[0].2, [0x16, 3, 1, 0, 0x72, 1, 0, 0, 0x6e, 3, 1]);
    assert_eq!((seen[1].0, seen[1].1), (80, 341));
    assert_eq!(seen[1].2, b"HTTP/1.1 40");
}
