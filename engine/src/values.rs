//! Script constants to wasmtime values, and wasmtime results against the
//! script's expectations (NaN patterns, v128 lanes, reference kinds).

use json_from_wast::{AnyRef as AnyC, CoreConst, ExternRef as ExternC, FloatConst, FuncRef as FuncC, V128};
use wasmtime::{AnyRef, ExternRef, Store, Val};

/// A script argument as a wasmtime value.
pub fn arg(store: &mut Store<()>, c: &CoreConst) -> wasmtime::Result<Val> {
    Ok(match c {
        CoreConst::I32 { value } => Val::I32(value.0),
        CoreConst::I64 { value } => Val::I64(value.0),
        CoreConst::F32 { value } => Val::F32(value.to_bits()),
        CoreConst::F64 { value } => Val::F64(value.to_bits()),
        CoreConst::V128(v) => Val::V128(v.to_u128().into()),
        CoreConst::FuncRef { value: None | Some(FuncC::Null) } | CoreConst::NullFuncRef => Val::FuncRef(None),
        CoreConst::ExternRef { value: None | Some(ExternC::Null) } | CoreConst::NullExternRef => Val::ExternRef(None),
        CoreConst::ExternRef { value: Some(ExternC::Host(n)) } => {
            Val::ExternRef(Some(ExternRef::new(&mut *store, n.0)?))
        }
        CoreConst::AnyRef { value: None | Some(AnyC::Null) } | CoreConst::NullRef => Val::AnyRef(None),
        CoreConst::AnyRef { value: Some(AnyC::Host(n)) } => {
            let e = ExternRef::new(&mut *store, n.0)?;
            Val::AnyRef(Some(AnyRef::convert_extern(&mut *store, e)?))
        }
        CoreConst::ExnRef { value: None } | CoreConst::NullExnRef => Val::ExnRef(None),
        other => wasmtime::bail!("unsupported argument {other:?}"),
    })
}

fn f32_matches(bits: u32, want: &FloatConst<f32>) -> bool {
    let nan = (bits & 0x7f80_0000) == 0x7f80_0000 && (bits & 0x007f_ffff) != 0;
    match want {
        FloatConst::CanonicalNan => (bits & 0x7fff_ffff) == 0x7fc0_0000,
        FloatConst::ArithmeticNan => nan && (bits & 0x0040_0000) != 0,
        FloatConst::Value(v) => bits == v.to_bits(),
    }
}

fn f64_matches(bits: u64, want: &FloatConst<f64>) -> bool {
    let nan = (bits & 0x7ff0_0000_0000_0000) == 0x7ff0_0000_0000_0000 && (bits & 0x000f_ffff_ffff_ffff) != 0;
    match want {
        FloatConst::CanonicalNan => (bits & 0x7fff_ffff_ffff_ffff) == 0x7ff8_0000_0000_0000,
        FloatConst::ArithmeticNan => nan && (bits & 0x0008_0000_0000_0000) != 0,
        FloatConst::Value(v) => bits == v.to_bits(),
    }
}

fn v128_matches(actual: u128, want: &V128) -> bool {
    let b = actual.to_le_bytes();
    let lane32 = |i: usize| u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
    let lane64 = |i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().unwrap_or_default());
    match want {
        V128::F32 { value } => value.iter().enumerate().all(|(i, w)| f32_matches(lane32(i), w)),
        V128::F64 { value } => value.iter().enumerate().all(|(i, w)| f64_matches(lane64(i), w)),
        other => actual == other.to_u128(),
    }
}

/// The host number an externref (or an anyref wrapping one) carries.
fn host_number(store: &mut Store<()>, e: &ExternRef) -> Option<u32> {
    e.data(&*store).ok().flatten().and_then(|d| d.downcast_ref::<u32>().copied())
}

