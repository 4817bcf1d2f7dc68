//! What a capture's first bytes decide (issue 18), on real captures only: Zeek's test traces
//! of other protocols on port 80 (halfopen-tcp/tests/data/zeek, PROVENANCE.md there) and the
//! lab runs' pcaps (tests/data/lab: a real Apache, real clients and tools), with and without
//! the web logs.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use halfopen::verdict::Evidence;
use halfopen::{Analyzer, Options, Report, Source, Verdict};

fn lab(run: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lab")
        .join(run)
}

fn zeek(trace: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../halfopen-tcp/tests/data/zeek/Traces")
        .join(trace)
}

fn run(pcap: &Path, web: Option<&Path>, opts: Options) -> Report {
    let mut a = Analyzer::new(Options {
        year: Some(2026),
        zone: Some(halfopen::clock::Zone::Utc),
        ..opts
    });
    a.add_path(Source::Pcap, pcap).expect("pcap");
    if let Some(dir) = web {
        a.add_path(Source::Access, &dir.join("access.log"))
            .expect("access log");
        a.add_path(Source::ErrorLog, &dir.join("error.log"))
            .expect("error log");
    }
    a.finish()
}

fn first_bytes_sentence(r: &Report, addr: &str) -> String {
    let s = r
        .sources
        .iter()
        .find(|s| s.addr.to_string() == addr)
        .unwrap_or_else(|| panic!("{addr} not in {:?}", r.headline));
    s.evidence
        .iter()
        .find(|e| matches!(e.evidence, Evidence::FirstBytes { .. }))
        .map(|e| e.sentence.clone())
        .unwrap_or_default()
}

fn verdicts(r: &Report) -> BTreeMap<IpAddr, Verdict> {
    r.sources.iter().map(|s| (s.addr, s.verdict)).collect()
}

fn truth(run: &str) -> BTreeMap<IpAddr, String> {
    std::fs::read_to_string(lab(run).join("truth.txt"))
        .expect("truth")
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.parse().ok()?, w.next()?.to_owned()))
        })
        .collect()
}

/// Zeek's ssh-on-port-80 trace: an SSH client on port 80, no web log: the capture alone names it.
#[test]
fn ssh_on_port_80_is_non_http_from_the_capture_alone() {
    let r = run(&zeek("ssh/ssh-on-port-80.pcap"), None, Options::default());
    let s = &r.sources[0];
    assert_eq!(s.verdict, Verdict::NonHttp, "{:?}", s.evidence);
    let said = first_bytes_sentence(&r, "172.16.238.1");
    assert!(said.contains("SSH-2.0-OpenSSH_5.2"), "{said}");
    let fb = r.first_bytes.as_ref().expect("first bytes");
    assert_eq!(fb.classes.get("ssh"), Some(&1));
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
}

/// Zeek's ssl-to-http-server trace: a TLS ClientHello to a plain HTTP server, which answers 400.
#[test]
fn tls_to_an_http_server_is_non_http_with_its_sni_and_the_400() {
    let r = run(
        &zeek("tls/ssl-to-http-server.pcap"),
        None,
        Options::default(),
    );
    assert_eq!(r.sources[0].verdict, Verdict::NonHttp);
    let said = first_bytes_sentence(&r, "192.168.1.108");
    assert!(said.contains("TLS ClientHello"), "{said}");
    assert!(said.contains("SNI \"vk.com\""), "{said}");
    assert!(said.contains("HTTP 400"), "{said}");
}

/// `--payload-bytes 0` keeps nothing: the report says nothing about first bytes and the TCP
/// packets alone decide.
#[test]
fn no_payload_bytes_no_first_bytes() {
    let r = run(
        &zeek("ssh/ssh-on-port-80.pcap"),
        None,
        Options {
            payload_bytes: 0,
            ..Options::default()
        },
    );
    assert!(r.first_bytes.is_none());
    assert_ne!(r.sources[0].verdict, Verdict::NonHttp);
}

