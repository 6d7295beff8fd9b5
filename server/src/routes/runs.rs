//! Run ingestion and run queries.

use std::collections::BTreeMap;
use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use jiff::Timestamp;
use matrix::RunReport;
use matrix::evidence::ReportError;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

use super::limit;
use crate::auth;
use crate::error::{ApiError, ApiQuery};
use crate::state::{AppState, Settings};
use crate::store::{ListedDirective, Listing, NewRun, RunRow, RunState, Runs};

/// The run routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/runs", get(list).post(ingest))
        .route("/api/v1/runs/{id}", get(show))
        .route("/api/v1/runs/{id}/directives", get(directives))
}

/// The answer to an accepted (or repeated) upload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Accepted {
    pub run_id: String,
    pub state: RunState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub duplicate: bool,
    pub changed: Vec<String>,
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
                Err(e) => e,
            });
        }
    };
    let raw = read_body(body, limit).await;
    let original = decode(headers, raw?, limit)?;
    let text = without_nul(&original);
    let report = RunReport::from_json(&text).map_err(|e| match e {
        ReportError::Json { line, column, field, message } => ApiError::Invalid {
            message: format!("line {line}, column {column}: {field}: {message}"),
            field: Some(field),
        },
        ReportError::Invalid { field, message } => {
            ApiError::Invalid { message: format!("{field}: {message}"), field: Some(field) }
        }
    })?;
    if !caller.may_report(&report.target.triple) {
        return Err(ApiError::Forbidden(format!(
            "token `{}` may report for {}; this report is for `{}`",
            caller.name,
            caller.scope(),
            report.target.triple
        )));
    }
    within_bounds(&report, &state.settings)?;
    // A dimension the policy does not know would make the run count for
    // nothing without anyone noticing: refuse it by name.
    if let Err(e) = state.base_policy.run_dimensions(&report) {
        return Err(ApiError::Invalid { message: format!("{}: {}", e.field, e.message), field: Some(e.field) });
    }
    let received_at = Timestamp::now();
    timely(&report, received_at, &state.settings)?;
    let hash = Fingerprint::of(&report, &original)?;
    if let Some(answer) = repeated(state, &report.run_id, &hash).await? {
        return Ok((StatusCode::OK, answer));
    }
    let rejection = crate::state::unused_reason(&state.base_policy, &report);
    let dimensions = state.base_policy.variant(&report);
    let new = NewRun {
        report: &report,
        json: &text,
        body_sha256: &hash.canonical,
        token_id: &caller.token_id,
        dimensions: &dimensions,
        received_at,
        state: if rejection.is_some() { RunState::Rejected } else { RunState::Received },
        state_reason: rejection.as_deref(),
    };
    if !state.store.insert_run(&new).await? {
        // Lost a race with the same run id.
        let answer = repeated(state, &report.run_id, &hash).await?;
        return answer.map(|a| (StatusCode::OK, a)).ok_or_else(|| ApiError::Conflict("run id raced".into()));
    }
    let run_id = report.run_id.clone();
    if let Some(reason) = rejection {
        let a = Accepted {
            run_id,
            state: RunState::Rejected,
            state_reason: Some(reason),
            duplicate: false,
            changed: vec![],
        };
        return Ok((StatusCode::CREATED, a));
    }
    let changed = state.add_run(report).await?;
    Ok((
        StatusCode::CREATED,
        Accepted { run_id, state: RunState::Evaluated, state_reason: None, duplicate: false, changed },
    ))
}

/// Refuses a report larger than the server keeps: more files (scripts,
/// WASI tests, fuzz campaigns) or directive outcomes than its limits, each
/// named with the flag that raises it.
fn within_bounds(report: &RunReport, settings: &Settings) -> Result<(), ApiError> {
    let files = report.spec.len() + report.wasi.len() + report.fuzz.len();
    if files > settings.max_report_files {
        return Err(ApiError::Invalid {
            message: format!(
                "the report has {files} script files, WASI tests and fuzz campaigns; this server takes at most {} \
                 (split the run into several reports, or raise --max-report-files on the server)",
                settings.max_report_files
            ),
            field: Some("spec".into()),
        });
    }
    let directives: usize = report.spec.iter().map(|f| f.directives.len()).sum();
    if directives > settings.max_report_directives {
        return Err(ApiError::Invalid {
            message: format!(
                "the report has {directives} directive outcomes; this server takes at most {} \
                 (split the run into several reports, or raise --max-report-directives on the server)",
                settings.max_report_directives
            ),
            field: Some("spec".into()),
        });
    }
    Ok(())
}

