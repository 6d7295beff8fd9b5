//! An index of the evidence built once per evaluation, so that checks read
//! only what concerns them: every test name is interned and resolved once to
//! the set of features whose selection includes it, and every run lists its
//! tests per feature.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use crate::evidence::{Evidence, Outcome, RunReport};
use crate::policy::{Policy, Selector, Suite};

/// One test (a spec file or a WASI program) of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TestIx {
    /// Interned `suite/name`.
    pub key: u32,
    /// Failed directives (1 or 0 for a WASI program).
    pub failures: u32,
    /// Directives that are no evidence (skipped, unsupported, harness
    /// errors, timeouts).
    pub skipped: u32,
    /// Of those, the ones the engine refused as unsupported.
    pub unsupported: u32,
    /// Directives (1 for a WASI program).
    pub size: u32,
}

/// One run with its tests grouped by the features that select them.
#[derive(Debug)]
pub(crate) struct RunIx<'a> {
    pub report: &'a RunReport,
    pub target: u32,
    pub compiler: u32,
    /// Interned dimension values; `None` when the policy does not allow
    /// the run's dimensions (no selector picks it).
    pub variant: Option<u32>,
    spec: Vec<TestIx>,
    wasi: Vec<TestIx>,
    /// Feature index → indices into `spec`.
    spec_of: Vec<Vec<u32>>,
    /// Feature index → indices into `wasi`.
    wasi_of: Vec<Vec<u32>>,
}

impl RunIx<'_> {
    /// The tests of feature `f` in this run, from the given suites.
    pub fn tests_of(&self, f: usize, suites: &[Suite]) -> impl Iterator<Item = &TestIx> {
        let spec = suites.contains(&Suite::Spec).then(|| self.spec_of[f].iter().map(|&i| &self.spec[i as usize]));
        let wasi = suites.contains(&Suite::Wasi).then(|| self.wasi_of[f].iter().map(|&i| &self.wasi[i as usize]));
        spec.into_iter().flatten().chain(wasi.into_iter().flatten())
    }
}

/// The evidence, indexed.
#[derive(Debug)]
pub(crate) struct Index<'a> {
    /// Runs, oldest first.
    pub runs: Vec<RunIx<'a>>,
    /// Interned test names.
    pub keys: Vec<String>,
    /// Interned target triples.
    pub targets: Vec<&'a str>,
    /// Interned compilers.
    pub compilers: Vec<&'a str>,
    /// Interned dimension values (every declared dimension, in order).
    pub variants: Vec<Vec<(String, String)>>,
    /// Per variant: `name=value` of the dimensions away from their
    /// default, as places in details show it ("" for an ordinary run).
    pub variant_labels: Vec<String>,
}

fn intern<'a>(table: &mut Vec<&'a str>, lookup: &mut HashMap<&'a str, u32>, s: &'a str) -> u32 {
    *lookup.entry(s).or_insert_with(|| {
        table.push(s);
        (table.len() - 1) as u32
    })
}

/// Which features select a test name.
struct Members<'p> {
    policy: &'p Policy,
    keys: Vec<String>,
    /// suite → name → key id.
    ids: HashMap<String, HashMap<String, u32>>,
    /// Per key: the feature indices selecting it.
    spec: Vec<Vec<u32>>,
    wasi: Vec<Vec<u32>>,
}

impl Members<'_> {
    fn key(&mut self, suite: &str, name: &str, wasi: bool) -> u32 {
        if let Some(&id) = self.ids.get(suite).and_then(|m| m.get(name)) {
            return id;
        }
        let key = format!("{suite}/{name}");
        let id = self.keys.len() as u32;
        let (spec, wasi) = if wasi { (vec![], self.wasi_members(&key)) } else { (self.spec_members(&key), vec![]) };
        self.spec.push(spec);
        self.wasi.push(wasi);
        self.keys.push(key);
        self.ids.entry(suite.to_owned()).or_default().insert(name.to_owned(), id);
        id
    }

    /// A spec file is core when no proposal, unsupported entry or exclusion
    /// claims it; features naming `@core` select core files.
    fn spec_members(&self, key: &str) -> Vec<u32> {
        let p = self.policy;
        let by_pattern: Vec<bool> =
            p.features.iter().map(|f| f.evidence.spec.patterns.iter().any(|pat| pat.is_match(key))).collect();
        let core = !by_pattern.iter().any(|b| *b)
            && !p.unsupported.iter().any(|u| u.spec.iter().any(|pat| pat.is_match(key)))
            && !p.core_exclude.iter().any(|pat| pat.is_match(key));
        (0..p.features.len() as u32)
            .filter(|&i| by_pattern[i as usize] || (core && p.features[i as usize].evidence.spec.core))
            .collect()
    }

    fn wasi_members(&self, key: &str) -> Vec<u32> {
        (0..self.policy.features.len() as u32)
            .filter(|&i| self.policy.features[i as usize].evidence.wasi.iter().any(|p| p.is_match(key)))
            .collect()
    }
}

