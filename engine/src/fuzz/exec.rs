//! The engines an oracle compares, behind one small interface: instantiate
//! a module, call an export, read exported globals and memories. wasmtime
//! (either compiler, core modules or components) and wasmi implement it; a
//! test wraps one in a deliberately wrong engine to prove the oracle bites.

use std::fmt;

use wasmtime::{Store, StoreLimits, StoreLimitsBuilder, Trap, Val, ValType};

/// A value crossing the engine boundary. Floats are kept as bits; references
/// only by whether they are null, which is all two engines can agree on.
#[derive(Debug, Clone, Copy)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32` bits.
    F32(u32),
    /// `f64` bits.
    F64(u64),
    /// `v128`.
    V128(u128),
    /// A reference; `true` when null.
    Ref(bool),
}

impl Value {
    /// The value's type name, used in crash signatures.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::I32(_) => "i32",
            Value::I64(_) => "i64",
            Value::F32(_) => "f32",
            Value::F64(_) => "f64",
            Value::V128(_) => "v128",
            Value::Ref(_) => "ref",
        }
    }
}

impl PartialEq for Value {
    /// Bitwise, except that any two NaNs of the same width are equal: NaN
    /// payloads are nondeterministic in the spec; and that on a big-endian
    /// host a v128 equal to the other with its bytes reversed is equal.
    /// wasmi 2.0's `V128` builds from a `u128` in little-endian byte order
    /// (`From<u128>`) but reads one back in the host's (`as_u128`), so on
    /// s390x some of its v128 values come back byte-reversed (measured:
    /// every s390x global mismatch was an exact byte reversal); an engine
    /// bug that reverses exactly the bytes of a v128 is not what this
    /// oracle can tell apart from that, so it is not a finding.
    fn eq(&self, other: &Value) -> bool {
        match (*self, *other) {
            (Value::I32(a), Value::I32(b)) => a == b,
            (Value::I64(a), Value::I64(b)) => a == b,
            (Value::F32(a), Value::F32(b)) => a == b || (f32::from_bits(a).is_nan() && f32::from_bits(b).is_nan()),
            (Value::F64(a), Value::F64(b)) => a == b || (f64::from_bits(a).is_nan() && f64::from_bits(b).is_nan()),
            (Value::V128(a), Value::V128(b)) => a == b || (cfg!(target_endian = "big") && a.swap_bytes() == b),
            (Value::Ref(a), Value::Ref(b)) => a == b,
            _ => false,
        }
    }
}

/// The parameter and result types of an export, as far as calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `v128`.
    V128,
    /// A nullable reference: passed as null.
    NullableRef,
}

/// Why a call or an instantiation did not return values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A trap, by kind.
    Trap(TrapKind),
    /// Resources ran out (stack, fuel, host limits): the engines may
    /// legitimately differ from here on, so comparison ends.
    Exhausted(String),
    /// Any other error, with its message.
    Error(String),
}

/// Trap kinds both engines name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// `unreachable` (also how generated fuel exhaustion ends).
    Unreachable,
    /// Out-of-bounds memory access.
    MemoryOutOfBounds,
    /// Out-of-bounds table access.
    TableOutOfBounds,
    /// Indirect call to null.
    IndirectCallToNull,
    /// Indirect call signature mismatch.
    BadSignature,
    /// Integer division by zero.
    DivisionByZero,
    /// Integer overflow.
    IntegerOverflow,
    /// Float to int conversion of NaN or out of range.
    BadConversion,
    /// Null reference dereferenced.
    NullReference,
    /// Array index out of bounds.
    ArrayOutOfBounds,
    /// Failed cast.
    CastFailure,
    /// A trap neither side names the same way.
    Other,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The result of one call.
pub type CallResult = Result<Vec<Value>, Stop>;

