//! tierwatch's embedded engine: wasmtime configured per compiler backend,
//! and executors that run conformance suites and record every directive's
//! outcome in the evidence wire format (`matrix::evidence`). Knows nothing
//! of HTTP.

pub mod epochs;
pub mod fuzz;
pub mod harness;
pub mod panics;
pub mod parallel;
// The workspace denies `unsafe`; this module alone loads code compiled on
// another machine, and says why that is sound.
#[allow(unsafe_code)]
pub mod precompiled;
pub mod profile;
pub mod suite;
pub mod values;
pub mod wasi;
pub mod wast;

/// The wasmtime version embedded (pinned in the workspace manifest).
pub const WASMTIME_VERSION: &str = "48.0.8";

pub use profile::{Compiler, Options, Profile};
pub use wast::run_wast;
