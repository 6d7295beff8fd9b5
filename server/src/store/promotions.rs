//! Storage of promotion requests, votes, applied declared tiers, browser
//! sessions, the audit log and the GitHub outbox.
//!
//! Numbered rows (`id`, `seq`) take the next value of their counter in
//! `sequences` inside the inserting transaction (`next_value`), so
//! concurrent writers queue on the counter instead of colliding.

use jiff::Timestamp;
use matrix::Tier;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, from_millis, lookup, millis};
use crate::promotion::{OutboxOp, Promotion, State, Vote, VoteRow};

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

/// One audit-log entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AuditRow {
    pub seq: i64,
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_id: Option<i64>,
    pub detail: serde_json::Value,
}

impl AuditRow {
    /// Detail keys anyone may read: what happened to a request. Who holds
    /// which token, with which role and GitHub login, is for maintainers.
    const PUBLIC_DETAIL: [&'static str; 13] = [
        "feature",
        "from",
        "to",
        "rfc",
        "approvals",
        "rejections",
        "comment",
        "source",
        "issue",
        "url",
        "person",
        "vote",
        "reason",
    ];

    /// The entry as the public sees it: its detail cut to the public keys.
    pub fn public(mut self) -> AuditRow {
        if let serde_json::Value::Object(map) = &mut self.detail {
            map.retain(|k, _| Self::PUBLIC_DETAIL.contains(&k.as_str()));
        } else {
            self.detail = serde_json::Value::Object(serde_json::Map::new());
        }
        self
    }
}

/// A GitHub operation waiting to be done.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub seq: i64,
    pub promotion_id: i64,
    pub op: OutboxOp,
    pub body: String,
    pub attempts: i64,
    pub not_before: Timestamp,
    pub last_error: Option<String>,
}

/// A token as listed: no secret.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: crate::auth::Role,
    pub targets: String,
    /// The person holding a maintainer token.
    pub person: Option<String>,
    pub github_login: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
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

/// A browser session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_id: String,
    pub csrf: String,
    pub expires_at: Timestamp,
}

const PROMOTION_COLUMNS: &str = "id, feature, from_tier, to_tier, rationale, rfc_url, state, filed_by, filed_at, \
                                 decided_by, decided_at, github_issue, github_url";

fn tier(r: &AnyRow, col: &str) -> Result<Tier> {
    let n: i64 = r.try_get(col)?;
    Ok(Tier(u8::try_from(n).unwrap_or(u8::MAX)))
}

