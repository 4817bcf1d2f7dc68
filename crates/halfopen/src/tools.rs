//! Scanning tools and Apache's own requests, told by their request line and User-Agent (from an
//! access-log line or from the first bytes a capture kept).

use std::sync::OnceLock;

use aho_corasick::AhoCorasick;
use memchr::memmem::Finder;

/// Scanners that name themselves in the User-Agent, and the probe paths that give one away.
const TOOL_AGENTS: [(&[u8], &str); 9] = [
    (b"Nmap Scripting Engine", "nmap"),
    (b"masscan", "masscan"),
    (b"zgrab", "zgrab"),
    (b"Nikto", "Nikto"),
    (b"sqlmap", "sqlmap"),
    (b"Nuclei", "Nuclei"),
    (b"WPScan", "WPScan"),
    (b"dirbuster", "DirBuster"),
    (b"gobuster", "gobuster"),
];

/// The scanning tool a request names, from its User-Agent or a probe path (nmap's
/// `/nmaplowercheck...`), if any.
///
/// ```
/// use halfopen::tools::scanning_tool;
/// let ua = b"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)";
/// assert_eq!(scanning_tool(Some(b"GET /HNAP1 HTTP/1.1"), Some(ua)), Some("nmap"));
/// assert_eq!(scanning_tool(Some(b"GET /nmaplowercheck1796555190 HTTP/1.1"), None), Some("nmap"));
/// assert_eq!(scanning_tool(Some(b"GET / HTTP/1.1"), Some(b"curl/7.88.1")), None);
/// ```
pub fn scanning_tool(raw: Option<&[u8]>, user_agent: Option<&[u8]>) -> Option<&'static str> {
    let (agents, probe) = finders();
    let ua = user_agent.unwrap_or_default();
    // Every name the User-Agent holds, in one pass; the first in TOOL_AGENTS's order wins.
    let first = agents
        .find_overlapping_iter(ua)
        .map(|m| m.pattern().as_usize())
        .min();
    if let Some((_, name)) = first.and_then(|i| TOOL_AGENTS.get(i)) {
        return Some(name);
    }
    raw.filter(|r| probe.find(r).is_some()).map(|_| "nmap")
}

/// The tool of that name, as [`scanning_tool`] names it (for a name read back from a summary).
///
/// ```
/// use halfopen::tools::named;
/// assert_eq!(named("masscan"), Some("masscan"));
/// assert_eq!(named("curl"), None);
/// ```
pub fn named(name: &str) -> Option<&'static str> {
    TOOL_AGENTS.iter().map(|(_, n)| *n).find(|n| *n == name)
}

/// The searchers of [`TOOL_AGENTS`] (one automaton for all of them) and of nmap's probe path,
/// built once (every access-log line and every captured request head is searched).
fn finders() -> &'static (AhoCorasick, Finder<'static>) {
    static FINDERS: OnceLock<(AhoCorasick, Finder<'static>)> = OnceLock::new();
    FINDERS.get_or_init(|| {
        (
            // Nine fixed ASCII needles: building cannot fail.
            AhoCorasick::new(TOOL_AGENTS.iter().map(|(needle, _)| *needle))
                .unwrap_or_else(|_| unreachable!("fixed needles")),
            Finder::new(b"/nmaplowercheck"),
        )
    })
}

/// True for Apache's request to wake an idle child (`OPTIONS *` with the user agent
/// `... (internal dummy connection)`).
pub fn is_internal_dummy(raw: Option<&[u8]>, user_agent: Option<&[u8]>) -> bool {
    let ua = user_agent.unwrap_or_default();
    raw.is_some_and(|r| r.starts_with(b"OPTIONS * HTTP/1."))
        && memchr::memmem::find(ua, b"(internal dummy connection)").is_some()
}

/// The scanning tool a request head's bytes name (its request line and its `User-Agent`
/// header), if any: for the first bytes a capture kept.
///
/// ```
/// use halfopen::tools::tool_in_head;
/// let head = b"GET / HTTP/1.1\r\nHost: x\r\nuser-agent: Mozilla/5.0 (compatible; Nmap Scripting Engine)\r\n\r\n";
/// assert_eq!(tool_in_head(head), Some("nmap"));
/// assert_eq!(tool_in_head(b"GET / HTTP/1.1\r\nUser-Agent: curl/8\r\n\r\n"), None);
/// ```
pub fn tool_in_head(head: &[u8]) -> Option<&'static str> {
    // Lines found with memchr: a capture's heads carry long headers (cookies, padding),
    // and every client connection of a capture comes here.
    let mut lines = head_lines(head);
    let request_line = lines.next()?;
    let user_agent = lines
        .take_while(|l| !l.is_empty() && *l != b"\r")
        .find_map(|l| {
            let name = l.get(..USER_AGENT.len())?;
            (name.eq_ignore_ascii_case(USER_AGENT) && l.get(USER_AGENT.len()) == Some(&b':'))
                .then(|| l.get(USER_AGENT.len() + 1..).unwrap_or_default())
        });
    scanning_tool(Some(request_line), user_agent)
}

