//! Runs and what they hold: the report as sent, one row per directive
//! outcome and WASI program, fuzz campaigns and their crash signatures.

use jiff::Timestamp;
use matrix::RunReport;
use matrix::evidence::Outcome;

use super::{
    Result, Store, StoreError, count_column, from_millis, lookup, millis, row, rows, seed_column, seed_from_column,
};
use crate::ingest::RunState;

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

/// [`RunRow`] as stored.
#[derive(sqlx::FromRow)]
struct RunRecord {
    run_id: String,
    runner: String,
    target: String,
    compiler: String,
    dimensions: String,
    engine_version: String,
    emulated: i64,
    started_at: i64,
    finished_at: i64,
    received_at: i64,
    state: String,
    state_reason: Option<String>,
    passed: i64,
    failed: i64,
    skipped: i64,
}

impl TryFrom<RunRecord> for RunRow {
    type Error = StoreError;

    fn try_from(r: RunRecord) -> Result<RunRow> {
        let state = RunState::parse(&r.state).ok_or_else(|| StoreError::Corrupt {
            run_id: r.run_id.clone(),
            message: format!("unknown run state `{}`", r.state),
        })?;
        Ok(RunRow {
            run_id: r.run_id,
            runner: r.runner,
            target: r.target,
            compiler: r.compiler,
            dimensions: r.dimensions,
            engine_version: r.engine_version,
            emulated: r.emulated != 0,
            started_at: from_millis(r.started_at),
            finished_at: from_millis(r.finished_at),
            received_at: from_millis(r.received_at),
            state,
            state_reason: r.state_reason,
            passed: r.passed,
            failed: r.failed,
            skipped: r.skipped,
        })
    }
}

const RUN_COLUMNS: &str = "run_id, runner, target, compiler, dimensions, engine_version, emulated, started_at, finished_at, \
     received_at, state, state_reason, passed, failed, skipped";

/// One directive outcome as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct DirectiveRow {
    pub test: String,
    pub line: i64,
    pub kind: String,
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
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

/// [`CampaignRow`] as stored.
#[derive(sqlx::FromRow)]
struct CampaignRecord {
    run_id: String,
    target: String,
    name: String,
    oracle: String,
    seed: i64,
    iterations: i64,
    valid_modules: i64,
    duration_secs: f64,
    exercised: String,
    finished_at: i64,
}

impl TryFrom<CampaignRecord> for CampaignRow {
    type Error = StoreError;