/// Whether `actual` is what `want` describes.
pub fn matches(store: &mut Store<()>, actual: &Val, want: &CoreConst) -> bool {
    match (actual, want) {
        (_, CoreConst::Either { values }) => values.iter().any(|w| matches(store, actual, w)),
        (Val::I32(a), CoreConst::I32 { value }) => *a == value.0,
        (Val::I64(a), CoreConst::I64 { value }) => *a == value.0,
        (Val::F32(a), CoreConst::F32 { value }) => f32_matches(*a, value),
        (Val::F64(a), CoreConst::F64 { value }) => f64_matches(*a, value),
        (Val::V128(a), CoreConst::V128(v)) => v128_matches(a.as_u128(), v),
        // An expectation without a value (`(ref.func)`, `(ref.extern)`)
        // accepts any reference of that kind.
        (Val::FuncRef(_), CoreConst::FuncRef { value: None })
        | (Val::ExternRef(_), CoreConst::ExternRef { value: None })
        | (Val::AnyRef(_), CoreConst::AnyRef { value: None })
        | (Val::ExnRef(_), CoreConst::ExnRef { value: None }) => true,
        (Val::FuncRef(f), CoreConst::FuncRef { value: Some(v) }) => match v {
            FuncC::Null => f.is_none(),
            FuncC::Index(_) => f.is_some(),
        },
        (Val::FuncRef(f), CoreConst::NullFuncRef) => f.is_none(),
        (Val::ExternRef(e), CoreConst::ExternRef { value }) => match (e, value) {
            (None, Some(ExternC::Null)) => true,
            (Some(e), Some(ExternC::Host(n))) => host_number(store, e) == Some(n.0),
            _ => false,
        },
        (Val::ExternRef(e), CoreConst::NullExternRef) => e.is_none(),
        (Val::AnyRef(a), CoreConst::AnyRef { value }) => match (a, value) {
            (None, Some(AnyC::Null)) => true,
            (Some(a), Some(AnyC::Host(n))) => {
                ExternRef::convert_any(&mut *store, *a).ok().is_some_and(|e| host_number(store, &e) == Some(n.0))
            }
            _ => false,
        },
        (Val::AnyRef(a), CoreConst::NullRef) => a.is_none(),
        (Val::AnyRef(Some(a)), CoreConst::EqRef) => a.is_eqref(&*store).unwrap_or(false),
        (Val::AnyRef(Some(a)), CoreConst::I31Ref) => a.is_i31(&*store).unwrap_or(false),
        (Val::AnyRef(Some(a)), CoreConst::StructRef) => a.is_struct(&*store).unwrap_or(false),
        (Val::AnyRef(Some(a)), CoreConst::ArrayRef) => a.is_array(&*store).unwrap_or(false),
        (Val::ExnRef(e), CoreConst::ExnRef { value: Some(_) } | CoreConst::NullExnRef) => e.is_none(),
        (v, CoreConst::RefNull) => match v {
            Val::FuncRef(f) => f.is_none(),
            Val::ExternRef(e) => e.is_none(),
            Val::AnyRef(a) => a.is_none(),
            Val::ExnRef(e) => e.is_none(),
            Val::ContRef(c) => c.is_none(),
            _ => false,
        },
        _ => false,
    }
}

/// A component-model script constant as a component value.
pub fn component_val(c: &json_from_wast::ComponentConst<'_>) -> wasmtime::component::Val {
    use json_from_wast::ComponentConst as C;
    use wasmtime::component::Val as V;
    let boxed = |o: &Option<Box<C<'_>>>| o.as_ref().map(|b| Box::new(component_val(b)));
    match c {
        C::String(s) => V::String(s.to_string()),
        C::Char(c) => V::Char(*c),
        C::Bool(b) => V::Bool(*b),
        C::U8(v) => V::U8(v.0),
        C::S8(v) => V::S8(v.0),
        C::U16(v) => V::U16(v.0),
        C::S16(v) => V::S16(v.0),
        C::U32(v) => V::U32(v.0),
        C::S32(v) => V::S32(v.0),
        C::U64(v) => V::U64(v.0),
        C::S64(v) => V::S64(v.0),
        C::F32(v) => V::Float32(f32::from_bits(v.0)),
        C::F64(v) => V::Float64(f64::from_bits(v.0)),
        C::List(items) => V::List(items.iter().map(component_val).collect()),
        C::Record(fields) => V::Record(fields.iter().map(|(n, v)| (n.to_string(), component_val(v))).collect()),
        C::Tuple(items) => V::Tuple(items.iter().map(component_val).collect()),
        C::Variant { case, payload } => V::Variant(case.to_string(), boxed(payload)),
        C::Enum(e) => V::Enum(e.to_string()),
        C::Option(o) => V::Option(boxed(o)),
        C::Result(r) => V::Result(match r {
            Ok(v) => Ok(boxed(v)),
            Err(e) => Err(boxed(e)),
        }),
        C::Flags(f) => V::Flags(f.iter().map(|s| s.to_string()).collect()),
    }
}
