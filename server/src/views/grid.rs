//! The matrix page's grid and filters: a row per feature, a column per
//! target, compiler and dimensions, each cell the pass share of the
//! feature's tests in that place's latest run.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::ViewError;
use super::summary::Summary;

/// One cell of the features × (target, compiler) grid: the share of the
/// feature's directives and programs that passed in that place's latest
/// run, linked to the tests behind it.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub class: &'static str,
    pub title: String,
    pub href: Option<String>,
}

/// A column of the grid: one target, compiler and set of run dimensions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub target: String,
    pub compiler: String,
    pub dimensions: String,
}

/// The matrix filters, as the URL carries them; empty means all.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatrixQuery {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub tier: String,
    #[serde(default)]
    pub target: String,
    /// How rows are ordered within each tier: the policy's order (empty),
    /// or by `label`, `status` or `earned`.
    #[serde(default)]
    pub sort: String,
}

/// The orders the matrix's rows can be sorted in, besides the policy's.
pub const SORTS: [&str; 3] = ["label", "status", "earned"];

/// The statuses a feature can have, in the order the page counts them.
pub const STATUSES: [&str; 5] = ["conforming", "promotable", "violating", "stale", "no-test-data"];

impl MatrixQuery {
    /// Refuses a filter value that would match nothing by construction
    /// (a category, status or tier the policy does not have), naming the
    /// choices.
    pub fn check(&self, policy: &matrix::Policy) -> Result<(), ViewError> {
        let unknown = |what: &str, value: &str, choices: Vec<String>| {
            Err(ViewError::BadRequest(format!("{what} `{value}` is not one of {}", choices.join(", "))))
        };
        if !self.category.is_empty() && !policy.categories.iter().any(|c| c.id == self.category) {
            return unknown("category", &self.category, policy.categories.iter().map(|c| c.id.clone()).collect());
        }
        if !self.status.is_empty() && !STATUSES.contains(&self.status.as_str()) {
            return unknown("status", &self.status, STATUSES.iter().map(|s| (*s).to_owned()).collect());
        }
        if !self.tier.is_empty() && !policy.tiers.iter().any(|t| t.tier.0.to_string() == self.tier) {
            return unknown("tier", &self.tier, policy.tiers.iter().map(|t| t.tier.0.to_string()).collect());
        }
        if !self.sort.is_empty() && !SORTS.contains(&self.sort.as_str()) {
            return unknown("sort", &self.sort, SORTS.iter().map(|s| (*s).to_owned()).collect());
        }
        Ok(())
    }

    /// Orders rows as `sort` asks: labels alphabetically, statuses in the
    /// order the page counts them, earned tiers best first (none last);
    /// ties keep the policy's order.
    pub fn order(&self, rows: &mut [Summary]) {
        match self.sort.as_str() {
            "label" => rows.sort_by_key(|s| s.label.to_lowercase()),
            "status" => rows.sort_by_key(|s| STATUSES.iter().position(|st| *st == s.status)),
            "earned" => rows.sort_by_key(|s| s.earned.map_or(u8::MAX, |t| t.0)),
            _ => {}
        }
    }

    pub fn keeps(&self, s: &Summary) -> bool {
        (self.category.is_empty() || s.category == self.category)
            && (self.status.is_empty() || s.status == self.status)
            && (self.tier.is_empty() || s.declared.0.to_string() == self.tier)
    }

    pub fn keeps_column(&self, c: &Column) -> bool {
        self.target.is_empty() || c.target.contains(self.target.as_str())
    }
}

/// The matrix grid: a column per target, compiler and dimensions that some
/// shown non-target feature has results for (and the filter keeps), a row
/// per such feature.
pub fn matrix_grid(
    read: &matrix::evaluate::ReadModel,
    all: &[Summary],
    filter: &MatrixQuery,
) -> (Vec<Column>, Vec<(Summary, Vec<Cell>)>) {
    let rows: Vec<(&Summary, &[matrix::evaluate::TargetResult])> =
        all.iter().filter(|s| s.category != "target").map(|s| (s, read.target_results(&s.id))).collect();
    let column = |r: &matrix::evaluate::TargetResult| Column {
        target: r.target.clone(),
        compiler: r.compiler.clone(),
        dimensions: r.dimensions.clone(),
    };
    let columns: Vec<Column> = rows
        .iter()
        .flat_map(|(_, results)| results.iter().map(column))
        .filter(|c| filter.keeps_column(c))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let grid: Vec<(Summary, Vec<Cell>)> = rows
        .iter()
        .map(|(s, results)| {
            let cells = columns.iter().map(|c| cell(s, results.iter().find(|r| &column(r) == c))).collect();
            ((*s).clone(), cells)
        })
        .collect();
    (columns, grid)
}

/// A grid cell: the pass share (rounded down, so only a clean run shows
/// 100%), the counts on hover, and a link to the tests behind it.
fn cell(s: &Summary, result: Option<&matrix::evaluate::TargetResult>) -> Cell {
    let Some(r) = result else {
        return Cell {
            text: "–".into(), class: "none", title: "no run selects this feature here".into(), href: None
        };
    };
    let run = r.passed + r.failed;
    let title =
        format!("{}: {} passed, {} failed, {} no evidence ({})", r.place(), r.passed, r.failed, r.skipped, r.run_id);
    let href = Some(format!("/features/{}/runs/{}", s.id, r.run_id));
    if run == 0 {
        return Cell { text: "n/e".into(), class: "none", title, href };
    }
    let text = format!("{}%", r.passed * 100 / run);
    Cell { text, class: if r.failed == 0 { "pass" } else { "fail" }, title, href }
}
