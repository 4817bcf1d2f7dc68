//! The block-list renderer's exact text for every format (golden files), the shell syntax of
//! the two scripts (`sh -n`), and the ipfw script run twice against a stand-in `ipfw`.
//!
//! pf and ipfw cannot run on Linux: their text is checked byte for byte against files that
//! were reviewed line by line against pf.conf(5) and ipfw(8) (see
//! tests/data/blocklist/README.md); the nft and iptables text is also loaded into the real
//! tools by `crates/halfopen-cli/tests/blocklist_tools.rs`. `HALFOPEN_BLESS=1` rewrites the
//! golden files (review the diff).

use std::path::{Path, PathBuf};
use std::process::Command;

use halfopen::blocklist::{BlocklistFormat, Interface, IpfwRule, RenderOptions, render};
use ipnet::IpNet;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/blocklist")
}

/// The block list `halfopen analyze` gives for the lab run (kern.log + access.log) and psad's
/// IPv6 scan log, as committed when these files were written.
fn lab_list() -> Vec<IpNet> {
    [
        "198.51.100.21/32",
        "198.51.100.23/32",
        "198.51.100.24/32",
        "198.51.100.128/25",
        "203.0.113.8/32",
        "2012:1234:1234::1/128",
    ]
    .iter()
    .map(|s| s.parse().expect("cidr"))
    .collect()
}

fn em0() -> RenderOptions {
    RenderOptions {
        interface: Interface::new("em0"),
        ipfw_rule: IpfwRule::new(90).expect("rule"),
        ..RenderOptions::default()
    }
}

fn check(name: &str, text: &str) {
    let path = dir().join(name);
    if std::env::var_os("HALFOPEN_BLESS").is_some() {
        std::fs::write(&path, text).expect("bless");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(text, want, "{name} differs (HALFOPEN_BLESS=1 rewrites it)");
}

#[test]
fn every_format_matches_its_golden_file() {
    let list = lab_list();
    for (name, format, opts) in [
        ("pf.conf", BlocklistFormat::Pf, em0()),
        ("ipfw.sh", BlocklistFormat::Ipfw, em0()),
        ("nft.nft", BlocklistFormat::Nft, em0()),
        ("iptables.sh", BlocklistFormat::Iptables, em0()),
        ("plain.txt", BlocklistFormat::Plain, em0()),
        (
            "ipfw-defaults.sh",
            BlocklistFormat::Ipfw,
            RenderOptions::default(),
        ),
    ] {
        check(name, &render(&list, format, &opts));
    }
    check("pf-empty.conf", &render(&[], BlocklistFormat::Pf, &em0()));
    check("ipfw-empty.sh", &render(&[], BlocklistFormat::Ipfw, &em0()));
}

fn sh_available() -> bool {
    Command::new("sh")
        .args(["-c", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_scripts_are_valid_shell() {
    if !sh_available() {
        eprintln!("SKIP the_scripts_are_valid_shell: no sh");
        return;
    }
    for name in [
        "ipfw.sh",
        "ipfw-defaults.sh",
        "ipfw-empty.sh",
        "iptables.sh",
    ] {
        let out = Command::new("sh")
            .arg("-n")
            .arg(dir().join(name))
            .output()
            .expect("sh -n");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Runs the ipfw script twice against `fake-ipfw.sh`, a stand-in that keeps tables and rules
/// in files and fails like ipfw(8) does (creating an existing table, adding an existing entry
/// without `-q`, listing a missing rule). It checks the script's logic, not ipfw itself.
#[test]
fn the_ipfw_script_runs_twice_against_a_stand_in() {
    if !sh_available() {
        eprintln!("SKIP the_ipfw_script_runs_twice_against_a_stand_in: no sh");
        return;
    }
    let work = std::env::temp_dir().join(format!("halfopen-fake-ipfw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let bin = work.join("bin");
    std::fs::create_dir_all(&bin).expect("dir");
    std::fs::copy(dir().join("fake-ipfw.sh"), bin.join("ipfw")).expect("copy");
    let state = work.join("state");
    let script = work.join("block.sh");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |list: &[IpNet]| {
        std::fs::write(&script, render(list, BlocklistFormat::Ipfw, &em0())).expect("write");
        let out = Command::new("sh")
            .arg(&script)
            .env("PATH", &path)
            .env("FAKE_IPFW_STATE", &state)
            .output()
            .expect("sh");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let list = lab_list();
    run(&list);
    run(&list);
    let rules = std::fs::read_to_string(state.join("rules")).expect("rules");
    assert_eq!(
        rules,
        "00090 deny ip from table(halfopen_block) to any in recv em0\n"
    );
    let table = std::fs::read_to_string(state.join("table.halfopen_block")).expect("table");
    let want: String = list.iter().map(|n| format!("{n}\n")).collect();
    assert_eq!(table, want);
    // A shorter list replaces the table's content; the rule stays once.
    run(&list[..2]);
    let table = std::fs::read_to_string(state.join("table.halfopen_block")).expect("table");
    assert_eq!(table, "198.51.100.21/32\n198.51.100.23/32\n");
    let rules = std::fs::read_to_string(state.join("rules")).expect("rules");
    assert_eq!(rules.lines().count(), 1);
    let _ = std::fs::remove_dir_all(&work);
}
