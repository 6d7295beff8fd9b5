//! Promotion requests: the pure rules — states, approval tallies,
//! checklists, flags, comment commands (`rules`) — and the workflow that
//! checks each action against them and stores, audits and mirrors it to
//! GitHub in one transaction (`workflow`).

pub mod rules;
pub mod workflow;
