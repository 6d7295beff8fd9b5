//! Storage through sqlx's `Any` driver: SQLite by default, PostgreSQL when
//! the URL says so. The SQL is portable (see `migrations/`); instants are
//! Unix milliseconds.

use std::str::FromStr;

use jiff::Timestamp;
use matrix::RunReport;
use matrix::evidence::Outcome;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor, Row};

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

mod cluster;
mod listings;
mod people;
mod promotions;

pub use cluster::{CHANNEL, DatabaseUrl, LEADER_LOCK, PROMOTION_LOCK};
pub use listings::{ListedDirective, Listing, Runs};
pub use people::{PersonRow, Revoked};
pub use promotions::{AuditRow, DeclaredRow, OutboxRow, SessionRow, StateChange, TokenInfo, Writes};

type Result<T, E = StoreError> = std::result::Result<T, E>;

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
    /// `WRITE_QUEUE_TIMEOUT`) instead of failing with "database is locked",
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
fn seed_column(seed: u64) -> i64 {
    i64::from_ne_bytes(seed.to_ne_bytes())
}

fn seed_from_column(stored: i64) -> u64 {
    u64::from_ne_bytes(stored.to_ne_bytes())
}

/// A count in a signed 64-bit column: one beyond `i64::MAX` (never reached
/// by a real run) is stored as `i64::MAX` rather than wrapping negative.
fn count_column(count: u64) -> i64 {
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

/// A token row's role, refused by name when no version wrote it.
fn stored_role(r: &sqlx::any::AnyRow) -> Result<crate::auth::Role> {
    let stored: String = r.try_get("role")?;
    crate::auth::Role::parse(&stored).ok_or_else(|| StoreError::Corrupt {
        run_id: format!("token {}", r.try_get::<String, _>("id").unwrap_or_default()),
        message: format!("unknown role `{stored}`"),
    })
}

/// Where a run is in its life: stored and waiting for its evaluation
/// (`received`), in the evidence (`evaluated`), or kept out of it because
/// no feature of the policy selects it (`rejected`, with the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    Received,
    Evaluated,
    Rejected,
}

impl RunState {
    /// Every state.
    pub const ALL: [RunState; 3] = [RunState::Received, RunState::Evaluated, RunState::Rejected];

    /// The state as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Received => "received",
            RunState::Evaluated => "evaluated",
            RunState::Rejected => "rejected",
        }
    }

    /// A stored state back; `None` for a name no version of tierwatch wrote.
    pub fn parse(stored: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == stored)
    }
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A stored run, without its report.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunRow {
    pub run_id: String,
    pub runner: String,
    pub target: String,
    pub compiler: String,
    /// The run's dimensions away from their policy default, `name=value`
    /// comma-separated; empty (and not serialized) for an ordinary run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dimensions: String,
    pub engine_version: String,
    pub emulated: bool,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub received_at: Timestamp,
    pub state: RunState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub passed: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// One directive outcome as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DirectiveRow {
    pub test: String,
    pub line: i64,
    pub kind: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A stored bearer token.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub role: crate::auth::Role,
    pub targets: String,
    /// The person holding a maintainer token: who votes and files with it.
    pub person: Option<String>,
    pub revoked: bool,
}

/// One entry of a feature's tier history.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct HistoryRow {
    pub feature: String,
    pub at: Timestamp,
    pub declared: i64,
    pub earned: Option<i64>,
    pub status: String,
    pub missing: Vec<String>,
    pub cause: String,
}

/// A fuzz campaign as stored.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CampaignRow {
    pub run_id: String,
    pub target: String,
    pub name: String,
    pub oracle: String,
    pub seed: u64,
    pub iterations: i64,
    pub valid_modules: i64,
    pub duration_secs: f64,
    pub exercised: serde_json::Value,
    pub finished_at: Timestamp,
}

/// A crash signature as stored, aggregated over runs.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CrashRow {
    pub signature: String,
    pub campaign: String,
    pub message: String,
    pub hits: i64,
    pub open: bool,
    /// How the newest sighting replayed: `deterministic`, `varies`, or none.
    pub replay: Option<String>,
    /// Open without replaying deterministically: not counted against any
    /// feature until it does.
    pub under_triage: bool,
    pub runs: i64,
    pub last_run: String,
}

