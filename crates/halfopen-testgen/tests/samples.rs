//! The committed samples in crates/halfopen-cli/samples are exactly what the generator makes now.

use halfopen_testgen::{Rendered, scenarios};
use std::io::Read as _;
use std::path::{Path, PathBuf};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../halfopen-cli/samples")
}

/// Reads `name` or, if that does not exist, `name.gz`.
fn read(dir: &Path, name: &str) -> Vec<u8> {
    if let Ok(b) = std::fs::read(dir.join(name)) {
        return b;
    }
    let gz =
        std::fs::read(dir.join(format!("{name}.gz"))).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn check(dir: &Path, r: &Rendered) {
    let truth = r.truth_tsv();
    let files: [(&str, &[u8]); 8] = [
        ("capture.pcap", &r.pcap),
        ("netfilter.log", r.netfilter_all.as_bytes()),
        ("netfilter-syn-only.log", r.netfilter_syn_only.as_bytes()),
        ("ipfw.log", r.ipfw.as_bytes()),
        ("access.log", r.access_combined.as_bytes()),
        ("access-port.log", r.access_with_port.as_bytes()),
        ("error.log", r.error_log.as_bytes()),
        ("TRUTH.tsv", truth.as_bytes()),
    ];
    for (name, want) in files {
        let got = read(dir, name);
        assert!(
            got == want,
            "{} is stale: regenerate the samples (see samples/README.md)",
            dir.join(name).display()
        );
        let on_disk = std::fs::metadata(dir.join(name))
            .or_else(|_| std::fs::metadata(dir.join(format!("{name}.gz"))))
            .unwrap()
            .len();
        assert!(on_disk < 1_000_000, "{name} is {on_disk} bytes on disk");
    }
}

#[test]
fn samples_are_up_to_date() {
    check(&samples(), &scenarios::story().render());
    check(&samples().join("mixed"), &scenarios::mixed(1).render());
}
