//! End-to-end: traffic crafted packet by packet by halfopen-testgen, rendered as firewall logs
//! (netfilter with every packet, netfilter with inbound SYNs only, ipfw without flags), pcaps and
//! Apache logs; the expected verdict comes from what each actor DID, never from the input.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::IpAddr;

use halfopen::report::SourceReport;
use halfopen::{Analyzer, Options, Report, Source, Verdict};
use halfopen_testgen::{Rendered, scenarios};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fw {
    NetfilterAll,
    SynOnly,
    Ipfw,
    Pcap,
}

fn analyze(r: &Rendered, fw: Fw, with_port: bool) -> Report {
    let mut a = Analyzer::new(Options::default());
    let bytes = |s: &str| Cursor::new(s.as_bytes().to_vec());
    match fw {
        Fw::NetfilterAll => a.add_firewall("netfilter.log", bytes(&r.netfilter_all)),
        Fw::SynOnly => a.add_firewall("netfilter-syn-only.log", bytes(&r.netfilter_syn_only)),
        Fw::Ipfw => a.add_firewall("ipfw.log", bytes(&r.ipfw)),
        Fw::Pcap => a.add_pcap("capture.pcap", Cursor::new(r.pcap.clone())),
    }
    let access = if with_port {
        &r.access_with_port
    } else {
        &r.access_combined
    };
    a.add_access("access.log", bytes(access));
    a.add_error_log("error.log", bytes(&r.error_log));
    a.finish()
}

/// The verdicts a source may get from its behaviour, given what the input can show.
fn expected(behavior: &str, fw: Fw) -> &'static [Verdict] {
    let flags = matches!(fw, Fw::NetfilterAll | Fw::Pcap);
    match behavior {
        "browser" => &[Verdict::Legitimate],
        "preconnect" if flags => &[Verdict::Idle],
        "preconnect" => &[Verdict::Unknown],
        "idle_until_timeout" => &[Verdict::IdleTimeout],
        "syn_scan" => &[Verdict::SynScan],
        "connect_scan" if flags => &[Verdict::ConnectScan],
        // Without flags a connect scan on mostly closed ports looks like unanswered SYNs to many ports.
        "connect_scan" => &[Verdict::SynScan, Verdict::ConnectScan],
        "slowloris" => &[Verdict::SlowRequest],
        "tls_on_http" | "h2_preface_on_http1" => &[Verdict::NonHttp],
        "spoofed_syn_flood" | "random_port_syns" => &[Verdict::SynFlood],
        other => panic!("behaviour {other} has no expectation"),
    }
}

fn check(r: &Rendered, fw: Fw, with_port: bool) -> Report {
    let report = analyze(r, fw, with_port);
    let by_addr: BTreeMap<IpAddr, &SourceReport> =
        report.sources.iter().map(|s| (s.addr, s)).collect();
    let nets: Vec<ipnet::IpNet> = report.networks.iter().map(|n| n.cidr).collect();
    for t in &r.truth {
        let want = expected(&t.behavior, fw);
        if t.behavior == "spoofed_syn_flood" {
            let cidr: ipnet::IpNet = t.detail.parse().expect("flood CIDR in detail");
            let members: Vec<&&SourceReport> = by_addr
                .values()
                .filter(|s| cidr.contains(&s.addr))
                .collect();
            assert!(!members.is_empty(), "{fw:?}: no source of the flood {cidr}");
            for m in &members {
                assert_eq!(
                    m.verdict,
                    Verdict::SynFlood,
                    "{fw:?}: flood member {}",
                    m.addr
                );
            }
            assert!(
                nets.iter()
                    .any(|n| n.contains(&cidr.network()) || cidr.contains(n)),
                "{fw:?}: flood {cidr} not in the block list {:?}",
                report.blocklist
            );
            continue;
        }
        let s = by_addr
            .get(&t.addr)
            .unwrap_or_else(|| panic!("{fw:?}: actor {} ({}) missing", t.addr, t.behavior));
        assert!(
            want.contains(&s.verdict),
            "{fw:?} port={with_port}: {} did {} but got {} ({:?})",
            t.addr,
            t.behavior,
            s.verdict,
            s.evidence.iter().map(|e| &e.sentence).collect::<Vec<_>>()
        );
        let blocked = nets.iter().any(|n| n.contains(&t.addr));
        if s.verdict.is_hostile() {
            assert!(blocked, "{fw:?}: hostile {} not blocked", t.addr);
        }
        if t.behavior == "browser" {
            assert!(!blocked, "{fw:?}: browser {} blocked", t.addr);
            assert_eq!(
                s.requests,
                u64::from(t.logged_requests),
                "{fw:?}: {} requests",
                t.addr
            );
        }
    }
    assert_eq!(report.skipped_lines_total, 0, "{:?}", report.skipped_lines);
    report
}

