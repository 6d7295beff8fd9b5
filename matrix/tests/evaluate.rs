//! Evidence moves tiers: regressions demote, fuzzing promotes, old evidence
//! goes stale, and the cross-feature iteration is order-independent.

mod common;

use jiff::{SignedDuration, Timestamp};
use matrix::evidence::{CrashReplay, Directive, Outcome};
use matrix::{Evidence, Status, Tier};

fn run_mut<'a>(e: &'a mut Evidence, run_id: &str) -> &'a mut matrix::RunReport {
    let run = e.runs.iter_mut().find(|r| r.run_id == run_id).unwrap_or_else(|| panic!("fixture run {run_id}"));
    std::sync::Arc::make_mut(run)
}

/// Makes one directive of every file matching `pred` fail.
fn regress(run: &mut matrix::RunReport, pred: impl Fn(&str) -> bool) -> usize {
    let mut n = 0;
    for f in run.spec.iter_mut().filter(|f| pred(&f.key())) {
        let d: &mut Directive = f.directives.last_mut().expect("directives");
        d.outcome = Outcome::Fail;
        d.message = Some("assert_return: result mismatch".into());
        n += 1;
    }
    assert!(n > 0, "the regression touched some file");
    n
}

fn texts(m: &[matrix::evaluate::Missing]) -> Vec<&str> {
    m.iter().map(|m| m.text.as_str()).collect()
}

#[test]
fn seed_world_conforms_everywhere() {
    let eval = matrix::evaluate(&common::policy(), &common::seed_world(), common::seed_now());
    let off: Vec<_> = eval.features.iter().filter(|f| !settled(f.status)).map(|f| &f.id).collect();
    assert!(off.is_empty(), "non-conforming in the seed world: {off:?}");
    // The tier-1 row the pinned testsuites have no programs for is neither
    // confirmed nor violating.
    let unstable = eval.feature("wasi_unstable").expect("feature");
    assert_eq!((unstable.status, unstable.earned), (Status::NoTestData, Some(Tier(3))));
    let md = matrix::tiers_md::render(&common::policy(), &eval);
    assert!(md.contains("| `wasi_unstable` "), "kept at its declared place, unannotated: {md}");
}

/// Conforming, or below its tier only for want of test data.
fn settled(s: Status) -> bool {
    matches!(s, Status::Conforming | Status::NoTestData)
}

#[test]
fn a_target_is_demoted_when_its_spec_results_regress() {
    let policy = common::policy();
    let mut evidence = common::seed_world();
    regress(run_mut(&mut evidence, "seed-aarch64-unknown-linux-gnu-cranelift"), |k| {
        k == "wasm-spec/nop.wast" || k == "wasm-spec/br.wast"
    });
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    let aarch64 = eval.feature("aarch64-unknown-linux-gnu").expect("feature");
    assert_eq!(aarch64.declared, Tier(2));
    assert_eq!(aarch64.earned, Some(Tier(3)));
    assert_eq!(aarch64.status, Status::Violating);
    assert_eq!(texts(&aarch64.failing_declared), ["CI testing"]);
    let ci = aarch64.outcomes.iter().find(|o| o.requirement == "t2-ci").expect("t2-ci outcome");
    assert_eq!(ci.reason, Some("failures"));
    assert!(
        ci.items.contains(&"wasm-spec/br.wast on aarch64-unknown-linux-gnu/cranelift (1 failing)".to_owned()),
        "{:?}",
        ci.items
    );
    // Core files belong to no proposal, so every proposal keeps its tier;
    // Cranelift's CI covers every target it runs on, so it falls too.
    let moved: Vec<_> = eval.features.iter().filter(|f| !settled(f.status)).map(|f| &f.id).collect();
    assert_eq!(moved, ["aarch64-unknown-linux-gnu", "cranelift"]);

    let md = matrix::tiers_md::render(&policy, &eval);
    assert!(md.contains("`aarch64-unknown-linux-gnu` **(earns Tier 3: CI testing)**"), "{md}");
}

