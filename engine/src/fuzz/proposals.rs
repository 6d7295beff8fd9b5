//! What each fuzzable proposal means to the generator and which oracle can
//! judge it. Proposal ids are the policy's feature ids, so a campaign's
//! `exercised` counts land on the feature that `fuzz: ["@self"]` selects.

use wasm_smith::Config;

/// A proposal the campaigns know how to generate.
#[derive(Debug, Clone, Copy)]
pub struct Proposal {
    /// The policy's feature id, e.g. `simd`.
    pub id: &'static str,
    /// Whether the independent implementation (wasmi) implements it, so the
    /// differential oracle can judge it.
    pub in_wasmi: bool,
    /// wasmtime's name for the proposal, to ask whether Winch supports it;
    /// `None` when it is always on.
    pub wasmtime_flag: Option<&'static str>,
    enable: fn(&mut Config),
}

/// Every proposal with a campaign, in the policy's order.
pub const PROPOSALS: &[Proposal] = &[
    Proposal { id: "mutable-globals", in_wasmi: true, wasmtime_flag: None, enable: |_| {} },
    Proposal {
        id: "sign-extension-ops",
        in_wasmi: true,
        wasmtime_flag: None,
        enable: |c| c.sign_extension_ops_enabled = true,
    },
    Proposal {
        id: "nontrapping-float-to-int-conversion",
        in_wasmi: true,
        wasmtime_flag: None,
        enable: |c| c.saturating_float_to_int_enabled = true,
    },
    Proposal { id: "multi-value", in_wasmi: true, wasmtime_flag: None, enable: |c| c.multi_value_enabled = true },
    Proposal { id: "bulk-memory", in_wasmi: true, wasmtime_flag: None, enable: |c| c.bulk_memory_enabled = true },
    Proposal {
        id: "reference-types",
        in_wasmi: true,
        wasmtime_flag: None,
        enable: |c| {
            c.bulk_memory_enabled = true;
            c.reference_types_enabled = true;
            c.max_tables = 4;
        },
    },
    Proposal { id: "simd", in_wasmi: true, wasmtime_flag: Some("wasm_simd"), enable: |c| c.simd_enabled = true },
    Proposal {
        id: "relaxed-simd",
        in_wasmi: true,
        wasmtime_flag: Some("wasm_relaxed_simd"),
        enable: |c| {
            c.simd_enabled = true;
            c.relaxed_simd_enabled = true;
        },
    },
    Proposal {
        id: "multi-memory",
        in_wasmi: true,
        wasmtime_flag: Some("wasm_multi_memory"),
        enable: |c| {
            // At least two memories, or most modules never address a second.
            c.min_memories = 2;
            c.max_memories = 4;
        },
    },
    Proposal {
        id: "threads",
        in_wasmi: false,
        wasmtime_flag: Some("wasm_threads"),
        enable: |c| c.threads_enabled = true,
    },
    Proposal {
        id: "tail-call",
        in_wasmi: true,
        wasmtime_flag: Some("wasm_tail_call"),
        enable: |c| c.tail_call_enabled = true,
    },
    Proposal {
        id: "memory64",
        in_wasmi: true,
        wasmtime_flag: Some("wasm_memory64"),
        enable: |c| c.memory64_enabled = true,
    },
    // The generator has no separate switch for typed function references:
    // they come with its GC switch, and their operators are counted apart.
    Proposal {
        id: "function-references",
        in_wasmi: false,
        wasmtime_flag: Some("wasm_function_references"),
        enable: enable_gc,
    },
    Proposal { id: "gc", in_wasmi: false, wasmtime_flag: Some("wasm_gc"), enable: enable_gc },
    // Core modules wrapped in a component; see `component.rs`.
    Proposal { id: "component-model", in_wasmi: true, wasmtime_flag: Some("wasm_component_model"), enable: |_| {} },
];

fn enable_gc(c: &mut Config) {
    c.bulk_memory_enabled = true;
    c.reference_types_enabled = true;
    c.gc_enabled = true;
}

/// Looks a proposal up by its policy id.
pub fn proposal(id: &str) -> Option<&'static Proposal> {
    PROPOSALS.iter().find(|p| p.id == id)
}

impl Proposal {
    /// The generator configuration: the MVP plus this proposal (and what it
    /// needs), shaped so both engines under comparison can run it
    /// deterministically: no imports, everything exported, NaNs canonical,
    /// bounded memories and tables.
    pub fn config(&self) -> Config {
        let mut c = baseline();
        (self.enable)(&mut c);
        if self.id == "component-model" {
            // Lifting needs scalar signatures with at most one result.
            c.multi_value_enabled = false;
        }
        c
    }
}

/// The MVP, with every post-MVP switch off.
fn baseline() -> Config {
    Config {
        max_imports: 0,
        min_imports: 0,
        export_everything: true,
        canonicalize_nans: true,
        allow_start_export: true,
        memory_max_size_required: true,
        max_memory32_bytes: 16 << 20,
        max_memory64_bytes: 16 << 20,
        table_max_size_required: true,
        max_table_elements: 10_000,
        max_funcs: 20,
        max_instructions: 200,
        bulk_memory_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        multi_value_enabled: false,
        reference_types_enabled: false,
        relaxed_simd_enabled: false,
        saturating_float_to_int_enabled: false,
        sign_extension_ops_enabled: false,
        simd_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        ..Config::default()
    }
}

/// The post-MVP features a generator configuration switches on.
pub fn features(c: &Config) -> Vec<String> {
    let on = [
        ("bulk-memory", c.bulk_memory_enabled),
        ("gc", c.gc_enabled),
        ("memory64", c.memory64_enabled),
        ("multi-memory", c.max_memories > 1),
        ("multi-value", c.multi_value_enabled),
        ("reference-types", c.reference_types_enabled),
        ("relaxed-simd", c.relaxed_simd_enabled),
        ("nontrapping-float-to-int-conversion", c.saturating_float_to_int_enabled),
        ("sign-extension-ops", c.sign_extension_ops_enabled),
        ("simd", c.simd_enabled),
        ("tail-call", c.tail_call_enabled),
        ("threads", c.threads_enabled),
    ];
    on.iter().filter(|(_, v)| *v).map(|(n, _)| (*n).to_owned()).collect()
}

/// A one-line description of a generator configuration, logged with every
/// failing input so it can be regenerated.
pub fn describe(c: &Config) -> String {
    format!(
        "wasm-smith 0.254.2 {{ features: [{}], max-memories: {}, max-tables: {}, max-funcs: {}, max-instructions: {}, canonicalize-nans: {} }}",
        features(c).join(", "),
        c.max_memories,
        c.max_tables,
        c.max_funcs,
        c.max_instructions,
        c.canonicalize_nans
    )
}
