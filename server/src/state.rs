//! Shared server state: the store, the validated policy, the evidence in the
//! evaluation horizon and the current evaluation, and the live-event channel.
//!
//! Evidence is kept in memory (the store is the durable copy) so the matrix
//! is recomputed without re-reading reports; only what did not pass is
//! kept directive by directive, passes as a count per script
//! ([`RunReport::elide_passes`]). Every recomputation compares
//! with the previous evaluation and records what changed in the history.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use jiff::{SignedDuration, Timestamp};
use matrix::evaluate::ReadModel;
use matrix::{Evaluation, Evidence, Policy, RunReport};
use tokio::sync::{Mutex, Notify, broadcast};

use crate::ingest::RunState;
use crate::store::{DeclaredRow, HistoryRow, Store, StoreError};

/// Settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest accepted request body, after decompression too.
    pub max_body_bytes: usize,
    /// How far back evidence is kept in the evaluation; at least twice the
    /// policy's longest evidence window whatever is set here.
    pub horizon: SignedDuration,
    /// Whether session cookies are marked `Secure` (serve behind HTTPS);
    /// an https `public_url` implies it.
    pub cookie_secure: bool,
    /// How long a browser session lasts.
    pub session_lifetime: SignedDuration,
    /// The server's public base URL, for links in GitHub issues.
    pub public_url: Option<String>,
    /// Whether promotion requests are mirrored to GitHub issues.
    pub github_sync: bool,
    /// How far a report's `finished-at` may lie after the server's clock
    /// (runners' clocks drift); a later one is refused.
    pub max_clock_skew: SignedDuration,
    /// Most directive outcomes one report may carry (a full run today is
    /// about 68,000).
    pub max_report_directives: usize,
    /// Most script files, WASI tests and fuzz campaigns one report may
    /// carry (a full run today is about 500).
    pub max_report_files: usize,
    /// Connection bounds: how many, how slow.
    pub connections: crate::connections::ConnectionLimits,
    /// Request budgets per address and per token.
    pub rates: crate::rate::RateLimits,
    /// How long a write waits for the database (SQLite's one writer) before
    /// the request is answered 503.
    pub write_queue_timeout: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_body_bytes: 64 * 1024 * 1024,
            horizon: SignedDuration::from_hours(24 * 90),
            cookie_secure: false,
            session_lifetime: SignedDuration::from_hours(12),
            public_url: None,
            github_sync: false,
            max_clock_skew: SignedDuration::from_mins(10),
            max_report_directives: 1_000_000,
            max_report_files: 20_000,
            connections: crate::connections::ConnectionLimits::default(),
            rates: crate::rate::RateLimits::default(),
            write_queue_timeout: crate::store::DEFAULT_WRITE_QUEUE_TIMEOUT,
        }
    }
}

