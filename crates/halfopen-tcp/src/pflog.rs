//! The pflog link-layer header (DLT/LINKTYPE_PFLOG, 117) written by OpenBSD's and
//! FreeBSD's `pflog` interfaces: which pf rule matched, what it did, on which interface.

use crate::{Error, Result};

/// Smallest meaningful header: up to and including the direction byte.
const MIN_LEN: usize = 61;
/// OpenBSD's header size (with rewritten addresses and ports).
const OPENBSD_LEN: usize = 100;

/// Which header layout a record used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PflogLayout {
    /// OpenBSD: 100 bytes, with the rewritten (NAT) addresses and ports.
    OpenBsd,
    /// FreeBSD (and macOS): 61 bytes padded to 64, newer versions longer (`ridentifier`).
    FreeBsd,
}

/// What pf did to the packet (`action` byte; `PF_PASS`, `PF_DROP`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PfAction {
    /// `pass` (0).
    Pass,
    /// `block` (1).
    Block,
    /// `scrub` (2).
    Scrub,
    /// `nat`, `rdr`, `binat` and their `no` forms (3..=9).
    Translate,
    /// Another value.
    Other(u8),
}

/// Direction of the packet on the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PfDirection {
    /// Either (0).
    InOut,
    /// Inbound (1).
    In,
    /// Outbound (2).
    Out,
    /// Another value.
    Other(u8),
}

/// The decoded pflog header of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PflogMeta {
    /// Header layout.
    pub layout: PflogLayout,
    /// Header length in bytes (where the IP packet starts).
    pub header_len: usize,
    /// Address family of the packet (2 = IPv4; IPv6 is 24 on OpenBSD, 28 on FreeBSD,
    /// 30 on macOS).
    pub af: u8,
    /// The action.
    pub action: PfAction,
    /// The pf reason code (0 = match, 1 = bad offset, 2 = fragment, ...).
    pub reason: u8,
    /// The direction.
    pub direction: PfDirection,
    /// Rule number (`rule 4/...`), `u32::MAX` for none.
    pub rule: u32,
    /// Sub-rule number (anchor rule), `u32::MAX` for none.
    pub subrule: u32,
    ifname: [u8; 16],
    ruleset: [u8; 16],
}

fn cstr(b: &[u8; 16]) -> &[u8] {
    let n = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    b.get(..n).unwrap_or(&[])
}

impl PflogMeta {
    /// Interface name (`em0`), as bytes (NUL padding removed).
    pub fn ifname(&self) -> &[u8] {
        cstr(&self.ifname)
    }

    /// Ruleset (anchor) name, empty for the main ruleset.
    pub fn ruleset(&self) -> &[u8] {
        cstr(&self.ruleset)
    }

    /// True when the packet is IPv6 (by the address family, all BSD variants).
    pub fn is_ipv6(&self) -> bool {
        matches!(self.af, 24 | 28 | 30 | 10)
    }
}

/// Parses a pflog header at the start of `data`.
///
/// ```
/// use halfopen_tcp::pflog::{parse, PfAction, PfDirection};
/// let mut h = vec![0u8; 64];
/// h[0] = 61; h[1] = 2; h[2] = 1; // length, AF_INET, block
/// h[4..7].copy_from_slice(b"em0");
/// h[36..40].copy_from_slice(&4u32.to_be_bytes());
/// h[60] = 1; // in
/// let m = parse(&h).unwrap();
/// assert_eq!((m.action, m.direction, m.rule), (PfAction::Block, PfDirection::In, 4));
/// assert_eq!(m.ifname(), b"em0");
/// assert_eq!(m.header_len, 64);
/// ```
pub fn parse(data: &[u8]) -> Result<PflogMeta> {
    let len_byte = *data.first().ok_or(Error::Pflog {
        offset: 0,
        expected: "a pflog header length byte",
    })?;
    let len = usize::from(len_byte);
    if len < MIN_LEN {
        return Err(Error::Pflog {
            offset: 0,
            expected: "a header length of at least 61",
        });
    }
    // BPF_WORDALIGN, as libpcap does.
    let header_len = (len + 3) & !3;
    if data.len() < header_len {
        return Err(Error::Pflog {
            offset: data.len(),
            expected: "the whole pflog header",
        });
    }
    let b = |i: usize| data.get(i).copied().unwrap_or(0);
    let be32 = |i: usize| {
        data.get(i..i + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0)
    };
    let name = |i: usize| {
        let mut n = [0u8; 16];
        if let Some(s) = data.get(i..i + 16) {
            n.copy_from_slice(s);
        }
        n
    };
    let action = match b(2) {
        0 => PfAction::Pass,
        1 => PfAction::Block,
        2 => PfAction::Scrub,
        v @ 3..=9 => {
            let _ = v;
            PfAction::Translate
        }
        v => PfAction::Other(v),
    };
    let direction = match b(60) {
        0 => PfDirection::InOut,
        1 => PfDirection::In,
        2 => PfDirection::Out,
        v => PfDirection::Other(v),
    };
    Ok(PflogMeta {
        layout: if header_len >= OPENBSD_LEN {
            PflogLayout::OpenBsd
        } else {
            PflogLayout::FreeBsd
        },
        header_len,
        af: b(1),
        action,
        reason: b(3),
        direction,
        rule: be32(36),
        subrule: be32(40),
        ifname: name(4),
        ruleset: name(20),
    })
}