/// An engine that can instantiate modules.
pub trait Engine {
    /// The engine's name in reports, e.g. `wasmtime-cranelift`.
    fn name(&self) -> &str;
    /// Instantiates `wasm` with no imports, running its start function.
    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn Instance>, Stop>;
    /// Compiles what [`Engine::instantiate`] would compile for `wasm` into
    /// `artifacts`, for a run on another machine; engines that compile
    /// nothing ahead (an interpreter) store nothing.
    fn precompile(&self, wasm: &[u8], artifacts: &crate::precompiled::Artifacts) -> Result<(), String> {
        let _ = (wasm, artifacts);
        Ok(())
    }
}

/// An instance under comparison.
pub trait Instance {
    /// Exported functions that can be called, with their parameter types, in
    /// export order.
    fn funcs(&mut self) -> Vec<(String, Vec<ParamType>)>;
    /// Calls an export.
    fn call(&mut self, name: &str, args: &[Value]) -> CallResult;
    /// Exported globals' values, in export order; `None` when this kind of
    /// instance has none to show.
    fn globals(&mut self) -> Option<Vec<(String, Value)>>;
    /// Exported (unshared) memories' contents, in export order.
    fn memories(&mut self) -> Option<Vec<(String, Vec<u8>)>>;
    /// Whether calls may continue after a trap (a component instance that
    /// trapped may not be entered again).
    fn reusable_after_trap(&self) -> bool {
        true
    }
}

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

/// Fuel per instantiation and per call, in both engines: generous for
/// generated code (which limits its own loops), a stop for shrunk code that
/// lost those limits.
pub(crate) const FUEL: u64 = 2_000_000;

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

/// wasmi, the independent implementation.
#[derive(Debug)]
pub struct Wasmi {
    engine: wasmi::Engine,
}

impl Default for Wasmi {
    fn default() -> Self {
        Wasmi::new()
    }
}

impl Wasmi {
    /// wasmi with every proposal it implements switched on.
    pub fn new() -> Wasmi {
        let mut c = wasmi::Config::default();
        c.wasm_multi_memory(true)
            .wasm_memory64(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(true)
            .wasm_tail_call(true)
            .wasm_extended_const(true)
            .consume_fuel(true);
        Wasmi { engine: wasmi::Engine::new(&c) }
    }
}

impl Engine for Wasmi {
    fn name(&self) -> &str {
        "wasmi"
    }

    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn Instance>, Stop> {
        let module = wasmi::Module::new(&self.engine, wasm).map_err(|e| Stop::Error(e.to_string()))?;
        let mut store = wasmi::Store::new(&self.engine, ());
        store.set_fuel(FUEL).map_err(|e| Stop::Error(e.to_string()))?;
        let linker = wasmi::Linker::<()>::new(&self.engine);
        let instance = linker.instantiate_and_start(&mut store, &module).map_err(|e| wasmi_stop(&e))?;
        Ok(Box::new(WasmiInstance { store, instance }))
    }
}

struct WasmiInstance {
    store: wasmi::Store<()>,
    instance: wasmi::Instance,
}

fn wasmi_stop(e: &wasmi::Error) -> Stop {
    use wasmi::TrapCode as C;
    let Some(code) = e.as_trap_code() else {
        let message = e.to_string();
        if message.contains("limit") || message.contains("out of") || message.contains("resource") {
            return Stop::Exhausted(message);
        }
        return Stop::Error(message);
    };
    let kind = match code {
        C::StackOverflow | C::OutOfFuel | C::GrowthOperationLimited => return Stop::Exhausted(code.to_string()),
        C::UnreachableCodeReached => TrapKind::Unreachable,
        C::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        C::TableOutOfBounds => TrapKind::TableOutOfBounds,
        C::IndirectCallToNull => TrapKind::IndirectCallToNull,
        C::BadSignature => TrapKind::BadSignature,
        C::IntegerDivisionByZero => TrapKind::DivisionByZero,
        C::IntegerOverflow => TrapKind::IntegerOverflow,
        C::BadConversionToInteger => TrapKind::BadConversion,
        #[allow(unreachable_patterns, reason = "wasmi may name more trap codes than this mapping")]
        _ => TrapKind::Other,
    };
    Stop::Trap(kind)
}

fn wasmi_param(t: &wasmi::ValType) -> Option<ParamType> {
    Some(match t {
        wasmi::ValType::I32 => ParamType::I32,
        wasmi::ValType::I64 => ParamType::I64,
        wasmi::ValType::F32 => ParamType::F32,
        wasmi::ValType::F64 => ParamType::F64,
        wasmi::ValType::V128 => ParamType::V128,
        wasmi::ValType::FuncRef | wasmi::ValType::ExternRef => ParamType::NullableRef,
    })
}

fn to_wasmi(v: &Value, ty: &wasmi::ValType) -> wasmi::Val {
    match *v {
        Value::I32(x) => wasmi::Val::I32(x),
        Value::I64(x) => wasmi::Val::I64(x),
        Value::F32(x) => wasmi::Val::F32(wasmi::F32::from_bits(x)),
        Value::F64(x) => wasmi::Val::F64(wasmi::F64::from_bits(x)),
        Value::V128(x) => wasmi::Val::V128(x.into()),
        Value::Ref(_) => wasmi::Val::default_for_ty(*ty),
    }
}

fn from_wasmi(v: &wasmi::Val) -> Value {
    match v {
        wasmi::Val::I32(x) => Value::I32(*x),
        wasmi::Val::I64(x) => Value::I64(*x),
        wasmi::Val::F32(x) => Value::F32(x.to_bits()),
        wasmi::Val::F64(x) => Value::F64(x.to_bits()),
        wasmi::Val::V128(x) => Value::V128(x.as_u128()),
        wasmi::Val::FuncRef(r) => Value::Ref(r.is_null()),
        wasmi::Val::ExternRef(r) => Value::Ref(r.is_null()),
    }
}

impl WasmiInstance {
    /// The instance's exports by name, in export order.
    fn exports(&self) -> Vec<(String, wasmi::Extern)> {
        self.instance.exports(&self.store).map(|e| (e.name().to_owned(), e.into_extern())).collect()
    }
}

impl Instance for WasmiInstance {
    fn funcs(&mut self) -> Vec<(String, Vec<ParamType>)> {
        let exports = self.exports();
        exports
            .into_iter()
            .filter_map(|(name, ext)| {
                let ty = ext.into_func()?.ty(&self.store);
                let params: Option<Vec<ParamType>> = ty.params().iter().map(wasmi_param).collect();
                Some((name, params?))
            })
            .collect()
    }

