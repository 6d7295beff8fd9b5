//! The WASI testsuite through the engine: one trial per (compiler, suite,
//! test), e.g. `cranelift/c/lseek`. Failing tests must be listed in
//! `tests/wasi-known-failures.txt` with a reason; a listed test that passes
//! fails the run. Tests are read from `$TIERWATCH_TESTSUITES/wasi/tests`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use engine::{Compiler, Profile};
use libtest_mimic::{Arguments, Trial};
use matrix::evidence::Outcome;

fn known() -> BTreeMap<String, String> {
    include_str!("wasi-known-failures.txt")
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, reason) = l.split_once(':').unwrap_or((l, ""));
            (name.trim().to_owned(), reason.trim().to_owned())
        })
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let root = std::env::var_os("TIERWATCH_TESTSUITES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuites"))
        .join("wasi/tests");
    let cases = engine::wasi::discover(&root);
    assert!(cases.len() >= 20, "found {} WASI tests under {}; set TIERWATCH_TESTSUITES", cases.len(), root.display());
    let known = Arc::new(known());
    let mut trials = Vec::new();
    for compiler in Compiler::ALL {
        let profile = Profile::new(compiler).expect("engine profile");
        for case in &cases {
            let name = format!("{compiler}/{}/{}", case.suite, case.name);
            let (profile, case, known, key) = (profile.clone(), case.clone(), known.clone(), name.clone());
            trials.push(Trial::test(name, move || {
                let r = engine::wasi::run_case(&profile, &case);
                match (r.outcome, known.get(&key)) {
                    (Outcome::Fail, None) => Err(r.message.unwrap_or_default().into()),
                    (Outcome::Fail, Some(_)) => Ok(()),
                    (_, Some(reason)) => Err(format!(
                        "{key} no longer fails but is listed as a known failure ({reason}); remove it from tests/wasi-known-failures.txt"
                    )
                    .into()),
                    (_, None) => Ok(()),
                }
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
