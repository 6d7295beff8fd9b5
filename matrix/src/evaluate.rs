//! The evaluator: from a validated policy and run reports to each feature's
//! earned tier, what it misses, and whether it conforms to its declared tier.
//!
//! Most checks look only at evidence. Cross-feature checks ("a target
//! implements every tier-1 proposal", "a proposal is implemented on every
//! tier-1 target") make tiers depend on one another. They are solved by
//! iteration from above: every feature starts at the tier its own evidence
//! allows (cross-feature checks assumed to hold, so no start can be too low),
//! then each round re-evaluates every feature against the *previous* round's
//! tiers and only ever lowers a tier. Tiers form a finite chain, so this
//! stops after at most `features × tiers` rounds, and because a round reads
//! only the previous round, the result does not depend on feature order.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::evidence::{Evidence, RunReport};
use crate::index::Index;
use crate::policy::{Check, Feature, FuzzScope, Hours, Policy, Requirement, Suite, Tier, Window};

/// A feature's standing against its declared tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Earned tier equals the declared tier.
    Conforming,
    /// Earned tier is below the declared tier.
    Violating,
    /// Earned tier is above the declared tier.
    Promotable,
    /// Earned tier is below the declared tier only because evidence or an
    /// attestation is older than its window.
    Stale,
    /// Earned tier is below the declared tier, and the policy says the
    /// test data has no tests for the feature: neither confirmed nor
    /// violating.
    NoTestData,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 5] =
        [Status::Conforming, Status::Promotable, Status::Violating, Status::Stale, Status::NoTestData];
}

/// The verdict on one requirement for one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RequirementOutcome {
    /// Requirement id.
    pub requirement: String,
    /// The requirement's tier.
    pub tier: Tier,
    /// Advisory requirements never lower a tier.
    pub advisory: bool,
    /// Whether it holds.
    pub met: bool,
    /// Why not, as a stable reason code (see `docs/policy.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    /// What the evidence says, for people.
    pub detail: String,
    /// Offending items: failing tests, missing proposals or targets, crash signatures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Run ids whose evidence decided the verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
    /// The policy says the requirement does not apply to this feature
    /// (`detail` says why): it counts neither for nor against.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub not_applicable: bool,
}

impl RequirementOutcome {
    /// The text the policy gives this outcome's requirement for its
    /// reason; the requirement id when the policy has no such requirement.
    pub fn title(&self, policy: &Policy) -> String {
        policy
            .requirement(&self.requirement)
            .map_or(self.requirement.clone(), |q| q.title_for(self.reason.unwrap_or_default()).to_owned())
    }

    fn is_stale(&self) -> bool {
        matches!(self.reason, Some("stale" | "expired"))
    }
}

/// One entry of a "Missing Tier N Requirements" list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    /// Requirement id.
    pub requirement: String,
    /// The text shown, e.g. "Continuous fuzzing" or
    /// "WebAssembly proposals (`simd`, `threads`)".
    pub text: String,
}

/// Everything computed for one feature.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FeatureResult {
    /// Feature id.
    pub id: String,
    /// Category id.
    pub category: String,
    /// Declared tier.
    pub declared: Tier,
    /// Earned tier; `None` when even the lowest tier's requirements fail.
    pub earned: Option<Tier>,
    /// Standing against the declared tier.
    pub status: Status,
    /// What the feature misses for the tier above its declared one.
    pub missing_next: Vec<Missing>,
    /// When earned is below declared: the failing requirements at or below
    /// the declared tier.
    pub failing_declared: Vec<Missing>,
    /// Every applicable requirement's verdict, lowest tier first.
    pub outcomes: Vec<RequirementOutcome>,
}

/// The evaluation of a whole policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Evaluation {
    /// The instant windows were measured from.
    pub now: Timestamp,
    /// Rounds the cross-feature iteration took.
    pub rounds: usize,
    /// One result per feature, in policy order.
    pub features: Vec<FeatureResult>,
    /// The policy's support tables, every cell computed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<crate::tables::TableResult>,
}

impl Evaluation {
    /// The result for feature `id`.
    pub fn feature(&self, id: &str) -> Option<&FeatureResult> {
        self.features.iter().find(|f| f.id == id)
    }
}

/// Tiers by feature index; `None` is below the lowest tier.
type Assignment = Vec<Option<Tier>>;

/// Evaluates every feature of `policy` against `evidence` as of `now`.
pub fn evaluate(policy: &Policy, evidence: &Evidence, now: Timestamp) -> Evaluation {
    evaluate_in(&Cx::new(policy, evidence, now))
}

