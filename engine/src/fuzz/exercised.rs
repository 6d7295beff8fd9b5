//! Which proposals a generated module actually exercises, counted with
//! wasmparser: operators by the proposal that introduced them, plus the
//! proposals that show in types rather than operators (multi-value,
//! mutable globals, memory64, multi-memory). Keys are policy feature ids.

use std::collections::BTreeMap;

use wasmparser::{CompositeInnerType, ExternalKind, Operator, Parser, Payload, TypeRef};

macro_rules! define_proposal_of {
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// The proposal that introduced an operator, by wasmparser's name.
        fn proposal_of(op: &Operator<'_>) -> &'static str {
            match op {
                $( Operator::$op { .. } => stringify!($proposal), )*
                _ => "unknown",
            }
        }
    };
}
wasmparser::for_each_operator!(define_proposal_of);

/// wasmparser's proposal names mapped to policy feature ids.
fn feature_id(proposal: &str) -> Option<&'static str> {
    Some(match proposal {
        "sign_extension" => "sign-extension-ops",
        "saturating_float_to_int" => "nontrapping-float-to-int-conversion",
        "bulk_memory" => "bulk-memory",
        "reference_types" => "reference-types",
        "simd" => "simd",
        "relaxed_simd" => "relaxed-simd",
        "threads" => "threads",
        "tail_call" => "tail-call",
        "function_references" => "function-references",
        "gc" => "gc",
        "exceptions" | "legacy_exceptions" => "exceptions",
        "wide_arithmetic" => "wide-arithmetic",
        _ => return None,
    })
}

/// Per-feature counts for one module (a module that does not parse counts
/// nothing).
pub fn count(wasm: &[u8]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let _ = count_into(wasm, &mut counts);
    counts
}

fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    *counts.entry(key.to_owned()).or_insert(0) += 1;
}

fn count_into(wasm: &[u8], counts: &mut BTreeMap<String, u64>) -> wasmparser::Result<()> {
    let mut memory64: Vec<bool> = Vec::new();
    let mut mutable_globals: Vec<bool> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload? {
            Payload::TypeSection(r) => {
                for group in r {
                    for ty in group?.types() {
                        if let CompositeInnerType::Func(f) = &ty.composite_type.inner
                            && f.results().len() > 1
                        {
                            bump(counts, "multi-value");
                        }
                    }
                }
            }
            Payload::ImportSection(r) => {
                for import in r.into_imports() {
                    match import?.ty {
                        TypeRef::Memory(m) => memory64.push(m.memory64),
                        TypeRef::Global(g) => mutable_globals.push(g.mutable),
                        _ => {}
                    }
                }
            }
            Payload::MemorySection(r) => {
                for m in r {
                    memory64.push(m?.memory64);
                }
            }
            Payload::GlobalSection(r) => {
                for g in r {
                    mutable_globals.push(g?.ty.mutable);
                }
            }
            Payload::ExportSection(r) => {
                for e in r {
                    let e = e?;
                    if e.kind == ExternalKind::Global && mutable_globals.get(e.index as usize).copied().unwrap_or(false)
                    {
                        bump(counts, "mutable-globals");
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut ops = body.get_operators_reader()?;
                while !ops.eof() {
                    count_operator(&ops.read()?, &memory64, counts);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn count_operator(op: &Operator<'_>, memory64: &[bool], counts: &mut BTreeMap<String, u64>) {
    if let Some(id) = feature_id(proposal_of(op)) {
        bump(counts, id);
    }
    if let Some(memory) = memory_index(op) {
        if memory != 0 {
            bump(counts, "multi-memory");
        }
        if memory64.get(memory as usize).copied().unwrap_or(false) {
            bump(counts, "memory64");
        }
    }
    if let Operator::Block { blockty } | Operator::Loop { blockty } | Operator::If { blockty } = op
        && matches!(blockty, wasmparser::BlockType::FuncType(_))
    {
        bump(counts, "multi-value");
    }
}

/// The memory an operator addresses, if it addresses one.
fn memory_index(op: &Operator<'_>) -> Option<u32> {
    match op {
        Operator::MemorySize { mem } | Operator::MemoryGrow { mem } | Operator::MemoryFill { mem } => Some(*mem),
        Operator::MemoryInit { mem, .. } => Some(*mem),
        Operator::MemoryCopy { dst_mem, .. } => Some(*dst_mem),
        _ => memarg(op).map(|m| m.memory),
    }
}

macro_rules! define_memarg_of {
    (@get $x:ident $op:ident { memarg $($rest:ident)* }) => {
        if let Operator::$op { memarg, .. } = $x {
            return Some(memarg);
        }
    };
    (@get $x:ident $op:ident $($rest:tt)*) => {};
    ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
        /// The memory argument of a load, store or atomic, if any.
        fn memarg<'a>(op: &'a Operator<'_>) -> Option<&'a wasmparser::MemArg> {
            $( define_memarg_of!(@get op $op $({ $($arg)* })?); )*
            None
        }
    };
}
wasmparser::for_each_operator!(define_memarg_of);

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(wat: &str) -> BTreeMap<String, u64> {
        count(&wat::parse_str(wat).expect("test module parses"))
    }

    #[test]
    fn operators_count_under_their_proposal() {
        let c = counts(
            r#"(module
                (memory 1) (memory i64 1)
                (global $g (export "g") (mut i32) (i32.const 0))
                (func (result i32 i32)
                    i32.const 1 i32.extend8_s
                    f32.const 1 i32.trunc_sat_f32_s
                    v128.const i64x2 0 0 i8x16.popcnt drop
                    i64.const 0 i32.load 1
                    drop)
            )"#,
        );
        assert_eq!(c.get("sign-extension-ops"), Some(&1));
        assert_eq!(c.get("nontrapping-float-to-int-conversion"), Some(&1));
        assert_eq!(c.get("simd"), Some(&2));
        assert_eq!(c.get("multi-value"), Some(&1));
        assert_eq!(c.get("mutable-globals"), Some(&1));
        assert_eq!(c.get("multi-memory"), Some(&1));
        assert_eq!(c.get("memory64"), Some(&1));
        assert_eq!(c.get("threads"), None);
    }
}
