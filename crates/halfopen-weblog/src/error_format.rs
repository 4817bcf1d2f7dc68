//! Apache `ErrorLogFormat` strings (mod_core), compiled once and used to parse error lines
//! written with them.
//!
//! The format string is split into fields at unescaped spaces (a space that is written) and at
//! `% ` (a field separator that writes nothing); `\ ` is a space that does not separate fields.
//! As in httpd, when an item of a field has no value the whole field (with the separator before
//! it) is left out, unless the item has the `-` modifier (it then writes `-`) or the `+`
//! modifier (the line is not written at all); a leading number (`%7F`) is the minimum log level
//! at which the item is written (below it, the field is left out). The parser therefore tries
//! each optional field present and absent (with a step budget).
//!
//! ```
//! use halfopen_weblog::ErrorLogFormat;
//! use halfopen_weblog::error_log::Level;
//! let f = ErrorLogFormat::compile(r"[%{u}t] [%-m:%l] [pid %P:tid %T] %7F: %E: [client\ %a] %M% ,\ referer\ %{Referer}i").unwrap();
//! let r = f.parse(b"[Tue Nov 24 20:50:30.336238 2026] [reqtimeout:info] [pid 13638:tid 13773] [client 127.0.0.1:41006] AH01382: Request header read timeout").unwrap();
//! assert_eq!((r.pid, r.tid, r.level), (Some(13638), Some(13773), Some(Level::Info)));
//! assert_eq!(r.client_port, Some(41006));
//! assert_eq!(r.code.map(|c| c.0), Some(1382));
//! assert_eq!(r.message, b"Request header read timeout");
//! ```

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{is_not, tag, take_till},
    character::complete::{anychar, char, digit0, one_of},
    combinator::{map, opt, value},
    multi::many0,
    sequence::{delimited, preceded},
};

use crate::error::{Error, Expected, Result};
use crate::error_log::{
    ErrorFlavor, ErrorRecord, Level, MAX_LINE_LEN, apache_time, code_at, split_addr_port,
};
use crate::time::parse_u64;

/// Most items (literals and `%` directives) a compiled format may have.
pub const MAX_ITEMS: usize = 64;
/// Most `%` directives a compiled format may have.
pub const MAX_DIRECTIVES: usize = 32;
/// Steps the line matcher may take (trying optional fields present and absent) before it
/// gives up on a line.
pub const MATCH_BUDGET: usize = 200_000;
/// Longest value accepted for the short items (time, addresses, numbers, level, module, file).
const SHORT_VALUE: usize = 256;

/// What a `%` item of an `ErrorLogFormat` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorItem {
    /// `%a`: client IP and port of the request.
    ClientAddr,
    /// `%{c}a`: IP and port of the peer of the connection.
    PeerAddr,
    /// `%A`: local IP and port.
    LocalAddr,
    /// `%{name}e`: request environment variable.
    Env,
    /// `%E`: APR/OS error status and string.
    AprStatus,
    /// `%F`: source file name and line.
    Source,
    /// `%{name}i`: request header (`is_referer` when the header is `Referer`).
    Header {
        /// The header is `Referer`.
        is_referer: bool,
    },
    /// `%k`: number of keep-alive requests on the connection.
    KeepAlive,
    /// `%l`: log level.
    Level,
    /// `%L`, `%{c}L`, `%{C}L`: log ids.
    LogId,
    /// `%m`: module.
    Module,
    /// `%M`: the message.
    Message,
    /// `%{name}n`: request note.
    Note,
    /// `%P`: process id.
    Pid,
    /// `%T`, `%{g}T`: thread id.
    Tid,
    /// `%t`, `%{u}t`, `%{cu}t`, `%{cuz}t`...: the time.
    Time,
    /// `%v`, `%V`: server name.
    ServerName,
}

