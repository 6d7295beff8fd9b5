//! The WASI executor for the wasi-testsuite layout: each folder with a
//! `manifest.json` is a suite (`<language>/testsuite/<target>/`), each test
//! is `NAME.wasm` with an optional `NAME.json`. The JSON's keys and their
//! meaning are those of wasi-testsuite's `test-runner/` and wasmtime's own
//! `tests/wasi.rs` at the revisions wasmtime 48.0.0 pins: `args`, `env`,
//! `dirs` (each preopened under its own name, copied fresh for the test),
//! `exit_code` (default 0), `stdout` (the whole output, exactly),
//! `proposals`, `world` and `operations`. A key or operation this executor
//! does not know is a `harness-error` naming it, never a silent pass.
//!
//! Suites are named `<language>-<target>` with the target from the
//! manifest's `version` less its `wasm32-` prefix: `c-wasip1`,
//! `assemblyscript-wasip1`, `rust-wasip1`, `rust-wasip3`. A folder of
//! programs without a manifest is named after its first folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use matrix::evidence::{Outcome, WasiTest};
use serde::Deserialize;
use wasmtime::{Engine, Linker, Module, Store, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::profile::Profile;

/// The time a test may take unless the runner says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// What a test expects, from its `NAME.json`; a missing file means the
/// defaults. Unknown keys are refused with their name.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spec {
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// Environment variables (the host's are not inherited).
    pub env: BTreeMap<String, String>,
    /// Directories next to the test, each preopened under its own name.
    pub dirs: Vec<String>,
    /// Expected exit code (default 0).
    pub exit_code: Option<i32>,
    /// Expected standard output, the whole of it.
    pub stdout: Option<String>,
    /// WASI proposals the program needs beyond the CLI (`http`, `sockets`).
    pub proposals: Vec<String>,
    /// The world the component targets; absent: a command.
    pub world: Option<String>,
    /// Steps that drive the program, in place of run-and-wait.
    pub operations: Option<Vec<Operation>>,
}

/// One step of a test's `operations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Operation {
    /// Start the program, with extra arguments and environment.
    Run {
        /// Extra arguments.
        #[serde(default)]
        args: Vec<String>,
        /// Extra environment.
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// Wait for the program to end.
    Wait {
        /// Expected exit code (default 0).
        #[serde(default)]
        exit_code: Option<i32>,
    },
    /// Read exactly `payload` from a stdio stream.
    Read {
        /// `stdout` or `stderr`.
        id: String,
        /// What must be read.
        payload: String,
    },
    /// Write `payload` to a stdio stream.
    Write {
        /// `stdin`.
        id: String,
        /// What to write.
        payload: String,
    },
    /// Connect to a socket the program serves (its address on stdout).
    Connect {
        /// The connection's name.
        id: String,
        /// `tcp`.
        protocol_type: String,
    },
    /// Send on a connection.
    Send {
        /// The connection.
        id: String,
        /// What to send.
        payload: String,
    },
    /// Receive exactly `payload` on a connection.
    Recv {
        /// The connection.
        id: String,
        /// What must arrive.
        payload: String,
    },
    /// Send an HTTP request to the program's service.
    Request {
        /// `GET` or `POST`.
        #[serde(default)]
        method: Option<String>,
        /// The path, default `/`.
        #[serde(default)]
        path: Option<String>,
        /// The expected response.
        #[serde(default)]
        response: Option<serde_json::Value>,
    },
    /// Stop the program.
    Kill {
        /// The signal's name.
        #[serde(default)]
        signal: Option<String>,
    },
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::Run { .. } => "run",
            Operation::Wait { .. } => "wait",
            Operation::Read { .. } => "read",
            Operation::Write { .. } => "write",
            Operation::Connect { .. } => "connect",
            Operation::Send { .. } => "send",
            Operation::Recv { .. } => "recv",
            Operation::Request { .. } => "request",
            Operation::Kill { .. } => "kill",
        }
    }
}

/// One test program.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Case {
    /// The suite, e.g. `rust-wasip1` (see the module docs).
    pub suite: String,
    /// The test's name: its file stem.
    pub name: String,
    /// The `.wasm` file.
    pub wasm: PathBuf,
}

/// The suite name of the folder `dir` under `tests_root`: from its
/// `manifest.json` when it has one.
fn suite_name(tests_root: &Path, dir: &Path) -> Option<String> {
    let rel = dir.strip_prefix(tests_root).ok()?;
    let language = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    #[derive(Deserialize)]
    struct Manifest {
        version: Option<String>,
    }
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).ok();
    let version = manifest.and_then(|m| serde_json::from_str::<Manifest>(&m).ok()).and_then(|m| m.version);
    Some(matrix::coverage::wasi_suite_name(&language, version.as_deref()))
}

