//! Operations: health, Prometheus metrics, the OpenAPI document.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::state::{AppState, status_str};

/// The OpenAPI document, served as written.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// The ops routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if state.store.ping().await {
        (StatusCode::OK, Json(serde_json::json!({ "status": "ok" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "database unreachable" })))
    }
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let mut out = String::new();
    let m = &state.metrics;
    out.push_str("# TYPE tierwatch_uploads_total counter\n");
    for (outcome, v) in [("accepted", &m.runs_accepted), ("duplicate", &m.runs_duplicate), ("refused", &m.runs_refused)]
    {
        let _ = writeln!(out, "tierwatch_uploads_total{{outcome=\"{outcome}\"}} {}", v.load(Ordering::Relaxed));
    }
    out.push_str("# TYPE tierwatch_runs gauge\n");
    for (st, n) in state.store.run_counts().await? {
        let _ = writeln!(out, "tierwatch_runs{{state=\"{st}\"}} {n}");
    }
    out.push_str("# TYPE tierwatch_evaluations_total counter\n");
    let _ = writeln!(out, "tierwatch_evaluations_total {}", m.evaluations.load(Ordering::Relaxed));
    out.push_str("# TYPE tierwatch_evaluation_seconds_total counter\n");
    let _ = writeln!(
        out,
        "tierwatch_evaluation_seconds_total {}",
        m.evaluation_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    out.push_str("# TYPE tierwatch_features gauge\n");
    let eval = state.evaluation().await;
    for status in
        [matrix::Status::Conforming, matrix::Status::Promotable, matrix::Status::Violating, matrix::Status::Stale]
    {
        let n = eval.features.iter().filter(|f| f.status == status).count();
        let _ = writeln!(out, "tierwatch_features{{status=\"{}\"}} {n}", status_str(status));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}