#[test]
fn a_proposal_failing_on_one_target_loses_its_ci_requirement() {
    let policy = common::policy();
    let mut evidence = common::seed_world();
    regress(run_mut(&mut evidence, "seed-x86_64-apple-darwin-cranelift"), |k| k.starts_with("wasm-spec/return_call"));
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    let tail_call = eval.feature("tail-call").expect("feature");
    assert_eq!((tail_call.earned, tail_call.status), (Some(Tier(3)), Status::Violating));
    assert_eq!(texts(&tail_call.failing_declared), ["CI testing"]);
    let ci = tail_call.outcomes.iter().find(|o| o.requirement == "t2-ci-proposal").expect("outcome");
    assert_eq!(ci.items.len(), 3);
    assert!(ci.items.iter().all(|i| i.contains(" on x86_64-apple-darwin/cranelift")), "{:?}", ci.items);
    // Once tail-call is no longer tier 1, no target has to implement it.
    assert_eq!(eval.feature("x86_64-apple-darwin").expect("feature").status, Status::Conforming);
    assert_eq!(eval.feature("simd").expect("feature").earned, Some(Tier(1)));
}

#[test]
fn a_proposal_becomes_promotable_once_fuzzed() {
    // memory64 at phase 4 meets every tier-1 requirement but fuzzing.
    let policy = common::policy_from(&common::policy_text().replacen(
        "label: memory64\n    code: true\n    link: https://github.com/WebAssembly/memory64/blob/master/proposals/memory64/Overview.md\n    declared-tier: 2\n    phase: 3",
        "label: memory64\n    code: true\n    link: https://github.com/WebAssembly/memory64/blob/master/proposals/memory64/Overview.md\n    declared-tier: 2\n    phase: 4",
        1,
    ));
    assert_eq!(policy.feature("memory64").and_then(|f| f.phase), Some(4), "the test edited the phase");
    let mut unfuzzed = common::seed_world();
    for c in &mut run_mut(&mut unfuzzed, "seed-x86_64-unknown-linux-gnu-fuzz").fuzz {
        c.exercised.remove("memory64");
    }
    let before = matrix::evaluate(&policy, &unfuzzed, common::seed_now());
    let m = before.feature("memory64").expect("feature");
    assert_eq!((m.earned, m.status), (Some(Tier(2)), Status::Conforming));
    assert_eq!(texts(&m.missing_next), ["Continuous fuzzing"]);

    let after = matrix::evaluate(&policy, &common::seed_world(), common::seed_now());
    let m = after.feature("memory64").expect("feature");
    assert_eq!((m.earned, m.status), (Some(Tier(1)), Status::Promotable));
    assert!(m.missing_next.is_empty());
}

#[test]
fn an_open_crash_withholds_the_fuzzing_requirement() {
    let mut evidence = common::seed_world();
    let fuzz = run_mut(&mut evidence, "seed-x86_64-unknown-linux-gnu-fuzz");
    fuzz.fuzz[0].crashes[0].open = true;
    fuzz.fuzz[0].crashes[0].replay = Some(CrashReplay::Deterministic);
    let eval = matrix::evaluate(&common::policy(), &evidence, common::seed_now());
    let simd = eval.feature("simd").expect("feature");
    assert_eq!(simd.status, Status::Violating);
    let o = simd.outcomes.iter().find(|o| o.requirement == "t1-fuzz-proposal").expect("outcome");
    assert_eq!(o.reason, Some("open-crash"));
    assert_eq!(o.items, ["wasmtime:trap-mismatch:i64.rem_s"]);
}

