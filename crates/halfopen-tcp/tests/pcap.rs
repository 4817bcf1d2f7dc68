//! Every frame of every capture in tests/data/zeek is either decoded to a TCP segment or
//! skipped for a specific, counted reason; damaged inputs give typed errors.

use std::path::Path;

use halfopen_tcp::Error;
use halfopen_tcp::pcap::{PacketReader, ReaderStats};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/zeek/Traces");

fn stats(trace: &str) -> ReaderStats {
    let f = std::fs::File::open(Path::new(DATA).join(trace)).unwrap();
    let mut r = PacketReader::new(f).unwrap();
    for p in r.by_ref() {
        let p = p.unwrap_or_else(|e| panic!("{trace}: {e}"));
        assert!(p.pflog.is_none());
    }
    *r.stats()
}

/// (trace, frames, tcp, not_tcp, other skips)
const EXPECTED: &[(&str, u64, u64, u64, u64)] = &[
    ("auth_change_session_keys.pcap", 8, 8, 0, 0),
    ("cisco-fabric-path.pcap", 130, 32, 98, 0),
    ("ftp/ftp-auth-tls.pcap", 84, 84, 0, 0),
    ("http/http-to-ssh.pcap", 13, 13, 0, 0),
    ("ldap/simpleauth.pcap", 12, 12, 0, 0),
    ("mixed-vlan-mpls.pcap", 47, 47, 0, 0),
    ("modbus/modbus-and-non-modbus-p502.pcap", 86, 86, 0, 0),
    ("modbus/modbus-eit.pcap", 4, 4, 0, 0),
    ("pop3/pop3.pcap", 125, 125, 0, 0),
    ("ssh/ssh.client-side-half-duplex.pcap", 838, 838, 0, 0),
    ("ssh/ssh.server-side-half-duplex.pcap", 832, 832, 0, 0),
    ("tcp/ctu-64702-888.pcap", 16, 16, 0, 0),
    ("tcp/handshake-reorder.pcap", 14, 14, 0, 0),
    ("tcp/miss_end_data.pcap", 9, 9, 0, 0),
    ("tcp/missing-syn.pcap", 21, 21, 0, 0),
    ("tcp/no-handshake.pcap", 1, 1, 0, 0),
    ("tcp/one-sided-2745.pcap", 6, 6, 0, 0),
    ("tcp/retransmit-fast009.pcap", 39, 39, 0, 0),
    ("tcp/retransmit-timeout.pcapng", 3, 3, 0, 0),
    ("tcp/rst-inject-rae.pcap", 9, 9, 0, 0),
    ("tcp/single-rst.pcap", 1, 1, 0, 0),
    ("tcp/syn-bad.pcap", 1, 1, 0, 0),
    ("tcp/syn-synack.pcap", 2, 2, 0, 0),
    ("tcp/syn-then-ack-then-rst.pcap", 3, 3, 0, 0),
    ("tcp/syn-then-rst.pcap", 2, 2, 0, 0),
    ("tcp/syn-then-stuff-then-rst.pcap", 4, 4, 0, 0),
    ("tcp/syn.pcap", 1, 1, 0, 0),
    ("tls/https-to-http.pcap", 9, 9, 0, 0),
    ("tunnels/Teredo.pcap", 78, 55, 23, 0),
    ("wikipedia.pcap", 136, 78, 58, 0),
];

#[test]
fn every_frame_is_accounted_for() {
    let mut seen = Vec::new();
    for &(trace, frames, tcp, not_tcp, other) in EXPECTED {
        let s = stats(trace);
        let o = s.fragments + s.truncated + s.malformed + s.unsupported + s.bad_checksum;
        assert_eq!(s.frames, s.tcp + s.not_tcp + o, "{trace}");
        seen.push((trace, s.frames, s.tcp, s.not_tcp, o));
        assert_eq!(
            (s.frames, s.tcp, s.not_tcp, o),
            (frames, tcp, not_tcp, other),
            "{trace}: {s:?}"
        );
    }
    assert_eq!(seen.len(), 30);
}

