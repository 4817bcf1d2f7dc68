//! `netstat -an -p tcp` (FreeBSD), `netstat -ant` (Linux) and `ss -tan` snapshots: how many
//! half-open (SYN_RCVD / SYN_RECV / SYN-RECV) sockets per local port and per remote address,
//! optional evidence of backlog pressure.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{take, take_till1, take_while};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, rest, verify};
use nom::sequence::{delimited, preceded};

/// The nom error type of the line grammar (positions only; [`Error::Netstat`] names what was
/// expected).
type NomError<'a> = nom::error::Error<&'a [u8]>;

/// Longest line accepted.
pub const MAX_LINE: usize = 4096;
/// Most whitespace-separated fields accepted on a line.
pub const MAX_FIELDS: usize = 16;

/// TCP socket state as netstat/ss print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SocketState {
    /// LISTEN.
    Listen,
    /// SYN_SENT / SYN-SENT.
    SynSent,
    /// SYN_RCVD (BSD) / SYN_RECV / SYN-RECV: half-open.
    SynRecv,
    /// ESTABLISHED / ESTAB.
    Established,
    /// FIN_WAIT_1 / FIN-WAIT-1.
    FinWait1,
    /// FIN_WAIT_2 / FIN-WAIT-2.
    FinWait2,
    /// TIME_WAIT / TIME-WAIT.
    TimeWait,
    /// CLOSE_WAIT / CLOSE-WAIT.
    CloseWait,
    /// LAST_ACK / LAST-ACK.
    LastAck,
    /// CLOSING.
    Closing,
    /// CLOSED / UNCONN.
    Closed,
}

impl SocketState {
    /// Parses a state word in any of the three spellings.
    pub fn parse(w: &[u8]) -> Option<SocketState> {
        let mut buf = [0u8; 16];
        let norm = buf.get_mut(..w.len())?;
        for (d, s) in norm.iter_mut().zip(w) {
            *d = if *s == b'-' {
                b'_'
            } else {
                s.to_ascii_uppercase()
            };
        }
        Some(match &*norm {
            b"LISTEN" => SocketState::Listen,
            b"SYN_SENT" => SocketState::SynSent,
            b"SYN_RCVD" | b"SYN_RECV" => SocketState::SynRecv,
            b"ESTABLISHED" | b"ESTAB" => SocketState::Established,
            b"FIN_WAIT_1" | b"FIN_WAIT1" => SocketState::FinWait1,
            b"FIN_WAIT_2" | b"FIN_WAIT2" => SocketState::FinWait2,
            b"TIME_WAIT" => SocketState::TimeWait,
            b"CLOSE_WAIT" => SocketState::CloseWait,
            b"LAST_ACK" => SocketState::LastAck,
            b"CLOSING" => SocketState::Closing,
            b"CLOSED" | b"CLOSE" | b"UNCONN" => SocketState::Closed,
            _ => return None,
        })
    }
}

/// One side of a socket; `None` fields are wildcards (`*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// Address.
    pub addr: Option<IpAddr>,
    /// Port.
    pub port: Option<u16>,
}

/// One socket line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SocketLine {
    /// State.
    pub state: SocketState,
    /// Receive queue (for ss LISTEN sockets: the current accept queue).
    pub recv_q: u64,
    /// Send queue (for ss LISTEN sockets: the backlog).
    pub send_q: u64,
    /// Local side.
    pub local: Endpoint,
    /// Remote side.
    pub remote: Endpoint,
}

/// The fields of a line, how many there are, and where each starts.
type Fields<'a> = ([&'a [u8]; MAX_FIELDS], usize, [usize; MAX_FIELDS]);

/// One whitespace-separated field after the whitespace before it (nom 8, `complete`).
fn field<'a>() -> impl Parser<&'a [u8], Output = &'a [u8], Error = NomError<'a>> {
    preceded(
        take_while(|b: u8| b.is_ascii_whitespace()),
        take_till1(|b: u8| b.is_ascii_whitespace()),
    )
}

fn fields(line: &[u8]) -> Result<Fields<'_>> {
    let mut out: [&[u8]; MAX_FIELDS] = [&[]; MAX_FIELDS];
    let mut offs = [0usize; MAX_FIELDS];
    let mut n = 0;
    let mut rest = line;
    while let Ok((r, f)) = field().parse(rest) {
        let start = line.len().saturating_sub(r.len()).saturating_sub(f.len());
        let (Some(slot), Some(off)) = (out.get_mut(n), offs.get_mut(n)) else {
            return Err(Error::Netstat {
                offset: start,
                expected: "at most 16 fields",
            });
        };
        *slot = f;
        *off = start;
        n += 1;
        rest = r;
    }
    Ok((out, n, offs))
}

