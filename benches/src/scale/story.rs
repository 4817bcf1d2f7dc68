//! The README's story at any size: a FreeBSD ipfw log with one line per inbound SYN
//! (`Mar  1 18:49:05 web kernel: ipfw: 100 Accept TCP a:p b:p in via em0`) of many ordinary
//! browsers, each connection carrying one to three requests 0-2 s after its SYN, and a few
//! attackers whose connections never carry one; plus the matching Apache combined access log
//! (same clients, lines in the order Apache writes them: when each response is done).

use std::io;

use halfopen_testgen::apache::{ASSETS, BODY_404, PAGES, USER_AGENTS_LINUX, USER_AGENTS_WINDOWS};
use halfopen_testgen::clock;
use halfopen_testgen::rng::Rng;

use super::later::Later;
use super::net::{pool_address, v4};
use super::sink::{Sink, flush_pair};
use super::text::{PerSecond, push_dec, push_ipv4};
use super::web::{AccessWriter, Request};

/// The story's attacker (README) comes first; the others are drawn from the seed.
pub const STORY_ATTACKER: u32 = v4(45, 76, 87, 206);
const SERVER_TEXT: &[u8] = b" 116.58.172.107:80 in via em0\n";
const HEAD: &[u8] = b" web kernel: ipfw: 100 Accept TCP ";
const REFERER: &str = "http://www.example.org/";

/// What to generate.
#[derive(Debug, Clone)]
pub struct StoryConfig {
    /// Bytes of ipfw log (the last line may end past it).
    pub bytes: u64,
    /// PRNG seed.
    pub seed: u64,
    /// Size of the pool ordinary clients are drawn from.
    pub clients: u64,
    /// Ordinary connections per second of log time.
    pub rate: u32,
    /// Attackers (the story's 45.76.87.206, then addresses from the seed).
    pub attackers: u32,
    /// Connections per second of each attacker.
    pub attack_rate: u32,
}

impl Default for StoryConfig {
    fn default() -> Self {
        StoryConfig {
            bytes: 64_000_000,
            seed: 1,
            clients: 200_000,
            rate: 400,
            attackers: 3,
            attack_rate: 20,
        }
    }
}

/// Writes the ipfw log to `ipfw` and the access log to `access` (either may be
/// [`Sink::off`]).
///
/// ```
/// use halfopen_benches::scale::{story, sink::Sink};
/// let (mut fw, fw_bytes) = Sink::memory("firewall");
/// let (mut acc, acc_bytes) = Sink::memory("access");
/// let cfg = story::StoryConfig { bytes: 200_000, ..Default::default() };
/// story::run(&cfg, &mut fw, &mut acc).unwrap();
/// let fw = String::from_utf8(fw_bytes.lock().unwrap().clone()).unwrap();
/// assert!(fw.len() >= 200_000 && fw.len() < 200_200);
/// assert!(fw.starts_with("Mar  1 18:49:0"));
/// assert!(fw.contains(" web kernel: ipfw: 100 Accept TCP 45.76.87.206:"));
/// let acc = String::from_utf8(acc_bytes.lock().unwrap().clone()).unwrap();
/// assert!(acc.contains(" - - [01/Mar/2026:18:49:"));
/// ```
pub fn run(cfg: &StoryConfig, ipfw: &mut Sink, access: &mut Sink) -> io::Result<()> {
    let mut g = Story::new(cfg);
    let total_rate = u64::from(cfg.rate) + u64::from(cfg.attackers) * u64::from(cfg.attack_rate);
    // Arrivals uniform in [0, 2/rate): mean gap 1/rate.
    let max_gap = (2_000_000 / total_rate.max(1)).max(1) as i64;
    let attack_share = u64::from(cfg.attackers) * u64::from(cfg.attack_rate);
    let mut t = g.start_us;
    while ipfw.bytes() < cfg.bytes {
        t += g.rng.range_i64(0, max_gap);
        if g.rng.range(0, total_rate.saturating_sub(1)) < attack_share {
            g.attack(t, ipfw);
        } else {
            g.browse(t, ipfw);
        }
        while let Some(r) = g.later.pop_due(t) {
            g.log(&r, access);
        }
        flush_pair(access, ipfw)?;
    }
    while let Some(r) = g.later.pop() {
        g.log(&r, access);
    }
    access.finish()?;
    ipfw.finish()
}

