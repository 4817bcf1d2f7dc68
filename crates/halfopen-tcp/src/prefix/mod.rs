//! The first bytes each side sends on a connection, kept from a capture and classified:
//! [`PrefixStore`], [`classify`], [`render`].
//!
//! A capture without a web log still shows what a connection was: a slowloris client's
//! request head trickled one header at a time and never ended, a TLS ClientHello sent to
//! port 80, an SSH banner on port 80. The store sits beside the [`crate::FlowTable`]
//! (it does not touch it): feed it every segment with its payload
//! ([`crate::pcap::PacketReader::next_with_payload`]) and [`PrefixStore::take`] a
//! connection's bytes when the table reports it finished.
//!
//! What it keeps, per connection (both directions map to one entry):
//! - the originator's (client's) first [`PrefixConfig::client_bytes`] bytes (4096 by
//!   default), reassembled in sequence order from its SYN's ISN + 1 ([`StreamPrefix`]);
//! - the responder's (server's) first line, at most [`PrefixConfig::server_line_bytes`];
//! - per side: payload bytes seen, segments, times of the first and last, the longest
//!   wait between two.
//!
//! Bounds: no entry (and no allocation) for a connection that never carries payload;
//! a SYN only writes its ISN into a fixed-size memo ([`PrefixConfig::syn_memo_slots`]
//! slots of 16 bytes, in sets of four); buffers grow with the data up to their caps; the entries' bytes
//! are capped by [`PrefixConfig::max_bytes`] and their number by
//! [`PrefixConfig::max_entries`], the oldest entries going first ([`PrefixStats`]).
//!
//! Privacy: the store holds payload bytes. [`render`] shows the method, the path (capped)
//! and the header *names* of a request by default, never header values or bodies; the
//! escaped bytes only when asked.

pub mod classify;
pub mod render;

mod http;
mod memo;
mod stream;
mod tls;

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::Event;
use crate::key::{V4Key, V6Key, likely_server_port};
use memo::SynMemo;

pub use stream::StreamPrefix;

/// Limits of a [`PrefixStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrefixConfig {
    /// Bytes kept from the originator (client) of each connection.
    pub client_bytes: usize,
    /// Bytes kept at most from the responder: its first line, up to and with its `\n`.
    pub server_line_bytes: usize,
    /// Byte budget for all entries (their fixed part and their buffers); past it the
    /// oldest entries are evicted.
    pub max_bytes: usize,
    /// Entries kept at most; past it the oldest are evicted.
    pub max_entries: usize,
    /// Slots of the SYN memo (rounded up to a power of two; 16 bytes each; 0: no memo,
    /// every stream then starts at its first segment as if mid-stream).
    pub syn_memo_slots: usize,
}

/// 4096 bytes from the client, the server's first line up to 256 bytes, 32 MiB, 65 536
/// entries, a 256 KiB SYN memo (16 384 slots in sets of four: a SYN is remembered until
/// four later SYNs fell into its set, on average 16 384 later SYNs, e.g. 160 ms of a
/// 100 000 SYN/s flood, far longer than a handshake).
impl Default for PrefixConfig {
    fn default() -> PrefixConfig {
        PrefixConfig {
            client_bytes: 4096,
            server_line_bytes: 256,
            max_bytes: 32 << 20,
            max_entries: 65_536,
            syn_memo_slots: 16_384,
        }
    }
}

/// Counters of a [`PrefixStore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixStats {
    /// Entries made (connections that carried payload).
    pub entries: u64,
    /// Entries taken with [`PrefixStore::take`].
    pub taken: u64,
    /// Entries evicted, oldest first, because the store was over its entry cap.
    pub evicted_for_entries: u64,
    /// Entries evicted, oldest first, because the store was over its byte budget.
    pub evicted_for_bytes: u64,
    /// Entries dropped because a SYN with another ISN started a new connection on their
    /// 4-tuple before they were taken.
    pub replaced: u64,
    /// Entries whose originator was not known from a SYN or SYN-ACK (port guess).
    pub guessed_direction: u64,
    /// Most entries held at once.
    pub peak_entries: usize,
    /// Most bytes accounted at once (entries and their buffers).
    pub peak_bytes: usize,
}