#[test]
fn an_open_crash_that_does_not_replay_the_same_way_is_under_triage_not_counted() {
    for replay in [Some(CrashReplay::Varies), None] {
        let mut evidence = common::seed_world();
        let fuzz = run_mut(&mut evidence, "seed-x86_64-unknown-linux-gnu-fuzz");
        fuzz.fuzz[0].crashes[0].open = true;
        fuzz.fuzz[0].crashes[0].replay = replay;
        let eval = matrix::evaluate(&common::policy(), &evidence, common::seed_now());
        let simd = eval.feature("simd").expect("feature");
        assert_ne!(simd.status, Status::Violating, "{replay:?}");
        let o = simd.outcomes.iter().find(|o| o.requirement == "t1-fuzz-proposal").expect("outcome");
        assert_eq!(o.reason, None, "{replay:?}");
        assert!(
            o.detail.ends_with("; 1 crash signature(s) under triage, not counted: wasmtime:trap-mismatch:i64.rem_s"),
            "{replay:?}: {}",
            o.detail
        );
    }
}

#[test]
fn evidence_older_than_its_window_goes_stale() {
    let policy = common::policy();
    let evidence = common::seed_world();
    // 17 days after the runs: past the 14-day CI window, inside the 30-day ones.
    let later = common::seed_now() + SignedDuration::from_hours(24 * 15);
    let eval = matrix::evaluate(&policy, &evidence, later);
    let linux = eval.feature("x86_64-unknown-linux-gnu").expect("feature");
    assert_eq!(linux.status, Status::Stale);
    assert_eq!(linux.earned, Some(Tier(3)));
    let ci = linux.outcomes.iter().find(|o| o.requirement == "t2-ci").expect("outcome");
    assert_eq!(ci.reason, Some("stale"));
    // A feature that needs no test evidence is untouched.
    assert_eq!(eval.feature("dwarf").expect("feature").status, Status::Conforming);
    // Fresh evidence brings it back.
    assert_eq!(
        matrix::evaluate(&policy, &evidence, common::seed_now()).feature("x86_64-unknown-linux-gnu").map(|f| f.status),
        Some(Status::Conforming)
    );
}

#[test]
fn advisory_requirements_never_lower_a_tier() {
    let mut evidence = common::seed_world();
    for c in &mut run_mut(&mut evidence, "seed-x86_64-unknown-linux-gnu-fuzz").fuzz {
        c.oracle = matrix::evidence::Oracle::Validation;
    }
    let eval = matrix::evaluate(&common::policy(), &evidence, common::seed_now());
    let simd = eval.feature("simd").expect("feature");
    let diff = simd.outcomes.iter().find(|o| o.requirement == "t1-differential-fuzzing").expect("outcome");
    assert!(!diff.met && diff.advisory);
    assert_eq!((simd.earned, simd.status), (Some(Tier(1)), Status::Conforming));
}

#[test]
fn an_expired_attestation_is_stale() {
    let policy = common::policy();
    // 53 weeks after the attestations were recorded (2026-10-01).
    let later: Timestamp = "2027-10-08T00:00:00Z".parse().expect("timestamp");
    let mut evidence = common::seed_world();
    for r in &mut evidence.runs {
        std::sync::Arc::make_mut(r).finished_at = later - SignedDuration::from_hours(1);
    }
    let eval = matrix::evaluate(&policy, &evidence, later);
    let cranelift = eval.feature("cranelift").expect("feature");
    let o = cranelift.outcomes.iter().find(|o| o.requirement == "t2-responsive-maintainers").expect("outcome");
    assert_eq!(o.reason, Some("expired"));
    assert_eq!(cranelift.status, Status::Stale);
}

