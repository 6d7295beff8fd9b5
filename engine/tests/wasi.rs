//! The WASI testsuite through the engine: one trial per (compiler, suite,
//! test), e.g. `cranelift/c/lseek`. Failing tests must be listed in
//! `tests/wasi-known-failures.txt` with a reason; a listed test that passes
//! fails the run. Tests are read from `$TIERWATCH_TESTSUITES/wasi/tests`.

mod common;

use std::sync::Arc;

use engine::{Compiler, Profile};
use libtest_mimic::{Arguments, Trial};
use matrix::evidence::Outcome;

const LIST: &str = "tests/wasi-known-failures.txt";

fn main() {
    let args = Arguments::from_args();
    let root = common::suites().join("wasi/tests");
    let cases = engine::wasi::discover(&root);
    assert!(cases.len() >= 20, "found {} WASI tests under {}; set TIERWATCH_TESTSUITES", cases.len(), root.display());
    let known = Arc::new(common::known_failures(include_str!("wasi-known-failures.txt")));
    let mut trials = Vec::new();
    // Cranelift and Winch. Pulley's WASI evidence comes from the runner
    // (`run --compilers pulley`, natively in scripts/run-targets):
    // interpreting every program here, in a debug build, would add minutes
    // to every CI run for programs the spec and component suites already
    // hold Pulley to.
    for compiler in [Compiler::Cranelift, Compiler::Winch] {
        let profile = Profile::new(compiler).expect("engine profile");
        for case in &cases {
            let name = format!("{compiler}/{}/{}", case.suite, case.name);
            let (profile, case, known, key) = (profile.clone(), case.clone(), known.clone(), name.clone());
            trials.push(Trial::test(name, move || {
                let r = engine::wasi::run_case(&profile, &case);
                let seen = [(r.outcome, r.message.unwrap_or_default())];
                let seen = seen.into_iter().filter(|(o, _)| *o != Outcome::Pass);
                common::judge(&key, common::observed(seen), known.get(&key), LIST)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
