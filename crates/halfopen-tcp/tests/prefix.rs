//! First bytes from real captures (see tests/data/PROVENANCE.md): Zeek's traces of TLS and
//! SSH sent to port 80, with Zeek's own baselines naming them, and the lab run (real
//! Apache, real curl, a slowloris script, a TLS ClientHello on port 80), checked against
//! Apache's own access log.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use halfopen_tcp::pcap::PacketReader;
use halfopen_tcp::prefix::classify::{self, ClientKind, HeadShape, ServerKind};
use halfopen_tcp::prefix::{ConnPrefix, PrefixConfig, PrefixStore, render};
use halfopen_tcp::{Config, Connection, FlowTable};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// Reads a capture as the facade does: each packet to the flow table, each finished
/// connection's prefix taken, then the packet (with its payload) to the prefix store.
fn run(path: &str, cfg: PrefixConfig) -> (Vec<(Connection, Option<ConnPrefix>)>, PrefixStore) {
    let file = std::fs::File::open(Path::new(DATA).join(path)).unwrap();
    let mut reader = PacketReader::new(file).unwrap();
    let mut table = FlowTable::new(Config::default());
    let mut store = PrefixStore::new(cfg);
    let mut out = Vec::new();
    let take = |t: &mut FlowTable, s: &mut PrefixStore, out: &mut Vec<_>| {
        while let Some(c) = t.pop_finished() {
            let p = s.take(c.orig, c.resp);
            out.push((c, p));
        }
    };
    while let Some(item) = reader.next_with_payload() {
        let (p, payload) = item.unwrap();
        table.observe(&p.event);
        take(&mut table, &mut store, &mut out);
        store.observe(&p.event, payload);
    }
    table.finish();
    take(&mut table, &mut store, &mut out);
    (out, store)
}

fn of_client(
    conns: &[(Connection, Option<ConnPrefix>)],
    ip: &str,
) -> Vec<(Connection, Option<ConnPrefix>)> {
    let ip: IpAddr = ip.parse().unwrap();
    conns
        .iter()
        .filter(|(c, _)| c.orig.ip() == ip)
        .cloned()
        .collect()
}

/// The value of `field` in the data rows of a Zeek log baseline (tab-separated; the
/// header is the `#fields` line or the first line after the btest banner).
fn zeek_field(path: &str, field: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(DATA).join(path)).unwrap();
    let mut names: Option<Vec<String>> = None;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with("###")) {
        if let Some(f) = line.strip_prefix("#fields\t") {
            names = Some(f.split('\t').map(str::to_owned).collect());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        match &names {
            None => names = Some(line.split('\t').map(str::to_owned).collect()),
            Some(n) => {
                let i = n.iter().position(|x| x == field).unwrap();
                out.push(line.split('\t').nth(i).unwrap().to_owned());
            }
        }
    }
    out
}

#[test]
fn zeek_ssl_to_http_server_is_a_tls_client_hello_with_zeeks_sni() {
    let base = "zeek/Baseline-payload/scripts.policy.frameworks.analyzer.detect-protocols-violation-ssl-to-http";
    let sni = zeek_field(&format!("{base}/ssl.log"), "server_name");
    let status = zeek_field(&format!("{base}/http.log"), "status_code");
    let reason = zeek_field(&format!("{base}/http.log"), "status_msg");
    assert_eq!(
        (sni.as_slice(), status.as_slice()),
        (&["vk.com".to_owned()][..], &["400".to_owned()][..])
    );

    let (conns, _) = run(
        "zeek/Traces/tls/ssl-to-http-server.pcap",
        PrefixConfig::default(),
    );
    let with_bytes: Vec<_> = conns
        .iter()
        .filter_map(|(c, p)| Some((c, p.as_ref()?)))
        .collect();
    assert_eq!(with_bytes.len(), 1);
    let (c, p) = with_bytes[0];
    assert_eq!(c.orig.ip(), "192.168.1.108".parse::<IpAddr>().unwrap());
    assert_eq!(c.resp.port(), 80);
    let ClientKind::TlsClientHello(h) = classify::client(p.client.bytes()) else {
        panic!("{:?}", classify::client(p.client.bytes()))
    };
    assert_eq!(h.sni, Some(sni[0].as_bytes()));
    assert!(h.complete);
    let ServerKind::HttpStatus(s) = classify::server(p.server.bytes()) else {
        panic!()
    };
    assert_eq!(
        (s.code.to_string(), s.reason),
        (status[0].clone(), reason[0].as_str())
    );
    assert_eq!(
        render::client(&p.client, false).to_string(),
        r#"TLS ClientHello (record version 3.1, SNI "vk.com")"#
    );
    assert_eq!(
        render::server(&p.server).to_string(),
        r#"HTTP 400 "HTTP/1.1 400 Bad Request""#
    );
}

