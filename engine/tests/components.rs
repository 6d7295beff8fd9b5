//! The component-model testsuite through the engine, like `spec.rs`: one
//! trial per (compiler, script), known failures in
//! `tests/components-known-failures.txt`, checked both ways. Scripts are read
//! from `$TIERWATCH_TESTSUITES/component-model`.

mod common;

use std::sync::Arc;

use engine::{Compiler, Profile};
use libtest_mimic::{Arguments, Trial};

const LIST: &str = "tests/components-known-failures.txt";

fn main() {
    let args = Arguments::from_args();
    let root = Arc::new(common::suites().join("component-model"));
    let files = engine::suite::scripts(&root);
    assert!(files.len() >= 40, "found {} scripts under {}; set TIERWATCH_TESTSUITES", files.len(), root.display());
    let known = Arc::new(common::known_failures(include_str!("components-known-failures.txt")));
    let mut trials = Vec::new();
    for compiler in Compiler::ALL {
        let profile = Profile::new(compiler).expect("engine profile");
        for file in &files {
            let name = format!("{compiler}/{file}");
            let (profile, known, root, file, key) =
                (profile.clone(), known.clone(), root.clone(), file.clone(), name.clone());
            trials.push(Trial::test(name, move || {
                let failures = common::wast_failures(&profile, "component-model", &root, &file)?;
                common::judge(&key, &failures, known.get(&key), LIST)
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
