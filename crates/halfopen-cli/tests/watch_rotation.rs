//! `halfopen watch` on the lab run's real kernel log, written, rotated and recreated while it
//! runs: no line is lost at the rotation, a flooding network is one line, lines come in time
//! order; and the warnings for what cannot be followed.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ipnet::IpNet;

fn lab() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../halfopen/tests/data/lab/run1")
}

fn kern_log() -> String {
    let gz = std::fs::File::open(lab().join("kern.log.gz")).expect("kern.log.gz");
    let mut text = String::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_string(&mut text)
        .expect("gunzip");
    text
}

/// The log's lines before `a`, from `a` to `b`, and from `b` on (by their syslog time).
fn split(text: &str, a: &str, b: &str) -> [String; 3] {
    let mut parts: [String; 3] = Default::default();
    for line in text.lines() {
        let time = line.split_whitespace().nth(2).unwrap_or_default();
        let i = if time < a {
            0
        } else if time < b {
            1
        } else {
            2
        };
        parts[i].push_str(line);
        parts[i].push('\n');
    }
    parts
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.write_all(text.as_bytes()).expect("append");
}

/// What `analyze` says about the whole log: printable sources, and the networks that group
/// two or more of them.
fn expected(whole: &Path) -> (Vec<IpAddr>, Vec<IpNet>) {
    let out = Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .arg("analyze")
        .arg("--firewall")
        .arg(whole)
        .arg("--access")
        .arg(lab().join("access.log"))
        .args(["--format", "json"])
        .output()
        .expect("analyze");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sources: Vec<IpAddr> = v["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .filter(|s| s["verdict"] != "legitimate" && s["verdict"] != "unknown")
        .map(|s| s["addr"].as_str().expect("addr").parse().expect("ip"))
        .collect();
    let networks: Vec<IpNet> = v["networks"]
        .as_array()
        .expect("networks")
        .iter()
        .map(|n| n["cidr"].as_str().expect("cidr").parse().expect("cidr"))
        .filter(|n: &IpNet| sources.iter().filter(|a| n.contains(*a)).count() >= 2)
        .collect();
    (sources, networks)
}

#[test]
fn rotation_within_one_poll_loses_no_line() {
    let dir = std::env::temp_dir().join(format!("halfopen-watch-rot-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let fw = dir.join("kern.log");
    let text = kern_log();
    // Before the scans and floods; their first seconds; the rest.
    let [before, first, rest] = split(&text, "21:36:51", "21:36:54");
    assert!(!before.is_empty() && !first.is_empty() && !rest.is_empty());
    std::fs::write(&fw, &before).expect("write");

    let mut child = Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .arg("watch")
        .arg("--firewall")
        .arg(&fw)
        .arg("--access")
        .arg(lab().join("access.log"))
        .args(["--interval", "3", "--polls", "2"])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let errors = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("watching") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    // The first poll follows the start-up line at once; the next is 3 s later. (Without a
    // start-up line, as before it existed, give the first poll a second.)
    let _ = rx.recv_timeout(Duration::from_secs(1));
    std::thread::sleep(Duration::from_millis(500));
    // Within one poll interval: append, rename away (logrotate `create`), new file, write.
    append(&fw, &first);
    std::fs::rename(&fw, dir.join("kern.log.1")).expect("rename");
    std::fs::write(&fw, &rest).expect("new file");

    let out = child.wait_with_output().expect("wait");
    let errors = errors.join().expect("stderr reader");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{errors}");

    let whole = dir.join("whole.log");
    std::fs::write(&whole, &text).expect("write");
    let (sources, networks) = expected(&whole);
    assert!(!networks.is_empty(), "the lab's spoofed flood is a network");
    let lines: Vec<(&str, &str)> = stdout
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap_or_default(), w.next().unwrap_or_default())
        })
        .collect();
    let keys: BTreeSet<&str> = lines.iter().map(|(_, k)| *k).collect();
    for addr in &sources {
        let said = keys.contains(addr.to_string().as_str())
            || networks
                .iter()
                .any(|n| n.contains(addr) && keys.contains(n.to_string().as_str()));
        assert!(said, "{addr} is missing:\n{stdout}");
    }
    for n in &networks {
        assert!(keys.contains(n.to_string().as_str()), "{n}:\n{stdout}");
        let singles: Vec<&&str> = keys
            .iter()
            .filter(|k| k.parse::<IpAddr>().is_ok_and(|a| n.contains(&a)))
            .collect();
        assert!(singles.is_empty(), "{n} printed per address: {singles:?}");
    }
    let times: Vec<&str> = lines.iter().map(|(t, _)| *t).collect();
    assert!(times.is_sorted(), "time order:\n{stdout}");
    assert!(
        errors.contains(&format!(
            "halfopen: watching --firewall {}, --access {} from their start, keeping the last 64 MB of each file, polling every 3 s",
            fw.display(),
            lab().join("access.log").display()
        )),
        "{errors}"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn what_cannot_be_followed_is_said() {
    let dir = std::env::temp_dir().join(format!("halfopen-watch-warn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let missing = dir.join("not-yet.log");
    let out = Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .arg("watch")
        .arg("--firewall")
        .arg(&missing)
        .args(["--access", "-", "--pcap", "x.pcap", "--window-mb", "0"])
        .args(["--polls", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("watch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for needle in [
        format!(
            "warning: --firewall {}: no such file yet; waiting for it",
            missing.display()
        ),
        "warning: --access -: stdin cannot be followed".to_owned(),
        "warning: --pcap x.pcap: captures are not followed".to_owned(),
        "warning: --window-mb 0 keeps nothing".to_owned(),
        "from their start, keeping the last 0 MB".to_owned(),
    ] {
        assert!(err.contains(&needle), "{needle}\n{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .args(["watch", "--firewall", "-", "--polls", "1"])
        .stdin(Stdio::null())
        .output()
        .expect("watch");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin cannot be followed"));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn from_end_reports_only_what_is_written_later() {
    let dir = std::env::temp_dir().join(format!("halfopen-watch-end-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let fw = dir.join("kern.log");
    std::fs::write(&fw, kern_log()).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .arg("watch")
        .arg("--firewall")
        .arg(&fw)
        .args(["--polls", "1", "--from-end"])
        .output()
        .expect("watch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("from their end (only what is written from now on)"),
        "{err}"
    );
    assert_eq!(out.stdout, b"", "the lines already there are not reported");
    assert_eq!(out.status.code(), Some(0));
    std::fs::remove_dir_all(&dir).expect("clean up");
}
