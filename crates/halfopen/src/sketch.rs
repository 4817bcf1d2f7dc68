//! Bounded, mergeable summaries: what the pipeline keeps so that memory does not grow with
//! the number of distinct sources.
//!
//! | type | answers | memory | error |
//! |---|---|---|---|
//! | [`DistinctCount`] | how many distinct items (addresses, networks, ...) | exact up to `exact_limit` (1024) items, 8 B each; then a HyperLogLog of 2^`precision` one-byte registers (4096: 4 KiB) | none while exact; then relative standard error 1.04/sqrt(m) (1.6 % at the default) |
//! | [`TopK`] | the heaviest keys of a stream, each with a payload | `capacity` entries ([`TopK::memory_bound`]) | every reported count is in `[true, true + error]`; a key absent has a true count <= [`TopK::absent_bound`] <= total/capacity |
//! | [`ClientSet`] | did this address, or anything in this network, make a successful request | exact up to `exact_cap` addresses, then a fixed-size Bloom filter ([`ClientSet::memory_bound`]) | never a false negative; false positives only once past the cap |
//!
//! Every type is `serde` Serialize + Deserialize (summaries are written by one run and
//! merged by another, so deserialising validates everything and rejects what a summary
//! cannot hold, with a [`SketchError`] message), has a `merge`, reports its memory
//! (`memory_bytes()`) under a stated bound (`memory_bound(..)`), and never panics.
//!
//! Hashing is stable: [`StableHash`] feeds a canonical byte encoding of an item to
//! SipHash-1-3 keyed by a seed that the summary carries, so the same input gives the same
//! summary in every run, on every platform and with every Rust version, and two summaries
//! made with the same seed merge exactly. (A fixed seed is public: someone who spoofs source
//! addresses can choose addresses that under-count in a [`DistinctCount`] past its exact
//! range. A deployment that cares picks its own seed; summaries merge only with equal seeds.)
//!
//! ```
//! use std::net::IpAddr;
//! use halfopen::sketch::{ClientSet, DistinctCount, TopK};
//!
//! let mut sources = DistinctCount::new();
//! let mut top: TopK<IpAddr, u64> = TopK::new(2);
//! let mut clients = ClientSet::new();
//! for (i, src) in ["192.0.2.1", "192.0.2.1", "192.0.2.1", "198.51.100.7", "203.0.113.9"]
//!     .iter()
//!     .enumerate()
//! {
//!     let ip: IpAddr = src.parse().unwrap();
//!     sources.insert(&ip);
//!     *top.entry(ip, 1) += 1; // the payload: here, a plain counter of our own
//!     if i == 3 {
//!         clients.insert(ip);
//!     }
//! }
//! assert_eq!(sources.count(), 3);
//! assert!(sources.is_exact());
//! let heaviest = top.sorted();
//! assert_eq!(heaviest[0].0.to_string(), "192.0.2.1");
//! assert_eq!(heaviest[0].1.count, 3);
//! assert!(clients.contains("198.51.100.7".parse().unwrap()));
//! assert!(clients.contains_in("198.51.100.0/24".parse().unwrap()));
//! assert!(!clients.contains_in("192.0.2.0/24".parse().unwrap()));
//! ```

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use siphasher::sip::SipHasher13;

/// The seed of every summary unless another is chosen (the bytes of `"halfopen"`).
pub const DEFAULT_SEED: u64 = 0x6861_6c66_6f70_656e;

/// Errors of the summaries: merging incompatible ones, or reading one that cannot be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SketchError {
    /// Two summaries made with different parameters: they cannot be combined.
    #[error(
        "cannot merge summaries made with a different {what} ({ours} here, {theirs} in the other)"
    )]
    Incompatible {
        /// Which parameter differs.
        what: &'static str,
        /// Its value in the summary merged into.
        ours: u64,
        /// Its value in the other summary.
        theirs: u64,
    },
    /// A parameter outside what a summary supports.
    #[error("invalid {what}: {value} (allowed: {allowed})")]
    Parameter {
        /// The parameter.
        what: &'static str,
        /// The value given.
        value: u64,
        /// What is allowed.
        allowed: &'static str,
    },
    /// A serialised summary that no summary could have written.
    #[error("invalid summary: {0}")]
    Invalid(String),
}

fn incompatible(what: &'static str, ours: u64, theirs: u64) -> Result<(), SketchError> {
    if ours == theirs {
        Ok(())
    } else {
        Err(SketchError::Incompatible { what, ours, theirs })
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

// ---------------------------------------------------------------------------------------
// Stable hashing
// ---------------------------------------------------------------------------------------

/// The keyed hash of the summaries: SipHash-1-3 over bytes only, so the value depends on
/// nothing but the seed and the bytes written (not on the platform, the Rust version or the
/// `Hash` implementation of a type).
#[derive(Debug, Clone)]
pub struct StableHasher(SipHasher13);

impl StableHasher {
    /// A hasher keyed by `seed`.
    ///
    /// ```
    /// use halfopen::sketch::StableHasher;
    /// let mut a = StableHasher::new(7);
    /// a.write(b"ab");
    /// let mut b = StableHasher::new(7);
    /// b.write(b"a");
    /// b.write(b"b");
    /// assert_eq!(a.finish(), b.finish()); // a byte stream: writes concatenate
    /// ```
    pub fn new(seed: u64) -> Self {
        Self(SipHasher13::new_with_keys(
            seed,
            seed.rotate_left(32) ^ 0x5ca1_ab1e,
        ))
    }

    /// Feeds bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }

    /// The hash of everything written.
    pub fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// A canonical byte encoding for the summaries' hash: equal items write equal bytes, and
/// items of one type that differ write different bytes (variable-length items are
/// length-prefixed).
///
/// Addresses: IPv4 writes `4` and its 4 octets, IPv6 writes `6` and its 16 octets (an
/// IPv4-mapped IPv6 address is an IPv6 address here; canonicalise first if it should count
/// as IPv4). Networks write the family, the prefix length and the network's octets with the
/// host bits cleared.
pub trait StableHash {
    /// Writes the encoding.
    fn stable_hash(&self, state: &mut StableHasher);
}

/// The summaries' hash of one item.
///
/// ```
/// use std::net::IpAddr;
/// use halfopen::sketch::stable_hash;
/// let a: IpAddr = "192.0.2.1".parse().unwrap();
/// assert_eq!(stable_hash(1, &a), stable_hash(1, &a));
/// assert_ne!(stable_hash(1, &a), stable_hash(2, &a));
/// ```
pub fn stable_hash<T: StableHash + ?Sized>(seed: u64, item: &T) -> u64 {
    let mut h = StableHasher::new(seed);
    item.stable_hash(&mut h);
    h.finish()
}

impl<T: StableHash + ?Sized> StableHash for &T {
    fn stable_hash(&self, state: &mut StableHasher) {
        (**self).stable_hash(state);
    }
}

macro_rules! stable_hash_int {
    ($($t:ty),*) => {$(
        impl StableHash for $t {
            fn stable_hash(&self, state: &mut StableHasher) {
                state.write(&self.to_le_bytes());
            }
        }
    )*};
}
stable_hash_int!(u8, u16, u32, u64, u128, i64);

impl StableHash for [u8] {
    fn stable_hash(&self, state: &mut StableHasher) {
        state.write(&to_u64(self.len()).to_le_bytes());
        state.write(self);
    }
}

impl StableHash for str {
    fn stable_hash(&self, state: &mut StableHasher) {
        self.as_bytes().stable_hash(state);
    }
}

impl StableHash for Ipv4Addr {
    fn stable_hash(&self, state: &mut StableHasher) {
        state.write(&[4]);
        state.write(&self.octets());
    }
}

impl StableHash for Ipv6Addr {
    fn stable_hash(&self, state: &mut StableHasher) {
        state.write(&[6]);
        state.write(&self.octets());
    }
}

impl StableHash for IpAddr {
    fn stable_hash(&self, state: &mut StableHasher) {
        match self {
            IpAddr::V4(a) => a.stable_hash(state),
            IpAddr::V6(a) => a.stable_hash(state),
        }
    }
}

impl StableHash for IpNet {
    fn stable_hash(&self, state: &mut StableHasher) {
        match self.trunc() {
            IpNet::V4(n) => {
                state.write(&[4, n.prefix_len()]);
                state.write(&n.network().octets());
            }
            IpNet::V6(n) => {
                state.write(&[6, n.prefix_len()]);
                state.write(&n.network().octets());
            }
        }
    }
}

impl<A: StableHash, B: StableHash> StableHash for (A, B) {
    fn stable_hash(&self, state: &mut StableHasher) {
        self.0.stable_hash(state);
        self.1.stable_hash(state);
    }
}

// ---------------------------------------------------------------------------------------
// DistinctCount: exact, then HyperLogLog
// ---------------------------------------------------------------------------------------

/// Default HyperLogLog precision: 2^12 = 4096 registers, 4 KiB, 1.6 % relative standard error.
pub const DEFAULT_PRECISION: u8 = 12;
/// Smallest precision accepted (16 registers).
pub const MIN_PRECISION: u8 = 4;
/// Largest precision accepted (2^18 registers, 256 KiB).
pub const MAX_PRECISION: u8 = 18;
/// Default number of distinct items counted exactly before switching to the sketch.
pub const DEFAULT_EXACT_LIMIT: usize = 1024;
/// Largest exact limit accepted (512 KiB of hashes).
pub const MAX_EXACT_LIMIT: usize = 1 << 16;

/// `1 / (2 ln 2)`: the limit of the HyperLogLog bias constant as the register count grows.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// A distinct count in bounded memory: exact up to `exact_limit` items (it keeps their
/// 64-bit [`stable_hash`]es, so "exact" means "exact unless two of the items share a 64-bit
/// hash", about 1 in 3 * 10^13 for 1024 items), then a HyperLogLog sketch of 2^`precision`
/// registers.
///
/// The estimate is Ertl's improved estimator ("New cardinality estimation algorithms for
/// HyperLogLog sketches", 2017), which needs no empirical bias tables and keeps the relative
/// standard error near 1.04/sqrt(m) over the whole range. Merging is a register-wise maximum:
/// the merge of two summaries of A and B is, register for register, the summary of A ∪ B.
///
/// ```
/// use halfopen::sketch::DistinctCount;
/// let mut a = DistinctCount::new();
/// let mut b = DistinctCount::new();
/// for i in 0..3000u32 {
///     a.insert(&i);
///     b.insert(&(i + 1000));
/// }
/// assert!(!a.is_exact());
/// a.merge(&b).unwrap();
/// let e = a.estimate();
/// assert!((e - 4000.0).abs() < 4.0 * a.relative_standard_error() * 4000.0);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistinctCount {
    seed: u64,
    precision: u8,
    exact_limit: u32,
    state: DistinctState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DistinctState {
    /// Sorted, unique hashes.
    Exact(Vec<u64>),
    /// 2^precision registers, each the largest rank seen (0..=65-precision).
    Registers(Vec<u8>),
}

impl Default for DistinctCount {
    fn default() -> Self {
        Self::new()
    }
}

impl DistinctCount {
    /// Default parameters: precision 12 (4 KiB), exact up to 1024 items, [`DEFAULT_SEED`].
    pub fn new() -> Self {
        Self {
            seed: DEFAULT_SEED,
            precision: DEFAULT_PRECISION,
            exact_limit: DEFAULT_EXACT_LIMIT as u32,
            state: DistinctState::Exact(Vec::new()),
        }
    }

    /// Chosen parameters: `precision` in [`MIN_PRECISION`]..=[`MAX_PRECISION`],
    /// `exact_limit` up to [`MAX_EXACT_LIMIT`] (0: always the sketch).
    ///
    /// ```
    /// use halfopen::sketch::DistinctCount;
    /// assert!(DistinctCount::with_params(14, 0, 1).is_ok());
    /// assert!(DistinctCount::with_params(40, 0, 1).is_err());
    /// ```
    pub fn with_params(precision: u8, exact_limit: usize, seed: u64) -> Result<Self, SketchError> {
        check_precision(precision)?;
        let exact_limit = check_exact_limit(exact_limit)?;
        let state = if exact_limit == 0 {
            DistinctState::Registers(vec![0; 1 << precision])
        } else {
            DistinctState::Exact(Vec::new())
        };
        Ok(Self {
            seed,
            precision,
            exact_limit,
            state,
        })
    }

    /// Adds an item.
    pub fn insert<T: StableHash + ?Sized>(&mut self, item: &T) {
        self.insert_hash(stable_hash(self.seed, item));
    }

    /// Adds an item by its [`stable_hash`] under this summary's seed (for a caller that
    /// hashes once and feeds several summaries with the same seed).
    pub fn insert_hash(&mut self, hash: u64) {
        let limit = self.exact_limit as usize;
        if let DistinctState::Exact(hashes) = &mut self.state {
            match hashes.binary_search(&hash) {
                Ok(_) => return,
                Err(pos) if hashes.len() < limit => {
                    if hashes.len() == hashes.capacity() {
                        let grow = hashes.len().max(4).min(limit - hashes.len());
                        hashes.reserve_exact(grow);
                    }
                    hashes.insert(pos, hash);
                    return;
                }
                Err(_) => self.switch_to_registers(),
            }
        }
        if let DistinctState::Registers(regs) = &mut self.state {
            update_register(regs, self.precision, hash);
        }
    }

    fn switch_to_registers(&mut self) {
        if let DistinctState::Exact(hashes) = &self.state {
            let mut regs = vec![0u8; 1 << self.precision];
            for &h in hashes {
                update_register(&mut regs, self.precision, h);
            }
            self.state = DistinctState::Registers(regs);
        }
    }

    /// The estimated number of distinct items (exact while [`is_exact`](Self::is_exact)).
    pub fn estimate(&self) -> f64 {
        match &self.state {
            DistinctState::Exact(hashes) => hashes.len() as f64,
            DistinctState::Registers(regs) => ertl_estimate(regs, self.precision),
        }
    }

    /// [`estimate`](Self::estimate) rounded to an integer.
    pub fn count(&self) -> u64 {
        // A float-to-int `as` saturates and maps NaN to 0.
        self.estimate().round() as u64
    }

    /// Whether the count is still exact.
    pub fn is_exact(&self) -> bool {
        matches!(self.state, DistinctState::Exact(_))
    }

    /// The relative standard error of [`estimate`](Self::estimate): 0 while exact, then
    /// 1.04/sqrt(2^precision).
    pub fn relative_standard_error(&self) -> f64 {
        if self.is_exact() {
            0.0
        } else {
            1.04 / f64::from(1u32 << self.precision).sqrt()
        }
    }

    /// The precision (log2 of the register count).
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// The hash seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The registers, once the summary is a sketch.
    pub fn registers(&self) -> Option<&[u8]> {
        match &self.state {
            DistinctState::Exact(_) => None,
            DistinctState::Registers(regs) => Some(regs),
        }
    }

    /// Adds everything `other` counted: afterwards `self` is the summary of the union. Needs
    /// the same seed and precision; the exact limit of `self` is kept.
    pub fn merge(&mut self, other: &Self) -> Result<(), SketchError> {
        incompatible("hash seed", self.seed, other.seed)?;
        incompatible(
            "precision",
            u64::from(self.precision),
            u64::from(other.precision),
        )?;
        match &other.state {
            DistinctState::Exact(hashes) => {
                for &h in hashes {
                    self.insert_hash(h);
                }
            }
            DistinctState::Registers(theirs) => {
                self.switch_to_registers();
                if let DistinctState::Registers(ours) = &mut self.state {
                    for (o, t) in ours.iter_mut().zip(theirs) {
                        *o = (*o).max(*t);
                    }
                }
            }
        }
        Ok(())
    }

    /// Heap and inline bytes held now.
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + match &self.state {
                DistinctState::Exact(hashes) => hashes.capacity() * size_of::<u64>(),
                DistinctState::Registers(regs) => regs.capacity(),
            }
    }

    /// The most [`memory_bytes`](Self::memory_bytes) can be with these parameters, however
    /// many items are added.
    pub fn memory_bound(precision: u8, exact_limit: usize) -> usize {
        let registers = 1usize << precision.min(MAX_PRECISION);
        let exact = exact_limit.min(MAX_EXACT_LIMIT) * size_of::<u64>();
        size_of::<Self>() + registers.max(exact)
    }
}

fn check_precision(precision: u8) -> Result<(), SketchError> {
    if (MIN_PRECISION..=MAX_PRECISION).contains(&precision) {
        Ok(())
    } else {
        Err(SketchError::Parameter {
            what: "precision",
            value: u64::from(precision),
            allowed: "4..=18",
        })
    }
}

fn check_exact_limit(limit: usize) -> Result<u32, SketchError> {
    match u32::try_from(limit) {
        Ok(l) if limit <= MAX_EXACT_LIMIT => Ok(l),
        _ => Err(SketchError::Parameter {
            what: "exact limit",
            value: to_u64(limit),
            allowed: "0..=65536",
        }),
    }
}

/// Register index: the top `precision` bits; rank: 1 + the leading zeros of the remaining
/// 64 - precision bits (65 - precision when they are all zero).
fn update_register(regs: &mut [u8], precision: u8, hash: u64) {
    let p = u32::from(precision);
    let index = usize::try_from(hash >> (64 - p)).unwrap_or(0);
    let rest = (hash << p) | (1u64 << (p - 1));
    let rank = u8::try_from(rest.leading_zeros() + 1).unwrap_or(u8::MAX);
    if let Some(r) = regs.get_mut(index) {
        if rank > *r {
            *r = rank;
        }
    }
}

/// Ertl's improved raw estimator (2017, section 4): a register histogram `c[0..=q+1]`,
/// q = 64 - p, and `m^2 * alpha_inf / (m * sigma(c0/m) + sum_k c_k 2^-k + m * tau(1 - c_{q+1}/m) 2^-q)`.
fn ertl_estimate(regs: &[u8], precision: u8) -> f64 {
    let q = 64 - usize::from(precision);
    let mut histogram = [0u32; 66];
    for &r in regs {
        if let Some(slot) = histogram.get_mut(usize::from(r)) {
            *slot += 1;
        }
    }
    let c = |k: usize| f64::from(histogram.get(k).copied().unwrap_or(0));
    let m = regs.len() as f64;
    if m == 0.0 {
        return 0.0;
    }
    let mut z = m * tau(1.0 - c(q + 1) / m);
    for k in (1..=q).rev() {
        z = 0.5 * (z + c(k));
    }
    z += m * sigma(c(0) / m);
    let estimate = ALPHA_INF * m * m / z;
    // Every register at its top rank: the sketch is saturated (z = 0); the hash space is
    // the most it can tell.
    if estimate.is_finite() {
        estimate
    } else {
        HASH_SPACE
    }
}

/// 2^64: the number of distinct hashes.
const HASH_SPACE: f64 = 18_446_744_073_709_551_616.0;

/// `sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1)`; infinite at 1 (every register empty: the
/// estimate is then 0).
fn sigma(mut x: f64) -> f64 {
    if x >= 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    for _ in 0..1100 {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            break;
        }
    }
    z
}

/// `tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3`; 0 at 0 and 1.
fn tau(mut x: f64) -> f64 {
    if x <= 0.0 || x >= 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    for _ in 0..1100 {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x) * (1.0 - x) * y;
        if z == previous {
            break;
        }
    }
    z / 3.0
}

