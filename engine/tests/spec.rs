//! The upstream spec testsuite through the engine: one trial per
//! (compiler, script), named `cranelift/simd_lane.wast`, so `cargo test -p
//! tierwatch-engine --test spec -- simd` runs a subset. Every directive runs;
//! a script with failing directives must be listed in
//! `tests/known-failures.txt` with a reason, and a listed script that passes
//! fails the run, so the list stays true both ways. Scripts are read from
//! `$TIERWATCH_TESTSUITES/wasm-spec`.

mod common;

use std::sync::Arc;

use engine::{Compiler, Profile};
use libtest_mimic::{Arguments, Trial};

const LIST: &str = "tests/known-failures.txt";

fn main() {
    let args = Arguments::from_args();
    let root = Arc::new(common::suites().join("wasm-spec"));
    let files = engine::suite::scripts(&root);
    assert!(files.len() > 200, "found {} scripts under {}; set TIERWATCH_TESTSUITES", files.len(), root.display());
    let known = Arc::new(common::known_failures(include_str!("known-failures.txt")));
    let mut trials = Vec::new();
    for compiler in Compiler::ALL {
        let profile = Profile::new(compiler).expect("engine profile");
        for file in &files {
            let name = format!("{compiler}/{file}");
            let (profile, known, root, file, key) =
                (profile.clone(), known.clone(), root.clone(), file.clone(), name.clone());
            trials.push(Trial::test(name, move || {
                let failures = common::wast_failures(&profile, "wasm-spec", &root, &file)?;
                common::judge(&key, &failures, known.get(&key), LIST)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
