//! The component-model campaign: a generated core module is wrapped in a
//! component that instantiates it and lifts every scalar export through the
//! canonical ABI. wasmtime runs the component; the independent engine runs
//! the bare core module; a difference is a lifting (or compiler) bug.

use wasm_encoder::{ComponentBuilder, ComponentExportKind, ExportKind, PrimitiveValType};
use wasmparser::{CompositeInnerType, ExternalKind, Parser, Payload, ValType};
use wasmtime::Store;
use wasmtime::component::{Linker, Val};

use super::exec::{CallResult, Engine, Instance, ParamType, Stop, Value, limits, wasmtime_stop};

/// A core export the wrapper lifts: its name and flat signature.
#[derive(Debug, Clone, PartialEq)]
struct Lifted {
    name: String,
    params: Vec<ValType>,
    result: Option<ValType>,
}

/// Exports of `wasm` whose signatures lift without memory: scalar
/// parameters and at most one scalar result.
fn liftable(wasm: &[u8]) -> wasmparser::Result<Vec<Lifted>> {
    let mut types: Vec<Option<(Vec<ValType>, Vec<ValType>)>> = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut lifted = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(r) => {
                for group in r {
                    for ty in group?.types() {
                        types.push(match &ty.composite_type.inner {
                            CompositeInnerType::Func(f) => Some((f.params().to_vec(), f.results().to_vec())),
                            _ => None,
                        });
                    }
                }
            }
            Payload::FunctionSection(r) => {
                for f in r {
                    funcs.push(f?);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e?;
                    if e.kind != ExternalKind::Func {
                        continue;
                    }
                    let ty = funcs.get(e.index as usize).and_then(|t| types.get(*t as usize)).cloned().flatten();
                    if let Some((params, results)) = ty
                        && params.iter().chain(&results).all(|t| scalar(*t).is_some())
                        && results.len() <= 1
                    {
                        lifted.push(Lifted { name: e.name.to_owned(), params, result: results.first().copied() });
                    }
                }
            }
            _ => {}
        }
    }
    Ok(lifted)
}

fn scalar(t: ValType) -> Option<PrimitiveValType> {
    Some(match t {
        ValType::I32 => PrimitiveValType::S32,
        ValType::I64 => PrimitiveValType::S64,
        ValType::F32 => PrimitiveValType::F32,
        ValType::F64 => PrimitiveValType::F64,
        _ => return None,
    })
}

/// The component wrapping `wasm`, lifting `lifted` as `f0`, `f1`, ….
fn wrap(wasm: &[u8], lifted: &[Lifted]) -> Vec<u8> {
    let mut b = ComponentBuilder::default();
    let module = b.core_module_raw(None, wasm);
    let instance = b.core_instantiate(None, module, []);
    for (i, f) in lifted.iter().enumerate() {
        let core = b.core_alias_export(None, instance, &f.name, ExportKind::Func);
        let names: Vec<String> = (0..f.params.len()).map(|p| format!("p{p}")).collect();
        let (ty, mut enc) = b.type_function(None);
        let types: Vec<PrimitiveValType> = f.params.iter().filter_map(|t| scalar(*t)).collect();
        enc.params(names.iter().map(|n| n.as_str()).zip(types));
        enc.result(f.result.and_then(scalar).map(Into::into));
        let func = b.lift_func(None, core, ty, []);
        b.export(format!("f{i}").as_str(), ComponentExportKind::Func, func, None);
    }
    b.finish()
}

/// wasmtime running core modules inside a lifting component.
pub struct WasmtimeComponent {
    name: String,
    engine: wasmtime::Engine,
    artifacts: Option<std::sync::Arc<crate::precompiled::Artifacts>>,
}

impl std::fmt::Debug for WasmtimeComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmtimeComponent").field("name", &self.name).finish_non_exhaustive()
    }
}

impl WasmtimeComponent {
    /// Components on `profile`'s engine.
    pub fn new(profile: &crate::Profile) -> WasmtimeComponent {
        WasmtimeComponent {
            name: format!("wasmtime-{}-component", profile.compiler),
            engine: profile.engine.clone(),
            artifacts: profile.options.artifacts.clone(),
        }
    }
}

impl Engine for WasmtimeComponent {
    fn name(&self) -> &str {
        &self.name
    }

