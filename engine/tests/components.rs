//! The component-model testsuite through the engine, like `spec.rs`: one
//! trial per (compiler, script), known failures in
//! `tests/components-known-failures.txt`, checked both ways. Scripts are read
//! from `$TIERWATCH_TESTSUITES/component-model`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use engine::{Compiler, Profile};
use libtest_mimic::{Arguments, Trial};
use matrix::evidence::Outcome;

fn known() -> BTreeMap<String, String> {
    include_str!("components-known-failures.txt")
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, reason) = l.split_once(": ").unwrap_or((l, ""));
            (name.trim().to_owned(), reason.trim().to_owned())
        })
        .collect()
}

fn main() {
    let args = Arguments::from_args();
    let root = std::env::var_os("TIERWATCH_TESTSUITES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuites"))
        .join("component-model");
    let files = engine::suite::scripts(&root);
    assert!(files.len() >= 40, "found {} scripts under {}; set TIERWATCH_TESTSUITES", files.len(), root.display());
    let known = Arc::new(known());
    let mut trials = Vec::new();
    for compiler in Compiler::ALL {
        let profile = Profile::new(compiler).expect("engine profile");
        for file in &files {
            let name = format!("{compiler}/{file}");
            let (profile, known, path, file, key) =
                (profile.clone(), known.clone(), root.join(file), file.clone(), name.clone());
            trials.push(Trial::test(name, move || {
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                let r = engine::run_wast(&profile, "component-model", &file, &text);
                let failing: Vec<String> = r
                    .directives
                    .iter()
                    .filter(|d| d.outcome == Outcome::Fail)
                    .map(|d| format!("{file}:{}: {}: {}", d.line, d.kind, d.message.as_deref().unwrap_or("")))
                    .collect();
                match (failing.is_empty(), known.get(&key)) {
                    (true, None) | (false, Some(_)) => Ok(()),
                    (true, Some(reason)) => {
                        Err(format!("{key} now passes but is listed as a known failure ({reason}); remove it").into())
                    }
                    (false, None) => Err(format!(
                        "{} of {} directives fail:\n{}",
                        failing.len(),
                        r.directives.len(),
                        failing.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
                    )
                    .into()),
                }
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
