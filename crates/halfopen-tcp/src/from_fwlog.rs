//! Adapter from `halfopen-fwlog` records to TCP [`Event`]s.

use halfopen_fwlog::{Protocol, Record};

use crate::{Event, TcpFlags};

/// The TCP event a firewall log record describes, at `ts_us` (resolved by the caller from
/// the record's timestamp); `None` for non-TCP records and TCP records without ports.
///
/// ```
/// use halfopen_fwlog::{Format, Protocol, Record, TcpFlags as FwFlags};
/// let mut r = Record::new(Format::Netfilter, Protocol::Tcp,
///     "203.0.113.9".parse().unwrap(), "192.0.2.10".parse().unwrap());
/// r.src_port = Some(51515);
/// r.dst_port = Some(443);
/// r.tcp_flags = Some(FwFlags::SYN);
/// let ev = halfopen_tcp::from_fwlog::event(&r, 42).unwrap();
/// assert_eq!(ev.flags, Some(halfopen_tcp::TcpFlags::SYN));
/// assert_eq!(ev.payload_len, None);
///
/// // With the options logged, the payload length follows from the IP length.
/// r.length = Some(126);
/// r.tcp_options = Some(b"0101080A7B31E6AD86497358");
/// assert_eq!(halfopen_tcp::from_fwlog::event(&r, 42).unwrap().payload_len, Some(74));
/// ```
pub fn event(rec: &Record<'_>, ts_us: i64) -> Option<Event> {
    if rec.protocol != Protocol::Tcp {
        return None;
    }
    let mut ev = Event::new(ts_us, rec.src, rec.src_port?, rec.dst, rec.dst_port?);
    ev.flags = rec.tcp_flags.map(|f| TcpFlags(f.bits()));
    ev.seq = rec.seq;
    ev.ack = rec.ack;
    ev.window = rec.window.map(|w| u16::try_from(w).unwrap_or(u16::MAX));
    ev.ttl = rec.ttl;
    ev.ip_id = rec.ip_id;
    ev.ip_len = rec.length;
    if let Some(opts) = rec.tcp_options {
        if let Some(bytes) = hex_options(opts) {
            let o = crate::options::parse(bytes.as_slice());
            ev.mss = o.mss;
            ev.options_fingerprint = Some(o.fingerprint);
            ev.payload_len = payload_len(rec, bytes.len);
        }
    }
    Some(ev)
}

/// The TCP payload length of a netfilter line that logged its options (`OPT (...)`): the IP
/// length minus the IP header (20 bytes for IPv4 without IP options, 40 for IPv6, where
/// `LEN=` is the payload length plus the fixed header) and the TCP header (20 bytes plus the
/// options). Without the options logged the TCP header length is unknown, so is the payload.
fn payload_len(rec: &Record<'_>, options_len: usize) -> Option<u32> {
    let ip_header = if rec.src.is_ipv4() { 20 } else { 40 };
    let tcp_header = 20 + u32::try_from(options_len).ok()?;
    rec.length?.checked_sub(ip_header + tcp_header)
}

/// Netfilter logs options as hex (`OPT (020405B40402...)`); up to 40 bytes of options.
fn hex_options(text: &[u8]) -> Option<OptBuf> {
    let mut out = OptBuf::default();
    let digits = text.iter().filter(|c| c.is_ascii_hexdigit());
    let mut hi: Option<u8> = None;
    let mut count = 0usize;
    for &c in text {
        if !(c.is_ascii_hexdigit() || c == b' ' || c == b'(' || c == b')') {
            return None;
        }
    }
    for &c in digits {
        let v = (c as char).to_digit(16)? as u8;
        match hi.take() {
            None => hi = Some(v),
            Some(h) => {
                if count >= out.buf.len() {
                    return None;
                }
                if let Some(slot) = out.buf.get_mut(count) {
                    *slot = (h << 4) | v;
                }
                count += 1;
            }
        }
    }
    out.len = count;
    Some(out)
}

struct OptBuf {
    buf: [u8; 40],
    len: usize,
}

impl Default for OptBuf {
    fn default() -> OptBuf {
        OptBuf {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl OptBuf {
    fn as_slice(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}
