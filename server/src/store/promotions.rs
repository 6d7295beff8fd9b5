//! Storage of promotion requests, their votes and applied declared tiers,
//! and the writes every action leaves (`Writes`: audit entries and GitHub
//! operations, stored in the action's transaction).
//!
//! Numbered rows (`id`, `seq`) take the next value of their counter in
//! `sequences` inside the inserting transaction (`next_value`), so
//! concurrent writers queue on the counter instead of colliding.

use jiff::Timestamp;
use matrix::Tier;

use super::{Result, Store, StoreError, from_millis, lookup, millis, row, rows};
use crate::promotions::rules::{OutboxOp, Promotion, State, Vote, VoteRow};

/// An applied declared tier.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DeclaredRow {
    pub feature: String,
    pub from_tier: Tier,
    pub to_tier: Tier,
    pub promotion_id: i64,
    pub applied_by: String,
    pub applied_at: Timestamp,
}

/// A request's state move, from the state it was read in.
#[derive(Debug, Clone)]
pub struct StateChange {
    pub from: State,
    pub to: State,
    pub by: String,
    pub at: Timestamp,
}

/// The audit entries and GitHub operations an action leaves, written in
/// the action's transaction.
#[derive(Debug, Clone, Default)]
pub struct Writes {
    /// `(actor, action, detail)`.
    pub audit: Vec<(String, String, serde_json::Value)>,
    /// `(op, body)` for the GitHub outbox.
    pub github: Vec<(OutboxOp, String)>,
}

impl Writes {
    /// Adds an audit entry.
    pub fn audit(&mut self, actor: &str, action: &str, detail: serde_json::Value) -> &mut Self {
        self.audit.push((actor.to_owned(), action.to_owned(), detail));
        self
    }

    /// Adds a GitHub operation.
    pub fn github(&mut self, op: OutboxOp, body: impl Into<String>) -> &mut Self {
        self.github.push((op, body.into()));
        self
    }

