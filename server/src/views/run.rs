//! A stored run as its page and the runs API show it: failures, the diff
//! against the previous comparable run, flaky directives, and listings
//! paged by the database, so a huge run costs a page of rows.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ViewError;
use crate::state::AppState;
use crate::store::{ListedDirective, Listing, RunRow, Runs};

/// How many rows of each listing a run's detail carries; the rest are a
/// paged listing away (`/api/v1/runs/{id}/directives`).
pub const FIRST_PAGE: i64 = 100;

/// What changed since the previous comparable run (same target, compiler
/// and dimensions), in four classes, each counted in full and listed up to
/// [`FIRST_PAGE`].
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunDiff {
    /// The run compared against.
    pub previous: Option<String>,
    /// How many directives each class holds.
    pub counts: BTreeMap<&'static str, i64>,
    pub regressed: Vec<ListedDirective>,
    pub fixed: Vec<ListedDirective>,
    pub new: Vec<ListedDirective>,
    pub gone: Vec<ListedDirective>,
}

impl RunDiff {
    /// The listed rows of one diff class (`NotPassed` is not one: it
    /// names the `gone` list, which it never fills).
    pub fn rows_mut(&mut self, class: Listing) -> &mut Vec<ListedDirective> {
        match class {
            Listing::Regressed => &mut self.regressed,
            Listing::Fixed => &mut self.fixed,
            Listing::New => &mut self.new,
            Listing::Gone | Listing::NotPassed => &mut self.gone,
        }
    }

    /// The full count of one class.
    pub fn count(&self, class: Listing) -> i64 {
        self.counts.get(class.as_str()).copied().unwrap_or(0)
    }
}

/// A run with its failures, what changed since the previous comparable
/// run, and flaky directives. Lists are first pages with their totals.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunRow,
    /// The first directives that did not pass, by test and line.
    pub failures: Vec<ListedDirective>,
    /// How many directives did not pass.
    pub failures_total: i64,
    pub diff: RunDiff,
    pub flaky: Vec<(String, i64)>,
    /// The engine configuration each script that did not pass ran with
    /// (part of the evidence), while the run is within the horizon.
    pub configs: BTreeMap<String, matrix::evidence::ScriptSettings>,
}

/// A stored run, or the 404 naming it.
async fn stored_run(state: &AppState, run_id: &str) -> Result<RunRow, ViewError> {
    state.store.run(run_id).await?.ok_or_else(|| ViewError::NotFound(format!("no run `{run_id}`")))
}

/// Builds a run's detail; shared by the API and the dashboard. Every list
/// is counted and cut by the database, so the detail of a huge run costs
/// a page of rows.
pub async fn detail(state: &AppState, run_id: &str) -> Result<RunDetail, ViewError> {
    let run = stored_run(state, run_id).await?;
    let previous = state.store.previous_run(&run).await?.map(|p| p.run_id);
    let runs = Runs { run: run_id, previous: previous.as_deref() };
    let store = &state.store;
    let failures = store.listing(runs, Listing::NotPassed, 0, FIRST_PAGE).await?;
    let failures_total = store.listing_count(runs, Listing::NotPassed).await?;
    let mut diff = RunDiff { previous: previous.clone(), ..RunDiff::default() };
    if previous.is_some() {
        for class in Listing::DIFF {
            diff.counts.insert(class.as_str(), store.listing_count(runs, class).await?);
            *diff.rows_mut(class) = store.listing(runs, class, 0, FIRST_PAGE).await?;
        }
    }
    let recent: Vec<String> = store.runs_up_to(&run, 5).await?.into_iter().map(|r| r.run_id).collect();
    let flaky = store.flaky(&recent).await?;
    Ok(RunDetail { run, failures, failures_total, diff, flaky, configs: not_passed_configs(state, run_id) })
}

/// The engine configuration of each script of the run with a directive
/// that did not pass, from the run's report while it is in the evidence.
fn not_passed_configs(state: &AppState, run_id: &str) -> BTreeMap<String, matrix::evidence::ScriptSettings> {
    let live = state.live();
    let report = live.evidence.runs.iter().find(|r| r.run_id == run_id);
    report
        .into_iter()
        .flat_map(|r| &r.spec)
        .filter(|f| f.directives.iter().any(|d| d.outcome != matrix::evidence::Outcome::Pass))
        .filter_map(|f| Some((f.key(), f.config.clone()?)))
        .collect()
}

/// One page of a run's listing, with its total.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ListingPage {
    pub run_id: String,
    pub class: Listing,
    /// The run a diff class compares against; none when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    pub total: i64,
    pub offset: i64,
    pub rows: Vec<ListedDirective>,
}

/// One page of a listing of a stored run.
pub async fn listing_page(
    state: &AppState,
    run_id: &str,
    class: Listing,
    offset: i64,
    limit: i64,
) -> Result<ListingPage, ViewError> {
    let run = stored_run(state, run_id).await?;
    let previous = if class.is_diff() { state.store.previous_run(&run).await?.map(|p| p.run_id) } else { None };
    let runs = Runs { run: run_id, previous: previous.as_deref() };
    let total = state.store.listing_count(runs, class).await?;
    let rows = state.store.listing(runs, class, offset, limit).await?;
    Ok(ListingPage { run_id: run.run_id, class, previous, total, offset, rows })
}

/// One listing of a run as a page shows it: its rows, its full count, and
/// whether rows were left out (a link then leads to all of them).
#[derive(Debug)]
pub struct Section {
    pub run_id: String,
    pub id: &'static str,
    pub title: &'static str,
    pub help: &'static str,
    pub diff: bool,
    pub total: i64,
    pub rows: Vec<ListedDirective>,
    pub truncated: bool,
}

impl Section {
    pub fn new(run_id: &str, class: Listing, total: i64, rows: Vec<ListedDirective>) -> Section {
        let (title, help) = describe(class);
        let truncated = total > rows.len() as i64;
        Section {
            run_id: run_id.to_owned(),
            id: class.as_str(),
            title,
            help,
            diff: class.is_diff(),
            total,
            rows,
            truncated,
        }
    }
}

/// A listing's heading and what it holds, in a reader's words.
fn describe(class: Listing) -> (&'static str, &'static str) {
    match class {
        Listing::NotPassed => ("Not passed", "Every directive of this run whose outcome was not pass."),
        Listing::Regressed => ("Regressed", "Passed in the previous comparable run, fails in this one."),
        Listing::Fixed => {
            ("Fixed", "Failed in the previous comparable run (its message is shown), passes in this one.")
        }
        Listing::New => ("New", "In this run, absent from the previous comparable run, whatever their outcome."),
        Listing::Gone => ("Gone", "In the previous comparable run, absent from this one."),
    }
}