/// [`evaluate`] and the [`ReadModel`] of the same evidence, indexed once for
/// both: what a server builds for each snapshot.
pub fn evaluate_and_read(policy: &Policy, evidence: &Evidence, now: Timestamp) -> (Evaluation, ReadModel) {
    let cx = Cx::new(policy, evidence, now);
    let evaluation = evaluate_in(&cx);
    (evaluation, ReadModel::from_views(Views { cx }))
}

fn evaluate_in(cx: &Cx<'_>) -> Evaluation {
    let (policy, now) = (cx.policy, cx.now);
    let n = policy.features.len();
    let own: Vec<Vec<Option<RequirementOutcome>>> =
        policy.features.iter().map(|f| policy.requirements_for(f).map(|r| cx.own_outcome(f, r)).collect()).collect();
    let mut tiers: Assignment = (0..n).map(|i| cx.earned(&cx.outcomes(i, &own[i], None))).collect();
    let mut at_drop: Vec<Option<Vec<RequirementOutcome>>> = vec![None; n];
    let max_rounds = n * policy.tiers.len() + 1;
    let mut rounds = 0;
    while rounds < max_rounds {
        rounds += 1;
        let mut next = tiers.clone();
        for i in 0..n {
            let outcomes = cx.outcomes(i, &own[i], Some(&tiers));
            let e = cx.earned(&outcomes);
            if worse(e, tiers[i]) {
                next[i] = e;
                at_drop[i] = Some(outcomes);
            }
        }
        if next == tiers {
            break;
        }
        tiers = next;
    }
    let features = (0..n)
        .map(|i| {
            let now_outcomes = cx.outcomes(i, &own[i], Some(&tiers));
            let outcomes = match at_drop[i].take() {
                Some(o) if cx.earned(&now_outcomes) != tiers[i] => o,
                _ => now_outcomes,
            };
            cx.result(&policy.features[i], tiers[i], outcomes)
        })
        .collect();
    let tables = crate::tables::evaluate(policy, &cx.index, now);
    Evaluation { now, rounds, features, tables }
}

/// One feature's latest test results on one target with one compiler.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TargetResult {
    /// Target triple.
    pub target: String,
    /// Compiler backend.
    pub compiler: String,
    /// The run's dimensions away from their policy default, `name=value`
    /// comma-separated; absent for an ordinary run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dimensions: String,
    /// Whether the run was emulated.
    pub emulated: bool,
    /// The run these counts come from (the latest with selected tests).
    pub run_id: String,
    /// When that run finished.
    pub at: Timestamp,
    /// Passed directives and WASI programs.
    pub passed: usize,
    /// Failed ones.
    pub failed: usize,
    /// Skipped ones.
    pub skipped: usize,
}

impl TargetResult {
    /// `target/compiler`, with the dimensions in brackets when the run has
    /// any away from their default: how pages name where a result is from.
    pub fn place(&self) -> String {
        place(&self.target, &self.compiler, &self.dimensions)
    }
}

/// `target/compiler`, with `dimensions` (`name=value,…`) in brackets when
/// there are any: how pages name where a result is from.
pub fn place(target: &str, compiler: &str, dimensions: &str) -> String {
    if dimensions.is_empty() { format!("{target}/{compiler}") } else { format!("{target}/{compiler} [{dimensions}]") }
}

/// Per-feature views of the evidence (pass counts per run and per target,
/// the tests a feature selects). The evidence is indexed once, in `new`, so
/// build one `Views` per request and ask it about as many features as needed.
pub struct Views<'a> {
    cx: Cx<'a>,
}

impl std::fmt::Debug for Views<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views").field("runs", &self.cx.index.runs.len()).finish()
    }
}

impl<'a> Views<'a> {
    /// Indexes `evidence` for `policy`.
    pub fn new(policy: &'a Policy, evidence: &'a Evidence) -> Self {
        Views { cx: Cx::new(policy, evidence, Timestamp::MAX) }
    }

    /// The feature's selected tests in every run its selector picks, oldest
    /// first: the series behind pass-rate charts.
    pub fn feature_runs(&self, feature: &str) -> Vec<TargetResult> {
        let Some(f) = self.cx.policy.feature(feature) else { return Vec::new() };
        let i = self.cx.idx(f);
        self.cx
            .index
            .runs(&f.evidence, None)
            .filter_map(|run| {
                let (mut size, mut failed, mut skipped) = (0, 0, 0);
                for t in run.tests_of(i, &[Suite::Spec, Suite::Wasi]) {
                    size += t.size as usize;
                    failed += t.failures as usize;
                    skipped += t.skipped as usize;
                }
                (size > 0).then(|| TargetResult {
                    target: run.report.target.triple.clone(),
                    compiler: run.report.engine.compiler.clone(),
                    dimensions: run
                        .variant
                        .and_then(|v| self.cx.index.variant_labels.get(v as usize).cloned())
                        .unwrap_or_default(),
                    emulated: run.report.target.emulated,
                    run_id: run.report.run_id.clone(),
                    at: run.report.finished_at,
                    passed: size - failed - skipped,
                    failed,
                    skipped,
                })
            })
            .collect()
    }

