//! What a feature's pages show beyond its summary: the tests it selects in
//! one run, each with its first directive that did not pass, and what in
//! each target's latest runs is no evidence or flaky.

use std::collections::BTreeSet;

use matrix::evidence::Outcome;

use super::summary::{FeatureDetail, detail, plain};
use super::{ViewError, no_feature};
use crate::state::{AppState, Live};
use crate::store::{DirectiveRow, RunRow};

/// A feature's page: its detail, its pass rate over every run, its history
/// strip, and what is flaky or no evidence in its targets' latest runs.
#[derive(Debug)]
pub struct FeaturePage {
    pub f: FeatureDetail,
    pub chart: String,
    pub strip: String,
    pub flaky: Vec<(String, String, i64)>,
    pub no_evidence: Vec<NoEvidence>,
}

/// Builds a feature's page from the snapshot `live`.
pub async fn page(state: &AppState, live: &Live, id: &str) -> Result<FeaturePage, ViewError> {
    let f = detail(state, live, id).await?;
    let tests: BTreeSet<&str> = live.read.feature_tests(id).collect();
    let flaky = feature_flakes(&live.policy, &live.evidence, &f.targets, &tests);
    let no_evidence = feature_no_evidence(&live.evidence, &f.targets, &tests);
    let strip = super::charts::history_strip(&super::charts::days(&f.history, jiff::Timestamp::now(), STRIP_DAYS));
    let chart = super::charts::pass_rate(live.read.feature_runs(id));
    Ok(FeaturePage { f, chart, strip, flaky, no_evidence })
}

/// What a grid cell stands for: the tests a feature selects in one run of
/// the evidence, failures first, with the totals.
#[derive(Debug)]
pub struct Results {
    pub feature: String,
    pub label: String,
    pub place: String,
    pub run: RunRow,
    pub passed: usize,
    pub failed: usize,
    pub no_evidence: usize,
    pub tests: Vec<TestLine>,
}

/// Builds [`Results`] for feature `id` in `run`, a stored run that must
/// also be in the snapshot's evidence.
pub fn results(live: &Live, id: &str, run: RunRow) -> Result<Results, ViewError> {
    let f = live.policy.feature(id).ok_or_else(|| no_feature(id))?;
    let run_id = run.run_id.as_str();
    let report = live.evidence.runs.iter().find(|r| r.run_id == run_id).ok_or_else(|| {
        ViewError::NotFound(format!(
            "run `{run_id}` is not in the evidence the matrix reads (rejected, or older than the horizon)"
        ))
    })?;
    let selected = matrix::evaluate::ReadModel::run_tests(&live.policy, &live.evidence, id, run_id);
    if selected.is_empty() {
        return Err(ViewError::NotFound(format!("feature `{id}` selects no test in run `{run_id}`")));
    }
    let mut tests = test_lines(report, &selected);
    // What needs a reader's eyes first: failures, then no evidence.
    tests.sort_by_key(|t| (t.class == "pass", t.class != "fail", t.test.clone()));
    Ok(Results {
        feature: id.to_owned(),
        label: plain(&f.label),
        place: matrix::evaluate::place(&run.target, &run.compiler, &run.dimensions),
        passed: tests.iter().map(|t| t.passed).sum(),
        failed: tests.iter().map(|t| t.failed).sum(),
        no_evidence: tests.iter().map(|t| t.no_evidence).sum(),
        tests,
        run,
    })
}

/// The rows of `report`'s tests among `tests` that did not pass: all the
/// flaky and no-evidence analyses read. A run's passing directives, most of
/// a huge run, are never copied.
fn not_passed(report: &matrix::RunReport, tests: &BTreeSet<&str>) -> Vec<DirectiveRow> {
    crate::store::directive_rows_of(report, |key| tests.contains(key), |o| o != Outcome::Pass)
}

/// The names of `report`'s tests among `tests` with at least one directive
/// (or a result, for a WASI program).
fn present(report: &matrix::RunReport, tests: &BTreeSet<&str>) -> BTreeSet<String> {
    let scripts = report.spec.iter().filter(|f| f.size() > 0).map(|f| f.key());
    scripts.chain(report.wasi.iter().map(|w| w.key())).filter(|key| tests.contains(key.as_str())).collect()
}

