//! The new forms and behaviours against REAL evidence (tests/data, see PROVENANCE.md): the line
//! shapes of lab run1's `kern-in.log` and `ipfw.log` and of lab run2's nftables log, derive.py's
//! rules, and the packets hping3, Chromium, Linux and Apache really sent in the lab.

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use halfopen_testgen::{Behavior, Form, Rendered, Scenario, scenarios};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

fn data(rel: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel);
    let raw = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if rel.ends_with(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

fn text(rel: &str) -> String {
    String::from_utf8(data(rel)).unwrap()
}

fn run1_kern_in() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| text("../../../halfopen/tests/data/lab/run1/kern-in.log.gz"))
}

fn run2_kern() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| text("run2/kern.log.gz"))
}

fn run2_nft() -> &'static str {
    static S: OnceLock<String> = OnceLock::new();
    S.get_or_init(|| text("run2/kern-nft.log.gz"))
}

fn matrix() -> &'static Vec<(&'static str, Rendered)> {
    static M: OnceLock<Vec<(&'static str, Rendered)>> = OnceLock::new();
    M.get_or_init(|| {
        scenarios::evidence_matrix()
            .into_iter()
            .map(|(n, s)| (n, s.render()))
            .collect()
    })
}

fn scenario(name: &str) -> &'static Rendered {
    &matrix().iter().find(|(n, _)| *n == name).unwrap().1
}

/// One kernel log line: its syslog head, rule prefix and the nf_log fields.
#[derive(Debug, Clone)]
struct NfLine {
    /// `Mon dd HH:MM:SS`.
    stamp: String,
    /// Seconds since boot (the `[ 9015.588978]` stamp), if present.
    uptime: Option<f64>,
    /// Text before `IN=` (the LOG/nft prefix).
    prefix: String,
    /// `KEY=VALUE` fields.
    kv: HashMap<String, String>,
    /// Bare tokens (flags, DF).
    flags: BTreeSet<String>,
    /// The shape: field names, bare tokens and `OPT` in order, values left out.
    shape: Vec<String>,
    /// `OPT (...)` hex, if any.
    opt: Option<String>,
}

impl NfLine {
    fn get(&self, k: &str) -> &str {
        self.kv.get(k).map(String::as_str).unwrap_or("")
    }
    fn num(&self, k: &str) -> u64 {
        self.get(k)
            .parse()
            .unwrap_or_else(|_| panic!("{k} in {self:?}"))
    }
    fn has(&self, f: &str) -> bool {
        self.flags.contains(f)
    }
    fn tcp_flags(&self) -> String {
        ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"]
            .iter()
            .filter(|f| self.has(f))
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    }
    /// The client side of the connection (the end that is not port 80 on the server).
    fn inbound(&self) -> bool {
        !self.get("IN").is_empty()
    }
}

fn parse_nf(line: &str) -> NfLine {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        regex::Regex::new(
            r"^([A-Z][a-z]{2} [ 1-3][0-9] \d\d:\d\d:\d\d) \S+ kernel: (?:\[\s*(\d+\.\d{6})\] )?(.*?)(IN=.*)$",
        )
        .unwrap()
    });
    let c = re
        .captures(line)
        .unwrap_or_else(|| panic!("not a kernel line: {line}"));
    let mut kv = HashMap::new();
    let mut flags = BTreeSet::new();
    let mut shape = Vec::new();
    let mut opt = None;
    let mut toks = c[4].split(' ').filter(|t| !t.is_empty()).peekable();
    while let Some(t) = toks.next() {
        if t == "OPT" {
            shape.push("OPT".to_string());
            let hex = toks.next().unwrap_or("");
            opt = Some(hex.trim_matches(|c| c == '(' || c == ')').to_string());
        } else if let Some((k, v)) = t.split_once('=') {
            shape.push(format!("{k}="));
            kv.insert(k.to_string(), v.to_string());
        } else {
            shape.push(t.to_string());
            flags.insert(t.to_string());
        }
    }
    NfLine {
        stamp: c[1].to_string(),
        uptime: c.get(2).map(|m| m.as_str().parse().unwrap()),
        prefix: c[3].to_string(),
        kv,
        flags,
        shape,
        opt,
    }
}

fn lines(s: &str) -> Vec<NfLine> {
    s.lines().map(parse_nf).collect()
}

const TCP_FLAGS: [&str; 8] = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"];

/// The shape of a line: its mandatory fields in order (the skeleton), and where each optional
/// token sits (a TCP flag, DF, OPT, UID=, GID=, after which mandatory field). The values of
/// the fields that are constant are checked too, and the flags' order is the kernel's.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Shape {
    skeleton: Vec<String>,
    slots: BTreeSet<(String, String)>,
}

fn checked_shape(l: &NfLine) -> Shape {
    for (k, v) in [
        ("TOS", "0x00"),
        ("PREC", "0x00"),
        ("RES", "0x00"),
        ("URGP", "0"),
    ] {
        if l.kv.contains_key(k) {
            assert_eq!(l.get(k), v, "{k} in {l:?}");
        }
    }
    let order: Vec<usize> = l
        .shape
        .iter()
        .filter_map(|t| TCP_FLAGS.iter().position(|f| f == t))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "flag order {l:?}");
    let mut skeleton = Vec::new();
    let mut slots = BTreeSet::new();
    for t in &l.shape {
        let optional = t == "DF" || t == "OPT" || t == "UID=" || t == "GID=";
        let flag = TCP_FLAGS.contains(&t.as_str());
        if optional || flag {
            let kind = if flag { "FLAG" } else { t.as_str() };
            let after = skeleton.last().cloned().unwrap_or_default();
            slots.insert((kind.to_string(), after));
        } else {
            assert!(t.ends_with('='), "unknown token {t} in {l:?}");
            skeleton.push(t.clone());
        }
    }
    Shape { skeleton, slots }
}

