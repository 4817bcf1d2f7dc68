//! The floods and nginx lab runs (a real Apache or nginx, real kernels, real tools), their
//! stamps rewritten as a server in Berlin writes them when the run's middle falls on the start
//! of summer time (2026-03-29 01:00 UTC) or on its end (2026-10-25 01:00 UTC):
//! `lab/dst-shift.py`, data in `tests/data/lab/floods-dst/` and `nginx-dst/`. The firewall
//! logs' syslog stamps and the error logs' are local wall time without a zone; the access log
//! writes its offset on every line, +01:00 on one side of the change and +02:00 on the other.
//!
//! Before, read at the access log's first offset throughout, the stamps past the change were
//! an hour off, and nothing said so: on the floods run's `ipfw.log` (the story's form) the v6
//! network flood went unfound in spring and both network floods in autumn, on its
//! `kern-in.log` 22 of 77 requests missed their connections; on the nginx run's `kern-in.log`
//! the slowloris was `legitimate`, and in autumn a silent client nginx timed out was a blocked
//! `connect_scan`. Now the report warns and names a zone whose offsets are the access log's
//! (`zone_suggested`); read in it, every source gets the verdict it gets from the run's own UTC
//! stamps. `--tz Europe/Berlin` read the autumn run's repeated hour once for both passes; it
//! now reads them in the order they were written.
//!
//! And the floods run's web logs in Berlin time in front of its firewall in UTC
//! (`floods-tz/`): the zone difference is found as a clock offset of whole quarter hours.

use std::collections::BTreeMap;
use std::path::PathBuf;

use halfopen::clock::Zone;
use halfopen::{Analyzer, Options, Report, Source};

fn dir(run: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lab")
        .join(run)
}

fn report(run: &str, form: &str, zone: Option<Zone>) -> Report {
    report_from(run, form, run, zone)
}

/// The firewall form of run `fw`, the web logs of run `web`.
fn report_from(fw: &str, form: &str, web: &str, zone: Option<Zone>) -> Report {
    let mut a = Analyzer::new(Options {
        year: Some(2026),
        zone,
        top: usize::MAX,
        ..Options::default()
    });
    a.add_path(Source::Firewall, &dir(fw).join(form))
        .expect("firewall log");
    a.add_path(Source::Access, &dir(web).join("access.log"))
        .expect("access log");
    a.add_path(Source::ErrorLog, &dir(web).join("error.log"))
        .expect("error log");
    a.finish()
}

/// What must not change with the clock the stamps were written in.
fn answer(r: &Report) -> (BTreeMap<std::net::IpAddr, String>, Vec<String>, u64, u64) {
    let verdicts = r
        .sources
        .iter()
        .map(|s| (s.addr, format!("{:?}", s.verdict)))
        .collect();
    (
        verdicts,
        r.blocklist.clone(),
        r.correlation.matched,
        r.unmatched_requests,
    )
}

/// Whether a warning says `text`.
fn warns(r: &Report, text: &str) -> bool {
    r.warnings.iter().any(|w| w.contains(text))
}

fn warns_of_the_change(r: &Report) -> bool {
    warns(r, "daylight-saving")
}

#[test]
fn a_log_through_a_daylight_saving_change_reads_as_its_utc_stamps() {
    through_the_changes("floods", "ipfw.log.gz", 77);
}

/// The nginx lab run moved so that its middle (15:25:40 UTC) falls on the changes: nginx's
/// error log, local time without a zone, says when it timed out the silent clients (60 s
/// after they connected, past the change). Before, on `kern-in.log` the slowloris was
/// `legitimate` and 41 of 112 requests were matched, and in autumn a silent client
/// (203.0.113.33, nginx's "client timed out ... while waiting for request") was a blocked
/// `connect_scan`.
#[test]
fn an_nginx_error_log_through_a_daylight_saving_change_reads_as_its_utc_stamps() {
    through_the_changes("nginx", "ipfw.log", 112);
}

/// `run`'s forms moved through both changes (`RUN-dst/spring`, `RUN-dst/fall`), read without a
/// zone and then in the zone suggested, against the run's own UTC forms (`ipfw`: the name of
/// its ipfw form there).
fn through_the_changes(run: &str, ipfw: &str, requests: u64) {
    for (utc_form, form) in [(ipfw, "ipfw.log.gz"), ("kern-in.log.gz", "kern-in.log.gz")] {
        let truth = answer(&report(run, utc_form, Some(Zone::Utc)));
        assert_eq!(
            truth.2, requests,
            "{run} {form}: the UTC stamps match every request"
        );
        for season in ["spring", "fall"] {
            let season = format!("{run}-dst/{season}");
            let first = report(&season, form, None);
            assert!(
                warns_of_the_change(&first),
                "{season} {form}: {:?}",
                first.warnings
            );
            let zone = first
                .zone_suggested
                .clone()
                .unwrap_or_else(|| panic!("{season} {form}: no zone suggested"));
            let again = report(&season, form, Some(Zone::parse(&zone).expect("zone")));
            assert!(!warns_of_the_change(&again), "{season} {form} in {zone}");
            assert_eq!(again.zone_suggested, None);
            assert!(answer(&again) == truth, "{season} {form}: read in {zone}");
            let named = report(&season, form, Some(Zone::parse("Europe/Berlin").unwrap()));
            assert!(
                answer(&named) == truth,
                "{season} {form}: --tz Europe/Berlin"
            );
        }
    }
}

/// A zone given whose offsets are not the access log's is said.
#[test]
fn a_zone_the_access_log_contradicts_is_said() {
    let r = report(
        "floods-dst/fall",
        "ipfw.log.gz",
        Some(Zone::parse("America/New_York").unwrap()),
    );
    assert!(warns(&r, "not America/New_York's"), "{:?}", r.warnings);
}

/// The run in UTC: no warning, no zone suggested.
#[test]
fn a_log_without_a_change_suggests_nothing() {
    let r = report("floods", "ipfw.log.gz", None);
    assert!(!warns_of_the_change(&r), "{:?}", r.warnings);
    assert_eq!(r.zone_suggested, None);
}

/// A firewall box kept in UTC in front of an Apache in Berlin time (`floods-tz/`: the floods
/// run's web logs rewritten at +01:00, its firewall logs as they are): without `--tz` the
/// firewall's stamps are read at the access log's +01:00, an hour early. Before, no offset
/// within 15 min fit, the logs were said not to overlap, and no request was matched. Now the
/// offset of whole quarter hours is found, said as a zone, and applied: on `kern-in.log` too
/// since the sample waits for the connections of its minute to end (the inbound log shows no
/// server FIN; each waits 180 s), where before it still said the logs do not overlap.
#[test]
fn a_firewall_in_another_zone_than_the_web_server_is_found_and_said() {
    for form in [
        "ipfw.log.gz",
        "kern.log.gz",
        "kern-syn.log.gz",
        "kern-in.log.gz",
    ] {
        let truth = answer(&report("floods", form, Some(Zone::Utc)));
        let r = report_from("floods", form, "floods-tz", None);
        assert_eq!(r.clock_offset_seconds, Some(3600.0), "{form}");
        let said = warns(&r, "look written at UTC+00:00 (give --tz +0000)");
        assert!(said, "{form}: {:?}", r.warnings);
        assert!(answer(&r) == truth, "{form}: the answer of the UTC run");
    }
}
