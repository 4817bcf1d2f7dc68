//! The parsed access-log record (borrows from the line).

use std::net::IpAddr;

use crate::format::MAX_FIELDS;
use crate::time::LogTime;

/// The client as logged: an address, or a host name when `HostnameLookups` is on (`%h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client<'a> {
    /// An IPv4 or IPv6 address.
    Ip(IpAddr),
    /// A host name (or anything else that is not an address), kept as text.
    Host(&'a [u8]),
}

impl Client<'_> {
    /// The address, when the client was logged as one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Client::Ip(ip) => Some(*ip),
            Client::Host(_) => None,
        }
    }
}

/// The first line of the request as logged (`%r`, nginx `$request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestLine<'a> {
    /// The bytes as logged, escapes not decoded (see [`crate::unescape`]).
    pub raw: &'a [u8],
    /// The method, when the line looks like `METHOD target [protocol]` with a token method.
    pub method: Option<&'a [u8]>,
    /// The request target (escapes not decoded).
    pub target: Option<&'a [u8]>,
    /// The protocol (`HTTP/1.1`); `None` for HTTP/0.9-style `GET /` and truncated lines.
    pub protocol: Option<&'a [u8]>,
}

/// Last space: ` HTTP/x.y` at the end is checked directly; else a byte loop over the last
/// 16 bytes, memrchr before.
#[inline]
fn last_space(b: &[u8]) -> Option<usize> {
    if let Some(i) = b.len().checked_sub(9) {
        if b.get(i) == Some(&b' ')
            && matches!(b.get(i + 1..i + 6), Some(b"HTTP/" | b"http/"))
            && b.get(i + 6..).is_some_and(|v| !v.contains(&b' '))
        {
            return Some(i);
        }
    }
    let split = b.len().saturating_sub(16);
    if let Some(i) = b.get(split..)?.iter().rposition(|&c| c == b' ') {
        return Some(split + i);
    }
    memchr::memrchr(b' ', b.get(..split)?)
}

/// RFC 9110 token characters, by byte.
const TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        c += 1;
    }
    t
};

