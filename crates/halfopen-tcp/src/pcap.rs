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
    /// Length of the block whose payload [`PacketReader::next_with_payload`] lent out:
    /// consumed at the next call, once the borrow has ended.
    lent: usize,
}

/// Where a packet's captured payload lies: its offset in the frame, its length, and the
/// address it had in the reader's buffer (compared as a number, never dereferenced).
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    len: usize,
    addr: usize,
}

/// Where `inner` starts in `outer`, when it is a sub-slice of it.
fn offset_in(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let start = inner.as_ptr().addr().checked_sub(outer.as_ptr().addr())?;
    (start.checked_add(inner.len())? <= outer.len()).then_some(start)
}

/// The captured frame of a packet block (`None` for other blocks).
fn frame_bytes<'a>(block: &PcapBlockOwned<'a>) -> Option<&'a [u8]> {
    match block {
        PcapBlockOwned::Legacy(b) => Some(b.data),
        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
            let len = usize::try_from(epb.caplen).unwrap_or(usize::MAX);
            Some(epb.data.get(..len.min(epb.data.len())).unwrap_or(&[]))
        }
        PcapBlockOwned::NG(Block::SimplePacket(spb)) => Some(spb.data),
        _ => None,
    }
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

/// Bytes enough to tell pcap from pcapng and to hold either file header.
const HEAD: usize = 4096;

/// Reads up to [`HEAD`] bytes, fewer only at the end of the input.
fn read_head(r: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD);
    r.by_ref().take(HEAD as u64).read_to_end(&mut head)?;
    Ok(head)
}

