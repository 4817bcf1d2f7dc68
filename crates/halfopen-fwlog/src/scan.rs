//! Small byte-level field parsers shared by the format modules (numbers, addresses).
//!
//! All of them take the whole field, return `None` on anything unexpected (including
//! overflow) and never allocate.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Longest textual IPv6 address (with an embedded IPv4 part) accepted.
pub const MAX_IPV6_TEXT: usize = 45;

/// Unsigned decimal that fits in `u64` (1 to 20 digits, no sign).
pub fn dec_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// A decimal number (see [`dec_u64`]) that fits `T`.
pub fn dec<T: TryFrom<u64>>(v: &[u8]) -> Option<T> {
    dec_u64(v).and_then(|n| T::try_from(n).ok())
}

/// A decimal fraction of a second (1 to 9 digits) in nanoseconds.
pub fn frac_nanos(frac: &[u8]) -> Option<u32> {
    if frac.is_empty() || frac.len() > 9 {
        return None;
    }
    let v: u32 = dec(frac)?;
    v.checked_mul(10u32.checked_pow(u32::try_from(9 - frac.len()).ok()?)?)
}

/// `hh:mm:ss[.ffffff]` (the whole input): (hour, minute, second, nanos).
pub fn time_of_day(t: &[u8]) -> Option<(u8, u8, u8, u32)> {
    let two = |i: usize| t.get(i..i + 2).and_then(dec::<u8>);
    if t.get(2) != Some(&b':') || t.get(5) != Some(&b':') {
        return None;
    }
    let (h, m, s) = (two(0)?, two(3)?, two(6)?);
    if h > 23 || m > 59 || s > 60 {
        return None;
    }
    let nanos = match t.get(8) {
        None => 0,
        Some(b'.') => frac_nanos(t.get(9..)?)?,
        Some(_) => return None,
    };
    Some((h, m, s, nanos))
}

/// Unsigned decimal that fits in `u32`.
pub fn dec_u32(b: &[u8]) -> Option<u32> {
    if b.len() > 10 {
        return None;
    }
    dec_u64(b).and_then(|v| u32::try_from(v).ok())
}

/// Unsigned decimal that fits in `u16`.
pub fn dec_u16(b: &[u8]) -> Option<u16> {
    // Two per firewall line (the ports).
    short_dec(b, 5).and_then(|v| u16::try_from(v).ok())
}

/// Unsigned decimal that fits in `u8`.
pub fn dec_u8(b: &[u8]) -> Option<u8> {
    short_dec(b, 3).and_then(|v| u8::try_from(v).ok())
}

/// 1 to `max_digits` (at most 9) decimal digits: they fit a `u32`, so no overflow checks.
fn short_dec(b: &[u8], max_digits: usize) -> Option<u32> {
    if b.is_empty() || b.len() > max_digits.min(9) {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    Some(v)
}

/// Hexadecimal (optional `0x`/`0X` prefix) that fits in `u32`.
pub fn hex_u32(b: &[u8]) -> Option<u32> {
    let b = b
        .strip_prefix(b"0x")
        .or_else(|| b.strip_prefix(b"0X"))
        .unwrap_or(b);
    if b.is_empty() || b.len() > 8 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        let d = (c as char).to_digit(16)?;
        v = (v << 4) | d;
    }
    Some(v)
}

/// Dotted-quad IPv4 (`192.168.0.1`; no leading `+`, each part 1–3 digits, at most 255, no
/// leading zero), as the standard library reads it. Part by part, not byte by byte: two
/// addresses per firewall line made the byte loop an eighth of the ipfw parser's time.
pub fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    if b.len() < 7 || b.len() > 15 {
        return None;
    }
    ipv4_prefix(b)
        .filter(|(_, used)| *used == b.len())
        .map(|(a, _)| a)
}

/// The dotted quad at the start of `b` (read as [`ipv4`] reads a whole field) and the bytes
/// it used; what follows it is the caller's to check.
///
/// ```
/// use halfopen_fwlog::scan::ipv4_prefix;
/// use std::net::Ipv4Addr;
/// assert_eq!(ipv4_prefix(b"192.0.2.1:80"), Some((Ipv4Addr::new(192, 0, 2, 1), 9)));
/// assert_eq!(ipv4_prefix(b"192.0.2.256"), None);
/// // A part with a leading zero is that zero alone: what follows is left to the caller.
/// assert_eq!(ipv4_prefix(b"10.0.0.01"), Some((Ipv4Addr::new(10, 0, 0, 0), 8)));
/// ```
pub fn ipv4_prefix(b: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let digit = |i: usize| b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d <= 9);
    let mut parts = [0u8; 4];
    let mut i = 0;
    for (k, part) in parts.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let first = digit(i)?;
        let mut v = u16::from(first);
        i += 1;
        // A part that starts with 0 is that 0 alone.
        if first != 0 {
            for _ in 0..2 {
                let Some(d) = digit(i) else { break };
                v = v * 10 + u16::from(d);
                i += 1;
            }
        }
        *part = u8::try_from(v).ok()?;
    }
    Some((Ipv4Addr::from(parts), i))
}