#[test]
fn cross_feature_iteration_is_order_independent_and_terminates() {
    let mut evidence = common::seed_world();
    // A mutual dependency: a tier-1 target that never ran a tier-1
    // proposal's tests. The target must implement every tier-1 proposal and
    // the proposal must be implemented on every tier-1 target.
    run_mut(&mut evidence, "seed-x86_64-pc-windows-msvc-cranelift")
        .spec
        .retain(|f| !f.key().starts_with("wasm-spec/simd_"));
    let policy = common::policy();
    let forward = matrix::evaluate(&policy, &evidence, common::seed_now());
    let mut reversed_policy = policy.clone();
    reversed_policy.features.reverse();
    let mut reversed_evidence = evidence.clone();
    reversed_evidence.runs.reverse();
    let backward = matrix::evaluate(&reversed_policy, &reversed_evidence, common::seed_now());
    for f in &forward.features {
        let b = backward.feature(&f.id).expect("same features");
        assert_eq!((f.earned, f.status, &f.missing_next), (b.earned, b.status, &b.missing_next), "{}", f.id);
    }
    let bound = policy.features.len() * policy.tiers.len() + 1;
    assert!(forward.rounds <= bound && forward.rounds >= 2, "rounds: {}", forward.rounds);
    assert_eq!(forward.feature("x86_64-pc-windows-msvc").and_then(|f| f.earned), Some(Tier(3)));
    assert_eq!(forward.feature("simd").and_then(|f| f.earned), Some(Tier(3)));
    // Its outcomes explain the demotion, though simd is no longer tier 1.
    let windows = forward.feature("x86_64-pc-windows-msvc").expect("feature");
    assert_eq!(texts(&windows.failing_declared), ["WebAssembly proposals (`simd`)"]);
    let simd = forward.feature("simd").expect("feature");
    assert_eq!(texts(&simd.failing_declared), ["Tier 1 targets (`x86_64-pc-windows-msvc`)"]);
}

#[test]
fn skipped_tests_are_not_evidence() {
    let mut evidence = common::seed_world();
    for f in &mut run_mut(&mut evidence, "seed-aarch64-unknown-linux-gnu-cranelift").spec {
        for d in &mut f.directives {
            d.outcome = Outcome::Skip;
            d.message = Some("not run".into());
        }
    }
    run_mut(&mut evidence, "seed-aarch64-unknown-linux-gnu-cranelift").wasi.clear();
    let eval = matrix::evaluate(&common::policy(), &evidence, common::seed_now());
    let aarch64 = eval.feature("aarch64-unknown-linux-gnu").expect("feature");
    let ci = aarch64.outcomes.iter().find(|o| o.requirement == "t2-ci").expect("outcome");
    assert_eq!(ci.reason, Some("no-evidence"));
    assert_eq!(aarch64.status, Status::Violating);
}

#[test]
fn a_known_failure_counts_against_its_feature_only() {
    let mut evidence = common::seed_world();
    let run = run_mut(&mut evidence, "seed-x86_64-unknown-linux-gnu-cranelift");
    let w = run.wasi.iter_mut().find(|w| w.key() == "rust-wasip3/http-request").expect("the fixture has it");
    w.outcome = Outcome::Fail;
    let eval = matrix::evaluate(&common::policy(), &evidence, common::seed_now());
    let http = eval.feature("wasi-http").expect("feature");
    assert_eq!(http.status, Status::Violating);
    let failing = "rust-wasip3/http-request on x86_64-unknown-linux-gnu/cranelift";
    assert!(
        http.outcomes.iter().any(|o| !o.met && o.items.iter().any(|i| i.starts_with(failing))),
        "{:?}",
        http.outcomes
    );
    let x86 = eval.feature("x86_64-unknown-linux-gnu").expect("feature");
    assert_eq!(x86.status, Status::Conforming, "{:?}", x86.failing_declared);
    let ci = x86.outcomes.iter().find(|o| o.requirement == "t2-ci").expect("outcome");
    assert!(ci.met, "{ci:?}");
    assert!(
        ci.detail.ends_with(&format!(
            "; 1 known failure(s) charged to other features, not counted: {failing} \
             (charged to wasi-http, https://github.com/bytecodealliance/wasmtime/issues/11779)"
        )),
        "{}",
        ci.detail
    );
    // The policy's entry is what sets it aside: naming another test, the
    // same failure fails the target.
    let other = common::policy_from(&common::policy_text().replacen(
        "test: \"rust-wasip3/http-request\"",
        "test: \"rust-wasip3/http-service\"",
        1,
    ));
    let eval = matrix::evaluate(&other, &evidence, common::seed_now());
    assert_eq!(eval.feature("x86_64-unknown-linux-gnu").expect("feature").status, Status::Violating);
}

