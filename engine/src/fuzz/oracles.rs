//! The oracles: plain functions of an input, so a seed reproduces a run and
//! the same functions serve campaigns, replays and unit tests. Each returns
//! the number of calls it compared, or the finding that stopped it.

use arbitrary::Unstructured;
use wasmparser::{Validator, WasmFeatures};

use super::exec::{CallResult, Engine, Instance, ParamType, Stop, Value};

/// Something an oracle caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of thing went wrong, free of input-specific detail (names,
    /// values, addresses), so equal keys mean the same bug.
    pub key: String,
    /// The details: which export, which values, which engines.
    pub message: String,
}

impl Finding {
    fn new(key: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding { key: key.into(), message: message.into() }
    }
}

/// Differential oracle: `a` and `b` instantiate the module, every callable
/// export is invoked with arguments drawn from `u`, and results, traps,
/// exported globals and memories must agree. Resource exhaustion on either
/// side ends the comparison without a finding: engines may legitimately
/// differ in stack depth.
pub fn differential(a: &dyn Engine, b: &dyn Engine, wasm: &[u8], u: &mut Unstructured<'_>) -> Result<u64, Finding> {
    let (mut ia, mut ib) = match (a.instantiate(wasm), b.instantiate(wasm)) {
        (Ok(ia), Ok(ib)) => (ia, ib),
        (Err(Stop::Exhausted(_)), _) | (_, Err(Stop::Exhausted(_))) => return Ok(0),
        (Err(ea), Err(eb)) => {
            return match (ea, eb) {
                (Stop::Trap(x), Stop::Trap(y)) if x != y => {
                    Err(Finding::new("instantiate-trap-mismatch", format!("{}: {x}, {}: {y}", a.name(), b.name())))
                }
                _ => Ok(0),
            };
        }
        (Ok(_), Err(e)) => return Err(one_sided("instantiate", b.name(), &e, a.name())),
        (Err(e), Ok(_)) => return Err(one_sided("instantiate", a.name(), &e, b.name())),
    };
    let mut calls = 0;
    for (name, params) in ia.funcs() {
        let args = arguments(&params, u);
        let (ra, rb) = (ia.call(&name, &args), ib.call(&name, &args));
        calls += 1;
        match compare(&name, &args, &ra, &rb, a.name(), b.name())? {
            Flow::Continue => {}
            Flow::Stop => return Ok(calls),
        }
        if ra.is_err() && !(ia.reusable_after_trap() && ib.reusable_after_trap()) {
            return Ok(calls);
        }
    }
    compare_state(ia.as_mut(), ib.as_mut(), a.name(), b.name())?;
    Ok(calls)
}

enum Flow {
    Continue,
    Stop,
}

fn one_sided(what: &str, failed: &str, e: &Stop, ok: &str) -> Finding {
    Finding::new(format!("{what}-only-one-failed"), format!("{failed} failed to {what} ({e:?}) while {ok} succeeded"))
}

fn compare(name: &str, args: &[Value], ra: &CallResult, rb: &CallResult, a: &str, b: &str) -> Result<Flow, Finding> {
    let call = format!("{name}({})", args.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", "));
    match (ra, rb) {
        (Err(Stop::Exhausted(_)), _) | (_, Err(Stop::Exhausted(_))) => Ok(Flow::Stop),
        (Ok(x), Ok(y)) if x == y => Ok(Flow::Continue),
        (Ok(x), Ok(y)) => {
            let ty = x.first().or(y.first()).map_or("none", Value::type_name);
            Err(Finding::new(
                format!("result-mismatch:{ty}"),
                format!("{call}: {a} returned {x:?}, {b} returned {y:?}"),
            ))
        }
        (Err(Stop::Trap(x)), Err(Stop::Trap(y))) if x == y => Ok(Flow::Continue),
        (Err(Stop::Trap(x)), Err(Stop::Trap(y))) => {
            Err(Finding::new(format!("trap-mismatch:{x}:{y}"), format!("{call}: {a} trapped with {x}, {b} with {y}")))
        }
        (Err(e), Ok(y)) => Err(Finding::new(
            format!("call-only-one-failed:{}", stop_kind(e)),
            format!("{call}: {a} stopped with {e:?}, {b} returned {y:?}"),
        )),
        (Ok(x), Err(e)) => Err(Finding::new(
            format!("call-only-one-failed:{}", stop_kind(e)),
            format!("{call}: {a} returned {x:?}, {b} stopped with {e:?}"),
        )),
        (Err(x), Err(y)) => Err(Finding::new(
            format!("call-error-mismatch:{}:{}", stop_kind(x), stop_kind(y)),
            format!("{call}: {a} stopped with {x:?}, {b} with {y:?}"),
        )),
    }
}

