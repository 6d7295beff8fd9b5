//! Run ingestion and run queries.

use std::collections::BTreeMap;
use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

use super::limit;
use crate::auth;
use crate::error::{ApiError, ApiQuery};
use crate::ingest::Accepted;
use crate::state::AppState;
use crate::store::{ListedDirective, Listing, RunRow, Runs};

/// The run routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/runs", get(list).post(ingest))
        .route("/api/v1/runs/{id}", get(show))
        .route("/api/v1/runs/{id}/directives", get(directives))
}

async fn ingest(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let result = accept(&state, &headers, body).await;
    let counter = match &result {
        Ok((_, a)) if a.duplicate => &state.metrics.runs_duplicate,
        Ok(_) => &state.metrics.runs_accepted,
        Err(_) => &state.metrics.runs_refused,
    };
    counter.fetch_add(1, Ordering::Relaxed);
    let (status, accepted) = result?;
    let location = format!("/api/v1/runs/{}", accepted.run_id);
    Ok((status, [(header::LOCATION, location)], Json(accepted)).into_response())
}

async fn accept(state: &AppState, headers: &HeaderMap, body: Body) -> Result<(StatusCode, Accepted), ApiError> {
    let limit = state.settings.max_body_bytes;
    let caller = match auth::authenticate(&state.store, headers).await {
        Ok(c) if c.role == auth::Role::Runner => c,
        refused => {
            // Drained without being kept, so the client reads the answer
            // rather than a reset connection mid-upload.
            drain(body, limit).await;
            return Err(match refused {
                Ok(c) => ApiError::Forbidden(format!(
                    "token `{}` has role `{}`; uploading runs needs a `runner` token",
                    c.name, c.role
                )),
                Err(e) => e.into(),
            });
        }
    };
    let raw = read_body(body, limit).await;
    let original = decode(headers, raw?, limit)?;
    let (created, accepted) = crate::ingest::take(state, &caller, &original).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, accepted))
}

/// Reads at most `limit` bytes. A larger body is still drained up to twice
/// the limit so the client reads the 413 answer instead of a reset
/// connection; beyond that the connection is dropped.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::Invalid { field: None, message: format!("cannot read the body: {e}") })?;
        seen += chunk.len();
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else if seen > limit.saturating_mul(2) {
            break;
        }
    }
    if seen > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(Bytes::from(buf))
}

/// Reads and discards up to twice `limit` bytes of a refused body.
async fn drain(body: Body, limit: usize) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut seen = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        seen += chunk.len();
        if seen > limit.saturating_mul(2) {
            break;
        }
    }
}

/// Decompresses (gzip) and checks the body is UTF-8 JSON.
fn decode(headers: &HeaderMap, raw: Bytes, limit: usize) -> Result<String, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
        && !ct.starts_with("application/json")
    {
        return Err(ApiError::Unsupported(format!("Content-Type `{ct}`: send `application/json`")));
    }
    let bytes = match headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()) {
        None | Some("identity") => raw.to_vec(),
        Some("gzip") => {
            let mut out = Vec::new();
            let mut reader = flate2::read::GzDecoder::new(&raw[..]).take(limit as u64 + 1);
            reader
                .read_to_end(&mut out)
                .map_err(|e| ApiError::Invalid { field: None, message: format!("bad gzip body: {e}") })?;
            if out.len() > limit {
                return Err(ApiError::TooLarge { limit });
            }
            out
        }
        Some(other) => return Err(ApiError::Unsupported(format!("Content-Encoding `{other}`: send gzip or none"))),
    };
    String::from_utf8(bytes).map_err(|_| ApiError::Invalid { field: None, message: "the body is not UTF-8".into() })
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    target: Option<String>,
    compiler: Option<String>,
    // Read as text so a bad value gets the API's JSON error, not axum's.
    limit: Option<String>,
}

async fn list(State(state): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> Result<Json<Vec<RunRow>>, ApiError> {
    let limit = limit(q.limit.as_deref())?;
    Ok(Json(state.store.runs(q.target.as_deref(), q.compiler.as_deref(), limit).await?))
}

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

/// A stored run, or the API's 404 naming it.
async fn stored_run(state: &AppState, run_id: &str) -> Result<RunRow, ApiError> {
    state.store.run(run_id).await?.ok_or_else(|| ApiError::NotFound(format!("no run `{run_id}`")))
}

/// Builds a run's detail; shared by the API and the dashboard. Every list
/// is counted and cut by the database, so the detail of a huge run costs
/// a page of rows.
pub async fn detail(state: &AppState, run_id: &str) -> Result<RunDetail, ApiError> {
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

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<RunDetail>, ApiError> {
    Ok(Json(detail(&state, &id).await?))
}

#[derive(Debug, Deserialize)]
struct ListingQuery {
    class: Option<String>,
    // Read as text so a bad value gets the API's JSON error, not axum's.
    offset: Option<String>,
    limit: Option<String>,
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

/// The largest `offset` a listing takes: far past any run the report
/// bounds admit.
const MAX_OFFSET: i64 = 100_000_000;

/// A listing's `class` (default `not-passed`) and `offset` (0 to
/// [`MAX_OFFSET`]), as 400s that say what to give.
pub fn listing_params(class: Option<&str>, offset: Option<&str>) -> Result<(Listing, i64), ApiError> {
    let class = Listing::parse(class.unwrap_or("not-passed")).map_err(ApiError::BadRequest)?;
    let offset = match offset {
        None => 0,
        Some(raw) => match raw.parse::<i64>() {
            Ok(n) if (0..=MAX_OFFSET).contains(&n) => n,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "offset `{raw}`: give a whole number from 0 to {MAX_OFFSET}"
                )));
            }
        },
    };
    Ok((class, offset))
}

/// One page of a listing of a stored run.
pub async fn listing_page(
    state: &AppState,
    run_id: &str,
    class: Listing,
    offset: i64,
    limit: i64,
) -> Result<ListingPage, ApiError> {
    let run = stored_run(state, run_id).await?;
    let previous = if class.is_diff() { state.store.previous_run(&run).await?.map(|p| p.run_id) } else { None };
    let runs = Runs { run: run_id, previous: previous.as_deref() };
    let total = state.store.listing_count(runs, class).await?;
    let rows = state.store.listing(runs, class, offset, limit).await?;
    Ok(ListingPage { run_id: run.run_id, class, previous, total, offset, rows })
}

async fn directives(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ListingQuery>,
) -> Result<Json<ListingPage>, ApiError> {
    let (class, offset) = listing_params(q.class.as_deref(), q.offset.as_deref())?;
    let limit = limit(q.limit.as_deref())?;
    Ok(Json(listing_page(&state, &id, class, offset, limit).await?))
}
