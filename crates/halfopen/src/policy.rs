//! The block-list policy: the smallest set of CIDR blocks that covers the hostile sources
//! that blocking stops, and no other source, with what each block (and each wider block)
//! would cut off ([`plan`]); then the invariants, enforced last whatever the verdicts and the
//! correlation said ([`enforce`]):
//!
//! - never an address with a successful (2xx/3xx) request anywhere in the access log, nor a
//!   network that holds one (unless `block_hostile_clients` names the address itself);
//! - never the server's own addresses, loopback, link-local, multicast or unspecified ones,
//!   nor an allow-listed network;
//! - never an address whose SYNs another host sent in its name (its host reset the server's
//!   SYN-ACKs from another TTL than the SYNs': [`crate::Evidence::SentInItsName`]), nor a
//!   network that holds one;
//! - nothing broader than the limits;
//! - no block that rests on "no request was logged" when the access log does not cover the
//!   firewall input's time.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Limits on what may be blocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockPolicy {
    /// Shortest IPv4 prefix ever suggested (default 16: never broader than a /16).
    pub max_prefix_v4: u8,
    /// Shortest IPv6 prefix ever suggested (default 32: never broader than a /32).
    pub max_prefix_v6: u8,
    /// Networks never to block.
    pub allow: Vec<IpNet>,
    /// The server's own addresses (never blocked).
    pub server_addrs: Vec<IpAddr>,
    /// The server's own networks (never blocked, nothing overlapping them either).
    #[serde(default)]
    pub server_nets: Vec<IpNet>,
    /// A block broader than one address needs at least this many hostile sources, unless
    /// they fill at least half of its addresses (default [`DEFAULT_MIN_BLOCK_SOURCES`]);
    /// otherwise each source gets its own /32 (/128).
    #[serde(default = "default_min_block_sources")]
    pub min_block_sources: u64,
    /// Also block hostile sources that made successful requests (slow attackers whose
    /// availability checks succeeded); never the networks around them.
    #[serde(default)]
    pub block_hostile_clients: bool,
}

/// Default of [`BlockPolicy::min_block_sources`].
pub const DEFAULT_MIN_BLOCK_SOURCES: u64 = 8;

fn default_min_block_sources() -> u64 {
    DEFAULT_MIN_BLOCK_SOURCES
}

impl Default for BlockPolicy {
    fn default() -> Self {
        BlockPolicy {
            max_prefix_v4: 16,
            max_prefix_v6: 32,
            allow: Vec::new(),
            server_addrs: Vec::new(),
            server_nets: Vec::new(),
            min_block_sources: DEFAULT_MIN_BLOCK_SOURCES,
            block_hostile_clients: false,
        }
    }
}

/// One source as the network view sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRow {
    /// Address.
    pub addr: IpAddr,
    /// Whether its verdict is hostile (flood, scan, slowloris).
    pub hostile: bool,
    /// Complete requests logged from it.
    pub requests: u64,
    /// Connections from it.
    pub connections: u64,
}

/// What blocking a network would also cut off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Collateral {
    /// Non-hostile sources with logged requests inside the network.
    pub clients: u64,
    /// Their requests.
    pub requests: u64,
    /// Other non-hostile sources inside (no request: preconnects, unknown).
    pub other_sources: u64,
    /// Up to 5 of the clients, for the report.
    pub examples: Vec<IpAddr>,
}

/// A wider block than the suggested one, and its cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WiderBlock {
    /// The network.
    pub cidr: IpNet,
    /// Hostile sources it covers.
    pub hostile_sources: u64,
    /// What it would also cut off.
    pub collateral: Collateral,
    /// Why it may not be suggested, if so (`broader than /16`, `contains the server`...).
    pub refused: Option<String>,
}

