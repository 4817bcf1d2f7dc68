//! Real clients whose connections do not all reach the access log: a Chromium-like browser, a
//! client refused once, a client whose first SYNs are lost. Each timeline follows the lab
//! (tests/data/run2 and tests/data/chromium, see PROVENANCE.md).

use crate::apache;
use crate::behaviors::{self, Ctx, exchange, log_header_timeout};
use crate::packet::{Stack, flag};
use crate::sim::{
    self, Conn, DEFER_ACCEPT_RETX_US, HEADER_TIMEOUT_US, KEEPALIVE_TIMEOUT_US, KERNEL_US, Peer,
};
use std::net::IpAddr;

/// Chromium's per-host connection limit (HTTP/1.1).
pub const CHROMIUM_MAX_PER_HOST: usize = 6;
/// Chromium's TCP keep-alive idle time (SO_KEEPALIVE, 45 s): a silent socket gets a probe.
pub const CHROMIUM_KEEPALIVE_US: i64 = 45_000_000;

/// A Chromium-like browser on Linux visiting `pages` pages of the site (lab: headless Chromium
/// 156 in tests/data/run2 and tests/data/chromium). Per page:
/// - a throwaway connection: handshake, then the client's FIN 20–35 ms later without a byte
///   (seen on every visit of the lab's headless Chromium; Apache logs nothing);
/// - the page on one connection, then its sub-resources over up to 6 parallel keep-alive
///   connections (Chromium's per-host limit), each carrying one or more requests;
/// - from the second page on, the predictor's speculative preconnect, opened with the page's
///   connection and never used: TCP_DEFER_ACCEPT keeps it in the kernel until the SYN-ACK
///   retransmission at +31.5 s, Chromium's keep-alive probe comes at +45 s, and Apache logs
///   `"-" 408` with AH01382 at about +51.5 s (the lab's third visit);
/// - Apache closes each used connection 5 s after its last response (KeepAliveTimeout); Chromium
///   ACKs and sends its own FINs together about 7 s later.
pub fn chromium_like(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, pages: u32) {
    let mut peer = Peer::new(addr, Stack::Linux, &mut cx.rng);
    let mut t = t0;
    for page in 0..pages {
        let end = chromium_page(cx, &mut peer, t, page > 0);
        t = end + cx.rng.range_i64(5_000_000, 60_000_000);
    }
}

/// One page visit; returns when its last connection ended.
fn chromium_page(cx: &mut Ctx<'_>, peer: &mut Peer, t0: i64, speculative: bool) -> i64 {
    let port = cx.sim.server_port;
    let ua = apache::CHROME_LINUX_UA;
    // The throwaway connection.
    let mut c = Conn::new(peer, port, &mut cx.rng);
    cx.connections += 1;
    let (_, t_est) = sim::handshake(&mut c, cx.sim, &mut cx.rng, t0);
    let fin = t_est + cx.rng.range_i64(20_000, 35_000);
    let mut end = sim::client_close(&mut c, cx.sim, &mut cx.rng, fin);
    c.done(peer);
    // The page, and perhaps the predictor's speculative connection beside it.
    let t_main = t0 + cx.rng.range_i64(40_000, 70_000);
    let mut main = Conn::new(peer, port, &mut cx.rng);
    cx.connections += 1;
    let (_, est) = sim::handshake(&mut main, cx.sim, &mut cx.rng, t_main);
    let spare = speculative.then(|| {
        let mut s = Conn::new(peer, port, &mut cx.rng);
        cx.connections += 1;
        let t = t_main + cx.rng.range_i64(50, 400);
        let (t_sa, t_est) = sim::handshake(&mut s, cx.sim, &mut cx.rng, t);
        (s, t_sa, t_est)
    });
    let home = apache::PAGES
        .first()
        .copied()
        .unwrap_or(("/", "text/html", 3_407));
    let t_req = est + cx.rng.range_i64(200, 2_000);
    let (w, t_html) = exchange(cx, &mut main, t_req, home, ua, None);
    let referer = format!("http://{}{}", cx.host, home.0);
    // Sub-resources: the stylesheet and script always, then some of the rest, in page order.
    let assets: Vec<(&str, &str, u64)> = apache::ASSETS
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < 2 || cx.rng.chance(600))
        .map(|(_, a)| *a)
        .collect();
    let extra = (CHROMIUM_MAX_PER_HOST - 1).min(assets.len().saturating_sub(1));
    let mut conns: Vec<(Conn, i64, i64)> = vec![(main, t_html + cx.rng.range_i64(1_000, 5_000), w)];
    for _ in 0..extra {
        let mut c = Conn::new(peer, port, &mut cx.rng);
        cx.connections += 1;
        let t_open = t_html + cx.rng.range_i64(3_000, 40_000);
        let (_, est) = sim::handshake(&mut c, cx.sim, &mut cx.rng, t_open);
        conns.push((c, est + cx.rng.range_i64(200, 2_000), est));
    }
    let n = conns.len().max(1);
    for (i, asset) in assets.iter().enumerate() {
        if let Some((c, ready, last_write)) = conns.get_mut(i % n) {
            let (w, t_ack) = exchange(cx, c, *ready, *asset, ua, Some(&referer));
            *last_write = w;
            *ready = t_ack + cx.rng.range_i64(5_000, 60_000);
        }
    }
    // Apache's keep-alive timeouts, then Chromium's FINs all at once.
    let fins: Vec<i64> = conns
        .iter()
        .map(|(_, _, w)| w + KEEPALIVE_TIMEOUT_US + cx.rng.range_i64(100, 3_000))
        .collect();
    let notice =
        fins.iter().copied().max().unwrap_or(t_html) + cx.rng.range_i64(6_500_000, 7_500_000);
    for ((mut c, _, _), t_fin) in conns.into_iter().zip(fins) {
        let t_cfin = notice + cx.rng.range_i64(0, 300);
        end = end.max(c.server_close_client_later(cx.sim, &mut cx.rng, t_fin, t_cfin));
        c.done(peer);
    }
    if let Some((mut s, t_sa, t_est)) = spare {
        end = end.max(unused_preconnect(cx, &mut s, t_sa, t_est));
        s.done(peer);
    }
    end
}

