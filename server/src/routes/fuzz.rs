//! Fuzz campaigns and crash signatures.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{CampaignRow, CrashRow};

/// The fuzz routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/fuzz/campaigns", get(campaigns)).route("/api/v1/fuzz/crashes", get(crashes))
}

async fn campaigns(State(state): State<AppState>) -> Result<Json<Vec<CampaignRow>>, ApiError> {
    Ok(Json(state.store.campaigns(500).await?))
}

async fn crashes(State(state): State<AppState>) -> Result<Json<Vec<CrashRow>>, ApiError> {
    Ok(Json(state.store.crashes().await?))
}
