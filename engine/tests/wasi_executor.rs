//! The WASI executor judges exit codes and output: programs written here,
//! in a suite layout of their own, pass and fail as they should.

use engine::wasi::{discover, run_case};
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
        [("mine", "right"), ("mine", "wrong-code"), ("mine", "wrong-output")]
    );
    let profile = Profile::new(Compiler::Cranelift).expect("profile");
    let results: Vec<_> = cases.iter().map(|c| run_case(&profile, c)).collect();
    assert_eq!(results[0].outcome, Outcome::Pass, "{:?}", results[0].message);
    assert_eq!(results[1].outcome, Outcome::Fail);
    assert!(results[1].message.as_deref().unwrap_or_default().starts_with("exit code 3, expected 0"));
    assert_eq!(results[2].outcome, Outcome::Fail);
    assert_eq!(results[2].message.as_deref(), Some(r#"stdout was "hello", expected "bye""#));
}