/// One connection's first bytes, as [`PrefixStore::take`] hands them over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnPrefix {
    /// Originator.
    pub orig: SocketAddr,
    /// Responder.
    pub resp: SocketAddr,
    /// The originator's (client's) first bytes.
    pub client: StreamPrefix,
    /// The responder's (server's) first line.
    pub server: StreamPrefix,
    /// The store had guessed the other direction (no SYN or SYN-ACK seen) and swapped
    /// the sides to the caller's: `client` then holds only a first line.
    pub swapped: bool,
}

/// The canonical (direction-independent) key of a 4-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(V4Key),
    V6(V6Key),
}

impl Key {
    /// The key, and whether `src` is its endpoint `a`.
    fn new(src: IpAddr, sp: u16, dst: IpAddr, dp: u16) -> (Key, bool) {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let (k, a) = V4Key::new(s, sp, d, dp);
                (Key::V4(k), a)
            }
            (s, d) => {
                let six = |ip: IpAddr| match ip {
                    IpAddr::V4(v) => v.to_ipv6_mapped(),
                    IpAddr::V6(v) => v,
                };
                let (k, a) = V6Key::new(six(s), sp, six(d), dp);
                (Key::V6(k), a)
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    key: Key,
    /// Insertion number, to recognise this entry in the eviction queue.
    serial: u64,
    orig_is_a: bool,
    /// The originator's ISN, when its SYN was seen.
    orig_isn: Option<u32>,
    client: StreamPrefix,
    server: StreamPrefix,
}

impl Entry {
    fn heap_bytes(&self) -> usize {
        self.client.heap_bytes() + self.server.heap_bytes()
    }
}

/// A table slot: the key's hash and the boxed entry (the table stays small, growing it
/// moves 16-byte slots, and an entry never moves until it is taken).
#[derive(Debug, Clone)]
struct Slot {
    hash: u64,
    entry: Box<Entry>,
}

/// Fixed bytes accounted per entry: the boxed entry, its table slot (with control byte)
/// and its eviction-queue item.
const ENTRY_BYTES: usize = size_of::<Entry>() + size_of::<Slot>() + 1 + size_of::<(u64, u64)>();

/// The bounded per-connection store of first bytes (see the [module docs](self)).
///
/// Feed it every segment with its captured payload, after the flow table has seen it and
/// its finished connections were taken: a new SYN with another ISN on a 4-tuple drops the
/// entry still there ([`PrefixStats::replaced`]).
///
/// ```
/// use halfopen_tcp::prefix::{classify, PrefixConfig, PrefixStore};
/// use halfopen_tcp::pcap::PacketReader;
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/zeek/Traces/ssh/ssh-on-port-80.pcap");
/// let mut reader = PacketReader::new(std::fs::File::open(path)?)?;
/// let mut store = PrefixStore::new(PrefixConfig::default());
/// while let Some(item) = reader.next_with_payload() {
///     let (p, payload) = item?;
///     store.observe(&p.event, payload);
/// }
/// let (c, s) = ("172.16.238.1:49656".parse()?, "172.16.238.131:80".parse()?);
/// let conn = store.take(c, s).unwrap();
/// assert!(matches!(classify::client(conn.client.bytes()), classify::ClientKind::Ssh(_)));
/// assert_eq!(conn.server.first_line(), b"SSH-2.0-OpenSSH_5.8p1 Debian-1ubuntu3");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PrefixStore {
    cfg: PrefixConfig,
    hasher: RandomState,
    table: HashTable<Slot>,
    memo: SynMemo,
    /// Key hashes in insertion order (with the entry's serial): the eviction order. Items
    /// of entries already taken stay until they reach the front or the queue is compacted.
    queue: VecDeque<(u64, u64)>,
    serial: u64,
    /// Heap bytes of all entries' buffers.
    heap: usize,
    stats: PrefixStats,
}