#[test]
fn continuous_fuzzing_counts_hours_not_just_campaigns() {
    // The seed world fuzzes x86_64 for a day (two 24-hour campaigns side
    // by side): enough for the policy's 24 hours within 30 days.
    let policy = common::policy();
    let eval = matrix::evaluate(&policy, &common::seed_world(), common::seed_now());
    let linux = eval.feature("x86_64-unknown-linux-gnu").expect("feature");
    let o = linux.outcomes.iter().find(|o| o.requirement == "t1-fuzz-target").expect("outcome");
    assert!(o.met && o.detail.contains(", 48 h within 30d"), "{}", o.detail);

    // The same campaigns in a run that took one hour count one hour each:
    // a runner cannot claim more fuzzing than its run lasted.
    let mut evidence = common::seed_world();
    let fuzz = run_mut(&mut evidence, "seed-x86_64-unknown-linux-gnu-fuzz");
    fuzz.started_at = fuzz.finished_at - SignedDuration::from_hours(1);
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    let linux = eval.feature("x86_64-unknown-linux-gnu").expect("feature");
    let o = linux.outcomes.iter().find(|o| o.requirement == "t1-fuzz-target").expect("outcome");
    assert_eq!(o.reason, Some("too-few-hours"));
    assert_eq!(o.detail, "2 h of fuzzing within 30d in 2 campaign(s); the policy asks for at least 24 h");
    assert_eq!((linux.earned, linux.status), (Some(Tier(2)), Status::Violating));
    assert_eq!(texts(&linux.failing_declared), ["Continuous fuzzing"]);
}

/// The repository's policy with a `build` dimension, and the no_std row
/// reading runs that say `build: no_std` on any target instead of the
/// bare-metal triple.
fn policy_with_build_dimension() -> matrix::Policy {
    let text = common::policy_text().replacen(
        "\ndimensions:\n",
        "\ndimensions:\n  - id: build\n    description: How the engine was built.\n    values: [std, no_std]\n    default: std\n",
        1,
    );
    let text = text.replacen(
        "evidence: { targets: [x86_64-unknown-none] }",
        "evidence: { targets: [], dimensions: { build: [no_std] } }",
        1,
    );
    common::policy_from(&text)
}

/// A copy of the x86_64 Linux Cranelift run made as a `no_std` build, an
/// hour later, with `nop.wast` failing.
fn no_std_run(evidence: &Evidence) -> matrix::RunReport {
    let mut r = matrix::RunReport::clone(
        evidence.runs.iter().find(|r| r.run_id == "seed-x86_64-unknown-linux-gnu-cranelift").expect("run"),
    );
    r.run_id = "no-std-x86_64".into();
    r.version = matrix::evidence::VERSION;
    r.dimensions.insert("build".into(), "no_std".into());
    r.finished_at += SignedDuration::from_hours(1);
    regress(&mut r, |k| k == "wasm-spec/nop.wast");
    r
}

#[test]
fn a_run_of_another_dimension_neither_replaces_nor_joins_the_ordinary_runs() {
    let policy = policy_with_build_dimension();
    let mut evidence = common::seed_world();
    let no_std = no_std_run(&evidence);
    evidence.runs.retain(|r| r.target.triple != "x86_64-unknown-none");
    evidence.runs.push(no_std.into());
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    // The newer no_std run fails nop.wast, yet the x86_64 target reads only
    // its ordinary runs: still Tier 1.
    let linux = eval.feature("x86_64-unknown-linux-gnu").expect("feature");
    assert_eq!(linux.status, Status::Conforming, "{:?}", linux.failing_declared);
    // The no_std row reads only the no_std run, and says which run failed.
    let no_std = eval.feature("no-std").expect("the no_std row");
    let ci = no_std.outcomes.iter().find(|o| o.reason == Some("failures")).expect("a failing CI outcome");
    assert_eq!(ci.items, ["wasm-spec/nop.wast on x86_64-unknown-linux-gnu/cranelift [build=no_std] (1 failing)"]);
    let views = matrix::evaluate::Views::new(&policy, &evidence);
    let results = views.target_results(&no_std.id);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!((results[0].dimensions.as_str(), results[0].run_id.as_str()), ("build=no_std", "no-std-x86_64"));
    assert!(views.target_results("x86_64-unknown-linux-gnu").iter().all(|r| r.dimensions.is_empty()));
}

