//! The HTML dashboard: matrix, feature pages, runs, fuzzing, and the SSE
//! stream that makes open pages refresh when runs arrive. Reading works
//! without JavaScript; the script only reloads on updates.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use futures_util::Stream;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use super::render;
use crate::error::ApiError;
use crate::routes::matrix::{FeatureDetail, Summary, summaries};
use crate::routes::runs::RunDetail;
use crate::state::AppState;
use crate::store::{CampaignRow, CrashRow, RunRow};

/// The dashboard routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/features/{id}", get(feature))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/fuzz", get(fuzz))
        .route("/events", get(events))
        .route("/static/style.css", get(style))
}

const STYLE: &str = include_str!("../../../templates/style.css");

/// One cell of the features × targets grid.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub class: &'static str,
    pub title: String,
}

#[derive(Template)]
#[template(path = "matrix.html")]
struct MatrixPage {
    runtime: String,
    evaluated_at: String,
    tiers: Vec<(u8, Vec<Summary>)>,
    counts: Vec<(&'static str, usize)>,
    targets: Vec<String>,
    grid: Vec<(Summary, Vec<Cell>)>,
}

async fn index(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let live = state.live();
    let eval = live.evaluation.clone();
    let all = summaries(&state, &live);
    let tiers = live
        .policy
        .tiers
        .iter()
        .map(|t| (t.tier.0, all.iter().filter(|s| s.declared == t.tier).cloned().collect()))
        .collect();
    let counts = ["conforming", "promotable", "violating", "stale", "no-test-data"]
        .map(|st| (st, all.iter().filter(|s| s.status == st).count()))
        .to_vec();
    let mut per_feature = BTreeMap::new();
    let mut targets = BTreeSet::new();
    let views = matrix::evaluate::Views::new(&live.policy, &live.evidence);
    for s in all.iter().filter(|s| s.category != "target") {
        let results = views.target_results(&s.id);
        targets.extend(results.iter().map(|r| r.target.clone()));
        per_feature.insert(s.id.clone(), results);
    }
    let targets: Vec<String> = targets.into_iter().collect();
    let grid = all
        .iter()
        .filter(|s| s.category != "target")
        .map(|s| {
            let results = &per_feature[&s.id];
            let cells = targets
                .iter()
                .map(|t| {
                    let here: Vec<_> = results.iter().filter(|r| &r.target == t).collect();
                    let (p, f) = here.iter().fold((0, 0), |(p, f), r| (p + r.passed, f + r.failed));
                    let title = here
                        .iter()
                        .map(|r| {
                            let dims =
                                if r.dimensions.is_empty() { String::new() } else { format!(" [{}]", r.dimensions) };
                            format!("{}{dims}: {} passed, {} failed ({})", r.compiler, r.passed, r.failed, r.run_id)
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    match (p, f) {
                        (0, 0) => Cell { text: "–".into(), class: "none", title: "no runs".into() },
                        (p, 0) => Cell { text: format!("{p}/{p}"), class: "pass", title },
                        (p, f) => Cell { text: format!("{p}/{}", p + f), class: "fail", title },
                    }
                })
                .collect();
            (s.clone(), cells)
        })
        .collect();
    render(&MatrixPage {
        runtime: live.policy.runtime.name.clone(),
        evaluated_at: eval.now.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        tiers,
        counts,
        targets,
        grid,
    })
}

#[derive(Template)]
#[template(path = "feature.html")]
struct FeaturePage {
    f: FeatureDetail,
    chart: String,
    flaky: Vec<(String, String, i64)>,
    no_evidence: Vec<NoEvidence>,
}

/// Directives and programs of a feature that are neither evidence for it
/// nor against it, in a target's latest run: how many, and one reason.
#[derive(Debug)]
struct NoEvidence {
    target: String,
    outcome: &'static str,
    count: usize,
    example: String,
}

async fn feature(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, ApiError> {
    let (f, series, tests) = crate::routes::matrix::detail_with_series(&state, &id).await?;
    let (flaky, no_evidence) = {
        let live = state.live();
        (
            feature_flakes(&live.policy, &live.evidence, &f.targets, &tests),
            feature_no_evidence(&live.evidence, &f.targets, &tests),
        )
    };
    render(&FeaturePage { f, chart: chart(&series), flaky, no_evidence })
}

/// What in each target's latest run of the feature's tests is no evidence
/// (`skip`, `unsupported`, `harness-error`, `timeout`), counted per outcome
/// with the first test and reason as an example.
fn feature_no_evidence(
    evidence: &matrix::Evidence,
    targets: &[matrix::evaluate::TargetResult],
    tests: &BTreeSet<String>,
) -> Vec<NoEvidence> {
    let mut out = Vec::new();
    for t in targets {
        let Some(run) = evidence.runs.iter().find(|r| r.run_id == t.run_id) else { continue };
        let rows = crate::store::directive_rows(run);
        for outcome in matrix::evidence::Outcome::ALL.into_iter().filter(|o| o.is_no_evidence()) {
            let name = outcome.as_str();
            let mine: Vec<_> = rows.iter().filter(|d| d.outcome == name && tests.contains(&d.test)).collect();
            if let Some(first) = mine.first() {
                let reason = first.message.as_deref().and_then(|m| m.lines().next()).unwrap_or("");
                out.push(NoEvidence {
                    target: t.place(),
                    outcome: name,
                    count: mine.len(),
                    example: format!("{}:{}: {reason}", first.test, first.line),
                });
            }
        }
    }
    out
}

/// Flaky directives among the feature's tests: for each target and
/// compiler, across its last five runs of the latest engine version.
fn feature_flakes(
    policy: &matrix::Policy,
    evidence: &matrix::Evidence,
    targets: &[matrix::evaluate::TargetResult],
    tests: &BTreeSet<String>,
) -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for t in targets {
        let Some(latest) = evidence.runs.iter().find(|r| r.run_id == t.run_id) else { continue };
        let mut runs: Vec<&matrix::RunReport> = evidence
            .runs
            .iter()
            .filter(|r| {
                r.target.triple == t.target
                    && r.engine.compiler == t.compiler
                    && r.engine.version == latest.engine.version
                    && policy.variant(r) == t.dimensions
            })
            .map(|r| &**r)
            .collect();
        runs.sort_by_key(|r| std::cmp::Reverse(r.finished_at));
        runs.truncate(5);
        let rows: Vec<(String, Vec<crate::store::DirectiveRow>, BTreeSet<String>)> = runs
            .iter()
            .map(|r| {
                let rows: Vec<_> =
                    crate::store::directive_rows(r).into_iter().filter(|d| tests.contains(&d.test)).collect();
                let names = rows.iter().map(|d| d.test.clone()).collect();
                (r.run_id.clone(), rows, names)
            })
            .collect();
        let views: Vec<(&str, &[crate::store::DirectiveRow], &BTreeSet<String>)> =
            rows.iter().map(|(id, r, n)| (id.as_str(), r.as_slice(), n)).collect();
        let target = t.place();
        out.extend(crate::analysis::flakes(&views).into_iter().map(|(test, line)| (target.clone(), test, line)));
    }
    out
}

/// An inline SVG of pass rate per run over time, one colour per target.
fn chart(series: &[matrix::evaluate::TargetResult]) -> String {
    if series.is_empty() {
        return "<p class=\"muted\">No runs select this feature yet.</p>".into();
    }
    let (w, h, pad) = (640.0, 180.0, 30.0);
    let t0 = series.iter().map(|r| r.at.as_second()).min().unwrap_or(0) as f64;
    let t1 = series.iter().map(|r| r.at.as_second()).max().unwrap_or(0) as f64;
    let span = (t1 - t0).max(1.0);
    let x = |t: i64| pad + (t as f64 - t0) / span * (w - 2.0 * pad);
    let y = |rate: f64| h - pad - rate * (h - 2.0 * pad);
    let palette = ["#1565c0", "#2e7d32", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#455a64"];
    let mut by_target: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for r in series {
        let total = (r.passed + r.failed).max(1) as f64;
        by_target
            // Report text goes into hand-built SVG: escape it.
            .entry(crate::routes::matrix::escape(&r.place()))
            .or_default()
            .push((r.at.as_second(), r.passed as f64 / total));
    }
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"pass rate over time\">\
         <line x1=\"{pad}\" y1=\"{y0}\" x2=\"{x1}\" y2=\"{y0}\" stroke=\"#999\"/>\
         <text x=\"2\" y=\"{yt}\" font-size=\"10\">100%</text><text x=\"2\" y=\"{y0}\" font-size=\"10\">0%</text>",
        y0 = y(0.0),
        x1 = w - pad,
        yt = y(1.0) + 4.0
    );
    for (i, (name, points)) in by_target.iter().enumerate() {
        let colour = palette[i % palette.len()];
        let pts: Vec<String> = points.iter().map(|(t, r)| format!("{:.1},{:.1}", x(*t), y(*r))).collect();
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            pts.join(" ")
        ));
        for (t, r) in points {
            svg.push_str(&format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{name}: {:.1}%</title></circle>",
                x(*t),
                y(*r),
                r * 100.0
            ));
        }
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"{colour}\">{name}</text>",
            pad + 4.0,
            12.0 + 11.0 * i as f64
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    runs: Vec<RunRow>,
}

async fn runs(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    render(&RunsPage { runs: state.store.runs(None, None, 200).await? })
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    r: RunDetail,
}

async fn run(State(state): State<AppState>, Path(id): Path<String>) -> Result<Html<String>, ApiError> {
    let mut r = crate::routes::runs::detail(&state, &id).await?;
    r.failures.truncate(500);
    render(&RunPage { r })
}

#[derive(Template)]
#[template(path = "fuzz.html")]
struct FuzzPage {
    campaigns: Vec<CampaignRow>,
    crashes: Vec<CrashRow>,
    chart: String,
}

async fn fuzz(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let campaigns = state.store.campaigns(500).await?;
    let chart = fuzz_chart(&campaigns);
    render(&FuzzPage { campaigns, crashes: state.store.crashes().await?, chart })
}

/// Fuzzing hours per day and target, as inline SVG bars.
fn fuzz_chart(campaigns: &[CampaignRow]) -> String {
    if campaigns.is_empty() {
        return "<p class=\"muted\">No fuzz campaigns reported yet.</p>".into();
    }
    let mut days: BTreeMap<String, f64> = BTreeMap::new();
    for c in campaigns {
        *days.entry(c.finished_at.strftime("%Y-%m-%d").to_string()).or_default() += c.duration_secs / 3600.0;
    }
    let max = days.values().cloned().fold(1.0, f64::max);
    let (bar, h) = (18.0, 120.0);
    let w = (40.0 + bar * 1.5 * days.len() as f64).max(480.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"fuzzing hours per day\">",
        h + 30.0
    );
    for (i, (day, hours)) in days.iter().enumerate() {
        let x = 30.0 + bar * 1.5 * i as f64;
        let bh = hours / max * h;
        svg.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"#1565c0\"><title>{day}: {hours:.1} h</title></rect>",
            h - bh + 5.0
        ));
        svg.push_str(&format!("<text x=\"{x:.1}\" y=\"{}\" font-size=\"9\">{}</text>", h + 20.0, &day[5..]));
    }
    svg.push_str(&format!("<text x=\"2\" y=\"12\" font-size=\"10\">{max:.0} h</text></svg>"));
    svg
}

async fn events(State(state): State<AppState>) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let stream = BroadcastStream::new(state.events.subscribe()).filter_map(|e| {
        let e = e.ok()?;
        Some(Ok(SseEvent::default().event("update").data(serde_json::to_string(&e).unwrap_or_default())))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css")], STYLE)
}
