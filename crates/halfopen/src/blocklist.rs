//! Renders a block list for pf, ipfw, nftables, iptables/ipset, or as plain CIDRs.
//!
//! Every firewall format is inbound only (the input hook, the INPUT chain, `in`, `block in`),
//! limited to one interface when [`RenderOptions::interface`] is set, and can be applied again:
//! loading the same output twice leaves each rule once, and the table or set then holds exactly
//! the rendered list (entries of an earlier list that are no longer in it are removed).
//!
//! | format | apply with | applied again |
//! |---|---|---|
//! | `nft` | `nft -f FILE` | an empty `table` line, `delete table`, then the table anew (one transaction) |
//! | `iptables` | `sh FILE` | `ipset -exist restore` fills a staging set and swaps it in; `iptables -C ... \|\| iptables -I ...` |
//! | `ipfw` | `sh FILE` | `table ... info \|\| table ... create`, `flush`, `-q table ... add`; the deny rule is added when `ipfw list N` does not show it |
//! | `pf` | paste into pf.conf | `pfctl -f` replaces the ruleset; `pfctl -t NAME -T replace -f LIST` reloads the table alone |
//! | `plain` | one CIDR a line | (a `pfctl -T replace` / `ipset` input) |
//!
//! Before rendering, the list is normalised: host bits cleared, duplicates and networks inside
//! another listed network dropped (nft rejects overlapping intervals), IPv4 before IPv6, sorted.

