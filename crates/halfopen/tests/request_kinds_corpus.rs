//! Real Apache lines (the lab runs and a public scanner capture): every line parses, and the
//! request kind the classifier sees matches what the client did (SCENARIOS.tsv, by client port).

use std::collections::HashMap;

use halfopen::facts::RequestKind;
use halfopen::weblog::LogFormat;

const DEBUGFMT: &str = r#"%a rport=%{remote}p lport=%{local}p %t t_end=%{end:%d/%b/%Y:%H:%M:%S}t.%{end:usec_frac}t usec=%{usec}t "%r" s=%s >s=%>s b=%b B=%B I=%I O=%O S=%S D=%D T=%T Tms=%{ms}T X=%X k=%k L=%L m=%m U=%U q=%q H=%H u=%u l=%l P=%P tid=%{tid}P"#;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// What the client did, from the scenario name (SCENARIOS.tsv `what_the_client_sent`).
fn expected(scenario: &str, status: Option<u16>) -> RequestKind {
    match scenario {
        "tls_clienthello_on_plain" | "tls_clienthello_on_plain_close" | "garbage_binary" => {
            RequestKind::NonHttp
        }
        "h2_preface_on_http1_port" => RequestKind::Http2Preface,
        "idle_no_data"
        | "partial_reqline_idle"
        | "slow_reqline_bytes"
        | "blank_lines_idle"
        | "tls_port_handshake_idle" => RequestKind::TimeoutEmpty,
        "partial_headers_idle" | "slowloris_headers" => RequestKind::TimeoutPartial,
        "keepalive_then_partial" if status == Some(408) => RequestKind::TimeoutPartial,
        _ => match status {
            Some(s) if (200..400).contains(&s) => RequestKind::Success,
            Some(400) => RequestKind::BadRequest,
            _ => RequestKind::Other,
        },
    }
}

#[test]
fn lab_lines_by_client_port() {
    let tsv = String::from_utf8(data("SCENARIOS.tsv")).unwrap();
    let mut scen: HashMap<(String, u16), String> = HashMap::new();
    for row in tsv.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        if let (Some(run), Some(name), Some(port)) = (f.first(), f.get(1), f.get(3)) {
            if let Ok(p) = port.parse() {
                scen.insert((run.to_string(), p), name.to_string());
            }
        }
    }
    let fmt = LogFormat::compile(DEBUGFMT).unwrap();
    let mut checked = 0;
    for (file, run) in [
        (
            "apache-2.4.71-debian12-default-a-access-debugfmt.log",
            "apache-default-a",
        ),
        (
            "apache-2.4.71-debian12-default-b-access-debugfmt.log",
            "apache-default-b",
        ),
    ] {
        for (i, line) in data(file).split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let r = fmt
                .parse(line)
                .unwrap_or_else(|e| panic!("{file}:{}: {e}", i + 1));
            let port = r.client_port.expect("rport");
            let Some(name) = scen.get(&(run.to_owned(), port)) else {
                // Lines of ports the scenarios do not describe (none expected).
                panic!("{file}:{}: port {port} not in SCENARIOS.tsv", i + 1);
            };
            let kind = RequestKind::of(r.status, r.request.as_ref().map(|q| q.raw));
            assert_eq!(kind, expected(name, r.status), "{file}:{} ({name})", i + 1);
            checked += 1;
        }
    }
    assert!(checked >= 60, "{checked}");
}

#[test]
fn public_tls_on_port_80_lines_are_non_http() {
    let fmt = LogFormat::preset("combined").unwrap();
    let mut n = 0;
    for (i, line) in data("crowdsec-hub-apache2-malformed.log")
        .split(|&b| b == b'\n')
        .enumerate()
    {
        if line.is_empty() {
            continue;
        }
        let r = fmt
            .parse(line)
            .unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        let kind = RequestKind::of(r.status, r.request.as_ref().map(|q| q.raw));
        assert_eq!(kind, RequestKind::NonHttp, "line {}", i + 1);
        n += 1;
    }
    assert_eq!(n, 11);
}
