//! Compiling Apache `LogFormat` and nginx `log_format` strings into a list of items.

use memchr::memmem::Finder;

use crate::directive::{Directive, DurationUnit, Field, PortKind, ProcKind, TimeKind, TimeSpec};
use crate::error::{Error, Result};
use crate::escape::EscapeStyle;
use crate::fast::FastPlan;
use crate::time::{ClfCache, compile_strftime};

/// Most items (literals + fields) a compiled format may have.
pub const MAX_ITEMS: usize = 128;
/// Most fields (directives) a compiled format may have.
pub const MAX_FIELDS: usize = 48;
/// Default cap on the length of a line given to [`LogFormat::parse`].
pub const DEFAULT_MAX_LINE_LEN: usize = 65_536;

/// One compiled item: literal text or a field.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// Literal bytes that must appear verbatim.
    Lit {
        bytes: Box<[u8]>,
        finder: Box<Finder<'static>>,
    },
    /// A field; `slot` indexes the record's span table.
    Field { field: Field, slot: usize },
}

/// Which typed field a `%{..}i` header feeds (precomputed so lines need no name compares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderRole {
    /// Not a header, or a header without a typed field.
    Other,
    /// `Referer`.
    Referer,
    /// `User-Agent`.
    UserAgent,
}

/// A compiled access-log format (Apache `LogFormat` or nginx `log_format`).
///
/// ```
/// use halfopen_weblog::LogFormat;
/// let f = LogFormat::preset("combined").unwrap();
/// let r = f.parse(br#"192.0.2.7 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 2326 "-" "curl/8""#).unwrap();
/// assert_eq!(r.status, Some(200));
/// assert_eq!(r.time.unwrap().ts_us, 971_211_336_000_000);
/// assert_eq!(r.request.unwrap().target, Some(&b"/"[..]));
/// ```
#[derive(Debug, Clone)]
pub struct LogFormat {
    pub(crate) items: Vec<Item>,
    pub(crate) fields: Vec<Field>,
    pub(crate) header_roles: Vec<HeaderRole>,
    source: String,
    name: Option<&'static str>,
    pub(crate) style: EscapeStyle,
    pub(crate) local_offset_secs: i32,
    pub(crate) max_line_len: usize,
    /// The single-pass fast path, when the format qualifies.
    pub(crate) fast: Option<FastPlan>,
}

/// A reader of one log: a [`LogFormat`] plus a memo of the last `%t` minute
/// ([`ClfCache`]), so that consecutive lines sharing a minute skip the date arithmetic.
/// Made by [`LogFormat::parser`]; gives exactly the records [`LogFormat::parse`] gives.
///
/// ```
/// use halfopen_weblog::LogFormat;
/// let f = LogFormat::preset("combined").unwrap();
/// let mut p = f.parser();
/// let lines: [&[u8]; 2] = [
///     br#"192.0.2.7 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 2326 "-" "curl/8""#,
///     br#"192.0.2.8 - - [10/Oct/2000:13:55:37 -0700] "GET /a HTTP/1.1" 404 - "-" "curl/8""#,
/// ];
/// for l in lines {
///     assert_eq!(p.parse(l), f.parse(l));
/// }
/// assert_eq!(p.parse(lines[1]).unwrap().time.unwrap().ts_us, 971_211_337_000_000);
/// ```
#[derive(Debug, Clone)]
pub struct AccessParser<'f> {
    format: &'f LogFormat,
    cache: ClfCache,
}

impl<'f> AccessParser<'f> {
    /// Parse one line, like [`LogFormat::parse`].
    #[inline]
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Result<crate::AccessRecord<'a>> {
        self.format.parse_cached(line, &mut self.cache)
    }

    /// The format this parser reads.
    pub fn format(&self) -> &'f LogFormat {
        self.format
    }
}