/// The prefork run's capture without any web log: every source gets the verdict the web logs
/// give it (slow attackers slow, nmap a connect scan with its tool named, clients served),
/// and the verdicts agree with the run with the web logs.
#[test]
fn prefork_capture_alone_agrees_with_the_web_logs() {
    let dir = lab("prefork");
    let pcap = dir.join("server.pcap.gz");
    let alone = run(&pcap, None, Options::default());
    let with_logs = run(&pcap, Some(&dir), Options::default());
    let t = truth("prefork");
    for (addr, v) in verdicts(&alone) {
        let word = t.get(&addr).map_or("?", String::as_str);
        let expected: &[Verdict] = match word {
            "slow-headers" | "slow-body" => &[Verdict::SlowRequest],
            "connect-scan" => &[Verdict::ConnectScan],
            "h2-prior-knowledge" => &[Verdict::Legitimate, Verdict::NonHttp],
            _ => &[Verdict::Legitimate],
        };
        assert!(expected.contains(&v), "{addr} ({word}): {v}");
        assert_eq!(
            Some(&v),
            verdicts(&with_logs).get(&addr),
            "{addr} ({word}): capture alone and with the web logs disagree"
        );
    }
    let slow = first_bytes_sentence(&alone, "198.51.100.31");
    assert!(slow.contains("unfinished"), "{slow}");
    let scan = alone
        .sources
        .iter()
        .find(|s| s.addr.to_string() == "198.51.100.24")
        .unwrap();
    assert!(
        scan.evidence.iter().any(|e| e.sentence.contains("nmap")),
        "{:?}",
        scan.evidence
    );
    assert!(alone.blocklist.is_empty(), "{:?}", alone.blocklist);
}

/// Every lab run's capture, alone and with the web logs: each source gets the same verdict
/// (the first bytes say what the access log says), and no whole request the capture saw is
/// missing from the access log.
#[test]
fn every_lab_capture_alone_agrees_with_the_web_logs() {
    for (run, pcap) in [
        ("run1", "server.pcap"),
        ("prefork", "server.pcap.gz"),
        ("floods", "server.pcap.gz"),
    ] {
        let dir = lab(run);
        let alone = run_pcap(&dir.join(pcap), None);
        let with_logs = run_pcap(&dir.join(pcap), Some(&dir));
        assert_eq!(verdicts(&alone), verdicts(&with_logs), "{run}");
        assert_eq!(
            with_logs
                .first_bytes
                .as_ref()
                .map(|f| f.requests_not_logged),
            Some(0),
            "{run}"
        );
        assert_eq!(alone.blocklist, with_logs.blocklist, "{run}");
    }
}

/// The https run's capture alone: what followed each TLS handshake is encrypted, so the TLS
/// clients are `idle` at low confidence ("no access log was given to say whether it held
/// requests"), never `non_http`; plain HTTP sent to 443 is still the wrong protocol, and the
/// block list is the one the web logs give (the SYN scan).
#[test]
fn https_capture_alone_calls_no_tls_client_non_http() {
    let dir = lab("https");
    // Every source listed: the flood's 4,619 addresses come first.
    let every = || Options {
        top: usize::MAX,
        ..Options::default()
    };
    let alone = run(&dir.join("server.pcap.gz"), None, every());
    let with_logs = run(&dir.join("server.pcap.gz"), Some(&dir), every());
    assert_eq!(alone.blocklist, with_logs.blocklist);
    assert_eq!(alone.blocklist, ["198.51.100.41/32"]);
    let by_addr = verdicts(&alone);
    let addr = |a: &str| a.parse::<IpAddr>().expect("address");
    // The browser's unused preconnect was closed by Apache 20 s later: idle until a timeout.
    assert!(
        matches!(
            by_addr[&addr("203.0.113.30")],
            Verdict::Idle | Verdict::IdleTimeout
        ),
        "the browser"
    );
    assert_eq!(
        by_addr[&addr("198.51.100.40")],
        Verdict::Idle,
        "the TLS scanner"
    );
    assert_eq!(
        by_addr[&addr("203.0.113.32")],
        Verdict::NonHttp,
        "plain HTTP to 443"
    );
    let scanner = alone
        .sources
        .iter()
        .find(|s| s.addr == addr("198.51.100.40"))
        .expect("scanner");
    assert_eq!(scanner.confidence, halfopen::Confidence::Low);
    assert!(
        scanner
            .evidence
            .iter()
            .any(|e| e.sentence.contains("no access log was given")),
        "{:?}",
        scanner.evidence
    );
    assert!(
        alone
            .sources
            .iter()
            .all(|s| s.verdict != Verdict::NonHttp || s.addr == addr("203.0.113.32")),
        "no TLS client is non_http"
    );
}

