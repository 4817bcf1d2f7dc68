//! One function per behaviour: the client does what the behaviour says, the server reacts like
//! Linux + Apache 2.4 would, and every packet and log line is recorded.

use crate::apache::{self, BODY_400, BODY_404, BODY_408};
use crate::packet::{Stack, flag};
use crate::rng::Rng;
use crate::sim::{
    self, Conn, DEFER_ACCEPT_RETX_US, HEADER_MINRATE_US_PER_BYTE, HEADER_TIMEOUT_MAX_US,
    HEADER_TIMEOUT_US, KEEPALIVE_TIMEOUT_US, KERNEL_US, Peer, SYNACK_RETX_US, Sim,
};
use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};

/// Per-actor context.
pub struct Ctx<'a> {
    /// The simulation.
    pub sim: &'a mut Sim,
    /// The actor's generator.
    pub rng: Rng,
    /// Actor index (for the truth table).
    pub actor: usize,
    /// Host header value.
    pub host: &'a str,
    /// Connection attempts (distinct 4-tuples) made.
    pub connections: u32,
}

fn browser_stack(rng: &mut Rng) -> Stack {
    if rng.chance(400) {
        Stack::Windows
    } else {
        Stack::Linux
    }
}

/// What a browser fetched so far during one visit.
#[derive(Debug, Default)]
struct Visit {
    referer: Option<String>,
    fetched: Vec<usize>,
}

/// Normal browser traffic.
pub fn browser(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, connections: u32, requests: u32) {
    let (mut peer, ua) = browser_peer(cx, addr);
    browse(cx, &mut peer, ua, t0, connections, requests);
}

/// A browser host: its stack (Linux or Windows), path and User-Agent.
pub fn browser_peer(cx: &mut Ctx<'_>, addr: IpAddr) -> (Peer, &'static str) {
    let stack = browser_stack(&mut cx.rng);
    let peer = Peer::new(addr, stack, &mut cx.rng);
    let ua = if stack == Stack::Windows {
        *cx.rng.pick(apache::USER_AGENTS_WINDOWS)
    } else {
        *cx.rng.pick(apache::USER_AGENTS_LINUX)
    };
    (peer, ua)
}

/// One visit of `connections` keep-alive connections with `requests` requests each.
pub fn browse(
    cx: &mut Ctx<'_>,
    peer: &mut Peer,
    ua: &str,
    t0: i64,
    connections: u32,
    requests: u32,
) {
    let mut t = t0;
    let mut visit = Visit::default();
    for _ in 0..connections {
        let end = browser_conn(cx, peer, t, requests.max(1), ua, &mut visit);
        // Browsers open their next connection while or after the previous one is used.
        t = if cx.rng.chance(500) {
            t + cx.rng.range_i64(20_000, 600_000)
        } else {
            end + cx.rng.range_i64(1_000_000, 30_000_000)
        };
    }
}

fn browser_conn(
    cx: &mut Ctx<'_>,
    peer: &mut Peer,
    t0: i64,
    requests: u32,
    ua: &str,
    visit: &mut Visit,
) -> i64 {
    let port = cx.sim.server_port;
    let mut c = Conn::new(peer, port, &mut cx.rng);
    cx.connections += 1;
    let (_, t_est) = sim::handshake(&mut c, cx.sim, &mut cx.rng, t0);
    browse_on(cx, peer, &mut c, t_est, requests, ua, visit)
}

/// A browser's requests on an established connection `c`, then the keep-alive close; returns
/// when the connection ended.
pub fn browse_established(
    cx: &mut Ctx<'_>,
    peer: &mut Peer,
    mut c: Conn,
    t_est: i64,
    requests: u32,
    ua: &str,
) -> i64 {
    let mut visit = Visit::default();
    browse_on(cx, peer, &mut c, t_est, requests, ua, &mut visit)
}

