//! Shared server state: the store, the validated policy, the evidence in the
//! evaluation horizon and the current evaluation, and the live-event channel.
//!
//! Evidence is kept in memory (the store is the durable copy) so the matrix
//! is recomputed without re-reading reports. Every recomputation compares
//! with the previous evaluation and records what changed in the history.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};
use matrix::{Evaluation, Evidence, Policy, RunReport};
use tokio::sync::{RwLock, broadcast};

use crate::store::{HistoryRow, Store, StoreError};

/// Settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest accepted request body, after decompression too.
    pub max_body_bytes: usize,
    /// How far back evidence is kept in the evaluation; at least twice the
    /// policy's longest evidence window whatever is set here.
    pub horizon: SignedDuration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_body_bytes: 64 * 1024 * 1024, horizon: SignedDuration::from_hours(24 * 90) }
    }
}

/// A live event for dashboards.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Event {
    /// `run` when a run arrived, `clock` when windows moved.
    pub kind: String,
    /// The run that caused it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Features whose earned tier or status changed.
    pub changed: Vec<String>,
}

/// What the dashboard and API read.
#[derive(Debug)]
pub struct Live {
    /// Accepted runs within the horizon.
    pub evidence: Evidence,
    /// The current evaluation.
    pub evaluation: Arc<Evaluation>,
}

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    pub runs_accepted: AtomicU64,
    pub runs_duplicate: AtomicU64,
    pub runs_refused: AtomicU64,
    pub evaluations: AtomicU64,
    pub evaluation_micros: AtomicU64,
}

/// The state every handler gets.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub store: Store,
    pub policy: Arc<Policy>,
    pub settings: Settings,
    pub live: RwLock<Live>,
    pub events: broadcast::Sender<Event>,
    pub metrics: Metrics,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Loads the evidence within the horizon and evaluates it, recording a
    /// history entry for every feature whose standing differs from the last
    /// one recorded.
    pub async fn start(store: Store, policy: Policy, mut settings: Settings) -> Result<AppState, StoreError> {
        let now = Timestamp::now();
        settings.horizon = settings.horizon.max(horizon_for(&policy));
        let since = now - settings.horizon;
        let mut runs = store.reports_since(since, "rejected", true).await?;
        // A policy change may make a rejected run useful: look again.
        for r in store.reports_since(since, "rejected", false).await? {
            if unused_reason(&policy, &r).is_none() {
                store.set_state(&r.run_id, "evaluated", None).await?;
                runs.push(r);
            }
        }
        runs.sort_by(|a, b| (a.finished_at, &a.run_id).cmp(&(b.finished_at, &b.run_id)));
        let policy = Arc::new(policy);
        let evaluation = Arc::new(matrix::evaluate(&policy, &Evidence { runs: runs.clone() }, now));
        let (events, _) = broadcast::channel(64);
        let state = AppState(Arc::new(Inner {
            store,
            policy,
            settings,
            live: RwLock::new(Live { evidence: Evidence { runs }, evaluation: evaluation.clone() }),
            events,
            metrics: Metrics::default(),
        }));
        let recorded = state.store.history(None).await?;
        let changes = changes_since_recorded(&recorded, &evaluation, "start");
        state.store.append_history(&changes).await?;
        let settled = state.store.settle_received().await?;
        if settled > 0 {
            tracing::info!(runs = settled, "evaluated runs stored before the last stop");
        }
        Ok(state)
    }

    /// The current evaluation.
    pub async fn evaluation(&self) -> Arc<Evaluation> {
        self.live.read().await.evaluation.clone()
    }

    /// Adds an accepted run to the evidence and re-evaluates. Returns the
    /// features whose standing changed.
    pub async fn add_run(&self, report: RunReport) -> Result<Vec<String>, StoreError> {
        let run_id = report.run_id.clone();
        let mut live = self.live.write().await;
        live.evidence.runs.push(report);
        self.reevaluate(&mut live, &run_id, Some(run_id.clone())).await
    }

    /// Re-evaluates as of now (windows move with the clock).
    pub async fn tick(&self) -> Result<Vec<String>, StoreError> {
        let mut live = self.live.write().await;
        let since = Timestamp::now() - self.settings.horizon;
        live.evidence.runs.retain(|r| r.finished_at >= since);
        self.reevaluate(&mut live, "clock", None).await
    }

    async fn reevaluate(
        &self,
        live: &mut Live,
        cause: &str,
        run_id: Option<String>,
    ) -> Result<Vec<String>, StoreError> {
        let started = std::time::Instant::now();
        let next = Arc::new(matrix::evaluate(&self.policy, &live.evidence, Timestamp::now()));
        self.metrics.evaluations.fetch_add(1, Ordering::Relaxed);
        self.metrics.evaluation_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let changes = diff(&live.evaluation, &next, cause);
        self.store.append_history(&changes).await?;
        live.evaluation = next;
        let changed: Vec<String> = changes.into_iter().map(|h| h.feature).collect();
        let kind = if run_id.is_some() { "run" } else { "clock" }.to_owned();
        if run_id.is_some() || !changed.is_empty() {
            // Nobody listening is fine.
            let _ = self.events.send(Event { kind, run_id, changed: changed.clone() });
        }
        Ok(changed)
    }
}

