//! What a connection's first bytes are: [`client`] names the protocol of the
//! originator's bytes ([`ClientKind`]), [`server`] the responder's first line
//! ([`ServerKind`]).
//!
//! Only what the bytes prove is named: an HTTP/1 request head (parsed with `httparse`:
//! complete, partial, pipelined), a TLS ClientHello (with its server name), the HTTP/2
//! preface, an SSH banner, SOCKS 4 and 5, a TPKT/X.224 connection request (RDP), SMB
//! over NetBIOS, the PROXY protocol; anything else is text or binary. Every parser reads
//! borrowed bytes, is bounded by them and never panics.
//!
//! ```
//! use halfopen_tcp::prefix::classify::{self, ClientKind, HeadShape, ServerKind};
//! let k = classify::client(b"GET / HTTP/1.1\r\nHost: x\r\nX-a: b\r\n");
//! let ClientKind::Http(req) = k else { panic!() };
//! assert_eq!((req.method, req.header_count, req.shape()), ("GET", 2, HeadShape::Partial));
//! assert!(matches!(classify::client(b"\x16\x03\x01\x02"), ClientKind::TlsClientHello(_)));
//! let ServerKind::HttpStatus(s) = classify::server(b"HTTP/1.1 408 Request Timeout") else { panic!() };
//! assert_eq!(s.code, 408);
//! ```

pub use super::http::{HeadShape, HttpRequest, HttpStatus};
pub use super::tls::ClientHello;

use super::{http, tls};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The PROXY protocol version 2 signature.
const PROXY_V2: &[u8] = b"\r\n\r\n\x00\r\nQUIT\n";

/// Longest SSH identification line (RFC 4253 §4.2: 255 bytes with CR LF).
const SSH_LINE: usize = 255;

/// What a client's first bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind<'a> {
    /// No bytes.
    Empty,
    /// An HTTP/1 request head (a `CONNECT` request too).
    Http(HttpRequest<'a>),
    /// A TLS handshake record with a ClientHello (perhaps cut).
    TlsClientHello(ClientHello<'a>),
    /// The HTTP/2 preface (or its start): HTTP/2 with prior knowledge.
    Http2Preface,
    /// An SSH identification line.
    Ssh(SshBanner<'a>),
    /// A SOCKS 4 (or 4a) request; `command` 1 = CONNECT, 2 = BIND.
    Socks4 {
        /// The request's command code.
        command: u8,
    },
    /// A SOCKS 5 greeting offering `methods` authentication methods.
    Socks5 {
        /// Number of methods offered.
        methods: u8,
    },
    /// A TPKT packet with an X.224 connection request; `rdp` when it carries an RDP
    /// cookie or negotiation request (else another ISO transport user, e.g. S7).
    TpktConnect {
        /// An RDP client.
        rdp: bool,
    },
    /// An SMB message over a NetBIOS session header: `version` 1 (`\xffSMB`) or 2
    /// (`\xfeSMB`, SMB 2 and 3).
    Smb {
        /// SMB dialect family.
        version: u8,
    },
    /// A PROXY protocol header (HAProxy), `version` 1 (text) or 2 (binary).
    ProxyProtocol {
        /// Protocol version.
        version: u8,
    },
    /// Printable text that is none of the above.
    Text,
    /// Anything else.
    Binary,
}

impl ClientKind<'_> {
    /// A short name: `http`, `tls`, `http2`, `ssh`, `socks4`, `socks5`, `tpkt`, `rdp`,
    /// `smb`, `proxy`, `text`, `binary`, `empty`.
    pub fn name(&self) -> &'static str {
        match self {
            ClientKind::Empty => "empty",
            ClientKind::Http(_) => "http",
            ClientKind::TlsClientHello(_) => "tls",
            ClientKind::Http2Preface => "http2",
            ClientKind::Ssh(_) => "ssh",
            ClientKind::Socks4 { .. } => "socks4",
            ClientKind::Socks5 { .. } => "socks5",
            ClientKind::TpktConnect { rdp: true } => "rdp",
            ClientKind::TpktConnect { rdp: false } => "tpkt",
            ClientKind::Smb { .. } => "smb",
            ClientKind::ProxyProtocol { .. } => "proxy",
            ClientKind::Text => "text",
            ClientKind::Binary => "binary",
        }
    }
}

/// An SSH identification line: `SSH-protoversion-softwareversion SP comments`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshBanner<'a> {
    /// Protocol version (`2.0`, `1.99`).
    pub proto: &'a [u8],
    /// Software version (`OpenSSH_9.2p1`).
    pub software: &'a [u8],
    /// Comments after the software version, if any.
    pub comments: Option<&'a [u8]>,
    /// The whole line (without its line end).
    pub line: &'a [u8],
    /// The line end is in.
    pub complete: bool,
}

