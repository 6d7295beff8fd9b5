//! One thread that advances the epoch of every engine that asked, so that
//! stores with an epoch deadline (WASI tests under a time limit) notice the
//! limit while their wasm code runs. Advancing an epoch costs nothing to
//! stores without a deadline callback of their own.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use wasmtime::Engine;

/// How often epochs advance: the granularity of a time limit.
pub const PERIOD: Duration = Duration::from_millis(50);

static ENGINES: OnceLock<Mutex<Vec<Engine>>> = OnceLock::new();

/// Keeps `engine`'s epoch advancing from now on (for the life of the
/// process; a program that outlives its limit must still be stopped).
pub fn tick(engine: &Engine) {
    let engines = ENGINES.get_or_init(|| {
        let spawned = std::thread::Builder::new().name("tierwatch epochs".into()).spawn(|| {
            loop {
                std::thread::sleep(PERIOD);
                if let Some(all) = ENGINES.get() {
                    for e in all.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                        e.increment_epoch();
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing_free_warning(&e);
        }
        Mutex::new(Vec::new())
    });
    let mut all = engines.lock().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|e| Engine::same(e, engine)) {
        all.push(engine.clone());
    }
}

fn tracing_free_warning(e: &std::io::Error) {
    eprintln!("tierwatch: cannot start the epoch thread ({e}); time limits stop only programs blocked outside wasm");
}
