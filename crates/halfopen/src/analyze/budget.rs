//! The memory budget (`--memory MB`, default 256) shared among the stages that hold state, so
//! that the peak memory does not depend on the input's length or on how many distinct sources
//! it holds: each stage gets a cap, evicts past it, and counts what it evicted.
//!
//! | stage | share | unit (measured or bounded) |
//! |---|---|---|
//! | flow table (`halfopen_tcp::Config::max_flows`) | 20 % | 128 B a flow (116 MB at 917,504 flows, docs/halfopen-tcp.md) |
//! | connections held for correlation | 12 % | 400 B (a 304-byte `ConnFacts` in a queue, its first bytes) |
//! | requests held for correlation | 6 % | 256 B (a 96-byte request, its 120-byte example line) |
//! | first bytes of capture connections | 5 % | the store's own byte budget, 512 B an entry |
//! | sources held one by one | 8 % | 1 KiB (a 600-byte summary, its examples, the top-K's index) |
//! | clients with successful requests, exactly | 4 % | 24 B an address (then a Bloom filter: 2 %) |
//! | connections at the inputs' edges, for a merge (`crate::edges`) | 8 % | 400 B (a 304-byte `ConnFacts`, a request example) |
//! | the rest | 35 % | the program, thread stacks, I/O buffers, batches between threads, the verdicts and the report at the end (about 50 MB with 20,000 sources held), allocator slack (measured: peak RSS = 0.6 x the budget + 50 MB on a random-source flood, docs/performance.md) |

use crate::correlate::StreamLimits;
use crate::sketch::ClientSetConfig;

/// The default budget, MB.
pub const DEFAULT_MEMORY_MB: usize = 256;
/// The smallest budget accepted, MB: below it the program itself (about 50 MB: code, threads,
/// buffers, the verdicts at the end) would not fit.
pub const MIN_MEMORY_MB: usize = 128;

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
    /// Connections held at the inputs' edges (never more than [`crate::edges::MAX_EDGES`]).
    pub edges: usize,
}

impl Budget {
    /// The caps of a budget of `mb` megabytes (at least [`MIN_MEMORY_MB`]).
    ///
    /// ```
    /// use halfopen::analyze::Budget;
    /// let b = Budget::of(256);
    /// assert!(b.sources > 20_000 && b.flows > 400_000);
    /// assert!(Budget::of(1024).flows > b.flows);
    /// ```
    pub fn of(mb: usize) -> Budget {
        let bytes = mb.max(MIN_MEMORY_MB).saturating_mul(1 << 20);
        let share = |percent: usize| bytes / 100 * percent;
        Budget {
            flows: share(20) / 128,
            held_connections: share(12) / 400,
            held_requests: share(6) / 256,
            prefix_bytes: share(5),
            prefix_entries: (share(5) / 512).max(1024),
            sources: share(8) / 1024,
            clients_exact: share(4) / 24,
            clients_bloom_bits: (share(2) as u64 * 8) / 64 * 64,
            edges: (share(8) / 400).min(crate::edges::MAX_EDGES),
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
