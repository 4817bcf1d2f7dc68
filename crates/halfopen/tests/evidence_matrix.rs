//! The evidence matrix: every scenario of `halfopen_testgen::scenarios::evidence_matrix` (each
//! behaviour modelled on what the real tool did in the lab) rendered in every evidence form an
//! admin may have, analysed with the access and error logs. Each actor must get a verdict its
//! evidence allows on that form, no actor that must never be blocked may be covered, the
//! server's own address is never a source, and the block list keeps its invariants.
//! `cargo test -p halfopen --test evidence_matrix -- --nocapture` prints the matrix.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::IpAddr;

use halfopen::{Analyzer, Options, Report, Verdict};
use halfopen_testgen::{Form, Rendered, TruthRow, scenarios};
use ipnet::IpNet;

/// What a form can show, coarsely.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    /// Every packet both ways with flags (pcap, netfilter on INPUT and OUTPUT).
    Full,
    /// Every inbound packet with flags (netfilter INPUT, nft log).
    Inbound,
    /// Inbound SYNs with flags, or one flag-less line per SYN, or flag-less lines both ways.
    Weak,
}

fn class(f: Form) -> Class {
    match f {
        Form::Pcap | Form::NetfilterAll => Class::Full,
        Form::NetfilterInbound | Form::NftLog => Class::Inbound,
        _ => Class::Weak,
    }
}

/// The verdicts an actor's behaviour allows on a form (docs/halfopen.md, the inference table).
fn allowed(behaviour: &str, f: Form) -> &'static [Verdict] {
    use Verdict::*;
    let c = class(f);
    match behaviour {
        "browser" | "chromium_like" | "refused_once" | "retried_syn" => &[Legitimate],
        "preconnect" if c == Class::Weak => &[Unknown, Idle],
        "preconnect" => &[Idle],
        "idle_until_timeout" => &[IdleTimeout],
        "syn_scan" | "connect_scan" if c == Class::Weak => &[SynScan, ConnectScan, Unknown],
        "syn_scan" => &[SynScan],
        "connect_scan" => &[ConnectScan],
        "slowloris" => &[SlowRequest],
        "tls_on_http" => &[NonHttp],
        "h2_preface_on_http1" => &[NonHttp, Legitimate],
        "spoofed_syn_flood" | "random_port_syns" | "ipv6_prefix_flood" => &[SynFlood],
        // Flag-less lines cannot tell the client's RST from a handshake ACK; one flag-less
        // line per connection shows neither hping3's missing TCP options nor anything but a
        // pace (2 a second) a health check also keeps: too slow to flood (the lab's periodic
        // run).
        "hping3_real_source" if matches!(f, Form::IpfwAll | Form::IpfwSetup) => {
            &[SynFlood, Unknown]
        }
        "hping3_real_source" => &[SynFlood],
        // One SYN per address: where the form shows only that SYN and it carries TCP options
        // like a real stack's (or no header at all, ipfw), an address is only counted in the
        // server-level flood.
        "random_source_flood" if c == Class::Weak => &[SynFlood, Unknown],
        "random_source_flood" => &[SynFlood],
        // Reflectors sent SYN-ACKs, never a SYN: never hostile.
        "synack_reflection" => &[Unknown],
        other => panic!("no expectation for {other}"),
    }
}

/// Behaviours whose addresses must never be blocked.
const NEVER_BLOCK: [&str; 10] = [
    "browser",
    "chromium_like",
    "refused_once",
    "retried_syn",
    "preconnect",
    "idle_until_timeout",
    "tls_on_http",
    "h2_preface_on_http1",
    "synack_reflection",
    "slowloris_neighbour",
];

fn analyze(r: &Rendered, f: Form) -> Report {
    let mut a = Analyzer::new(Options::default());
    let bytes = |b: &[u8]| Cursor::new(b.to_vec());
    match f {
        Form::Pcap => a.add_pcap("capture.pcap", bytes(r.form(f))),
        _ => a.add_firewall(f.file_name(), bytes(r.form(f))),
    }
    a.add_access("access.log", bytes(r.access_combined.as_bytes()));
    a.add_error_log("error.log", bytes(r.error_log.as_bytes()));
    a.finish()
}

