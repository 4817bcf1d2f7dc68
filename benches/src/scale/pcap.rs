//! A classic pcap (µs stamps, Ethernet) of a web server's interface: ordinary HTTP/1.1
//! connections from Linux browsers (handshake, one to three requests on a keep-alive
//! connection, responses in MSS-sized segments with the client's ACKs, Apache closing the idle
//! connection after its 5 s `KeepAliveTimeout`) and a random-source hping3 SYN flood answered
//! by syncookie SYN-ACKs.
//!
//! The pieces come from halfopen-testgen (the stacks' SYN options and the server's SYN-ACK
//! options, Apache's requests and responses byte for byte, the MAC addresses, the PRNG); the
//! frames are laid out like `halfopen_testgen::render::frame` (etherparse headers, valid IP and
//! TCP checksums; a test checks they are the same bytes) but written straight into the output
//! with the payload shared, not copied, while a segment waits. Segments are written in time
//! order as they fall due, so only the connections in progress are held.

use std::io;
use std::rc::Rc;

use etherparse::{IpNumber, Ipv4Header, TcpHeader};
use halfopen_testgen::apache::{self, ASSETS, BODY_404, PAGES, USER_AGENTS_LINUX};
use halfopen_testgen::clock;
use halfopen_testgen::packet::{Stack, flag, linux_synack};
use halfopen_testgen::render::{self, GATEWAY_MAC, SERVER_MAC};
use halfopen_testgen::rng::Rng;

use super::later::Later;
use super::net::{Spread, pool_address, v4};
use super::sink::Sink;

/// The capture's server (the lab's address).
pub const SERVER: u32 = v4(192, 0, 2, 10);
const HOST: &str = "www.example.org";
/// TCP payload per full segment: MSS 1460 less the 12-byte timestamp option.
const SEGMENT: usize = 1448;
/// Apache's `KeepAliveTimeout` (Debian default).
const KEEPALIVE_US: i64 = 5_000_000;
/// `Date: ` value length (`Sun, 01 Mar 2026 18:49:05 GMT`).
const HTTP_DATE_LEN: usize = 29;

/// What to generate.
#[derive(Debug, Clone)]
pub struct PcapConfig {
    /// Bytes of pcap (the last record may end past it).
    pub bytes: u64,
    /// PRNG seed.
    pub seed: u64,
    /// Size of the pool clients are drawn from.
    pub clients: u64,
    /// Ordinary connections per second of capture time.
    pub rate: u32,
    /// Flood SYNs per second of capture time (each answered by one SYN-ACK).
    pub flood_rate: u32,
}

impl Default for PcapConfig {
    fn default() -> Self {
        PcapConfig {
            bytes: 16_000_000,
            seed: 1,
            clients: 50_000,
            rate: 200,
            flood_rate: 400,
        }
    }
}

/// Writes the capture to `out` (a pcap: global header, then records).
///
/// ```
/// use halfopen_benches::scale::{pcap, sink::Sink};
/// let (mut out, bytes) = Sink::memory("pcap");
/// let cfg = pcap::PcapConfig { bytes: 2_000_000, ..Default::default() };
/// pcap::run(&cfg, &mut out).unwrap();
/// let b = bytes.lock().unwrap();
/// assert!(b.len() >= 2_000_000);
/// assert_eq!(&b[..4], &0xa1b2_c3d4u32.to_le_bytes());
/// ```
pub fn run(cfg: &PcapConfig, out: &mut Sink) -> io::Result<()> {
    let mut g = Capture::new(cfg);
    render::pcap_header(&mut out.buf);
    let total = u64::from(cfg.rate) + u64::from(cfg.flood_rate);
    let max_gap = (2_000_000 / total.max(1)).max(1) as i64;
    let mut t = g.start_us;
    while out.bytes() < cfg.bytes {
        t += g.rng.range_i64(0, max_gap);
        if g.rng.range(0, total.saturating_sub(1)) < u64::from(cfg.flood_rate) {
            g.flood_syn(t);
        } else {
            g.connection(t);
        }
        while out.bytes() < cfg.bytes {
            let Some(s) = g.later.pop_due(t) else {
                break;
            };
            s.write_record(&mut out.buf);
            out.end_line();
        }
        if out.full() {
            out.flush()?;
        }
    }
    out.finish()
}