#[test]
fn zeek_ssh_on_port_80_is_an_ssh_banner_on_both_sides() {
    // spicy.replaces/output: "SSH banner, [...resp_p=80/tcp...], T, 2.0, OpenSSH_5.2" is
    // the originator's, the `F` line the responder's.
    let text = std::fs::read_to_string(
        Path::new(DATA).join("zeek/Baseline-payload/spicy.replaces/output"),
    )
    .unwrap();
    let banner = |is_orig: &str| {
        let line = text
            .lines()
            .find(|l| l.contains("resp_p=80/tcp") && l.contains(&format!("], {is_orig}, ")))
            .unwrap();
        let mut f = line.rsplitn(3, ", ");
        let software = f.next().unwrap().to_owned();
        let proto = f.next().unwrap().to_owned();
        (proto, software)
    };
    let (orig_proto, orig_soft) = banner("T");
    let (resp_proto, resp_soft) = banner("F");
    let service = zeek_field("zeek/Baseline-payload/spicy.replaces/conn.log", "service");
    assert_eq!(service, ["ssh"]);

    let (conns, _) = run(
        "zeek/Traces/ssh/ssh-on-port-80.pcap",
        PrefixConfig::default(),
    );
    let (c, p) = conns.iter().find(|(_, p)| p.is_some()).unwrap();
    let p = p.as_ref().unwrap();
    assert_eq!(c.orig, "172.16.238.1:49656".parse::<SocketAddr>().unwrap());
    assert_eq!(c.resp, "172.16.238.131:80".parse::<SocketAddr>().unwrap());
    let ClientKind::Ssh(b) = classify::client(p.client.bytes()) else {
        panic!()
    };
    assert_eq!(
        (b.proto, b.software),
        (orig_proto.as_bytes(), orig_soft.as_bytes())
    );
    let ServerKind::Ssh(s) = classify::server(p.server.bytes()) else {
        panic!()
    };
    let soft = match s.comments {
        Some(c) => [s.software, c].join(&b' '),
        None => s.software.to_vec(),
    };
    assert_eq!(
        (s.proto, soft.as_slice()),
        (resp_proto.as_bytes(), resp_soft.as_bytes())
    );
    assert_eq!(
        render::client(&p.client, false).to_string(),
        r#"SSH banner "SSH-2.0-OpenSSH_5.2""#
    );
    // every byte the client sent (Zeek's orig_bytes) is in the prefix, in order
    let orig_bytes = zeek_field(
        "zeek/Baseline-payload/spicy.replaces/conn.log",
        "orig_bytes",
    );
    assert_eq!(p.client.bytes().len().to_string(), orig_bytes[0]);
    assert_eq!(p.client.payload_bytes().to_string(), orig_bytes[0]);
    assert!(!p.client.full() && !p.client.gap() && !p.client.midstream());
}

