//! `ErrorLogFormat` compiler and parser: the default 2.4 format agrees with `error_log::parse`
//! on every real 2.4 corpus line, custom formats from the Apache docs, and never panics.

use halfopen_weblog::error_log::{self, ErrorFlavor, Level};
use halfopen_weblog::{Error, ErrorLogFormat};
use proptest::prelude::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// The default 2.4 format, as documented.
const DEFAULT_24: &str =
    r"[%{u}t] [%-m:%l] [pid %P:tid %T] %7F: %E: [client\ %a] %M% ,\ referer\ %{Referer}i";
/// What httpd 2.4 really writes by default (`, referer: ` with a colon, and `[remote a:p]`
/// for the peer when mod_remoteip changed the client address).
const DEFAULT_24_REAL: &str = r"[%{u}t] [%-m:%l] [pid %P:tid %T] %7F: %E: [client\ %a] [remote\ %{c}a] %M% ,\ referer:\ %{Referer}i";

fn corpus_lines() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for dir in ["error", "lab"] {
        let mut names: Vec<String> = std::fs::read_dir(format!("{DATA}/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| dir == "error" || (n.contains("-error-") && n.starts_with("apache")))
            .collect();
        names.sort();
        for n in names {
            let data = std::fs::read(format!("{DATA}/{dir}/{n}")).unwrap();
            for (i, l) in data.split(|c| *c == b'\n').enumerate() {
                if !l.is_empty() {
                    out.push((format!("{dir}/{n}:{}", i + 1), l.to_vec()));
                }
            }
        }
    }
    out
}

fn memchr_remote(l: &[u8]) -> bool {
    l.windows(8).any(|w| w == b"[remote ")
}

/// Every 2.4 line with `[pid N:tid T]` (what the default format writes on a threaded MPM)
/// parses with the default format string exactly as `error_log::parse` reads it.
#[test]
fn default_24_agrees_with_error_log() {
    let fmt = ErrorLogFormat::compile(DEFAULT_24).unwrap();
    let real = ErrorLogFormat::compile(DEFAULT_24_REAL).unwrap();
    let mut checked = 0;
    let mut other = 0;
    let mut lab = 0;
    for (at, l) in corpus_lines() {
        let e = error_log::parse(&l).unwrap();
        let mine = fmt.parse(&l);
        if e.flavor == ErrorFlavor::Apache24 && e.tid.is_none() {
            // `[pid N]` (httpd's built-in layout on a non-threaded MPM): in the format string
            // `[pid`, `%P:tid` and `%T]` are three fields, so this reads as `%P:tid` left out
            // and `%T` = N (the format is ambiguous there, as in httpd).
            if let Ok(r) = mine {
                assert_eq!(r.tid, e.pid.map(u64::from), "{at}");
            }
            continue;
        }
        if e.flavor != ErrorFlavor::Apache24 || e.syslog_prefix.is_some() {
            // 2.2 lines: rejected with a syntax error.
            match mine {
                Err(Error::Syntax { .. }) => other += 1,
                Ok(r) => panic!("{at}: a non-default line matched: {r:?}"),
                Err(x) => panic!("{at}: {x}"),
            }
            continue;
        }
        checked += 1;
        if at.starts_with("lab/") {
            lab += 1;
        }
        let m = mine.unwrap_or_else(|x| panic!("{at}: {x}"));
        let r = real.parse(&l).unwrap_or_else(|x| panic!("{at}: {x}"));
        let remote = memchr_remote(&l);
        let both: &[_] = if remote { &[&r] } else { &[&m, &r] };
        for got in both {
            assert_eq!(got.time, e.time, "{at}");
            assert_eq!(got.module, e.module, "{at}");
            assert_eq!(got.level, e.level, "{at}");
            assert_eq!((got.pid, got.tid), (e.pid, e.tid), "{at}");
            assert_eq!(got.source, e.source, "{at}");
            assert_eq!(got.os_error, e.os_error, "{at}");
            assert_eq!(
                (got.client, got.client_port),
                (e.client, e.client_port),
                "{at}"
            );
            assert_eq!(got.code, e.code, "{at}");
        }
        assert_eq!((r.message, r.referer), (e.message, e.referer), "{at}");
        if remote {
            continue;
        }
        // the documented string has no colon after `referer`, so httpd's real `, referer: x`
        // suffix stays in the message
        assert_eq!(m.referer, None, "{at}");
        if e.referer.is_some() {
            assert!(m.message.starts_with(e.message), "{at}");
        } else {
            assert_eq!(m.message, e.message, "{at}");
        }
    }
    assert!(checked >= 100, "only {checked} lines checked");
    assert!(other > 0);
    assert!(lab >= 50, "only {lab} lab debug lines checked");
}

#[test]
fn apache_docs_custom_formats() {
    let f = ErrorLogFormat::compile(r"[%t] [%l] %7F: %E: [client\ %a] %M% ,\ referer\ %{Referer}i")
        .unwrap();
    let r = f
        .parse(b"[Mon Dec 26 16:22:00 2016] [error] [client 192.168.33.1] File does not exist: /var/www/favicon.ico, referer http://192.168.33.72/")
        .unwrap();
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.client, Some("192.168.33.1".parse().unwrap()));
    assert_eq!(r.message, b"File does not exist: /var/www/favicon.ico");
    assert_eq!(r.referer, Some(&b"http://192.168.33.72/"[..]));
    let r = f
        .parse(b"[Mon Dec 26 16:17:53 2016] [notice] Apache/2.2.22 (Ubuntu) configured -- resuming normal operations")
        .unwrap();
    assert_eq!((r.client, r.referer), (None, None));
    assert_eq!(
        r.message,
        b"Apache/2.2.22 (Ubuntu) configured -- resuming normal operations"
    );

    let f = ErrorLogFormat::compile(r"[%{uc}t] [%-m:%-l] [R:%L] [C:%{C}L] %7F: %E: %M").unwrap();
    let r = f
        .parse(b"[2026-11-24 20:50:30.336238] [reqtimeout:info] [R:Wo3Sv38AAQEAAAYbA3EAAAAD] [C:-] AH01382: Request header read timeout")
        .unwrap();
    assert_eq!(r.time.unwrap().ts_us, 1_795_553_430_336_238);
    assert_eq!(r.module, Some(&b"reqtimeout"[..]));
    assert_eq!(r.code.map(|c| c.0), Some(1382));
    // `[R:%L]` is optional: a line without a request log id leaves the field out
    let r = f
        .parse(b"[2026-11-24 20:50:30.336238] [core:debug] [C:Wo3Sv38AAQE] protocol.c(1234): (70007)The timeout specified has expired: AH00567: x")
        .unwrap();
    assert_eq!(r.source, Some(&b"protocol.c(1234)"[..]));
    assert_eq!(
        r.os_error,
        Some(&b"(70007)The timeout specified has expired"[..])
    );
    assert_eq!(r.level, Some(Level::Debug));

    // `%+`: the line is written only with the item, so it is required
    let f = ErrorLogFormat::compile(r"[%{cuz}t] [%l] [pid %P] [peer\ %{c}a] %M").unwrap();
    let r = f
        .parse(b"[2025-07-22 15:45:51.323610 +0200] [warn] [pid 7] [peer 10.0.0.1:443] hi")
        .unwrap();
    assert_eq!(r.time.unwrap().utc_offset_secs, 7200);
    assert_eq!(r.client_port, Some(443));
    assert_eq!(r.pid, Some(7));
}