    /// Writes the entries in `tx`; `id` is the request they belong to
    /// (audit entries may belong to none; GitHub operations always do).
    pub(super) async fn apply(&self, tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: Option<i64>) -> Result<()> {
        let now = millis(Timestamp::now());
        for (actor, action, detail) in &self.audit {
            let seq = next_value(tx, "audit_log.seq").await?;
            sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, action, promotion_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(seq)
            .bind(now)
            .bind(actor)
            .bind(action)
            .bind(id)
            .bind(detail.to_string())
            .execute(&mut **tx)
            .await?;
        }
        for (op, body) in &self.github {
            let seq = next_value(tx, "github_outbox.seq").await?;
            sqlx::query(
                "INSERT INTO github_outbox (seq, promotion_id, op, body, attempts, not_before) \
                 VALUES ($1, $2, $3, $4, 0, $5)",
            )
            .bind(seq)
            .bind(id)
            .bind(op.as_str())
            .bind(body)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

const PROMOTION_COLUMNS: &str = "id, feature, from_tier, to_tier, rationale, rfc_url, state, filed_by, filed_at, \
                                 decided_by, decided_at, github_issue, github_url";

/// A tier as stored.
fn tier(n: i64) -> Tier {
    Tier(u8::try_from(n).unwrap_or(u8::MAX))
}

/// [`Promotion`] as stored.
#[derive(sqlx::FromRow)]
struct PromotionRecord {
    id: i64,
    feature: String,
    from_tier: i64,
    to_tier: i64,
    rationale: String,
    rfc_url: Option<String>,
    state: String,
    filed_by: String,
    filed_at: i64,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    github_issue: Option<i64>,
    github_url: Option<String>,
}

impl TryFrom<PromotionRecord> for Promotion {
    type Error = StoreError;

    fn try_from(r: PromotionRecord) -> Result<Promotion> {
        let state = r
            .state
            .parse()
            .map_err(|message| StoreError::Corrupt { run_id: format!("promotion {}", r.id), message })?;
        Ok(Promotion {
            id: r.id,
            feature: r.feature,
            from_tier: tier(r.from_tier),
            to_tier: tier(r.to_tier),
            rationale: r.rationale,
            rfc_url: r.rfc_url,
            state,
            filed_by: r.filed_by,
            filed_at: from_millis(r.filed_at),
            decided_by: r.decided_by,
            decided_at: r.decided_at.map(from_millis),
            github_issue: r.github_issue,
            github_url: r.github_url,
        })
    }
}

/// A vote as stored, with its request's id for a corrupt one's message.
#[derive(sqlx::FromRow)]
struct VoteRecord {
    promotion_id: i64,
    maintainer: String,
    vote: String,
    comment: Option<String>,
    source: String,
    at: i64,
}

impl TryFrom<VoteRecord> for VoteRow {
    type Error = StoreError;

    fn try_from(r: VoteRecord) -> Result<VoteRow> {
        let vote = Vote::parse(&r.vote).ok_or_else(|| StoreError::Corrupt {
            run_id: format!("promotion {}", r.promotion_id),
            message: format!("unknown vote `{}`", r.vote),
        })?;
        Ok(VoteRow { maintainer: r.maintainer, vote, comment: r.comment, source: r.source, at: from_millis(r.at) })
    }
}

/// [`DeclaredRow`] as stored.
#[derive(sqlx::FromRow)]
struct DeclaredRecord {
    feature: String,
    from_tier: i64,
    to_tier: i64,
    promotion_id: i64,
    applied_by: String,
    applied_at: i64,
}

impl TryFrom<DeclaredRecord> for DeclaredRow {
    type Error = StoreError;

    fn try_from(r: DeclaredRecord) -> Result<DeclaredRow> {
        Ok(DeclaredRow {
            feature: r.feature,
            from_tier: tier(r.from_tier),
            to_tier: tier(r.to_tier),
            promotion_id: r.promotion_id,
            applied_by: r.applied_by,
            applied_at: from_millis(r.applied_at),
        })
    }
}

/// Moves a request from the state it was read in; false when it had moved
/// meanwhile.
async fn move_state(tx: &mut sqlx::Transaction<'static, sqlx::Any>, id: i64, c: &StateChange) -> Result<bool> {
    let moved =
        sqlx::query("UPDATE promotions SET state = $1, decided_by = $2, decided_at = $3 WHERE id = $4 AND state = $5")
            .bind(c.to.as_str())
            .bind(&c.by)
            .bind(millis(c.at))
            .bind(id)
            .bind(c.from.as_str())
            .execute(&mut **tx)
            .await?;
    Ok(moved.rows_affected() == 1)
}

/// Whether a database error is a primary-key collision.
fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Sqlx(sqlx::Error::Database(d)) if d.is_unique_violation())
}

/// The next number of a counter in `sequences` (`table.column`), taken
/// inside `tx`: the counter row stays locked until `tx` ends, so concurrent
/// writers queue on it and never share a number.
pub(super) async fn next_value(tx: &mut sqlx::Transaction<'static, sqlx::Any>, name: &str) -> Result<i64> {
    Ok(sqlx::query_scalar("UPDATE sequences SET last_value = last_value + 1 WHERE name = $1 RETURNING last_value")
        .bind(name)
        .fetch_one(&mut **tx)
        .await?)
}

/// Runs `f` again when it lost a race for the next number.
async fn retrying<T, F, Fut>(mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut tries = 0;
    loop {
        match f().await {
            Err(e) if is_unique_violation(&e) && tries < 5 => tries += 1,
            other => return other,
        }
    }
}

impl Store {
    /// Stores a new open request with its audit entry and GitHub
    /// operations, in one transaction; returns its id.
    pub async fn file_promotion(&self, p: &Promotion, writes: &Writes) -> Result<i64> {
        retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let id = next_value(&mut tx, "promotions.id").await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO promotions (id, feature, from_tier, to_tier, rationale, rfc_url, state, filed_by, filed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(id)
            .bind(&p.feature)
            .bind(i64::from(p.from_tier.0))
            .bind(i64::from(p.to_tier.0))
            .bind(&p.rationale)
            .bind(&p.rfc_url)
            .bind(p.state.as_str())
            .bind(&p.filed_by)
            .bind(millis(p.filed_at))
            .fetch_one(&mut *tx)
            .await?;
            writes.apply(&mut tx, Some(id)).await?;
            tx.commit().await?;
            Ok(id)
        })
        .await
    }