fn browse_on(
    cx: &mut Ctx<'_>,
    peer: &mut Peer,
    c: &mut Conn,
    t_est: i64,
    requests: u32,
    ua: &str,
    visit: &mut Visit,
) -> i64 {
    let mut t = t_est + cx.rng.range_i64(40, 400);
    let mut last_write = t;
    for _ in 0..requests {
        // A visit starts with a page; later requests fetch sub-resources and other pages.
        let page = if visit.referer.is_none() {
            apache::PAGES[cx.rng.range(0, 1) as usize]
        } else {
            // Browsers cache what they fetched (and a 404 favicon): prefer something new.
            let fresh: Vec<usize> = (2..apache::PAGES.len())
                .filter(|i| !visit.fetched.contains(i))
                .collect();
            let i = if fresh.is_empty() {
                cx.rng.range(2, apache::PAGES.len() as u64 - 1) as usize
            } else {
                *cx.rng.pick(&fresh)
            };
            visit.fetched.push(i);
            apache::PAGES[i]
        };
        let (write, t_ack) = exchange(cx, c, t, page, ua, visit.referer.as_deref());
        last_write = write;
        let path = page.0;
        if path.ends_with('/') || path.ends_with(".html") {
            visit.referer = Some(format!("http://{}{path}", cx.host));
        }
        t = t_ack + cx.rng.range_i64(30_000, 1_500_000);
    }
    // Apache closes idle keep-alive connections after KeepAliveTimeout; some clients close first.
    let ka_close = last_write + KEEPALIVE_TIMEOUT_US + cx.rng.range_i64(100, 3_000);
    let end = if cx.rng.chance(300) {
        let t_close =
            (last_write + c.rtt + cx.rng.range_i64(100_000, 4_000_000)).min(ka_close - 1_000);
        sim::client_close(c, cx.sim, &mut cx.rng, t_close)
    } else {
        sim::server_close(c, cx.sim, &mut cx.rng, ka_close)
    };
    c.done(peer);
    end
}

/// One GET of `page` at `t` and Apache's keep-alive response (200, or 404 with AH00128 for a
/// page of size 0), the access-log line, and the client's delayed ACK. Returns (when Apache
/// wrote the access line, when the client's ACK arrived).
pub fn exchange(
    cx: &mut Ctx<'_>,
    c: &mut Conn,
    t: i64,
    page: (&str, &str, u64),
    ua: &str,
    referer: Option<&str>,
) -> (i64, i64) {
    let (path, ctype, size) = page;
    let req = apache::request(path, cx.host, ua, referer);
    let t_req = c.c_data(cx.sim, &mut cx.rng, t, &req);
    let (status, len, ctype) = if size == 0 {
        (404u16, BODY_404, "text/html; charset=iso-8859-1")
    } else {
        (200, size, ctype)
    };
    let t_resp = t_req + cx.rng.range_i64(150, 2_500);
    let resp = apache::response(status, len, t_resp, true, ctype);
    let t_last = c.s_data(cx.sim, t_resp, &resp);
    let write = t_last + cx.rng.range_i64(5, 40);
    if status == 404 {
        let msg = format!(
            "AH00128: File does not exist: {}{}{}",
            apache::DOCROOT,
            path,
            referer
                .map(|r| format!(", referer: {r}"))
                .unwrap_or_default()
        );
        cx.sim.error(
            &mut cx.rng,
            write - 3,
            "core:info",
            "",
            (c.c_addr, c.c_port),
            &msg,
        );
    }
    cx.sim.access.push(sim::AccessEntry {
        write_us: write,
        recv_us: t_req,
        client: c.c_addr,
        port: c.c_port,
        request: apache::escape_logitem(format!("GET {path} HTTP/1.1").as_bytes()),
        status,
        bytes: Some(len),
        referer: referer.map(str::to_string),
        user_agent: Some(ua.to_string()),
        actor: cx.actor,
    });
    // The client's (delayed) ACK for the response.
    let t_ack = t_last + c.rtt + cx.rng.range_i64(0, 40_000);
    c.c_seg(cx.sim, &mut cx.rng, t_ack, flag::ACK, &[]);
    (write, t_ack)
}