/// Exactly a run of 1..=`max` ASCII digits (the whole of `s`).
fn all_digits(s: &[u8], max: usize) -> Option<&str> {
    let (_, d) = all_consuming(verify(digit1::<_, NomError<'_>>, |d: &[u8]| d.len() <= max))
        .parse(s)
        .ok()?;
    std::str::from_utf8(d).ok()
}

fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(s).ok()?;
    let s = s.split('%').next().unwrap_or(s);
    IpAddr::from_str(s).ok()
}

fn parse_port(s: &[u8]) -> Option<Option<u16>> {
    if s == b"*" {
        return Some(None);
    }
    all_digits(s, 5)?.parse().ok().map(Some)
}

fn parse_host(s: &[u8]) -> Option<Option<IpAddr>> {
    if s == b"*" {
        return Some(None);
    }
    // `[v6]` (ss) or a bare address.
    let (_, s) = alt((
        all_consuming(delimited(
            char::<&[u8], NomError<'_>>('['),
            take(s.len().saturating_sub(2)),
            char(']'),
        )),
        rest,
    ))
    .parse(s)
    .ok()?;
    parse_ip(s).map(Some)
}

/// Parses `ip:port`, `[v6]:port`, `*:port`, `ip%if:port` (Linux), or `ip.port`, `*.*` (BSD).
pub fn parse_endpoint(s: &[u8]) -> Option<Endpoint> {
    if let Some(i) = s.iter().rposition(|&b| b == b':')
        && let (Some(h), Some(p)) = (s.get(..i), s.get(i + 1..))
        && let (Some(addr), Some(port)) = (parse_host(h), parse_port(p))
    {
        return Some(Endpoint { addr, port });
    }
    let i = s.iter().rposition(|&b| b == b'.')?;
    let addr = parse_host(s.get(..i)?)?;
    let port = parse_port(s.get(i + 1..)?)?;
    Some(Endpoint { addr, port })
}

fn parse_num(s: &[u8]) -> Option<u64> {
    all_digits(s, 19)?.parse().ok()
}

/// Parses one line; `Ok(None)` for headers, blank lines and non-TCP sockets.
///
/// ```
/// use halfopen::netstat::{parse_line, SocketState};
/// let l = parse_line(b"tcp4       0      0 116.58.172.107.80      45.76.87.206.58896     SYN_RCVD").unwrap().unwrap();
/// assert_eq!(l.state, SocketState::SynRecv);
/// assert_eq!(l.local.port, Some(80));
/// let l = parse_line(b"SYN-RECV 0      0      192.0.2.10:80   45.76.87.206:58896").unwrap().unwrap();
/// assert_eq!(l.remote.addr, Some("45.76.87.206".parse().unwrap()));
/// ```
pub fn parse_line(line: &[u8]) -> Result<Option<SocketLine>> {
    if line.len() > MAX_LINE {
        return Err(Error::LineTooLong {
            len: line.len(),
            max: MAX_LINE,
        });
    }
    let (f, n, offs) = fields(line)?;
    let get = |i: usize| f.get(i).copied().filter(|_| i < n);
    let off = |i: usize| offs.get(i).copied().unwrap_or(line.len());
    let Some(first) = get(0) else {
        return Ok(None);
    };
    let headers: [&[u8]; 5] = [b"Active", b"Proto", b"State", b"Netid", b"Recv-Q"];
    if headers.contains(&first) {
        return Ok(None);
    }
    // Layouts: [netid] STATE recvq sendq local peer ... (ss), or proto recvq sendq local foreign STATE (netstat).
    let (state_at, q_at, local_at, state_last) = if SocketState::parse(first).is_some() {
        (0, 1, 3, false)
    } else if first.starts_with(b"tcp") {
        if get(1).and_then(SocketState::parse).is_some() {
            (1, 2, 4, false)
        } else {
            (5, 1, 3, true)
        }
    } else if matches!(
        first,
        b"udp"
            | b"udp4"
            | b"udp6"
            | b"udp46"
            | b"raw"
            | b"unix"
            | b"u_str"
            | b"u_dgr"
            | b"u_seq"
            | b"nl"
            | b"p_raw"
            | b"p_dgr"
            | b"icmp6"
            | b"sctp"
            | b"mptcp"
    ) || first.starts_with(b"udp")
    {
        return Ok(None);
    } else {
        return Err(Error::Netstat {
            offset: off(0),
            expected: "a protocol (tcp, tcp4, tcp6, tcp46) or a TCP state word",
        });
    };
    let _ = state_last;
    let state = get(state_at)
        .and_then(SocketState::parse)
        .ok_or(Error::Netstat {
            offset: off(state_at),
            expected: "a TCP state (LISTEN, SYN_RCVD, SYN-RECV, ESTABLISHED, ...)",
        })?;
    let recv_q = get(q_at).and_then(parse_num).ok_or(Error::Netstat {
        offset: off(q_at),
        expected: "the receive queue (a number)",
    })?;
    let send_q = get(q_at + 1).and_then(parse_num).ok_or(Error::Netstat {
        offset: off(q_at + 1),
        expected: "the send queue (a number)",
    })?;
    let local = get(local_at)
        .and_then(parse_endpoint)
        .ok_or(Error::Netstat {
            offset: off(local_at),
            expected: "the local address (ip:port, [v6]:port or ip.port)",
        })?;
    let remote = get(local_at + 1)
        .and_then(parse_endpoint)
        .ok_or(Error::Netstat {
            offset: off(local_at + 1),
            expected: "the remote address (ip:port, [v6]:port or ip.port)",
        })?;
    Ok(Some(SocketLine {
        state,
        recv_q,
        send_q,
        local,
        remote,
    }))
}

/// A counted snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetstatSummary {
    /// Sockets per state.
    pub states: BTreeMap<SocketState, u64>,
    /// Half-open sockets per local port.
    pub half_open_by_local_port: BTreeMap<u16, u64>,
    /// Half-open sockets per remote address.
    pub half_open_by_remote: BTreeMap<IpAddr, u64>,
    /// Listening sockets' backlog (ss `Send-Q` of LISTEN lines) per local port.
    pub listen_backlog: BTreeMap<u16, u64>,
    /// Lines rejected: (1-based line number, error text).
    pub rejected: Vec<(u64, String)>,
}

impl NetstatSummary {
    /// Adds another snapshot's counts (backlogs: the larger).
    pub fn merge(&mut self, b: &NetstatSummary) {
        for (k, v) in &b.states {
            *self.states.entry(*k).or_insert(0) += v;
        }
        for (k, v) in &b.half_open_by_local_port {
            *self.half_open_by_local_port.entry(*k).or_insert(0) += v;
        }
        for (k, v) in &b.half_open_by_remote {
            *self.half_open_by_remote.entry(*k).or_insert(0) += v;
        }
        for (k, v) in &b.listen_backlog {
            let e = self.listen_backlog.entry(*k).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    /// Counts a whole snapshot (lines split on `\n`, `\r` trimmed).
    ///
    /// ```
    /// let s = halfopen::netstat::NetstatSummary::from_bytes(b"Proto Recv-Q Send-Q Local Address Foreign Address State\ntcp 0 0 10.0.0.1:80 192.0.2.9:4000 SYN_RECV\n");
    /// assert_eq!(s.half_open_by_local_port.get(&80), Some(&1));
    /// ```
    pub fn from_bytes(text: &[u8]) -> NetstatSummary {
        let mut s = NetstatSummary::default();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match parse_line(line) {
                Ok(Some(l)) => s.add(&l),
                Ok(None) => {}
                Err(e) => {
                    if s.rejected.len() < 1000 {
                        s.rejected.push((i as u64 + 1, e.to_string()));
                    }
                }
            }
        }
        s
    }

    /// Counts one socket.
    pub fn add(&mut self, l: &SocketLine) {
        *self.states.entry(l.state).or_insert(0) += 1;
        if l.state == SocketState::SynRecv {
            if let Some(p) = l.local.port {
                *self.half_open_by_local_port.entry(p).or_insert(0) += 1;
            }
            if let Some(a) = l.remote.addr {
                *self.half_open_by_remote.entry(a).or_insert(0) += 1;
            }
        }
        if l.state == SocketState::Listen
            && let Some(p) = l.local.port
        {
            let e = self.listen_backlog.entry(p).or_insert(0);
            *e = (*e).max(l.send_q);
        }
    }

    /// Half-open sockets in total.
    pub fn half_open(&self) -> u64 {
        self.states.get(&SocketState::SynRecv).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn endpoints() {
        let e = parse_endpoint(b"[::ffff:192.0.2.1]:443").unwrap();
        assert_eq!(e.addr, Some("::ffff:192.0.2.1".parse().unwrap()));
        assert_eq!(e.port, Some(443));
        assert_eq!(
            parse_endpoint(b"*.*").unwrap(),
            Endpoint {
                addr: None,
                port: None
            }
        );
        assert_eq!(parse_endpoint(b"*:80").unwrap().port, Some(80));
        assert_eq!(
            parse_endpoint(b":::80").unwrap().addr,
            Some("::".parse().unwrap())
        );
        assert_eq!(
            parse_endpoint(b"::1.80").unwrap().addr,
            Some("::1".parse().unwrap())
        );
        assert_eq!(parse_endpoint(b"fe80::1%lo0.22").unwrap().port, Some(22));
        assert_eq!(parse_endpoint(b"127.0.0.53%lo:53").unwrap().port, Some(53));
        assert!(parse_endpoint(b"nonsense").is_none());
        assert!(parse_endpoint(b"1.2.3.4:99999").is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_line(b"tcp 0 0 10.0.0.1:80 192.0.2.9:4000 SYN_WHAT").unwrap_err();
        assert!(matches!(e, Error::Netstat { offset: 35, .. }), "{e}");
        let e = parse_line(b"bogus line").unwrap_err();
        assert!(matches!(e, Error::Netstat { offset: 0, .. }));
        let e = parse_line(b"tcp x 0 10.0.0.1:80 192.0.2.9:4000 LISTEN").unwrap_err();
        assert!(matches!(e, Error::Netstat { offset: 4, .. }));
        assert!(parse_line(&[b' '; 5000]).is_err());
        assert!(parse_line(b"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17").is_err());
        let e = parse_line(b"1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\t\x0c 17").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Netstat {
                    offset: 41,
                    expected: "at most 16 fields"
                }
            ),
            "{e}"
        );
    }

    /// The nom field and number grammars accept exactly what the byte scan did.
    #[test]
    fn nom_grammar_edges() {
        assert_eq!(parse_num(b"0018446744073709551615"), None);
        assert_eq!(parse_num(b"18446744073709551615"), None);
        assert_eq!(
            parse_num(b"1844674407370955161"),
            Some(1_844_674_407_370_955_161)
        );
        assert_eq!(parse_num(b""), None);
        assert_eq!(parse_num(b"1x"), None);
        assert_eq!(parse_port(b"065535"), None);
        assert_eq!(parse_port(b"65536"), None);
        assert_eq!(parse_port(b"*"), Some(None));
        assert_eq!(parse_host(b"[::1]"), Some(Some("::1".parse().unwrap())));
        assert_eq!(parse_host(b"[::1"), None);
        assert_eq!(parse_host(b"[]"), None);
        assert_eq!(parse_host(b"["), None);
        let (f, n, offs) = fields(b"  a\tbb \r\n c  ").unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            (f[1], offs[1], f[2], offs[2]),
            (&b"bb"[..], 4, &b"c"[..], 10)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse_line(&bytes);
            let _ = NetstatSummary::from_bytes(&bytes);
        }

        #[test]
        fn rendered_lines_round_trip(a in any::<[u8; 4]>(), lp in any::<u16>(), rp in any::<u16>(), rq in 0u64..1000, bsd in any::<bool>()) {
            let ip = std::net::Ipv4Addr::from(a);
            let line = if bsd {
                format!("tcp4 {rq} 0 10.0.0.1.{lp} {ip}.{rp} SYN_RCVD")
            } else {
                format!("SYN-RECV {rq} 0 10.0.0.1:{lp} {ip}:{rp}")
            };
            let l = parse_line(line.as_bytes()).unwrap().unwrap();
            prop_assert_eq!(l.state, SocketState::SynRecv);
            prop_assert_eq!(l.recv_q, rq);
            prop_assert_eq!(l.local.port, Some(lp));
            prop_assert_eq!(l.remote, Endpoint { addr: Some(ip.into()), port: Some(rp) });
        }
    }
}
