//! The command's scale options on the lab run's real logs: `--summary-out` and `merge`,
//! `--connections` (JSON Lines), `--memory`, `--top`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lab_file(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../halfopen/tests/data/lab/run1")
        .join(name)
        .display()
        .to_string()
}

fn halfopen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_halfopen"))
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .expect("run halfopen")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("halfopen-cli-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

#[test]
fn merge_of_one_summary_is_the_analysis() {
    let (fw, acc) = (lab_file("kern.log.gz"), lab_file("access.log"));
    let summary = tmp("run1.summary.json");
    let s = summary.display().to_string();
    let direct = halfopen(&[
        "analyze",
        "--firewall",
        &fw,
        "--access",
        &acc,
        "--format",
        "json",
        "--summary-out",
        &s,
    ]);
    assert_eq!(direct.status.code(), Some(1));
    let merged = halfopen(&["merge", &s, "--format", "json"]);
    assert_eq!(
        merged.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let (d, m) = (json(&direct), json(&merged));
    for key in [
        "blocklist",
        "headline",
        "sources",
        "network_floods",
        "connections_total",
    ] {
        assert_eq!(d[key], m[key], "{key}");
    }
    // The same summary twice: every connection twice, the same verdicts and blocks.
    let twice = json(&halfopen(&["merge", &s, &s, "--format", "json"]));
    assert_eq!(twice["blocklist"], d["blocklist"]);
    assert_eq!(
        twice["connections_total"].as_u64(),
        d["connections_total"].as_u64().map(|n| n * 2)
    );
}

#[test]
fn merge_reads_summaries_not_logs() {
    let out = halfopen(&["merge", "x.json", "--firewall", &lab_file("kern.log.gz")]);
    assert_eq!(out.status.code(), Some(2));
    let bad = tmp("not-a-summary.json");
    std::fs::write(&bad, b"{}").expect("write");
    let out = halfopen(&["merge", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable summary"));
}

#[test]
fn connection_records_are_one_json_line_each() {
    let records = tmp("run1.connections.jsonl");
    let r = records.display().to_string();
    let out = halfopen(&[
        "analyze",
        "--firewall",
        &lab_file("kern.log.gz"),
        "--access",
        &lab_file("access.log"),
        "--format",
        "json",
        "--connections",
        &r,
    ]);
    let report = json(&out);
    let text = std::fs::read_to_string(&records).expect("records");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        Some(lines.len() as u64),
        report["connections_total"].as_u64()
    );
    let served = lines
        .iter()
        .filter(|l| {
            l["outcome"] == "served"
                && l["client"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("203.0.113.5:"))
        })
        .count();
    assert!(served > 0);
    assert!(
        lines
            .iter()
            .all(|l| l["start"].is_string() && l["history"].is_string())
    );
    // A full disk: exit 3, the report still printed.
    if Path::new("/dev/full").exists() {
        let out = halfopen(&[
            "analyze",
            "--firewall",
            &lab_file("kern.log.gz"),
            "--connections",
            "/dev/full",
        ]);
        assert_eq!(out.status.code(), Some(3));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--connections"));
    }
}

#[test]
fn memory_and_top_bound_the_work_and_the_report() {
    let out = halfopen(&[
        "analyze",
        "--firewall",
        &lab_file("kern.log.gz"),
        "--memory",
        "8",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a budget below the minimum is a usage error"
    );
    let out = halfopen(&[
        "analyze",
        "--firewall",
        &lab_file("kern.log.gz"),
        "--access",
        &lab_file("access.log"),
        "--format",
        "json",
        "--top",
        "3",
        "--memory",
        "128",
    ]);
    let r = json(&out);
    assert_eq!(r["sources"].as_array().map(Vec::len), Some(3));
    assert_eq!(r["scale"]["sources_listed"], 3);
    assert!(r["scale"]["sources_held"].as_u64() > Some(3));
    assert_eq!(r["scale"]["memory_mb"], 128);
    // Hostile sources first.
    assert_ne!(r["sources"][0]["verdict"], "legitimate");
}
