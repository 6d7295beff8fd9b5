//! The matrix: evaluation results as JSON, TIERS.md, history and badges.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use jiff::Timestamp;
use matrix::evaluate::{Missing, RequirementOutcome, TargetResult};
use matrix::{FeatureResult, Tier};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ApiQuery};
use crate::promotion::Flag;
use crate::state::{AppState, Live, status_str};
use crate::store::HistoryRow;

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

/// One feature in summary.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Summary {
    pub id: String,
    pub label: String,
    pub category: String,
    pub category_label: String,
    pub declared: Tier,
    pub earned: Option<Tier>,
    pub status: &'static str,
    pub missing_next: Vec<Missing>,
    pub failing_declared: Vec<Missing>,
    /// "promotion overdue" and "at risk", when they apply.
    pub flags: Vec<Flag>,
    /// The applied promotion behind the declared tier, when the declared
    /// tier is not the policy file's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub declared_by: Option<crate::store::DeclaredRow>,
}

/// The matrix as served.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MatrixView {
    pub runtime: String,
    pub evaluated_at: Timestamp,
    pub rounds: usize,
    pub features: Vec<Summary>,
}

/// Summaries of every feature, in policy order.
pub fn summaries(state: &AppState, live: &Live) -> Vec<Summary> {
    live.evaluation.features.iter().filter_map(|r| summary(state, live, r)).collect()
}

fn summary(state: &AppState, live: &Live, r: &FeatureResult) -> Option<Summary> {
    let policy = &live.policy;
    let f = policy.feature(&r.id)?;
    let since = live.standing_since.get(&r.id).copied().unwrap_or(live.evaluation.now);
    let file_tier = state.base_policy.feature(&r.id).map(|b| b.declared);
    Some(Summary {
        id: r.id.clone(),
        label: plain(&f.label),
        category: f.category.clone(),
        category_label: policy.category(&f.category).map_or(f.category.clone(), |c| c.label.clone()),
        declared: r.declared,
        earned: r.earned,
        status: status_str(r.status),
        missing_next: r.missing_next.clone(),
        failing_declared: r.failing_declared.clone(),
        flags: crate::promotion::flags(policy, r, since, live.evaluation.now),
        declared_by: (file_tier != Some(r.declared)).then(|| live.declared_by.get(&r.id).cloned()).flatten(),
    })
}

async fn matrix(State(state): State<AppState>) -> Json<MatrixView> {
    let live = state.live();
    Json(MatrixView {
        runtime: live.policy.runtime.name.clone(),
        evaluated_at: live.evaluation.now,
        rounds: live.evaluation.rounds,
        features: summaries(&state, &live),
    })
}

async fn features(State(state): State<AppState>) -> Json<Vec<Summary>> {
    let live = state.live();
    Json(summaries(&state, &live))
}

/// One feature in full: requirement checklist with evidence, per-target
/// results and history.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FeatureDetail {
    #[serde(flatten)]
    pub summary: Summary,
    pub owners: Vec<String>,
    pub link: Option<String>,
    pub requirements: Vec<Checklist>,
    pub targets: Vec<TargetResult>,
    pub history: Vec<HistoryRow>,
}

/// One line of a feature's checklist.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Checklist {
    pub title: String,
    #[serde(flatten)]
    pub outcome: RequirementOutcome,
}

/// Builds a feature's detail for the API.
pub async fn detail(state: &AppState, id: &str) -> Result<FeatureDetail, ApiError> {
    Ok(detail_with_series(state, id).await?.0)
}

/// [`detail`], plus the feature's results in every run and its test names,
/// for the dashboard; the evidence is indexed once for all three.
pub async fn detail_with_series(
    state: &AppState,
    id: &str,
) -> Result<(FeatureDetail, Vec<TargetResult>, std::collections::BTreeSet<String>), ApiError> {
    let not_found = || ApiError::NotFound(format!("no feature `{id}` in the policy; GET /api/v1/features lists them"));
    let (summary, owners, link, requirements, series, tests) = {
        let live = state.live();
        let r = live.evaluation.feature(id).ok_or_else(not_found)?;
        let f = live.policy.feature(id).ok_or_else(not_found)?;
        let summary = summary(state, &live, r).ok_or_else(not_found)?;
        let requirements =
            r.outcomes.iter().map(|o| Checklist { title: o.title(&live.policy), outcome: o.clone() }).collect();
        let views = matrix::evaluate::Views::new(&live.policy, &live.evidence);
        (summary, f.owners.clone(), f.link.clone(), requirements, views.feature_runs(id), views.feature_tests(id))
    };
    let detail = FeatureDetail {
        summary,
        owners,
        link,
        requirements,
        targets: matrix::evaluate::latest_per_target(series.clone()),
        history: state.store.history(Some(id)).await?,
    };
    Ok((detail, series, tests))
}

async fn feature(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<FeatureDetail>, ApiError> {
    Ok(Json(detail(&state, &id).await?))
}

/// A target feature with the latest run per compiler.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetView {
    #[serde(flatten)]
    pub summary: Summary,
    pub results: Vec<TargetResult>,
}

async fn targets(State(state): State<AppState>) -> Json<Vec<TargetView>> {
    let live = state.live();
    let index = matrix::evaluate::Views::new(&live.policy, &live.evidence);
    let views = summaries(&state, &live)
        .into_iter()
        .filter(|s| s.category == "target")
        .map(|s| {
            let results = index.target_results(&s.id);
            TargetView { summary: s, results }
        })
        .collect();
    Json(views)
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

/// A Markdown label as plain text: backslash escapes and code ticks removed.
pub fn plain(markdown: &str) -> String {
    let mut out = String::new();
    let mut chars = markdown.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            '`' => {}
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
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
