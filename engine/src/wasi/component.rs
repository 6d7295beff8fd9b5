//! Components (WASI preview 2 and 3), run as wasmtime's own `tests/wasi.rs`
//! at v48.0.0 runs them through its CLI, but in this process:
//!
//! - a command is instantiated with wasmtime-wasi's preview-2 and preview-3
//!   interfaces (`wasmtime run -Sp3 -Wcomponent-model-async`) and its
//!   `wasi:cli/run` export called (preview 3 when the component exports it,
//!   else preview 2); `Err` from `run` is exit code 1, `wasi:cli/exit` its
//!   code;
//! - the `wasi:http/service` world is served on a loopback port of its own
//!   through wasmtime-wasi-http's request handler, as `wasmtime serve`
//!   serves it, and the test's requests go there;
//! - the grants are the test's: TCP and UDP always (`-Stcp,udp`), the
//!   host's network for `sockets` (`-Sinherit-network`), HTTP and the whole
//!   CLI for `http` (`-Shttp,cli`);
//! - the steps drive the program through its stdio ([`super::stdio`]), a
//!   socket it serves, or its HTTP service; `kill` stops it outright and the
//!   `wait` after it ignores the exit code.
//!
//! Everything runs on a Tokio runtime of the test's own, under the test's
//! deadline: wasm code is stopped by an epoch deadline, every step that
//! waits gives up at the deadline (`timeout`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http_body_util::BodyExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use wasmtime::component::{GuestTaskId, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store, StoreContextMut, UpdateDeadline};
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::stdio::{Input, Output, ReadEnd};
use super::{ExpectedResponse, Method, NotPassed, Operation, Proposal, Stream, Test};

/// Output kept per stream; more fails the test.
const OUTPUT_LIMIT: usize = 4 << 20;
/// How many bytes of stdout `connect` reads for the address, as wasmtime's
/// test does.
const ADDRESS_LIMIT: usize = 200;
/// `wasmtime serve`'s defaults for preview-3 services: requests per
/// instance, and at once per instance.
const REUSE: usize = 128;
/// How much of stderr a failure message quotes.
const TAIL: usize = 600;
const CONCURRENT_REUSE: usize = 16;

/// The store's data: WASI, WASI HTTP, and their resources.
struct Host {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
}

/// wasi-http's default behaviour (outgoing requests over hyper).
struct Hooks;

impl WasiHttpHooks for Hooks {}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// What every store of the test starts with.
struct Setup {
    engine: Engine,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    dirs: Vec<(std::path::PathBuf, String)>,
    sockets: bool,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    /// The test's deadline, for wasm code.
    deadline: std::time::Instant,
    /// Set by `kill`: wasm code stops at the next epoch.
    killed: Arc<AtomicBool>,
}

impl Setup {
    fn store(&self) -> Result<Store<Host>, String> {
        let mut b = WasiCtxBuilder::new();
        b.args(&self.argv).stdin(self.stdin.clone()).stdout(self.stdout.clone()).stderr(self.stderr.clone());
        for (k, v) in &self.env {
            b.env(k, v);
        }
        for (host, guest) in &self.dirs {
            b.preopened_dir(host, guest, FsPerms::ReadWrite).map_err(|e| format!("preopen {guest}: {e:#}"))?;
        }
        if self.sockets {
            b.inherit_network();
        }
        b.allow_tcp(true).allow_udp(true);
        let host = Host { table: ResourceTable::new(), wasi: b.build(), http: WasiHttpCtx::new(), hooks: Hooks };
        let mut store = Store::new(&self.engine, host);
        let (deadline, killed) = (self.deadline, self.killed.clone());
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if killed.load(Ordering::Relaxed) {
                Err(wasmtime::format_err!("stopped by the test's `kill`"))
            } else if std::time::Instant::now() >= deadline {
                Err(wasmtime::format_err!("the test's time limit passed"))
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok(store)
    }
}

/// The linker `wasmtime run` / `wasmtime serve` builds for these grants.
fn linker(engine: &Engine, http: bool, service: bool) -> wasmtime::Result<Linker<Host>> {
    let mut l = Linker::new(engine);
    if service && !http {
        // `wasmtime serve` without `-Scli`: the service world's interfaces.
        wasmtime_wasi_http::p2::add_to_linker_async(&mut l)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut l)?;
        wasmtime_wasi::p3::clocks::add_to_linker(&mut l)?;
        wasmtime_wasi::p3::random::add_to_linker(&mut l)?;
        wasmtime_wasi::p3::cli::add_to_linker(&mut l)?;
        return Ok(l);
    }
    wasmtime_wasi::p2::add_to_linker_async(&mut l)?;
    wasmtime_wasi::p3::add_to_linker(&mut l)?;
    if http {
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut l)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut l)?;
    }
    Ok(l)
}

