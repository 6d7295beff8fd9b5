//! The WASI executor for the wasi-testsuite layout: each folder with a
//! `manifest.json` is a suite (`<language>/testsuite/<target>/`), each test
//! is `NAME.wasm` with an optional `NAME.json`. The JSON's keys and their
//! meaning are those of wasi-testsuite's `test-runner/` and wasmtime's own
//! `tests/wasi.rs` at the revisions wasmtime 48.0.0 pins: `args`, `env`,
//! `dirs` (each preopened under its own name, copied fresh for the test),
//! `exit_code` (default 0), `stdout` (the whole output, exactly),
//! `proposals`, `world` and `operations`. A key, operation, proposal or world
//! this executor does not know is a `harness-error` naming it, never a
//! silent pass.
//!
//! Core modules (preview 1) run in [`module`]; components (preview 2 and
//! 3: commands and the `wasi:http/service` world) in [`component`], driven
//! step by step through their stdio, sockets and HTTP as wasmtime's test
//! drives `wasmtime run` and `wasmtime serve`.
//!
//! Suites are named `<language>-<target>` with the target from the
//! manifest's `version` less its `wasm32-` prefix: `c-wasip1`,
//! `assemblyscript-wasip1`, `rust-wasip1`, `rust-wasip3`. A folder of
//! programs without a manifest is named after its first folder.

mod component;
mod module;
mod stdio;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use matrix::evidence::{Outcome, WasiTest};
use serde::Deserialize;
use wasmtime::Engine;

use crate::profile::Profile;

/// The time a test may take unless the runner says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// What a test expects, from its `NAME.json`; a missing file means the
/// defaults. Unknown keys are refused with their name.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Spec {
    /// Arguments after the program name.
    pub args: Option<Vec<String>>,
    /// Environment variables (the host's are not inherited).
    pub env: Option<BTreeMap<String, String>>,
    /// Directories next to the test, each preopened under its own name.
    pub dirs: Option<Vec<String>>,
    /// Expected exit code (default 0).
    pub exit_code: Option<i32>,
    /// Expected standard output, the whole of it.
    pub stdout: Option<String>,
    /// WASI proposals the program needs beyond the CLI.
    pub proposals: Vec<Proposal>,
    /// The world the component targets; absent: a command.
    pub world: Option<String>,
    /// Steps that drive the program, in place of the keys above.
    pub operations: Option<Vec<Operation>>,
}

/// A WASI proposal a test needs, and what wasmtime's test grants for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proposal {
    /// `wasi:sockets`: the host's network is inherited (`-Sinherit-network`).
    Sockets,
    /// `wasi:http`: HTTP and the whole CLI (`-Shttp,cli`).
    Http,
}

/// The one world besides commands that a test may name.
pub const HTTP_SERVICE: &str = "wasi:http/service";

impl Spec {
    /// The steps of the test: its `operations`, or run-then-wait from the
    /// top-level keys. The two forms do not mix.
    pub fn operations(&self) -> Result<Vec<Operation>, String> {
        if let Some(ops) = &self.operations {
            let mixed: Vec<&str> = [
                ("args", self.args.is_some()),
                ("env", self.env.is_some()),
                ("dirs", self.dirs.is_some()),
                ("exit_code", self.exit_code.is_some()),
                ("stdout", self.stdout.is_some()),
            ]
            .into_iter()
            .filter_map(|(k, present)| present.then_some(k))
            .collect();
            if !mixed.is_empty() {
                return Err(format!("`operations` cannot be combined with the top-level keys {mixed:?}"));
            }
            return Ok(ops.clone());
        }
        Ok(vec![
            Operation::Run {
                args: self.args.clone().unwrap_or_default(),
                dirs: self.dirs.clone().unwrap_or_default(),
                env: self.env.clone().unwrap_or_default(),
            },
            Operation::Wait { exit_code: self.exit_code, stdout: self.stdout.clone(), stderr: None },
        ])
    }
}

