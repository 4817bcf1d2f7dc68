//! Deterministic input generators for the `tcp` benchmarks: spoofed SYN floods, ordinary
//! connections, and the same rendered as an in-memory pcap.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use halfopen_tcp::{Event, FlowTable, TcpFlags};

/// Events per buffer when a consumer hands the table a batch (a parser's reused buffer).
pub const BATCH: usize = 1024;

/// Feeds events as a consumer would: `observe` each and take what ended with
/// `pop_finished`, or `observe_batch` [`BATCH`] at a time and take what ended with
/// `drain_finished`. Returns the connections taken.
pub fn feed(t: &mut FlowTable, evs: &[Event], batch: bool) -> u64 {
    let mut ended = 0u64;
    if batch {
        for chunk in evs.chunks(BATCH) {
            t.observe_batch(chunk);
            ended += t.drain_finished(|c| {
                black_box(c);
            }) as u64;
        }
    } else {
        for e in evs {
            t.observe(e);
            while let Some(c) = t.pop_finished() {
                black_box(&c);
                ended += 1;
            }
        }
    }
    ended
}

/// xorshift64: deterministic pseudo-random numbers without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is replaced by a constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// The `i`-th SYN of a spoofed flood against `192.0.2.10:80`: random source address and
/// port, one microsecond apart (1 M SYN/s).
pub fn flood_syn(rng: &mut Rng, i: u64) -> Event {
    let r = rng.next_u64();
    let src = IpAddr::V4(Ipv4Addr::from((r >> 32) as u32));
    let dst = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let mut e = Event::new(i as i64, src, (r as u16) | 1024, dst, 80).with_flags(TcpFlags::SYN);
    e.seq = Some((r >> 16) as u32);
    e.payload_len = Some(0);
    e.window = Some(1024);
    e.ttl = Some(241);
    e
}

/// `n` events of a spoofed SYN flood.
pub fn syn_flood(n: usize, seed: u64) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    (0..n as u64).map(|i| flood_syn(&mut rng, i)).collect()
}

/// Which of `n` shards a connection belongs to: a hash of its direction-independent
/// 4-tuple, so both directions of a connection go to the same shard (the way a
/// multi-threaded pipeline splits the flow table across cores).
pub fn shard_of(e: &Event, n: usize) -> usize {
    let a = (e.src, e.src_port);
    let b = (e.dst, e.dst_port);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let word = |ip: IpAddr| match ip {
        IpAddr::V4(v) => u64::from(u32::from(v)),
        IpAddr::V6(v) => {
            let x = u128::from(v);
            (x as u64) ^ ((x >> 64) as u64)
        }
    };
    let x = (word(lo.0) << 32 ^ word(hi.0)) ^ (u64::from(lo.1) << 16 | u64::from(hi.1)) << 48;
    let m = u128::from(x ^ 0x9e37_79b9_7f4a_7c15) * 0xff51_afd7_ed55_8ccd_u128;
    (((m >> 64) as u64 ^ m as u64) % n.max(1) as u64) as usize
}

/// Splits events into `n` per-shard streams ([`shard_of`]), keeping their order.
pub fn split(events: &[Event], n: usize) -> Vec<Vec<Event>> {
    let mut out = vec![Vec::with_capacity(events.len() / n.max(1) + 1); n.max(1)];
    for e in events {
        out[shard_of(e, n)].push(*e);
    }
    out
}

/// `n` events of ordinary short connections (SYN, SYN-ACK, ACK, request, response,
/// FIN, FIN, ACK: 8 events each), 64 connections interleaved at a time, 10 µs apart
/// (100 000 events/s).
pub fn connections(n: usize, seed: u64) -> Vec<Event> {
    let mut out = Vec::with_capacity(n);
    ConnectionStream::new(seed).fill(&mut out, n);
    out
}

/// The events of [`connections`] as an endless stream: [`ConnectionStream::fill`] goes on
/// where the last call stopped (new clients, later times), so a bench can keep a table in
/// its steady state as long as it runs.
#[derive(Debug, Clone)]
pub struct ConnectionStream {
    rng: Rng,
    t: i64,
    conn: u32,
    /// The current group of 64 connections' events, and how many were handed out.
    group: Vec<Event>,
    taken: usize,
}

/// Events of warm-up before a steady-state measurement: 15 s of [`ConnectionStream`]
/// traffic, more than the default 10 s close linger, so connections already end and free
/// their slots as fast as new ones come.
pub const STEADY_WARM_UP: usize = 1_500_000;

/// A default-config table in its steady state ([`STEADY_WARM_UP`] events fed) and the
/// stream to go on with.
pub fn steady_table(seed: u64) -> (FlowTable, ConnectionStream) {
    let mut stream = ConnectionStream::new(seed);
    let mut warm = Vec::with_capacity(STEADY_WARM_UP);
    stream.fill(&mut warm, STEADY_WARM_UP);
    let mut t = FlowTable::new(halfopen_tcp::Config::default());
    feed(&mut t, &warm, false);
    (t, stream)
}

