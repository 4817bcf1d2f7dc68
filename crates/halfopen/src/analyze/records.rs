//! Per-connection records (`--connections FILE`): one JSON object per line, written as each
//! connection leaves the correlation, so their size is the user's choice and the analysis
//! holds none of them.

use std::io::{BufWriter, Write};

use serde::Serialize;

use crate::escape::rfc3339;
use crate::facts::ConnFacts;
use crate::infer::Outcome;

/// One connection as written: the fields are documented in docs/json-schema.md
/// ("connection records").
#[derive(Debug, Serialize)]
pub struct ConnRecord<'a> {
    /// Client address and port.
    pub client: std::net::SocketAddr,
    /// Server address and port.
    pub server: std::net::SocketAddr,
    /// First packet (RFC 3339, firewall clock).
    pub start: String,
    /// First packet, µs since the Unix epoch.
    pub start_us: i64,
    /// Lifetime, ms.
    pub duration_ms: u64,
    /// Zeek history letters.
    pub history: String,
    /// Zeek connection state, when the input shows it.
    pub state: Option<&'static str>,
    /// What happened ([`Outcome`]'s name).
    pub outcome: &'static str,
    /// SYNs from the client.
    pub syns: u32,
    /// Packets (lines) from the client.
    pub client_packets: u64,
    /// Packets (lines) from the server.
    pub server_packets: u64,
    /// Requests the web logs have on it.
    pub requests: u32,
    /// The strongest of them: its line, escaped and capped.
    pub request: Option<&'a str>,
    /// Its status.
    pub status: Option<u16>,
    /// The client's first bytes (a capture): their class.
    pub first_bytes_class: Option<&'static str>,
    /// The first bytes quoted (escaped, capped) and the server's answer.
    pub first_bytes: Option<&'a str>,
    /// What the input shows (`every-packet`, `inbound`, `first-packet`, `syn-only`).
    pub shows: &'static str,
}

impl<'a> ConnRecord<'a> {
    /// The record of one connection.
    pub fn of(c: &'a ConnFacts, o: Outcome) -> ConnRecord<'a> {
        let example = c.requests.example.as_ref();
        ConnRecord {
            client: c.orig,
            server: c.resp,
            start: rfc3339(c.start_us),
            start_us: c.start_us,
            duration_ms: c.duration_ms(),
            history: c.history.as_str().to_owned(),
            state: c.state.map(|s| s.as_str()),
            outcome: o.as_str(),
            syns: c.syn_count,
            client_packets: c.orig_pkts,
            server_packets: c.resp_pkts,
            requests: c.requests.total(),
            request: example.map(|e| e.request.as_str()),
            status: example.and_then(|e| e.status),
            first_bytes_class: c.payload.as_ref().map(|p| p.class.name()),
            first_bytes: c.payload.as_ref().map(|p| p.evidence.as_str()),
            shows: c.shows.as_str(),
        }
    }
}

/// Writes connection records; the first write error stops it and is kept.
pub struct ConnWriter {
    out: BufWriter<Box<dyn Write + Send>>,
    /// Records written.
    pub written: u64,
    /// The first write error.
    pub error: Option<std::io::Error>,
}

impl std::fmt::Debug for ConnWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnWriter")
            .field("written", &self.written)
            .field("error", &self.error)
            .finish()
    }
}

impl ConnWriter {
    /// A writer to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> ConnWriter {
        ConnWriter {
            out: BufWriter::with_capacity(1 << 16, out),
            written: 0,
            error: None,
        }
    }

    /// Writes one connection's record.
    pub fn write(&mut self, c: &ConnFacts, o: Outcome) {
        if self.error.is_some() {
            return;
        }
        let r = serde_json::to_writer(&mut self.out, &ConnRecord::of(c, o))
            .map_err(std::io::Error::from)
            .and_then(|()| self.out.write_all(b"\n"));
        match r {
            Ok(()) => self.written += 1,
            Err(e) => self.error = Some(e),
        }
    }

    /// Flushes; the first error of all, if any.
    pub fn finish(mut self) -> (u64, Option<std::io::Error>) {
        if self.error.is_none()
            && let Err(e) = self.out.flush()
        {
            self.error = Some(e);
        }
        (self.written, self.error)
    }
}