/// Every test program under `tests_root` (e.g. `wasi/tests`), sorted.
pub fn discover(tests_root: &Path) -> Vec<Case> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Case>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() && p.extension().is_none_or(|x| x != "dir") {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "wasm")
                && let (Some(suite), Some(stem)) = (suite_name(root, dir), p.file_stem())
            {
                out.push(Case { suite, name: stem.to_string_lossy().into_owned(), wasm: p.clone() });
            }
        }
    }
    let mut cases = Vec::new();
    walk(tests_root, tests_root, &mut cases);
    cases.sort();
    cases
}

/// Copies `from` to `to`, every file writable (the test data may be
/// read-only, and programs write into their directories).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_dir(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
            let mut perms = std::fs::metadata(&target)?.permissions();
            #[allow(clippy::permissions_set_readonly_false, reason = "the copy is the test's own scratch file")]
            perms.set_readonly(false);
            std::fs::set_permissions(&target, perms)?;
        }
    }
    Ok(())
}

fn result(case: &Case, outcome: Outcome, message: Option<String>) -> WasiTest {
    WasiTest { suite: case.suite.clone(), test: case.name.clone(), outcome, message }
}

/// Why a test did not pass: whose fault, and what happened.
enum NotPassed {
    /// The program did the wrong thing.
    Fail(String),
    /// tierwatch could not run it.
    Harness(String),
    /// Its wasm code was stopped at the time limit.
    Timeout,
}

/// Runs one test on `profile` and judges it against its spec, allowing it
/// [`DEFAULT_TIMEOUT`].
pub fn run_case(profile: &Profile, case: &Case) -> WasiTest {
    run_case_within(profile, case, DEFAULT_TIMEOUT)
}

/// Runs one test, stopping it after `limit` (a `timeout` outcome). The
/// program runs on its own thread; wasm code is stopped by an epoch
/// deadline, a program blocked in the host is left behind.
pub fn run_case_within(profile: &Profile, case: &Case, limit: Duration) -> WasiTest {
    let engine = match profile.timed_engine() {
        Ok(e) => e,
        Err(e) => return result(case, Outcome::HarnessError, Some(format!("building the engine: {e:#}"))),
    };
    crate::epochs::tick(&engine);
    let (tx, rx) = mpsc::channel();
    let case2 = case.clone();
    let deadline = Instant::now() + limit;
    let spawned =
        std::thread::Builder::new().name(format!("wasi {}", case.name)).stack_size(8 << 20).spawn(move || {
            let r = crate::panics::catch(|| run(&engine, &case2, deadline));
            let _ = tx.send(r);
        });
    if let Err(e) = spawned {
        return result(case, Outcome::HarnessError, Some(format!("starting the test's thread: {e}")));
    }
    match rx.recv_timeout(limit + Duration::from_secs(1)) {
        Ok(Ok(Ok(()))) => result(case, Outcome::Pass, None),
        Ok(Ok(Err(NotPassed::Fail(m)))) => result(case, Outcome::Fail, Some(m)),
        Ok(Ok(Err(NotPassed::Harness(m)))) => result(case, Outcome::HarnessError, Some(m)),
        Ok(Ok(Err(NotPassed::Timeout))) => timed_out(case, limit),
        Ok(Err(p)) => result(case, Outcome::Fail, Some(format!("the engine panicked at {}: {}", p.place, p.message))),
        Err(_) => timed_out(case, limit),
    }
}

fn timed_out(case: &Case, limit: Duration) -> WasiTest {
    result(case, Outcome::Timeout, Some(format!("did not finish within {} s (--test-timeout)", limit.as_secs())))
}

/// Reads and checks a test's spec: every key and operation known.
fn spec(case: &Case) -> Result<Spec, NotPassed> {
    let json = case.wasm.with_extension("json");
    let text = match std::fs::read_to_string(&json) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Spec::default()),
        Err(e) => return Err(NotPassed::Harness(format!("{}: {e}", json.display()))),
    };
    serde_json::from_str(&text).map_err(|e| NotPassed::Harness(format!("{}: {e}", json.display())))
}

fn is_component(bytes: &[u8]) -> bool {
    wasmparser::Parser::is_component(bytes)
}

