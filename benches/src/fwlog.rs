//! Deterministic input generators and regex baselines for the `fwlog` benchmarks.
//!
//! Everything is generated in memory from a seed (no files, no network). The line count is
//! a parameter; the bench reads it from `HALFOPEN_BENCH_LINES` (default 1,000,000).

use std::io::Write;
use std::net::IpAddr;

use regex::bytes::{CaptureLocations, Regex};

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn stamp(out: &mut Vec<u8>, i: usize) {
    let secs = i / 50;
    let _ = write!(
        out,
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[(i / 5_000_000) % 12],
        1 + (secs / 86_400) % 28,
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    );
}

fn v4(out: &mut Vec<u8>, rng: &mut Rng) {
    let _ = write!(
        out,
        "{}.{}.{}.{}",
        1 + rng.below(223),
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    );
}

fn v6(out: &mut Vec<u8>, rng: &mut Rng) {
    let _ = write!(
        out,
        "2001:0db8:{:04x}:{:04x}:0000:0000:0000:{:04x}",
        rng.below(65536),
        rng.below(65536),
        rng.below(65536)
    );
}

const FLAGS: [&str; 6] = ["SYN", "SYN", "ACK", "ACK FIN", "ACK PSH", "RST"];
const PORTS: [u16; 6] = [80, 443, 22, 25, 8080, 3306];

/// `n` kern.log netfilter lines joined by `\n` (syslog header, uptime, a prefix, ~90% IPv4,
/// ~10% UDP, TCP flag mix with ~half SYN, ~30% with `OPT (...)`).
pub fn netfilter_lines(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * 260);
    for i in 0..n {
        stamp(&mut out, i);
        let _ = write!(
            out,
            " web{} kernel: [{}.{:06}] {}IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=",
            rng.below(4),
            100_000 + i / 50,
            rng.below(1_000_000),
            ["[UFW BLOCK] ", "DROP ", "", "[wan-lan-default-D]"][rng.below(4) as usize]
        );
        let ipv6 = rng.below(10) == 0;
        if ipv6 {
            v6(&mut out, &mut rng);
            out.extend_from_slice(b" DST=");
            v6(&mut out, &mut rng);
            let _ = write!(
                out,
                " LEN={} TC=0 HOPLIMIT={} FLOWLBL={}",
                60 + rng.below(1400),
                32 + rng.below(224),
                rng.below(1 << 20)
            );
        } else {
            v4(&mut out, &mut rng);
            out.extend_from_slice(b" DST=");
            v4(&mut out, &mut rng);
            let _ = write!(
                out,
                " LEN={} TOS=0x00 PREC=0x00 TTL={} ID={}{}",
                40 + rng.below(1460),
                32 + rng.below(224),
                rng.below(65536),
                if rng.below(2) == 0 { " DF" } else { "" }
            );
        }
        let sport = 1024 + rng.below(64_000);
        let dport = PORTS[rng.below(6) as usize];
        if rng.below(10) == 0 {
            let _ = write!(
                out,
                " PROTO=UDP SPT={sport} DPT=53 LEN={}",
                8 + rng.below(500)
            );
        } else {
            let flags = FLAGS[rng.below(6) as usize];
            let _ = write!(
                out,
                " PROTO=TCP SPT={sport} DPT={dport} WINDOW={} RES=0x00 {flags} URGP=0",
                rng.below(65536)
            );
            if flags == "SYN" && rng.below(2) == 0 {
                out.extend_from_slice(b" OPT (020405B40402080A");
                let _ = write!(out, "{:08X}", rng.next_u64() as u32);
                out.extend_from_slice(b"0000000001030307)");
            }
        }
        out.push(b'\n');
    }
    out
}