    /// The names (`suite/file`, `suite/test`) of every test the feature
    /// selects in any run it selects.
    pub fn feature_tests(&self, feature: &str) -> BTreeSet<String> {
        let Some(f) = self.cx.policy.feature(feature) else { return BTreeSet::new() };
        self.feature_keys(f).into_iter().map(|k| self.cx.index.keys[k as usize].clone()).collect()
    }

    /// The names of the tests the feature selects in one run (its
    /// selectors and `where` narrowing applied to that run): what a result
    /// cell of the matrix counts.
    pub fn run_tests(&self, feature: &str, run_id: &str) -> BTreeSet<String> {
        let Some(f) = self.cx.policy.feature(feature) else { return BTreeSet::new() };
        let i = self.cx.idx(f);
        self.cx
            .index
            .runs(&f.evidence, None)
            .filter(|r| r.report.run_id == run_id)
            .flat_map(|r| r.tests_of(i, &[Suite::Spec, Suite::Wasi]).map(|t| t.key))
            .map(|k| self.cx.index.keys[k as usize].clone())
            .collect()
    }

    /// The feature's selected tests in the latest run of every (target,
    /// compiler) pair its selector picks: the per-target view of the matrix.
    pub fn target_results(&self, feature: &str) -> Vec<TargetResult> {
        latest_per_target(self.feature_runs(feature))
    }

    /// The interned keys of [`Views::feature_tests`].
    fn feature_keys(&self, f: &Feature) -> BTreeSet<u32> {
        let i = self.cx.idx(f);
        self.cx
            .index
            .runs(&f.evidence, None)
            .flat_map(|r| r.tests_of(i, &[Suite::Spec, Suite::Wasi]).map(|t| t.key))
            .collect()
    }
}

/// Every feature's [`Views`] answers, computed once for one snapshot of the
/// evidence and owned: pages and API resources read them instead of
/// indexing the whole evidence per request, so a read costs what it shows,
/// not what the server holds. The tests of one run are the exception
/// ([`ReadModel::run_tests`] indexes just that run).
#[derive(Debug, Clone, Default)]
pub struct ReadModel {
    features: HashMap<String, FeatureSeries>,
    /// Test names by interned key.
    names: Vec<String>,
}

/// One feature's share of a [`ReadModel`].
#[derive(Debug, Clone, Default)]
struct FeatureSeries {
    runs: Vec<TargetResult>,
    latest: Vec<TargetResult>,
    /// Keys into [`ReadModel::names`], in name order.
    tests: Vec<u32>,
}

impl ReadModel {
    /// Indexes `evidence` once and answers for every feature of `policy`.
    pub fn new(policy: &Policy, evidence: &Evidence) -> ReadModel {
        ReadModel::from_views(Views::new(policy, evidence))
    }

    /// The model of an index already built.
    fn from_views(mut views: Views<'_>) -> ReadModel {
        let policy = views.cx.policy;
        let mut features = HashMap::with_capacity(policy.features.len());
        for f in &policy.features {
            let runs = views.feature_runs(&f.id);
            let latest = latest_per_target(runs.clone());
            let mut tests: Vec<u32> = views.feature_keys(f).into_iter().collect();
            let keys = &views.cx.index.keys;
            tests.sort_by(|a, b| keys[*a as usize].cmp(&keys[*b as usize]));
            features.insert(f.id.clone(), FeatureSeries { runs, latest, tests });
        }
        ReadModel { features, names: std::mem::take(&mut views.cx.index.keys) }
    }

    /// [`Views::feature_runs`]: the series behind pass-rate charts.
    pub fn feature_runs(&self, feature: &str) -> &[TargetResult] {
        self.features.get(feature).map_or(&[], |s| &s.runs)
    }

    /// [`Views::target_results`]: the latest result per target, compiler
    /// and dimensions.
    pub fn target_results(&self, feature: &str) -> &[TargetResult] {
        self.features.get(feature).map_or(&[], |s| &s.latest)
    }

    /// [`Views::feature_tests`]: every test name the feature selects, in
    /// name order.
    pub fn feature_tests(&self, feature: &str) -> impl Iterator<Item = &str> {
        let keys = self.features.get(feature).map_or(&[][..], |s| &s.tests);
        keys.iter().map(|k| self.names[*k as usize].as_str())
    }