/// The serialised form of a [`DistinctCount`]: exactly one of `exact` (sorted hashes) and
/// `registers`.
#[derive(Serialize)]
struct DistinctOut<'a> {
    seed: u64,
    precision: u8,
    exact_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    exact: Option<&'a [u64]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registers: Option<&'a [u8]>,
}

/// What [`DistinctOut`] wrote, read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DistinctRepr {
    seed: u64,
    precision: u8,
    exact_limit: u32,
    #[serde(default)]
    exact: Option<Vec<u64>>,
    #[serde(default)]
    registers: Option<Vec<u8>>,
}

impl Serialize for DistinctCount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (exact, registers) = match &self.state {
            DistinctState::Exact(h) => (Some(h.as_slice()), None),
            DistinctState::Registers(r) => (None, Some(r.as_slice())),
        };
        DistinctOut {
            seed: self.seed,
            precision: self.precision,
            exact_limit: self.exact_limit,
            exact,
            registers,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for DistinctCount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = DistinctRepr::deserialize(deserializer)?;
        DistinctCount::try_from(repr).map_err(D::Error::custom)
    }
}

impl TryFrom<DistinctRepr> for DistinctCount {
    type Error = SketchError;

    fn try_from(repr: DistinctRepr) -> Result<Self, SketchError> {
        check_precision(repr.precision)?;
        check_exact_limit(repr.exact_limit as usize)?;
        let state = match (repr.exact, repr.registers) {
            (Some(mut hashes), None) => {
                hashes.sort_unstable();
                hashes.dedup();
                if hashes.len() > repr.exact_limit as usize {
                    return Err(SketchError::Invalid(format!(
                        "{} exact hashes for an exact limit of {}",
                        hashes.len(),
                        repr.exact_limit
                    )));
                }
                hashes.shrink_to_fit();
                DistinctState::Exact(hashes)
            }
            (None, Some(regs)) => {
                let max_rank = 65 - repr.precision;
                if regs.len() != 1 << repr.precision {
                    return Err(SketchError::Invalid(format!(
                        "{} registers for precision {}",
                        regs.len(),
                        repr.precision
                    )));
                }
                if regs.iter().any(|&r| r > max_rank) {
                    return Err(SketchError::Invalid(format!(
                        "a register above {max_rank} for precision {}",
                        repr.precision
                    )));
                }
                DistinctState::Registers(regs)
            }
            _ => {
                return Err(SketchError::Invalid(
                    "a distinct count holds either `exact` or `registers`".into(),
                ));
            }
        };
        Ok(Self {
            seed: repr.seed,
            precision: repr.precision,
            exact_limit: repr.exact_limit,
            state,
        })
    }
}

// ---------------------------------------------------------------------------------------
// TopK: Space-Saving with a payload
// ---------------------------------------------------------------------------------------

/// A payload that two summaries can combine (the per-key data of a [`TopK`]).
pub trait Merge {
    /// Adds what `other` holds.
    fn merge(&mut self, other: &Self);

    /// Heap bytes the value owns (0 for plain values); counted by
    /// [`TopK::memory_bytes`].
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Merge for () {
    fn merge(&mut self, _other: &Self) {}
}

macro_rules! merge_by_saturating_add {
    ($($t:ty),*) => {$(
        impl Merge for $t {
            fn merge(&mut self, other: &Self) {
                *self = self.saturating_add(*other);
            }
        }
    )*};
}
merge_by_saturating_add!(u32, u64);

/// One key's numbers in a [`TopK`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted<V> {
    /// An upper bound of the key's true weight: `count - error <= true <= count`.
    pub count: u64,
    /// How much of `count` may be weight of keys this entry replaced.
    pub error: u64,
    /// The caller's data, collected since the key (last) entered the summary.
    pub payload: V,
}

impl<V> Counted<V> {
    /// The weight certainly seen for this key: `count - error`.
    pub fn guaranteed(&self) -> u64 {
        self.count.saturating_sub(self.error)
    }
}

/// The largest capacity a [`TopK`] accepts (a summary file cannot ask for more).
pub const MAX_TOPK_CAPACITY: usize = 1 << 24;

/// A key's place in a [`TopK`]: its key and numbers.
#[derive(Debug, Clone)]
struct Slot<K, V> {
    key: K,
    counted: Counted<V>,
}