/// Refuses a report dated where no honest run can be: finished after the
/// server's clock plus the allowed skew (it would stay its target's latest
/// run for good, and keep "within N days" requirements met forever), or
/// before the evaluation horizon (it could never count).
fn timely(report: &RunReport, received_at: Timestamp, settings: &Settings) -> Result<(), ApiError> {
    let latest = received_at + settings.max_clock_skew;
    if report.finished_at > latest {
        return Err(ApiError::Invalid {
            message: format!(
                "finished-at: {} is after the server's clock ({received_at:.0}) plus the allowed skew of {} s; \
                 fix the runner's clock, or raise --max-clock-skew-seconds on the server",
                report.finished_at,
                settings.max_clock_skew.as_secs()
            ),
            field: Some("finished-at".into()),
        });
    }
    let earliest = received_at - settings.horizon;
    if report.finished_at < earliest {
        return Err(ApiError::Invalid {
            message: format!(
                "finished-at: {} is before the server's evidence horizon ({earliest:.0}, {} days back); \
                 such a run could never count",
                report.finished_at,
                settings.horizon.as_hours() / 24
            ),
            field: Some("finished-at".into()),
        });
    }
    Ok(())
}

/// The JSON text with every `\u0000` escape made `\ufffd`: PostgreSQL text
/// cannot hold NUL, and generated wasm (export names in fuzz messages) can
/// contain it. Escaped backslashes are left alone.
fn without_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("\\u0000") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let escape = &rest[i..];
        if let Some(after) = escape.strip_prefix("\\u0000") {
            out.push_str("\\ufffd");
            rest = after;
        } else {
            // Any other escape, `\\` included, is copied whole.
            let len = escape[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&escape[..len]);
            rest = &escape[len..];
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// What makes two uploads of one run id the same upload: the report's
/// canonical JSON (the parsed report written back: keys in one order, no
/// insignificant whitespace), so a retry that re-serialises the report is
/// still the same run. Runs stored before canonical fingerprints carry the
/// hash of their raw body, also compared.
struct Fingerprint {
    /// `canonical:` and the SHA-256 of the canonical JSON: what is stored.
    canonical: String,
    /// The SHA-256 of the body as sent.
    raw: String,
}

impl Fingerprint {
    fn of(report: &RunReport, body: &str) -> Result<Fingerprint, ApiError> {
        let canonical = serde_json::to_vec(report).map_err(|e| ApiError::Invalid {
            field: None,
            message: format!("the report cannot be written back as JSON: {e}"),
        })?;
        Ok(Fingerprint {
            canonical: format!("canonical:{}", auth::sha256_hex(&canonical)),
            raw: auth::sha256_hex(body.as_bytes()),
        })
    }

    fn matches(&self, stored: &str) -> bool {
        stored == self.canonical || stored == self.raw
    }
}

/// The stored answer for a repeated upload, or a conflict.
async fn repeated(state: &AppState, run_id: &str, hash: &Fingerprint) -> Result<Option<Accepted>, ApiError> {
    match state.store.run_hash(run_id).await? {
        None => Ok(None),
        Some(h) if hash.matches(&h) => {
            let row = state.store.run(run_id).await?.ok_or_else(|| ApiError::NotFound(run_id.into()))?;
            Ok(Some(Accepted {
                run_id: run_id.into(),
                state: row.state,
                state_reason: row.state_reason,
                duplicate: true,
                changed: vec![],
            }))
        }
        Some(_) => Err(ApiError::Conflict(format!(
            "run `{run_id}` was already uploaded with different content; a new run needs a new run id"
        ))),
    }
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

#[cfg(test)]
mod tests {
    use super::without_nul;

    #[test]
    fn nul_escapes_become_replacement_characters_and_nothing_else_changes() {
        assert_eq!(without_nul(r#"{"a": "x\u0000y"}"#), r#"{"a": "x\ufffdy"}"#);
        assert_eq!(without_nul(r#"{"a": "\\u0000"}"#), r#"{"a": "\\u0000"}"#, "an escaped backslash is text");
        assert_eq!(without_nul(r#"{"a": "\\\u0000"}"#), r#"{"a": "\\\ufffd"}"#);
        assert!(matches!(without_nul("{}"), std::borrow::Cow::Borrowed(_)));
    }
}
