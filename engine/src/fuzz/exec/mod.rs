//! The engines an oracle compares, behind one small interface: instantiate
//! a module, call an export, read exported globals and memories. One file
//! per engine implements it: `wasmtime_engine` (either compiler; components
//! in `super::component`) and `wasmi_engine`; a test wraps one in a
//! deliberately wrong engine to prove the oracle bites.

mod wasmi_engine;
mod wasmtime_engine;

pub use wasmi_engine::Wasmi;
pub use wasmtime_engine::Wasmtime;
pub(crate) use wasmtime_engine::{limits, wasmtime_stop};

use std::fmt;

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

/// Fuel per instantiation and per call, in both engines: generous for
/// generated code (which limits its own loops), a stop for shrunk code that
/// lost those limits.
pub(crate) const FUEL: u64 = 2_000_000;

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
