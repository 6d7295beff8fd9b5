//! Run ingestion and run queries.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::atomic::Ordering;

use super::limit;
use crate::auth;
use crate::error::{ApiError, ApiQuery};
use crate::ingest::Accepted;
use crate::state::AppState;
use crate::store::{Listing, RunRow};
use crate::views::run::{ListingPage, RunDetail, detail, listing_page};

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

async fn directives(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ListingQuery>,
) -> Result<Json<ListingPage>, ApiError> {
    let (class, offset) = listing_params(q.class.as_deref(), q.offset.as_deref())?;
    let limit = limit(q.limit.as_deref())?;
    Ok(Json(listing_page(&state, &id, class, offset, limit).await?))
}