struct Story {
    cfg: StoryConfig,
    start_us: i64,
    rng: Rng,
    attackers: Vec<u32>,
    later: Later<Request>,
    stamp: PerSecond,
    access: AccessWriter,
}

impl Story {
    fn new(cfg: &StoryConfig) -> Story {
        let mut attackers = vec![STORY_ATTACKER];
        let mut k = 0;
        while attackers.len() < cfg.attackers as usize {
            attackers.push(pool_address(cfg.seed ^ 0xa77a_c4e5, k));
            k += 1;
        }
        attackers.truncate(cfg.attackers as usize);
        Story {
            cfg: cfg.clone(),
            start_us: clock::ts_us(2026, 3, 1, 18, 49, 5),
            rng: Rng::fork(cfg.seed, 10),
            attackers,
            later: Later::default(),
            stamp: PerSecond::syslog(),
            access: AccessWriter::default(),
        }
    }

    fn line(&mut self, ts: i64, src: u32, sport: u16, ipfw: &mut Sink) {
        if !ipfw.is_on() {
            return;
        }
        let out = &mut ipfw.buf;
        out.extend_from_slice(self.stamp.at(ts));
        out.extend_from_slice(HEAD);
        push_ipv4(out, src);
        out.push(b':');
        push_dec(out, sport);
        out.extend_from_slice(SERVER_TEXT);
        ipfw.end_line();
    }

    fn attack(&mut self, ts: i64, ipfw: &mut Sink) {
        let src = *self.rng.pick(&self.attackers);
        let sport = self.rng.range(1024, 65_535) as u16;
        self.line(ts, src, sport, ipfw);
    }

    /// An ordinary connection: its SYN now, its requests 1 ms - 2 s later, each logged when
    /// its response is done.
    fn browse(&mut self, ts: i64, ipfw: &mut Sink) {
        let k = self.rng.range(0, self.cfg.clients.saturating_sub(1));
        let client = pool_address(self.cfg.seed, k);
        let sport = self.rng.range(32_768, 60_999) as u16;
        self.line(ts, client, sport, ipfw);
        let n = match self.rng.range(0, 99) {
            0..=59 => 1,
            60..=84 => 2,
            _ => 3,
        };
        let mut at = [0i64; 3];
        for a in at.iter_mut().take(n) {
            *a = ts + self.rng.range_i64(1_000, 2_000_000);
        }
        let at = at.get_mut(..n).unwrap_or_default();
        at.sort_unstable();
        // A client keeps its browser.
        let ua = if k.is_multiple_of(3) {
            USER_AGENTS_WINDOWS.get((k / 3) as usize % USER_AGENTS_WINDOWS.len())
        } else {
            USER_AGENTS_LINUX.get(k as usize % USER_AGENTS_LINUX.len())
        }
        .copied()
        .unwrap_or("-");
        for (j, &recv) in at.iter().enumerate() {
            let (path, _, size) = if j == 0 {
                *self.rng.pick(PAGES)
            } else {
                *self.rng.pick(ASSETS)
            };
            let (status, bytes) = if size == 0 {
                (404, BODY_404)
            } else {
                (200, size)
            };
            let done = recv + self.rng.range_i64(300, 30_000);
            self.later.push(
                done,
                Request {
                    recv_us: recv,
                    client,
                    path,
                    status,
                    bytes,
                    referer: (j > 0).then_some(REFERER),
                    user_agent: ua,
                },
            );
        }
    }

    fn log(&mut self, r: &Request, access: &mut Sink) {
        if access.is_on() {
            self.access.write(r, &mut access.buf);
            access.end_line();
        }
    }
}
