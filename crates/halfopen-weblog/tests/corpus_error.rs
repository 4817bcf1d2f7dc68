//! Every line of every error-log corpus file parses (or is rejected with a specific error), and
//! agrees with the expectations shipped with the corpus.

use std::collections::HashMap;

use halfopen_weblog::error_log::{self, ErrorFlavor, Known, Level};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

fn files(dir: &str, filter: impl Fn(&str) -> bool) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("{DATA}/{dir}"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| filter(n))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    v.sort();
    v
}

fn wall(ts_us: i64) -> (i64, u32, u32, i64) {
    let s = ts_us.div_euclid(1_000_000);
    let (y, m, d) = halfopen_weblog::time::civil_from_days(s.div_euclid(86_400));
    (y, m, d, s.rem_euclid(86_400))
}

#[test]
fn every_error_corpus_line() {
    let mut all = files("error", |_| true);
    all.extend(files("nginx-error", |_| true));
    all.extend(files("lab", |n| n.contains("-error-")));
    assert_eq!(all.len(), 27);
    let mut failures = Vec::new();
    let mut count = 0;
    for rel in all {
        let data = read(&rel);
        for (n, l) in lines(&data).iter().enumerate() {
            count += 1;
            match error_log::parse(l) {
                Ok(r) => {
                    assert!(
                        r.level.is_some() || r.flavor == ErrorFlavor::Bare,
                        "{rel}:{}",
                        n + 1
                    );
                    assert!(
                        r.time.is_some()
                            || r.syslog_prefix.is_some()
                            || r.flavor == ErrorFlavor::Bare,
                        "{rel}:{}",
                        n + 1
                    );
                }
                Err(e) => failures.push(format!("{rel}:{}: {e}", n + 1)),
            }
        }
    }
    assert!(count > 2500, "{count}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn non_error_lines_are_rejected_specifically() {
    let e =
        error_log::parse(b"127.0.0.1 - - [24/Nov/2026:20:50:08 +0000] \"GET / HTTP/1.1\" 200 6")
            .unwrap_err();
    assert_eq!(e.offset(), Some(0));
    let e = error_log::parse(b"[Tue Nov 24 20:50:18 2026] no level here").unwrap_err();
    assert_eq!(e.offset(), Some(27), "{e}");
    let e = error_log::parse(b"[Tue Nov 99 20:50:18 2026] [error] x").unwrap_err();
    assert_eq!(e.offset(), Some(1), "{e}");
    let e = error_log::parse(b"2026/11/24 20:56:21 [shout] 1#1: x").unwrap_err();
    assert_eq!(e.offset(), Some(21), "{e}");
}

#[test]
fn loghub_levels_and_times() {
    let data = read("error/loghub-Apache_2k.log");
    let csv = String::from_utf8(read("expected/loghub-Apache_2k.log_structured.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let ls = lines(&data);
    assert_eq!(ls.len(), 2000);
    assert_eq!(rows.len(), 2000);
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    for (l, row) in ls.iter().zip(rows) {
        let cols: Vec<&str> = row.splitn(5, ',').collect();
        let r = error_log::parse(l).unwrap();
        assert_eq!(r.flavor, ErrorFlavor::Apache22);
        assert_eq!(r.level, Level::parse(cols[2].as_bytes()), "{row}");
        let (y, m, d, sod) = wall(r.time.unwrap().ts_us);
        let want = &cols[1][4..]; // "Dec 04 04:47:44 2005"
        let got = format!(
            "{} {d:02} {:02}:{:02}:{:02} {y}",
            MON[m as usize - 1],
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        );
        assert_eq!(got, want);
        if cols[3].starts_with("[client ") {
            assert!(r.client.is_some(), "{row}");
        } else if !cols[3].starts_with('"') {
            assert!(
                r.message
                    .starts_with(cols[3].split("<*>").next().unwrap().as_bytes()),
                "{row}"
            );
        }
    }
}

#[test]
fn fail2ban_error_expectations() {
    let mut checked = 0;
    for name in [
        "apache-auth",
        "apache-botsearch",
        "apache-modsecurity",
        "apache-nohome",
        "apache-noscript",
        "apache-overflows",
        "apache-shellshock",
        "nginx-http-auth",
        "nginx-limit-req",
        "nginx-forbidden",
    ] {
        let exp = read(&format!("expected/fail2ban-{name}.expected.jsonl"));
        for l in lines(&exp) {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            let line = v["line"].as_str().unwrap();
            let Some(fj) = v["failJSON"].as_str() else {
                continue;
            };
            let fj: serde_json::Value = serde_json::from_str(fj).unwrap();
            let r = error_log::parse(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
            if fj["match"] == true {
                if let Some(host) = fj.get("host").and_then(|h| h.as_str()) {
                    assert_eq!(
                        r.client.map(|c| c.to_string()).as_deref(),
                        Some(host),
                        "{line}"
                    );
                }
                if let (Some(t), Some(ours)) = (fj.get("time").and_then(|h| h.as_str()), r.time) {
                    let (y, m, d, sod) = wall(ours.ts_us);
                    let got = format!(
                        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
                        sod / 3600,
                        sod / 60 % 60,
                        sod % 60
                    );
                    assert_eq!(&got, t.split('.').next().unwrap(), "{line}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "{checked}");
}

#[test]
fn dos_vector_line_keeps_the_real_client() {
    let data = read("error/fail2ban-apache-auth.log");
    let r = error_log::parse(lines(&data)[0]).unwrap();
    assert_eq!(r.client, Some("192.168.33.1".parse().unwrap()));
}

/// Every AH code SCENARIOS.tsv lists for an Apache client port is found, with that client port,
/// in the run's error log.
#[test]
fn lab_scenarios_error_codes() {
    let tsv = String::from_utf8(read("lab/SCENARIOS.tsv")).unwrap();
    let runs = [
        ("apache-default-a", "default-a"),
        ("apache-default-b", "default-b"),
        ("apache-noreqtimeout-timeout10", "noreqtimeout-timeout10"),
        ("apache-acceptfilter-none", "acceptfilter-none"),
        ("apache-prefork", "prefork"),
    ];
    let mut by_port: HashMap<(&str, u16), Vec<u32>> = HashMap::new();
    let mut logs = Vec::new();
    for (run, file) in runs {
        logs.push((
            run,
            read(&format!(
                "lab/apache-2.4.71-debian12-{file}-error-loglevel-debug.log"
            )),
        ));
    }
    for (run, data) in &logs {
        for l in lines(data) {
            let r = error_log::parse(l).unwrap();
            if let (Some(p), Some(c)) = (r.client_port, r.code) {
                by_port.entry((run, p)).or_default().push(c.0);
            }
        }
    }
    let mut checked = 0;
    let mut timeouts = 0;
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if !cols[0].starts_with("apache") {
            continue;
        }
        let port: u16 = cols[3].parse().unwrap();
        for msg in cols[8].split(" | ") {
            let Some(code) = msg.split(' ').find_map(|w| w.strip_prefix("AH")) else {
                continue;
            };
            let code: u32 = code.parse().unwrap();
            let got = by_port.get(&(cols[0], port)).cloned().unwrap_or_default();
            assert!(
                got.contains(&code),
                "{} {port}: AH{code} not found (got {got:?})",
                cols[0]
            );
            if halfopen_weblog::error_log::AhCode(code).known()
                == Some(Known::RequestHeaderReadTimeout)
            {
                timeouts += 1;
            }
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");
    assert!(timeouts > 10, "{timeouts}");
}

#[test]
fn nginx_lab_error_log() {
    let data = read("lab/nginx-1.22.1-debian12-error-level-info.log");
    let mut conns = 0;
    for l in lines(&data) {
        let r = error_log::parse(l).unwrap();
        assert_eq!(r.flavor, ErrorFlavor::Nginx);
        if r.connection.is_some() {
            conns += 1;
        }
    }
    assert!(conns > 20, "{conns}");
}
