//! Addresses for the generated traffic: spoofed flood sources spread over all of IPv4, and a
//! deterministic pool of ordinary clients on public unicast addresses.

use halfopen_testgen::rng::Rng;

/// `a.b.c.d` as a big-endian `u32`.
pub const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

/// The /24s the generators keep for their own servers and real clients (RFC 5737
/// documentation networks and the lab's second client network): never a spoofed source.
const RESERVED_24: [u32; 4] = [
    v4(192, 0, 2, 0),
    v4(198, 51, 100, 0),
    v4(198, 51, 101, 0),
    v4(203, 0, 113, 0),
];

/// Whether a spoofed source in this /24 could reach a server: not loopback, not multicast
/// (routers drop both as martians, as the lab's router did with hping3's), and not one of the
/// networks the generators use for servers and real clients.
fn spoofable_24(prefix: u32) -> bool {
    let first = prefix >> 16;
    first != 127 && !(224..=239).contains(&first) && !RESERVED_24.contains(&(prefix << 8))
}

/// Whether `a` is a public unicast address (not 0/8, 10/8, 100.64/10, 127/8, 169.254/16,
/// 172.16/12, 192.168/16, 198.18/15, 224/3, the documentation networks).
pub fn public_unicast(a: u32) -> bool {
    let [x, y, _, _] = a.to_be_bytes();
    let private = match x {
        0 | 10 | 127 => true,
        100 => (64..128).contains(&y),
        169 => y == 254,
        172 => (16..32).contains(&y),
        192 => y == 168,
        198 => y == 18 || y == 19,
        _ => x >= 224,
    };
    !private && !RESERVED_24.contains(&(a & 0xffff_ff00))
}

/// A bijection on 24-bit numbers (multiply by odd numbers and xor-shifts, each invertible
/// modulo 2^24), keyed by `key`.
fn permute24(x: u32, key: u32) -> u32 {
    const MASK: u32 = 0x00ff_ffff;
    let mut v = (x ^ key) & MASK;
    v = v.wrapping_mul(0x9e_3779 | 1) & MASK;
    v ^= v >> 12;
    v = v.wrapping_mul(0x85_ebcb | 1) & MASK;
    v ^= v >> 11;
    v = v.wrapping_add(key >> 8) & MASK;
    v
}

/// Spoofed sources as `hping3 --rand-source` would send them, but spread as evenly as
/// possible: in each round of 15.66 M sources every usable /24 gets exactly one address, in an
/// order that changes from round to round (so N sources put at most `ceil(N / 15.66 M)` in any
/// /24, and any run of up to 15.66 M consecutive sources at most two).
#[derive(Debug, Clone)]
pub struct Spread {
    next: u64,
    key: u32,
}

impl Spread {
    /// A spread keyed by `seed`.
    pub fn new(seed: u64) -> Spread {
        Spread {
            next: 0,
            key: (seed ^ (seed >> 32)) as u32,
        }
    }

    /// The next source (host byte from `rng`, 1-254).
    ///
    /// ```
    /// use halfopen_benches::scale::net::Spread;
    /// use halfopen_testgen::rng::Rng;
    /// let (mut s, mut r) = (Spread::new(1), Rng::new(1));
    /// let a: Vec<u32> = (0..1000).map(|_| s.next(&mut r) >> 8).collect();
    /// let mut b = a.clone();
    /// b.sort_unstable();
    /// b.dedup();
    /// assert_eq!(a.len(), b.len()); // 1000 different /24s
    /// ```
    pub fn next(&mut self, rng: &mut Rng) -> u32 {
        loop {
            let round = (self.next >> 24) as u32;
            let prefix = permute24(self.next as u32 & 0x00ff_ffff, self.key.wrapping_add(round));
            self.next += 1;
            if spoofable_24(prefix) {
                return (prefix << 8) | rng.range(1, 254) as u32;
            }
        }
    }
}

/// Client number `k` of a pool keyed by `seed`: a public unicast address, the same for the
/// same `(seed, k)`.
pub fn pool_address(seed: u64, k: u64) -> u32 {
    let mut r = Rng::fork(seed ^ 0x636c_6965_6e74, k);
    loop {
        let a = r.next_u32();
        if public_unicast(a) {
            return a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute24_is_a_bijection() {
        let mut seen = vec![false; 1 << 24];
        for x in 0..(1u32 << 24) {
            let y = permute24(x, 0xdead_beef) as usize;
            assert!(!seen[y]);
            seen[y] = true;
        }
    }

    #[test]
    fn spread_avoids_martians_and_our_networks() {
        let (mut s, mut r) = (Spread::new(9), Rng::new(9));
        for _ in 0..200_000 {
            let a = s.next(&mut r);
            let first = a >> 24;
            assert_ne!(first, 127);
            assert!(!(224..=239).contains(&first));
            assert!(!RESERVED_24.contains(&(a & 0xffff_ff00)));
            assert!((1..=254).contains(&(a & 0xff)));
        }
    }

    #[test]
    fn pool_is_public() {
        for k in 0..10_000 {
            let a = pool_address(3, k);
            assert!(public_unicast(a));
            assert_eq!(a, pool_address(3, k));
        }
        assert!(!public_unicast(v4(10, 1, 2, 3)));
        assert!(!public_unicast(v4(192, 168, 0, 1)));
        assert!(public_unicast(v4(45, 76, 87, 206)));
    }
}
