//! Compact, direction-independent flow keys: IPv4 flows stay at 12 bytes, IPv6 flows
//! live in their own map with 36-byte keys.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::flow_map::{MapKey, fold_mul};

/// A flow key: the two endpoints in a canonical order (lower address/port first), so both
/// directions of a connection find the same entry.
pub(crate) trait FlowKey: MapKey + Hash + Ord {
    /// The two endpoints in key order.
    fn endpoints(&self) -> (SocketAddr, SocketAddr);
}

/// IPv4 key: 12 bytes, 4-byte aligned (so a flow-map slot stays 116 bytes). Stored as
/// the two words the hashes and comparisons use: both addresses in one `u64` (`a` high,
/// `b` low, as big-endian integers, so it orders like their octets) and both ports in one
/// `u32`; the derived order is the order of `(a, b, port a, port b)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(C, packed(4))]
pub(crate) struct V4Key {
    addrs: u64,
    ports: u32,
}

/// IPv6 key: 36 bytes (also used for IPv4/IPv6 mixed pairs, as v4-mapped addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub(crate) struct V6Key {
    a: [u8; 16],
    b: [u8; 16],
    pa: u16,
    pb: u16,
}

/// Builds a canonical key; the bool is true when the event's source is endpoint `a`.
fn canon<const N: usize>(
    s: [u8; N],
    sp: u16,
    d: [u8; N],
    dp: u16,
) -> ([u8; N], u16, [u8; N], u16, bool) {
    if (s, sp) <= (d, dp) {
        (s, sp, d, dp, true)
    } else {
        (d, dp, s, sp, false)
    }
}

impl V4Key {
    #[inline]
    pub(crate) fn new(src: Ipv4Addr, sp: u16, dst: Ipv4Addr, dp: u16) -> (V4Key, bool) {
        let (s, d) = (u32::from(src), u32::from(dst));
        let src_is_a = (s, sp) <= (d, dp);
        let ((a, pa), (b, pb)) = if src_is_a {
            ((s, sp), (d, dp))
        } else {
            ((d, dp), (s, sp))
        };
        (
            V4Key {
                addrs: (u64::from(a) << 32) | u64::from(b),
                ports: (u32::from(pa) << 16) | u32::from(pb),
            },
            src_is_a,
        )
    }

    /// `0.0.0.0:0 - 0.0.0.0:0`.
    pub(crate) const ZERO: V4Key = V4Key { addrs: 0, ports: 0 };
}

impl V6Key {
    pub(crate) fn new(src: Ipv6Addr, sp: u16, dst: Ipv6Addr, dp: u16) -> (V6Key, bool) {
        let (a, pa, b, pb, src_is_a) = canon(src.octets(), sp, dst.octets(), dp);
        (V6Key { a, b, pa, pb }, src_is_a)
    }
}

impl MapKey for V4Key {
    #[inline]
    fn fold(&self, seeds: &[u64; 2]) -> u64 {
        fold_mul(self.addrs ^ seeds[0], u64::from(self.ports) ^ seeds[1])
    }
}

impl MapKey for V6Key {
    #[inline]
    fn fold(&self, seeds: &[u64; 2]) -> u64 {
        let (a, b) = (u128::from_le_bytes(self.a), u128::from_le_bytes(self.b));
        let ports = u64::from(self.pa) << 16 | u64::from(self.pb);
        let h = fold_mul(a as u64 ^ seeds[0], (a >> 64) as u64 ^ seeds[1]);
        let h = fold_mul(b as u64 ^ h, (b >> 64) as u64 ^ seeds[0]);
        fold_mul(h ^ seeds[1], ports ^ seeds[0])
    }
}

impl FlowKey for V4Key {
    #[inline(always)]
    fn endpoints(&self) -> (SocketAddr, SocketAddr) {
        let (addrs, ports) = (self.addrs, self.ports);
        (
            SocketAddr::new(
                IpAddr::V4(Ipv4Addr::from((addrs >> 32) as u32)),
                (ports >> 16) as u16,
            ),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::from(addrs as u32)), ports as u16),
        )
    }
}

/// Shows a v4-mapped address as IPv4 again.
fn unmap(a: [u8; 16]) -> IpAddr {
    let v6 = Ipv6Addr::from(a);
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

impl FlowKey for V6Key {
    fn endpoints(&self) -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::new(unmap(self.a), self.pa),
            SocketAddr::new(unmap(self.b), self.pb),
        )
    }
}

/// Zeek-style guess of a server port when the first segment is not a SYN: well-known
/// ports and a few common registered server ports.
pub(crate) fn likely_server_port(p: u16) -> bool {
    p < 1024
        || matches!(
            p,
            1433 | 1521
                | 2049
                | 3128
                | 3306
                | 3389
                | 5060
                | 5432
                | 5900
                | 6379
                | 8000
                | 8008
                | 8080
                | 8443
                | 8888
                | 9200
                | 11211
                | 27017
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The packed IPv4 key is direction-independent, gives its endpoints back in key
        /// order, and orders like the tuple `(address a, address b, port a, port b)`.
        #[test]
        fn v4_key_is_canonical_and_orders_like_its_parts(
            s in any::<u32>(), sp in any::<u16>(), d in any::<u32>(), dp in any::<u16>(),
            s2 in any::<u32>(), sp2 in any::<u16>(), d2 in any::<u32>(), dp2 in any::<u16>(),
        ) {
            let (src, dst) = (Ipv4Addr::from(s), Ipv4Addr::from(d));
            let (k, src_is_a) = V4Key::new(src, sp, dst, dp);
            let (back, dst_is_a) = V4Key::new(dst, dp, src, sp);
            prop_assert_eq!(k, back);
            prop_assert!(src_is_a != dst_is_a || (s, sp) == (d, dp));
            let (a, b) = k.endpoints();
            let (src, dst) = (SocketAddr::from((src, sp)), SocketAddr::from((dst, dp)));
            prop_assert_eq!((a, b), if src_is_a { (src, dst) } else { (dst, src) });
            let parts = |s: u32, sp: u16, d: u32, dp: u16| {
                if (s, sp) <= (d, dp) { (s, d, sp, dp) } else { (d, s, dp, sp) }
            };
            let (k2, _) = V4Key::new(Ipv4Addr::from(s2), sp2, Ipv4Addr::from(d2), dp2);
            prop_assert_eq!(k.cmp(&k2), parts(s, sp, d, dp).cmp(&parts(s2, sp2, d2, dp2)));
        }
    }
}