#[test]
fn not_a_capture_is_a_typed_error() {
    let r = PacketReader::new(std::io::Cursor::new(
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ));
    assert!(matches!(r, Err(Error::NotACapture { offset: 0, .. })));
    let r = PacketReader::new(std::io::Cursor::new(Vec::new()));
    assert!(matches!(r, Err(Error::NotACapture { .. })));
}

#[test]
fn truncated_capture_is_a_typed_error() {
    let bytes = std::fs::read(Path::new(DATA).join("tcp/syn-synack.pcap")).unwrap();
    let cut = bytes[..bytes.len() - 10].to_vec();
    let r = PacketReader::new(std::io::Cursor::new(cut)).unwrap();
    let items: Vec<_> = r.collect();
    assert_eq!(items.len(), 2, "{items:?}");
    assert!(items[0].is_ok());
    assert!(
        matches!(items[1], Err(Error::Truncated { .. })),
        "{items:?}"
    );
}

#[test]
fn checksum_verification_flags_bad_segments() {
    // syn-bad.pcap: a SYN whose TCP checksum is corrupted (the IPv4 header is fine).
    let f = std::fs::File::open(Path::new(DATA).join("tcp/syn-bad.pcap")).unwrap();
    let mut r = PacketReader::new(f).unwrap().verify_checksums(true);
    let p = r.next().unwrap().unwrap();
    assert_eq!(p.event.tcp_checksum_ok, Some(false));
    assert!(r.next().is_none());
    assert_eq!((r.stats().bad_tcp_checksum, r.stats().bad_checksum), (1, 0));
    let f = std::fs::File::open(Path::new(DATA).join("tcp/syn.pcap")).unwrap();
    let mut r = PacketReader::new(f).unwrap().verify_checksums(true);
    assert_eq!(r.next().unwrap().unwrap().event.tcp_checksum_ok, Some(true));
    // auth_change_session_keys.pcap: every responder packet has a bad IPv4 header checksum.
    let f = std::fs::File::open(Path::new(DATA).join("auth_change_session_keys.pcap")).unwrap();
    let mut r = PacketReader::new(f).unwrap().verify_checksums(true);
    let n = r.by_ref().count() as u64;
    assert_eq!(n, r.stats().tcp);
    assert!(r.stats().bad_checksum > 0, "{:?}", r.stats());
    // Without verification nothing is judged.
    let f = std::fs::File::open(Path::new(DATA).join("tcp/syn-bad.pcap")).unwrap();
    let mut r = PacketReader::new(f).unwrap();
    assert_eq!(r.next().unwrap().unwrap().event.tcp_checksum_ok, None);
}

/// A reader that hands over at most `chunk` bytes per call, as a pipe does when the writer
/// is slower than the reader.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
}

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Regression: a capture read from a pipe stopped with "capture truncated" whenever two
/// reads in a row still ended inside one block (found at 2 GB through `--pcap -`). Every
/// packet arrives however the bytes are cut.
#[test]
fn a_capture_read_in_small_pieces_gives_every_packet() {
    for trace in ["wikipedia.pcap", "tcp/retransmit-timeout.pcapng"] {
        let data = std::fs::read(Path::new(DATA).join(trace)).unwrap();
        let whole = stats(trace);
        for chunk in [1, 3, 7, 100] {
            let src = Trickle {
                data: data.clone(),
                at: 0,
                chunk,
            };
            let mut r = PacketReader::new(src).unwrap();
            let mut packets = 0;
            for p in r.by_ref() {
                p.unwrap_or_else(|e| panic!("{trace} in pieces of {chunk}: {e}"));
                packets += 1;
            }
            assert_eq!(packets, whole.tcp, "{trace} in pieces of {chunk}");
        }
    }
}
