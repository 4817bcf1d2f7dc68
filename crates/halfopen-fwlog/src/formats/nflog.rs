//! Userspace NFLOG/ULOG loggers that print netfilter-like text.
//!
//! - ulogd2 `LOGEMU` / `SYSLOGEMU` (`TOS=00` without `0x`, `SEQ=`/`ACK=` always, `MARK=`),
//!   also UniFi's `[RULE] DESCR="text" IN=...` form:
//!   `Aug  3 11:07:33 alice  IN= OUT=lo MAC= SRC=127.0.0.1 DST=127.0.0.1 LEN=60 TOS=00 ...`
//! - Proxmox `pvefw-logger`: `VMID LEVEL CHAIN dd/Mon/yyyy:HH:MM:SS +zzzz PREFIX: IN=...`
//!   (`VMID` and `LEVEL` go to [`Record::extra`] as `vmid` and `loglevel`, the chain to
//!   [`Record::rule`]).
//!
//! The fields after `IN=` are read by the same tokenizer and rules as
//! [`super::netfilter`]; a `DESCR="..."` before `IN=` goes to `extra` under `DESCR`.

use crate::formats::netfilter::{is_pvefw, parse_fields, render_fields};
use crate::scan::dec_u32;
use crate::syslog::{SyslogHeader, split};
use crate::time::{month_abbrev, parse_clf};
use crate::{Error, Format, Record, Result};

/// Parses one ulogd / pvefw-logger line.
///
/// ```
/// use halfopen_fwlog::{formats::nflog, Action, Protocol};
/// let r = nflog::parse(b"0 2 PVEFW-HOST-IN 20/Jun/2022:13:09:25 +0200 REJECT: IN=vmbr0.94 MAC=24:8a SRC=10.3.95.34 DST=10.3.94.12 LEN=60 TOS=0x10 PREC=0x00 TTL=62 ID=52883 DF PROTO=TCP SPT=36504 DPT=3306 SEQ=2315974272 ACK=0 WINDOW=64240 SYN ").unwrap();
/// assert_eq!(r.rule, Some(&b"PVEFW-HOST-IN"[..]));
/// assert_eq!(r.action, Some(Action::Reject));
/// assert_eq!(r.dst_port, Some(3306));
/// assert_eq!(r.timestamp.unwrap().utc_offset, Some(7200));
/// ```
pub fn parse(line: &[u8]) -> Result<Record<'_>> {
    if let Some(r) = pvefw(line) {
        return r;
    }
    let (h, msg) = header_or_none(line);
    if h.tag.is_some_and(|t| t == b"kernel" || t == b"/kernel") {
        return Err(Error::syntax(
            line.len().saturating_sub(msg.len()),
            "a userspace logger line (kernel lines are netfilter)",
        ));
    }
    // Userspace loggers write no kernel uptime and no tag of their own: without a timestamp
    // the whole line is the prefix and fields; with one, everything after the host.
    let region = match (h.timestamp, h.host) {
        (None, _) => line,
        (Some(_), None) => h.after_timestamp,
        (Some(_), Some(host)) => {
            // The host borrows from the line: its end is its offset plus its length.
            let at = (host.as_ptr() as usize).wrapping_sub(line.as_ptr() as usize);
            let after = line
                .get(at.saturating_add(host.len())..)
                .unwrap_or_default();
            let n = after.iter().take_while(|c| **c == b' ').count();
            after.get(n..).unwrap_or_default()
        }
    };
    let _ = msg;
    let base = line.len().saturating_sub(region.len());
    let mut r = parse_fields(Format::Nflog, line, base, &[])?;
    if r.extra
        .iter()
        .any(|(k, v)| k == b"TOS" && v.starts_with(b"0x"))
    {
        return Err(Error::syntax(
            base,
            "ulogd's TOS=00 (TOS=0x.. without a pvefw header is netfilter)",
        ));
    }
    r.timestamp = h.timestamp;
    r.host = h.host;
    Ok(r)
}

/// The line's syslog header, or none when its start only looks like one (`1 - [...`, an RFC
/// 5424 version and nil timestamp, then no valid header): the whole line is then prefix and
/// fields, as for a line without a timestamp. Refusing such a line made parsing hang on the
/// bytes of the prefix, which rendering spaces differently (the fuzzer's
/// `regression-unclosed-descr`: `74DESCR=` read back as `74 DESCR=`).
fn header_or_none(line: &[u8]) -> (SyslogHeader<'_>, &[u8]) {
    split(line).unwrap_or((
        SyslogHeader {
            after_timestamp: line,
            ..SyslogHeader::default()
        },
        line,
    ))
}

