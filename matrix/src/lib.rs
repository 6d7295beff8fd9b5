//! tierwatch's domain, pure: the tier policy (schema, validation), the
//! evidence wire format, the evaluator and the TIERS.md renderer. No I/O and
//! no async: callers read files and clocks and hand the contents in.
//!
//! The flow is parse → validate → evaluate:
//!
//! ```text
//! policy YAML ──validate──▶ Policy ─┐
//! run reports ─from_json──▶ Evidence ┴─evaluate(now)──▶ Evaluation ──▶ tiers_md::render
//! ```

pub mod coverage;
pub mod diag;
pub mod evaluate;
pub mod evidence;
mod index;
pub mod policy;
pub mod tables;
pub mod tiers_md;
pub mod yaml;

pub use diag::{Code, Diagnostic, Diagnostics};
pub use evaluate::{Evaluation, FeatureResult, Status, evaluate};
pub use evidence::{Evidence, RunReport};
pub use policy::{Policy, Tier, validate};