fn harness(m: impl std::fmt::Display) -> NotPassed {
    NotPassed::Harness(m.to_string())
}

pub(super) fn run(test: &Test<'_>) -> Result<(), NotPassed> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(format!("wasi {}", test.case.name))
        .enable_all()
        .build()
        .map_err(|e| harness(format!("starting the test's runtime: {e}")))?;
    let result = rt.block_on(drive(test));
    // A program still running (killed but blocked in the host) is left
    // behind rather than waited for.
    rt.shutdown_background();
    result
}

/// The program as the steps see it.
enum Running {
    Command { task: JoinHandle<Exit> },
    Service { addr: SocketAddr, accept: JoinHandle<()>, failures: Arc<Mutex<Vec<String>>> },
}

/// How a command's task ended.
type Exit = Result<i32, NotPassed>;

async fn drive(test: &Test<'_>) -> Result<(), NotPassed> {
    let Test { engine, artifacts, spec, bytes, .. } = *test;
    let service = spec.world.as_deref() == Some(super::HTTP_SERVICE);
    let http = spec.proposals.contains(&Proposal::Http);
    let component = crate::precompiled::component(artifacts, engine, bytes)
        .map_err(|e| NotPassed::Fail(format!("compilation failed: {e:#}")))?;
    let linker = linker(engine, http, service).map_err(|e| harness(format!("linking WASI: {e:#}")))?;
    let pre = linker.instantiate_pre(&component).map_err(|e| {
        NotPassed::Fail(format!("the component's imports are not all provided by WASI as granted: {e:#}"))
    })?;
    let mut driver = Driver {
        test,
        pre,
        service,
        until: Instant::from_std(test.deadline),
        scratch: tempfile::tempdir().map_err(|e| harness(format!("scratch directory: {e}")))?,
        stdin: Input::default(),
        stdout: Output::new(OUTPUT_LIMIT),
        stderr: Output::new(OUTPUT_LIMIT),
        killed: Arc::new(AtomicBool::new(false)),
        running: None,
        streams: BTreeMap::new(),
    };
    for (n, op) in test.ops.iter().enumerate() {
        let step = format!("step {} (`{}`)", n + 1, op.name());
        driver.step(&step, op).await?;
    }
    if driver.running.is_some() {
        return Err(harness("the steps end while the program still runs (no `wait`)"));
    }
    Ok(())
}

/// A test's steps in progress: the program's streams, whether it runs,
/// the connections the steps opened.
struct Driver<'t> {
    test: &'t Test<'t>,
    pre: InstancePre<Host>,
    service: bool,
    until: Instant,
    scratch: tempfile::TempDir,
    stdin: Input,
    stdout: Output,
    stderr: Output,
    killed: Arc<AtomicBool>,
    running: Option<Running>,
    streams: BTreeMap<String, tokio::net::TcpStream>,
}

