//! The matrix: evaluation results as JSON, TIERS.md, history and badges.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::{ApiError, ApiQuery};
use crate::state::{AppState, status_str};
use crate::store::HistoryRow;
use crate::views::summary::{
    FeatureDetail, MatrixView, Summary, TargetView, detail, escape, matrix_view, summaries, targets as targets_of,
};

/// The matrix routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/matrix", get(matrix))
        .route("/api/v1/features", get(features))
        .route("/api/v1/features/{id}", get(feature))
        .route("/api/v1/targets", get(targets))
        .route("/api/v1/history", get(history))
        .route("/TIERS.md", get(tiers_md))
        .route("/badges/{file}", get(badge))
}

async fn matrix(State(state): State<AppState>) -> Json<MatrixView> {
    let live = state.live();
    Json(matrix_view(&state, &live))
}

async fn features(State(state): State<AppState>) -> Json<Vec<Summary>> {
    let live = state.live();
    Json(summaries(&state, &live))
}

async fn feature(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<FeatureDetail>, ApiError> {
    let live = state.live();
    Ok(Json(detail(&state, &live, &id).await?))
}

async fn targets(State(state): State<AppState>) -> Json<Vec<TargetView>> {
    let live = state.live();
    Json(targets_of(&state, &live))
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    feature: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<Vec<HistoryRow>>, ApiError> {
    Ok(Json(state.store.history(q.feature.as_deref()).await?))
}

async fn tiers_md(State(state): State<AppState>) -> impl IntoResponse {
    let (policy, eval) = state.snapshot();
    ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], matrix::tiers_md::render(&policy, &eval))
}

async fn badge(State(state): State<AppState>, Path(file): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let id =
        file.strip_suffix(".svg").ok_or_else(|| ApiError::NotFound("badges are `/badges/<feature>.svg`".into()))?;
    let eval = state.evaluation();
    let r = eval.feature(id).ok_or_else(|| ApiError::NotFound(format!("no feature `{id}` in the policy")))?;
    let value = match r.earned {
        Some(t) => format!("tier {} · {}", t.0, status_str(r.status)),
        None => format!("no tier · {}", status_str(r.status)),
    };
    let colour = match r.status {
        matrix::Status::Conforming => "#2e7d32",
        matrix::Status::Promotable => "#1565c0",
        matrix::Status::Stale | matrix::Status::NoTestData => "#9e9e9e",
        matrix::Status::Violating => "#c62828",
    };
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "no-cache")], svg_badge(id, &value, colour)))
}

/// A two-part badge; widths from a fixed per-character estimate.
fn svg_badge(label: &str, value: &str, colour: &str) -> String {
    let (lw, vw) = (label.chars().count() * 7 + 12, value.chars().count() * 7 + 12);
    let (label, value) = (escape(label), escape(value));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/><g fill="#fff" font-family="Verdana,sans-serif" font-size="11"><text x="6" y="14">{label}</text><text x="{vx}" y="14">{value}</text></g></svg>"##,
        w = lw + vw,
        vx = lw + 6
    )
}
