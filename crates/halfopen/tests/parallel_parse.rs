//! A firewall log whose lines past its form's decision are parsed on worker threads gives the
//! report one thread gives, to the byte: every lab run's log with more lines than the form
//! takes (real kernels and real tools, `tests/data/lab/*/README.md`), read by one thread and by
//! two and three workers in parts of 7 to 2048 lines; and the same real lines restamped so
//! that the year rolls over, and the month goes back, inside the parts in flight, the case
//! where a worker parses a part from a year state the parts before it then change (the
//! reading thread parses that part again); and restamped through the hour a DST end repeats,
//! where a worker reads a part's first stamp as after a stamp the parts before it then move.

mod common;

use std::io::Cursor;

use chrono::{TimeZone, Utc};
use common::lab;
use halfopen::clock::Zone;
use halfopen::{Analyzer, Options};

/// The JSON report of `firewall` with `access`, its stamps read in `zone`, its lines parsed
/// by `workers` threads in parts of `part_lines` (0 workers: the reading thread parses every
/// line).
fn report_in(
    zone: Zone,
    firewall: &[u8],
    access: &[u8],
    workers: usize,
    part_lines: usize,
) -> String {
    let mut a = Analyzer::new(Options {
        // The year is inferred (the rollover is what the restamped case tests).
        now: Some(Utc.with_ymd_and_hms(2027, 6, 1, 0, 0, 0).unwrap()),
        zone: Some(zone),
        threads: Some(workers),
        parse_part_lines: part_lines,
        ..Options::default()
    });
    a.add_firewall("firewall.log", Cursor::new(firewall.to_vec()));
    a.add_access("access.log", Cursor::new(access.to_vec()));
    a.finish().to_json()
}

/// One thread's report and the workers' reports, compared.
fn same_report(name: &str, firewall: &[u8], access: &[u8]) {
    same_report_in(Zone::Utc, name, firewall, access);
}

/// [`same_report`], the firewall's stamps read in `zone`.
fn same_report_in(zone: Zone, name: &str, firewall: &[u8], access: &[u8]) {
    let one = report_in(zone, firewall, access, 0, 2048);
    assert!(one.contains("\"verdict\""), "{name}: a report with sources");
    for (workers, part_lines) in [(2, 7), (3, 333), (2, 2048)] {
        let many = report_in(zone, firewall, access, workers, part_lines);
        let first_difference = one
            .lines()
            .zip(many.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b);
        assert!(
            one == many,
            "{name}: {workers} workers, parts of {part_lines} lines: the report differs \
             (first at line {first_difference:?})"
        );
    }
}

#[test]
fn floods_run_every_form() {
    let access = lab("floods", "access.log");
    for form in [
        "kern.log.gz",
        "kern-in.log.gz",
        "kern-syn.log.gz",
        "kern-midstream.log.gz",
        "ipfw.log.gz",
        "ipfw-all.log.gz",
    ] {
        same_report(form, &lab("floods", form), &access);
    }
}

#[test]
fn prefork_run_kern_log() {
    same_report(
        "prefork kern.log",
        &lab("prefork", "kern.log.gz"),
        &lab("prefork", "access.log"),
    );
}

/// The floods run's kern.log restamped: its first 30,000 lines in December, the next 2,000
/// in June (the month goes back: still the same year), the rest in January (after June:
/// still the same year; after December it would be the next). Parts sent while the
/// December lines were being taken back are parsed from December's state and must be
/// parsed again.
#[test]
fn year_rollover_inside_the_parts_in_flight() {
    let text = lab("floods", "kern.log.gz");
    let mut out = Vec::with_capacity(text.len());
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let month: &[u8] = match i {
            0..30_000 => b"Dec",
            30_000..32_000 => b"Jun",
            _ => b"Jan",
        };
        assert_eq!(line.get(..3), Some(&b"Dec"[..]), "a kern.log line");
        out.extend_from_slice(month);
        out.extend_from_slice(line.get(3..).unwrap_or_default());
        out.push(b'\n');
    }
    same_report("restamped kern.log", &out, &lab("floods", "access.log"));
}

/// The floods run's `ipfw.log` restamped through the end of summer time in Berlin: its first
/// 20,500 lines within 01:00-01:59 CEST, the next 60 two minutes apart from 02:00 CEST, the
/// next 60 two minutes apart from 02:00 again (CET, the repeated hour), the rest from 03:00
/// CET. Read in Europe/Berlin, a part sent while the first pass was being taken back begins
/// in the second pass more than half an hour of log time later than the stamp its worker
/// assumed: the reading thread parses it again.
#[test]
fn the_repeated_hour_inside_the_parts_in_flight() {
    let text = lab("floods", "ipfw.log.gz");
    let mut out = Vec::with_capacity(text.len());
    let lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    for (i, line) in lines.enumerate() {
        let secs = match i {
            0..20_500 => 3600 + i * 3600 / 20_500,
            20_500..20_560 => 7200 + (i - 20_500) * 120,
            20_560..20_620 => 7200 + (i - 20_560) * 120,
            _ => 10_800 + (i - 20_620) / 20,
        };
        let stamp = format!(
            "Oct 25 {:02}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        );
        assert_eq!(line.get(..3), Some(&b"Dec"[..]), "an ipfw.log line");
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(line.get(stamp.len()..).unwrap_or_default());
        out.push(b'\n');
    }
    same_report_in(
        Zone::parse("Europe/Berlin").unwrap(),
        "restamped ipfw.log",
        &out,
        &lab("floods", "access.log"),
    );
}