/// `Ok` passes; `Err` says whose fault it is that it did not.
fn run(engine: &Engine, case: &Case, deadline: Instant) -> Result<(), NotPassed> {
    let spec = spec(case)?;
    let bytes = std::fs::read(&case.wasm).map_err(|e| NotPassed::Harness(format!("{}: {e}", case.wasm.display())))?;
    if is_component(&bytes) {
        return Err(NotPassed::Harness(
            "WASI components (preview 2 and 3) are not executed by this executor yet: no evidence".into(),
        ));
    }
    if !spec.proposals.is_empty() || spec.world.is_some() {
        return Err(NotPassed::Harness(format!(
            "`proposals` {:?} / `world` {:?} apply to components; this is a preview-1 module",
            spec.proposals, spec.world
        )));
    }
    let Plan { args, env, want } = plan(&spec)?;
    let scratch = tempfile::tempdir().map_err(|e| NotPassed::Harness(format!("scratch directory: {e}")))?;
    let (stdout, stderr) = (MemoryOutputPipe::new(1 << 20), MemoryOutputPipe::new(1 << 20));
    let mut builder = WasiCtxBuilder::new();
    let mut argv = vec![format!("{}.wasm", case.name)];
    argv.extend(args);
    builder.args(&argv).stdout(stdout.clone()).stderr(stderr.clone());
    for (k, v) in &env {
        builder.env(k, v);
    }
    // As wasmtime's test grants: TCP and UDP, addresses on loopback only.
    builder.allow_tcp(true).allow_udp(true);
    builder.socket_addr_check(|addr, _| {
        let ok = addr.ip().is_loopback();
        Box::pin(async move { ok })
    });
    let here = case.wasm.parent().unwrap_or(Path::new("."));
    for dir in &spec.dirs {
        let fresh = scratch.path().join(dir);
        copy_dir(&here.join(dir), &fresh)
            .map_err(|e| NotPassed::Harness(format!("copying {}: {e}", here.join(dir).display())))?;
        builder
            .preopened_dir(&fresh, dir, FsPerms::ReadWrite)
            .map_err(|e| NotPassed::Harness(format!("preopen {dir}: {e:#}")))?;
    }
    let ctx: WasiP1Ctx = builder.build_p1();
    let module = Module::new(engine, &bytes).map_err(|e| NotPassed::Fail(format!("compilation failed: {e:#}")))?;
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |t| t).map_err(|e| NotPassed::Harness(format!("{e:#}")))?;
    let mut store = Store::new(engine, ctx);
    // Wasm code stops at the deadline; the epoch ticks while a test runs.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            Err(wasmtime::format_err!("the test's time limit passed"))
        } else {
            Ok(UpdateDeadline::Continue(1))
        }
    });
    let instance =
        linker.instantiate(&mut store, &module).map_err(|e| NotPassed::Fail(format!("instantiation failed: {e:#}")))?;
    let start = instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .map_err(|e| NotPassed::Fail(format!("no _start: {e:#}")))?;
    let code = match start.call(&mut store, ()) {
        Ok(()) => 0,
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => exit.0,
            None if Instant::now() >= deadline => return Err(NotPassed::Timeout),
            None => return Err(NotPassed::Fail(format!("trapped: {e:#}"))),
        },
    };
    if code != want {
        return Err(NotPassed::Fail(format!(
            "exit code {code}, expected {want}; stderr: {}",
            String::from_utf8_lossy(&stderr.contents())
        )));
    }
    if let Some(expected) = &spec.stdout {
        let got = stdout.contents();
        if got != expected.as_bytes() {
            return Err(NotPassed::Fail(format!(
                "stdout was {:?}, expected {expected:?}",
                String::from_utf8_lossy(&got)
            )));
        }
    }
    Ok(())
}

/// The arguments, environment and expected exit code of a module test: its
/// keys, or an `operations` list of one `run` and one `wait` (the only
/// steps a preview-1 module can take here).
fn plan(spec: &Spec) -> Result<Plan, NotPassed> {
    let (mut args, mut env, mut want) = (spec.args.clone(), spec.env.clone(), spec.exit_code.unwrap_or(0));
    if let Some(ops) = &spec.operations {
        match ops.as_slice() {
            [Operation::Run { args: a, env: e }, Operation::Wait { exit_code }] => {
                args.extend(a.iter().cloned());
                env.extend(e.clone());
                want = exit_code.unwrap_or(want);
            }
            other => {
                let names: Vec<&str> = other.iter().map(Operation::name).collect();
                return Err(NotPassed::Harness(format!(
                    "operations {names:?}: this executor drives preview-1 modules with `run` then `wait` only"
                )));
            }
        }
    }
    Ok(Plan { args, env, want })
}

/// How a module test runs: arguments, environment, expected exit code.
struct Plan {
    args: Vec<String>,
    env: BTreeMap<String, String>,
    want: i32,
}
