//! Deterministic input generators for the `fwlog` benchmarks (filled in by the crate's owner).
