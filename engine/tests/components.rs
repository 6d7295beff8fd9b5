//! The component-model testsuite through the engine, like `spec.rs`: one
//! trial per (compiler, script), known failures in
//! `tests/components-known-failures.txt`, checked both ways. Scripts are read
//! from `$TIERWATCH_TESTSUITES/component-model`.

mod common;

fn main() {
    common::run_wast_harness(
        "component-model",
        include_str!("components-known-failures.txt"),
        "tests/components-known-failures.txt",
        40,
    )
}
