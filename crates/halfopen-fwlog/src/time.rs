//! Timestamps as written in logs, and the resolver that turns them into instants.
//!
//! CONTRACT (written before the implementation): format modules fill a [`Timestamp`]
//! with the parts the text gives; the resolver (to be written here) adds the year and
//! zone a syslog RFC 3164 stamp leaves out.

/// How the timestamp was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimestampKind {
    /// RFC 3164 `Mar  1 18:49:05` (no year, no zone).
    Rfc3164,
    /// RFC 5424 / RFC 3339 / ISO 8601 (`2021-07-03T19:10:14.578288-05:00`), rsyslog high precision.
    Iso8601,
    /// A format's own layout (ipmon `dd/mm/yyyy`, Windows `yyyy-mm-dd hh:mm:ss`, Proxmox
    /// `dd/Mon/yyyy:HH:MM:SS +zzzz`, tcpdump `-tt` epoch seconds, ...).
    Native,
}

/// A timestamp as the log wrote it: the raw bytes and the parts they give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp<'a> {
    /// The bytes as written.
    pub raw: &'a [u8],
    /// Which layout.
    pub kind: TimestampKind,
    /// Year, when written.
    pub year: Option<i32>,
    /// Month 1–12.
    pub month: u8,
    /// Day of month 1–31.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–60 (leap second allowed as written).
    pub second: u8,
    /// Fraction of the second in nanoseconds.
    pub nanos: u32,
    /// Offset from UTC in seconds east, when written (`Z` = 0).
    pub utc_offset: Option<i32>,
}