fn stop_kind(s: &Stop) -> String {
    match s {
        Stop::Trap(k) => k.to_string(),
        Stop::Exhausted(_) => "exhausted".to_owned(),
        Stop::Error(_) => "error".to_owned(),
    }
}

/// Pairs two engines' exports by name (engines list exports in different
/// orders).
fn paired<'a, T>(
    a: &'a mut [(String, T)],
    b: &'a mut [(String, T)],
) -> impl Iterator<Item = (&'a String, &'a T, &'a T)> {
    a.sort_by(|x, y| x.0.cmp(&y.0));
    b.sort_by(|x, y| x.0.cmp(&y.0));
    a.iter().zip(b.iter()).filter(|(x, y)| x.0 == y.0).map(|(x, y)| (&x.0, &x.1, &y.1))
}

fn compare_state(ia: &mut dyn Instance, ib: &mut dyn Instance, a: &str, b: &str) -> Result<(), Finding> {
    if let (Some(mut ga), Some(mut gb)) = (ia.globals(), ib.globals())
        && let Some((name, x, y)) = paired(&mut ga, &mut gb).find(|(_, x, y)| x != y)
    {
        return Err(Finding::new(
            format!("global-mismatch:{}", x.type_name()),
            format!("global {name}: {a} has {x:?}, {b} has {y:?}"),
        ));
    }
    if let (Some(mut ma), Some(mut mb)) = (ia.memories(), ib.memories())
        && let Some((name, x, y)) = paired(&mut ma, &mut mb).find(|(_, x, y)| x != y)
    {
        let first = x.iter().zip(y).position(|(p, q)| p != q);
        return Err(Finding::new(
            "memory-mismatch",
            format!("memory {name}: {a} has {} bytes, {b} {}; first difference at {first:?}", x.len(), y.len()),
        ));
    }
    Ok(())
}

/// Arguments for a call, drawn from `u` (zeros once it runs dry, so a
/// shrunk input still calls every export).
pub fn arguments(params: &[ParamType], u: &mut Unstructured<'_>) -> Vec<Value> {
    params
        .iter()
        .map(|p| match p {
            ParamType::I32 => Value::I32(u.arbitrary().unwrap_or_default()),
            ParamType::I64 => Value::I64(u.arbitrary().unwrap_or_default()),
            ParamType::F32 => Value::F32(u.arbitrary().unwrap_or_default()),
            ParamType::F64 => Value::F64(u.arbitrary().unwrap_or_default()),
            ParamType::V128 => Value::V128(u.arbitrary().unwrap_or_default()),
            ParamType::NullableRef => Value::Ref(true),
        })
        .collect()
}

/// Every feature the generator can switch on, for the validation oracle.
fn features() -> WasmFeatures {
    WasmFeatures::all()
}

/// Validation oracle: the generated module compiles and instantiates in
/// `engine` and its exports run. When the engine rejects the module,
/// wasmparser (every feature on) decides whose fault it is: an invalid
/// module is a generator bug, a valid one an engine bug. (An accepted module
/// was validated by the engine itself, so it is not validated twice.)
/// Panics are caught by the campaign, so "runs" includes "does not panic".
pub fn validation(engine: &dyn Engine, wasm: &[u8], u: &mut Unstructured<'_>) -> Result<u64, Finding> {
    let mut instance = match engine.instantiate(wasm) {
        Ok(i) => i,
        Err(Stop::Error(message)) => {
            if let Err(e) = Validator::new_with_features(features()).validate_all(wasm) {
                return Err(Finding::new(
                    "generated-module-invalid",
                    format!("wasmparser rejects the generated module: {e}"),
                ));
            }
            return Err(Finding::new(
                "valid-module-rejected",
                format!("{} rejects a valid module: {message}", engine.name()),
            ));
        }
        Err(_) => return Ok(0),
    };
    let mut calls = 0;
    for (name, params) in instance.funcs() {
        let args = arguments(&params, u);
        calls += 1;
        match instance.call(&name, &args) {
            Ok(_) => {}
            Err(Stop::Error(message)) => {
                return Err(Finding::new(
                    "call-error",
                    format!("{name}: {} failed outside a trap: {message}", engine.name()),
                ));
            }
            // The instance may be left mid-update after a trap; later calls
            // would only test that.
            Err(_) => break,
        }
    }
    Ok(calls)
}
