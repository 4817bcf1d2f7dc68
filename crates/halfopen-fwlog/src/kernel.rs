//! Kernel messages about a listening socket under a SYN flood, found in the same kern.log /
//! syslog stream as firewall lines. They are server-level evidence, not garbage.
//!
//! - Linux (net/ipv4/tcp_input.c, `tcp_syn_flood_action`):
//!   `TCP: request_sock_TCP: Possible SYN flooding on port 192.0.2.10:80. Sending cookies.`
//!   (IPv6: `request_sock_TCPv6 ... on port [2001:db8::10]:80`; older kernels: `TCP: Possible SYN
//!   flooding on port 80. Sending cookies.  Check SNMP counters.`; without syncookies:
//!   `Dropping request`).
//! - FreeBSD (sys/kern/uipc_socket.c, `sonewconn`):
//!   `sonewconn: pcb 0xfffff80012345678 (192.0.2.10:80 (proto 6)): Listen queue overflow: 193
//!   already in queue awaiting acceptance (1 occurrences)` (older releases print no address).

use std::net::IpAddr;

use crate::Timestamp;
use crate::scan::{dec_u16, dec_u32, ip, word};
use crate::syslog::split;

/// What a kernel said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelEvent {
    /// Linux: the SYN queue of a listener overflowed.
    SynFlooding {
        /// The listening address, when printed (`0.0.0.0` for a wildcard listener).
        addr: Option<IpAddr>,
        /// The listening port.
        port: u16,
        /// True for "Sending cookies" (syncookies answer the excess), false for "Dropping
        /// request" (SYNs beyond the queue are dropped).
        cookies: bool,
    },
    /// FreeBSD: the accept queue of a listener overflowed.
    ListenQueueOverflow {
        /// The listening address and port, when printed.
        local: Option<(IpAddr, u16)>,
        /// Connections already queued.
        queued: Option<u32>,
        /// Occurrences summarised by this line.
        occurrences: Option<u32>,
    },
}

/// One kernel message line, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelMessage<'a> {
    /// The syslog timestamp, if any.
    pub timestamp: Option<Timestamp<'a>>,
    /// The kernel uptime stamp, if any, µs.
    pub uptime_us: Option<u64>,
    /// What it says.
    pub event: KernelEvent,
}

/// Reads a kernel SYN-flood or listen-queue message; `None` for any other line.
///
/// ```
/// use halfopen_fwlog::kernel::{parse, KernelEvent};
/// let m = parse(b"Nov 24 21:36:55 testbed kernel: [ 9023.1] TCP: request_sock_TCP: Possible SYN flooding on port 192.0.2.10:80. Sending cookies.").unwrap();
/// assert_eq!(m.event, KernelEvent::SynFlooding { addr: Some("192.0.2.10".parse().unwrap()), port: 80, cookies: true });
/// let m = parse(b"Mar  1 18:50:00 web kernel: sonewconn: pcb 0xfffff80012345678 (116.58.172.107:80 (proto 6)): Listen queue overflow: 193 already in queue awaiting acceptance (12 occurrences)").unwrap();
/// assert!(matches!(m.event, KernelEvent::ListenQueueOverflow { queued: Some(193), occurrences: Some(12), .. }));
/// assert!(parse(b"Mar  1 18:50:00 web kernel: eth0: link up").is_none());
/// ```
pub fn parse(line: &[u8]) -> Option<KernelMessage<'_>> {
    let (h, msg) = split(line).ok()?;
    let event = syn_flooding(msg).or_else(|| listen_queue_overflow(msg))?;
    Some(KernelMessage {
        timestamp: h.timestamp,
        uptime_us: h.uptime_us,
        event,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn syn_flooding(msg: &[u8]) -> Option<KernelEvent> {
    const KEY: &[u8] = b"Possible SYN flooding on port ";
    let at = find(msg, KEY)?;
    let rest = msg.get(at + KEY.len()..)?;
    let (endpoint, after) = word(rest);
    // "192.0.2.10:80." / "[2001:db8::10]:80." / "80."
    let endpoint = endpoint.strip_suffix(b".").unwrap_or(endpoint);
    let (addr, port) = match endpoint.iter().rposition(|&b| b == b':') {
        Some(i) => {
            let a = endpoint.get(..i)?;
            let a = a
                .strip_prefix(b"[")
                .and_then(|a| a.strip_suffix(b"]"))
                .unwrap_or(a);
            (Some(ip(a)?), dec_u16(endpoint.get(i + 1..)?)?)
        }
        None => (None, dec_u16(endpoint)?),
    };
    let cookies = find(after, b"Sending cookies").is_some();
    Some(KernelEvent::SynFlooding {
        addr,
        port,
        cookies,
    })
}

fn listen_queue_overflow(msg: &[u8]) -> Option<KernelEvent> {
    if !msg.starts_with(b"sonewconn:") {
        return None;
    }
    let key = find(msg, b"Listen queue overflow")?;
    let head = msg.get(..key)?;
    let local = head
        .iter()
        .position(|&b| b == b'(')
        .and_then(|i| head.get(i + 1..))
        .map(|rest| word(rest).0)
        .and_then(|ep| {
            let i = ep.iter().rposition(|&b| b == b':')?;
            let a = ep.get(..i)?;
            let a = a
                .strip_prefix(b"[")
                .and_then(|a| a.strip_suffix(b"]"))
                .unwrap_or(a);
            Some((ip(a)?, dec_u16(ep.get(i + 1..)?)?))
        });
    let tail = msg.get(key..)?;
    let queued = tail
        .iter()
        .position(u8::is_ascii_digit)
        .and_then(|i| tail.get(i..))
        .and_then(|t| dec_u32(word(t).0));
    let occurrences = find(tail, b" occurrences").and_then(|end| {
        let before = tail.get(..end)?;
        let start = before.iter().rposition(|&b| b == b'(')? + 1;
        dec_u32(before.get(start..)?)
    });
    Some(KernelEvent::ListenQueueOverflow {
        local,
        queued,
        occurrences,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_forms() {
        let v6 = parse(b"kernel: TCP: request_sock_TCPv6: Possible SYN flooding on port [2001:db8::10]:80. Dropping request.  Check SNMP counters.").unwrap();
        assert_eq!(
            v6.event,
            KernelEvent::SynFlooding {
                addr: Some("2001:db8::10".parse().unwrap()),
                port: 80,
                cookies: false
            }
        );
        let old = parse(b"Jan  2 03:04:05 h kernel: TCP: Possible SYN flooding on port 80. Sending cookies.  Check SNMP counters.").unwrap();
        assert_eq!(
            old.event,
            KernelEvent::SynFlooding {
                addr: None,
                port: 80,
                cookies: true
            }
        );
        assert!(old.timestamp.is_some());
    }

    #[test]
    fn freebsd_without_address() {
        let m = parse(b"Mar  1 18:50:00 web kernel: sonewconn: pcb 0xfffff80012345678: Listen queue overflow: 16 already in queue awaiting acceptance (3 occurrences)").unwrap();
        assert_eq!(
            m.event,
            KernelEvent::ListenQueueOverflow {
                local: None,
                queued: Some(16),
                occurrences: Some(3)
            }
        );
    }

    #[test]
    fn garbage_is_none() {
        for l in [
            &b""[..],
            b"Possible SYN flooding on port ",
            b"Possible SYN flooding on port x:y.",
            b"sonewconn:",
            b"\xff\xfe Possible SYN flooding on port [::1:80",
        ] {
            assert!(parse(l).is_none(), "{l:?}");
        }
    }
}