/// A suggested block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The network.
    pub cidr: IpNet,
    /// Hostile sources inside.
    pub sources: u64,
    /// Their connections.
    pub connections: u64,
    /// What it would also cut off (never a client with requests, by construction).
    pub collateral: Collateral,
    /// Wider blocks and what they would cut off.
    pub wider: Vec<WiderBlock>,
    /// The sources look spoofed (a flood from many addresses with varying TTLs or crafted
    /// SYNs): the block is suggested but does little; see `advice`.
    #[serde(default)]
    pub likely_spoofed: bool,
    /// Why the sources look spoofed.
    #[serde(default)]
    pub spoofing_indicators: Vec<String>,
    /// What helps instead, when `likely_spoofed`.
    #[serde(default)]
    pub advice: Option<String>,
}

/// A hostile source that is not blocked, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotBlocked {
    /// Address.
    pub addr: IpAddr,
    /// Reason.
    pub reason: String,
}

/// The suggestion.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkView {
    /// Blocks, sorted.
    pub blocks: Vec<Block>,
    /// Hostile sources left out.
    pub not_blocked: Vec<NotBlocked>,
}

impl NetworkView {
    /// The block list as CIDR strings.
    pub fn cidrs(&self) -> Vec<String> {
        self.blocks.iter().map(|b| b.cidr.to_string()).collect()
    }
}

fn full_len(a: IpAddr) -> u8 {
    if a.is_ipv4() { 32 } else { 128 }
}

fn net(a: IpAddr, len: u8) -> IpNet {
    // len is always <= the address length here.
    IpNet::new(a, len.min(full_len(a)))
        .map(|n| n.trunc())
        .unwrap_or_else(|_| IpNet::from(a))
}

struct Index<'a> {
    rows: Vec<&'a SourceRow>,
}

impl<'a> Index<'a> {
    fn in_net(&self, n: &IpNet) -> &[&'a SourceRow] {
        let lo = self.rows.partition_point(|r| r.addr < n.network());
        let hi = self.rows.partition_point(|r| r.addr <= n.broadcast());
        self.rows.get(lo..hi.max(lo)).unwrap_or_default()
    }
}

/// A block never contains an observed source that is not hostile (clients with requests,
/// preconnects, unknown sources).
fn protected(r: &SourceRow) -> bool {
    !r.hostile
}

/// Networks never blocked: unspecified, loopback, link-local, multicast, reserved and
/// broadcast.
pub const SPECIAL: [&str; 10] = [
    "0.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "fe80::/10",
    "ff00::/8",
    "::ffff:0:0/96",
];

/// Blocks broader than /24 (IPv6 /64) need at least this many hostile sources; sparser groups
/// are split into /24s (/64s).
pub const MIN_SOURCES_WIDE: u64 = 8;

fn refusal(n: &IpNet, policy: &BlockPolicy) -> Option<String> {
    let min = if n.addr().is_ipv4() {
        policy.max_prefix_v4
    } else {
        policy.max_prefix_v6
    };
    if n.prefix_len() < min {
        return Some(format!("broader than the /{min} limit"));
    }
    if let Some(sp) = SPECIAL
        .iter()
        .filter_map(|x| x.parse::<IpNet>().ok())
        .find(|x| x.contains(n) || n.contains(x))
    {
        return Some(format!("overlaps the special-purpose network {sp}"));
    }
    if let Some(s) = policy.server_addrs.iter().find(|s| n.contains(*s)) {
        return Some(format!("contains the server's address {s}"));
    }
    if let Some(s) = policy
        .server_nets
        .iter()
        .find(|s| s.contains(n) || n.contains(*s))
    {
        return Some(format!("overlaps the server's network {s}"));
    }
    if let Some(a) = policy
        .allow
        .iter()
        .find(|a| a.contains(n) || n.contains(*a))
    {
        return Some(format!("overlaps the allow-list entry {a}"));
    }
    None
}

fn collateral(rows: &[&SourceRow]) -> Collateral {
    let mut c = Collateral::default();
    for r in rows.iter().filter(|r| !r.hostile) {
        if r.requests > 0 {
            c.clients += 1;
            c.requests = c.requests.saturating_add(r.requests);
            if c.examples.len() < 5 {
                c.examples.push(r.addr);
            }
        } else {
            c.other_sources += 1;
        }
    }
    c
}

