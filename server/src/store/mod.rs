//! Storage through sqlx's `Any` driver: SQLite by default, PostgreSQL when
//! the URL says so. The SQL is portable (see `migrations/`); instants are
//! Unix milliseconds. One file per table group (`runs`, `tokens`,
//! `history`, `promotions`, `audit`, `outbox`, `sessions`, `people`,
//! `listings`, `cluster`); rows are read as `FromRow` records converted by
//! [`rows`]. Transactions belong to the use case that needs one: each
//! method here is one, whole.

use std::str::FromStr;

use jiff::Timestamp;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

/// A storage failure. Details are logged, never sent to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database answered with an error or could not be reached.
    #[error("database: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored report no longer parses.
    #[error("stored report {run_id}: {message}")]
    Corrupt {
        /// The run.
        run_id: String,
        /// What is wrong.
        message: String,
    },
    /// The evaluation task panicked: a bug in the evaluator, reported
    /// rather than taking the server down.
    #[error("evaluation failed: {0}")]
    Evaluation(String),
}

mod audit;
mod cluster;
mod history;
mod listings;
mod outbox;
mod people;
mod promotions;
mod runs;
mod sessions;
mod tokens;

pub use audit::AuditRow;
pub use cluster::{CHANNEL, DatabaseUrl, LEADER_LOCK, PROMOTION_LOCK};
pub use history::HistoryRow;
pub use listings::{ListedDirective, Listing, Runs};
pub use outbox::OutboxRow;
pub use people::{PersonRow, Revoked};
pub use promotions::{DeclaredRow, StateChange, Writes};
pub use runs::{CampaignRow, CrashRow, DirectiveRow, NewRun, RunRow, directive_rows, directive_rows_of};
pub use sessions::SessionRow;
pub use tokens::{TokenInfo, TokenRow};

type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether no connection came free in time: the database is busy (on
    /// SQLite, a large write ahead), not broken; the request may be sent
    /// again.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Sqlx(sqlx::Error::PoolTimedOut))
    }
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    /// Reads. On SQLite its connections are `query_only`, so a write sent
    /// here by mistake fails loudly instead of contending with the writer.
    pool: AnyPool,
    /// Writes. On SQLite one connection: writers queue in the pool (up to
    /// the write queue timeout) instead of failing with "database is locked",
    /// while readers go on reading the WAL. On PostgreSQL the same pool as
    /// reads.
    writer: AnyPool,
    /// The backend behind the pool.
    pub backend: Backend,
    /// Where the database is, for connections of their own (PostgreSQL's
    /// listener and the leader's lock).
    url: DatabaseUrl,
}

/// A fuzz seed in a signed 64-bit column, bit for bit (a seed is any u64;
/// `seed_from_column` reads it back unchanged).
pub(crate) fn seed_column(seed: u64) -> i64 {
    i64::from_ne_bytes(seed.to_ne_bytes())
}

pub(crate) fn seed_from_column(stored: i64) -> u64 {
    u64::from_ne_bytes(stored.to_ne_bytes())
}

/// A count in a signed 64-bit column: one beyond `i64::MAX` (never reached
/// by a real run) is stored as `i64::MAX` rather than wrapping negative.
pub(crate) fn count_column(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Milliseconds since the epoch.
pub fn millis(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// Back from milliseconds.
pub fn from_millis(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// How long a write waits for SQLite's one writer connection (a large
/// upload's transaction ahead of it), or any query for a pooled connection,
/// before it fails, unless told otherwise (`serve
/// --write-queue-timeout-seconds`): a 200 MB upload's transaction takes
/// about 110 s on SQLite here.
pub const DEFAULT_WRITE_QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

impl Store {
    /// Connects, creating a SQLite file if needed, and runs migrations;
    /// writers (and any query) wait up to `write_queue_timeout` for a
    /// connection.
    pub async fn connect(url: &str, write_queue_timeout: std::time::Duration) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?;
        let pool = |connections: u32, query_only: bool| {
            AnyPoolOptions::new().max_connections(connections).acquire_timeout(write_queue_timeout).after_connect(
                move |conn, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            if query_only {
                                conn.execute("PRAGMA query_only = ON").await?;
                            }
                        }
                        Ok(())
                    })
                },
            )
        };
        match backend {
            Backend::Sqlite => {
                let writer = pool(1, false).connect_with(options.clone()).await?;
                MIGRATOR.run(&writer).await?;
                let pool = pool(4, true).connect_with(options).await?;
                Ok(Store { pool, writer, backend, url: DatabaseUrl(url) })
            }
            Backend::Postgres => {
                let pool = pool(16, false).connect_with(options).await?;
                MIGRATOR.run(&pool).await?;
                Ok(Store { writer: pool.clone(), pool, backend, url: DatabaseUrl(url) })
            }
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Rows read through their record: a `sqlx::FromRow` struct of the columns
/// as stored (instants as milliseconds, names as text), each converted into
/// the row the rest of the server uses, or refused by name as corrupt.
fn rows<R, T: TryFrom<R, Error = StoreError>>(records: Vec<R>) -> Result<Vec<T>> {
    records.into_iter().map(T::try_from).collect()
}

/// [`rows`] for at most one record.
fn row<R, T: TryFrom<R, Error = StoreError>>(record: Option<R>) -> Result<Option<T>> {
    record.map(T::try_from).transpose()
}

/// A lookup key from a request, as text is stored: PostgreSQL text cannot
/// hold NUL (it refuses the whole statement), and stored report text has
/// every NUL replaced by U+FFFD on ingestion, so a key is treated the same.
fn lookup(key: &str) -> String {
    key.replace('\0', "\u{fffd}")
}
