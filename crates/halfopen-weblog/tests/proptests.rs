//! Property tests: render -> parse round trips (escapes included), arbitrary bytes never panic,
//! valid format strings compile, escape/unescape and calendar laws.

use std::net::IpAddr;

use halfopen_weblog::escape::{EscapeStyle, escape_into};
use halfopen_weblog::{
    AccessValues, Client, LogFormat, LogTime, RequestLine, error_log, time, unescape,
};
use proptest::prelude::*;

fn cfg() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u16; 8]>().prop_map(IpAddr::from),
    ]
}

/// A text value that is not `-` (which logs as "absent").
fn text() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..40).prop_filter("not '-'", |v| v != b"-")
}

fn word() -> impl Strategy<Value = Vec<u8>> {
    "[a-zA-Z0-9._@]{1,12}"
        .prop_map(String::into_bytes)
        .prop_filter("not '-'", |v| v != b"-")
}

fn log_time() -> impl Strategy<Value = LogTime> {
    (0i64..4_000_000_000, -14i32 * 4..=14 * 4).prop_map(|(s, q)| LogTime {
        ts_us: s * 1_000_000,
        utc_offset_secs: q * 900,
        at_end: false,
    })
}

prop_compose! {
    fn values()(
        client_ip in ip(),
        client_port in any::<u16>(),
        server_port in any::<u16>(),
        user in proptest::option::of(word()),
        time in log_time(),
        request in text().prop_filter("non-empty", |v| !v.is_empty()),
        status in 100u16..1000,
        bytes in proptest::option::of(0u64..1_000_000_000_000),
        referer in proptest::option::of(text()),
        user_agent in proptest::option::of(text()),
        duration_us in 0u64..10_000_000_000,
        keepalive in 0u32..1000,
        conn_status in prop_oneof![Just(b'X'), Just(b'+'), Just(b'-')],
    ) -> AccessValues {
        AccessValues {
            client_ip: Some(client_ip),
            client_port: Some(client_port),
            server_port: Some(server_port),
            remote_user: user,
            time: Some(time),
            request: Some(request),
            status: Some(status),
            bytes,
            referer,
            user_agent,
            duration_us: Some(duration_us),
            keepalive: Some(keepalive),
            conn_status: Some(conn_status),
            ..Default::default()
        }
    }
}