/// The skeletons real lines have, and every slot real lines use.
struct RealShapes {
    skeletons: BTreeSet<Vec<String>>,
    slots: BTreeSet<(String, String)>,
}

impl RealShapes {
    fn of<'a>(ls: impl Iterator<Item = &'a str>) -> RealShapes {
        let mut r = RealShapes {
            skeletons: BTreeSet::new(),
            slots: BTreeSet::new(),
        };
        for l in ls {
            let s = checked_shape(&parse_nf(l));
            r.skeletons.insert(s.skeleton);
            r.slots.extend(s.slots);
        }
        r
    }

    fn admits(&self, l: &NfLine) -> Result<(), String> {
        let s = checked_shape(l);
        if !self.skeletons.contains(&s.skeleton) {
            return Err(format!("no real line has the fields {:?}", s.skeleton));
        }
        match s.slots.difference(&self.slots).next() {
            Some(slot) => Err(format!("no real line has {slot:?}")),
            None => Ok(()),
        }
    }
}

/// Every real inbound LOG line (run1's kern-in.log and run2's HO-IN lines).
fn real_inbound_shapes() -> RealShapes {
    RealShapes::of(
        run1_kern_in()
            .lines()
            .chain(run2_kern().lines().filter(|l| l.contains("HO-IN: "))),
    )
}

