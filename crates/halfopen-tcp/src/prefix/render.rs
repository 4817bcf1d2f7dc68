//! Report text for first bytes: [`quote`] (escaped, capped), [`client`] and [`server`]
//! (one-line evidence).
//!
//! Privacy by default: the client evidence of an HTTP request shows its method, its
//! target (capped at [`TARGET_CAP`] bytes) and its header *names*, with `…` for every
//! value, never a header value or a body; other protocols show what names them (an SNI,
//! an SSH banner) or a few leading bytes. The full escaped prefix is added only with
//! `show_payload`. Everything that comes from the wire is escaped: no byte reaches a
//! terminal raw.
//!
//! ```
//! use halfopen_tcp::prefix::render::quote;
//! assert_eq!(quote(b"GET /\r\n\x1b[2J", 64).to_string(), r#""GET /\r\n\x1b[2J""#);
//! assert_eq!(quote(b"abcdef", 3).to_string(), r#""abc"…"#);
//! ```

use std::fmt::{self, Display, Formatter, Write};

use super::StreamPrefix;
use super::classify::{self, ClientKind, HeadShape, HttpRequest, ServerKind};

/// Request-target bytes shown in the privacy-preserving evidence.
pub const TARGET_CAP: usize = 64;

/// Header names shown before "(+N more)".
const NAMES_SHOWN: usize = 12;

/// Bytes of a header name shown.
const NAME_CAP: usize = 40;

/// Bytes shown of an unrecognised text line or a server line.
const LINE_CAP: usize = 64;

/// Bytes of the raw prefix shown with `show_payload`.
const PAYLOAD_CAP: usize = 4096;

/// Writes `bytes` escaped: printable ASCII as is (`"` and `\` backslashed), `\r` `\n`
/// `\t` as those two characters, every other byte as `\xNN`.
fn escape_into(f: &mut impl Write, bytes: &[u8]) -> fmt::Result {
    let mut rest = bytes;
    while !rest.is_empty() {
        // A run of bytes shown as they are goes out in one write.
        let plain = rest
            .iter()
            .position(|b| !shown_as_is(*b))
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(plain);
        f.write_str(std::str::from_utf8(run).unwrap_or_default())?;
        let Some((&b, after)) = tail.split_first() else {
            break;
        };
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b'\r' => f.write_str("\\r")?,
            b'\n' => f.write_str("\\n")?,
            b'\t' => f.write_str("\\t")?,
            _ => write!(f, "\\x{b:02x}")?,
        }
        rest = after;
    }
    Ok(())
}

/// Printable ASCII but the quote and the backslash: written unescaped.
fn shown_as_is(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\'
}

/// Escaped, double-quoted bytes, cut after `max` bytes (then followed by `…`).
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a> {
    bytes: &'a [u8],
    max: usize,
}

/// Quotes `bytes` for a report: see [`Quoted`].
pub fn quote(bytes: &[u8], max: usize) -> Quoted<'_> {
    Quoted { bytes, max }
}

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let shown = self.bytes.get(..self.max).unwrap_or(self.bytes);
        f.write_char('"')?;
        escape_into(f, shown)?;
        f.write_char('"')?;
        if shown.len() < self.bytes.len() {
            f.write_char('…')?;
        }
        Ok(())
    }
}

/// One-line evidence of a client's first bytes: see [`client`].
#[derive(Debug, Clone, Copy)]
pub struct ClientEvidence<'a> {
    side: &'a StreamPrefix,
    show_payload: bool,
}

