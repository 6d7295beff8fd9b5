//! A run's directives as listings computed in the database: what did not
//! pass, and the four classes of the diff against the previous comparable
//! run (same target, compiler and dimensions). Each listing is counted and
//! paged by the database, so a page of a run with a million directives
//! holds one page of rows, never the run.
//!
//! A directive is known by its test and line in both runs.

use sqlx::{FromRow, Row};

use super::{Result, Store, lookup};

/// Which of a run's directives a listing holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Listing {
    /// Every directive of the run whose outcome is not `pass`.
    NotPassed,
    /// Passed in the previous comparable run, fails now.
    Regressed,
    /// Failed in the previous comparable run, passes now.
    Fixed,
    /// In this run, absent from the previous one (any outcome).
    New,
    /// In the previous run, absent from this one.
    Gone,
}

impl Listing {
    /// Every listing, in the order pages show them.
    pub const ALL: [Listing; 5] = [Listing::NotPassed, Listing::Regressed, Listing::Fixed, Listing::New, Listing::Gone];
    /// The four diff classes.
    pub const DIFF: [Listing; 4] = [Listing::Regressed, Listing::Fixed, Listing::New, Listing::Gone];

    /// The name used in URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Listing::NotPassed => "not-passed",
            Listing::Regressed => "regressed",
            Listing::Fixed => "fixed",
            Listing::New => "new",
            Listing::Gone => "gone",
        }
    }

    /// Reads a listing's name; an unknown one is `Err` with the names there are.
    pub fn parse(name: &str) -> Result<Listing, String> {
        Listing::ALL.into_iter().find(|l| l.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = Listing::ALL.iter().map(|l| l.as_str()).collect();
            format!("class `{name}` is not one of {}", names.join(", "))
        })
    }

    /// Whether the listing compares with a previous run.
    pub fn is_diff(self) -> bool {
        self != Listing::NotPassed
    }

    /// The rows of the listing, ordered by test and line. `$1` is the run,
    /// `$2` the previous run when [`Listing::is_diff`].
    fn select(self) -> &'static str {
        match self {
            Listing::NotPassed => {
                "SELECT c.test, c.line, c.kind, c.outcome AS now_outcome, CAST(NULL AS TEXT) AS before_outcome, c.message \
                 FROM directives c WHERE c.run_id = $1 AND c.outcome <> 'pass'"
            }
            Listing::Regressed => {
                "SELECT c.test, c.line, c.kind, c.outcome AS now_outcome, p.outcome AS before_outcome, c.message \
                 FROM directives c JOIN directives p ON p.run_id = $2 AND p.test = c.test AND p.line = c.line \
                 WHERE c.run_id = $1 AND c.outcome = 'fail' AND p.outcome = 'pass'"
            }
            // The message of a fixed directive is why it failed before. The
            // join starts from the previous run's few failures (its test and
            // line selected, so ordering by them does too), not from this
            // run's passes: a second on a run of a million.
            Listing::Fixed => {
                "SELECT p.test, p.line, c.kind, c.outcome AS now_outcome, p.outcome AS before_outcome, p.message \
                 FROM directives p JOIN directives c ON c.run_id = $1 AND c.test = p.test AND c.line = p.line \
                 WHERE p.run_id = $2 AND p.outcome = 'fail' AND c.outcome = 'pass'"
            }
            Listing::New => {
                "SELECT c.test, c.line, c.kind, c.outcome AS now_outcome, CAST(NULL AS TEXT) AS before_outcome, c.message \
                 FROM directives c WHERE c.run_id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM directives p WHERE p.run_id = $2 AND p.test = c.test AND p.line = c.line)"
            }
            Listing::Gone => {
                "SELECT p.test, p.line, p.kind, CAST(NULL AS TEXT) AS now_outcome, p.outcome AS before_outcome, p.message \
                 FROM directives p WHERE p.run_id = $2 AND NOT EXISTS \
                 (SELECT 1 FROM directives c WHERE c.run_id = $1 AND c.test = p.test AND c.line = p.line)"
            }
        }
    }
}

