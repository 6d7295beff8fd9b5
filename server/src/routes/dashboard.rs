//! The HTML dashboard: matrix, feature pages, runs, fuzzing, and the SSE
//! stream that makes open pages refresh when runs arrive. Reading works
//! without JavaScript; the script only reloads on updates.

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
use crate::state::AppState;
use crate::store::{CampaignRow, CrashRow, Listing, RunRow};
use crate::views::feature::{self, FeaturePage, Results};
use crate::views::grid::{Cell, Column, MatrixQuery, SORTS, STATUSES, matrix_grid};
use crate::views::run::{RunDetail, Section, detail, listing_page};
use crate::views::summary::{Summary, plain, summaries};

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
    let every = summaries(&state, &live);
    let total = every.len();
    let mut all: Vec<Summary> = every.into_iter().filter(|s| filter.keeps(s)).collect();
    filter.order(&mut all);
    let by_tier = |t: &matrix::policy::TierDef| all.iter().filter(|s| s.declared == t.tier).cloned().collect();
    let tiers = live.policy.tiers.iter().map(|t| (t.tier.0, by_tier(t))).collect();
    let counts = STATUSES.map(|st| (st, all.iter().filter(|s| s.status == st).count())).to_vec();
    let (columns, grid) = matrix_grid(&live.read, &all, &filter);
    render(&MatrixPage {
        runtime: live.policy.runtime.name.clone(),
        evaluated_at: live.evaluation.now.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        tiers,
        counts,
        columns,
        grid,
        categories: live.policy.categories.iter().map(|c| (c.id.clone(), plain(&c.label))).collect(),
        statuses: STATUSES,
        sorts: SORTS,
        tier_numbers: live.policy.tiers.iter().map(|t| t.tier.0.to_string()).collect(),
        shown: all.len(),
        total,
        filter,
    })
}

#[derive(Template)]
#[template(path = "results.html")]
struct ResultsPage {
    r: Results,
}

/// The tests a feature selects in one run, each with its counts, class and
/// first directive that did not pass: what a grid cell stands for.
async fn results(
    State(state): State<AppState>,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Html<String>, ApiError> {
    let run = state.store.run(&run_id).await?.ok_or_else(|| ApiError::NotFound(format!("no run `{run_id}`")))?;
    let live = state.live();
    render(&ResultsPage { r: feature::results(&live, &id, run)? })
}

#[derive(Template)]
#[template(path = "feature.html")]
struct FeatureHtml {
    p: FeaturePage,
}

async fn feature(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, ApiError> {
    let live = state.live();
    render(&FeatureHtml { p: feature::page(&state, &live, &id).await? })
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    runs: Vec<RunRow>,
}

async fn runs(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    render(&RunsPage { runs: state.store.runs(None, None, 200).await? })
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    r: RunDetail,
    diff: Vec<Section>,
    not_passed: Section,
}

async fn run(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, ApiError> {
    let mut r = detail(&state, &id).await?;
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
    let listed = listing_page(&state, &id, class, offset, LISTING_PAGE).await?;
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
    let hours = crate::views::charts::fuzz_per_day(&campaigns, crate::views::charts::Measure::Hours);
    let executions = crate::views::charts::fuzz_per_day(&campaigns, crate::views::charts::Measure::Executions);
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
