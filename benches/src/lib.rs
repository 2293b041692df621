//! Criterion micro-benchmarks of sesscache and of the harness's peer caches.
//!
//! The benchmarks are in `benches/ops.rs`; see `README.md` for what each one
//! measures and how to run them (`cargo bench -p sesscache-benches`). This
//! library is empty: cargo wants a package to have a library or binary.