/// A connected socket the browser never uses (lab chromium/ third visit, client port 37894).
fn unused_preconnect(cx: &mut Ctx<'_>, c: &mut Conn, t_sa: i64, t_est: i64) -> i64 {
    let t_retx = t_sa + DEFER_ACCEPT_RETX_US + cx.rng.range_i64(0, 60_000);
    c.s_synack(cx.sim, t_retx);
    let t_acc = t_retx + c.rtt + cx.rng.range_i64(0, 200);
    c.c_seg(cx.sim, &mut cx.rng, t_acc, flag::ACK, &[]);
    c.accepted_us = Some(t_acc);
    let deadline = t_acc + HEADER_TIMEOUT_US + cx.rng.range_i64(2_000, 25_000);
    let t_probe = t_est + CHROMIUM_KEEPALIVE_US + cx.rng.range_i64(0, 1_500_000);
    if t_probe < deadline {
        c.c_keepalive_probe(cx.sim, &mut cx.rng, t_probe);
        c.s_seg(cx.sim, t_probe + KERNEL_US, flag::ACK, &[]);
    }
    log_header_timeout(cx, c, deadline);
    let t_fin = deadline + 60;
    let t_cfin = t_fin + cx.rng.range_i64(6_500_000, 7_500_000);
    c.server_close_client_later(cx.sim, &mut cx.rng, t_fin, t_cfin)
}

/// A browser whose first connection is refused: its SYN reaches the web port while nothing
/// listens (Apache restarting) and the server's kernel answers RST|ACK (seq 0, window 0, lab
/// run2 203.0.113.11). Browsers do not retry a refused connection; the user reloads 2–10 s
/// later and browses normally.
pub fn refused_once(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64) {
    let (mut peer, ua) = behaviors::browser_peer(cx, addr);
    let mut c = Conn::new(&mut peer, cx.sim.server_port, &mut cx.rng);
    cx.connections += 1;
    c.c_syn(cx.sim, &mut cx.rng, t0);
    c.s_rst_closed(cx.sim, t0 + KERNEL_US);
    c.done(&mut peer);
    let t = t0 + cx.rng.range_i64(2_000_000, 10_000_000);
    let connections = cx.rng.range(1, 2) as u32;
    let requests = cx.rng.range(2, 5) as u32;
    behaviors::browse(cx, &mut peer, ua, t, connections, requests);
}

/// Linux `tcp_syn_retries`: a connect() gives up after this many SYN retransmissions.
pub const LINUX_SYN_RETRIES: u32 = 6;

/// The delay before SYN retransmission `k` (0-based) on Linux ≥ 6.5: `tcp_syn_linear_timeouts=4`
/// keeps the first four at the initial RTO (1 s), then it doubles (lab run2: 1.023, 1.024,
/// 1.028 s). Older kernels double from the start (1, 2, 4 s).
pub fn linux_syn_rto_us(k: u32) -> i64 {
    if k < 4 {
        1_000_000
    } else {
        1_000_000_i64 << (k - 3).min(10)
    }
}

/// A Linux client whose first SYN and `retries` retransmissions (same ISN, new timestamps)
/// are seen by the firewall but dropped before the server's stack (a full or lossy path, lab
/// run2 203.0.113.12); the next one is answered, and it then makes a normal request. With more
/// than 6 retries, Linux gives up and nothing else happens.
pub fn retried_syn(cx: &mut Ctx<'_>, addr: IpAddr, t0: i64, retries: u32) {
    let mut peer = Peer::new(addr, Stack::Linux, &mut cx.rng);
    let ua = *cx.rng.pick(apache::USER_AGENTS_LINUX);
    let mut c = Conn::new(&mut peer, cx.sim.server_port, &mut cx.rng);
    cx.connections += 1;
    let mut t = t0;
    c.c_syn(cx.sim, &mut cx.rng, t);
    for k in 0..retries.min(LINUX_SYN_RETRIES) {
        t += linux_syn_rto_us(k) + cx.rng.range_i64(20_000, 30_000);
        c.c_syn(cx.sim, &mut cx.rng, t);
    }
    if retries > LINUX_SYN_RETRIES {
        c.done(&mut peer);
        return;
    }
    let t_sa = t + KERNEL_US;
    c.s_synack(cx.sim, t_sa);
    let t_ack = t_sa + c.rtt + cx.rng.range_i64(0, 200);
    c.c_seg(cx.sim, &mut cx.rng, t_ack, flag::ACK, &[]);
    let requests = cx.rng.range(1, 3) as u32;
    behaviors::browse_established(cx, &mut peer, c, t_ack, requests, ua);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_backoff_is_linear_then_doubles() {
        let d: Vec<i64> = (0..6).map(linux_syn_rto_us).collect();
        assert_eq!(
            d,
            vec![
                1_000_000, 1_000_000, 1_000_000, 1_000_000, 2_000_000, 4_000_000
            ]
        );
    }
}
