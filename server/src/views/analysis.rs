//! Which directives flip without an engine change, over a feature's runs in
//! the evidence. (A run's own diff and flakes are listings the database
//! computes: `store::listings`.)

use std::collections::{BTreeMap, BTreeSet};

use crate::store::DirectiveRow;

/// A directive identity: test name and line.
pub type DirectiveId = (String, i64);

fn failing(rows: &[DirectiveRow]) -> BTreeMap<DirectiveId, &DirectiveRow> {
    rows.iter().filter(|d| d.outcome == "fail").map(|d| ((d.test.clone(), d.line), d)).collect()
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
