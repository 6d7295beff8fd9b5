//! The fast mode end to end on this host: `cpu`, `compile`, `run
//! --precompiled` and `identity`, with the real runner binary and engine.
//! (Under QEMU the same commands run per emulated target in
//! `scripts/run-targets`, which CI runs.)

use std::path::Path;
use std::process::{Command, Output};

use matrix::RunReport;

const RUNNER: &str = env!("CARGO_BIN_EXE_tierwatch-runner");

/// Scripts of the bundled suite with modules, registrations across
/// modules, traps and invalid modules (which the host's compiler refuses:
/// the run decides their `assert_invalid` from that recorded refusal, and
/// the identity check compiles them here and must see them refused too).
const FILTER: &str =
    "wasm-spec/i32.wast,wasm-spec/linking.wast,wasm-spec/call_indirect.wast,wasm-spec/memory_grow.wast";

fn runner(args: &[&str], cwd: &Path) -> Output {
    Command::new(RUNNER)
        .args(args)
        .current_dir(cwd)
        .env_remove("TIERWATCH_TESTSUITES")
        .env_remove("TIERWATCH_PRECOMPILED")
        .output()
        .expect("the runner starts")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(args: &[&str], cwd: &Path) -> String {
    let out = runner(args, cwd);
    assert!(out.status.success(), "tierwatch-runner {args:?}: {}", text(&out));
    text(&out)
}

fn report_in(dir: &Path) -> RunReport {
    let path = std::fs::read_dir(dir)
        .expect("report dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a report");
    RunReport::from_json(&std::fs::read_to_string(path).expect("read")).expect("a valid report")
}

/// The host's CPU, compiled for, loaded, and checked both ways.
#[test]
fn code_compiled_ahead_gives_the_same_verdicts_as_code_compiled_in_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cpu = ok(&["cpu"], d);
    let parsed: engine::precompiled::Cpu = serde_json::from_str(&cpu).expect("cpu prints a CPU");
    assert!(parsed.is_host(), "{parsed:?}");
    std::fs::write(d.join("cpu.json"), &cpu).expect("write");

    let fuzz = ["--proposal", "simd", "--iterations", "4", "--seed", "7"];
    let mut args = vec!["compile", "--cpu", "cpu.json", "--out", "aot", "--filter", FILTER, "--compilers", "cranelift"];
    args.extend(fuzz);
    let said = ok(&args, d);
    assert!(said.contains("compile: 4 scripts"), "{said}");
    let manifest: engine::precompiled::Manifest =
        serde_json::from_str(&std::fs::read_to_string(d.join("aot/manifest.json")).expect("manifest")).expect("parse");
    assert!(manifest.artifacts.len() > 20, "every valid module of four scripts: {}", manifest.artifacts.len());
    assert_eq!(manifest.cpu, parsed);
    assert!(manifest.refused.len() > 20, "the invalid modules' refusals are recorded: {}", manifest.refused.len());

    let common = ["run", "--no-upload", "--filter", FILTER, "--compilers", "cranelift"];
    let mut plain = common.to_vec();
    plain.extend(["--out-dir", "plain"]);
    plain.extend(fuzz);
    ok(&plain, d);
    let mut fast = common.to_vec();
    fast.extend(["--out-dir", "fast", "--precompiled", "aot"]);
    fast.extend(fuzz);
    let said = ok(&fast, d);
    let loaded: u64 = said
        .split("precompiled: ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the run says what it loaded: {said}"));
    assert!(loaded > 20, "{said}");
    let decided: u64 = said
        .split(" modules and components loaded from ")
        .nth(1)
        .and_then(|s| s.split(", ").nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the run says how many refusals it used: {said}"));
    assert!(decided > 20, "assert_invalid directives decided by the host's refusals: {said}");

    let (a, b) = (report_in(&d.join("plain")), report_in(&d.join("fast")));
    assert_eq!(b.dimensions.get("compiled-on").map(String::as_str), Some("host"), "{:?}", b.dimensions);
    assert!(a.dimensions.is_empty(), "a plain run is at the default: {:?}", a.dimensions);
    let directives = |r: &RunReport| -> Vec<(String, u32, String, matrix::evidence::Outcome)> {
        r.spec
            .iter()
            .flat_map(|f| f.directives.iter().map(|d| (f.file.clone(), d.line, d.kind.clone(), d.outcome)))
            .collect()
    };
    assert_eq!(directives(&a), directives(&b), "the same outcome for every directive");
    assert!(directives(&a).len() > 600, "{}", directives(&a).len());
    let campaigns = |r: &RunReport| -> Vec<(String, u64, u64)> {
        r.fuzz.iter().map(|c| (c.name.clone(), c.iterations, c.valid_modules)).collect()
    };
    assert_eq!(campaigns(&a), campaigns(&b), "the same campaign, input for input");

    let said = ok(&["identity", "--precompiled", "aot", "--filter", FILTER, "--sample", "4"], d);
    assert!(said.contains("byte-identical (100.0 %)") && said.contains("identical outcomes (100.0 %)"), "{said}");
    assert!(said.contains("the host's too (100.0 %)"), "{said}");
}