/// The evidence text of a client's first bytes: what they are (privacy-preserving, see
/// the [module docs](self)), how they came (segments, waits, no end of head), and, with
/// `show_payload`, the escaped bytes themselves.
///
/// ```
/// use halfopen_tcp::prefix::{render, PrefixConfig, PrefixStore};
/// use halfopen_tcp::{Event, TcpFlags};
/// let (c, s) = ("198.51.100.21".parse().unwrap(), "192.0.2.10".parse().unwrap());
/// let mut store = PrefixStore::new(PrefixConfig::default());
/// let mut syn = Event::new(0, c, 43777, s, 80).with_flags(TcpFlags::SYN);
/// syn.seq = Some(0);
/// store.observe(&syn, &[]);
/// let mut seq = 1;
/// let mut send = |store: &mut PrefixStore, ts, data: &[u8]| {
///     let mut e = Event::new(ts, c, 43777, s, 80).with_flags(TcpFlags::ACK | TcpFlags::PSH);
///     e.seq = Some(seq);
///     e.payload_len = Some(data.len() as u32);
///     store.observe(&e, data);
///     seq += data.len() as u32;
/// };
/// send(&mut store, 0, b"GET /?3421 HTTP/1.1\r\nUser-Agent: secret-agent\r\n");
/// for i in 1..=12 {
///     send(&mut store, i * 15_000_000, b"X-a: b\r\n");
/// }
/// let p = store.take((c, 43777).into(), (s, 80).into()).unwrap();
/// assert_eq!(
///     render::client(&p.client, false).to_string(),
///     r#""GET /?3421 HTTP/1.1\r\nUser-Agent: …\r\n" then 12 header lines in 12 segments, one every 15.0 s, no end of head"#
/// );
/// assert!(render::client(&p.client, true).to_string().contains("secret-agent"));
/// ```
pub fn client(side: &StreamPrefix, show_payload: bool) -> ClientEvidence<'_> {
    ClientEvidence { side, show_payload }
}

impl Display for ClientEvidence<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = self.side;
        let bytes = s.bytes();
        match classify::client(bytes) {
            ClientKind::Empty if s.is_empty() => f.write_str("no bytes")?,
            ClientKind::Empty => write!(
                f,
                "{} bytes, none kept (a hole at the start)",
                s.payload_bytes()
            )?,
            ClientKind::Http(r) => http(f, s, &r)?,
            ClientKind::TlsClientHello(h) => {
                write!(
                    f,
                    "TLS ClientHello (record version {}.{}",
                    h.record_version >> 8,
                    h.record_version & 0xff
                )?;
                match h.sni {
                    Some(name) => write!(f, ", SNI {}", quote(name, LINE_CAP))?,
                    None if h.complete => f.write_str(", no SNI")?,
                    None => f.write_str(", cut short")?,
                }
                if let Some(p) = h.alpn {
                    write!(f, ", ALPN {}", quote(p, 32))?;
                }
                f.write_char(')')?;
            }
            ClientKind::Http2Preface => f.write_str("HTTP/2 connection preface")?,
            ClientKind::Ssh(b) => write!(f, "SSH banner {}", quote(b.line, LINE_CAP))?,
            ClientKind::Socks4 { command } => write!(f, "SOCKS4 request (command {command})")?,
            ClientKind::Socks5 { methods } => {
                write!(f, "SOCKS5 greeting ({methods} auth methods)")?;
            }
            ClientKind::TpktConnect { rdp: true } => f.write_str("RDP connection request")?,
            ClientKind::TpktConnect { rdp: false } => {
                f.write_str("TPKT/X.224 connection request")?;
            }
            ClientKind::Smb { version } => write!(f, "SMB{version} message")?,
            ClientKind::ProxyProtocol { version } => write!(f, "PROXY protocol v{version} header")?,
            ClientKind::Text => {
                let line = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
                write!(
                    f,
                    "{} bytes of text, first line {}",
                    bytes.len(),
                    quote(line, 32)
                )?;
            }
            ClientKind::Binary => {
                write!(f, "{} bytes of binary, starting", bytes.len())?;
                for b in bytes.iter().take(8) {
                    write!(f, " {b:02x}")?;
                }
            }
        }
        if !matches!(classify::client(bytes), ClientKind::Http(_)) && is_trickle(s) {
            pace(f, s, "segments")?;
        }
        notes(f, s)?;
        if self.show_payload && !bytes.is_empty() {
            write!(f, "; bytes: {}", quote(bytes, PAYLOAD_CAP))?;
        }
        Ok(())
    }
}