/// Handshake, then silence. `client_fin_after_us`: the client closes that long after its ACK
/// (preconnect); `None`: it waits for the server (idle until timeout).
fn idle_conn(cx: &mut Ctx<'_>, peer: &mut Peer, t0: i64, client_fin_after_us: Option<i64>) -> i64 {
    let port = cx.sim.server_port;
    let mut c = Conn::new(peer, port, &mut cx.rng);
    cx.connections += 1;
    let (t_sa, t_est) = sim::handshake(&mut c, cx.sim, &mut cx.rng, t0);
    let fin_at = client_fin_after_us.map(|d| t_est + d);
    // TCP_DEFER_ACCEPT: the bare ACK is dropped; Apache is not woken until data, a FIN, or the
    // kernel's single SYN-ACK retransmission at ~+31.5 s is answered.
    let t_retx = t_sa + DEFER_ACCEPT_RETX_US + cx.rng.range_i64(0, 20_000);
    if let Some(f) = fin_at.filter(|&f| f < t_retx) {
        let end = sim::client_close(&mut c, cx.sim, &mut cx.rng, f);
        c.done(peer);
        return end;
    }
    c.s_synack(cx.sim, t_retx);
    let t_acc = t_retx + c.rtt + cx.rng.range_i64(0, 200);
    c.c_seg(cx.sim, &mut cx.rng, t_acc, flag::ACK, &[]);
    c.accepted_us = Some(t_acc);
    let deadline = t_acc + HEADER_TIMEOUT_US + cx.rng.range_i64(2_000, 25_000);
    if let Some(f) = fin_at.filter(|&f| f < deadline) {
        // Accepted, then EOF before any byte: Apache logs nothing.
        let end = sim::client_close(&mut c, cx.sim, &mut cx.rng, f);
        c.done(peer);
        return end;
    }
    log_header_timeout(cx, &c, deadline);
    let end = sim::server_close(&mut c, cx.sim, &mut cx.rng, deadline + 60);
    c.done(peer);
    end
}

/// mod_reqtimeout fires on a connection that sent nothing: AH01382 and `"-" 408` with no
/// response body (lab idle_no_data).
pub fn log_header_timeout(cx: &mut Ctx<'_>, c: &Conn, deadline: i64) {
    cx.sim.error(
        &mut cx.rng,
        deadline,
        "reqtimeout:info",
        "",
        (c.c_addr, c.c_port),
        "AH01382: Request header read timeout",
    );
    cx.sim.access.push(sim::AccessEntry {
        write_us: deadline + 35,
        recv_us: deadline,
        client: c.c_addr,
        port: c.c_port,
        request: "-".to_string(),
        status: 408,
        bytes: None,
        referer: None,
        user_agent: None,
        actor: cx.actor,
    });
}

/// Browser preconnects that are never used.
pub fn preconnect(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, connections: u32, idle_ms: u32) {
    let stack = browser_stack(&mut cx.rng);
    let mut peer = Peer::new(addr, stack, &mut cx.rng);
    let mut t = t0;
    for _ in 0..connections {
        let idle = i64::from(idle_ms) * 1000 + cx.rng.range_i64(0, 50_000);
        idle_conn(cx, &mut peer, t, Some(idle));
        t += cx.rng.range_i64(2_000_000, 60_000_000);
    }
}

/// Connections that stay silent until Apache times them out.
pub fn idle_until_timeout(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, connections: u32) {
    let mut peer = Peer::new(addr, Stack::Linux, &mut cx.rng);
    let mut t = t0;
    for _ in 0..connections {
        idle_conn(cx, &mut peer, t, None);
        t += cx.rng.range_i64(500_000, 20_000_000);
    }
}

/// Ports in order, each once (nmap never probes a port twice in one scan).
fn unique(ports: &[u16]) -> Vec<u16> {
    let mut seen = HashSet::new();
    ports.iter().copied().filter(|p| seen.insert(*p)).collect()
}

