//! Support tables: for each architecture of a table, every row (a feature)
//! × every backend is a cell whose support level is computed from evidence:
//! the latest results, within the table's window, of the row's tests on the
//! architecture's targets with that backend, tried against the policy's
//! levels best first. Cells the policy declares not applicable count
//! neither for nor against and say why.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;

use crate::index::Index;
use crate::policy::{Counts, LevelRule, Policy, Selector, SupportTable};

/// One evaluated support table.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct TableResult {
    /// Table id.
    pub id: String,
    /// Its heading.
    pub title: String,
    /// Backend ids, in column order.
    pub backends: Vec<String>,
    /// One part per architecture, in the table's order.
    pub architectures: Vec<ArchitectureResult>,
}

/// The rows × backends of one architecture.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ArchitectureResult {
    /// Architecture id.
    pub id: String,
    /// Its heading.
    pub label: String,
    /// One row per feature, in the table's order.
    pub rows: Vec<RowResult>,
}

/// One feature's cells on one architecture.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RowResult {
    /// Feature id.
    pub feature: String,
    /// One cell per backend, in column order.
    pub cells: Vec<CellResult>,
}

/// A cell: its level and the evidence behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CellResult {
    /// Backend id.
    pub backend: String,
    /// The level id; `None` when no evidence reached the cell.
    pub level: Option<String>,
    /// How the level counts; `None` without evidence.
    pub counts: Option<Counts>,
    /// Declared not applicable by the policy (with `detail` saying why),
    /// rather than computed.
    pub declared: bool,
    /// Passing directives and programs.
    pub passed: u64,
    /// Failing ones.
    pub failed: u64,
    /// Ones the engine refused as unsupported.
    pub unsupported: u64,
    /// Ones with no verdict for another reason (skipped, harness errors,
    /// timeouts).
    pub other: u64,
    /// What decided the level, for people.
    pub detail: String,
    /// Failing tests, `test on target (n failing)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// The runs read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
    /// A footnote id the policy puts on the cell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footnote: Option<String>,
}

/// Evaluates every support table of `policy` over the indexed evidence.
pub(crate) fn evaluate(policy: &Policy, index: &Index<'_>, now: Timestamp) -> Vec<TableResult> {
    policy.tables.tables.iter().map(|t| table(policy, index, now, t)).collect()
}

fn table(policy: &Policy, index: &Index<'_>, now: Timestamp, t: &SupportTable) -> TableResult {
    let since = now.checked_sub(t.window.duration).unwrap_or(Timestamp::MIN);
    let architectures = t
        .architectures
        .iter()
        .filter_map(|a| policy.tables.architectures.iter().find(|x| &x.id == a))
        .map(|arch| {
            let targets: Vec<String> =
                index.targets.iter().filter(|tr| arch.has_target(tr)).map(|tr| (*tr).to_owned()).collect();
            let rows = t
                .rows
                .iter()
                .filter_map(|id| policy.features.iter().position(|f| &f.id == id))
                .map(|fi| {
                    let feature = &policy.features[fi];
                    let cells = t
                        .backends
                        .iter()
                        .map(|b| {
                            let key = (arch.id.clone(), b.clone(), feature.id.clone());
                            let mut cell = match t.not_applicable.get(&key) {
                                Some(why) => declared_not_applicable(policy, b, why),
                                None => computed(policy, index, (fi, &targets, b), since, t),
                            };
                            cell.footnote = t.notes.get(&key).cloned();
                            cell
                        })
                        .collect();
                    RowResult { feature: feature.id.clone(), cells }
                })
                .collect();
            ArchitectureResult { id: arch.id.clone(), label: arch.label.clone(), rows }
        })
        .collect();
    TableResult { id: t.id.clone(), title: t.title.clone(), backends: t.backends.clone(), architectures }
}