    /// One action on a request in one transaction: a state move (only from
    /// the state it was read in), a vote, audit entries and GitHub
    /// operations are all stored, or none is. False when the request had
    /// moved meanwhile.
    pub async fn record(
        &self,
        id: i64,
        change: Option<&StateChange>,
        vote: Option<&VoteRow>,
        writes: &Writes,
    ) -> Result<bool> {
        retrying(|| async {
            let mut tx = self.writer.begin().await?;
            if let Some(c) = change
                && !move_state(&mut tx, id, c).await?
            {
                tx.rollback().await?;
                return Ok(false);
            }
            if let Some(v) = vote {
                sqlx::query("DELETE FROM promotion_votes WHERE promotion_id = $1 AND maintainer = $2")
                    .bind(id)
                    .bind(&v.maintainer)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO promotion_votes (promotion_id, maintainer, vote, comment, source, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(&v.maintainer)
                .bind(v.vote.as_str())
                .bind(&v.comment)
                .bind(&v.source)
                .bind(millis(v.at))
                .execute(&mut *tx)
                .await?;
            }
            writes.apply(&mut tx, Some(id)).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// A request by id.
    pub async fn promotion(&self, id: i64) -> Result<Option<Promotion>> {
        let record: Option<PromotionRecord> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row(record)
    }

    /// Requests, newest first, optionally only those of one feature or in
    /// one state.
    pub async fn promotions(&self, feature: Option<&str>, state: Option<State>, limit: i64) -> Result<Vec<Promotion>> {
        let records: Vec<PromotionRecord> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE ($1 = '' OR feature = $1) AND ($2 = '' OR state = $2) \
             ORDER BY id DESC LIMIT $3"
        )))
        .bind(lookup(feature.unwrap_or("")))
        .bind(state.map_or("", State::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows(records)
    }

    /// Records the GitHub issue a request was mirrored to.
    pub async fn set_github_issue(&self, id: i64, number: i64, url: &str) -> Result<()> {
        sqlx::query("UPDATE promotions SET github_issue = $1, github_url = $2 WHERE id = $3")
            .bind(number)
            .bind(url)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// A request's votes, oldest first.
    pub async fn votes(&self, promotion_id: i64) -> Result<Vec<VoteRow>> {
        let records: Vec<VoteRecord> = sqlx::query_as(
            "SELECT promotion_id, maintainer, vote, comment, source, at FROM promotion_votes WHERE promotion_id = $1 \
             ORDER BY at, maintainer",
        )
        .bind(promotion_id)
        .fetch_all(&self.pool)
        .await?;
        rows(records)
    }

    /// Applies an approved request in one transaction: the state, the
    /// declared tier, the audit entry and the GitHub operations are all
    /// stored or none is. False when the request was no longer approved.
    pub async fn apply_promotion(&self, id: i64, d: &DeclaredRow, writes: &Writes) -> Result<bool> {
        retrying(|| async {
            let mut tx = self.writer.begin().await?;
            let change =
                StateChange { from: State::Approved, to: State::Applied, by: d.applied_by.clone(), at: d.applied_at };
            if !move_state(&mut tx, id, &change).await? {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("DELETE FROM declared_tiers WHERE feature = $1").bind(&d.feature).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO declared_tiers (feature, from_tier, to_tier, promotion_id, applied_by, applied_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&d.feature)
            .bind(i64::from(d.from_tier.0))
            .bind(i64::from(d.to_tier.0))
            .bind(d.promotion_id)
            .bind(&d.applied_by)
            .bind(millis(d.applied_at))
            .execute(&mut *tx)
            .await?;
            writes.apply(&mut tx, Some(id)).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Every applied declared tier.
    pub async fn declared(&self) -> Result<Vec<DeclaredRow>> {
        let records: Vec<DeclaredRecord> = sqlx::query_as(
            "SELECT feature, from_tier, to_tier, promotion_id, applied_by, applied_at FROM declared_tiers ORDER BY feature",
        )
        .fetch_all(&self.pool)
        .await?;
        rows(records)
    }

    /// Writes audit entries and GitHub operations in one transaction.
    pub(super) async fn write(&self, promotion_id: Option<i64>, writes: &Writes) -> Result<()> {
        retrying(|| async {
            let mut tx = self.writer.begin().await?;
            writes.apply(&mut tx, promotion_id).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