/// The heaviest keys of a weighted stream in `capacity` entries, each with a payload:
/// Space-Saving (Metwally, Agrawal and El Abbadi, "Efficient computation of frequent and
/// top-k elements in data streams", 2005).
///
/// A new key, when the summary is full, replaces the key with the smallest count; it starts
/// with that count (plus its weight) and records it as its `error`, and gets a fresh payload
/// (`V::default()`; [`entry_evicting`](Self::entry_evicting) hands the replaced one back).
/// Guarantees, with N the total weight: every reported count is in `[true, true + error]`;
/// a key not in the summary has a true weight of at most [`absent_bound`](Self::absent_bound),
/// which is at most N/capacity, so every key heavier than N/capacity is present.
///
/// [`merge`](Self::merge) follows the mergeable-summaries rule (Agarwal, Cormode, Huang,
/// Phillips, Wei and Yi, "Mergeable summaries", 2012): counts of a key add, a key missing
/// from one side counts that side's absent bound (also as error), the heaviest `capacity`
/// keys stay; the guarantees then hold for the concatenated stream when both sides have the
/// same capacity.
///
/// Layout: keys and their numbers live in a slot array; a hash map (randomly keyed, so
/// attacker-chosen keys cannot aim at one bucket) maps a key to its slot; a lazy min-heap
/// of `(count, slot)` finds the smallest count. An increment touches the map and the slot
/// only; a heap entry whose count went stale is refreshed when it reaches the top; a new key
/// takes over the slot of the key it replaces. Among equal smallest counts the lowest slot
/// goes first: results depend on the order of the input only, never on hashing.
///
/// ```
/// use halfopen::sketch::TopK;
/// let mut top: TopK<&str, ()> = TopK::new(2);
/// for key in ["a", "b", "a", "c", "a"] {
///     top.entry(key, 1);
/// }
/// let sorted = top.sorted();
/// assert_eq!(*sorted[0].0, "a");
/// assert_eq!((sorted[0].1.count, sorted[0].1.error), (3, 0));
/// assert!(top.absent_bound() <= top.total() / 2);
/// assert_eq!(top.evicted(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct TopK<K, V> {
    capacity: usize,
    index: HashMap<K, u32, foldhash::fast::RandomState>,
    slots: Vec<Slot<K, V>>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    total: u64,
    floor: u64,
    evicted: u64,
    /// Where a payload reference goes should the index and the slots ever disagree (they
    /// cannot; this keeps `entry` total without a panic).
    scratch: V,
}

impl<K, V> TopK<K, V>
where
    K: Hash + Eq + Ord + Clone,
    V: Default,
{
    /// An empty summary of `capacity` keys (clamped to 1..=[`MAX_TOPK_CAPACITY`]).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.clamp(1, MAX_TOPK_CAPACITY),
            index: HashMap::default(),
            slots: Vec::new(),
            heap: BinaryHeap::new(),
            total: 0,
            floor: 0,
            evicted: 0,
            scratch: V::default(),
        }
    }

    /// Adds `weight` to `key` and returns its payload to update.
    pub fn entry(&mut self, key: K, weight: u64) -> &mut V {
        self.entry_evicting(key, weight).0
    }

    /// [`entry`](Self::entry), also handing back the key it replaced (with its count and
    /// payload), if it replaced one.
    pub fn entry_evicting(&mut self, key: K, weight: u64) -> (&mut V, Option<(K, Counted<V>)>) {
        self.total = self.total.saturating_add(weight);
        let vacant = match self.index.entry(key) {
            Entry::Occupied(o) => {
                return match self.slots.get_mut(*o.get() as usize) {
                    Some(slot) => {
                        slot.counted.count = slot.counted.count.saturating_add(weight);
                        (&mut slot.counted.payload, None)
                    }
                    None => (&mut self.scratch, None),
                };
            }
            Entry::Vacant(v) => v,
        };
        // When full, the slot of the smallest count (the heap and the slots are not the
        // map, so the vacant entry stays valid meanwhile).
        let victim = if self.slots.len() >= self.capacity {
            pop_fresh_min(&mut self.heap, &self.slots)
        } else {
            None
        };
        if let Some(old) = victim.and_then(|v| self.slots.get(v)) {
            self.floor = self.floor.max(old.counted.count);
        }
        let Ok(at) = u32::try_from(victim.unwrap_or(self.slots.len())) else {
            return (&mut self.scratch, None);
        };
        let key = vacant.key().clone();
        vacant.insert(at);
        let count = self.floor.saturating_add(weight);
        let fresh = Slot {
            key,
            counted: Counted {
                count,
                error: self.floor,
                payload: V::default(),
            },
        };
        if self.heap.len() >= self.heap.capacity() {
            self.heap
                .reserve_exact(bounded_growth(self.heap.len(), self.capacity));
        }
        self.heap.push(Reverse((count, at)));
        if let Some(v) = victim.filter(|&v| v < self.slots.len()) {
            let Some(slot) = self.slots.get_mut(v) else {
                return (&mut self.scratch, None);
            };
            let old = std::mem::replace(slot, fresh);
            self.index.remove(&old.key);
            self.evicted = self.evicted.saturating_add(1);
            return (&mut slot.counted.payload, Some((old.key, old.counted)));
        }
        if self.slots.len() >= self.slots.capacity() {
            self.slots
                .reserve_exact(bounded_growth(self.slots.len(), self.capacity));
        }
        self.slots.push(fresh);
        match self.slots.last_mut() {
            Some(slot) => (&mut slot.counted.payload, None),
            None => (&mut self.scratch, None),
        }
    }
}

/// Pops heap entries until one is current (its slot's count is the one recorded), pushing
/// stale ones back with their current count; returns that slot: the smallest
/// `(count, slot)` of all, since every heap entry is at most its slot's count.
fn pop_fresh_min<K, V>(
    heap: &mut BinaryHeap<Reverse<(u64, u32)>>,
    slots: &[Slot<K, V>],
) -> Option<usize> {
    while let Some(Reverse((count, at))) = heap.pop() {
        match slots.get(at as usize).map(|s| s.counted.count) {
            None => continue,
            Some(current) if current != count => heap.push(Reverse((current, at))),
            Some(_) => return Some(at as usize),
        }
    }
    None
}

/// How much a full buffer of `len` items grows: doubling, never past `max` items.
fn bounded_growth(len: usize, max: usize) -> usize {
    len.max(8).min(max.saturating_sub(len).max(1))
}

impl<K, V> TopK<K, V>
where
    K: Hash + Eq + Ord + Clone,
{
    /// The entry of `key`, if present.
    pub fn get(&self, key: &K) -> Option<&Counted<V>> {
        self.index
            .get(key)
            .and_then(|&at| self.slots.get(at as usize))
            .map(|s| &s.counted)
    }

    /// The entries, in the summary's own order (deterministic for a given input).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Counted<V>)> {
        self.slots.iter().map(|s| (&s.key, &s.counted))
    }

    /// The entries, heaviest first (equal counts: smaller key first).
    pub fn sorted(&self) -> Vec<(&K, &Counted<V>)> {
        let mut v: Vec<_> = self.iter().collect();
        v.sort_unstable_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(b.0)));
        v
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The most keys held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Total weight added (N), merged summaries included.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many times a key was dropped to make room (replaced, or cut in a merge).
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The largest true weight a key not in the summary can have (0 until a key is
    /// dropped). At most `total / capacity` (for merges: of equal capacities).
    pub fn absent_bound(&self) -> u64 {
        self.floor
    }

    /// Every key whose true weight is above this is present: `total / capacity`.
    pub fn guarantee_threshold(&self) -> u64 {
        self.total / to_u64(self.capacity)
    }

    /// Rebuilds the key index and the heap from the slots.
    fn reindex(&mut self) {
        self.index = HashMap::default();
        self.index.reserve(self.slots.len());
        let mut heap = Vec::with_capacity(self.slots.len());
        for (at, slot) in self.slots.iter().enumerate() {
            let at = u32::try_from(at).unwrap_or(u32::MAX);
            self.index.insert(slot.key.clone(), at);
            heap.push(Reverse((slot.counted.count, at)));
        }
        self.heap = BinaryHeap::from(heap);
    }
}

impl<K, V> TopK<K, V>
where
    K: Hash + Eq + Ord + Clone,
    V: Merge,
{
    /// Heap and inline bytes held now (payloads' own heap included through
    /// [`Merge::heap_bytes`]).
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + hash_map_bytes(self.index.capacity(), size_of::<(K, u32)>())
            + self.slots.capacity() * size_of::<Slot<K, V>>()
            + self.heap.capacity() * size_of::<Reverse<(u64, u32)>>()
            + self
                .slots
                .iter()
                .map(|s| s.counted.payload.heap_bytes())
                .sum::<usize>()
    }

    /// The most [`memory_bytes`](Self::memory_bytes) can be for `capacity`, however many
    /// keys are added, plus whatever heap the payloads own: the slots and the heap hold one
    /// entry per key; the key index holds `capacity + 1` keys for a moment when a new key
    /// replaces one, and can double once more under churn (its tombstones). A merge needs
    /// up to about twice this while it runs.
    pub fn memory_bound(capacity: usize) -> usize {
        let capacity = capacity.clamp(1, MAX_TOPK_CAPACITY);
        let buckets = 2 * buckets_for(capacity + 1);
        size_of::<Self>()
            + buckets * (size_of::<(K, u32)>() + 1)
            + HASH_GROUP_WIDTH
            + capacity * (size_of::<Slot<K, V>>() + size_of::<Reverse<(u64, u32)>>())
    }
}

impl<K, V> TopK<K, V>
where
    K: Hash + Eq + Ord + Clone,
    V: Merge + Clone,
{
    /// Adds what `other` summarised: afterwards `self` summarises both streams (see the
    /// type's documentation for the rule). Keeps `self`'s capacity.
    pub fn merge(&mut self, other: &Self) {
        let ours = self.floor;
        let theirs = other.floor;
        for slot in &mut self.slots {
            let c = &mut slot.counted;
            match other.get(&slot.key) {
                Some(o) => {
                    c.count = c.count.saturating_add(o.count);
                    c.error = c.error.saturating_add(o.error);
                    c.payload.merge(&o.payload);
                }
                None => {
                    c.count = c.count.saturating_add(theirs);
                    c.error = c.error.saturating_add(theirs);
                }
            }
        }
        for o in &other.slots {
            if !self.index.contains_key(&o.key) {
                self.slots.push(Slot {
                    key: o.key.clone(),
                    counted: Counted {
                        count: o.counted.count.saturating_add(ours),
                        error: o.counted.error.saturating_add(ours),
                        payload: o.counted.payload.clone(),
                    },
                });
            }
        }
        self.total = self.total.saturating_add(other.total);
        self.evicted = self.evicted.saturating_add(other.evicted);
        self.floor = ours.saturating_add(theirs);
        self.cut_to_capacity();
        self.reindex();
    }

    /// Drops the lightest keys beyond the capacity (smaller key first among equal counts),
    /// raising the absent bound to the heaviest dropped count.
    fn cut_to_capacity(&mut self) {
        let excess = self.slots.len().saturating_sub(self.capacity);
        if excess == 0 {
            self.slots.shrink_to(self.capacity);
            return;
        }
        let mut by_weight: Vec<(u64, &K, usize)> = self
            .slots
            .iter()
            .enumerate()
            .map(|(at, s)| (s.counted.count, &s.key, at))
            .collect();
        by_weight.sort_unstable();
        let mut dropped = vec![false; self.slots.len()];
        for &(count, _, at) in by_weight.iter().take(excess) {
            if let Some(d) = dropped.get_mut(at) {
                *d = true;
            }
            self.floor = self.floor.max(count);
            self.evicted = self.evicted.saturating_add(1);
        }
        let mut at = 0;
        self.slots.retain(|_| {
            let keep = !dropped.get(at).copied().unwrap_or(false);
            at += 1;
            keep
        });
        self.slots.shrink_to(self.capacity);
    }
}

impl<K, V> PartialEq for TopK<K, V>
where
    K: Hash + Eq + Ord + Clone,
    V: PartialEq,
{
    /// Same capacity, counters, and keys with the same numbers (in whatever slots).
    fn eq(&self, other: &Self) -> bool {
        self.capacity == other.capacity
            && self.total == other.total
            && self.floor == other.floor
            && self.evicted == other.evicted
            && self.len() == other.len()
            && self.iter().all(|(k, c)| other.get(k) == Some(c))
    }
}

