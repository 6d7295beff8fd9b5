//! Run-to-run comparisons: what regressed since the previous run of the same
//! target and compiler, and which directives flip without an engine change.

use std::collections::{BTreeMap, BTreeSet};

use crate::store::DirectiveRow;

/// A directive identity: test name and line.
pub type DirectiveId = (String, i64);

/// What changed between two runs, from their non-passing directives.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunDiff {
    /// The run compared against.
    pub previous: Option<String>,
    /// Failing now, not failing before.
    pub regressed: Vec<DirectiveRow>,
    /// Failing before, not failing now.
    pub fixed: Vec<DirectiveRow>,
}

fn failing(rows: &[DirectiveRow]) -> BTreeMap<DirectiveId, &DirectiveRow> {
    rows.iter().filter(|d| d.outcome == "fail").map(|d| ((d.test.clone(), d.line), d)).collect()
}

/// Compares the non-passing directives of a run with its predecessor's.
pub fn diff(previous: Option<(&str, &[DirectiveRow])>, current: &[DirectiveRow]) -> RunDiff {
    let Some((prev_id, prev)) = previous else { return RunDiff::default() };
    let (before, now) = (failing(prev), failing(current));
    RunDiff {
        previous: Some(prev_id.to_owned()),
        regressed: now.iter().filter(|(k, _)| !before.contains_key(*k)).map(|(_, d)| (*d).clone()).collect(),
        fixed: before.iter().filter(|(k, _)| !now.contains_key(*k)).map(|(_, d)| (*d).clone()).collect(),
    }
}

/// Directives that failed in some but not all of `runs` — runs of one
/// target, compiler and engine version, so the engine did not change.
/// Only tests present in every run are considered.
pub fn flakes(runs: &[(&str, &[DirectiveRow], &BTreeSet<String>)]) -> Vec<DirectiveId> {
    if runs.len() < 2 {
        return Vec::new();
    }
    let mut fails: BTreeMap<DirectiveId, usize> = BTreeMap::new();
    for (_, rows, _) in runs {
        for k in failing(rows).into_keys() {
            *fails.entry(k).or_default() += 1;
        }
    }
    fails
        .into_iter()
        .filter(|((test, _), n)| *n < runs.len() && runs.iter().all(|(_, _, tests)| tests.contains(test)))
        .map(|(k, _)| k)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(test: &str, line: i64, outcome: &str) -> DirectiveRow {
        DirectiveRow { test: test.into(), line, kind: "assert_return".into(), outcome: outcome.into(), message: None }
    }

    #[test]
    fn diff_finds_regressions_and_fixes() {
        let prev = [d("a.wast", 1, "fail"), d("a.wast", 2, "pass"), d("b.wast", 3, "fail")];
        let now = [d("a.wast", 1, "pass"), d("a.wast", 2, "fail"), d("b.wast", 3, "fail")];
        let diff = diff(Some(("r1", &prev)), &now);
        assert_eq!(diff.previous.as_deref(), Some("r1"));
        assert_eq!(diff.regressed, [d("a.wast", 2, "fail")]);
        assert_eq!(diff.fixed, [d("a.wast", 1, "fail")]);
        assert_eq!(super::diff(None, &now), RunDiff::default());
    }

    #[test]
    fn flakes_are_directives_that_flip_within_one_engine_version() {
        let tests: BTreeSet<String> = ["a.wast".to_owned(), "b.wast".to_owned()].into();
        let only_a: BTreeSet<String> = ["a.wast".to_owned()].into();
        let r1 = [d("a.wast", 1, "fail"), d("b.wast", 3, "fail")];
        let r2 = [d("a.wast", 1, "pass"), d("b.wast", 3, "fail")];
        let r3 = [d("a.wast", 1, "fail")];
        let got = flakes(&[("r1", &r1, &tests), ("r2", &r2, &tests), ("r3", &r3, &only_a)]);
        // b.wast:3 fails in both runs that have b.wast, but r3 lacks it: not judged.
        assert_eq!(got, [("a.wast".to_owned(), 1)]);
        assert!(flakes(&[("r1", &r1, &tests)]).is_empty());
    }
}
