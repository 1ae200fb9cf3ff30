//! Placeholder until the replicator lands.
fn main() {}
