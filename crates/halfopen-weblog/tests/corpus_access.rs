//! Every line of every access-log corpus file (copied in tests/data, see PROVENANCE.md) parses
//! with the right format, or is rejected with the specific error listed here.

use halfopen_weblog::{Client, LogFormat, unescape};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

const APACHE_DEBUGFMT: &str = r#"%a rport=%{remote}p lport=%{local}p %t t_end=%{end:%d/%b/%Y:%H:%M:%S}t.%{end:usec_frac}t usec=%{usec}t \"%r\" s=%s >s=%>s b=%b B=%B I=%I O=%O S=%S D=%D T=%T Tms=%{ms}T X=%X k=%k L=%L m=%m U=%U q=%q H=%H u=%u l=%l P=%P tid=%{tid}P"#;
const NGINX_DEBUGFMT: &str = r#"$remote_addr rport=$remote_port lport=$server_port [$time_local] "$request" s=$status bbs=$body_bytes_sent bs=$bytes_sent rl=$request_length rt=$request_time conn=$connection reqs=$connection_requests "$http_referer" "$http_user_agent" u="$remote_user" m="$request_method" uri="$request_uri" proto="$server_protocol""#;

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

fn preset(n: &str) -> LogFormat {
    LogFormat::preset(n).unwrap()
}

