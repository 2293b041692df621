//! Model checks of sesscache's concurrent protocol with loom.
//!
//! The models are in `tests/models.rs` and compile only under
//! `RUSTFLAGS="--cfg sesscache_loom --cfg crossbeam_loom"`; run them with
//! `scripts/loom.sh`. See `docs/MODEL-CHECKING.md`.