/// What the fast mode refuses, each with what to do.
#[test]
fn artifacts_for_another_cpu_a_timed_campaign_and_a_changed_file_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("cpu.json"), ok(&["cpu"], d)).expect("write");

    let out = runner(&["compile", "--cpu", "cpu.json", "--out", "aot", "--filter", FILTER, "--seconds", "1"], d);
    assert!(!out.status.success());
    assert!(text(&out).contains("give --iterations (or --no-fuzz)"), "{}", text(&out));

    let compile = ["compile", "--cpu", "cpu.json", "--out", "aot", "--filter", "wasm-spec/i32.wast", "--no-fuzz"];
    ok(&[&compile[..], &["--compilers", "cranelift"]].concat(), d);
    // One artifact changed after `compile` wrote it: the directive that
    // needs it is the harness's failure, never the engine's, and says why.
    let changed = std::fs::read_dir(d.join("aot"))
        .expect("aot")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("an artifact");
    let mut bytes = std::fs::read(&changed).expect("read");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&changed, bytes).expect("write");
    let args = [
        "run",
        "--no-upload",
        "--no-fuzz",
        "--out-dir",
        "r",
        "--filter",
        "wasm-spec/i32.wast",
        "--compilers",
        "cranelift",
        "--precompiled",
        "aot",
    ];
    ok(&args, d);
    let report = report_in(&d.join("r"));
    let refused: Vec<_> = report
        .spec
        .iter()
        .flat_map(|f| &f.directives)
        .filter(|d| d.outcome == matrix::evidence::Outcome::HarnessError)
        .collect();
    assert!(!refused.is_empty(), "the changed artifact is not loaded");
    for d in &refused {
        assert!(d.message.as_deref().unwrap_or("").contains("SHA-256 is not the manifest's"), "{refused:?}");
    }
    assert!(report.spec.iter().flat_map(|f| &f.directives).all(|d| d.outcome != matrix::evidence::Outcome::Fail));

    // Artifacts for another machine's CPU are refused before anything runs.
    let mut other: engine::precompiled::Cpu =
        serde_json::from_str(&std::fs::read_to_string(d.join("cpu.json")).expect("read")).expect("cpu");
    let (name, value) = other.flags.iter().next().map(|(k, v)| (k.clone(), v.clone())).expect("a flag");
    other.flags.insert(name.clone(), if value == "true" { "false".into() } else { "true".into() });
    std::fs::write(d.join("other.json"), serde_json::to_string(&other).expect("json")).expect("write");
    ok(&["compile", "--cpu", "other.json", "--out", "other", "--filter", "wasm-spec/i32.wast", "--no-fuzz"], d);
    let args = [
        "run",
        "--no-upload",
        "--no-fuzz",
        "--out-dir",
        "r2",
        "--filter",
        "wasm-spec/i32.wast",
        "--precompiled",
        "other",
    ];
    let out = runner(&args, d);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("other CPU flags than this machine has") && text(&out).contains(&name),
        "{}",
        text(&out)
    );
}

/// On an x86_64 build host the runner compiles for the emulated targets.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_build_host_compiles_for_another_architecture_and_a_run_here_refuses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let cpu = r#"{"triple": "aarch64-unknown-linux-gnu", "flags": {"has_lse": "true"}}"#;
    std::fs::write(d.join("aarch64.json"), cpu).expect("write");
    let said =
        ok(&["compile", "--cpu", "aarch64.json", "--out", "aot", "--filter", "wasm-spec/i32.wast", "--no-fuzz"], d);
    assert!(said.contains("for aarch64-unknown-linux-gnu"), "{said}");
    let manifest = std::fs::read_to_string(d.join("aot/manifest.json")).expect("manifest");
    assert!(manifest.contains("\"triple\": \"aarch64-unknown-linux-gnu\""), "{manifest}");
    let args =
        ["run", "--no-upload", "--no-fuzz", "--out-dir", "r", "--filter", "wasm-spec/i32.wast", "--precompiled", "aot"];
    let out = runner(&args, d);
    assert!(!out.status.success());
    assert!(text(&out).contains("are for aarch64-unknown-linux-gnu, this machine is x86_64"), "{}", text(&out));

    std::fs::write(d.join("bad.json"), r#"{"triple": "aarch64-unknown-linux-gnu", "flags": {}, "extra": 1}"#)
        .expect("w");
    let out = runner(&["compile", "--cpu", "bad.json", "--out", "x", "--no-fuzz"], d);
    assert!(!out.status.success() && text(&out).contains("unknown field `extra`"), "{}", text(&out));
}
