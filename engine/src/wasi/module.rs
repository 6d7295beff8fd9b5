//! Preview-1 core modules: `_start` with the arguments, environment and
//! preopened directories of the test, then its exit code and output
//! judged. A module takes the steps `run` then `wait`; anything else is a
//! harness error naming the steps.

use std::time::Instant;

use wasmtime::{Linker, Store, UpdateDeadline};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use super::{NotPassed, Operation, Test};

/// Output kept per stream; more fails the test.
const OUTPUT_LIMIT: usize = 1 << 20;

pub(super) fn run(test: &Test<'_>) -> Result<(), NotPassed> {
    let Test { engine, artifacts, case, spec, ops, bytes, deadline } = *test;
    if !spec.proposals.is_empty() || spec.world.is_some() {
        return Err(NotPassed::Harness(format!(
            "`proposals` {:?} / `world` {:?} apply to components; this is a preview-1 module",
            spec.proposals, spec.world
        )));
    }
    let (args, dirs, env, want, want_stdout, want_stderr) = match ops {
        [Operation::Run { args, dirs, env }, Operation::Wait { exit_code, stdout, stderr }] => {
            (args, dirs, env, exit_code.unwrap_or(0), stdout, stderr)
        }
        other => {
            let names: Vec<&str> = other.iter().map(Operation::name).collect();
            return Err(NotPassed::Harness(format!(
                "operations {names:?}: this executor drives preview-1 modules with `run` then `wait` only"
            )));
        }
    };
    let scratch = tempfile::tempdir().map_err(|e| NotPassed::Harness(format!("scratch directory: {e}")))?;
    let (stdout, stderr) = (MemoryOutputPipe::new(OUTPUT_LIMIT), MemoryOutputPipe::new(OUTPUT_LIMIT));
    let mut builder = WasiCtxBuilder::new();
    let mut argv = vec![format!("{}.wasm", case.name)];
    argv.extend(args.iter().cloned());
    builder.args(&argv).stdout(stdout.clone()).stderr(stderr.clone());
    for (k, v) in env {
        builder.env(k, v);
    }
    // As wasmtime's test grants: TCP and UDP, addresses on loopback only.
    builder.allow_tcp(true).allow_udp(true);
    builder.socket_addr_check(|addr, _| {
        let ok = addr.ip().is_loopback();
        Box::pin(async move { ok })
    });
    for (host, guest) in super::scratch_dirs(case, dirs, scratch.path())? {
        builder
            .preopened_dir(&host, &guest, FsPerms::ReadWrite)
            .map_err(|e| NotPassed::Harness(format!("preopen {guest}: {e:#}")))?;
    }
    let ctx: WasiP1Ctx = builder.build_p1();
    let module = crate::precompiled::module(artifacts, engine, bytes)
        .map_err(|e| NotPassed::Fail(format!("compilation failed: {e:#}")))?;
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
    super::judge_exit(code, want, false, &stderr.contents())?;
    super::judge_output("stdout", want_stdout.as_deref(), &stdout.contents())?;
    super::judge_output("stderr", want_stderr.as_deref(), &stderr.contents())
}