#[test]
fn a_run_naming_an_undeclared_dimension_counts_for_nothing() {
    let policy = common::policy();
    let mut evidence = common::seed_world();
    let no_std = no_std_run(&evidence);
    let err = policy.run_dimensions(&no_std).expect_err("the repository policy declares no `build` dimension");
    assert_eq!(err.field, "dimensions.build");
    assert_eq!(err.message, "the policy declares no dimension `build` (declared: compiled-on)");
    evidence.runs.push(no_std.into());
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    assert_eq!(eval.feature("x86_64-unknown-linux-gnu").map(|f| f.status), Some(Status::Conforming));
}

/// The repository policy with proposals judged on any compiler, and their
/// CI requirement met by Cranelift *or* Winch passing.
fn policy_with_any_compiler() -> matrix::Policy {
    let text = common::policy_text()
        .replacen(
            "  - id: wasm-proposal\n    label: WebAssembly Proposal\n    evidence-defaults:\n      compilers: [cranelift]\n",
            "  - id: wasm-proposal\n    label: WebAssembly Proposal\n    evidence-defaults:\n      compilers: []\n",
            1,
        )
        .replacen(
            "    check: { kind: tests-pass, window: 14d, min-tests: 3, min-targets: 2 }\n    subsumes: [t2-on-tier1-targets]",
            "    check:\n      any-of:\n        - { kind: tests-pass, window: 14d, min-tests: 3, min-targets: 2, where: { compilers: [cranelift] } }\n        - { kind: tests-pass, window: 14d, min-tests: 3, min-targets: 2, where: { compilers: [winch] } }\n    subsumes: [t2-on-tier1-targets]",
            1,
        );
    common::policy_from(&text)
}

#[test]
fn any_of_holds_by_one_compiler_when_the_other_fails() {
    let policy = policy_with_any_compiler();
    let eval = matrix::evaluate(&policy, &common::seed_world(), common::seed_now());
    let o = eval.feature("bulk-memory").and_then(|f| f.outcomes.iter().find(|o| o.requirement == "t2-ci-proposal"));
    let o = o.expect("outcome");
    assert!(o.met && o.detail.starts_with("alternative 1 of 2 holds: where compilers cranelift: "), "{}", o.detail);

    // Cranelift regresses on bulk memory on one target; Winch still passes
    // it on two: the requirement holds by the second alternative.
    let mut evidence = common::seed_world();
    regress(run_mut(&mut evidence, "seed-x86_64-apple-darwin-cranelift"), |k| k == "wasm-spec/bulk.wast");
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    let o = eval.feature("bulk-memory").and_then(|f| f.outcomes.iter().find(|o| o.requirement == "t2-ci-proposal"));
    let o = o.expect("outcome");
    assert!(o.met && o.detail.starts_with("alternative 2 of 2 holds: where compilers winch: "), "{}", o.detail);

    // simd fails on Winch in the seed world; with Cranelift failing too,
    // no alternative holds and both failures are named.
    let mut evidence = common::seed_world();
    regress(run_mut(&mut evidence, "seed-x86_64-apple-darwin-cranelift"), |k| k == "wasm-spec/simd_address.wast");
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    let simd = eval.feature("simd").expect("feature");
    let o = simd.outcomes.iter().find(|o| o.requirement == "t2-ci-proposal").expect("outcome");
    assert!(!o.met);
    assert_eq!(o.reason, Some("failures"), "both alternatives fail for the same reason");
    assert!(o.detail.starts_with("no alternative holds: (1) failures: where compilers cranelift: "), "{}", o.detail);
    assert!(o.detail.contains("; (2) failures: where compilers winch: "), "{}", o.detail);
    assert!(o.items.iter().any(|i| i.contains("on x86_64-apple-darwin/cranelift")), "{:?}", o.items);
    assert!(o.items.iter().any(|i| i.contains("/winch")), "{:?}", o.items);
    assert_eq!(texts(&simd.failing_declared), ["CI testing"]);
}