#[test]
fn lab_run_slowloris_tls_curl_and_silent_connections() {
    let (conns, store) = run(
        "../../../halfopen/tests/data/lab/run1/server.pcap",
        PrefixConfig::default(),
    );

    // 198.51.100.21: slowloris. "GET / HTTP/1.1\r\nHost: x\r\n", then "X-a: b\r\n" every
    // second (testbed.sh); Apache answered 408 and logged "GET / HTTP/1.1" 408.
    let slow = of_client(&conns, "198.51.100.21");
    assert_eq!(slow.len(), 1);
    let p = slow[0].1.as_ref().unwrap();
    let ClientKind::Http(r) = classify::client(p.client.bytes()) else {
        panic!()
    };
    assert_eq!((r.method, r.target, r.version), ("GET", Some("/"), Some(1)));
    assert_eq!(r.shape(), HeadShape::Partial);
    assert!(!r.head_ended);
    let names: Vec<&[u8]> = r.header_names().collect();
    assert_eq!(names.len(), r.header_count);
    assert_eq!(names[0], b"Host");
    assert!(names[1..].iter().all(|n| *n == b"X-a"));
    // tshark shows 10 segments from 198.51.100.21: the request line and `Host` first,
    // then one `X-a: b` line a second (5 before Apache's 408 at +6.0 s, 4 after it).
    assert_eq!(r.header_count, 10);
    let trickled = r.header_count - 1;
    assert_eq!(p.client.segments() as usize, 1 + trickled);
    let (first, last) = (
        p.client.first_payload_us().unwrap(),
        p.client.last_payload_us().unwrap(),
    );
    let every = (last - first) as f64 / trickled as f64 / 1e6;
    assert!((0.95..1.1).contains(&every), "one every {every} s");
    assert!((900_000..1_200_000).contains(&p.client.largest_gap_us()));
    assert_eq!(p.server.first_line(), b"HTTP/1.1 408 Request Timeout");
    assert_eq!(
        render::client(&p.client, false).to_string(),
        format!(
            r#""GET / HTTP/1.1\r\nHost: …\r\n" then {trickled} header lines in {trickled} segments, one every 1.0 s, no end of head"#
        )
    );
    assert_eq!(
        render::server(&p.server).to_string(),
        r#"HTTP 408 "HTTP/1.1 408 Request Timeout""#
    );

    // 198.51.100.22: a TLS ClientHello (Python's ssl, server_hostname='x') to port 80;
    // Apache logged its first four bytes as the request line: "\x16\x03\x01\x02" 400.
    let tls = of_client(&conns, "198.51.100.22");
    assert_eq!(tls.len(), 1);
    let p = tls[0].1.as_ref().unwrap();
    let ClientKind::TlsClientHello(h) = classify::client(p.client.bytes()) else {
        panic!()
    };
    assert_eq!((h.sni, h.complete), (Some(&b"x"[..]), true));
    let access = std::fs::read_to_string(
        Path::new(DATA).join("../../../halfopen/tests/data/lab/run1/access.log"),
    )
    .unwrap();
    let logged = access
        .lines()
        .find(|l| l.starts_with("198.51.100.22 "))
        .unwrap();
    let quoted = render::quote(&p.client.bytes()[..4], 4).to_string();
    assert!(
        logged.contains(&format!("{quoted} 400")),
        "{quoted} in {logged}"
    );
    assert_eq!(p.server.first_line(), b"HTTP/1.1 400 Bad Request");

    // The curl clients (and 203.0.113.8's one request): every connection a complete GET
    // head, exactly the requests and statuses of Apache's access log, in order.
    let mut seen = Vec::new();
    for ip in ["203.0.113.5", "203.0.113.6", "203.0.113.7", "203.0.113.8"] {
        for (_, p) in of_client(&conns, ip) {
            let Some(p) = p else { continue };
            let ClientKind::Http(r) = classify::client(p.client.bytes()) else {
                panic!()
            };
            assert_eq!((r.shape(), r.header_count), (HeadShape::Complete, 3));
            assert_eq!(
                r.header_names().collect::<Vec<_>>(),
                [&b"Host"[..], b"User-Agent", b"Accept"]
            );
            let ServerKind::HttpStatus(s) = classify::server(p.server.bytes()) else {
                panic!()
            };
            seen.push(format!(
                "{ip} \"{} {} HTTP/1.{}\" {}",
                r.method,
                r.target.unwrap(),
                r.version.unwrap(),
                s.code
            ));
        }
    }
    let logged: Vec<String> = access
        .lines()
        .filter(|l| l.starts_with("203.0.113.") && !l.starts_with("203.0.113.9 "))
        .map(|l| {
            let ip = l.split(' ').next().unwrap();
            let req = l.split('"').nth(1).unwrap();
            let code = l
                .split('"')
                .nth(2)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            format!("{ip} \"{req}\" {code}")
        })
        .collect();
    assert_eq!(seen, logged);

    // 203.0.113.8's three speculative connections and 203.0.113.9's idle one carried no
    // byte: no entry.
    let silent: Vec<_> = ["203.0.113.8", "203.0.113.9"]
        .iter()
        .flat_map(|ip| of_client(&conns, ip))
        .filter(|(_, p)| p.is_none())
        .collect();
    let mut tuples: Vec<SocketAddr> = silent.iter().map(|(c, _)| c.orig).collect();
    tuples.dedup();
    // (the idle connection is reported twice by the table: once when the server's FIN
    // went unanswered for the close linger, once for the client's late FIN)
    assert_eq!(tuples.len(), 4);
    assert!(
        silent
            .iter()
            .all(|(c, _)| c.orig_bytes == Some(0) && c.resp_bytes == Some(0))
    );

    // Only the 22 connections with payload made entries (the floods' thousands of SYNs
    // only wrote the SYN memo), all taken.
    let with_bytes = conns.iter().filter(|(_, p)| p.is_some()).count();
    assert_eq!(with_bytes, 21);
    assert_eq!(store.stats().entries, 21);
    assert_eq!((store.stats().taken, store.len()), (21, 0));
    assert_eq!(store.stats().guessed_direction, 0);
    assert!(conns.len() > 500);
}

