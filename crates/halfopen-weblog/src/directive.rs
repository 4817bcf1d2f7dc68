//! The fields a log format can contain: every mod_log_config directive plus the nginx variables
//! that have no Apache equivalent.

use crate::time::Strftime;

/// Which port `%{format}p` logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortKind {
    /// `%p`, `%{canonical}p`: the server's canonical port.
    Canonical,
    /// `%{local}p`: the port the connection arrived on.
    Local,
    /// `%{remote}p`: the client's source port.
    Remote,
}

/// Which id `%{format}P` logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProcKind {
    /// `%P`, `%{pid}P`.
    Pid,
    /// `%{tid}P`.
    Tid,
    /// `%{hextid}P`.
    HexTid,
}

/// Unit of `%{UNIT}T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DurationUnit {
    /// Seconds (`%T`, `%{s}T`).
    Seconds,
    /// Milliseconds (`%{ms}T`).
    Millis,
    /// Microseconds (`%{us}T`, `%D`).
    Micros,
    /// nginx `$request_time`: seconds with a millisecond fraction (`0.004`).
    SecondsFrac,
}

/// What a `%t` / `%{format}t` field holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimeKind {
    /// `%t`, `%{}t`, `%{begin:}t`: `[10/Oct/2000:13:55:36 -0700]` with the brackets.
    Clf,
    /// nginx `$time_local`: the CLF body without brackets.
    ClfBare,
    /// nginx `$time_iso8601`.
    Iso8601,
    /// `%{sec}t`: seconds since the epoch.
    Sec,
    /// `%{msec}t`: milliseconds since the epoch.
    Msec,
    /// `%{usec}t`: microseconds since the epoch.
    Usec,
    /// nginx `$msec`: `1795553408.519`.
    SecDotMsec,
    /// `%{msec_frac}t`: the millisecond fraction (3 digits).
    MsecFrac,
    /// `%{usec_frac}t`: the microsecond fraction (6 digits).
    UsecFrac,
    /// `%{strftime}t` in the supported subset.
    Strftime(Strftime),
    /// A strftime pattern outside the supported subset: the value is kept as text only.
    Opaque(String),
}

/// A `%t` field: what it holds and whether it is the start or the end of the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimeSpec {
    /// The representation.
    pub kind: TimeKind,
    /// `end:` prefix.
    pub at_end: bool,
}

/// One field of a log format.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Directive {
    /// `%a`: client IP (after mod_remoteip).
    RemoteIp,
    /// `%{c}a`: IP of the TCP peer.
    PeerIp,
    /// `%A`: local IP.
    LocalIp,
    /// `%B`: response body bytes, `0` for none.
    BodyBytes,
    /// `%b`: response body bytes, `-` for none.
    BodyBytesClf,
    /// `%{VAR}C`: a request cookie.
    Cookie(String),
    /// `%D`: request duration in microseconds.
    DurationMicros,
    /// `%{VAR}e`: an environment variable.
    Env(String),
    /// `%f`: file name.
    Filename,
    /// `%h`: remote host name or IP.
    RemoteHost,
    /// `%H`: request protocol.
    Protocol,
    /// `%{VAR}i`: a request header (name compared ASCII case-insensitively).
    RequestHeader(String),
    /// `%k`: number of keep-alive requests handled on this connection.
    KeepAlive,
    /// `%l`: remote logname (identd).
    RemoteLogname,
    /// `%L`: request log id.
    LogId,
    /// `%m`: request method.
    Method,
    /// `%{VAR}n`: a note.
    Note(String),
    /// `%{VAR}o`: a response header.
    ResponseHeader(String),
    /// `%p`, `%{canonical|local|remote}p`.
    Port(PortKind),
    /// `%P`, `%{pid|tid|hextid}P`.
    Process(ProcKind),
    /// `%q`: query string (with the `?`).
    Query,
    /// `%r`: first line of the request.
    RequestLine,
    /// `%R`: handler.
    Handler,
    /// `%s` / `%<s` (original status) and `%>s` (final status); see [`Field::final_status`].
    Status,
    /// `%t`, `%{format}t`.
    Time(TimeSpec),
    /// `%T`, `%{UNIT}T`, `%D` is [`Directive::DurationMicros`].
    Duration(DurationUnit),
    /// `%u`: remote user.
    RemoteUser,
    /// `%U`: URL path.
    UrlPath,
    /// `%v`: canonical server name.
    ServerName,
    /// `%V`: server name per `UseCanonicalName`.
    ServerNameUsed,
    /// `%X`: connection status at the end of the response (`X`, `+`, `-`).
    ConnStatus,
    /// `%I`: bytes received incl. headers (mod_logio).
    BytesIn,
    /// `%O`: bytes sent incl. headers (mod_logio).
    BytesOut,
    /// `%S`: bytes transferred, `%I + %O` (mod_logio).
    BytesTotal,
    /// `%{VAR}^ti`: request trailer.
    TrailerIn(String),
    /// `%{VAR}^to`: response trailer.
    TrailerOut(String),
    /// `%{VAR}x` (mod_ssl variable) or `%{VAR}c` (mod_ssl crypto).
    Ssl(String),
    /// nginx `$request_uri` (path and query as sent).
    RequestUri,
    /// nginx `$connection`: connection serial number.
    ConnectionSerial,
    /// nginx `$connection_requests`: requests made on this connection so far (1 for the first).
    ConnectionRequests,
    /// Any other nginx variable, by name (without `$`).
    NginxVar(String),
}