const WIDER_V4: [u8; 5] = [24, 23, 22, 20, 16];
const WIDER_V6: [u8; 4] = [64, 56, 48, 32];

/// Plans the blocks.
///
/// ```
/// use halfopen::policy::{plan, BlockPolicy, SourceRow};
/// let rows = [
///     SourceRow { addr: "45.76.87.206".parse().unwrap(), hostile: true, requests: 0, connections: 1200 },
///     SourceRow { addr: "45.76.86.10".parse().unwrap(), hostile: false, requests: 70, connections: 9 },
/// ];
/// let view = plan(&rows, &BlockPolicy::default());
/// assert_eq!(view.cidrs(), ["45.76.87.206/32"]);
/// let wider = &view.blocks[0].wider;
/// assert_eq!(wider.iter().find(|w| w.cidr.to_string() == "45.76.86.0/23").unwrap().collateral.requests, 70);
/// ```
pub fn plan(rows: &[SourceRow], policy: &BlockPolicy) -> NetworkView {
    let view = plan_once(rows, policy);
    // Broader than /24 (/64) needs MIN_SOURCES_WIDE sources: else split into /24s (/64s).
    let view = split(view, rows, policy, 24, 64, |b| b.sources < MIN_SOURCES_WIDE);
    // Broader than one address needs min_block_sources sources or half of its addresses.
    split(view, rows, policy, 32, 128, |b| !dense(b, policy))
}

/// Whether a block broader than one address holds enough hostile sources to be kept.
fn dense(b: &Block, policy: &BlockPolicy) -> bool {
    let host_bits = u32::from(full_len(b.cidr.addr()).saturating_sub(b.cidr.prefix_len()));
    let size = 1u128.checked_shl(host_bits).unwrap_or(u128::MAX);
    b.sources >= policy.min_block_sources || u128::from(b.sources).saturating_mul(2) >= size
}

/// Replaces each block broader than `/v4` (`/v6`) for which `too_sparse` holds by the
/// blocks a plan limited to `/v4` (`/v6`) makes inside it.
fn split(
    view: NetworkView,
    rows: &[SourceRow],
    policy: &BlockPolicy,
    v4: u8,
    v6: u8,
    too_sparse: impl Fn(&Block) -> bool,
) -> NetworkView {
    let sparse = |b: &Block| {
        let wide = if b.cidr.addr().is_ipv4() { v4 } else { v6 };
        b.cidr.prefix_len() < wide && too_sparse(b)
    };
    if !view.blocks.iter().any(sparse) {
        return view;
    }
    let strict = BlockPolicy {
        max_prefix_v4: policy.max_prefix_v4.max(v4),
        max_prefix_v6: policy.max_prefix_v6.max(v6),
        ..policy.clone()
    };
    let fine = plan_once(rows, &strict);
    let mut out = NetworkView {
        blocks: Vec::new(),
        not_blocked: view.not_blocked.clone(),
    };
    for b in view.blocks {
        if sparse(&b) {
            out.blocks.extend(
                fine.blocks
                    .iter()
                    .filter(|f| b.cidr.contains(&f.cidr))
                    .cloned(),
            );
        } else {
            out.blocks.push(b);
        }
    }
    out
}

