//! LineReader: line splitting, offsets, the length cap, gzip (multi-member), I/O errors.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::write::GzEncoder;
use halfopen_fwlog::Error;
use halfopen_fwlog::reader::{DEFAULT_MAX_LINE_LEN, LineReader};

/// (number, offset, bytes) of each line, or the error.
type Got = Result<(u64, u64, Vec<u8>), Error>;

fn collect(mut r: LineReader) -> Vec<Got> {
    let mut out = Vec::new();
    while let Some(l) = r.next_line() {
        out.push(l.map(|l| (l.number, l.offset, l.bytes.to_vec())));
    }
    out
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const NETFILTER: &[u8] = include_bytes!("data/netfilter/psad-test-scans-syn_scan_1000_1500.log");

#[test]
fn plain_lines_offsets_and_crlf() {
    let data: &[u8] = b"a\r\n\nbb\nccc";
    let got = collect(LineReader::from_reader(Box::new(data), "mem"));
    assert_eq!(
        got,
        vec![
            Ok((1, 0, b"a".to_vec())),
            Ok((2, 3, b"".to_vec())),
            Ok((3, 4, b"bb".to_vec())),
            Ok((4, 7, b"ccc".to_vec())),
        ]
    );
}

#[test]
fn corpus_file_round_trips_through_the_reader() {
    let got = collect(LineReader::from_reader(Box::new(NETFILTER), "syn_scan"));
    let want: Vec<_> = NETFILTER
        .strip_suffix(b"\n")
        .unwrap_or(NETFILTER)
        .split(|c| *c == b'\n')
        .collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        let (_, off, bytes) = g.as_ref().unwrap();
        assert_eq!(bytes, w);
        let off = usize::try_from(*off).unwrap();
        assert_eq!(&NETFILTER[off..off + w.len()], *w);
    }
}

#[test]
fn gzip_with_two_members() {
    let mut data = gz(b"one\ntwo\n");
    data.extend(gz(b"three\nfour"));
    let got = collect(LineReader::from_reader(
        Box::new(std::io::Cursor::new(data)),
        "x.gz",
    ));
    let lines: Vec<_> = got.into_iter().map(|l| l.unwrap()).collect();
    assert_eq!(
        lines,
        vec![
            (1, 0, b"one".to_vec()),
            (2, 4, b"two".to_vec()),
            (3, 8, b"three".to_vec()),
            (4, 14, b"four".to_vec()),
        ]
    );
}

#[test]
fn gzip_corpus_file_from_disk() {
    let dir = std::env::temp_dir().join(format!("halfopen-fwlog-reader-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kern.log.1.gz");
    std::fs::write(&path, gz(NETFILTER)).unwrap();
    let got = collect(LineReader::open(&path).unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(Result::is_ok));
}

#[test]
fn too_long_line_is_reported_once_and_skipped() {
    let mut data = b"short\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 300_000));
    data.extend(b"\nafter\n");
    data.extend(std::iter::repeat_n(b'y', 20));
    let r =
        LineReader::from_reader(Box::new(std::io::Cursor::new(data)), "long").with_max_line_len(10);
    let got = collect(r);
    assert_eq!(got[0], Ok((1, 0, b"short".to_vec())));
    assert_eq!(
        got[1],
        Err(Error::LineTooLong {
            line: 2,
            len: 300_000,
            limit: 10
        })
    );
    assert_eq!(got[2], Ok((3, 300_007, b"after".to_vec())));
    // Over-long last line without a newline.
    assert_eq!(
        got[3],
        Err(Error::LineTooLong {
            line: 4,
            len: 20,
            limit: 10
        })
    );
    assert_eq!(got.len(), 4);
}

#[test]
fn default_cap_allows_64k() {
    let mut data = vec![b'z'; DEFAULT_MAX_LINE_LEN];
    data.push(b'\n');
    let got = collect(LineReader::from_reader(
        Box::new(std::io::Cursor::new(data)),
        "cap",
    ));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_ref().unwrap().2.len(), DEFAULT_MAX_LINE_LEN);
}

struct Failing {
    sent: bool,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.sent {
            return Err(std::io::Error::other("disk on fire"));
        }
        self.sent = true;
        buf[..4].copy_from_slice(b"ok\np");
        Ok(4)
    }
}

#[test]
fn io_error_then_none() {
    let mut r = LineReader::from_reader(Box::new(Failing { sent: false }), "bad");
    assert_eq!(r.next_line().unwrap().unwrap().bytes, b"ok");
    match r.next_line() {
        Some(Err(Error::Io { path, message })) => {
            assert_eq!(path, "bad");
            assert!(message.contains("disk on fire"));
        }
        other => panic!("{other:?}"),
    }
    assert!(r.next_line().is_none());
}

#[test]
fn missing_file_is_an_io_error() {
    assert!(matches!(
        LineReader::open(std::path::Path::new("/nonexistent/halfopen/x.log")),
        Err(Error::Io { .. })
    ));
}