/// Twice the policy's longest evidence window: enough to tell evidence that
/// went stale from evidence that never was.
fn horizon_for(policy: &Policy) -> SignedDuration {
    use matrix::policy::Check;
    let longest = policy
        .requirements
        .iter()
        .filter_map(|r| match r.check.as_ref()? {
            Check::TestsPass { window, .. }
            | Check::Fuzzed { window, .. }
            | Check::DifferentialFuzzed { window }
            | Check::ImplementsTierFeatures { window, .. }
            | Check::ImplementedOnTierTargets { window, .. } => Some(window.duration),
            _ => None,
        })
        .max()
        .unwrap_or_default();
    longest * 2
}

/// Why no feature of the policy can use this run, if none can.
pub fn unused_reason(policy: &Policy, report: &RunReport) -> Option<String> {
    let arch = report.target.arch();
    let used = policy.features.iter().any(|f| {
        f.evidence.selects_run(&report.target.triple, &report.engine.compiler) && f.evidence.selects_tests()
            || (!report.fuzz.is_empty() && f.arch.as_deref() == Some(arch))
    });
    (!used).then(|| {
        format!("no feature of the policy selects runs on `{}` with `{}`", report.target.triple, report.engine.compiler)
    })
}

fn row(f: &matrix::FeatureResult, at: Timestamp, cause: &str) -> HistoryRow {
    HistoryRow {
        feature: f.id.clone(),
        at,
        declared: i64::from(f.declared.0),
        earned: f.earned.map(|t| i64::from(t.0)),
        status: status_str(f.status).to_owned(),
        missing: f.missing_next.iter().chain(&f.failing_declared).map(|m| m.text.clone()).collect(),
        cause: cause.to_owned(),
    }
}

/// The status as its wire name.
pub fn status_str(s: matrix::Status) -> &'static str {
    match s {
        matrix::Status::Conforming => "conforming",
        matrix::Status::Violating => "violating",
        matrix::Status::Promotable => "promotable",
        matrix::Status::Stale => "stale",
    }
}

fn same(a: &HistoryRow, b: &HistoryRow) -> bool {
    (a.declared, a.earned, &a.status, &a.missing) == (b.declared, b.earned, &b.status, &b.missing)
}

/// History rows for features whose standing differs between two evaluations.
fn diff(before: &Evaluation, after: &Evaluation, cause: &str) -> Vec<HistoryRow> {
    after
        .features
        .iter()
        .map(|f| row(f, after.now, cause))
        .filter(|new| {
            before.feature(&new.feature).map(|old| row(old, before.now, cause)).is_none_or(|old| !same(&old, new))
        })
        .collect()
}

/// History rows for features whose standing differs from the newest recorded
/// entry (or that have none).
fn changes_since_recorded(recorded: &[HistoryRow], now: &Evaluation, cause: &str) -> Vec<HistoryRow> {
    now.features
        .iter()
        .map(|f| row(f, now.now, cause))
        .filter(|new| recorded.iter().rev().find(|h| h.feature == new.feature).is_none_or(|old| !same(old, new)))
        .collect()
}
