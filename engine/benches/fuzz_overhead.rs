//! The fuzz harness's overhead: the same generated modules through the
//! campaign's per-module work (validation oracle with argument drawing,
//! panic catching and operator counting) and through a bare baseline of
//! compile + instantiate + call of every export with zero arguments, on the
//! same engine, alternating rounds in one process; prints both and the
//! ratio. Module generation is outside both timings.
//!
//! ```sh
//! cargo bench -p tierwatch-engine --bench fuzz_overhead
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use engine::fuzz::{Judges, Wasmtime, fuzz_profiles, generate, judge_module, proposal};
use matrix::evidence::Oracle;
use wasmtime::{Instance, Module, Store, Val};

const MODULES: u64 = 300;
const ROUNDS: usize = 5;

/// Compile, instantiate, call every export with zero arguments.
fn raw(engine: &wasmtime::Engine, wasm: &[u8]) {
    let Ok(module) = Module::new(engine, wasm) else { return };
    let mut store = Store::new(engine, ());
    let _ = store.set_fuel(2_000_000);
    let Ok(instance) = Instance::new(&mut store, &module, &[]) else { return };
    let funcs: Vec<_> = instance.exports(&mut store).filter_map(|e| e.into_func()).collect();
    for f in funcs {
        let ty = f.ty(&store);
        let Some(params) = ty.params().map(|t| Val::default_for_ty(&t)).collect::<Option<Vec<_>>>() else { continue };
        let mut results: Vec<Val> = ty.results().map(|_| Val::I32(0)).collect();
        let _ = store.set_fuel(2_000_000);
        if f.call(&mut store, &params, &mut results).is_err() {
            break;
        }
        black_box(&results);
    }
}

fn main() {
    let p = proposal("simd").expect("simd has a campaign");
    let (cranelift, _) = fuzz_profiles(&engine::Options::default());
    let inputs: Vec<(Vec<u8>, Vec<u8>)> = (0..MODULES)
        .filter_map(|i| {
            let data = engine::fuzz::input(1, i);
            let mut u = Unstructured::new(&data);
            let wasm = generate(p, &mut u).ok()?;
            Some((wasm, u.take_rest().to_vec()))
        })
        .collect();
    let judges = Judges { oracle: Oracle::Validation, subject: Box::new(Wasmtime::new(&cranelift)), reference: None };
    let mut best = (Duration::MAX, Duration::MAX);
    for round in 0..ROUNDS {
        let t = Instant::now();
        for (wasm, _) in &inputs {
            raw(&cranelift.engine, wasm);
        }
        let baseline = t.elapsed();
        let t = Instant::now();
        for (wasm, args) in &inputs {
            let _ = black_box(judge_module(&judges, p, wasm, args));
        }
        let harness = t.elapsed();
        eprintln!("round {round}: baseline {baseline:.2?}, harness {harness:.2?}");
        best = (best.0.min(baseline), best.1.min(harness));
    }
    println!("modules: {} simd modules from wasm-smith", inputs.len());
    println!("baseline (compile + instantiate + call): {:.3} s", best.0.as_secs_f64());
    println!("harness (validation oracle + counts):    {:.3} s", best.1.as_secs_f64());
    println!("ratio harness / baseline: {:.3}x (best of {ROUNDS} rounds)", best.1.as_secs_f64() / best.0.as_secs_f64());
}
