//! The HTML dashboard: matrix, feature pages, runs, fuzzing, and the SSE
//! stream that makes open pages refresh when runs arrive. Reading works
//! without JavaScript; the script only reloads on updates.

use std::collections::BTreeSet;
use std::convert::Infallible;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use futures_util::Stream;
use serde::Deserialize;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::render;
use crate::error::{ApiError, ApiQuery};
use crate::routes::matrix::{FeatureDetail, Summary, summaries};
use crate::routes::runs::RunDetail;
use crate::state::AppState;
use crate::store::{CampaignRow, CrashRow, Listing, RunRow};
use matrix::evidence::Outcome;

/// The dashboard routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/features/{id}", get(feature))
        .route("/features/{id}/runs/{run}", get(results))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/runs/{id}/directives", get(listing))
        .route("/fuzz", get(fuzz))
        .route("/events", get(events))
        .route("/static/style.css", get(style))
}

const STYLE: &str = include_str!("../../../templates/style.css");

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
struct MatrixQuery {
    #[serde(default)]
    category: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    tier: String,
    #[serde(default)]
    target: String,
    /// How rows are ordered within each tier: the policy's order (empty),
    /// or by `label`, `status` or `earned`.
    #[serde(default)]
    sort: String,
}

/// The orders the matrix's rows can be sorted in, besides the policy's.
const SORTS: [&str; 3] = ["label", "status", "earned"];

/// The statuses a feature can have, in the order the page counts them.
const STATUSES: [&str; 5] = ["conforming", "promotable", "violating", "stale", "no-test-data"];