#[test]
fn lab_run_within_a_tiny_budget_evicts_oldest_first_and_stays_bounded() {
    let cfg = PrefixConfig {
        max_entries: 1,
        ..PrefixConfig::default()
    };
    let (conns, store) = run("../../../halfopen/tests/data/lab/run1/server.pcap", cfg);
    let st = store.stats();
    assert_eq!(st.peak_entries, 1);
    assert_eq!(
        st.entries,
        st.taken + st.evicted_for_entries + store.len() as u64
    );
    // The slowloris connection (9 s long) is pushed out by the TLS hello that starts
    // 11 ms after it; its later header lines make a new entry, which knows the stream's
    // start from the SYN memo: the head is missing, the bytes stop at that hole.
    assert!(st.evicted_for_entries >= 1);
    let slow = of_client(&conns, "198.51.100.21");
    let p = slow[0].1.as_ref().unwrap();
    assert!(p.client.bytes().is_empty() && p.client.gap() && !p.client.midstream());
    let text = render::client(&p.client, false).to_string();
    assert_eq!(
        text,
        "72 bytes, none kept (a hole at the start), in 9 segments, one every 1.0 s; the bytes stop at a hole in the capture"
    );
    // ... and that new entry in turn pushes out the TLS hello's, which the flow table
    // only reports after its 10 s close linger
    let tls = of_client(&conns, "198.51.100.22");
    assert!(tls[0].1.is_none());

    let cfg = PrefixConfig {
        max_bytes: 1,
        ..PrefixConfig::default()
    };
    let (conns, store) = run("../../../halfopen/tests/data/lab/run1/server.pcap", cfg);
    // every entry goes as soon as its segment is placed: nothing is ever held
    assert_eq!(store.stats().evicted_for_bytes, store.stats().entries);
    assert_eq!((store.len(), store.stats().taken), (0, 0));
    assert!(conns.iter().all(|(_, p)| p.is_none()));
}
