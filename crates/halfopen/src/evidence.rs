//! What each input shows: which packets of a connection it has (every packet, inbound only,
//! one line per connection, SYNs only), whether its lines carry TCP flags, and which addresses
//! are the server's.
//!
//! The answer is decided from the data itself ([`FormTally`] while the lines are read,
//! [`ConnTally`] over the connections they make) unless the user says it
//! (`--firewall-shows`). Every later stage reads a connection through the form of the input
//! it came from: an unanswered SYN proves a half-open connection only where the log would have
//! shown the answer.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use halfopen_fwlog::{Direction, Format, Record};
use halfopen_tcp::Connection;

use crate::escape::thousands;

/// Which packets of a connection an input shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shows {
    /// One line per connection: its first inbound packet (an ipfw `log ... setup` or
    /// `keep-state` rule, a netfilter `--state NEW` rule). A repeated line on the same
    /// 4-tuple is a retransmitted SYN.
    FirstPacket,
    /// Every inbound SYN and nothing else (`-p tcp --syn -j LOG`).
    SynOnly,
    /// Every inbound packet, none of the server's (an INPUT-chain LOG rule).
    Inbound,
    /// Every packet in both directions (a capture, or LOG rules on INPUT and OUTPUT).
    EveryPacket,
}

impl Shows {
    /// Every form, weakest first.
    pub const ALL: [Shows; 4] = [
        Shows::FirstPacket,
        Shows::SynOnly,
        Shows::Inbound,
        Shows::EveryPacket,
    ];

    /// The stable name (`first-packet`, `syn-only`, `inbound`, `every-packet`), as in
    /// `--firewall-shows` and the JSON report.
    pub const fn as_str(self) -> &'static str {
        match self {
            Shows::FirstPacket => "first-packet",
            Shows::SynOnly => "syn-only",
            Shows::Inbound => "inbound",
            Shows::EveryPacket => "every-packet",
        }
    }

    /// Parses a stable name.
    ///
    /// ```
    /// use halfopen::evidence::Shows;
    /// assert_eq!(Shows::from_name("syn-only"), Some(Shows::SynOnly));
    /// assert_eq!(Shows::from_name("everything"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Shows> {
        Shows::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// True when the server's packets (SYN-ACK, RST, FIN) are visible.
    pub const fn server_side(self) -> bool {
        matches!(self, Shows::EveryPacket)
    }

    /// True when the client's packets after its SYN (ACK, data, FIN, RST) are visible.
    pub const fn client_after_syn(self) -> bool {
        matches!(self, Shows::EveryPacket | Shows::Inbound)
    }

    /// In words, for the report.
    pub const fn sentence(self) -> &'static str {
        match self {
            Shows::FirstPacket => {
                "one line per connection (its first inbound packet): whether a handshake \
                 completed is not visible"
            }
            Shows::SynOnly => "inbound SYNs only: whether a handshake completed is not visible",
            Shows::Inbound => {
                "every inbound packet, none of the server's: a completed handshake shows as the \
                 client's ACK, the server's answers are not visible"
            }
            Shows::EveryPacket => "every packet in both directions",
        }
    }
}

/// The server's platform, which decides what "the web server logged nothing" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Linux: Apache's default `AcceptFilter http data` (TCP_DEFER_ACCEPT) hands a silent
    /// connection to Apache after about 30 s, which then logs `"-" 408`.
    Linux,
    /// FreeBSD: Apache's default `AcceptFilter http httpready` (accf_http(9)) keeps a
    /// connection in the kernel until a whole GET or HEAD request has arrived: an idle or slow
    /// connection never reaches Apache and leaves no access-log or error-log line.
    FreeBsd,
    /// OpenBSD, NetBSD or macOS (pf): no accept filter by default.
    OtherBsd,
    /// Windows.
    Windows,
}

impl Platform {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Platform::Linux => "linux",
            Platform::FreeBsd => "freebsd",
            Platform::OtherBsd => "bsd",
            Platform::Windows => "windows",
        }
    }

    /// Parses `linux`, `freebsd`, `openbsd`/`netbsd`/`bsd`/`macos`, `windows`.
    pub fn from_name(name: &str) -> Option<Platform> {
        Some(match name.to_ascii_lowercase().as_str() {
            "linux" => Platform::Linux,
            "freebsd" => Platform::FreeBsd,
            "openbsd" | "netbsd" | "bsd" | "macos" | "darwin" => Platform::OtherBsd,
            "windows" => Platform::Windows,
            _ => return None,
        })
    }

    /// The platform a firewall-log format implies.
    pub fn of_format(f: Format) -> Option<Platform> {
        match f {
            Format::Ipfw | Format::Filterlog => Some(Platform::FreeBsd),
            Format::Netfilter | Format::Nflog => Some(Platform::Linux),
            Format::PfTcpdump => Some(Platform::OtherBsd),
            Format::WindowsFirewall => Some(Platform::Windows),
            Format::Ipmon => None,
            _ => None,
        }
    }

    /// What "no access-log line" means on this platform for `web` (Apache's words when the
    /// web server is not known: [`Platform::no_log_line_means`]).
    pub const fn no_log_line_means_of(self, web: Option<WebServer>) -> &'static str {
        match web {
            Some(w) => w.no_log_line_means(self),
            None => self.no_log_line_means(),
        }
    }

    /// What "no access-log line" means on this platform, and the check that tells a
    /// half-open socket (SYN_RCVD) from an established one.
    pub const fn no_log_line_means(self) -> &'static str {
        match self {
            Platform::FreeBsd => {
                "on FreeBSD Apache's default accept filter (accf_http) holds a connection in the \
                 kernel until a complete request has arrived: an idle or slow client leaves no \
                 Apache line either, so \"no Apache line\" does not prove a half-open connection; \
                 `netstat -an -p tcp | grep SYN_RCVD` or `sockstat -4` during the event tells \
                 SYN_RCVD from ESTABLISHED (give it with --netstat)"
            }
            Platform::Linux => {
                "on Linux Apache's default accept filter (TCP_DEFER_ACCEPT) hands a silent \
                 connection to Apache after about 30 s, which logs `\"-\" 408`: a connection \
                 with no Apache line at all never sent a request; `ss -tan state syn-recv` \
                 during the event shows half-open sockets (give it with --netstat)"
            }
            Platform::OtherBsd | Platform::Windows => {
                "a connection that completes its handshake reaches the web server, which logs \
                 a timeout when nothing arrives; `netstat -an` during the event shows \
                 half-open (SYN_RCVD) sockets (give it with --netstat)"
            }
        }
    }
}