/// The position of the first `needle` in `b`: a plain loop over the first 32 bytes (the
/// short fields of a log line end there, and memchr's vector set-up costs more than it saves
/// on them), memchr past them.
pub fn find_byte(needle: u8, b: &[u8]) -> Option<usize> {
    const NEAR: usize = 32;
    let (near, far) = b.split_at(b.len().min(NEAR));
    match near.iter().position(|c| *c == needle) {
        Some(i) => Some(i),
        None => memchr::memchr(needle, far).map(|i| i + NEAR),
    }
}

/// IPv6 in any textual form the standard library accepts (compressed or not).
pub fn ipv6(b: &[u8]) -> Option<Ipv6Addr> {
    if b.len() < 2 || b.len() > MAX_IPV6_TEXT {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// IPv4 or IPv6.
pub fn ip(b: &[u8]) -> Option<IpAddr> {
    // The IPv4 parser stops at the first byte that is not a digit or a dot.
    match ipv4(b) {
        Some(v4) => Some(IpAddr::V4(v4)),
        None => ipv6(b).map(IpAddr::V6),
    }
}

/// Splits at the first space: (token, rest after the space; empty at the end).
pub fn word(b: &[u8]) -> (&[u8], &[u8]) {
    match find_byte(b' ', b) {
        Some(i) => (
            b.get(..i).unwrap_or_default(),
            b.get(i + 1..).unwrap_or_default(),
        ),
        None => (b, &[]),
    }
}

/// Writes an unsigned number in decimal.
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

/// Writes an address (IPv6 compressed as the standard library prints it).
pub fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    use std::io::Write;
    let _ = write!(out, "{ip}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers() {
        assert_eq!(dec_u16(b"65535"), Some(65535));
        assert_eq!(dec_u16(b"65536"), None);
        assert_eq!(dec_u32(b""), None);
        assert_eq!(dec_u64(b"18446744073709551616"), None);
        assert_eq!(hex_u32(b"0xd4"), Some(0xd4));
        assert_eq!(hex_u32(b"0x"), None);
        assert_eq!(dec_u8(b"256"), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            ipv4(b"192.168.10.55"),
            Some(Ipv4Addr::new(192, 168, 10, 55))
        );
        for bad in [
            &b"192.168.xx.xx"[..],
            b"1.2.3",
            b"1.2.3.4.5",
            b"256.1.1.1",
            b"1..2.3",
            b"1.2.3.4.",
        ] {
            assert_eq!(ipv4(bad), None, "{bad:?}");
        }
        assert!(ip(b"2001:0db8:0000:f101:0000:0000:0000:0002").is_some());
        assert!(ip(b"fe80::1").is_some());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn ipv4_agrees_with_std(a: u8, b: u8, c: u8, d: u8) {
            let s = format!("{a}.{b}.{c}.{d}");
            prop_assert_eq!(ipv4(s.as_bytes()), Some(Ipv4Addr::new(a, b, c, d)));
        }
        #[test]
        fn ipv4_never_accepts_what_std_rejects(s in "[0-9.]{0,16}") {
            if let Some(v) = ipv4(s.as_bytes()) {
                prop_assert_eq!(s.parse::<Ipv4Addr>().ok(), Some(v));
            }
        }
        #[test]
        fn ipv4_reads_what_std_reads(s in "[0-9.]{0,16}") {
            prop_assert_eq!(ipv4(s.as_bytes()), s.parse::<Ipv4Addr>().ok());
        }
        #[test]
        fn ipv4_prefix_reads_the_address_a_field_starts_with(s in "[0-9.]{0,16}", tail in "[:0-9a-z]{0,6}") {
            let field = format!("{s}{tail}");
            if let Some((a, used)) = ipv4_prefix(field.as_bytes()) {
                // What it used is an address std reads, and the next byte cannot extend it.
                prop_assert_eq!(field.get(..used).and_then(|p| p.parse::<Ipv4Addr>().ok()), Some(a));
            }
            if let Some(a) = ipv4(s.as_bytes()) {
                prop_assert_eq!(ipv4_prefix(s.as_bytes()), Some((a, s.len())));
            }
        }
        #[test]
        fn dec_u16_reads_what_std_reads(s in "[0-9]{0,7}") {
            // Up to five digits, as std reads them; more are refused (`000080` is no port).
            let std = s.parse::<u16>().ok().filter(|_| s.len() <= 5);
            prop_assert_eq!(dec_u16(s.as_bytes()), std);
        }
        #[test]
        fn dec_u16_agrees_with_dec_u64(b in proptest::collection::vec(any::<u8>(), 0..7)) {
            let wide = if b.len() > 5 { None } else { dec_u64(&b).and_then(|v| u16::try_from(v).ok()) };
            prop_assert_eq!(dec_u16(&b), wide);
        }
        #[test]
        fn dec_u8_agrees_with_dec_u64(b in proptest::collection::vec(b'0'..=b':', 0..5)) {
            let wide = if b.len() > 3 { None } else { dec_u64(&b).and_then(|v| u8::try_from(v).ok()) };
            prop_assert_eq!(dec_u8(&b), wide);
        }
        #[test]
        fn find_byte_agrees_with_memchr(b in proptest::collection::vec(any::<u8>(), 0..100), needle: u8) {
            prop_assert_eq!(find_byte(needle, &b), memchr::memchr(needle, &b));
        }
        #[test]
        fn push_u64_matches_format(v: u64) {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            prop_assert_eq!(out, v.to_string().into_bytes());
        }
    }
}
