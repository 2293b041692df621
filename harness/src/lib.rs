//! The sesscache benchmark harness: multi-core workloads against sesscache,
//! OpenSSL's own session cache, rustls's `ServerSessionMemoryCache`, moka, a
//! naive mutex baseline and the hardware limit.
//!
//! The flow is data first: workloads fill a [`results::Results`], which is
//! written to `results.json`; the Markdown report and the SVG plots are drawn
//! from that data alone (so they can be redrawn from an old run).

pub mod alloc_count;
pub mod build_info;
pub mod cache;
pub mod drivers;
pub mod handoff;
pub mod ids;
pub mod machine;
pub mod plots;
pub mod report;
pub mod results;
pub mod runner;
pub mod workloads;
