//! Access and error logs -> requests, read timeouts and what the server said about itself.
//!
//! Apache's own requests (`"OPTIONS * HTTP/1.0" 200 ... "(internal dummy connection)"`, sent by
//! prefork and worker to wake idle children, over loopback from the server's own address) are
//! not client requests: they are counted apart and never matched or blocked.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use halfopen_weblog::error_log::{ErrorRecord, Known};
use halfopen_weblog::{AccessParser, LogFormat};

use crate::clock::Zone;
use crate::evidence::WebServer;
use crate::facts::{RequestExample, RequestKind};
use crate::offsets::LocalClock;

mod stream;
pub use stream::{LINES_PER_BATCH, WebBatch, WebDone, WebJob, WebStream};

/// One request read from an access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// When the request was received (access-log clock), µs: the `%t` start, or the end time
    /// moved back by the logged duration.
    pub ts_us: i64,
    /// Client address.
    pub client: IpAddr,
    /// Client port, when the format logs it.
    pub client_port: Option<u16>,
    /// Server port, when the format logs it (`%p`, `vhost_combined`'s `%v:%p`).
    pub server_port: Option<u16>,
    /// The request as an example (status, escaped line, kind).
    pub example: RequestExample,
    /// The scanning tool the request names (its User-Agent or a probe path), if any.
    pub tool: Option<&'static str>,
}

impl LoggedRequest {
    /// A request from raw parts.
    ///
    /// ```
    /// use halfopen::requests::LoggedRequest;
    /// use halfopen::facts::RequestKind;
    /// let r = LoggedRequest::new(0, "192.0.2.1".parse().unwrap(), None, Some(200), Some(b"GET / HTTP/1.1"));
    /// assert_eq!(r.kind(), RequestKind::Success);
    /// ```
    pub fn new(
        ts_us: i64,
        client: IpAddr,
        client_port: Option<u16>,
        status: Option<u16>,
        raw: Option<&[u8]>,
    ) -> LoggedRequest {
        LoggedRequest {
            ts_us,
            client,
            client_port,
            server_port: None,
            example: RequestExample::new(ts_us, status, raw),
            tool: None,
        }
    }

    /// What the line says about its connection.
    pub fn kind(&self) -> RequestKind {
        self.example.kind
    }
}

/// What the error log says about one connection (the client's address and port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnNote {
    /// When it was logged, µs.
    pub ts_us: i64,
    /// Client address.
    pub client: IpAddr,
    /// Client port, when logged (Apache 2.4 logs it).
    pub client_port: Option<u16>,
    /// What it says.
    pub kind: NoteKind,
}

/// What an error-log line says about its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// mod_reqtimeout AH01382 "Request header read timeout".
    HeaderReadTimeout,
    /// mod_reqtimeout AH01382 "Request body read timeout".
    BodyReadTimeout,
    /// mod_ssl AH01996 "SSL handshake failed: HTTP spoken on HTTPS port" (nginx: "client sent
    /// plain HTTP request to HTTPS port"): plain HTTP sent to the TLS port (both answer it with
    /// a 400; mod_ssl logs `GET / HTTP/1.0` whatever was asked).
    HttpOnTlsPort,
    /// nginx at `info`: "client timed out (110: Connection timed out) while waiting for
    /// request" (or "while SSL handshaking"): the client sent no request until nginx gave up
    /// (`client_header_timeout`). nginx writes no access-log line for it (Apache: `"-" 408`).
    NoRequestTimeout,
    /// nginx at `info`: "client closed connection while waiting for request", or "recv()
    /// failed (104: Connection reset by peer) while waiting for request" (or "while SSL
    /// handshaking"): the client closed or reset without sending a request. No access-log line
    /// (neither nginx nor Apache logs one).
    ClosedWithoutRequest,
}

/// What the web server said about itself in its error log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerNote {
    /// AH00161 (prefork) / AH00484 (worker, event): every worker busy; new connections wait
    /// in the listen queue.
    WorkersExhausted {
        /// When, µs.
        ts_us: i64,
    },
    /// AH00075 / AH02572: the accept filter (accf_http, TCP_DEFER_ACCEPT) is not in effect.
    AcceptFilterMissing {
        /// When, µs.
        ts_us: i64,
    },
}