impl Settings {
    /// Whether session cookies carry `Secure`: when asked for, and whenever
    /// the public URL is https (a browser would otherwise send the session
    /// over plain http too).
    pub fn secure_cookies(&self) -> bool {
        self.cookie_secure || self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

/// A live event for dashboards.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Event {
    /// `run` when a run arrived, `clock` when windows moved, `promotion`
    /// when a declared tier changed.
    pub kind: String,
    /// The run that caused it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Features whose earned tier or status changed.
    pub changed: Vec<String>,
}

/// What the dashboard and API read: one immutable snapshot. Writers build
/// the next one beside it and swap it in whole; a reader keeps the one it
/// loaded for as long as it needs, and never waits for an evaluation.
#[derive(Debug)]
pub struct Live {
    /// The policy file with applied promotions' declared tiers.
    pub policy: Arc<Policy>,
    /// Since when each feature has stood where it stands now: above its
    /// declared tier, at it, or below it.
    pub standing_since: BTreeMap<String, Timestamp>,
    /// Applied promotions by feature.
    pub declared_by: BTreeMap<String, DeclaredRow>,
    /// Accepted runs within the horizon.
    pub evidence: Evidence,
    /// The current evaluation.
    pub evaluation: Arc<Evaluation>,
    /// Every feature's per-run and per-target results and test names,
    /// indexed once with the evaluation, so pages read them instead of
    /// indexing the evidence per request.
    pub read: ReadModel,
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
    /// The policy as its file says, before applied promotions.
    pub base_policy: Arc<Policy>,
    pub settings: Settings,
    /// Serializes this server's promotion-request changes, so votes and
    /// state moves are decided on what the previous one stored (with the
    /// database's lock across servers: [`AppState::promotion_guard`]).
    promotion_lock: Mutex<()>,
    /// This server among others on one database: random per start.
    pub server_id: String,
    /// Whether this server leads (see [`crate::cluster`]): it works the
    /// GitHub outbox and records the clock's history entries.
    pub leader: AtomicBool,
    /// Wakes the GitHub sync when there is something to send.
    pub github_wake: Notify,
    /// The current snapshot.
    live: ArcSwap<Live>,
    /// Serializes the writers of snapshots (runs, clock ticks, applied
    /// promotions): each builds the next from the current one. Readers never
    /// take it.
    writer: Mutex<()>,
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
        let mut runs = store.reports_since(since, RunState::Rejected, true).await?;
        // A policy change may make a rejected run useful: look again.
        for r in store.reports_since(since, RunState::Rejected, false).await? {
            if unused_reason(&policy, &r).is_none() {
                store.move_run(&r.run_id, RunState::Rejected, RunState::Evaluated).await?;
                runs.push(r);
            }
        }
        runs.sort_by(|a, b| (a.finished_at, &a.run_id).cmp(&(b.finished_at, &b.run_id)));
        let base_policy = Arc::new(policy);
        let applied = store.declared().await?;
        let policy = Arc::new(with_declared(&base_policy, &applied));
        let declared_by = applied.into_iter().map(|d| (d.feature.clone(), d)).collect();
        let evidence: Evidence = runs.into_iter().collect();
        let (evaluation, read) = evaluated(&policy, &evidence, now);
        let mut recorded = store.history(None).await?;
        let changes = changes_since_recorded(&recorded, &evaluation, "start");
        store.append_history(&changes).await?;
        recorded.extend(changes);
        let standing_since = standing_since(&recorded, &evaluation);
        let (events, _) = broadcast::channel(64);
        let state = AppState(Arc::new(Inner {
            store,
            base_policy,
            settings,
            promotion_lock: Mutex::new(()),
            server_id: server_id(),
            leader: AtomicBool::new(false),
            github_wake: Notify::new(),
            live: ArcSwap::from_pointee(Live { policy, standing_since, declared_by, evidence, evaluation, read }),
            writer: Mutex::new(()),
            events,
            metrics: Metrics::default(),
        }));
        let settled = state.store.settle_received().await?;
        if settled > 0 {
            tracing::info!(runs = settled, "evaluated runs stored before the last stop");
        }
        Ok(state)
    }

    /// The current snapshot: policy, evidence and evaluation that belong
    /// together.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// The current evaluation.
    pub fn evaluation(&self) -> Arc<Evaluation> {
        self.live.load().evaluation.clone()
    }

    /// The policy in force: the file with applied promotions.
    pub fn policy(&self) -> Arc<Policy> {
        self.live.load().policy.clone()
    }

    /// The policy and evaluation read together.
    pub fn snapshot(&self) -> (Arc<Policy>, Arc<Evaluation>) {
        let live = self.live.load();
        (live.policy.clone(), live.evaluation.clone())
    }