    fn call(&mut self, name: &str, args: &[Value]) -> CallResult {
        let func = self.instance.get_func(&self.store, name).ok_or_else(|| Stop::Error(format!("no export {name}")))?;
        let ty = func.ty(&self.store);
        let params: Vec<wasmi::Val> = args.iter().zip(ty.params()).map(|(v, t)| to_wasmi(v, t)).collect();
        let mut results: Vec<wasmi::Val> = ty.results().iter().map(|t| wasmi::Val::default_for_ty(*t)).collect();
        self.store.set_fuel(FUEL).map_err(|e| Stop::Error(e.to_string()))?;
        func.call(&mut self.store, &params, &mut results).map_err(|e| wasmi_stop(&e))?;
        Ok(results.iter().map(from_wasmi).collect())
    }

    fn globals(&mut self) -> Option<Vec<(String, Value)>> {
        let exports = self.exports();
        Some(
            exports
                .into_iter()
                .filter_map(|(name, ext)| Some((name, from_wasmi(&ext.into_global()?.get(&self.store)))))
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

#[cfg(test)]
mod byte_order {
    use super::*;

    /// A byte-reversed v128 is the reference's host byte order only on a
    /// big-endian host (`scripts/cross test` runs this on s390x); anywhere
    /// else it is a different value.
    #[test]
    fn a_byte_reversed_v128_is_equal_only_on_a_big_endian_host() {
        let x: u128 = 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100;
        assert_eq!(Value::V128(x), Value::V128(x));
        assert_eq!(Value::V128(x) == Value::V128(x.swap_bytes()), cfg!(target_endian = "big"));
        assert_ne!(Value::V128(x), Value::V128(x + 1));
    }
}