/// The mismatches of one actor in one report.
fn check_actor(t: &TruthRow, f: Form, r: &Report, server: IpAddr, out: &mut Vec<String>) {
    let by_addr: BTreeMap<IpAddr, Verdict> =
        r.sources.iter().map(|s| (s.addr, s.verdict)).collect();
    let ok = allowed(&t.behavior, f);
    let open_at_cut = t.open_at_capture_start > 0;
    let mut seen = 0;
    for a in &t.sources {
        if let Some(v) = by_addr.get(a) {
            seen += 1;
            let cut_ok = open_at_cut && matches!(v, Verdict::Unknown | Verdict::Legitimate);
            if !ok.contains(v) && !cut_ok {
                out.push(format!("{} {a}: {v}", t.behavior));
            }
        }
    }
    // A flood must show up in every form (each has its SYNs).
    let flood = matches!(
        t.behavior.as_str(),
        "spoofed_syn_flood"
            | "random_port_syns"
            | "ipv6_prefix_flood"
            | "hping3_real_source"
            | "random_source_flood"
    );
    if seen == 0 && flood && t.connections > 0 {
        out.push(format!("{} {}: no source", t.behavior, t.addr));
    }
    if NEVER_BLOCK.contains(&t.behavior.as_str()) {
        for b in &r.networks {
            if t.sources.iter().any(|a| b.cidr.contains(a)) {
                out.push(format!("{} blocked by {}", t.behavior, b.cidr));
            }
        }
    }
    if by_addr.contains_key(&server) {
        out.push(format!("the server {server} is a source"));
    }
}

/// The block-list invariants, whatever the verdicts said.
fn check_invariants(rendered: &Rendered, r: &Report, server: IpAddr, out: &mut Vec<String>) {
    let ok_clients: Vec<IpAddr> = rendered
        .access_combined
        .lines()
        .filter(|l| {
            l.split('"')
                .nth(2)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|s| s.parse::<u16>().ok())
                .is_some_and(|s| (200..400).contains(&s))
        })
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    for b in &r.networks {
        let n: IpNet = b.cidr;
        if n.contains(&server) {
            out.push(format!("{n} holds the server"));
        }
        if let Some(c) = ok_clients.iter().find(|c| n.contains(*c)) {
            out.push(format!("{n} holds {c}, which made successful requests"));
        }
        let min = if n.addr().is_ipv4() { 16 } else { 32 };
        if n.prefix_len() < min {
            out.push(format!("{n} is broader than /{min}"));
        }
    }
}