    /// Applies an approved promotion request as the one writer, so the
    /// evaluation it is checked against is the one it changes: the feature
    /// must still be declared at `p.from_tier` and earn `p.to_tier`. The
    /// request's state, the declared tier (recorded against the policy
    /// file's tier), the audit entry and the GitHub operations are stored in
    /// one transaction, then the matrix is re-evaluated. `Ok(Err(why))` when
    /// it cannot be applied.
    pub async fn apply_promotion(
        &self,
        p: &crate::promotions::rules::Promotion,
        who: &str,
        writes: &crate::store::Writes,
    ) -> Result<Result<(), String>, StoreError> {
        let _writer = self.writer.lock().await;
        let live = self.live();
        let declared = live.policy.feature(&p.feature).map(|f| f.declared);
        if declared != Some(p.from_tier) {
            let now = declared.map_or("gone from the policy".to_owned(), |t| format!("declared at {t}"));
            return Ok(Err(format!(
                "`{}` was declared at {} when request {} was filed and is {now} now; file a new request",
                p.feature, p.from_tier, p.id
            )));
        }
        let Some(result) = live.evaluation.feature(&p.feature) else {
            return Ok(Err(format!("`{}` is not in the evaluation", p.feature)));
        };
        if !crate::promotions::rules::earns(result, p.to_tier) {
            let missing: Vec<String> = crate::promotions::rules::checklist(&live.policy, result, p.to_tier)
                .into_iter()
                .filter(|c| !c.met && !c.advisory)
                .map(|c| format!("{} ({})", c.title, c.detail))
                .collect();
            let missing = if missing.is_empty() {
                "requirements of other features it depends on".to_owned()
            } else {
                missing.join("; ")
            };
            return Ok(Err(format!("`{}` does not earn {} yet; missing: {missing}", p.feature, p.to_tier)));
        }
        let file_tier = self.base_policy.feature(&p.feature).map_or(p.from_tier, |f| f.declared);
        let row = DeclaredRow {
            feature: p.feature.clone(),
            from_tier: file_tier,
            to_tier: p.to_tier,
            promotion_id: p.id,
            applied_by: who.to_owned(),
            applied_at: Timestamp::now(),
        };
        if !self.store.apply_promotion(p.id, &row, writes).await? {
            return Ok(Err(format!("request {} is no longer approved; reload it", p.id)));
        }
        let applied = self.store.declared().await?;
        let next = Next {
            policy: Arc::new(with_declared(&self.base_policy, &applied)),
            declared_by: applied.into_iter().map(|d| (d.feature.clone(), d)).collect(),
            evidence: live.evidence.clone(),
        };
        let cause = format!("promotion {}", p.id);
        self.reevaluate(&live, next, &cause, "promotion", None, true).await?;
        drop(_writer);
        crate::cluster::publish(self, crate::cluster::NoticeKind::Evidence).await;
        self.wake_github().await;
        Ok(Ok(()))
    }

    /// Adds a stored run to the evidence, re-evaluates, marks the run
    /// evaluated and tells the other servers. Returns the features whose
    /// standing changed (none when the run is in the evidence already).
    pub async fn add_run(&self, report: RunReport) -> Result<Vec<String>, StoreError> {
        let run_id = report.run_id.clone();
        // Outside the lock: other writers need not wait for it.
        let report = Arc::new(report.elide_passes());
        let writer = self.writer.lock().await;
        let live = self.live();
        if live.evidence.runs.iter().any(|r| r.run_id == run_id) {
            // Another request (a retry of the same upload) evaluated it.
            self.store.move_run(&run_id, RunState::Received, RunState::Evaluated).await?;
            return Ok(Vec::new());
        }
        let mut next = Next::from(&*live);
        next.evidence.runs.push(report);
        let changed = self.reevaluate(&live, next, &run_id, "run", Some(run_id.clone()), true).await?;
        self.store.move_run(&run_id, RunState::Received, RunState::Evaluated).await?;
        drop(writer);
        crate::cluster::publish(self, crate::cluster::NoticeKind::Evidence).await;
        Ok(changed)
    }

    /// Re-evaluates as of now (windows move with the clock). Only the
    /// leader records what the clock changed, so several servers on one
    /// database write each entry once.
    pub async fn tick(&self) -> Result<Vec<String>, StoreError> {
        let _writer = self.writer.lock().await;
        let live = self.live();
        let since = Timestamp::now() - self.settings.horizon;
        let mut next = Next::from(&*live);
        next.evidence.runs.retain(|r| r.finished_at >= since);
        let record = self.leader.load(Ordering::Relaxed);
        self.reevaluate(&live, next, "clock", "clock", None, record).await
    }

