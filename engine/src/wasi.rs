//! The WASI executor for the wasi-testsuite layout: each test is
//! `NAME.wasm` with an optional `NAME.json` saying its `args`, `env`, `root`
//! (a directory given to the program as `/`, copied fresh for each test),
//! and expected `exit_code` (default 0), `stdout` and `stderr`. Suites are
//! found by walking the tree, so suites not seen before run unchanged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use matrix::evidence::{Outcome, WasiTest};
use serde::Deserialize;
use wasmtime::{Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::profile::Profile;

/// What a test expects, from its `NAME.json`. Unknown keys are ignored so
/// that newer suites still run.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Expectation {
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// A directory next to the test given to it as `/`.
    pub root: Option<String>,
    /// Expected exit code.
    pub exit_code: Option<i32>,
    /// Expected standard output, exactly.
    pub stdout: Option<String>,
    /// Expected standard error, exactly.
    pub stderr: Option<String>,
}

/// One test program.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Case {
    /// The suite: the first folder under the tests root (`c`, `assemblyscript`, …).
    pub suite: String,
    /// The test's name: its file stem.
    pub name: String,
    /// The `.wasm` file.
    pub wasm: PathBuf,
}

/// Every test program under `tests_root` (e.g. `wasi/tests`), sorted.
pub fn discover(tests_root: &Path) -> Vec<Case> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && p.extension().is_none_or(|x| x != "dir") {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "wasm") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(tests_root, &mut files);
    let mut cases: Vec<Case> = files
        .into_iter()
        .filter_map(|wasm| {
            let rel = wasm.strip_prefix(tests_root).ok()?;
            let suite = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
            let name = wasm.file_stem()?.to_string_lossy().into_owned();
            Some(Case { suite, name, wasm })
        })
        .collect();
    cases.sort();
    cases
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

fn result(case: &Case, outcome: Outcome, message: Option<String>) -> WasiTest {
    WasiTest { suite: case.suite.clone(), test: case.name.clone(), outcome, message }
}

fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[0..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// Runs one test on `profile` and judges it against its expectation.
pub fn run_case(profile: &Profile, case: &Case) -> WasiTest {
    match run(profile, case) {
        Ok(Ok(())) => result(case, Outcome::Pass, None),
        Ok(Err(skip)) => result(case, Outcome::Skip, Some(skip)),
        Err(failure) => result(case, Outcome::Fail, Some(failure)),
    }
}

/// `Err` is a failure; `Ok(Err)` a skip with its reason.
fn run(profile: &Profile, case: &Case) -> Result<Result<(), String>, String> {
    let bytes = std::fs::read(&case.wasm).map_err(|e| format!("{}: {e}", case.wasm.display()))?;
    if is_component(&bytes) {
        return Ok(Err("preview 2 components are not executed by this executor yet".into()));
    }
    let json = case.wasm.with_extension("json");
    let expect: Expectation = match std::fs::read_to_string(&json) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", json.display()))?,
        Err(_) => Expectation::default(),
    };
    let scratch = tempfile::tempdir().map_err(|e| format!("scratch directory: {e}"))?;
    let (stdout, stderr) = (MemoryOutputPipe::new(1 << 20), MemoryOutputPipe::new(1 << 20));
    let mut builder = WasiCtxBuilder::new();
    let mut argv = vec![case.name.clone()];
    argv.extend(expect.args.iter().cloned());
    let env: Vec<(&String, &String)> = expect.env.iter().collect();
    builder.args(&argv).envs(&env).stdout(stdout.clone()).stderr(stderr.clone());
    // Sockets, where a test uses them, reach loopback only.
    builder.socket_addr_check(|addr, _| {
        let ok = addr.ip().is_loopback();
        Box::pin(async move { ok })
    });
    if let Some(root) = &expect.root {
        let from = case.wasm.parent().unwrap_or(Path::new(".")).join(root);
        let fresh = scratch.path().join("root");
        copy_dir(&from, &fresh).map_err(|e| format!("copying {}: {e}", from.display()))?;
        builder.preopened_dir(&fresh, "/", FsPerms::ReadWrite).map_err(|e| format!("preopen: {e:#}"))?;
    }
    let ctx: WasiP1Ctx = builder.build_p1();
    let module = Module::new(&profile.engine, &bytes).map_err(|e| format!("compilation failed: {e:#}"))?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(&profile.engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |t| t).map_err(|e| format!("{e:#}"))?;
    let mut store = Store::new(&profile.engine, ctx);
    let instance = linker.instantiate(&mut store, &module).map_err(|e| format!("instantiation failed: {e:#}"))?;
    let start = instance.get_typed_func::<(), ()>(&mut store, "_start").map_err(|e| format!("no _start: {e:#}"))?;
    let code = match start.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None => return Err(format!("trapped: {e:#}")),
        },
    };
    let want = expect.exit_code.unwrap_or(0);
    if code != want {
        return Err(format!(
            "exit code {code}, expected {want}; stderr: {}",
            String::from_utf8_lossy(&stderr.contents())
        ));
    }
    for (name, want, got) in
        [("stdout", &expect.stdout, stdout.contents()), ("stderr", &expect.stderr, stderr.contents())]
    {
        if let Some(want) = want
            && got != want.as_bytes()
        {
            return Err(format!("{name} was {:?}, expected {want:?}", String::from_utf8_lossy(&got)));
        }
    }
    Ok(Ok(()))
}
