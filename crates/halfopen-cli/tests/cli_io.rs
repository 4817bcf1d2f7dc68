//! The command's output and inputs at their edges, on the lab run's real logs: write errors,
//! a closed pipe, inputs named twice, the exit codes in `--help`, the block-list options.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn lab() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../halfopen/tests/data/lab/run1")
}

fn lab_file(name: &str) -> String {
    lab().join(name).display().to_string()
}

fn halfopen() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_halfopen"));
    c.env("NO_COLOR", "1");
    c
}

fn analyze(extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "analyze".into(),
        "--firewall".into(),
        lab_file("kern.log.gz"),
        "--access".into(),
        lab_file("access.log"),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_full_disk_is_an_error_with_exit_code_3() {
    for extra in [
        &[][..],
        &["--format", "json"][..],
        &["--blocklist", "nft"][..],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let out = halfopen()
            .args(analyze(extra))
            .stdout(full)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(3), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("halfopen: cannot write to stdout: No space left on device"),
            "{extra:?}: {err}"
        );
    }
}

#[test]
fn a_closed_pipe_stops_the_output_quietly() {
    let mut child = halfopen()
        .args(analyze(&[]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // The reader goes away before the report is written (like `| head -0`).
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "the analysis's own exit code");
    assert_eq!(stderr(&out), "", "no message for a closed pipe");
}

#[test]
fn stdin_named_twice_is_a_usage_error() {
    let out = halfopen()
        .args(["analyze", "--firewall", "-", "--access", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("stdin (-) is named twice (--firewall - and --access -)"),
        "{err}"
    );
}

#[test]
fn one_file_named_twice_is_read_once() {
    let json = |firewall: &[String]| {
        let mut args = vec!["analyze".to_owned(), "--firewall".to_owned()];
        args.extend_from_slice(firewall);
        args.extend([
            "--access".into(),
            lab_file("access.log"),
            "--format".into(),
            "json".into(),
        ]);
        let out = halfopen().args(&args).output().expect("run");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        (v, stderr(&out))
    };
    let (once, _) = json(&[lab_file("kern.log.gz")]);
    let link = std::env::temp_dir().join(format!("halfopen-twice-{}.log.gz", std::process::id()));
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(lab().join("kern.log.gz"), &link).expect("symlink");
    let other_spelling = lab().join("..").join("run1").join("kern.log.gz");
    let (thrice, err) = json(&[
        lab_file("kern.log.gz"),
        other_spelling.display().to_string(),
        link.display().to_string(),
    ]);
    let _ = std::fs::remove_file(&link);
    assert_eq!(thrice["inputs"], once["inputs"], "read once");
    assert_eq!(thrice["connections_total"], once["connections_total"]);
    assert_eq!(thrice["blocklist"], once["blocklist"]);
    assert_eq!(
        err.matches("is the same file as --firewall").count(),
        2,
        "{err}"
    );
    assert!(err.contains("read once"), "{err}");
}

#[test]
fn help_lists_the_exit_codes() {
    for args in [&["--help"][..], &["analyze", "--help"][..]] {
        let out = halfopen().args(args).output().expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Exit codes:"), "{args:?}: {text}");
        for code in [
            "0  analysis done, no hostile traffic found",
            "1  analysis done, hostile traffic found",
            "2  usage error",
            "3  an input was given but gave nothing usable",
        ] {
            assert!(text.contains(code), "{args:?}: {code}\n{text}");
        }
    }
    let out = halfopen().args(["watch", "--help"]).output().expect("run");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Exit codes (with --polls N):"));
}

#[test]
fn block_list_options_reach_the_rules() {
    let run = |extra: &[&str]| {
        let out = halfopen().args(analyze(extra)).output().expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, nft) = run(&[
        "--blocklist",
        "nft",
        "--interface",
        "eth0",
        "--blocklist-name",
        "web",
    ]);
    assert_eq!(code, Some(1));
    assert!(nft.contains("delete table inet web\n"), "{nft}");
    assert!(nft.contains("iifname \"eth0\" ip saddr @v4 drop"), "{nft}");
    let (_, ipfw) = run(&[
        "--blocklist",
        "ipfw",
        "--ipfw-rule",
        "90",
        "--interface",
        "em0",
    ]);
    assert!(
        ipfw.contains("ipfw add 90 deny ip from 'table(halfopen_block)' to any in recv em0\n"),
        "{ipfw}"
    );
    let (_, ipt) = run(&["--blocklist", "iptables", "--interface", "eth0"]);
    assert!(
        ipt.contains("iptables -I INPUT -i eth0 -m set --match-set halfopen_block_v4 src -j DROP")
    );
    let (_, pf) = run(&["--blocklist", "pf", "--interface", "em0"]);
    assert!(
        pf.contains("block drop in quick on em0 from <halfopen_block> to any"),
        "{pf}"
    );
    for bad in [
        &["--blocklist", "nft", "--interface", "eth0;reboot"][..],
        &["--blocklist", "ipfw", "--ipfw-rule", "65535"][..],
        &["--blocklist", "nft", "--blocklist-name", "a b"][..],
    ] {
        assert_eq!(run(bad).0, Some(2), "{bad:?}");
    }
}

#[test]
fn unusable_inputs_exit_3_with_the_report_and_a_warning_on_top() {
    let dir = std::env::temp_dir().join(format!("halfopen-unusable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A truncated .gz, an access format that parses no line, a socket snapshot with none.
    let gz = std::fs::read(lab().join("kern.log.gz")).unwrap();
    let cut = dir.join("kern.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let ss = dir.join("ss.txt");
    std::fs::write(&ss, "not a snapshot\n").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec![
            "analyze".into(),
            "--firewall".into(),
            cut.display().to_string(),
        ],
        analyze(&[
            "--access-format",
            "%h %{remote}p %l %u %t \"%r\" %>s %b %D %X",
        ]),
        analyze(&["--netstat", &ss.display().to_string()]),
    ];
    for args in cases {
        let out = halfopen().args(&args).output().expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{args:?}\n{text}\n{}",
            stderr(&out)
        );
        assert!(
            text.starts_with("WARNING: unusable input"),
            "{args:?}\n{text}"
        );
        assert!(
            text.contains("What happened"),
            "the analysis is still printed: {text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn allow_and_server_addr_take_an_address_or_a_network() {
    for extra in [
        &["--allow", "198.51.100.200"][..],
        &["--allow", "198.51.100.0/24"],
        &["--server-addr", "::ffff:192.0.2.10"],
        &["--server-addr", "192.0.2.0/24"],
    ] {
        let out = halfopen().args(analyze(extra)).output().expect("run");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{extra:?}: {}",
            stderr(&out)
        );
    }
    let out = halfopen()
        .args(analyze(&["--allow", "not-an-address"]))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}