/// `n` ipfw lines joined by `\n` (`kernel: ipfw: RULE ACTION PROTO a:p b:p in via em0`, some
/// ICMP, some `out via`, a few IPv6).
pub fn ipfw_lines(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n * 110);
    for i in 0..n {
        stamp(&mut out, i);
        let _ = write!(
            out,
            " fw{} kernel: ipfw: {} {} ",
            rng.below(3),
            [100, 900, 2700, 65000][rng.below(4) as usize],
            ["Deny", "Deny", "Accept", "Reset", "Unreach 3"][rng.below(5) as usize]
        );
        let ipv6 = rng.below(20) == 0;
        let kind = rng.below(10);
        let (src, dst) = {
            let mut s = Vec::new();
            let mut d = Vec::new();
            if ipv6 {
                s.push(b'[');
                v6(&mut s, &mut rng);
                s.push(b']');
                d.push(b'[');
                v6(&mut d, &mut rng);
                d.push(b']');
            } else {
                v4(&mut s, &mut rng);
                v4(&mut d, &mut rng);
            }
            (s, d)
        };
        if kind == 0 && !ipv6 {
            out.extend_from_slice(b"ICMP:8.0 ");
            out.extend_from_slice(&src);
            out.push(b' ');
            out.extend_from_slice(&dst);
        } else {
            out.extend_from_slice(if kind == 1 { b"UDP " } else { b"TCP " });
            out.extend_from_slice(&src);
            let _ = write!(out, ":{} ", 1024 + rng.below(64_000));
            out.extend_from_slice(&dst);
            let _ = write!(out, ":{}", PORTS[rng.below(6) as usize]);
        }
        out.extend_from_slice(if rng.below(8) == 0 {
            b" out via em1\n"
        } else {
            b" in via em0\n"
        });
    }
    out
}

/// The fields both parsers extract, for a like-for-like comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Source port.
    pub sport: Option<u16>,
    /// Destination port.
    pub dport: Option<u16>,
    /// IP length (netfilter).
    pub len: Option<u32>,
    /// TTL (netfilter).
    pub ttl: Option<u8>,
    /// TCP window (netfilter).
    pub window: Option<u32>,
    /// TCP flag bits (netfilter).
    pub flags: u8,
}

/// The regex baseline for netfilter lines: one compiled pattern and reusable capture slots.
#[derive(Debug, Clone)]
pub struct NetfilterRegex {
    re: Regex,
    locs: CaptureLocations,
}

impl Default for NetfilterRegex {
    fn default() -> Self {
        NetfilterRegex::new()
    }
}

impl NetfilterRegex {
    /// Compiles the pattern.
    pub fn new() -> NetfilterRegex {
        let re = Regex::new(concat!(
            r"^([A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d) (\S+) kernel: (?:\[ *\d+\.\d+\] )?",
            r"(.*?)IN=(\S*) OUT=(\S*) (?:MAC=\S* )?SRC=(\S+) DST=(\S+) LEN=(\d+) ",
            r".*?(?:TTL|HOPLIMIT)=(\d+) .*?PROTO=(\S+)(?: SPT=(\d+) DPT=(\d+))?",
            r"(?: WINDOW=(\d+) RES=0x[0-9A-Fa-f]{2} ((?:[A-Z]{3} )*)URGP=\d+)?",
        ))
        .expect("valid regex");
        let locs = re.capture_locations();
        NetfilterRegex { re, locs }
    }

