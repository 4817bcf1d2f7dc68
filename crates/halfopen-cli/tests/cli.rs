//! Runs the `halfopen` binary on the committed samples.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .args(args)
        .current_dir(samples())
        .env("NO_COLOR", "1")
        .output()
        .expect("run halfopen")
}

#[test]
fn readme_story_text() {
    let out = run(&[
        "analyze",
        "--firewall",
        "ipfw.log",
        "--access",
        "access.log",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "findings exit 1\n{text}");
    let first = text.lines().nth(1).unwrap();
    assert!(
        first.contains(
            "45.76.87.206 sent 1,200 SYNs to port 80 that never completed a handshake and has no request in the access log: syn_flood"
        ),
        "{text}"
    );
    assert!(text.contains("45.76.87.206/32"));
    assert!(text.contains("would also block"));
    assert!(text.contains("carry no year: assumed"));
    assert!(!text.contains('\x1b'), "no colour when piped");
}

#[test]
fn json_has_documented_keys() {
    let out = run(&[
        "analyze",
        "--firewall",
        "netfilter-syn-only.log",
        "--access",
        "access-port.log",
        "--error-log",
        "error.log",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    halfopen::report::check_json_keys(&v).unwrap();
    assert_eq!(v["blocklist"][0], "45.76.87.206/32");
    assert_eq!(v["sources"][0]["addr"], "45.76.87.206");
    assert_eq!(v["sources"][0]["verdict"], "syn_flood");
}

#[test]
fn blocklist_formats() {
    for (fmt, needle) in [
        ("pf", "table <halfopen_block> persist { 45.76.87.206/32 }"),
        ("ipfw", "ipfw -q table halfopen_block add 45.76.87.206/32"),
        ("nft", "elements = {\n\t\t\t45.76.87.206/32\n\t\t}"),
        ("iptables", "add halfopen_block_v4_new 45.76.87.206/32"),
        ("plain", "45.76.87.206/32"),
    ] {
        let out = run(&[
            "analyze",
            "--firewall",
            "netfilter.log.gz",
            "--access",
            "access.log",
            "--blocklist",
            fmt,
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(needle), "{fmt}: {text}");
    }
}

#[test]
fn mixed_pcap_and_allow_list() {
    let out = run(&[
        "analyze",
        "--pcap",
        "mixed/capture.pcap",
        "--access",
        "mixed/access.log",
        "--allow",
        "203.0.113.0/24",
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let list: Vec<&str> = v["blocklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert!(list.contains(&"198.51.100.0/24"), "{list:?}");
    assert!(
        !list.iter().any(|n| n.starts_with("203.0.113.")),
        "{list:?}"
    );
    assert!(
        v["not_blocked"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["addr"] == "203.0.113.200")
    );
}

#[test]
fn usage_and_input_errors() {
    let out = run(&["analyze", "--access", "access.log"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["analyze", "--firewall", "does-not-exist.log"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does-not-exist.log"));
    let out = run(&["analyze", "--firewall", "ipfw.log", "--tz", "Mars/Olympus"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["analyze", "--firewall", "access.log"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognised firewall-log format"));
}

#[test]
fn watch_prints_verdicts() {
    let out = run(&[
        "watch",
        "--firewall",
        "ipfw.log",
        "--access",
        "access.log",
        "--polls",
        "1",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("45.76.87.206 syn_flood"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}