fn plan_once(rows: &[SourceRow], policy: &BlockPolicy) -> NetworkView {
    let mut sorted: Vec<&SourceRow> = rows.iter().collect();
    sorted.sort_by_key(|r| r.addr);
    sorted.dedup_by_key(|r| r.addr);
    let index = Index { rows: sorted };
    let mut view = NetworkView::default();
    let mut covers: Vec<IpNet> = Vec::new();
    for r in index.rows.iter().filter(|r| r.hostile) {
        let host = IpNet::from(r.addr);
        if let Some(why) = refusal(&host, policy) {
            view.not_blocked.push(NotBlocked {
                addr: r.addr,
                reason: why,
            });
            continue;
        }
        if covers.last().is_some_and(|c| c.contains(&r.addr)) {
            continue;
        }
        // The broadest clean network containing this source.
        let full = full_len(r.addr);
        let min = if r.addr.is_ipv4() {
            policy.max_prefix_v4
        } else {
            policy.max_prefix_v6
        };
        let mut chosen = host;
        for len in min..=full {
            let n = net(r.addr, len);
            if refusal(&n, policy).is_none() && !index.in_net(&n).iter().any(|x| protected(x)) {
                chosen = n;
                break;
            }
        }
        covers.push(chosen);
    }
    for cover in covers {
        let hostile: Vec<&&SourceRow> = index
            .in_net(&cover)
            .iter()
            .filter(|r| r.hostile && refusal(&IpNet::from(r.addr), policy).is_none())
            .collect();
        let (Some(first), Some(last)) = (hostile.first(), hostile.last()) else {
            continue;
        };
        // Shrink to the smallest network covering its hostile sources.
        let mut len = full_len(first.addr);
        while len > cover.prefix_len() && !net(first.addr, len).contains(&last.addr) {
            len -= 1;
        }
        let cidr = net(first.addr, len);
        let inside = index.in_net(&cidr);
        let wider_lens: &[u8] = if cidr.addr().is_ipv4() {
            &WIDER_V4
        } else {
            &WIDER_V6
        };
        let wider = wider_lens
            .iter()
            .filter(|l| **l < cidr.prefix_len())
            .map(|l| {
                let n = net(cidr.addr(), *l);
                let rows = index.in_net(&n);
                WiderBlock {
                    cidr: n,
                    hostile_sources: rows.iter().filter(|r| r.hostile).count() as u64,
                    collateral: collateral(rows),
                    refused: refusal(&n, policy),
                }
            })
            .collect();
        view.blocks.push(Block {
            cidr,
            sources: inside.iter().filter(|r| r.hostile).count() as u64,
            connections: inside
                .iter()
                .filter(|r| r.hostile)
                .map(|r| r.connections)
                .sum(),
            collateral: collateral(inside),
            wider,
            likely_spoofed: false,
            spoofing_indicators: Vec::new(),
            advice: None,
        });
    }
    view
}

/// Hostile sources that blocking would not stop, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// The address.
    pub addr: IpAddr,
    /// Why it is not blocked.
    pub reason: String,
}

/// What the policy needs to know besides the verdicts.
#[derive(Debug, Clone, Default)]
pub struct Protect {
    /// Every address with a successful (2xx/3xx) request in the access logs, matched or not
    /// (a set that never answers "no" for one), with their counts (for the collateral).
    pub successes: crate::rollup::Successes,
    /// False when the access log does not cover the firewall input's time: nothing that
    /// rests on "no request was logged" may be blocked.
    pub absent_requests_count: bool,
}

/// What the invariants must know of single addresses, from the verdicts ([`Verdicts::of`]).
#[derive(Debug, Clone, Default)]
pub struct Verdicts {
    /// Hostile sources with successful requests that `block_hostile_clients` opts in (their
    /// own /32 or /128 may stand).
    pub hostile_clients: Vec<IpAddr>,
    /// Addresses whose SYNs another host sent in their names
    /// ([`crate::judge::Judged::sent_in_its_name`]): no block may hold one, whatever else
    /// is inside.
    pub named_by_others: Vec<IpAddr>,
}

impl Verdicts {
    /// The addresses of `judged` the invariants single out under `policy`.
    pub fn of(judged: &[crate::judge::Judged], policy: &BlockPolicy) -> Verdicts {
        let addrs = |keep: &dyn Fn(&crate::judge::Judged) -> bool| -> Vec<IpAddr> {
            judged.iter().filter(|j| keep(j)).map(|j| j.addr).collect()
        };
        Verdicts {
            hostile_clients: match policy.block_hostile_clients {
                true => addrs(&|j| j.verdict.is_hostile() && j.successes > 0),
                false => Vec::new(),
            },
            named_by_others: addrs(&|j| j.sent_in_its_name),
        }
    }
}