/// The web server whose logs were given, as its error log tells (the access logs' common
/// formats are the same for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebServer {
    /// Apache httpd (an error log of Apache 2.2 or 2.4).
    Apache,
    /// nginx.
    Nginx,
}

impl WebServer {
    /// The stable name.
    pub const fn as_str(self) -> &'static str {
        match self {
            WebServer::Apache => "apache",
            WebServer::Nginx => "nginx",
        }
    }

    /// The format name an error log of this server is reported with.
    ///
    /// ```
    /// use halfopen::evidence::WebServer;
    /// let name = WebServer::Nginx.error_log_format();
    /// assert_eq!(WebServer::of_error_log_format(name), Some(WebServer::Nginx));
    /// ```
    pub const fn error_log_format(self) -> &'static str {
        match self {
            WebServer::Apache => "apache error log",
            WebServer::Nginx => "nginx error log",
        }
    }

    /// The server whose error log has this format name, if one.
    pub fn of_error_log_format(name: &str) -> Option<WebServer> {
        [WebServer::Apache, WebServer::Nginx]
            .into_iter()
            .find(|w| w.error_log_format() == name)
    }

    /// What "no access-log line" means for this server on `p`, and the check that tells a
    /// half-open socket from an established one ([`Platform::no_log_line_means`] is Apache's).
    pub const fn no_log_line_means(self, p: Platform) -> &'static str {
        match (self, p) {
            (WebServer::Apache, p) => p.no_log_line_means(),
            (WebServer::Nginx, Platform::Linux) => {
                "nginx accepts a connection at once (no TCP_DEFER_ACCEPT unless `listen ... \
                 deferred`) and writes no access-log line for one that sends nothing, even when \
                 it closes it after client_header_timeout (60 s); an unfinished request gets a \
                 400 or 408 line: a connection with no nginx line sent no request. At `info` its \
                 error log says so for each (\"... while waiting for request\"); `ss -tan \
                 state syn-recv` during the event shows half-open sockets (give it with \
                 --netstat)"
            }
            (WebServer::Nginx, _) => {
                "nginx accepts a connection at once (no accept filter unless `listen ... \
                 accept_filter=`) and writes no access-log line for one that sends nothing, even \
                 when it closes it after client_header_timeout (60 s); an unfinished request gets \
                 a 400 or 408 line: a connection with no nginx line sent no request. At `info` \
                 its error log says so for each (\"... while waiting for request\"); `netstat \
                 -an` during the event shows half-open (SYN_RCVD) sockets (give it with \
                 --netstat)"
            }
        }
    }
}

/// How a form was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// From the data.
    Data,
    /// Given by the user.
    User,
}

/// What one input shows, with the reason in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputForm {
    /// Which packets.
    pub shows: Shows,
    /// Whether lines carry TCP flags.
    pub flags: bool,
    /// Whether TCP options (window and option fingerprints) are logged.
    pub options: bool,
    /// Whether payload bytes are available (captures).
    pub payload: bool,
    /// Decided from the data or given.
    pub decided_by: DecidedBy,
    /// Why, in words (counts from the input).
    pub reason: String,
    /// The server's addresses this input shows (destinations of inbound lines, sources of
    /// outbound lines, answerers of handshakes), most seen first.
    pub server_addrs: Vec<IpAddr>,
}

impl InputForm {
    /// The form of a capture: every packet, flags, payload.
    pub fn capture() -> InputForm {
        InputForm {
            shows: Shows::EveryPacket,
            flags: true,
            options: true,
            payload: true,
            decided_by: DecidedBy::Data,
            reason: "a packet capture shows every packet".to_owned(),
            server_addrs: Vec::new(),
        }
    }
}

/// Most distinct server candidates a tally keeps.
const MAX_SERVER_CANDIDATES: usize = 256;

/// A bounded count of addresses (the least seen is dropped when full).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrCounts {
    counts: BTreeMap<IpAddr, u64>,
}

