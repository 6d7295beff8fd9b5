//! Read models: what each page and API resource shows, built from the
//! current immutable snapshot (`state::Live`: policy, evidence, evaluation
//! and its `ReadModel`) and, for history and runs, from the store. No SQL,
//! no rules and no HTTP here: routes parse a request, call a builder, and
//! render what it returns.

pub mod analysis;
pub mod charts;
pub mod feature;
pub mod grid;
pub mod run;
pub mod summary;

use crate::store::StoreError;

/// Why a view could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// What the request names does not exist (the message says where the
    /// existing ones are listed).
    #[error("{0}")]
    NotFound(String),
    /// A query value that would match nothing by construction.
    #[error("{0}")]
    BadRequest(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer for a feature id the policy does not have.
pub(crate) fn no_feature(id: &str) -> ViewError {
    ViewError::NotFound(format!("no feature `{id}` in the policy; GET /api/v1/features lists them"))
}