#[test]
fn every_scenario_in_every_form() {
    let mut table: Vec<(String, Vec<String>)> = Vec::new();
    let mut failures = Vec::new();
    for (name, scenario) in scenarios::evidence_matrix() {
        let rendered = scenario.render();
        let mut row = Vec::new();
        for f in Form::ALL {
            let report = analyze(&rendered, f);
            let mut bad = Vec::new();
            for t in &rendered.truth {
                check_actor(t, f, &report, scenario.server, &mut bad);
            }
            check_invariants(&rendered, &report, scenario.server, &mut bad);
            row.push(if bad.is_empty() {
                "ok".to_owned()
            } else {
                format!("{} wrong", bad.len())
            });
            for b in bad.iter().take(5) {
                failures.push(format!("{name} / {}: {b}", f.name()));
            }
        }
        table.push((name.to_owned(), row));
    }
    let header: Vec<&str> = Form::ALL.iter().map(|f| f.name()).collect();
    eprintln!("| scenario | {} |", header.join(" | "));
    eprintln!("|---|{}", "---|".repeat(header.len()));
    for (name, row) in &table {
        eprintln!("| {name} | {} |", row.join(" | "));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The pcap form alone (no web log) against the pcap with the web logs: every actor whose
/// behaviour the packets show gets the same verdict (the first bytes stand in for the access
/// log), and the block list is the same. Actors whose connections were open when the capture
/// began are left out: their bytes start mid-request and are not classified (unknown alone).
#[test]
fn pcap_alone_agrees_with_pcap_and_web_logs() {
    let mut failures = Vec::new();
    for (name, scenario) in scenarios::evidence_matrix() {
        let rendered = scenario.render();
        let with_logs = analyze(&rendered, Form::Pcap);
        let mut a = Analyzer::new(Options::default());
        a.add_pcap(
            "capture.pcap",
            Cursor::new(rendered.form(Form::Pcap).to_vec()),
        );
        let alone = a.finish();
        let verdicts = |r: &Report| -> BTreeMap<IpAddr, Verdict> {
            r.sources.iter().map(|s| (s.addr, s.verdict)).collect()
        };
        let (w, o) = (verdicts(&with_logs), verdicts(&alone));
        let cut: Vec<IpAddr> = rendered
            .truth
            .iter()
            .filter(|t| t.open_at_capture_start > 0)
            .flat_map(|t| t.sources.iter().copied())
            .collect();
        for (addr, v) in w.iter().filter(|(a, _)| !cut.contains(a)) {
            if o.get(addr) != Some(v) {
                failures.push(format!(
                    "{name}: {addr} {v} with the logs, {:?} alone",
                    o.get(addr)
                ));
            }
        }
        if cut.is_empty() && with_logs.blocklist != alone.blocklist {
            failures.push(format!(
                "{name}: blocks {:?} with the logs, {:?} alone",
                with_logs.blocklist, alone.blocklist
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

mod random_scenarios {
    use super::*;
    use halfopen_testgen::{Behavior, Scenario};
    use proptest::prelude::*;

    fn behaviour(k: u8) -> Behavior {
        match k % 12 {
            0 => Behavior::Browser {
                connections: 2,
                requests_per_conn: 2,
            },
            1 => Behavior::Preconnect {
                connections: 2,
                idle_ms: 12_000,
            },
            2 => Behavior::IdleUntilTimeout { connections: 1 },
            3 => Behavior::SynScan {
                ports: vec![22, 80, 443, 8080],
            },
            4 => Behavior::ConnectScan {
                ports: vec![21, 22, 80, 443],
            },
            5 => Behavior::Slowloris {
                connections: 2,
                interval_ms: 5_000,
            },
            6 => Behavior::TlsOnHttp { connections: 1 },
            7 => Behavior::RandomPortSyns {
                count: 30,
                interval_ms: 300,
            },
            8 => Behavior::Hping3RealSource {
                count: 15,
                interval_ms: 500,
            },
            9 => Behavior::RefusedOnce,
            10 => Behavior::RetriedSyn { retries: 2 },
            _ => Behavior::ChromiumLike { pages: 1 },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Random mixes of clients and attackers sharing networks (two /23s), in a random form:
        /// the block list never holds a client with successful requests, the server, or
        /// anything broader than the limits, and never an actor that must not be blocked.
        #[test]
        fn invariants_on_random_scenarios(
            actors in prop::collection::vec((any::<u8>(), 0u8..4, any::<u8>(), 0i64..120), 2..10),
            form in 0usize..7,
            seed in any::<u64>(),
        ) {
            let server: IpAddr = "203.0.113.80".parse().unwrap();
            let mut s = Scenario::new(server, 80, 1_772_438_400_000_000, seed);
            let mut used = std::collections::BTreeSet::new();
            for (k, net, host, start) in &actors {
                let addr = IpAddr::from(std::net::Ipv4Addr::new(45, 76, 86 + net % 2, 1 + host % 250));
                if used.insert(addr) {
                    s = s.with(addr, start * 1_000_000, behaviour(*k));
                }
            }
            let rendered = s.render();
            let f = Form::ALL[form];
            let report = analyze(&rendered, f);
            let mut bad = Vec::new();
            check_invariants(&rendered, &report, server, &mut bad);
            for t in &rendered.truth {
                if NEVER_BLOCK.contains(&t.behavior.as_str()) {
                    for b in &report.networks {
                        if t.sources.iter().any(|a| b.cidr.contains(a)) {
                            bad.push(format!("{} {} blocked by {}", t.behavior, t.addr, b.cidr));
                        }
                    }
                }
            }
            prop_assert!(!report.sources.iter().any(|x| x.addr == server), "the server is a source");
            prop_assert!(bad.is_empty(), "{}: {}", f.name(), bad.join("; "));
        }
    }
}
