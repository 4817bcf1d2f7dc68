//! Rendering owned values with a compiled format: the inverse of [`LogFormat::parse`], used by
//! the round-trip tests and by test-traffic generators.

use std::io::Write as _;
use std::net::IpAddr;

use crate::directive::{Directive, DurationUnit, PortKind, ProcKind, TimeKind};
use crate::escape::escape_into;
use crate::format::{Item, LogFormat};
use crate::time::{self, LogTime};

/// Owned values for one request, to be rendered by [`LogFormat::render`]. Text values are raw
/// (unescaped) bytes: the renderer escapes them the way the server would. `None` renders as `-`
/// (`0` for `%B` and nginx `$body_bytes_sent`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessValues {
    /// Client address (`%a`, `%h`).
    pub client_ip: Option<IpAddr>,
    /// Client host name, used by `%h` when `client_ip` is `None`.
    pub client_host: Option<Vec<u8>>,
    /// TCP peer (`%{c}a`); `%{c}a` falls back to `client_ip`.
    pub peer: Option<IpAddr>,
    /// `%{remote}p`.
    pub client_port: Option<u16>,
    /// `%A`.
    pub server_ip: Option<IpAddr>,
    /// `%p`, `%{local}p`.
    pub server_port: Option<u16>,
    /// `%v`, `%V`.
    pub vhost: Option<Vec<u8>>,
    /// `%l`.
    pub remote_logname: Option<Vec<u8>>,
    /// `%u`.
    pub remote_user: Option<Vec<u8>>,
    /// The request time (`at_end` is ignored: each `%t` field renders its own kind from this
    /// instant).
    pub time: Option<LogTime>,
    /// The request line as received (raw bytes; escaped on output).
    pub request: Option<Vec<u8>>,
    /// `%s`, `%>s`.
    pub status: Option<u16>,
    /// `%b`, `%B` (`Some(0)` renders `-` for `%b`).
    pub bytes: Option<u64>,
    /// `%I`.
    pub bytes_in: Option<u64>,
    /// `%O`.
    pub bytes_out: Option<u64>,
    /// `%S`.
    pub bytes_total: Option<u64>,
    /// `%D`, `%T`.
    pub duration_us: Option<u64>,
    /// `%{Referer}i`.
    pub referer: Option<Vec<u8>>,
    /// `%{User-Agent}i`.
    pub user_agent: Option<Vec<u8>>,
    /// `%k`.
    pub keepalive: Option<u32>,
    /// `%X`.
    pub conn_status: Option<u8>,
    /// `%P`.
    pub pid: Option<u32>,
    /// `%{tid}P`, `%{hextid}P`.
    pub tid: Option<u64>,
    /// Values for any other directive (headers, notes, env...), raw bytes.
    pub extra: Vec<(Directive, Vec<u8>)>,
}

type Parts<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a [u8]>);

fn method_target_proto(req: Option<&[u8]>) -> Parts<'_> {
    let Some(r) = req else {
        return (None, None, None);
    };
    let p = crate::record::RequestLine::parse(r);
    (p.method, p.target, p.protocol)
}

impl LogFormat {
    /// Append one line (without `\n`) rendering `v` with this format.
    ///
    /// ```
    /// use halfopen_weblog::{AccessValues, LogFormat, LogTime};
    /// let f = LogFormat::preset("combined").unwrap();
    /// let v = AccessValues {
    ///     client_ip: Some("192.0.2.1".parse().unwrap()),
    ///     time: Some(LogTime { ts_us: 971_211_336_000_000, utc_offset_secs: -7 * 3600, at_end: false }),
    ///     request: Some(b"GET /a\"b HTTP/1.1".to_vec()),
    ///     status: Some(200),
    ///     bytes: Some(10),
    ///     ..Default::default()
    /// };
    /// let mut out = Vec::new();
    /// f.render(&v, &mut out);
    /// assert_eq!(out, br#"192.0.2.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a\"b HTTP/1.1" 200 10 "-" "-""#.to_vec());
    /// ```
    pub fn render(&self, v: &AccessValues, out: &mut Vec<u8>) {
        for item in &self.items {
            match item {
                Item::Lit { bytes, .. } => out.extend_from_slice(bytes),
                Item::Field { field, .. } => self.render_field(&field.directive, v, out),
            }
        }
    }

    fn text(&self, t: Option<&[u8]>, out: &mut Vec<u8>) {
        match t {
            Some(t) => escape_into(t, self.style, out),
            None => out.push(b'-'),
        }
    }

