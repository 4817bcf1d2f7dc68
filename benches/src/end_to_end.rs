//! Deterministic input generators for the `end_to_end` benchmarks (filled in by the crate's owner).