    fn instantiate(&self, wasm: &[u8]) -> Result<Box<dyn Instance>, Stop> {
        let lifted = liftable(wasm).map_err(|e| Stop::Error(e.to_string()))?;
        let bytes = wrap(wasm, &lifted);
        let component = crate::precompiled::component(self.artifacts.as_deref(), &self.engine, &bytes)
            .map_err(|e| Stop::Error(format!("{e:#}")))?;
        let mut store = Store::new(&self.engine, limits());
        store.limiter(|l| l);
        let _ = store.set_fuel(super::exec::FUEL);
        let instance = Linker::new(&self.engine).instantiate(&mut store, &component).map_err(|e| wasmtime_stop(&e))?;
        Ok(Box::new(ComponentInstance { store, instance, lifted }))
    }

    fn precompile(&self, wasm: &[u8], artifacts: &crate::precompiled::Artifacts) -> Result<(), String> {
        // The same wrapping `instantiate` does; a module it cannot lift is
        // an error there too, with nothing compiled.
        let Ok(lifted) = liftable(wasm) else { return Ok(()) };
        artifacts.save(&self.engine, &wrap(wasm, &lifted)).map(|_| ())
    }
}

struct ComponentInstance {
    store: Store<wasmtime::StoreLimits>,
    instance: wasmtime::component::Instance,
    lifted: Vec<Lifted>,
}

fn param_type(t: &ValType) -> ParamType {
    match t {
        ValType::I64 => ParamType::I64,
        ValType::F32 => ParamType::F32,
        ValType::F64 => ParamType::F64,
        _ => ParamType::I32,
    }
}

fn to_val(v: &Value) -> Val {
    match *v {
        Value::I64(x) => Val::S64(x),
        Value::F32(x) => Val::Float32(f32::from_bits(x)),
        Value::F64(x) => Val::Float64(f64::from_bits(x)),
        Value::I32(x) => Val::S32(x),
        Value::V128(_) | Value::Ref(_) => Val::S32(0),
    }
}

fn from_val(v: &Val) -> Value {
    match v {
        Val::S64(x) => Value::I64(*x),
        Val::Float32(x) => Value::F32(x.to_bits()),
        Val::Float64(x) => Value::F64(x.to_bits()),
        Val::S32(x) => Value::I32(*x),
        _ => Value::Ref(true),
    }
}

impl Instance for ComponentInstance {
    fn funcs(&mut self) -> Vec<(String, Vec<ParamType>)> {
        self.lifted.iter().map(|f| (f.name.clone(), f.params.iter().map(param_type).collect())).collect()
    }

    fn call(&mut self, name: &str, args: &[Value]) -> CallResult {
        let index =
            self.lifted.iter().position(|f| f.name == name).ok_or_else(|| Stop::Error(format!("{name} not lifted")))?;
        let func = self
            .instance
            .get_func(&mut self.store, format!("f{index}").as_str())
            .ok_or_else(|| Stop::Error(format!("f{index} not exported")))?;
        let params: Vec<Val> = args.iter().map(to_val).collect();
        let mut results = vec![Val::S32(0); usize::from(self.lifted[index].result.is_some())];
        let _ = self.store.set_fuel(super::exec::FUEL);
        func.call(&mut self.store, &params, &mut results).map_err(|e| wasmtime_stop(&e))?;
        Ok(results.iter().map(from_val).collect())
    }

    fn globals(&mut self) -> Option<Vec<(String, Value)>> {
        None
    }

    fn memories(&mut self) -> Option<Vec<(String, Vec<u8>)>> {
        None
    }

    fn reusable_after_trap(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_exports_are_lifted_and_others_left_out() {
        let wasm = wat::parse_str(
            r#"(module
                (func (export "add") (param i32 i64) (result i64) local.get 1)
                (func (export "pair") (result i32 i32) i32.const 1 i32.const 2)
                (func (export "v") (param v128))
                (memory (export "m") 1))"#,
        )
        .expect("test module parses");
        let lifted = liftable(&wasm).expect("parses");
        assert_eq!(lifted.len(), 1);
        assert_eq!(lifted[0].name, "add");
        let component = wrap(&wasm, &lifted);
        wasmparser::Validator::new().validate_all(&component).expect("the wrapper is a valid component");
    }
}
