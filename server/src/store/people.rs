//! Maintainers as people: a person holds any number of maintainer tokens,
//! carries the GitHub login their comments vote with, and is revoked as a
//! whole — every token, every browser session, and every vote they cast on
//! a request still open.

use jiff::Timestamp;

use super::{Result, Store, StoreError, Writes, from_millis, lookup, millis, row, rows};

/// A person as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub handle: String,
    pub github_login: Option<String>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// [`PersonRow`] as stored.
#[derive(sqlx::FromRow)]
struct PersonRecord {
    handle: String,
    github_login: Option<String>,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl TryFrom<PersonRecord> for PersonRow {
    type Error = StoreError;

    fn try_from(r: PersonRecord) -> Result<PersonRow> {
        Ok(PersonRow {
            handle: r.handle,
            github_login: r.github_login,
            created_at: from_millis(r.created_at),
            revoked_at: r.revoked_at.map(from_millis),
        })
    }
}

/// What revoking a person did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// How many live tokens were revoked.
    pub tokens: u64,
    /// The open requests whose vote by the person was voided.
    pub votes_voided: Vec<i64>,
}

impl Store {
    /// A person by handle.
    pub async fn person(&self, handle: &str) -> Result<Option<PersonRow>> {
        let record: Option<PersonRecord> =
            sqlx::query_as("SELECT handle, github_login, created_at, revoked_at FROM people WHERE handle = $1")
                .bind(lookup(handle))
                .fetch_optional(&self.pool)
                .await?;
        row(record)
    }

    /// Every person, by handle.
    pub async fn people(&self) -> Result<Vec<PersonRow>> {
        let records: Vec<PersonRecord> =
            sqlx::query_as("SELECT handle, github_login, created_at, revoked_at FROM people ORDER BY handle")
                .fetch_all(&self.pool)
                .await?;
        rows(records)
    }

    /// Makes `handle` a person who may hold maintainer tokens, with the
    /// GitHub login given (kept when already set and not given). The inner
    /// `Err` says why not: the person was revoked, has another login, or
    /// the login is another person's.
    pub async fn ensure_person(&self, handle: &str, github_login: Option<&str>) -> Result<Result<(), String>> {
        let existing = self.person(handle).await?;
        if let Some(p) = &existing {
            if let Some(at) = p.revoked_at {
                return Ok(Err(format!(
                    "person `{handle}` was revoked at {at}; a revoked person gets no new tokens (choose another handle)"
                )));
            }
            if let (Some(have), Some(want)) = (&p.github_login, github_login)
                && !have.eq_ignore_ascii_case(want)
            {
                return Ok(Err(format!(
                    "person `{handle}` has GitHub login `{have}`, not `{want}`; one person has one login"
                )));
            }
        }
        if let Some(login) = github_login {
            let holder: Option<String> =
                sqlx::query_scalar("SELECT handle FROM people WHERE LOWER(github_login) = LOWER($1) AND handle <> $2")
                    .bind(lookup(login))
                    .bind(lookup(handle))
                    .fetch_optional(&self.pool)
                    .await?;
            if let Some(other) = holder {
                return Ok(Err(format!("GitHub login `{login}` belongs to person `{other}`; one login is one person")));
            }
        }
        if existing.is_none() {
            sqlx::query("INSERT INTO people (handle, github_login, created_at) VALUES ($1, $2, $3)")
                .bind(lookup(handle))
                .bind(github_login)
                .bind(millis(Timestamp::now()))
                .execute(&self.writer)
                .await?;
        } else if github_login.is_some() {
            sqlx::query("UPDATE people SET github_login = $1 WHERE handle = $2")
                .bind(github_login)
                .bind(lookup(handle))
                .execute(&self.writer)
                .await?;
        }
        Ok(Ok(()))
    }

    /// The live person whose GitHub login this is.
    pub async fn maintainer_by_github(&self, login: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT handle FROM people WHERE revoked_at IS NULL AND LOWER(github_login) = LOWER($1) ORDER BY handle LIMIT 1",
        )
        .bind(lookup(login))
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Revokes a person in one transaction: their tokens and sessions end,
    /// and their votes on requests still open are voided, each recorded in
    /// the request's audit log by `actor`. None when there is no such live
    /// person.
    pub async fn revoke_person(&self, handle: &str, actor: &str) -> Result<Option<Revoked>> {
        let now = millis(Timestamp::now());
        let mut tx = self.writer.begin().await?;
        let person = sqlx::query("UPDATE people SET revoked_at = $1 WHERE handle = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(lookup(handle))
            .execute(&mut *tx)
            .await?;
        if person.rows_affected() == 0 {
            return Ok(None);
        }
        sqlx::query("DELETE FROM sessions WHERE token_id IN (SELECT id FROM tokens WHERE person = $1)")
            .bind(lookup(handle))
            .execute(&mut *tx)
            .await?;
        let tokens = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE person = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(lookup(handle))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let voted: Vec<(i64, String)> = sqlx::query_as(
            "SELECT v.promotion_id, v.vote FROM promotion_votes v JOIN promotions p ON p.id = v.promotion_id \
             WHERE v.maintainer = $1 AND p.state = 'open' ORDER BY v.promotion_id",
        )
        .bind(lookup(handle))
        .fetch_all(&mut *tx)
        .await?;
        let mut votes_voided = Vec::new();
        for (id, vote) in voted {
            sqlx::query("DELETE FROM promotion_votes WHERE promotion_id = $1 AND maintainer = $2")
                .bind(id)
                .bind(lookup(handle))
                .execute(&mut *tx)
                .await?;
            let mut writes = Writes::default();
            writes.audit(
                actor,
                "vote-voided",
                serde_json::json!({ "person": handle, "vote": vote, "reason": "person revoked" }),
            );
            writes.apply(&mut tx, Some(id)).await?;
            votes_voided.push(id);
        }
        let mut writes = Writes::default();
        writes.audit(
            actor,
            "person-revoked",
            serde_json::json!({ "person": handle, "tokens": tokens, "votes-voided": votes_voided }),
        );
        writes.apply(&mut tx, None).await?;
        tx.commit().await?;
        Ok(Some(Revoked { tokens, votes_voided }))
    }
}
