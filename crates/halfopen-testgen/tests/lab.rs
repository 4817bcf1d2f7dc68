//! The simulated Apache behaves like the real one in the lab captures (tests/data, see PROVENANCE.md):
//! same access-log status, request field and `%b`, the same error-log messages (at the simulated
//! `LogLevel info core:debug`), and the same timing within a small tolerance.

use halfopen_testgen::{Actor, Behavior, Rendered, Scenario};
use regex::Regex;
use std::collections::BTreeSet;

const SCENARIOS: &str = include_str!("data/SCENARIOS.tsv");
const LAB_ACCESS: &str = include_str!("data/apache-2.4.71-debian12-default-a-access-debugfmt.log");
const LAB_ERROR: &str =
    include_str!("data/apache-2.4.71-debian12-default-a-error-loglevel-debug.log");
const LAB_TCPDUMP: &str =
    include_str!("data/apache-2.4.71-defer-accept-idle-connection.tcpdump.txt");

/// What one connection left in the logs.
#[derive(Debug, Default)]
struct Outcome {
    /// (request field, status, %b, %D)
    access: Vec<(String, u16, String, i64)>,
    /// (module:level, source file prefix, message from the AH code on)
    errors: BTreeSet<(String, String, String)>,
}

fn visible_at_info_core_debug(module: &str, level: &str) -> bool {
    matches!(
        level,
        "emerg" | "alert" | "crit" | "error" | "warn" | "notice" | "info"
    ) || (module == "core" && level == "debug")
}

fn error_re() -> Regex {
    Regex::new(r"^\[[^\]]+\] \[([a-z_0-9]+):([a-z0-9]+)\] \[pid \d+:tid \d+\] (?:(\S+\.c\(\d+\)): )?\[client ([^\]]+):(\d+)\] (AH\d{5}: .*)$").unwrap()
}

fn errors_for(log: &str, port: u16) -> BTreeSet<(String, String, String)> {
    let re = error_re();
    log.lines()
        .filter_map(|l| re.captures(l))
        .filter(|c| c[5].parse::<u16>().ok() == Some(port))
        .filter(|c| visible_at_info_core_debug(&c[1], &c[2]))
        .map(|c| {
            (
                format!("{}:{}", &c[1], &c[2]),
                c.get(3).map_or("", |m| m.as_str()).to_string(),
                c[6].to_string(),
            )
        })
        .collect()
}

fn lab(port: u16) -> Outcome {
    let re =
        Regex::new(r#" rport=(\d+) .*? "((?:[^"\\]|\\.)*)" s=\d+ >s=(\d+) b=(\S+) .* D=(\d+) "#)
            .unwrap();
    let access = LAB_ACCESS
        .lines()
        .filter_map(|l| re.captures(l))
        .filter(|c| c[1].parse::<u16>().ok() == Some(port))
        .map(|c| {
            (
                c[2].to_string(),
                c[3].parse().unwrap(),
                c[4].to_string(),
                c[5].parse().unwrap(),
            )
        })
        .collect();
    Outcome {
        access,
        errors: errors_for(LAB_ERROR, port),
    }
}

/// Seconds until the server closed, from SCENARIOS.tsv (run apache-default-a).
fn lab_seconds(scenario: &str) -> f64 {
    let row = SCENARIOS
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"apache-default-a") && f.get(1) == Some(&scenario))
        .unwrap_or_else(|| panic!("no lab row {scenario}"));
    row[6].parse().unwrap()
}

fn simulate(behavior: Behavior) -> (Scenario, Rendered) {
    let mut s = Scenario::new(
        "203.0.113.80".parse().unwrap(),
        80,
        1_772_390_940_000_000,
        11,
    );
    s.loss_permille = 0;
    s.actors.push(Actor {
        addr: "192.0.2.50".parse().unwrap(),
        behavior,
        start_us: 0,
    });
    let r = s.render();
    (s, r)
}