impl Driver<'_> {
    async fn step(&mut self, step: &str, op: &Operation) -> Result<(), NotPassed> {
        let until = self.until;
        match op {
            Operation::Run { args, dirs, env } => self.run(step, args, dirs, env).await,
            Operation::Write { id, payload } => {
                if *id != Stream::Stdin {
                    return Err(harness(format!("{step}: cannot write to {id:?}")));
                }
                self.stdin.write(payload.as_bytes());
                Ok(())
            }
            Operation::Read { id, payload } => self.read(step, *id, payload).await,
            Operation::Connect { id, protocol_type: super::Protocol::Tcp } => self.connect(step, id).await,
            Operation::Send { id, payload } => {
                let stream = self.stream(step, id)?;
                within(until, stream.write_all(payload.as_bytes()))
                    .await?
                    .map_err(|e| NotPassed::Fail(format!("{step}: sending on {id:?}: {e}")))
            }
            Operation::Recv { id, payload } => {
                let stream = self.stream(step, id)?;
                let mut got = vec![0; payload.len()];
                within(until, stream.read_exact(&mut got))
                    .await?
                    .map_err(|e| NotPassed::Fail(format!("{step}: receiving {payload:?} on {id:?}: {e}")))?;
                if got != payload.as_bytes() {
                    return Err(NotPassed::Fail(format!(
                        "{step}: received {:?} on {id:?}, expected {payload:?}",
                        String::from_utf8_lossy(&got)
                    )));
                }
                Ok(())
            }
            Operation::Request { method, path, response } => self.request(step, *method, path, response).await,
            Operation::Kill { .. } => {
                self.killed.store(true, Ordering::Relaxed);
                self.stdin.close();
                match &self.running {
                    Some(Running::Command { task }) => task.abort(),
                    Some(Running::Service { accept, .. }) => accept.abort(),
                    None => return Err(harness(format!("{step}: no program is running"))),
                }
                Ok(())
            }
            Operation::Wait { exit_code, stdout, stderr } => {
                self.wait(step, *exit_code, stdout.as_deref(), stderr.as_deref()).await
            }
        }
    }

    fn stream(&mut self, step: &str, id: &str) -> Result<&mut tokio::net::TcpStream, NotPassed> {
        self.streams.get_mut(id).ok_or_else(|| harness(format!("{step}: no connection named {id:?}")))
    }

    async fn run(
        &mut self,
        step: &str,
        args: &[String],
        dirs: &[String],
        env: &BTreeMap<String, String>,
    ) -> Result<(), NotPassed> {
        if self.running.is_some() {
            return Err(harness(format!("{step}: the program is already running")));
        }
        let Test { engine, case, spec, deadline, .. } = *self.test;
        let mut argv = vec![format!("{}.wasm", case.name)];
        argv.extend(args.iter().cloned());
        let setup = Arc::new(Setup {
            engine: engine.clone(),
            argv,
            env: env.clone(),
            dirs: super::scratch_dirs(case, dirs, self.scratch.path())?,
            sockets: spec.proposals.contains(&Proposal::Sockets),
            stdin: self.stdin.clone(),
            stdout: self.stdout.clone(),
            stderr: self.stderr.clone(),
            deadline,
            killed: self.killed.clone(),
        });
        self.running = Some(if self.service {
            serve(setup, self.pre.clone(), self.until).await?
        } else {
            Running::Command { task: tokio::spawn(command(setup, self.pre.clone())) }
        });
        Ok(())
    }

    async fn read(&mut self, step: &str, id: Stream, payload: &str) -> Result<(), NotPassed> {
        let out = match id {
            Stream::Stdout => &self.stdout,
            Stream::Stderr => &self.stderr,
            Stream::Stdin => return Err(harness(format!("{step}: cannot read from stdin"))),
        };
        match out.read_exact(payload.len(), self.until).await {
            Ok(got) if got == payload.as_bytes() => Ok(()),
            Ok(got) => Err(NotPassed::Fail(format!(
                "{step}: read {:?} from {id:?}, expected {payload:?}",
                String::from_utf8_lossy(&got)
            ))),
            Err(ReadEnd::Closed(rest)) => Err(NotPassed::Fail(format!(
                "{step}: the program ended after writing {:?} to {id:?}, expected {payload:?}",
                String::from_utf8_lossy(&rest)
            ))),
            Err(ReadEnd::Deadline) => Err(NotPassed::Timeout),
        }
    }

    async fn connect(&mut self, step: &str, id: &str) -> Result<(), NotPassed> {
        let addr = match self.stdout.read_address(ADDRESS_LIMIT, self.until).await {
            Ok(a) => a,
            Err(ReadEnd::Closed(_)) => {
                return Err(NotPassed::Fail(format!("{step}: the program ended without printing an address")));
            }
            Err(ReadEnd::Deadline) => return Err(NotPassed::Timeout),
        };
        let addr = String::from_utf8_lossy(&addr).trim().to_owned();
        let stream = within(self.until, tokio::net::TcpStream::connect(&addr))
            .await?
            .map_err(|e| NotPassed::Fail(format!("{step}: connecting to {addr:?}, printed by the program: {e}")))?;
        if self.streams.insert(id.to_owned(), stream).is_some() {
            return Err(harness(format!("{step}: connection {id:?} is already open")));
        }
        Ok(())
    }

    async fn request(
        &mut self,
        step: &str,
        method: Method,
        path: &str,
        response: &ExpectedResponse,
    ) -> Result<(), NotPassed> {
        let Some(Running::Service { addr, failures, .. }) = &self.running else {
            return Err(harness(format!("{step}: a request needs a running `{}` program", super::HTTP_SERVICE)));
        };
        let sent = within(self.until, request(*addr, method, path, response)).await?;
        if let Err(m) = sent {
            let failures = failures.lock().unwrap_or_else(|p| p.into_inner()).join("; ");
            let failures = if failures.is_empty() { String::new() } else { format!(" (the service: {failures})") };
            return Err(NotPassed::Fail(format!("{step}: {method:?} {path}: {m}{failures}")));
        }
        Ok(())
    }

    async fn wait(
        &mut self,
        step: &str,
        exit_code: Option<i32>,
        want_stdout: Option<&str>,
        want_stderr: Option<&str>,
    ) -> Result<(), NotPassed> {
        self.stdin.close();
        let was_killed = self.killed.load(Ordering::Relaxed);
        let code = match self.running.take() {
            None => return Err(harness(format!("{step}: no program is running"))),
            Some(Running::Command { task }) => match tokio::time::timeout_at(self.until, task).await {
                Err(_) => return Err(NotPassed::Timeout),
                Ok(Ok(Ok(code))) => code,
                Ok(Ok(Err(_))) | Ok(Err(_)) if was_killed => 0,
                Ok(Ok(Err(e))) => return Err(e),
                Ok(Err(e)) => return Err(NotPassed::Fail(format!("the program's task ended: {e}"))),
            },
            // A service ends only when it is killed.
            Some(Running::Service { .. }) if was_killed => 0,
            Some(Running::Service { .. }) => {
                tokio::time::sleep_until(self.until).await;
                return Err(NotPassed::Timeout);
            }
        };
        self.stdout.close();
        self.stderr.close();
        let (out, err) = (self.stdout.rest(), self.stderr.rest());
        super::judge_exit(code, exit_code.unwrap_or(0), was_killed, &err)?;
        super::judge_output("stdout", want_stdout, &out)?;
        super::judge_output("stderr", want_stderr, &err)?;
        Ok(())
    }
}