/// The source rows the planner works on: every judged source, hostile when its verdict is
/// hostile and blocking it would stop it, plus every successful client the access log names.
pub fn rows(
    judged: &[crate::judge::Judged],
    protect: &Protect,
    policy: &BlockPolicy,
) -> (Vec<SourceRow>, Vec<Exclusion>) {
    let mut out = Vec::with_capacity(judged.len());
    let mut excluded = Vec::new();
    // The judged addresses, sorted (they come sorted: the sort only checks), searched below
    // for every address with successes; a tree of them cost more than the rows.
    let mut seen: Vec<IpAddr> = judged.iter().map(|j| j.addr).collect();
    seen.sort_unstable();
    for j in judged {
        let successes = protect.successes.count(&j.addr).max(j.successes);
        let mut hostile = j.verdict.is_hostile();
        if hostile {
            let why = if j.random_flood_member {
                Some("one address of a random-source flood: blocking the addresses does little (see the server finding)".to_owned())
            } else if j.sent_in_its_name {
                Some("its SYNs were sent in its name by another host (its host reset the server's SYN-ACKs from another TTL): blocking it would cut off its owner, not the sender".to_owned())
            } else if successes > 0 && !policy.block_hostile_clients {
                Some(format!(
                    "it also made {successes} successful request(s); --block-hostile-clients to include it"
                ))
            } else if j.rests_on_absent_request && !protect.absent_requests_count {
                Some("the verdict rests on \"no request was logged\", but the access log does not cover the firewall input's time".to_owned())
            } else {
                None
            };
            if let Some(reason) = why {
                hostile = false;
                excluded.push(Exclusion {
                    addr: j.addr,
                    reason,
                });
            }
        }
        out.push(SourceRow {
            addr: j.addr,
            hostile,
            requests: successes,
            connections: j.connections,
        });
    }
    for (a, n) in &protect.successes.counts {
        if seen.binary_search(a).is_err() {
            out.push(SourceRow {
                addr: *a,
                hostile: false,
                requests: *n,
                connections: 0,
            });
        }
    }
    (out, excluded)
}

/// Removes every block that breaks an invariant (see the module documentation), whatever
/// produced it; says why for each.
///
/// ```
/// use halfopen::policy::{enforce, Block, BlockPolicy, Collateral, NetworkView, Protect, Verdicts};
/// let block = |c: &str| Block {
///     cidr: c.parse().unwrap(), sources: 1, connections: 1, collateral: Collateral::default(),
///     wider: vec![], likely_spoofed: false, spoofing_indicators: vec![], advice: None,
/// };
/// let view = NetworkView { blocks: vec![block("192.0.2.0/24"), block("198.51.100.7/32"), block("10.0.0.0/8")], not_blocked: vec![] };
/// let mut protect = Protect::default();
/// protect.successes.add("192.0.2.99".parse().unwrap(), 1);
/// protect.absent_requests_count = true;
/// let policy = BlockPolicy { server_addrs: vec!["198.51.100.7".parse().unwrap()], ..BlockPolicy::default() };
/// let kept = enforce(view, &protect, &policy, &Verdicts::default());
/// assert!(kept.blocks.is_empty());
/// assert_eq!(kept.not_blocked.len(), 3);
/// ```
pub fn enforce(
    mut view: NetworkView,
    protect: &Protect,
    policy: &BlockPolicy,
    verdicts: &Verdicts,
) -> NetworkView {
    let mut kept = Vec::with_capacity(view.blocks.len());
    for b in view.blocks {
        match violation(&b.cidr, protect, policy, verdicts) {
            None => kept.push(b),
            Some(reason) => view.not_blocked.push(NotBlocked {
                addr: b.cidr.addr(),
                reason: format!("{} not blocked: {reason}", b.cidr),
            }),
        }
    }
    view.blocks = kept;
    view
}