#[test]
fn a_requirement_that_does_not_apply_counts_neither_for_nor_against() {
    // Unwinding cannot be judged on a target without an OS: the no_std row
    // says the requirement does not apply to it.
    let denied = common::policy_text().replacen(
        "    features: [aarch64-pc-windows-msvc]\n",
        "    features: [aarch64-pc-windows-msvc, no-std]\n",
        1,
    );
    // Attested as not holding, the requirement lowers the row...
    let eval = matrix::evaluate(&common::policy_from(&denied), &common::seed_world(), common::seed_now());
    let o = eval.feature("no-std").and_then(|f| f.outcomes.iter().find(|o| o.requirement == "t2-unwinding"));
    assert_eq!(o.map(|o| (o.met, o.reason)), Some((false, Some("denied"))));
    // ...until the row says it does not apply.
    let text = denied.replacen(
        "    evidence: { targets: [x86_64-unknown-none] }\n",
        "    evidence: { targets: [x86_64-unknown-none] }\n    not-applicable:\n      - { requirements: [t2-unwinding], reason: no unwinder without an operating system }\n",
        1,
    );
    let policy = common::policy_from(&text);
    let r = policy.requirement("t2-unwinding").expect("requirement");
    assert_eq!(r.not_applicable_to("no-std"), Some("no unwinder without an operating system"));
    let mut evidence = common::seed_world();
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    let no_std = eval.feature("no-std").expect("feature");
    let o = no_std.outcomes.iter().find(|o| o.requirement == "t2-unwinding").expect("outcome");
    assert!(o.met && o.not_applicable, "{o:?}");
    assert_eq!(o.detail, "not applicable: no unwinder without an operating system");
    let json = serde_json::to_value(o).expect("json");
    assert_eq!(json["not-applicable"], true);
    evidence.runs.clear();
    let eval = matrix::evaluate(&policy, &evidence, common::seed_now());
    let o = eval.feature("no-std").and_then(|f| f.outcomes.iter().find(|o| o.requirement == "t2-unwinding"));
    assert!(o.is_some_and(|o| o.met && o.not_applicable), "whatever the evidence");
}

/// The repository policy counts runs whose code a build host compiled for
/// the target (`compiled-on=host`, the runner's fast mode) as it counts
/// runs compiled on the target; a requirement can still insist on the
/// latter.
#[test]
fn runs_compiled_on_the_host_count_like_runs_compiled_on_the_target() {
    let policy = common::policy();
    let plain = matrix::evaluate(&policy, &common::seed_world(), common::seed_now());
    let mut evidence = common::seed_world();
    for run in &mut evidence.runs {
        let mut r = matrix::RunReport::clone(run);
        r.version = matrix::evidence::VERSION;
        r.dimensions.insert("compiled-on".into(), "host".into());
        policy.run_dimensions(&r).expect("the policy declares compiled-on=host");
        *run = r.into();
    }
    let host = matrix::evaluate(&policy, &evidence, common::seed_now());
    let verdicts = |e: &matrix::Evaluation| -> Vec<(String, Option<Tier>, Status)> {
        e.features.iter().map(|f| (f.id.clone(), f.earned, f.status)).collect()
    };
    assert_eq!(verdicts(&plain), verdicts(&host), "every feature earns the same from either kind of run");
    assert!(plain.features.iter().any(|f| f.earned == Some(Tier(1))), "some feature earns tier 1 at all");

    // A requirement that names `compiled-on: [target]` reads none of them.
    let text = common::policy_text();
    let narrowed = text.replace("dimensions: { compiled-on: [target, host] }", "dimensions: { compiled-on: [target] }");
    assert_ne!(narrowed, text, "the categories name both values");
    let strict = common::policy_from(&narrowed);
    let strict_eval = matrix::evaluate(&strict, &evidence, common::seed_now());
    assert!(
        verdicts(&strict_eval) != verdicts(&host),
        "with only target-compiled runs counting, host-compiled evidence changes verdicts"
    );
}

