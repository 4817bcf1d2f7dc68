//! TCP option parsing: the MSS and a fingerprint of the option kinds (RFC 9293 §3.2).

/// What the options of a segment say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2), where present and well-formed.
    pub mss: Option<u16>,
    /// Window scale shift (kind 3).
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4).
    pub sack_permitted: bool,
    /// Timestamps (kind 8) present.
    pub timestamps: bool,
    /// [`fingerprint`] of the option kinds in order.
    pub fingerprint: u32,
}

/// The [`fingerprint`] of a segment without options (FNV-1a's offset basis): what a raw-packet
/// tool's SYN has, and no operating system's.
///
/// ```
/// use halfopen_tcp::options::{NO_OPTIONS, fingerprint};
/// assert_eq!(fingerprint(&[]), NO_OPTIONS);
/// assert_ne!(fingerprint(&[2, 4, 5, 180]), NO_OPTIONS);
/// ```
pub const NO_OPTIONS: u32 = 0x811c_9dc5;

/// FNV-1a over the option kinds in the order they appear (NOP included, stopping at EOL
/// or at a malformed option): equal for segments built by the same stack or tool.
/// The empty option list hashes to [`NO_OPTIONS`].
///
/// ```
/// use halfopen_tcp::options::{fingerprint, parse};
/// // MSS 1460, SACK permitted, timestamps, NOP, window scale 7 (Linux)
/// let opts = [2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
/// let p = parse(&opts);
/// assert_eq!(p.mss, Some(1460));
/// assert_eq!(p.window_scale, Some(7));
/// assert_eq!(p.fingerprint, fingerprint(&opts));
/// ```
pub fn fingerprint(options: &[u8]) -> u32 {
    parse(options).fingerprint
}

/// Parses a TCP option list (the bytes between the fixed header and the data offset).
/// Never panics; stops at EOL or at the first malformed option.
pub fn parse(options: &[u8]) -> TcpOptions {
    let mut out = TcpOptions::default();
    let mut h: u32 = NO_OPTIONS;
    let mut i = 0usize;
    while let Some(&kind) = options.get(i) {
        if kind == 0 {
            break;
        }
        h = (h ^ u32::from(kind)).wrapping_mul(0x0100_0193);
        if kind == 1 {
            i += 1;
            continue;
        }
        let Some(&len) = options.get(i + 1) else {
            break;
        };
        let len = usize::from(len);
        if len < 2 {
            break;
        }
        let Some(body) = options.get(i + 2..i + len) else {
            break;
        };
        match (kind, body) {
            (2, [a, b]) => out.mss = Some(u16::from_be_bytes([*a, *b])),
            (3, [s]) => out.window_scale = Some(*s),
            (4, []) => out.sack_permitted = true,
            (8, _) => out.timestamps = true,
            _ => {}
        }
        i += len;
    }
    out.fingerprint = h;
    out
}