fn promotion(r: &AnyRow) -> Result<Promotion> {
    let id: i64 = r.try_get("id")?;
    let state: String = r.try_get("state")?;
    Ok(Promotion {
        id,
        feature: r.try_get("feature")?,
        from_tier: tier(r, "from_tier")?,
        to_tier: tier(r, "to_tier")?,
        rationale: r.try_get("rationale")?,
        rfc_url: r.try_get("rfc_url")?,
        state: state.parse().map_err(|message| StoreError::Corrupt { run_id: format!("promotion {id}"), message })?,
        filed_by: r.try_get("filed_by")?,
        filed_at: from_millis(r.try_get("filed_at")?),
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get::<Option<i64>, _>("decided_at")?.map(from_millis),
        github_issue: r.try_get("github_issue")?,
        github_url: r.try_get("github_url")?,
    })
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
    let row = sqlx::query("UPDATE sequences SET last_value = last_value + 1 WHERE name = $1 RETURNING last_value")
        .bind(name)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("last_value")?)
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
            let row = sqlx::query(
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
            let id: i64 = row.try_get("id")?;
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
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {PROMOTION_COLUMNS} FROM promotions WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(promotion).transpose()
    }

    /// Requests, newest first, optionally only those of one feature or in
    /// one state.
    pub async fn promotions(&self, feature: Option<&str>, state: Option<State>, limit: i64) -> Result<Vec<Promotion>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PROMOTION_COLUMNS} FROM promotions WHERE ($1 = '' OR feature = $1) AND ($2 = '' OR state = $2) \
             ORDER BY id DESC LIMIT $3"
        )))
        .bind(lookup(feature.unwrap_or("")))
        .bind(state.map_or("", State::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(promotion).collect()
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
        let rows = sqlx::query(
            "SELECT maintainer, vote, comment, source, at FROM promotion_votes WHERE promotion_id = $1 ORDER BY at, maintainer",
        )
        .bind(promotion_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let vote: String = r.try_get("vote")?;
                Ok(VoteRow {
                    maintainer: r.try_get("maintainer")?,
                    vote: Vote::parse(&vote).ok_or_else(|| StoreError::Corrupt {
                        run_id: format!("promotion {promotion_id}"),
                        message: format!("unknown vote `{vote}`"),
                    })?,
                    comment: r.try_get("comment")?,
                    source: r.try_get("source")?,
                    at: from_millis(r.try_get("at")?),
                })
            })
            .collect()
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
        let rows = sqlx::query(
            "SELECT feature, from_tier, to_tier, promotion_id, applied_by, applied_at FROM declared_tiers ORDER BY feature",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeclaredRow {
                    feature: r.try_get("feature")?,
                    from_tier: tier(r, "from_tier")?,
                    to_tier: tier(r, "to_tier")?,
                    promotion_id: r.try_get("promotion_id")?,
                    applied_by: r.try_get("applied_by")?,
                    applied_at: from_millis(r.try_get("applied_at")?),
                })
            })
            .collect()
    }

    /// Appends to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        promotion_id: Option<i64>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut writes = Writes::default();
        writes.audit(actor, action, detail);
        self.write(promotion_id, &writes).await
    }

    /// Writes audit entries and GitHub operations in one transaction.
    async fn write(&self, promotion_id: Option<i64>, writes: &Writes) -> Result<()> {
        retrying(|| async {
            let mut tx = self.writer.begin().await?;
            writes.apply(&mut tx, promotion_id).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Audit entries, newest first; only one request's when given.
    /// The newest `limit` entries, of one request or of all; with
    /// `promotions_only`, only entries about promotion requests (no token,
    /// sign-in or sign-out entries).
    pub async fn audit_log(
        &self,
        promotion_id: Option<i64>,
        promotions_only: bool,
        limit: i64,
    ) -> Result<Vec<AuditRow>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, promotion_id, detail FROM audit_log \
             WHERE ($1 < 0 OR promotion_id = $1) AND ($2 = 0 OR promotion_id IS NOT NULL) ORDER BY seq DESC LIMIT $3",
        )
        .bind(promotion_id.unwrap_or(-1))
        .bind(i64::from(promotions_only))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditRow {
                    seq: r.try_get("seq")?,
                    at: from_millis(r.try_get("at")?),
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    promotion_id: r.try_get("promotion_id")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
                })
            })
            .collect()
    }

    /// Queues a GitHub operation.
    pub async fn enqueue_github(&self, promotion_id: i64, op: OutboxOp, body: &str) -> Result<()> {
        let mut writes = Writes::default();
        writes.github(op, body);
        self.write(Some(promotion_id), &writes).await
    }

    /// Operations not yet acknowledged by GitHub, oldest first.
    pub async fn github_pending(&self, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT seq, promotion_id, op, body, attempts, not_before, last_error FROM github_outbox \
             WHERE done_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.try_get("seq")?;
                let op: String = r.try_get("op")?;
                Ok(OutboxRow {
                    seq,
                    promotion_id: r.try_get("promotion_id")?,
                    op: OutboxOp::parse(&op).ok_or_else(|| StoreError::Corrupt {
                        run_id: format!("GitHub outbox operation {seq}"),
                        message: format!("unknown operation `{op}`"),
                    })?,
                    body: r.try_get("body")?,
                    attempts: r.try_get("attempts")?,
                    not_before: from_millis(r.try_get("not_before")?),
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// The last error of a request's oldest failed, still pending operation.
    pub async fn github_error(&self, promotion_id: i64) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT last_error FROM github_outbox \
             WHERE promotion_id = $1 AND done_at IS NULL AND last_error IS NOT NULL ORDER BY seq LIMIT 1",
        )
        .bind(promotion_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get("last_error")).transpose()?)
    }

    /// Marks an operation done.
    pub async fn github_done(&self, seq: i64) -> Result<()> {
        sqlx::query("UPDATE github_outbox SET done_at = $1, last_error = NULL WHERE seq = $2")
            .bind(millis(Timestamp::now()))
            .bind(seq)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Counts an attempt before it is made, so that after a crash or a lost
    /// answer the next attempt knows GitHub may already have done it.
    pub async fn github_attempt(&self, seq: i64) -> Result<()> {
        sqlx::query("UPDATE github_outbox SET attempts = attempts + 1 WHERE seq = $1")
            .bind(seq)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Records why an attempt failed and when to try again.
    pub async fn github_failed(&self, seq: i64, error: &str, retry_at: Timestamp) -> Result<()> {
        sqlx::query("UPDATE github_outbox SET last_error = $1, not_before = $2 WHERE seq = $3")
            .bind(error)
            .bind(millis(retry_at))
            .bind(seq)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The newest comment id read back for a request (0 when none).
    pub async fn github_cursor(&self, promotion_id: i64) -> Result<i64> {
        let row = sqlx::query("SELECT last_comment_id FROM github_cursor WHERE promotion_id = $1")
            .bind(promotion_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("last_comment_id")).transpose()?.unwrap_or(0))
    }

    /// Moves a request's comment cursor forward.
    pub async fn set_github_cursor(&self, promotion_id: i64, last_comment_id: i64) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM github_cursor WHERE promotion_id = $1").bind(promotion_id).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO github_cursor (promotion_id, last_comment_id, polled_at) VALUES ($1, $2, $3)")
            .bind(promotion_id)
            .bind(last_comment_id)
            .bind(millis(Timestamp::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates a browser session.
    pub async fn create_session(&self, id_hash: &str, s: &SessionRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, token_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id_hash)
        .bind(&s.token_id)
        .bind(&s.csrf)
        .bind(millis(Timestamp::now()))
        .bind(millis(s.expires_at))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// A live session by the hash of its cookie value.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>> {
        let row = sqlx::query("SELECT token_id, csrf, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .bind(lookup(id_hash))
            .bind(millis(Timestamp::now()))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(SessionRow {
                token_id: r.try_get("token_id")?,
                csrf: r.try_get("csrf")?,
                expires_at: from_millis(r.try_get("expires_at")?),
            })
        })
        .transpose()
    }

    /// Ends a session, and drops every expired one.
    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1 OR expires_at <= $2")
            .bind(lookup(id_hash))
            .bind(millis(Timestamp::now()))
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Every token, oldest first, without secrets.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT t.id, t.name, t.role, t.targets, t.person, COALESCE(p.github_login, t.github_login) AS github_login, \
             t.created_at, t.revoked_at FROM tokens t LEFT JOIN people p ON p.handle = t.person ORDER BY t.created_at, t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    role: super::stored_role(r)?,
                    targets: r.try_get("targets")?,
                    person: r.try_get("person")?,
                    github_login: r.try_get("github_login")?,
                    created_at: from_millis(r.try_get("created_at")?),
                    revoked_at: r.try_get::<Option<i64>, _>("revoked_at")?.map(from_millis),
                })
            })
            .collect()
    }

    /// Revokes a token and ends its browser sessions; false when there is no
    /// such live token.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(millis(Timestamp::now()))
            .bind(lookup(id))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE token_id = $1").bind(lookup(id)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
