//! What several servers on one PostgreSQL database need from it: notices
//! (`NOTIFY`) and advisory locks (the outbox leader's, and the promotion
//! workflow's). What a server that missed a notice catches up on is read
//! from `runs` (`Store::run_ids_since`, `Store::reports`).

use sqlx::{Any, Transaction};

use super::{Backend, Result, Store};

/// The advisory lock the leader holds (the GitHub outbox worker and the
/// clock's history entries); any 64-bit key, the same in every server.
pub const LEADER_LOCK: i64 = 0x7469_6572_7761_7401;

/// The advisory lock promotion-request changes take, so votes and state
/// moves are decided on what the previous one stored, whichever server
/// takes them.
pub const PROMOTION_LOCK: i64 = 0x7469_6572_7761_7402;

/// The `NOTIFY` channel the servers talk on.
pub const CHANNEL: &str = "tierwatch_events";

/// A database URL kept for the listener and the leader's own connection;
/// its `Debug` hides the password.
#[derive(Clone)]
pub struct DatabaseUrl(pub(super) String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", crate::server::redact(&self.0))
    }
}

impl DatabaseUrl {
    /// The URL itself, password and all.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Store {
    /// The PostgreSQL URL, when the store is on PostgreSQL (several servers
    /// may share it then); `None` on SQLite (one server per file).
    pub fn shared_url(&self) -> Option<&DatabaseUrl> {
        match self.backend {
            Backend::Postgres => Some(&self.url),
            Backend::Sqlite => None,
        }
    }

    /// Tells the other servers on this database something (`payload` is
    /// JSON); nothing on SQLite.
    pub async fn notify(&self, payload: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(payload).execute(&self.writer).await?;
        }
        Ok(())
    }

    /// Holds advisory lock `key` for as long as the returned transaction
    /// lives, waiting for another server that holds it; dropped or
    /// committed, the lock is gone (also when its holder dies). `None` on
    /// SQLite, where one server owns the file.
    pub async fn exclusive(&self, key: i64) -> Result<Option<Transaction<'static, Any>>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut tx = self.writer.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await?;
        Ok(Some(tx))
    }
}