/// What a server's first line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind<'a> {
    /// No bytes.
    None,
    /// An HTTP/1 status line.
    HttpStatus(HttpStatus<'a>),
    /// An SSH identification line.
    Ssh(SshBanner<'a>),
    /// A TLS record: the server speaks TLS on this port (a ServerHello's handshake record,
    /// or an alert refusing the client's hello).
    Tls(TlsRecord),
    /// Another first line (an SMTP or FTP greeting, binary...), without its line end.
    Other(&'a [u8]),
}

/// The header of a server's first TLS record (RFC 8446 §5.1, RFC 5246 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsRecord {
    /// The content type: 22 handshake (a ServerHello), 21 alert (a refused hello).
    pub content_type: u8,
    /// The record layer's version (`0x0303` for TLS 1.2 and 1.3).
    pub version: u16,
}

/// Names the protocol of a client's first bytes.
pub fn client(bytes: &[u8]) -> ClientKind<'_> {
    if bytes.is_empty() {
        return ClientKind::Empty;
    }
    if let Some(h) = tls::client_hello(bytes) {
        return ClientKind::TlsClientHello(h);
    }
    if is_prefix_either(bytes, HTTP2_PREFACE, 4) {
        return ClientKind::Http2Preface;
    }
    if let Some(version) = proxy_protocol(bytes) {
        return ClientKind::ProxyProtocol { version };
    }
    if let Some(b) = ssh_banner(bytes) {
        return ClientKind::Ssh(b);
    }
    if let Some(r) = http::request(bytes) {
        return ClientKind::Http(r);
    }
    binary_protocol(bytes).unwrap_or(if is_text(bytes) {
        ClientKind::Text
    } else {
        ClientKind::Binary
    })
}

/// Names a server's first line (give it the server's bytes; only the first line is read).
pub fn server(bytes: &[u8]) -> ServerKind<'_> {
    if bytes.is_empty() {
        return ServerKind::None;
    }
    if let Some(b) = ssh_banner(bytes) {
        return ServerKind::Ssh(b);
    }
    if let Some(r) = tls_record(bytes) {
        return ServerKind::Tls(r);
    }
    if bytes.starts_with(b"HTTP/") {
        if let Some(s) = http::status(bytes) {
            return ServerKind::HttpStatus(s);
        }
    }
    ServerKind::Other(first_line(bytes).0)
}

/// A TLS handshake or alert record header (type 22 or 21, version 3.0 to 3.4, a length of
/// at most 2^14 + 2048 bytes: RFC 5246 §6.2.3's ciphertext limit). A server side is kept to
/// its first line end, so a length byte of `\n` ends the bytes: three are enough.
fn tls_record(bytes: &[u8]) -> Option<TlsRecord> {
    let [content_type @ (21 | 22), 3, minor @ 0..=4, rest @ ..] = bytes else {
        return None;
    };
    if let [hi, lo, ..] = *rest
        && u16::from_be_bytes([hi, lo]) > (1 << 14) + 2048
    {
        return None;
    }
    let (content_type, minor) = (*content_type, *minor);
    Some(TlsRecord {
        content_type,
        version: u16::from_be_bytes([3, minor]),
    })
}

/// `a` starts with `b` or `b` with `a`, and the shorter has at least `min` bytes.
fn is_prefix_either(a: &[u8], b: &[u8], min: usize) -> bool {
    a.len().min(b.len()) >= min && (a.starts_with(b) || b.starts_with(a))
}

/// The first line without its `\r\n`, and whether its end is in.
fn first_line(bytes: &[u8]) -> (&[u8], bool) {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let l = bytes.get(..i).unwrap_or(&[]);
            (l.strip_suffix(b"\r").unwrap_or(l), true)
        }
        None => (bytes, false),
    }
}

fn ssh_banner(bytes: &[u8]) -> Option<SshBanner<'_>> {
    let head = bytes.get(..bytes.len().min(SSH_LINE))?;
    let (line, complete) = first_line(head);
    let rest = line.strip_prefix(b"SSH-")?;
    let dash = rest.iter().position(|&b| b == b'-')?;
    let proto = rest.get(..dash)?;
    if proto.is_empty() || !proto.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    let soft = rest.get(dash + 1..)?;
    let (software, comments) = match soft.iter().position(|&b| b == b' ') {
        Some(i) => (soft.get(..i)?, soft.get(i + 1..)),
        None => (soft, None),
    };
    Some(SshBanner {
        proto,
        software,
        comments,
        line,
        complete,
    })
}

fn proxy_protocol(bytes: &[u8]) -> Option<u8> {
    if bytes.starts_with(b"PROXY TCP4 ")
        || bytes.starts_with(b"PROXY TCP6 ")
        || bytes.starts_with(b"PROXY UNKNOWN")
    {
        return Some(1);
    }
    is_prefix_either(bytes, PROXY_V2, PROXY_V2.len()).then_some(2)
}