/// What one web-log line gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebItem {
    /// A client request.
    Request(LoggedRequest),
    /// Apache's own request to wake an idle child.
    Internal,
    /// What the error log says about one connection (a read timeout, plain HTTP on the TLS
    /// port).
    Note(ConnNote),
    /// A note about the server.
    Server(ServerNote),
    /// A line with nothing about connections.
    Nothing,
}

impl WebItem {
    /// When it happened (the web log's clock), µs, if it says.
    pub fn time(&self) -> Option<i64> {
        match self {
            WebItem::Request(r) => Some(r.ts_us),
            WebItem::Note(t) => Some(t.ts_us),
            WebItem::Server(ServerNote::WorkersExhausted { ts_us })
            | WebItem::Server(ServerNote::AcceptFilterMissing { ts_us }) => Some(*ts_us),
            WebItem::Internal | WebItem::Nothing => None,
        }
    }
}

/// Common layouts beyond the weblog presets (client port logged for exact matching).
pub const EXTRA_ACCESS_FORMATS: [&str; 4] = [
    r#"%h %{remote}p %l %u %t "%r" %>s %b %D "%{Referer}i" "%{User-Agent}i""#,
    r#"%h %{remote}p %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#,
    r#"%a %{c}p %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#,
    r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %D"#,
];

/// Detects an access log's format from its first lines: the weblog presets and the layouts
/// of [`EXTRA_ACCESS_FORMATS`], whichever parses most lines.
pub fn detect_access(sample: &[&[u8]]) -> Result<LogFormat, String> {
    let preset = halfopen_weblog::detect_access_format(sample);
    let score = |f: &LogFormat| sample.iter().filter(|l| f.parse(l).is_ok()).count();
    let mut best = preset.as_ref().ok().map(|f| (score(f), f.clone()));
    for fmt in EXTRA_ACCESS_FORMATS {
        if best.as_ref().is_some_and(|(m, _)| *m == sample.len()) {
            // Every line parsed: no layout can parse more (a tie keeps the first).
            break;
        }
        if let Ok(f) = LogFormat::compile(fmt) {
            let n = score(&f);
            if n > 0 && best.as_ref().is_none_or(|(m, _)| n > *m) {
                best = Some((n, f));
            }
        }
    }
    match best {
        Some((_, f)) => Ok(f),
        None => Err(match preset {
            Err(e) => {
                format!("{e} (and the common layouts with %{{remote}}p); use --access-format")
            }
            Ok(_) => "no line parsed; use --access-format".to_owned(),
        }),
    }
}

pub use crate::tools::{is_internal_dummy, scanning_tool};

/// One access-log line (the time moved back by the duration when the line carries the
/// request's end).
pub fn access_item(p: &mut AccessParser<'_>, b: &[u8]) -> Result<WebItem, String> {
    access_item_and_offset(p, b).map(|(item, _)| item)
}

/// One access-log line ([`access_item`]) and the UTC offset its time was written in, when it
/// has a time.
pub fn access_item_and_offset(
    p: &mut AccessParser<'_>,
    b: &[u8],
) -> Result<(WebItem, Option<i32>), String> {
    let r = p.parse(b).map_err(|e| e.to_string())?;
    let offset = r.time.map(|t| t.utc_offset_secs);
    let item = access_record_item(&r)?;
    Ok((item, offset))
}

fn access_record_item(r: &halfopen_weblog::AccessRecord<'_>) -> Result<WebItem, String> {
    let raw = r.request.as_ref().map(|q| q.raw);
    if is_internal_dummy(raw, r.user_agent) {
        return Ok(WebItem::Internal);
    }
    let Some(ip) = r.client.as_ref().and_then(|c| c.ip()) else {
        return Err("no client address (host names are not resolved)".into());
    };
    let Some(t) = r.time else {
        return Err("no request time".into());
    };
    let ts = if t.at_end {
        t.ts_us.saturating_sub(
            r.duration_us
                .and_then(|d| i64::try_from(d).ok())
                .unwrap_or(0),
        )
    } else {
        t.ts_us
    };
    let mut lr = LoggedRequest::new(ts, ip.to_canonical(), r.client_port, r.status, raw);
    lr.server_port = r.server_port;
    lr.tool = scanning_tool(raw, r.user_agent);
    Ok(WebItem::Request(lr))
}