/// nmap -sS.
pub fn syn_scan(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, ports: &[u16]) {
    let ports = unique(ports);
    let peer = Peer::new(addr, Stack::NmapRaw, &mut cx.rng);
    let sport = cx.rng.range(33_000, 65_000) as u16;
    let mut t = t0;
    for &dport in &ports {
        let mut c = Conn::with_port(&peer, sport, dport, &mut cx.rng);
        cx.connections += 1;
        c.c_syn(cx.sim, &mut cx.rng, t);
        if cx.sim.open_ports.contains(&dport) {
            let t_sa = t + KERNEL_US;
            c.s_synack(cx.sim, t_sa);
            // No socket on the scanner: its kernel answers the SYN-ACK with a RST.
            c.c_rst_for_synack(cx.sim, t_sa + c.rtt);
        } else {
            c.s_rst_closed(cx.sim, t + KERNEL_US);
        }
        t += cx.rng.range_i64(300, 3_000);
    }
}

/// nmap -sT: connect(), then close with RST (SO_LINGER 0).
pub fn connect_scan(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, ports: &[u16]) {
    let ports = unique(ports);
    let mut peer = Peer::new(addr, Stack::Linux, &mut cx.rng);
    let mut t = t0;
    for &dport in &ports {
        let mut c = Conn::new(&mut peer, dport, &mut cx.rng);
        cx.connections += 1;
        if cx.sim.open_ports.contains(&dport) {
            let (_, t_est) = sim::handshake(&mut c, cx.sim, &mut cx.rng, t);
            let t_rst = t_est + cx.rng.range_i64(30, 300);
            c.c_seg(cx.sim, &mut cx.rng, t_rst, flag::RST | flag::ACK, &[]);
        } else {
            c.c_syn(cx.sim, &mut cx.rng, t);
            c.s_rst_closed(cx.sim, t + KERNEL_US);
        }
        c.done(&mut peer);
        t += cx.rng.range_i64(500, 5_000);
    }
}

/// slowloris.pl: request line + headers, one more header every `interval_ms`, never the blank line.
pub fn slowloris(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, connections: u32, interval_ms: u32) {
    let mut peer = Peer::new(addr, Stack::Linux, &mut cx.rng);
    let interval = i64::from(interval_ms.max(1)) * 1000;
    let mut t = t0;
    for _ in 0..connections {
        let mut c = Conn::new(&mut peer, cx.sim.server_port, &mut cx.rng);
        cx.connections += 1;
        let (_, t_est) = sim::handshake(&mut c, cx.sim, &mut cx.rng, t);
        let path = format!("/?{}", cx.rng.range(1, 2000));
        let first = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nContent-Length: 42\r\n",
            cx.host,
            apache::SLOWLORIS_UA
        );
        let t_send = t_est + cx.rng.range_i64(50, 400);
        let t_first = c.c_data(cx.sim, &mut cx.rng, t_send, first.as_bytes());
        // mod_reqtimeout: the header stage times out 20 s after the first read, each received
        // byte adds 1/minrate s (at most 40 s in all), and the socket wait after a read is never
        // shorter than 1 s (check_time_left), which is why the lab's slowloris got its 408 at
        // +21.0 s rather than +20.2 s.
        let accept = t_first;
        let max_at = accept + HEADER_TIMEOUT_MAX_US;
        let mut timeout_at =
            (accept + HEADER_TIMEOUT_US + first.len() as i64 * HEADER_MINRATE_US_PER_BYTE)
                .min(max_at);
        let ack_delay = (interval / 2).min(40_000);
        c.s_seg(cx.sim, t_first + ack_delay, flag::ACK, &[]);
        let mut t_read = t_first;
        let mut next = t_first + interval;
        let fired = loop {
            let left = timeout_at - t_read;
            if left <= 0 {
                break t_read;
            }
            let wait_until = t_read + left.max(1_000_000);
            if next >= wait_until {
                break wait_until;
            }
            let h = b"X-a: b\r\n";
            c.c_data(cx.sim, &mut cx.rng, next, h);
            c.s_seg(cx.sim, next + ack_delay, flag::ACK, &[]);
            timeout_at = (timeout_at + h.len() as i64 * HEADER_MINRATE_US_PER_BYTE).min(max_at);
            t_read = next;
            next += interval + cx.rng.range_i64(0, 2_000);
        };
        let deadline = fired + cx.rng.range_i64(100, 400);
        cx.sim.error(
            &mut cx.rng,
            deadline,
            "reqtimeout:info",
            "",
            (c.c_addr, c.c_port),
            "AH01382: Request header read timeout",
        );
        cx.sim.error(
            &mut cx.rng,
            deadline + 40,
            "core:debug",
            "protocol.c(1481)",
            (c.c_addr, c.c_port),
            "AH00567: request failed: error reading the headers",
        );
        let resp = apache::response(
            408,
            BODY_408,
            deadline,
            false,
            "text/html; charset=iso-8859-1",
        );
        let t_last = c.s_data(cx.sim, deadline + 80, &resp);
        cx.sim.access.push(sim::AccessEntry {
            write_us: t_last + 60,
            recv_us: t_first,
            client: c.c_addr,
            port: c.c_port,
            request: apache::escape_logitem(format!("GET {path} HTTP/1.1").as_bytes()),
            status: 408,
            bytes: Some(BODY_408),
            referer: None,
            user_agent: Some(apache::SLOWLORIS_UA.to_string()),
            actor: cx.actor,
        });
        c.s_seg(cx.sim, t_last + 100, flag::FIN | flag::ACK, &[]);
        c.apache_closed(cx.sim, t_last + 100);
        // slowloris does not read: its kernel ACKs the response and the FIN...
        c.c_seg(cx.sim, &mut cx.rng, t_last + 100 + c.rtt, flag::ACK, &[]);
        // ...and its next header hits a closed socket: the server answers with a RST.
        if next < t_last + 100 + c.rtt {
            next = t_last + 200 + c.rtt;
        }
        c.c_data(cx.sim, &mut cx.rng, next, b"X-a: b\r\n");
        c.s_seg(cx.sim, next + KERNEL_US, flag::RST, &[]);
        c.done(&mut peer);
        t += cx.rng.range_i64(5_000, 200_000);
    }
}