/// SOCKS, TPKT and SMB, by their fixed header bytes.
fn binary_protocol(bytes: &[u8]) -> Option<ClientKind<'_>> {
    match bytes {
        // SOCKS 4: VN=4, CD, DSTPORT, DSTIP, USERID, NUL.
        [4, cd @ (1 | 2), _, _, _, _, _, _, user @ ..]
            if user.iter().take(256).any(|&b| b == 0) =>
        {
            Some(ClientKind::Socks4 { command: *cd })
        }
        // SOCKS 5: VER=5, NMETHODS, METHODS (each a defined or private method).
        [5, n @ 1..=32, methods @ ..]
            if methods.len() >= usize::from(*n)
                && methods
                    .iter()
                    .take(usize::from(*n))
                    .all(|&m| m <= 9 || (0x80..=0xfe).contains(&m)) =>
        {
            Some(ClientKind::Socks5 { methods: *n })
        }
        // TPKT (RFC 1006): version 3, reserved 0, length; X.224 CR TPDU (code 0xE0).
        [3, 0, hi, lo, _li, code, rest @ ..]
            if u16::from_be_bytes([*hi, *lo]) >= 11 && code & 0xf0 == 0xe0 =>
        {
            let rdp = rest.windows(8).any(|w| w == b"Cookie: ")
                || rest.windows(4).any(|w| w == [1, 0, 8, 0]);
            Some(ClientKind::TpktConnect { rdp })
        }
        // NetBIOS session message (type 0), 3-byte length, then the SMB magic.
        [0, _, _, _, v @ (0xff | 0xfe), b'S', b'M', b'B', ..] => Some(ClientKind::Smb {
            version: if *v == 0xff { 1 } else { 2 },
        }),
        _ => None,
    }
}

fn is_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) || matches!(b, b'\r' | b'\n' | b'\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let k = |b: &[u8]| client(b).name();
        assert_eq!(k(b""), "empty");
        assert_eq!(k(HTTP2_PREFACE), "http2");
        assert_eq!(k(b"PRI * HTTP/2.0\r\n"), "http2");
        assert_eq!(k(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"), "ssh");
        assert_eq!(k(b"\x04\x01\x00\x50\x01\x02\x03\x04root\x00"), "socks4");
        assert_eq!(k(b"\x05\x02\x00\x02"), "socks5");
        assert_eq!(
            k(b"\x03\x00\x00\x2b\x26\xe0\x00\x00\x00\x00\x00Cookie: mstshash=a\r\n\x01\x00\x08\x00\x03\x00\x00\x00"),
            "rdp"
        );
        assert_eq!(
            k(b"\x03\x00\x00\x16\x11\xe0\x00\x00\x00\x01\x00\xc1\x02\x01\x00"),
            "tpkt"
        );
        assert_eq!(k(b"\x00\x00\x00\x54\xfeSMB\x40\x00"), "smb");
        assert_eq!(k(b"\x00\x00\x00\x54\xffSMBr"), "smb");
        assert_eq!(k(b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\r\nGET"), "proxy");
        assert_eq!(k(b"EHLO x\r\n"), "text");
        assert_eq!(k(b"\x00\x01\x02"), "binary");
        assert_eq!(k(b"CONNECT a:443 HTTP/1.1\r\n\r\n"), "http");
    }

    #[test]
    fn servers() {
        let ServerKind::Ssh(b) = server(b"SSH-2.0-OpenSSH_5.2\r\n") else {
            panic!()
        };
        assert_eq!(
            (b.proto, b.software, b.comments),
            (&b"2.0"[..], &b"OpenSSH_5.2"[..], None)
        );
        assert_eq!(
            server(b"220 mail ESMTP\r\n"),
            ServerKind::Other(b"220 mail ESMTP")
        );
        assert_eq!(server(b""), ServerKind::None);
        // Apache's ServerHello (lab run `https`) and an alert refusing a hello.
        assert_eq!(
            server(b"\x16\x03\x03\x00J\x02\x00\x00F\x03\x03"),
            ServerKind::Tls(TlsRecord {
                content_type: 22,
                version: 0x0303
            })
        );
        assert_eq!(
            server(b"\x15\x03\x03\x00\x02\x02\x28"),
            ServerKind::Tls(TlsRecord {
                content_type: 21,
                version: 0x0303
            })
        );
        assert!(matches!(
            server(b"\x16\x03\x05\x00\x02"),
            ServerKind::Other(_)
        ));
        // A record length whose low byte is a line end: the kept first line stops there.
        assert!(matches!(server(b"\x16\x03\x03\x0a"), ServerKind::Tls(_)));
        assert!(matches!(
            server(b"\x16\x03\x03\xff\xff"),
            ServerKind::Other(_)
        ));
    }
}
