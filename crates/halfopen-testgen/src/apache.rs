//! What Apache httpd 2.4 (Debian defaults) sends and logs, byte for byte where the lab showed it.

use crate::clock;

/// Server header value.
pub const SERVER: &str = "Apache/2.4.71 (Debian)";
/// `DocumentRoot`.
pub const DOCROOT: &str = "/var/www/html";

/// `%b` of Apache's 400 page (lab: `b=266`).
pub const BODY_400: u64 = 266;
/// `%b` of Apache's 404 page (lab: `b=236`).
pub const BODY_404: u64 = 236;
/// `%b` of Apache's 408 page sent when a request line was read (lab: `b=261`).
pub const BODY_408: u64 = 261;

/// Escapes a logged item like `ap_escape_logitem`: `"` and `\` get a backslash, control and
/// non-ASCII bytes become `\xhh`, with `\b \n \r \t \v` spelled out.
pub fn escape_logitem(raw: &[u8]) -> String {
    let mut s = String::with_capacity(raw.len());
    for &b in raw {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x08 => s.push_str("\\b"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x0b => s.push_str("\\v"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// The request line Apache logs for bytes received before the first CRLF: it stops at a NUL
/// (C string), so a TLS ClientHello `16 03 01 02 00 ...` logs as `\x16\x03\x01\x02`.
pub fn logged_request_line(received: &[u8]) -> String {
    let end = received
        .iter()
        .position(|&b| b == 0 || b == b'\n')
        .unwrap_or(received.len());
    let line = received.get(..end).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    escape_logitem(line)
}

fn body(len: u64, fill: u8) -> Vec<u8> {
    let mut b = Vec::with_capacity(len as usize);
    let head = b"<!DOCTYPE html>\n<html><body>\n";
    b.extend_from_slice(head);
    while (b.len() as u64) < len {
        b.push(fill);
    }
    b.truncate(len as usize);
    b
}

/// A full HTTP/1.1 response (headers + body of `len` bytes).
pub fn response(
    status: u16,
    len: u64,
    now_us: i64,
    keepalive: bool,
    content_type: &str,
) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        408 => "Request Timeout",
        _ => "Unknown",
    };
    let conn = if keepalive {
        "Keep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\n"
    } else {
        "Connection: close\r\n"
    };
    let mut r = format!(
        "HTTP/1.1 {status} {reason}\r\nDate: {}\r\nServer: {SERVER}\r\nContent-Length: {len}\r\n{conn}Content-Type: {content_type}\r\n\r\n",
        clock::http_date(now_us)
    )
    .into_bytes();
    r.extend_from_slice(&body(len, b'.'));
    r
}

/// The pages a browser fetches: (path, content type, size of the 200 body; 0 = always 404).
pub const PAGES: &[(&str, &str, u64)] = &[
    ("/", "text/html", 3_407),
    ("/index.html", "text/html", 3_407),
    ("/css/site.css", "text/css", 1_830),
    ("/js/app.js", "application/javascript", 5_974),
    ("/img/logo.png", "image/png", 2_352),
    ("/about/", "text/html", 2_120),
    (
        "/blog/2026/02/half-open-connections.html",
        "text/html",
        6_211,
    ),
    ("/favicon.ico", "image/x-icon", 0),
    ("/robots.txt", "text/plain", 0),
];

/// The sub-resources of the home page a real browser fetches in parallel (a stylesheet, a
/// script, images, the favicon that is missing): (path, content type, size; 0 = 404).
pub const ASSETS: &[(&str, &str, u64)] = &[
    ("/css/site.css", "text/css", 1_830),
    ("/js/app.js", "application/javascript", 5_974),
    ("/img/logo.png", "image/png", 2_352),
    ("/img/photo-1.jpg", "image/jpeg", 14_220),
    ("/img/photo-2.jpg", "image/jpeg", 9_877),
    ("/img/photo-3.jpg", "image/jpeg", 11_406),
    ("/img/photo-4.jpg", "image/jpeg", 8_192),
    ("/img/icon-rss.svg", "image/svg+xml", 731),
    ("/img/icon-mail.svg", "image/svg+xml", 652),
    ("/js/menu.js", "application/javascript", 1_204),
    ("/css/print.css", "text/css", 412),
    ("/favicon.ico", "image/x-icon", 0),
];

/// Chromium's User-Agent (Linux).
pub const CHROME_LINUX_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36";

/// Browser User-Agents.
pub const USER_AGENTS_LINUX: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0",
];
/// Windows browser User-Agents.
pub const USER_AGENTS_WINDOWS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:135.0) Gecko/20100101 Firefox/135.0",
];

