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

/// The reason classes a known-failure entry can have, by which outcome
/// shows them: the engine did the wrong thing (`fail`), tierwatch or
/// wasmtime's runner could not run it (`harness-error`, `timeout`), or the
/// compiler or engine does not implement what it needs (`unsupported`).
pub const CLASSES: [&str; 3] = ["engine", "harness", "unsupported"];

/// One listed failure: its class and why.
#[derive(Debug, Clone)]
pub struct Known {
    pub class: String,
    pub reason: String,
}

/// A known-failure list: `<trial name>: <class>: <reason>` lines, `#`
/// comments. A line without a known class stops the harness with its
/// number.
pub fn known_failures(text: &str) -> BTreeMap<String, Known> {
    let mut out = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.split(" #").next().unwrap_or_default().trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let mut parts = l.splitn(3, ": ");
        let (name, class, reason) = (parts.next(), parts.next(), parts.next());
        let (Some(name), Some(class), Some(reason)) = (name, class, reason) else {
            panic!("line {}: expected `<trial>: <class>: <reason>`, found `{l}`", i + 1);
        };
        assert!(CLASSES.contains(&class), "line {}: class `{class}` is not one of {CLASSES:?}", i + 1);
        out.insert(name.to_owned(), Known { class: class.to_owned(), reason: reason.to_owned() });
    }
    out
}

/// The class a set of outcomes shows, with the first message of it: a
/// failure outweighs a harness error, which outweighs unsupported.
pub fn observed<'a>(results: impl Iterator<Item = (Outcome, String)> + Clone + 'a) -> Option<(&'static str, String)> {
    let find = |want: &dyn Fn(Outcome) -> bool| results.clone().find(|(o, _)| want(*o)).map(|(_, m)| m);
    if let Some(m) = find(&|o| o == Outcome::Fail) {
        return Some(("engine", m));
    }
    if let Some(m) = find(&|o| matches!(o, Outcome::HarnessError | Outcome::Timeout)) {
        return Some(("harness", m));
    }
    find(&|o| o == Outcome::Unsupported).map(|m| ("unsupported", m))
}

/// Judges a trial against its list, both ways: what does not pass must be
/// listed with the class it shows, and listed trials must show it.
pub fn judge(name: &str, observed: Option<(&str, String)>, listed: Option<&Known>, list: &str) -> Result<(), Failed> {
    match (observed, listed) {
        (None, None) => Ok(()),
        (Some((class, _)), Some(k)) if class == k.class => Ok(()),
        (None, Some(k)) => Err(format!(
            "{name} now passes but is listed as a known failure ({}: {}); remove it from {list}",
            k.class, k.reason
        )
        .into()),
        (Some((class, message)), Some(k)) => Err(format!(
            "{name} shows `{class}` but is listed as `{}` ({}); first: {message}\n(fix the class in {list})",
            k.class, k.reason
        )
        .into()),
        (Some((class, message)), None) => {
            Err(format!("{name} shows `{class}`: {message}\n(fix it, or list it in {list} with its class and reason)")
                .into())
        }
    }
}

/// Runs `root/file` and returns its outcomes with `file:line: directive:
/// message`.
pub fn wast_results(
    profile: &Profile,
    suite: &str,
    root: &Path,
    file: &str,
) -> Result<matrix::evidence::SpecFile, Failed> {
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
    Ok(engine::run_wast(profile, suite, file, &text))
}

/// The outcomes of a script's directives, each with its located message.
pub fn located(file: &matrix::evidence::SpecFile) -> Vec<(Outcome, String)> {
    file.directives
        .iter()
        .map(|d| (d.outcome, format!("{}:{}: {}: {}", file.file, d.line, d.kind, d.message.as_deref().unwrap_or(""))))
        .collect()
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
    let host = engine::harness::Host::current(false);
    let mut trials = Vec::new();
    for compiler in Compiler::ALL {
        let profile = Profile::new(compiler).expect("engine profile");
        for file in &files {
            let name = format!("{compiler}/{file}");
            let (profile, known, root, file, key, host) =
                (profile.clone(), known.clone(), root.clone(), file.clone(), name.clone(), host.clone());
            trials.push(Trial::test(name, move || {
                let result = wast_results(&profile, suite, &root, &file)?;
                // wasmtime's own harness is the oracle: a disagreement with
                // it fails the trial whatever the list says.
                let expected = engine::harness::expectation(suite, &file, compiler, &host);
                if let engine::harness::Agreement::Disagrees(first) = engine::harness::agreement(&expected, &result) {
                    return Err(format!("{key}: disagrees with wasmtime's harness ({expected:?}): {first}").into());
                }
                judge(&key, observed(located(&result).into_iter()), known.get(&key), list_name)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit()
}
