//! Shared test helpers: the repository's policy and seed-world fixture.

#![allow(dead_code)]

use std::path::PathBuf;

use jiff::Timestamp;
use matrix::{Evidence, Policy, RunReport};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The instant the seed-world fixture describes.
pub fn seed_now() -> Timestamp {
    "2026-11-20T00:00:00Z".parse().expect("valid timestamp")
}

/// The policy text of `policy/wasmtime.yaml`.
pub fn policy_text() -> String {
    std::fs::read_to_string(root().join("policy/wasmtime.yaml")).expect("policy/wasmtime.yaml is readable")
}

/// Validates policy text, panicking with every diagnostic.
pub fn policy_from(text: &str) -> Policy {
    matrix::validate("wasmtime.yaml", text).unwrap_or_else(|d| panic!("{d}"))
}

/// The repository's policy.
pub fn policy() -> Policy {
    policy_from(&policy_text())
}

/// The seed-world fixture's reports, in file-name order.
pub fn seed_world() -> Evidence {
    let dir = root().join("policy/fixtures/seed-world");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "the seed-world fixture has its reports");
    let runs: Vec<RunReport> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("readable report");
            RunReport::from_json(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()))
        })
        .collect();
    runs.into_iter().collect()
}
