//! Fuzz campaigns end to end: clean campaigns on the real engines, a
//! deliberately wrong engine caught, deduplicated, shrunk and replayed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use engine::fuzz::exec::{CallResult, ParamType, Stop, Value};
use engine::fuzz::{
    Budget, CampaignSpec, Engine, Instance, Judges, PROPOSALS, Wasmi, Wasmtime, fuzz_profiles, proposal, replay,
    run_campaign,
};
use engine::{Compiler, Options, Profile};
use matrix::evidence::{CrashReplay, Oracle};

/// wasmtime, except that each `i32` result goes through `tamper`, which
/// is given the result and the number of calls so far on this engine.
struct Tampered {
    name: &'static str,
    inner: Wasmtime,
    tamper: fn(i32, i32) -> i32,
    calls: Arc<AtomicI32>,
}

impl Tampered {
    fn new(name: &'static str, tamper: fn(i32, i32) -> i32) -> Tampered {
        Tampered { name, inner: Wasmtime::new(&cranelift()), tamper, calls: Default::default() }
    }
}

struct TamperedInstance(Box<dyn Instance>, fn(i32, i32) -> i32, Arc<AtomicI32>);

impl Engine for Tampered {
    fn name(&self) -> &str {
        self.name
    }

    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn Instance>, Stop> {
        Ok(Box::new(TamperedInstance(self.inner.instantiate(wasm)?, self.tamper, self.calls.clone())))
    }
}

impl Instance for TamperedInstance {
    fn funcs(&mut self) -> Vec<(String, Vec<ParamType>)> {
        self.0.funcs()
    }

    fn call(&mut self, name: &str, args: &[Value]) -> CallResult {
        let calls = self.2.fetch_add(1, Ordering::Relaxed) + 1;
        let results = self.0.call(name, args)?;
        Ok(results
            .into_iter()
            .map(|v| match v {
                Value::I32(x) => Value::I32((self.1)(x, calls)),
                other => other,
            })
            .collect())
    }

    fn globals(&mut self) -> Option<Vec<(String, Value)>> {
        self.0.globals()
    }

    fn memories(&mut self) -> Option<Vec<(String, Vec<u8>)>> {
        self.0.memories()
    }
}

/// Odd `i32` results come back one too high: the same wrong answer on
/// every replay.
fn off_by_one(x: i32, _calls: i32) -> i32 {
    if x % 2 != 0 { x.wrapping_add(1) } else { x }
}

/// Every `i32` result comes back too high by the number of calls so far: a
/// wrong answer whose values never repeat, as from uninitialised state.
fn drifting(x: i32, calls: i32) -> i32 {
    x.wrapping_add(calls)
}

fn cranelift() -> Profile {
    fuzz_profiles(&Options::default()).0
}

fn spec(id: &str, iterations: u64, seed: u64) -> CampaignSpec {
    CampaignSpec {
        proposal: proposal(id).expect("known proposal"),
        seed,
        budget: Budget::Iterations(iterations),
        shrink_attempts: 300,
    }
}

#[test]
fn the_differential_oracle_catches_a_wrong_answer_engine() {
    let broken = || Judges {
        oracle: Oracle::Differential,
        subject: Box::new(Tampered::new("off-by-one", off_by_one)),
        reference: Some(Box::new(Wasmi::new())),
    };
    let judges = broken();
    let result = run_campaign(&spec("multi-value", 200, 7), &judges);
    let mismatches: Vec<_> =
        result.evidence.crashes.iter().filter(|c| c.signature.starts_with("result-mismatch")).collect();
    assert_eq!(mismatches.len(), 1, "one signature for one bug: {:#?}", result.evidence.crashes);
    let crash = mismatches[0];
    assert!(crash.count > 1, "repeats are deduplicated into the one signature, counted: {crash:?}");
    assert!(crash.message.contains("seed 7"), "the generator config and origin are logged: {}", crash.message);
    assert_eq!(crash.replay, Some(CrashReplay::Deterministic), "the same wrong answer every replay: it counts");

    let found = result.crashes.iter().find(|c| c.crash.signature == crash.signature).expect("reproducer kept");
    let replayed = replay(&found.reproducer, &broken()).expect("a reproducer file");
    assert!(replayed.reproduces, "the minimised reproducer replays: {replayed:?}");
    let (module, _) = engine::fuzz::Reproducer::decode(&found.reproducer).expect("decodes");
    let module = module.expect("a module");
    assert!(module.len() < 200, "the reproducer is minimised, {} bytes", module.len());

    let (cranelift, winch) = fuzz_profiles(&Options::default());
    let honest = Judges::choose(proposal("multi-value").expect("known"), &cranelift, winch.as_ref());
    assert!(
        !replay(&found.reproducer, &honest).expect("a reproducer file").reproduces,
        "the real engine agrees with wasmi"
    );
}

