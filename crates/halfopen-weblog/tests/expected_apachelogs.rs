//! jwodder/apachelogs' test cases (expected/apachelogs-tests.expected.jsonl) and
//! rory/apache-log-parser's (expected/apache-log-parser-tests.pairs.jsonl).

use halfopen_weblog::{Error, LogFormat, time, unescape};
use serde_json::Value;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn cases(test: &str) -> Vec<Value> {
    let data = std::fs::read_to_string(format!("{DATA}/expected/apachelogs-tests.expected.jsonl"))
        .unwrap();
    data.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["test"] == test)
        .collect()
}

/// `"2017-11-01T07:28:29+00:00"` or naive `"2019-05-06T13:42:26"` -> (µs, offset).
fn iso(s: &str) -> (i64, i32) {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return (t.timestamp_micros(), t.offset().local_minus_utc());
    }
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
    (t.and_utc().timestamp_micros(), 0)
}

fn text(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Null => None,
        // apachelogs decodes escapes as Latin-1
        Value::String(s) if s.chars().all(|c| (c as u32) < 256) => {
            Some(s.chars().map(|c| c as u8).collect())
        }
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Object(o) => Some(
            o["bytes_latin1"]
                .as_str()
                .unwrap()
                .chars()
                .map(|c| c as u8)
                .collect(),
        ),
        other => panic!("{other}"),
    }
}

/// Formats of entries that may not parse (none today).
const UNSUPPORTED: &[&str] = &[];

#[test]
fn test_parse_entries() {
    let mut n = 0;
    for c in cases("test_parse") {
        let fmt = c["fmt"].as_str().unwrap();
        let entry = c["entry"].as_str().unwrap();
        let f = LogFormat::compile(fmt).unwrap_or_else(|e| panic!("{fmt}: {e}"));
        let r = match f.parse(entry.as_bytes()) {
            Ok(r) => r,
            Err(e) => {
                assert!(UNSUPPORTED.contains(&fmt), "{fmt} | {entry}: {e}");
                continue;
            }
        };
        let fields = &c["fields"];
        if let Some(v) = fields.get("request_line") {
            assert_eq!(
                r.request.map(|q| unescape(q.raw).into_owned()),
                text(v),
                "{fmt}"
            );
        }
        if let Some(v) = fields.get("final_status").or_else(|| fields.get("status")) {
            assert_eq!(r.status.map(u64::from), v.as_u64(), "{fmt}");
        }
        if let Some(v) = fields
            .get("request_time")
            .or_else(|| fields.get("begin_request_time"))
        {
            match v.as_str() {
                Some(s) => {
                    let (us, off) = iso(s);
                    let t = r.time.unwrap_or_else(|| panic!("{fmt}: no time"));
                    assert_eq!((t.ts_us, t.utc_offset_secs), (us, off), "{fmt}");
                }
                None => assert!(r.time.is_none(), "{fmt}"),
            }
        }
        if let Some(h) = fields.get("headers_in") {
            if let Some(v) = h.get("User-Agent") {
                assert_eq!(
                    r.user_agent.map(|u| unescape(u).into_owned()),
                    text(v),
                    "{fmt}"
                );
            }
            if let Some(v) = h.get("Referer") {
                assert_eq!(
                    r.referer.map(|u| unescape(u).into_owned()),
                    text(v),
                    "{fmt}"
                );
            }
        }
        if let Some(v) = fields.get("remote_port") {
            assert_eq!(r.client_port.map(u64::from), v.as_u64(), "{fmt}");
        }
        n += 1;
    }
    assert_eq!(n + UNSUPPORTED.len(), 35);
}

#[test]
fn vhost_combined_entries() {
    let f = LogFormat::preset("vhost_combined").unwrap();
    let data = std::fs::read(format!(
        "{DATA}/access/apachelogs-test-data-vhost_combined.log"
    ))
    .unwrap();
    let all: Vec<&[u8]> = data
        .split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let lines: Vec<&[u8]> = all.iter().copied().filter(|l| *l != b"Bad line").collect();
    let exp = cases("VHOST_COMBINED_LOG_ENTRIES");
    assert_eq!(exp.len() + 1, all.len()); // + the "Bad line"
    for (line, c) in lines.iter().zip(&exp) {
        let r = f.parse(line).unwrap();
        let fields = &c["fields"];
        assert_eq!(r.vhost.map(<[u8]>::to_vec), text(&fields["virtual_host"]));
        assert_eq!(r.server_port.map(u64::from), fields["server_port"].as_u64());
        assert_eq!(r.status.map(u64::from), fields["final_status"].as_u64());
        assert_eq!(r.bytes, fields["bytes_out"].as_u64());
        let (us, off) = iso(fields["request_time"].as_str().unwrap());
        assert_eq!(
            (r.time.unwrap().ts_us, r.time.unwrap().utc_offset_secs),
            (us, off)
        );
        assert_eq!(
            r.request.map(|q| unescape(q.raw).into_owned()),
            text(&fields["request_line"])
        );
    }
    let bad = f.parse(b"Bad line").unwrap_err();
    assert!(matches!(bad, Error::Syntax { offset: 8, .. }), "{bad:?}");
}

