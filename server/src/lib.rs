//! tierwatch's command-line front end: policy checks, evaluation and
//! TIERS.md generation over run reports on disk.

pub mod cli;
pub mod load;