/// The preset names [`LogFormat::preset`] knows, in the order [`crate::detect_access_format`] tries them.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "combined",
        r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i""#,
    ),
    (
        "combined_debian",
        r#"%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#,
    ),
    (
        "vhost_combined",
        r#"%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i""#,
    ),
    (
        "combinedio",
        r#"%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-Agent}i" %I %O"#,
    ),
    ("common", r#"%h %l %u %t "%r" %>s %b"#),
    ("vhost_common", r#"%v %h %l %u %t "%r" %>s %b"#),
    ("referer", r"%{Referer}i -> %U"),
    ("agent", r"%{User-agent}i"),
];

/// nginx's built-in `combined` `log_format`.
pub const NGINX_COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

fn lit_item(bytes: Vec<u8>) -> Item {
    let bytes = bytes.into_boxed_slice();
    let finder = Box::new(Finder::new(&bytes[..]).into_owned());
    Item::Lit { bytes, finder }
}

struct Builder {
    items: Vec<Item>,
    fields: Vec<Field>,
    lit: Vec<u8>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            items: Vec::new(),
            fields: Vec::new(),
            lit: Vec::new(),
        }
    }

    fn flush(&mut self) -> Result<()> {
        if !self.lit.is_empty() {
            if self.items.len() >= MAX_ITEMS {
                return Err(Error::FormatTooLarge {
                    max: MAX_ITEMS,
                    what: "items",
                });
            }
            self.items.push(lit_item(std::mem::take(&mut self.lit)));
        }
        Ok(())
    }

    fn field(&mut self, field: Field) -> Result<()> {
        self.flush()?;
        if self.items.len() >= MAX_ITEMS {
            return Err(Error::FormatTooLarge {
                max: MAX_ITEMS,
                what: "items",
            });
        }
        if self.fields.len() >= MAX_FIELDS {
            return Err(Error::FormatTooLarge {
                max: MAX_FIELDS,
                what: "fields",
            });
        }
        let slot = self.fields.len();
        self.fields.push(field.clone());
        self.items.push(Item::Field { field, slot });
        Ok(())
    }

    fn finish(mut self, source: &str, style: EscapeStyle) -> Result<LogFormat> {
        self.flush()?;
        if self.items.is_empty() {
            return Err(Error::BadFormat {
                offset: 0,
                reason: "empty format",
            });
        }
        let header_roles: Vec<HeaderRole> = self
            .fields
            .iter()
            .map(|f| match &f.directive {
                Directive::RequestHeader(n) if n.eq_ignore_ascii_case("referer") => {
                    HeaderRole::Referer
                }
                Directive::RequestHeader(n) if n.eq_ignore_ascii_case("user-agent") => {
                    HeaderRole::UserAgent
                }
                _ => HeaderRole::Other,
            })
            .collect();
        let fast = FastPlan::build(&self.items, &header_roles);
        Ok(LogFormat {
            fast,
            items: self.items,
            fields: self.fields,
            header_roles,
            source: source.to_owned(),
            name: None,
            style,
            local_offset_secs: 0,
            max_line_len: DEFAULT_MAX_LINE_LEN,
        })
    }
}

/// Backslash escapes a config file's quoted string may carry: `\"`, `\\`, `\n`, `\t`, `\r`.
/// Returns the byte and the number of input bytes used.
fn config_escape(b: &[u8], i: usize) -> (u8, usize) {
    match b.get(i + 1) {
        Some(b'"') => (b'"', 2),
        Some(b'\\') => (b'\\', 2),
        Some(b'n') => (b'\n', 2),
        Some(b't') => (b'\t', 2),
        Some(b'r') => (b'\r', 2),
        Some(b'\'') => (b'\'', 2),
        _ => (b'\\', 1),
    }
}

fn time_spec(param: Option<&str>) -> TimeSpec {
    let p = param.unwrap_or("");
    let (at_end, rest) = if let Some(r) = p.strip_prefix("end:") {
        (true, r)
    } else if let Some(r) = p.strip_prefix("begin:") {
        (false, r)
    } else if p == "end" {
        (true, "")
    } else if p == "begin" {
        (false, "")
    } else {
        (false, p)
    };
    let kind = match rest {
        "" => TimeKind::Clf,
        "sec" => TimeKind::Sec,
        "msec" => TimeKind::Msec,
        "usec" => TimeKind::Usec,
        "msec_frac" => TimeKind::MsecFrac,
        "usec_frac" => TimeKind::UsecFrac,
        pat => match compile_strftime(pat) {
            Some(s) => TimeKind::Strftime(s),
            None => TimeKind::Opaque(pat.to_owned()),
        },
    };
    TimeSpec { kind, at_end }
}

