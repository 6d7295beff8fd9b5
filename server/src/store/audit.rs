//! The audit log: who did what to which promotion request, tokens and
//! sessions included; numbered from its counter in `sequences`.

use jiff::Timestamp;

use super::{Result, Store, StoreError, Writes, from_millis, rows};

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

/// [`AuditRow`] as stored.
#[derive(sqlx::FromRow)]
struct AuditRecord {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    promotion_id: Option<i64>,
    detail: String,
}

impl TryFrom<AuditRecord> for AuditRow {
    type Error = StoreError;

    fn try_from(r: AuditRecord) -> Result<AuditRow> {
        Ok(AuditRow {
            seq: r.seq,
            at: from_millis(r.at),
            actor: r.actor,
            action: r.action,
            promotion_id: r.promotion_id,
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::String(r.detail)),
        })
    }
}

impl Store {
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
        let records: Vec<AuditRecord> = sqlx::query_as(
            "SELECT seq, at, actor, action, promotion_id, detail FROM audit_log \
             WHERE ($1 < 0 OR promotion_id = $1) AND ($2 = 0 OR promotion_id IS NOT NULL) ORDER BY seq DESC LIMIT $3",
        )
        .bind(promotion_id.unwrap_or(-1))
        .bind(i64::from(promotions_only))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows(records)
    }
}