#[test]
fn mixed_netfilter_every_packet() {
    let r = scenarios::mixed(7).render();
    check(&r, Fw::NetfilterAll, false);
    check(&r, Fw::NetfilterAll, true);
}

/// The first unknown source (preconnects stay unknown) says what is missing.
fn assert_unknown_says(report: &Report, missing: &str) {
    let unknown = report
        .sources
        .iter()
        .find(|s| s.verdict == Verdict::Unknown)
        .expect("preconnects stay unknown");
    assert!(
        unknown
            .evidence
            .iter()
            .any(|e| e.sentence.contains(missing))
    );
}

#[test]
fn mixed_netfilter_syn_only() {
    let r = scenarios::mixed(7).render();
    let report = check(&r, Fw::SynOnly, true);
    assert_unknown_says(&report, "inbound SYNs only");
}

#[test]
fn mixed_ipfw_without_flags() {
    let r = scenarios::mixed(11).render();
    let report = check(&r, Fw::Ipfw, false);
    assert_unknown_says(&report, "enable flag logging");
}

#[test]
fn text_lists_a_flood_network_once_and_json_keeps_every_source() {
    let r = scenarios::mixed(7).render();
    let report = check(&r, Fw::NetfilterAll, false);
    let flood = r
        .truth
        .iter()
        .find(|t| t.behavior == "spoofed_syn_flood")
        .expect("a spoofed flood");
    let cidr: ipnet::IpNet = flood.detail.parse().unwrap();
    let members = report
        .sources
        .iter()
        .filter(|s| cidr.contains(&s.addr))
        .count();
    assert!(members >= 8, "{members}");
    let text = report.to_text(false);
    let sources = text
        .split("Sources (")
        .nth(1)
        .and_then(|t| t.split("Suggested blocks").next())
        .unwrap();
    let block = report.networks.iter().find(|n| n.sources >= 8).unwrap();
    // One line for the network, none per address; the top addresses are named.
    assert_eq!(
        sources
            .lines()
            .filter(|l| l.trim_start().starts_with(&block.cidr.to_string()))
            .count(),
        1,
        "{sources}"
    );
    let per_address = sources
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .is_some_and(|a| cidr.contains(&a))
        })
        .count();
    assert_eq!(per_address, 0, "{sources}");
    assert!(sources.contains(&format!("{members} addresses, all syn_flood")));
    assert!(sources.contains("top addresses: "));
}

