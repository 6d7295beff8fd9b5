//! The GitHub outbox: operations on mirrored issues, queued in the
//! transaction of the action that caused them and worked in order by the
//! sync worker, with attempts, errors and a comment cursor per request.

use jiff::Timestamp;

use super::{Result, Store, StoreError, Writes, from_millis, millis, rows};
use crate::promotions::rules::OutboxOp;

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

/// [`OutboxRow`] as stored.
#[derive(sqlx::FromRow)]
struct OutboxRecord {
    seq: i64,
    promotion_id: i64,
    op: String,
    body: String,
    attempts: i64,
    not_before: i64,
    last_error: Option<String>,
}

impl TryFrom<OutboxRecord> for OutboxRow {
    type Error = StoreError;

    fn try_from(r: OutboxRecord) -> Result<OutboxRow> {
        let op = OutboxOp::parse(&r.op).ok_or_else(|| StoreError::Corrupt {
            run_id: format!("GitHub outbox operation {}", r.seq),
            message: format!("unknown operation `{}`", r.op),
        })?;
        Ok(OutboxRow {
            seq: r.seq,
            promotion_id: r.promotion_id,
            op,
            body: r.body,
            attempts: r.attempts,
            not_before: from_millis(r.not_before),
            last_error: r.last_error,
        })
    }
}

impl Store {
    /// Queues a GitHub operation.
    pub async fn enqueue_github(&self, promotion_id: i64, op: OutboxOp, body: &str) -> Result<()> {
        let mut writes = Writes::default();
        writes.github(op, body);
        self.write(Some(promotion_id), &writes).await
    }

    /// Operations not yet acknowledged by GitHub, oldest first.
    pub async fn github_pending(&self, limit: i64) -> Result<Vec<OutboxRow>> {
        let records: Vec<OutboxRecord> = sqlx::query_as(
            "SELECT seq, promotion_id, op, body, attempts, not_before, last_error FROM github_outbox \
             WHERE done_at IS NULL ORDER BY seq LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows(records)
    }

    /// The last error of a request's oldest failed, still pending operation.
    pub async fn github_error(&self, promotion_id: i64) -> Result<Option<String>> {
        let error: Option<Option<String>> = sqlx::query_scalar(
            "SELECT last_error FROM github_outbox \
             WHERE promotion_id = $1 AND done_at IS NULL AND last_error IS NOT NULL ORDER BY seq LIMIT 1",
        )
        .bind(promotion_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(error.flatten())
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
        let cursor: Option<i64> =
            sqlx::query_scalar("SELECT last_comment_id FROM github_cursor WHERE promotion_id = $1")
                .bind(promotion_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(cursor.unwrap_or(0))
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
}