impl ConnectionStream {
    /// A stream from a seed.
    pub fn new(seed: u64) -> ConnectionStream {
        ConnectionStream {
            rng: Rng::new(seed),
            t: 0,
            conn: 0,
            group: Vec::with_capacity(64 * 8),
            taken: 0,
        }
    }

    /// Appends the next `n` events to `out`.
    pub fn fill(&mut self, out: &mut Vec<Event>, n: usize) {
        let mut left = n;
        while left > 0 {
            if self.taken == self.group.len() {
                self.next_group();
            }
            let k = left.min(self.group.len() - self.taken);
            out.extend_from_slice(&self.group[self.taken..self.taken + k]);
            self.taken += k;
            left -= k;
        }
    }

    /// Makes the events of the next 64 connections.
    fn next_group(&mut self) {
        let server = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
        let batch: Vec<(IpAddr, u16, u32, u32)> = (0..64)
            .map(|_| {
                self.conn = self.conn.wrapping_add(1);
                let r = self.rng.next_u64();
                (
                    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (self.conn & 0x00ff_ffff))),
                    1024 + (r as u16 % 60000),
                    (r >> 16) as u32,
                    (r >> 40) as u32,
                )
            })
            .collect();
        let steps: [(bool, TcpFlags, u32); 8] = [
            (true, TcpFlags::SYN, 0),
            (false, TcpFlags::SYN | TcpFlags::ACK, 0),
            (true, TcpFlags::ACK, 0),
            (true, TcpFlags::PSH | TcpFlags::ACK, 300),
            (false, TcpFlags::PSH | TcpFlags::ACK, 1400),
            (true, TcpFlags::FIN | TcpFlags::ACK, 0),
            (false, TcpFlags::FIN | TcpFlags::ACK, 0),
            (true, TcpFlags::ACK, 0),
        ];
        let mut cseq: Vec<(u32, u32)> = batch.iter().map(|b| (b.2, b.3)).collect();
        self.group.clear();
        self.taken = 0;
        for (from_client, flags, len) in steps {
            for (j, &(c, cp, _, _)) in batch.iter().enumerate() {
                self.t += 10;
                let (cs, ss) = cseq[j];
                let mut e = if from_client {
                    Event::new(self.t, c, cp, server, 443)
                } else {
                    Event::new(self.t, server, 443, c, cp)
                };
                e.flags = Some(flags);
                e.seq = Some(if from_client { cs } else { ss });
                e.ack = Some(if from_client { ss } else { cs });
                e.payload_len = Some(len);
                let adv = len + u32::from(flags.syn()) + u32::from(flags.fin());
                if from_client {
                    cseq[j].0 = cs.wrapping_add(adv);
                } else {
                    cseq[j].1 = ss.wrapping_add(adv);
                }
                self.group.push(e);
            }
        }
    }
}

/// Renders events as a classic little-endian pcap (LINKTYPE_RAW, IPv4 only, zero
/// checksums), for reader benchmarks.
pub fn render_pcap(events: &[Event]) -> Vec<u8> {
    render_pcap_with(events, 56, |e, payload| {
        payload.resize(e.payload_len.unwrap_or(0) as usize, 0x61);
    })
}

/// [`render_pcap`] with each IPv4 segment's payload written by `payload` into an empty buffer
/// (called in event order, for the IPv4 events only); `per_event` sizes the output's first
/// allocation.
pub fn render_pcap_with(
    events: &[Event],
    per_event: usize,
    mut payload: impl FnMut(&Event, &mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + events.len() * per_event);
    out.extend_from_slice(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    let mut body = Vec::new();
    for e in events {
        let (IpAddr::V4(s), IpAddr::V4(d)) = (e.src, e.dst) else {
            continue;
        };
        body.clear();
        payload(e, &mut body);
        let total = 40 + body.len();
        let ts = e.ts_us.max(0) as u64;
        out.extend_from_slice(&((ts / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&(total as u32).to_le_bytes());
        out.extend_from_slice(&[0x45, 0]);
        out.extend_from_slice(&(total as u16).to_be_bytes());
        out.extend_from_slice(&[0, 1, 0x40, 0, e.ttl.unwrap_or(64), 6, 0, 0]);
        out.extend_from_slice(&s.octets());
        out.extend_from_slice(&d.octets());
        out.extend_from_slice(&e.src_port.to_be_bytes());
        out.extend_from_slice(&e.dst_port.to_be_bytes());
        out.extend_from_slice(&e.seq.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&e.ack.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&[0x50, e.flags.map(|f| f.0).unwrap_or(0)]);
        out.extend_from_slice(&e.window.unwrap_or(65535).to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&body);
    }
    out
}