/// The SIMD group width of the standard hash map's control bytes.
const HASH_GROUP_WIDTH: usize = 16;

/// Buckets the standard hash map allocates to hold `capacity` entries (7/8 load factor,
/// power-of-two bucket counts).
fn buckets_for(capacity: usize) -> usize {
    if capacity == 0 {
        0
    } else if capacity < 8 {
        (capacity + 1).next_power_of_two().max(4)
    } else {
        (capacity.saturating_mul(8) / 7).next_power_of_two()
    }
}

/// Bytes of a standard hash map whose `capacity()` is `capacity`.
fn hash_map_bytes(capacity: usize, entry: usize) -> usize {
    let buckets = buckets_for(capacity);
    if buckets == 0 {
        0
    } else {
        buckets * entry + buckets + HASH_GROUP_WIDTH
    }
}

#[derive(Serialize)]
struct TopKOut<'a, K, V> {
    capacity: usize,
    total: u64,
    absent_bound: u64,
    evicted: u64,
    entries: Vec<EntryOut<'a, K, V>>,
}

#[derive(Serialize)]
struct EntryOut<'a, K, V> {
    key: &'a K,
    count: u64,
    error: u64,
    payload: &'a V,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopKIn<K, V> {
    capacity: usize,
    total: u64,
    absent_bound: u64,
    evicted: u64,
    entries: Vec<EntryIn<K, V>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryIn<K, V> {
    key: K,
    count: u64,
    error: u64,
    payload: V,
}

impl<K, V> Serialize for TopK<K, V>
where
    K: Serialize,
    V: Serialize,
{
    /// Entries in the summary's own order (deterministic for a given input), so that a
    /// summary read back goes on exactly as the one written would have.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        TopKOut {
            capacity: self.capacity,
            total: self.total,
            absent_bound: self.floor,
            evicted: self.evicted,
            entries: self
                .slots
                .iter()
                .map(|s| EntryOut {
                    key: &s.key,
                    count: s.counted.count,
                    error: s.counted.error,
                    payload: &s.counted.payload,
                })
                .collect(),
        }
        .serialize(serializer)
    }
}

impl<'de, K, V> Deserialize<'de> for TopK<K, V>
where
    K: Hash + Eq + Ord + Clone + DeserializeOwned,
    V: Default + DeserializeOwned,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = TopKIn::<K, V>::deserialize(deserializer)?;
        Self::from_repr(repr).map_err(D::Error::custom)
    }
}

impl<K, V> TopK<K, V>
where
    K: Hash + Eq + Ord + Clone,
    V: Default,
{
    fn from_repr(repr: TopKIn<K, V>) -> Result<Self, SketchError> {
        if !(1..=MAX_TOPK_CAPACITY).contains(&repr.capacity) {
            return Err(SketchError::Parameter {
                what: "top-k capacity",
                value: to_u64(repr.capacity),
                allowed: "1..=16777216",
            });
        }
        if repr.entries.len() > repr.capacity {
            return Err(SketchError::Invalid(format!(
                "{} entries in a top-k of capacity {}",
                repr.entries.len(),
                repr.capacity
            )));
        }
        let mut top = Self::new(repr.capacity);
        top.total = repr.total;
        top.floor = repr.absent_bound;
        top.evicted = repr.evicted;
        top.slots.reserve_exact(repr.entries.len());
        for e in repr.entries {
            if e.error > e.count || e.count < repr.absent_bound {
                return Err(SketchError::Invalid(format!(
                    "top-k entry with count {}, error {} under an absent bound of {}",
                    e.count, e.error, repr.absent_bound
                )));
            }
            top.slots.push(Slot {
                key: e.key,
                counted: Counted {
                    count: e.count,
                    error: e.error,
                    payload: e.payload,
                },
            });
        }
        top.reindex();
        if top.index.len() != top.slots.len() {
            return Err(SketchError::Invalid("a key twice in a top-k".into()));
        }
        Ok(top)
    }
}

// ---------------------------------------------------------------------------------------
// ClientSet: exact, then Bloom, never a false negative
// ---------------------------------------------------------------------------------------

/// IPv4 prefix lengths [`ClientSet::contains_in`] answers without a false negative once the
/// set is past its exact cap.
pub const V4_PREFIXES: [u8; 6] = [32, 24, 23, 22, 20, 16];
/// IPv6 prefix lengths [`ClientSet::contains_in`] answers without a false negative once the
/// set is past its exact cap.
pub const V6_PREFIXES: [u8; 5] = [128, 64, 56, 48, 32];

/// Upper estimate of the bytes one IPv4 address takes in the exact set (a B-tree node of
/// 56 B, 64 B allocated, holds at least 5 addresses; internal nodes add a quarter).
pub const V4_ENTRY_BYTES: usize = 21;
/// Upper estimate of the bytes one IPv6 address takes in the exact set (192 B leaves, 16-byte
/// aligned, of at least 5 addresses, plus internal nodes).
pub const V6_ENTRY_BYTES: usize = 55;

/// Largest exact cap a [`ClientSet`] accepts.
pub const MAX_EXACT_CAP: usize = 1 << 26;
/// Largest Bloom filter a [`ClientSet`] accepts, in bits (1 GiB).
pub const MAX_BLOOM_BITS: u64 = 1 << 33;

/// The parameters of a [`ClientSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSetConfig {
    /// Addresses kept exactly (default 1 000 000); those beyond go to the Bloom filter.
    pub exact_cap: usize,
    /// Bloom filter size in bits, a multiple of 64 (default 2^26: 8 MiB), allocated only
    /// once the exact set is full.
    pub bloom_bits: u64,
    /// Bits set per key (default 7).
    pub bloom_hashes: u32,
    /// Hash seed of the filter's keys.
    pub seed: u64,
}

impl Default for ClientSetConfig {
    fn default() -> Self {
        Self {
            exact_cap: 1_000_000,
            bloom_bits: 1 << 26,
            bloom_hashes: 7,
            seed: DEFAULT_SEED,
        }
    }
}

impl ClientSetConfig {
    /// Checks the parameters.
    ///
    /// ```
    /// use halfopen::sketch::ClientSetConfig;
    /// assert!(ClientSetConfig::default().validate().is_ok());
    /// let odd = ClientSetConfig { bloom_bits: 100, ..ClientSetConfig::default() };
    /// assert!(odd.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), SketchError> {
        if self.exact_cap > MAX_EXACT_CAP {
            return Err(SketchError::Parameter {
                what: "exact cap",
                value: to_u64(self.exact_cap),
                allowed: "0..=67108864",
            });
        }
        if self.bloom_bits == 0 || self.bloom_bits % 64 != 0 || self.bloom_bits > MAX_BLOOM_BITS {
            return Err(SketchError::Parameter {
                what: "Bloom filter bits",
                value: self.bloom_bits,
                allowed: "a multiple of 64 in 64..=2^33",
            });
        }
        if !(1..=32).contains(&self.bloom_hashes) {
            return Err(SketchError::Parameter {
                what: "Bloom filter hashes",
                value: u64::from(self.bloom_hashes),
                allowed: "1..=32",
            });
        }
        Ok(())
    }

    fn bloom_words(&self) -> usize {
        usize::try_from(self.bloom_bits / 64).unwrap_or(0)
    }
}

/// The addresses that made a successful request, with no false negative ever, in bounded
/// memory: an exact set (a B-tree per family) up to `exact_cap` addresses, then one Bloom
/// filter (the `fastbloom` crate, fixed size) for the addresses beyond.
///
/// * [`contains`](Self::contains) never answers `false` for an inserted address.
/// * [`contains_in`](Self::contains_in) never answers `false` for a network that holds an
///   inserted address. While every address fits the exact set, the answer is exact for any
///   prefix length. Past the cap, the filter holds every overflowing address under each
///   prefix length of [`V4_PREFIXES`] (/32, /24, /23, /22, /20, /16) or [`V6_PREFIXES`]
///   (/128, /64, /56, /48, /32), so those lengths are answered from it (false positives
///   possible, at the filter's rate); any other length then answers `true`, the safe answer
///   (see [`is_exact`](Self::is_exact) and [`is_covered_prefix`]).
///
/// Addresses are canonicalised: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is stored
/// and looked up as IPv4, and an IPv6 network inside `::ffff:0:0/96` is asked of the IPv4
/// addresses it maps.
///
/// A false positive makes the planner refuse to block a network, which is the safe side; a
/// filter filled far past its design makes that happen often, never the other way round.
///
/// ```
/// use halfopen::sketch::{ClientSet, ClientSetConfig};
/// let config = ClientSetConfig { exact_cap: 1, bloom_bits: 4096, ..ClientSetConfig::default() };
/// let mut set = ClientSet::with_config(config).unwrap();
/// set.insert("192.0.2.1".parse().unwrap());
/// set.insert("198.51.100.7".parse().unwrap()); // past the cap: into the filter
/// assert!(set.contains("198.51.100.7".parse().unwrap()));
/// assert!(set.contains_in("198.51.100.0/23".parse().unwrap()));
/// assert!(set.contains_in("198.51.100.0/25".parse().unwrap())); // /25: not covered, safe `true`
/// assert!(!set.is_exact());
/// ```
#[derive(Debug, Clone)]
pub struct ClientSet {
    config: ClientSetConfig,
    /// IPv4 addresses as numbers (compared as integers, in address order).
    v4: BTreeSet<u32>,
    /// IPv6 addresses as numbers.
    v6: BTreeSet<u128>,
    bloom: Option<NetBloom>,
    beyond_cap: u64,
}

/// The Bloom filter of the addresses beyond the exact cap: one key per covered prefix.
#[derive(Debug, Clone)]
struct NetBloom {
    filter: fastbloom::BloomFilter,
    holds_v4: bool,
    holds_v6: bool,
}

impl NetBloom {
    fn new(config: &ClientSetConfig) -> Self {
        Self::from_words(vec![0; config.bloom_words()], config)
    }

    fn from_words(words: Vec<u64>, config: &ClientSetConfig) -> Self {
        let words = if words.is_empty() { vec![0] } else { words };
        Self {
            filter: fastbloom::BloomFilter::from_vec(words)
                .seed(&u128::from(config.seed))
                .hashes(config.bloom_hashes),
            holds_v4: false,
            holds_v6: false,
        }
    }

    fn bytes(&self) -> usize {
        std::mem::size_of_val(self.filter.as_slice())
    }
}

/// Whether [`ClientSet::contains_in`] answers `net` from its filter past the exact cap
/// (the prefix length is in [`V4_PREFIXES`] or [`V6_PREFIXES`]). Networks inside
/// `::ffff:0:0/96` are asked as the IPv4 networks they map.
///
/// ```
/// use halfopen::sketch::is_covered_prefix;
/// assert!(is_covered_prefix(&"198.51.100.0/23".parse().unwrap()));
/// assert!(!is_covered_prefix(&"198.51.100.0/25".parse().unwrap()));
/// assert!(is_covered_prefix(&"2001:db8::/48".parse().unwrap()));
/// ```
pub fn is_covered_prefix(net: &IpNet) -> bool {
    match net {
        IpNet::V4(n) => V4_PREFIXES.contains(&n.prefix_len()),
        IpNet::V6(n) => match mapped_v4_net(n) {
            Some(v4) => V4_PREFIXES.contains(&v4.prefix_len()),
            None => V6_PREFIXES.contains(&n.prefix_len()),
        },
    }
}

