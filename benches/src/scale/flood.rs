//! A random-source SYN flood as the lab's netfilter LOG lines (kern.log, SYN-only rule with
//! `--log-tcp-sequence --log-tcp-options`, prefix `HO-IN: `), with a few real clients whose
//! requests Apache logged.
//!
//! The shapes are those of the lab run `floods` (crates/halfopen/tests/data/lab/floods,
//! `kern-syn.log.gz`): hping3 `-S --rand-source` SYNs (LEN=40, no DF, random ID, SEQ and ACK
//! fields, WINDOW=512, no options, source port +1 per packet) and curl clients on Linux
//! (LEN=60, DF, WINDOW=64240, options `mss,sackOK,TS,nop,wscale 10`), TTL 63 (one router).

use std::io;

use halfopen_testgen::clock;
use halfopen_testgen::rng::Rng;

use super::later::Later;
use super::net::{Spread, v4};
use super::sink::{Sink, flush_pair};
use super::text::{PerSecond, push_dec, push_hex8, push_ipv4, push_uptime};
use super::web::{AccessWriter, Request};

/// The lab's server address.
pub const SERVER: u32 = v4(192, 0, 2, 10);
/// The lab's real clients (truth `legit` and `refused-once`), used first.
pub const LAB_CLIENTS: [u32; 6] = [
    v4(203, 0, 113, 5),
    v4(198, 51, 100, 77),
    v4(198, 51, 101, 9),
    v4(203, 0, 113, 6),
    v4(203, 0, 113, 7),
    v4(203, 0, 113, 30),
];
/// Most clients [`FloodConfig::clients`] may ask for.
pub const MAX_CLIENTS: usize = 200;
/// The lab's pages as Apache logged them for curl (path, status, `%b`; access.log of the
/// floods run).
const PAGES: [(&str, u16, u64); 8] = [
    ("/", 200, 231),
    ("/page.html", 200, 837),
    ("/style.css", 200, 281),
    ("/missing1", 404, 397),
    ("/missing2", 404, 397),
    ("/missing3", 404, 397),
    ("/missing4", 404, 397),
    ("/missing5", 404, 397),
];
const CURL: &str = "curl/7.88.1";
/// First flood SYN of the lab run: 2026-12-06 11:14:38.413322 UTC, kernel uptime 1871.413322 s.
const LAB_FLOOD_START_S: (i64, u32, u32, u32, u32, u32) = (2026, 12, 6, 11, 14, 38);
const LAB_FLOOD_START_FRACTION_US: i64 = 413_322;
const LAB_UPTIME_AT_START_US: i64 = 1_871_413_322;
const HEAD: &[u8] = b" testbed kernel: ";
const IFACE: &[u8] = b"HO-IN: IN=vs10211 OUT= MAC=9a:50:75:f2:db:44:9e:26:0e:19:ef:73:08:00 SRC=";
const DST: &[u8] = b" DST=192.0.2.10 ";

/// What to generate.
#[derive(Debug, Clone)]
pub struct FloodConfig {
    /// Firewall lines in all (flood SYNs and the clients' SYNs).
    pub lines: u64,
    /// PRNG seed.
    pub seed: u64,
    /// Flood SYNs per second of log time.
    pub rate: u32,
    /// Real clients (at most [`MAX_CLIENTS`]): the lab's six, then more in 198.51.100.0/24.
    pub clients: usize,
    /// Random source ports instead of hping3's +1 per packet.
    pub random_ports: bool,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig {
            lines: 1_000_000,
            seed: 1,
            rate: 1000,
            clients: LAB_CLIENTS.len(),
            random_ports: false,
        }
    }
}

/// One real client's state.
#[derive(Debug, Clone)]
struct Client {
    addr: u32,
    next_us: i64,
    port: u16,
    ts_base: u32,
    ip_id: u16,
}

struct State {
    cfg: FloodConfig,
    start_us: i64,
    boot_us: i64,
    time_rng: Rng,
    flood_rng: Rng,
    client_rng: Rng,
    spread: Spread,
    flood_port: u16,
    clients: Vec<Client>,
    later: Later<Request>,
    stamp: PerSecond,
    access: AccessWriter,
}

/// Writes the flood to `firewall` and the clients' requests to `access` (either may be
/// [`Sink::off`]: the other stays byte for byte the same). Stops after `cfg.lines` firewall
/// lines; every request of a logged SYN is written.
///
/// ```
/// use halfopen_benches::scale::{flood, sink::Sink};
/// let (mut fw, fw_bytes) = Sink::memory("firewall");
/// let (mut acc, acc_bytes) = Sink::memory("access");
/// let cfg = flood::FloodConfig { lines: 20_000, ..Default::default() };
/// flood::run(&cfg, &mut fw, &mut acc).unwrap();
/// let fw = fw_bytes.lock().unwrap();
/// assert_eq!(fw.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(), 20_000);
/// assert!(fw.starts_with(b"Dec  6 11:14:38 testbed kernel: [ 1871.4"));
/// assert!(!acc_bytes.lock().unwrap().is_empty());
/// ```
pub fn run(cfg: &FloodConfig, firewall: &mut Sink, access: &mut Sink) -> io::Result<()> {
    let mut st = State::new(cfg);
    let interval = 1_000_000 / i64::from(cfg.rate.max(1));
    let mut flood_i: i64 = 0;
    let mut flood_t = st.flood_time(flood_i, interval);
    let mut next_client = st.next_client();
    let mut written = 0u64;
    while written < cfg.lines {
        let now = match next_client {
            Some((c, t)) if t <= flood_t => {
                st.client_syn(c, t, firewall);
                next_client = st.next_client();
                t
            }
            _ => {
                st.flood_syn(flood_t, firewall);
                flood_i += 1;
                let t = flood_t;
                flood_t = st.flood_time(flood_i, interval);
                t
            }
        };
        written += 1;
        while let Some(r) = st.later.pop_due(now) {
            st.log_request(&r, access);
        }
        flush_pair(access, firewall)?;
    }
    while let Some(r) = st.later.pop() {
        st.log_request(&r, access);
    }
    access.finish()?;
    firewall.finish()
}

