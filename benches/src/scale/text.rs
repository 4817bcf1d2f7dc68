//! Fast text pieces for the streaming generators: numbers, addresses and time stamps written
//! straight into a byte buffer (no `format!`, no allocation per line).

use halfopen_testgen::clock;

/// Appends an integer in decimal.
pub fn push_dec<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends an IPv4 address (`a.b.c.d`) given as a big-endian `u32`.
///
/// ```
/// let mut v = Vec::new();
/// halfopen_benches::scale::text::push_ipv4(&mut v, 0xC000_020A);
/// assert_eq!(v, b"192.0.2.10");
/// ```
pub fn push_ipv4(out: &mut Vec<u8>, addr: u32) {
    let [a, b, c, d] = addr.to_be_bytes();
    push_octet(out, a);
    out.push(b'.');
    push_octet(out, b);
    out.push(b'.');
    push_octet(out, c);
    out.push(b'.');
    push_octet(out, d);
}

/// Decimal digits of every byte value, and how many there are.
const OCTETS: [([u8; 3], u8); 256] = {
    let mut t = [([0u8; 3], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let v = i as u8;
        t[i] = if v >= 100 {
            ([b'0' + v / 100, b'0' + v / 10 % 10, b'0' + v % 10], 3)
        } else if v >= 10 {
            ([b'0' + v / 10, b'0' + v % 10, 0], 2)
        } else {
            ([b'0' + v, 0, 0], 1)
        };
        i += 1;
    }
    t
};

fn push_octet(out: &mut Vec<u8>, v: u8) {
    let (digits, len) = OCTETS[usize::from(v)];
    out.extend_from_slice(digits.get(..usize::from(len)).unwrap_or_default());
}

/// Appends `v` as 8 upper-case hex digits (`0317A5B7`).
pub fn push_hex8(out: &mut Vec<u8>, v: u32) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for shift in (0..8).rev() {
        let nibble = (v >> (shift * 4)) & 0xf;
        out.push(HEX.get(nibble as usize).copied().unwrap_or(b'0'));
    }
}

/// Appends the kernel's uptime stamp as printk writes it: `[ 1866.409537] `.
pub fn push_uptime(out: &mut Vec<u8>, up_us: i64) {
    let up = up_us.max(0);
    let secs = up / 1_000_000;
    let micros = up % 1_000_000;
    out.push(b'[');
    let mut buf = itoa::Buffer::new();
    let s = buf.format(secs).as_bytes();
    out.extend(std::iter::repeat_n(b' ', 5usize.saturating_sub(s.len())));
    out.extend_from_slice(s);
    out.push(b'.');
    let mut buf = itoa::Buffer::new();
    let m = buf.format(micros).as_bytes();
    out.extend(std::iter::repeat_n(b'0', 6usize.saturating_sub(m.len())));
    out.extend_from_slice(m);
    out.extend_from_slice(b"] ");
}

/// A time stamp that only changes once a second, rendered once per second.
#[derive(Debug)]
pub struct PerSecond {
    second: i64,
    text: Vec<u8>,
    render: fn(i64) -> String,
}

impl PerSecond {
    /// RFC 3164 syslog stamps (`Mar  1 18:49:05`), UTC.
    pub fn syslog() -> PerSecond {
        PerSecond {
            second: i64::MIN,
            text: Vec::new(),
            render: clock::syslog,
        }
    }

    /// Apache `%t` stamps (`[01/Mar/2026:18:49:05 +0000]`), UTC.
    pub fn apache() -> PerSecond {
        PerSecond {
            second: i64::MIN,
            text: Vec::new(),
            render: clock::apache_t,
        }
    }

    /// The stamp of `ts_us` (µs since the epoch).
    ///
    /// ```
    /// let mut s = halfopen_benches::scale::text::PerSecond::syslog();
    /// assert_eq!(s.at(1_772_390_945_123_456), b"Mar  1 18:49:05");
    /// ```
    pub fn at(&mut self, ts_us: i64) -> &[u8] {
        let second = ts_us.div_euclid(1_000_000);
        if second != self.second {
            self.second = second;
            self.text = (self.render)(second * 1_000_000).into_bytes();
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_is_padded_like_printk() {
        let mut v = Vec::new();
        push_uptime(&mut v, 1_866_409_537);
        assert_eq!(v, b"[ 1866.409537] ");
        v.clear();
        push_uptime(&mut v, 123_456_789_012);
        assert_eq!(v, b"[123456.789012] ");
        v.clear();
        push_uptime(&mut v, 5);
        assert_eq!(v, b"[    0.000005] ");
    }

    #[test]
    fn hex_is_upper_case_and_padded() {
        let mut v = Vec::new();
        push_hex8(&mut v, 0x0317_15b7);
        assert_eq!(v, b"031715B7");
    }

    #[test]
    fn apache_stamp_changes_with_the_second() {
        let mut s = PerSecond::apache();
        assert_eq!(s.at(1_772_390_945_999_999), b"[01/Mar/2026:18:49:05 +0000]");
        assert_eq!(s.at(1_772_390_946_000_000), b"[01/Mar/2026:18:49:06 +0000]");
    }
}