impl PrefixStore {
    /// An empty store.
    pub fn new(cfg: PrefixConfig) -> PrefixStore {
        PrefixStore {
            cfg,
            hasher: RandomState::default(),
            table: HashTable::new(),
            memo: SynMemo::new(cfg.syn_memo_slots),
            queue: VecDeque::new(),
            serial: 0,
            heap: 0,
            stats: PrefixStats::default(),
        }
    }

    /// The limits.
    pub fn config(&self) -> &PrefixConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> &PrefixStats {
        &self.stats
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// No entry held.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Heap and inline bytes held: table, eviction queue, SYN memo and buffers.
    pub fn memory_bytes(&self) -> usize {
        size_of::<PrefixStore>()
            + self.table.capacity() * (size_of::<Slot>() + 1)
            + self.table.len() * size_of::<Entry>()
            + self.queue.capacity() * size_of::<(u64, u64)>()
            + self.memo.memory_bytes()
            + self.heap
    }

    /// Bytes counted against [`PrefixConfig::max_bytes`].
    fn accounted(&self) -> usize {
        self.table.len() * ENTRY_BYTES + self.heap
    }

    /// Takes one segment and its captured payload (`payload`: the first
    /// `ev.payload_captured` of `ev.payload_len` bytes). Segments without a sequence
    /// number (firewall logs) are ignored.
    pub fn observe(&mut self, ev: &Event, payload: &[u8]) {
        let flags = ev.flags.unwrap_or_default();
        let sent = ev
            .payload_len
            .unwrap_or(0)
            .max(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        // Data on an RST is never delivered (RFC 1122 §4.2.2.12: at most a diagnostic text,
        // as a flood tool's "(Ref.Id: ...)" in the StopDDoS DOMINATE capture): not the
        // client's first bytes.
        if (!flags.syn() && sent == 0) || flags.rst() {
            return;
        }
        let Some(seq) = ev.seq else {
            return;
        };
        let (key, src_is_a) = Key::new(ev.src, ev.src_port, ev.dst, ev.dst_port);
        let hash = self.hasher.hash_one(key);
        let mut data_seq = seq;
        if flags.syn() {
            data_seq = seq.wrapping_add(1);
            if flags.contains(crate::TcpFlags::ACK) {
                self.memo.syn_ack(hash, !src_is_a, seq);
            } else {
                self.memo.syn(hash, src_is_a, seq);
                self.drop_if_new_attempt(hash, key, seq);
            }
            if sent == 0 {
                return;
            }
        }
        let entry =
            match self
                .table
                .entry(hash, |s| s.hash == hash && s.entry.key == key, |s| s.hash)
            {
                hashbrown::hash_table::Entry::Occupied(o) => &mut o.into_mut().entry,
                hashbrown::hash_table::Entry::Vacant(v) => {
                    let e = new_entry(
                        &self.cfg,
                        &self.memo,
                        &mut self.stats,
                        self.serial,
                        hash,
                        key,
                        ev,
                        src_is_a,
                    );
                    self.queue.push_back((hash, self.serial));
                    self.serial += 1;
                    let slot = Slot {
                        hash,
                        entry: Box::new(e),
                    };
                    &mut v.insert(slot).into_mut().entry
                }
            };
        let before = entry.heap_bytes();
        let side = if src_is_a == entry.orig_is_a {
            &mut entry.client
        } else {
            &mut entry.server
        };
        side.segment(data_seq, payload, sent, ev.ts_us);
        let after = entry.heap_bytes();
        self.heap = (self.heap + after).saturating_sub(before);
        self.enforce_limits();
    }

    /// A bare SYN with another ISN than the entry's: a new connection on the 4-tuple.
    fn drop_if_new_attempt(&mut self, hash: u64, key: Key, isn: u32) {
        if self.table.is_empty() {
            return;
        }
        if let Ok(e) = self
            .table
            .find_entry(hash, |s| s.hash == hash && s.entry.key == key)
        {
            if e.get().entry.orig_isn != Some(isn) {
                let (old, _) = e.remove();
                self.heap = self.heap.saturating_sub(old.entry.heap_bytes());
                self.stats.replaced += 1;
            }
        }
    }

    /// Evicts the oldest entries while over the entry cap or the byte budget.
    fn enforce_limits(&mut self) {
        while self.table.len() > self.cfg.max_entries || self.accounted() > self.cfg.max_bytes {
            let over_entries = self.table.len() > self.cfg.max_entries;
            let Some((hash, serial)) = self.queue.pop_front() else {
                break;
            };
            if let Ok(e) = self
                .table
                .find_entry(hash, |s| s.hash == hash && s.entry.serial == serial)
            {
                let (old, _) = e.remove();
                self.heap = self.heap.saturating_sub(old.entry.heap_bytes());
                if over_entries {
                    self.stats.evicted_for_entries += 1;
                } else {
                    self.stats.evicted_for_bytes += 1;
                }
            }
        }
        self.stats.peak_entries = self.stats.peak_entries.max(self.table.len());
        self.stats.peak_bytes = self.stats.peak_bytes.max(self.accounted());
        if self.queue.len() > 2 * self.table.len() + 1024 {
            self.compact_queue();
        }
    }

    /// Drops the queue items of entries no longer held.
    fn compact_queue(&mut self) {
        let table = &self.table;
        self.queue.retain(|&(hash, serial)| {
            table
                .find(hash, |s| s.hash == hash && s.entry.serial == serial)
                .is_some()
        });
        self.queue.shrink_to(self.table.len() * 2 + 1024);
    }

    /// Removes and returns the entry of the connection `orig` -> `resp` (either order
    /// finds it; the sides are given as the caller names them). `None` when it never
    /// carried payload, or was evicted.
    pub fn take(&mut self, orig: SocketAddr, resp: SocketAddr) -> Option<ConnPrefix> {
        if self.table.is_empty() {
            return None;
        }
        let (key, orig_is_a) = Key::new(orig.ip(), orig.port(), resp.ip(), resp.port());
        let hash = self.hasher.hash_one(key);
        let (slot, _) = self
            .table
            .find_entry(hash, |s| s.hash == hash && s.entry.key == key)
            .ok()?
            .remove();
        let e = *slot.entry;
        self.heap = self.heap.saturating_sub(e.heap_bytes());
        self.stats.taken += 1;
        let swapped = e.orig_is_a != orig_is_a;
        let (client, server) = if swapped {
            (e.server, e.client)
        } else {
            (e.client, e.server)
        };
        Some(ConnPrefix {
            orig,
            resp,
            client,
            server,
            swapped,
        })
    }
}

/// A new entry for `key`, its direction and starts from the SYN memo when it knows them.
#[allow(clippy::too_many_arguments)]
fn new_entry(
    cfg: &PrefixConfig,
    memo: &SynMemo,
    stats: &mut PrefixStats,
    serial: u64,
    hash: u64,
    key: Key,
    ev: &Event,
    src_is_a: bool,
) -> Entry {
    stats.entries += 1;
    let hs = memo.get(hash);
    let orig_is_a = match hs {
        Some(h) => h.orig_is_a,
        None => {
            stats.guessed_direction += 1;
            src_is_orig_by_ports(ev.src_port, ev.dst_port) == src_is_a
        }
    };
    let mut client = StreamPrefix::new(cfg.client_bytes, false);
    let mut server = StreamPrefix::new(cfg.server_line_bytes, true);
    let orig_isn = hs.and_then(|h| h.orig_isn);
    if let Some(isn) = orig_isn {
        client.start_at(isn.wrapping_add(1));
    }
    if let Some(isn) = hs.and_then(|h| h.resp_isn) {
        server.start_at(isn.wrapping_add(1));
    }
    Entry {
        key,
        serial,
        orig_is_a,
        orig_isn,
        client,
        server,
    }
}

/// Without a SYN: the side on a likely server port is the responder; otherwise the
/// higher port is the client's ephemeral one.
fn src_is_orig_by_ports(sp: u16, dp: u16) -> bool {
    match (likely_server_port(sp), likely_server_port(dp)) {
        (false, true) => true,
        (true, false) => false,
        _ => sp >= dp,
    }
}

#[cfg(test)]
mod tests;
