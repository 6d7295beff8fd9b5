//! wasmtime, with either compiler, as an engine the oracles compare.

use std::fmt;

use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, Trap, Val, ValType};

use super::{CallResult, Engine, FUEL, Instance, ParamType, Stop, TrapKind, Value};

/// wasmtime running core modules.
pub struct Wasmtime {
    name: String,
    engine: wasmtime::Engine,
    artifacts: Option<std::sync::Arc<crate::precompiled::Artifacts>>,
}

impl fmt::Debug for Wasmtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wasmtime").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Wasmtime {
    /// wasmtime with `profile`'s engine.
    pub fn new(profile: &crate::Profile) -> Wasmtime {
        Wasmtime {
            name: format!("wasmtime-{}", profile.compiler),
            engine: profile.engine.clone(),
            artifacts: profile.options.artifacts.clone(),
        }
    }

    /// The underlying engine.
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }
}

/// Host limits: generated modules declare bounded memories and tables, so
/// these only catch what slipped through, and count as exhaustion.
pub(crate) fn limits() -> StoreLimits {
    StoreLimitsBuilder::new().memory_size(64 << 20).table_elements(100_000).instances(100).build()
}

impl Engine for Wasmtime {
    fn name(&self) -> &str {
        &self.name
    }

    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn Instance>, Stop> {
        let module = crate::precompiled::module(self.artifacts.as_deref(), &self.engine, wasm)
            .map_err(|e| Stop::Error(format!("{e:#}")))?;
        let mut store = Store::new(&self.engine, limits());
        store.limiter(|l| l);
        // Errors only when the engine does not count fuel; then nothing to set.
        let _ = store.set_fuel(FUEL);
        let instance = wasmtime::Instance::new(&mut store, &module, &[]).map_err(|e| wasmtime_stop(&e))?;
        Ok(Box::new(WasmtimeInstance { store, instance }))
    }

    fn precompile(&self, wasm: &[u8], artifacts: &crate::precompiled::Artifacts) -> Result<(), String> {
        artifacts.save(&self.engine, wasm).map(|_| ())
    }
}

struct WasmtimeInstance {
    store: Store<StoreLimits>,
    instance: wasmtime::Instance,
}

/// Classifies a wasmtime error.
pub(crate) fn wasmtime_stop(e: &wasmtime::Error) -> Stop {
    let Some(trap) = e.downcast_ref::<Trap>() else {
        let message = format!("{e:#}");
        if message.contains("limit") || message.contains("exceed") || message.contains("resource") {
            return Stop::Exhausted(message);
        }
        return Stop::Error(message);
    };
    let kind = match trap {
        Trap::StackOverflow | Trap::OutOfFuel | Trap::AllocationTooLarge => {
            return Stop::Exhausted(trap.to_string());
        }
        Trap::UnreachableCodeReached => TrapKind::Unreachable,
        Trap::MemoryOutOfBounds | Trap::HeapMisaligned => TrapKind::MemoryOutOfBounds,
        Trap::TableOutOfBounds => TrapKind::TableOutOfBounds,
        Trap::IndirectCallToNull => TrapKind::IndirectCallToNull,
        Trap::BadSignature => TrapKind::BadSignature,
        Trap::IntegerDivisionByZero => TrapKind::DivisionByZero,
        Trap::IntegerOverflow => TrapKind::IntegerOverflow,
        Trap::BadConversionToInteger => TrapKind::BadConversion,
        Trap::NullReference => TrapKind::NullReference,
        Trap::ArrayOutOfBounds => TrapKind::ArrayOutOfBounds,
        Trap::CastFailure => TrapKind::CastFailure,
        _ => TrapKind::Other,
    };
    Stop::Trap(kind)
}

fn param_type(t: &ValType) -> Option<ParamType> {
    Some(match t {
        ValType::I32 => ParamType::I32,
        ValType::I64 => ParamType::I64,
        ValType::F32 => ParamType::F32,
        ValType::F64 => ParamType::F64,
        ValType::V128 => ParamType::V128,
        ValType::Ref(r) if r.is_nullable() => ParamType::NullableRef,
        ValType::Ref(_) => return None,
    })
}

fn to_wasmtime(v: &Value, ty: &ValType) -> Val {
    match (*v, ty) {
        (Value::I32(x), _) => Val::I32(x),
        (Value::I64(x), _) => Val::I64(x),
        (Value::F32(x), _) => Val::F32(x),
        (Value::F64(x), _) => Val::F64(x),
        (Value::V128(x), _) => Val::V128(x.into()),
        (Value::Ref(_), ValType::Ref(r)) => Val::null_ref(r.heap_type()),
        (Value::Ref(_), _) => Val::null_func_ref(),
    }
}

fn from_wasmtime(v: &Val) -> Value {
    match v {
        Val::I32(x) => Value::I32(*x),
        Val::I64(x) => Value::I64(*x),
        Val::F32(x) => Value::F32(*x),
        Val::F64(x) => Value::F64(*x),
        Val::V128(x) => Value::V128(x.as_u128()),
        Val::FuncRef(r) => Value::Ref(r.is_none()),
        Val::ExternRef(r) => Value::Ref(r.is_none()),
        Val::AnyRef(r) => Value::Ref(r.is_none()),
        Val::ExnRef(r) => Value::Ref(r.is_none()),
        Val::ContRef(r) => Value::Ref(r.is_none()),
    }
}

impl WasmtimeInstance {
    /// The instance's exports by name, in export order.
    fn exports(&mut self) -> Vec<(String, wasmtime::Extern)> {
        self.instance.exports(&mut self.store).map(|e| (e.name().to_owned(), e.into_extern())).collect()
    }
}

impl Instance for WasmtimeInstance {
    fn funcs(&mut self) -> Vec<(String, Vec<ParamType>)> {
        let exports = self.exports();
        exports
            .into_iter()
            .filter_map(|(name, ext)| {
                let ty = ext.into_func()?.ty(&self.store);
                let params: Option<Vec<ParamType>> = ty.params().map(|p| param_type(&p)).collect();
                Some((name, params?))
            })
            .collect()
    }

    fn call(&mut self, name: &str, args: &[Value]) -> CallResult {
        let func =
            self.instance.get_func(&mut self.store, name).ok_or_else(|| Stop::Error(format!("no export {name}")))?;
        let ty = func.ty(&self.store);
        let params: Vec<Val> = args.iter().zip(ty.params()).map(|(v, t)| to_wasmtime(v, &t)).collect();
        let mut results: Vec<Val> = ty.results().map(|_| Val::I32(0)).collect();
        let _ = self.store.set_fuel(FUEL);
        func.call(&mut self.store, &params, &mut results).map_err(|e| wasmtime_stop(&e))?;
        Ok(results.iter().map(from_wasmtime).collect())
    }

    fn globals(&mut self) -> Option<Vec<(String, Value)>> {
        let exports = self.exports();
        Some(
            exports
                .into_iter()
                .filter_map(|(name, ext)| Some((name, from_wasmtime(&ext.into_global()?.get(&mut self.store)))))
                .collect(),
        )
    }

    fn memories(&mut self) -> Option<Vec<(String, Vec<u8>)>> {
        let exports = self.exports();
        Some(
            exports
                .into_iter()
                .filter_map(|(name, ext)| Some((name, ext.into_memory()?.data(&self.store).to_vec())))
                .collect(),
        )
    }
}