impl<'a> Index<'a> {
    /// Indexes `evidence` for `policy`.
    pub fn new(policy: &Policy, evidence: &'a Evidence) -> Self {
        let mut reports: Vec<&RunReport> = evidence.runs.iter().map(|r| &**r).collect();
        reports.sort_by(|a, b| (a.finished_at, &a.run_id).cmp(&(b.finished_at, &b.run_id)));
        let n = policy.features.len();
        let mut members = Members { policy, keys: Vec::new(), ids: HashMap::new(), spec: Vec::new(), wasi: Vec::new() };
        let (mut targets, mut compilers) = (Vec::new(), Vec::new());
        let (mut target_ids, mut compiler_ids) = (HashMap::new(), HashMap::new());
        let (mut variants, mut variant_labels): (Vec<Vec<(String, String)>>, Vec<String>) = (Vec::new(), Vec::new());
        // Runs of one suite list the same files in the same order: remember
        // the key at each position and skip the hash lookup when it repeats.
        let mut by_position: Vec<(&str, &str, u32)> = Vec::new();
        let runs = reports
            .into_iter()
            .map(|report| {
                let mut run = RunIx {
                    report,
                    target: intern(&mut targets, &mut target_ids, &report.target.triple),
                    compiler: intern(&mut compilers, &mut compiler_ids, &report.engine.compiler),
                    variant: policy.run_dimensions(report).ok().map(|values| {
                        match variants.iter().position(|v| *v == values) {
                            Some(i) => i as u32,
                            None => {
                                variant_labels.push(policy.variant(report));
                                variants.push(values);
                                (variants.len() - 1) as u32
                            }
                        }
                    }),
                    spec: Vec::with_capacity(report.spec.len()),
                    wasi: Vec::with_capacity(report.wasi.len()),
                    spec_of: vec![Vec::new(); n],
                    wasi_of: vec![Vec::new(); n],
                };
                for (j, f) in report.spec.iter().enumerate() {
                    let key = match by_position.get(j) {
                        Some(&(suite, file, key)) if suite == f.suite && file == f.file => key,
                        _ => {
                            let key = members.key(&f.suite, &f.file, false);
                            if j < by_position.len() {
                                by_position[j] = (&f.suite, &f.file, key);
                            } else {
                                by_position.push((&f.suite, &f.file, key));
                            }
                            key
                        }
                    };
                    let (mut failures, mut skipped, mut unsupported) = (0, 0, 0);
                    for d in &f.directives {
                        match d.outcome {
                            Outcome::Fail => failures += 1,
                            Outcome::Pass => {}
                            // No evidence either way.
                            other => {
                                skipped += 1;
                                unsupported += u32::from(other == Outcome::Unsupported);
                            }
                        }
                    }
                    let i = run.spec.len() as u32;
                    let size = u32::try_from(f.size()).unwrap_or(u32::MAX);
                    run.spec.push(TestIx { key, failures, skipped, unsupported, size });
                    for &m in &members.spec[key as usize] {
                        run.spec_of[m as usize].push(i);
                    }
                }
                for w in &report.wasi {
                    let key = members.key(&w.suite, &w.test, true);
                    let i = run.wasi.len() as u32;
                    let (failures, skipped) =
                        (u32::from(w.outcome == Outcome::Fail), u32::from(w.outcome.is_no_evidence()));
                    let unsupported = u32::from(w.outcome == Outcome::Unsupported);
                    run.wasi.push(TestIx { key, failures, skipped, unsupported, size: 1 });
                    for &m in &members.wasi[key as usize] {
                        run.wasi_of[m as usize].push(i);
                    }
                }
                run
            })
            .collect();
        Index { runs, keys: members.keys, targets, compilers, variants, variant_labels }
    }

