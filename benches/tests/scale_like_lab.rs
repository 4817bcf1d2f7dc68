//! The streaming generators against real evidence: the lab run `floods`
//! (crates/halfopen/tests/data/lab/floods: a real Linux kernel's netfilter lines, the ipfw
//! lines derived from them, tcpdump's capture, Apache's access log; see its README.md).
//! Generated lines must have the lab's shape field for field, once the values that differ
//! from event to event (times, addresses, ports, IDs, sequence numbers) are masked, and must
//! be read by halfopen's parsers as the lab's are.

use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};

use halfopen_benches::scale::sink::Sink;
use halfopen_benches::scale::{flood, pcap, story};
use regex::Regex;

const LAB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../crates/halfopen/tests/data/lab/floods/"
);

fn lab_bytes(name: &str) -> Vec<u8> {
    let raw = std::fs::read(format!("{LAB}{name}")).unwrap();
    if name.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

fn lab_lines(name: &str) -> Vec<String> {
    String::from_utf8(lab_bytes(name))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn taken(shared: &Arc<Mutex<Vec<u8>>>) -> Vec<String> {
    String::from_utf8(shared.lock().unwrap().clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The line with every value that changes from packet to packet replaced by `#`.
fn mask(line: &str) -> String {
    static RULES: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        [
            (r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (\S+) ", "# $1 "),
            (r"\[ *\d+\.\d{6}\] ", "# "),
            (r"\b(SRC|ID|SPT|SEQ)=\d[\d.]*", "$1=#"),
            (r"\bACK=[1-9]\d*", "ACK=#"),
            (
                r"OPT \(020405B40402080A[0-9A-F]{8}",
                "OPT (020405B40402080A#",
            ),
            (r"TCP \d+\.\d+\.\d+\.\d+:\d+ ", "TCP #:# "),
            (r"^\d+\.\d+\.\d+\.\d+ - - \[[^\]]+\]", "# - - [#]"),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).unwrap(), to))
        .collect()
    });
    let mut s = line.to_owned();
    for (re, to) in rules {
        s = re.replace_all(&s, *to).into_owned();
    }
    s
}

fn flood_output(lines: u64) -> (Vec<String>, Vec<String>) {
    let (mut fw, fw_bytes) = Sink::memory("firewall");
    let (mut acc, acc_bytes) = Sink::memory("access");
    let cfg = flood::FloodConfig {
        lines,
        ..Default::default()
    };
    flood::run(&cfg, &mut fw, &mut acc).unwrap();
    (taken(&fw_bytes), taken(&acc_bytes))
}

#[test]
fn flood_lines_are_the_labs_hping3_and_curl_syns() {
    let lab = lab_lines("kern-syn.log.gz");
    let hping_rand = |l: &&String| l.contains("WINDOW=512") && !l.contains("SRC=198.51.100.50 ");
    let curl = |l: &&String| l.contains("SRC=203.0.113.5 ");
    let lab_hping = mask(lab.iter().find(hping_rand).unwrap());
    let lab_curl = mask(lab.iter().find(curl).unwrap());
    // The lab's masked lines are all alike (the mask only hides what varies).
    assert!(lab.iter().filter(hping_rand).all(|l| mask(l) == lab_hping));
    assert!(lab.iter().filter(curl).all(|l| mask(l) == lab_curl));

    let (fw, acc) = flood_output(30_000);
    assert_eq!(fw.len(), 30_000);
    let (mut floods, mut clients) = (0, 0);
    for l in &fw {
        let m = mask(l);
        if m.contains("WINDOW=512") {
            assert_eq!(m, lab_hping, "{l}");
            floods += 1;
        } else {
            // The lab's clients all share the curl shape; ours are the same six addresses.
            assert_eq!(m, lab_curl, "{l}");
            clients += 1;
        }
    }
    assert!(floods > 29_900 && clients > 0, "{floods} {clients}");

    // Access lines: the lab's curl requests, byte for byte but for address and time.
    let lab_acc: Vec<String> = lab_lines("access.log")
        .iter()
        .filter(|l| l.ends_with("\"curl/7.88.1\""))
        .map(|l| mask(l))
        .collect();
    assert!(!acc.is_empty());
    for l in &acc {
        assert!(lab_acc.contains(&mask(l)), "{l}");
    }
}

#[test]
fn flood_lines_parse_like_the_labs() {
    use halfopen_fwlog::{Format, detect, parse_line};
    let lab = lab_lines("kern-syn.log.gz");
    let lab_refs: Vec<&[u8]> = lab.iter().take(200).map(|l| l.as_bytes()).collect();
    let (fw, _) = flood_output(5_000);
    let ours: Vec<&[u8]> = fw.iter().take(200).map(|l| l.as_bytes()).collect();
    assert_eq!(detect(&lab_refs).unwrap(), Format::Netfilter);
    assert_eq!(detect(&ours).unwrap(), Format::Netfilter);
    let real = lab
        .iter()
        .find(|l| l.contains("WINDOW=512") && !l.contains("SRC=198.51.100.50 "))
        .unwrap();
    let real = parse_line(Format::Netfilter, real.as_bytes()).unwrap();
    for l in &fw {
        let r = parse_line(Format::Netfilter, l.as_bytes()).unwrap();
        assert_eq!(r.dst, real.dst);
        assert_eq!(r.dst_port, real.dst_port);
        if l.contains("WINDOW=512") {
            assert_eq!(r.tcp_flags, real.tcp_flags);
            assert_eq!((r.ttl, r.length), (real.ttl, real.length));
        }
    }
}

#[test]
fn ipfw_story_lines_are_the_labs_ipfw_lines() {
    use halfopen_fwlog::{Format, detect};
    let lab = lab_lines("ipfw.log.gz");
    let lab_v4: Vec<String> = lab
        .iter()
        .filter(|l| !l.contains('['))
        .map(|l| {
            mask(l)
                .replace("testbed", "web")
                .replace("192.0.2.10:80", "#")
        })
        .collect();
    assert!(lab_v4.windows(2).all(|w| w[0] == w[1]));
    let (mut fw, fw_bytes) = Sink::memory("firewall");
    let (mut acc, acc_bytes) = Sink::memory("access");
    let cfg = story::StoryConfig {
        bytes: 500_000,
        ..Default::default()
    };
    story::run(&cfg, &mut fw, &mut acc).unwrap();
    let fw = taken(&fw_bytes);
    for l in &fw {
        assert_eq!(mask(l).replace("116.58.172.107:80", "#"), lab_v4[0], "{l}");
    }
    let refs: Vec<&[u8]> = fw.iter().take(200).map(|l| l.as_bytes()).collect();
    assert_eq!(detect(&refs).unwrap(), Format::Ipfw);

    // The access log reads as `combined`, like Apache's own in the lab.
    let acc = taken(&acc_bytes);
    let lab_acc = lab_lines("access.log");
    let detect_name = |lines: &[String]| {
        let refs: Vec<&[u8]> = lines.iter().take(200).map(|l| l.as_bytes()).collect();
        halfopen_weblog::detect_access_format(&refs)
            .unwrap()
            .name()
            .map(str::to_owned)
    };
    assert_eq!(detect_name(&lab_acc), detect_name(&acc));
    assert_eq!(detect_name(&acc).as_deref(), Some("combined"));
}

/// (flags, window, ttl, ip_len, mss, option kinds, ip_id) of a segment.
type Shape = (
    Option<halfopen_tcp::TcpFlags>,
    Option<u16>,
    Option<u8>,
    Option<u32>,
    Option<u16>,
    Option<u32>,
);

fn shape(e: &halfopen_tcp::Event) -> Shape {
    (
        e.flags,
        e.window,
        e.ttl,
        e.ip_len,
        e.mss,
        e.options_fingerprint,
    )
}

fn read_capture(bytes: Vec<u8>) -> (Vec<halfopen_tcp::Event>, halfopen_tcp::pcap::ReaderStats) {
    let mut r = halfopen_tcp::pcap::PacketReader::new(std::io::Cursor::new(bytes))
        .unwrap()
        .verify_checksums(true);
    let mut evs = Vec::new();
    for p in r.by_ref() {
        evs.push(p.unwrap().event);
    }
    (evs, *r.stats())
}

/// The first rand-source hping3 SYN, the SYN-ACK that answered it, and a Linux client's SYN.
fn flood_and_client(evs: &[halfopen_tcp::Event], server: &str) -> (Shape, Shape, Shape) {
    let server: std::net::IpAddr = server.parse().unwrap();
    let syn = evs
        .iter()
        .find(|e| e.window == Some(512) && e.dst == server && e.src.to_string() != "198.51.100.50")
        .unwrap();
    let synack = evs
        .iter()
        .find(|e| e.src == server && e.dst == syn.src && e.dst_port == syn.src_port)
        .unwrap();
    let client = evs
        .iter()
        .find(|e| e.window == Some(64240) && e.dst == server && e.mss.is_some())
        .unwrap();
    (shape(syn), shape(synack), shape(client))
}

#[test]
fn pcap_segments_are_the_labs_as_halfopen_reads_them() {
    let (lab, lab_stats) = read_capture(lab_bytes("server.pcap.gz"));
    let (mut out, bytes) = Sink::memory("pcap");
    let cfg = pcap::PcapConfig {
        bytes: 3_000_000,
        ..Default::default()
    };
    pcap::run(&cfg, &mut out).unwrap();
    let (ours, stats) = read_capture(bytes.lock().unwrap().clone());
    assert_eq!(stats.frames, out.lines());
    assert_eq!(stats.tcp, stats.frames);
    assert_eq!(
        (
            stats.malformed,
            stats.truncated,
            stats.bad_checksum,
            stats.bad_tcp_checksum
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(lab_stats.bad_checksum, 0);
    let (l_syn, l_synack, l_client) = flood_and_client(&lab, "192.0.2.10");
    let (o_syn, o_synack, o_client) = flood_and_client(&ours, "192.0.2.10");
    // hping3's SYN and Linux's syncookie SYN-ACK (MSS only, window 64240, TTL 64).
    assert_eq!(o_syn, l_syn);
    assert_eq!(o_synack, l_synack);
    // A Linux client's SYN: same options in the same order (the lab's kernel scales by 10,
    // testgen's by 7), same window, same length; TTL: the lab's clients are one router away,
    // ours 3-20 hops.
    let no_ttl = |s: Shape| (s.0, s.1, s.3, s.4, s.5);
    assert_eq!(no_ttl(o_client), no_ttl(l_client));
    assert!(o_client.2 < l_client.2);
    assert!(ours.windows(2).all(|w| w[0].ts_us <= w[1].ts_us));
}