    /// [`Views::run_tests`] for the run `run_id` of `evidence` (the
    /// evidence this model was made from): only that run is indexed, since
    /// what a feature selects in a run depends on that run alone.
    pub fn run_tests(policy: &Policy, evidence: &Evidence, feature: &str, run_id: &str) -> BTreeSet<String> {
        let Some(run) = evidence.runs.iter().find(|r| r.run_id == run_id) else { return BTreeSet::new() };
        let one = Evidence { runs: vec![run.clone()] };
        Views::new(policy, &one).run_tests(feature, run_id)
    }
}

/// The latest result of each (target, compiler, dimensions) in an
/// oldest-first series.
pub fn latest_per_target(series: Vec<TargetResult>) -> Vec<TargetResult> {
    let mut latest: BTreeMap<(String, String, String), TargetResult> = BTreeMap::new();
    for r in series {
        latest.insert((r.target.clone(), r.compiler.clone(), r.dimensions.clone()), r);
    }
    latest.into_values().collect()
}

/// Whether tier `a` is strictly worse than `b`.
fn worse(a: Option<Tier>, b: Option<Tier>) -> bool {
    match (a, b) {
        (None, Some(_)) => true,
        (Some(a), Some(b)) => a > b,
        _ => false,
    }
}

/// At least as good as `tier`.
fn at_least(t: Option<Tier>, tier: Tier) -> bool {
    t.is_some_and(|t| t <= tier)
}

/// A memoised cross-feature tally.
struct PairTally {
    empty: bool,
    failed: usize,
    run_ids: Vec<String>,
}

struct Cx<'a> {
    policy: &'a Policy,
    index: Index<'a>,
    pairs: RefCell<HashMap<(usize, usize, i64), Rc<PairTally>>>,
    /// Feature id → index in `policy.features`.
    ids: HashMap<&'a str, usize>,
    now: Timestamp,
}

impl<'a> Cx<'a> {
    fn new(policy: &'a Policy, evidence: &'a Evidence, now: Timestamp) -> Self {
        let ids = policy.features.iter().enumerate().map(|(i, f)| (f.id.as_str(), i)).collect();
        Cx { policy, index: Index::new(policy, evidence), pairs: RefCell::default(), ids, now }
    }

    fn idx(&self, f: &Feature) -> usize {
        self.ids[f.id.as_str()]
    }

    fn since(&self, window: &Window) -> Timestamp {
        self.now.checked_sub(window.duration).unwrap_or(Timestamp::MIN)
    }

    fn outcomes(
        &self,
        i: usize,
        own: &[Option<RequirementOutcome>],
        tiers: Option<&Assignment>,
    ) -> Vec<RequirementOutcome> {
        let f = &self.policy.features[i];
        self.policy
            .requirements_for(f)
            .zip(own)
            .map(|(r, o)| match o {
                Some(o) => o.clone(),
                None => match tiers {
                    Some(tiers) => self.cross_outcome(f, r, tiers),
                    None => outcome(r, Ok(("assumed to hold while own evidence is evaluated".into(), vec![]))),
                },
            })
            .collect()
    }

    fn earned(&self, outcomes: &[RequirementOutcome]) -> Option<Tier> {
        let mut earned = None;
        for def in self.policy.tiers.iter().rev() {
            let holds = outcomes.iter().filter(|o| o.tier == def.tier && !o.advisory).all(|o| o.met);
            if !holds {
                break;
            }
            earned = Some(def.tier);
        }
        earned
    }

    /// Outcome of a check that reads only evidence and the policy; `None`
    /// for checks that depend on other features' tiers.
    fn own_outcome(&self, f: &Feature, r: &Requirement) -> Option<RequirementOutcome> {
        let check = r.check.as_ref()?;
        if let Some(why) = r.not_applicable_to(&f.id) {
            return Some(not_applicable(r, why));
        }
        if check.is_cross_feature() {
            return None;
        }
        Some(outcome(r, self.verdict(f, check, None)))
    }

    fn cross_outcome(&self, f: &Feature, r: &Requirement, tiers: &Assignment) -> RequirementOutcome {
        match r.check.as_ref() {
            Some(check) => outcome(r, self.verdict(f, check, Some(tiers))),
            None => outcome(r, Ok(("a norm, not evaluated".into(), vec![]))),
        }
    }