#[derive(Debug, Clone)]
struct Directive {
    item: ErrorItem,
    /// `-`: a missing value is written as `-`.
    hyphen: bool,
    /// `+`: a missing value drops the line (so a logged line always has it).
    required: bool,
    /// Index of the capture slot.
    slot: usize,
}

#[derive(Debug, Clone)]
enum Item {
    Lit(Vec<u8>),
    Dir(Directive),
}

#[derive(Debug, Clone)]
struct FieldSpec {
    /// What the separator before the field writes (`b" "` or nothing).
    lead: &'static [u8],
    items: Vec<Item>,
    /// The field may be absent from a line.
    optional: bool,
}

/// A compiled Apache `ErrorLogFormat` string.
#[derive(Debug, Clone)]
pub struct ErrorLogFormat {
    fields: Vec<FieldSpec>,
}

/// One token of a format string.
#[derive(Debug, Clone)]
enum Tok<'a> {
    /// Field separator; `true` when it writes a space.
    Sep(bool),
    Lit(&'a str),
    Dir {
        mods: Vec<char>,
        min_level: &'a str,
        arg: Option<&'a str>,
        letter: char,
    },
}

fn token(i: &str) -> IResult<&str, Tok<'_>> {
    alt((
        value(Tok::Lit("%"), tag("%%")),
        value(Tok::Sep(false), tag("% ")),
        value(Tok::Sep(true), char(' ')),
        map(preceded(char('\\'), anychar), |c| {
            Tok::Lit(match c {
                ' ' => " ",
                't' => "\t",
                'n' => "\n",
                '\\' => "\\",
                '"' => "\"",
                _ => "\u{0}",
            })
        }),
        map(
            preceded(
                char('%'),
                (
                    many0(one_of("-+")),
                    digit0,
                    opt(delimited(char('{'), take_till(|c| c == '}'), char('}'))),
                    anychar,
                ),
            ),
            |(mods, min_level, arg, letter)| Tok::Dir {
                mods,
                min_level,
                arg,
                letter,
            },
        ),
        map(is_not("% \\"), Tok::Lit),
    ))
    .parse(i)
}

fn item_of(letter: char, arg: Option<&str>) -> Option<ErrorItem> {
    Some(match (letter, arg) {
        ('a', None) => ErrorItem::ClientAddr,
        ('a', Some("c")) => ErrorItem::PeerAddr,
        ('A', None) => ErrorItem::LocalAddr,
        ('e', Some(_)) => ErrorItem::Env,
        ('E', None) => ErrorItem::AprStatus,
        ('F', None) => ErrorItem::Source,
        ('i', Some(h)) => ErrorItem::Header {
            is_referer: h.eq_ignore_ascii_case("referer"),
        },
        ('k', None) => ErrorItem::KeepAlive,
        ('l', None) => ErrorItem::Level,
        ('L', None | Some("c" | "C")) => ErrorItem::LogId,
        ('m', None) => ErrorItem::Module,
        ('M', None) => ErrorItem::Message,
        ('n', Some(_)) => ErrorItem::Note,
        ('P', None) => ErrorItem::Pid,
        ('T', None | Some("g")) => ErrorItem::Tid,
        ('t', None) => ErrorItem::Time,
        ('t', Some(f)) if !f.is_empty() && f.chars().all(|c| matches!(c, 'u' | 'c' | 'z')) => {
            ErrorItem::Time
        }
        ('v' | 'V', None) => ErrorItem::ServerName,
        _ => return None,
    })
}