fn v4_mask(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn v6_mask(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// The filter key of the /`len` network holding `addr`.
fn v4_key(seed: u64, addr: Ipv4Addr, len: u8) -> u64 {
    let net = u32::from(addr) & v4_mask(len);
    let mut h = StableHasher::new(seed);
    h.write(&[4, len]);
    h.write(&net.to_be_bytes());
    h.finish()
}

fn v6_key(seed: u64, addr: Ipv6Addr, len: u8) -> u64 {
    let net = u128::from(addr) & v6_mask(len);
    let mut h = StableHasher::new(seed);
    h.write(&[6, len]);
    h.write(&net.to_be_bytes());
    h.finish()
}

/// The IPv4 network an IPv6 network inside `::ffff:0:0/96` maps.
fn mapped_v4_net(net: &Ipv6Net) -> Option<Ipv4Net> {
    if net.prefix_len() < 96 {
        return None;
    }
    let v4 = net.network().to_ipv4_mapped()?;
    Ipv4Net::new(v4, net.prefix_len() - 96).ok()
}

/// Whether an IPv6 network shorter than /96 contains all of `::ffff:0:0/96`.
fn holds_mapped_space(net: &Ipv6Net) -> bool {
    let mapped = Ipv6Net::new(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96);
    net.prefix_len() < 96 && mapped.is_ok_and(|m| net.contains(&m))
}

impl Default for ClientSet {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientSet {
    /// An empty set with the default [`ClientSetConfig`].
    pub fn new() -> Self {
        Self::from_valid_config(ClientSetConfig::default())
    }

    /// An empty set with checked parameters.
    pub fn with_config(config: ClientSetConfig) -> Result<Self, SketchError> {
        config.validate()?;
        Ok(Self::from_valid_config(config))
    }

    fn from_valid_config(config: ClientSetConfig) -> Self {
        Self {
            config,
            v4: BTreeSet::new(),
            v6: BTreeSet::new(),
            bloom: None,
            beyond_cap: 0,
        }
    }

    /// The parameters.
    pub fn config(&self) -> &ClientSetConfig {
        &self.config
    }

    /// Adds an address that made a successful request.
    pub fn insert(&mut self, addr: IpAddr) {
        let addr = addr.to_canonical();
        if self.contains_exact(addr) {
            return;
        }
        if self.exact_len() < self.config.exact_cap {
            match addr {
                IpAddr::V4(a) => self.v4.insert(u32::from(a)),
                IpAddr::V6(a) => self.v6.insert(u128::from(a)),
            };
            return;
        }
        self.insert_beyond_cap(addr);
    }

    fn insert_beyond_cap(&mut self, addr: IpAddr) {
        let config = self.config;
        let bloom = self.bloom.get_or_insert_with(|| NetBloom::new(&config));
        // New unless the address's own key (its /32 or /128) was already set.
        let mut already = true;
        match addr {
            IpAddr::V4(a) => {
                bloom.holds_v4 = true;
                for len in V4_PREFIXES {
                    let set = bloom.filter.insert_hash(v4_key(config.seed, a, len));
                    already &= set || len != 32;
                }
            }
            IpAddr::V6(a) => {
                bloom.holds_v6 = true;
                for len in V6_PREFIXES {
                    let set = bloom.filter.insert_hash(v6_key(config.seed, a, len));
                    already &= set || len != 128;
                }
            }
        }
        if !already {
            self.beyond_cap = self.beyond_cap.saturating_add(1);
        }
    }

    fn contains_exact(&self, addr: IpAddr) -> bool {
        match addr {
            IpAddr::V4(a) => self.v4.contains(&u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(&u128::from(a)),
        }
    }

    /// Whether `addr` may have made a successful request: never `false` for one that did.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        if self.contains_exact(addr) {
            return true;
        }
        let Some(bloom) = &self.bloom else {
            return false;
        };
        match addr {
            IpAddr::V4(a) => {
                bloom.holds_v4 && bloom.filter.contains_hash(v4_key(self.config.seed, a, 32))
            }
            IpAddr::V6(a) => {
                bloom.holds_v6 && bloom.filter.contains_hash(v6_key(self.config.seed, a, 128))
            }
        }
    }

    /// Whether `net` may hold an address that made a successful request: never `false` for
    /// one that holds such an address (see the type's documentation for which prefix lengths
    /// are answered from the filter past the cap; the others then answer `true`).
    pub fn contains_in(&self, net: IpNet) -> bool {
        match net.trunc() {
            IpNet::V4(n) => self.contains_in_v4(&n),
            IpNet::V6(n) => self.contains_in_v6(&n),
        }
    }

    fn contains_in_v4(&self, net: &Ipv4Net) -> bool {
        if self
            .v4
            .range(u32::from(net.network())..=u32::from(net.broadcast()))
            .next()
            .is_some()
        {
            return true;
        }
        match &self.bloom {
            Some(b) if b.holds_v4 => {
                let len = net.prefix_len();
                !V4_PREFIXES.contains(&len)
                    || b.filter
                        .contains_hash(v4_key(self.config.seed, net.network(), len))
            }
            _ => false,
        }
    }

    fn contains_in_v6(&self, net: &Ipv6Net) -> bool {
        if let Some(v4) = mapped_v4_net(net) {
            return self.contains_in_v4(&v4);
        }
        if holds_mapped_space(net) && self.holds_any_v4() {
            return true;
        }
        if self
            .v6
            .range(u128::from(net.network())..=u128::from(net.broadcast()))
            .next()
            .is_some()
        {
            return true;
        }
        match &self.bloom {
            Some(b) if b.holds_v6 => {
                let len = net.prefix_len();
                !V6_PREFIXES.contains(&len)
                    || b.filter
                        .contains_hash(v6_key(self.config.seed, net.network(), len))
            }
            _ => false,
        }
    }

    fn holds_any_v4(&self) -> bool {
        !self.v4.is_empty() || self.bloom.as_ref().is_some_and(|b| b.holds_v4)
    }

    /// Whether every address is still in the exact set.
    pub fn is_exact(&self) -> bool {
        self.bloom.is_none()
    }

    /// Addresses in the exact set.
    pub fn exact_len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// Addresses that went to the filter (at most once each, give or take the filter's false
    /// positives, which make a new address look already added).
    pub fn beyond_cap(&self) -> u64 {
        self.beyond_cap
    }

    /// The exact addresses, IPv4 first, each family in address order.
    pub fn exact_addrs(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.v4
            .iter()
            .map(|&a| IpAddr::V4(Ipv4Addr::from(a)))
            .chain(self.v6.iter().map(|&a| IpAddr::V6(Ipv6Addr::from(a))))
    }

    /// The filter's expected false-positive rate for a /32 or /128 lookup now (0 while exact),
    /// from the share of its bits that are set.
    pub fn false_positive_rate(&self) -> f64 {
        let Some(b) = &self.bloom else {
            return 0.0;
        };
        let words = b.filter.as_slice();
        let set: u64 = words.iter().map(|w| u64::from(w.count_ones())).sum();
        let bits = to_u64(words.len()) * 64;
        if bits == 0 {
            return 1.0;
        }
        (set as f64 / bits as f64).powi(i32::try_from(b.filter.num_hashes()).unwrap_or(1))
    }

    /// Adds every address `other` holds: afterwards `self` contains (and `contains_in`) at
    /// least what either did. Past the cap, both filters need the same bits, hashes and
    /// seed; on error `self` is unchanged.
    pub fn merge(&mut self, other: &Self) -> Result<(), SketchError> {
        if other.bloom.is_some() {
            incompatible(
                "Bloom filter size (bits)",
                self.config.bloom_bits,
                other.config.bloom_bits,
            )?;
            incompatible(
                "Bloom filter hash count",
                u64::from(self.config.bloom_hashes),
                u64::from(other.config.bloom_hashes),
            )?;
            incompatible("hash seed", self.config.seed, other.config.seed)?;
        }
        for a in other.exact_addrs() {
            self.insert(a);
        }
        if let Some(theirs) = &other.bloom {
            let config = self.config;
            let ours = self.bloom.get_or_insert_with(|| NetBloom::new(&config));
            if ours.filter.num_bits() == theirs.filter.num_bits()
                && ours.filter.num_hashes() == theirs.filter.num_hashes()
            {
                ours.filter.union(&theirs.filter);
            } else {
                // Equal parameters make equal filters; should they ever differ, a full
                // filter keeps the no-false-negative promise.
                *ours = NetBloom::from_words(vec![u64::MAX; config.bloom_words()], &config);
                ours.holds_v4 = true;
                ours.holds_v6 = true;
            }
            ours.holds_v4 |= theirs.holds_v4;
            ours.holds_v6 |= theirs.holds_v6;
            self.beyond_cap = self.beyond_cap.saturating_add(other.beyond_cap);
        }
        Ok(())
    }

    /// Bytes held now (the exact set as an upper estimate, [`V4_ENTRY_BYTES`] and
    /// [`V6_ENTRY_BYTES`] per address).
    pub fn memory_bytes(&self) -> usize {
        size_of::<Self>()
            + self.v4.len() * V4_ENTRY_BYTES
            + self.v6.len() * V6_ENTRY_BYTES
            + self.bloom.as_ref().map_or(0, NetBloom::bytes)
    }

    /// The most [`memory_bytes`](Self::memory_bytes) can be with `config`, however many
    /// addresses are added. Writing or reading a summary whose filter is in use needs one
    /// more filter's worth for a moment (the placement fingerprint is computed on an empty
    /// filter of the same size).
    pub fn memory_bound(config: &ClientSetConfig) -> usize {
        size_of::<Self>()
            + config.exact_cap.min(MAX_EXACT_CAP) * V6_ENTRY_BYTES
            + config.bloom_words() * size_of::<u64>()
    }
}

/// Probe keys whose filter positions identify the filter's indexing: a summary written by
/// a `fastbloom` that placed keys differently must not be read (its `contains` would have
/// false negatives).
const BLOOM_PROBES: [u64; 4] = [
    0x0123_4567_89ab_cdef,
    0xfedc_ba98_7654_3210,
    0x0f1e_2d3c_4b5a_6978,
    0xdead_beef_cafe_f00d,
];

/// The fingerprint of how this build's filter places keys, for `config`'s size and hash
/// count: the stable hash of the positions of the probe keys in an empty filter.
fn bloom_fingerprint(config: &ClientSetConfig) -> u64 {
    let mut probe = NetBloom::new(config);
    for p in BLOOM_PROBES {
        probe.filter.insert_hash(p);
    }
    let mut h = StableHasher::new(0);
    for (i, w) in probe.filter.as_slice().iter().enumerate() {
        if *w != 0 {
            h.write(&to_u64(i).to_le_bytes());
            h.write(&w.to_le_bytes());
        }
    }
    h.finish()
}

#[derive(Serialize)]
struct ClientSetOut<'a> {
    config: &'a ClientSetConfig,
    v4: AddrSeq<'a, u32>,
    v6: AddrSeq<'a, u128>,
    beyond_cap: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    bloom: Option<BloomOut<'a>>,
}

/// A set of addresses kept as numbers, written as addresses (`"192.0.2.1"` in JSON).
struct AddrSeq<'a, T>(&'a BTreeSet<T>);

impl Serialize for AddrSeq<'_, u32> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|&a| Ipv4Addr::from(a)))
    }
}

impl Serialize for AddrSeq<'_, u128> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|&a| Ipv6Addr::from(a)))
    }
}

#[derive(Serialize)]
struct BloomOut<'a> {
    holds_v4: bool,
    holds_v6: bool,
    fingerprint: u64,
    words: &'a [u64],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSetIn {
    config: ClientSetConfig,
    v4: BTreeSet<Ipv4Addr>,
    v6: BTreeSet<Ipv6Addr>,
    beyond_cap: u64,
    #[serde(default)]
    bloom: Option<BloomIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BloomIn {
    holds_v4: bool,
    holds_v6: bool,
    fingerprint: u64,
    words: Vec<u64>,
}

impl Serialize for ClientSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ClientSetOut {
            config: &self.config,
            v4: AddrSeq(&self.v4),
            v6: AddrSeq(&self.v6),
            beyond_cap: self.beyond_cap,
            bloom: self.bloom.as_ref().map(|b| BloomOut {
                holds_v4: b.holds_v4,
                holds_v6: b.holds_v6,
                fingerprint: bloom_fingerprint(&self.config),
                words: b.filter.as_slice(),
            }),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ClientSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = ClientSetIn::deserialize(deserializer)?;
        ClientSet::try_from(repr).map_err(D::Error::custom)
    }
}

