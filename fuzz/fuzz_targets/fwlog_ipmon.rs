#![no_main]
//! Parses the input as one ipmon line; a parsed record is rendered, parsed again, and the
//! second render must equal the first (render is the inverse of parse on its own output).

#[path = "common/render_stable.rs"]
mod render_stable;

use halfopen_fwlog::formats::ipmon;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    render_stable::check(data, ipmon::parse, ipmon::render);
});