impl State {
    fn new(cfg: &FloodConfig) -> State {
        let (y, mo, d, h, mi, s) = LAB_FLOOD_START_S;
        let start_us = clock::ts_us(y, mo, d, h, mi, s) + LAB_FLOOD_START_FRACTION_US;
        let mut client_rng = Rng::fork(cfg.seed, 3);
        let n = cfg.clients.min(MAX_CLIENTS);
        let clients = (0..n)
            .map(|i| {
                let addr = LAB_CLIENTS
                    .get(i)
                    .copied()
                    .unwrap_or(v4(198, 51, 100, 10) + i as u32);
                Client {
                    addr,
                    next_us: start_us + client_rng.range_i64(0, 5_000_000),
                    port: client_rng.range(32_768, 60_999) as u16,
                    ts_base: client_rng.next_u32(),
                    ip_id: client_rng.next_u32() as u16,
                }
            })
            .collect();
        State {
            cfg: cfg.clone(),
            start_us,
            boot_us: start_us - LAB_UPTIME_AT_START_US,
            time_rng: Rng::fork(cfg.seed, 1),
            flood_rng: Rng::fork(cfg.seed, 2),
            spread: Spread::new(cfg.seed),
            flood_port: Rng::fork(cfg.seed, 4).range(1024, 60_000) as u16,
            client_rng,
            clients,
            later: Later::default(),
            stamp: PerSecond::syslog(),
            access: AccessWriter::default(),
        }
    }

    /// Flood SYN `i`: one per `interval`, anywhere inside its slot.
    fn flood_time(&mut self, i: i64, interval: i64) -> i64 {
        self.start_us + i * interval + self.time_rng.range_i64(0, interval - 1)
    }

    fn next_client(&self) -> Option<(usize, i64)> {
        self.clients
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| c.next_us)
            .map(|(i, c)| (i, c.next_us))
    }

    fn head(&mut self, ts: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(self.stamp.at(ts));
        out.extend_from_slice(HEAD);
        push_uptime(out, ts - self.boot_us);
        out.extend_from_slice(IFACE);
    }

    fn flood_syn(&mut self, ts: i64, fw: &mut Sink) {
        // Every draw happens whether or not the line is written.
        let src = self.spread.next(&mut self.flood_rng);
        let id = self.flood_rng.next_u32() as u16;
        let seq = self.flood_rng.next_u32();
        let ack = self.flood_rng.next_u32();
        let sport = if self.cfg.random_ports {
            self.flood_rng.range(1024, 65_535) as u16
        } else {
            self.flood_port = self.flood_port.checked_add(1).unwrap_or(1024);
            self.flood_port
        };
        if !fw.is_on() {
            return;
        }
        let mut out = std::mem::take(&mut fw.buf);
        self.head(ts, &mut out);
        push_ipv4(&mut out, src);
        out.extend_from_slice(DST);
        out.extend_from_slice(b"LEN=40 TOS=0x00 PREC=0x00 TTL=63 ID=");
        push_dec(&mut out, id);
        out.extend_from_slice(b" PROTO=TCP SPT=");
        push_dec(&mut out, sport);
        out.extend_from_slice(b" DPT=80 SEQ=");
        push_dec(&mut out, seq);
        out.extend_from_slice(b" ACK=");
        push_dec(&mut out, ack);
        out.extend_from_slice(b" WINDOW=512 RES=0x00 SYN URGP=0 \n");
        fw.buf = out;
        fw.end_line();
    }

    fn client_syn(&mut self, i: usize, ts: i64, fw: &mut Sink) {
        let r = &mut self.client_rng;
        let seq = r.next_u32();
        let gap = r.range_i64(1_000_000, 9_000_000);
        let recv = ts + r.range_i64(1_000, 200_000);
        let (path, status, bytes) = *r.pick(&PAGES);
        let Some(c) = self.clients.get_mut(i) else {
            return;
        };
        c.port = if c.port >= 60_997 { 32_768 } else { c.port + 2 };
        c.ip_id = c.ip_id.wrapping_add(1);
        c.next_us = ts + gap;
        let (addr, port, id) = (c.addr, c.port, c.ip_id);
        let tsval = c.ts_base.wrapping_add(((ts - self.start_us) / 1000) as u32);
        self.later.push(
            recv,
            Request {
                recv_us: recv,
                client: addr,
                path,
                status,
                bytes,
                referer: None,
                user_agent: CURL,
            },
        );
        if !fw.is_on() {
            return;
        }
        let mut out = std::mem::take(&mut fw.buf);
        self.head(ts, &mut out);
        push_ipv4(&mut out, addr);
        out.extend_from_slice(DST);
        out.extend_from_slice(b"LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=");
        push_dec(&mut out, id);
        out.extend_from_slice(b" DF PROTO=TCP SPT=");
        push_dec(&mut out, port);
        out.extend_from_slice(b" DPT=80 SEQ=");
        push_dec(&mut out, seq);
        out.extend_from_slice(b" ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 OPT (020405B40402080A");
        push_hex8(&mut out, tsval);
        out.extend_from_slice(b"000000000103030A) \n");
        fw.buf = out;
        fw.end_line();
    }

    fn log_request(&mut self, r: &Request, access: &mut Sink) {
        if access.is_on() {
            self.access.write(r, &mut access.buf);
            access.end_line();
        }
    }
}
