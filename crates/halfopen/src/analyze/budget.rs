//! The memory budget (`--memory MB`, default 256) shared among the stages that hold state, so
//! that the peak memory does not depend on the input's length or on how many distinct sources
//! it holds: each stage gets a cap, evicts past it, and counts what it evicted.
//!
//! | stage | share | unit (measured or bounded) |
//! |---|---|---|
//! | flow table (`halfopen_tcp::Config::max_flows`) | 25 % | 128 B a flow (116 MB at 917,504 flows, docs/halfopen-tcp.md) |
//! | connections held for correlation | 15 % | 400 B (a 304-byte `ConnFacts` in a queue, its first bytes) |
//! | requests held for correlation | 8 % | 256 B (a 96-byte request, its 120-byte example line) |
//! | first bytes of capture connections | 6 % | the store's own byte budget, 512 B an entry |
//! | sources held one by one | 15 % | 1 KiB (a 504-byte summary, its examples, the top-K's index) |
//! | clients with successful requests, exactly | 5 % | 24 B an address (then a Bloom filter: 3 %) |
//! | the rest | 23 % | I/O buffers, batches between threads, the report at the end, allocator slack |

use crate::correlate::StreamLimits;
use crate::sketch::ClientSetConfig;

/// The default budget, MB.
pub const DEFAULT_MEMORY_MB: usize = 256;
/// The smallest budget accepted, MB.
pub const MIN_MEMORY_MB: usize = 32;

/// The caps a budget gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Flows in the flow table.
    pub flows: usize,
    /// Finished connections held waiting for the web logs.
    pub held_connections: usize,
    /// Requests held waiting for their connection.
    pub held_requests: usize,
    /// Bytes of the first-bytes store.
    pub prefix_bytes: usize,
    /// Entries of the first-bytes store.
    pub prefix_entries: usize,
    /// Sources held one by one.
    pub sources: usize,
    /// Clients with successful requests kept exactly.
    pub clients_exact: usize,
    /// Bits of the Bloom filter past that (a multiple of 64).
    pub clients_bloom_bits: u64,
}

impl Budget {
    /// The caps of a budget of `mb` megabytes (at least [`MIN_MEMORY_MB`]).
    ///
    /// ```
    /// use halfopen::analyze::Budget;
    /// let b = Budget::of(256);
    /// assert!(b.sources > 30_000 && b.flows > 500_000);
    /// assert!(Budget::of(1024).flows > b.flows);
    /// ```
    pub fn of(mb: usize) -> Budget {
        let bytes = mb.max(MIN_MEMORY_MB).saturating_mul(1 << 20);
        let share = |percent: usize| bytes / 100 * percent;
        Budget {
            flows: share(25) / 128,
            held_connections: share(15) / 400,
            held_requests: share(8) / 256,
            prefix_bytes: share(6),
            prefix_entries: (share(6) / 512).max(1024),
            sources: share(15) / 1024,
            clients_exact: share(5) / 24,
            clients_bloom_bits: (share(3) as u64 * 8) / 64 * 64,
        }
    }

    /// The stream limits with this budget's caps (never above `given`'s).
    pub fn stream(&self, given: StreamLimits) -> StreamLimits {
        StreamLimits {
            max_held_connections: given.max_held_connections.min(self.held_connections),
            max_held_requests: given.max_held_requests.min(self.held_requests),
            ..given
        }
    }

    /// The client set's parameters.
    pub fn clients(&self) -> ClientSetConfig {
        ClientSetConfig {
            exact_cap: self.clients_exact,
            bloom_bits: self.clients_bloom_bits.max(64),
            ..ClientSetConfig::default()
        }
    }
}