fn apache_directive(letter: u8, param: Option<&str>) -> Option<Directive> {
    let no_param = |d: Directive| param.is_none().then_some(d);
    let with_param = |f: fn(String) -> Directive| param.map(|p| f(p.to_owned()));
    match letter {
        b'a' => match param {
            None => Some(Directive::RemoteIp),
            Some(p) if p.eq_ignore_ascii_case("c") => Some(Directive::PeerIp),
            Some(_) => None,
        },
        b'A' => no_param(Directive::LocalIp),
        b'B' => no_param(Directive::BodyBytes),
        b'b' => no_param(Directive::BodyBytesClf),
        b'C' => with_param(Directive::Cookie),
        b'D' => no_param(Directive::DurationMicros),
        b'e' => with_param(Directive::Env),
        b'f' => no_param(Directive::Filename),
        b'h' => no_param(Directive::RemoteHost),
        b'H' => no_param(Directive::Protocol),
        b'i' => with_param(Directive::RequestHeader),
        b'k' => no_param(Directive::KeepAlive),
        b'l' => no_param(Directive::RemoteLogname),
        b'L' => no_param(Directive::LogId),
        b'm' => no_param(Directive::Method),
        b'n' => with_param(Directive::Note),
        b'o' => with_param(Directive::ResponseHeader),
        b'p' => {
            let kind = match param.map(str::to_ascii_lowercase).as_deref() {
                None | Some("canonical") => PortKind::Canonical,
                Some("local") => PortKind::Local,
                Some("remote") => PortKind::Remote,
                Some(_) => return None,
            };
            Some(Directive::Port(kind))
        }
        b'P' => {
            let kind = match param.map(str::to_ascii_lowercase).as_deref() {
                None | Some("pid") => ProcKind::Pid,
                Some("tid") => ProcKind::Tid,
                Some("hextid") => ProcKind::HexTid,
                Some(_) => return None,
            };
            Some(Directive::Process(kind))
        }
        b'q' => no_param(Directive::Query),
        b'r' => no_param(Directive::RequestLine),
        b'R' => no_param(Directive::Handler),
        b's' => no_param(Directive::Status),
        b't' => Some(Directive::Time(time_spec(param))),
        b'T' => {
            let unit = match param.map(str::to_ascii_lowercase).as_deref() {
                None | Some("s") => DurationUnit::Seconds,
                Some("ms") => DurationUnit::Millis,
                Some("us") => DurationUnit::Micros,
                Some(_) => return None,
            };
            Some(Directive::Duration(unit))
        }
        b'u' => no_param(Directive::RemoteUser),
        b'U' => no_param(Directive::UrlPath),
        b'v' => no_param(Directive::ServerName),
        b'V' => no_param(Directive::ServerNameUsed),
        b'X' => no_param(Directive::ConnStatus),
        b'I' => no_param(Directive::BytesIn),
        b'O' => no_param(Directive::BytesOut),
        b'S' => no_param(Directive::BytesTotal),
        b'x' | b'c' => with_param(Directive::Ssl),
        _ => None,
    }
}

fn nginx_variable(name: &str) -> Directive {
    match name {
        "remote_addr" => Directive::RemoteIp,
        "realip_remote_addr" => Directive::PeerIp,
        "server_addr" => Directive::LocalIp,
        "remote_port" => Directive::Port(PortKind::Remote),
        "server_port" => Directive::Port(PortKind::Local),
        "remote_user" => Directive::RemoteUser,
        "time_local" => Directive::Time(TimeSpec {
            kind: TimeKind::ClfBare,
            at_end: true,
        }),
        "time_iso8601" => Directive::Time(TimeSpec {
            kind: TimeKind::Iso8601,
            at_end: true,
        }),
        "msec" => Directive::Time(TimeSpec {
            kind: TimeKind::SecDotMsec,
            at_end: true,
        }),
        "request" => Directive::RequestLine,
        "status" => Directive::Status,
        "body_bytes_sent" => Directive::BodyBytes,
        "bytes_sent" => Directive::BytesOut,
        "request_length" => Directive::BytesIn,
        "request_time" => Directive::Duration(DurationUnit::SecondsFrac),
        "request_method" => Directive::Method,
        "request_uri" => Directive::RequestUri,
        "uri" | "document_uri" => Directive::UrlPath,
        "args" | "query_string" => Directive::NginxVar(name.to_owned()),
        "server_protocol" => Directive::Protocol,
        "server_name" => Directive::ServerName,
        "host" => Directive::ServerNameUsed,
        "pid" => Directive::Process(ProcKind::Pid),
        "connection" => Directive::ConnectionSerial,
        "connection_requests" => Directive::ConnectionRequests,
        "request_filename" => Directive::Filename,
        _ => {
            if let Some(h) = name.strip_prefix("http_") {
                Directive::RequestHeader(h.replace('_', "-"))
            } else if let Some(h) = name.strip_prefix("sent_http_") {
                Directive::ResponseHeader(h.replace('_', "-"))
            } else if let Some(c) = name.strip_prefix("cookie_") {
                Directive::Cookie(c.to_owned())
            } else {
                Directive::NginxVar(name.to_owned())
            }
        }
    }
}