/// `fut`, or a timeout at the deadline.
async fn within<T>(until: Instant, fut: impl Future<Output = T>) -> Result<T, NotPassed> {
    tokio::time::timeout_at(until, fut).await.map_err(|_| NotPassed::Timeout)
}

/// Closes a command's stdout and stderr however its task ends, so steps
/// reading them learn that nothing more comes.
struct Closes(Output, Output);

impl Drop for Closes {
    fn drop(&mut self) {
        self.0.close();
        self.1.close();
    }
}

/// Runs a command to its end: its exit code, or why it has none.
async fn command(setup: Arc<Setup>, pre: InstancePre<Host>) -> Exit {
    let _closes = Closes(setup.stdout.clone(), setup.stderr.clone());
    let mut store = setup.store().map_err(NotPassed::Harness)?;
    let instance =
        pre.instantiate_async(&mut store).await.map_err(|e| NotPassed::Fail(format!("instantiation failed: {e:#}")))?;
    let ran = match wasmtime_wasi::p3::bindings::Command::new(&mut store, &instance) {
        Ok(command) => {
            store.run_concurrent(async |store| command.wasi_cli_run().call_run(store).await).await.and_then(|r| r)
        }
        Err(p3) => match wasmtime_wasi::p2::bindings::Command::new(&mut store, &instance) {
            Ok(command) => command.wasi_cli_run().call_run(&mut store).await,
            Err(p2) => {
                return Err(NotPassed::Fail(format!(
                    "the component exports no `wasi:cli/run` (preview 3: {p3:#}; preview 2: {p2:#})"
                )));
            }
        },
    };
    match ran {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(exit.0),
            None if std::time::Instant::now() >= setup.deadline => Err(NotPassed::Timeout),
            None => Err(NotPassed::Fail(format!("trapped: {e:#}; stderr ends: {:?}", setup.stderr.tail(TAIL)))),
        },
    }
}

/// The service's side of wasi-http's request handler: one store and
/// instance per worker, each request bounded by the test's deadline.
struct ServiceState {
    setup: Arc<Setup>,
    pre: ProxyPre<Host>,
    until: Instant,
    failures: Arc<Mutex<Vec<String>>>,
}