    /// The verdict of `check` on `f`; cross-feature checks are assumed to
    /// hold until `tiers` is known.
    fn verdict(&self, f: &Feature, check: &Check, tiers: Option<&Assignment>) -> Verdict {
        match check {
            Check::TestsPass { suites, window, min_tests, min_targets } => {
                self.tests_pass(f, suites, window, *min_tests, *min_targets)
            }
            Check::Fuzzed { window, scope, min_hours } => self.fuzzed(f, window, *scope, false, *min_hours),
            Check::DifferentialFuzzed { window, min_hours } => {
                self.fuzzed(f, window, FuzzScope::Feature, true, *min_hours)
            }
            Check::ProposalPhase { min_phase } => proposal_phase(f, *min_phase),
            Check::Attested { kind, max_age } => self.attested(f, kind, max_age.as_ref()),
            Check::ImplementsTierFeatures { .. } | Check::ImplementedOnTierTargets { .. } => match tiers {
                Some(tiers) => self.cross_verdict(f, check, tiers),
                None => Ok(("assumed to hold while own evidence is evaluated".into(), vec![])),
            },
            Check::AnyOf(checks) => any_of(checks.iter().map(|c| self.verdict(f, c, tiers)).collect()),
            Check::AllOf(checks) => all_of(checks.iter().map(|c| self.verdict(f, c, tiers)).collect()),
            Check::Where { narrow, check } => {
                let mut narrowed = f.clone();
                narrowed.evidence = narrow.apply(&f.evidence);
                let label = narrow.describe();
                match self.verdict(&narrowed, check, tiers) {
                    Ok((detail, runs)) => Ok((format!("{label}: {detail}"), runs)),
                    Err(e) => Err(Failure { detail: format!("{label}: {}", e.detail), ..e }),
                }
            }
        }
    }

    fn cross_verdict(&self, f: &Feature, check: &Check, tiers: &Assignment) -> Verdict {
        match check {
            Check::ImplementsTierFeatures { tier, category, window } => {
                // A feature without test data cannot be missing anywhere.
                let others: Vec<&Feature> = self
                    .tiered(category, *tier, tiers)
                    .into_iter()
                    .filter(|o| o.evidence.no_test_data.is_none())
                    .collect();
                self.implements(
                    others.iter().map(|o| (self.idx(f), self.idx(o), o.id.as_str())),
                    window,
                    "missing-features",
                    *tier,
                    "features",
                )
            }
            Check::ImplementedOnTierTargets { .. } if let Some(why) = &f.evidence.no_test_data => {
                Err(fail("no-test-data", format!("the test data has no tests for it: {why}")))
            }
            Check::ImplementedOnTierTargets { tier, category, window } => {
                let targets = self.tiered(category, *tier, tiers);
                self.implements(
                    targets.iter().map(|t| (self.idx(t), self.idx(f), t.id.as_str())),
                    window,
                    "missing-targets",
                    *tier,
                    "targets",
                )
            }
            _ => Ok(("not a cross-feature check".into(), vec![])),
        }
    }