#[test]
fn a_spoofed_flood_block_is_marked_with_what_helps() {
    let r = scenarios::mixed(7).render();
    for fw in [Fw::NetfilterAll, Fw::Pcap, Fw::Ipfw] {
        let report = check(&r, fw, false);
        let block = report
            .networks
            .iter()
            .find(|n| n.sources >= 8)
            .expect("the flood's block");
        assert!(block.likely_spoofed, "{fw:?}");
        let advice = block.advice.as_deref().unwrap();
        assert!(advice.contains("net.ipv4.tcp_syncookies=1"));
        assert!(advice.contains("net.inet.tcp.syncookies=1"));
        // Still suggested, and said so.
        assert!(report.blocklist.contains(&block.cidr.to_string()));
        let text = report.to_text(false);
        assert!(text.contains("likely spoofed ("), "{text}");
        assert!(report.headline[0].contains("likely spoofed"));
        let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert!(
            v["networks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["likely_spoofed"] == true && n["spoofing_indicators"][0].is_string())
        );
        // Small groups of scanners get exact blocks, not a /28 of addresses never seen.
        for n in report.networks.iter().filter(|n| n.sources < 8) {
            let size = 1u64 << (32 - u32::from(n.cidr.prefix_len()));
            assert!(n.sources * 2 >= size, "{fw:?}: {} too sparse", n.cidr);
        }
        // The lone scanners are not.
        assert!(
            report
                .networks
                .iter()
                .filter(|n| n.sources < 8)
                .all(|n| !n.likely_spoofed)
        );
    }
}

#[test]
fn mixed_pcap() {
    let r = scenarios::mixed(3).render();
    check(&r, Fw::Pcap, true);
}

#[test]
fn story_ipfw() {
    let r = scenarios::story().render();
    let report = check(&r, Fw::Ipfw, false);
    assert_eq!(report.blocklist, ["45.76.87.206/32"]);
    assert!(
        report.headline[0].starts_with(
            "45.76.87.206 sent 1,200 SYNs to port 80 that never completed a handshake and has no request in the access log: syn_flood"
        ),
        "{}",
        report.headline[0]
    );
    // The wider blocks say what they would cut off.
    let wider = &report.networks[0].wider;
    let w23 = wider
        .iter()
        .find(|w| w.cidr.to_string() == "45.76.86.0/23")
        .expect("/23 alternative");
    assert!(w23.collateral.clients >= 2);
    assert!(report.year_inferred);
    let text = report.to_text(false);
    assert!(text.contains("would also block"));
    assert!(text.contains("assumed 2026"), "{text}");
}

#[test]
fn story_every_input_kind_agrees_on_the_attacker() {
    let r = scenarios::story().render();
    for fw in [Fw::NetfilterAll, Fw::SynOnly, Fw::Pcap] {
        let report = check(&r, fw, true);
        assert_eq!(report.blocklist, ["45.76.87.206/32"], "{fw:?}");
    }
}

#[test]
fn clock_offset_is_estimated_and_absorbed() {
    let mut s = scenarios::mixed(5);
    s.access_clock_offset_us = 7_000_000;
    let r = s.render();
    let report = check(&r, Fw::NetfilterAll, false);
    assert_eq!(report.clock_offset_seconds, Some(7.0));
}

#[test]
fn gzip_input_and_bad_lines_are_reported() {
    use std::io::Write;
    let r = scenarios::story().render();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(r.ipfw.as_bytes()).unwrap();
    gz.write_all(b"Mar  1 19:00:00 web kernel: ipfw: garbage here\n")
        .unwrap();
    let gz = gz.finish().unwrap();
    let mut a = Analyzer::new(Options::default());
    a.add_reader(
        Source::Firewall,
        "ipfw.log.gz",
        Box::new(Cursor::new(gz)),
        None,
    );
    a.add_access("access.log", Cursor::new(r.access_combined.into_bytes()));
    let report = a.finish();
    assert_eq!(report.blocklist, ["45.76.87.206/32"]);
    assert_eq!(report.skipped_lines_total, 1);
    let bad = &report.skipped_lines[0];
    assert_eq!(bad.file, "ipfw.log.gz");
    assert_eq!(bad.line, r.ipfw.lines().count() as u64 + 1);
    assert_eq!(bad.offset, r.ipfw.len() as u64);
}

#[test]
fn json_has_the_documented_keys() {
    let r = scenarios::mixed(1).render();
    let report = analyze(&r, Fw::NetfilterAll, false);
    let v: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    halfopen::report::check_json_keys(&v).unwrap();
    assert!(!v["sources"].as_array().unwrap().is_empty());
    assert!(!v["networks"].as_array().unwrap().is_empty());
}

#[test]
fn netstat_snapshot_is_reported() {
    let r = scenarios::story().render();
    let ss = std::fs::read(format!(
        "{}/tests/data/ss-tan.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut a = Analyzer::new(Options::default());
    a.add_firewall("ipfw.log", Cursor::new(r.ipfw.into_bytes()));
    a.add_netstat("ss.txt", Cursor::new(ss));
    let report = a.finish();
    let ns = report.netstat.as_ref().expect("snapshot");
    assert_eq!(ns.half_open(), 3);
    assert!(
        report
            .headline
            .iter()
            .any(|h| h
                .contains("3 half-open connection(s) on port 80 against a listen backlog of 511")),
        "{:?}",
        report.headline
    );
    assert!(report.notes.iter().any(|n| n.contains("no access log")));
}

#[test]
fn ipv6_server_and_clients() {
    use halfopen_testgen::{Behavior, Scenario};
    let server: IpAddr = "2001:db8:80::1".parse().unwrap();
    let s = Scenario::new(server, 80, 1_772_441_210_000_000, 9)
        .with(
            "2001:db8:1::10".parse().unwrap(),
            0,
            Behavior::Browser {
                connections: 2,
                requests_per_conn: 3,
            },
        )
        .with(
            "2001:db8:1::66".parse().unwrap(),
            1_000_000,
            Behavior::RandomPortSyns {
                count: 40,
                interval_ms: 500,
            },
        )
        .with(
            "2001:db8:2::7".parse().unwrap(),
            2_000_000,
            Behavior::H2PrefaceOnHttp1 { connections: 2 },
        );
    let r = s.render();
    for fw in [Fw::NetfilterAll, Fw::Pcap] {
        let report = check(&r, fw, false);
        assert_eq!(report.blocklist, ["2001:db8:1::66/128"], "{fw:?}");
    }
}

mod robustness {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn arbitrary_inputs_never_panic(
            fw in prop::collection::vec(any::<u8>(), 0..2000),
            acc in prop::collection::vec(any::<u8>(), 0..2000),
            lines in prop::collection::vec(prop::sample::select(vec![
                "Mar  1 18:49:05 web kernel: ipfw: 100 Accept TCP 45.76.87.206:56377 116.58.172.107:80 in via em0",
                "Mar  1 18:49:05 web kernel: ipfw: 200 Accept TCP 116.58.172.107:80 45.76.87.206:56377 out via em0",
                "45.76.86.23 - - [01/Mar/2026:18:49:12 +0000] \"GET / HTTP/1.1\" 200 3407 \"-\" \"Mozilla/5.0\"",
                "\x1b[31m\x00\u{ff}",
                "",
            ]), 0..30),
        ) {
            let mut text = lines.join("\n").into_bytes();
            text.extend_from_slice(&fw);
            let mut a = Analyzer::new(Options::default());
            a.add_firewall("fw", Cursor::new(text.clone()));
            a.add_access("acc", Cursor::new([text, acc.clone()].concat()));
            a.add_error_log("err", Cursor::new(acc.clone()));
            a.add_pcap("pcap", Cursor::new(acc.clone()));
            a.add_netstat("ns", Cursor::new(acc));
            let report = a.finish();
            let text = report.to_text(false);
            prop_assert!(!text.bytes().any(|b| b == 0x1b || (b < 0x20 && b != b'\n')));
            let _ = report.to_json();
        }
    }
}

#[test]
fn gzipped_pcap_from_a_path() {
    use std::io::Write;
    let r = scenarios::story().render();
    let dir = std::env::temp_dir().join(format!("halfopen-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("capture.pcap.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&r.pcap).unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let access = dir.join("access.log");
    std::fs::write(&access, &r.access_combined).unwrap();
    let mut a = Analyzer::new(Options::default());
    a.add_path(Source::Pcap, &path).unwrap();
    a.add_path(Source::Access, &access).unwrap();
    assert!(
        a.add_path(Source::Access, &dir.join("missing.log"))
            .is_err()
    );
    let report = a.finish();
    assert_eq!(report.blocklist, ["45.76.87.206/32"]);
    assert_eq!(report.inputs[0].records, r.packet_count as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pcap_and_a_firewall_log_of_the_same_traffic_count_each_connection_once() {
    let r = scenarios::mixed(1).render();
    let pcap_only = analyze(&r, Fw::Pcap, true);
    let mut a = Analyzer::new(Options::default());
    let bytes = |s: &str| Cursor::new(s.as_bytes().to_vec());
    a.add_pcap("capture.pcap", Cursor::new(r.pcap.clone()));
    a.add_firewall("netfilter-syn-only.log", bytes(&r.netfilter_syn_only));
    a.add_access("access.log", bytes(&r.access_with_port));
    a.add_error_log("error.log", bytes(&r.error_log));
    let both = a.finish();
    assert_eq!(both.connections_total, pcap_only.connections_total);
    assert_eq!(both.connections, pcap_only.connections);
    assert_eq!(both.blocklist, pcap_only.blocklist);
    let verdicts = |rep: &Report| -> BTreeMap<IpAddr, (Verdict, u64)> {
        rep.sources
            .iter()
            .map(|s| (s.addr, (s.verdict, s.connections)))
            .collect()
    };
    assert_eq!(verdicts(&both), verdicts(&pcap_only));
    assert!(
        both.notes.iter().any(|n| n.contains("seen by two inputs")),
        "{:?}",
        both.notes
    );
}
