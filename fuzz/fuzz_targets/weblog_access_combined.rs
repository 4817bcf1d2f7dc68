#![no_main]
// Placeholder: the owning crate fills this in.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = data;
});