/// TCP options of one segment (at most 20 bytes here).
#[derive(Debug, Clone, Copy, Default)]
struct Opts {
    bytes: [u8; 20],
    len: u8,
}

impl Opts {
    fn raw(b: &[u8]) -> Opts {
        let mut o = Opts::default();
        let n = b.len().min(20);
        if let (Some(dst), Some(src)) = (o.bytes.get_mut(..n), b.get(..n)) {
            dst.copy_from_slice(src);
        }
        o.len = n as u8;
        o
    }

    /// `nop,nop,TS val ecr`, as `halfopen_testgen::packet::ts_option` makes it.
    fn ts(val: u32, ecr: u32) -> Opts {
        let mut bytes = [0u8; 20];
        bytes[..4].copy_from_slice(&[1, 1, 8, 10]);
        bytes[4..8].copy_from_slice(&val.to_be_bytes());
        bytes[8..12].copy_from_slice(&ecr.to_be_bytes());
        Opts { bytes, len: 12 }
    }

    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// A segment waiting to be written (to or from the server).
#[derive(Debug, Clone)]
struct Seg {
    ts: i64,
    peer: u32,
    peer_port: u16,
    inbound: bool,
    flags: u8,
    seq: u32,
    ack: u32,
    window: u16,
    ttl: u8,
    ip_id: u16,
    df: bool,
    opts: Opts,
    /// Shared bytes and the range of them this segment carries.
    payload: Option<(Rc<[u8]>, usize, usize)>,
}

impl Seg {
    fn payload(&self) -> &[u8] {
        match &self.payload {
            Some((b, start, len)) => b.get(*start..start + len).unwrap_or_default(),
            None => &[],
        }
    }

