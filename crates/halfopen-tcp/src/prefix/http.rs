//! HTTP/1 request heads and status lines, parsed with `httparse`.

use httparse::Status;

/// Most header lines counted in one head (a 4096-byte prefix holds at most about 1365
/// `a:` lines; larger prefixes count only this many).
const MAX_HEADERS: usize = 2048;

/// Most heads followed in a pipeline.
const MAX_PIPELINED: usize = 64;

/// Methods accepted before the request line is complete (after it, any token is).
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND",
];

/// How far a request head got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeadShape {
    /// One head, ended by its empty line.
    Complete,
    /// A request line (perhaps cut) and maybe header lines, but no end of head: what a
    /// slowloris client sends, or a prefix cut by the cap or a hole.
    Partial,
    /// Several complete heads back to back (HTTP pipelining; a flood tool's burst).
    Pipelined,
}

/// An HTTP/1 request head at the start of a client's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpRequest<'a> {
    /// Method (`GET`, `CONNECT`...).
    pub method: &'a str,
    /// Request target as sent, when the request line got that far.
    pub target: Option<&'a str>,
    /// Minor version (`HTTP/1.x`), when the request line is complete.
    pub version: Option<u8>,
    /// Complete header lines of the first head.
    pub header_count: usize,
    /// The first head ended (its empty line is in).
    pub head_ended: bool,
    /// Complete heads, the first included (0 when the first is partial).
    pub complete_heads: usize,
    /// A header line that `httparse` rejects follows the ones counted.
    pub malformed: bool,
    /// The header lines of the first head (from after the request line), for their names.
    header_lines: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// Complete, partial or pipelined.
    pub fn shape(&self) -> HeadShape {
        match (self.head_ended, self.complete_heads) {
            (false, _) => HeadShape::Partial,
            (true, n) if n > 1 => HeadShape::Pipelined,
            _ => HeadShape::Complete,
        }
    }

    /// The names of the first head's complete header lines, in order (never the values).
    pub fn header_names(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let count = self.header_count;
        self.header_lines
            .split(|&b| b == b'\n')
            .filter(|l| !matches!(l, [] | [b'\r']))
            .take(count)
            .map(|l| match l.iter().position(|&b| b == b':') {
                Some(i) => l.get(..i).unwrap_or(l),
                None => l,
            })
    }

    /// Header lines among the first `len` bytes of the head.
    pub(crate) fn headers_within(&self, whole: &[u8], len: usize) -> usize {
        let Some(first) = whole.get(..len.min(whole.len())) else {
            return 0;
        };
        let lines = first.iter().filter(|&&b| b == b'\n').count();
        lines.saturating_sub(1).min(self.header_count)
    }
}

fn header_buffer(len: usize) -> Vec<httparse::Header<'static>> {
    vec![httparse::EMPTY_HEADER; (len / 3 + 2).min(MAX_HEADERS)]
}

/// Header slots tried on the stack before a heap buffer sized for the input.
const STACK_HEADERS: usize = 48;

/// What one `httparse` pass over a request head found.
struct Parsed<'a> {
    status: httparse::Result<usize>,
    method: Option<&'a str>,
    target: Option<&'a str>,
    version: Option<u8>,
    headers: usize,
    content_length: usize,
}

/// Parses `buf` as a request head with `headers` slots.
fn parse_with<'a>(buf: &'a [u8], headers: &mut [httparse::Header<'a>]) -> Parsed<'a> {
    let mut req = httparse::Request::new(headers);
    let status = req.parse(buf);
    let content_length = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    Parsed {
        status,
        method: req.method,
        target: req.path,
        version: req.version,
        headers: req.headers.len(),
        content_length: if matches!(status, Ok(Status::Complete(_))) {
            content_length
        } else {
            0
        },
    }
}

/// Parses `buf` as a request head: first with header slots on the stack, then (too many
/// headers) with a heap buffer large enough for any head that fits in `buf`.
fn parse(buf: &[u8]) -> Parsed<'_> {
    let mut small = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let p = parse_with(buf, &mut small);
    if !matches!(p.status, Err(httparse::Error::TooManyHeaders)) {
        return p;
    }
    let mut big = header_buffer(buf.len());
    parse_with(buf, &mut big)
}