/// Parse every line with the first format that accepts it (files mix formats); lines no format
/// accepts are reported with the first format's error.
fn failures(rel: &str, formats: &[LogFormat]) -> Vec<String> {
    let data = read(rel);
    let mut out = Vec::new();
    for (n, line) in lines(&data).iter().enumerate() {
        let mut first_err = None;
        let mut ok = false;
        for f in formats {
            match f.parse(line) {
                Ok(_) => {
                    ok = true;
                    break;
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if !ok {
            out.push(format!("{rel}:{}: {}", n + 1, first_err.unwrap()));
        }
    }
    out
}

fn std_formats() -> Vec<LogFormat> {
    [
        "combined",
        "common",
        "vhost_combined",
        "vhost_common",
        "combinedio",
    ]
    .map(preset)
    .to_vec()
}

#[test]
fn every_access_corpus_line() {
    let mut all = Vec::new();
    for dir in ["access", "nginx-access"] {
        let mut names: Vec<_> = std::fs::read_dir(format!("{DATA}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        for name in names {
            all.extend(failures(&format!("{dir}/{name}"), &std_formats()));
        }
    }
    all.extend(failures(
        "access-custom/elastic-beats-filebeat-apache-ssl-request.log",
        &[LogFormat::compile(r#"%t %h %{SSL_PROTOCOL}x %{SSL_CIPHER}x \"%r\" %b"#).unwrap()],
    ));
    let expected = EXPECTED_FAILURES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>();
    assert_eq!(all, expected, "\nactual:\n{}\n", all.join("\n"));
}

/// Lines that are not in any standard format, and why (reviewed by hand).
const EXPECTED_FAILURES: &str = r#"
access/apachelogs-test-data-vhost_combined.log:5: at byte 8: expected the literal text of format item 3
access/fail2ban-apache-fakegooglebot.log:1: at byte 16: expected a timestamp for %t
access/fail2ban-apache-fakegooglebot.log:2: at byte 18: expected a timestamp for %t
access/fail2ban-apache-pass.log:1: at byte 19: expected a timestamp for %t
nginx-access/crowdsec-hub-nginx_http-logs-access.log:8: at byte 36: expected a timestamp for %t
nginx-access/fail2ban-nginx-botsearch.log:9: at byte 28: expected a timestamp for %t
nginx-access/fail2ban-nginx-botsearch.log:10: at byte 28: expected a timestamp for %t
nginx-access/fail2ban-nginx-botsearch.log:11: at byte 28: expected a timestamp for %t
nginx-access/fail2ban-nginx-botsearch.log:12: at byte 28: expected a timestamp for %t
nginx-access/fail2ban-nginx-botsearch.log:13: at byte 29: expected a timestamp for %t
nginx-access/fail2ban-nginx-botsearch.log:14: at byte 29: expected a timestamp for %t
"#;

#[test]
fn lab_files_all_parse() {
    let mut names: Vec<_> = std::fs::read_dir(format!("{DATA}/lab"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("-access-"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 18);
    for name in names {
        let f = if name.starts_with("nginx") {
            if name.ends_with("debugfmt.log") {
                LogFormat::compile_nginx(NGINX_DEBUGFMT).unwrap()
            } else {
                preset("nginx_combined")
            }
        } else if name.ends_with("debugfmt.log") {
            LogFormat::compile(APACHE_DEBUGFMT).unwrap()
        } else if name.ends_with("upstream-combined.log") {
            preset("combined")
        } else if name.ends_with("vhost_combined.log") {
            preset("vhost_combined")
        } else {
            preset("combined_debian")
        };
        let rel = format!("lab/{name}");
        let data = read(&rel);
        for (n, line) in lines(&data).iter().enumerate() {
            let r = f.parse(line).unwrap_or_else(|e| {
                panic!("{rel}:{}: {e}: {}", n + 1, String::from_utf8_lossy(line))
            });
            assert!(r.time.is_some(), "{rel}:{}", n + 1);
            assert!(r.status.is_some(), "{rel}:{}", n + 1);
            assert!(r.trailing.is_empty(), "{rel}:{}", n + 1);
            assert_eq!(r.client, Some(Client::Ip("127.0.0.1".parse().unwrap())));
            if name.ends_with("debugfmt.log") {
                assert!(r.client_port.is_some());
                assert!(r.server_port.is_some());
            }
        }
    }
}

/// What the lab client sent, by client port, checked against the debugfmt logs (`SCENARIOS.tsv`).
#[test]
fn lab_scenarios_match_debugfmt_lines() {
    let tsv = read("lab/SCENARIOS.tsv");
    let tsv = String::from_utf8(tsv).unwrap();
    let mut expected = std::collections::HashMap::new();
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        assert_eq!(cols.len(), 9, "{row}");
        let server = if cols[0].starts_with("nginx") {
            "nginx"
        } else {
            "apache"
        };
        let port: u16 = cols[3].parse().unwrap();
        expected.insert((server, port), (cols[1].to_owned(), cols[7].to_owned()));
    }
    let apache = LogFormat::compile(APACHE_DEBUGFMT).unwrap();
    let nginx = LogFormat::compile_nginx(NGINX_DEBUGFMT).unwrap();
    let mut checked = 0;
    let mut names: Vec<_> = std::fs::read_dir(format!("{DATA}/lab"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with("debugfmt.log"))
        .collect();
    names.sort();
    for name in names {
        let (server, f) = if name.starts_with("nginx") {
            ("nginx", &nginx)
        } else {
            ("apache", &apache)
        };
        let data = read(&format!("lab/{name}"));
        for line in lines(&data) {
            let r = f.parse(line).unwrap();
            if r.request.is_some_and(|q| q.raw == b"OPTIONS * HTTP/1.0")
                && r.server_port == Some(18084)
            {
                continue; // Apache waking its own children: not a lab client
            }
            let port = r.client_port.unwrap();
            let Some((scenario, status_req)) = expected.get(&(server, port)) else {
                panic!("{name}: client port {port} not in SCENARIOS.tsv");
            };
            // e.g. `400 "\x16\x03\x01\x02"` or `408 "-"` (several lines: ` | `-separated)
            let req = match r.request {
                Some(q) => String::from_utf8_lossy(q.raw).into_owned(),
                None => "-".to_owned(),
            };
            let status = r.status.map_or("-".to_owned(), |s| s.to_string());
            let want = format!("{status} \"{req}\"");
            // SCENARIOS.tsv abbreviates long request lines as `...(N chars)`.
            let ok = status_req.split(" | ").any(|s| match s.find("...(") {
                Some(k) => want.starts_with(&s[..k]),
                None => s == want,
            });
            assert!(
                ok,
                "{name} port {port} ({scenario}): got {}, SCENARIOS says {status_req}",
                &want[..want.len().min(80)]
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn tls_and_junk_request_lines() {
    let f = preset("combined");
    let data = read("access/crowdsec-hub-apache2-malformed.log");
    for line in lines(&data) {
        let r = f.parse(line).unwrap();
        let req = r.request.unwrap();
        assert!(
            req.raw.starts_with(br"\x16\x03\x01"),
            "{}",
            String::from_utf8_lossy(req.raw)
        );
        assert_eq!(unescape(req.raw).first(), Some(&0x16));
        assert_eq!(req.method, None);
        assert_eq!((r.status, r.bytes), (Some(400), Some(226)));
    }
    let gh0st = read("access/apachelogs-test_decoding-gh0st.log");
    let r = f.parse(lines(&gh0st)[0]).unwrap();
    let req = r.request.unwrap();
    assert_eq!(&*unescape(req.raw), b"Gh0st\xad");
    assert_eq!((req.method, r.status, r.bytes), (None, Some(400), Some(0)));

    let nginx = preset("nginx_combined");
    let data = read("nginx-access/crowdsec-hub-nginx-http-malformed.log");
    let r = nginx.parse(lines(&data)[0]).unwrap();
    assert!(r.request.is_some());
    let pri = read("lab/apache-2.4.71-debian12-default-a-access-combined.log");
    let pri_line = lines(&pri)
        .into_iter()
        .find(|l| l.windows(3).any(|w| w == b"PRI"))
        .unwrap();
    let r = preset("combined_debian").parse(pri_line).unwrap();
    let q = r.request.unwrap();
    assert_eq!(
        (q.method, q.target, q.protocol),
        (Some(&b"PRI"[..]), Some(&b"*"[..]), Some(&b"HTTP/2.0"[..]))
    );
}

#[test]
fn elastic_expected_fields() {
    let f = std_formats();
    let data = read("access/elastic-beats-filebeat-apache-access-test.log");
    let expected: serde_json::Value = serde_json::from_slice(&read(
        "expected/elastic-beats-filebeat-apache-access-test.log-expected.json",
    ))
    .unwrap();
    for (line, exp) in lines(&data).iter().zip(expected.as_array().unwrap()) {
        let r = f.iter().find_map(|f| f.parse(line).ok()).unwrap();
        let addr = match r.client.unwrap() {
            Client::Ip(ip) => ip.to_string(),
            Client::Host(h) => String::from_utf8(h.to_vec()).unwrap(),
        };
        assert_eq!(exp["source.address"], addr.as_str());
        assert_eq!(
            exp["http.response.status_code"],
            u64::from(r.status.unwrap())
        );
        let q = r.request;
        match exp.get("http.request.method") {
            Some(m) => {
                let m2 =
                    String::from_utf8(q.unwrap().method.unwrap().to_ascii_lowercase()).unwrap();
                assert_eq!(m, m2.as_str());
                assert_eq!(
                    exp["url.original"],
                    std::str::from_utf8(q.unwrap().target.unwrap()).unwrap()
                );
            }
            None => assert!(q.is_none()),
        }
        if let Some(b) = exp.get("http.response.body.bytes") {
            assert_eq!(b, r.bytes.unwrap());
        }
    }
}

/// fail2ban's expectations: the host and the wall-clock time of every matching line.
#[test]
fn fail2ban_expected_hosts_and_times() {
    let f = std_formats();
    for name in ["badbots", "fakegooglebot", "pass"] {
        let exp = read(&format!("expected/fail2ban-apache-{name}.expected.jsonl"));
        for l in lines(&exp) {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            let line = v["line"].as_str().unwrap();
            let Some(fj) = v["failJSON"].as_str() else {
                continue;
            };
            let fj: serde_json::Value = serde_json::from_str(fj).unwrap();
            let Some(r) = f.iter().find_map(|f| f.parse(line.as_bytes()).ok()) else {
                // only the custom-format fakegooglebot lines are not standard
                assert!(name == "fakegooglebot" || name == "pass", "{line}");
                continue;
            };
            if let Some(host) = fj.get("host").and_then(|h| h.as_str()) {
                assert_eq!(r.client.unwrap().ip().unwrap().to_string(), host, "{line}");
            }
            if let Some(t) = fj.get("time").and_then(|h| h.as_str()) {
                // fail2ban's test suite runs in Europe/Berlin and converts to it.
                assert_eq!(berlin(r.time.unwrap().ts_us), t, "{line}");
            }
        }
    }
}

fn berlin(ts_us: i64) -> String {
    let t = chrono::DateTime::from_timestamp_micros(ts_us).unwrap();
    t.with_timezone(&chrono_tz::Europe::Berlin)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

#[test]
fn logstash_dash_and_empty() {
    let f = preset("combined");
    let data = read("access/logstash-patterns-core-httpd_spec.log");
    let ls = lines(&data);
    let r = f.parse(ls[1]).unwrap();
    assert_eq!(r.referer, Some(&b""[..]));
    assert!(r.remote_user.unwrap().contains(&b'@'));
    let r = f.parse(ls[2]).unwrap();
    assert_eq!(r.status, None);
}

/// Formats the single-pass fast path handles (every preset, a custom `%{remote}p %D` format,
/// a format using every fast-path directive, nginx formats).
fn fast_formats() -> Vec<LogFormat> {
    let mut v: Vec<LogFormat> = [
        "combined",
        "combined_debian",
        "vhost_combined",
        "combinedio",
        "common",
        "vhost_common",
        "nginx_combined",
    ]
    .map(preset)
    .to_vec();
    v.push(
        LogFormat::compile(
            r#"%h %{remote}p %l %u %t \"%r\" %>s %b %D \"%{Referer}i\" \"%{User-Agent}i\""#,
        )
        .unwrap(),
    );
    v.push(LogFormat::compile(r#"%a %{c}a %A %v:%p "%u" %{end}t "%{X-Forwarded-For}i" %s %B %I %O %S %{ms}T %k %X %P %{tid}P "%r""#).unwrap());
    v.push(
        LogFormat::compile(
            r#"[%a]:%{remote}p %{local}p %l %t "%r" %<s %T "%{User-agent}i" %{Referer}i"#,
        )
        .unwrap(),
    );
    v.push(LogFormat::compile_nginx(r#"$remote_addr - $remote_user [$time_local] "$request" $status $bytes_sent $connection "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#).unwrap());
    v
}

#[test]
fn fast_path_agrees_with_general_matcher_on_every_corpus_line() {
    let formats = fast_formats();
    // All but the last-but-one (unquoted referer at the end) have a fast path.
    let with_fast = formats.iter().filter(|f| f.has_fast_path()).count();
    assert_eq!(with_fast, formats.len() - 1);
    assert!(!LogFormat::preset("referer").unwrap().has_fast_path());
    let mut checked = 0usize;
    let mut accepted = 0usize;
    let mut fast = 0usize;
    for dir in ["access", "nginx-access", "access-custom", "lab"] {
        for e in std::fs::read_dir(format!("{DATA}/{dir}")).unwrap() {
            let data = std::fs::read(e.unwrap().path()).unwrap();
            for f in &formats {
                let mut p = f.parser();
                for line in lines(&data) {
                    let general = f.parse_general(line);
                    assert_eq!(f.parse(line), general, "{}", String::from_utf8_lossy(line));
                    assert_eq!(p.parse(line), general, "{}", String::from_utf8_lossy(line));
                    checked += 1;
                    // Lines with extra fields after the format go to the general matcher.
                    accepted += usize::from(general.as_ref().is_ok_and(|r| r.trailing.is_empty()));
                    fast += usize::from(f.parse_fast(line).is_some());
                }
            }
        }
    }
    assert!(checked > 15_000 && accepted > 1_000, "{checked} {accepted}");
    // Every line the format matches exactly takes the fast path.
    assert!(fast * 100 >= accepted * 99, "{fast} of {accepted}");
}

/// Detection stops at the first preset that parses every line of the sample; on every corpus
/// file (the first 200 lines, as the analyzer samples) it picks the format trying every preset
/// picks: the most lines parsed, the first of equals.
#[test]
fn detection_stopping_at_a_full_parse_picks_what_trying_all_picks() {
    let mut files = Vec::new();
    for dir in ["access", "access-custom", "nginx-access"] {
        for e in std::fs::read_dir(format!("{DATA}/{dir}")).unwrap() {
            let name = e.unwrap().file_name().into_string().unwrap();
            files.push(format!("{dir}/{name}"));
        }
    }
    assert!(files.len() >= 20, "{} files", files.len());
    for rel in files {
        let data = read(&rel);
        let sample: Vec<&[u8]> = data.split(|c| *c == b'\n').take(200).collect();
        let mut all: Option<(usize, String)> = None;
        let names = halfopen_weblog::format::PRESETS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !matches!(*n, "referer" | "agent"))
            .chain(std::iter::once("nginx_combined"));
        for name in names {
            let f = preset(name);
            let ok = sample
                .iter()
                .filter(|l| !l.is_empty())
                .filter(|l| f.parse(l).is_ok_and(|r| r.trailing.is_empty()))
                .count();
            if ok > 0 && all.as_ref().is_none_or(|(n, _)| ok > *n) {
                all = Some((ok, name.to_owned()));
            }
        }
        let detected = halfopen_weblog::detect_access_format(&sample)
            .ok()
            .and_then(|f| f.name().map(str::to_owned));
        assert_eq!(detected, all.map(|(_, n)| n), "{rel}");
    }
}