impl ErrorLogFormat {
    /// Compile an `ErrorLogFormat` string (as written in httpd.conf, without the quotes).
    ///
    /// Errors: [`Error::BadFormat`] (a `%` at the end, an unclosed `{`, an empty format),
    /// [`Error::UnknownDirective`], [`Error::FormatTooLarge`].
    pub fn compile(fmt: &str) -> Result<ErrorLogFormat> {
        let mut fields = vec![FieldSpec {
            lead: b"",
            items: Vec::new(),
            optional: false,
        }];
        let mut rest = fmt;
        let mut n_items = 0usize;
        let mut directives = 0usize;
        while !rest.is_empty() {
            let offset = fmt.len() - rest.len();
            let (next, tok) = token(rest).map_err(|_| Error::BadFormat {
                offset,
                reason: "'%' must be followed by an item letter (and '{' closed by '}')",
            })?;
            n_items += 1;
            if n_items > MAX_ITEMS {
                return Err(Error::FormatTooLarge {
                    max: MAX_ITEMS,
                    what: "items",
                });
            }
            let field = fields.last_mut().ok_or(Error::BadFormat {
                offset,
                reason: "no field",
            })?;
            match tok {
                Tok::Sep(space) => fields.push(FieldSpec {
                    lead: if space { b" " } else { b"" },
                    items: Vec::new(),
                    optional: false,
                }),
                Tok::Lit(t) => {
                    if t == "\u{0}" {
                        return Err(Error::BadFormat {
                            offset,
                            reason: "unknown backslash escape",
                        });
                    }
                    match field.items.last_mut() {
                        Some(Item::Lit(l)) => l.extend_from_slice(t.as_bytes()),
                        _ => field.items.push(Item::Lit(t.as_bytes().to_vec())),
                    }
                }
                Tok::Dir {
                    mods,
                    min_level,
                    arg,
                    letter,
                } => {
                    let directive = || Error::UnknownDirective {
                        offset,
                        directive: fmt
                            .get(offset..fmt.len() - next.len())
                            .unwrap_or_default()
                            .to_owned(),
                    };
                    if letter == '{' {
                        return Err(Error::BadFormat {
                            offset,
                            reason: "'{' not closed by '}'",
                        });
                    }
                    let item = item_of(letter, arg).ok_or_else(directive)?;
                    if directives >= MAX_DIRECTIVES {
                        return Err(Error::FormatTooLarge {
                            max: MAX_DIRECTIVES,
                            what: "directives",
                        });
                    }
                    let level_gated = !min_level.is_empty();
                    if level_gated && min_level.parse::<u8>().map_or(true, |l| l > 15) {
                        return Err(directive());
                    }
                    let hyphen = mods.contains(&'-');
                    let required = mods.contains(&'+');
                    // the message is always written; other items may be missing
                    if item != ErrorItem::Message && (level_gated || (!hyphen && !required)) {
                        field.optional = true;
                    }
                    field.items.push(Item::Dir(Directive {
                        item,
                        hyphen,
                        required,
                        slot: directives,
                    }));
                    directives += 1;
                }
            }
            rest = next;
        }
        fields.retain(|f| !f.items.is_empty() || !f.lead.is_empty());
        if directives == 0 && fields.iter().all(|f| f.items.is_empty()) {
            return Err(Error::BadFormat {
                offset: 0,
                reason: "empty format",
            });
        }
        Ok(ErrorLogFormat { fields })
    }

