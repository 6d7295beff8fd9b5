//! tierwatch's embedded engine: wasmtime configured per compiler backend,
//! and executors that run conformance suites and record every directive's
//! outcome in the evidence wire format (`matrix::evidence`). Knows nothing
//! of HTTP.

pub mod profile;
pub mod values;
pub mod wast;

pub use profile::{Compiler, Profile};
pub use wast::run_wast;
