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
    out.push_str("# TYPE tierwatch_leader gauge\n");
    let _ = writeln!(
        out,
        "tierwatch_leader{{server=\"{}\"}} {}",
        state.server_id,
        u8::from(state.leader.load(Ordering::Relaxed))
    );
    out.push_str("# TYPE tierwatch_features gauge\n");
    let eval = state.evaluation();
    for status in matrix::Status::ALL {
        let n = eval.features.iter().filter(|f| f.status == status).count();
        let _ = writeln!(out, "tierwatch_features{{status=\"{}\"}} {n}", status_str(status));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// `#/$defs/X` references made `#/components/schemas/X`.
    fn rewrite(v: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| match (k.as_str(), x.as_str()) {
                        ("$ref", Some(r)) if r.starts_with("#/$defs/") => {
                            (k.clone(), Value::String(r.replacen("#/$defs/", "#/components/schemas/", 1)))
                        }
                        _ => (k.clone(), rewrite(x)),
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(rewrite).collect()),
            other => other.clone(),
        }
    }

    #[test]
    fn the_openapi_feature_statuses_are_every_status() {
        let doc: Value = serde_json::from_str(super::OPENAPI).expect("docs/openapi.json parses");
        let listed = &doc["components"]["schemas"]["FeatureSummary"]["properties"]["status"]["enum"];
        let every: Vec<&str> = matrix::Status::ALL.into_iter().map(crate::state::status_str).collect();
        assert_eq!(
            listed,
            &serde_json::json!(every),
            "list every status in FeatureSummary.status in docs/openapi.json"
        );
    }

    #[test]
    fn the_openapi_request_schema_is_the_wire_format() {
        let doc: Value = serde_json::from_str(super::OPENAPI).expect("docs/openapi.json parses");
        let mut schema = matrix::evidence::json_schema();
        let defs = schema.as_object_mut().and_then(|o| o.remove("$defs")).unwrap_or_default();
        if let Some(o) = schema.as_object_mut() {
            o.remove("$schema");
        }
        let components = &doc["components"]["schemas"];
        assert_eq!(components["RunReport"], rewrite(&schema), "regenerate RunReport in docs/openapi.json");
        for (name, def) in defs.as_object().expect("definitions") {
            assert_eq!(&components[name], &rewrite(def), "regenerate {name} in docs/openapi.json");
        }
    }
}
