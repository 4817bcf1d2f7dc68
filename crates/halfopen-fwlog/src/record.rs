//! The parsed form of one firewall log line, borrowing from the input.
//!
//! Every format module produces a [`Record`]. Fields a format does not carry are
//! `None`; fields the record has no slot for are kept, in order, in
//! [`Record::extra`], so nothing a line says is lost.

use std::net::IpAddr;

use crate::time::Timestamp;

/// Which log format a record was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// FreeBSD ipfw verbose logging (`ipfw: 100 Deny TCP a:p b:p in via em0`), also the
    /// bare `TCP a:p b:p in` form.
    Ipfw,
    /// Linux netfilter `LOG` target / nftables `log` statement (kernel `nf_log_syslog` text).
    Netfilter,
    /// NFLOG/ULOG userspace loggers that print netfilter-like text (ulogd2 LOGEMU/syslogemu,
    /// Proxmox `pvefw-logger`).
    Nflog,
    /// pf logs rendered as text by tcpdump (`rule 4/(match) block in on em0: ...`).
    PfTcpdump,
    /// pfSense / OPNsense `filterlog` CSV.
    Filterlog,
    /// IPFilter `ipmon`.
    Ipmon,
    /// Windows Firewall `pfirewall.log`.
    WindowsFirewall,
}

impl Format {
    /// Every format this crate parses, in auto-detection order.
    pub const ALL: [Format; 7] = [
        Format::Netfilter,
        Format::Nflog,
        Format::Ipfw,
        Format::Filterlog,
        Format::PfTcpdump,
        Format::Ipmon,
        Format::WindowsFirewall,
    ];

    /// Short stable name (`ipfw`, `netfilter`, `nflog`, `pf`, `filterlog`, `ipmon`, `windows`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Ipfw => "ipfw",
            Format::Netfilter => "netfilter",
            Format::Nflog => "nflog",
            Format::PfTcpdump => "pf",
            Format::Filterlog => "filterlog",
            Format::Ipmon => "ipmon",
            Format::WindowsFirewall => "windows",
        }
    }
}

/// What the firewall did with the packet, where the line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Passed (ipfw `Accept`, pf `pass`, filterlog `pass`, Windows `ALLOW`, ipmon `p`).
    Accept,
    /// Dropped silently (ipfw `Deny`, pf `block`, Windows `DROP`, ipmon `b`).
    Deny,
    /// Rejected with an RST or ICMP error (ipfw `Reset`/`Unreach`, netfilter `REJECT` prefixes).
    Reject,
    /// Counted or logged only (ipfw `Count`, ipmon `L`).
    Log,
    /// Diverted, forwarded or rewritten (ipfw `Divert`/`Fwd`, NAT).
    Redirect,
    /// Another action word, kept as written.
    Other,
}

/// Direction of the packet relative to the firewall host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Arriving on an interface.
    In,
    /// Leaving through an interface.
    Out,
    /// Forwarded (netfilter lines with both `IN=` and `OUT=` set).
    Forward,
}

/// IP protocol of the logged packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// ICMP (1).
    Icmp,
    /// ICMPv6 (58).
    Icmpv6,
    /// Any other protocol, by number (IGMP = 2, ESP = 50, ...).
    Other(u8),
}

impl Protocol {
    /// The IANA protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Icmp => 1,
            Protocol::Icmpv6 => 58,
            Protocol::Other(n) => n,
        }
    }

    /// The protocol for an IANA number.
    pub fn from_number(n: u8) -> Protocol {
        match n {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            1 => Protocol::Icmp,
            58 => Protocol::Icmpv6,
            n => Protocol::Other(n),
        }
    }
}

/// TCP flags as the bits of the TCP header's flag byte (RFC 9293 §3.1, RFC 3168 for ECE/CWR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN: no more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// SYN: synchronize sequence numbers.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// RST: reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// PSH: push function.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// ACK: acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// URG: urgent pointer field is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECE: ECN-Echo.
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// CWR: congestion window reduced.
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// No flag set.
    pub const fn empty() -> TcpFlags {
        TcpFlags(0)
    }
    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// The union of both sets.
    pub const fn union(self, other: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | other.0)
    }
    /// The raw flag byte.
    pub const fn bits(self) -> u8 {
        self.0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        self.union(rhs)
    }
}

