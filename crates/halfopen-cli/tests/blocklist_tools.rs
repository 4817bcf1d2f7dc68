//! The Linux block-list formats loaded into the real tools, twice, in network namespaces.
//!
//! The block list is what `halfopen analyze` finds in real evidence (the lab run's kernel log
//! and Apache log, plus psad's real IPv6 scan log). Each test makes its own namespaces: a
//! server (192.0.2.10, 2001:db8:10::10, a TCP listener on port 8080) and a client joined by a
//! veth pair; the client holds a blocked address (the lab's flood source 198.51.100.200, the
//! scanner 2012:1234:1234::1) and an unblocked one (the lab's curl client 203.0.113.5,
//! 2001:db8:600d::1). Before the rules every address connects; after loading the output twice
//! each rule is there once, the blocked addresses cannot connect and the others still can.
//! Loading the output of a shorter list then unblocks what left the list.
//!
//! Needs root, `ip`, `nft`, `iptables`, `ip6tables`, `ipset`: without them the tests print
//! `SKIP` and pass. Namespaces are removed when a test ends, also when it fails.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const ROLE: &str = "HALFOPEN_NETNS_ROLE";
const PORT: u16 = 8080;
const SERVER4: &str = "192.0.2.10";
const SERVER6: &str = "2001:db8:10::10";
const BLOCKED4: &str = "198.51.100.200";
const ALLOWED4: &str = "203.0.113.5";
const BLOCKED6: &str = "2012:1234:1234::1";
const ALLOWED6: &str = "2001:db8:600d::1";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// Networks allowed to make a shorter list: the flood's, or everything.
#[derive(Clone, Copy, PartialEq)]
enum Allow {
    Nothing,
    Flood,
    All,
}