/// A TLS ClientHello sent to the plain-HTTP port.
pub fn tls_on_http(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, connections: u32) {
    non_http1(cx, addr, t0, connections, NonHttp1::TlsClientHello);
}

/// An HTTP/2 prior-knowledge preface + SETTINGS sent to the HTTP/1.1-only port.
pub fn h2_preface_on_http1(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, connections: u32) {
    non_http1(cx, addr, t0, connections, NonHttp1::H2Preface);
}

#[derive(Clone, Copy)]
enum NonHttp1 {
    TlsClientHello,
    H2Preface,
}

/// The client speaks something else than HTTP/1.x first; Apache answers 400 and closes (FIN
/// after its lingering close), logging what it took for a request line.
fn non_http1(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, connections: u32, what: NonHttp1) {
    let mut peer = Peer::new(addr, Stack::Linux, &mut cx.rng);
    let mut t = t0;
    for _ in 0..connections {
        let mut c = Conn::new(&mut peer, cx.sim.server_port, &mut cx.rng);
        cx.connections += 1;
        let (_, t_est) = sim::handshake(&mut c, cx.sim, &mut cx.rng, t);
        let (payload, src, msg) = match what {
            NonHttp1::TlsClientHello => {
                let mut random = [0u8; 64];
                for b in random.iter_mut() {
                    *b = cx.rng.next_u32() as u8;
                }
                (
                    apache::client_hello(&random),
                    "protocol.c(1449)",
                    "AH00566: request failed: malformed request line",
                )
            }
            NonHttp1::H2Preface => (
                apache::h2_preface(),
                "protocol.c(958)",
                "AH03450: HTTP Request Line; Unable to parse URI: '*'",
            ),
        };
        let t_send = t_est + cx.rng.range_i64(100, 2_000);
        let t_data = c.c_data(cx.sim, &mut cx.rng, t_send, &payload);
        let t_err = t_data + cx.rng.range_i64(40, 90);
        cx.sim.error(
            &mut cx.rng,
            t_err,
            "core:debug",
            src,
            (c.c_addr, c.c_port),
            msg,
        );
        let resp = apache::response(400, BODY_400, t_err, false, "text/html; charset=iso-8859-1");
        let t_last = c.s_data(cx.sim, t_err + 10, &resp);
        cx.sim.access.push(sim::AccessEntry {
            write_us: t_last + 20,
            recv_us: t_data,
            client: c.c_addr,
            port: c.c_port,
            request: apache::logged_request_line(&payload),
            status: 400,
            bytes: Some(BODY_400),
            referer: None,
            user_agent: None,
            actor: cx.actor,
        });
        sim::server_close(&mut c, cx.sim, &mut cx.rng, t_last + 30);
        c.done(&mut peer);
        t += cx.rng.range_i64(1_000_000, 90_000_000);
    }
}