impl std::ops::BitOrAssign for TcpFlags {
    fn bitor_assign(&mut self, rhs: TcpFlags) {
        self.0 |= rhs.0;
    }
}

/// Most fields a record keeps in [`Extra`]; a line with more is rejected
/// ([`crate::Error::TooManyFields`]).
pub const MAX_EXTRA_FIELDS: usize = 32;

/// Fields kept inline in [`Extra`] before the rest go to the heap: 12 hold every line of
/// the public corpora (`../shared/corpora/firewall`) but three netfilter lines with 13 to 17
/// unknown keys; pfSense's filterlog lines carry 7 to 12, most netfilter lines none to six.
const INLINE_EXTRA_FIELDS: usize = 12;

/// A field: key (empty for a bare word) and value.
type Field<'a> = (&'a [u8], &'a [u8]);

/// Fields the record has no typed slot for, in the order the line gives them, borrowed.
///
/// The first few are stored inline; more (up to [`MAX_EXTRA_FIELDS`]) in a vector. A record
/// stays small to build and to move: with all 32 inline it was 1.3 KB, written in full for
/// every line and copied as it was returned (0.7 KB now). Keys may repeat (netfilter prints
/// `ID=` for the outer and an embedded packet, for example). A field with no key (a bare
/// word) has an empty key.
#[derive(Clone)]
pub struct Extra<'a> {
    inline: [Field<'a>; INLINE_EXTRA_FIELDS],
    inline_len: u8,
    more: Vec<Field<'a>>,
}

impl<'a> Extra<'a> {
    /// An empty set.
    pub const fn new() -> Extra<'a> {
        Extra {
            inline: [(&[], &[]); INLINE_EXTRA_FIELDS],
            inline_len: 0,
            more: Vec::new(),
        }
    }

    /// Appends a field; `false` (and nothing stored) when the set is full.
    pub fn push(&mut self, key: &'a [u8], value: &'a [u8]) -> bool {
        if self.len() == MAX_EXTRA_FIELDS {
            return false;
        }
        match self.inline.get_mut(usize::from(self.inline_len)) {
            Some(slot) => {
                *slot = (key, value);
                self.inline_len += 1;
            }
            None => self.more.push((key, value)),
        }
        true
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        usize::from(self.inline_len) + self.more.len()
    }

    /// True when no field is kept.
    pub fn is_empty(&self) -> bool {
        self.inline_len == 0
    }

    /// The fields, in line order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + '_ {
        let inline = self.inline.get(..usize::from(self.inline_len));
        inline
            .unwrap_or_default()
            .iter()
            .chain(self.more.iter())
            .copied()
    }

    /// The value of the first field with this key.
    pub fn get(&self, key: &[u8]) -> Option<&'a [u8]> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }
}

impl Default for Extra<'_> {
    fn default() -> Self {
        Extra::new()
    }
}

impl std::fmt::Debug for Extra<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

impl PartialEq for Extra<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Extra<'_> {}

