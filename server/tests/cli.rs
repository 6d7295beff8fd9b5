//! The `tierwatch` binary, run as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tierwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tierwatch"))
        .args(args)
        .current_dir(root())
        .env_remove("TIERWATCH_NOW")
        .output()
        .expect("tierwatch runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const NOW: &str = "2026-11-20T00:00:00Z";
const EVIDENCE: &str = "policy/fixtures/seed-world";

/// 1-based (line, column) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("`{needle}` is in the file"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

#[test]
fn policy_check_accepts_the_repository_policy() {
    let out = tierwatch(&["policy", "check", "policy/wasmtime.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ok — 3 tiers, 24 requirements (16 checked), 46 features"),
        "{}",
        text(&out.stdout)
    );
}

fn testsuites() -> PathBuf {
    std::env::var_os("TIERWATCH_TESTSUITES").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/testsuites"))
}

#[test]
fn every_selector_of_the_repository_policy_matches_real_tests() {
    let suites = testsuites();
    let out =
        tierwatch(&["policy", "check", "--testsuites", suites.to_str().expect("utf-8 path"), "policy/wasmtime.yaml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("every selector matches tests in"), "{}", text(&out.stdout));
}

#[test]
fn a_selector_that_matches_nothing_or_a_test_claimed_twice_is_named_with_its_position() {
    let policy = std::fs::read_to_string(root().join("policy/wasmtime.yaml")).expect("policy");
    let edited = policy
        .replacen(r#""rust-wasip3/http-*""#, r#""rust/http_*""#, 1)
        .replacen(r#""wasm-spec/memory64*.wast""#, r#""wasm-spec/*64.wast""#, 1)
        .replacen(r#"test: "rust-wasip3/http-request""#, r#"test: "rust-wasip3/http-requests""#, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, &edited).expect("write");
    let suites = testsuites();
    let out = tierwatch(&[
        "policy",
        "check",
        "--testsuites",
        suites.to_str().expect("utf-8 path"),
        file.to_str().expect("utf-8 path"),
    ]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    let (line, col) = position(&edited, r#""rust/http_*""#);
    assert!(
        err.contains(&format!(
            "policy.yaml:{line}:{col}: error[no-match]: wasi selector `rust/http_*` of `wasi-http` matches no test"
        )),
        "{err}"
    );
    let (line, col) = position(&edited, r#""rust-wasip3/http-requests""#);
    assert!(
        err.contains(&format!(
            "policy.yaml:{line}:{col}: error[no-match]: known failure `rust-wasip3/http-requests` matches no test"
        )),
        "{err}"
    );
    let (line, col) = position(&edited, r#""wasm-spec/*64.wast""#);
    assert!(
        err.contains(&format!("policy.yaml:{line}:{col}: error[overlap]: `wasm-spec/i64.wast` is claimed by `sign-extension-ops` and by `memory64`")),
        "{err}"
    );
}

#[test]
fn policy_check_reports_every_injected_error_with_its_position() {
    let original = std::fs::read_to_string(root().join("policy/wasmtime.yaml")).expect("policy");
    let edits = [
        // unknown key
        (
            "  - { id: x86_64-apple-darwin, category: target,",
            "  - { id: x86_64-apple-darwin, colour: blue, category: target,",
        ),
        // duplicate id
        ("  - { id: x86_64-pc-windows-msvc, category", "  - { id: x86_64-apple-darwin, category"),
        // dangling reference
        (
            "    check: { kind: tests-pass, window: 14d }\n    subsumes: [t2-tier1-proposals]",
            "    check: { kind: tests-pass, window: 14d }\n    subsumes: [t2-no-such-requirement]",
        ),
        // unknown check kind
        (
            "    check: { kind: fuzzed, window: 30d, scope: feature, min-hours: 24 }",
            "    check: { kind: fuzzzed, window: 30d, scope: feature }",
        ),
        // bad window
        (
            "    check: { kind: differential-fuzzed, window: 30d }",
            "    check: { kind: differential-fuzzed, window: 30 days }",
        ),
        // wrong type
        (
            "    declared-tier: 3\n    phase: 3\n    evidence:\n      spec:\n        - \"wasm-spec/array*.wast\"",
            "    declared-tier: three\n    phase: 3\n    evidence:\n      spec:\n        - \"wasm-spec/array*.wast\"",
        ),
    ];
    let mut broken = original.clone();
    for (from, to) in edits {
        assert!(broken.contains(from), "edit target `{from}` exists");
        broken = broken.replacen(from, to, 1);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, &broken).expect("write");
    let out = tierwatch(&["policy", "check", file.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    let name = file.display().to_string();
    let expect = |needle: &str, code: &str, message: &str| {
        let (line, col) = position(&broken, needle);
        let want = format!("{name}:{line}:{col}: error[{code}]: {message}");
        assert!(stderr.contains(&want), "missing `{want}` in:\n{stderr}");
    };
    expect("colour: blue", "unknown-key", "unknown key `colour`");
    let second = broken.find("  - { id: x86_64-apple-darwin, category").expect("duplicate");
    let (line, col) = position(&broken[second..], "x86_64-apple-darwin");
    let line = line + broken[..second].matches('\n').count();
    assert!(
        stderr
            .contains(&format!("{name}:{line}:{col}: error[duplicate-id]: duplicate feature id `x86_64-apple-darwin`")),
        "duplicate id at {line}:{col} in:\n{stderr}"
    );
    expect("t2-no-such-requirement", "dangling-reference", "unknown requirement `t2-no-such-requirement`");
    expect("fuzzzed", "unknown-check-kind", "unknown check kind `fuzzzed`");
    expect("30 days", "bad-window", "bad window `30 days`");
    let (line, col) = position(&broken, "declared-tier: three");
    let want = format!(
        "{name}:{line}:{}: error[invalid-value]: expected a non-negative integer, found `three`",
        col + "declared-tier: ".len()
    );
    assert!(stderr.contains(&want), "missing `{want}` in:\n{stderr}");
    assert!(stderr.contains("6 errors found"), "{stderr}");
}

#[test]
fn policy_check_reports_yaml_syntax_errors_with_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(&file, "schema-version: 1\nruntime: [unclosed\n").expect("write");
    let out = tierwatch(&["policy", "check", file.to_str().expect("utf-8 path")]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("{}:3:1: error[syntax]", file.display())), "{stderr}");
}

#[test]
fn evaluate_prints_a_table_and_json() {
    let out = tierwatch(&["evaluate", "--evidence", EVIDENCE, "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let row = stdout.lines().find(|l| l.starts_with("winch-x86_64 ")).expect("winch row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..4], ["winch-x86_64", "3", "3", "conforming"]);
    assert!(row.ends_with("WebAssembly proposals (`simd`, `relaxed-simd`, `tail-call`, `reference-types`, `threads`)"));

    let out = tierwatch(&["evaluate", "--evidence", EVIDENCE, "--now", NOW, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let features = json["features"].as_array().expect("features");
    assert_eq!(features.len(), 46);
    let aarch64 = features.iter().find(|f| f["id"] == "aarch64-unknown-linux-gnu").expect("aarch64");
    assert_eq!(aarch64["earned"], 2);
    assert_eq!(aarch64["missing-next"][0]["text"], "Continuous fuzzing");
}

#[test]
fn evaluate_table_snapshot() {
    let out = tierwatch(&["evaluate", "--evidence", EVIDENCE, "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    insta::assert_snapshot!("evaluate_seed_world", text(&out.stdout));
}

#[test]
fn evaluate_shows_a_features_results_per_target() {
    let out = tierwatch(&["evaluate", "--evidence", EVIDENCE, "--now", NOW, "--feature", "simd"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("simd: declared Tier 1, earned Tier 1"), "{stdout}");
    let s390x = stdout.lines().find(|l| l.trim_start().starts_with("s390x-unknown-linux-gnu")).expect("an s390x line");
    let cells: Vec<&str> = s390x.split_whitespace().collect();
    assert_eq!(&cells[..3], ["s390x-unknown-linux-gnu", "cranelift", "236"], "{s390x}");
    assert!(s390x.ends_with("(emulated)"), "{s390x}");
    let missing = tierwatch(&["evaluate", "--evidence", EVIDENCE, "--now", NOW, "--feature", "nope"]);
    assert!(!missing.status.success());
    assert!(text(&missing.stderr).contains("no feature `nope` in the policy"));
}

#[test]
fn tiers_md_check_passes_when_fresh_and_fails_with_a_diff_when_stale() {
    let out = tierwatch(&["tiers-md", "--evidence", EVIDENCE, "--now", NOW]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rendered = text(&out.stdout);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("TIERS.md");
    std::fs::write(&file, &rendered).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let fresh = tierwatch(&["tiers-md", "--evidence", EVIDENCE, "--now", NOW, "--check", path]);
    assert!(fresh.status.success(), "{}", text(&fresh.stderr));

    std::fs::write(&file, rendered.replace("| Continuous fuzzing", "| Nothing at all    ")).expect("write");
    let stale = tierwatch(&["tiers-md", "--evidence", EVIDENCE, "--now", NOW, "--check", path]);
    assert!(!stale.status.success());
    let stderr = text(&stale.stderr);
    assert!(stderr.contains("+| Target") && stderr.contains("Continuous fuzzing"), "{stderr}");
    assert!(stderr.contains("-| Target") && stderr.contains("Nothing at all"), "{stderr}");
    assert!(stderr.contains("is stale"), "{stderr}");
}

#[test]
fn a_bad_report_is_named_with_its_line_and_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = std::fs::read_to_string(root().join(EVIDENCE).join("seed-wasm32-wasip1-build.json")).expect("fixture");
    let bad = good.replacen("\"build-only\": true", "\"build-only\": \"yes\"", 1);
    assert_ne!(good, bad);
    std::fs::write(dir.path().join("r.json"), &bad).expect("write");
    let out = tierwatch(&["evaluate", "--evidence", dir.path().to_str().expect("utf-8"), "--now", NOW]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    let (line, _) = position(&bad, "\"build-only\"");
    assert!(stderr.contains("r.json: not a valid run report"), "{stderr}");
    assert!(
        stderr.contains(&format!("line {line}")) && stderr.contains("invalid type: string \"yes\", expected a boolean"),
        "{stderr}"
    );
}

#[test]
fn the_published_schema_is_current() {
    let out = tierwatch(&["schema"]);
    assert!(out.status.success());
    let published =
        std::fs::read_to_string(root().join("docs/run-report.schema.json")).expect("docs/run-report.schema.json");
    assert_eq!(text(&out.stdout), published, "regenerate with `tierwatch schema > docs/run-report.schema.json`");
    let schema: serde_json::Value = serde_json::from_str(&published).expect("json");
    assert!(schema["required"].as_array().expect("required").contains(&"run-id".into()));
}

#[test]
fn serve_refuses_to_start_on_a_bad_policy_and_prints_every_problem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let original = std::fs::read_to_string(root().join("policy/wasmtime.yaml")).expect("policy");
    let broken = original
        .replacen(
            "check: { kind: fuzzed, window: 30d, scope: feature, min-hours: 24 }",
            "check: { kind: fuzzed, window: soon, scope: feature, min-hours: 24 }",
            1,
        )
        .replacen(
            "  - { id: x86_64-apple-darwin, category: target,",
            "  - { id: x86_64-apple-darwin, category: tagret,",
            1,
        );
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, &broken).expect("write");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let out = tierwatch(&[
        "serve",
        "--policy",
        file.to_str().expect("utf-8"),
        "--database-url",
        &db,
        "--bind",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("error[bad-window]: bad window `soon`"), "{stderr}");
    assert!(stderr.contains("error[dangling-reference]: unknown category `tagret`"), "{stderr}");
    assert!(stderr.contains("2 errors found"), "{stderr}");
    assert!(!dir.path().join("db.sqlite").exists(), "nothing was created before the policy was checked");
}

#[test]
fn serve_with_a_github_repository_but_no_token_says_what_to_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let out = Command::new(env!("CARGO_BIN_EXE_tierwatch"))
        .args(["serve", "--database-url", &db, "--bind", "127.0.0.1:0", "--github-repo", "owner/name"])
        .current_dir(root())
        .env("TIERWATCH_GITHUB_TOKEN", "")
        .output()
        .expect("tierwatch runs");
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--github-repo needs a token that may edit issues there: set TIERWATCH_GITHUB_TOKEN"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_tierwatch"))
        .args(["serve", "--database-url", &db, "--bind", "127.0.0.1:0", "--github-repo", "just-a-name"])
        .current_dir(root())
        .env("TIERWATCH_GITHUB_TOKEN", "ghp_x")
        .output()
        .expect("tierwatch runs");
    assert!(
        text(&out.stderr).contains("`just-a-name` is not a repository: write it as owner/name"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn tokens_are_listed_without_secrets_and_revoked_by_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let create = |args: &[&str]| {
        let mut all = vec!["token", "create", "--database-url", &db];
        all.extend_from_slice(args);
        let out = tierwatch(&all);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout).trim().to_owned()
    };
    let runner = create(&["--name", "ci-aarch64", "--targets", "aarch64-unknown-linux-gnu"]);
    let alice = create(&["--name", "alice", "--role", "maintainer", "--targets", "*", "--github-login", "alice-gh"]);
    let out = tierwatch(&["token", "list", "--database-url", &db]);
    let listed = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = |t: &str| t.rsplit('_').next().expect("secret").to_owned();
    assert!(!listed.contains(&secret(&runner)) && !listed.contains(&secret(&alice)), "no secrets:\n{listed}");
    let alice_line = listed.lines().find(|l| l.contains("alice")).expect("alice listed");
    assert!(
        alice_line.contains("maintainer") && alice_line.contains("alice-gh") && alice_line.trim_end().ends_with('-'),
        "{alice_line}"
    );

    // Revoke by the whole token or by its id.
    let out = tierwatch(&["token", "revoke", &alice, "--database-url", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&tierwatch(&["token", "list", "--database-url", &db]).stdout);
    let alice_line = listed.lines().find(|l| l.contains("alice")).expect("alice listed");
    assert!(!alice_line.trim_end().ends_with('-'), "revoked with a date: {alice_line}");
    let out = tierwatch(&["token", "revoke", &alice, "--database-url", &db]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no live token"), "{}", text(&out.stderr));
}

#[test]
fn a_person_holds_many_tokens_one_login_and_is_revoked_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("db.sqlite").display());
    let run = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend_from_slice(&["--database-url", &db]);
        tierwatch(&all)
    };
    let maintainer = ["token", "create", "--role", "maintainer", "--targets", "*"];
    fn with<'a>(maintainer: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [maintainer, extra].concat()
    }
    let out = run(&with(&maintainer, &["--name", "alice-laptop", "--person", "alice", "--github-login", "alice-gh"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("(maintainer, person alice, targets: *)"), "{}", text(&out.stderr));
    let out = run(&with(&maintainer, &["--name", "alice-ci", "--person", "alice"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // One login is one person, and one person has one login.
    let out = run(&with(&maintainer, &["--name", "mallory", "--github-login", "Alice-GH"]));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("GitHub login `Alice-GH` belongs to person `alice`"), "{}", text(&out.stderr));
    let out = run(&with(&maintainer, &["--name", "alice-2", "--person", "alice", "--github-login", "other-gh"]));
    assert!(
        text(&out.stderr).contains("person `alice` has GitHub login `alice-gh`, not `other-gh`"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["token", "create", "--name", "ci", "--targets", "*", "--person", "alice"]);
    assert!(
        text(&out.stderr).contains("--person and --github-login are for maintainer tokens"),
        "{}",
        text(&out.stderr)
    );

    let listed = text(&run(&["token", "list"]).stdout);
    let alices: Vec<&str> = listed.lines().filter(|l| l.contains(" alice ")).collect();
    assert_eq!(alices.len(), 2, "{listed}");
    assert!(alices.iter().all(|l| l.contains("alice-gh")), "the person's login shows on each token:\n{listed}");

    let out = run(&["person", "revoke", "alice"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("person `alice` revoked: 2 token(s)"), "{}", text(&out.stderr));
    let listed = text(&run(&["token", "list"]).stdout);
    assert!(listed.lines().filter(|l| l.contains(" alice ")).all(|l| !l.trim_end().ends_with('-')), "{listed}");
    let people = text(&run(&["person", "list"]).stdout);
    assert!(people.lines().any(|l| l.starts_with("alice ") && !l.trim_end().ends_with('-')), "{people}");
    let out = run(&["person", "revoke", "alice"]);
    assert!(text(&out.stderr).contains("no live person `alice`"), "{}", text(&out.stderr));
    let out = run(&with(&maintainer, &["--name", "alice-new", "--person", "alice"]));
    assert!(!out.status.success() && text(&out.stderr).contains("person `alice` was revoked"), "{}", text(&out.stderr));
}