use std::fmt;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlocklistFormat {
    /// pf.conf table + rule.
    Pf,
    /// ipfw commands (a `sh` script).
    Ipfw,
    /// An nftables table (`nft -f`).
    Nft,
    /// ipset + iptables/ip6tables commands (a `sh` script).
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

/// Default table / set name.
pub const TABLE: &str = "halfopen_block";

/// Default ipfw rule number of the deny rule: below FreeBSD's `rc.firewall` rules (which start
/// at 100) and below the numbers most hand-written rule sets begin with, so the deny comes first
/// (ipfw stops at the first matching rule). Pass the number before your first allow rule when
/// yours start lower.
pub const DEFAULT_IPFW_RULE: u16 = 50;

/// The longest table name accepted: ipset names are at most 31 bytes and the iptables output
/// adds `_v4_new`.
pub const MAX_NAME_LEN: usize = 24;

/// The longest interface name accepted (Linux `IFNAMSIZ` 16 with its NUL; FreeBSD the same).
pub const MAX_INTERFACE_LEN: usize = 15;

/// A table / set name that is valid in every format: an ASCII letter, then letters, digits or
/// `_`, at most [`MAX_NAME_LEN`] bytes.
///
/// ```
/// use halfopen::blocklist::TableName;
/// assert!(TableName::new("web_block").is_some());
/// assert!(TableName::new("bad name").is_none());
/// assert!(TableName::new("1st").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName(String);

impl TableName {
    /// The name, if valid.
    pub fn new(name: &str) -> Option<TableName> {
        let mut bytes = name.bytes();
        let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
        let rest_ok = bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        (first_ok && rest_ok && name.len() <= MAX_NAME_LEN).then(|| TableName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TableName {
    fn default() -> Self {
        TableName(TABLE.to_owned())
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A network interface name safe to put in every format (and in a shell script): ASCII
/// letters, digits, `_`, `.` and `-`, not starting with `-`, at most [`MAX_INTERFACE_LEN`] bytes.
///
/// ```
/// use halfopen::blocklist::Interface;
/// assert!(Interface::new("eth0").is_some());
/// assert!(Interface::new("vlan0.100").is_some());
/// assert!(Interface::new("eth0; reboot").is_none());
/// assert!(Interface::new("-j").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Interface(String);

impl Interface {
    /// The interface, if the name is acceptable.
    pub fn new(name: &str) -> Option<Interface> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
        let ok = !name.is_empty()
            && name.len() <= MAX_INTERFACE_LEN
            && !name.starts_with('-')
            && name != "."
            && name != ".."
            && name.bytes().all(allowed);
        ok.then(|| Interface(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ipfw rule number a rule can be added with: 1 to 65534 (65535 is the default rule).
///
/// ```
/// use halfopen::blocklist::IpfwRule;
/// assert_eq!(IpfwRule::new(90).map(IpfwRule::get), Some(90));
/// assert!(IpfwRule::new(0).is_none());
/// assert!(IpfwRule::new(65535).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpfwRule(u16);

impl IpfwRule {
    /// The rule number, if usable.
    pub fn new(n: u16) -> Option<IpfwRule> {
        (1..=65534).contains(&n).then_some(IpfwRule(n))
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for IpfwRule {
    fn default() -> Self {
        IpfwRule(DEFAULT_IPFW_RULE)
    }
}

/// What the renderer needs besides the list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RenderOptions {
    /// The interface the traffic comes in on (`iifname`, `-i`, `recv`, `on`); `None` = any.
    pub interface: Option<Interface>,
    /// ipfw: the number of the deny rule (before your allow rules).
    pub ipfw_rule: IpfwRule,
    /// Table / set name (nft table, ipset sets `NAME_v4`/`NAME_v6`, ipfw and pf tables).
    pub name: TableName,
}

/// Renders the CIDRs in a format (always ends with a newline, except an empty plain list; an
/// empty list in a firewall format gives the empty table and its rule, with a comment, so
/// applying it removes an earlier list).
///
/// ```
/// use halfopen::blocklist::{render, BlocklistFormat, RenderOptions};
/// let nets = ["45.76.87.206/32".parse().unwrap()];
/// let opts = RenderOptions::default();
/// assert_eq!(render(&nets, BlocklistFormat::Plain, &opts), "45.76.87.206/32\n");
/// assert!(render(&nets, BlocklistFormat::Pf, &opts)
///     .contains("table <halfopen_block> persist { 45.76.87.206/32 }"));
/// assert!(render(&nets, BlocklistFormat::Ipfw, &opts)
///     .contains("ipfw add 50 deny ip from 'table(halfopen_block)' to any in\n"));
/// ```
pub fn render(nets: &[IpNet], format: BlocklistFormat, options: &RenderOptions) -> String {
    let list = Normalized::new(nets);
    let mut out = String::new();
    match format {
        BlocklistFormat::Plain => render_plain(&list, &mut out),
        BlocklistFormat::Pf => render_pf(&list, options, &mut out),
        BlocklistFormat::Ipfw => render_ipfw(&list, options, &mut out),
        BlocklistFormat::Nft => render_nft(&list, options, &mut out),
        BlocklistFormat::Iptables => render_iptables(&list, options, &mut out),
    }
    if list.is_empty() && format != BlocklistFormat::Plain {
        // After the `#!` line, which must stay first.
        let at = if out.starts_with("#!") {
            out.find('\n').map_or(out.len(), |nl| nl + 1)
        } else {
            0
        };
        out.insert_str(at, "# nothing to block: this empties the list\n");
    }
    out
}

/// The list with host bits cleared, sorted, without duplicates or networks inside another one.
struct Normalized {
    v4: Vec<Ipv4Net>,
    v6: Vec<Ipv6Net>,
}

impl Normalized {
    fn new(nets: &[IpNet]) -> Normalized {
        let mut v4: Vec<Ipv4Net> = Vec::new();
        let mut v6: Vec<Ipv6Net> = Vec::new();
        for n in nets {
            match n.trunc() {
                IpNet::V4(n) => v4.push(n),
                IpNet::V6(n) => v6.push(n),
            }
        }
        v4.sort_by_key(|n| (n.network(), n.prefix_len()));
        v6.sort_by_key(|n| (n.network(), n.prefix_len()));
        // Sorted by start address, broader first: a network inside another one comes right
        // after it (or after other networks inside it).
        v4.dedup_by(|later, kept| kept.contains(&*later));
        v6.dedup_by(|later, kept| kept.contains(&*later));
        Normalized { v4, v6 }
    }

    fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    fn all(&self) -> Vec<String> {
        let v4 = self.v4.iter().map(ToString::to_string);
        v4.chain(self.v6.iter().map(ToString::to_string)).collect()
    }
}

fn line(out: &mut String, text: &str) {
    out.push_str(text);
    out.push('\n');
}

fn render_plain(list: &Normalized, out: &mut String) {
    for n in list.all() {
        line(out, &n);
    }
}

fn render_pf(list: &Normalized, o: &RenderOptions, out: &mut String) {
    let name = &o.name;
    let on = o
        .interface
        .as_ref()
        .map(|i| format!(" on {i}"))
        .unwrap_or_default();
    line(out, "# halfopen block list for pf (inbound only).");
    line(
        out,
        "# Put both lines in /etc/pf.conf: the table anywhere before the rule, the rule before",
    );
    line(
        out,
        "# your pass rules (it is `quick`: it decides at once; a `pass quick` above it would win).",
    );
    line(
        out,
        "# Load: pfctl -f /etc/pf.conf. To reload the table alone later, write the list",
    );
    line(
        out,
        &format!("# with `--blocklist plain > FILE` and run: pfctl -t {name} -T replace -f FILE"),
    );
    let all = list.all();
    if all.is_empty() {
        line(out, &format!("table <{name}> persist"));
    } else {
        line(
            out,
            &format!("table <{name}> persist {{ {} }}", all.join(", ")),
        );
    }
    line(
        out,
        &format!("block drop in quick{on} from <{name}> to any"),
    );
}

fn render_ipfw(list: &Normalized, o: &RenderOptions, out: &mut String) {
    let name = &o.name;
    let rule = o.ipfw_rule.get();
    let recv = o
        .interface
        .as_ref()
        .map(|i| format!(" recv {i}"))
        .unwrap_or_default();
    line(out, "#!/bin/sh");
    line(
        out,
        "# halfopen block list for ipfw (inbound only). Run as root: sh FILE",
    );
    line(
        out,
        &format!("# Rule {rule} denies what comes in from table {name}; it must come before your"),
    );
    line(
        out,
        "# allow rules (ipfw stops at the first match): choose it with --ipfw-rule N.",
    );
    line(
        out,
        "# Safe to run again: the table is created when missing, emptied and refilled with this",
    );
    line(
        out,
        "# list, and the rule is added only when `ipfw list N` does not show it already.",
    );
    line(out, "set -e");
    line(
        out,
        &format!("ipfw table {name} info >/dev/null 2>&1 || ipfw table {name} create type addr"),
    );
    line(out, &format!("ipfw -q table {name} flush"));
    for n in list.all() {
        line(out, &format!("ipfw -q table {name} add {n}"));
    }
    let deny = format!("ipfw add {rule} deny ip from 'table({name})' to any in{recv}");
    line(
        out,
        &format!("ipfw list {rule} 2>/dev/null | grep -qF 'table({name})' ||"),
    );
    line(out, &format!("    {deny}"));
}

fn nft_set(out: &mut String, set: &str, ty: &str, elements: &[String]) {
    line(out, &format!("\tset {set} {{"));
    line(out, &format!("\t\ttype {ty}"));
    line(out, "\t\tflags interval");
    if !elements.is_empty() {
        line(out, "\t\telements = {");
        line(out, &format!("\t\t\t{}", elements.join(",\n\t\t\t")));
        line(out, "\t\t}");
    }
    line(out, "\t}");
}

fn render_nft(list: &Normalized, o: &RenderOptions, out: &mut String) {
    let name = &o.name;
    let iif = o
        .interface
        .as_ref()
        .map(|i| format!("iifname \"{i}\" "))
        .unwrap_or_default();
    line(out, "#!/usr/sbin/nft -f");
    line(
        out,
        "# halfopen block list for nftables (inbound only). Load: nft -f FILE",
    );
    line(
        out,
        &format!("# Safe to load again: the empty `table` line creates inet {name} when it is"),
    );
    line(
        out,
        "# missing, so the `delete` never fails; the table is then defined anew, all in one",
    );
    line(
        out,
        "# transaction: each rule once, the sets hold exactly this list. Any nft with the inet",
    );
    line(
        out,
        "# family (kernel >= 3.18 to delete a table with its contents).",
    );
    line(out, &format!("table inet {name} {{"));
    line(out, "}");
    line(out, &format!("delete table inet {name}"));
    line(out, &format!("table inet {name} {{"));
    let v4: Vec<String> = list.v4.iter().map(ToString::to_string).collect();
    let v6: Vec<String> = list.v6.iter().map(ToString::to_string).collect();
    nft_set(out, "v4", "ipv4_addr", &v4);
    nft_set(out, "v6", "ipv6_addr", &v6);
    line(out, "\tchain input {");
    line(
        out,
        "\t\ttype filter hook input priority -10; policy accept;",
    );
    line(out, &format!("\t\t{iif}ip saddr @v4 drop"));
    line(out, &format!("\t\t{iif}ip6 saddr @v6 drop"));
    line(out, "\t}");
    line(out, "}");
}

/// `ipset restore` lines that make `set` hold `elements` exactly (staging set + swap).
fn ipset_family(out: &mut String, set: &str, family: &str, elements: &[String]) {
    let staging = format!("{set}_new");
    line(out, &format!("create {set} hash:net family {family}"));
    line(out, &format!("create {staging} hash:net family {family}"));
    line(out, &format!("flush {staging}"));
    for n in elements {
        line(out, &format!("add {staging} {n}"));
    }
    line(out, &format!("swap {staging} {set}"));
    line(out, &format!("destroy {staging}"));
}

fn render_iptables(list: &Normalized, o: &RenderOptions, out: &mut String) {
    let name = &o.name;
    let iif = o
        .interface
        .as_ref()
        .map(|i| format!("-i {i} "))
        .unwrap_or_default();
    line(out, "#!/bin/sh");
    line(
        out,
        "# halfopen block list for ipset + iptables/ip6tables (inbound only). Run as root: sh FILE",
    );
    line(
        out,
        &format!(
            "# Safe to run again: the sets {name}_v4 and {name}_v6 are created when missing and"
        ),
    );
    line(
        out,
        "# swapped with a staging set that holds exactly this list; each DROP rule is inserted at",
    );
    line(
        out,
        "# the top of INPUT only when `-C` does not find it. The part between EOF lines is an",
    );
    line(
        out,
        "# `ipset restore` file of its own (hash:net sets hold at most 65536 entries).",
    );
    line(out, "set -e");
    line(out, "ipset -exist restore <<'EOF'");
    let v4: Vec<String> = list.v4.iter().map(ToString::to_string).collect();
    let v6: Vec<String> = list.v6.iter().map(ToString::to_string).collect();
    ipset_family(out, &format!("{name}_v4"), "inet", &v4);
    ipset_family(out, &format!("{name}_v6"), "inet6", &v6);
    line(out, "EOF");
    for (cmd, suffix) in [("iptables", "v4"), ("ip6tables", "v6")] {
        let rule = format!("INPUT {iif}-m set --match-set {name}_{suffix} src -j DROP");
        line(out, &format!("{cmd} -C {rule} 2>/dev/null ||"));
        line(out, &format!("    {cmd} -I {rule}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn opts() -> RenderOptions {
        RenderOptions::default()
    }

    #[test]
    fn plain_is_normalised() {
        let n = nets(&[
            "2001:db8::/48",
            "198.51.100.7/24",
            "198.51.100.9/32",
            "198.51.100.0/24",
            "10.0.0.0/8",
            "10.1.0.0/16",
            "2001:db8:0:1::/64",
        ]);
        assert_eq!(
            render(&n, BlocklistFormat::Plain, &opts()),
            "10.0.0.0/8\n198.51.100.0/24\n2001:db8::/48\n"
        );
        assert_eq!(render(&[], BlocklistFormat::Plain, &opts()), "");
    }

    #[test]
    fn every_format_is_inbound_and_uses_the_options() {
        let n = nets(&["198.51.100.0/24", "2001:db8::/48"]);
        let o = RenderOptions {
            interface: Interface::new("em0"),
            ipfw_rule: IpfwRule::new(90).unwrap(),
            name: TableName::new("web_block").unwrap(),
        };
        let pf = render(&n, BlocklistFormat::Pf, &o);
        assert!(pf.contains("table <web_block> persist { 198.51.100.0/24, 2001:db8::/48 }\n"));
        assert!(pf.contains("block drop in quick on em0 from <web_block> to any\n"));
        let ipfw = render(&n, BlocklistFormat::Ipfw, &o);
        assert!(ipfw.contains("ipfw -q table web_block add 2001:db8::/48\n"));
        assert!(ipfw.contains("ipfw add 90 deny ip from 'table(web_block)' to any in recv em0\n"));
        let nft = render(&n, BlocklistFormat::Nft, &o);
        assert!(nft.contains("delete table inet web_block\n"));
        assert!(nft.contains("iifname \"em0\" ip saddr @v4 drop\n"));
        assert!(nft.contains("hook input"));
        let ipt = render(&n, BlocklistFormat::Iptables, &o);
        assert!(ipt.contains("add web_block_v4_new 198.51.100.0/24\n"));
        assert!(
            ipt.contains("ip6tables -I INPUT -i em0 -m set --match-set web_block_v6 src -j DROP\n")
        );
        for f in ["pf", "ipfw", "nft", "iptables", "plain"] {
            assert!(BlocklistFormat::from_name(f).is_some());
        }
    }

    #[test]
    fn empty_list_still_gives_the_rule() {
        for f in [
            BlocklistFormat::Pf,
            BlocklistFormat::Ipfw,
            BlocklistFormat::Nft,
            BlocklistFormat::Iptables,
        ] {
            let text = render(&[], f, &opts());
            let note = text
                .lines()
                .position(|l| l.starts_with("# nothing to block"));
            assert!(note.is_some_and(|i| i <= 1), "{text}");
            assert!(!text.contains("\n#!"), "a #! line stays first: {text}");
            assert!(text.contains("drop") || text.contains("deny") || text.contains("DROP"));
        }
        assert!(
            render(&[], BlocklistFormat::Pf, &opts()).contains("table <halfopen_block> persist\n")
        );
    }

    #[test]
    fn names_and_numbers_are_checked() {
        assert!(TableName::new("").is_none());
        assert!(TableName::new("a234567890123456789012345").is_none());
        assert!(TableName::new("a23456789012345678901234").is_some());
        assert!(TableName::new("x'y").is_none());
        assert!(Interface::new("").is_none());
        assert!(Interface::new("a234567890123456").is_none());
        assert!(Interface::new("eth\"0").is_none());
        assert!(Interface::new("..").is_none());
        assert_eq!(IpfwRule::default().get(), DEFAULT_IPFW_RULE);
        assert!(IpfwRule::new(65534).is_some());
    }
}