/// What the ingestion endpoint needs to know about a sender.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub report: &'a RunReport,
    pub json: &'a str,
    pub body_sha256: &'a str,
    pub token_id: &'a str,
    /// [`matrix::Policy::variant`] of the report.
    pub dimensions: &'a str,
    pub received_at: Timestamp,
    /// `received` (to be evaluated) or `rejected`.
    pub state: RunState,
    pub state_reason: Option<&'a str>,
}

fn run_row(r: &sqlx::any::AnyRow) -> Result<RunRow> {
    Ok(RunRow {
        run_id: r.try_get("run_id")?,
        runner: r.try_get("runner")?,
        target: r.try_get("target")?,
        compiler: r.try_get("compiler")?,
        dimensions: r.try_get("dimensions")?,
        engine_version: r.try_get("engine_version")?,
        emulated: r.try_get::<i64, _>("emulated")? != 0,
        started_at: from_millis(r.try_get("started_at")?),
        finished_at: from_millis(r.try_get("finished_at")?),
        received_at: from_millis(r.try_get("received_at")?),
        state: {
            let stored: String = r.try_get("state")?;
            RunState::parse(&stored).ok_or_else(|| StoreError::Corrupt {
                run_id: r.try_get("run_id").unwrap_or_default(),
                message: format!("unknown run state `{stored}`"),
            })?
        },
        state_reason: r.try_get("state_reason")?,
        passed: r.try_get("passed")?,
        failed: r.try_get("failed")?,
        skipped: r.try_get("skipped")?,
    })
}

const RUN_COLUMNS: &str = "run_id, runner, target, compiler, dimensions, engine_version, emulated, started_at, finished_at, \
     received_at, state, state_reason, passed, failed, skipped";

/// Directive rows per multi-row INSERT; 6 parameters each stays far below
/// both backends' parameter limits.
const BATCH: usize = 500;

/// How long a write waits for SQLite's one writer connection (a large
/// upload's transaction ahead of it), or any query for a pooled connection,
/// before it fails.
const WRITE_QUEUE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

impl Store {
    /// Connects, creating a SQLite file if needed, and runs migrations.
    pub async fn connect(url: &str) -> Result<Store> {
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
            AnyPoolOptions::new().max_connections(connections).acquire_timeout(WRITE_QUEUE_TIMEOUT).after_connect(
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

    /// The body hash stored for `run_id`, if the run exists.
    pub async fn run_hash(&self, run_id: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT body_sha256 FROM runs WHERE run_id = $1")
            .bind(lookup(run_id))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("body_sha256")).transpose()?)
    }