impl PacketReader {
    /// Opens a capture from any reader (pcap or pcapng, either byte order).
    pub fn new(mut r: impl Read + Send + 'static) -> Result<PacketReader> {
        // pcap-parser decides the format from what one read returns; a pipe may return less
        // than a file header, so the header is gathered first.
        let head = read_head(&mut r).map_err(Error::Io)?;
        let r = std::io::Cursor::new(head).chain(r);
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
            lent: 0,
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
    /// Decodes one frame; with `PAYLOAD`, also says where its payload is.
    fn frame<const PAYLOAD: bool>(
        &mut self,
        iface: Iface,
        ts_us: i64,
        data: &[u8],
    ) -> Option<(Packet, Span)> {
        self.stats.frames += 1;
        let r = if PAYLOAD {
            decode::decode_payload(iface.linktype, data, ts_us, self.verify)
        } else if self.verify {
            decode::decode_verified(iface.linktype, data, ts_us).map(|d| (d, &[][..]))
        } else {
            decode::decode(iface.linktype, data, ts_us).map(|d| (d, &[][..]))
        };
        match r {
            Ok((d, payload)) => {
                self.stats.tcp += 1;
                if d.event.tcp_checksum_ok == Some(false) {
                    self.stats.bad_tcp_checksum += 1;
                }
                let span = match offset_in(data, payload) {
                    Some(start) if !payload.is_empty() => Span {
                        start,
                        len: payload.len(),
                        addr: payload.as_ptr().addr(),
                    },
                    _ => Span::default(),
                };
                let p = Packet {
                    event: d.event,
                    pflog: d.pflog,
                };
                Some((p, span))
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
    fn block<const PAYLOAD: bool>(&mut self, block: &PcapBlockOwned<'_>) -> Option<(Packet, Span)> {
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
                self.frame::<PAYLOAD>(iface, ts, b.data)
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
                self.frame::<PAYLOAD>(iface, ts_us, frame_bytes(block)?)
            }
            PcapBlockOwned::NG(Block::SimplePacket(_)) => {
                let iface = *self.ifaces.first()?;
                self.frame::<PAYLOAD>(iface, 0, frame_bytes(block)?)
            }
            PcapBlockOwned::NG(_) => None,
        }
    }
}

impl PacketReader {
    /// Like [`Iterator::next`], and also lends the segment's captured payload (the bytes
    /// after the TCP header, as far as the snap length kept them), straight from the
    /// reader's buffer: no copy, no allocation. The slice is valid until the next call.
    ///
    /// ```
    /// use halfopen_tcp::pcap::PacketReader;
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../halfopen/tests/data/lab/run1/server.pcap");
    /// let mut r = PacketReader::new(std::fs::File::open(path)?)?;
    /// let mut first = None;
    /// while let Some(item) = r.next_with_payload() {
    ///     let (p, payload) = item?;
    ///     if !payload.is_empty() {
    ///         first = Some((p.event.src_port, payload.to_vec()));
    ///         break;
    ///     }
    /// }
    /// let (_, bytes) = first.unwrap();
    /// assert!(bytes.starts_with(b"GET / HTTP/1.1\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_with_payload(&mut self) -> Option<Result<(Packet, &[u8])>> {
        let (p, span, n) = match self.next_packet::<true>()? {
            Ok(found) => found,
            Err(e) => return Some(Err(e)),
        };
        if span.len == 0 {
            self.consume(n);
            return Some(Ok((p, &[])));
        }
        // The block stays in the reader's buffer until the next call. (A borrow returned
        // from inside the search loop would keep the reader borrowed for the whole loop, so
        // the slice is found again here.) Nothing touched the buffer since the block was
        // decoded: the payload is at the same address in it.
        self.lent = n;
        if let Some(at) = self.lent_offset(span) {
            return Some(Ok((
                p,
                self.inner.data().get(at..at + span.len).unwrap_or(&[]),
            )));
        }
        Some(Ok((p, self.reparsed(span))))
    }

    /// Where the lent block's payload is in the reader's buffer: nothing touched the
    /// buffer since the block was decoded, so it is at the address the decoder saw.
    fn lent_offset(&self, span: Span) -> Option<usize> {
        let buffer = self.inner.data();
        span.addr.checked_sub(buffer.as_ptr().addr()).filter(|&at| {
            at.checked_add(span.len)
                .is_some_and(|end| end <= buffer.len())
        })
    }

    /// The lent block's payload by parsing the block again and cutting its frame.
    fn reparsed(&mut self, span: Span) -> &[u8] {
        match self.inner.next() {
            Ok((_, block)) => frame_bytes(&block)
                .and_then(|f| f.get(span.start..span.start.checked_add(span.len)?))
                .unwrap_or(&[]),
            Err(_) => &[],
        }
    }

    fn consume(&mut self, n: usize) {
        // Without the shift: `consume` moves the unread half of the buffer to its start each
        // time half of it has been read (a byte moved for every two read); `refill` moves
        // only what is left, less than one packet, when it needs the room.
        self.inner.consume_noshift(n);
        self.offset = self.offset.saturating_add(n as u64);
    }

    /// Finds the next TCP packet; its block (`n` bytes) is left unconsumed.
    fn next_packet<const PAYLOAD: bool>(&mut self) -> Option<Result<(Packet, Span, usize)>> {
        if self.lent > 0 {
            let n = std::mem::take(&mut self.lent);
            self.consume(n);
        }
        while !self.done {
            match self.inner.next() {
                Ok((n, block)) => {
                    // The block borrows the reader's buffer: decode it before consuming.
                    if let Some((p, span)) = self.st.block::<PAYLOAD>(&block) {
                        return Some(Ok((p, span, n)));
                    }
                    self.consume(n);
                }
                Err(PcapError::Eof) => {
                    self.done = true;
                }
                Err(PcapError::Incomplete(_)) => {
                    // A pipe hands over what it has, which may still end inside the block:
                    // read again until the block is whole or the input ends (a read of 0
                    // bytes, which the next call reports as `UnexpectedEof`).
                    let before = self.inner.data().len();
                    if let Err(e) = self.inner.refill() {
                        self.done = true;
                        return Some(Err(map_err(&e, self.offset)));
                    }
                    if self.inner.data().len() == before && !self.inner.reader_exhausted() {
                        // No room left to read into: the block is larger than the buffer.
                        self.done = true;
                        return Some(Err(Error::Truncated {
                            offset: self.offset,
                            expected: "a block that fits the reader's buffer",
                        }));
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

impl Iterator for PacketReader {
    type Item = Result<Packet>;

    fn next(&mut self) -> Option<Result<Packet>> {
        Some(self.next_packet::<false>()?.map(|(p, _, n)| {
            self.consume(n);
            p
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The payload found at its address is the one cut from the block parsed again, for
    /// every packet with payload of the lab capture (pcap) and of a pcapng trace.
    #[test]
    fn payload_by_address_equals_payload_by_parsing() {
        for path in [
            "../halfopen/tests/data/lab/run1/server.pcap",
            "tests/data/zeek/Traces/tcp/retransmit-timeout.pcapng",
            "tests/data/zeek/Traces/ssh/ssh-on-port-80.pcap",
        ] {
            let f = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + path);
            let mut r = PacketReader::new(f.unwrap()).unwrap();
            let mut checked = 0;
            while let Some(item) = r.next_packet::<true>() {
                let (_, span, n) = item.unwrap();
                r.lent = n;
                if span.len > 0 {
                    let at = r.lent_offset(span).expect("payload inside the buffer");
                    let by_address = r.inner.data()[at..at + span.len].to_vec();
                    assert_eq!(by_address, r.reparsed(span), "{path}");
                    checked += 1;
                }
            }
            assert!(checked >= 2, "{path}");
        }
    }
}
