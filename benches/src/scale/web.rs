//! Apache access-log lines (`combined`) for the generated requests.

use super::text::{PerSecond, push_dec, push_ipv4};

/// One request as Apache logs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// `%t`: when the request was received (µs since the epoch, UTC).
    pub recv_us: i64,
    /// `%h`, IPv4.
    pub client: u32,
    /// The path of `GET path HTTP/1.1`.
    pub path: &'static str,
    /// `%>s`.
    pub status: u16,
    /// `%b` (0 is logged as `-`).
    pub bytes: u64,
    /// `%{Referer}i`.
    pub referer: Option<&'static str>,
    /// `%{User-Agent}i`.
    pub user_agent: &'static str,
}

/// Writes `combined` lines: `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`.
#[derive(Debug)]
pub struct AccessWriter {
    stamp: PerSecond,
}

impl Default for AccessWriter {
    fn default() -> Self {
        AccessWriter {
            stamp: PerSecond::apache(),
        }
    }
}

impl AccessWriter {
    /// Appends the line of `r` (with its newline).
    ///
    /// ```
    /// use halfopen_benches::scale::web::{AccessWriter, Request};
    /// let r = Request {
    ///     recv_us: 1_772_390_945_000_000,
    ///     client: 0xCB00_7105,
    ///     path: "/",
    ///     status: 200,
    ///     bytes: 231,
    ///     referer: None,
    ///     user_agent: "curl/7.88.1",
    /// };
    /// let mut out = Vec::new();
    /// AccessWriter::default().write(&r, &mut out);
    /// assert_eq!(
    ///     out,
    ///     b"203.0.113.5 - - [01/Mar/2026:18:49:05 +0000] \"GET / HTTP/1.1\" 200 231 \"-\" \"curl/7.88.1\"\n"
    /// );
    /// ```
    pub fn write(&mut self, r: &Request, out: &mut Vec<u8>) {
        push_ipv4(out, r.client);
        out.extend_from_slice(b" - - ");
        out.extend_from_slice(self.stamp.at(r.recv_us));
        out.extend_from_slice(b" \"GET ");
        out.extend_from_slice(r.path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\" ");
        push_dec(out, r.status);
        out.push(b' ');
        if r.bytes == 0 {
            out.push(b'-');
        } else {
            push_dec(out, r.bytes);
        }
        out.extend_from_slice(b" \"");
        out.extend_from_slice(r.referer.unwrap_or("-").as_bytes());
        out.extend_from_slice(b"\" \"");
        out.extend_from_slice(r.user_agent.as_bytes());
        out.extend_from_slice(b"\"\n");
    }
}
