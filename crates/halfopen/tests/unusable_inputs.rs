//! No false all-clear: an input that was given but gave nothing usable (or had most of its
//! lines skipped) is named in `unusable_inputs` and a warning at the top of the report, never
//! read as "nothing found". Also the year and clock checks that keep a wrong `--year` from
//! going silent. The firewall and access lines are real (lab run1).

use std::io::{Cursor, Read, Write};
use std::path::Path;

use halfopen::{Analyzer, Options, Report};

fn lab(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lab/run1")
        .join(name);
    let raw = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

fn opts() -> Options {
    Options {
        year: Some(2026),
        zone: Some(halfopen::clock::Zone::Utc),
        ..Options::default()
    }
}

fn assert_unusable(r: &Report, file: &str, why: &str) {
    assert!(
        r.unusable_inputs
            .iter()
            .any(|u| u.contains(file) && u.contains(why)),
        "{file}: {why}: {:?}",
        r.unusable_inputs
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("unusable input") && w.contains(file)),
        "{:?}",
        r.warnings
    );
    assert!(r.to_text(false).starts_with("WARNING: unusable input"));
}

/// A pcapng with one interface of `linktype` and three frames.
fn pcapng(linktype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = 12 + body.len().div_ceil(4) * 4;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&(len as u32).to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (body.len().div_ceil(4) * 4 - body.len()), 0);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&linktype.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65_535u32.to_le_bytes());
    block(&mut out, 1, &idb);
    for i in 0..3u32 {
        let frame = [0xaau8; 40];
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&(1_000_000 + i).to_le_bytes());
        epb.extend_from_slice(&40u32.to_le_bytes());
        epb.extend_from_slice(&40u32.to_le_bytes());
        epb.extend_from_slice(&frame);
        block(&mut out, 6, &epb);
    }
    out
}

#[test]
fn a_capture_of_an_unsupported_link_type() {
    // 105: IEEE 802.11 (radio).
    let mut a = Analyzer::new(opts());
    a.add_pcap("wifi.pcapng", Cursor::new(pcapng(105)));
    let r = a.finish();
    assert_unusable(&r, "wifi.pcapng", "unsupported link type");
    assert_eq!(r.inputs[0].unit, "packets");
    assert_eq!(r.inputs[0].lines, 3);
}

#[test]
fn an_access_format_that_parses_no_line() {
    let mut a = Analyzer::new(Options {
        access_format: Some(r#"%h %{remote}p %l %u %t "%r" %>s %b %D %X"#.to_owned()),
        ..opts()
    });
    a.add_firewall("kern-syn.log", Cursor::new(lab("kern-syn.log.gz")));
    a.add_access("access.log", Cursor::new(lab("access.log")));
    let r = a.finish();
    assert_unusable(&r, "access.log", "no line could be read");
}

#[test]
fn mixed_firewall_formats() {
    // A netfilter log's first lines, then an ipfw log: the format detected from the first
    // lines drops most of the rest.
    let syn = lab("kern-syn.log.gz");
    let ipfw = lab("ipfw.log");
    let mut mixed: Vec<u8> = syn
        .split_inclusive(|&b| b == b'\n')
        .take(200)
        .flatten()
        .copied()
        .collect();
    mixed.extend_from_slice(&ipfw);
    let mut a = Analyzer::new(opts());
    a.add_firewall("mixed.log", Cursor::new(mixed));
    let r = a.finish();
    assert_unusable(&r, "mixed.log", "mixed formats");
}

#[test]
fn a_socket_snapshot_with_no_socket_line() {
    let mut a = Analyzer::new(opts());
    a.add_firewall("ipfw.log", Cursor::new(lab("ipfw.log")));
    a.add_netstat(
        "ss.txt",
        Cursor::new(b"this is not\nnetstat output\n".to_vec()),
    );
    let r = a.finish();
    assert_unusable(&r, "ss.txt", "no socket line");
}

#[test]
fn a_truncated_gzip() {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&lab("ipfw.log")).unwrap();
    let gz = enc.finish().unwrap();
    let cut = gz.get(..gz.len() / 2).unwrap().to_vec();
    let mut a = Analyzer::new(opts());
    a.add_firewall("ipfw.log.gz", Cursor::new(cut));
    let r = a.finish();
    assert_unusable(&r, "ipfw.log.gz", "what follows it is missing");
}

#[test]
fn usable_inputs_say_nothing() {
    let mut a = Analyzer::new(opts());
    a.add_firewall("kern.log.gz", Cursor::new(lab("kern.log.gz")));
    a.add_access("access.log", Cursor::new(lab("access.log")));
    a.add_error_log("error.log", Cursor::new(lab("error.log")));
    let r = a.finish();
    assert!(r.unusable_inputs.is_empty(), "{:?}", r.unusable_inputs);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // --year given: the year is not said to be inferred.
    assert!(!r.year_inferred);
    assert!(
        !r.notes.iter().any(|n| n.contains("carry no year")),
        "{:?}",
        r.notes
    );
}

#[test]
fn logs_that_do_not_overlap_block_nothing_on_absent_requests() {
    // The access log of run1 moved a year earlier (a wrong --year on the firewall side reads
    // the same): "no request was logged" means nothing then.
    let access = String::from_utf8(lab("access.log"))
        .unwrap()
        .replace("/2026:", "/2025:");
    let mut a = Analyzer::new(opts());
    a.add_firewall("ipfw.log", Cursor::new(lab("ipfw.log")));
    a.add_access("access.log", Cursor::new(access.into_bytes()));
    let r = a.finish();
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("do not overlap in time")),
        "{:?}",
        r.warnings
    );
    // One line per connection: every flood verdict rests on absent requests; none is blocked.
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
}