#[test]
fn netfilter_inbound_has_the_fields_of_run1_kern_in_log() {
    let real = real_inbound_shapes();
    let run1: Vec<NfLine> = lines(run1_kern_in());
    assert!(
        run1.iter()
            .all(|l| l.prefix == "HO-IN: " && l.uptime.is_some())
    );
    let mac = regex::Regex::new(r"^([0-9a-f]{2}:){13}[0-9a-f]{2}$").unwrap();
    let mut seen = 0;
    for (name, r) in matrix() {
        for l in lines(&r.netfilter_inbound) {
            assert!(l.inbound() && l.get("OUT").is_empty(), "{name}: {l:?}");
            assert!(
                l.uptime.is_some(),
                "{name}: an INPUT LOG line has the uptime stamp"
            );
            assert!(
                mac.is_match(l.get("MAC")),
                "{name}: MAC= as the kernel prints it"
            );
            if let Err(e) = real.admits(&l) {
                panic!("{name}: {e}: {l:?}");
            }
            seen += 1;
        }
        // The same packets as the [INPUT] lines of the full log, byte for byte.
        let input: String = r
            .netfilter_all
            .lines()
            .filter(|l| l.contains("] [INPUT] "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(input, r.netfilter_inbound, "{name}");
    }
    assert!(seen > 1000);
    // The real field order, written out once: what a parser of either must accept.
    let syn = run1
        .iter()
        .find(|l| l.has("SYN") && l.opt.is_some())
        .unwrap();
    assert_eq!(
        syn.shape.join(" "),
        "IN= OUT= MAC= SRC= DST= LEN= TOS= PREC= TTL= ID= DF PROTO= SPT= DPT= SEQ= ACK= WINDOW= RES= SYN URGP= OPT"
    );
}

#[test]
fn nft_log_has_the_fields_of_the_real_nft_log() {
    let real: Vec<NfLine> = lines(run2_nft());
    assert!(real.iter().all(|l| l.prefix == "web-in: "));
    let real_shapes = RealShapes::of(run2_nft().lines());
    let mac = regex::Regex::new(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$").unwrap();
    let mut uid_lines = 0;
    for (name, r) in matrix() {
        let ours = lines(&r.nft_log);
        assert_eq!(ours.len(), r.netfilter_inbound.lines().count(), "{name}");
        for l in &ours {
            assert_eq!(l.prefix, "web-in: ");
            assert!(mac.is_match(l.get("MACSRC")) && mac.is_match(l.get("MACDST")));
            assert!(matches!(l.get("MACPROTO"), "0800" | "86dd"));
            if let Err(e) = real_shapes.admits(l) {
                panic!("{name}: {e}: {l:?}");
            }
            if l.kv.contains_key("UID") {
                assert_eq!((l.get("UID"), l.get("GID")), ("33", "33"));
                uid_lines += 1;
            }
        }
        // nft and LOG saw the same packets: same addresses, ports, sequence numbers, flags.
        for (a, b) in ours.iter().zip(lines(&r.netfilter_inbound)) {
            for k in ["SRC", "DST", "SPT", "DPT", "SEQ", "ACK", "LEN", "WINDOW"] {
                assert_eq!(a.get(k), b.get(k), "{name} {k}");
            }
            assert_eq!(a.tcp_flags(), b.tcp_flags());
            assert_eq!(a.opt, b.opt);
        }
    }
    assert!(uid_lines > 100);
}

/// TCP payload bytes of a LOG/nft line: LEN less the IP and TCP headers (options included).
fn payload_len(l: &NfLine) -> u64 {
    let ip = if l.kv.contains_key("HOPLIMIT") {
        40
    } else {
        20
    };
    let opt = l.opt.as_ref().map_or(0, |h| h.len() as u64 / 2);
    l.num("LEN").saturating_sub(ip + 20 + opt)
}

/// Per connection (client address and port to the web port), the nft lines in order.
fn nft_conns(ls: &[NfLine]) -> BTreeMap<(String, String), Vec<&NfLine>> {
    let mut m: BTreeMap<(String, String), Vec<&NfLine>> = BTreeMap::new();
    for l in ls.iter().filter(|l| l.get("DPT") == "80") {
        m.entry((l.get("SRC").to_string(), l.get("SPT").to_string()))
            .or_default()
            .push(l);
    }
    m
}

/// The rule both the real kernel and the generator follow for `UID=`: never on a SYN, never on
/// a segment before or on the one that made Apache accept (the first with data or FIN), and
/// never on a connection Apache never accepted.
fn check_uid_rule(conns: &BTreeMap<(String, String), Vec<&NfLine>>, what: &str) -> usize {
    let mut owned_conns = 0;
    for (k, ls) in conns {
        if !ls.first().is_some_and(|l| l.has("SYN")) {
            continue; // began before the capture
        }
        // What wakes a deferred accept: data, a FIN, or the ACK answering the SYN-ACK
        // retransmission (in inbound lines: a repeat of the handshake's ACK).
        let handshake_ack = ls.iter().find(|l| l.tcp_flags() == "ACK");
        let trigger = ls
            .iter()
            .enumerate()
            .position(|(i, l)| {
                payload_len(l) > 0
                    || l.has("FIN")
                    || handshake_ack.is_some_and(|h| {
                        i > 1
                            && l.tcp_flags() == "ACK"
                            && (l.get("SEQ"), l.get("ACK")) == (h.get("SEQ"), h.get("ACK"))
                    })
            })
            .unwrap_or(ls.len());
        for (i, l) in ls.iter().enumerate() {
            if l.kv.contains_key("UID") {
                assert!(
                    !l.has("SYN") && i > trigger,
                    "{what} {k:?}: owner on line {i}: {l:?}"
                );
            }
        }
        if ls.iter().any(|l| l.kv.contains_key("UID")) {
            owned_conns += 1;
        }
    }
    owned_conns
}

#[test]
fn nft_owner_follows_the_real_kernel_rule() {
    let real = lines(run2_nft());
    let real_conns = nft_conns(&real);
    let owned_real = check_uid_rule(&real_conns, "real");
    assert!(owned_real >= 10, "{owned_real}");
    // Real: a curl connection = SYN, ACK, request (no owner), then owned ACK, FIN, ACK.
    let curl = &real_conns[&("203.0.113.5".to_string(), "42480".to_string())];
    let owners: Vec<bool> = curl.iter().map(|l| l.kv.contains_key("UID")).collect();
    assert_eq!(owners, [false, false, false, true, true, true]);
    for (name, r) in matrix() {
        let ours = lines(&r.nft_log);
        let conns = nft_conns(&ours);
        check_uid_rule(&conns, name);
        // Sources that never reached Apache never show an owner.
        let owned_srcs: BTreeSet<&str> = ours
            .iter()
            .filter(|l| l.kv.contains_key("UID"))
            .map(|l| l.get("SRC"))
            .collect();
        for row in &r.truth {
            if row.logged_requests == 0
                && matches!(
                    row.behavior.as_str(),
                    "syn_scan"
                        | "connect_scan"
                        | "random_port_syns"
                        | "spoofed_syn_flood"
                        | "random_source_flood"
                        | "ipv6_prefix_flood"
                        | "synack_reflection"
                        | "hping3_real_source"
                )
            {
                for s in &row.sources {
                    let s = match s {
                        IpAddr::V6(a) => a
                            .segments()
                            .iter()
                            .map(|x| format!("{x:04x}"))
                            .collect::<Vec<_>>()
                            .join(":"),
                        a => a.to_string(),
                    };
                    assert!(
                        !owned_srcs.contains(s.as_str()),
                        "{name}: {s} never had a socket held by Apache"
                    );
                }
            }
        }
    }
}

/// derive.py's SYN rule: inbound, ` SYN URGP`, and no ACK among the flags.
fn derive_syn(l: &str) -> bool {
    l.contains(" SYN URGP")
        && !l
            .split("RES=")
            .nth(1)
            .is_some_and(|flags| flags.contains(" ACK "))
}

/// The packet of a line, with what every form has in common.
fn packet_id(l: &NfLine) -> Vec<String> {
    ["SRC", "DST", "LEN", "TTL", "ID", "SPT", "DPT", "WINDOW"]
        .iter()
        .map(|k| l.get(k).to_string())
        .chain([l.stamp.clone(), l.tcp_flags()])
        .collect()
}

/// derive.py's ipfw line (`testbed` host) for a LOG line.
fn derive_ipfw(l: &NfLine, host: &str) -> String {
    let ep = |a: &str, p: &str| {
        if a.contains(':') {
            let a: std::net::Ipv6Addr = a.parse().unwrap();
            format!("[{a}]:{p}")
        } else {
            format!("{a}:{p}")
        }
    };
    format!(
        "{} {host} kernel: ipfw: 100 Accept TCP {} {} in via em0",
        l.stamp,
        ep(l.get("SRC"), l.get("SPT")),
        ep(l.get("DST"), l.get("DPT"))
    )
}

#[test]
fn derive_py_rules_agree_with_run1() {
    // Our reading of derive.py reproduces run1's kern-syn.log and ipfw.log from kern-in.log.
    let syn_real = text("../../../halfopen/tests/data/lab/run1/kern-syn.log.gz");
    let derived: String = run1_kern_in()
        .lines()
        .filter(|l| derive_syn(l))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(derived, syn_real);
    let ipfw: String = syn_real
        .lines()
        .map(|l| format!("{}\n", derive_ipfw(&parse_nf(l), "testbed")))
        .collect();
    assert_eq!(ipfw, text("../../../halfopen/tests/data/lab/run1/ipfw.log"));
    // And run2's ipfw.log (derive.py run on it) the same way, IPv6 included.
    let run2_syn: Vec<String> = run2_kern()
        .lines()
        .filter(|l| l.contains("HO-IN: ") && derive_syn(l))
        .map(|l| derive_ipfw(&parse_nf(l), "testbed"))
        .collect();
    assert_eq!(
        run2_syn.join("\n") + "\n",
        text("run2/ipfw.log"),
        "derive.py on run2"
    );
    assert!(run2_syn.iter().any(|l| l.contains("TCP [2001:db8:bad:1:")));
}

#[test]
fn syn_only_and_ipfw_setup_are_derive_py_applied_to_netfilter_all() {
    for (name, r) in matrix() {
        let derived: Vec<NfLine> = r
            .netfilter_all
            .lines()
            .filter(|l| l.contains("] [INPUT] ") && derive_syn(l))
            .map(parse_nf)
            .collect();
        let syn_only = lines(&r.netfilter_syn_only);
        assert_eq!(derived.len(), syn_only.len(), "{name}");
        for (d, s) in derived.iter().zip(&syn_only) {
            assert_eq!(packet_id(d), packet_id(s), "{name}");
        }
        let ipfw: String = derived
            .iter()
            .map(|l| format!("{}\n", derive_ipfw(l, "web")))
            .collect();
        assert_eq!(
            ipfw, r.ipfw_setup,
            "{name}: ipfw_setup = derive.py's ipfw.log"
        );
    }
}

#[test]
fn ipfw_setup_lines_have_the_fields_of_run1_ipfw_log() {
    let ep = regex::Regex::new(r"^(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):\d+$").unwrap();
    let shape = |l: &str| -> Vec<String> {
        let t: Vec<&str> = l.split(' ').filter(|t| !t.is_empty()).collect();
        assert_eq!(t.len(), 14, "{l}");
        assert!(ep.is_match(t[9]) && ep.is_match(t[10]), "{l}");
        t[4..9]
            .iter()
            .chain(&t[11..])
            .map(|s| s.to_string())
            .collect()
    };
    let real: BTreeSet<Vec<String>> = text("../../../halfopen/tests/data/lab/run1/ipfw.log")
        .lines()
        .map(shape)
        .collect();
    assert_eq!(real.len(), 1, "{real:?}");
    for (name, r) in matrix() {
        for l in r.ipfw_setup.lines() {
            assert!(real.contains(&shape(l)), "{name}: {l}");
        }
    }
}

/// A packet read back from a pcap.
#[derive(Debug, Clone)]
struct Pkt {
    ts: f64,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    flags: String,
    seq: u32,
    ack: u32,
    win: u16,
    opts: Vec<u8>,
    ttl: u8,
    df: bool,
    ip_id: u16,
    len: usize,
}

fn read_pcap(bytes: &[u8]) -> Vec<Pkt> {
    let (_, cap) = pcap_parser::parse_pcap(bytes).expect("pcap");
    let mut out = Vec::new();
    for b in &cap.blocks {
        let Ok(p) = SlicedPacket::from_ethernet(b.data) else {
            continue;
        };
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            continue;
        };
        let (src, dst, ttl, df, ip_id) = match &p.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                (
                    IpAddr::V4(h.source_addr()),
                    IpAddr::V4(h.destination_addr()),
                    h.ttl(),
                    h.dont_fragment(),
                    h.identification(),
                )
            }
            Some(NetSlice::Ipv6(ip)) => {
                let h = ip.header();
                (
                    IpAddr::V6(h.source_addr()),
                    IpAddr::V6(h.destination_addr()),
                    h.hop_limit(),
                    false,
                    0,
                )
            }
            _ => continue,
        };
        let flags = [
            (t.cwr(), "CWR"),
            (t.ece(), "ECE"),
            (t.ack(), "ACK"),
            (t.psh(), "PSH"),
            (t.rst(), "RST"),
            (t.syn(), "SYN"),
            (t.fin(), "FIN"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ");
        out.push(Pkt {
            ts: f64::from(b.ts_sec) + f64::from(b.ts_usec) / 1e6,
            src,
            sport: t.source_port(),
            dst,
            dport: t.destination_port(),
            flags,
            seq: t.sequence_number(),
            ack: t.acknowledgment_number(),
            win: t.window_size(),
            opts: t.options().to_vec(),
            ttl,
            df,
            ip_id,
            len: t.payload().len(),
        });
    }
    out
}

fn run2_pcap() -> &'static Vec<Pkt> {
    static P: OnceLock<Vec<Pkt>> = OnceLock::new();
    P.get_or_init(|| read_pcap(&data("run2/server.pcap.gz")))
}

/// What identifies the kind of a packet, not its instance: direction, flags, window, option
/// kinds, DF, IP ID 0, payload or not.
fn signature(p: &Pkt, server: IpAddr) -> String {
    let kinds = halfopen_testgen::packet::option_kinds(&p.opts);
    format!(
        "{} {} win={} opts={kinds:?} df={} id0={} data={}",
        if p.dst == server { "in" } else { "out" },
        p.flags,
        p.win,
        p.df,
        p.ip_id == 0,
        p.len > 0
    )
}

fn signatures(ps: &[&Pkt], server: IpAddr) -> BTreeSet<String> {
    ps.iter().map(|p| signature(p, server)).collect()
}

fn lab_server() -> IpAddr {
    "192.0.2.10".parse().unwrap()
}

fn ours(name: &str) -> Vec<Pkt> {
    read_pcap(&scenario(name).pcap)
}

fn server_of(name: &str) -> IpAddr {
    scenarios::evidence_matrix()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap()
        .1
        .server
}

fn involving(ps: &[Pkt], who: impl Fn(IpAddr) -> bool) -> Vec<&Pkt> {
    ps.iter().filter(|p| who(p.src) || who(p.dst)).collect()
}

#[test]
fn hping3_real_source_sends_what_hping3_sent() {
    let real = involving(run2_pcap(), |a| {
        a == "198.51.100.30".parse::<IpAddr>().unwrap()
    });
    let ours_all = ours("hping3_real_source");
    let me: IpAddr = "198.51.100.30".parse().unwrap();
    let mine = involving(&ours_all, |a| a == me);
    assert_eq!(
        signatures(&real, lab_server()),
        signatures(&mine, server_of("hping3_real_source"))
    );
    for ps in [&real, &mine] {
        let syns: Vec<&&Pkt> = ps.iter().filter(|p| p.flags == "SYN").collect();
        // window 512, no options, one TTL, the source port one higher each time, random bits
        // in the ack field, and the sender's RST carries the SYN-ACK's ack as its seq.
        assert!(
            syns.iter()
                .all(|p| p.win == 512 && p.opts.is_empty() && !p.df)
        );
        assert_eq!(syns.iter().map(|p| p.ttl).collect::<BTreeSet<_>>().len(), 1);
        assert!(syns.windows(2).all(|w| w[1].sport == w[0].sport + 1));
        assert!(syns.iter().filter(|p| p.ack != 0).count() >= syns.len() - 1);
        for sa in ps.iter().filter(|p| p.flags == "ACK SYN") {
            let rst = ps
                .iter()
                .find(|p| p.flags == "RST" && p.sport == sa.dport)
                .expect("the sender's kernel resets the SYN-ACK");
            assert_eq!(rst.seq, sa.ack);
            assert!(rst.ts - sa.ts < 0.2);
        }
    }
}

/// The lab's random-source flood sources (everything not of the lab's own networks).
fn lab_random_source(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            let o = v.octets();
            !(o[0] == 192 && o[1] == 0 && o[2] == 2
                || o[0] == 203 && o[1] == 0 && o[2] == 113
                || o[0] == 198 && (o[1] == 51 || o[1] == 18))
        }
        IpAddr::V6(_) => false,
    }
}

