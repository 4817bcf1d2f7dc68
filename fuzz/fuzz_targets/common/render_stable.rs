//! The check shared by the per-format fuzz targets: a parsed record is rendered, parsed again,
//! and the second render must equal the first (render is the inverse of parse on its own output).

use halfopen_fwlog::{Record, Result};

/// Runs the check with a format's `parse` and `render`.
pub fn check(
    data: &[u8],
    parse: impl for<'a> Fn(&'a [u8]) -> Result<Record<'a>>,
    render: impl Fn(&Record<'_>, &mut Vec<u8>),
) {
    let Ok(rec) = parse(data) else {
        return;
    };
    let mut first = Vec::new();
    render(&rec, &mut first);
    let Ok(again) = parse(&first) else {
        panic!(
            "rendered line does not parse: {:?}",
            String::from_utf8_lossy(&first)
        );
    };
    let mut second = Vec::new();
    render(&again, &mut second);
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "render is not stable"
    );
}