/// The read model a server keeps per snapshot answers exactly what a fresh
/// index of the evidence answers, for every feature and every run (the one
/// run's index included), with and without a run of another dimension.
#[test]
fn the_read_model_answers_as_a_fresh_index_does() {
    let policy = policy_with_build_dimension();
    let mut evidence = common::seed_world();
    evidence.runs.push(no_std_run(&evidence).into());
    let views = matrix::evaluate::Views::new(&policy, &evidence);
    let model = matrix::evaluate::ReadModel::new(&policy, &evidence);
    let (evaluation, shared) = matrix::evaluate::evaluate_and_read(&policy, &evidence, common::seed_now());
    assert_eq!(evaluation, matrix::evaluate(&policy, &evidence, common::seed_now()), "one index serves both");
    let mut selected = 0;
    for f in &policy.features {
        assert_eq!(model.feature_runs(&f.id), views.feature_runs(&f.id), "{}", f.id);
        assert_eq!(shared.feature_runs(&f.id), views.feature_runs(&f.id), "{}", f.id);
        assert_eq!(model.target_results(&f.id), views.target_results(&f.id), "{}", f.id);
        let tests: Vec<&str> = model.feature_tests(&f.id).collect();
        let expected = views.feature_tests(&f.id);
        assert_eq!(tests, expected.iter().map(String::as_str).collect::<Vec<_>>(), "{}", f.id);
        for run in &evidence.runs {
            let one = matrix::evaluate::ReadModel::run_tests(&policy, &evidence, &f.id, &run.run_id);
            let fresh = views.run_tests(&f.id, &run.run_id);
            assert_eq!(one, fresh, "{} in {}", f.id, run.run_id);
            selected += fresh.len();
        }
    }
    assert!(selected > 1000, "the seed world selects tests in its runs ({selected})");
    assert!(model.feature_runs("no such feature").is_empty());
    assert_eq!(model.target_results("no-std").len(), 1);
}

/// A server holds its evidence with passes elided: every verdict, detail
/// and read-model answer is the one the whole reports give.
#[test]
fn evidence_with_passes_elided_evaluates_as_the_whole_reports() {
    let policy = policy_with_build_dimension();
    let mut whole = common::seed_world();
    whole.runs.push(no_std_run(&whole).into());
    let elided =
        Evidence { runs: whole.runs.iter().map(|r| std::sync::Arc::new((**r).clone().elide_passes())).collect() };
    let directives = |e: &Evidence| e.runs.iter().flat_map(|r| &r.spec).map(|f| f.directives.len()).sum::<usize>();
    let kept = directives(&elided);
    assert!(kept * 10 < directives(&whole), "most directives pass and are elided ({kept} of {})", directives(&whole));
    assert!(kept > 0, "what did not pass stays");
    for (w, e) in whole.runs.iter().zip(&elided.runs) {
        assert!(e.passes_elided() || w.spec.iter().all(|f| f.count(Outcome::Pass) == 0));
        for (wf, ef) in w.spec.iter().zip(&e.spec) {
            for o in Outcome::ALL {
                assert_eq!(wf.count(o), ef.count(o), "{} {} {}", w.run_id, wf.key(), o.as_str());
            }
            assert_eq!(wf.size(), ef.size());
        }
    }
    let now = common::seed_now();
    let (evaluation, model) = matrix::evaluate::evaluate_and_read(&policy, &elided, now);
    assert_eq!(evaluation, matrix::evaluate(&policy, &whole, now), "the same verdicts and details");
    let fresh = matrix::evaluate::ReadModel::new(&policy, &whole);
    for f in &policy.features {
        assert_eq!(model.feature_runs(&f.id), fresh.feature_runs(&f.id), "{}", f.id);
        assert_eq!(model.target_results(&f.id), fresh.target_results(&f.id), "{}", f.id);
        assert!(model.feature_tests(&f.id).eq(fresh.feature_tests(&f.id)), "{}", f.id);
    }
}