#[test]
fn random_source_flood_uses_the_shapes_of_real_flood_tools() {
    let real: Vec<&Pkt> = run2_pcap()
        .iter()
        .filter(|p| p.flags.contains("SYN") && !p.flags.contains("ACK") && lab_random_source(p.src))
        .collect();
    assert!(real.len() >= 70, "{}", real.len());
    let hping_shapes: BTreeSet<String> = real
        .iter()
        .map(|p| {
            format!(
                "{} win={} opts={} df={}",
                p.flags,
                p.win,
                p.opts.len(),
                p.df
            )
        })
        .collect();
    assert_eq!(
        hping_shapes,
        [
            "CWR ECE SYN win=0 opts=0 df=false",
            "SYN win=512 opts=0 df=false",
            "SYN win=65535 opts=0 df=false"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    // run1's flood (synflood.py): window 64240, no options, TTL from 48/52/117/240.
    let run1_flood: Vec<NfLine> = lines(run1_kern_in())
        .into_iter()
        .filter(|l| {
            l.has("SYN")
                && l.get("SRC").starts_with("198.51.100.")
                && l.get("SRC") != "198.51.100.23"
        })
        .filter(|l| {
            l.get("SRC")
                .rsplit('.')
                .next()
                .unwrap()
                .parse::<u8>()
                .unwrap()
                >= 128
        })
        .collect();
    assert!(!run1_flood.is_empty());
    let run1_ttls: BTreeSet<u64> = run1_flood.iter().map(|l| l.num("TTL")).collect();
    assert!(run1_ttls.is_subset(&[48, 52, 117, 240].into_iter().collect()));
    let ours_all = ours("random_source_flood");
    let server = server_of("random_source_flood");
    let syns: Vec<&Pkt> = ours_all
        .iter()
        .filter(|p| p.dst == server && p.flags.contains("SYN") && !p.flags.contains("ACK"))
        .filter(|p| !p.src.to_string().starts_with("192.0.2."))
        .collect();
    assert_eq!(syns.len(), 3_000);
    let mut per24: HashMap<[u8; 3], u32> = HashMap::new();
    for p in &syns {
        let shape = format!(
            "{} win={} opts={} df={}",
            p.flags,
            p.win,
            p.opts.len(),
            p.df
        );
        let synflood_py =
            p.win == 64240 && p.opts.is_empty() && [48, 52, 117, 240].contains(&p.ttl);
        let mss_tool = p.win == 65535 && p.opts == [2, 4, 5, 0xb4];
        assert!(
            hping_shapes.contains(&shape) || synflood_py || mss_tool,
            "{shape} ttl={}",
            p.ttl
        );
        let IpAddr::V4(a) = p.src else { panic!() };
        let o = a.octets();
        *per24.entry([o[0], o[1], o[2]]).or_default() += 1;
    }
    assert!(per24.values().all(|&n| n <= 2));
    assert!(
        per24.len() > 1_400,
        "spread over all of IPv4: {} /24s",
        per24.len()
    );
    // Every hping3-shaped SYN's port is one more than the previous one of the same shape.
    let mut last: HashMap<String, u16> = HashMap::new();
    for p in syns.iter().filter(|p| p.ack != 0) {
        let k = format!("{} {}", p.flags, p.win);
        if let Some(prev) = last.insert(k, p.sport) {
            assert_eq!(p.sport, prev.wrapping_add(1).max(1024));
        }
    }
}

#[test]
fn ipv6_prefix_flood_matches_the_lab_ipv6_flood() {
    let bad = |a: IpAddr| a.to_string().starts_with("2001:db8:bad:1:");
    let real = involving(run2_pcap(), bad);
    let server6: IpAddr = "2001:db8::10".parse().unwrap();
    let ours_all = ours("ipv6_prefix_flood");
    let mine = involving(&ours_all, bad);
    assert_eq!(
        signatures(&real, server6),
        signatures(&mine, server_of("ipv6_prefix_flood"))
    );
    for ps in [&real, &mine] {
        for p in ps.iter() {
            if p.flags == "SYN" {
                assert!(p.win == 64240 && p.opts.is_empty() && [48, 52, 117, 240].contains(&p.ttl));
            } else {
                assert_eq!(
                    (p.flags.as_str(), p.win, &p.opts[..]),
                    ("ACK SYN", 64800, &[2u8, 4, 5, 0xa0][..])
                );
            }
        }
        let srcs: BTreeSet<IpAddr> = ps
            .iter()
            .filter(|p| p.flags == "SYN")
            .map(|p| p.src)
            .collect();
        assert_eq!(
            srcs.len(),
            ps.iter().filter(|p| p.flags == "SYN").count(),
            "one SYN per address"
        );
    }
}

#[test]
fn synack_reflection_is_answered_like_the_lab_kernel() {
    let refl = |a: IpAddr| a.to_string().starts_with("198.18.0.");
    let real = involving(run2_pcap(), refl);
    let ours_all = ours("synack_reflection");
    let server = server_of("synack_reflection");
    let r = scenario("synack_reflection");
    let row = r
        .truth
        .iter()
        .find(|t| t.behavior == "synack_reflection")
        .unwrap();
    assert_eq!(row.sources.len(), 12);
    let mine = involving(&ours_all, |a| row.sources.contains(&a));
    assert_eq!(signatures(&real, lab_server()), signatures(&mine, server));
    for ps in [&real, &mine] {
        for sa in ps.iter().filter(|p| p.flags == "ACK SYN") {
            assert!([80, 443].contains(&sa.sport) && sa.dport >= 1024);
            let rst = ps
                .iter()
                .find(|p| p.flags == "RST" && p.dport == sa.sport && p.sport == sa.dport)
                .expect("the server resets every unsolicited SYN-ACK");
            assert_eq!((rst.seq, rst.ack, rst.win, rst.ttl), (sa.ack, 0, 0, 64));
        }
    }
    assert_eq!(
        r.access_combined
            .lines()
            .filter(|l| l.starts_with("198.18."))
            .count(),
        0
    );
}

#[test]
fn refused_once_is_refused_like_the_lab_then_browses() {
    let me: IpAddr = "203.0.113.11".parse().unwrap();
    let real = involving(run2_pcap(), |a| a == me);
    let ours_all = ours("refused_once");
    let mine_addr: IpAddr = "192.0.2.40".parse().unwrap();
    let mine = involving(&ours_all, |a| a == mine_addr);
    for (ps, server) in [(&real, lab_server()), (&mine, server_of("refused_once"))] {
        let first = ps.first().unwrap();
        assert_eq!(first.flags, "SYN");
        let rst = ps.get(1).unwrap();
        assert_eq!(
            signature(rst, server),
            "out ACK RST win=0 opts=[] df=true id0=true data=false"
        );
        assert_eq!((rst.seq, rst.ack), (0, first.seq.wrapping_add(1)));
        // then complete connections with requests
        assert!(ps.iter().skip(2).any(|p| p.dst == server && p.len > 0));
    }
    let r = scenario("refused_once");
    let row = r
        .truth
        .iter()
        .find(|t| t.behavior == "refused_once")
        .unwrap();
    assert!(row.logged_requests >= 2 && row.connections >= 2);
}

#[test]
fn retried_syn_retransmits_like_linux_6() {
    let check = |ps: &[&Pkt], what: &str| {
        let syns: Vec<&&Pkt> = ps.iter().filter(|p| p.flags == "SYN").collect();
        assert_eq!(syns.len(), 4, "{what}: first SYN and 3 retransmissions");
        for w in syns.windows(2) {
            assert_eq!(w[0].seq, w[1].seq, "{what}: same ISN");
            assert_eq!(
                w[1].ip_id,
                w[0].ip_id.wrapping_add(1),
                "{what}: IP ID counter"
            );
            let gap = w[1].ts - w[0].ts;
            assert!(
                (1.015..1.035).contains(&gap),
                "{what}: linear 1 s backoff, got {gap}"
            );
        }
        let sa = ps.iter().position(|p| p.flags == "ACK SYN").unwrap();
        assert_eq!(
            ps.iter()
                .position(|p| p.flags == "SYN" && p.ts > syns[3].ts - 0.001)
                .unwrap()
                + 1,
            sa
        );
        assert!(ps.iter().any(|p| p.len > 0 && p.flags.contains("PSH")));
    };
    let real = involving(run2_pcap(), |a| {
        a == "203.0.113.12".parse::<IpAddr>().unwrap()
    });
    check(&real, "lab");
    let ours_all = ours("retried_syn");
    let mine = involving(&ours_all, |a| a == "192.0.2.41".parse::<IpAddr>().unwrap());
    check(&mine, "ours");
}

/// Connections of one client, by client port, in order of their SYN.
fn by_port(ps: &[&Pkt], client: IpAddr) -> Vec<Vec<Pkt>> {
    let mut m: BTreeMap<(u64, u16), Vec<Pkt>> = BTreeMap::new();
    let mut first: HashMap<u16, u64> = HashMap::new();
    for p in ps {
        let port = if p.src == client { p.sport } else { p.dport };
        let t0 = *first.entry(port).or_insert((p.ts * 1e6) as u64);
        m.entry((t0, port)).or_default().push((*p).clone());
    }
    m.into_values().collect()
}

/// A connection's life: (handshake done, data carried by the client, unused).
fn carries_data(c: &[Pkt], client: IpAddr) -> bool {
    c.iter().any(|p| p.src == client && p.len > 0)
}

#[test]
fn chromium_like_opens_connections_like_real_chromium() {
    let real_all = read_pcap(&data("chromium/visits.pcap"));
    let client: IpAddr = "192.0.2.20".parse().unwrap();
    let real_refs: Vec<&Pkt> = real_all.iter().collect();
    let real = by_port(&real_refs, client);
    let ours_all = ours("chromium");
    let me: IpAddr = "192.0.2.30".parse().unwrap();
    let mine_refs = involving(&ours_all, |a| a == me);
    let mine = by_port(&mine_refs, me);
    for (conns, who) in [(&real, "real"), (&mine, "ours")] {
        // Throwaway connections: handshake, client FIN 20–35 ms later, no data.
        let throwaway: Vec<&Vec<Pkt>> = conns
            .iter()
            .filter(|c| !carries_data(c, if who == "real" { client } else { me }))
            .filter(|c| {
                c.iter()
                    .any(|p| p.flags.contains("FIN") && p.ts - c[0].ts < 0.2)
            })
            .collect();
        assert!(!throwaway.is_empty(), "{who}");
        for c in &throwaway {
            let fin = c.iter().find(|p| p.flags.contains("FIN")).unwrap();
            let since = fin.ts - c[0].ts;
            assert!(
                (0.015..0.2).contains(&since),
                "{who}: throwaway FIN after {since}"
            );
        }
        // The unused speculative connection: SYN-ACK retransmitted at +31.5 s (deferred
        // accept), keep-alive probe at +45..47 s, Apache's FIN (408) at +51.5..52 s.
        let c = conns
            .iter()
            .find(|c| c.iter().filter(|p| p.flags == "ACK SYN").count() == 2)
            .unwrap_or_else(|| panic!("{who}: a speculative connection"));
        let t0 = c[0].ts;
        let sas: Vec<f64> = c
            .iter()
            .filter(|p| p.flags == "ACK SYN")
            .map(|p| p.ts - t0)
            .collect();
        assert!((31.4..31.7).contains(&sas[1]), "{who}: {sas:?}");
        let cl = c[0].src;
        let probe = c
            .iter()
            .find(|p| p.src == cl && p.len == 0 && p.flags == "ACK" && p.ts - t0 > 40.0)
            .unwrap_or_else(|| panic!("{who}: a keep-alive probe"));
        assert!(
            (45.0..47.0).contains(&(probe.ts - t0)),
            "{who}: probe at {}",
            probe.ts - t0
        );
        let nxt = c
            .iter()
            .filter(|p| p.src == cl)
            .map(|p| p.seq)
            .max()
            .unwrap();
        assert_eq!(
            probe.seq,
            nxt.wrapping_sub(1),
            "{who}: a probe is one byte behind"
        );
        let fin = c
            .iter()
            .find(|p| p.src != cl && p.flags.contains("FIN"))
            .unwrap();
        assert!(
            (51.4..52.2).contains(&(fin.ts - t0)),
            "{who}: 408 FIN at {}",
            fin.ts - t0
        );
    }
    // Used connections: Apache's FIN 5 s after the last response, Chromium's FIN ~7 s later
    // (run2's 14-resource page: six connections, all used).
    let run2_chrome: Vec<&Pkt> = involving(run2_pcap(), |a| {
        a == "203.0.113.7".parse::<IpAddr>().unwrap()
    });
    let used_real = by_port(&run2_chrome, "203.0.113.7".parse().unwrap());
    for (conns, cl, who) in [
        (&used_real, "203.0.113.7".parse::<IpAddr>().unwrap(), "real"),
        (&mine, me, "ours"),
    ] {
        let used: Vec<&Vec<Pkt>> = conns.iter().filter(|c| carries_data(c, cl)).collect();
        assert!(used.len() >= 2, "{who}");
        for c in &used {
            let sfin = c
                .iter()
                .find(|p| p.src != cl && p.flags.contains("FIN"))
                .unwrap();
            let last_data = c
                .iter()
                .filter(|p| p.src != cl && p.len > 0)
                .map(|p| p.ts)
                .fold(0.0, f64::max);
            let ka = sfin.ts - last_data;
            assert!(
                (4.9..5.1).contains(&ka),
                "{who}: keep-alive close after {ka}"
            );
            let cfin = c
                .iter()
                .find(|p| p.src == cl && p.flags.contains("FIN"))
                .unwrap();
            let later = cfin.ts - sfin.ts;
            assert!(
                (6.0..8.0).contains(&later),
                "{who}: browser FIN {later} s after Apache's"
            );
        }
    }
    // At most 6 connections at once to the host, as Chromium's per-host limit says.
    let mut events: Vec<(f64, i32)> = Vec::new();
    for c in &mine {
        events.push((c[0].ts, 1));
        events.push((c.last().unwrap().ts, -1));
    }
    events.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (mut open, mut peak) = (0, 0);
    for (_, d) in events {
        open += d;
        peak = peak.max(open);
    }
    assert!(
        peak <= 8,
        "6 per host + the throwaway + the speculative: {peak}"
    );
    // Apache's logs: the speculative connection is a `"-" 408` (like the lab's third visit).
    let real_log = text("chromium/access-port.log");
    assert_eq!(
        real_log
            .lines()
            .filter(|l| l.contains("\"-\" 408 - "))
            .count(),
        1
    );
    let r = scenario("chromium");
    assert_eq!(
        r.access_combined
            .lines()
            .filter(|l| l.starts_with("192.0.2.30 ") && l.contains("\"-\" 408 - "))
            .count(),
        1
    );
    assert!(text("chromium/error.log").contains("AH01382"));
}

#[test]
fn the_evidence_matrix_renders_every_form() {
    let names: Vec<&str> = matrix().iter().map(|(n, _)| *n).collect();
    for want in [
        "story",
        "chromium",
        "hping3_real_source",
        "random_source_flood",
        "ipv6_prefix_flood",
        "short_flood",
        "synack_reflection",
        "refused_once",
        "retried_syn",
        "mid_stream_capture",
        "slowloris",
        "tls_on_http",
        "idle_until_timeout",
        "nmap_syn_scan",
        "nmap_connect_scan",
    ] {
        assert!(names.contains(&want), "{want}");
    }
    for (name, r) in matrix() {
        let forms = r.forms();
        assert_eq!(forms.len(), Form::ALL.len());
        for (f, bytes) in &forms {
            assert!(!bytes.is_empty(), "{name}: {}", f.name());
        }
        assert!(r.packet_count < 12_000, "{name}: {}", r.packet_count);
        let pkts = read_pcap(&r.pcap);
        assert_eq!(pkts.len(), r.packet_count);
        assert_eq!(r.ipfw.lines().count(), r.packet_count);
        assert_eq!(
            r.netfilter_inbound.lines().count()
                + r.netfilter_all
                    .lines()
                    .filter(|l| l.contains("[OUTPUT]"))
                    .count(),
            r.packet_count
        );
        for row in &r.truth {
            if !row.behavior.contains("flood") && row.behavior != "synack_reflection" {
                assert!(
                    row.sources.len() <= 1 && row.sources.iter().all(|s| *s == row.addr),
                    "{name}: {row:?}"
                );
            }
        }
    }
    // Deterministic.
    let again = scenarios::evidence_matrix();
    assert_eq!(again[1].1.render(), matrix()[1].1);
}

#[test]
fn a_mid_stream_capture_drops_packets_but_not_apache_lines() {
    let cut = scenarios::mid_stream_capture();
    let mut whole = cut.clone();
    whole.capture_from_us = None;
    let (rc, rw) = (cut.render(), whole.render());
    let t_cut = cut.start_us + cut.capture_from_us.unwrap();
    let pkts = read_pcap(&rc.pcap);
    assert!(pkts.iter().all(|p| (p.ts * 1e6).round() as i64 >= t_cut));
    assert!(rc.packet_count < rw.packet_count);
    assert_eq!(rc.access_combined, rw.access_combined);
    assert_eq!(rc.error_log, rw.error_log);
    let first = lines(&rc.netfilter_all).first().unwrap().uptime.unwrap();
    let all_first = lines(&rw.netfilter_all).first().unwrap().uptime.unwrap();
    assert!(first - all_first >= 25.0);
    let open: BTreeMap<&str, u32> = rc
        .truth
        .iter()
        .map(|t| (t.behavior.as_str(), t.open_at_capture_start))
        .collect();
    assert!(open["idle_until_timeout"] == 1, "{open:?}");
    assert!(
        open["slowloris"] >= 1 && open["random_port_syns"] >= 1,
        "{open:?}"
    );
    assert!(rc.truth_tsv().contains("open at capture start: "));
    // an uncut scenario says nothing about cuts (its TRUTH.tsv is as before)
    assert!(!rw.truth_tsv().contains("capture"));
}

#[test]
fn a_short_flood_is_still_half_open_when_the_capture_ends() {
    let s = scenarios::short_flood();
    let r = s.render();
    let end = s.start_us + s.capture_until_us.unwrap();
    let pkts = read_pcap(&r.pcap);
    assert!(pkts.iter().all(|p| ((p.ts * 1e6) as i64) < end));
    let flood = r
        .truth
        .iter()
        .find(|t| t.behavior == "spoofed_syn_flood")
        .unwrap();
    assert_eq!(flood.connections, 400);
    assert_eq!(flood.open_at_capture_end, 400, "{flood:?}");
    assert!(
        flood
            .sources
            .iter()
            .all(|a| a.to_string().starts_with("198.51.100."))
    );
    let last = pkts.last().unwrap().ts;
    let first_syn = pkts
        .iter()
        .find(|p| p.src.to_string().starts_with("198.51.100.1"))
        .unwrap()
        .ts;
    assert!(last - first_syn < 63.0 && last - first_syn > 20.0);
    // Apache's lines end with the capture too.
    let mut whole = s;
    whole.capture_until_us = None;
    let rw = whole.render();
    assert!(r.access_combined.lines().count() <= rw.access_combined.lines().count());
    assert!(
        r.access_combined
            .lines()
            .all(|l| rw.access_combined.contains(l))
    );
}

#[test]
fn new_behaviours_do_not_change_the_others() {
    // Adding an actor of a new behaviour leaves every other actor's traffic byte-identical.
    let base = scenarios::mixed(1);
    let mut more = base.clone();
    more.actors.push(halfopen_testgen::Actor {
        addr: "192.0.2.250".parse().unwrap(),
        behavior: Behavior::RetriedSyn { retries: 2 },
        start_us: 0,
    });
    let (a, b) = (base.render(), more.render());
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.contains("192.0.2.250"))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    assert_eq!(strip(&a.netfilter_all), strip(&b.netfilter_all));
    assert_eq!(a.access_combined, strip(&b.access_combined));
}

#[test]
fn retried_syn_beyond_linux_limit_never_connects() {
    let s = Scenario::default().with(
        "192.0.2.9".parse().unwrap(),
        0,
        Behavior::RetriedSyn { retries: 9 },
    );
    let r = s.render();
    assert_eq!(
        r.netfilter_syn_only.lines().count(),
        7,
        "tcp_syn_retries = 6"
    );
    assert_eq!(r.packet_count, 7);
    assert_eq!(r.access_combined, "");
}
