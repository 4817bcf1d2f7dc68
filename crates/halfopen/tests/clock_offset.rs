//! The clock offset between the firewall and the web server, found on the lab's real runs
//! whose web-log stamps are moved as another clock writes them (only the stamps change; every
//! other byte is the run's): a web server's clock 40 s off the firewall's, and an hour's log
//! of a firewall in UTC in front of an Apache in Berlin time.
//!
//! Before, the offset was estimated from the connections that had *ended* within a minute of
//! the firewall's first one. An input that does not show a connection's end (inbound only,
//! SYNs only, one line per connection) hands it over a minute or three after its last packet,
//! so that sample held the connections of the first second or two: no offset was found. With
//! the web server 40 s ahead, 50 of the floods run's 55 requests on its inbound log matched
//! nothing and the report said that the access log names other addresses than connected (a
//! reverse proxy); an hour's log of a firewall in UTC found no zone on any form and said the
//! logs do not overlap.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::IpAddr;

use chrono::{DateTime, Duration, NaiveDateTime};
use halfopen::{Analyzer, Options, Report, Source};

/// The syslog stamp at the start of every line (`Dec  6 11:14:29`) moved by `secs`.
fn syslog_moved(text: &[u8], secs: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for line in text.split_inclusive(|b| *b == b'\n') {
        let (stamp, rest) = line.split_at(15.min(line.len()));
        let read = std::str::from_utf8(stamp).ok().and_then(|s| {
            NaiveDateTime::parse_from_str(&format!("2026 {s}"), "%Y %b %e %H:%M:%S").ok()
        });
        match read {
            Some(t) => {
                let t = t + Duration::seconds(secs);
                out.extend_from_slice(t.format("%b %e %H:%M:%S").to_string().as_bytes());
                out.extend_from_slice(rest);
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

/// The access log's `%t` (`[06/Dec/2026:12:14:31 +0100]`) moved by `secs`, its offset kept.
fn access_moved(text: &[u8], secs: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for line in text.split_inclusive(|b| *b == b'\n') {
        let open = line.iter().position(|b| *b == b'[');
        let close = line.iter().position(|b| *b == b']');
        let (Some(open), Some(close)) = (open, close) else {
            out.extend_from_slice(line);
            continue;
        };
        let stamp = std::str::from_utf8(&line[open + 1..close]).expect("stamp");
        let t = DateTime::parse_from_str(stamp, "%d/%b/%Y:%H:%M:%S %z").expect("%t");
        let t = t + Duration::seconds(secs);
        out.extend_from_slice(&line[..=open]);
        out.extend_from_slice(t.format("%d/%b/%Y:%H:%M:%S %z").to_string().as_bytes());
        out.extend_from_slice(&line[close..]);
    }
    out
}

fn analyze(firewall: Vec<u8>, pcap: bool, access: Vec<u8>) -> Report {
    let mut a = Analyzer::new(Options {
        year: Some(2026),
        top: usize::MAX,
        zone: None,
        ..Options::default()
    });
    let kind = if pcap { Source::Pcap } else { Source::Firewall };
    a.add_reader(kind, "firewall", Box::new(Cursor::new(firewall)), None);
    a.add_reader(
        Source::Access,
        "access.log",
        Box::new(Cursor::new(access)),
        None,
    );
    a.finish()
}

/// The offset found is `secs` within `within` seconds.
fn assert_offset_near(r: &Report, secs: i64, within: f64, form: &str) {
    let found = r.clock_offset_seconds;
    let near = found.is_some_and(|o| (o - secs as f64).abs() <= within);
    assert!(near, "{form} {secs}: {found:?}");
}

/// What must not change with the clock the web logs were written by.
fn answer(r: &Report) -> (BTreeMap<IpAddr, String>, Vec<String>, u64) {
    let verdicts = r
        .sources
        .iter()
        .map(|s| (s.addr, format!("{:?}", s.verdict)))
        .collect();
    (verdicts, r.blocklist.clone(), r.correlation.matched)
}

/// The web server's clock 40 s ahead of the firewall's, and 40 s behind: the offset is found
/// on the forms that show the connections' ends late (inbound only), and the answer is the
/// run's own. Before, on `kern-in.log` and `server-in.pcap` no offset was found, 50 (24) of
/// 55 requests matched nothing, and the access log was said to name other addresses.
#[test]
fn a_web_servers_clock_off_by_40_s_is_found_on_the_inbound_forms() {
    let access = common::lab("floods", "access.log");
    for (form, pcap) in [("kern-in.log.gz", false), ("server-in.pcap.gz", true)] {
        let input = common::lab("floods", form);
        let truth = answer(&analyze(input.clone(), pcap, access.clone()));
        for secs in [40, -40] {
            let r = analyze(input.clone(), pcap, access_moved(&access, secs));
            // Whole-second stamps against a capture's microseconds: within a second.
            assert_offset_near(&r, secs, 1.0, form);
            assert!(answer(&r) == truth, "{form} {secs}: the run's own answer");
            assert_eq!(r.unmatched_requests, 0, "{form} {secs}");
            let proxy = r.warnings.iter().any(|w| w.contains("does not name"));
            assert!(!proxy, "{form} {secs}: {:?}", r.warnings);
        }
    }
}

/// The periodic run (the story's pattern: a TCP health check, a port monitor and an HTTP
/// health check every half second to two seconds) with its web server 40 s ahead and 10 min
/// behind. The HTTP check's requests meet its own neighbouring connections at every multiple
/// of its period: counted whole, they put the offset at 0 s (`kern.log`, 57 of 152 requests
/// matched) or at 15 s (`kern-in.log`, 79), and at 10 min no offset was found on any form.
/// Each request now shares one vote among the differences it meets.
#[test]
fn a_health_check_every_two_seconds_does_not_hide_the_offset() {
    let access = common::lab("periodic", "access.log");
    for (form, pcap) in [
        ("kern.log.gz", false),
        ("kern-in.log.gz", false),
        ("ipfw.log", false),
        ("server-in.pcap", true),
    ] {
        let input = common::lab("periodic", form);
        let truth = analyze(input.clone(), pcap, access.clone());
        assert_eq!(truth.correlation.matched, 152, "{form}");
        for secs in [40, -600] {
            let r = analyze(input.clone(), pcap, access_moved(&access, secs));
            // Two seconds: the check's stamps and a capture's microseconds.
            assert_offset_near(&r, secs, 2.0, form);
            assert!(
                answer(&r) == answer(&truth),
                "{form} {secs}: the run's own answer"
            );
        }
    }
}

/// The floods run's inbound log with nine more copies of its flood's lines, each a second
/// later than the one before and its source ports moved (about 1,800 SYNs a second, 216,000
/// connections in two minutes), the web server 40 s ahead. The sample's 50,000 connections
/// filled with the flood's unanswered SYNs before the clients' first connections had ended
/// (180 s on an inbound log): no offset, 7 of 77 requests matched. The SYNs that cannot carry
/// a request, from addresses without one, now go on at once.
#[test]
fn a_dense_flood_does_not_crowd_the_clients_out_of_the_sample() {
    let access = common::lab("floods", "access.log");
    let clients: std::collections::HashSet<&[u8]> = access
        .split(|b| *b == b'\n')
        .filter_map(|l| l.split(|b| *b == b' ').next())
        .filter(|a| !a.is_empty())
        .collect();
    let run = common::lab("floods", "kern-in.log.gz");
    let mut lines: Vec<(u32, Vec<u8>)> = Vec::new();
    for line in run.split_inclusive(|b| *b == b'\n') {
        lines.push((0, line.to_vec()));
        let src = field(line, b"SRC=");
        if src.is_some_and(|a| clients.contains(a)) {
            continue;
        }
        for k in 1..10 {
            lines.push((k, syslog_moved(&port_moved(line, k * 997), i64::from(k))));
        }
    }
    // In time order, as the kernel would have written them.
    lines.sort_by(|(j, a), (k, b)| (a.get(..15), j).cmp(&(b.get(..15), k)));
    let dense: Vec<u8> = lines.into_iter().flat_map(|(_, l)| l).collect();
    let r = analyze(dense, false, access_moved(&access, 40));
    assert!(r.connections_total > 200_000, "{}", r.connections_total);
    assert_offset_near(&r, 40, 1.0, "kern-in.log, flood x10");
    assert_eq!(r.correlation.matched, 77);
}

/// The value after `key` in a netfilter line, up to the next space.
fn field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = line.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = line.get(at..)?;
    let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
    rest.get(..end)
}

/// The line's `SPT=` moved by `by` (within the unprivileged ports).
fn port_moved(line: &[u8], by: u32) -> Vec<u8> {
    let Some(port) = field(line, b"SPT=") else {
        return line.to_vec();
    };
    let old: u32 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1024);
    let new = (old + by) % 64_511 + 1024;
    let at = line.windows(4).position(|w| w == b"SPT=").unwrap_or(0) + 4;
    let mut out = line.get(..at).unwrap_or_default().to_vec();
    out.extend_from_slice(new.to_string().as_bytes());
    out.extend_from_slice(line.get(at + port.len()..).unwrap_or_default());
    out
}

/// Gaps between the copies of the run in [`an_hours_log_of_a_firewall_in_utc_finds_the_zone`]:
/// 150-330 s, no two copies a whole number of quarter hours (± 20 s) apart, so that a copy's
/// clients do not meet another copy's connections at the zone's distance.
const GAPS: [i64; 7] = [238, 208, 165, 243, 169, 285, 311];

/// Eight copies of the floods run one after another (26 minutes), its firewall stamps in UTC
/// and its access log as an Apache in Berlin writes it (`floods-tz/`), against the same with
/// the access log in UTC. Before, the zone was found only on the run itself (its 110 s are
/// shorter than the sample's minute); on these 26 minutes no form found it, and every form
/// said the logs do not overlap.
#[test]
fn an_hours_log_of_a_firewall_in_utc_finds_the_zone() {
    let berlin = common::lab("floods-tz", "access.log");
    let utc = common::lab("floods", "access.log");
    for form in ["ipfw.log.gz", "kern-in.log.gz"] {
        let one = common::lab("floods", form);
        let (mut firewall, mut web, mut web_utc) = (Vec::new(), Vec::new(), Vec::new());
        let mut at = 0;
        for gap in std::iter::once(0).chain(GAPS) {
            at += gap;
            firewall.extend(syslog_moved(&one, at));
            web.extend(access_moved(&berlin, at));
            web_utc.extend(access_moved(&utc, at));
        }
        let truth = analyze(firewall.clone(), false, web_utc);
        assert_eq!(truth.clock_offset_seconds, Some(0.0), "{form}");
        let r = analyze(firewall, false, web);
        assert_eq!(
            r.clock_offset_seconds,
            Some(3600.0),
            "{form}: {:?}",
            r.warnings
        );
        assert!(answer(&r) == answer(&truth), "{form}: the answer in UTC");
        let said = r.warnings.iter().any(|w| w.contains("(give --tz +0000)"));
        assert!(said, "{form}: {:?}", r.warnings);
    }
}
