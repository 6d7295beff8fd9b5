//! Features in summary and in full, as the matrix, the feature pages and
//! the API show them.

use jiff::Timestamp;
use matrix::evaluate::{Missing, RequirementOutcome, TargetResult};
use matrix::{FeatureResult, Tier};
use serde::Serialize;

use super::{ViewError, no_feature};
use crate::promotions::rules::Flag;
use crate::state::{AppState, Live, status_str};
use crate::store::HistoryRow;

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

/// The matrix resource: every feature in summary, with when and how the
/// evaluation was made.
pub fn matrix_view(state: &AppState, live: &Live) -> MatrixView {
    MatrixView {
        runtime: live.policy.runtime.name.clone(),
        evaluated_at: live.evaluation.now,
        rounds: live.evaluation.rounds,
        features: summaries(state, live),
    }
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
        flags: crate::promotions::rules::flags(policy, r, since, live.evaluation.now),
        declared_by: (file_tier != Some(r.declared)).then(|| live.declared_by.get(&r.id).cloned()).flatten(),
    })
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

/// A feature's detail, for the API and the feature page: its summary and
/// checklist from `live`, its per-target results from the snapshot's read
/// model, its history from the store.
pub async fn detail(state: &AppState, live: &Live, id: &str) -> Result<FeatureDetail, ViewError> {
    let r = live.evaluation.feature(id).ok_or_else(|| no_feature(id))?;
    let f = live.policy.feature(id).ok_or_else(|| no_feature(id))?;
    let summary = summary(state, live, r).ok_or_else(|| no_feature(id))?;
    let requirements =
        r.outcomes.iter().map(|o| Checklist { title: o.title(&live.policy), outcome: o.clone() }).collect();
    Ok(FeatureDetail {
        summary,
        owners: f.owners.clone(),
        link: f.link.clone(),
        requirements,
        targets: live.read.target_results(id).to_vec(),
        history: state.store.history(Some(id)).await?,
    })
}

/// A target feature with the latest run per compiler.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetView {
    #[serde(flatten)]
    pub summary: Summary,
    pub results: Vec<TargetResult>,
}

/// Every target feature with its latest result per compiler.
pub fn targets(state: &AppState, live: &Live) -> Vec<TargetView> {
    summaries(state, live)
        .into_iter()
        .filter(|s| s.category == "target")
        .map(|s| TargetView { results: live.read.target_results(&s.id).to_vec(), summary: s })
        .collect()
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
