//! Every line of every snapshot parses, is skipped as a header, or is rejected with a specific error.

use halfopen::Error;
use halfopen::netstat::{NetstatSummary, SocketState, parse_line};

fn lines(name: &str) -> Vec<Vec<u8>> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path)
        .unwrap()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn every_line_of_the_good_files() {
    for (name, sockets, half_open) in [
        ("netstat-freebsd.txt", 9, 2),
        ("netstat-linux.txt", 8, 4),
        ("ss-tan.txt", 8, 3),
    ] {
        let mut n = 0;
        for (i, l) in lines(name).iter().enumerate() {
            match parse_line(l) {
                Ok(Some(_)) => n += 1,
                Ok(None) => assert!(i < 2 || l.starts_with(b"udp"), "{name}:{}: skipped", i + 1),
                Err(e) => panic!("{name}:{}: {e}", i + 1),
            }
        }
        assert_eq!(n, sockets, "{name}");
        let data =
            std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let s = NetstatSummary::from_bytes(&data);
        assert_eq!(s.half_open(), half_open, "{name}");
        assert!(s.rejected.is_empty());
        assert_eq!(
            s.half_open_by_local_port.get(&80),
            Some(&half_open),
            "{name}"
        );
    }
    let data = std::fs::read(format!(
        "{}/tests/data/ss-tan.txt",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let s = NetstatSummary::from_bytes(&data);
    assert_eq!(s.listen_backlog.get(&80), Some(&511));
    assert_eq!(
        s.half_open_by_remote.get(&"45.76.87.206".parse().unwrap()),
        Some(&2)
    );
    assert_eq!(s.states.get(&SocketState::Established), Some(&1));
}

#[test]
fn every_line_of_the_bad_file_is_rejected_with_its_reason() {
    let expected = [
        (66, "a TCP state"),
        (11, "the receive queue"),
        (63, "the remote address"),
        (0, "a protocol"),
    ];
    let ls = lines("netstat-bad.txt");
    assert_eq!(ls.len(), expected.len());
    for (l, (off, what)) in ls.iter().zip(expected) {
        match parse_line(l) {
            Err(Error::Netstat { offset, expected }) => {
                assert_eq!(offset, off, "{}", String::from_utf8_lossy(l));
                assert!(expected.starts_with(what), "{expected}");
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(l)),
        }
    }
}