impl AddrCounts {
    /// Counts one sighting.
    pub fn add(&mut self, a: IpAddr, n: u64) {
        *self.counts.entry(a).or_insert(0) += n;
        if self.counts.len() > MAX_SERVER_CANDIDATES
            && let Some(least) = self.counts.iter().min_by_key(|(_, n)| **n).map(|(a, _)| *a)
        {
            self.counts.remove(&least);
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &AddrCounts) {
        for (a, n) in &other.counts {
            self.add(*a, *n);
        }
    }

    /// Whether `a` was counted (and not dropped since).
    pub fn contains(&self, a: IpAddr) -> bool {
        self.counts.contains_key(&a)
    }

    /// The count of `a` (0 when not counted or dropped).
    pub fn get(&self, a: IpAddr) -> u64 {
        self.counts.get(&a).copied().unwrap_or(0)
    }

    /// The addresses that hold at least `share` of the total, most seen first.
    pub fn dominant(&self, share: f64) -> Vec<IpAddr> {
        let total: u64 = self.counts.values().sum();
        let mut v: Vec<(IpAddr, u64)> = self
            .counts
            .iter()
            .filter(|(_, n)| total > 0 && **n as f64 >= share * total as f64)
            .map(|(a, n)| (*a, *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.into_iter().map(|(a, _)| a).collect()
    }
}

/// A bounded memory of recently seen 4-tuples (direct-mapped: a new tuple may push out an
/// old one), with the time each was last seen and whether a SYN came from its lower end.
#[derive(Debug, Clone, Default)]
pub struct RecentTuples {
    slots: Vec<(u64, i64, u8)>,
}

/// Slots of [`RecentTuples`] (about 1.5 MB).
const RECENT_SLOTS: usize = 1 << 16;

impl RecentTuples {
    /// The slot of a 4-tuple (either orientation), its tag, and whether `src` is the lower end.
    fn slot(src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> (usize, u64, bool) {
        use std::hash::{BuildHasher, Hash, Hasher};
        let a = (src, sport);
        let b = (dst, dport);
        let lower = a <= b;
        let (x, y) = if lower { (a, b) } else { (b, a) };
        let mut h = foldhash::fast::FixedState::with_seed(0x6861_6c66_6f70_656e).build_hasher();
        x.hash(&mut h);
        y.hash(&mut h);
        let v = h.finish();
        ((v as usize) & (RECENT_SLOTS - 1), v | 1, lower)
    }

    /// Records a packet; returns how long ago the same tuple was seen, if it was.
    fn see(
        &mut self,
        src: IpAddr,
        sport: u16,
        dst: IpAddr,
        dport: u16,
        ts: i64,
        syn_from_src: bool,
    ) -> (Option<i64>, bool) {
        if self.slots.is_empty() {
            self.slots = vec![(0, 0, 0); RECENT_SLOTS];
        }
        let (i, tag, lower) = Self::slot(src, sport, dst, dport);
        let Some(slot) = self.slots.get_mut(i) else {
            return (None, false);
        };
        let seen = (slot.0 == tag).then(|| ts.saturating_sub(slot.1));
        // Bit 0: a SYN came from the lower end; bit 1: from the upper end.
        let syn_bit = if lower { 1 } else { 2 };
        let other_bit = if lower { 2 } else { 1 };
        let other_sent_syn = slot.0 == tag && slot.2 & other_bit != 0;
        let flags = if slot.0 == tag { slot.2 } else { 0 };
        *slot = (tag, ts, flags | if syn_from_src { syn_bit } else { 0 });
        (seen, other_sent_syn)
    }
}

/// Lines (or packets) after which an input's form is decided.
pub const FORM_LINES: u64 = 20_000;

/// Past [`FORM_LINES`] of a capture, the connections one in this many feeds the 4-tuple
/// memory (see [`FormTally::add_event`]).
pub const LATE_SAMPLE: u64 = 16;

/// Counts over the TCP lines of one firewall input, made while it is read.
#[derive(Debug, Clone, Default)]
pub struct FormTally {
    /// TCP lines.
    pub tcp: u64,
    /// Lines with TCP flags.
    pub flagged: u64,
    /// Lines with TCP options logged.
    pub with_options: u64,
    /// Lines marked inbound (`IN=` only, `in via`).
    pub inbound: u64,
    /// Lines marked outbound (`OUT=` only, `out via`).
    pub outbound: u64,
    /// Forwarded lines (both interfaces).
    pub forwarded: u64,
    /// Bare SYNs (no ACK, RST or FIN) among flagged inbound or undirected lines.
    pub bare_syns: u64,
    /// SYN-ACKs.
    pub syn_acks: u64,
    /// Other flagged lines (ACK, data, FIN, RST) that are not outbound.
    pub inbound_non_syn: u64,
    /// Lines the firewall dropped or rejected.
    pub denied: u64,
    /// Destinations of inbound (or undirected) lines.
    pub inbound_dst: AddrCounts,
    /// Sources of outbound lines.
    pub outbound_src: AddrCounts,
    /// Smallest ipfw rule number seen (where to put a deny rule before the allow rules).
    pub smallest_rule: Option<u32>,
    /// The log format.
    pub format: Option<Format>,
    /// Inbound lines of a 4-tuple seen shortly before.
    pub repeats: u64,
    /// Of those, within one second (a handshake ACK or data; a SYN retransmission comes a
    /// second or more after its SYN).
    pub fast_repeats: u64,
    /// Answerers of SYNs (a SYN-ACK after a SYN on the same 4-tuple).
    pub answerers: AddrCounts,
    /// Captures: packets on a 4-tuple whose other end sent a SYN (the servers' answers:
    /// SYN-ACKs, RSTs, data), among the packets before the form's decision.
    pub replies: u64,
    /// Captures: SYN-ACKs on a 4-tuple where no SYN was seen (backscatter, a reflection, or
    /// the SYN-ACK receiver's own connections whose SYNs the capture does not show), among the
    /// packets before the form's decision.
    pub unsolicited_syn_acks: u64,
    /// Their destinations.
    pub syn_ack_targets: AddrCounts,
    /// Captures: packets sent by an address that had received such a SYN-ACK before.
    pub sent_by_syn_ack_targets: u64,
    /// Captures: the destinations of the packets before the form's decision.
    pub destinations: AddrCounts,
    /// Captures: the packets counted in `destinations`.
    pub destined: u64,
    /// Recently seen 4-tuples.
    pub recent: RecentTuples,
}

impl FormTally {
    /// Counts one record at time `ts`. Past the first [`FORM_LINES`] TCP lines the form is
    /// decided, and nothing reads the 4-tuple memory or the address counts again: the line
    /// is only counted ([`FormTally::add_counts`]), which does not depend on the lines before
    /// it, so the rest of a log can be counted in parts and the parts added.
    pub fn add_at(&mut self, r: &Record<'_>, ts: i64) {
        if r.protocol != halfopen_fwlog::Protocol::Tcp {
            return;
        }
        if self.tcp >= FORM_LINES {
            self.add_counts(r);
            return;
        }
        if let (Some(sp), Some(dp)) = (r.src_port, r.dst_port) {
            let syn = r.tcp_flags.is_some_and(|f| {
                f.contains(halfopen_fwlog::TcpFlags::SYN)
                    && !f.contains(halfopen_fwlog::TcpFlags::ACK)
            });
            let syn_ack = r.tcp_flags.is_some_and(|f| {
                f.contains(halfopen_fwlog::TcpFlags::SYN)
                    && f.contains(halfopen_fwlog::TcpFlags::ACK)
            });
            let (since, answered) = self.recent.see(r.src, sp, r.dst, dp, ts, syn);
            if syn_ack && answered {
                self.answerers.add(r.src, 1);
            }
            if r.direction != Some(Direction::Out) && !syn_ack {
                if let Some(d) = since {
                    self.repeats += 1;
                    if d < 1_000_000 {
                        self.fast_repeats += 1;
                    }
                }
            }
        }
        self.add(r);
    }

    /// Counts one captured packet (a capture shows both directions; no direction is marked).
    /// Past the first [`FORM_LINES`] packets the 4-tuple memory sees the connections whose
    /// two ports' XOR is a multiple of [`LATE_SAMPLE`]: both directions of one connection
    /// or none, so a sampled SYN still meets its SYN-ACK.
    pub fn add_event(&mut self, ev: &halfopen_tcp::Event) {
        self.tcp += 1;
        let Some(f) = ev.flags else { return };
        self.flagged += 1;
        let syn = f.contains(halfopen_tcp::TcpFlags::SYN);
        let ack = f.contains(halfopen_tcp::TcpFlags::ACK);
        if syn && ack {
            self.syn_acks += 1;
        } else if syn {
            self.bare_syns += 1;
        }
        let late = self.tcp > FORM_LINES;
        if late && u64::from(ev.src_port ^ ev.dst_port) % LATE_SAMPLE != 0 {
            return;
        }
        let (_, answered) = self.recent.see(
            ev.src,
            ev.src_port,
            ev.dst,
            ev.dst_port,
            ev.ts_us,
            syn && !ack,
        );
        if syn && ack && answered {
            self.answerers.add(ev.src, 1);
        }
        if late {
            return;
        }
        // Which way the packets go, for a capture of one direction only.
        self.destinations.add(ev.dst, 1);
        self.destined += 1;
        if self.syn_ack_targets.contains(ev.src) {
            self.sent_by_syn_ack_targets += 1;
        }
        if syn && ack && !answered {
            self.unsolicited_syn_acks += 1;
            self.syn_ack_targets.add(ev.dst, 1);
        }
        if answered {
            self.replies += 1;
        } else if syn && !ack {
            self.inbound_dst.add(ev.dst, 1);
        } else if !syn {
            self.inbound_non_syn += 1;
        }
    }

    /// Counts one record.
    pub fn add(&mut self, r: &Record<'_>) {
        self.count(r, true);
    }

    /// Counts one record past the form's decision: the line counts, the flags and the
    /// smallest rule, not the addresses. Counting parts of a log this way and adding them
    /// ([`FormTally::merge`]) gives the counts of counting it whole.
    pub fn add_counts(&mut self, r: &Record<'_>) {
        self.count(r, false);
    }

    /// Counts one record; its addresses only when `addresses`.
    fn count(&mut self, r: &Record<'_>, addresses: bool) {
        if r.protocol != halfopen_fwlog::Protocol::Tcp {
            return;
        }
        self.format.get_or_insert(r.format);
        self.tcp += 1;
        if r.tcp_options.is_some() {
            self.with_options += 1;
        }
        if matches!(
            r.action,
            Some(halfopen_fwlog::Action::Deny | halfopen_fwlog::Action::Reject)
        ) {
            self.denied += 1;
        }
        let dir = r.direction;
        match dir {
            Some(Direction::In) => self.inbound += 1,
            Some(Direction::Out) => self.outbound += 1,
            Some(Direction::Forward) => self.forwarded += 1,
            None => {}
        }
        if addresses {
            if dir == Some(Direction::Out) {
                self.outbound_src.add(r.src, 1);
            } else {
                self.inbound_dst.add(r.dst, 1);
            }
        }
        if let Some(rule) = r.rule.and_then(rule_number) {
            self.smallest_rule = Some(self.smallest_rule.map_or(rule, |m| m.min(rule)));
        }
        let Some(f) = r.tcp_flags else { return };
        self.flagged += 1;
        let (syn, ack) = (
            f.contains(halfopen_fwlog::TcpFlags::SYN),
            f.contains(halfopen_fwlog::TcpFlags::ACK),
        );
        let rst_fin =
            f.0 & (halfopen_fwlog::TcpFlags::RST.0 | halfopen_fwlog::TcpFlags::FIN.0) != 0;
        if syn && ack {
            self.syn_acks += 1;
        } else if dir != Some(Direction::Out) {
            if syn && !rst_fin {
                self.bare_syns += 1;
            } else {
                self.inbound_non_syn += 1;
            }
        }
    }

    /// Adds every count of `other` (inputs of one kind read in turn).
    pub fn merge(&mut self, o: &FormTally) {
        self.tcp += o.tcp;
        self.flagged += o.flagged;
        self.with_options += o.with_options;
        self.inbound += o.inbound;
        self.outbound += o.outbound;
        self.forwarded += o.forwarded;
        self.bare_syns += o.bare_syns;
        self.syn_acks += o.syn_acks;
        self.inbound_non_syn += o.inbound_non_syn;
        self.denied += o.denied;
        self.inbound_dst.merge(&o.inbound_dst);
        self.outbound_src.merge(&o.outbound_src);
        self.smallest_rule = match (self.smallest_rule, o.smallest_rule) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if self.format.is_none() {
            self.format = o.format;
        }
        self.repeats += o.repeats;
        self.fast_repeats += o.fast_repeats;
        self.answerers.merge(&o.answerers);
        self.replies += o.replies;
        self.unsolicited_syn_acks += o.unsolicited_syn_acks;
        self.syn_ack_targets.merge(&o.syn_ack_targets);
        self.sent_by_syn_ack_targets += o.sent_by_syn_ack_targets;
        self.destinations.merge(&o.destinations);
        self.destined += o.destined;
    }
}

/// A rule's number, as `str::parse::<u32>` reads it: plain digits (every ipfw line's rule)
/// by the byte reader, anything else (a `+` sign) by `str::parse`.
fn rule_number(b: &[u8]) -> Option<u32> {
    halfopen_fwlog::scan::dec_u32(b).or_else(|| std::str::from_utf8(b).ok()?.parse().ok())
}

/// Counts over the connections one input made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnTally {
    /// Connections.
    pub connections: u64,
    /// Connections with packets from both ends.
    pub both_ends: u64,
    /// Connections whose originator evidently got the SYN-ACK (ACK or data after its SYN).
    pub reply_seen_by_orig: u64,
    /// Of those, the ones where the responder's packets were seen.
    pub reply_seen_and_shown: u64,
    /// Connections with two or more originator lines stamped within one second of the first
    /// (a SYN retransmission comes 1 s later at the earliest: these are handshake ACKs and data).
    pub fast_follow_ups: u64,
    /// Connections with two or more originator lines.
    pub multi_line: u64,
    /// Answerers of handshakes (SYN-ACK senders after a SYN).
    pub answerers: AddrCounts,
}

impl ConnTally {
    /// Counts one connection.
    pub fn add(&mut self, c: &Connection) {
        self.connections += 1;
        if c.orig_pkts > 0 && c.resp_pkts > 0 {
            self.both_ends += 1;
        }
        let h = c.history.as_bytes();
        if c.reply_seen_by_orig() {
            self.reply_seen_by_orig += 1;
            if c.resp_pkts > 0 {
                self.reply_seen_and_shown += 1;
            }
        }
        // The server answers SYNs: a SYN-ACK with no SYN before it (backscatter, a
        // reflection) does not make its sender a server.
        if (h.contains(&b'S') && h.contains(&b'h')) || c.handshake_completed {
            self.answerers.add(c.resp.ip(), 1);
        }
        if c.orig_pkts >= 2 {
            self.multi_line += 1;
            if c.duration_us() < 1_000_000 {
                self.fast_follow_ups += 1;
            }
        }
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, o: &ConnTally) {
        self.connections += o.connections;
        self.both_ends += o.both_ends;
        self.reply_seen_by_orig += o.reply_seen_by_orig;
        self.reply_seen_and_shown += o.reply_seen_and_shown;
        self.fast_follow_ups += o.fast_follow_ups;
        self.multi_line += o.multi_line;
        self.answerers.merge(&o.answerers);
    }
}

/// Share of lines an address must hold to count as one of the server's.
const SERVER_SHARE: f64 = 0.05;

/// Decides what a firewall input shows from its tallies (`given`: the user's word).
///
/// ```
/// use halfopen::evidence::{decide, FormTally, Shows};
/// let line = b"Mar  1 18:49:05 web kernel: ipfw: 100 Accept TCP 45.76.87.206:58896 116.58.172.107:80 in via em0";
/// let mut t = FormTally::default();
/// t.add(&halfopen_fwlog::formats::ipfw::parse(line).unwrap());
/// let form = decide(&t, None);
/// assert_eq!(form.shows, Shows::FirstPacket);
/// assert!(!form.flags);
/// assert_eq!(form.server_addrs, ["116.58.172.107".parse::<std::net::IpAddr>().unwrap()]);
/// ```
pub fn decide(t: &FormTally, given: Option<Shows>) -> InputForm {
    let flags = t.flagged * 2 > t.tcp;
    let (shows, reason) = match given {
        Some(s) => (s, format!("given with --firewall-shows {}", s.as_str())),
        None if flags => decide_flagged(t),
        None => decide_flagless(t),
    };
    let mut server_addrs = t.inbound_dst.dominant(SERVER_SHARE);
    for a in t
        .outbound_src
        .dominant(SERVER_SHARE)
        .into_iter()
        .chain(t.answerers.dominant(SERVER_SHARE))
    {
        if !server_addrs.contains(&a) {
            server_addrs.push(a);
        }
    }
    InputForm {
        shows,
        flags,
        options: t.with_options * 2 > t.tcp.max(1),
        payload: false,
        decided_by: if given.is_some() {
            DecidedBy::User
        } else {
            DecidedBy::Data
        },
        reason,
        server_addrs,
    }
}

/// SYNs a capture must hold, none of them answered by anything, before it is read as a
/// capture of one direction.
pub const MIN_ONE_WAY_SYNS: u64 = 20;

/// The form of a capture (flags, payload), with the answerers of SYNs it shows as the
/// server's addresses. Every packet in both directions, unless nothing at all came back from
/// where at least [`MIN_ONE_WAY_SYNS`] SYNs went (no SYN-ACK, RST or data on their 4-tuples):
/// then it is a capture of one direction (an ingress mirror port, `tcpdump -Q in`, a DDoS
/// sample), read as every inbound packet or as SYNs only, the SYNs' destinations as the
/// servers. A server that answered nothing at all looks the same in a capture, and then
/// "not visible" is the honest reading too.
pub fn decide_capture(t: &FormTally) -> InputForm {
    let mut f = InputForm::capture();
    f.server_addrs = t.answerers.dominant(SERVER_SHARE);
    if t.bare_syns >= MIN_ONE_WAY_SYNS && t.replies == 0 && t.syn_acks == 0 {
        let n = thousands;
        (f.shows, f.reason) = if t.inbound_non_syn == 0 {
            (
                Shows::SynOnly,
                format!(
                    "all {} TCP packets are SYNs and nothing came back from where they went: a \
                     capture of one direction",
                    n(t.tcp)
                ),
            )
        } else {
            (
                Shows::Inbound,
                format!(
                    "{} TCP packets ({} SYNs, {} ACK/data/FIN/RST from the clients) and nothing \
                     back from where the SYNs went: a capture of one direction",
                    n(t.tcp),
                    n(t.bare_syns),
                    n(t.inbound_non_syn)
                ),
            )
        };
        f.server_addrs = t.inbound_dst.dominant(SERVER_SHARE);
    }
    let targets = syn_ack_targets(t);
    if f.shows == Shows::EveryPacket && !targets.is_empty() {
        f.shows = Shows::Inbound;
        f.reason = format!(
            "{} SYN-ACKs answer no SYN in the capture, and where they went ({}) sent nothing \
             at all: a capture of one direction, toward {}",
            thousands(t.unsolicited_syn_acks),
            list_addrs(&targets),
            if targets.len() == 1 { "it" } else { "them" }
        );
    }
    for a in targets {
        if !f.server_addrs.contains(&a) {
            f.server_addrs.push(a);
        }
    }
    f
}

/// The hosts a capture of one direction was taken for, as the SYN-ACKs that answer no SYN
/// in it show: at least [`MIN_ONE_WAY_SYNS`] such SYN-ACKs; the addresses that received a
/// share of them; nothing at all sent by them; and nearly every packet of the capture
/// ([`ONE_WAY_SHARE`]) going to them. Backscatter or a reflection arrives at the address the
/// attacker spoofed: the server itself, never a client to judge or block. In a capture of
/// both directions a SYN-ACK also "answers no SYN" when the SYN came before the capture
/// began: its receiver, a flood's spoofed address, sends nothing either, but gets a sliver
/// of the packets, so none is taken there.
fn syn_ack_targets(t: &FormTally) -> Vec<IpAddr> {
    if t.unsolicited_syn_acks < MIN_ONE_WAY_SYNS || t.sent_by_syn_ack_targets > 0 {
        return Vec::new();
    }
    let targets = t.syn_ack_targets.dominant(SERVER_SHARE);
    let to_targets: u64 = targets.iter().map(|a| t.destinations.get(*a)).sum();
    if (to_targets as f64) < ONE_WAY_SHARE * t.destined as f64 {
        return Vec::new();
    }
    targets
}

/// Share of a capture's packets that must go to the receivers of its unanswered SYN-ACKs
/// before it is read as a capture of one direction toward them.
const ONE_WAY_SHARE: f64 = 0.9;

/// Addresses in words (the first three, then a count).
fn list_addrs(addrs: &[IpAddr]) -> String {
    let shown: Vec<String> = addrs.iter().take(3).map(ToString::to_string).collect();
    match addrs.len() {
        0..=3 => shown.join(", "),
        n => format!("{} and {} more", shown.join(", "), n - 3),
    }
}

/// A warning when an input read as showing every packet misses the server's answers to many
/// connections whose clients acknowledged them (a rule that logs only some packets).
pub fn check_every_packet(form: &InputForm, c: &ConnTally) -> Option<String> {
    let (seen, shown) = (c.reply_seen_by_orig, c.reply_seen_and_shown);
    (form.shows == Shows::EveryPacket
        && form.decided_by == DecidedBy::Data
        && seen >= 10
        && shown * 5 < seen * 4)
        .then(|| {
            format!(
                "{} of {} connections whose client acknowledged a SYN-ACK show no packet from the \
             server: the log misses some of the server's packets; if its rule logs only some \
             packets, say what it shows with --firewall-shows inbound",
                thousands(seen - shown),
                thousands(seen)
            )
        })
}

fn decide_flagged(t: &FormTally) -> (Shows, String) {
    let n = thousands;
    let server_packets = t.outbound + t.syn_acks;
    if server_packets > 0 {
        return (
            Shows::EveryPacket,
            format!(
                "{} lines with TCP flags, {} of them from the server ({} SYN-ACKs)",
                n(t.tcp),
                n(server_packets.min(t.tcp)),
                n(t.syn_acks)
            ),
        );
    }
    if t.inbound_non_syn == 0 {
        return (
            Shows::SynOnly,
            format!(
                "all {} TCP lines are inbound SYNs (a `--syn` LOG rule)",
                n(t.tcp)
            ),
        );
    }
    (
        Shows::Inbound,
        format!(
            "{} inbound lines with TCP flags ({} SYNs, {} ACK/data/FIN/RST), none from the server",
            n(t.tcp),
            n(t.bare_syns),
            n(t.inbound_non_syn)
        ),
    )
}

fn decide_flagless(t: &FormTally) -> (Shows, String) {
    let n = thousands;
    if t.outbound > 0 {
        return (
            Shows::EveryPacket,
            format!(
                "{} lines without TCP flags, {} inbound and {} outbound: every packet, both \
                 directions",
                n(t.tcp),
                n(t.inbound),
                n(t.outbound)
            ),
        );
    }
    // A handshake ACK or a request follows its SYN within milliseconds, a SYN retransmission
    // only after a second: repeated lines within one second mark a log of every packet.
    if t.fast_repeats >= 3 && t.fast_repeats * 20 >= t.repeats {
        return (
            Shows::Inbound,
            format!(
                "{} lines without TCP flags, no outbound line; {} lines repeat a connection \
                 within one second (handshake ACKs and data): every inbound packet",
                n(t.tcp),
                n(t.fast_repeats)
            ),
        );
    }
    (
        Shows::FirstPacket,
        format!(
            "{} lines without TCP flags, no outbound line, {} repeated lines (SYN \
             retransmissions, a second or more apart): one line per connection",
            n(t.tcp),
            n(t.repeats)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn rule_number_reads_what_std_reads(s in "[+0-9a]{0,12}") {
            proptest::prop_assert_eq!(rule_number(s.as_bytes()), s.parse::<u32>().ok());
        }
    }

    fn tally(lines: &[&str]) -> FormTally {
        let mut t = FormTally::default();
        for (i, l) in lines.iter().enumerate() {
            let f = halfopen_fwlog::detect(&[l.as_bytes()]).unwrap_or(Format::Netfilter);
            if let Ok(r) = halfopen_fwlog::parse_line(f, l.as_bytes()) {
                t.add_at(&r, i as i64 * 100_000);
            }
        }
        t
    }

    const SYN: &str = "Nov 24 21:36:47 testbed kernel: [ 9015.588978] HO-IN: IN=vs3102 OUT= MAC=d2:b1:a0:4e:fe:e1:ee:71:05:ec:cb:7b:08:00 SRC=203.0.113.5 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=13368 DF PROTO=TCP SPT=45442 DPT=80 SEQ=2191101959 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0";
    const ACK: &str = "Nov 24 21:36:47 testbed kernel: [ 9015.589016] HO-IN: IN=vs3102 OUT= MAC=d2:b1:a0:4e:fe:e1:ee:71:05:ec:cb:7b:08:00 SRC=203.0.113.5 DST=192.0.2.10 LEN=52 TOS=0x00 PREC=0x00 TTL=64 ID=13369 DF PROTO=TCP SPT=45442 DPT=80 SEQ=2191101960 ACK=2245829070 WINDOW=63 RES=0x00 ACK URGP=0";
    const IPFW_IN: &str = "Mar  1 18:49:05 web kernel: ipfw: 100 Accept TCP 45.76.87.206:58896 116.58.172.107:80 in via em0";
    const IPFW_OUT: &str = "Mar  1 18:49:05 web kernel: ipfw: 200 Accept TCP 116.58.172.107:80 45.76.87.206:58896 out via em0";

    #[test]
    fn flagged_forms() {
        assert_eq!(decide(&tally(&[SYN]), None).shows, Shows::SynOnly);
        let t = tally(&[SYN, ACK]);
        let f = decide(&t, None);
        assert_eq!(f.shows, Shows::Inbound);
        assert!(f.flags);
        assert_eq!(f.server_addrs, ["192.0.2.10".parse::<IpAddr>().unwrap()]);
        let given = decide(&t, Some(Shows::EveryPacket));
        assert_eq!(
            (given.shows, given.decided_by),
            (Shows::EveryPacket, DecidedBy::User)
        );
    }

    #[test]
    fn a_partly_logged_server_side_is_said() {
        let f = decide(&tally(&[SYN, ACK]), Some(Shows::EveryPacket));
        let c = ConnTally {
            reply_seen_by_orig: 100,
            reply_seen_and_shown: 3,
            ..ConnTally::default()
        };
        assert!(check_every_packet(&f, &c).is_none(), "given by the user");
        let f = InputForm {
            decided_by: DecidedBy::Data,
            ..f
        };
        assert!(check_every_packet(&f, &c).unwrap().contains("97 of 100"));
    }

    #[test]
    fn flagless_forms() {
        // Repeats within a second: every inbound packet.
        let t = tally(&[IPFW_IN, IPFW_IN, IPFW_IN, IPFW_IN, IPFW_IN]);
        assert_eq!(decide(&t, None).shows, Shows::Inbound);
        // One line per connection.
        let t = tally(&[IPFW_IN]);
        assert_eq!(decide(&t, None).shows, Shows::FirstPacket);
        let t = tally(&[IPFW_IN, IPFW_OUT]);
        let f = decide(&t, None);
        assert_eq!(f.shows, Shows::EveryPacket);
        assert_eq!(
            f.server_addrs,
            ["116.58.172.107".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn a_syn_ack_without_a_syn_makes_no_server() {
        let mut t = FormTally::default();
        let syn_ack = |src: &str, dst: &str| {
            let mut e =
                halfopen_tcp::Event::new(0, src.parse().unwrap(), 80, dst.parse().unwrap(), 40000);
            e.flags = Some(halfopen_tcp::TcpFlags::SYN | halfopen_tcp::TcpFlags::ACK);
            e
        };
        // Reflection: SYN-ACKs nobody asked for.
        for _ in 0..10 {
            t.add_event(&syn_ack("198.18.0.1", "203.0.113.80"));
        }
        assert!(decide_capture(&t).server_addrs.is_empty());
        let mut syn = halfopen_tcp::Event::new(
            0,
            "192.0.2.1".parse().unwrap(),
            40001,
            "203.0.113.80".parse().unwrap(),
            80,
        );
        syn.flags = Some(halfopen_tcp::TcpFlags::SYN);
        t.add_event(&syn);
        let mut ans = halfopen_tcp::Event::new(
            1,
            "203.0.113.80".parse().unwrap(),
            80,
            "192.0.2.1".parse().unwrap(),
            40001,
        );
        ans.flags = Some(halfopen_tcp::TcpFlags::SYN | halfopen_tcp::TcpFlags::ACK);
        t.add_event(&ans);
        assert_eq!(
            decide_capture(&t).server_addrs,
            ["203.0.113.80".parse::<IpAddr>().unwrap()]
        );
    }

    /// A packet of a capture, `flags` set, from `src:sport` to `dst:dport` at `ts` µs.
    fn packet(
        ts: i64,
        (src, sport): (&str, u16),
        (dst, dport): (&str, u16),
        flags: halfopen_tcp::TcpFlags,
    ) -> halfopen_tcp::Event {
        let mut e =
            halfopen_tcp::Event::new(ts, src.parse().unwrap(), sport, dst.parse().unwrap(), dport);
        e.flags = Some(flags);
        e
    }

    /// SYN-ACKs answering no SYN, from many reflectors to one host that sends nothing and
    /// gets nearly every packet: a capture of one direction toward that host, the server. If
    /// the host answers (a RST, as a kernel does), or gets a sliver of the packets (a flood's
    /// spoofed address in a capture of both directions begun after its SYN), it is no server.
    #[test]
    fn unanswered_syn_acks_make_their_receiver_the_server_of_a_one_way_capture() {
        use halfopen_tcp::TcpFlags;
        let target = "192.0.2.10";
        let reflected = |i: u16| {
            packet(
                i64::from(i),
                (
                    ["198.18.0.1", "198.18.0.2", "198.18.0.3"][usize::from(i % 3)],
                    80,
                ),
                (target, 30000 + i),
                TcpFlags::SYN | TcpFlags::ACK,
            )
        };
        let mut t = FormTally::default();
        for i in 0..MIN_ONE_WAY_SYNS as u16 {
            t.add_event(&reflected(i));
        }
        let f = decide_capture(&t);
        assert_eq!(f.shows, Shows::Inbound, "{f:?}");
        assert_eq!(f.server_addrs, [target.parse::<IpAddr>().unwrap()]);
        assert!(f.reason.contains("toward it"), "{}", f.reason);
        // The host resets one of them: both directions are in the capture.
        let mut answered = t.clone();
        answered.add_event(&packet(
            99,
            (target, 30000),
            ("198.18.0.1", 80),
            TcpFlags::RST,
        ));
        let f = decide_capture(&answered);
        assert_eq!(f.shows, Shows::EveryPacket, "{f:?}");
        assert!(f.server_addrs.is_empty(), "{:?}", f.server_addrs);
        // A sliver of the packets: most go elsewhere (a flood's SYNs to another server).
        let mut sliver = t.clone();
        for i in 0..(MIN_ONE_WAY_SYNS as u16 * 10) {
            sliver.add_event(&packet(
                100 + i64::from(i),
                ("203.0.113.5", 40000 + i),
                ("198.51.100.80", 80),
                TcpFlags::SYN,
            ));
            sliver.add_event(&packet(
                100 + i64::from(i),
                ("198.51.100.80", 80),
                ("203.0.113.5", 40000 + i),
                TcpFlags::SYN | TcpFlags::ACK,
            ));
        }
        let f = decide_capture(&sliver);
        assert!(
            !f.server_addrs.contains(&target.parse::<IpAddr>().unwrap()),
            "{:?}",
            f.server_addrs
        );
    }

    /// A capture in which nothing came back from where its SYNs went is read as one direction:
    /// SYNs only, or every inbound packet when the clients sent more; the SYNs' destination is
    /// the server. Any answer (a SYN-ACK, a RST) or too few SYNs keep "every packet".
    #[test]
    fn a_capture_of_one_direction() {
        use halfopen_tcp::TcpFlags;
        let server = ("192.0.2.10", 80);
        let client = |i: u16| {
            (
                if i % 2 == 0 {
                    "203.0.113.5"
                } else {
                    "198.51.100.7"
                },
                40000 + i,
            )
        };
        let syns = |n: u16| {
            let mut t = FormTally::default();
            for i in 0..n {
                t.add_event(&packet(i64::from(i), client(i), server, TcpFlags::SYN));
            }
            t
        };
        let t = syns(MIN_ONE_WAY_SYNS as u16);
        let f = decide_capture(&t);
        assert_eq!(f.shows, Shows::SynOnly, "{}", f.reason);
        assert!(f.flags && f.payload);
        assert_eq!(f.server_addrs, ["192.0.2.10".parse::<IpAddr>().unwrap()]);
        assert!(
            f.reason.contains("a capture of one direction"),
            "{}",
            f.reason
        );
        // The clients' handshake ACKs and data, and still nothing back: every inbound packet.
        let mut t = syns(30);
        for i in 0..30 {
            t.add_event(&packet(
                100 + i64::from(i),
                client(i),
                server,
                TcpFlags::ACK,
            ));
        }
        assert_eq!(decide_capture(&t).shows, Shows::Inbound);
        // One answer (a SYN-ACK or the server's RST) and the capture shows both ways.
        for answer in [TcpFlags::SYN | TcpFlags::ACK, TcpFlags::RST | TcpFlags::ACK] {
            let mut t = syns(30);
            t.add_event(&packet(200, server, client(3), answer));
            assert_eq!(decide_capture(&t).shows, Shows::EveryPacket, "{answer:?}");
        }
        // Too few SYNs to tell a capture of one direction from a server that is down.
        let t = syns(MIN_ONE_WAY_SYNS as u16 - 1);
        assert_eq!(decide_capture(&t).shows, Shows::EveryPacket);
    }

    #[test]
    fn platform_names() {
        assert_eq!(Platform::of_format(Format::Ipfw), Some(Platform::FreeBsd));
        assert_eq!(Platform::from_name("FreeBSD"), Some(Platform::FreeBsd));
        assert!(Platform::FreeBsd.no_log_line_means().contains("accf_http"));
    }
}