    /// Takes in what other servers on the database stored: evaluated runs
    /// within the horizon this server does not hold, and declared tiers
    /// applied there. Their history entries are theirs to record; this
    /// server's dashboards get the live event. Returns the features whose
    /// standing changed here.
    pub async fn catch_up(&self) -> Result<Vec<String>, StoreError> {
        let _writer = self.writer.lock().await;
        let live = self.live();
        let since = Timestamp::now() - self.settings.horizon;
        let held: std::collections::HashSet<&str> = live.evidence.runs.iter().map(|r| r.run_id.as_str()).collect();
        let missing: Vec<String> = self
            .store
            .run_ids_since(since, RunState::Evaluated)
            .await?
            .into_iter()
            .filter(|id| !held.contains(id.as_str()))
            .collect();
        let applied = self.store.declared().await?;
        let declared_by: BTreeMap<String, DeclaredRow> =
            applied.iter().map(|d| (d.feature.clone(), d.clone())).collect();
        let promoted = declared_by != live.declared_by;
        if missing.is_empty() && !promoted {
            return Ok(Vec::new());
        }
        let mut next = Next::from(&*live);
        if promoted {
            next.policy = Arc::new(with_declared(&self.base_policy, &applied));
            next.declared_by = declared_by;
        }
        let mut reports = self.store.reports(&missing).await?;
        reports.sort_by(|a, b| (a.finished_at, &a.run_id).cmp(&(b.finished_at, &b.run_id)));
        let newest = reports.last().map(|r| r.run_id.clone());
        next.evidence.runs.extend(reports.into_iter().map(Arc::new));
        let kind = if newest.is_some() { "run" } else { "promotion" };
        self.reevaluate(&live, next, "another server", kind, newest, false).await
    }

    /// Wakes the GitHub outbox worker, wherever it runs.
    pub async fn wake_github(&self) {
        self.github_wake.notify_one();
        crate::cluster::publish(self, crate::cluster::NoticeKind::Outbox).await;
    }

    /// Held while a promotion request changes: this server's lock, and on
    /// PostgreSQL the database's, so two servers never decide on the same
    /// request at once. Dropping it releases both.
    pub async fn promotion_guard(&self) -> Result<PromotionGuard<'_>, StoreError> {
        let local = self.promotion_lock.lock().await;
        let shared = self.store.exclusive(crate::store::PROMOTION_LOCK).await?;
        Ok(PromotionGuard { _shared: shared, _local: local })
    }

    /// Evaluates `next` off the async workers (readers go on with `live`),
    /// records what changed against `live` (when `record`: another server's
    /// changes are its own to record), and swaps the new snapshot in.
    /// Called by the one writer.
    async fn reevaluate(
        &self,
        live: &Live,
        next: Next,
        cause: &str,
        kind: &str,
        run_id: Option<String>,
        record: bool,
    ) -> Result<Vec<String>, StoreError> {
        let started = std::time::Instant::now();
        let Next { policy, declared_by, evidence } = next;
        let (policy, evidence, (evaluation, read)) = tokio::task::spawn_blocking(move || {
            let evaluated = evaluated(&policy, &evidence, Timestamp::now());
            (policy, evidence, evaluated)
        })
        .await
        .map_err(|e| StoreError::Evaluation(e.to_string()))?;
        self.metrics.evaluations.fetch_add(1, Ordering::Relaxed);
        self.metrics.evaluation_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let changes = diff(&live.evaluation, &evaluation, cause);
        if record {
            self.store.append_history(&changes).await?;
        }
        let mut standing_since = live.standing_since.clone();
        for f in &evaluation.features {
            let moved = live.evaluation.feature(&f.id).is_none_or(|old| standing(old.status) != standing(f.status));
            if moved {
                standing_since.insert(f.id.clone(), evaluation.now);
            }
        }
        self.live.store(Arc::new(Live { policy, standing_since, declared_by, evidence, evaluation, read }));
        let changed: Vec<String> = changes.into_iter().map(|h| h.feature).collect();
        if run_id.is_some() || !changed.is_empty() {
            // Nobody listening is fine.
            let _ = self.events.send(Event { kind: kind.to_owned(), run_id, changed: changed.clone() });
        }
        if !changed.is_empty() {
            // Checklists of synced requests may have moved.
            self.github_wake.notify_one();
        }
        Ok(changed)
    }
}

/// See [`AppState::promotion_guard`]. The database's lock is released
/// first.
pub struct PromotionGuard<'a> {
    _shared: Option<sqlx::Transaction<'static, sqlx::Any>>,
    _local: tokio::sync::MutexGuard<'a, ()>,
}

impl std::fmt::Debug for PromotionGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromotionGuard").field("shared", &self._shared.is_some()).finish()
    }
}

/// A random id for this server process.
fn server_id() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..8).map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[rng.random_range(0..36)])).collect()
}

/// The evaluation of `evidence` under `policy` as of `now`, and the read
/// model pages are served from: both built off the request path.
fn evaluated(policy: &Policy, evidence: &Evidence, now: Timestamp) -> (Arc<Evaluation>, ReadModel) {
    let (evaluation, read) = matrix::evaluate::evaluate_and_read(policy, evidence, now);
    (Arc::new(evaluation), read)
}

