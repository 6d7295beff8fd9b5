//! The whole spec testsuite through the engine (every directive recorded)
//! and through `wasmtime wast` of the same wasmtime version, on the same
//! files with the same parallelism, in one run; prints both and the ratio.
//!
//! ```sh
//! cargo install wasmtime-cli --version 48.0.8 --locked --root ~/.cache/wasmtime-cli-48
//! TIERWATCH_WASMTIME_CLI=~/.cache/wasmtime-cli-48/bin/wasmtime \
//!   cargo bench -p tierwatch-engine --bench spec_vs_cli
//! ```

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use engine::{Compiler, Profile};
use matrix::evidence::Outcome;

fn main() {
    let cli = std::env::var("TIERWATCH_WASMTIME_CLI").unwrap_or_else(|_| "wasmtime".into());
    let version = Command::new(&cli).arg("--version").output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let Ok(version) = version else {
        eprintln!(
            "`{cli}` cannot be run: install wasmtime-cli {} and set TIERWATCH_WASMTIME_CLI",
            engine::WASMTIME_VERSION
        );
        std::process::exit(2);
    };
    if !version.contains(engine::WASMTIME_VERSION) {
        eprintln!(
            "`{cli}` is {}, not {}: the comparison needs the same version",
            version.trim(),
            engine::WASMTIME_VERSION
        );
        std::process::exit(2);
    }
    let root = std::env::var_os("TIERWATCH_TESTSUITES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testsuites"))
        .join("wasm-spec");
    let files = engine::suite::scripts(&root);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let t = Instant::now();
    let results = engine::suite::run_scripts(&profile, "wasm-spec", &root, &files, threads);
    let ours = t.elapsed();
    let directives: usize = results.iter().map(|f| f.directives.len()).sum();
    let passed: usize = results.iter().map(|f| f.count(Outcome::Pass)).sum();

    let t = Instant::now();
    let clean = engine::parallel::map(&files, threads, |_, file| {
        Command::new(&cli)
            .args(["wast", "-W", "all-proposals=y"])
            .arg(root.join(file))
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .into_iter()
    .filter(|ok| *ok)
    .count();
    let theirs = t.elapsed();
    println!("{} scripts, {threads} in parallel", files.len());
    println!("engine (every directive recorded: {passed} of {directives} pass):  {:>7.2} s", ours.as_secs_f64());
    println!(
        "`{cli} wast` (stops at a script's first failure; {} scripts clean): {:>7.2} s",
        clean,
        theirs.as_secs_f64()
    );
    println!("ratio engine / CLI: {:.2}×  (target ≤ 0.8×)", ours.as_secs_f64() / theirs.as_secs_f64());
}
