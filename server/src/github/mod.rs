//! GitHub sync of promotion requests, with octocrab.
//!
//! Every request mirrors to one issue in the configured repository:
//! filing opens it with the live checklist, state changes comment on it and
//! close it, the body is rewritten when the checklist moves, and `/approve`
//! and `/reject` comments by maintainers (matched by the GitHub login on
//! their token) are read back as votes.
//!
//! Outgoing operations go through the `github_outbox` table, in order per
//! request, and leave it only when GitHub acknowledged them: a restart, a
//! network failure or a 5xx retries with backoff; a rate limit pauses the
//! whole sync until GitHub's reset time (read from `GET /rate_limit`). An
//! issue whose creation may have reached GitHub without an answer is looked
//! up by its marker before it is created again.
//!
//! `client`: the octocrab calls, their errors classified (`SyncError`);
//! `issue`: what an issue says (title, body, markers); `sync`: the outbox
//! worker.

mod client;
mod issue;
mod sync;

pub use client::{Client, Comment};
pub use issue::{body, marker, op_marker, title};
pub use sync::{Sync, run};

use std::time::Duration;

use jiff::Timestamp;

/// Where and as whom to sync.
#[derive(Debug, Clone)]
pub struct Config {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// A token that may create and edit issues there.
    pub token: String,
    /// The API's base URL: `https://api.github.com`, or GitHub Enterprise's.
    pub api_url: String,
    /// How often issue comments are polled for votes.
    pub poll: Duration,
}

impl Config {
    /// Parses `owner/name`.
    pub fn repository(spec: &str) -> Result<(String, String), String> {
        match spec.split_once('/') {
            Some((o, r)) if !o.is_empty() && !r.is_empty() && !r.contains('/') => Ok((o.to_owned(), r.to_owned())),
            _ => Err(format!("`{spec}` is not a repository: write it as owner/name")),
        }
    }
}

/// The label every mirrored issue carries.
pub const LABEL: &str = "tier-promotion";

/// Why a GitHub call failed, by what to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncError {
    /// Rate limited: pause everything until then.
    RateLimited { until: Timestamp, message: String },
    /// Network trouble or a 5xx: try again soon.
    Transient(String),
    /// GitHub refused (bad token, no such repository, validation): retry
    /// slowly, since someone has to fix the configuration.
    Refused(String),
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::RateLimited { until, message } => write!(f, "rate limited until {until}: {message}"),
            SyncError::Transient(m) => write!(f, "{m}"),
            SyncError::Refused(m) => write!(f, "refused: {m}"),
        }
    }
}

impl From<crate::store::StoreError> for SyncError {
    /// The database failing is worth another try, like the network.
    fn from(e: crate::store::StoreError) -> SyncError {
        SyncError::Transient(format!("database: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_owner_slash_name() {
        assert_eq!(Config::repository("a/b"), Ok(("a".into(), "b".into())));
        assert!(Config::repository("a").is_err());
        assert!(Config::repository("a/b/c").is_err());
        assert!(Config::repository("/b").is_err());
    }
}
