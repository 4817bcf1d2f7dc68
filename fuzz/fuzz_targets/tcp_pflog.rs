#![no_main]
//! The pflog header parser and the pflog link-type decoder on arbitrary bytes.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(m) = halfopen_tcp::pflog::parse(data) {
        assert!(m.header_len <= data.len());
        let _ = m.ifname();
        let _ = m.ruleset();
    }
    let _ = halfopen_tcp::decode::decode(halfopen_tcp::decode::LINKTYPE_PFLOG, data, 0);
});