/// One directive of a listing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
#[serde(rename_all = "kebab-case")]
pub struct ListedDirective {
    pub test: String,
    pub line: i64,
    pub kind: String,
    /// The outcome in this run; none for a directive that is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[sqlx(rename = "now_outcome")]
    pub outcome: Option<String>,
    /// The outcome in the previous comparable run, for a diff class.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[sqlx(rename = "before_outcome")]
    pub before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Where a listing is taken from: the run and, for diff classes, the run
/// compared against.
#[derive(Debug, Clone, Copy)]
pub struct Runs<'a> {
    pub run: &'a str,
    pub previous: Option<&'a str>,
}

impl Store {
    /// How many directives `listing` holds; 0 for a diff class without a
    /// previous run.
    pub async fn listing_count(&self, runs: Runs<'_>, listing: Listing) -> Result<i64> {
        let Some(query) = bind(runs, listing, format!("SELECT COUNT(*) AS n FROM ({}) listed", listing.select()))
        else {
            return Ok(0);
        };
        Ok(query.fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// One page of `listing`: `limit` rows from `offset`, by test and line.
    pub async fn listing(
        &self,
        runs: Runs<'_>,
        listing: Listing,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<ListedDirective>> {
        let (lim, off) = if listing.is_diff() { (3, 4) } else { (2, 3) };
        // By position: in a join, `test` would name two columns.
        let sql = format!("{} ORDER BY 1, 2 LIMIT ${lim} OFFSET ${off}", listing.select());
        let Some(query) = bind(runs, listing, sql) else { return Ok(Vec::new()) };
        let records = query.bind(limit).bind(offset).fetch_all(&self.pool).await?;
        records.iter().map(|r| Ok(ListedDirective::from_row(r)?)).collect()
    }

    /// Directives that failed in some but not all of `run_ids` (runs of one
    /// target, compiler, dimensions and engine version), among the tests
    /// present in every one of them; by test and line.
    pub async fn flaky(&self, run_ids: &[String]) -> Result<Vec<(String, i64)>> {
        if run_ids.len() < 2 {
            return Ok(Vec::new());
        }
        let n = run_ids.len();
        let list = (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
        // A test counts when every run has it: one index probe per run and
        // failing directive, rather than counting each failing test's
        // directives across the runs (seconds on a run of a million).
        let present: String = (1..=n)
            .map(|i| format!(" AND EXISTS (SELECT 1 FROM directives t WHERE t.run_id = ${i} AND t.test = f.test)"))
            .collect();
        let sql = format!(
            "SELECT f.test, f.line FROM directives f WHERE f.run_id IN ({list}) AND f.outcome = 'fail'{present} \
             GROUP BY f.test, f.line HAVING COUNT(DISTINCT f.run_id) < ${n1} ORDER BY f.test, f.line",
            n1 = n + 1
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in run_ids {
            query = query.bind(lookup(id));
        }
        let records = query.bind(n as i64).fetch_all(&self.pool).await?;
        records.iter().map(|r| Ok(<(String, i64)>::from_row(r)?)).collect()
    }
}

/// The query with the runs bound, or none for a diff class without a
/// previous run.
fn bind(
    runs: Runs<'_>,
    listing: Listing,
    sql: String,
) -> Option<sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments>> {
    let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(lookup(runs.run));
    if !listing.is_diff() {
        return Some(query);
    }
    Some(query.bind(lookup(runs.previous?)))
}

#[cfg(test)]
mod tests {
    use super::Listing;

    #[test]
    fn listing_names_read_back_and_an_unknown_one_names_the_choices() {
        for l in Listing::ALL {
            assert_eq!(Listing::parse(l.as_str()), Ok(l));
        }
        assert_eq!(
            Listing::parse("regresed"),
            Err("class `regresed` is not one of not-passed, regressed, fixed, new, gone".to_owned())
        );
    }
}
