//! Deterministic inputs for the `end_to_end` benchmark: an ipfw firewall log (the README
//! story at scale: one source sending SYNs from random ports, answered SYN-ACKs, plus browsers
//! with full connections) and the matching Apache combined access log. Generated in memory
//! from a seed; the size is a parameter (the bench reads `HALFOPEN_BENCH_MB`, default 64).

use std::io::Write;

/// SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn civil(secs: i64) -> (i64, usize, i64, i64, i64, i64) {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        (m - 1) as usize,
        d,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
    )
}

/// The generated inputs.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// ipfw log.
    pub firewall: Vec<u8>,
    /// Apache combined access log.
    pub access: Vec<u8>,
    /// Connections generated.
    pub connections: u64,
}

/// Generates about `bytes` of firewall log (plus the access log of its browsers).
pub fn generate(bytes: usize, seed: u64) -> Inputs {
    let mut rng = Rng(seed);
    let mut fw = Vec::with_capacity(bytes + 4096);
    let mut acc = Vec::new();
    let server = "116.58.172.107";
    let start = 1_772_390_945i64; // 2026-03-01T18:49:05Z
    let mut t = start;
    let mut conns = 0u64;
    let mut stamp = String::new();
    while fw.len() < bytes {
        t += i64::from(rng.below(3) == 0);
        let (y, mo, d, h, mi, s) = civil(t);
        stamp.clear();
        let _ = std::fmt::Write::write_fmt(
            &mut stamp,
            format_args!("{} {:>2} {:02}:{:02}:{:02}", MONTHS[mo], d, h, mi, s),
        );
        conns += 1;
        if rng.below(10) == 0 {
            // A browser: 4 packets each way, one request.
            let c = format!(
                "10.{}.{}.{}",
                rng.below(200),
                rng.below(250),
                1 + rng.below(250)
            );
            let port = 32_768 + rng.below(28_000);
            for _ in 0..4 {
                let _ = writeln!(
                    fw,
                    "{stamp} web kernel: ipfw: 100 Accept TCP {c}:{port} {server}:80 in via em0"
                );
                let _ = writeln!(
                    fw,
                    "{stamp} web kernel: ipfw: 200 Accept TCP {server}:80 {c}:{port} out via em0"
                );
            }
            let _ = writeln!(
                acc,
                "{c} - - [{:02}/{}/{}:{:02}:{:02}:{:02} +0000] \"GET /page/{} HTTP/1.1\" 200 {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"",
                d,
                MONTHS[mo],
                y,
                h,
                mi,
                s,
                rng.below(1000),
                200 + rng.below(20_000)
            );
        } else {
            // The story: a SYN from a new random port, the SYN-ACK, never completed.
            let port = 1024 + rng.below(64_000);
            let _ = writeln!(
                fw,
                "{stamp} web kernel: ipfw: 100 Accept TCP 45.76.87.206:{port} {server}:80 in via em0"
            );
            let _ = writeln!(
                fw,
                "{stamp} web kernel: ipfw: 200 Accept TCP {server}:80 45.76.87.206:{port} out via em0"
            );
        }
    }
    Inputs {
        firewall: fw,
        access: acc,
        connections: conns,
    }
}

/// The whole analysis the `end_to_end` bench times: the generated firewall and access
/// logs through `halfopen::Analyzer` (year 2026, defaults otherwise).
pub fn analyze(firewall: Vec<u8>, access: Vec<u8>) -> halfopen::Report {
    analyze_with_threads(firewall, access, None)
}

/// [`analyze`] with [`halfopen::Options::threads`] set (`None`: the default, two when the
/// process may run on two cores).
pub fn analyze_with_threads(
    firewall: Vec<u8>,
    access: Vec<u8>,
    threads: Option<usize>,
) -> halfopen::Report {
    let mut a = halfopen::Analyzer::new(halfopen::Options {
        year: Some(2026),
        threads,
        ..halfopen::Options::default()
    });
    a.add_firewall("ipfw.log", std::io::Cursor::new(firewall));
    a.add_access("access.log", std::io::Cursor::new(access));
    a.finish()
}

/// A capture (one `n`-packet stream of connections with HTTP-looking payloads,
/// [`crate::pcap::render_pcap_http`]) through `halfopen::Analyzer` with no web log;
/// `payload_bytes` 0 keeps no first bytes (the capture path before issue 18).
pub fn analyze_pcap(pcap: Vec<u8>, payload_bytes: usize) -> halfopen::Report {
    let mut a = halfopen::Analyzer::new(halfopen::Options {
        payload_bytes,
        ..halfopen::Options::default()
    });
    a.add_pcap("capture.pcap", std::io::Cursor::new(pcap));
    a.finish()
}
