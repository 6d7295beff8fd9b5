//! The WASI executor judges exit codes and output: programs written here,
//! in a suite layout of their own, pass and fail as they should; and the
//! real preview-3 programs of the testsuite, under specs edited here, fail
//! exactly where the edit says they must.

mod common;

use std::time::{Duration, Instant};

use engine::wasi::{discover, run_case, run_case_within};
use engine::{Compiler, Profile};
use matrix::evidence::Outcome;

const HELLO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (call $exit (i32.const 3))))"#;

#[test]
fn exit_codes_and_output_decide_the_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = dir.path().join("mine/testsuite/wasm32-wasip1");
    std::fs::create_dir_all(&suite).expect("mkdir");
    std::fs::write(suite.join("manifest.json"), r#"{"name": "Mine", "version": "wasm32-wasip1"}"#).expect("write");
    let wasm = wat::parse_str(HELLO).expect("valid wat");
    for (name, json) in [
        ("right", r#"{"exit_code": 3, "stdout": "hello"}"#),
        ("wrong-code", r#"{"stdout": "hello"}"#),
        ("wrong-output", r#"{"exit_code": 3, "stdout": "bye"}"#),
    ] {
        std::fs::write(suite.join(format!("{name}.wasm")), &wasm).expect("write");
        std::fs::write(suite.join(format!("{name}.json")), json).expect("write");
    }
    let cases = discover(dir.path());
    assert_eq!(
        cases.iter().map(|c| (c.suite.as_str(), c.name.as_str())).collect::<Vec<_>>(),
        [("mine-wasip1", "right"), ("mine-wasip1", "wrong-code"), ("mine-wasip1", "wrong-output")],
        "the suite is named from the manifest's version"
    );
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let results: Vec<_> = cases.iter().map(|c| run_case(&profile, c)).collect();
    assert_eq!(results[0].outcome, Outcome::Pass, "{:?}", results[0].message);
    assert_eq!(results[1].outcome, Outcome::Fail);
    assert!(results[1].message.as_deref().unwrap_or_default().starts_with("exit code 3, expected 0"));
    assert_eq!(results[2].outcome, Outcome::Fail);
    assert_eq!(results[2].message.as_deref(), Some(r#"stdout was "hello", expected "bye""#));
}

const LOOP: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))"#;

/// Opens `dir/f` (a preopen named `dir` is fd 3) and exits 0 when it
/// exists, 1 otherwise.
const OPENS: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "f")
  (func (export "_start")
    (call $exit (i32.ne (i32.const 0)
      (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 1)
                  (i32.const 0) (i64.const 1) (i64.const 0) (i32.const 0) (i32.const 64))))))"#;

fn one_test(dir: &std::path::Path, name: &str, wat: &str, json: Option<&str>) -> engine::wasi::Case {
    let suite = dir.join("t/testsuite/wasm32-wasip1");
    std::fs::create_dir_all(&suite).expect("mkdir");
    std::fs::write(suite.join(format!("{name}.wasm")), wat::parse_str(wat).expect("valid wat")).expect("write");
    if let Some(json) = json {
        std::fs::write(suite.join(format!("{name}.json")), json).expect("write");
    }
    discover(dir).into_iter().find(|c| c.name == name).expect("discovered")
}

