//! Apache (`ap_escape_logitem`) and nginx (`escape=default`) escapes: decoding on demand,
//! encoding for the renderer.

use std::borrow::Cow;

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decode the escapes Apache and nginx write into access logs: `\"`, `\\`, `\xhh` / `\xHH`,
/// `\n`, `\r`, `\t`, `\b`, `\v`. Anything else after a backslash is kept as is. Borrows when the
/// value contains no backslash.
///
/// ```
/// use halfopen_weblog::unescape;
/// assert_eq!(&*unescape(br"Gh0st\xad"), b"Gh0st\xad");
/// assert_eq!(&*unescape(br#"say \"hi\" \\o/"#), br#"say "hi" \o/"#);
/// assert!(matches!(unescape(b"plain"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn unescape(raw: &[u8]) -> Cow<'_, [u8]> {
    let Some(first) = memchr::memchr(b'\\', raw) else {
        return Cow::Borrowed(raw);
    };
    let mut out = Vec::with_capacity(raw.len());
    out.extend_from_slice(raw.get(..first).unwrap_or_default());
    let mut i = first;
    while let Some(&c) = raw.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let next = raw.get(i + 1).copied();
        let (decoded, used) = match next {
            Some(b'"') => (Some(b'"'), 2),
            Some(b'\\') => (Some(b'\\'), 2),
            Some(b'n') => (Some(b'\n'), 2),
            Some(b'r') => (Some(b'\r'), 2),
            Some(b't') => (Some(b'\t'), 2),
            Some(b'b') => (Some(8), 2),
            Some(b'v') => (Some(11), 2),
            Some(b'x') => match (
                raw.get(i + 2).and_then(|&c| hex(c)),
                raw.get(i + 3).and_then(|&c| hex(c)),
            ) {
                (Some(h), Some(l)) => (Some(h * 16 + l), 4),
                _ => (None, 1),
            },
            _ => (None, 1),
        };
        match decoded {
            Some(b) => out.push(b),
            None => out.push(b'\\'),
        }
        i += used;
    }
    Cow::Owned(out)
}

/// Which server's escaping to produce when rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EscapeStyle {
    /// Apache: `\"`, `\\`, `\n` `\r` `\t` `\b` `\v`, other non-printables as lowercase `\xhh`.
    Apache,
    /// nginx `escape=default`: `"`, `\`, bytes < 0x20 and >= 0x7f as uppercase `\xHH`.
    Nginx,
}

/// Append `value` escaped the way the server would write it.
pub fn escape_into(value: &[u8], style: EscapeStyle, out: &mut Vec<u8>) {
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    for &c in value {
        let printable = (0x20..0x7f).contains(&c);
        match style {
            EscapeStyle::Apache => match c {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                8 => out.extend_from_slice(b"\\b"),
                11 => out.extend_from_slice(b"\\v"),
                _ if printable => out.push(c),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    LOWER[usize::from(c >> 4)],
                    LOWER[usize::from(c & 15)],
                ]),
            },
            EscapeStyle::Nginx => {
                if printable && c != b'"' && c != b'\\' {
                    out.push(c);
                } else {
                    out.extend_from_slice(&[
                        b'\\',
                        b'x',
                        UPPER[usize::from(c >> 4)],
                        UPPER[usize::from(c & 15)],
                    ]);
                }
            }
        }
    }
}
