//! wasmi, the independent interpreter the differential oracle compares
//! wasmtime against.

use super::{CallResult, Engine, FUEL, Instance, ParamType, Stop, TrapKind, Value};

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