impl MatrixQuery {
    /// Refuses a filter value that would match nothing by construction
    /// (a category, status or tier the policy does not have), naming the
    /// choices.
    fn check(&self, policy: &matrix::Policy) -> Result<(), ApiError> {
        let unknown = |what: &str, value: &str, choices: Vec<String>| {
            Err(ApiError::BadRequest(format!("{what} `{value}` is not one of {}", choices.join(", "))))
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
    fn order(&self, rows: &mut [Summary]) {
        match self.sort.as_str() {
            "label" => rows.sort_by_key(|s| s.label.to_lowercase()),
            "status" => rows.sort_by_key(|s| STATUSES.iter().position(|st| *st == s.status)),
            "earned" => rows.sort_by_key(|s| s.earned.map_or(u8::MAX, |t| t.0)),
            _ => {}
        }
    }

    fn keeps(&self, s: &Summary) -> bool {
        (self.category.is_empty() || s.category == self.category)
            && (self.status.is_empty() || s.status == self.status)
            && (self.tier.is_empty() || s.declared.0.to_string() == self.tier)
    }

    fn keeps_column(&self, c: &Column) -> bool {
        self.target.is_empty() || c.target.contains(self.target.as_str())
    }
}

#[derive(Template)]
#[template(path = "matrix.html")]
struct MatrixPage {
    runtime: String,
    evaluated_at: String,
    tiers: Vec<(u8, Vec<Summary>)>,
    counts: Vec<(&'static str, usize)>,
    columns: Vec<Column>,
    grid: Vec<(Summary, Vec<Cell>)>,
    filter: MatrixQuery,
    categories: Vec<(String, String)>,
    statuses: [&'static str; 5],
    sorts: [&'static str; 3],
    tier_numbers: Vec<String>,
    shown: usize,
    total: usize,
}

async fn index(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<MatrixQuery>,
) -> Result<Html<String>, ApiError> {
    let live = state.live();
    filter.check(&live.policy)?;
    let eval = live.evaluation.clone();
    let every = summaries(&state, &live);
    let total = every.len();
    let mut all: Vec<Summary> = every.into_iter().filter(|s| filter.keeps(s)).collect();
    filter.order(&mut all);
    let by_tier = |t: &matrix::policy::TierDef| all.iter().filter(|s| s.declared == t.tier).cloned().collect();
    let tiers = live.policy.tiers.iter().map(|t| (t.tier.0, by_tier(t))).collect();
    let counts = STATUSES.map(|st| (st, all.iter().filter(|s| s.status == st).count())).to_vec();
    let views = matrix::evaluate::Views::new(&live.policy, &live.evidence);
    let (columns, grid) = matrix_grid(&views, &all, &filter);
    render(&MatrixPage {
        runtime: live.policy.runtime.name.clone(),
        evaluated_at: eval.now.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        tiers,
        counts,
        columns,
        grid,
        categories: live.policy.categories.iter().map(|c| (c.id.clone(), super::matrix::plain(&c.label))).collect(),
        statuses: STATUSES,
        sorts: SORTS,
        tier_numbers: live.policy.tiers.iter().map(|t| t.tier.0.to_string()).collect(),
        shown: all.len(),
        total,
        filter,
    })
}

/// The matrix grid: a column per target, compiler and dimensions that some
/// shown non-target feature has results for (and the filter keeps), a row
/// per such feature.
fn matrix_grid(
    views: &matrix::evaluate::Views<'_>,
    all: &[Summary],
    filter: &MatrixQuery,
) -> (Vec<Column>, Vec<(Summary, Vec<Cell>)>) {
    let rows: Vec<(&Summary, Vec<matrix::evaluate::TargetResult>)> =
        all.iter().filter(|s| s.category != "target").map(|s| (s, views.target_results(&s.id))).collect();
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

/// One test of a feature in one run.
#[derive(Debug)]
struct TestLine {
    test: String,
    passed: usize,
    failed: usize,
    no_evidence: usize,
    /// `fail` when a directive failed, else the first outcome that is no
    /// evidence, else `pass`.
    class: &'static str,
    /// The first directive that did not pass: line, directive, outcome, message.
    first: Option<(u32, String, &'static str, String)>,
}

impl TestLine {
    fn of<'a>(test: String, outcomes: impl Iterator<Item = (u32, &'a str, Outcome, Option<&'a str>)>) -> TestLine {
        let mut line = TestLine { test, passed: 0, failed: 0, no_evidence: 0, class: "pass", first: None };
        for (at, kind, outcome, message) in outcomes {
            match outcome {
                Outcome::Pass => line.passed += 1,
                Outcome::Fail => line.failed += 1,
                _ => line.no_evidence += 1,
            }
            if outcome == Outcome::Fail {
                line.class = "fail";
            } else if outcome != Outcome::Pass && line.class == "pass" {
                line.class = outcome.as_str();
            }
            if outcome != Outcome::Pass && line.first.is_none() {
                let message = message.and_then(|m| m.lines().next()).unwrap_or("").to_owned();
                line.first = Some((at, kind.to_owned(), outcome.as_str(), message));
            }
        }
        line
    }
}

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    feature: String,
    label: String,
    place: String,
    run: RunRow,
    passed: usize,
    failed: usize,
    no_evidence: usize,
    tests: Vec<TestLine>,
}

/// The tests a feature selects in one run, each with its counts, class and
/// first directive that did not pass: what a grid cell stands for.
async fn results(
    State(state): State<AppState>,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Html<String>, ApiError> {
    let run = state.store.run(&run_id).await?.ok_or_else(|| ApiError::NotFound(format!("no run `{run_id}`")))?;
    let live = state.live();
    let f = live.policy.feature(&id).ok_or_else(|| {
        ApiError::NotFound(format!("no feature `{id}` in the policy; GET /api/v1/features lists them"))
    })?;
    let report = live.evidence.runs.iter().find(|r| r.run_id == run_id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "run `{run_id}` is not in the evidence the matrix reads (rejected, or older than the horizon)"
        ))
    })?;
    let selected = matrix::evaluate::Views::new(&live.policy, &live.evidence).run_tests(&id, &run_id);
    if selected.is_empty() {
        return Err(ApiError::NotFound(format!("feature `{id}` selects no test in run `{run_id}`")));
    }
    let mut tests = test_lines(report, &selected);
    // What needs a reader's eyes first: failures, then no evidence.
    tests.sort_by_key(|t| (t.class == "pass", t.class != "fail", t.test.clone()));
    let place = matrix::evaluate::place(&run.target, &run.compiler, &run.dimensions);
    render(&ResultsPage {
        feature: id.clone(),
        label: crate::routes::matrix::plain(&f.label),
        place,
        passed: tests.iter().map(|t| t.passed).sum(),
        failed: tests.iter().map(|t| t.failed).sum(),
        no_evidence: tests.iter().map(|t| t.no_evidence).sum(),
        tests,
        run,
    })
}

/// One line per test of `report` among `selected` (script files and WASI
/// tests, by key).
fn test_lines(report: &matrix::RunReport, selected: &BTreeSet<String>) -> Vec<TestLine> {
    report
        .spec
        .iter()
        .filter(|file| selected.contains(&file.key()))
        .map(|file| {
            TestLine::of(
                file.key(),
                file.directives.iter().map(|d| (d.line, d.kind.as_str(), d.outcome, d.message.as_deref())),
            )
        })
        .chain(
            report
                .wasi
                .iter()
                .filter(|w| selected.contains(&w.key()))
                .map(|w| TestLine::of(w.key(), std::iter::once((0, "wasi", w.outcome, w.message.as_deref())))),
        )
        .collect()
}

/// How many days a feature's history strip shows.
const STRIP_DAYS: i64 = 30;

#[derive(Template)]
#[template(path = "feature.html")]
struct FeaturePage {
    f: FeatureDetail,
    chart: String,
    strip: String,
    flaky: Vec<(String, String, i64)>,
    no_evidence: Vec<NoEvidence>,
}

/// Directives and programs of a feature that are neither evidence for it
/// nor against it, in a target's latest run: how many, and one reason.
#[derive(Debug)]
struct NoEvidence {
    target: String,
    outcome: &'static str,
    count: usize,
    example: String,
}

async fn feature(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, ApiError> {
    let (f, series, tests) = crate::routes::matrix::detail_with_series(&state, &id).await?;
    let (flaky, no_evidence) = {
        let live = state.live();
        (
            feature_flakes(&live.policy, &live.evidence, &f.targets, &tests),
            feature_no_evidence(&live.evidence, &f.targets, &tests),
        )
    };
    let strip = crate::charts::history_strip(&crate::charts::days(&f.history, jiff::Timestamp::now(), STRIP_DAYS));
    render(&FeaturePage { f, chart: crate::charts::pass_rate(&series), strip, flaky, no_evidence })
}

/// What in each target's latest run of the feature's tests is no evidence
/// (`skip`, `unsupported`, `harness-error`, `timeout`), counted per outcome
/// with the first test and reason as an example.
fn feature_no_evidence(
    evidence: &matrix::Evidence,
    targets: &[matrix::evaluate::TargetResult],
    tests: &BTreeSet<String>,
) -> Vec<NoEvidence> {
    let mut out = Vec::new();
    for t in targets {
        let Some(run) = evidence.runs.iter().find(|r| r.run_id == t.run_id) else { continue };
        let rows = crate::store::directive_rows(run);
        for outcome in Outcome::ALL.into_iter().filter(|o| o.is_no_evidence()) {
            let name = outcome.as_str();
            let mine: Vec<_> = rows.iter().filter(|d| d.outcome == name && tests.contains(&d.test)).collect();
            if let Some(first) = mine.first() {
                let reason = first.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("");
                out.push(NoEvidence {
                    target: t.place(),
                    outcome: name,
                    count: mine.len(),
                    example: format!("{}:{}: {reason}", first.test, first.line),
                });
            }
        }
    }
    out
}

/// Flaky directives among the feature's tests: for each target and
/// compiler, across its last five runs of the latest engine version.
fn feature_flakes(
    policy: &matrix::Policy,
    evidence: &matrix::Evidence,
    targets: &[matrix::evaluate::TargetResult],
    tests: &BTreeSet<String>,
) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for t in targets {
        let Some(latest) = evidence.runs.iter().find(|r| r.run_id == t.run_id) else { continue };
        let mut runs: Vec<&matrix::RunReport> = evidence
            .runs
            .iter()
            .filter(|r| {
                r.target.triple == t.target
                    && r.engine.compiler == t.compiler
                    && r.engine.version == latest.engine.version
                    && policy.variant(r) == t.dimensions
            })
            .map(|r| &**r)
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.finished_at));
        runs.truncate(5);
        let rows: Vec<(String, Vec<crate::store::DirectiveRow>, BTreeSet<String>)> = runs
            .iter()
            .map(|r| {
                let rows: Vec<_> =
                    crate::store::directive_rows(r).into_iter().filter(|d| tests.contains(&d.test)).collect();
                let names = rows.iter().map(|d| d.test.clone()).collect();
                (r.run_id.clone(), rows, names)
            })
            .collect();
        let views: Vec<(&str, &[crate::store::DirectiveRow], &BTreeSet<String>)> =
            rows.iter().map(|(id, r, n)| (id.as_str(), r.as_slice(), n)).collect();
        let target = t.place();
        out.extend(crate::analysis::flakes(&views).into_iter().map(|(test, line)| (target.clone(), test, line)));
    }
    out
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    runs: Vec<RunRow>,
}

async fn runs(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    render(&RunsPage { runs: state.store.runs(None, None, 200).await? })
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
    pub rows: Vec<crate::store::ListedDirective>,
    pub truncated: bool,
}

impl Section {
    fn new(run_id: &str, class: Listing, total: i64, rows: Vec<crate::store::ListedDirective>) -> Section {
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

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    r: RunDetail,
    diff: Vec<Section>,
    not_passed: Section,
}

async fn run(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, ApiError> {
    let mut r = crate::routes::runs::detail(&state, &id).await?;
    let diff = Listing::DIFF
        .into_iter()
        .map(|class| {
            let rows = std::mem::take(r.diff.rows_mut(class));
            Section::new(&id, class, r.diff.count(class), rows)
        })
        .collect();
    let not_passed = Section::new(&id, Listing::NotPassed, r.failures_total, std::mem::take(&mut r.failures));
    render(&RunPage { r, diff, not_passed })
}

/// Rows of a listing per page of `/runs/{id}/directives`.
const LISTING_PAGE: i64 = 200;

#[derive(Debug, Deserialize)]
struct ListingQuery {
    class: Option<String>,
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "directives.html")]
struct ListingHtml {
    s: Section,
    previous: Option<String>,
    page: i64,
    pages: i64,
    first: i64,
    last: i64,
    prev_page: Option<i64>,
    next_page: Option<i64>,
}

async fn listing(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ListingQuery>,
) -> Result<Html<String>, ApiError> {
    let (class, _) = crate::routes::runs::listing_params(q.class.as_deref(), None)?;
    let page = match q.page.as_deref() {
        None => 1,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => return Err(ApiError::BadRequest(format!("page `{raw}`: give a whole number from 1 to {MAX_PAGE}"))),
        },
    };
    let offset = (page - 1) * LISTING_PAGE;
    let listed = crate::routes::runs::listing_page(&state, &id, class, offset, LISTING_PAGE).await?;
    let pages = ((listed.total + LISTING_PAGE - 1) / LISTING_PAGE).max(1);
    let shown = listed.rows.len() as i64;
    let mut s = Section::new(&id, class, listed.total, listed.rows);
    s.truncated = false;
    render(&ListingHtml {
        s,
        previous: listed.previous,
        page,
        pages,
        first: offset + 1,
        last: offset + shown,
        prev_page: (page > 1).then(|| (page - 1).min(pages)),
        next_page: (page < pages).then_some(page + 1),
    })
}

/// The last page `/runs/{id}/directives` takes.
const MAX_PAGE: i64 = 500_000;

#[derive(Template)]
#[template(path = "fuzz.html")]
struct FuzzPage {
    campaigns: Vec<CampaignRow>,
    crashes: Vec<CrashRow>,
    hours: String,
    executions: String,
}

async fn fuzz(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let campaigns = state.store.campaigns(500).await?;
    let hours = crate::charts::fuzz_per_day(&campaigns, crate::charts::Measure::Hours);
    let executions = crate::charts::fuzz_per_day(&campaigns, crate::charts::Measure::Executions);
    render(&FuzzPage { campaigns, crashes: state.store.crashes().await?, hours, executions })
}

async fn events(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(state.events.subscribe()).filter_map(|e| {
        let e = e.ok()?;
        Some(Ok(SseEvent::default().event("update").data(serde_json::to_string(&e).unwrap_or_default())))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css")], STYLE)
}