#[test]
fn compile_errors() {
    assert!(matches!(
        ErrorLogFormat::compile("%"),
        Err(Error::BadFormat { offset: 0, .. })
    ));
    assert!(matches!(
        ErrorLogFormat::compile("[%{u t"),
        Err(Error::BadFormat { offset: 1, .. })
    ));
    assert!(matches!(
        ErrorLogFormat::compile("[%l] %Q"),
        Err(Error::UnknownDirective { offset: 5, .. })
    ));
    assert!(matches!(
        ErrorLogFormat::compile(""),
        Err(Error::BadFormat { .. })
    ));
    assert!(matches!(
        ErrorLogFormat::compile(&"%l ".repeat(40)),
        Err(Error::FormatTooLarge { .. })
    ));
    assert!(ErrorLogFormat::compile("%% %{g}T %{c}L %{C}L %k %A %v %V %{X}e %{n}n").is_ok());
}

#[test]
fn adversarial_line_stays_within_budget() {
    let f = ErrorLogFormat::compile(DEFAULT_24).unwrap();
    let mut l = b"[Tue Nov 24 20:50:30.336238 2026] [core:info] [pid 1:tid 2] (1)".to_vec();
    l.extend(b": [client 1.2.3.4:5] ".repeat(2000));
    l.extend(b", referer x".repeat(500));
    let r = f.parse(&l).unwrap();
    // shortest first: the message stops at the first `, referer `
    assert!(r.referer.is_some_and(|v| v.starts_with(b"x, referer x")));
    assert_eq!(r.os_error, Some(&b"(1)"[..]));
    let mut l = b"[Tue Nov 24 20:50:30 2026] [x:info] ".to_vec();
    l.extend(b"[pid 1:tid ".repeat(3000));
    // `[pid`, ` 1:tid` match, ` %T]` does not: the optional fields are left out and `%M`
    // takes the rest
    let r = f.parse(&l).unwrap();
    assert_eq!((r.pid, r.tid), (Some(1), None));
    assert!(r.message.starts_with(b"[pid 1:tid [pid"));
    let long_bad = [b'[', b' '].repeat(20_000);
    assert!(matches!(f.parse(&long_bad), Err(Error::Syntax { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn compile_never_panics(s in "[%{}\\\\ a-zA-Z0-9+:\\[\\]-]{0,40}") {
        if let Ok(f) = ErrorLogFormat::compile(&s) {
            let _ = f.parse(s.as_bytes());
        }
    }

    #[test]
    fn parse_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let f = ErrorLogFormat::compile(DEFAULT_24).unwrap();
        let _ = f.parse(&line);
        let mut l = b"[Tue Nov 24 20:50:30.336238 2026] [core:info] [pid 1:tid 2] ".to_vec();
        l.extend_from_slice(&line);
        let _ = f.parse(&l);
    }
}