    /// Stores a run and everything in it in one transaction: either all of
    /// it is there afterwards or none. Returns false when the run id was
    /// already present (a concurrent duplicate).
    pub async fn insert_run(&self, new: &NewRun<'_>) -> Result<bool> {
        let r = new.report;
        let count = |o: Outcome| -> i64 {
            let spec: usize = r.spec.iter().map(|f| f.count(o)).sum();
            (spec + r.wasi.iter().filter(|w| w.outcome == o).count()) as i64
        };
        // The `skipped` column counts every outcome that is no evidence.
        let no_evidence: i64 = Outcome::ALL.into_iter().filter(|o| o.is_no_evidence()).map(count).sum();
        let mut tx = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO runs (run_id, body_sha256, token_id, runner, target, compiler, engine_version, emulated, \
             started_at, finished_at, received_at, state, state_reason, passed, failed, skipped, report, dimensions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
             ON CONFLICT (run_id) DO NOTHING",
        )
        .bind(&r.run_id)
        .bind(new.body_sha256)
        .bind(new.token_id)
        .bind(&r.runner.name)
        .bind(&r.target.triple)
        .bind(&r.engine.compiler)
        .bind(&r.engine.version)
        .bind(i64::from(r.target.emulated))
        .bind(millis(r.started_at))
        .bind(millis(r.finished_at))
        .bind(millis(new.received_at))
        .bind(new.state.as_str())
        .bind(new.state_reason)
        .bind(count(Outcome::Pass))
        .bind(count(Outcome::Fail))
        .bind(no_evidence)
        .bind(new.json)
        .bind(new.dimensions)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        let rows = directive_rows(r);
        for chunk in rows.chunks(BATCH) {
            insert_directives(&mut tx, &r.run_id, chunk).await?;
        }
        for c in &r.fuzz {
            sqlx::query(
                "INSERT INTO fuzz_campaigns (run_id, name, oracle, seed, iterations, valid_modules, duration_secs, exercised) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&r.run_id)
            .bind(&c.name)
            .bind(serde_json::to_value(c.oracle).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default())
            .bind(seed_column(c.seed))
            .bind(count_column(c.iterations))
            .bind(count_column(c.valid_modules))
            .bind(c.duration_secs)
            .bind(serde_json::to_string(&c.exercised).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
            for x in &c.crashes {
                sqlx::query(
                    "INSERT INTO crashes (run_id, campaign, signature, message, hits, is_open, reproducer, replay) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&r.run_id)
                .bind(&c.name)
                .bind(&x.signature)
                .bind(&x.message)
                .bind(count_column(x.count))
                .bind(i64::from(x.open))
                .bind(x.reproducer.as_deref())
                .bind(x.replay.and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_str().map(str::to_owned)))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Sets the state of runs.
    pub async fn set_state(&self, run_id: &str, state: RunState, reason: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE runs SET state = $1, state_reason = $2 WHERE run_id = $3")
            .bind(state.as_str())
            .bind(reason)
            .bind(run_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Marks runs still `received` (stored, but the server stopped before
    /// evaluating them) as evaluated, once a start-up evaluation included them.
    pub async fn settle_received(&self) -> Result<u64> {
        Ok(sqlx::query("UPDATE runs SET state = 'evaluated' WHERE state = 'received'")
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    /// Every stored report in `state` (or in any state but it, with
    /// `negate`) of runs finished at or after `since`, oldest first.
    pub async fn reports_since(&self, since: Timestamp, state: RunState, negate: bool) -> Result<Vec<RunReport>> {
        let sql = if negate {
            "SELECT run_id, report FROM runs WHERE finished_at >= $1 AND state <> $2 ORDER BY finished_at, run_id"
        } else {
            "SELECT run_id, report FROM runs WHERE finished_at >= $1 AND state = $2 ORDER BY finished_at, run_id"
        };
        let rows = sqlx::query(sql).bind(millis(since)).bind(state.as_str()).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let run_id: String = row.try_get("run_id")?;
                let text: String = row.try_get("report")?;
                RunReport::from_json(&text).map_err(|e| StoreError::Corrupt { run_id, message: e.to_string() })
            })
            .collect()
    }

    /// Runs, newest first, optionally of one target and compiler.
    pub async fn runs(&self, target: Option<&str>, compiler: Option<&str>, limit: i64) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR target = $1) AND ($2 = '' OR compiler = $2) \
             ORDER BY finished_at DESC, run_id LIMIT $3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(lookup(target.unwrap_or("")))
            .bind(lookup(compiler.unwrap_or("")))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_row).collect()
    }

    /// One run.
    pub async fn run(&self, run_id: &str) -> Result<Option<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lookup(run_id)).fetch_optional(&self.pool).await?;
        row.as_ref().map(run_row).transpose()
    }

    /// The run of the same target, compiler and dimensions finished just
    /// before `run`.
    pub async fn previous_run(&self, run: &RunRow) -> Result<Option<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE target = $1 AND compiler = $2 AND dimensions = $3 \
             AND finished_at < $4 ORDER BY finished_at DESC LIMIT 1"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&run.target)
            .bind(&run.compiler)
            .bind(&run.dimensions)
            .bind(millis(run.finished_at))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(run_row).transpose()
    }

    /// `run` and the runs of its target, compiler, dimensions and engine
    /// version before it, newest first.
    pub async fn runs_up_to(&self, run: &RunRow, limit: i64) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE target = $1 AND compiler = $2 AND dimensions = $3 \
             AND engine_version = $4 AND finished_at <= $5 ORDER BY finished_at DESC, run_id LIMIT $6"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&run.target)
            .bind(&run.compiler)
            .bind(&run.dimensions)
            .bind(&run.engine_version)
            .bind(millis(run.finished_at))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_row).collect()
    }