/// One firewall log line, parsed. Borrows from the line it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// The format it was parsed as.
    pub format: Format,
    /// The timestamp as written (syslog header or the format's own), if any.
    pub timestamp: Option<Timestamp<'a>>,
    /// Kernel uptime stamp (`[ 5739.482168]`) in microseconds, where present.
    pub uptime_us: Option<u64>,
    /// Host name from the syslog header, where present.
    pub host: Option<&'a [u8]>,
    /// What the firewall did, where given.
    pub action: Option<Action>,
    /// The action word as written (`Deny`, `block`, `DROP`, ...), where given.
    pub action_text: Option<&'a [u8]>,
    /// Direction, where given.
    pub direction: Option<Direction>,
    /// Input interface (`IN=eth0`, `in via em0`, `on em0`), where given.
    pub in_interface: Option<&'a [u8]>,
    /// Output interface (`OUT=eth1`, `out via em0`), where given.
    pub out_interface: Option<&'a [u8]>,
    /// IP protocol.
    pub protocol: Protocol,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (TCP/UDP/SCTP), where given.
    pub src_port: Option<u16>,
    /// Destination port, where given.
    pub dst_port: Option<u16>,
    /// ICMP type and code, where given.
    pub icmp: Option<(u8, u8)>,
    /// TCP flags, where the format carries them. `Some(TcpFlags::empty())` means the line
    /// said "no flags" (a NULL scan); `None` means the format did not say.
    pub tcp_flags: Option<TcpFlags>,
    /// IP TTL / IPv6 hop limit.
    pub ttl: Option<u8>,
    /// IPv4 identification / IPv6 flow label.
    pub ip_id: Option<u32>,
    /// IP total length (netfilter `LEN=`, Windows `size`).
    pub length: Option<u32>,
    /// TCP window.
    pub window: Option<u32>,
    /// TCP sequence number.
    pub seq: Option<u32>,
    /// TCP acknowledgment number.
    pub ack: Option<u32>,
    /// TCP options as logged (hex for netfilter `OPT (...)`, text for pf `<mss 1460,...>`).
    pub tcp_options: Option<&'a [u8]>,
    /// Rule number or label (ipfw rule, pf `rule 4/0`, filterlog rule number/tracker).
    pub rule: Option<&'a [u8]>,
    /// Log prefix (netfilter `--log-prefix`, e.g. `[UFW BLOCK] `), trimmed.
    pub prefix: Option<&'a [u8]>,
    /// Every other field of the line, in order.
    pub extra: Extra<'a>,
}

impl<'a> Record<'a> {
    /// A record with only the mandatory parts set; format modules fill in the rest.
    pub fn new(format: Format, protocol: Protocol, src: IpAddr, dst: IpAddr) -> Record<'a> {
        Record {
            format,
            timestamp: None,
            uptime_us: None,
            host: None,
            action: None,
            action_text: None,
            direction: None,
            in_interface: None,
            out_interface: None,
            protocol,
            src,
            dst,
            src_port: None,
            dst_port: None,
            icmp: None,
            tcp_flags: None,
            ttl: None,
            ip_id: None,
            length: None,
            window: None,
            seq: None,
            ack: None,
            tcp_options: None,
            rule: None,
            prefix: None,
            extra: Extra::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: [&[u8]; MAX_EXTRA_FIELDS + 1] = [
        b"k0", b"k1", b"k2", b"k3", b"k4", b"k5", b"k6", b"k7", b"k8", b"k9", b"k10", b"k11",
        b"k12", b"k13", b"k14", b"k15", b"k16", b"k17", b"k18", b"k19", b"k20", b"k21", b"k22",
        b"k23", b"k24", b"k25", b"k26", b"k27", b"k28", b"k29", b"k30", b"k31", b"k32",
    ];

    #[test]
    fn fields_past_the_inline_ones_keep_their_order_up_to_the_cap() {
        let mut e = Extra::new();
        for (i, k) in KEYS.iter().enumerate().take(MAX_EXTRA_FIELDS) {
            assert!(e.push(k, b"v"), "field {i}");
            assert_eq!(e.len(), i + 1);
        }
        assert!(!e.push(KEYS[MAX_EXTRA_FIELDS], b"v"), "one past the cap");
        assert_eq!(e.len(), MAX_EXTRA_FIELDS);
        let keys: Vec<&[u8]> = e.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, KEYS[..MAX_EXTRA_FIELDS].to_vec());
        assert_eq!(e.get(b"k31"), Some(&b"v"[..]));
        assert_eq!(e.get(b"k32"), None);
        // Equality is by the fields, wherever they are stored.
        let mut f = Extra::new();
        for k in &KEYS[..MAX_EXTRA_FIELDS] {
            f.push(k, b"v");
        }
        assert_eq!(e, f);
        assert!(Extra::new().is_empty());
    }

    #[test]
    fn a_record_stays_small_to_build_and_move() {
        assert!(std::mem::size_of::<Record<'_>>() <= 700);
    }
}
