//! Deterministic input generators for the `weblog` benchmarks (filled in by the crate's owner).
