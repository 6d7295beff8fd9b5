//! The upstream spec testsuite through the engine: one trial per
//! (compiler, script), named `cranelift/simd_lane.wast`, so `cargo test -p
//! tierwatch-engine --test spec -- simd` runs a subset. Every directive runs;
//! a script with failing directives must be listed in
//! `tests/known-failures.txt` with a reason, and a listed script that passes
//! fails the run, so the list stays true both ways. Scripts are read from
//! `$TIERWATCH_TESTSUITES/wasm-spec`.

mod common;

fn main() {
    common::run_wast_harness("wasm-spec", include_str!("known-failures.txt"), "tests/known-failures.txt", 200)
}
