//! Browser sessions: a signed-in maintainer's cookie (stored hashed) and
//! its CSRF token.

use jiff::Timestamp;

use super::{Result, Store, StoreError, from_millis, lookup, millis, row};

/// A browser session.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub token_id: String,
    pub csrf: String,
    pub expires_at: Timestamp,
}

/// [`SessionRow`] as stored.
#[derive(sqlx::FromRow)]
struct SessionRecord {
    token_id: String,
    csrf: String,
    expires_at: i64,
}

impl TryFrom<SessionRecord> for SessionRow {
    type Error = StoreError;

    fn try_from(r: SessionRecord) -> Result<SessionRow> {
        Ok(SessionRow { token_id: r.token_id, csrf: r.csrf, expires_at: from_millis(r.expires_at) })
    }
}

impl Store {
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
        let record: Option<SessionRecord> =
            sqlx::query_as("SELECT token_id, csrf, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(lookup(id_hash))
                .bind(millis(Timestamp::now()))
                .fetch_optional(&self.pool)
                .await?;
        row(record)
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
}
