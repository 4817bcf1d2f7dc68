//! Reading TCP segments from pcap and pcapng captures: [`PacketReader`].

use std::io::Read;

use pcap_parser::pcapng::Block;
use pcap_parser::traits::PcapReaderIterator;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

use crate::decode::{self, Skip};
use crate::{Error, Event, Result};

pub use crate::pflog::PflogMeta;

/// Read buffer size; a block larger than this is an error (pcap snap lengths are at most
/// 262 144 bytes).
const BUFFER: usize = 1 << 20;

/// One TCP segment read from a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// The segment.
    pub event: Event,
    /// The pflog header (pf rule, action, direction, interface) for pflog captures.
    pub pflog: Option<PflogMeta>,
}

/// What the reader saw and skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Frames read.
    pub frames: u64,
    /// TCP segments returned.
    pub tcp: u64,
    /// Frames that were not TCP.
    pub not_tcp: u64,
    /// Non-first IP fragments.
    pub fragments: u64,
    /// Frames cut short before the end of the TCP header.
    pub truncated: u64,
    /// Frames with a malformed header.
    pub malformed: u64,
    /// Frames of an unsupported link type or encapsulation.
    pub unsupported: u64,
    /// Frames dropped for a bad IPv4 header checksum (only with
    /// [`PacketReader::verify_checksums`]).
    pub bad_checksum: u64,
    /// TCP segments returned with a bad TCP checksum (`Event::tcp_checksum_ok ==
    /// Some(false)`; they only add Zeek's `C` letter to their connection).
    pub bad_tcp_checksum: u64,
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: i32,
    /// Timestamp units per second.
    resolution: u64,
    offset_s: i64,
}

/// Reads pcap or pcapng (detected from the first bytes) and yields the TCP segments;
/// every other frame is skipped and counted in [`PacketReader::stats`].
///
/// ```
/// use halfopen_tcp::pcap::PacketReader;
/// use halfopen_tcp::{Config, ConnState, FlowTable};
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/zeek/Traces/tcp/syn-synack.pcap");
/// let mut table = FlowTable::new(Config::default());
/// for p in PacketReader::new(std::fs::File::open(path)?)? {
///     table.observe(&p?.event);
/// }
/// table.finish();
/// let c = table.pop_finished().unwrap();
/// assert_eq!((c.state, c.history.as_str()), (ConnState::S1, "Sh"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PacketReader {
    inner: Box<dyn PcapReaderIterator + Send>,
    st: State,
    offset: u64,
    done: bool,
}

#[derive(Default)]
struct State {
    verify: bool,
    legacy: Option<Iface>,
    ifaces: Vec<Iface>,
    stats: ReaderStats,
}

impl std::fmt::Debug for PacketReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketReader")
            .field("stats", &self.st.stats)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

/// pcap-parser's `Incomplete`/`Eof` errors mean "need more bytes"; everything else is
/// damage.
fn map_err(e: &PcapError<&[u8]>, offset: u64) -> Error {
    match e {
        PcapError::ReadError => Error::Io(std::io::Error::other("read failed")),
        PcapError::UnexpectedEof | PcapError::Incomplete(_) => Error::Truncated {
            offset,
            expected: "the rest of the block",
        },
        _ => Error::Malformed {
            offset,
            expected: "a pcap record or pcapng block",
        },
    }
}

impl PacketReader {
    /// Opens a capture from any reader (pcap or pcapng, either byte order).
    pub fn new(r: impl Read + Send + 'static) -> Result<PacketReader> {
        let inner = create_reader(BUFFER, r).map_err(|e| match e {
            PcapError::ReadError => Error::Io(std::io::Error::other("read failed")),
            PcapError::Eof | PcapError::Incomplete(_) | PcapError::UnexpectedEof => {
                Error::NotACapture {
                    offset: 0,
                    expected: "a complete pcap or pcapng header",
                }
            }
            _ => Error::NotACapture {
                offset: 0,
                expected: "a pcap magic (a1b2c3d4/a1b23c4d) or a pcapng section header",
            },
        })?;
        Ok(PacketReader {
            inner,
            st: State::default(),
            offset: 0,
            done: false,
        })
    }