/// One step of a test's `operations`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Start the program.
    Run {
        /// Arguments after the program name.
        #[serde(default)]
        args: Vec<String>,
        /// Directories next to the test, each preopened under its own name.
        #[serde(default)]
        dirs: Vec<String>,
        /// Environment variables.
        #[serde(default)]
        env: BTreeMap<String, String>,
    },
    /// Close stdin, wait for the program to end and check how it ended.
    Wait {
        /// Expected exit code (default 0; ignored after `kill`).
        #[serde(default)]
        exit_code: Option<i32>,
        /// Expected rest of stdout, exactly.
        #[serde(default)]
        stdout: Option<String>,
        /// Expected rest of stderr, exactly.
        #[serde(default)]
        stderr: Option<String>,
    },
    /// Read exactly `payload` from stdout or stderr.
    Read {
        /// The stream.
        id: Stream,
        /// What must be read.
        payload: String,
    },
    /// Write `payload` to stdin.
    Write {
        /// The stream.
        id: Stream,
        /// What to write.
        payload: String,
    },
    /// Connect to a socket the program serves; its address is what the
    /// program first writes to stdout.
    Connect {
        /// The connection's name.
        id: String,
        /// The protocol.
        protocol_type: Protocol,
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
    /// Send an HTTP request to the program's service and check the answer.
    Request {
        /// The method.
        method: Method,
        /// The path.
        path: String,
        /// The expected response.
        response: ExpectedResponse,
    },
    /// Stop the program; the following `wait` ignores its exit code.
    Kill {
        /// The signal.
        signal: Signal,
    },
}

/// A stdio stream of the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Standard input.
    Stdin,
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A socket protocol of `connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// TCP.
    Tcp,
}

/// An HTTP method of `request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// A signal of `kill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Signal {
    /// SIGINT (wasmtime's test, and this executor, stop the program outright).
    Sigint,
}

/// The response a `request` expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedResponse {
    /// The status code.
    pub status: u16,
    /// Headers that must be present with these values.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The whole body (default empty).
    #[serde(default)]
    pub body: String,
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
    let artifacts = profile.options.artifacts.clone();
    let deadline = Instant::now() + limit;
    let spawned =
        std::thread::Builder::new().name(format!("wasi {}", case.name)).stack_size(8 << 20).spawn(move || {
            let r = crate::panics::catch(|| run(&engine, artifacts.as_deref(), &case2, deadline));
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

/// One test as the executors take it: the program, its spec and steps,
/// and when it must have finished.
struct Test<'a> {
    engine: &'a Engine,
    /// Precompiled code to load instead of compiling, if any.
    artifacts: Option<&'a crate::precompiled::Artifacts>,
    case: &'a Case,
    spec: &'a Spec,
    ops: &'a [Operation],
    bytes: &'a [u8],
    deadline: Instant,
}

/// `Ok` passes; `Err` says whose fault it is that it did not.
fn run(
    engine: &Engine,
    artifacts: Option<&crate::precompiled::Artifacts>,
    case: &Case,
    deadline: Instant,
) -> Result<(), NotPassed> {
    let spec = spec(case)?;
    if let Some(world) = spec.world.as_deref().filter(|w| *w != HTTP_SERVICE) {
        return Err(NotPassed::Harness(format!(
            "unknown world `{world}` (known: `{HTTP_SERVICE}`, or none for a command)"
        )));
    }
    let ops = spec.operations().map_err(NotPassed::Harness)?;
    let bytes = std::fs::read(&case.wasm).map_err(|e| NotPassed::Harness(format!("{}: {e}", case.wasm.display())))?;
    let test = Test { engine, artifacts, case, spec: &spec, ops: &ops, bytes: &bytes, deadline };
    if is_component(&bytes) { component::run(&test) } else { module::run(&test) }
}

/// Copies each of `dirs` (folders next to the test) into `scratch` and
/// returns (host path, guest name) pairs to preopen.
fn scratch_dirs(case: &Case, dirs: &[String], scratch: &Path) -> Result<Vec<(PathBuf, String)>, NotPassed> {
    let here = case.wasm.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for dir in dirs {
        let fresh = scratch.join(dir);
        copy_dir(&here.join(dir), &fresh)
            .map_err(|e| NotPassed::Harness(format!("copying {}: {e}", here.join(dir).display())))?;
        out.push((fresh, dir.clone()));
    }
    Ok(out)
}

/// The exit code against the expected one; after `kill` any code will do.
fn judge_exit(code: i32, want: i32, killed: bool, stderr: &[u8]) -> Result<(), NotPassed> {
    if code == want || killed {
        return Ok(());
    }
    Err(NotPassed::Fail(format!("exit code {code}, expected {want}; stderr: {}", String::from_utf8_lossy(stderr))))
}

/// `got` (the rest of a stream) against what the test expects, if it
/// expects anything.
fn judge_output(stream: &str, want: Option<&str>, got: &[u8]) -> Result<(), NotPassed> {
    match want {
        Some(want) if got != want.as_bytes() => {
            Err(NotPassed::Fail(format!("{stream} was {:?}, expected {want:?}", String::from_utf8_lossy(got))))
        }
        _ => Ok(()),
    }
}
