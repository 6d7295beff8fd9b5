//! Bearer tokens: hashed secrets, their role, target scope and person.

use jiff::Timestamp;

use super::{Result, Store, StoreError, from_millis, lookup, millis, row, rows};
use crate::auth::Role;

/// A stored bearer token.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub role: Role,
    pub targets: String,
    /// The person holding a maintainer token: who votes and files with it.
    pub person: Option<String>,
    pub revoked: bool,
}

/// [`TokenRow`] as stored.
#[derive(sqlx::FromRow)]
struct TokenRecord {
    id: String,
    name: String,
    secret_hash: String,
    role: String,
    targets: String,
    person: Option<String>,
    revoked_at: Option<i64>,
}

impl TryFrom<TokenRecord> for TokenRow {
    type Error = StoreError;

    fn try_from(r: TokenRecord) -> Result<TokenRow> {
        Ok(TokenRow {
            role: stored_role(&r.id, &r.role)?,
            id: r.id,
            name: r.name,
            secret_hash: r.secret_hash,
            targets: r.targets,
            person: r.person,
            revoked: r.revoked_at.is_some(),
        })
    }
}

/// A token as listed: no secret.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub targets: String,
    /// The person holding a maintainer token.
    pub person: Option<String>,
    pub github_login: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// [`TokenInfo`] as stored.
#[derive(sqlx::FromRow)]
struct TokenInfoRecord {
    id: String,
    name: String,
    role: String,
    targets: String,
    person: Option<String>,
    github_login: Option<String>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<TokenInfoRecord> for TokenInfo {
    type Error = StoreError;

    fn try_from(r: TokenInfoRecord) -> Result<TokenInfo> {
        Ok(TokenInfo {
            role: stored_role(&r.id, &r.role)?,
            id: r.id,
            name: r.name,
            targets: r.targets,
            person: r.person,
            github_login: r.github_login,
            created_at: from_millis(r.created_at),
            revoked_at: r.revoked_at.map(from_millis),
        })
    }
}

/// A token's role, refused by name when no version wrote it.
fn stored_role(id: &str, stored: &str) -> Result<Role> {
    Role::parse(stored).ok_or_else(|| StoreError::Corrupt {
        run_id: format!("token {id}"),
        message: format!("unknown role `{stored}`"),
    })
}

impl Store {
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
        let record: Option<TokenRecord> =
            sqlx::query_as("SELECT id, name, secret_hash, role, targets, person, revoked_at FROM tokens WHERE id = $1")
                .bind(lookup(id))
                .fetch_optional(&self.pool)
                .await?;
        row(record)
    }

    /// Every token, oldest first, without secrets.
    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let records: Vec<TokenInfoRecord> = sqlx::query_as(
            "SELECT t.id, t.name, t.role, t.targets, t.person, COALESCE(p.github_login, t.github_login) AS github_login, \
             t.created_at, t.revoked_at FROM tokens t LEFT JOIN people p ON p.handle = t.person ORDER BY t.created_at, t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows(records)
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