    fn try_from(r: CampaignRecord) -> Result<CampaignRow> {
        Ok(CampaignRow {
            run_id: r.run_id,
            target: r.target,
            name: r.name,
            oracle: r.oracle,
            seed: seed_from_column(r.seed),
            iterations: r.iterations,
            valid_modules: r.valid_modules,
            duration_secs: r.duration_secs,
            exercised: serde_json::from_str(&r.exercised).unwrap_or_default(),
            finished_at: from_millis(r.finished_at),
        })
    }
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

/// One sighting of a crash signature, as stored.
#[derive(sqlx::FromRow)]
struct Sighting {
    signature: String,
    campaign: String,
    message: String,
    hits: i64,
    is_open: i64,
    replay: Option<String>,
    run_id: String,
}

impl CrashRow {
    /// Adds a later sighting: the newest one says whether it is open and
    /// how it replayed.
    fn seen(&mut self, s: Sighting) {
        let open = s.is_open != 0;
        self.hits += s.hits;
        self.under_triage = open && s.replay.as_deref() != Some("deterministic");
        self.open = open;
        self.replay = s.replay;
        self.runs += 1;
        self.last_run = s.run_id;
    }
}

impl From<Sighting> for CrashRow {
    fn from(s: Sighting) -> CrashRow {
        let open = s.is_open != 0;
        CrashRow {
            under_triage: open && s.replay.as_deref() != Some("deterministic"),
            signature: s.signature,
            campaign: s.campaign,
            message: s.message,
            hits: s.hits,
            open,
            replay: s.replay,
            runs: 1,
            last_run: s.run_id,
        }
    }
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
    /// `received` (to be evaluated) or `rejected`: [`RunState::on_arrival`].
    pub state: RunState,
    pub state_reason: Option<&'a str>,
}

/// Directive rows per multi-row INSERT; 6 parameters each stays far below
/// both backends' parameter limits.
const BATCH: usize = 500;

impl Store {
    /// The body hash stored for `run_id`, if the run exists.
    pub async fn run_hash(&self, run_id: &str) -> Result<Option<String>> {
        let hash = sqlx::query_scalar("SELECT body_sha256 FROM runs WHERE run_id = $1")
            .bind(lookup(run_id))
            .fetch_optional(&self.pool)
            .await?;
        Ok(hash)
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
        insert_campaigns(&mut tx, r).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Moves a run from `from` to `to` (a move [`RunState::may_become`]
    /// allows); false when the run was not in `from`.
    pub async fn move_run(&self, run_id: &str, from: RunState, to: RunState) -> Result<bool> {
        assert!(from.may_become(to), "run state {from} cannot become {to}");
        let moved = sqlx::query("UPDATE runs SET state = $1, state_reason = NULL WHERE run_id = $2 AND state = $3")
            .bind(to.as_str())
            .bind(run_id)
            .bind(from.as_str())
            .execute(&self.writer)
            .await?;
        Ok(moved.rows_affected() == 1)
    }

    /// Marks runs still `received` (stored, but the server stopped before
    /// evaluating them) as evaluated, once a start-up evaluation included them.
    pub async fn settle_received(&self) -> Result<u64> {
        let (from, to) = (RunState::Received, RunState::Evaluated);
        assert!(from.may_become(to));
        Ok(sqlx::query("UPDATE runs SET state = $1 WHERE state = $2")
            .bind(to.as_str())
            .bind(from.as_str())
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    /// Every stored report in `state` (or in any state but it, with
    /// `negate`) of runs finished at or after `since`, oldest first, as
    /// evidence: passes elided, read one at a time so that only one
    /// report's text is in memory at once.
    pub async fn reports_since(&self, since: Timestamp, state: RunState, negate: bool) -> Result<Vec<RunReport>> {
        use futures_util::TryStreamExt;
        let sql = if negate {
            "SELECT run_id, report FROM runs WHERE finished_at >= $1 AND state <> $2 ORDER BY finished_at, run_id"
        } else {
            "SELECT run_id, report FROM runs WHERE finished_at >= $1 AND state = $2 ORDER BY finished_at, run_id"
        };
        let mut stored =
            sqlx::query_as::<_, (String, String)>(sql).bind(millis(since)).bind(state.as_str()).fetch(&self.pool);
        let mut out = Vec::new();
        while let Some((run_id, text)) = stored.try_next().await? {
            out.push(evidence_report(run_id, &text)?);
        }
        Ok(out)
    }

    /// The ids of runs in `state` finished at or after `since`.
    pub async fn run_ids_since(&self, since: Timestamp, state: RunState) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT run_id FROM runs WHERE finished_at >= $1 AND state = $2")
            .bind(millis(since))
            .bind(state.as_str())
            .fetch_all(&self.pool)
            .await?)
    }

    /// The stored reports of these runs (those that exist), in no order,
    /// as evidence: passes elided.
    pub async fn reports(&self, run_ids: &[String]) -> Result<Vec<RunReport>> {
        let mut out = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            let text: Option<String> = sqlx::query_scalar("SELECT report FROM runs WHERE run_id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(text) = text {
                out.push(evidence_report(id.clone(), &text)?);
            }
        }
        Ok(out)
    }

    /// Runs, newest first, optionally of one target and compiler.
    pub async fn runs(&self, target: Option<&str>, compiler: Option<&str>, limit: i64) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE ($1 = '' OR target = $1) AND ($2 = '' OR compiler = $2) \
             ORDER BY finished_at DESC, run_id LIMIT $3"
        );
        let records: Vec<RunRecord> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(lookup(target.unwrap_or("")))
            .bind(lookup(compiler.unwrap_or("")))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows(records)
    }