impl LogFormat {
    /// Compile an Apache `LogFormat` string (as it appears inside the quotes in the config;
    /// config escapes `\"`, `\\`, `\n`, `\t` are accepted).
    ///
    /// Every mod_log_config directive is understood, with the `<` / `>` modifiers and status
    /// conditions (`%400,501{User-agent}i`, `%!200T`); mod_ssl's `%{VAR}x` / `%{VAR}c` too.
    ///
    /// ```
    /// use halfopen_weblog::LogFormat;
    /// let f = LogFormat::compile(r#"%a:%{remote}p %t "%r" %>s %D"#).unwrap();
    /// assert!(f.logs_client_port());
    /// let r = f.parse(br#"10.0.0.1:51234 [24/Nov/2026:20:50:08 +0000] "GET / HTTP/1.1" 200 241"#).unwrap();
    /// assert_eq!(r.client_port, Some(51234));
    /// assert_eq!(r.duration_us, Some(241));
    /// assert!(LogFormat::compile("%{x}a").is_err());
    /// ```
    pub fn compile(fmt: &str) -> Result<LogFormat> {
        let b = fmt.as_bytes();
        let mut bld = Builder::new();
        let mut i = 0usize;
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' => {
                    let (v, used) = config_escape(b, i);
                    bld.lit.push(v);
                    i += used;
                }
                b'%' => {
                    let start = i;
                    i += 1;
                    let mut field = Field {
                        directive: Directive::RemoteHost,
                        final_status: false,
                        original: false,
                        conditional: false,
                    };
                    let mut param: Option<&str> = None;
                    let mut any_modifier = false;
                    let letter = loop {
                        let Some(&m) = b.get(i) else {
                            return Err(Error::BadFormat {
                                offset: start,
                                reason: "directive letter expected after '%'",
                            });
                        };
                        i += 1;
                        match m {
                            b'<' => field.original = true,
                            b'>' => field.final_status = true,
                            b'!' | b',' | b'0'..=b'9' => field.conditional = true,
                            b'{' => {
                                let rest = b.get(i..).unwrap_or_default();
                                let Some(close) = memchr::memchr(b'}', rest) else {
                                    return Err(Error::BadFormat {
                                        offset: start,
                                        reason: "unterminated '{' in directive",
                                    });
                                };
                                param = fmt.get(i..i + close);
                                i += close + 1;
                            }
                            b'%' if !any_modifier && param.is_none() => break None,
                            b'^' => {
                                let two = b.get(i..i + 2);
                                let Some(two) = two else {
                                    return Err(Error::BadFormat {
                                        offset: start,
                                        reason: "two letters expected after '%^'",
                                    });
                                };
                                i += 2;
                                break Some((b'^', two == b"ti", two == b"to"));
                            }
                            other => break Some((other, false, false)),
                        }
                        any_modifier = true;
                    };
                    let Some((letter, ti, to)) = letter else {
                        bld.lit.push(b'%');
                        continue;
                    };
                    let unknown = || Error::UnknownDirective {
                        offset: start,
                        directive: String::from_utf8_lossy(b.get(start..i).unwrap_or_default())
                            .into_owned(),
                    };
                    let directive = if letter == b'^' {
                        match (ti, to, param) {
                            (true, _, Some(p)) => Directive::TrailerIn(p.to_owned()),
                            (_, true, Some(p)) => Directive::TrailerOut(p.to_owned()),
                            _ => return Err(unknown()),
                        }
                    } else {
                        apache_directive(letter, param).ok_or_else(unknown)?
                    };
                    field.directive = directive;
                    bld.field(field)?;
                }
                _ => {
                    bld.lit.push(c);
                    i += 1;
                }
            }
        }
        bld.finish(fmt, EscapeStyle::Apache)
    }

    /// Compile an nginx `log_format` string (`$var` and `${var}`), e.g. [`NGINX_COMBINED`].
    ///
    /// ```
    /// use halfopen_weblog::LogFormat;
    /// let f = LogFormat::compile_nginx(r#"$remote_addr:$remote_port [$time_local] "$request" $status"#).unwrap();
    /// let r = f.parse(br#"127.0.0.1:44000 [24/Nov/2026:20:56:22 +0000] "GET / HTTP/1.1" 200"#).unwrap();
    /// assert_eq!(r.client_port, Some(44000));
    /// ```
    pub fn compile_nginx(fmt: &str) -> Result<LogFormat> {
        let b = fmt.as_bytes();
        let mut bld = Builder::new();
        let mut i = 0usize;
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' => {
                    let (v, used) = config_escape(b, i);
                    bld.lit.push(v);
                    i += used;
                }
                b'$' => {
                    let start = i;
                    let braced = b.get(i + 1) == Some(&b'{');
                    let name_start = if braced { i + 2 } else { i + 1 };
                    let len = b
                        .get(name_start..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                        .count();
                    if len == 0 {
                        return Err(Error::BadFormat {
                            offset: start,
                            reason: "variable name expected after '$'",
                        });
                    }
                    let name = fmt.get(name_start..name_start + len).unwrap_or_default();
                    i = name_start + len;
                    if braced {
                        if b.get(i) != Some(&b'}') {
                            return Err(Error::BadFormat {
                                offset: start,
                                reason: "'}' expected after ${name",
                            });
                        }
                        i += 1;
                    }
                    let directive = nginx_variable(name);
                    let final_status = directive == Directive::Status;
                    bld.field(Field {
                        directive,
                        final_status,
                        original: false,
                        conditional: false,
                    })?;
                }
                _ => {
                    bld.lit.push(c);
                    i += 1;
                }
            }
        }
        bld.finish(fmt, EscapeStyle::Nginx)
    }

    /// A named preset: `common`, `combined` (upstream, `%b`), `combined_debian` (`%O`),
    /// `vhost_combined` (Debian), `vhost_common`, `combinedio`, `referer`, `agent`,
    /// `nginx_combined`.
    ///
    /// ```
    /// assert!(halfopen_weblog::LogFormat::preset("nginx_combined").is_some());
    /// assert!(halfopen_weblog::LogFormat::preset("nope").is_none());
    /// ```
    pub fn preset(name: &str) -> Option<LogFormat> {
        if name == "nginx_combined" {
            let mut f = LogFormat::compile_nginx(NGINX_COMBINED).ok()?;
            f.name = Some("nginx_combined");
            return Some(f);
        }
        let (n, s) = PRESETS.iter().find(|(n, _)| *n == name)?;
        let mut f = LogFormat::compile(s).ok()?;
        f.name = Some(n);
        Some(f)
    }

    /// True when the format logs the client's source port (`%{remote}p`, nginx `$remote_port`),
    /// which lets a request be matched to one TCP connection exactly.
    pub fn logs_client_port(&self) -> bool {
        self.fields
            .iter()
            .any(|f| f.directive == Directive::Port(PortKind::Remote))
    }

    /// The format string this was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The preset name, when made by [`LogFormat::preset`].
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }

    /// The fields, in order; a field's index is its slot for [`crate::AccessRecord::field`].
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Index of the first field with this directive (header names compared case-insensitively).
    pub fn index_of(&self, d: &Directive) -> Option<usize> {
        self.fields.iter().position(|f| f.directive.matches(d))
    }

    /// Set the UTC offset used for times written without a zone (strftime `%{...}t` formats
    /// without `%z`: Apache writes them in the server's local time). Default 0 (UTC).
    #[must_use]
    pub fn with_local_offset(mut self, offset_secs: i32) -> LogFormat {
        self.local_offset_secs = offset_secs;
        self
    }

    /// Set the line length cap (default [`DEFAULT_MAX_LINE_LEN`]; at most `u32::MAX`, since
    /// field spans are stored as 32-bit offsets).
    #[must_use]
    pub fn with_max_line_len(mut self, n: usize) -> LogFormat {
        self.max_line_len = n.min(u32::MAX as usize);
        self
    }

    /// A stateful reader for one log (remembers the last timestamp's minute); prefer it to
    /// [`LogFormat::parse`] when reading many lines.
    pub fn parser(&self) -> AccessParser<'_> {
        AccessParser {
            format: self,
            cache: ClfCache::new(),
        }
    }

    /// True when lines of this format go through the single-pass fast path first (every
    /// preset does; formats with adjacent fields, unquoted free text or strftime times do not).
    pub fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// The escaping this format's server uses (Apache or nginx).
    pub fn escape_style(&self) -> EscapeStyle {
        self.style
    }
}