/// Why a block may not stand, if it may not.
pub fn violation(
    n: &IpNet,
    protect: &Protect,
    policy: &BlockPolicy,
    verdicts: &Verdicts,
) -> Option<String> {
    if let Some(why) = refusal(n, policy) {
        return Some(why);
    }
    if let Some(a) = verdicts.named_by_others.iter().find(|a| n.contains(*a)) {
        return Some(format!(
            "it holds {a}, whose SYNs another host sent in its name (its host reset the \
             server's SYN-ACKs from another TTL)"
        ));
    }
    let single = n.prefix_len() == full_len(n.addr());
    if single && policy.block_hostile_clients && verdicts.hostile_clients.contains(&n.addr()) {
        return None;
    }
    if !protect.successes.any_in(*n) {
        return None;
    }
    Some(match protect.successes.known().find(|c| n.contains(c)) {
        Some(c) => format!("it holds {c}, which made successful requests"),
        None => "it holds addresses that made successful requests".to_owned(),
    })
}

/// Plans the block list from the judged sources and enforces the invariants.
pub fn decide(
    judged: &[crate::judge::Judged],
    protect: &Protect,
    policy: &BlockPolicy,
) -> NetworkView {
    let (rows, excluded) = rows(judged, protect, policy);
    let mut view = plan(&rows, policy);
    for e in excluded {
        view.not_blocked.push(NotBlocked {
            addr: e.addr,
            reason: e.reason,
        });
    }
    enforce(view, protect, policy, &Verdicts::of(judged, policy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    fn row(a: &str, hostile: bool, requests: u64) -> SourceRow {
        SourceRow {
            addr: a.parse().unwrap(),
            hostile,
            requests,
            connections: 1,
        }
    }

    #[test]
    fn aggregates_a_flood_and_spares_clients() {
        let mut rows: Vec<SourceRow> = (0..=255u8)
            .map(|i| row(&format!("198.51.100.{i}"), true, 0))
            .collect();
        rows.push(row("198.51.101.7", false, 3));
        let view = plan(&rows, &BlockPolicy::default());
        assert_eq!(view.cidrs(), ["198.51.100.0/24"]);
        assert_eq!(view.blocks[0].sources, 256);
        let w23 = &view.blocks[0].wider[0];
        assert_eq!(w23.cidr.to_string(), "198.51.100.0/23");
        assert_eq!(w23.collateral.clients, 1);
    }

    #[test]
    fn never_blocks_the_server_or_the_allow_list() {
        let rows = [
            row("10.0.0.1", true, 0),
            row("10.0.0.2", true, 0),
            row("10.0.1.9", true, 0),
        ];
        let policy = BlockPolicy {
            server_addrs: vec!["10.0.0.1".parse().unwrap()],
            allow: vec!["10.0.1.0/24".parse().unwrap()],
            ..BlockPolicy::default()
        };
        let view = plan(&rows, &policy);
        assert_eq!(view.cidrs(), ["10.0.0.2/32"]);
        assert_eq!(view.not_blocked.len(), 2);
    }

    #[test]
    fn ipv6_limit_and_sparse_groups() {
        let rows = [
            row("2001:db8::1", true, 0),
            row("2001:db8:ffff::1", true, 0),
        ];
        // Two sources do not justify a /32: each gets its own block.
        let view = plan(&rows, &BlockPolicy::default());
        assert_eq!(view.cidrs(), ["2001:db8::1/128", "2001:db8:ffff::1/128"]);
        let many: Vec<SourceRow> = (0..8u16)
            .map(|i| row(&format!("2001:db8:{:x}::1", i * 0x2000), true, 0))
            .collect();
        assert_eq!(
            plan(&many, &BlockPolicy::default()).cidrs(),
            ["2001:db8::/32"]
        );
        let policy = BlockPolicy {
            max_prefix_v6: 48,
            ..BlockPolicy::default()
        };
        assert_eq!(plan(&many, &policy).cidrs().len(), 8);
    }

    #[test]
    fn two_scanners_of_one_small_network_get_their_own_blocks() {
        let rows = [
            row("185.220.101.4", true, 0),
            row("185.220.101.9", true, 0),
            row("203.0.113.1", true, 0),
            row("203.0.113.2", true, 0),
        ];
        let view = plan(&rows, &BlockPolicy::default());
        // 185.220.101.0/28 would cover 14 addresses never seen; 203.0.113.0/30 holds 2 of 4.
        assert_eq!(
            view.cidrs(),
            ["185.220.101.4/32", "185.220.101.9/32", "203.0.113.0/30"]
        );
        let policy = BlockPolicy {
            min_block_sources: 2,
            ..BlockPolicy::default()
        };
        assert_eq!(
            plan(&rows, &policy).cidrs(),
            ["185.220.101.0/28", "203.0.113.0/30"]
        );
        let many: Vec<SourceRow> = (1..=8u8)
            .map(|i| row(&format!("198.51.100.{}", i * 20), true, 0))
            .collect();
        assert_eq!(
            plan(&many, &BlockPolicy::default()).cidrs(),
            ["198.51.100.0/24"]
        );
    }

    #[test]
    fn never_blocks_loopback_or_an_idle_neighbour() {
        let rows = [
            row("127.0.0.1", true, 0),
            row("192.0.2.1", true, 0),
            row("192.0.2.2", true, 0),
            row("192.0.2.3", false, 0),
        ];
        let view = plan(&rows, &BlockPolicy::default());
        assert_eq!(view.cidrs(), ["192.0.2.1/32", "192.0.2.2/32"]);
        assert!(view.not_blocked[0].reason.contains("special-purpose"));
    }

    fn judged(
        addr: IpAddr,
        verdict: crate::Verdict,
        successes: u64,
        random: bool,
        absent: bool,
    ) -> crate::judge::Judged {
        crate::judge::Judged {
            addr,
            verdict,
            confidence: crate::Confidence::Medium,
            evidence: Vec::new(),
            raise: None,
            rests_on_absent_request: absent,
            random_flood_member: random,
            sent_in_its_name: false,
            successes,
            connections: 1,
        }
    }

    fn arb_addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            4 => (0u8..3, any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| IpAddr::from(Ipv4Addr::new(198, 18 + a, b, c))),
            1 => prop::sample::select(vec![
                "127.0.0.1", "169.254.1.1", "224.0.0.5", "0.0.0.0", "::1", "fe80::1", "ff02::1", "2001:db8::7", "2001:db8::8",
            ]).prop_map(|a| a.parse::<IpAddr>().unwrap()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The invariants hold whatever the verdicts, the correlation and the limits say:
        /// no block holds an address with successful requests (unless the address itself was
        /// opted in), the server, a special-purpose address, an address whose SYNs another
        /// host sent in its name; none is broader than the limits;
        /// none rests on "no request was logged" when the logs do not overlap.
        #[test]
        fn invariants_hold_whatever_the_verdicts(
            sources in prop::collection::vec(
                (arb_addr(), prop::sample::select(crate::Verdict::ALL.to_vec()), 0u64..3, any::<bool>(), any::<bool>(), prop::bool::weighted(0.2)),
                1..80,
            ),
            extra_clients in prop::collection::vec(arb_addr(), 0..10),
            servers in prop::collection::vec(arb_addr(), 0..3),
            v4 in 8u8..=32,
            v6 in 16u8..=128,
            min_sources in 1u64..10,
            overlap in any::<bool>(),
            opt_in in any::<bool>(),
        ) {
            // One judgement per address, as the judge gives.
            let mut seen = std::collections::BTreeSet::new();
            let js: Vec<crate::judge::Judged> = sources
                .iter()
                .filter(|(a, ..)| seen.insert(*a))
                .map(|(a, v, ok, random, absent, named)| {
                    let mut j = judged(*a, *v, *ok, *random, *absent);
                    j.sent_in_its_name = *named;
                    j
                })
                .collect();
            let mut protect = Protect { absent_requests_count: overlap, ..Protect::default() };
            for j in &js {
                if j.successes > 0 {
                    protect.successes.add(j.addr, j.successes);
                }
            }
            for c in &extra_clients {
                protect.successes.add(*c, 1);
            }
            let policy = BlockPolicy {
                max_prefix_v4: v4,
                max_prefix_v6: v6,
                server_addrs: servers.clone(),
                min_block_sources: min_sources,
                block_hostile_clients: opt_in,
                ..BlockPolicy::default()
            };
            let view = decide(&js, &protect, &policy);
            let special: Vec<IpNet> = SPECIAL.iter().map(|s| s.parse().unwrap()).collect();
            for b in &view.blocks {
                let n = b.cidr;
                let limit = if n.addr().is_ipv4() { v4 } else { v6 };
                prop_assert!(n.prefix_len() >= limit, "{n} broader than /{limit}");
                for s in &servers {
                    prop_assert!(!n.contains(s), "{n} holds the server {s}");
                }
                for sp in &special {
                    prop_assert!(!sp.contains(&n) && !n.contains(sp), "{n} overlaps {sp}");
                }
                for c in &protect.successes.known().collect::<Vec<_>>() {
                    let own_opt_in = opt_in
                        && n.prefix_len() == if c.is_ipv4() { 32 } else { 128 }
                        && js.iter().any(|j| j.addr == *c && j.verdict.is_hostile());
                    prop_assert!(!n.contains(c) || own_opt_in, "{n} holds the client {c}");
                }
                // Everything inside rests on more than "no request was logged", or the logs
                // overlap.
                if !overlap {
                    for j in js.iter().filter(|j| n.contains(&j.addr) && j.verdict.is_hostile()) {
                        prop_assert!(!j.rests_on_absent_request || !policy_blocks(&view, j.addr), "{n} blocks {} on absent requests", j.addr);
                    }
                }
                // No address whose SYNs were sent in its name, whatever its verdict or requests.
                for j in js.iter().filter(|j| j.sent_in_its_name) {
                    prop_assert!(!n.contains(&j.addr), "{n} holds {}, named by another host", j.addr);
                }
                // No random-flood member is blocked on its own.
                for j in js.iter().filter(|j| j.random_flood_member) {
                    prop_assert!(n.prefix_len() < if j.addr.is_ipv4() { 32 } else { 128 } || n.addr() != j.addr, "{n} blocks the random member {}", j.addr);
                }
            }
        }
    }

    /// Whether a hostile address counted in a block made it into the block (the planner only
    /// covers blockable sources; a non-blockable one inside a block is collateral, which the
    /// planner never allows either).
    fn policy_blocks(view: &NetworkView, a: IpAddr) -> bool {
        view.blocks.iter().any(|b| b.cidr.contains(&a))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn blocks_cover_offenders_and_spare_clients(
            hosts in prop::collection::vec((any::<u16>(), any::<bool>(), 0u64..3), 1..60),
            limit in 8u8..=32,
        ) {
            let rows: Vec<SourceRow> = hosts.iter().map(|(h, hostile, req)| SourceRow {
                addr: Ipv4Addr::new(10, (h >> 12) as u8, (h >> 4) as u8, *h as u8 & 0x0f).into(),
                hostile: *hostile, requests: *req, connections: 1,
            }).collect();
            let policy = BlockPolicy { max_prefix_v4: limit, ..BlockPolicy::default() };
            let view = plan(&rows, &policy);
            for b in &view.blocks {
                prop_assert!(b.cidr.prefix_len() >= limit);
                prop_assert_eq!(b.collateral.clients, 0);
            }
            for r in &rows {
                let covered = view.blocks.iter().any(|b| b.cidr.contains(&r.addr));
                if r.hostile && !rows.iter().any(|o| o.addr == r.addr && !o.hostile) {
                    // A duplicate address row keeps its first occurrence only.
                    let first = rows.iter().find(|o| o.addr == r.addr).unwrap();
                    if first.hostile { prop_assert!(covered, "{} not covered", r.addr); }
                }
                if !r.hostile && r.requests > 0 && rows.iter().find(|o| o.addr == r.addr).unwrap().requests > 0
                    && !rows.iter().find(|o| o.addr == r.addr).unwrap().hostile {
                    prop_assert!(!covered, "{} blocked", r.addr);
                }
            }
        }
    }
}
