//! Writing the command's output: every write and flush is checked.
//!
//! A write error (a full disk, `> /dev/full`, a closed file) ends the command with exit code 3
//! and a message on stderr. A closed pipe (`halfopen analyze ... | head`) is not an error: the
//! reader has what it wanted, so the output stops quietly and the exit code stays the
//! analysis's own (0 or 1; 3 for unusable inputs).

use std::io::{self, Write};

use clap::Args;

use halfopen::Report;
use halfopen::blocklist::{
    BlocklistFormat, DEFAULT_IPFW_RULE, Interface, IpfwRule, RenderOptions, TableName, render,
};

use crate::cli::CliError;

/// Options of the block-list renderer (`--blocklist`).
#[derive(Debug, Clone, Default, Args)]
pub struct RuleArgs {
    /// Interface the blocked traffic comes in on: the rules match inbound packets on it only
    /// (default: inbound on any interface).
    #[arg(long = "interface", value_name = "IFACE", value_parser = parse_interface)]
    pub interface: Option<Interface>,
    /// ipfw: number of the deny rule; it must come before your allow rules [default: 50].
    #[arg(long = "ipfw-rule", value_name = "N", value_parser = parse_ipfw_rule)]
    pub ipfw_rule: Option<IpfwRule>,
    /// Name of the table / sets the block list fills.
    #[arg(long = "blocklist-name", value_name = "NAME", value_parser = parse_name,
          default_value = halfopen::blocklist::TABLE)]
    pub name: TableName,
}

impl RuleArgs {
    /// The renderer's options; without `--ipfw-rule`, the deny rule goes just before the
    /// smallest rule number the ipfw log shows (`smallest_rule`), so that it comes before the
    /// allow rules that logged the traffic.
    pub fn render_options_before(&self, smallest_rule: Option<u32>) -> RenderOptions {
        let from_log = smallest_rule
            .and_then(|r| r.checked_sub(1))
            .and_then(|r| u16::try_from(r).ok())
            .and_then(IpfwRule::new);
        RenderOptions {
            interface: self.interface.clone(),
            ipfw_rule: self.ipfw_rule.or(from_log).unwrap_or_default(),
            name: self.name.clone(),
        }
    }
}

fn parse_interface(s: &str) -> Result<Interface, String> {
    Interface::new(s).ok_or_else(|| {
        format!(
            "not an interface name: 1 to {} letters, digits, '_', '.', '-'",
            halfopen::blocklist::MAX_INTERFACE_LEN
        )
    })
}

fn parse_ipfw_rule(s: &str) -> Result<IpfwRule, String> {
    s.parse::<u16>()
        .ok()
        .and_then(IpfwRule::new)
        .ok_or_else(|| format!("not an ipfw rule number: 1 to 65534 (default {DEFAULT_IPFW_RULE})"))
}

fn parse_name(s: &str) -> Result<TableName, String> {
    TableName::new(s).ok_or_else(|| {
        format!(
            "not a table name: a letter, then letters, digits or '_', at most {} bytes",
            halfopen::blocklist::MAX_NAME_LEN
        )
    })
}

/// What `analyze` prints on stdout.
#[derive(Debug, Clone)]
pub enum Printed {
    /// The report for a terminal.
    Text,
    /// The JSON document.
    Json,
    /// The block list (the headline goes to stderr).
    Blocklist(BlocklistFormat, RenderOptions),
}

/// Whether output may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Written.
    Written,
    /// The reader closed the pipe: stop writing, quietly.
    Closed,
}

/// Maps the result of writing to `stream` to a [`Flow`] or the write error.
pub fn checked(result: io::Result<()>, stream: &str) -> Result<Flow, CliError> {
    match result {
        Ok(()) => Ok(Flow::Written),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Flow::Closed),
        Err(e) => Err(CliError::Output(format!("cannot write to {stream}: {e}"))),
    }
}

/// Writes `text` to `out` and flushes it.
pub fn write_flushed(out: &mut impl Write, text: &[u8], stream: &str) -> Result<Flow, CliError> {
    checked(out.write_all(text).and_then(|()| out.flush()), stream)
}

/// Prints the analysis: the report, the JSON document, or the block list on stdout (and then
/// the headline on stderr).
pub fn print_analysis(report: &Report, what: &Printed) -> Result<Flow, CliError> {
    let mut out = anstream::stdout();
    print_analysis_to(report, what, &mut out, &mut anstream::stderr())
}

fn print_analysis_to(
    report: &Report,
    what: &Printed,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Result<Flow, CliError> {
    match what {
        Printed::Text => write_flushed(out, report.to_text(true).as_bytes(), "stdout"),
        Printed::Json => {
            let mut doc = report.to_json();
            doc.push('\n');
            write_flushed(out, doc.as_bytes(), "stdout")
        }
        Printed::Blocklist(format, options) => {
            let nets: Vec<ipnet::IpNet> = report.networks.iter().map(|n| n.cidr).collect();
            let flow = write_flushed(out, render(&nets, *format, options).as_bytes(), "stdout")?;
            let mut headline = String::new();
            for h in &report.headline {
                headline.push_str(h);
                headline.push('\n');
            }
            write_flushed(err, headline.as_bytes(), "stderr")?;
            Ok(flow)
        }
    }
}

/// Prints a diagnostic on stderr. A failure to write it is ignored: there is nowhere left to
/// report it, and the exit code still tells.
pub fn diagnostic(message: &str) {
    let mut err = anstream::stderr();
    let line = format!("halfopen: {message}\n");
    // If stderr is gone, the exit code is the only channel left.
    let _ = err.write_all(line.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails like `/dev/full`.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from_raw_os_error(28))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer whose reader went away.
    struct Gone;

    impl Write for Gone {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_errors_are_reported_and_a_closed_pipe_is_quiet() {
        let e = write_flushed(&mut Full, b"x\n", "stdout").unwrap_err();
        assert_eq!(e.exit_code(), crate::cli::EXIT_INPUT);
        assert!(e.to_string().contains("cannot write to stdout"), "{e}");
        assert_eq!(
            write_flushed(&mut Gone, b"x\n", "stdout").unwrap(),
            Flow::Closed
        );
        let mut v = Vec::new();
        assert_eq!(
            write_flushed(&mut v, b"x\n", "stdout").unwrap(),
            Flow::Written
        );
    }

    #[test]
    fn option_values_are_checked() {
        assert!(parse_interface("eth0").is_ok());
        assert!(parse_interface("eth0 x").is_err());
        assert_eq!(parse_ipfw_rule("90").unwrap().get(), 90);
        assert!(parse_ipfw_rule("0").is_err());
        assert!(parse_ipfw_rule("65535").is_err());
        assert!(parse_name("web").is_ok());
        assert!(parse_name("web block").is_err());
        assert_eq!(
            RuleArgs::default()
                .render_options_before(None)
                .ipfw_rule
                .get(),
            50
        );
    }
}
