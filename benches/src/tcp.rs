//! Deterministic input generators for the `tcp` benchmarks (filled in by the crate's owner).
