//! Support tables: every cell computed from evidence, as JSON and as a
//! page with a tab per architecture.

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use matrix::tables::TableResult;
use serde::Deserialize;

use crate::error::{ApiError, ApiQuery};
use crate::routes::render;
use crate::state::AppState;

/// The support-table routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tables", get(tables))
        .route("/api/v1/tables/{id}", get(table))
        .route("/tables", get(first_table))
        .route("/tables/{id}", get(page))
}

async fn tables(State(state): State<AppState>) -> Json<Vec<TableResult>> {
    Json(state.evaluation().tables.clone())
}

fn find(tables: &[TableResult], id: &str) -> Result<TableResult, ApiError> {
    tables.iter().find(|t| t.id == id).cloned().ok_or_else(|| {
        let ids: Vec<&str> = tables.iter().map(|t| t.id.as_str()).collect();
        ApiError::NotFound(format!(
            "no support table `{id}` in the policy (tables: {})",
            if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
        ))
    })
}

async fn table(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<TableResult>, ApiError> {
    Ok(Json(find(&state.evaluation().tables, &id)?))
}

async fn first_table(State(state): State<AppState>) -> Result<Response, ApiError> {
    let eval = state.evaluation();
    match eval.tables.first() {
        Some(t) => Ok(Redirect::to(&format!("/tables/{}", t.id)).into_response()),
        None => Err(ApiError::NotFound("the policy has no support tables".into())),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    arch: Option<String>,
}

/// One cell as the page shows it.
#[derive(Debug)]
struct CellView {
    class: String,
    text: String,
    title: String,
    footnote: Option<String>,
}

/// One row of the shown architecture.
#[derive(Debug)]
struct RowView {
    feature: String,
    label: String,
    cells: Vec<CellView>,
}

#[derive(askama::Template)]
#[template(path = "tables.html")]
struct TablePage {
    title: String,
    tables: Vec<(String, String)>,
    table_id: String,
    tabs: Vec<(String, String, bool)>,
    arch_label: String,
    backends: Vec<String>,
    rows: Vec<RowView>,
    legend: Vec<(String, String)>,
}

/// A support-table row as the page shows it: the feature's label, each
/// cell's level as symbol and words, its detail and failing items on hover.
fn row_view(policy: &matrix::Policy, r: &matrix::tables::RowResult) -> RowView {
    let levels = &policy.tables.levels;
    RowView {
        feature: r.feature.clone(),
        label: policy.feature(&r.feature).map_or(r.feature.clone(), |f| crate::views::summary::plain(&f.label)),
        cells: r
            .cells
            .iter()
            .map(|c| {
                let level = c.level.as_deref().and_then(|l| levels.iter().find(|x| x.id == l));
                let (class, text) = match level {
                    Some(l) => (format!("level {}", l.id), format!("{} {}", l.symbol, l.label)),
                    None => ("level none".to_owned(), "? no evidence".to_owned()),
                };
                let mut title = c.detail.clone();
                if !c.items.is_empty() {
                    title.push_str(&format!("; failing: {}", c.items.join(", ")));
                }
                CellView { class, text, title, footnote: c.footnote.clone() }
            })
            .collect(),
    }
}

async fn page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Html<String>, ApiError> {
    let (policy, eval) = state.snapshot();
    let t = find(&eval.tables, &id)?;
    let arch = match &q.arch {
        Some(a) => t.architectures.iter().find(|x| &x.id == a).ok_or_else(|| {
            let ids: Vec<&str> = t.architectures.iter().map(|x| x.id.as_str()).collect();
            ApiError::NotFound(format!("table `{id}` has no architecture `{a}` ({})", ids.join(", ")))
        })?,
        None => t.architectures.first().ok_or_else(|| ApiError::NotFound(format!("table `{id}` is empty")))?,
    };
    let levels = &policy.tables.levels;
    let rows = arch.rows.iter().map(|r| row_view(&policy, r)).collect();
    let backend_label =
        |b: &str| policy.tables.backends.iter().find(|x| x.id == b).map_or(b.to_owned(), |x| x.label.clone());
    render(&TablePage {
        title: t.title.clone(),
        tables: eval.tables.iter().map(|x| (x.id.clone(), x.title.clone())).collect(),
        table_id: t.id.clone(),
        tabs: t.architectures.iter().map(|a| (a.id.clone(), a.label.clone(), a.id == arch.id)).collect(),
        arch_label: arch.label.clone(),
        backends: t.backends.iter().map(|b| backend_label(b)).collect(),
        rows,
        legend: levels.iter().map(|l| (l.id.clone(), format!("{} {}", l.symbol, l.label))).collect(),
    })
}
