//! Escaping of attacker-controlled bytes before they reach a terminal or a report, and the
//! report's number and time formatting.

/// Formats a count with thousands separators (`1,200`).
///
/// ```
/// assert_eq!(halfopen::escape::thousands(1_234_567), "1,234,567");
/// ```
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Formats microseconds since the epoch as RFC 3339 UTC.
///
/// ```
/// assert_eq!(halfopen::escape::rfc3339(0), "1970-01-01T00:00:00Z");
/// ```
pub fn rfc3339(ts_us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(ts_us)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| ts_us.to_string())
}

/// Escapes bytes for display: printable ASCII is kept, every other byte (control characters,
/// ESC, DEL, non-ASCII) becomes `\xNN`. The result never contains a control character.
///
/// ```
/// assert_eq!(halfopen::escape::for_terminal(b"GET /\x1b[31m"), "GET /\\x1b[31m");
/// ```
pub fn for_terminal(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str("\\x");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
        }
    }
    out
}

/// Keeps printable text (any script) but escapes control characters (C0, DEL, C1) as
/// `\xNN`: for text already escaped byte by byte elsewhere that may carry an ellipsis.
///
/// ```
/// assert_eq!(halfopen::escape::printable("GET /a…\u{1b}[2J"), "GET /a…\\x1b[2J");
/// ```
pub fn printable(s: &str) -> String {
    // Nearly always nothing to escape (every capture connection's evidence comes here).
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str("\\x");
                out.push(hex_digit(b >> 4));
                out.push(hex_digit(b & 0x0f));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Like [`for_terminal`], truncated to at most `max` input bytes (an ellipsis marks the cut).
pub fn for_terminal_capped(bytes: &[u8], max: usize) -> String {
    match bytes.get(..max) {
        Some(head) if head.len() < bytes.len() => {
            let mut s = for_terminal(head);
            s.push_str("...");
            s
        }
        _ => for_terminal(bytes),
    }
}

fn hex_digit(n: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(n & 0x0f)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_controls_and_high_bytes() {
        assert_eq!(
            for_terminal(b"a\x00b\xffc\x7f\n"),
            "a\\x00b\\xffc\\x7f\\x0a"
        );
        assert_eq!(for_terminal_capped(b"abcdef", 3), "abc...");
        assert_eq!(for_terminal_capped(b"abc", 3), "abc");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn never_emits_control_chars(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = for_terminal(&bytes);
            prop_assert!(s.chars().all(|c| (' '..='~').contains(&c)));
        }

        #[test]
        fn printable_keeps_text_and_escapes_every_control(s in "(\\PC|\\p{Cc}|[ -~]){0,40}") {
            let out = printable(&s);
            prop_assert!(!out.chars().any(char::is_control));
            let unchanged = !s.chars().any(char::is_control);
            prop_assert_eq!(out == s, unchanged);
        }
    }
}