/// The head without values: request line, then `Name: …` lines.
fn pseudo_head(f: &mut impl Write, r: &HttpRequest<'_>, names: usize, ended: bool) -> fmt::Result {
    f.write_char('"')?;
    escape_into(f, r.method.as_bytes())?;
    if let Some(t) = r.target {
        f.write_char(' ')?;
        let t = t.as_bytes();
        escape_into(f, t.get(..TARGET_CAP).unwrap_or(t))?;
        if t.len() > TARGET_CAP {
            f.write_char('…')?;
        }
    }
    if let Some(v) = r.version {
        write!(f, " HTTP/1.{v}\\r\\n")?;
    }
    for name in r.header_names().take(names.min(NAMES_SHOWN)) {
        escape_into(f, name.get(..NAME_CAP).unwrap_or(name))?;
        f.write_str(": …\\r\\n")?;
    }
    if ended {
        f.write_str("\\r\\n")?;
    }
    f.write_char('"')?;
    if names > NAMES_SHOWN {
        write!(f, " (+{} more header lines)", names - NAMES_SHOWN)?;
    }
    Ok(())
}

fn http(f: &mut Formatter<'_>, s: &StreamPrefix, r: &HttpRequest<'_>) -> fmt::Result {
    match r.shape() {
        HeadShape::Complete => {
            pseudo_head(f, r, r.header_count, true)?;
            write!(f, ", complete head ({} header lines)", r.header_count)?;
            if is_trickle(s) {
                pace(f, s, "segments")?;
            }
        }
        HeadShape::Pipelined => {
            pseudo_head(f, r, r.header_count, true)?;
            write!(
                f,
                ", then {} more complete heads (pipelined)",
                r.complete_heads - 1
            )?;
        }
        HeadShape::Partial => {
            let first = r.headers_within(s.bytes(), s.first_segment_len());
            let later = r.header_count - first;
            if s.segments() > 1 && later > 0 {
                pseudo_head(f, r, first, false)?;
                let segs = s.segments() - 1;
                write!(f, " then {later} header lines in {segs} segments")?;
                pace(f, s, "")?;
            } else {
                pseudo_head(f, r, r.header_count, false)?;
                if s.segments() > 1 {
                    pace(f, s, "segments")?;
                }
            }
            f.write_str(", no end of head")?;
            if r.malformed {
                f.write_str(", then a line that is not a header")?;
            }
        }
    }
    Ok(())
}

/// All the side's bytes fit the prefix and came in several segments, a second or more
/// apart on average: a slow sender, not a bulk transfer.
fn is_trickle(s: &StreamPrefix) -> bool {
    let (Some(a), Some(b)) = (s.first_payload_us(), s.last_payload_us()) else {
        return false;
    };
    let waits = i64::from(s.segments().saturating_sub(1));
    !s.full() && waits > 0 && b.saturating_sub(a) >= waits * 1_000_000
}

/// `, one every X s` (with the longest wait when it stands out); with a `unit`, the
/// segment count first.
fn pace(f: &mut Formatter<'_>, s: &StreamPrefix, unit: &str) -> fmt::Result {
    let (Some(a), Some(b)) = (s.first_payload_us(), s.last_payload_us()) else {
        return Ok(());
    };
    let waits = i64::from(s.segments().saturating_sub(1).max(1));
    let every = b.saturating_sub(a) as f64 / waits as f64 / 1e6;
    let longest = s.largest_gap_us() as f64 / 1e6;
    if !unit.is_empty() {
        write!(f, ", in {} {unit}", s.segments())?;
    }
    write!(f, ", one every {every:.1} s")?;
    if longest >= 2.0 * every && longest >= 1.0 {
        write!(f, " (longest wait {longest:.1} s)")?;
    }
    Ok(())
}