/// `VMID LEVEL CHAIN TIMESTAMP ...`: `None` when the line does not start that way.
fn pvefw(line: &[u8]) -> Option<Result<Record<'_>>> {
    let mut it = line.splitn(4, |c| *c == b' ');
    let vmid = it.next()?;
    let level = it.next()?;
    let chain = it.next()?;
    let rest = it.next()?;
    dec_u32(vmid)?;
    if level.len() != 1 || !level.iter().all(u8::is_ascii_digit) || chain.is_empty() {
        return None;
    }
    let ts_at = vmid.len() + level.len() + chain.len() + 3;
    // Not a pvefw stamp: the line is read as ulogd text (its start becomes the prefix).
    let (ts, used) = parse_clf(rest).ok()?;
    if rest.get(used).is_some_and(|c| *c != b' ') {
        return None;
    }
    let start = ts_at + used;
    let lead = [(&b"vmid"[..], vmid), (&b"loglevel"[..], level)];
    Some(
        parse_fields(Format::Nflog, line, start, &lead).map(|mut r| {
            r.timestamp = Some(ts);
            r.rule = Some(chain);
            r
        }),
    )
}

/// Renders a record as a ulogd LOGEMU line, or as a pvefw-logger line when its first extra
/// field is `vmid` (the inverse of [`parse`]).
pub fn render(record: &Record<'_>, out: &mut Vec<u8>) {
    let vmid = record.extra.iter().next().filter(|_| is_pvefw(record));
    if let Some((_, vmid)) = vmid {
        out.extend_from_slice(vmid);
        out.push(b' ');
        out.extend_from_slice(record.extra.get(b"loglevel").unwrap_or(b"6"));
        out.push(b' ');
        out.extend_from_slice(record.rule.unwrap_or(b"PVEFW-HOST-IN"));
        out.push(b' ');
        match &record.timestamp {
            Some(ts) if ts.raw.len() == 26 => out.extend_from_slice(ts.raw),
            Some(ts) => {
                use std::io::Write;
                let off = ts.utc_offset.unwrap_or(0);
                let _ = write!(
                    out,
                    "{:02}/{}/{:04}:{:02}:{:02}:{:02} {}{:02}{:02}",
                    ts.day,
                    month_abbrev(ts.month),
                    ts.year.unwrap_or(1970),
                    ts.hour,
                    ts.minute,
                    ts.second,
                    if off < 0 { '-' } else { '+' },
                    off.unsigned_abs() / 3600,
                    off.unsigned_abs() / 60 % 60
                );
            }
            None => out.extend_from_slice(b"01/Jan/1970:00:00:00 +0000"),
        }
        out.push(b' ');
    } else if record.timestamp.is_none()
        && record
            .prefix
            .is_some_and(|p| p.first().is_some_and(u8::is_ascii_digit))
    {
        // A prefix that could pass for a pvefw header: a leading space keeps it ulogd text
        // (the prefix is trimmed when read back).
        out.push(b' ');
    } else if let Some(ts) = &record.timestamp {
        out.extend_from_slice(ts.raw);
        out.push(b' ');
        if let Some(host) = record.host {
            out.extend_from_slice(host);
            out.push(b' ');
        }
    }
    render_fields(record, out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Protocol};

    #[test]
    fn ulogd_forms() {
        let r = parse(b"Aug  3 11:07:33 alice  IN= OUT=lo MAC= SRC=127.0.0.1 DST=127.0.0.1 LEN=60 TOS=00 PREC=0x00 TTL=64 ID=22098 DF PROTO=TCP SPT=44860 DPT=25 SEQ=3864228039 ACK=0 WINDOW=43690 SYN URGP=0 UID=33 GID=33 MARK=0").unwrap();
        assert_eq!(r.host, Some(&b"alice"[..]));
        assert_eq!((r.prefix, r.direction), (None, Some(Direction::Out)));
        assert_eq!((r.seq, r.ack), (Some(3_864_228_039), Some(0)));
        let r = parse(b"UDM-Pro [LAN_LOCAL-RET-2147483647] DESCR=\"no rule description\" IN=wgsts1002 OUT= MAC= SRC=192.168.6.5 DST=224.0.0.5 LEN=84 TOS=00 PREC=0xC0 TTL=1 ID=27327 PROTO=89 MARK=60000").unwrap();
        assert_eq!(r.prefix, Some(&b"UDM-Pro [LAN_LOCAL-RET-2147483647]"[..]));
        assert_eq!(r.extra.get(b"DESCR"), Some(&b"no rule description"[..]));
        assert_eq!(r.protocol, Protocol::Other(89));
    }

    #[test]
    fn kernel_lines_are_not_nflog() {
        assert!(parse(b"Oct 16 11:16:51 blah kernel: Drop IN=eth0 OUT= SRC=1.1.1.1 DST=2.2.2.2 LEN=48 TOS=0x00 PROTO=TCP").is_err());
    }
}