const USER_AGENT: &[u8] = b"user-agent";

/// The lines of `head` split at `\n` (the last one without it, possibly empty), as
/// `split(|b| b == b'\n')` gives them.
fn head_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(head);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'\n', r) {
            Some(i) => {
                rest = r.get(i + 1..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain reading: split at every `\n`, the header name up to the first colon.
    fn tool_in_head_plain(head: &[u8]) -> Option<&'static str> {
        let mut lines = head.split(|&b| b == b'\n');
        let request_line = lines.next()?;
        let user_agent = lines
            .take_while(|l| !l.is_empty() && *l != b"\r")
            .find_map(|l| {
                let (name, value) = l.split_at(l.iter().position(|&b| b == b':')?);
                name.eq_ignore_ascii_case(b"user-agent")
                    .then(|| value.get(1..).unwrap_or_default())
            });
        scanning_tool(Some(request_line), user_agent)
    }

    /// The plain reading: each name searched in turn, the first in the list that occurs wins.
    fn agent_plain(ua: &[u8]) -> Option<&'static str> {
        TOOL_AGENTS
            .iter()
            .find(|(needle, _)| memchr::memmem::find(ua, needle).is_some())
            .map(|(_, name)| *name)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn one_pass_names_the_tool_the_list_order_names(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"Mozilla/5.0 "[..]), Just(&b"masscan/1.3"[..]), Just(&b"Nmap Scripting Engine"[..]),
                    Just(&b"zgrab/0.x"[..]), Just(&b"sqlmap/1.7"[..]), Just(&b"Nikto"[..]), Just(&b"Nuclei"[..]),
                    Just(&b"WPScan"[..]), Just(&b"dirbuster"[..]), Just(&b"gobuster"[..]), Just(&b"gobus"[..]),
                    Just(&b"Nmap"[..]), Just(&b"mass"[..]), Just(&b"(compatible; "[..]),
                ],
                0..6,
            )
        ) {
            let ua = parts.concat();
            prop_assert_eq!(scanning_tool(None, Some(&ua)), agent_plain(&ua));
        }

        #[test]
        fn tool_in_head_reads_as_the_plain_split(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just(&b"GET / HTTP/1.1"[..]), Just(&b"GET /nmaplowercheck1 HTTP/1.1"[..]),
                    Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"User-Agent: "[..]),
                    Just(&b"user-agent:"[..]), Just(&b"USER-AGENT :"[..]), Just(&b"Host: x"[..]),
                    Just(&b"masscan/1.3"[..]), Just(&b"Nmap Scripting Engine"[..]), Just(&b"curl/8"[..]),
                    Just(&b":"[..]), Just(&b"\r"[..]),
                ],
                0..12,
            )
        ) {
            let head = parts.concat();
            prop_assert_eq!(tool_in_head(&head), tool_in_head_plain(&head));
        }
    }
}
