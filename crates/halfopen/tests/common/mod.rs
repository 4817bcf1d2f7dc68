//! What several integration tests share: reading the lab runs' files.

use std::io::Read;
use std::path::Path;

/// The bytes of `file` of lab run `run` (`tests/data/lab/RUN/`), gunzipped when it ends in
/// `.gz`.
pub fn lab(run: &str, file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/lab")
        .join(run)
        .join(file);
    let mut raw = Vec::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut raw))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if !file.ends_with(".gz") {
        return raw;
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .expect("gzip");
    out
}