    /// The pcap record: header, then the Ethernet frame.
    fn write_record(&self, out: &mut Vec<u8>) {
        let payload = self.payload();
        let (src, sport, dst, dport) = if self.inbound {
            (self.peer, self.peer_port, SERVER, 80)
        } else {
            (SERVER, 80, self.peer, self.peer_port)
        };
        let mut tcp = TcpHeader::new(sport, dport, self.seq, self.window);
        tcp.fin = self.flags & flag::FIN != 0;
        tcp.syn = self.flags & flag::SYN != 0;
        tcp.rst = self.flags & flag::RST != 0;
        tcp.psh = self.flags & flag::PSH != 0;
        tcp.ack = self.flags & flag::ACK != 0;
        tcp.acknowledgment_number = self.ack;
        // At most 20 bytes of options: always fits.
        let _ = tcp.set_options_raw(self.opts.as_slice());
        let tcp_len = tcp.header_len() + payload.len();
        let Ok(mut ip) = Ipv4Header::new(
            tcp_len as u16,
            self.ttl,
            IpNumber::TCP,
            src.to_be_bytes(),
            dst.to_be_bytes(),
        ) else {
            return;
        };
        ip.identification = self.ip_id;
        ip.dont_fragment = self.df;
        ip.header_checksum = ip.calc_header_checksum();
        tcp.checksum = tcp.calc_checksum_ipv4(&ip, payload).unwrap_or(0);
        let frame_len = (14 + ip.header_len() + tcp_len) as u32;
        out.extend_from_slice(&(self.ts.div_euclid(1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(self.ts.rem_euclid(1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&frame_len.to_le_bytes());
        out.extend_from_slice(&frame_len.to_le_bytes());
        let (src_mac, dst_mac) = if self.inbound {
            (GATEWAY_MAC, SERVER_MAC)
        } else {
            (SERVER_MAC, GATEWAY_MAC)
        };
        out.extend_from_slice(&dst_mac);
        out.extend_from_slice(&src_mac);
        out.extend_from_slice(&[0x08, 0x00]);
        out.extend_from_slice(&ip.to_bytes());
        out.extend_from_slice(&tcp.to_bytes());
        out.extend_from_slice(payload);
    }
}

struct Capture {
    cfg: PcapConfig,
    start_us: i64,
    rng: Rng,
    flood_rng: Rng,
    spread: Spread,
    flood_port: u16,
    later: Later<Seg>,
    /// Apache's responses of each page (dated 1970; the date is patched in).
    responses: Vec<Vec<u8>>,
    date: (i64, String),
}

/// One ordinary connection being laid out.
struct Conn {
    client: u32,
    cport: u16,
    c_seq: u32,
    s_seq: u32,
    c_id: u16,
    s_id: u16,
    ttl: u8,
    c_ts: u32,
    s_ts: u32,
    t0: i64,
}

/// (path, content type, `%b`, status) of every page and asset, in the order of `PAGES` then
/// `ASSETS`.
fn page(i: usize) -> (&'static str, &'static str, u64, u16) {
    let (path, ctype, size) = PAGES
        .get(i)
        .or_else(|| ASSETS.get(i - PAGES.len().min(i)))
        .copied()
        .unwrap_or(("/", "text/html", 0));
    if size == 0 {
        (path, "text/html; charset=iso-8859-1", BODY_404, 404)
    } else {
        (path, ctype, size, 200)
    }
}

impl Capture {
    fn new(cfg: &PcapConfig) -> Capture {
        let responses = (0..PAGES.len() + ASSETS.len())
            .map(|i| {
                let (_, ctype, size, status) = page(i);
                apache::response(status, size, 0, true, ctype)
            })
            .collect();
        Capture {
            cfg: cfg.clone(),
            start_us: clock::ts_us(2026, 12, 6, 11, 14, 38),
            rng: Rng::fork(cfg.seed, 20),
            flood_rng: Rng::fork(cfg.seed, 21),
            spread: Spread::new(cfg.seed),
            flood_port: Rng::fork(cfg.seed, 22).range(1024, 60_000) as u16,
            later: Later::default(),
            responses,
            date: (i64::MIN, String::new()),
        }
    }

    /// Apache's response for page `i` sent at `t` (`apache::response` with its `Date:`).
    fn response(&mut self, i: usize, t: i64) -> Rc<[u8]> {
        let second = t.div_euclid(1_000_000);
        if self.date.0 != second {
            self.date = (second, clock::http_date(second * 1_000_000));
        }
        let mut r = self.responses.get(i).cloned().unwrap_or_default();
        if let Some(at) = r.windows(6).position(|w| w == b"Date: ")
            && let Some(slot) = r.get_mut(at + 6..at + 6 + HTTP_DATE_LEN)
            && self.date.1.len() == HTTP_DATE_LEN
        {
            slot.copy_from_slice(self.date.1.as_bytes());
        }
        r.into()
    }

    fn seg(c: &Conn, ts: i64, inbound: bool, flags: u8) -> Seg {
        let ms = ((ts - c.t0) / 1000) as u32;
        let (ttl, ip_id, tsval, tsecr) = if inbound {
            (
                c.ttl,
                c.c_id,
                c.c_ts.wrapping_add(ms),
                c.s_ts.wrapping_add(ms),
            )
        } else {
            (64, c.s_id, c.s_ts.wrapping_add(ms), c.c_ts.wrapping_add(ms))
        };
        Seg {
            ts,
            peer: c.client,
            peer_port: c.cport,
            inbound,
            flags,
            seq: if inbound { c.c_seq } else { c.s_seq },
            ack: match (flags & flag::ACK != 0, inbound) {
                (false, _) => 0,
                (true, true) => c.s_seq,
                (true, false) => c.c_seq,
            },
            window: if inbound { 502 } else { 509 },
            ttl,
            ip_id,
            df: true,
            opts: Opts::ts(tsval, tsecr),
            payload: None,
        }
    }

    fn send(&mut self, c: &mut Conn, mut s: Seg, payload: Option<(Rc<[u8]>, usize, usize)>) {
        let len = payload.as_ref().map_or(0, |p| p.2) as u32
            + u32::from(s.flags & (flag::SYN | flag::FIN) != 0);
        if s.inbound {
            c.c_seq = c.c_seq.wrapping_add(len);
            c.c_id = c.c_id.wrapping_add(1);
        } else {
            c.s_seq = c.s_seq.wrapping_add(len);
            c.s_id = c.s_id.wrapping_add(1);
        }
        s.payload = payload;
        self.later.push(s.ts, s);
    }

    /// Lays out a whole connection from its SYN at `t0`.
    fn connection(&mut self, t0: i64) {
        let r = &mut self.rng;
        let k = r.range(0, self.cfg.clients.saturating_sub(1));
        let rtt = r.range_i64(2_000, 150_000);
        let ua = *r.pick(USER_AGENTS_LINUX);
        let requests = r.range(1, 3) as usize;
        let mut c = Conn {
            client: pool_address(self.cfg.seed, k),
            cport: r.range(32_768, 60_999) as u16,
            c_seq: r.next_u32(),
            s_seq: r.next_u32(),
            c_id: r.next_u32() as u16,
            s_id: 0,
            ttl: 64 - r.range(3, 20) as u8,
            c_ts: r.next_u32(),
            s_ts: r.next_u32(),
            t0,
        };
        // Handshake.
        let syn_opts = Stack::Linux.syn_options(c.c_ts);
        let mut syn = Self::seg(&c, t0, true, flag::SYN);
        syn.window = Stack::Linux.syn_window();
        syn.opts = Opts::raw(&syn_opts);
        self.send(&mut c, syn, None);
        let mut synack = Self::seg(&c, t0 + 40, false, flag::SYN | flag::ACK);
        let (opts, win) = linux_synack(&syn_opts, c.s_ts, c.c_ts);
        synack.opts = Opts::raw(&opts);
        synack.window = win;
        self.send(&mut c, synack, None);
        let ack = Self::seg(&c, t0 + rtt, true, flag::ACK);
        self.send(&mut c, ack, None);
        // Requests, one after the other on the kept-alive connection.
        let mut t = t0 + rtt + 100;
        for j in 0..requests {
            let i = if j == 0 {
                self.rng.range(0, PAGES.len() as u64 - 1) as usize
            } else {
                PAGES.len() + self.rng.range(0, ASSETS.len() as u64 - 1) as usize
            };
            let (path, ..) = page(i);
            let referer = (j > 0).then_some("http://www.example.org/");
            let req: Rc<[u8]> = apache::request(path, HOST, ua, referer).into();
            let req_len = req.len();
            let s = Self::seg(&c, t, true, flag::PSH | flag::ACK);
            self.send(&mut c, s, Some((req, 0, req_len)));
            t += self.rng.range_i64(200, 20_000);
            let body = self.response(i, t);
            let segments = body.len().div_ceil(SEGMENT);
            for n in 0..segments {
                let last = n + 1 == segments;
                let flags = if last {
                    flag::PSH | flag::ACK
                } else {
                    flag::ACK
                };
                let start = n * SEGMENT;
                let len = SEGMENT.min(body.len() - start);
                let s = Self::seg(&c, t, false, flags);
                self.send(&mut c, s, Some((body.clone(), start, len)));
                if n % 2 == 1 || last {
                    let a = Self::seg(&c, t + rtt, true, flag::ACK);
                    self.send(&mut c, a, None);
                }
                t += 15;
            }
            t += rtt + self.rng.range_i64(10_000, 300_000);
        }
        // Apache closes the idle connection; the client's stack answers and closes.
        let tf = t + KEEPALIVE_US;
        let fin = Self::seg(&c, tf, false, flag::FIN | flag::ACK);
        self.send(&mut c, fin, None);
        let a = Self::seg(&c, tf + rtt, true, flag::ACK);
        self.send(&mut c, a, None);
        let cfin = Self::seg(&c, tf + rtt + 50, true, flag::FIN | flag::ACK);
        self.send(&mut c, cfin, None);
        let last = Self::seg(&c, tf + rtt + 80, false, flag::ACK);
        self.send(&mut c, last, None);
    }

    /// An hping3 `-S --rand-source` SYN and the server's syncookie SYN-ACK.
    fn flood_syn(&mut self, t: i64) {
        let r = &mut self.flood_rng;
        let src = self.spread.next(r);
        self.flood_port = self.flood_port.checked_add(1).unwrap_or(1024);
        let seq = r.next_u32();
        let syn = Seg {
            ts: t,
            peer: src,
            peer_port: self.flood_port,
            inbound: true,
            flags: flag::SYN,
            seq,
            ack: r.next_u32(),
            window: Stack::Hping.syn_window(),
            ttl: 63,
            ip_id: r.next_u32() as u16,
            df: false,
            opts: Opts::default(),
            payload: None,
        };
        let (opts, win) = linux_synack(&[], 0, 0);
        let synack = Seg {
            ts: t + 30,
            inbound: false,
            flags: flag::SYN | flag::ACK,
            seq: r.next_u32(),
            ack: seq.wrapping_add(1),
            window: win,
            ttl: 64,
            ip_id: 0,
            df: true,
            opts: Opts::raw(&opts),
            ..syn.clone()
        };
        self.later.push(t, syn);
        self.later.push(t + 30, synack);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halfopen_testgen::packet::{Packet, ts_option};
    use halfopen_testgen::render;
    use std::net::{IpAddr, Ipv4Addr};

    fn as_packet(s: &Seg) -> Packet {
        let (peer, server) = (
            IpAddr::V4(Ipv4Addr::from(s.peer)),
            IpAddr::V4(Ipv4Addr::from(SERVER)),
        );
        let (src, sport, dst, dport) = if s.inbound {
            (peer, s.peer_port, server, 80)
        } else {
            (server, 80, peer, s.peer_port)
        };
        Packet {
            ts_us: s.ts,
            src,
            sport,
            dst,
            dport,
            inbound: s.inbound,
            flags: s.flags,
            seq: s.seq,
            ack: s.ack,
            window: s.window,
            ttl: s.ttl,
            ip_id: s.ip_id,
            df: s.df,
            options: s.opts.as_slice().to_vec(),
            payload: s.payload().to_vec(),
            actor: 0,
        }
    }

    #[test]
    fn records_are_testgen_frames() {
        let cfg = PcapConfig::default();
        let mut g = Capture::new(&cfg);
        let mut t = g.start_us;
        for i in 0..50 {
            t += 1000;
            if i % 3 == 0 {
                g.flood_syn(t);
            } else {
                g.connection(t);
            }
        }
        let mut n = 0;
        while let Some(s) = g.later.pop() {
            let mut rec = Vec::new();
            s.write_record(&mut rec);
            let frame = render::frame(&as_packet(&s));
            assert_eq!(rec.get(16..), Some(&frame[..]), "segment {s:?}");
            n += 1;
        }
        assert!(n > 500);
    }

    #[test]
    fn ts_option_is_testgens() {
        assert_eq!(Opts::ts(7, 9).as_slice(), &ts_option(7, 9)[..]);
    }

    #[test]
    fn responses_are_apaches() {
        let mut g = Capture::new(&PcapConfig::default());
        let t = g.start_us + 1_234_567;
        for i in 0..PAGES.len() + ASSETS.len() {
            let (_, ctype, size, status) = page(i);
            assert_eq!(
                &g.response(i, t)[..],
                &apache::response(status, size, t, true, ctype)[..]
            );
        }
    }
}