/// slowloris.pl's User-Agent.
pub const SLOWLORIS_UA: &str = "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; Trident/4.0; .NET CLR 1.1.4322; .NET CLR 2.0.503l3; .NET CLR 3.0.4506.2152; .NET CLR 3.5.30729; MSOffice 12)";

/// A browser request.
pub fn request(path: &str, host: &str, ua: &str, referer: Option<&str>) -> Vec<u8> {
    let mut r = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\nAccept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    );
    if let Some(r0) = referer {
        r.push_str(&format!("Referer: {r0}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// A 517-byte TLS 1.2/1.3 ClientHello (record header `16 03 01 02 00`), as Python's ssl sends.
pub fn client_hello(random: &[u8; 64]) -> Vec<u8> {
    let mut h = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    h.extend_from_slice(&random[..32]);
    h.push(0x20);
    h.extend_from_slice(&random[32..]);
    // cipher suites: TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256, ...
    let suites: [u16; 8] = [
        0x1302, 0x1303, 0x1301, 0xc02c, 0xc030, 0xc02b, 0xc02f, 0x00ff,
    ];
    h.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        h.extend_from_slice(&s.to_be_bytes());
    }
    h.extend_from_slice(&[0x01, 0x00]); // compression: null
    let ext_len_at = h.len();
    h.extend_from_slice(&[0, 0]);
    // supported_versions: TLS 1.3, 1.2
    h.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    // padding extension up to 517 bytes in total
    let pad = 517usize.saturating_sub(h.len() + 4);
    h.extend_from_slice(&[0x00, 0x15]);
    h.extend_from_slice(&(pad as u16).to_be_bytes());
    h.resize(517, 0);
    let ext_len = (h.len() - ext_len_at - 2) as u16;
    h[ext_len_at..ext_len_at + 2].copy_from_slice(&ext_len.to_be_bytes());
    h
}

/// [`escape_logitem`] for text.
pub fn escape_logitem_str(s: &str) -> String {
    escape_logitem(s.as_bytes())
}

/// The HTTP/2 connection preface and an empty-ish SETTINGS frame, as `curl --http2-prior-knowledge` sends.
pub fn h2_preface() -> Vec<u8> {
    let mut p = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS (type 4), 18 bytes: MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE 10 MiB, ENABLE_PUSH 0.
    p.extend_from_slice(&[0x00, 0x00, 0x12, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00]);
    p.extend_from_slice(&[0x00, 0x03, 0x00, 0x00, 0x00, 0x64]);
    p.extend_from_slice(&[0x00, 0x04, 0x00, 0xa0, 0x00, 0x00]);
    p.extend_from_slice(&[0x00, 0x02, 0x00, 0x00, 0x00, 0x00]);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clienthello_logs_like_the_lab() {
        let ch = client_hello(&[7u8; 64]);
        assert_eq!(ch.len(), 517);
        assert_eq!(logged_request_line(&ch), "\\x16\\x03\\x01\\x02");
    }

    #[test]
    fn h2_preface_logs_like_the_lab() {
        assert_eq!(logged_request_line(&h2_preface()), "PRI * HTTP/2.0");
    }

    #[test]
    fn escapes_like_apache() {
        assert_eq!(
            escape_logitem(b"GET /a\"b\\ \xc3\xa9"),
            "GET /a\\\"b\\\\ \\xc3\\xa9"
        );
        assert_eq!(
            logged_request_line(b"GET / HTTP/1.1\r\nHost: x\r\n"),
            "GET / HTTP/1.1"
        );
    }

    #[test]
    fn response_has_the_declared_body() {
        let r = response(404, BODY_404, 0, true, "text/html; charset=iso-8859-1");
        let split = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!((r.len() - split) as u64, BODY_404);
    }
}