    /// A run's directives, optionally only the non-passing ones.
    pub async fn directives(&self, run_id: &str, failing_only: bool) -> Result<Vec<DirectiveRow>> {
        let sql = if failing_only {
            "SELECT test, line, kind, outcome, message FROM directives WHERE run_id = $1 AND outcome <> 'pass' ORDER BY test, line"
        } else {
            "SELECT test, line, kind, outcome, message FROM directives WHERE run_id = $1 ORDER BY test, line"
        };
        let rows = sqlx::query(sql).bind(lookup(run_id)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(DirectiveRow {
                    test: r.try_get("test")?,
                    line: r.try_get("line")?,
                    kind: r.try_get("kind")?,
                    outcome: r.try_get("outcome")?,
                    message: r.try_get("message")?,
                })
            })
            .collect()
    }

    /// How many runs are stored, by state.
    pub async fn run_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM runs GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("state")?, r.try_get("n")?))).collect()
    }

    /// Creates a token.
    pub async fn create_token(&self, t: &TokenRow, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (id, name, secret_hash, role, targets, created_at, person) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.secret_hash)
        .bind(t.role.as_str())
        .bind(&t.targets)
        .bind(millis(now))
        .bind(t.person.as_deref())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A token by id.
    pub async fn token(&self, id: &str) -> Result<Option<TokenRow>> {
        let row =
            sqlx::query("SELECT id, name, secret_hash, role, targets, person, revoked_at FROM tokens WHERE id = $1")
                .bind(lookup(id))
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            Ok(TokenRow {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                secret_hash: r.try_get("secret_hash")?,
                role: stored_role(&r)?,
                targets: r.try_get("targets")?,
                person: r.try_get("person")?,
                revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
            })
        })
        .transpose()
    }

    /// Appends history rows.
    pub async fn append_history(&self, rows: &[HistoryRow]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for h in rows {
            let seq = promotions::next_value(&mut tx, "feature_history.seq").await?;
            sqlx::query(
                "INSERT INTO feature_history (feature, at, seq, declared, earned, status, missing, cause) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&h.feature)
            .bind(millis(h.at))
            .bind(seq)
            .bind(h.declared)
            .bind(h.earned)
            .bind(&h.status)
            .bind(serde_json::to_string(&h.missing).unwrap_or_default())
            .bind(&h.cause)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A feature's history, oldest first; all features when `feature` is None.
    pub async fn history(&self, feature: Option<&str>) -> Result<Vec<HistoryRow>> {
        let rows = sqlx::query(
            "SELECT feature, at, declared, earned, status, missing, cause FROM feature_history \
             WHERE ($1 = '' OR feature = $1) ORDER BY at, feature, seq",
        )
        .bind(lookup(feature.unwrap_or("")))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let missing: String = r.try_get("missing")?;
                Ok(HistoryRow {
                    feature: r.try_get("feature")?,
                    at: from_millis(r.try_get("at")?),
                    declared: r.try_get("declared")?,
                    earned: r.try_get("earned")?,
                    status: r.try_get("status")?,
                    missing: serde_json::from_str(&missing).unwrap_or_default(),
                    cause: r.try_get("cause")?,
                })
            })
            .collect()
    }

    /// Fuzz campaigns, newest first.
    pub async fn campaigns(&self, limit: i64) -> Result<Vec<CampaignRow>> {
        let rows = sqlx::query(
            "SELECT c.run_id, r.target, c.name, c.oracle, c.seed, c.iterations, c.valid_modules, c.duration_secs, \
             c.exercised, r.finished_at FROM fuzz_campaigns c JOIN runs r ON r.run_id = c.run_id \
             ORDER BY r.finished_at DESC, c.name LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let exercised: String = r.try_get("exercised")?;
                Ok(CampaignRow {
                    run_id: r.try_get("run_id")?,
                    target: r.try_get("target")?,
                    name: r.try_get("name")?,
                    oracle: r.try_get("oracle")?,
                    seed: seed_from_column(r.try_get("seed")?),
                    iterations: r.try_get("iterations")?,
                    valid_modules: r.try_get("valid_modules")?,
                    duration_secs: r.try_get("duration_secs")?,
                    exercised: serde_json::from_str(&exercised).unwrap_or_default(),
                    finished_at: from_millis(r.try_get("finished_at")?),
                })
            })
            .collect()
    }

    /// Crash signatures across runs; open if the newest sighting is open.
    pub async fn crashes(&self) -> Result<Vec<CrashRow>> {
        let rows = sqlx::query(
            "SELECT c.signature, c.campaign, c.message, c.hits, c.is_open, c.replay, c.run_id, r.finished_at \
             FROM crashes c JOIN runs r ON r.run_id = c.run_id ORDER BY r.finished_at, c.run_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<CrashRow> = Vec::new();
        for r in &rows {
            let signature: String = r.try_get("signature")?;
            let hits: i64 = r.try_get("hits")?;
            let open = r.try_get::<i64, _>("is_open")? != 0;
            let replay: Option<String> = r.try_get("replay")?;
            let under_triage = open && replay.as_deref() != Some("deterministic");
            let run_id: String = r.try_get("run_id")?;
            match out.iter_mut().find(|c| c.signature == signature) {
                Some(c) => {
                    c.hits += hits;
                    c.open = open;
                    c.replay = replay;
                    c.under_triage = under_triage;
                    c.runs += 1;
                    c.last_run = run_id;
                }
                None => out.push(CrashRow {
                    signature,
                    campaign: r.try_get("campaign")?,
                    message: r.try_get("message")?,
                    hits,
                    open,
                    replay,
                    under_triage,
                    runs: 1,
                    last_run: run_id,
                }),
            }
        }
        Ok(out)
    }

    /// Rows for the baseline of the ingestion benchmark: the same directive
    /// rows, bulk-inserted with nothing else.
    pub async fn raw_insert_directives(&self, run_id: &str, rows: &[DirectiveRow]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for chunk in rows.chunks(BATCH) {
            insert_directives(&mut tx, run_id, chunk).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Every directive and WASI result of a report as rows.
pub fn directive_rows(r: &RunReport) -> Vec<DirectiveRow> {
    let outcome = Outcome::as_str;
    let mut rows = Vec::new();
    for f in &r.spec {
        let test = f.key();
        rows.extend(f.directives.iter().map(|d| DirectiveRow {
            test: test.clone(),
            line: i64::from(d.line),
            kind: d.kind.clone(),
            outcome: outcome(d.outcome).to_owned(),
            message: d.message.clone(),
        }));
    }
    rows.extend(r.wasi.iter().map(|w| DirectiveRow {
        test: w.key(),
        line: 0,
        kind: "wasi".to_owned(),
        outcome: outcome(w.outcome).to_owned(),
        message: w.message.clone(),
    }));
    rows
}

async fn insert_directives(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    run_id: &str,
    chunk: &[DirectiveRow],
) -> Result<()> {
    let mut sql = String::from("INSERT INTO directives (run_id, test, line, kind, outcome, message) VALUES ");
    for i in 0..chunk.len() {
        let b = i * 6;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6));
    }
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for d in chunk {
        q = q.bind(run_id).bind(&d.test).bind(d.line).bind(&d.kind).bind(&d.outcome).bind(d.message.as_deref());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// A lookup key from a request, as text is stored: PostgreSQL text cannot
/// hold NUL (it refuses the whole statement), and stored report text has
/// every NUL replaced by U+FFFD on ingestion, so a key is treated the same.
fn lookup(key: &str) -> String {
    key.replace('\0', "\u{fffd}")
}