fn check_common(f: &LogFormat, v: &AccessValues) {
    let mut line = Vec::new();
    f.render(v, &mut line);
    let r = f
        .parse(&line)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&line)));
    assert_eq!(r.client, Some(Client::Ip(v.client_ip.unwrap())));
    assert_eq!(r.status, v.status);
    let t = r.time.unwrap();
    assert_eq!(
        (t.ts_us, t.utc_offset_secs),
        (v.time.unwrap().ts_us, v.time.unwrap().utc_offset_secs)
    );
    assert_eq!(
        r.request.map(|q| unescape(q.raw).into_owned()),
        v.request.clone()
    );
    assert_eq!(
        r.referer.map(|q| unescape(q).into_owned()),
        v.referer.clone()
    );
    assert_eq!(
        r.user_agent.map(|q| unescape(q).into_owned()),
        v.user_agent.clone()
    );
    assert_eq!(
        r.remote_user.map(|q| unescape(q).into_owned()),
        v.remote_user.clone()
    );
    assert!(r.trailing.is_empty());
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn combined_round_trip(v in values()) {
        for name in ["combined", "combined_debian", "vhost_combined", "nginx_combined"] {
            let f = LogFormat::preset(name).unwrap();
            check_common(&f, &v);
        }
        let f = LogFormat::preset("combined").unwrap();
        let mut line = Vec::new();
        f.render(&v, &mut line);
        prop_assert_eq!(f.parse(&line).unwrap().bytes, Some(v.bytes.unwrap_or(0)));
    }

    #[test]
    fn debug_format_round_trip(v in values()) {
        let f = LogFormat::compile(r#"%a rport=%{remote}p lport=%{local}p %t "%r" s=%>s b=%B D=%D X=%X k=%k "%{Referer}i" "%{User-Agent}i" u=%u"#).unwrap();
        check_common(&f, &v);
        let mut line = Vec::new();
        f.render(&v, &mut line);
        let r = f.parse(&line).unwrap();
        prop_assert_eq!(r.client_port, v.client_port);
        prop_assert_eq!(r.server_port, v.server_port);
        prop_assert_eq!(r.duration_us, v.duration_us);
        prop_assert_eq!(r.conn_status, v.conn_status);
        prop_assert_eq!(r.keepalive, v.keepalive);
        prop_assert_eq!(r.bytes, Some(v.bytes.unwrap_or(0)));
        let n = LogFormat::compile_nginx(r#"$remote_addr:$remote_port [$time_local] "$request" $status $body_bytes_sent $request_time $connection_requests "$http_user_agent""#).unwrap();
        let mut line = Vec::new();
        n.render(&v, &mut line);
        let r = n.parse(&line).unwrap();
        prop_assert_eq!(r.client_port, v.client_port);
        prop_assert_eq!(r.keepalive, v.keepalive);
        prop_assert_eq!(r.duration_us, v.duration_us.map(|d| d / 1000 * 1000));
        prop_assert_eq!(r.user_agent.map(|q| unescape(q).into_owned()), v.user_agent.clone());
    }

    #[test]
    fn arbitrary_bytes_never_panic(line in proptest::collection::vec(any::<u8>(), 0..300)) {
        for name in ["combined", "vhost_combined", "common", "nginx_combined", "referer"] {
            let _ = LogFormat::preset(name).unwrap().parse(&line);
        }
        let f = LogFormat::compile("%{%Y-%m-%dT%H:%M:%S}t.%{usec_frac}t%{%z}t %U%q %a:%{remote}p").unwrap();
        let _ = f.parse(&line);
        let _ = error_log::parse(&line);
        let _ = unescape(&line);
        let _ = RequestLine::parse(&line);
        let _ = time::parse_clf(&line);
        let _ = halfopen_weblog::detect_access_format(&[&line]);
        if let Ok(s) = std::str::from_utf8(&line) {
            let _ = LogFormat::compile(s);
            let _ = LogFormat::compile_nginx(s);
        }
    }

    #[test]
    fn arbitrary_lines_near_combined_never_panic(
        prefix in "[0-9a-f:. -]{0,30}",
        junk in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut line = prefix.into_bytes();
        line.extend_from_slice(b" - - [10/Oct/2000:13:55:36 -0700] \"");
        line.extend_from_slice(&junk);
        line.extend_from_slice(b"\" 400 0 \"-\" \"");
        line.extend_from_slice(&junk);
        let _ = LogFormat::preset("combined").unwrap().parse(&line);
        let _ = error_log::parse(&line);
    }

    #[test]
    fn valid_format_strings_compile(pieces in proptest::collection::vec(prop_oneof![
        Just("%a"), Just("%{c}a"), Just("%A"), Just("%B"), Just("%b"), Just("%{X}C"), Just("%D"),
        Just("%{HOME}e"), Just("%f"), Just("%h"), Just("%H"), Just("%{Host}i"), Just("%k"), Just("%l"),
        Just("%L"), Just("%m"), Just("%{n}n"), Just("%{Server}o"), Just("%p"), Just("%{local}p"),
        Just("%{remote}p"), Just("%P"), Just("%{tid}P"), Just("%{hextid}P"), Just("%q"), Just("%r"),
        Just("%R"), Just("%s"), Just("%>s"), Just("%<s"), Just("%t"), Just("%{end:msec_frac}t"),
        Just("%{%d/%b/%Y %T}t"), Just("%{sec}t"), Just("%T"), Just("%{ms}T"), Just("%u"), Just("%U"),
        Just("%v"), Just("%V"), Just("%X"), Just("%I"), Just("%O"), Just("%S"), Just("%{t}^ti"),
        Just("%{t}^to"), Just("%400,501{User-agent}i"), Just("%!200T"), Just("%%"), Just(" "),
        Just("\\\""), Just(" - "), Just("[x]"),
    ], 1..30)) {
        let fmt: String = pieces.concat();
        let f = LogFormat::compile(&fmt).unwrap();
        let n = pieces.iter().filter(|p| p.starts_with('%') && **p != "%%").count();
        prop_assert_eq!(f.fields().len(), n);
        // rendering defaults never panics either
        let mut out = Vec::new();
        f.render(&AccessValues::default(), &mut out);
        let _ = f.parse(&out);
    }

    #[test]
    fn escape_then_unescape_is_identity(v in proptest::collection::vec(any::<u8>(), 0..100)) {
        for style in [EscapeStyle::Apache, EscapeStyle::Nginx] {
            let mut out = Vec::new();
            escape_into(&v, style, &mut out);
            prop_assert!(!out.contains(&b'"') || out.windows(2).all(|w| w[1] != b'"' || w[0] == b'\\'));
            prop_assert_eq!(unescape(&out).into_owned(), v.clone());
        }
    }

    #[test]
    fn calendar_laws(days in -1_000_000i64..1_000_000, t in log_time()) {
        let (y, m, d) = time::civil_from_days(days);
        prop_assert_eq!(time::days_from_civil(y, m, d), days);
        let mut out = Vec::new();
        time::render_clf_body(t.ts_us, t.utc_offset_secs, &mut out);
        let back = time::parse_clf_body(&out).unwrap();
        prop_assert_eq!((back.ts_us, back.utc_offset_secs), (t.ts_us, t.utc_offset_secs));
    }

    #[test]
    fn fast_path_equals_general_matcher(
        v in values(),
        edits in proptest::collection::vec((any::<usize>(), prop_oneof![
            Just(b' '), Just(b'"'), Just(b'\\'), Just(b'-'), Just(b'['), Just(b']'), Just(b':'),
            Just(b'0'), Just(b'9'), Just(b'x'), Just(b'+'), Just(b'/'), any::<u8>(),
        ], any::<bool>()), 0..4),
    ) {
        for f in fast_formats() {
            prop_assert!(f.has_fast_path());
            let mut line = Vec::new();
            f.render(&v, &mut line);
            let mut p = f.parser();
            let clean = f.parse_general(&line);
            prop_assert_eq!(&f.parse(&line), &clean);
            prop_assert_eq!(&p.parse(&line), &clean);
            // The same line with a few bytes replaced or inserted (separators, quotes,
            // escapes, digits): both paths still agree, through the same memo.
            let mut bent = line.clone();
            for &(at, b, insert) in &edits {
                let at = at % (bent.len() + 1);
                if insert || at == bent.len() {
                    bent.insert(at, b);
                } else {
                    bent[at] = b;
                }
            }
            let general = f.parse_general(&bent);
            prop_assert_eq!(&f.parse(&bent), &general);
            prop_assert_eq!(&p.parse(&bent), &general);
        }
    }

    #[test]
    fn clf_memo_equals_parse_clf_body(
        bodies in proptest::collection::vec(
            ("[0-3][0-9]", prop_oneof![Just("Oct"), Just("oct"), Just("Feb"), Just("Xyz")],
             "(19|20)[0-9]{2}", "[0-2][0-9]", "[0-6][0-9]", "[0-6][0-9x]", "[-+ ]", "[01][0-9][0-6]0"),
            1..20),
        bytes in proptest::collection::vec(any::<u8>(), 0..30),
    ) {
        let mut memo = time::ClfCache::new();
        for (d, mo, y, h, mi, s, sign, z) in bodies {
            // Runs of the same minute, then the raw variant.
            for sec in [s.as_str(), "00", "59", "60", "61"] {
                let b = format!("{d}/{mo}/{y}:{h}:{mi}:{sec} {sign}{z}");
                prop_assert_eq!(memo.parse_body(b.as_bytes()), time::parse_clf_body(b.as_bytes()), "{}", b);
            }
        }
        prop_assert_eq!(memo.parse_body(&bytes), time::parse_clf_body(&bytes));
    }

    #[test]
    fn parse_ip_agrees_with_std_on_ipv6(
        groups in proptest::collection::vec("[0-9a-fA-F]{0,5}", 0..10),
        gap in any::<usize>(),
        double in any::<bool>(),
        a in ip(),
    ) {
        let mut s = groups.join(":");
        if double {
            let at = gap % (s.len() + 1);
            if s.is_char_boundary(at) {
                s.insert(at, ':');
            }
        }
        prop_assert_eq!(halfopen_weblog::parse_ip(s.as_bytes()), s.parse::<IpAddr>().ok(), "{}", s);
        let t = a.to_string();
        prop_assert_eq!(halfopen_weblog::parse_ip(t.as_bytes()), Some(a));
    }

    #[test]
    fn request_split_matches_reference(raw in "[ A-Za-z0-9/.?&=%\\\"!#$'*+^_`|~-]{0,60}( HTTP/1\\.[01])?") {
        let raw = raw.as_bytes();
        let r = RequestLine::parse(raw);
        // The plain definition: first space ends the method, last space starts the protocol.
        let tchar = |c: &u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(c);
        let expected = match raw.iter().position(|&c| c == b' ') {
            Some(sp) if sp > 0 && sp + 1 < raw.len() && raw[..sp].iter().all(tchar) => {
                let rest = &raw[sp + 1..];
                let (target, proto) = match rest.iter().rposition(|&c| c == b' ') {
                    Some(l) if rest[l + 1..].starts_with(b"HTTP/") || rest[l + 1..].starts_with(b"http/") => {
                        (&rest[..l], Some(&rest[l + 1..]))
                    }
                    _ => (rest, None),
                };
                (Some(&raw[..sp]), Some(target), proto)
            }
            _ => (None, None, None),
        };
        prop_assert_eq!((r.method, r.target, r.protocol), expected);
        prop_assert_eq!(r.raw, raw);
    }

    #[test]
    fn fast_path_equals_general_matcher_on_noise(
        line in "[-0-9a-f:. \\[\\]\"\\\\/A-Z+x]{0,120}",
    ) {
        for f in fast_formats() {
            prop_assert_eq!(f.parse(line.as_bytes()), f.parse_general(line.as_bytes()));
        }
    }
}

/// Formats that take the single-pass fast path (see `corpus_access.rs` for the corpus check).
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
    .iter()
    .map(|n| LogFormat::preset(n).unwrap())
    .collect();
    for fmt in [
        r#"%h %{remote}p %l %u %t \"%r\" %>s %b %D \"%{Referer}i\" \"%{User-Agent}i\""#,
        r#"%a %{c}a %A %v:%p "%u" %{end}t "%{X-Forwarded-For}i" %s %B %I %O %S %{ms}T %k %X %P %{tid}P "%r""#,
        r#"[%a]:%{remote}p %{local}p %l %t "%r" %<s %T "%{User-agent}i" "%{Referer}i""#,
    ] {
        v.push(LogFormat::compile(fmt).unwrap());
    }
    v.push(LogFormat::compile_nginx(r#"$remote_addr:$remote_port - $remote_user [$time_local] "$request" $status $bytes_sent $connection "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#).unwrap());
    v
}