fn run_pcap(pcap: &Path, web: Option<&Path>) -> Report {
    run(pcap, web, Options::default())
}

/// With the web logs, every whole request the capture saw is in the access log (the lab's
/// Apache logged them all): no disagreement, and each source has as many connections as the
/// kernel and tcpdump counted (counts.md): a client's FIN does not end a connection the server
/// answers 136 s later from its accept queue.
#[test]
fn prefork_capture_and_access_log_agree_request_for_request() {
    let dir = lab("prefork");
    let r = run(&dir.join("server.pcap.gz"), Some(&dir), Options::default());
    let fb = r.first_bytes.as_ref().expect("first bytes");
    assert_eq!(fb.requests_not_logged, 0, "{fb:?}");
    assert_eq!(fb.evicted, 0);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let conns: BTreeMap<String, u64> = r
        .sources
        .iter()
        .map(|s| (s.addr.to_string(), s.connections))
        .collect();
    // counts.md, the "pcap" column.
    for (addr, n) in [
        ("198.51.100.31", 121),
        ("198.51.100.32", 114),
        ("203.0.113.50", 1502),
        ("203.0.113.60", 120),
        ("198.51.100.24", 9),
        ("203.0.113.80", 7),
    ] {
        assert_eq!(conns.get(addr), Some(&n), "{addr}");
    }
    assert_eq!(r.correlation.unmatched, 0);
}

/// Header values are not quoted unless asked (they may hold cookies or passwords).
#[test]
fn header_values_only_with_show_payload() {
    let dir = lab("prefork");
    let pcap = dir.join("server.pcap.gz");
    let quiet = first_bytes_sentence(&run(&pcap, None, Options::default()), "198.51.100.31");
    assert!(quiet.contains("Host: …"), "{quiet}");
    let shown = first_bytes_sentence(
        &run(
            &pcap,
            None,
            Options {
                show_payload: true,
                ..Options::default()
            },
        ),
        "198.51.100.31",
    );
    assert!(shown.contains("Host: 192.0.2.10"), "{shown}");
}

/// A capture that starts mid-stream: the bytes of connections already open are not
/// classified (they start in the middle of a request), so no client becomes non-HTTP.
#[test]
fn midstream_bytes_are_not_classified() {
    let dir = lab("prefork");
    let r = run(&dir.join("server-midstream.pcap"), None, Options::default());
    let fb = r.first_bytes.as_ref().expect("first bytes");
    assert!(
        fb.classes.get("midstream").copied().unwrap_or(0) > 0,
        "{fb:?}"
    );
    for s in &r.sources {
        assert_ne!(s.verdict, Verdict::NonHttp, "{}: {:?}", s.addr, s.evidence);
    }
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
}

/// The floods run's capture alone: the clients stay clients (their whole requests were
/// answered) and none is blocked while the floods are found.
#[test]
fn floods_capture_alone_protects_the_clients() {
    let dir = lab("floods");
    let r = run(&dir.join("server.pcap.gz"), None, Options::default());
    let t = truth("floods");
    for (addr, word) in t.iter().filter(|(_, w)| w.as_str() == "legit") {
        if let Some(v) = verdicts(&r).get(addr) {
            assert_eq!(*v, Verdict::Legitimate, "{addr} ({word})");
        }
        assert!(
            !r.networks.iter().any(|b| b.cidr.contains(addr)),
            "{addr} would be blocked: {:?}",
            r.blocklist
        );
    }
    assert!(r.hostile_found);
}