impl TryFrom<ClientSetIn> for ClientSet {
    type Error = SketchError;

    fn try_from(repr: ClientSetIn) -> Result<Self, SketchError> {
        let config = repr.config;
        config.validate()?;
        let exact = repr.v4.len() + repr.v6.len();
        if exact > config.exact_cap {
            return Err(SketchError::Invalid(format!(
                "{exact} exact addresses for an exact cap of {}",
                config.exact_cap
            )));
        }
        if repr.v6.iter().any(|a| a.to_ipv4_mapped().is_some()) {
            return Err(SketchError::Invalid(
                "an IPv4-mapped address in the IPv6 set".into(),
            ));
        }
        let bloom = match repr.bloom {
            None => None,
            Some(b) => {
                if b.words.len() != config.bloom_words() {
                    return Err(SketchError::Invalid(format!(
                        "a Bloom filter of {} words for {} bits",
                        b.words.len(),
                        config.bloom_bits
                    )));
                }
                if b.fingerprint != bloom_fingerprint(&config) {
                    return Err(SketchError::Invalid(
                        "a Bloom filter that places keys differently from this build's \
                         (written by another version): it cannot be read without false negatives"
                            .into(),
                    ));
                }
                let mut bloom = NetBloom::from_words(b.words, &config);
                bloom.holds_v4 = b.holds_v4;
                bloom.holds_v6 = b.holds_v6;
                Some(bloom)
            }
        };
        Ok(Self {
            config,
            v4: repr.v4.into_iter().map(u32::from).collect(),
            v6: repr.v6.into_iter().map(u128::from).collect(),
            bloom,
            beyond_cap: repr.beyond_cap,
        })
    }
}