/// Parses `a.b.c.d/n`.
pub fn parse_v4_cidr(s: &str) -> Option<(u32, u8)> {
    let (a, n) = s.trim().split_once('/')?;
    let a: Ipv4Addr = a.parse().ok()?;
    let n: u8 = n.parse().ok()?;
    if n > 32 {
        return None;
    }
    let mask = if n == 0 { 0 } else { u32::MAX << (32 - n) };
    Some((u32::from(a) & mask, n))
}

/// The server's answer to a SYN nobody will complete: SYN-ACK, retransmitted like Linux
/// (+1, +3, +7, +15, +31 s); the request is dropped at about +63 s without another packet.
/// If the SYN queue is full at that moment, [`sim::apply_syncookies`] later removes the
/// retransmissions (a syncookie SYN-ACK keeps no state).
pub fn unanswered_synack(c: &mut Conn, sim: &mut Sim, t_syn: i64) {
    let t_sa = t_syn + KERNEL_US;
    c.s_synack(sim, t_sa);
    let first = sim.pkts.len();
    for d in SYNACK_RETX_US {
        c.s_synack(sim, t_sa + d);
    }
    sim.half_open.push(sim::HalfOpen {
        t_syn,
        retx: first..sim.pkts.len(),
    });
}

/// hping3 -S --flood --rand-source inside a CIDR.
pub fn spoofed_syn_flood(cx: &mut Ctx<'_>, t0: i64, sources: &str, count: u32, per_second: u32) {
    let Some((net, len)) = parse_v4_cidr(sources) else {
        return;
    };
    let size = if len >= 32 { 1 } else { 1u64 << (32 - len) };
    let gap = 1_000_000 / i64::from(per_second.max(1));
    let mut used = HashSet::new();
    for i in 0..count {
        let host = if size > 2 {
            cx.rng.range(1, size - 2)
        } else {
            cx.rng.range(0, size - 1)
        };
        let addr = IpAddr::V4(Ipv4Addr::from(net.wrapping_add(host as u32)));
        let peer = Peer::new(addr, Stack::Hping, &mut cx.rng);
        if used.len() > 1_000_000 {
            used.clear();
        }
        let sport = loop {
            let p = cx.rng.range(1024, 65535) as u16;
            if used.insert((addr, p)) {
                break p;
            }
        };
        let mut c = Conn::with_port(&peer, sport, cx.sim.server_port, &mut cx.rng);
        cx.connections += 1;
        let t = t0 + i64::from(i) * gap + cx.rng.range_i64(0, gap / 2);
        c.c_syn(cx.sim, &mut cx.rng, t);
        unanswered_synack(&mut c, cx.sim, t);
    }
}

/// One source, a SYN with a fresh random source port every `interval_ms`, nothing else.
pub fn random_port_syns(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, count: u32, interval_ms: u32) {
    let peer = Peer::new(addr, Stack::RawTool, &mut cx.rng);
    let mut used = HashSet::new();
    let interval = i64::from(interval_ms) * 1000;
    for i in 0..count {
        if used.len() > 60_000 {
            used.clear();
        }
        let sport = loop {
            let p = cx.rng.range(1024, 65535) as u16;
            if used.insert(p) {
                break p;
            }
        };
        let mut c = Conn::with_port(&peer, sport, cx.sim.server_port, &mut cx.rng);
        cx.connections += 1;
        let t = t0 + i64::from(i) * interval + cx.rng.range_i64(0, 3_000);
        c.c_syn(cx.sim, &mut cx.rng, t);
        unanswered_synack(&mut c, cx.sim, t);
    }
}
