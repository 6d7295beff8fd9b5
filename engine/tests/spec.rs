//! The upstream spec testsuite through the engine: one trial per
//! (compiler, script), named `cranelift/simd_lane.wast`, so `cargo test -p
//! tierwatch-engine --test spec -- simd` runs a subset. Every directive runs;
//! a script with failing directives must be listed in
//! `tests/known-failures.txt` with a reason, and a listed script that passes
//! fails the run, so the list stays true both ways.
//!
//! Scripts are read from `$TIERWATCH_TESTSUITES/wasm-spec` (default:
//! `../shared/testsuites` beside the repository).

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine::{Compiler, Profile};
use libtest_mimic::{Arguments, Failed, Trial};
use matrix::evidence::Outcome;

fn suites() -> PathBuf {
    std::env::var_os("TIERWATCH_TESTSUITES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuites"))
}

/// `compiler path: reason` lines; `#` starts a comment.
fn known_failures() -> BTreeMap<(String, String), String> {
    let text = include_str!("known-failures.txt");
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (head, reason) = l.split_once(':').unwrap_or((l, ""));
            let (compiler, path) = head.split_once(' ').unwrap_or((head, ""));
            ((compiler.trim().to_owned(), path.trim().to_owned()), reason.trim().to_owned())
        })
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let root = suites().join("wasm-spec");
    let files = engine::suite::scripts(&root);
    assert!(
        files.len() > 200,
        "found {} scripts under {}; set TIERWATCH_TESTSUITES to a checkout of the testsuites",
        files.len(),
        root.display()
    );
    let known = std::sync::Arc::new(known_failures());
    let mut trials = Vec::new();
    for compiler in Compiler::ALL {
        let profile = Profile::new(compiler).expect("engine profile");
        for file in &files {
            let (profile, known, path) = (profile.clone(), known.clone(), root.join(file));
            let name = format!("{compiler}/{file}");
            let file = file.clone();
            trials.push(Trial::test(name, move || {
                let text = std::fs::read_to_string(&path).map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
                let report = engine::run_wast(&profile, "wasm-spec", &file, &text);
                let failing: Vec<String> = report
                    .directives
                    .iter()
                    .filter(|d| d.outcome == Outcome::Fail)
                    .map(|d| format!("{file}:{}: {}: {}", d.line, d.kind, d.message.as_deref().unwrap_or("")))
                    .collect();
                let listed = known.get(&(compiler.name().to_owned(), file.clone()));
                match (failing.is_empty(), listed) {
                    (true, None) | (false, Some(_)) => Ok(()),
                    (true, Some(reason)) => Err(format!(
                        "{compiler} {file} now passes every directive but is listed as a known failure ({reason}); remove it from tests/known-failures.txt"
                    )
                    .into()),
                    (false, None) => {
                        let passed = report.count(Outcome::Pass);
                        Err(format!(
                            "{} of {} directives fail ({passed} pass):\n{}",
                            failing.len(),
                            report.directives.len(),
                            failing.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
                        )
                        .into())
                    }
                }
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