/// Hole, mid-stream start, conflicting retransmissions.
fn notes(f: &mut Formatter<'_>, s: &StreamPrefix) -> fmt::Result {
    if s.gap() {
        f.write_str("; the bytes stop at a hole in the capture")?;
    }
    if s.midstream() {
        f.write_str("; capture began mid-stream")?;
    }
    if s.conflicting_overlaps() > 0 {
        write!(
            f,
            "; {} retransmissions carried other bytes",
            s.conflicting_overlaps()
        )?;
    }
    Ok(())
}

/// One-line evidence of a server's first line: see [`server`].
#[derive(Debug, Clone, Copy)]
pub struct ServerEvidence<'a> {
    side: &'a StreamPrefix,
}

/// The evidence text of a server's first line: `HTTP 408 "HTTP/1.1 408 Request Timeout"`,
/// `SSH banner "SSH-2.0-..."`, another line quoted, or `nothing`.
///
/// ```
/// use halfopen_tcp::prefix::{render, PrefixConfig, PrefixStore};
/// use halfopen_tcp::{Event, TcpFlags};
/// let (c, s) = ("198.51.100.22".parse().unwrap(), "192.0.2.10".parse().unwrap());
/// let mut store = PrefixStore::new(PrefixConfig::default());
/// let mut e = Event::new(0, s, 80, c, 53817).with_flags(TcpFlags::ACK);
/// e.seq = Some(1);
/// e.payload_len = Some(38);
/// store.observe(&e, b"HTTP/1.1 400 Bad Request\r\nDate: x\r\n\r\n");
/// let p = store.take((c, 53817).into(), (s, 80).into()).unwrap();
/// assert_eq!(render::server(&p.server).to_string(), r#"HTTP 400 "HTTP/1.1 400 Bad Request"; capture began mid-stream"#);
/// ```
pub fn server(side: &StreamPrefix) -> ServerEvidence<'_> {
    ServerEvidence { side }
}

impl Display for ServerEvidence<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let s = self.side;
        let line = s.first_line();
        match classify::server(s.bytes()) {
            ServerKind::None if s.is_empty() => f.write_str("nothing")?,
            ServerKind::None => write!(
                f,
                "{} bytes, none kept (a hole at the start)",
                s.payload_bytes()
            )?,
            ServerKind::HttpStatus(st) => write!(f, "HTTP {} {}", st.code, quote(line, LINE_CAP))?,
            ServerKind::Ssh(b) => write!(f, "SSH banner {}", quote(b.line, LINE_CAP))?,
            ServerKind::Tls(r) => write!(
                f,
                "TLS ({}, record version {}.{})",
                if r.content_type == 22 {
                    "its handshake"
                } else {
                    "an alert"
                },
                r.version >> 8,
                r.version & 0xff
            )?,
            ServerKind::Other(l) => write!(f, "first line {}", quote(l, LINE_CAP))?,
        }
        notes(f, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Byte by byte, as the escaping is specified.
    fn escape_plain(bytes: &[u8]) -> String {
        let mut out = String::new();
        for &b in bytes {
            match b {
                b'"' => out.push_str("\\\""),
                b'\\' => out.push_str("\\\\"),
                b'\r' => out.push_str("\\r"),
                b'\n' => out.push_str("\\n"),
                b'\t' => out.push_str("\\t"),
                0x20..=0x7e => out.push(char::from(b)),
                _ => out.push_str(&format!("\\x{b:02x}")),
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn runs_escape_as_bytes_do(bytes in proptest::collection::vec(any::<u8>(), 0..64), plain in "[ -~]{0,40}") {
            for input in [bytes.clone(), plain.clone().into_bytes(), [plain.as_bytes(), &bytes].concat()] {
                let mut out = String::new();
                escape_into(&mut out, &input).unwrap();
                prop_assert_eq!(out, escape_plain(&input));
            }
        }
    }
}