#[test]
fn an_unknown_key_or_operation_is_a_harness_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let case = one_test(dir.path(), "old", HELLO, Some(r#"{"exit_code": 3, "root": "fs-tests.dir"}"#));
    let r = run_case(&profile, &case);
    assert_eq!(r.outcome, Outcome::HarnessError, "{:?}", r.message);
    assert!(r.message.as_deref().unwrap_or_default().contains("unknown field `root`"), "{:?}", r.message);
    let case = one_test(dir.path(), "op", HELLO, Some(r#"{"operations": [{"type": "dance"}]}"#));
    let r = run_case(&profile, &case);
    assert_eq!(r.outcome, Outcome::HarnessError, "{:?}", r.message);
    assert!(r.message.as_deref().unwrap_or_default().contains("unknown variant `dance`"), "{:?}", r.message);
}

#[test]
fn a_program_that_never_ends_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let case = one_test(dir.path(), "spin", LOOP, None);
    let started = Instant::now();
    let r = run_case_within(&profile, &case, Duration::from_millis(300));
    assert_eq!(r.outcome, Outcome::Timeout, "{:?}", r.message);
    assert!(r.message.as_deref().unwrap_or_default().contains("within 0 s"), "{:?}", r.message);
    assert!(started.elapsed() < Duration::from_secs(30), "the limit stops it: {:?}", started.elapsed());
}

#[test]
fn each_dir_is_preopened_under_its_own_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let case = one_test(dir.path(), "opens", OPENS, Some(r#"{"dirs": ["data.dir"]}"#));
    let data = case.wasm.parent().expect("parent").join("data.dir");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("f"), "x").expect("write");
    let r = run_case(&profile, &case);
    assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.message);
    std::fs::remove_file(data.join("f")).expect("rm");
    let r = run_case(&profile, &case);
    assert_eq!(r.outcome, Outcome::Fail, "the file is looked up in the preopen: {:?}", r.message);
}

/// The testsuite's preview-3 program `program`, alone in a suite of its own
/// as `name`, with `json` as its spec.
fn p3_test(dir: &std::path::Path, program: &str, name: &str, json: &str) -> engine::wasi::Case {
    let from = common::suites().join("wasi/tests/rust/testsuite/wasm32-wasip3");
    let suite = dir.join("rust/testsuite/wasm32-wasip3");
    std::fs::create_dir_all(&suite).expect("mkdir");
    std::fs::write(suite.join("manifest.json"), r#"{"name": "p3", "version": "wasm32-wasip3"}"#).expect("manifest");
    std::fs::copy(from.join(format!("{program}.wasm")), suite.join(format!("{name}.wasm")))
        .unwrap_or_else(|e| panic!("{program}.wasm under {}: {e}; set TIERWATCH_TESTSUITES", from.display()));
    std::fs::write(suite.join(format!("{name}.json")), json).expect("spec");
    discover(dir).into_iter().find(|c| c.name == name).expect("discovered")
}

fn message(r: &matrix::evidence::WasiTest) -> &str {
    r.message.as_deref().unwrap_or_default()
}

#[test]
fn a_components_exit_code_is_judged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let ops = |code: &str| format!(r#"{{"operations": [{{"type": "run"}}, {{"type": "wait"{code}}}]}}"#);
    let right = p3_test(dir.path(), "cli-exit", "exit-right", &ops(r#", "exit_code": 1"#));
    let r = run_case(&profile, &right);
    assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.message);
    let wrong = p3_test(dir.path(), "cli-exit", "exit-wrong", &ops(""));
    let r = run_case(&profile, &wrong);
    assert_eq!(r.outcome, Outcome::Fail, "{:?}", r.message);
    assert!(message(&r).starts_with("exit code 1, expected 0"), "{:?}", r.message);
}

#[test]
fn stdio_steps_read_what_the_component_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let spec = |echo: &str| {
        format!(
            r#"{{"operations": [{{"type": "run"}}, {{"type": "write", "id": "stdin", "payload": "Hello, world!"}},
               {{"type": "read", "id": "stdout", "payload": "{echo}"}}, {{"type": "wait"}}]}}"#
        )
    };
    let r = run_case(&profile, &p3_test(dir.path(), "cli-stdio-roundtrip", "echo-right", &spec("Hello, world!")));
    assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.message);
    let r = run_case(&profile, &p3_test(dir.path(), "cli-stdio-roundtrip", "echo-wrong", &spec("Hello, there!")));
    assert_eq!(r.outcome, Outcome::Fail, "{:?}", r.message);
    assert_eq!(message(&r), r#"step 3 (`read`): read "Hello, world!" from Stdout, expected "Hello, there!""#);
    // A step the program cannot take is ours to refuse, by name.
    let bad = r#"{"operations": [{"type": "run"}, {"type": "read", "id": "stdin", "payload": "x"}, {"type": "wait"}]}"#;
    let r = run_case(&profile, &p3_test(dir.path(), "cli-stdio-roundtrip", "read-stdin", bad));
    assert_eq!(r.outcome, Outcome::HarnessError, "{:?}", r.message);
    assert_eq!(message(&r), "step 2 (`read`): cannot read from stdin");
}

#[test]
fn an_http_service_answers_the_tests_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let spec = |body: &str| {
        format!(
            r#"{{"proposals": ["http"], "world": "wasi:http/service", "operations": [{{"type": "run"}},
                {{"type": "request", "method": "GET", "path": "/", "response": {{"status": 200, "body": "{body}"}}}},
                {{"type": "request", "method": "POST", "path": "/x", "response": {{"status": 405}}}},
                {{"type": "kill", "signal": "SIGINT"}}, {{"type": "wait"}}]}}"#
        )
    };
    let r = run_case(&profile, &p3_test(dir.path(), "http-service", "serve-right", &spec("hey\\n")));
    assert_eq!(r.outcome, Outcome::Pass, "{:?}", r.message);
    let r = run_case(&profile, &p3_test(dir.path(), "http-service", "serve-wrong", &spec("ho\\n")));
    assert_eq!(r.outcome, Outcome::Fail, "{:?}", r.message);
    assert_eq!(message(&r), r#"step 2 (`request`): Get /: body "hey\n", expected "ho\n""#);
}

#[test]
fn a_component_that_never_ends_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    // The echo server waits for a connection that never comes.
    let case = p3_test(
        dir.path(),
        "sockets-echo",
        "waits",
        r#"{"proposals": ["sockets"], "operations": [{"type": "run"}, {"type": "wait"}]}"#,
    );
    let started = Instant::now();
    let r = run_case_within(&profile, &case, Duration::from_secs(3));
    assert_eq!(r.outcome, Outcome::Timeout, "{:?}", r.message);
    assert!(started.elapsed() < Duration::from_secs(30), "the limit stops it: {:?}", started.elapsed());
}

#[test]
fn unknown_worlds_proposals_and_mixed_forms_are_harness_errors_naming_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    for (name, json, says) in [
        ("world", r#"{"world": "wasi:http/proxy"}"#, "unknown world `wasi:http/proxy`"),
        ("proposal", r#"{"proposals": ["nn"]}"#, "unknown variant `nn`"),
        ("mixed", r#"{"args": ["a"], "operations": [{"type": "run"}, {"type": "wait"}]}"#, r#"["args"]"#),
        ("signal", r#"{"operations": [{"type": "run"}, {"type": "kill", "signal": "SIGHUP"}]}"#, "SIGHUP"),
        (
            "response",
            r#"{"operations": [{"type": "request", "method": "GET", "path": "/", "response": {"status": 200, "trailers": {}}}]}"#,
            "unknown field `trailers`",
        ),
    ] {
        let r = run_case(&profile, &p3_test(dir.path(), "cli-exit", name, json));
        assert_eq!(r.outcome, Outcome::HarnessError, "{name}: {:?}", r.message);
        assert!(message(&r).contains(says), "{name}: {:?}", r.message);
    }
}