/// `halfopen analyze` on the real evidence, printing the block list in `format`.
fn blocklist(format: &str, allow: Allow) -> String {
    let lab = data().join("../../../halfopen/tests/data/lab/run1");
    let mut args: Vec<String> = vec!["analyze".into(), "--firewall".into()];
    args.push(lab.join("kern.log.gz").display().to_string());
    args.push(
        data()
            .join("psad-test-scans-topera_ipv6_syn_scan_with_ip_opts.log")
            .display()
            .to_string(),
    );
    args.extend([
        "--access".into(),
        lab.join("access.log").display().to_string(),
    ]);
    // The same evidence with networks allowed: a shorter list, or none.
    let allowed: &[&str] = match allow {
        Allow::Nothing => &[],
        Allow::Flood => &["198.51.100.128/25"],
        Allow::All => &["0.0.0.0/0", "::/0"],
    };
    for net in allowed {
        args.extend(["--allow".into(), (*net).into()]);
    }
    args.extend(["--blocklist".into(), format.into()]);
    let out = Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .args(&args)
        .output()
        .expect("run halfopen");
    // Hostile traffic was found whatever the allow list lets through: exit 1.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The block list, one CIDR each.
fn listed() -> Vec<String> {
    blocklist("plain", Allow::Nothing)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// How `nft list` shows a CIDR: a single address without its prefix length.
fn nft_form(cidr: &str) -> String {
    match cidr.split_once('/') {
        Some((addr, "32" | "128")) => addr.to_owned(),
        _ => cidr.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Roles run inside a namespace by this same test binary (`ip netns exec NS <this binary>`).

/// Not a test of its own: when `HALFOPEN_NETNS_ROLE` is set, this process is a listener or a
/// client inside a namespace.
#[test]
fn netns_role() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    match role.split_once(' ') {
        Some(("listen", addr)) => listen(addr),
        Some(("connect", addr)) => connect(addr),
        _ => panic!("unknown role {role}"),
    }
}

fn listen(addr: &str) {
    let listener = TcpListener::bind(addr).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    eprintln!("READY");
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((conn, _)) => drop(conn),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn connect(addr: &str) {
    let addr: SocketAddr = addr.parse().expect("address");
    if TcpStream::connect_timeout(&addr, Duration::from_millis(1500)).is_err() {
        std::process::exit(7);
    }
}

// ---------------------------------------------------------------------------------------
// The testbed.

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why the test cannot run here, if it cannot.
fn cannot_run(tools: &[(&str, &str)]) -> Option<String> {
    if !is_root() {
        return Some("not root (network namespaces and firewall rules need root)".into());
    }
    tools.iter().find(|(t, a)| !have(t, a)).map(|(t, _)| {
        format!("{t} is not installed (apt-get install nftables iptables ipset iproute2)")
    })
}

fn run(cmd: &[&str]) -> Output {
    let (prog, args) = cmd.split_first().expect("command");
    Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn must(cmd: &[&str]) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Two namespaces joined by a veth pair, and a listener in the server one; removed on drop.
struct Testbed {
    server: String,
    client: String,
    server_if: String,
    listener: Option<Child>,
}

impl Testbed {
    /// The testbed, or why namespaces cannot be made here (a container without the right).
    fn new() -> Result<Testbed, String> {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let id = format!("{}{n}", std::process::id() % 100_000);
        let probe = format!("hobl{id}p");
        let out = run(&["ip", "netns", "add", &probe]);
        if !out.status.success() {
            return Err(format!(
                "cannot make a network namespace: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let _ = run(&["ip", "netns", "del", &probe]);
        let mut bed = Testbed {
            server: format!("hobl{id}s"),
            client: format!("hobl{id}c"),
            server_if: format!("hv{id}s"),
            listener: None,
        };
        bed.build();
        Ok(bed)
    }

    fn build(&mut self) {
        let (s, c, vs) = (
            self.server.clone(),
            self.client.clone(),
            self.server_if.clone(),
        );
        let vc = format!("{}c", &vs[..vs.len() - 1]);
        must(&["ip", "netns", "add", &s]);
        must(&["ip", "netns", "add", &c]);
        for ns in [&s, &c] {
            // No duplicate address detection: addresses are usable at once.
            for conf in ["all", "default"] {
                let key = format!("net.ipv6.conf.{conf}.accept_dad=0");
                must(&["ip", "netns", "exec", ns, "sysctl", "-qw", &key]);
            }
        }
        must(&[
            "ip", "link", "add", &vs, "netns", &s, "type", "veth", "peer", "name", &vc, "netns", &c,
        ]);
        for (ns, dev, v4, v6) in [
            (&s, &vs, "192.0.2.10/24", "2001:db8:10::10/64"),
            (&c, &vc, "192.0.2.20/24", "2001:db8:10::20/64"),
        ] {
            must(&["ip", "-n", ns, "addr", "add", v4, "dev", dev]);
            must(&["ip", "-n", ns, "addr", "add", v6, "dev", dev, "nodad"]);
            must(&["ip", "-n", ns, "link", "set", dev, "up"]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        for a in [BLOCKED4, ALLOWED4] {
            must(&[
                "ip",
                "-n",
                &c,
                "addr",
                "add",
                &format!("{a}/32"),
                "dev",
                &vc,
            ]);
        }
        for a in [BLOCKED6, ALLOWED6] {
            must(&[
                "ip",
                "-n",
                &c,
                "addr",
                "add",
                &format!("{a}/128"),
                "dev",
                &vc,
                "nodad",
            ]);
        }
        for net in ["198.51.100.0/24", "203.0.113.0/24"] {
            must(&["ip", "-n", &s, "route", "add", net, "via", "192.0.2.20"]);
        }
        for net in ["2012:1234:1234::/48", "2001:db8:600d::/48"] {
            must(&[
                "ip",
                "-n",
                &s,
                "route",
                "add",
                net,
                "via",
                "2001:db8:10::20",
            ]);
        }
        self.start_listener();
    }

    fn start_listener(&mut self) {
        let exe = std::env::current_exe().expect("test binary");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.server])
            .arg(exe)
            .args(["netns_role", "--exact", "--nocapture", "--test-threads=1"])
            .env(ROLE, format!("listen [::]:{PORT}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("listener");
        let stderr = child.stderr.take().expect("stderr");
        self.listener = Some(child);
        let ready = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .any(|l| l == "READY");
        assert!(ready, "the listener did not start");
    }

    /// Whether a TCP connection from `src` (an address of the client) to the server succeeds.
    fn connects(&self, src: &str) -> bool {
        let v6 = src.contains(':');
        let (server, host) = if v6 {
            (SERVER6, "128")
        } else {
            (SERVER4, "32")
        };
        let dev = format!("{}c", &self.server_if[..self.server_if.len() - 1]);
        must(&[
            "ip",
            "-n",
            &self.client,
            "route",
            "replace",
            &format!("{server}/{host}"),
            "dev",
            &dev,
            "src",
            src,
        ]);
        let target: IpAddr = server.parse().expect("server address");
        let exe = std::env::current_exe().expect("test binary");
        Command::new("ip")
            .args(["netns", "exec", &self.client])
            .arg(exe)
            .args(["netns_role", "--exact", "--test-threads=1", "-q"])
            .env(ROLE, format!("connect {}", SocketAddr::new(target, PORT)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("client")
            .success()
    }

    fn in_server(&self, cmd: &[&str]) -> String {
        let mut full = vec!["ip", "netns", "exec", &self.server];
        full.extend_from_slice(cmd);
        must(&full)
    }

    fn assert_reachability(&self, blocked: bool) {
        for (addr, is_blocked) in [
            (BLOCKED4, blocked),
            (BLOCKED6, blocked),
            (ALLOWED4, false),
            (ALLOWED6, false),
        ] {
            assert_eq!(
                self.connects(addr),
                !is_blocked,
                "connection from {addr} (blocked: {is_blocked})"
            );
        }
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        if let Some(mut l) = self.listener.take() {
            let _ = l.kill();
            let _ = l.wait();
        }
        for ns in [&self.server, &self.client] {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

/// A temporary file, removed on drop (also when a test fails).
struct TempFile(PathBuf);

impl TempFile {
    fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_temp(name: &str, text: &str) -> TempFile {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let path = std::env::temp_dir().join(format!("halfopen-{}-{n}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write");
    TempFile(path)
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

// ---------------------------------------------------------------------------------------

#[test]
fn nft_output_applies_twice_and_drops_only_the_blocked_sources() {
    if let Some(why) = cannot_run(&[("ip", "-V"), ("nft", "--version")]) {
        eprintln!("SKIP nft_output_applies_twice_and_drops_only_the_blocked_sources: {why}");
        return;
    }
    let file = write_temp("block.nft", &blocklist("nft", Allow::Nothing));
    let shorter = write_temp("shorter.nft", &blocklist("nft", Allow::Flood));
    let empty = write_temp("empty.nft", &blocklist("nft", Allow::All));
    let bed = match Testbed::new() {
        Ok(bed) => bed,
        Err(why) => {
            eprintln!("SKIP nft_output_applies_twice_and_drops_only_the_blocked_sources: {why}");
            return;
        }
    };
    bed.assert_reachability(false);
    let path = file.arg();
    bed.in_server(&["nft", "-f", &path]);
    bed.in_server(&["nft", "-f", &path]);
    let rules = bed.in_server(&["nft", "list", "ruleset"]);
    assert_eq!(count(&rules, "ip saddr @"), 1, "{rules}");
    assert_eq!(count(&rules, "ip6 saddr @"), 1, "{rules}");
    assert_eq!(count(&rules, "table inet halfopen_block"), 1, "{rules}");
    assert_eq!(count(&rules, "ip saddr @v4 drop"), 1, "{rules}");
    for cidr in listed() {
        assert!(rules.contains(&nft_form(&cidr)), "{cidr} in {rules}");
    }
    assert!(rules.contains("hook input"), "inbound only: {rules}");
    bed.assert_reachability(true);
    // The list without the flood's network: the set holds that list only.
    bed.in_server(&["nft", "-f", &shorter.arg()]);
    let rules = bed.in_server(&["nft", "list", "ruleset"]);
    assert_eq!(count(&rules, "ip saddr @v4 drop"), 1, "{rules}");
    assert!(
        bed.connects(BLOCKED4),
        "left the list, so no longer blocked"
    );
    assert!(!bed.connects(BLOCKED6));
    // Nothing to block: an empty table, applied twice, blocks nothing.
    let path = empty.arg();
    bed.in_server(&["nft", "-f", &path]);
    bed.in_server(&["nft", "-f", &path]);
    let rules = bed.in_server(&["nft", "list", "ruleset"]);
    assert_eq!(count(&rules, "ip saddr @v4 drop"), 1, "{rules}");
    assert!(!rules.contains("elements"), "{rules}");
    bed.assert_reachability(false);
}

#[test]
fn iptables_output_applies_twice_and_drops_only_the_blocked_sources() {
    if let Some(why) = cannot_run(&[
        ("ip", "-V"),
        ("iptables", "--version"),
        ("ip6tables", "--version"),
        ("ipset", "--version"),
    ]) {
        eprintln!("SKIP iptables_output_applies_twice_and_drops_only_the_blocked_sources: {why}");
        return;
    }
    let file = write_temp("block.sh", &blocklist("iptables", Allow::Nothing));
    let shorter = write_temp("shorter.sh", &blocklist("iptables", Allow::Flood));
    let empty = write_temp("empty.sh", &blocklist("iptables", Allow::All));
    let bed = match Testbed::new() {
        Ok(bed) => bed,
        Err(why) => {
            eprintln!(
                "SKIP iptables_output_applies_twice_and_drops_only_the_blocked_sources: {why}"
            );
            return;
        }
    };
    bed.assert_reachability(false);
    let path = file.arg();
    bed.in_server(&["sh", &path]);
    bed.in_server(&["sh", &path]);
    let v4 = bed.in_server(&["iptables-save"]);
    let v6 = bed.in_server(&["ip6tables-save"]);
    let rule = |family| format!("-A INPUT -m set --match-set halfopen_block_{family} src -j DROP");
    assert_eq!(count(&v4, &rule("v4")), 1, "{v4}");
    assert_eq!(count(&v6, &rule("v6")), 1, "{v6}");
    assert_eq!(count(&v4, "-A "), 1, "only our rule: {v4}");
    let sets = bed.in_server(&["ipset", "list", "-n"]);
    let mut names: Vec<&str> = sets.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["halfopen_block_v4", "halfopen_block_v6"],
        "no staging set left"
    );
    let members = bed.in_server(&["ipset", "list", "halfopen_block_v4"]);
    let v4_listed = listed().iter().filter(|c| !c.contains(':')).count();
    assert!(
        members.contains(&format!("Number of entries: {v4_listed}")),
        "{members}"
    );
    bed.assert_reachability(true);
    bed.in_server(&["sh", &shorter.arg()]);
    assert!(
        bed.connects(BLOCKED4),
        "left the list, so no longer blocked"
    );
    assert!(!bed.connects(BLOCKED6));
    assert_eq!(count(&bed.in_server(&["iptables-save"]), &rule("v4")), 1);
    let path = empty.arg();
    bed.in_server(&["sh", &path]);
    bed.in_server(&["sh", &path]);
    assert_eq!(count(&bed.in_server(&["iptables-save"]), &rule("v4")), 1);
    assert_eq!(count(&bed.in_server(&["ip6tables-save"]), &rule("v6")), 1);
    let members = bed.in_server(&["ipset", "list", "halfopen_block_v6"]);
    assert!(members.contains("Number of entries: 0"), "{members}");
    bed.assert_reachability(false);
}
