//! A real run of the spec testsuite becomes a run report that the matrix
//! evaluates: real evidence moves real tiers.

mod common;

use std::path::PathBuf;

use common::suites;

use engine::suite::{Provenance, report, run_scripts, scripts};
use engine::{Compiler, Profile};
use jiff::{SignedDuration, Timestamp};
use matrix::evidence::{Outcome, TargetInfo};
use matrix::{Evidence, RunReport, Status, Tier};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The seed-world reports, re-dated to now, with the core spec and C /
/// AssemblyScript WASI results of `run_id` taken out: a real run supplies
/// those (component-model and preview-2 results, which the engine does not
/// produce yet, stay).
fn seed_world_without(run_id: &str) -> Vec<RunReport> {
    let dir = root().join("policy/fixtures/seed-world");
    let shift = Timestamp::now().duration_since("2026-11-20T00:00:00Z".parse().expect("ts"));
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("fixture dir") {
        let p = e.expect("entry").path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let mut r = RunReport::from_json(&std::fs::read_to_string(&p).expect("read")).expect("valid");
        if r.run_id == run_id {
            r.spec.retain(|f| f.suite != "wasm-spec");
            r.wasi.retain(|w| w.suite == "rust");
        }
        r.started_at += shift;
        r.finished_at += shift;
        out.push(r);
    }
    out
}

#[test]
fn a_real_cranelift_run_feeds_the_matrix() {
    let wasm_spec = suites().join("wasm-spec");
    let files = scripts(&wasm_spec);
    assert!(files.len() > 200, "the spec testsuite is at {}", wasm_spec.display());
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let started = Timestamp::now() - SignedDuration::from_secs(1);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spec = run_scripts(&profile, "wasm-spec", &wasm_spec, &files, threads);
    assert_eq!(spec.len(), files.len());
    let provenance = Provenance {
        run_id: "real-x86_64-cranelift".into(),
        runner: "engine-test".into(),
        target: TargetInfo { triple: "x86_64-unknown-linux-gnu".into(), emulated: false, emulator: None },
    };
    let mut real = report(&provenance, &profile, started, spec);
    let wasi_cases = engine::wasi::discover(&suites().join("wasi/tests"));
    real.wasi = wasi_cases.iter().map(|c| engine::wasi::run_case(&profile, c)).collect();
    // Every preview-1 program passes, and every WASI 0.3 component but the
    // one that wasmtime 48.0.8 itself fails (engine/tests/wasi_http_paths.rs).
    let (p1, p3): (Vec<_>, Vec<_>) = real.wasi.iter().partition(|w| w.suite.ends_with("-wasip1"));
    assert!(p1.len() == 72 && p1.iter().all(|w| w.outcome == Outcome::Pass), "{p1:?}");
    let not_passed: Vec<(&str, Outcome)> =
        p3.iter().filter(|w| w.outcome != Outcome::Pass).map(|w| (w.test.as_str(), w.outcome)).collect();
    assert!(p3.len() == 41 && not_passed == [("http-request", Outcome::Fail)], "{not_passed:?}");
    // The report is the wire format: it survives its own schema checks.
    let json = serde_json::to_string(&real).expect("serialise");
    let real = RunReport::from_json(&json).expect("a valid run report");
    let passed: usize = real.spec.iter().map(|f| f.count(Outcome::Pass)).sum();
    assert!(passed > 40_000, "{passed} directives passed");

    let mut runs = seed_world_without("seed-x86_64-unknown-linux-gnu-cranelift");
    runs.push(real);
    let text = std::fs::read_to_string(root().join("policy/wasmtime.yaml")).expect("policy");
    let policy = matrix::validate("wasmtime.yaml", &text).expect("valid policy");
    let eval = matrix::evaluate(&policy, &runs.into_iter().collect::<Evidence>(), Timestamp::now());
    // Real evidence for the core language and most proposals keeps them at tier 1 ...
    for id in [
        "x86_64-unknown-linux-gnu",
        "simd",
        "relaxed-simd",
        "tail-call",
        "multi-memory",
        "bulk-memory",
        "wasi_snapshot_preview1",
        "wasi-clocks",
        "wasi-filesystem",
        "threads",
    ] {
        let f = eval.feature(id).expect("feature");
        assert_eq!((f.earned, f.status), (Some(Tier(1)), Status::Conforming), "{id}: {:?}", f.failing_declared);
    }
    // ... threads included: its scripts run with the proposals wasmtime's
    // harness gives them (threads and bulk memory only), so the modules they
    // must reject are rejected.
    let threads = eval.feature("threads").expect("feature");
    let ci = threads.outcomes.iter().find(|o| o.requirement == "t2-ci-proposal").expect("outcome");
    assert!(ci.met, "{:?}", ci);
    // The preview-3 programs are evidence now: sockets passes on them all;
    // wasi-http is held back by the one program wasmtime fails, named.
    let sockets = eval.feature("wasi-sockets").expect("feature");
    assert_eq!((sockets.earned, sockets.status), (Some(Tier(1)), Status::Conforming), "{:?}", sockets.failing_declared);
    let http = eval.feature("wasi-http").expect("feature");
    assert_eq!(http.status, Status::Violating, "{:?}", http.outcomes);
    assert!(
        http.outcomes.iter().any(|o| !o.met && o.items.iter().any(|i| i.contains("rust-wasip3/http-request"))),
        "the failing program is named: {:?}",
        http.outcomes
    );
}