    /// One run.
    pub async fn run(&self, run_id: &str) -> Result<Option<RunRow>> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1");
        let record: Option<RunRecord> =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(lookup(run_id)).fetch_optional(&self.pool).await?;
        row(record)
    }

    /// The run of the same target, compiler and dimensions finished just
    /// before `run`.
    pub async fn previous_run(&self, run: &RunRow) -> Result<Option<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE target = $1 AND compiler = $2 AND dimensions = $3 \
             AND finished_at < $4 ORDER BY finished_at DESC LIMIT 1"
        );
        let record: Option<RunRecord> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&run.target)
            .bind(&run.compiler)
            .bind(&run.dimensions)
            .bind(millis(run.finished_at))
            .fetch_optional(&self.pool)
            .await?;
        row(record)
    }

    /// `run` and the runs of its target, compiler, dimensions and engine
    /// version before it, newest first.
    pub async fn runs_up_to(&self, run: &RunRow, limit: i64) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE target = $1 AND compiler = $2 AND dimensions = $3 \
             AND engine_version = $4 AND finished_at <= $5 ORDER BY finished_at DESC, run_id LIMIT $6"
        );
        let records: Vec<RunRecord> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(&run.target)
            .bind(&run.compiler)
            .bind(&run.dimensions)
            .bind(&run.engine_version)
            .bind(millis(run.finished_at))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows(records)
    }

    /// A run's directives, optionally only the non-passing ones.
    pub async fn directives(&self, run_id: &str, failing_only: bool) -> Result<Vec<DirectiveRow>> {
        let sql = if failing_only {
            "SELECT test, line, kind, outcome, message FROM directives WHERE run_id = $1 AND outcome <> 'pass' ORDER BY test, line"
        } else {
            "SELECT test, line, kind, outcome, message FROM directives WHERE run_id = $1 ORDER BY test, line"
        };
        Ok(sqlx::query_as(sql).bind(lookup(run_id)).fetch_all(&self.pool).await?)
    }

    /// How many runs are stored, by state.
    pub async fn run_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query_as("SELECT state, COUNT(*) AS n FROM runs GROUP BY state ORDER BY state")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Fuzz campaigns, newest first.
    pub async fn campaigns(&self, limit: i64) -> Result<Vec<CampaignRow>> {
        let records: Vec<CampaignRecord> = sqlx::query_as(
            "SELECT c.run_id, r.target, c.name, c.oracle, c.seed, c.iterations, c.valid_modules, c.duration_secs, \
             c.exercised, r.finished_at FROM fuzz_campaigns c JOIN runs r ON r.run_id = c.run_id \
             ORDER BY r.finished_at DESC, c.name LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows(records)
    }

    /// Crash signatures across runs; open if the newest sighting is open.
    pub async fn crashes(&self) -> Result<Vec<CrashRow>> {
        let sightings: Vec<Sighting> = sqlx::query_as(
            "SELECT c.signature, c.campaign, c.message, c.hits, c.is_open, c.replay, c.run_id \
             FROM crashes c JOIN runs r ON r.run_id = c.run_id ORDER BY r.finished_at, c.run_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<CrashRow> = Vec::new();
        for s in sightings {
            match out.iter_mut().find(|c| c.signature == s.signature) {
                Some(c) => c.seen(s),
                None => out.push(s.into()),
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

/// A stored report's text back as evidence (passes elided: the
/// `directives` table holds them), or the run named as corrupt.
fn evidence_report(run_id: String, text: &str) -> Result<RunReport> {
    let report = RunReport::from_json(text).map_err(|e| StoreError::Corrupt { run_id, message: e.to_string() })?;
    Ok(report.elide_passes())
}

/// Every directive and WASI result of a report as rows.
pub fn directive_rows(r: &RunReport) -> Vec<DirectiveRow> {
    directive_rows_of(r, |_| true, |_| true)
}

/// The rows of the scripts and WASI programs whose key (`suite/file`,
/// `suite/test`) `test` accepts, and of those only the outcomes `outcome`
/// accepts; nothing else is copied.
pub fn directive_rows_of(
    r: &RunReport,
    test: impl Fn(&str) -> bool,
    outcome: impl Fn(Outcome) -> bool,
) -> Vec<DirectiveRow> {
    let mut rows = Vec::new();
    for f in &r.spec {
        let key = f.key();
        if !test(&key) {
            continue;
        }
        rows.extend(f.directives.iter().filter(|d| outcome(d.outcome)).map(|d| DirectiveRow {
            test: key.clone(),
            line: i64::from(d.line),
            kind: d.kind.clone(),
            outcome: d.outcome.as_str().to_owned(),
            message: d.message.clone(),
        }));
    }
    let programs = r.wasi.iter().filter(|w| outcome(w.outcome)).map(|w| (w, w.key())).filter(|(_, key)| test(key));
    rows.extend(programs.map(|(w, key)| DirectiveRow {
        test: key,
        line: 0,
        kind: "wasi".to_owned(),
        outcome: w.outcome.as_str().to_owned(),
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

/// A report's fuzz campaigns and their crash signatures, in the run's
/// transaction.
async fn insert_campaigns(tx: &mut sqlx::Transaction<'_, sqlx::Any>, r: &RunReport) -> Result<()> {
    let name_of = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_owned));
    for c in &r.fuzz {
        sqlx::query(
            "INSERT INTO fuzz_campaigns (run_id, name, oracle, seed, iterations, valid_modules, duration_secs, exercised) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&r.run_id)
        .bind(&c.name)
        .bind(name_of(serde_json::to_value(c.oracle).ok()).unwrap_or_default())
        .bind(seed_column(c.seed))
        .bind(count_column(c.iterations))
        .bind(count_column(c.valid_modules))
        .bind(c.duration_secs)
        .bind(serde_json::to_string(&c.exercised).unwrap_or_default())
        .execute(&mut **tx)
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
            .bind(name_of(x.replay.and_then(|r| serde_json::to_value(r).ok())))
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}