/// The request head at the start of `buf`, if it is one.
pub(crate) fn request(buf: &[u8]) -> Option<HttpRequest<'_>> {
    let p = parse(buf);
    let method = p.method?;
    let line_end = buf
        .iter()
        .position(|&b| b == b'\n')
        .map_or(buf.len(), |i| i + 1);
    match p.status {
        Ok(Status::Complete(len)) => Some(HttpRequest {
            method,
            target: p.target,
            version: p.version,
            header_count: p.headers,
            head_ended: true,
            complete_heads: 1 + pipelined_after(buf, len.saturating_add(p.content_length)),
            malformed: false,
            header_lines: buf.get(line_end..len).unwrap_or(&[]),
        }),
        Ok(Status::Partial) => {
            if p.version.is_none() && !METHODS.contains(&method) {
                return None;
            }
            let (count, malformed, lines) = partial_headers(buf, line_end, p.version.is_some());
            Some(HttpRequest {
                method,
                target: p.target,
                version: p.version,
                header_count: count,
                head_ended: false,
                complete_heads: 0,
                malformed,
                header_lines: lines,
            })
        }
        Err(_) => None,
    }
}

/// Counts the complete header lines of an unfinished head: the bytes up to the last line
/// end, with an empty line added, parsed again.
fn partial_headers(buf: &[u8], line_end: usize, line_done: bool) -> (usize, bool, &[u8]) {
    let last = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if !line_done || last <= line_end {
        return (0, false, &[]);
    }
    let lines = buf.get(line_end..last).unwrap_or(&[]);
    let mut closed = Vec::with_capacity(last + 2);
    closed.extend_from_slice(buf.get(..last).unwrap_or(&[]));
    closed.extend_from_slice(b"\r\n");
    let p = parse(&closed);
    match p.status {
        Ok(Status::Complete(_)) => (p.headers, false, lines),
        _ => {
            let n = lines.iter().filter(|&&b| b == b'\n').count();
            (n, true, lines)
        }
    }
}

/// Complete heads from `at` on (after the first head and its body).
fn pipelined_after(buf: &[u8], mut at: usize) -> usize {
    let mut n = 0;
    while n < MAX_PIPELINED {
        let Some(rest) = buf.get(at..).filter(|r| !r.is_empty()) else {
            break;
        };
        let p = parse(rest);
        let Ok(Status::Complete(l)) = p.status else {
            break;
        };
        n += 1;
        at = at.saturating_add(l).saturating_add(p.content_length);
    }
    n
}

/// An HTTP/1 status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStatus<'a> {
    /// Minor version (`HTTP/1.x`).
    pub version: u8,
    /// Status code (400, 408...).
    pub code: u16,
    /// Reason phrase as sent.
    pub reason: &'a str,
}

/// The status line at the start of a server's first line.
pub(crate) fn status(line: &[u8]) -> Option<HttpStatus<'_>> {
    let mut headers = [httparse::EMPTY_HEADER; 1];
    let mut resp = httparse::Response::new(&mut headers);
    // Errors after the status line (a cut header) leave the parsed fields set.
    let _ = resp.parse(line);
    // Without its line end the reason is not taken: it is the rest of the line.
    let cut = || {
        let rest = line.get(13..)?;
        std::str::from_utf8(rest).ok()
    };
    Some(HttpStatus {
        version: resp.version?,
        code: resp.code?,
        reason: resp.reason.or_else(cut).unwrap_or(""),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_partial_pipelined() {
        let r = request(b"GET /a?b HTTP/1.1\r\nHost: x\r\nUser-Agent: y\r\n\r\n").unwrap();
        assert_eq!(
            (r.method, r.target, r.version),
            ("GET", Some("/a?b"), Some(1))
        );
        assert_eq!((r.header_count, r.shape()), (2, HeadShape::Complete));
        let names: Vec<&[u8]> = r.header_names().collect();
        assert_eq!(names, [&b"Host"[..], b"User-Agent"]);

        let r = request(b"GET / HTTP/1.1\r\nHost: x\r\nX-a: b\r\nX-b").unwrap();
        assert_eq!(
            (r.header_count, r.shape(), r.malformed),
            (2, HeadShape::Partial, false)
        );
        assert_eq!(r.header_names().count(), 2);

        let two = b"POST /f HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\n\r\nGET /x HTTP/1.0\r\n\r\n";
        let r = request(two).unwrap();
        assert_eq!((r.complete_heads, r.shape()), (3, HeadShape::Pipelined));

        let r = request(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(r.target, Some("example.com:443"));
        assert!(request(b"GE").is_none());
        assert!(request(b"FOO /x").is_none());
        assert!(request(b"SSH-2.0-x\r\n").is_none());
        assert_eq!(request(b"GET /ind").unwrap().target, None);
    }

    #[test]
    fn status_lines() {
        let s = status(b"HTTP/1.1 408 Request Timeout").unwrap();
        assert_eq!((s.version, s.code, s.reason), (1, 408, "Request Timeout"));
        let s = status(b"HTTP/1.0 400 Bad Request\r\nServer: x").unwrap();
        assert_eq!(s.code, 400);
        assert!(status(b"SSH-2.0-x").is_none());
    }
}
