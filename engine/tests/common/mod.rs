//! Shared by the engine's harnesses: where the testsuites are, the
//! known-failure lists, and the trial that runs one `.wast` script.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use engine::Profile;
use libtest_mimic::Failed;
use matrix::evidence::Outcome;

/// `$TIERWATCH_TESTSUITES`, or `../shared/testsuites` beside the repository.
pub fn suites() -> PathBuf {
    std::env::var_os("TIERWATCH_TESTSUITES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuites"))
}

/// A known-failure list: `<trial name>: <reason>` lines, `#` comments.
pub fn known_failures(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, reason) = l.split_once(": ").unwrap_or((l, ""));
            (name.trim().to_owned(), reason.trim().to_owned())
        })
        .collect()
}

/// Judges a trial against its list, both ways: failures must be listed,
/// listed trials must fail.
pub fn judge(name: &str, failures: &[String], listed: Option<&String>, list: &str) -> Result<(), Failed> {
    match (failures.is_empty(), listed) {
        (true, None) | (false, Some(_)) => Ok(()),
        (true, Some(reason)) => {
            Err(format!("{name} now passes but is listed as a known failure ({reason}); remove it from {list}").into())
        }
        (false, None) => Err(format!(
            "{} failing:\n{}\n(fix it, or list it in {list} with the reason)",
            failures.len(),
            failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
        )
        .into()),
    }
}

/// Runs `root/file` and returns its failing directives as
/// `file:line: directive: message`.
pub fn wast_failures(profile: &Profile, suite: &str, root: &Path, file: &str) -> Result<Vec<String>, Failed> {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
    let report = engine::run_wast(profile, suite, file, &text);
    Ok(report
        .directives
        .iter()
        .filter(|d| d.outcome == Outcome::Fail)
        .map(|d| format!("{file}:{}: {}: {}", d.line, d.kind, d.message.as_deref().unwrap_or("")))
        .collect())
}

/// A harness over every `.wast` script under `$TIERWATCH_TESTSUITES/suite`:
/// one trial per (compiler, script), judged against `list` (named `list_name`).
pub fn run_wast_harness(suite: &'static str, list: &str, list_name: &'static str, at_least: usize) -> ! {
    use std::sync::Arc;

    use engine::Compiler;
    use libtest_mimic::{Arguments, Trial};

    let args = Arguments::from_args();
    let root = Arc::new(suites().join(suite));
    let files = engine::suite::scripts(&root);
    assert!(
        files.len() >= at_least,
        "found {} scripts under {}; set TIERWATCH_TESTSUITES",
        files.len(),
        root.display()
    );
    let known = Arc::new(known_failures(list));
    let mut trials = Vec::new();
    for compiler in Compiler::ALL {
        let profile = Profile::new(compiler).expect("engine profile");
        for file in &files {
            let name = format!("{compiler}/{file}");
            let (profile, known, root, file, key) =
                (profile.clone(), known.clone(), root.clone(), file.clone(), name.clone());
            trials.push(Trial::test(name, move || {
                let failures = wast_failures(&profile, suite, &root, &file)?;
                judge(&key, &failures, known.get(&key), list_name)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit()
}