    /// The `%` items of the format, in order, with their `+` (required) flag.
    pub fn items(&self) -> impl Iterator<Item = (ErrorItem, bool)> + '_ {
        self.fields.iter().flat_map(|f| {
            f.items.iter().filter_map(|i| match i {
                Item::Dir(d) => Some((d.item, d.required)),
                Item::Lit(_) => None,
            })
        })
    }

    /// Parse a line written with this format, reading times without a zone as UTC.
    pub fn parse<'a>(&self, line: &'a [u8]) -> Result<ErrorRecord<'a>> {
        self.parse_with(line, 0)
    }

    /// Parse a line written with this format, reading times without a zone as local time at
    /// `offset_secs` east of UTC.
    ///
    /// Errors: [`Error::Empty`], [`Error::LineTooLong`], and [`Error::Syntax`] at the furthest
    /// byte the matcher reached when the line does not match the format.
    pub fn parse_with<'a>(&self, line: &'a [u8], offset_secs: i32) -> Result<ErrorRecord<'a>> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > MAX_LINE_LEN {
            return Err(Error::LineTooLong {
                len: line.len(),
                max: MAX_LINE_LEN,
            });
        }
        if line.is_empty() {
            return Err(Error::Empty);
        }
        let mut m = Matcher {
            fmt: self,
            line,
            caps: [None; MAX_DIRECTIVES],
            budget: MATCH_BUDGET,
            furthest: 0,
            offset_secs,
        };
        if !m.field(0, 0) {
            let expected = if m.budget == 0 {
                Expected::Text("a match within the step budget")
            } else {
                Expected::Text("the ErrorLogFormat layout")
            };
            return Err(Error::Syntax {
                offset: m.furthest,
                expected,
            });
        }
        let mut rec = ErrorRecord::empty(ErrorFlavor::Apache24);
        let mut peer = (None, None);
        for f in &self.fields {
            for it in &f.items {
                let Item::Dir(d) = it else { continue };
                let Some((s, e)) = m.caps.get(d.slot).copied().flatten() else {
                    continue;
                };
                let v = line.get(s..e).unwrap_or_default();
                if d.hyphen && v == b"-" && d.item != ErrorItem::Message {
                    continue;
                }
                match d.item {
                    ErrorItem::ClientAddr => (rec.client, rec.client_port) = split_addr_port(v),
                    ErrorItem::PeerAddr => peer = split_addr_port(v),
                    ErrorItem::AprStatus => rec.os_error = Some(v),
                    ErrorItem::Source => rec.source = Some(v),
                    ErrorItem::Header { is_referer: true } => rec.referer = Some(v),
                    ErrorItem::Level => rec.level = Level::parse(v),
                    ErrorItem::Module => rec.module = Some(v),
                    ErrorItem::Pid => {
                        rec.pid = parse_u64(v).and_then(|n| u32::try_from(n).ok());
                    }
                    ErrorItem::Tid => rec.tid = parse_u64(v),
                    ErrorItem::Time => rec.time = apache_time(v, offset_secs),
                    ErrorItem::Message => {
                        let mut msg = v;
                        if let Some(c) = code_at(v, 0) {
                            rec.code = Some(c);
                            msg = v.get(8..).unwrap_or_default();
                            msg = msg.strip_prefix(b" ").unwrap_or(msg);
                        }
                        rec.message = msg;
                    }
                    _ => {}
                }
            }
        }
        if rec.client.is_none() {
            (rec.client, rec.client_port) = peer;
        }
        Ok(rec)
    }
}

struct Matcher<'f, 'a> {
    fmt: &'f ErrorLogFormat,
    line: &'a [u8],
    caps: [Option<(usize, usize)>; MAX_DIRECTIVES],
    budget: usize,
    furthest: usize,
    offset_secs: i32,
}

