//! One simulated TCP segment as it crossed the server's interface, and the stacks that build them.

use std::net::IpAddr;

/// TCP flag bits (TCP header layout).
pub mod flag {
    /// FIN
    pub const FIN: u8 = 0x01;
    /// SYN
    pub const SYN: u8 = 0x02;
    /// RST
    pub const RST: u8 = 0x04;
    /// PSH
    pub const PSH: u8 = 0x08;
    /// ACK
    pub const ACK: u8 = 0x10;
    /// URG
    pub const URG: u8 = 0x20;
    /// ECE (ECN-Echo; on a SYN: the sender asks for ECN)
    pub const ECE: u8 = 0x40;
    /// CWR (Congestion Window Reduced; on a SYN with ECE: an ECN-setup SYN)
    pub const CWR: u8 = 0x80;
}

/// A segment seen at the server's interface (the firewall's point of view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// When the server's interface saw it (µs since the epoch, UTC).
    pub ts_us: i64,
    /// Sender address.
    pub src: IpAddr,
    /// Sender port.
    pub sport: u16,
    /// Receiver address.
    pub dst: IpAddr,
    /// Receiver port.
    pub dport: u16,
    /// True for packets arriving at the server (INPUT chain, ipfw `in`).
    pub inbound: bool,
    /// TCP flags (see [`flag`]).
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement field (0 when the ACK flag is clear, except for tools such as hping3 that
    /// leave random bits there).
    pub ack: u32,
    /// Window field as sent (unscaled).
    pub window: u16,
    /// IP TTL / hop limit as seen at the server.
    pub ttl: u8,
    /// IPv4 identification.
    pub ip_id: u16,
    /// IPv4 don't-fragment bit.
    pub df: bool,
    /// Raw TCP options (padded to a multiple of 4 bytes).
    pub options: Vec<u8>,
    /// TCP payload.
    pub payload: Vec<u8>,
    /// Index of the actor whose traffic this is (for the truth table, never rendered).
    pub actor: usize,
}

impl Packet {
    /// IP total length (IPv4 `LEN=`, IPv6 payload length + 40).
    pub fn ip_len(&self) -> usize {
        let ip = if self.src.is_ipv4() { 20 } else { 40 };
        ip + 20 + self.options.len() + self.payload.len()
    }
}

/// Which TCP/IP stack a host runs (decides SYN options, windows, TTL, IP IDs, ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// Linux 5.x/6.x: SYN window 64240, options mss,sackOK,TS,nop,wscale 7; TTL 64.
    Linux,
    /// Windows 10/11: SYN window 64240, options mss,nop,ws 8,nop,nop,sackOK; TTL 128; no TS.
    Windows,
    /// nmap -sS raw SYN: window 1024, mss 1460 only.
    NmapRaw,
    /// hping3 -S: window 512, no options.
    Hping,
    /// A raw SYN sender with a stack-like header (window 65535, mss 1460) but no state behind it.
    RawTool,
}

impl Stack {
    /// Initial TTL of this stack.
    pub fn initial_ttl(self) -> u8 {
        match self {
            Stack::Windows => 128,
            _ => 64,
        }
    }

    /// Whether connections from this stack negotiate TCP timestamps.
    pub fn uses_ts(self) -> bool {
        matches!(self, Stack::Linux)
    }

    /// SYN window.
    pub fn syn_window(self) -> u16 {
        match self {
            Stack::Linux | Stack::Windows => 64240,
            Stack::NmapRaw => 1024,
            Stack::Hping => 512,
            Stack::RawTool => 65535,
        }
    }

    /// Window in established segments (scaled value as sent).
    pub fn est_window(self) -> u16 {
        match self {
            Stack::Linux => 502,
            Stack::Windows => 1026,
            _ => self.syn_window(),
        }
    }

    /// SYN options (raw bytes).
    pub fn syn_options(self, tsval: u32) -> Vec<u8> {
        match self {
            Stack::Linux => {
                let mut o = vec![2, 4, 0x05, 0xb4, 4, 2, 8, 10];
                o.extend_from_slice(&tsval.to_be_bytes());
                o.extend_from_slice(&[0, 0, 0, 0, 1, 3, 3, 7]);
                o
            }
            Stack::Windows => vec![2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2],
            Stack::NmapRaw | Stack::RawTool => vec![2, 4, 0x05, 0xb4],
            Stack::Hping => Vec::new(),
        }
    }
}

/// The server's (Linux) SYN-ACK options and window for a SYN with these options.
pub fn linux_synack(syn_opts: &[u8], tsval: u32, tsecr: u32) -> (Vec<u8>, u16) {
    let has = |kind: u8| option_kinds(syn_opts).contains(&kind);
    let (ts, sack, ws) = (has(8), has(4), has(3));
    let mut o = vec![2, 4, 0x05, 0xb4];
    if ts {
        if sack {
            o.extend_from_slice(&[4, 2]);
        } else {
            o.extend_from_slice(&[1, 1]);
        }
        o.extend_from_slice(&[8, 10]);
        o.extend_from_slice(&tsval.to_be_bytes());
        o.extend_from_slice(&tsecr.to_be_bytes());
        if ws {
            o.extend_from_slice(&[1, 3, 3, 7]);
        }
    } else {
        if sack {
            o.extend_from_slice(&[1, 1, 4, 2]);
        }
        if ws {
            o.extend_from_slice(&[1, 3, 3, 7]);
        }
    }
    let win = if ts && ws { 65160 } else { 64240 };
    (o, win)
}

/// Option kinds in order (stops at EOL or a malformed length).
pub fn option_kinds(opts: &[u8]) -> Vec<u8> {
    let mut kinds = Vec::new();
    let mut i = 0;
    while let Some(&k) = opts.get(i) {
        kinds.push(k);
        match k {
            0 => break,
            1 => i += 1,
            _ => match opts.get(i + 1) {
                Some(&l) if l >= 2 => i += usize::from(l),
                _ => break,
            },
        }
    }
    kinds
}

/// Established-segment timestamp option: nop,nop,TS val ecr.
pub fn ts_option(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_syn_matches_the_kernel_log_sample() {
        // OPT (020405B40402080A031715B70000000001030307) from a real kern.log line.
        let o = Stack::Linux.syn_options(0x0317_15B7);
        let hex: String = o.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, "020405B40402080A031715B70000000001030307");
        assert_eq!(option_kinds(&o), vec![2, 4, 8, 1, 3]);
    }

    #[test]
    fn synack_mirrors_the_syn() {
        let (o, w) = linux_synack(&Stack::Windows.syn_options(0), 5, 0);
        assert_eq!(o, vec![2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7]);
        assert_eq!(w, 64240);
        let (o, w) = linux_synack(&[], 5, 0);
        assert_eq!(o, vec![2, 4, 5, 0xb4]);
        assert_eq!(w, 64240);
        let (o, w) = linux_synack(&Stack::Linux.syn_options(1), 5, 1);
        assert_eq!(o.len(), 20);
        assert_eq!(w, 65160);
    }
}