#[test]
fn apache_timestamps() {
    let good = cases("test_parse_apache_timestamp");
    assert_eq!(good.len(), 64);
    for c in good {
        let s = c["ts"].as_str().unwrap();
        let t = time::parse_clf(s.as_bytes()).unwrap_or_else(|| panic!("{s}"));
        assert_eq!(
            (t.ts_us, t.utc_offset_secs),
            iso(c["dt"].as_str().unwrap()),
            "{s}"
        );
    }
    let bad = cases("test_parse_bad_apache_timestamp");
    assert_eq!(bad.len(), 7);
    for c in bad {
        let s = c["ts"].as_str().unwrap();
        assert!(time::parse_clf(s.as_bytes()).is_none(), "{s}");
    }
}

#[test]
fn bad_format_strings_are_rejected() {
    for c in cases("test_unknown_directive") {
        let fmt = c["fmt"].as_str().unwrap();
        let e = LogFormat::compile(fmt).unwrap_err();
        assert!(
            matches!(e, Error::UnknownDirective { offset: 0, .. }),
            "{fmt}: {e:?}"
        );
    }
    for c in cases("test_malformed_directive") {
        let fmt = c["fmt"].as_str().unwrap();
        let e = LogFormat::compile(fmt).unwrap_err();
        assert!(
            matches!(
                e,
                Error::BadFormat { offset: 0, .. } | Error::UnknownDirective { offset: 0, .. }
            ),
            "{fmt}: {e:?}"
        );
    }
    // malformed strftime patterns inside %{...}t are kept as opaque text
    for c in cases("test_malformed_time_directive") {
        let fmt = c["fmt"].as_str().unwrap();
        assert!(time::compile_strftime(fmt).is_none(), "{fmt}");
        let f = LogFormat::compile(&format!("%{{{fmt}}}t")).unwrap();
        assert!(
            matches!(&f.fields()[0].directive, halfopen_weblog::Directive::Time(s) if matches!(s.kind, halfopen_weblog::TimeKind::Opaque(_)))
        );
    }
}

/// strftime cases this crate does not turn into an instant (locale names, ISO week dates).
const CUSTOM_TIME_UNSUPPORTED: &[&str] = &[
    "%{%d %b %Y %H:%M:%S %z}t | 19 M\u{e4}r 2019 01:39:12 +0000 | at byte 0: expected a timestamp for %t",
    "%{%d %B %Y %H:%M:%S %z}t | 19 M\u{e4}rz 2019 01:39:12 +0000 | at byte 0: expected a timestamp for %t",
    "%{%G--%V %a %H:%M:%S}t | 2019--20 So 12:34:56 | no time",
    "%{%G--%V %A %H:%M:%S}t | 2019--20 Sonntag 12:34:56 | no time",
];

#[test]
fn custom_times() {
    let mut failures = Vec::new();
    for test in ["test_parse_custom_time", "test_parse_custom_german_time"] {
        for c in cases(test) {
            let fmt = c["fmt"].as_str().unwrap();
            let entry = c["entry"].as_str().unwrap();
            let f = LogFormat::compile(fmt).unwrap();
            let r = match f.parse(entry.as_bytes()) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{fmt} | {entry} | {e}"));
                    continue;
                }
            };
            let fields = c["fields"].as_object().unwrap();
            let want = fields
                .iter()
                .find(|(k, _)| k.ends_with("request_time") && !k.ends_with("_fields"))
                .map(|(_, v)| v.clone());
            if let Some(s) = want.as_ref().and_then(Value::as_str) {
                match r.time {
                    Some(t) => assert_eq!((t.ts_us, t.utc_offset_secs), iso(s), "{fmt} | {entry}"),
                    None => failures.push(format!("{fmt} | {entry} | no time")),
                }
            }
        }
    }
    let expected: Vec<String> = CUSTOM_TIME_UNSUPPORTED
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(failures, expected, "\n{}\n", failures.join("\n"));
}

#[test]
fn apache_log_parser_pairs() {
    let pairs = std::fs::read_to_string(format!(
        "{DATA}/expected/apache-log-parser-tests.pairs.jsonl"
    ))
    .unwrap();
    let mut n = 0;
    for l in pairs.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let fmt = v["fmt"].as_str().unwrap();
        let line = v["line"].as_str().unwrap();
        let f = LogFormat::compile(fmt).unwrap();
        let r = f
            .parse(line.as_bytes())
            .unwrap_or_else(|e| panic!("{fmt} | {line}: {e}"));
        assert!(r.trailing.is_empty(), "{fmt}");
        assert!(
            r.client.is_some() || r.peer.is_some() || r.server_ip.is_some(),
            "{fmt}"
        );
        n += 1;
    }
    assert_eq!(n, 9);
}