    /// Verifies checksums as Zeek does unless run with `-C`: packets with a bad IPv4
    /// header checksum are dropped, TCP checksum failures are flagged in
    /// [`Event::tcp_checksum_ok`]. Off by default: captures taken on the sending host
    /// carry checksum-offload garbage.
    pub fn verify_checksums(mut self, on: bool) -> PacketReader {
        self.st.verify = on;
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> &ReaderStats {
        &self.st.stats
    }
}

impl State {
    fn frame(&mut self, iface: Iface, ts_us: i64, data: &[u8]) -> Option<Packet> {
        self.stats.frames += 1;
        let r = if self.verify {
            decode::decode_verified(iface.linktype, data, ts_us)
        } else {
            decode::decode(iface.linktype, data, ts_us)
        };
        match r {
            Ok(d) => {
                self.stats.tcp += 1;
                if d.event.tcp_checksum_ok == Some(false) {
                    self.stats.bad_tcp_checksum += 1;
                }
                Some(Packet {
                    event: d.event,
                    pflog: d.pflog,
                })
            }
            Err(s) => {
                match s {
                    Skip::NotTcp => self.stats.not_tcp += 1,
                    Skip::Fragment => self.stats.fragments += 1,
                    Skip::Truncated => self.stats.truncated += 1,
                    Skip::Malformed => self.stats.malformed += 1,
                    Skip::Unsupported => self.stats.unsupported += 1,
                    Skip::BadChecksum => self.stats.bad_checksum += 1,
                }
                None
            }
        }
    }

    /// Handles one block; `Some` when it yields a TCP packet.
    fn block(&mut self, block: PcapBlockOwned<'_>) -> Option<Packet> {
        match block {
            PcapBlockOwned::LegacyHeader(h) => {
                self.legacy = Some(Iface {
                    linktype: h.network.0,
                    resolution: if h.is_nanosecond_precision() {
                        1_000_000_000
                    } else {
                        1_000_000
                    },
                    offset_s: 0,
                });
                None
            }
            PcapBlockOwned::Legacy(b) => {
                let iface = self.legacy?;
                let frac = i64::from(b.ts_usec);
                let sub_us = if iface.resolution == 1_000_000_000 {
                    frac / 1000
                } else {
                    frac
                };
                let ts = i64::from(b.ts_sec)
                    .saturating_mul(1_000_000)
                    .saturating_add(sub_us);
                self.frame(iface, ts, b.data)
            }
            PcapBlockOwned::NG(Block::SectionHeader(_)) => {
                self.ifaces.clear();
                None
            }
            PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                self.ifaces.push(Iface {
                    linktype: idb.linktype.0,
                    resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                    offset_s: idb.ts_offset(),
                });
                None
            }
            PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                let iface = *self.ifaces.get(usize::try_from(epb.if_id).ok()?)?;
                let ts = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let res = u128::from(iface.resolution);
                let us = (u128::from(ts) * 1_000_000 / res).min(i64::MAX as u128) as i64;
                let ts_us = us.saturating_add(iface.offset_s.saturating_mul(1_000_000));
                let len = usize::try_from(epb.caplen).unwrap_or(usize::MAX);
                let data = epb.data.get(..len.min(epb.data.len())).unwrap_or(&[]);
                self.frame(iface, ts_us, data)
            }
            PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                let iface = *self.ifaces.first()?;
                self.frame(iface, 0, spb.data)
            }
            PcapBlockOwned::NG(_) => None,
        }
    }
}

impl Iterator for PacketReader {
    type Item = Result<Packet>;

    fn next(&mut self) -> Option<Result<Packet>> {
        let mut stalled = false;
        while !self.done {
            match self.inner.next() {
                Ok((n, block)) => {
                    stalled = false;
                    // The block borrows the reader's buffer: decode it before consuming.
                    let out = self.st.block(block);
                    self.inner.consume(n);
                    self.offset = self.offset.saturating_add(n as u64);
                    if let Some(p) = out {
                        return Some(Ok(p));
                    }
                }
                Err(PcapError::Eof) => {
                    self.done = true;
                }
                Err(PcapError::Incomplete(_)) => {
                    if stalled {
                        // A refill brought nothing new: the file ends inside a block.
                        self.done = true;
                        return Some(Err(Error::Truncated {
                            offset: self.offset,
                            expected: "the rest of the block",
                        }));
                    }
                    stalled = true;
                    if let Err(e) = self.inner.refill() {
                        self.done = true;
                        return Some(Err(map_err(&e, self.offset)));
                    }
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(map_err(&e, self.offset)));
                }
            }
        }
        None
    }
}