impl Directive {
    /// The directive as written in a `LogFormat` (without modifiers or parameter), for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Directive::RemoteIp => "%a",
            Directive::PeerIp => "%{c}a",
            Directive::LocalIp => "%A",
            Directive::BodyBytes => "%B",
            Directive::BodyBytesClf => "%b",
            Directive::Cookie(_) => "%{}C",
            Directive::DurationMicros => "%D",
            Directive::Env(_) => "%{}e",
            Directive::Filename => "%f",
            Directive::RemoteHost => "%h",
            Directive::Protocol => "%H",
            Directive::RequestHeader(_) => "%{}i",
            Directive::KeepAlive => "%k",
            Directive::RemoteLogname => "%l",
            Directive::LogId => "%L",
            Directive::Method => "%m",
            Directive::Note(_) => "%{}n",
            Directive::ResponseHeader(_) => "%{}o",
            Directive::Port(PortKind::Canonical) => "%p",
            Directive::Port(PortKind::Local) => "%{local}p",
            Directive::Port(PortKind::Remote) => "%{remote}p",
            Directive::Process(ProcKind::Pid) => "%P",
            Directive::Process(ProcKind::Tid) => "%{tid}P",
            Directive::Process(ProcKind::HexTid) => "%{hextid}P",
            Directive::Query => "%q",
            Directive::RequestLine => "%r",
            Directive::Handler => "%R",
            Directive::Status => "%s",
            Directive::Time(_) => "%t",
            Directive::Duration(_) => "%T",
            Directive::RemoteUser => "%u",
            Directive::UrlPath => "%U",
            Directive::ServerName => "%v",
            Directive::ServerNameUsed => "%V",
            Directive::ConnStatus => "%X",
            Directive::BytesIn => "%I",
            Directive::BytesOut => "%O",
            Directive::BytesTotal => "%S",
            Directive::TrailerIn(_) => "%{}^ti",
            Directive::TrailerOut(_) => "%{}^to",
            Directive::Ssl(_) => "%{}x",
            Directive::RequestUri => "$request_uri",
            Directive::ConnectionSerial => "$connection",
            Directive::ConnectionRequests => "$connection_requests",
            Directive::NginxVar(_) => "$variable",
        }
    }

    /// Same directive, header names compared ASCII case-insensitively.
    pub fn matches(&self, other: &Directive) -> bool {
        match (self, other) {
            (Directive::RequestHeader(a), Directive::RequestHeader(b))
            | (Directive::ResponseHeader(a), Directive::ResponseHeader(b))
            | (Directive::TrailerIn(a), Directive::TrailerIn(b))
            | (Directive::TrailerOut(a), Directive::TrailerOut(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }
}

/// A directive with its modifiers, as compiled from the format string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// The directive.
    pub directive: Directive,
    /// `>` modifier (final request after internal redirects); for `%s` this selects the final status.
    pub final_status: bool,
    /// `<` modifier (original request).
    pub original: bool,
    /// The field has a status condition (`%400,501{..}i`, `%!200T`): the value may be `-`.
    pub conditional: bool,
}
