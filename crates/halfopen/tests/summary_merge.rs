//! Summaries (`--summary-out`) merged (`halfopen merge`) give the report of one run over all
//! the input: the floods lab run (real kernel, real Apache, real flood tools) cut by time into
//! two and three "days", each analysed alone with its own part of the access log, the
//! summaries written and read back, merged, and compared with the whole run: the same block
//! list, floods, verdicts and counts, the connections a cut split joined again.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::IpAddr;

use common::lab;
use halfopen::analyze::{Summary, conclude, merge_summaries};
use halfopen::report::ServerFinding;
use halfopen::{Analyzer, Options, Report};

fn opts() -> Options {
    Options {
        year: Some(2026),
        zone: Some(halfopen::clock::Zone::Utc),
        top: usize::MAX,
        // Room for every source one by one (21,000 in this run; 256 MB holds 21,474), so that
        // the comparison is exact: past the cap the lightest are folded per network, in an
        // order a merge does not keep (Space-Saving's bounds, tested in the sketch module).
        memory_mb: 1024,
        ..Options::default()
    }
}

/// The `HH:MM:SS` of a kern.log line (`Dec  6 11:14:29 ...`) or an access-log line
/// (`[06/Dec/2026:11:14:31 +0000]`); the run is one day.
fn clock(line: &str) -> &str {
    match line.find('[') {
        Some(i) if line.contains("/Dec/") => line.get(i + 13..i + 21).unwrap_or(""),
        _ => line.get(7..15).unwrap_or(""),
    }
}

/// The lines of `text` in `[from, to)`.
fn between(text: &str, from: &str, to: &str) -> Vec<u8> {
    text.lines()
        .filter(|l| {
            let c = clock(l);
            c >= from && c < to
        })
        .flat_map(|l| l.bytes().chain(std::iter::once(b'\n')))
        .collect()
}

fn summary(firewall: Vec<u8>, access: Vec<u8>) -> Summary {
    let mut a = Analyzer::new(opts());
    a.add_firewall("kern.log", Cursor::new(firewall));
    a.add_access("access.log", Cursor::new(access));
    let s = a.finish_summary();
    // Written and read back, as `halfopen merge` does.
    Summary::from_json("part", s.to_json().as_bytes()).expect("summary read back")
}

fn floods(r: &Report) -> Vec<(String, u64, bool)> {
    r.server_findings
        .iter()
        .filter_map(|f| match f {
            ServerFinding::SynFlood(x) => {
                Some((x.server.to_string(), x.addresses, x.likely_spoofed))
            }
            _ => None,
        })
        .collect()
}

/// What each source did: its verdict, confidence, connections, SYNs and (`requests`) requests.
fn per_source(r: &Report, requests: bool) -> BTreeMap<IpAddr, String> {
    r.sources
        .iter()
        .map(|s| {
            let what = format!(
                "{:?} ({:?}), {} connections, {} SYNs, {:?} requests",
                s.verdict,
                s.confidence,
                s.connections,
                s.syns,
                requests.then_some(s.requests)
            );
            (s.addr, what)
        })
        .collect()
}

#[test]
fn days_merged_give_the_whole_run() {
    for form in [
        "kern.log.gz",
        "kern-in.log.gz",
        "kern-syn.log.gz",
        "ipfw.log.gz",
        "ipfw-all.log.gz",
    ] {
        days_merged_give_the_whole_run_of(form);
    }
}

/// The run read through one evidence form, cut into days.
fn days_merged_give_the_whole_run_of(form: &str) {
    let kern = String::from_utf8(lab("floods", form)).expect("text");
    let access = String::from_utf8(lab("floods", "access.log")).expect("text");
    let lines: Vec<&str> = kern.lines().collect();
    let whole = conclude(
        summary(kern.clone().into_bytes(), access.clone().into_bytes()),
        &opts(),
    );
    for parts in [2usize, 3] {
        let mut cuts: Vec<&str> = (1..parts)
            .map(|i| clock(lines[lines.len() * i / parts]))
            .collect();
        cuts.insert(0, "00:00:00");
        cuts.push("99:99:99");
        let summaries: Vec<Summary> = cuts
            .windows(2)
            .map(|w| summary(between(&kern, w[0], w[1]), between(&access, w[0], w[1])))
            .collect();
        // The days in any order: newest first gives the same.
        let newest_first = summaries.iter().rev().cloned().collect();
        let merged = merge_summaries(summaries, &opts()).expect("merge");
        let reversed = merge_summaries(newest_first, &opts()).expect("merge");
        assert_eq!(
            per_source(&reversed, true),
            per_source(&merged, true),
            "{form}, {parts} parts, newest first"
        );
        assert_eq!(merged.blocklist, whole.blocklist, "{form}, {parts} parts");
        assert_eq!(
            merged
                .network_floods
                .iter()
                .map(|n| n.network)
                .collect::<Vec<_>>(),
            whole
                .network_floods
                .iter()
                .map(|n| n.network)
                .collect::<Vec<_>>(),
            "{form}, {parts} parts"
        );
        // Every verdict, flood and count is the whole run's: a connection open at a cut (a
        // flood's SYN at the end of one day, the server's SYN-ACK retransmissions at the start
        // of the next) is joined from its two pieces, not counted in both days.
        let differ = |m: &BTreeMap<IpAddr, String>, w: &BTreeMap<IpAddr, String>| {
            let mut d: Vec<String> = w
                .iter()
                .filter(|(a, x)| m.get(*a) != Some(*x))
                .map(|(a, x)| format!("{a}: {x} whole, {:?} merged", m.get(a)))
                .collect();
            d.extend(
                m.keys()
                    .filter(|a| !w.contains_key(*a))
                    .map(|a| format!("{a}: merged only")),
            );
            d
        };
        // Logs of each connection's first packet only (a SYN-only LOG rule, ipfw's one line
        // per connection) show nothing of a keep-alive connection after its SYN: the requests
        // it carried after a cut are in the next day's access log, where no connection of
        // that day's log is theirs (unmatched there). The verdicts and every other count hold.
        let first_packet_only = form.starts_with("kern-syn") || form.starts_with("ipfw.");
        let d = differ(
            &per_source(&merged, !first_packet_only),
            &per_source(&whole, !first_packet_only),
        );
        assert!(
            d.is_empty(),
            "{form}, {parts} parts: {} differ: {:?}",
            d.len(),
            &d[..d.len().min(8)]
        );
        assert_eq!(floods(&merged), floods(&whole), "{form}, {parts} parts");
        assert_eq!(merged.hostile_found, whole.hostile_found);
        assert_eq!(
            merged.connections_total, whole.connections_total,
            "{form}, {parts} parts"
        );
        assert_eq!(merged.correlation.requests, whole.correlation.requests);
    }
}

#[test]
fn a_summary_from_another_program_is_refused() {
    let err = Summary::from_json("x.json", br#"{"format":"other","version":1}"#);
    assert!(err.is_err());
    let err = Summary::from_json("x.json", b"not json");
    assert!(err.unwrap_err().to_string().contains("x.json"));
}