impl<'a> RequestLine<'a> {
    /// Split a logged request line. Never fails: when the line is not `METHOD SP target [SP
    /// HTTP/x]` (TLS bytes on a plain port, `Gh0st...`, a lone word), only `raw` is set.
    ///
    /// ```
    /// use halfopen_weblog::RequestLine;
    /// let r = RequestLine::parse(b"PRI * HTTP/2.0");
    /// assert_eq!((r.method, r.target, r.protocol), (Some(&b"PRI"[..]), Some(&b"*"[..]), Some(&b"HTTP/2.0"[..])));
    /// let r = RequestLine::parse(br"\x16\x03\x01\x02");
    /// assert_eq!(r.method, None);
    /// let r = RequestLine::parse(b"GET /");
    /// assert_eq!((r.target, r.protocol), (Some(&b"/"[..]), None));
    /// ```
    pub fn parse(raw: &'a [u8]) -> RequestLine<'a> {
        let mut r = RequestLine {
            raw,
            method: None,
            target: None,
            protocol: None,
        };
        // The method: token characters up to the first space (a non-token byte before any
        // space, as in TLS bytes or `Gh0st\xad`, means no split).
        let mut sp = None;
        for (i, &c) in raw.iter().enumerate() {
            if c == b' ' {
                sp = Some(i);
                break;
            }
            if !TCHAR[usize::from(c)] {
                return r;
            }
        }
        let Some(sp) = sp else {
            return r;
        };
        let (method, rest) = (
            raw.get(..sp).unwrap_or_default(),
            raw.get(sp + 1..).unwrap_or_default(),
        );
        if method.is_empty() || rest.is_empty() {
            return r;
        }
        r.method = Some(method);
        match last_space(rest) {
            Some(last) => {
                let proto = rest.get(last + 1..).unwrap_or_default();
                if proto.starts_with(b"HTTP/") || proto.starts_with(b"http/") {
                    r.target = rest.get(..last);
                    r.protocol = Some(proto);
                } else {
                    r.target = Some(rest);
                }
            }
            None => r.target = Some(rest),
        }
        r
    }
}

/// One access-log line, parsed. Typed fields are `None` when the format does not log them or
/// the line has `-`; every field's raw bytes stay reachable through [`AccessRecord::field`]
/// (slot = index in [`crate::LogFormat::fields`]) or [`crate::LogFormat::get`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRecord<'a> {
    /// `%a` (preferred) or `%h`.
    pub client: Option<Client<'a>>,
    /// `%{c}a`: the TCP peer (differs from `%a` behind mod_remoteip).
    pub peer: Option<IpAddr>,
    /// `%{remote}p` / nginx `$remote_port`.
    pub client_port: Option<u16>,
    /// `%A` / nginx `$server_addr`.
    pub server_ip: Option<IpAddr>,
    /// `%{local}p` (preferred) or `%p` / nginx `$server_port`.
    pub server_port: Option<u16>,
    /// `%v` or `%V` (nginx `$server_name`, `$host`).
    pub vhost: Option<&'a [u8]>,
    /// `%l`.
    pub remote_logname: Option<&'a [u8]>,
    /// `%u` / `$remote_user` (escapes not decoded).
    pub remote_user: Option<&'a [u8]>,
    /// The request time: the first full timestamp field, refined by a following
    /// `%{msec_frac}t` / `%{usec_frac}t` of the same begin/end kind.
    pub time: Option<LogTime>,
    /// `%r` / `$request`; `None` when logged as `-` (e.g. a 408 for a connection that sent nothing).
    pub request: Option<RequestLine<'a>>,
    /// `%>s` (preferred), else `%s` / `%<s`; `None` for `-`.
    pub status: Option<u16>,
    /// Body bytes: `%b` (`-` counts as 0), `%B`, nginx `$body_bytes_sent`; else `%O` when the
    /// format has no body-size field (Debian's `combined`).
    pub bytes: Option<u64>,
    /// `%I` / nginx `$request_length`.
    pub bytes_in: Option<u64>,
    /// `%O` / nginx `$bytes_sent`.
    pub bytes_out: Option<u64>,
    /// `%S`.
    pub bytes_total: Option<u64>,
    /// From the finest of `%D`, `%{us}T`, `%{ms}T`, `$request_time`, `%T`.
    pub duration_us: Option<u64>,
    /// `%{Referer}i`, escapes not decoded; `None` for `-`, `Some(b"")` for `""`.
    pub referer: Option<&'a [u8]>,
    /// `%{User-Agent}i`, escapes not decoded; `None` for `-`.
    pub user_agent: Option<&'a [u8]>,
    /// `%k` (keep-alive requests before this one on the connection); nginx
    /// `$connection_requests - 1`.
    pub keepalive: Option<u32>,
    /// `%X`: `b'X'` aborted before the response completed, `b'+'` may be kept alive, `b'-'` closed.
    pub conn_status: Option<u8>,
    /// `%P`.
    pub pid: Option<u32>,
    /// `%{tid}P` / `%{hextid}P`.
    pub tid: Option<u64>,
    /// nginx `$connection`.
    pub connection_serial: Option<u64>,
    /// Bytes after the end of the format (extra fields some setups append), without the
    /// separating space; empty normally.
    pub trailing: &'a [u8],
    pub(crate) line: &'a [u8],
    pub(crate) spans: [(u32, u32); MAX_FIELDS],
    pub(crate) n_fields: usize,
}

impl<'a> AccessRecord<'a> {
    pub(crate) fn empty(line: &'a [u8]) -> AccessRecord<'a> {
        AccessRecord {
            client: None,
            peer: None,
            client_port: None,
            server_ip: None,
            server_port: None,
            vhost: None,
            remote_logname: None,
            remote_user: None,
            time: None,
            request: None,
            status: None,
            bytes: None,
            bytes_in: None,
            bytes_out: None,
            bytes_total: None,
            duration_us: None,
            referer: None,
            user_agent: None,
            keepalive: None,
            conn_status: None,
            pid: None,
            tid: None,
            connection_serial: None,
            trailing: &[],
            line,
            spans: [(0, 0); MAX_FIELDS],
            n_fields: 0,
        }
    }

    /// The raw bytes of field `index` (its position in [`crate::LogFormat::fields`]), as logged.
    pub fn field(&self, index: usize) -> Option<&'a [u8]> {
        if index >= self.n_fields {
            return None;
        }
        let (s, e) = *self.spans.get(index)?;
        self.line.get(s as usize..e as usize)
    }

    /// Byte offset of field `index` in the line.
    pub fn field_offset(&self, index: usize) -> Option<usize> {
        if index >= self.n_fields {
            return None;
        }
        self.spans.get(index).map(|s| s.0 as usize)
    }

    /// Number of fields.
    pub fn field_count(&self) -> usize {
        self.n_fields
    }

    /// The whole line.
    pub fn line(&self) -> &'a [u8] {
        self.line
    }

    /// The address to match against TCP connections: `%{c}a` when logged, else the client IP.
    pub fn tcp_peer(&self) -> Option<IpAddr> {
        self.peer.or_else(|| self.client.and_then(|c| c.ip()))
    }
}
