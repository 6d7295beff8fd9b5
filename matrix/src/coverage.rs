//! Whether a policy's selectors match the real tests: every spec and WASI
//! pattern must match at least one test of the suites it is checked
//! against, and no test may be claimed by two features of one category
//! over the same runs unless one of them is declared an umbrella. The test
//! names are handed in (`suite/path` for scripts, `suite/test` for WASI
//! programs); reading them from disk is the caller's business.

use std::collections::BTreeMap;

use crate::diag::{Code, Diagnostic};
use crate::policy::{Feature, Pattern, Policy};

/// The tests a testsuite checkout holds.
#[derive(Debug, Clone, Default)]
pub struct TestNames {
    /// `wasm-spec/…` and `component-model/…` script names.
    pub spec: Vec<String>,
    /// `<suite>/<test>` WASI program names.
    pub wasi: Vec<String>,
}

/// The suite name of a wasi-testsuite folder: `<language>-<target>`, the
/// target being the manifest's `version` less `wasm32-` (e.g.
/// `rust-wasip3`); without a manifest, the language folder's name.
pub fn wasi_suite_name(language: &str, manifest_version: Option<&str>) -> String {
    match manifest_version {
        Some(v) => format!("{language}-{}", v.strip_prefix("wasm32-").unwrap_or(v)),
        None => language.to_owned(),
    }
}

/// Every selector that matches no test, and every test two features of one
/// category claim over the same runs, as positioned diagnostics.
pub fn check(policy: &Policy, tests: &TestNames) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for f in &policy.features {
        for (kind, patterns, names) in
            [("spec", &f.evidence.spec.patterns, &tests.spec), ("wasi", &f.evidence.wasi, &tests.wasi)]
        {
            for p in patterns.iter().filter(|p| !names.iter().any(|n| p.is_match(n))) {
                out.push(
                    Diagnostic::new(p.pos, Code::NoMatch, format!("{kind} selector `{}` of `{}` matches no test", p.text, f.id))
                        .with_help(format!(
                            "name real tests (`tierwatch-runner doctor` lists the suites), or say `no-test-data: <why>` instead of a {kind} selector"
                        )),
                );
            }
        }
    }
    for k in policy.known_failures.iter().filter(|k| !tests.spec.iter().chain(&tests.wasi).any(|n| k.test.is_match(n)))
    {
        out.push(
            Diagnostic::new(k.test.pos, Code::NoMatch, format!("known failure `{}` matches no test", k.test.text))
                .with_help("name the failing test as `suite/name` (`tierwatch-runner doctor` lists the suites)"),
        );
    }
    out.extend(overlaps(policy, tests));
    out.sort_by_key(|d| d.pos);
    out
}

/// Whether two features' evidence can come from the same runs.
fn same_runs(a: &Feature, b: &Feature) -> bool {
    let meet = |x: &[String], y: &[String]| x.is_empty() || y.is_empty() || x.iter().any(|v| y.contains(v));
    meet(&a.evidence.targets, &b.evidence.targets)
        && meet(&a.evidence.compilers, &b.evidence.compilers)
        && a.evidence
            .dimensions
            .iter()
            .all(|(k, va)| b.evidence.dimensions.get(k).is_none_or(|vb| va.iter().any(|v| vb.contains(v))))
}

fn overlaps(policy: &Policy, tests: &TestNames) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let claims = |f: &Feature, name: &str, wasi: bool| -> Option<Pattern> {
        let patterns = if wasi { &f.evidence.wasi } else { &f.evidence.spec.patterns };
        patterns.iter().find(|p| p.is_match(name)).cloned()
    };
    for (wasi, names) in [(false, &tests.spec), (true, &tests.wasi)] {
        for name in names {
            // First claimant per category, then every later one that meets it.
            let mut first: BTreeMap<&str, Vec<&Feature>> = BTreeMap::new();
            for f in policy.features.iter().filter(|f| !f.evidence.umbrella) {
                let Some(p) = claims(f, name, wasi) else { continue };
                let earlier = first.entry(f.category.as_str()).or_default();
                if let Some(other) = earlier.iter().find(|o| same_runs(o, f)) {
                    out.push(
                        Diagnostic::new(
                            p.pos,
                            Code::Overlap,
                            format!("`{name}` is claimed by `{}` and by `{}` (`{}`)", other.id, f.id, p.text),
                        )
                        .with_help("narrow one selector, or mark a row that covers the others with `umbrella: true`"),
                    );
                }
                earlier.push(f);
            }
        }
    }
    out
}