/// One error-log line: a read timeout, a note about the server, or nothing (a stamp without
/// a zone read at `utc_offset_secs`).
pub fn error_item(b: &[u8], utc_offset_secs: i32) -> Result<WebItem, String> {
    let mut clock = LocalClock::new(Zone::Fixed(utc_offset_secs));
    error_item_and_server(b, &mut clock).map(|(item, _)| item)
}

/// An offset no zone has (zones are whole minutes): a stamp read at it carried no offset of
/// its own.
const ZONELESS: i32 = 1;

/// One error-log line ([`error_item`]), a stamp without a zone read on `clock` (a stamp with
/// its own offset as written), and the web server that wrote the line, when its form tells
/// (Apache 2.2 or 2.4, or nginx; not a bare start-up line).
pub fn error_item_and_server(
    b: &[u8],
    clock: &mut LocalClock,
) -> Result<(WebItem, Option<WebServer>), String> {
    use halfopen_weblog::error_log::ErrorFlavor;
    let mut r = halfopen_weblog::error_log::parse_with(b, ZONELESS).map_err(|e| e.to_string())?;
    if let Some(t) = r.time.as_mut()
        && t.utc_offset_secs == ZONELESS
    {
        let local = t.ts_us.saturating_add(i64::from(ZONELESS) * 1_000_000);
        t.ts_us = clock.instant(local);
    }
    let server = match r.flavor {
        ErrorFlavor::Apache22 | ErrorFlavor::Apache24 => Some(WebServer::Apache),
        ErrorFlavor::Nginx => Some(WebServer::Nginx),
        ErrorFlavor::Bare => None,
    };
    Ok((classify_error(&r), server))
}

fn classify_error(r: &ErrorRecord<'_>) -> WebItem {
    let ts = r.time.map(|t| t.ts_us);
    if r.known() == Some(Known::RequestHeaderReadTimeout)
        && let (Some(client), Some(ts_us)) = (r.client, ts)
    {
        return WebItem::Note(ConnNote {
            ts_us,
            client: client.to_canonical(),
            client_port: r.client_port,
            kind: if memchr::memmem::find(r.message, b"body").is_some() {
                NoteKind::BodyReadTimeout
            } else {
                NoteKind::HeaderReadTimeout
            },
        });
    }
    // mod_ssl AH01996; nginx: "client sent plain HTTP request to HTTPS port" (no client port).
    let http_on_tls = r.known() == Some(Known::SslHandshakeFailedHttpOnHttps)
        || memchr::memmem::find(r.message, b"plain HTTP request to HTTPS port").is_some();
    if http_on_tls && let (Some(client), Some(ts_us)) = (r.client, ts) {
        return WebItem::Note(ConnNote {
            ts_us,
            client: client.to_canonical(),
            client_port: r.client_port,
            kind: NoteKind::HttpOnTlsPort,
        });
    }
    if let (Some(kind), Some(client), Some(ts_us)) = (no_request(r.message), r.client, ts) {
        return WebItem::Note(ConnNote {
            ts_us,
            client: client.to_canonical(),
            client_port: r.client_port,
            kind,
        });
    }
    let Some(ts_us) = ts else {
        return WebItem::Nothing;
    };
    let code = r.code.map(|c| c.0);
    let says = |s: &[u8]| memchr::memmem::find(r.message, s).is_some();
    if matches!(code, Some(161 | 484))
        || says(b"reached MaxRequestWorkers")
        || says(b"reached MaxClients")
    {
        return WebItem::Server(ServerNote::WorkersExhausted { ts_us });
    }
    if matches!(code, Some(75 | 2572)) || says(b"Accept Filter") || says(b"TCP_DEFER_ACCEPT") {
        return WebItem::Server(ServerNote::AcceptFilterMissing { ts_us });
    }
    WebItem::Nothing
}