impl Matcher<'_, '_> {
    fn step(&mut self, pos: usize) -> bool {
        self.furthest = self.furthest.max(pos);
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    /// Match fields `f..` from `pos` to the end of the line.
    fn field(&mut self, f: usize, pos: usize) -> bool {
        if !self.step(pos) {
            return false;
        }
        let Some(spec) = self.fmt.fields.get(f) else {
            return pos == self.line.len();
        };
        let lead = spec.lead;
        let optional = spec.optional;
        if self.line.get(pos..).is_some_and(|r| r.starts_with(lead))
            && self.items(f, 0, pos + lead.len())
        {
            return true;
        }
        if optional && self.budget > 0 {
            for it in &spec.items {
                if let Item::Dir(d) = it {
                    if let Some(c) = self.caps.get_mut(d.slot) {
                        *c = None;
                    }
                }
            }
            return self.field(f + 1, pos);
        }
        false
    }

    /// Match items `k..` of field `f` from `pos`, then the following fields.
    fn items(&mut self, f: usize, k: usize, pos: usize) -> bool {
        if !self.step(pos) {
            return false;
        }
        let fmt = self.fmt;
        let Some(spec) = fmt.fields.get(f) else {
            return false;
        };
        let Some(item) = spec.items.get(k) else {
            return self.field(f + 1, pos);
        };
        let line = self.line;
        let rest = line.get(pos..).unwrap_or_default();
        match item {
            Item::Lit(t) => rest.starts_with(t) && self.items(f, k + 1, pos + t.len()),
            Item::Dir(d) => {
                let next_lit = match spec.items.get(k + 1) {
                    Some(Item::Lit(t)) => t.first().copied(),
                    _ => None,
                };
                let short = !matches!(
                    d.item,
                    ErrorItem::Message
                        | ErrorItem::AprStatus
                        | ErrorItem::Header { .. }
                        | ErrorItem::Env
                        | ErrorItem::Note
                        | ErrorItem::ServerName
                );
                let max = if short {
                    rest.len().min(SHORT_VALUE)
                } else {
                    rest.len()
                };
                for len in 0..=max {
                    if self.budget == 0 {
                        return false;
                    }
                    if len > 0 && !char_ok(d.item, rest.get(len - 1).copied().unwrap_or(0)) {
                        break;
                    }
                    if let Some(b) = next_lit {
                        if rest.get(len) != Some(&b) {
                            continue;
                        }
                    }
                    let v = rest.get(..len).unwrap_or_default();
                    if !value_ok(d, v, self.offset_secs) {
                        continue;
                    }
                    if let Some(c) = self.caps.get_mut(d.slot) {
                        *c = Some((pos, pos + len));
                    }
                    if self.items(f, k + 1, pos + len) {
                        return true;
                    }
                }
                false
            }
        }
    }
}

/// Whether byte `c` can be part of a value of `item` (a cheap filter that stops the scan).
fn char_ok(item: ErrorItem, c: u8) -> bool {
    match item {
        ErrorItem::Pid | ErrorItem::Tid | ErrorItem::KeepAlive => c.is_ascii_digit() || c == b'-',
        ErrorItem::ClientAddr | ErrorItem::PeerAddr | ErrorItem::LocalAddr => {
            c.is_ascii_hexdigit() || matches!(c, b'.' | b':' | b'[' | b']' | b'%' | b'-')
        }
        ErrorItem::Level | ErrorItem::Module | ErrorItem::Source | ErrorItem::LogId => {
            !c.is_ascii_whitespace() && c != b']'
        }
        _ => true,
    }
}

/// Whether `v` is a plausible value of the directive.
fn value_ok(d: &Directive, v: &[u8], offset_secs: i32) -> bool {
    if d.hyphen && v == b"-" {
        return true;
    }
    match d.item {
        ErrorItem::Message | ErrorItem::Module => true,
        ErrorItem::Pid | ErrorItem::Tid | ErrorItem::KeepAlive => {
            !v.is_empty() && parse_u64(v).is_some()
        }
        ErrorItem::ClientAddr | ErrorItem::PeerAddr | ErrorItem::LocalAddr => {
            split_addr_port(v).0.is_some()
        }
        ErrorItem::Level => Level::parse(v).is_some(),
        ErrorItem::Source => {
            v.len() > 3
                && v.last() == Some(&b')')
                && memchr::memchr(b'(', v).is_some_and(|p| {
                    p > 0
                        && v.get(p + 1..v.len() - 1)
                            .is_some_and(|n| !n.is_empty() && n.iter().all(u8::is_ascii_digit))
                })
        }
        ErrorItem::AprStatus => {
            let digits = v
                .get(1..)
                .unwrap_or_default()
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            v.first() == Some(&b'(') && digits > 0 && v.get(1 + digits) == Some(&b')')
        }
        ErrorItem::Time => v.len() <= 64 && apache_time(v, offset_secs).is_some(),
        _ => !v.is_empty(),
    }
}