#[test]
fn short_campaigns_run_clean_and_exercise_their_proposal() {
    let (cranelift, winch) = fuzz_profiles(&Options::default());
    for p in PROPOSALS {
        let judges = Judges::choose(p, &cranelift, winch.as_ref());
        let result = run_campaign(&spec(p.id, 40, 1), &judges);
        let e = &result.evidence;
        assert!(e.crashes.is_empty(), "{}: {:#?}", e.name, e.crashes);
        assert!(e.valid_modules > 0, "{}: no valid module in 40 inputs", e.name);
        if p.id != "mutable-globals" {
            assert!(
                e.exercised.get(p.id).is_some_and(|n| *n > 0),
                "{} never exercised {}: {:?}",
                e.name,
                p.id,
                e.exercised
            );
        }
        eprintln!(
            "{}: {} valid, {} calls, exercised {:?}",
            e.name,
            e.valid_modules,
            result.calls,
            e.exercised.get(p.id)
        );
    }
}

#[test]
fn a_campaign_is_deterministic_from_its_seed() {
    let (cranelift, winch) = fuzz_profiles(&Options::default());
    let p = proposal("simd").expect("known");
    let judges = Judges::choose(p, &cranelift, winch.as_ref());
    let a = run_campaign(&spec("simd", 15, 42), &judges);
    let b = run_campaign(&spec("simd", 15, 42), &judges);
    assert_eq!(
        (a.evidence.valid_modules, &a.evidence.exercised, a.calls),
        (b.evidence.valid_modules, &b.evidence.exercised, b.calls)
    );
    let c = run_campaign(&spec("simd", 15, 43), &judges);
    assert_ne!(a.evidence.exercised, c.evidence.exercised, "another seed, other modules");
}

#[test]
fn oracles_are_chosen_by_what_each_engine_implements() {
    let cranelift = Profile::build(Compiler::Cranelift, &Options::default()).expect("cranelift");
    let winch = Profile::build(Compiler::Winch, &Options::default()).expect("winch");
    let choose = |id| Judges::choose(proposal(id).expect("known"), &cranelift, Some(&winch)).oracle;
    assert_eq!(choose("simd"), Oracle::Differential);
    assert_eq!(choose("component-model"), Oracle::Differential);
    assert_eq!(choose("gc"), Oracle::Validation, "neither wasmi nor Winch implement GC");
    assert_eq!(Judges::choose(proposal("threads").expect("known"), &cranelift, None).oracle, Oracle::Validation);
}

/// An engine whose instances panic on every call: a stand-in for a bug in
/// the reference implementation.
struct Panicky;

struct PanickyInstance;

impl Engine for Panicky {
    fn name(&self) -> &str {
        "wasmi"
    }

    fn instantiate(&self, _wasm: &[u8]) -> Result<Box<dyn Instance>, Stop> {
        Ok(Box::new(PanickyInstance))
    }
}

impl Instance for PanickyInstance {
    fn funcs(&mut self) -> Vec<(String, Vec<ParamType>)> {
        vec![("f".into(), vec![])]
    }

    fn call(&mut self, _name: &str, _args: &[Value]) -> CallResult {
        panic!("the reference implementation fell over")
    }

    fn globals(&mut self) -> Option<Vec<(String, Value)>> {
        None
    }

    fn memories(&mut self) -> Option<Vec<(String, Vec<u8>)>> {
        None
    }
}

#[test]
fn a_reference_engine_panic_is_inconclusive_not_a_crash_of_the_engine_under_test() {
    let finding = engine::fuzz::Finding {
        key: "panic:wasmi-2.0.0/src/engine/translator/func/mod.rs:2583:internal error".into(),
        message: "m".into(),
    };
    let judges = Judges {
        oracle: Oracle::Differential,
        subject: Box::new(Wasmtime::new(&cranelift())),
        reference: Some(Box::new(Wasmi::new())),
    };
    assert!(judges.reference_fault(&finding));
    let own =
        engine::fuzz::Finding { key: "panic:cranelift-codegen-0.135.8/src/x.rs:1:boom".into(), message: "m".into() };
    assert!(!judges.reference_fault(&own), "a panic in the engine under test is a crash");
    // A panic in this test file's stand-in is located here, not in a crate
    // named after the reference engine, so it is a finding like any other.
    let odd = Judges {
        oracle: Oracle::Differential,
        subject: Box::new(Wasmtime::new(&cranelift())),
        reference: Some(Box::new(Panicky)),
    };
    let result = run_campaign(&spec("mutable-globals", 10, 3), &odd);
    assert!(result.evidence.crashes.iter().any(|c| c.message.contains("fuzz.rs")), "{:?}", result.evidence.crashes);
}

#[test]
fn a_finding_whose_values_change_between_replays_is_under_triage() {
    let judges = Judges {
        oracle: Oracle::Differential,
        subject: Box::new(Tampered::new("drifting", drifting)),
        reference: Some(Box::new(Wasmi::new())),
    };
    let result = run_campaign(&spec("multi-value", 200, 7), &judges);
    let crash = result
        .evidence
        .crashes
        .iter()
        .find(|c| c.signature.starts_with("result-mismatch"))
        .unwrap_or_else(|| panic!("the drift is caught: {:#?}", result.evidence.crashes));
    assert_eq!(crash.replay, Some(CrashReplay::Varies), "{crash:?}");
    assert!(crash.open && crash.under_triage() && !crash.counts(), "{crash:?}");
}
