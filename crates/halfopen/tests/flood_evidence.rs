//! A flood needs real evidence: a lone unanswered SYN is not one, attempts whose outcome the
//! log does not show are a flood only when the access log covers them and holds no request
//! from the address, and a missing access log is not blamed.

use std::io::Cursor;

use halfopen::{Analyzer, Confidence, Options, Report, Verdict};

const ATTACKER: &str = "45.76.87.206";

fn syn(sec: u32, port: u16) -> String {
    format!(
        "Mar  1 18:{:02}:{:02} web kernel: ipfw: 100 Accept TCP {ATTACKER}:{port} 116.58.172.107:80 in via em0\n",
        49 + sec / 60,
        sec % 60
    )
}

/// Another client's packet `sec` seconds in: it moves the end of the log.
fn later(sec: u32) -> String {
    format!(
        "Mar  1 18:{:02}:{:02} web kernel: ipfw: 100 Accept TCP 81.2.69.160:40000 116.58.172.107:443 in via em0\n",
        49 + sec / 60,
        sec % 60
    )
}

/// An access log covering the first five minutes, with another client's requests.
fn access() -> String {
    (0..10)
        .map(|i| format!("81.2.69.160 - - [01/Mar/2026:18:{:02}:00 +0000] \"GET / HTTP/1.1\" 200 3407 \"-\" \"Mozilla/5.0\"\n", 49 + i / 2))
        .collect()
}

fn run_with(fw: String, access: Option<String>, opts: Options) -> Report {
    let mut a = Analyzer::new(Options {
        year: Some(2026),
        ..opts
    });
    a.add_firewall("ipfw.log", Cursor::new(fw.into_bytes()));
    if let Some(log) = access {
        a.add_access("access.log", Cursor::new(log.into_bytes()));
    }
    a.finish()
}

fn run(fw: String, opts: Options) -> Report {
    run_with(fw, Some(access()), opts)
}

fn attacker(r: &Report) -> &halfopen::report::SourceReport {
    r.sources
        .iter()
        .find(|s| s.addr.to_string() == ATTACKER)
        .expect("attacker listed")
}

#[test]
fn one_or_two_unanswered_syns_are_not_a_flood() {
    for n in 1..=2u16 {
        let mut fw: String = (0..n).map(|i| syn(u32::from(i), 58896 + i)).collect();
        fw.push_str(&later(300));
        let r = run(fw, Options::default());
        let s = attacker(&r);
        assert_eq!(
            (s.verdict, s.confidence),
            (Verdict::Unknown, Confidence::Low)
        );
        let want = format!("only {n} unanswered SYN(s): too few to call a flood");
        assert!(
            s.evidence.iter().any(|e| e.sentence.starts_with(&want)),
            "{:?}",
            s.evidence
        );
        assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
        assert!(!r.headline.iter().any(|h| h.contains("syn_flood")));
    }
}

/// Twelve SYNs, one every 5 s, are the pace of a periodic client (a health check, a monitor),
/// too slow to fill a listen queue: not a flood, and the report says so (the lab's periodic
/// run: haproxy's checks and `nc -z` were blocked as floods from this form).
#[test]
fn a_periodic_client_is_too_slow_to_flood() {
    let mut fw: String = (0..12u16)
        .map(|i| syn(u32::from(i) * 5, 40000 + i * 7))
        .collect();
    fw.push_str(&later(300));
    let r = run(fw, Options::default());
    let s = attacker(&r);
    assert_eq!(s.verdict, Verdict::Unknown);
    assert!(
        s.evidence
            .iter()
            .any(|e| e.sentence.contains("too slow to fill a listen queue")),
        "{:?}",
        s.evidence
    );
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
}

#[test]
fn enough_syns_make_a_flood_and_the_minimum_is_configurable() {
    // 300 SYNs in 30 s, 10 a second: a pace that fills Apache's default listen queue.
    let mut fw: String = (0..300u16)
        .map(|i| syn(u32::from(i) / 10, 40000 + i * 7))
        .collect();
    fw.push_str(&later(300));
    let r = run(fw.clone(), Options::default());
    assert_eq!(attacker(&r).verdict, Verdict::SynFlood);
    assert_eq!(r.blocklist, [format!("{ATTACKER}/32")]);
    assert!(
        r.headline
            .iter()
            .any(|h| h.contains("has no request in the access log")),
        "{:?}",
        r.headline
    );
    let strict = run(
        fw.clone(),
        Options {
            rules: halfopen::judge::Rules {
                min_flood_attempts: 301,
                ..halfopen::judge::Rules::default()
            },
            ..Options::default()
        },
    );
    assert_eq!(attacker(&strict).verdict, Verdict::Unknown);
    assert!(strict.blocklist.is_empty());
    // No access log: attempts alone (one line per connection) cannot tell a flood from a busy
    // client; the report says what is missing and blocks nothing.
    let blind = run_with(fw, None, Options::default());
    let s = attacker(&blind);
    assert_eq!(
        (s.verdict, s.confidence),
        (Verdict::Unknown, Confidence::Low)
    );
    assert!(
        s.evidence
            .iter()
            .any(|e| e.sentence.contains("give the access log")),
        "{:?}",
        s.evidence
    );
    assert!(blind.blocklist.is_empty());
}

#[test]
fn many_sources_of_one_network_with_few_syns_each_are_a_flood() {
    let mut fw = String::new();
    for host in 1..=20u8 {
        for k in 0..3u32 {
            fw.push_str(&format!(
                "Mar  1 18:49:{:02} web kernel: ipfw: 100 Accept TCP 198.51.100.{host}:{} 116.58.172.107:80 in via em0\n",
                k * 10 + u32::from(host % 10),
                1024 + u32::from(host) * 3 + k
            ));
        }
    }
    fw.push_str(&later(300));
    let r = run(fw, Options::default());
    let members: Vec<_> = r
        .sources
        .iter()
        .filter(|s| s.addr.to_string().starts_with("198.51.100."))
        .collect();
    assert_eq!(members.len(), 20);
    for m in members {
        assert_eq!(m.verdict, Verdict::SynFlood, "{}", m.addr);
        assert!(
            m.evidence[0]
                .sentence
                .starts_with("one of 20 addresses in 198.51.100.0/27")
        );
    }
    assert_eq!(r.blocklist, ["198.51.100.0/27"]);
}

#[test]
fn an_office_network_in_a_syn_only_log_is_not_a_flood() {
    // Ten browsers of one /24, one ordinary SYN each, a SYN-only log and no access log: every
    // connection looks unanswered, which proves nothing.
    let mut fw = String::new();
    for host in 1..=10u8 {
        fw.push_str(&format!(
            "Mar  1 18:49:{host:02} web kernel: IN=eth0 OUT= SRC=192.0.2.{host} DST=116.58.172.107 LEN=60 TOS=0x00 PREC=0x00 TTL=53 ID={host} PROTO=TCP SPT={} DPT=80 WINDOW=64240 RES=0x00 SYN URGP=0 \n",
            40000 + u32::from(host)
        ));
    }
    fw.push_str("Mar  1 18:55:00 web kernel: IN=eth0 OUT= SRC=81.2.69.160 DST=116.58.172.107 LEN=60 TOS=0x00 PREC=0x00 TTL=53 ID=1 PROTO=TCP SPT=50000 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0 \n");
    let r = run_with(fw, None, Options::default());
    assert_eq!(r.inputs[0].format.as_deref(), Some("netfilter"));
    assert!(r.sources.iter().all(|s| s.verdict == Verdict::Unknown));
    assert!(r.blocklist.is_empty(), "{:?}", r.blocklist);
}
