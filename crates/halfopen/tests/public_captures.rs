//! Public captures of real attacks, with their stated origin (tests/data/public/PROVENANCE.md).

use std::path::Path;

use halfopen::evidence::Shows;
use halfopen::report::ServerFinding;
use halfopen::{Analyzer, Options, Report, Source, Verdict};

fn data(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/public")
        .join(path)
}

/// The report on one public capture alone, every source listed.
fn analyze_capture(path: &str) -> Report {
    analyze_capture_with(
        path,
        Options {
            top: usize::MAX,
            ..Options::default()
        },
    )
}

/// The report on one public capture alone, with `opts`.
fn analyze_capture_with(path: &str, opts: Options) -> Report {
    let mut a = Analyzer::new(opts);
    a.add_path(Source::Pcap, &data(path)).expect("the capture");
    a.finish()
}

/// The SYN flood the report finds on `server`.
fn flood_on(r: &Report, server: &str) -> halfopen::judge::ServerFlood {
    r.server_findings
        .iter()
        .find_map(|f| match f {
            ServerFinding::SynFlood(x) if x.server.to_string() == server => Some(x.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no flood on {server}: {:?}", r.headline))
}

/// A real spoofed SYN flood captured at its target, incoming packets only, no web log: the
/// capture is read as one direction (SYNs only), the flood on the target's port is found from
/// the SYNs alone (each without TCP options: a raw-packet tool, no client whose handshake
/// could have completed), its addresses are called spoofed and nothing is blocked.
#[test]
fn a_real_spoofed_syn_flood_capture_of_one_direction() {
    let r = analyze_capture_with(
        "stopddos/pkt.TCP.synflood.spoofed.pcap.gz",
        Options::default(),
    );
    assert!(r.unusable_inputs.is_empty(), "{:?}", r.unusable_inputs);
    let form = &r.forms[0];
    assert_eq!(form.shows, Shows::SynOnly, "{form:?}");
    assert!(
        form.reason.contains("a capture of one direction"),
        "{}",
        form.reason
    );
    let flood = flood_on(&r, "10.10.10.10:25565");
    assert!(flood.likely_spoofed, "{flood:?}");
    assert!(flood.addresses > 35_000, "{flood:?}");
    assert!(flood.unanswered > 35_000, "{flood:?}");
    // Spoofed addresses are not blocked, one by one or by network.
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
    assert!(
        r.sources.iter().all(|s| s.verdict == Verdict::SynFlood),
        "{:?}",
        r.sources
            .iter()
            .filter(|s| s.verdict != Verdict::SynFlood)
            .map(|s| (s.addr, s.verdict))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(
        r.headline[0].contains("SYN flood on 10.10.10.10:25565")
            && r.headline[0].contains("without TCP options"),
        "{:?}",
        r.headline
    );
}

/// A real spoofed SYN flood in which the real owners of 172 of the spoofed addresses answered
/// the target's SYN-ACK with an RST (TTL 55 and DF against the SYNs' 242-244 without DF): each
/// such address looks like a single SYN-scan probe (nmap -sS) on its own. They are the flood's
/// victims, not its senders: none is blocked (before, 172 /32s were proposed as `syn_scan`),
/// and the flood is still called spoofed.
#[test]
fn owners_of_spoofed_addresses_answering_with_rst_are_not_blocked() {
    let r = analyze_capture("stopddos/pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng.gz");
    assert_eq!(r.forms[0].shows, Shows::Inbound, "{:?}", r.forms[0]);
    let flood = flood_on(&r, "10.10.10.10:30120");
    assert!(flood.likely_spoofed, "{flood:?}");
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
    let owner = r
        .sources
        .iter()
        .find(|s| s.addr.to_string() == "2.49.212.128")
        .expect("a spoofed address whose owner reset");
    assert_eq!(owner.verdict, Verdict::SynFlood, "{:?}", owner.evidence);
    // The capture holds no SYN-ACK: the evidence says the RST is what shows one came.
    assert!(
        owner.evidence.iter().any(|e| matches!(
            &e.evidence,
            halfopen::Evidence::Form { what, .. } if what.contains("SYN-ACK is not in it")
        )),
        "{:?}",
        owner.evidence
    );
    assert!(
        r.not_blocked
            .iter()
            .any(|n| n.addr == owner.addr && n.reason.contains("random-source flood")),
        "{:?}",
        r.not_blocked.iter().take(3).collect::<Vec<_>>()
    );
    // Their bare RSTs came from another TTL than the SYNs (this one: SYN 244, RST 55): each
    // is said to be an owner whose address another host used. 137 of the 172 addresses that
    // reset; the others' resets carried ACK (the flood tool's own pairs) or the SYN's TTL.
    let named = |s: &halfopen::report::SourceReport| {
        s.evidence
            .iter()
            .any(|e| matches!(e.evidence, halfopen::Evidence::SentInItsName { .. }))
    };
    assert!(named(owner), "{:?}", owner.evidence);
    let n = r.sources.iter().filter(|s| named(s)).count();
    assert!((130..=172).contains(&n), "{n}");
}

/// The real spoofed flood is more sources than the default budget holds one by one. The text
/// report still accounts for every connection (the verdict rows plus the folded sources'
/// connections make the total), and its 20,000-odd not-blocked flood addresses, all for one
/// reason, are one line, not twenty lines of random addresses and a "more".
#[test]
fn a_folded_flood_adds_up_and_is_not_blocked_in_one_line() {
    let r = analyze_capture_with(
        "stopddos/pkt.TCP.synflood.spoofed.pcap.gz",
        Options::default(),
    );
    assert!(r.scale.connections_folded > 0, "{:?}", r.scale);
    assert_eq!(
        r.connections.total() + r.scale.connections_folded,
        r.connections_total
    );
    let text = r.to_text(false);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Connections by verdict"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    let folded = table
        .iter()
        .find(|l| l.trim_start().starts_with("folded"))
        .expect("a folded row");
    assert!(
        folded.contains(&halfopen::escape::thousands(r.scale.connections_folded)),
        "{folded}"
    );
    let not_blocked: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  not blocked"))
        .collect();
    assert_eq!(not_blocked.len(), 1, "{not_blocked:#?}");
    assert!(
        not_blocked[0].contains(&format!(
            "not blocked: {} addresses (one address of a random-source flood",
            halfopen::escape::thousands(r.not_blocked.len() as u64)
        )),
        "{}",
        not_blocked[0]
    );
}

/// The backscatter finding of a report: (SYN-ACKs, their senders).
fn backscatter(r: &Report) -> (u64, u64) {
    r.server_findings
        .iter()
        .find_map(|f| match f {
            ServerFinding::Backscatter {
                syn_acks,
                addresses,
                ..
            } => Some((*syn_acks, *addresses)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no backscatter finding: {:?}", r.headline))
}

/// A real SYN-ACK reflection captured at its target, incoming packets only: 6,651 SYN-ACKs
/// from 6,035 web servers (tcpdump's count) to 10.10.10.10, which sent nothing. The capture
/// is read as one direction toward 10.10.10.10, which is the server: the backscatter finding
/// counts every SYN-ACK and every sender, says not to block them, and the target is no
/// source (before: "no hostile traffic found", 10.10.10.10 a source of 7,556 connections).
#[test]
fn a_real_reflection_is_backscatter_at_the_capture_s_host() {
    let r = analyze_capture("stopddos/amp.TCP.reflection.SYNACK.pcap.gz");
    let target: std::net::IpAddr = "10.10.10.10".parse().unwrap();
    assert_eq!(r.forms[0].shows, Shows::Inbound, "{:?}", r.forms[0]);
    assert!(
        r.forms[0].server_addrs.contains(&target),
        "{:?}",
        r.forms[0]
    );
    assert_eq!(backscatter(&r), (6_651, 6_035));
    assert!(
        r.headline[0].contains("do not block them"),
        "{:?}",
        r.headline
    );
    assert!(r.sources.iter().all(|s| s.addr != target));
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
    assert!(
        r.sources.iter().all(|s| !s.verdict.is_hostile()),
        "{:?}",
        r.sources
            .iter()
            .filter(|s| s.verdict.is_hostile())
            .map(|s| (s.addr, s.verdict))
            .take(5)
            .collect::<Vec<_>>()
    );
}

/// A real reflection off FTP servers: SYN-ACKs from port 21 to the target's port 21, each
/// retransmitted about every 2 s for a minute (396 from 75.136.225.254, 136 from
/// 93.114.150.139), and 10 from port 443. Between two well-known ports the tracker keeps
/// Zeek's rule and takes the SYN-ACK's sender for the originator; the facade turns such a
/// connection round. All 542 SYN-ACKs from the 7 addresses are backscatter at the target, and
/// neither FTP server is a source (before: both "unknown, already open", 13 connections each).
#[test]
fn reflected_syn_acks_between_well_known_ports_are_backscatter() {
    let r = analyze_capture("stopddos/amp.TCP.syn.optionallyACK.optionallysamePort.pcapng.gz");
    assert_eq!(r.forms[0].shows, Shows::Inbound, "{:?}", r.forms[0]);
    assert_eq!(backscatter(&r), (542, 7));
    for ftp in ["75.136.225.254", "93.114.150.139"] {
        assert!(
            r.sources.iter().all(|s| s.addr.to_string() != ftp),
            "{ftp} listed as a source"
        );
        assert!(r.blocklist.iter().all(|b| !b.starts_with(ftp)), "{ftp}");
    }
}