    fn render_field(&self, d: &Directive, v: &AccessValues, out: &mut Vec<u8>) {
        let dash_num = |n: Option<u64>, out: &mut Vec<u8>| match n {
            Some(n) => {
                let _ = write!(out, "{n}");
            }
            None => out.push(b'-'),
        };
        let ip = |ip: Option<IpAddr>, out: &mut Vec<u8>| match ip {
            Some(ip) => {
                let _ = write!(out, "{ip}");
            }
            None => out.push(b'-'),
        };
        match d {
            Directive::RemoteIp => ip(v.client_ip, out),
            Directive::PeerIp => ip(v.peer.or(v.client_ip), out),
            Directive::LocalIp => ip(v.server_ip, out),
            Directive::RemoteHost => match (v.client_ip, &v.client_host) {
                (Some(a), _) => ip(Some(a), out),
                (None, Some(h)) => self.text(Some(h), out),
                (None, None) => out.push(b'-'),
            },
            Directive::Port(PortKind::Remote) => dash_num(v.client_port.map(u64::from), out),
            Directive::Port(_) => dash_num(v.server_port.map(u64::from), out),
            Directive::ServerName | Directive::ServerNameUsed => self.text(v.vhost.as_deref(), out),
            Directive::RemoteLogname => self.text(v.remote_logname.as_deref(), out),
            Directive::RemoteUser => self.text(v.remote_user.as_deref(), out),
            Directive::RequestLine => self.text(v.request.as_deref(), out),
            Directive::Method => self.text(method_target_proto(v.request.as_deref()).0, out),
            Directive::Protocol => self.text(method_target_proto(v.request.as_deref()).2, out),
            Directive::UrlPath | Directive::RequestUri => {
                self.text(method_target_proto(v.request.as_deref()).1, out);
            }
            Directive::Status => dash_num(v.status.map(u64::from), out),
            Directive::BodyBytesClf => dash_num(v.bytes.filter(|b| *b != 0), out),
            Directive::BodyBytes => dash_num(Some(v.bytes.unwrap_or(0)), out),
            Directive::BytesIn => dash_num(v.bytes_in, out),
            Directive::BytesOut => dash_num(v.bytes_out, out),
            Directive::BytesTotal => dash_num(v.bytes_total, out),
            Directive::DurationMicros | Directive::Duration(DurationUnit::Micros) => {
                dash_num(v.duration_us, out);
            }
            Directive::Duration(DurationUnit::Millis) => {
                dash_num(v.duration_us.map(|d| d / 1000), out);
            }
            Directive::Duration(DurationUnit::Seconds) => {
                dash_num(v.duration_us.map(|d| d / 1_000_000), out);
            }
            Directive::Duration(DurationUnit::SecondsFrac) => match v.duration_us {
                Some(d) => {
                    let _ = write!(out, "{}.{:03}", d / 1_000_000, (d % 1_000_000) / 1000);
                }
                None => out.push(b'-'),
            },
            Directive::KeepAlive => dash_num(v.keepalive.map(u64::from), out),
            Directive::ConnectionRequests => dash_num(v.keepalive.map(|k| u64::from(k) + 1), out),
            Directive::ConnStatus => out.push(v.conn_status.unwrap_or(b'-')),
            Directive::Process(ProcKind::Pid) => dash_num(v.pid.map(u64::from), out),
            Directive::Process(ProcKind::Tid) => dash_num(v.tid, out),
            Directive::Process(ProcKind::HexTid) => match v.tid {
                Some(t) => {
                    let _ = write!(out, "{t:x}");
                }
                None => out.push(b'-'),
            },
            Directive::Time(spec) => match v.time {
                Some(t) => render_time(&spec.kind, t, out),
                None => out.push(b'-'),
            },
            Directive::RequestHeader(name) if name.eq_ignore_ascii_case("referer") => {
                self.text(v.referer.as_deref(), out);
            }
            Directive::RequestHeader(name) if name.eq_ignore_ascii_case("user-agent") => {
                self.text(v.user_agent.as_deref(), out);
            }
            other => {
                let val = v
                    .extra
                    .iter()
                    .find(|(d, _)| d.matches(other))
                    .map(|(_, b)| b.as_slice());
                self.text(val, out);
            }
        }
    }
}

fn render_time(kind: &TimeKind, t: LogTime, out: &mut Vec<u8>) {
    let secs = t.ts_us.div_euclid(1_000_000);
    let sub = t.ts_us.rem_euclid(1_000_000);
    match kind {
        TimeKind::Clf => {
            out.push(b'[');
            time::render_clf_body(t.ts_us, t.utc_offset_secs, out);
            out.push(b']');
        }
        TimeKind::ClfBare => time::render_clf_body(t.ts_us, t.utc_offset_secs, out),
        TimeKind::Sec => {
            let _ = write!(out, "{secs}");
        }
        TimeKind::Msec => {
            let _ = write!(out, "{}", t.ts_us.div_euclid(1000));
        }
        TimeKind::Usec => {
            let _ = write!(out, "{}", t.ts_us);
        }
        TimeKind::SecDotMsec => {
            let _ = write!(out, "{secs}.{:03}", sub / 1000);
        }
        TimeKind::MsecFrac => {
            let _ = write!(out, "{:03}", sub / 1000);
        }
        TimeKind::UsecFrac => {
            let _ = write!(out, "{sub:06}");
        }
        TimeKind::Iso8601 => {
            let local = secs + i64::from(t.utc_offset_secs);
            let (y, m, d) = time::civil_from_days(local.div_euclid(86_400));
            let sod = local.rem_euclid(86_400);
            let off = t.utc_offset_secs;
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            let _ = write!(
                out,
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
                sod / 3600,
                (sod / 60) % 60,
                sod % 60,
                a / 3600,
                (a / 60) % 60
            );
        }
        TimeKind::Strftime(_) | TimeKind::Opaque(_) => {
            // Only the CLF body is rendered for custom patterns.
            time::render_clf_body(t.ts_us, t.utc_offset_secs, out);
        }
    }
}