/// The parts of the next snapshot a writer changes before evaluating it.
struct Next {
    policy: Arc<Policy>,
    declared_by: BTreeMap<String, DeclaredRow>,
    /// Copies pointers to the reports, not the reports.
    evidence: Evidence,
}

impl From<&Live> for Next {
    fn from(live: &Live) -> Next {
        Next { policy: live.policy.clone(), declared_by: live.declared_by.clone(), evidence: live.evidence.clone() }
    }
}

/// Twice the policy's longest evidence window: enough to tell evidence that
/// went stale from evidence that never was.
fn horizon_for(policy: &Policy) -> SignedDuration {
    let longest = policy
        .requirements
        .iter()
        .filter_map(|r| r.check.as_ref())
        .flat_map(|c| c.evidence_windows())
        .map(|w| w.duration)
        .max()
        .unwrap_or_default();
    longest * 2
}

/// Why no feature of the policy can use this run, if none can.
pub fn unused_reason(policy: &Policy, report: &RunReport) -> Option<String> {
    let arch = report.target.arch();
    let used = policy.features.iter().any(|f| {
        f.evidence.selects_report(policy, report) && f.evidence.selects_tests()
            || (!report.fuzz.is_empty() && f.arch.as_deref() == Some(arch))
    }) || (!report.spec.is_empty() || !report.wasi.is_empty()) && policy.tables_read(report);
    (!used).then(|| {
        let variant = policy.variant(report);
        let dims = if variant.is_empty() { String::new() } else { format!(" [{variant}]") };
        format!(
            "no feature of the policy selects runs on `{}` with `{}`{dims}",
            report.target.triple, report.engine.compiler
        )
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
        matrix::Status::NoTestData => "no-test-data",
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

/// The policy with applied promotions' declared tiers. A promotion applies
/// while the file still declares the tier it was applied over (`from_tier`,
/// the file's tier, also for a second promotion of the same feature); once
/// the file changes that feature's tier, the file wins.
pub fn with_declared(base: &Policy, applied: &[DeclaredRow]) -> Policy {
    let mut policy = base.clone();
    for d in applied {
        match policy.features.iter_mut().find(|f| f.id == d.feature) {
            Some(f) if f.declared == d.from_tier => f.declared = d.to_tier,
            Some(f) => tracing::warn!(
                feature = %d.feature,
                promotion = d.promotion_id,
                file = %f.declared,
                "the policy file changed this feature's declared tier since promotion {} moved it from {} to {}; the file wins",
                d.promotion_id, d.from_tier, d.to_tier
            ),
            None => {
                tracing::warn!(feature = %d.feature, "an applied promotion names a feature the policy no longer has")
            }
        }
    }
    policy
}

/// Where a status stands against the declared tier: above, at or below.
fn standing(status: matrix::Status) -> std::cmp::Ordering {
    match status {
        matrix::Status::Promotable => std::cmp::Ordering::Greater,
        matrix::Status::Conforming | matrix::Status::NoTestData => std::cmp::Ordering::Equal,
        matrix::Status::Violating | matrix::Status::Stale => std::cmp::Ordering::Less,
    }
}

/// The standing of a status as stored in the history (its wire name).
fn standing_of(status: &str) -> std::cmp::Ordering {
    matrix::Status::ALL.into_iter().find(|s| status_str(*s) == status).map_or(std::cmp::Ordering::Equal, standing)
}

/// Since when each feature has stood where the evaluation puts it, from the
/// recorded history (oldest first): the start of the newest unbroken run of
/// entries with the same standing.
fn standing_since(history: &[HistoryRow], now: &Evaluation) -> BTreeMap<String, Timestamp> {
    let mut since: BTreeMap<String, (std::cmp::Ordering, Timestamp)> = BTreeMap::new();
    for h in history {
        let s = standing_of(&h.status);
        match since.get(&h.feature) {
            Some((prev, _)) if *prev == s => {}
            _ => {
                since.insert(h.feature.clone(), (s, h.at));
            }
        }
    }
    now.features
        .iter()
        .map(|f| {
            let at = match since.get(&f.id) {
                Some((s, at)) if *s == standing(f.status) => *at,
                _ => now.now,
            };
            (f.id.clone(), at)
        })
        .collect()
}
