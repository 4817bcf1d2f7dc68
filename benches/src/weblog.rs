//! Deterministic input generators and the regex baseline for the `weblog` benchmarks.
//!
//! Everything is generated in memory from a seed (no files, no network). The line count is a
//! parameter; the bench reads it from `HALFOPEN_BENCH_LINES` (default 1,000,000).

use std::io::Write;
use std::net::IpAddr;

use halfopen_weblog::{AccessRecord, time};
use regex::bytes::{CaptureLocations, Regex};

/// SplitMix64.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
}

const UAS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "-",
    "Mozilla/5.0 zgrab/0.x",
    r#"}__test|O:21:\"JDatabaseDriverMysqli\":3:{s:4:\"\\0\\0\\0a\";}"#,
];
const PATHS: &[&str] = &[
    "/",
    "/index.html",
    "/favicon.ico",
    "/robots.txt",
    "/static/css/site.4f3a2b.css",
    "/static/js/app.bundle.9c1d.js",
    "/images/logo.png",
    "/api/v1/items",
    "/wp-login.php",
    "/.env",
    "/search",
    "/blog/2024/05/a-long-article-title-with-words",
];
const REFERERS: &[&str] = &[
    "-",
    "-",
    "-",
    "https://www.google.com/",
    "https://example.org/blog/",
    "http://ref.test/x",
];

/// `n` combined lines (upstream `combined`, `%b`), newline-terminated, deterministic for `seed`.
/// Mix: IPv4 and some IPv6 clients, runs of lines in the same second, GET/POST/HEAD, query
/// strings, 200/304/404/301/500, `"-" 408` and TLS-on-port-80 `"\x16\x03\x01..." 400` lines,
/// escaped quotes in user agents.
pub fn combined_lines(n: usize, seed: u64) -> Vec<u8> {
    access_lines(n, seed, false)
}

/// The custom format of [`custom_lines`]: combined plus the client port and `%D`.
pub const CUSTOM_FORMAT: &str =
    r#"%h %{remote}p %l %u %t \"%r\" %>s %b %D \"%{Referer}i\" \"%{User-Agent}i\""#;

/// `n` lines of [`CUSTOM_FORMAT`] (`%h %{remote}p ... %b %D "%{Referer}i" ...`): the same mix
/// as [`combined_lines`], with a client port after the address and a duration after the size.
pub fn custom_lines(n: usize, seed: u64) -> Vec<u8> {
    access_lines(n, seed, true)
}

fn access_lines(n: usize, seed: u64, custom: bool) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n * 200);
    let mut ts: i64 = 1_795_553_408;
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    for _ in 0..n {
        if rng.below(4) == 0 {
            ts += rng.below(3) as i64;
        }
        let (y, m, d) = time::civil_from_days(ts.div_euclid(86_400));
        let sod = ts.rem_euclid(86_400);
        if rng.below(20) == 0 {
            let _ = write!(
                out,
                "2001:db8:{:x}::{:x}",
                rng.below(65536),
                rng.below(65536)
            );
        } else {
            let _ = write!(
                out,
                "{}.{}.{}.{}",
                1 + rng.below(223),
                rng.below(256),
                rng.below(256),
                1 + rng.below(254)
            );
        }
        if custom {
            let _ = write!(out, " {}", 1024 + rng.below(64_512));
        }
        let user = if rng.below(30) == 0 { "alice" } else { "-" };
        let _ = write!(
            out,
            " - {user} [{d:02}/{}/{y}:{:02}:{:02}:{:02} +0000] ",
            months[m as usize - 1],
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        );
        let kind = rng.below(100);
        let dur = if custom {
            format!(" {}", rng.below(2_000_000))
        } else {
            String::new()
        };
        if kind < 2 {
            let _ = writeln!(out, "\"-\" 408 -{dur} \"-\" \"-\"");
            continue;
        }
        if kind < 3 {
            let _ = writeln!(out, "\"\\x16\\x03\\x01\\x02\" 400 226{dur} \"-\" \"-\"");
            continue;
        }
        let method = *rng.pick(&["GET", "GET", "GET", "GET", "POST", "HEAD"]);
        let path = *rng.pick(PATHS);
        let _ = write!(out, "\"{method} {path}");
        if rng.below(4) == 0 {
            let _ = write!(out, "?q={}&page={}", rng.below(100_000), rng.below(20));
        }
        let proto = *rng.pick(&["HTTP/1.1", "HTTP/1.1", "HTTP/2.0", "HTTP/1.0"]);
        let status = *rng.pick(&[200u16, 200, 200, 200, 304, 404, 301, 500]);
        let bytes = if status == 304 {
            "-".to_owned()
        } else {
            (100 + rng.below(50_000)).to_string()
        };
        let _ = writeln!(
            out,
            " {proto}\" {status} {bytes}{dur} \"{}\" \"{}\"",
            rng.pick(REFERERS),
            rng.pick(UAS)
        );
    }
    out
}

