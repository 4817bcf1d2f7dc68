//! Scanning tools and Apache's own requests, told by their request line and User-Agent (from an
//! access-log line or from the first bytes a capture kept).

use std::sync::OnceLock;

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
    if let Some((_, name)) = agents.iter().find(|(f, _)| f.find(ua).is_some()) {
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

/// The searchers of [`TOOL_AGENTS`] and of nmap's probe path, built once (every access-log
/// line is searched).
fn finders() -> &'static (Vec<(Finder<'static>, &'static str)>, Finder<'static>) {
    static FINDERS: OnceLock<(Vec<(Finder<'static>, &'static str)>, Finder<'static>)> =
        OnceLock::new();
    FINDERS.get_or_init(|| {
        (
            TOOL_AGENTS
                .iter()
                .map(|(needle, name)| (Finder::new(*needle), *name))
                .collect(),
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