impl CellResult {
    /// A cell of `backend` with no level and no evidence yet.
    fn blank(backend: &str) -> CellResult {
        CellResult {
            backend: backend.to_owned(),
            level: None,
            counts: None,
            declared: false,
            passed: 0,
            failed: 0,
            unsupported: 0,
            other: 0,
            detail: String::new(),
            items: vec![],
            runs: vec![],
            footnote: None,
        }
    }
}

/// The best support level whose rule the cell's counts meet.
fn level_of<'p>(policy: &'p Policy, cell: &CellResult) -> Option<&'p crate::policy::Level> {
    let decided = (cell.passed + cell.failed) as f64;
    policy.tables.levels.iter().find(|l| match l.rule {
        LevelRule::AllPass { min_tests } => cell.failed == 0 && cell.passed >= u64::from(min_tests.max(1)),
        LevelRule::PassRate { at_least } => cell.passed > 0 && cell.passed as f64 / decided >= at_least,
        LevelRule::AllUnsupported => cell.passed == 0 && cell.failed == 0 && cell.unsupported > 0,
        LevelRule::Otherwise => true,
    })
}

fn declared_not_applicable(policy: &Policy, backend: &str, why: &str) -> CellResult {
    let level = policy.tables.levels.iter().find(|l| l.counts == Counts::Neither);
    CellResult {
        level: level.map(|l| l.id.clone()),
        counts: Some(Counts::Neither),
        declared: true,
        detail: format!("not applicable: {why}"),
        ..CellResult::blank(backend)
    }
}

/// The cell of feature `fi` with `backend` on `targets`, from evidence.
fn computed(
    policy: &Policy,
    index: &Index<'_>,
    (fi, targets, backend): (usize, &[String], &str),
    since: Timestamp,
    t: &SupportTable,
) -> CellResult {
    let mut cell = CellResult::blank(backend);
    if targets.is_empty() {
        cell.detail = "no run on a target of this architecture".into();
        return cell;
    }
    // The cell decides targets and backend; dimensions stay at their
    // defaults (a no_std run is not evidence for the ordinary table).
    let selector = Selector {
        targets: targets.to_vec(),
        compilers: vec![backend.to_owned()],
        dimensions: policy.dimensions.iter().map(|d| (d.id.clone(), vec![d.default.clone()])).collect(),
        ..Selector::default()
    };
    let latest = index.latest(&selector, fi, Some(since));
    let (mut seen_targets, mut runs) = (BTreeSet::new(), BTreeSet::new());
    let mut failing = Vec::new();
    for (&(target, _, _, key), (run, test)) in &latest {
        let (failures, skipped, unsupported) =
            (u64::from(test.failures), u64::from(test.skipped), u64::from(test.unsupported));
        cell.passed += u64::from(test.size) - failures - skipped;
        cell.failed += failures;
        cell.unsupported += unsupported;
        cell.other += skipped - unsupported;
        seen_targets.insert(index.targets[target as usize]);
        runs.insert(run.report.run_id.clone());
        if failures > 0 {
            failing.push(format!(
                "{} on {} ({failures} failing)",
                index.keys[key as usize], index.targets[target as usize]
            ));
        }
    }
    failing.sort();
    cell.items = failing;
    cell.runs = runs.into_iter().collect();
    let on = seen_targets.into_iter().collect::<Vec<_>>().join(", ");
    if cell.passed + cell.failed + cell.unsupported == 0 {
        cell.detail = if latest.is_empty() {
            format!("no test of this row ran with {backend} on {} within {}", targets.join(", "), t.window.text)
        } else {
            format!("{} test(s) ran on {on} within {} without a verdict", latest.len(), t.window.text)
        };
        return cell;
    }
    let level = level_of(policy, &cell);
    cell.detail = format!(
        "{} pass, {} fail, {} unsupported on {on} within {}",
        cell.passed, cell.failed, cell.unsupported, t.window.text
    );
    if let Some(l) = level {
        cell.level = Some(l.id.clone());
        cell.counts = Some(l.counts);
    }
    cell
}