/// Split a buffer into lines (without `\n`).
pub fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|c| *c == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

/// What both parsers extract, folded into a few integers so the work cannot be optimised away.
pub fn summary(r: &AccessRecord<'_>) -> u64 {
    let mut h = r.time.map_or(0, |t| t.ts_us as u64);
    h ^= u64::from(r.status.unwrap_or(0));
    h ^= r.bytes.unwrap_or(0) << 16;
    h ^= r.request.map_or(0, |q| {
        q.raw.len() as u64 + q.method.map_or(0, <[u8]>::len) as u64
    });
    h ^= r.user_agent.map_or(0, |u| u.len() as u64) << 8;
    h ^= r.referer.map_or(0, |u| u.len() as u64) << 4;
    h ^= u64::from(r.client_port.unwrap_or(0)) << 24;
    h ^= r.duration_us.unwrap_or(0) << 32;
    h ^= r
        .client
        .and_then(|c| c.ip())
        .map_or(1, |ip| u64::from(matches!(ip, IpAddr::V4(_))));
    h
}

/// A classic regex for the combined format, extracting the same fields and converting them the
/// same way (timestamps resolved with the same integer arithmetic, so only matching differs).
#[derive(Debug)]
pub struct CombinedRegex {
    re: Regex,
    locs: CaptureLocations,
    custom: bool,
}

impl Default for CombinedRegex {
    fn default() -> Self {
        Self::new()
    }
}

impl CombinedRegex {
    /// Compile the regex for `combined`.
    pub fn new() -> CombinedRegex {
        let re = Regex::new(
            r#"^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$"#,
        )
        .expect("valid regex");
        let locs = re.capture_locations();
        CombinedRegex {
            re,
            locs,
            custom: false,
        }
    }

    /// Compile the regex for [`CUSTOM_FORMAT`] (client port and `%D` too).
    pub fn custom() -> CombinedRegex {
        let re = Regex::new(
            r#"^(\S+) (\d+|-) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}|-) (\d+|-) (\d+|-) "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)"$"#,
        )
        .expect("valid regex");
        let locs = re.capture_locations();
        CombinedRegex {
            re,
            locs,
            custom: true,
        }
    }

    /// Parse one line into the same summary as [`summary`]; `None` when it does not match.
    pub fn parse(&mut self, line: &[u8]) -> Option<u64> {
        self.re.captures_read(&mut self.locs, line)?;
        // Capture groups after the client: shifted by one when the port is logged.
        let k = usize::from(self.custom);
        let g = |i: usize| self.locs.get(i).and_then(|(s, e)| line.get(s..e));
        let num = |v: &[u8]| std::str::from_utf8(v).ok()?.parse::<u64>().ok();
        let client = halfopen_weblog::parse_ip(g(1)?);
        let port = if self.custom { num(g(2)?) } else { None };
        let t = time::parse_clf_body(g(4 + k)?)?;
        let req = g(5 + k)?;
        let method = req.iter().position(|c| *c == b' ').unwrap_or(0);
        let status = std::str::from_utf8(g(6 + k)?).ok()?.parse::<u16>().ok();
        let bytes = num(g(7 + k)?);
        let dur = if self.custom { num(g(8 + k)?) } else { None };
        let referer = g(8 + 2 * k).filter(|r| *r != b"-");
        let ua = g(9 + 2 * k).filter(|r| *r != b"-");
        let mut h = t.ts_us as u64;
        h ^= port.unwrap_or(0) << 24;
        h ^= dur.unwrap_or(0) << 32;
        h ^= u64::from(status.unwrap_or(0));
        h ^= bytes.unwrap_or(0) << 16;
        h ^= (req.len() + method) as u64;
        h ^= ua.map_or(0, |u| u.len() as u64) << 8;
        h ^= referer.map_or(0, |u| u.len() as u64) << 4;
        h ^= client.map_or(1, |ip| u64::from(matches!(ip, IpAddr::V4(_))));
        Some(h)
    }
}