/// One test of a feature in one run.
#[derive(Debug)]
pub struct TestLine {
    pub test: String,
    pub passed: usize,
    pub failed: usize,
    pub no_evidence: usize,
    /// `fail` when a directive failed, else the first outcome that is no
    /// evidence, else `pass`.
    pub class: &'static str,
    /// The first directive that did not pass: line, directive, outcome, message.
    pub first: Option<(u32, String, &'static str, String)>,
}

impl TestLine {
    pub fn of<'a>(test: String, outcomes: impl Iterator<Item = (u32, &'a str, Outcome, Option<&'a str>)>) -> TestLine {
        let mut line = TestLine { test, passed: 0, failed: 0, no_evidence: 0, class: "pass", first: None };
        for (at, kind, outcome, message) in outcomes {
            match outcome {
                Outcome::Pass => line.passed += 1,
                Outcome::Fail => line.failed += 1,
                _ => line.no_evidence += 1,
            }
            if outcome == Outcome::Fail {
                line.class = "fail";
            } else if outcome != Outcome::Pass && line.class == "pass" {
                line.class = outcome.as_str();
            }
            if outcome != Outcome::Pass && line.first.is_none() {
                let message = message.and_then(|m| m.lines().next()).unwrap_or("").to_owned();
                line.first = Some((at, kind.to_owned(), outcome.as_str(), message));
            }
        }
        line
    }
}

/// One line per test of `report` among `selected` (script files and WASI
/// tests, by key).
fn test_lines(report: &matrix::RunReport, selected: &BTreeSet<String>) -> Vec<TestLine> {
    report
        .spec
        .iter()
        .filter(|file| selected.contains(&file.key()))
        .map(|file| {
            let mut line = TestLine::of(
                file.key(),
                file.directives.iter().map(|d| (d.line, d.kind.as_str(), d.outcome, d.message.as_deref())),
            );
            line.passed += file.passes_elided as usize;
            line
        })
        .chain(
            report
                .wasi
                .iter()
                .filter(|w| selected.contains(&w.key()))
                .map(|w| TestLine::of(w.key(), std::iter::once((0, "wasi", w.outcome, w.message.as_deref())))),
        )
        .collect()
}

/// How many days a feature's history strip shows.
const STRIP_DAYS: i64 = 30;

/// Directives and programs of a feature that are neither evidence for it
/// nor against it, in a target's latest run: how many, and one reason.
#[derive(Debug)]
pub struct NoEvidence {
    pub target: String,
    pub outcome: &'static str,
    pub count: usize,
    pub example: String,
}

/// What in each target's latest run of the feature's tests is no evidence
/// (`skip`, `unsupported`, `harness-error`, `timeout`), counted per outcome
/// with the first test and reason as an example.
fn feature_no_evidence(
    evidence: &matrix::Evidence,
    targets: &[matrix::evaluate::TargetResult],
    tests: &BTreeSet<&str>,
) -> Vec<NoEvidence> {
    let mut out = Vec::new();
    for t in targets {
        let Some(run) = evidence.runs.iter().find(|r| r.run_id == t.run_id) else { continue };
        let rows = not_passed(run, tests);
        for outcome in Outcome::ALL.into_iter().filter(|o| o.is_no_evidence()) {
            let name = outcome.as_str();
            let mine: Vec<_> = rows.iter().filter(|d| d.outcome == name).collect();
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
    tests: &BTreeSet<&str>,
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
        let rows: Vec<(String, Vec<DirectiveRow>, BTreeSet<String>)> =
            runs.iter().map(|r| (r.run_id.clone(), not_passed(r, tests), present(r, tests))).collect();
        let views: Vec<(&str, &[DirectiveRow], &BTreeSet<String>)> =
            rows.iter().map(|(id, r, n)| (id.as_str(), r.as_slice(), n)).collect();
        let target = t.place();
        out.extend(super::analysis::flakes(&views).into_iter().map(|(test, line)| (target.clone(), test, line)));
    }
    out
}
