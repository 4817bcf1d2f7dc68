//! One observed TCP segment (from a packet or a firewall log line): [`Event`].

use std::net::{IpAddr, Ipv4Addr};

use crate::TcpFlags;

/// One observed TCP segment, from a captured packet or a firewall log record.
///
/// Only the 4-tuple and the time are mandatory; every other field is `None` when the
/// source does not carry it (most firewall logs have no payload length, ipfw has no flags).
///
/// ```
/// use halfopen_tcp::{Event, TcpFlags};
/// let mut ev = Event::new(1_000_000, "192.0.2.1".parse().unwrap(), 40000,
///                         "198.51.100.7".parse().unwrap(), 80);
/// ev.flags = Some(TcpFlags::SYN);
/// assert_eq!(ev.dst_port, 80);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    /// Time, microseconds since the Unix epoch (UTC).
    pub ts_us: i64,
    /// Source address.
    pub src: IpAddr,
    /// Source port.
    pub src_port: u16,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination port.
    pub dst_port: u16,
    /// TCP flags; `None` when the source does not say (ipfw), `Some(empty)` for a NULL scan.
    pub flags: Option<TcpFlags>,
    /// TCP payload length in bytes, where known.
    pub payload_len: Option<u32>,
    /// Payload bytes actually present in a capture (less than `payload_len` when the snap
    /// length cut the packet); `None` when not from a capture or not known. Payload that was
    /// never captured counts as a content gap once acknowledged, as in Zeek.
    pub payload_captured: Option<u32>,
    /// Result of verifying the TCP checksum (`None`: not verified). A segment with a bad
    /// checksum only records Zeek's `C` letter; it changes no state and is not counted.
    pub tcp_checksum_ok: Option<bool>,
    /// Sequence number.
    pub seq: Option<u32>,
    /// Acknowledgment number.
    pub ack: Option<u32>,
    /// Advertised window (unscaled).
    pub window: Option<u16>,
    /// IP TTL / hop limit.
    pub ttl: Option<u8>,
    /// IPv4 identification / IPv6 flow label.
    pub ip_id: Option<u32>,
    /// IP total length (IPv6: payload length + 40).
    pub ip_len: Option<u32>,
    /// MSS option value, where present.
    pub mss: Option<u16>,
    /// Hash of the TCP option kinds in order (see [`crate::options::fingerprint`]), for
    /// recognising the tool that crafted a SYN.
    pub options_fingerprint: Option<u32>,
}

impl Event {
    /// An event with only the 4-tuple and time set.
    pub fn new(ts_us: i64, src: IpAddr, src_port: u16, dst: IpAddr, dst_port: u16) -> Event {
        Event {
            ts_us,
            src,
            src_port,
            dst,
            dst_port,
            flags: None,
            payload_len: None,
            payload_captured: None,
            tcp_checksum_ok: None,
            seq: None,
            ack: None,
            window: None,
            ttl: None,
            ip_id: None,
            ip_len: None,
            mss: None,
            options_fingerprint: None,
        }
    }

    /// The same event with `flags` set (builder style).
    pub fn with_flags(mut self, flags: TcpFlags) -> Event {
        self.flags = Some(flags);
        self
    }
}

impl Default for Event {
    /// `0.0.0.0:0 -> 0.0.0.0:0` at time 0, nothing else known.
    fn default() -> Event {
        let z = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        Event::new(0, z, 0, z, 0)
    }
}
