//! A TLS ClientHello at the start of a client's bytes (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2;
//! the server name from RFC 6066 §3): a small bounded reader over the first record.

/// A TLS ClientHello (or the start of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientHello<'a> {
    /// The record layer's version (`0x0301` for TLS 1.0 ... as most clients send).
    pub record_version: u16,
    /// `legacy_version` inside the hello, when it is in.
    pub hello_version: Option<u16>,
    /// The first `host_name` of the `server_name` extension, as sent.
    pub sni: Option<&'a [u8]>,
    /// The first protocol of the ALPN extension (`h2`, `http/1.1`...).
    pub alpn: Option<&'a [u8]>,
    /// The whole hello was in the bytes and read to its end.
    pub complete: bool,
}

/// A byte reader that never panics: every read is `None` past the end.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    /// A vector with a `len`-byte length prefix (1 or 2 bytes).
    fn vec(&mut self, len_bytes: u8) -> Option<&'a [u8]> {
        let n = if len_bytes == 1 {
            usize::from(self.u8()?)
        } else {
            usize::from(self.u16()?)
        };
        self.take(n)
    }
}

/// The hello at the start of `buf`: a handshake record (type 22, version 3.x) whose
/// first message is a ClientHello (type 1). A cut hello still counts, with what was read.
pub(crate) fn client_hello(buf: &[u8]) -> Option<ClientHello<'_>> {
    let [22, 3, minor, rest @ ..] = buf else {
        return None;
    };
    if *minor > 4 {
        return None;
    }
    let mut hello = ClientHello {
        record_version: u16::from_be_bytes([3, *minor]),
        hello_version: None,
        sni: None,
        alpn: None,
        complete: false,
    };
    let mut rec = Cursor(rest);
    let Some(rec_len) = rec.u16() else {
        return Some(hello);
    };
    let fragment = rec.0.get(..usize::from(rec_len)).unwrap_or(rec.0);
    let mut hs = Cursor(fragment);
    match hs.u8() {
        None => return Some(hello),
        Some(1) => {}
        Some(_) => return None,
    }
    let Some(&[l0, l1, l2]) = hs.take(3) else {
        return Some(hello);
    };
    let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
    let whole = hs.0.len() >= len;
    let body = hs.0.get(..len).unwrap_or(hs.0);
    let read = read_body(body, &mut hello);
    hello.complete = whole && read.is_some();
    Some(hello)
}

/// Reads the hello's fields and extensions; `None` where the bytes run out.
fn read_body<'a>(body: &'a [u8], hello: &mut ClientHello<'a>) -> Option<()> {
    let mut c = Cursor(body);
    hello.hello_version = Some(c.u16()?);
    c.take(32)?; // random
    c.vec(1)?; // legacy_session_id
    c.vec(2)?; // cipher_suites
    c.vec(1)?; // legacy_compression_methods
    if c.0.is_empty() {
        return Some(()); // no extensions (SSL 3.0 style)
    }
    let mut exts = Cursor(c.vec(2)?);
    while !exts.0.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec(2)?;
        match kind {
            0 if hello.sni.is_none() => hello.sni = server_name(data),
            16 if hello.alpn.is_none() => hello.alpn = first_protocol(data),
            _ => {}
        }
    }
    Some(())
}

/// The first `host_name` entry of a `server_name` extension.
fn server_name(data: &[u8]) -> Option<&[u8]> {
    let mut list = Cursor(Cursor(data).vec(2)?);
    while !list.0.is_empty() {
        let kind = list.u8()?;
        let name = list.vec(2)?;
        if kind == 0 {
            return Some(name);
        }
    }
    None
}

/// The first protocol name of an ALPN extension.
fn first_protocol(data: &[u8]) -> Option<&[u8]> {
    let mut list = Cursor(Cursor(data).vec(2)?);
    list.vec(1).filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello with SNI `a.example` and ALPN `h2`.
    fn hello() -> Vec<u8> {
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.push(0);
        body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        let name = b"a.example";
        let mut sni = vec![0, 0];
        let list_len = (name.len() + 3) as u16;
        sni.extend_from_slice(&(list_len + 2).to_be_bytes());
        sni.extend_from_slice(&list_len.to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        let alpn = [0, 16, 0, 5, 0, 3, 2, b'h', b'2'];
        let mut exts = sni;
        exts.extend_from_slice(&alpn);
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(&exts);
        let mut hs = vec![1, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![22, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn reads_sni_and_alpn_and_survives_every_cut() {
        let h = hello();
        let c = client_hello(&h).unwrap();
        assert_eq!(c.sni, Some(&b"a.example"[..]));
        assert_eq!(c.alpn, Some(&b"h2"[..]));
        assert_eq!(
            (c.record_version, c.hello_version, c.complete),
            (0x0301, Some(0x0303), true)
        );
        for cut in 0..h.len() {
            let c = client_hello(&h[..cut]);
            assert_eq!(c.is_some(), cut >= 3, "cut {cut}");
            assert!(!c.is_some_and(|c| c.complete));
        }
        assert!(client_hello(b"\x16\x03\x01\x02\x00\x02").is_none());
        assert!(client_hello(b"\x16\x03\x09").is_none());
    }
}