/// The outcome of the only connection (port) of the simulated actor.
fn ours(r: &Rendered) -> (u16, Outcome) {
    let re = Regex::new(r#"^\S+ (\d+) - - \[[^\]]+\] "((?:[^"\\]|\\.)*)" (\d{3}) (\S+) (\d+) "#)
        .unwrap();
    let mut port = 0;
    let access = r
        .access_with_port
        .lines()
        .map(|l| {
            let c = re.captures(l).unwrap();
            port = c[1].parse().unwrap();
            (
                c[2].to_string(),
                c[3].parse().unwrap(),
                c[4].to_string(),
                c[5].parse().unwrap(),
            )
        })
        .collect();
    let syn = r.netfilter_syn_only.lines().next().unwrap();
    let p: u16 = syn
        .split(" SPT=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    if port == 0 {
        port = p;
    }
    (
        port,
        Outcome {
            access,
            errors: errors_for(&r.error_log, port),
        },
    )
}

fn uptime(line: &str) -> f64 {
    line.split('[')
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Seconds from the client's first SYN to the server's FIN (or RST) in the simulated capture.
fn seconds_until_server_close(r: &Rendered) -> f64 {
    let syn = r.netfilter_all.lines().next().expect("a SYN");
    let close = r
        .netfilter_all
        .lines()
        .find(|l| l.contains("[OUTPUT]") && (l.contains(" FIN ") || l.contains(" RST ")))
        .expect("the server closed");
    uptime(close) - uptime(syn)
}

#[test]
fn idle_no_data() {
    let lab = lab(41005);
    let (_, r) = simulate(Behavior::IdleUntilTimeout { connections: 1 });
    let (_, ours) = ours(&r);
    assert_eq!(lab.errors, ours.errors);
    assert_eq!(lab.access.len(), 1);
    assert_eq!(ours.access.len(), 1);
    let (lr, ls, lb, ld) = &lab.access[0];
    let (or, os, ob, od) = &ours.access[0];
    assert_eq!((lr, ls, lb), (or, os, ob), "request field, status and %b");
    assert!(*ld < 1_000 && *od < 1_000, "%D {ld} vs {od}");
    let (want, got) = (lab_seconds("idle_no_data"), seconds_until_server_close(&r));
    assert!(
        (want - got).abs() < 0.6,
        "server closed after {got} s, lab {want} s"
    );
}

#[test]
fn defer_accept_synack_retransmission() {
    // Lab tcpdump: SYN-ACK at .256377, its retransmission at +31.512 s.
    let ts: Vec<f64> = LAB_TCPDUMP
        .lines()
        .filter(|l| l.contains("Flags [S.]"))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let lab_gap = ts[1] - ts[0];
    let (_, r) = simulate(Behavior::IdleUntilTimeout { connections: 1 });
    let up: Vec<f64> = r
        .netfilter_all
        .lines()
        .filter(|l| l.contains(" ACK SYN "))
        .map(uptime)
        .collect();
    assert_eq!(up.len(), 2);
    assert!(
        ((up[1] - up[0]) - lab_gap).abs() < 0.05,
        "ours {} lab {lab_gap}",
        up[1] - up[0]
    );
}

#[test]
fn slowloris_headers() {
    let lab = lab(41008);
    let (_, r) = simulate(Behavior::Slowloris {
        connections: 1,
        interval_ms: 5_000,
    });
    let (_, ours) = ours(&r);
    assert_eq!(lab.errors, ours.errors);
    let (lr, ls, lb, ld) = &lab.access[0];
    let (or, os, ob, od) = &ours.access[0];
    assert_eq!((ls, lb), (os, ob));
    let shape = Regex::new(r"^GET /\S* HTTP/1\.1$").unwrap();
    assert!(shape.is_match(lr) && shape.is_match(or), "{lr} / {or}");
    assert!((ld - od).abs() < 100_000, "%D lab {ld} ours {od}");
}

#[test]
fn tls_clienthello_on_plain() {
    let lab = lab(41013);
    let (_, r) = simulate(Behavior::TlsOnHttp { connections: 1 });
    let (_, ours) = ours(&r);
    assert_eq!(lab.errors, ours.errors);
    let (lr, ls, lb, _) = &lab.access[0];
    let (or, os, ob, _) = &ours.access[0];
    assert_eq!((lr, ls, lb), (or, os, ob));
}

#[test]
fn h2_preface_on_http1_port() {
    let lab = lab(41015);
    let (_, r) = simulate(Behavior::H2PrefaceOnHttp1 { connections: 1 });
    let (_, ours) = ours(&r);
    assert_eq!(lab.errors, ours.errors);
    let (lr, ls, lb, _) = &lab.access[0];
    let (or, os, ob, _) = &ours.access[0];
    assert_eq!((lr, ls, lb), (or, os, ob));
}

#[test]
fn connect_close_and_connect_rst_log_nothing() {
    for (port, behavior) in [
        (
            41003,
            Behavior::Preconnect {
                connections: 1,
                idle_ms: 0,
            },
        ),
        (41004, Behavior::ConnectScan { ports: vec![80] }),
    ] {
        let lab = lab(port);
        assert!(lab.access.is_empty() && lab.errors.is_empty());
        let (_, r) = simulate(behavior);
        let (_, ours) = ours(&r);
        assert!(ours.access.is_empty() && ours.errors.is_empty(), "{ours:?}");
    }
}

#[test]
fn a_404_logs_ah00128_like_the_lab() {
    let lab = lab(41001);
    assert_eq!(lab.access[0].1, 404);
    let lab_err: Vec<_> = lab
        .errors
        .iter()
        .map(|(m, s, msg)| {
            (
                m.clone(),
                s.clone(),
                msg.split(": ").next().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        lab_err,
        vec![(
            "core:info".to_string(),
            String::new(),
            "AH00128".to_string()
        )]
    );
    let r = halfopen_testgen::scenarios::mixed(1).render();
    let re = error_re();
    let mut n404 = 0;
    for l in r.access_with_port.lines().filter(|l| l.contains("\" 404 ")) {
        n404 += 1;
        let port = l.split(' ').nth(1).unwrap();
        let path = l.split("\"GET ").nth(1).unwrap().split(' ').next().unwrap();
        let hits: Vec<_> = r
            .error_log
            .lines()
            .filter_map(|e| re.captures(e))
            .filter(|c| &c[5] == port && &c[1] == "core" && &c[2] == "info")
            .filter(|c| {
                c[6].starts_with(&format!(
                    "AH00128: File does not exist: /var/www/html{path}"
                ))
            })
            .collect();
        assert_eq!(hits.len(), 1, "{l}");
    }
    assert!(n404 > 0);
}