    /// Matches one line and converts the captured fields.
    pub fn parse(&mut self, line: &[u8]) -> Option<Summary> {
        self.re.captures_read(&mut self.locs, line)?;
        let g = |i: usize| self.locs.get(i).and_then(|(s, e)| line.get(s..e));
        let num = |i: usize| g(i).and_then(|b| std::str::from_utf8(b).ok()?.parse::<u64>().ok());
        let ip = |i: usize| g(i).and_then(|b| std::str::from_utf8(b).ok()?.parse().ok());
        let mut flags = 0u8;
        if let Some(f) = g(14) {
            for w in f.split(|c| *c == b' ') {
                flags |= match w {
                    b"FIN" => 1,
                    b"SYN" => 2,
                    b"RST" => 4,
                    b"PSH" => 8,
                    b"ACK" => 16,
                    b"URG" => 32,
                    b"ECE" => 64,
                    b"CWR" => 128,
                    _ => 0,
                };
            }
        }
        Some(Summary {
            src: ip(6),
            dst: ip(7),
            sport: num(11).and_then(|v| u16::try_from(v).ok()),
            dport: num(12).and_then(|v| u16::try_from(v).ok()),
            len: num(8).and_then(|v| u32::try_from(v).ok()),
            ttl: num(9).and_then(|v| u8::try_from(v).ok()),
            window: num(13).and_then(|v| u32::try_from(v).ok()),
            flags,
        })
    }
}

/// The regex baseline for ipfw lines.
#[derive(Debug, Clone)]
pub struct IpfwRegex {
    re: Regex,
    locs: CaptureLocations,
}

impl Default for IpfwRegex {
    fn default() -> Self {
        IpfwRegex::new()
    }
}

impl IpfwRegex {
    /// Compiles the pattern.
    pub fn new() -> IpfwRegex {
        let re = Regex::new(concat!(
            r"^([A-Z][a-z]{2} +\d+ \d\d:\d\d:\d\d) (\S+) /?kernel: ipfw: (-?\d+) ([A-Za-z]+(?: \d+)?) ",
            r"(TCP|UDP|ICMP:\d+\.\d+) \[?([0-9A-Fa-f.:]+?)\]?(?::(\d+))? \[?([0-9A-Fa-f.:]+?)\]?(?::(\d+))? ",
            r"(in|out) via (\S+)",
        ))
        .expect("valid regex");
        let locs = re.capture_locations();
        IpfwRegex { re, locs }
    }

    /// Matches one line and converts the captured fields.
    pub fn parse(&mut self, line: &[u8]) -> Option<Summary> {
        self.re.captures_read(&mut self.locs, line)?;
        let g = |i: usize| self.locs.get(i).and_then(|(s, e)| line.get(s..e));
        let num = |i: usize| g(i).and_then(|b| std::str::from_utf8(b).ok()?.parse::<u16>().ok());
        let ip = |i: usize| g(i).and_then(|b| std::str::from_utf8(b).ok()?.parse().ok());
        Some(Summary {
            src: ip(6),
            dst: ip(8),
            sport: num(7),
            dport: num(9),
            ..Summary::default()
        })
    }
}

/// The same summary from a halfopen record.
pub fn summary(r: &halfopen_fwlog::Record<'_>) -> Summary {
    Summary {
        src: Some(r.src),
        dst: Some(r.dst),
        sport: r.src_port,
        dport: r.dst_port,
        len: r.length,
        ttl: r.ttl,
        window: r.window,
        flags: r.tcp_flags.map_or(0, |f| f.0),
    }
}

/// Splits generated input into lines (without the newline).
pub fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use halfopen_fwlog::formats::{ipfw, netfilter};

    #[test]
    fn generated_lines_parse_and_agree_with_the_regex_baseline() {
        let nf = netfilter_lines(2000, 7);
        let mut re = NetfilterRegex::new();
        for l in lines(&nf) {
            let r = netfilter::parse(l)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)));
            assert_eq!(
                re.parse(l),
                Some(summary(&r)),
                "{}",
                String::from_utf8_lossy(l)
            );
        }
        let fw = ipfw_lines(2000, 7);
        let mut re = IpfwRegex::new();
        for l in lines(&fw) {
            let r =
                ipfw::parse(l).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(l)));
            let mut want = summary(&r);
            (want.len, want.ttl, want.window, want.flags) = (None, None, None, 0);
            assert_eq!(re.parse(l), Some(want), "{}", String::from_utf8_lossy(l));
        }
        assert_eq!(netfilter_lines(10, 1), netfilter_lines(10, 1));
    }
}
