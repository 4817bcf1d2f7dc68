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
    let mut a = Analyzer::new(Options::default());
    a.add_path(
        Source::Pcap,
        &data("stopddos/pkt.TCP.synflood.spoofed.pcap.gz"),
    )
    .expect("the capture");
    let r = a.finish();
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
    let mut a = Analyzer::new(Options {
        top: usize::MAX,
        ..Options::default()
    });
    a.add_path(
        Source::Pcap,
        &data("stopddos/pkt.TCP.DOMINATE.syn.ecn.cwr.pcapng.gz"),
    )
    .expect("the capture");
    let r = a.finish();
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
    assert!(
        r.not_blocked
            .iter()
            .any(|n| n.addr == owner.addr && n.reason.contains("random-source flood")),
        "{:?}",
        r.not_blocked.iter().take(3).collect::<Vec<_>>()
    );
}
