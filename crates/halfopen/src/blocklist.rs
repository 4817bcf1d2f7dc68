//! Renders a block list for pf, ipfw, nftables, iptables/ipset, or as plain CIDRs.

use ipnet::IpNet;

/// Output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlocklistFormat {
    /// pf.conf table + rule.
    Pf,
    /// ipfw table commands.
    Ipfw,
    /// nftables sets (`nft -f`).
    Nft,
    /// ipset + iptables/ip6tables commands.
    Iptables,
    /// One CIDR per line.
    Plain,
}

impl BlocklistFormat {
    /// Parses `pf`, `ipfw`, `nft`, `iptables`, `plain`.
    pub fn from_name(s: &str) -> Option<BlocklistFormat> {
        Some(match s {
            "pf" => BlocklistFormat::Pf,
            "ipfw" => BlocklistFormat::Ipfw,
            "nft" | "nftables" => BlocklistFormat::Nft,
            "iptables" | "ipset" => BlocklistFormat::Iptables,
            "plain" => BlocklistFormat::Plain,
            _ => return None,
        })
    }
}

/// Table / set name used by the renderers.
pub const TABLE: &str = "halfopen_block";

/// Renders the CIDRs in a format (always ends with a newline; empty input gives a comment).
///
/// ```
/// use halfopen::blocklist::{render, BlocklistFormat};
/// let nets = ["45.76.87.206/32".parse().unwrap()];
/// assert_eq!(render(&nets, BlocklistFormat::Plain), "45.76.87.206/32\n");
/// assert!(render(&nets, BlocklistFormat::Pf).contains("table <halfopen_block> persist { 45.76.87.206/32 }"));
/// ```
pub fn render(nets: &[IpNet], format: BlocklistFormat) -> String {
    let v4: Vec<String> = nets
        .iter()
        .filter(|n| matches!(n, IpNet::V4(_)))
        .map(ToString::to_string)
        .collect();
    let v6: Vec<String> = nets
        .iter()
        .filter(|n| matches!(n, IpNet::V6(_)))
        .map(ToString::to_string)
        .collect();
    let all: Vec<String> = nets.iter().map(ToString::to_string).collect();
    let mut out = String::new();
    match format {
        BlocklistFormat::Plain => {
            for n in &all {
                out.push_str(n);
                out.push('\n');
            }
        }
        BlocklistFormat::Pf => {
            out.push_str("# pf.conf: block the sources halfopen found\n");
            out.push_str(&format!(
                "table <{TABLE}> persist {{ {} }}\n",
                all.join(", ")
            ));
            out.push_str(&format!("block drop in quick from <{TABLE}>\n"));
        }
        BlocklistFormat::Ipfw => {
            out.push_str(&format!("ipfw table {TABLE} create type addr\n"));
            for n in &all {
                out.push_str(&format!("ipfw table {TABLE} add {n}\n"));
            }
            out.push_str(&format!("ipfw add deny ip from 'table({TABLE})' to any\n"));
        }
        BlocklistFormat::Nft => {
            out.push_str("table inet halfopen {\n");
            for (suffix, ty, list) in [("v4", "ipv4_addr", &v4), ("v6", "ipv6_addr", &v6)] {
                out.push_str(&format!(
                    "    set {TABLE}_{suffix} {{\n        type {ty}\n        flags interval\n"
                ));
                if !list.is_empty() {
                    out.push_str(&format!("        elements = {{ {} }}\n", list.join(", ")));
                }
                out.push_str("    }\n");
            }
            out.push_str(
                "    chain input {\n        type filter hook input priority -10; policy accept;\n",
            );
            out.push_str(&format!(
                "        ip saddr @{TABLE}_v4 drop\n        ip6 saddr @{TABLE}_v6 drop\n"
            ));
            out.push_str("    }\n}\n");
        }
        BlocklistFormat::Iptables => {
            for (family, suffix, cmd, list) in [
                ("inet", "v4", "iptables", &v4),
                ("inet6", "v6", "ip6tables", &v6),
            ] {
                if list.is_empty() {
                    continue;
                }
                out.push_str(&format!(
                    "ipset create {TABLE}_{suffix} hash:net family {family} -exist\n"
                ));
                for n in list {
                    out.push_str(&format!("ipset add {TABLE}_{suffix} {n} -exist\n"));
                }
                out.push_str(&format!(
                    "{cmd} -I INPUT -m set --match-set {TABLE}_{suffix} src -j DROP\n"
                ));
            }
        }
    }
    if all.is_empty() && format != BlocklistFormat::Plain {
        out.insert_str(0, "# nothing to block\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets() -> Vec<IpNet> {
        vec![
            "198.51.100.0/24".parse().unwrap(),
            "2001:db8::/48".parse().unwrap(),
        ]
    }

    #[test]
    fn formats() {
        let n = nets();
        assert_eq!(
            render(&n, BlocklistFormat::Plain),
            "198.51.100.0/24\n2001:db8::/48\n"
        );
        let ipfw = render(&n, BlocklistFormat::Ipfw);
        assert!(ipfw.contains("ipfw table halfopen_block add 198.51.100.0/24\n"));
        let nft = render(&n, BlocklistFormat::Nft);
        assert!(nft.contains("elements = { 198.51.100.0/24 }"));
        assert!(nft.contains("elements = { 2001:db8::/48 }"));
        let ipt = render(&n, BlocklistFormat::Iptables);
        assert!(ipt.contains("ipset add halfopen_block_v4 198.51.100.0/24 -exist\n"));
        assert!(
            ipt.contains("ip6tables -I INPUT -m set --match-set halfopen_block_v6 src -j DROP")
        );
        assert!(render(&[], BlocklistFormat::Pf).starts_with("# nothing to block"));
        for f in ["pf", "ipfw", "nft", "iptables", "plain"] {
            assert!(BlocklistFormat::from_name(f).is_some());
        }
    }
}