    fn tiered(&self, category: &str, tier: Tier, tiers: &Assignment) -> Vec<&'a Feature> {
        self.policy
            .features
            .iter()
            .zip(tiers)
            .filter(|(o, t)| o.category == category && at_least(**t, tier))
            .map(|(o, _)| o)
            .collect()
    }

    /// For each (feature whose runs count, feature whose tests count, name):
    /// the tests must exist and pass. Missing names are listed worst first;
    /// `noun` names what the pairs are (`features`, `targets`) in the detail.
    fn implements<'s>(
        &self,
        pairs: impl Iterator<Item = (usize, usize, &'s str)>,
        window: &Window,
        reason: &'static str,
        tier: Tier,
        noun: &str,
    ) -> Verdict {
        let since = Some(self.since(window));
        let mut missing: Vec<(usize, usize, &str)> = Vec::new();
        let (mut checked, mut runs) = (0, BTreeSet::new());
        for (idx, (runs_of, tests_of, name)) in pairs.enumerate() {
            checked += 1;
            let t = self.pair(runs_of, tests_of, window, since);
            runs.extend(t.run_ids.iter().cloned());
            if t.empty || t.failed > 0 {
                missing.push((t.failed, idx, name));
            }
        }
        if missing.is_empty() {
            return Ok((
                format!("all {checked} {tier} {noun} pass within {}", window.text),
                runs.into_iter().collect(),
            ));
        }
        missing.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let detail =
            missing
                .iter()
                .map(|(n, _, name)| {
                    if *n == 0 {
                        format!("{name}: no passing tests")
                    } else {
                        format!("{name}: {n} failing directives")
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
        Err(Failure { reason, detail, items: missing.iter().map(|m| m.2.to_owned()).collect() })
    }

    /// The tests of `tests_of` in the runs of `runs_of`, memoised: the
    /// cross-feature rounds ask for the same pairs again and again.
    fn pair(&self, runs_of: usize, tests_of: usize, window: &Window, since: Option<Timestamp>) -> Rc<PairTally> {
        let key = (runs_of, tests_of, window.duration.as_secs());
        if let Some(hit) = self.pairs.borrow().get(&key) {
            return hit.clone();
        }
        let sel = &self.policy.features[runs_of].evidence;
        let t = self.index.tally(sel, tests_of, &[Suite::Spec, Suite::Wasi], since);
        let tally = Rc::new(PairTally { empty: t.is_empty(), failed: t.failed_directives(), run_ids: t.run_ids() });
        self.pairs.borrow_mut().insert(key, tally.clone());
        tally
    }

    fn tests_pass(&self, f: &Feature, suites: &[Suite], window: &Window, min_tests: u32, min_targets: u32) -> Verdict {
        let (sel, i) = (&f.evidence, self.idx(f));
        let since = Some(self.since(window));
        let recent = self.index.tally(sel, i, suites, since);
        if recent.is_empty() {
            let build_only = sel.selects_tests() && self.index.runs(sel, since).any(|r| r.report.build_only);
            let old = self.index.tally(sel, i, suites, None);
            return Err(if let Some(why) = &sel.no_test_data {
                fail("no-test-data", format!("the test data has no tests for it: {why}"))
            } else if build_only {
                fail("build-only", "the engine builds for this target but no test was executed")
            } else if !old.is_empty() {
                fail("stale", format!("no tests within {}; the last ones are older", window.text))
            } else {
                fail("no-evidence", "no selected test has run")
            });
        }
        let total = recent.len();
        // A known engine failure charged to another feature is named here,
        // not counted (the feature it is charged to counts it).
        let (mut items, mut aside) = (Vec::new(), Vec::new());
        for (test, place, n) in recent.failing() {
            match self.policy.charged_elsewhere(&f.id, test) {
                Some(k) => aside.push(format!("{place} (charged to {}, {})", k.charged_to, k.link)),
                None => items.push(format!("{place} ({n} failing)")),
            }
        }
        let aside = if aside.is_empty() {
            String::new()
        } else {
            format!("; {} known failure(s) charged to other features, not counted: {}", aside.len(), aside.join(", "))
        };
        if !items.is_empty() {
            let detail = format!("{} of {total} tests fail{aside}", items.len());
            return Err(Failure { reason: "failures", detail, items });
        }
        let targets = recent.targets();
        let distinct = recent.distinct_tests();
        if distinct < min_tests as usize {
            return Err(fail(
                "too-few-tests",
                format!("{distinct} tests pass; the policy asks for at least {min_tests}"),
            ));
        }
        if targets < min_targets as usize {
            return Err(fail(
                "too-few-targets",
                format!("tested on {targets} targets; the policy asks for at least {min_targets}"),
            ));
        }
        Ok((format!("{total} tests pass on {targets} target(s) within {}{aside}", window.text), recent.run_ids()))
    }

    fn fuzzed(
        &self,
        f: &Feature,
        window: &Window,
        scope: FuzzScope,
        differential: bool,
        min_hours: Option<Hours>,
    ) -> Verdict {
        if scope == FuzzScope::Architecture && f.arch.is_none() {
            return Err(fail("no-architecture", "the feature has no architecture of its own to fuzz"));
        }
        // The index resolved each run's dimensions once (`variant`): a run
        // whose dimensions the policy does not allow has none.
        let counts = |r: &crate::index::RunIx<'_>, c: &crate::evidence::FuzzCampaign| {
            let run_ok = match (scope, &f.arch, r.variant) {
                (_, _, None) => false,
                (FuzzScope::Architecture, Some(arch), Some(_)) => r.report.target.arch() == arch,
                (_, _, Some(v)) => {
                    f.evidence.selects_run(&r.report.target.triple, &r.report.engine.compiler)
                        && f.evidence.selects_dimensions(&self.index.variants[v as usize])
                }
            };
            let exercised = scope == FuzzScope::Architecture
                || f.evidence.fuzz.is_empty()
                || f.evidence.fuzz.iter().any(|k| c.exercised.get(k).is_some_and(|n| *n > 0));
            run_ok && exercised && (!differential || c.oracle.is_differential())
        };
        let since = self.since(window);
        let matching: Vec<(&RunReport, &crate::evidence::FuzzCampaign)> = self
            .index
            .runs
            .iter()
            .flat_map(|r| r.report.fuzz.iter().map(move |c| (r, c)))
            .filter(|(r, c)| counts(r, c))
            .map(|(r, c)| (r.report, c))
            .collect();
        let recent: Vec<_> = matching.iter().filter(|(r, _)| r.finished_at >= since).collect();
        if recent.is_empty() {
            let what = if differential { "differentially fuzzed" } else { "fuzzed" };
            return Err(if matching.is_empty() {
                fail("not-fuzzed", format!("never {what}"))
            } else {
                fail("stale", format!("not {what} within {}", window.text))
            });
        }
        let triage = crashes(&recent)?;
        let iterations: u64 = recent.iter().fold(0u64, |n, (_, c)| n.saturating_add(c.iterations));
        let runs: BTreeSet<String> = recent.iter().map(|(r, _)| r.run_id.clone()).collect();
        let hours = campaign_hours(recent.iter().map(|(r, c)| (*r, *c)));
        if let Some(min) = min_hours
            && hours < min.0
        {
            let what = if differential { "differential fuzzing" } else { "fuzzing" };
            let detail = format!(
                "{} of {what} within {} in {} campaign(s); the policy asks for at least {}",
                format_hours(hours),
                window.text,
                recent.len(),
                format_hours(min.0)
            );
            return Err(Failure { reason: "too-few-hours", detail, items: vec![] });
        }
        let spent = if min_hours.is_some() { format!(", {}", format_hours(hours)) } else { String::new() };
        Ok((
            format!("{} campaign(s), {iterations} iterations{spent} within {}{triage}", recent.len(), window.text),
            runs.into_iter().collect(),
        ))
    }

    fn attested(&self, f: &Feature, kind: &str, max_age: Option<&Window>) -> Verdict {
        let Some(a) = self.policy.attestations.get(&(f.id.clone(), kind.to_owned())) else {
            return Err(fail("not-attested", format!("no `{kind}` attestation is recorded")));
        };
        let note = a.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
        if !a.holds {
            return Err(fail("denied", format!("`{kind}` attested as not holding by {} on {}{note}", a.by, a.on)));
        }
        let at = a.on.to_zoned(TimeZone::UTC).map(|z| z.timestamp()).unwrap_or(Timestamp::MIN);
        if let Some(w) = max_age
            && at < self.since(w)
        {
            return Err(fail("expired", format!("attested by {} on {}, older than {}", a.by, a.on, w.text)));
        }
        Ok((format!("attested by {} on {}{note}", a.by, a.on), vec![]))
    }

    fn result(&self, f: &Feature, earned: Option<Tier>, outcomes: Vec<RequirementOutcome>) -> FeatureResult {
        let failing_at = |keep: &dyn Fn(Tier) -> bool| -> Vec<Missing> {
            // A check that had no test data to judge is unknown, not missing.
            let failing: Vec<&RequirementOutcome> = outcomes
                .iter()
                .filter(|o| !o.met && !o.advisory && keep(o.tier) && o.reason != Some("no-test-data"))
                .collect();
            self.missing_texts(&failing)
        };
        let missing_next = match f.declared.0 {
            1 => vec![],
            d => failing_at(&|t| t.0 == d - 1),
        };
        let below = worse(earned, Some(f.declared));
        let failing_declared = if below { failing_at(&|t| t >= f.declared) } else { vec![] };
        let status = if below {
            let all_stale = outcomes
                .iter()
                .filter(|o| !o.met && !o.advisory && o.tier >= f.declared)
                .all(RequirementOutcome::is_stale);
            if f.evidence.no_test_data.is_some() {
                Status::NoTestData
            } else if all_stale {
                Status::Stale
            } else {
                Status::Violating
            }
        } else if earned.is_some_and(|e| e < f.declared) {
            Status::Promotable
        } else {
            Status::Conforming
        };
        FeatureResult {
            id: f.id.clone(),
            category: f.category.clone(),
            declared: f.declared,
            earned,
            status,
            missing_next,
            failing_declared,
            outcomes,
        }
    }

    /// Titles of failing requirements, leaving out ones subsumed by another
    /// failing requirement in the same list.
    fn missing_texts(&self, failing: &[&RequirementOutcome]) -> Vec<Missing> {
        let req = |id: &str| self.policy.requirement(id);
        let subsumed: BTreeSet<&str> = failing
            .iter()
            .filter_map(|o| req(&o.requirement))
            .flat_map(|r| r.subsumes.iter().map(String::as_str))
            .collect();
        failing
            .iter()
            .filter(|o| !subsumed.contains(o.requirement.as_str()))
            .filter_map(|o| {
                let r = req(&o.requirement)?;
                let title = r.title_for(o.reason.unwrap_or_default());
                let text = match o.reason {
                    Some("missing-features" | "missing-targets") if !o.items.is_empty() => {
                        let items: Vec<String> = o.items.iter().map(|i| format!("`{i}`")).collect();
                        format!("{title} ({})", items.join(", "))
                    }
                    _ => title.to_owned(),
                };
                Some(Missing { requirement: r.id.clone(), text })
            })
            .collect()
    }
}

/// A failed check: reason code, detail and offending items.
#[derive(Debug)]
struct Failure {
    reason: &'static str,
    detail: String,
    items: Vec<String>,
}

fn fail(reason: &'static str, detail: impl Into<String>) -> Failure {
    Failure { reason, detail: detail.into(), items: vec![] }
}

/// `Ok((detail, run ids))` or the failure.
type Verdict = Result<(String, Vec<String>), Failure>;

fn outcome(r: &Requirement, v: Verdict) -> RequirementOutcome {
    let base = RequirementOutcome {
        requirement: r.id.clone(),
        tier: r.tier,
        advisory: r.advisory,
        met: false,
        reason: None,
        detail: String::new(),
        items: vec![],
        runs: vec![],
        not_applicable: false,
    };
    match v {
        Ok((detail, runs)) => RequirementOutcome { met: true, detail, runs, ..base },
        Err(f) => RequirementOutcome { reason: Some(f.reason), detail: f.detail, items: f.items, ..base },
    }
}

/// A requirement the policy says does not apply to the feature: met, so it
/// never lowers a tier, and marked so pages show "not applicable".
fn not_applicable(r: &Requirement, why: &str) -> RequirementOutcome {
    let mut o = outcome(r, Ok((format!("not applicable: {why}"), vec![])));
    o.not_applicable = true;
    o
}

/// Holds when one alternative holds (the first that does is named); else
/// fails with every alternative's failure: their reason when they agree
/// (all stale, say), `none-of` when they do not.
fn any_of(verdicts: Vec<Verdict>) -> Verdict {
    let n = verdicts.len();
    let mut failures = Vec::new();
    for (i, v) in verdicts.into_iter().enumerate() {
        match v {
            Ok((detail, runs)) => return Ok((format!("alternative {} of {n} holds: {detail}", i + 1), runs)),
            Err(f) => failures.push(f),
        }
    }
    let reason = match failures.first() {
        Some(first) if failures.iter().all(|f| f.reason == first.reason) => first.reason,
        _ => "none-of",
    };
    let detail = failures
        .iter()
        .enumerate()
        .map(|(i, f)| format!("({}) {}: {}", i + 1, f.reason, f.detail))
        .collect::<Vec<_>>()
        .join("; ");
    let mut items: Vec<String> = Vec::new();
    for item in failures.into_iter().flat_map(|f| f.items) {
        if !items.contains(&item) {
            items.push(item);
        }
    }
    Err(Failure { reason, detail: format!("no alternative holds: {detail}"), items })
}

/// Holds when every check holds; else fails as the first that does not.
fn all_of(verdicts: Vec<Verdict>) -> Verdict {
    let (mut details, mut runs) = (Vec::new(), BTreeSet::new());
    for v in verdicts {
        let (detail, r) = v?;
        details.push(detail);
        runs.extend(r);
    }
    Ok((details.join("; "), runs.into_iter().collect()))
}

fn proposal_phase(f: &Feature, min_phase: u8) -> Verdict {
    match f.phase {
        Some(p) if p >= min_phase => Ok((format!("phase {p}"), vec![])),
        Some(p) => Err(fail("unstable", format!("phase {p}; the policy asks for phase {min_phase} or later"))),
        None => Err(fail("unknown-phase", "the policy records no phase")),
    }
}

/// The recent campaigns' crashes: an open one (replaying deterministically)
/// fails the check; those under triage are only said (the returned note).
fn crashes(recent: &[&(&RunReport, &crate::evidence::FuzzCampaign)]) -> Result<String, Failure> {
    let signatures = |pick: fn(&crate::evidence::Crash) -> bool| -> BTreeSet<String> {
        recent.iter().flat_map(|(_, c)| c.crashes.iter().filter(|x| pick(x)).map(|x| x.signature.clone())).collect()
    };
    let (open, triage) = (signatures(crate::evidence::Crash::counts), signatures(crate::evidence::Crash::under_triage));
    let triage = if triage.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = triage.into_iter().collect();
        format!("; {} crash signature(s) under triage, not counted: {}", list.len(), list.join(", "))
    };
    if !open.is_empty() {
        let detail = format!("{} open crash signature(s), each replaying deterministically{triage}", open.len());
        return Err(Failure { reason: "open-crash", detail, items: open.into_iter().collect() });
    }
    Ok(triage)
}

/// Hours of fuzzing the campaigns spent, each counted at most for the wall
/// time of the run that reports it: a runner cannot claim more campaign time
/// than its own run took.
fn campaign_hours<'r>(campaigns: impl Iterator<Item = (&'r RunReport, &'r crate::evidence::FuzzCampaign)>) -> f64 {
    campaigns
        .map(|(r, c)| {
            let wall = r.finished_at.duration_since(r.started_at).as_secs_f64().max(0.0);
            let own = if c.duration_secs.is_finite() { c.duration_secs.max(0.0) } else { 0.0 };
            own.min(wall) / 3600.0
        })
        .sum()
}

/// `1.5 h`, `0.25 h`, `12 h`: hours as a person reads them.
fn format_hours(h: f64) -> String {
    let rounded = (h * 100.0).round() / 100.0;
    format!("{rounded} h")
}
