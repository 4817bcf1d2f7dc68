//! Regenerates the sample and test data.
fn main() {}
