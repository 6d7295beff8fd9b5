//! Each feature's tier history: one row per change of its standing.

use jiff::Timestamp;

use super::{Result, Store, StoreError, from_millis, lookup, millis, promotions::next_value, rows};

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

/// [`HistoryRow`] as stored.
#[derive(sqlx::FromRow)]
struct HistoryRecord {
    feature: String,
    at: i64,
    declared: i64,
    earned: Option<i64>,
    status: String,
    missing: String,
    cause: String,
}

impl TryFrom<HistoryRecord> for HistoryRow {
    type Error = StoreError;

    fn try_from(r: HistoryRecord) -> Result<HistoryRow> {
        Ok(HistoryRow {
            feature: r.feature,
            at: from_millis(r.at),
            declared: r.declared,
            earned: r.earned,
            status: r.status,
            missing: serde_json::from_str(&r.missing).unwrap_or_default(),
            cause: r.cause,
        })
    }
}

impl Store {
    /// Appends history rows.
    pub async fn append_history(&self, rows: &[HistoryRow]) -> Result<()> {
        let mut tx = self.writer.begin().await?;
        for h in rows {
            let seq = next_value(&mut tx, "feature_history.seq").await?;
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
        let records: Vec<HistoryRecord> = sqlx::query_as(
            "SELECT feature, at, declared, earned, status, missing, cause FROM feature_history \
             WHERE ($1 = '' OR feature = $1) ORDER BY at, feature, seq",
        )
        .bind(lookup(feature.unwrap_or("")))
        .fetch_all(&self.pool)
        .await?;
        rows(records)
    }
}
