//! Real netfilter LOG lines of port scans (psad's test captures): every line is used, and the
//! scanner (the behaviour the file name documents) is called a scan and blocked.

use std::io::Cursor;

use halfopen::{Analyzer, Options, Verdict};

fn analyze(name: &str) -> halfopen::Report {
    let data = std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut a = Analyzer::new(Options {
        year: Some(2015),
        ..Options::default()
    });
    a.add_firewall(name, Cursor::new(data));
    a.finish()
}

#[test]
fn psad_scans() {
    for (name, scanner, min_conns) in [
        (
            "psad-test-scans-syn_scan_1000_1500.log",
            "192.168.10.55",
            20,
        ),
        (
            "psad-test-scans-ipv6_tcp_connect_nmap_default_scan.log",
            "2001:db8:0:f101::2",
            15,
        ),
        (
            "psad-test-scans-topera_ipv6_syn_scan_with_ip_opts.log",
            "2012:1234:1234::1",
            8,
        ),
    ] {
        let r = analyze(name);
        assert_eq!(r.skipped_lines_total, 0, "{name}: {:?}", r.skipped_lines);
        assert_eq!(r.inputs[0].format.as_deref(), Some("netfilter"));
        let s = r
            .sources
            .iter()
            .find(|s| s.addr.to_string() == scanner)
            .unwrap_or_else(|| panic!("{name}: no {scanner}"));
        assert!(s.connections >= min_conns, "{name}: {}", s.connections);
        assert!(
            matches!(s.verdict, Verdict::SynScan | Verdict::ConnectScan),
            "{name}: {} {:?}",
            s.verdict,
            s.evidence
        );
        assert!(
            r.networks.iter().any(|n| n.cidr.contains(&s.addr)),
            "{name}: not blocked"
        );
        // Inbound SYNs only: the report says what it cannot see.
        assert!(
            s.evidence.iter().any(|e| e.sentence.contains("distinct")),
            "{name}: {:?}",
            s.evidence
        );
    }
}