impl HandlerState for ServiceState {
    type StoreData = Host;
    type WorkerExpiration = Expiry;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<Host, Expiry, Worker>> {
        let mut store = self.setup.store().map_err(|m| wasmtime::format_err!("{m}"))?;
        let proxy = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            proxy,
            view: <Host as WasiHttpView>::http,
            expiration: Expiry(Box::pin(tokio::time::sleep_until(self.until))),
            state: Worker { until: self.until, failures: self.failures.clone() },
        })
    }
}

/// A worker lives until the test's deadline.
struct Expiry(Pin<Box<tokio::time::Sleep>>);

impl WorkerExpiration for Expiry {
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>, _: WorkerStatus, _: std::time::Instant) -> Poll<()> {
        self.get_mut().0.as_mut().poll(cx)
    }
}

struct Worker {
    until: Instant,
    failures: Arc<Mutex<Vec<String>>>,
}

impl WorkerState for Worker {
    type StoreData = Host;
    type RequestData = ();

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= REUSE {
            ShouldAccept::Never
        } else if concurrent >= CONCURRENT_REUSE {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        _: StoreContextMut<'_, Host>,
        _: (),
        _: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        Box::pin(tokio::time::sleep_until(self.until))
    }

    fn drop(&self, store: Store<Host>, result: wasmtime::Result<()>) {
        if let Err(e) = result {
            self.failures.lock().unwrap_or_else(|p| p.into_inner()).push(format!("worker failed: {e:#}"));
        }
        drop(store);
    }
}

/// Starts serving the `wasi:http/service` component on a loopback port.
async fn serve(setup: Arc<Setup>, pre: InstancePre<Host>, until: Instant) -> Result<Running, NotPassed> {
    let pre = wasmtime_wasi_http::p3::bindings::ServicePre::new(pre)
        .map(ProxyPre::P3)
        .map_err(|e| NotPassed::Fail(format!("the component exports no `wasi:http/handler`: {e:#}")))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| harness(format!("binding the service's port: {e}")))?;
    let addr = listener.local_addr().map_err(|e| harness(format!("the service's address: {e}")))?;
    let failures = Arc::new(Mutex::new(Vec::new()));
    let handler = ProxyHandler::new(ServiceState { setup, pre, until, failures: failures.clone() });
    let accept = tokio::spawn({
        let failures = failures.clone();
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let (handler, failures) = (handler.clone(), failures.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (handler, failures) = (handler.clone(), failures.clone());
                        async move {
                            let req = req.map(|body| body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
                            match handler.handle((), req).await {
                                Ok(response) => Ok::<_, Infallible>(response),
                                Err(e) => {
                                    failures
                                        .lock()
                                        .unwrap_or_else(|p| p.into_inner())
                                        .push(format!("request failed: {e:#}"));
                                    let mut response = hyper::Response::new(
                                        http_body_util::Empty::<hyper::body::Bytes>::new()
                                            .map_err(|never| match never {})
                                            .boxed_unsync(),
                                    );
                                    *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                                    Ok(response)
                                }
                            }
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    });
    Ok(Running::Service { addr, accept, failures })
}

/// Sends one request to the service and checks the response, as wasmtime's
/// test does: the status, each expected header, and the whole body.
async fn request(addr: SocketAddr, method: Method, path: &str, want: &ExpectedResponse) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| format!("connecting to the service: {e}"))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, String>(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    tokio::spawn(conn);
    let method = match method {
        Method::Get => http::Method::GET,
        Method::Post => http::Method::POST,
    };
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .body(String::new())
        .map_err(|e| format!("building the request: {e}"))?;
    let response = send.send_request(req).await.map_err(|e| format!("no response: {e}"))?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| format!("reading the body: {e}"))?.to_bytes();
    if parts.status.as_u16() != want.status {
        return Err(format!("status {}, expected {}", parts.status.as_u16(), want.status));
    }
    for (name, value) in &want.headers {
        match parts.headers.get(name.as_str()) {
            None => return Err(format!("no header {name:?}, expected {value:?}")),
            Some(got) if got.as_bytes() != value.as_bytes() => {
                return Err(format!("header {name:?} is {got:?}, expected {value:?}"));
            }
            Some(_) => {}
        }
    }
    if body != want.body.as_bytes() {
        return Err(format!("body {:?}, expected {:?}", String::from_utf8_lossy(&body), want.body));
    }
    Ok(())
}