/// What nginx says at `info` when a connection ended before its request (the words of nginx
/// 1.22 in `../shared/corpora/apache/lab/SCENARIOS.tsv` and the nginx lab run): a timeout, a
/// close or a reset "while waiting for request" (after the handshake, or a TLS handshake) or
/// "while SSL handshaking". A keep-alive connection's end after its requests is "closed
/// keepalive connection" instead.
fn no_request(message: &[u8]) -> Option<NoteKind> {
    let says = |s: &[u8]| memchr::memmem::find(message, s).is_some();
    if !(says(b"while waiting for request") || says(b"while SSL handshaking")) {
        return None;
    }
    if says(b"client timed out") {
        Some(NoteKind::NoRequestTimeout)
    } else if says(b"client closed connection") || says(b"Connection reset by peer") {
        Some(NoteKind::ClosedWithoutRequest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_tells_its_server() {
        let apache = b"[Tue Nov 24 21:36:57.256757 2026] [reqtimeout:info] [pid 3148:tid 3161] [client 198.51.100.21:43777] AH01382: Request header read timeout";
        let nginx = b"2026/12/07 15:25:08 [info] 8503#8503: *14 client closed connection while waiting for request, client: 203.0.113.24, server: 192.0.2.10:80";
        let bare = b"AH00558: apache2: Could not reliably determine the server's fully qualified domain name";
        let mut clock = LocalClock::new(Zone::Utc);
        let mut server = |b: &[u8]| {
            error_item_and_server(b, &mut clock)
                .ok()
                .and_then(|(_, s)| s)
        };
        assert_eq!(server(apache), Some(WebServer::Apache));
        assert_eq!(server(nginx), Some(WebServer::Nginx));
        assert_eq!(server(bare), None);
    }

    /// A stamp without a zone is read on the clock (here Berlin, summer time: +02:00); one
    /// that writes its own offset (Apache's `%{cuz}t`) is read as written, whatever the zone.
    #[test]
    fn an_error_stamp_is_read_in_the_zone_unless_it_writes_its_offset() {
        let zoneless = b"[Tue Jul 22 15:45:51.323610 2025] [reqtimeout:info] [pid 3148:tid 3161] [client 198.51.100.21:43777] AH01382: Request header read timeout";
        let zoned = b"[2025-07-22 15:45:51.323610 +0000] [reqtimeout:info] [pid 3148:tid 3161] [client 198.51.100.21:43777] AH01382: Request header read timeout";
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        let at = |b: &[u8]| match error_item_and_server(b, &mut LocalClock::new(berlin)) {
            Ok((WebItem::Note(n), _)) => n.ts_us,
            other => panic!("{other:?}"),
        };
        let utc_1545 = 1_753_199_151_323_610;
        assert_eq!(at(zoneless), utc_1545 - 7_200_000_000);
        assert_eq!(at(zoned), utc_1545);
    }

    /// nginx 1.22 at `info` (the nginx lab run's error log, and SCENARIOS.tsv's words).
    #[test]
    fn nginx_says_when_a_connection_ended_without_a_request() {
        let cases: [(&[u8], Option<NoteKind>); 6] = [
            (
                b"2026/12/07 15:25:08 [info] 8503#8503: *11 client closed connection while waiting for request, client: 203.0.113.24, server: 192.0.2.10:80",
                Some(NoteKind::ClosedWithoutRequest),
            ),
            (
                b"2026/12/07 15:26:08 [info] 8503#8503: *21 client timed out (110: Connection timed out) while waiting for request, client: 203.0.113.33, server: 192.0.2.10:80",
                Some(NoteKind::NoRequestTimeout),
            ),
            (
                b"2026/11/24 20:56:33 [info] 16930#16930: *5 recv() failed (104: Connection reset by peer) while waiting for request, client: 127.0.0.1, server: 127.0.0.1:18081",
                Some(NoteKind::ClosedWithoutRequest),
            ),
            (
                b"2026/11/24 20:56:33 [info] 16930#16930: *36 client timed out (110: Connection timed out) while SSL handshaking, client: 127.0.0.1, server: 127.0.0.1:18445",
                Some(NoteKind::NoRequestTimeout),
            ),
            // A slowloris: nginx timed out an unfinished head (its 408 is in the access log).
            (
                b"2026/12/07 15:26:08 [info] 8504#8504: *30 client timed out (110: Connection timed out) while reading client request headers, client: 198.51.100.30, server: www.testbed.example, request: \"GET / HTTP/1.1\", host: \"192.0.2.10\"",
                None,
            ),
            // The end of a keep-alive connection after its requests.
            (
                b"2026/12/07 15:25:05 [info] 8503#8503: *2 client 203.0.113.5 closed keepalive connection",
                None,
            ),
        ];
        for (line, want) in cases {
            let got = match error_item(line, 0) {
                Ok(WebItem::Note(n)) => Some(n.kind),
                _ => None,
            };
            assert_eq!(got, want, "{}", String::from_utf8_lossy(line));
        }
    }

    /// Plain HTTP sent to a TLS port, in the words of mod_ssl (lab run `https`) and nginx
    /// (`../shared/corpora/apache/lab`, nginx 1.22.1 at `info`).
    #[test]
    fn plain_http_on_the_tls_port_is_a_note_for_its_connection() {
        let apache = b"[Mon Dec 07 12:45:44.961863 2026] [ssl:info] [pid 15768:tid 15844] [client 203.0.113.32:34870] AH01996: SSL handshake failed: HTTP spoken on HTTPS port; trying to send HTML error page";
        let nginx = b"2026/11/24 20:56:33 [info] 16930#16930: *37 client sent plain HTTP request to HTTPS port while reading client request headers, client: 127.0.0.1, server: , request: \"GET /plain-on-tls HTTP/1.1\", host: \"lab.test\"";
        for (line, port) in [(&apache[..], Some(34870)), (&nginx[..], None)] {
            let Ok(WebItem::Note(n)) = error_item(line, 0) else {
                panic!("{:?}", error_item(line, 0))
            };
            assert_eq!((n.kind, n.client_port), (NoteKind::HttpOnTlsPort, port));
        }
    }

    #[test]
    fn internal_dummy_connections_are_apart() {
        let f =
            LogFormat::compile(r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#)
                .unwrap();
        let mut p = f.parser();
        let line = br#"testbed.example:80 ::1 - - [24/Nov/2026:21:36:47 +0000] "OPTIONS * HTTP/1.0" 200 126 "-" "Apache/2.4.71 (Debian) (internal dummy connection)""#;
        assert_eq!(access_item(&mut p, line), Ok(WebItem::Internal));
        let line = br#"testbed.example:80 203.0.113.5 - - [24/Nov/2026:21:36:47 +0000] "GET / HTTP/1.1" 200 126 "-" "curl/7.88.1""#;
        let Ok(WebItem::Request(r)) = access_item(&mut p, line) else {
            panic!("a request")
        };
        assert_eq!((r.server_port, r.kind()), (Some(80), RequestKind::Success));
    }

    #[test]
    fn error_lines() {
        let t = error_item(b"[Tue Nov 24 21:36:57.256757 2026] [reqtimeout:info] [pid 3148:tid 3161] [client 198.51.100.21:43777] AH01382: Request header read timeout", 0).unwrap();
        assert!(matches!(
            t,
            WebItem::Note(ConnNote {
                client_port: Some(43777),
                kind: NoteKind::HeaderReadTimeout,
                ..
            })
        ));
        let w = error_item(b"[Tue Nov 24 21:36:57.256757 2026] [mpm_prefork:error] [pid 3148] AH00161: server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting", 0).unwrap();
        assert!(matches!(
            w,
            WebItem::Server(ServerNote::WorkersExhausted { .. })
        ));
        let n = error_item(b"[Tue Nov 24 21:36:47.739060 2026] [core:info] [pid 3146:tid 3186] [client 203.0.113.5:45444] AH00128: File does not exist: /srv/x", 0).unwrap();
        assert_eq!(n, WebItem::Nothing);
    }
}