impl PartialEq for ClientSet {
    /// Same parameters, exact sets and filter bits.
    fn eq(&self, other: &Self) -> bool {
        let bloom_eq = match (&self.bloom, &other.bloom) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a.holds_v4 == b.holds_v4
                    && a.holds_v6 == b.holds_v6
                    && a.filter.as_slice() == b.filter.as_slice()
                    && a.filter.num_hashes() == b.filter.num_hashes()
            }
            _ => false,
        };
        self.config == other.config
            && self.v4 == other.v4
            && self.v6 == other.v6
            && self.beyond_cap == other.beyond_cap
            && bloom_eq
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap as StdMap, HashSet};
    use std::io::Read;

    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    use super::*;

    // ---- helpers -------------------------------------------------------------------

    /// Fixed-seed proptest configuration for the statistical properties (an estimate
    /// within 4 standard errors fails about once in 16 000 draws: the cases are fixed so
    /// that a failure is a change in behaviour, not bad luck).
    fn fixed(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            rng_seed: RngSeed::Fixed(0x5eed),
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// SplitMix64 (Steele, Lea and Flood 2014): a deterministic stream for large inputs.
    struct Mix(u64);

    impl Mix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn data(path: &str) -> Vec<u8> {
        let full = format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"));
        let raw = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
        if path.ends_with(".gz") {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            out
        } else {
            raw
        }
    }

    /// Source address of every inbound SYN line of a real ipfw log, in order.
    fn ipfw_sources(path: &str) -> Vec<IpAddr> {
        let text = data(path);
        let sources: Vec<IpAddr> = text
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| halfopen_fwlog::parse_line(halfopen_fwlog::Format::Ipfw, l).ok())
            .map(|r| r.src)
            .collect();
        assert!(!sources.is_empty(), "{path}: no ipfw line read");
        sources
    }

    /// Client addresses of the real Apache access log's successful (2xx/3xx) requests.
    fn successful_clients(path: &str) -> Vec<IpAddr> {
        let text = data(path);
        let format = halfopen_weblog::LogFormat::preset("combined").unwrap();
        text.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| format.parse(l).ok())
            .filter(|r| r.status.is_some_and(|s| (200..400).contains(&s)))
            .filter_map(|r| r.client.and_then(|c| c.ip()))
            .collect()
    }

    fn within_sigmas(d: &DistinctCount, truth: usize, sigmas: f64) -> bool {
        let truth = truth as f64;
        (d.estimate() - truth).abs() <= sigmas * d.relative_standard_error() * truth
    }

    // ---- stable hashing --------------------------------------------------------------

    #[test]
    fn stable_hash_is_pinned() {
        // Golden values: a change here changes every summary ever written (they would no
        // longer merge with old ones). Change only with a summary format version bump.
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(stable_hash(DEFAULT_SEED, &v4), GOLDEN_V4);
        assert_eq!(stable_hash(DEFAULT_SEED, &v6), GOLDEN_V6);
        assert_ne!(stable_hash(DEFAULT_SEED + 1, &v4), GOLDEN_V4);
        // Families and lengths are kept apart.
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_ne!(stable_hash(1, &mapped), stable_hash(1, &v4));
        assert_ne!(stable_hash(1, &("ab", "c")), stable_hash(1, &("a", "bc")));
        let net: IpNet = "192.0.2.77/24".parse().unwrap();
        let trunc: IpNet = "192.0.2.0/24".parse().unwrap();
        assert_eq!(stable_hash(1, &net), stable_hash(1, &trunc));
    }

    const GOLDEN_V4: u64 = 11_270_428_453_052_999_520;
    const GOLDEN_V6: u64 = 14_122_312_389_803_034_186;

    // ---- DistinctCount ---------------------------------------------------------------

    proptest! {
        #![proptest_config(fixed(64))]

        #[test]
        fn distinct_is_exact_up_to_the_limit(n in 0usize..=1024, seed in any::<u64>(), dups in 0usize..200) {
            let mut d = DistinctCount::new();
            for i in 0..n as u64 {
                d.insert(&(seed, i));
            }
            for i in 0..dups.min(n) as u64 {
                d.insert(&(seed, i));
            }
            prop_assert!(d.is_exact());
            prop_assert_eq!(d.count(), n as u64);
            prop_assert_eq!(d.relative_standard_error(), 0.0);
            prop_assert!(d.memory_bytes() <= DistinctCount::memory_bound(DEFAULT_PRECISION, DEFAULT_EXACT_LIMIT));
        }

        #[test]
        fn distinct_estimate_within_4_standard_errors(exp in 1.0f64..5.302, seed in any::<u64>()) {
            // n log-uniform in 10..200 000.
            let n = 10f64.powf(exp) as usize;
            let mut d = DistinctCount::new();
            for i in 0..n as u64 {
                d.insert(&(seed, i));
            }
            prop_assert_eq!(d.is_exact(), n <= DEFAULT_EXACT_LIMIT);
            prop_assert!(within_sigmas(&d, n, 4.0), "n {} estimate {}", n, d.estimate());
            prop_assert!(d.memory_bytes() <= DistinctCount::memory_bound(DEFAULT_PRECISION, DEFAULT_EXACT_LIMIT));
        }

        #[test]
        fn distinct_merge_is_the_summary_of_the_union(
            na in 0usize..5000, nb in 0usize..5000, overlap in 0usize..3000, seed in any::<u64>(),
        ) {
            let start_b = na.saturating_sub(overlap) as u64;
            let (mut a, mut b, mut union) = (DistinctCount::new(), DistinctCount::new(), DistinctCount::new());
            for i in 0..na as u64 {
                a.insert(&(seed, i));
                union.insert(&(seed, i));
            }
            for i in start_b..start_b + nb as u64 {
                b.insert(&(seed, i));
                union.insert(&(seed, i));
            }
            let mut ab = a.clone();
            ab.merge(&b).unwrap();
            let mut ba = b.clone();
            ba.merge(&a).unwrap();
            // Register for register (or hash for hash while exact).
            prop_assert_eq!(&ab, &union);
            prop_assert_eq!(&ba, &union);
        }

        #[test]
        fn distinct_serde_round_trip(n in 0usize..6000, seed in any::<u64>(), precision in MIN_PRECISION..=14u8, limit in 0usize..2000) {
            let mut d = DistinctCount::with_params(precision, limit, seed).unwrap();
            let mut again = d.clone();
            for i in 0..n as u64 {
                d.insert(&i);
                again.insert(&i);
            }
            let json = serde_json::to_string(&d).unwrap();
            // Two runs over the same input write the same bytes.
            prop_assert_eq!(&json, &serde_json::to_string(&again).unwrap());
            let back: DistinctCount = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &d);
            prop_assert!(d.memory_bytes() <= DistinctCount::memory_bound(precision, limit));
        }

        #[test]
        fn distinct_reading_never_panics(text in ".{0,200}") {
            let _ = serde_json::from_str::<DistinctCount>(&text);
        }
    }

    #[test]
    fn distinct_rejects_what_no_summary_holds() {
        let bad = [
            r#"{"seed":1,"precision":3,"exact_limit":10,"exact":[]}"#,
            r#"{"seed":1,"precision":19,"exact_limit":10,"exact":[]}"#,
            r#"{"seed":1,"precision":4,"exact_limit":70000,"exact":[]}"#,
            r#"{"seed":1,"precision":4,"exact_limit":1,"exact":[1,2]}"#,
            r#"{"seed":1,"precision":4,"exact_limit":1}"#,
            r#"{"seed":1,"precision":4,"exact_limit":1,"exact":[],"registers":[]}"#,
            r#"{"seed":1,"precision":4,"exact_limit":0,"registers":[0,0]}"#,
            r#"{"seed":1,"precision":4,"exact_limit":0,"registers":[62,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}"#,
            r#"{"seed":1,"precision":4,"exact_limit":0,"registers":[],"extra":1}"#,
        ];
        for text in bad {
            assert!(
                serde_json::from_str::<DistinctCount>(text).is_err(),
                "{text}"
            );
        }
        let good = r#"{"seed":1,"precision":4,"exact_limit":0,"registers":[61,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}"#;
        assert!(serde_json::from_str::<DistinctCount>(good).is_ok());
        // Unsorted or repeated hashes are normalised.
        let d: DistinctCount =
            serde_json::from_str(r#"{"seed":1,"precision":4,"exact_limit":4,"exact":[9,3,9]}"#)
                .unwrap();
        assert_eq!(d.count(), 2);
    }

    #[test]
    fn distinct_merge_refuses_other_parameters() {
        let mut a = DistinctCount::new();
        a.insert("x");
        let before = a.clone();
        let b = DistinctCount::with_params(DEFAULT_PRECISION, 1024, 7).unwrap();
        assert!(matches!(
            a.merge(&b),
            Err(SketchError::Incompatible {
                what: "hash seed",
                ..
            })
        ));
        let c = DistinctCount::with_params(14, 1024, DEFAULT_SEED).unwrap();
        assert!(matches!(
            a.merge(&c),
            Err(SketchError::Incompatible {
                what: "precision",
                ..
            })
        ));
        assert_eq!(a, before);
    }

    #[test]
    fn distinct_empty_and_extreme_sketches() {
        let empty = DistinctCount::with_params(MIN_PRECISION, 0, 1).unwrap();
        assert_eq!(empty.estimate(), 0.0);
        // Every register at its largest value: finite and huge, no panic.
        let full: DistinctCount = serde_json::from_str(
            r#"{"seed":1,"precision":4,"exact_limit":0,"registers":[61,61,61,61,61,61,61,61,61,61,61,61,61,61,61,61]}"#,
        )
        .unwrap();
        assert!(full.estimate().is_finite() && full.estimate() > 1e18);
        let mut d = DistinctCount::with_params(MAX_PRECISION, 0, 1).unwrap();
        for i in 0..100u32 {
            d.insert(&i);
        }
        assert!(within_sigmas(&d, 100, 4.0) || (d.estimate() - 100.0).abs() < 2.0);
        assert!(d.memory_bytes() <= DistinctCount::memory_bound(MAX_PRECISION, 0));
    }

    #[test]
    fn distinct_counts_real_flood_sources() {
        // The floods lab run: hping3 --rand-source (18 610 SYNs from random addresses), a
        // spoofed /26, an IPv6 /64 flood and real clients, read from its ipfw log.
        let sources = ipfw_sources("lab/floods/ipfw.log.gz");
        let truth: HashSet<IpAddr> = sources.iter().copied().collect();
        assert!(truth.len() > 20_000, "{} distinct", truth.len());
        let mut whole = DistinctCount::new();
        let (mut first, mut second) = (DistinctCount::new(), DistinctCount::new());
        let half = sources.len() / 2;
        for (i, s) in sources.iter().enumerate() {
            whole.insert(s);
            if i < half {
                first.insert(s);
            } else {
                second.insert(s);
            }
        }
        assert!(!whole.is_exact());
        assert!(
            within_sigmas(&whole, truth.len(), 4.0),
            "truth {} estimate {}",
            truth.len(),
            whole.estimate()
        );
        first.merge(&second).unwrap();
        assert_eq!(first, whole);
        // The small run stays exact.
        let run1 = ipfw_sources("lab/run1/ipfw.log");
        let mut small = DistinctCount::new();
        run1.iter().for_each(|s| small.insert(s));
        let exact: HashSet<IpAddr> = run1.into_iter().collect();
        assert!(small.is_exact());
        assert_eq!(small.count(), exact.len() as u64);
    }

    // ---- TopK ------------------------------------------------------------------------

    /// A Zipf-like stream: key = floor(universe^(u^skew)), weights 1..=3.
    fn zipf_stream(n: usize, universe: u32, skew: f64, seed: u64) -> Vec<(u32, u64)> {
        let mut mix = Mix(seed);
        (0..n)
            .map(|_| {
                let u = mix.unit().powf(skew);
                let key = f64::from(universe).powf(u) as u32;
                (key, 1 + mix.next() % 3)
            })
            .collect()
    }

    fn exact_counts(stream: &[(u32, u64)]) -> StdMap<u32, u64> {
        let mut m = StdMap::new();
        for &(k, w) in stream {
            *m.entry(k).or_insert(0) += w;
        }
        m
    }

    /// The Space-Saving guarantees of `top` for a stream of exact weights `truth`.
    fn check_guarantees(
        top: &TopK<u32, u64>,
        truth: &StdMap<u32, u64>,
    ) -> Result<(), TestCaseError> {
        let total: u64 = truth.values().sum();
        prop_assert_eq!(top.total(), total);
        prop_assert!(top.len() <= top.capacity());
        let cap = top.capacity() as u64;
        prop_assert!(
            top.absent_bound() * cap <= total,
            "absent bound {} total {} cap {}",
            top.absent_bound(),
            total,
            cap
        );
        for (k, &t) in truth {
            match top.get(k) {
                Some(c) => {
                    prop_assert!(
                        c.count >= t && c.guaranteed() <= t,
                        "key {} true {} count {} error {}",
                        k,
                        t,
                        c.count,
                        c.error
                    );
                    // The payload counts what was added since the key entered.
                    prop_assert!(c.payload <= t);
                }
                None => {
                    prop_assert!(
                        t <= top.absent_bound(),
                        "absent key {} true {} bound {}",
                        k,
                        t,
                        top.absent_bound()
                    );
                    prop_assert!(
                        t * cap <= total,
                        "key {} heavier than N/capacity is missing",
                        k
                    );
                }
            }
        }
        for (k, _) in top.iter() {
            prop_assert!(truth.contains_key(k));
        }
        prop_assert!(top.memory_bytes() <= TopK::<u32, u64>::memory_bound(top.capacity()));
        Ok(())
    }

    fn feed(top: &mut TopK<u32, u64>, stream: &[(u32, u64)]) {
        for &(k, w) in stream {
            *top.entry(k, w) += w;
        }
    }

    proptest! {
        #![proptest_config(fixed(128))]

        #[test]
        fn topk_guarantees_on_zipf_streams(
            capacity in 1usize..80, n in 0usize..6000, universe in 1u32..3000,
            skew in 1.0f64..3.0, seed in any::<u64>(),
        ) {
            let stream = zipf_stream(n, universe, skew, seed);
            let mut top = TopK::new(capacity);
            feed(&mut top, &stream);
            check_guarantees(&top, &exact_counts(&stream))?;
            // Space-Saving keeps the sum of counts equal to the total weight.
            let sum: u64 = top.iter().map(|(_, c)| c.count).sum();
            prop_assert_eq!(sum, top.total());
        }

        #[test]
        fn topk_merge_of_parts_keeps_the_guarantees(
            capacity in 1usize..80, n in 0usize..6000, universe in 1u32..3000,
            skew in 1.0f64..3.0, seed in any::<u64>(), parts in 2usize..5,
        ) {
            let stream = zipf_stream(n, universe, skew, seed);
            let chunk = (n / parts).max(1);
            let mut merged: TopK<u32, u64> = TopK::new(capacity);
            for part in stream.chunks(chunk) {
                let mut top = TopK::new(capacity);
                feed(&mut top, part);
                merged.merge(&top);
            }
            check_guarantees(&merged, &exact_counts(&stream))?;
            // And it goes on as a summary of the whole.
            let more = zipf_stream(n / 2, universe, skew, seed ^ 1);
            feed(&mut merged, &more);
            let mut all = stream.clone();
            all.extend_from_slice(&more);
            check_guarantees(&merged, &exact_counts(&all))?;
        }

        #[test]
        fn topk_serde_round_trip_and_determinism(
            capacity in 1usize..50, n in 0usize..3000, universe in 1u32..500, seed in any::<u64>(),
        ) {
            let stream = zipf_stream(n, universe, 1.5, seed);
            let mut top = TopK::new(capacity);
            let mut twin = TopK::new(capacity);
            feed(&mut top, &stream);
            feed(&mut twin, &stream);
            let json = serde_json::to_string(&top).unwrap();
            prop_assert_eq!(&json, &serde_json::to_string(&twin).unwrap());
            let mut back: TopK<u32, u64> = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &top);
            // The read summary evicts exactly as the original would.
            let more = zipf_stream(n, universe, 1.5, !seed);
            feed(&mut back, &more);
            feed(&mut top, &more);
            prop_assert_eq!(&back, &top);
        }

        #[test]
        fn topk_reading_never_panics(text in ".{0,200}") {
            let _ = serde_json::from_str::<TopK<u32, u64>>(&text);
        }
    }

    #[test]
    fn topk_flood_of_new_keys_stays_bounded() {
        let capacity = 64;
        let mut top: TopK<u32, ()> = TopK::new(capacity);
        let mut returned = 0u64;
        for k in 0..100_000u32 {
            let (_, replaced) = top.entry_evicting(k, 1);
            returned += u64::from(replaced.is_some());
        }
        assert_eq!(top.len(), capacity);
        assert_eq!(top.evicted(), 100_000 - capacity as u64);
        assert_eq!(returned, top.evicted());
        assert!(top.absent_bound() <= 100_000 / capacity as u64);
        assert!(top.memory_bytes() <= TopK::<u32, ()>::memory_bound(capacity));
        assert_eq!(top.heap.len(), top.slots.len());
        assert_eq!(top.index.len(), top.slots.len());
    }

    #[test]
    fn topk_churn_at_a_load_factor_boundary_stays_bounded() {
        // 896 = 7/8 of 1024 buckets: the map is exactly full, and tombstones from
        // replacements make it grow once; the bound allows for that.
        for capacity in [7, 8, 896, 897] {
            let mut top: TopK<u64, u64> = TopK::new(capacity);
            let mut mix = Mix(capacity as u64);
            for _ in 0..60_000 {
                let k = mix.next() % 50_000;
                *top.entry(k, 1) += 1;
                assert!(top.len() <= capacity);
            }
            assert!(
                top.memory_bytes() <= TopK::<u64, u64>::memory_bound(capacity),
                "capacity {capacity}: {} > {}",
                top.memory_bytes(),
                TopK::<u64, u64>::memory_bound(capacity)
            );
        }
    }

    #[test]
    fn topk_rejects_what_no_summary_holds() {
        let bad = [
            r#"{"capacity":0,"total":0,"absent_bound":0,"evicted":0,"entries":[]}"#,
            r#"{"capacity":99999999999,"total":0,"absent_bound":0,"evicted":0,"entries":[]}"#,
            r#"{"capacity":1,"total":2,"absent_bound":0,"evicted":0,"entries":[{"key":1,"count":1,"error":0,"payload":1},{"key":2,"count":1,"error":0,"payload":1}]}"#,
            r#"{"capacity":2,"total":2,"absent_bound":0,"evicted":0,"entries":[{"key":1,"count":1,"error":2,"payload":1}]}"#,
            r#"{"capacity":2,"total":2,"absent_bound":5,"evicted":0,"entries":[{"key":1,"count":1,"error":0,"payload":1}]}"#,
            r#"{"capacity":2,"total":2,"absent_bound":0,"evicted":0,"entries":[{"key":1,"count":1,"error":0,"payload":1},{"key":1,"count":1,"error":0,"payload":1}]}"#,
        ];
        for text in bad {
            assert!(
                serde_json::from_str::<TopK<u32, u64>>(text).is_err(),
                "{text}"
            );
        }
    }

    #[test]
    fn topk_finds_the_heavy_sources_of_a_real_flood() {
        let sources = ipfw_sources("lab/floods/ipfw.log.gz");
        let mut truth: StdMap<IpAddr, u64> = StdMap::new();
        for s in &sources {
            *truth.entry(*s).or_insert(0) += 1;
        }
        let capacity = 128;
        let mut top: TopK<IpAddr, u64> = TopK::new(capacity);
        // Per /24 (or /64) as well: the spoofed /26 and the IPv6 /64 are heavy networks.
        let mut nets: TopK<IpNet, ()> = TopK::new(16);
        for s in &sources {
            *top.entry(*s, 1) += 1;
            let len = if s.is_ipv4() { 24 } else { 64 };
            nets.entry(IpNet::new(*s, len).unwrap().trunc(), 1);
        }
        let n = sources.len() as u64;
        for (addr, &t) in &truth {
            if t * capacity as u64 > n {
                let c = top
                    .get(addr)
                    .unwrap_or_else(|| panic!("{addr} ({t} SYNs) missing"));
                assert!(c.guaranteed() <= t && t <= c.count);
            }
        }
        // hping3 from a real address: 180 SYNs, the heaviest single source.
        let real: IpAddr = "198.51.100.50".parse().unwrap();
        assert_eq!(truth[&real], 180);
        assert_eq!(*top.sorted()[0].0, real);
        let heavy: Vec<String> = nets
            .sorted()
            .iter()
            .take(2)
            .map(|(k, _)| k.to_string())
            .collect();
        assert!(heavy.contains(&"203.0.113.0/24".to_string()), "{heavy:?}");
        assert!(
            heavy.contains(&"2001:db8:bad:1::/64".to_string()),
            "{heavy:?}"
        );
    }

    // ---- ClientSet -------------------------------------------------------------------

    fn tiny(exact_cap: usize, words: u64, hashes: u32) -> ClientSetConfig {
        ClientSetConfig {
            exact_cap,
            bloom_bits: 64 * words,
            bloom_hashes: hashes,
            seed: 3,
        }
    }

    /// Addresses from small pools so that networks share members: IPv4 in 10.0.0.0/14,
    /// IPv6 in 2001:db8::/40 with few distinct /64s, and IPv4-mapped IPv6.
    fn addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            (0u32..(1 << 18)).prop_map(|x| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | x))),
            (0u16..256, 0u16..4, any::<u16>()).prop_map(|(a, b, c)| {
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, a, b, 0, 0, 0, c))
            }),
            (0u32..(1 << 18))
                .prop_map(|x| IpAddr::V6(Ipv4Addr::from(0x0a00_0000 | x).to_ipv6_mapped())),
        ]
    }

    /// Any network over the same pools, any prefix length.
    fn net() -> impl Strategy<Value = IpNet> {
        (addr(), any::<u8>()).prop_map(|(a, len)| {
            let max = if a.is_ipv4() { 33 } else { 129 };
            IpNet::new(a, len % max).unwrap()
        })
    }

    fn model_contains_in(model: &HashSet<IpAddr>, net: &IpNet) -> bool {
        model.iter().any(|a| {
            net.contains(a)
                || match (a, net) {
                    // A client stored as IPv4 is inside the IPv6 networks holding its mapped form.
                    (IpAddr::V4(v4), IpNet::V6(_)) => {
                        net.contains(&IpAddr::V6(v4.to_ipv6_mapped()))
                    }
                    _ => false,
                }
        })
    }

    fn covered_nets(a: IpAddr) -> Vec<IpNet> {
        let a = a.to_canonical();
        let lens: &[u8] = if a.is_ipv4() {
            &V4_PREFIXES
        } else {
            &V6_PREFIXES
        };
        let mut nets: Vec<IpNet> = lens
            .iter()
            .map(|&l| IpNet::new(a, l).unwrap().trunc())
            .collect();
        if let IpAddr::V4(v4) = a {
            // The same networks asked in their IPv4-mapped IPv6 form.
            nets.extend(V4_PREFIXES.iter().map(|&l| {
                IpNet::new(IpAddr::V6(v4.to_ipv6_mapped()), 96 + l)
                    .unwrap()
                    .trunc()
            }));
            nets.push("::ffff:0:0/96".parse().unwrap());
            nets.push("::/0".parse().unwrap());
        }
        nets
    }

    proptest! {
        #![proptest_config(fixed(256))]

        #[test]
        fn clientset_never_a_false_negative(
            cap in 0usize..6, words in 1u64..20, hashes in 1u32..5,
            clients in proptest::collection::vec(addr(), 0..60),
            queries in proptest::collection::vec(net(), 0..60),
        ) {
            let mut set = ClientSet::with_config(tiny(cap, words, hashes)).unwrap();
            for &c in &clients {
                set.insert(c);
            }
            let model: HashSet<IpAddr> = clients.iter().map(|a| a.to_canonical()).collect();
            prop_assert_eq!(set.is_exact(), model.len() <= cap);
            for &c in &clients {
                prop_assert!(set.contains(c));
                prop_assert!(set.contains(c.to_canonical()));
                for n in covered_nets(c) {
                    prop_assert!(set.contains_in(n), "{} holds {} but answered false", n, c);
                }
            }
            for q in &queries {
                let truth = model_contains_in(&model, q);
                let answer = set.contains_in(*q);
                prop_assert!(answer || !truth, "{} holds a client but answered false", q);
                if set.is_exact() {
                    prop_assert_eq!(answer, truth, "exact set, {}", q);
                }
                if let IpNet::V4(n) = q {
                    if n.prefix_len() == 32 {
                        prop_assert_eq!(set.contains(n.addr().into()), answer);
                    }
                }
            }
            prop_assert!(set.memory_bytes() <= ClientSet::memory_bound(set.config()));
        }

        #[test]
        fn clientset_merge_is_the_union(
            cap in 0usize..6, words in 1u64..20, hashes in 1u32..5,
            a in proptest::collection::vec(addr(), 0..40),
            b in proptest::collection::vec(addr(), 0..40),
            queries in proptest::collection::vec(net(), 0..40),
        ) {
            let config = tiny(cap, words, hashes);
            let (mut sa, mut sb) = (ClientSet::with_config(config).unwrap(), ClientSet::with_config(config).unwrap());
            a.iter().for_each(|&x| sa.insert(x));
            b.iter().for_each(|&x| sb.insert(x));
            let mut merged = sa.clone();
            merged.merge(&sb).unwrap();
            for &x in a.iter().chain(&b) {
                prop_assert!(merged.contains(x));
                for n in covered_nets(x) {
                    prop_assert!(merged.contains_in(n));
                }
            }
            for q in &queries {
                if sa.contains_in(*q) || sb.contains_in(*q) {
                    // Not exactly "the same answer": the merged filter may hold more.
                    prop_assert!(merged.contains_in(*q));
                }
            }
            // With room for everything, the merge is exactly the set of the union.
            let big = ClientSetConfig { exact_cap: 1000, ..config };
            let (mut ea, mut eb, mut union) = (
                ClientSet::with_config(big).unwrap(),
                ClientSet::with_config(big).unwrap(),
                ClientSet::with_config(big).unwrap(),
            );
            a.iter().for_each(|&x| { ea.insert(x); union.insert(x); });
            b.iter().for_each(|&x| { eb.insert(x); union.insert(x); });
            ea.merge(&eb).unwrap();
            prop_assert_eq!(&ea, &union);
        }

        #[test]
        fn clientset_serde_round_trip(
            cap in 0usize..6, words in 1u64..20, hashes in 1u32..5,
            clients in proptest::collection::vec(addr(), 0..40),
        ) {
            let mut set = ClientSet::with_config(tiny(cap, words, hashes)).unwrap();
            clients.iter().for_each(|&x| set.insert(x));
            let json = serde_json::to_string(&set).unwrap();
            let back: ClientSet = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(&back, &set);
            for &c in &clients {
                prop_assert!(back.contains(c));
            }
        }

        #[test]
        fn clientset_reading_never_panics(text in ".{0,200}") {
            let _ = serde_json::from_str::<ClientSet>(&text);
        }
    }

    #[test]
    fn clientset_uncovered_lengths_answer_true_past_the_cap() {
        let mut set = ClientSet::with_config(tiny(0, 64, 3)).unwrap();
        set.insert("198.51.100.7".parse().unwrap());
        assert!(!set.is_exact());
        assert!(set.contains_in("198.51.100.0/25".parse().unwrap()));
        assert!(set.contains_in("0.0.0.0/0".parse().unwrap()));
        assert!(!is_covered_prefix(&"198.51.100.0/25".parse().unwrap()));
        // No IPv6 address beyond the cap: IPv6 networks are still answered exactly.
        assert!(!set.contains_in("2001:db8::/33".parse().unwrap()));
        // While exact, any length is exact.
        let mut exact = ClientSet::new();
        exact.insert("198.51.100.7".parse().unwrap());
        assert!(exact.contains_in("198.51.100.0/25".parse().unwrap()));
        assert!(!exact.contains_in("198.51.100.128/25".parse().unwrap()));
        assert!(exact.contains_in("::ffff:198.51.100.0/120".parse().unwrap()));
        assert!(exact.contains_in("::/0".parse().unwrap()));
        assert!(!exact.contains_in("2001:db8::/32".parse().unwrap()));
    }

    #[test]
    fn clientset_rejects_what_no_summary_holds() {
        let mut set = ClientSet::with_config(tiny(1, 2, 3)).unwrap();
        set.insert("192.0.2.1".parse().unwrap());
        set.insert("192.0.2.2".parse().unwrap());
        let good: serde_json::Value = serde_json::to_value(&set).unwrap();
        let tamper = |f: &dyn Fn(&mut serde_json::Value)| {
            let mut v = good.clone();
            f(&mut v);
            serde_json::from_value::<ClientSet>(v)
        };
        assert!(tamper(&|_| {}).is_ok());
        assert!(tamper(&|v| v["bloom"]["fingerprint"] = 1.into()).is_err());
        assert!(tamper(&|v| v["bloom"]["words"] = serde_json::json!([0])).is_err());
        assert!(tamper(&|v| v["config"]["exact_cap"] = 0.into()).is_err());
        assert!(tamper(&|v| v["config"]["bloom_bits"] = 100.into()).is_err());
        assert!(tamper(&|v| v["config"]["bloom_hashes"] = 0.into()).is_err());
        assert!(tamper(&|v| v["v6"] = serde_json::json!(["::ffff:192.0.2.9"])).is_err());
        assert!(tamper(&|v| v["unknown"] = 1.into()).is_err());
    }

    #[test]
    fn clientset_merge_refuses_other_filters() {
        let mut a = ClientSet::with_config(tiny(0, 2, 3)).unwrap();
        a.insert("192.0.2.1".parse().unwrap());
        let before = a.clone();
        for other in [
            tiny(0, 4, 3),
            tiny(0, 2, 4),
            ClientSetConfig {
                seed: 9,
                ..tiny(0, 2, 3)
            },
        ] {
            let mut b = ClientSet::with_config(other).unwrap();
            b.insert("192.0.2.2".parse().unwrap());
            assert!(matches!(a.merge(&b), Err(SketchError::Incompatible { .. })));
            assert_eq!(a, before);
        }
        // An exact other merges whatever its filter settings.
        let mut c = ClientSet::with_config(tiny(10, 4, 3)).unwrap();
        c.insert("192.0.2.3".parse().unwrap());
        a.merge(&c).unwrap();
        assert!(a.contains("192.0.2.3".parse().unwrap()));
    }

    #[test]
    fn clientset_bloom_placement_is_pinned() {
        // Golden fingerprint of the default filter: a `fastbloom` that places keys
        // differently fails here first (and its summaries are refused on reading).
        assert_eq!(
            bloom_fingerprint(&ClientSetConfig::default()),
            GOLDEN_FINGERPRINT
        );
    }

    const GOLDEN_FINGERPRINT: u64 = 10_010_862_477_061_513_905;

    #[test]
    fn clientset_memory_stays_bounded() {
        let config = tiny(100, 16, 3);
        let mut set = ClientSet::with_config(config).unwrap();
        let mut mix = Mix(1);
        assert_eq!(set.memory_bytes(), size_of::<ClientSet>());
        for _ in 0..50_000 {
            let x = mix.next();
            let a = if x & 1 == 0 {
                IpAddr::V4(Ipv4Addr::from((x >> 32) as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(u128::from(x) << 64))
            };
            set.insert(a);
            assert!(set.contains(a));
        }
        assert_eq!(set.exact_len(), 100);
        assert!(set.memory_bytes() <= ClientSet::memory_bound(&config));
        assert!(
            set.false_positive_rate() > 0.9,
            "a filter filled far past its size says yes"
        );
        assert!(ClientSet::memory_bound(&ClientSetConfig::default()) < 64 << 20);
    }

    #[test]
    fn clientset_of_a_real_run_never_blocks_a_client() {
        // The floods lab run: the clients with successful requests in Apache's access log,
        // and every source of its ipfw log (mostly spoofed flood addresses).
        let clients = successful_clients("lab/floods/access.log");
        let distinct: HashSet<IpAddr> = clients.iter().copied().collect();
        assert_eq!(distinct.len(), 8, "{distinct:?}");
        let sources = ipfw_sources("lab/floods/ipfw.log.gz");
        let strangers: HashSet<IpAddr> = sources
            .into_iter()
            .filter(|s| !distinct.contains(s))
            .collect();
        // Exact, then past a cap of 2 with a 4 KiB filter.
        let small = ClientSetConfig {
            exact_cap: 2,
            bloom_bits: 1 << 15,
            bloom_hashes: 7,
            seed: DEFAULT_SEED,
        };
        for config in [ClientSetConfig::default(), small] {
            let mut set = ClientSet::with_config(config).unwrap();
            clients.iter().for_each(|&c| set.insert(c));
            assert_eq!(set.is_exact(), config.exact_cap >= distinct.len());
            for &c in &distinct {
                assert!(set.contains(c), "{c}");
                for n in covered_nets(c) {
                    assert!(set.contains_in(n), "{n} holds {c}");
                }
            }
            // hping3's /23 holds two legitimate clients: never blockable as a /23 or /22.
            assert!(set.contains_in("198.51.100.0/23".parse().unwrap()));
            assert!(set.contains_in("198.51.100.0/22".parse().unwrap()));
            // The spoofed /26 and the IPv6 flood /64 hold no client.
            assert!(!set.contains_in("2001:db8:bad:1::/64".parse().unwrap()));
            let false_positives = strangers.iter().filter(|s| set.contains(**s)).count();
            if set.is_exact() {
                assert_eq!(false_positives, 0);
                assert!(!set.contains_in("203.0.113.128/26".parse().unwrap()));
            } else {
                assert!(
                    false_positives * 1000 <= strangers.len(),
                    "{false_positives} of {}",
                    strangers.len()
                );
            }
        }
    }
}