    /// Runs the selector picks that finished at or after `since`.
    pub fn runs<'s>(
        &'s self,
        sel: &Selector,
        since: Option<Timestamp>,
    ) -> impl Iterator<Item = &'s RunIx<'a>> + use<'s, 'a> {
        let start = since.map_or(0, |s| self.runs.partition_point(|r| r.report.finished_at < s));
        let target_ok: Vec<bool> =
            self.targets.iter().map(|t| sel.targets.is_empty() || sel.targets.iter().any(|x| x == t)).collect();
        let compiler_ok: Vec<bool> =
            self.compilers.iter().map(|c| sel.compilers.is_empty() || sel.compilers.iter().any(|x| x == c)).collect();
        let variant_ok: Vec<bool> = self.variants.iter().map(|v| sel.selects_dimensions(v)).collect();
        self.runs[start..].iter().filter(move |r| {
            target_ok[r.target as usize]
                && compiler_ok[r.compiler as usize]
                && r.variant.is_some_and(|v| variant_ok[v as usize])
        })
    }

    /// The latest result of every test of feature `tests_of` per (target,
    /// compiler, dimensions) in the runs `runs` picks, tests without any
    /// verdict included: what a support-table cell reads.
    pub fn latest<'s>(
        &'s self,
        runs: &Selector,
        tests_of: usize,
        since: Option<Timestamp>,
    ) -> HashMap<(u32, u32, u32, u32), (&'s RunIx<'a>, TestIx)> {
        let mut out = HashMap::new();
        for run in self.runs(runs, since) {
            for test in run.tests_of(tests_of, &[Suite::Spec, Suite::Wasi]) {
                out.insert((run.target, run.compiler, run.variant.unwrap_or(u32::MAX), test.key), (run, *test));
            }
        }
        out
    }

    /// Tallies feature `tests_of`'s tests in the runs `runs` picks.
    pub fn tally<'s>(
        &'s self,
        runs: &Selector,
        tests_of: usize,
        suites: &[Suite],
        since: Option<Timestamp>,
    ) -> Tally<'s, 'a> {
        let mut t = Tally { index: self, tests: HashMap::new() };
        for run in self.runs(runs, since) {
            // A test whose every directive was skipped says nothing.
            for test in run.tests_of(tests_of, suites).filter(|t| t.skipped < t.size) {
                // Runs are visited oldest first: a later one replaces.
                let variant = run.variant.unwrap_or(u32::MAX);
                t.tests.insert((run.target, run.compiler, variant, test.key), (run, *test));
            }
        }
        t
    }
}

/// Latest results per (target, compiler, dimensions, test) within a
/// selection: a `no_std` run does not replace an ordinary one.
pub(crate) struct Tally<'s, 'a> {
    index: &'s Index<'a>,
    /// (target, compiler, variant, test) → the latest run with it, and its
    /// result.
    tests: HashMap<(u32, u32, u32, u32), (&'s RunIx<'a>, TestIx)>,
}

impl Tally<'_, '_> {
    pub fn is_empty(&self) -> bool {
        self.tests.is_empty()
    }

    pub fn len(&self) -> usize {
        self.tests.len()
    }

    /// Failing tests: the test's `suite/name` key, where it failed as
    /// `test on target/compiler`, and its failure count; sorted by place.
    pub fn failing(&self) -> Vec<(&str, String, usize)> {
        let ix = self.index;
        let mut out: Vec<(&str, String, usize)> = self
            .tests
            .iter()
            .filter(|(_, (_, t))| t.failures > 0)
            .map(|(&(target, compiler, variant, key), (_, t))| {
                let test = ix.keys[key as usize].as_str();
                let dims = match ix.variant_labels.get(variant as usize) {
                    Some(label) if !label.is_empty() => format!(" [{label}]"),
                    _ => String::new(),
                };
                let place =
                    format!("{test} on {}/{}{dims}", ix.targets[target as usize], ix.compilers[compiler as usize]);
                (test, place, t.failures as usize)
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    pub fn failed_directives(&self) -> usize {
        self.tests.values().map(|(_, t)| t.failures as usize).sum()
    }

    /// Distinct tests across targets: each spec directive and each WASI
    /// program counts once.
    pub fn distinct_tests(&self) -> usize {
        let mut sizes: BTreeMap<u32, u32> = BTreeMap::new();
        for (&(_, _, _, key), (_, t)) in &self.tests {
            let e = sizes.entry(key).or_default();
            *e = (*e).max(t.size - t.skipped);
        }
        sizes.values().map(|v| *v as usize).sum()
    }

    pub fn targets(&self) -> usize {
        self.tests.keys().map(|k| k.0).collect::<BTreeSet<_>>().len()
    }

    pub fn run_ids(&self) -> Vec<String> {
        let ids: BTreeSet<&str> = self.tests.values().map(|(r, _)| r.report.run_id.as_str()).collect();
        ids.into_iter().map(str::to_owned).collect()
    }
}
