//! What wasmtime's own test harness says about each conformance script: the
//! proposals it switches on (and so leaves off), and whether a compiler on
//! an architecture is expected to fail it. Kept as data in this one place so
//! that the executor, the known-failure lists and the agreement report all
//! follow the same rules.
//!
//! Upstream source, wasmtime `v48.0.0`:
//! - `crates/test-util/src/wast.rs`: `find_tests` (excluded scripts),
//!   `spec_test_config`, `component_test_config`, `Compiler::should_fail`,
//!   `Compiler::supports_host`, `WastTest::should_fail`;
//! - `crates/test-util/src/wasmtime_wast.rs`: `apply_test_config` (every
//!   option defaults to off; gc implies function references, which imply
//!   reference types; relaxed SIMD implies SIMD);
//! - `tests/wast.rs`: with `WASMTIME_TEST_NO_HOG_MEMORY` (set for emulated
//!   runs) a script that hogs memory is not run.
//!
//! tierwatch departs from the harness in one documented way: where the
//! harness expects a whole script to fail because its configuration names
//! a proposal the compiler lacks, tierwatch runs the script with that
//! proposal off and records the directives that need it as `unsupported`.

use std::collections::BTreeSet;
use std::fmt;

use wasmtime::Config;

use crate::profile::Compiler;

/// A switch of wasmtime's per-test configuration, by the harness's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// `bulk_memory`
    BulkMemory,
    /// `reference_types`
    ReferenceTypes,
    /// `multi_memory`
    MultiMemory,
    /// `simd`
    Simd,
    /// `relaxed_simd`
    RelaxedSimd,
    /// `memory64`
    Memory64,
    /// `gc`
    Gc,
    /// `function_references`
    FunctionReferences,
    /// `tail_call`
    TailCall,
    /// `exceptions`
    Exceptions,
    /// `legacy_exceptions`
    LegacyExceptions,
    /// `extended_const`
    ExtendedConst,
    /// `threads`
    Threads,
    /// `wide_arithmetic`
    WideArithmetic,
    /// `custom_page_sizes`
    CustomPageSizes,
    /// `custom_descriptors` (implemented nowhere in wasmtime 48: no switch)
    CustomDescriptors,
    /// `component_model_async`
    ComponentModelAsync,
    /// `component_model_more_async_builtins`
    ComponentModelMoreAsyncBuiltins,
    /// `component_model_async_stackful`
    ComponentModelAsyncStackful,
    /// `component_model_threading`
    ComponentModelThreading,
    /// `component_model_implements`
    ComponentModelImplements,
    /// `component_model_memory64`
    ComponentModelMemory64,
    /// `component_model_error_context`
    ComponentModelErrorContext,
    /// `component_model_gc`
    ComponentModelGc,
    /// `component_model_map`
    ComponentModelMap,
    /// `component_model_fixed_length_lists`
    ComponentModelFixedLengthLists,
    /// `branch_hinting`
    BranchHinting,
    /// `shared_everything_threads`
    SharedEverythingThreads,
    /// `stack_switching`
    StackSwitching,
}

type Toggle = fn(&mut Config, bool);

/// Every feature: its harness name, the name wasmtime's engine validation
/// uses when a compiler refuses it (`the wasm_<flag> feature is not
/// supported on this compiler configuration`), and its `Config` switch.
const FEATURES: &[(Feature, &str, &str, Option<Toggle>)] = &[
    (
        Feature::BulkMemory,
        "bulk_memory",
        "wasm_bulk_memory",
        Some(|c, on| {
            c.wasm_bulk_memory(on);
        }),
    ),
    (
        Feature::ReferenceTypes,
        "reference_types",
        "wasm_reference_types",
        Some(|c, on| {
            c.wasm_reference_types(on);
        }),
    ),
    (
        Feature::MultiMemory,
        "multi_memory",
        "wasm_multi_memory",
        Some(|c, on| {
            c.wasm_multi_memory(on);
        }),
    ),
    (
        Feature::Simd,
        "simd",
        "wasm_simd",
        Some(|c, on| {
            c.wasm_simd(on);
        }),
    ),
    (
        Feature::RelaxedSimd,
        "relaxed_simd",
        "wasm_relaxed_simd",
        Some(|c, on| {
            c.wasm_relaxed_simd(on);
        }),
    ),
    (
        Feature::Memory64,
        "memory64",
        "wasm_memory64",
        Some(|c, on| {
            c.wasm_memory64(on);
        }),
    ),
    (
        Feature::Gc,
        "gc",
        "wasm_gc",
        Some(|c, on| {
            c.wasm_gc(on);
        }),
    ),
    (
        Feature::FunctionReferences,
        "function_references",
        "wasm_function_references",
        Some(|c, on| {
            c.wasm_function_references(on);
        }),
    ),
    (
        Feature::TailCall,
        "tail_call",
        "wasm_tail_call",
        Some(|c, on| {
            c.wasm_tail_call(on);
        }),
    ),
    (
        Feature::Exceptions,
        "exceptions",
        "wasm_exceptions",
        Some(|c, on| {
            c.wasm_exceptions(on);
        }),
    ),
    (Feature::LegacyExceptions, "legacy_exceptions", "wasm_legacy_exceptions", Some(legacy_exceptions)),
    (
        Feature::ExtendedConst,
        "extended_const",
        "wasm_extended_const",
        Some(|c, on| {
            c.wasm_extended_const(on);
        }),
    ),
    (
        Feature::Threads,
        "threads",
        "wasm_threads",
        Some(|c, on| {
            c.wasm_threads(on);
        }),
    ),
    (
        Feature::WideArithmetic,
        "wide_arithmetic",
        "wasm_wide_arithmetic",
        Some(|c, on| {
            c.wasm_wide_arithmetic(on);
        }),
    ),
    (
        Feature::CustomPageSizes,
        "custom_page_sizes",
        "wasm_custom_page_sizes",
        Some(|c, on| {
            c.wasm_custom_page_sizes(on);
        }),
    ),
    (Feature::CustomDescriptors, "custom_descriptors", "wasm_custom_descriptors", None),
    (
        Feature::ComponentModelAsync,
        "component_model_async",
        "wasm_cm_async",
        Some(|c, on| {
            c.wasm_component_model_async(on);
        }),
    ),
    (
        Feature::ComponentModelMoreAsyncBuiltins,
        "component_model_more_async_builtins",
        "wasm_cm_more_async_builtins",
        Some(|c, on| {
            c.wasm_component_model_more_async_builtins(on);
        }),
    ),
    (
        Feature::ComponentModelAsyncStackful,
        "component_model_async_stackful",
        "wasm_cm_async_stackful",
        Some(|c, on| {
            c.wasm_component_model_async_stackful(on);
        }),
    ),
    (
        Feature::ComponentModelThreading,
        "component_model_threading",
        "wasm_cm_threading",
        Some(|c, on| {
            c.wasm_component_model_threading(on);
        }),
    ),
    (
        Feature::ComponentModelImplements,
        "component_model_implements",
        "wasm_cm_implements",
        Some(|c, on| {
            c.wasm_component_model_implements(on);
        }),
    ),
    (
        Feature::ComponentModelMemory64,
        "component_model_memory64",
        "wasm_cm64",
        Some(|c, on| {
            c.wasm_component_model_memory64(on);
        }),
    ),
    (
        Feature::ComponentModelErrorContext,
        "component_model_error_context",
        "wasm_cm_error_context",
        Some(|c, on| {
            c.wasm_component_model_error_context(on);
        }),
    ),
    (
        Feature::ComponentModelGc,
        "component_model_gc",
        "wasm_cm_gc",
        Some(|c, on| {
            c.wasm_component_model_gc(on);
        }),
    ),
    (
        Feature::ComponentModelMap,
        "component_model_map",
        "wasm_cm_map",
        Some(|c, on| {
            c.wasm_component_model_map(on);
        }),
    ),
    (
        Feature::ComponentModelFixedLengthLists,
        "component_model_fixed_length_lists",
        "wasm_cm_fixed_length_lists",
        Some(|c, on| {
            c.wasm_component_model_fixed_length_lists(on);
        }),
    ),
    (
        Feature::BranchHinting,
        "branch_hinting",
        "wasm_branch_hinting",
        Some(|c, on| {
            c.wasm_branch_hinting(on);
        }),
    ),
    (
        Feature::SharedEverythingThreads,
        "shared_everything_threads",
        "wasm_shared_everything_threads",
        Some(|c, on| {
            c.wasm_shared_everything_threads(on);
        }),
    ),
    (
        Feature::StackSwitching,
        "stack_switching",
        "wasm_stack_switching",
        Some(|c, on| {
            c.wasm_stack_switching(on);
        }),
    ),
];

#[expect(deprecated, reason = "the harness still switches legacy exceptions for the legacy/ scripts")]
fn legacy_exceptions(c: &mut Config, on: bool) {
    c.wasm_legacy_exceptions(on);
}

impl Feature {
    /// The harness's name for it, e.g. `relaxed_simd`.
    pub fn name(self) -> &'static str {
        Self::row(self).1
    }

    /// The name wasmtime's engine validation gives it, e.g. `wasm_gc`.
    pub fn engine_name(self) -> &'static str {
        Self::row(self).2
    }

    fn row(self) -> &'static (Feature, &'static str, &'static str, Option<Toggle>) {
        FEATURES.iter().find(|r| r.0 == self).unwrap_or(&FEATURES[0])
    }

    /// Whether wasmtime can switch it on at all.
    pub fn implemented(self) -> bool {
        Self::row(self).3.is_some()
    }

    /// Every feature.
    pub fn all() -> impl Iterator<Item = Feature> {
        FEATURES.iter().map(|r| r.0)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The configuration the harness runs one script with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct ScriptConfig {
    /// The switches that are on; every other one is off.
    pub features: BTreeSet<Feature>,
    /// The script reserves huge memories (not run under emulation).
    pub hogs_memory: bool,
}

impl ScriptConfig {
    fn on(&mut self, features: &[Feature]) {
        self.features.extend(features.iter().copied());
    }

    /// Whether `feature` is on.
    pub fn has(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// The switches as wasmtime's harness applies them: the implied ones
    /// added (`apply_test_config`).
    pub fn effective(&self) -> BTreeSet<Feature> {
        let mut f = self.features.clone();
        if f.contains(&Feature::Gc) {
            f.insert(Feature::FunctionReferences);
        }
        if f.contains(&Feature::FunctionReferences) {
            f.insert(Feature::ReferenceTypes);
        }
        if f.contains(&Feature::RelaxedSimd) {
            f.insert(Feature::Simd);
        }
        f
    }

    /// The names of the switches that are on, for reports.
    pub fn names(&self) -> Vec<String> {
        self.effective().into_iter().map(|f| f.name().to_owned()).collect()
    }

    /// Applies exactly these switches (every other tracked one off), minus
    /// `off`, to `config`.
    pub fn apply(&self, config: &mut Config, off: &BTreeSet<Feature>) {
        let on = self.effective();
        for (feature, _, _, toggle) in FEATURES {
            if let Some(toggle) = toggle {
                toggle(config, on.contains(feature) && !off.contains(feature));
            }
        }
        // As wasmtime's harness: shared memories allowed whatever the script
        // (the spectest host module defines one).
        config.shared_memory(true);
    }
}

/// Scripts wasmtime's harness lists as unsupported because the script, not
/// the engine, is behind the specification (`WastTest::should_fail`). What
/// fails in them is no evidence about wasmtime.
pub fn outdated(suite: &str, path: &str) -> Option<&'static str> {
    (suite == "component-model" && path.ends_with("test/values/post-return.wast")).then_some(
        "wasmtime's harness lists this script as unsupported until it is updated for WebAssembly/component-model#680",
    )
}

/// Why the harness does not run a script at all.
pub fn excluded(suite: &str, path: &str) -> Option<&'static str> {
    // `find_tests`: directives wasmtime's wast runner does not support yet.
    const UNSUPPORTED_DIRECTIVES: [&str; 3] =
        ["custom/custom_annot.wast", "custom/branch_hint.wast", "custom/name_annot.wast"];
    (suite == "wasm-spec" && UNSUPPORTED_DIRECTIVES.contains(&path))
        .then_some("excluded by wasmtime's harness: uses wast directives wasmtime does not run yet")
}

/// The configuration of the script at `path` in `suite` (`wasm-spec` or
/// `component-model`), or `None` for a suite the harness has no rules for.
pub fn script_config(suite: &str, path: &str) -> Option<ScriptConfig> {
    match suite {
        "wasm-spec" => Some(spec_config(path)),
        "component-model" => Some(component_config(path)),
        _ => None,
    }
}

/// `proposals/<name>/…` → `<name>`.
fn proposal(path: &str) -> Option<&str> {
    let mut parts = path.split('/');
    parts.by_ref().find(|p| *p == "proposals")?;
    parts.next()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn spec_config(path: &str) -> ScriptConfig {
    use Feature::*;
    let mut c = ScriptConfig::default();
    c.on(&[BulkMemory]);
    let name = file_name(path);
    match proposal(path) {
        Some("wide-arithmetic") => c.on(&[WideArithmetic]),
        Some("threads") => c.on(&[Threads]),
        Some("custom-page-sizes") => {
            c.on(&[CustomPageSizes, MultiMemory, Memory64, ReferenceTypes]);
            c.hogs_memory = name == "memory_max.wast" || name == "memory_max_i64.wast";
        }
        Some("custom-descriptors") => c.on(&[CustomDescriptors]),
        // The harness panics on a proposal it does not know; here every
        // other switch stays off, and the agreement report names it.
        Some(_) => {}
        None => {
            c.on(&[ReferenceTypes, MultiMemory]);
            let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
            if has(&["simd"]) {
                c.on(&[Simd]);
            }
            if has(&["relaxed"]) {
                c.on(&[RelaxedSimd]);
            }
            if has(&["64", "mixed"]) {
                c.on(&[Memory64]);
            }
            if has(&[
                "ref",
                "array",
                "struct",
                "table",
                "type",
                "tag",
                "extern",
                "br_on_",
                "linking",
                "instance",
                "local_init",
                "elem",
                "global",
                "i31",
                "unreached-valid",
                "select",
                "data",
            ]) {
                c.on(&[Gc]);
            }
            if has(&["return_", "try_table"]) {
                c.on(&[TailCall]);
            }
            if has(&["tag", "try_table", "throw", "ref", "instance", "imports"]) {
                c.on(&[Exceptions]);
            }
            if has(&["global", "elem", "data"]) {
                c.on(&[ExtendedConst]);
            }
            if path.split('/').rev().nth(1) == Some("legacy") {
                c.on(&[LegacyExceptions]);
            }
            c.hogs_memory = ["memory.wast", "table.wast", "memory64.wast", "table64.wast"].contains(&name);
        }
    }
    c
}

fn component_config(path: &str) -> ScriptConfig {
    use Feature::*;
    let mut c = ScriptConfig::default();
    c.on(&[
        ReferenceTypes,
        MultiMemory,
        ComponentModelImplements,
        BulkMemory,
        ComponentModelAsync,
        ComponentModelMoreAsyncBuiltins,
        ComponentModelAsyncStackful,
        ComponentModelThreading,
    ]);
    if file_name(path) == "memory64.wast" {
        c.on(&[ComponentModelMemory64]);
    }
    match path.split('/').rev().nth(1) {
        Some("wasm-tools") => c.on(&[Memory64, Threads, Exceptions, Gc]),
        Some("wasmtime") => c.on(&[Exceptions, Gc]),
        _ => {}
    }
    c
}

/// The host facts the harness's rules read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// `std::env::consts::ARCH` of the running binary (under emulation,
    /// the emulated architecture).
    pub arch: String,
    /// x86_64 with AVX and AVX2 (Winch's SIMD needs both).
    pub avx2: bool,
    /// Emulated: the harness's `WASMTIME_TEST_NO_HOG_MEMORY` run.
    pub emulated: bool,
}

impl Host {
    /// This process's host, `emulated` as given.
    pub fn current(emulated: bool) -> Host {
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::is_x86_feature_detected!("avx") && std::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let avx2 = false;
        Host { arch: std::env::consts::ARCH.to_owned(), avx2, emulated }
    }
}

/// What wasmtime's harness expects of one (script, compiler, host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// Every directive passes.
    Pass,
    /// The script fails somewhere; the reason is the harness's rule.
    Fail(&'static str),
    /// The harness expects the whole script to fail because its
    /// configuration names a proposal the compiler lacks. tierwatch is finer:
    /// it runs the script with those proposals off, so it agrees when no
    /// directive fails (the ones that need them are `unsupported`).
    Lacks(&'static str),
    /// The harness does not run it here.
    NotRun(&'static str),
}

/// Spec scripts whose SIMD Winch compiles only with AVX and AVX2
/// (`WastTest::should_fail`, x86_64 without them).
const WINCH_AVX_SCRIPTS: &[&str] = &[
    "simd_align.wast",
    "simd_boolean.wast",
    "simd_conversions.wast",
    "simd_f32x4.wast",
    "simd_f32x4_arith.wast",
    "simd_f32x4_cmp.wast",
    "simd_f32x4_pmin_pmax.wast",
    "simd_f32x4_rounding.wast",
    "simd_f64x2.wast",
    "simd_f64x2_arith.wast",
    "simd_f64x2_cmp.wast",
    "simd_f64x2_pmin_pmax.wast",
    "simd_f64x2_rounding.wast",
    "simd_i16x8_cmp.wast",
    "simd_i32x4_cmp.wast",
    "simd_i64x2_arith2.wast",
    "simd_i64x2_cmp.wast",
    "simd_i8x16_arith2.wast",
    "simd_i8x16_cmp.wast",
    "simd_int_to_int_extend.wast",
    "simd_load.wast",
    "simd_load_extend.wast",
    "simd_load_splat.wast",
    "simd_load_zero.wast",
    "simd_splat.wast",
    "simd_store16_lane.wast",
    "simd_store32_lane.wast",
    "simd_store64_lane.wast",
    "simd_store8_lane.wast",
    "simd_load16_lane.wast",
    "simd_load32_lane.wast",
    "simd_load64_lane.wast",
    "simd_load8_lane.wast",
    "simd_bitwise.wast",
    "simd_memory-multi.wast",
    "simd_const.wast",
    "simd_i8x16_sat_arith.wast",
    "simd_i64x2_arith.wast",
    "simd_i16x8_arith.wast",
    "simd_i16x8_arith2.wast",
    "simd_i16x8_q15mulr_sat_s.wast",
    "simd_i16x8_sat_arith.wast",
    "simd_i32x4_arith.wast",
    "simd_i32x4_dot_i16x8.wast",
    "simd_i32x4_trunc_sat_f32x4.wast",
    "simd_i32x4_trunc_sat_f64x2.wast",
    "simd_i8x16_arith.wast",
    "simd_bit_shift.wast",
    "simd_lane.wast",
    "simd_i16x8_extmul_i8x16.wast",
    "simd_i32x4_extmul_i16x8.wast",
    "simd_i64x2_extmul_i32x4.wast",
    "simd_i16x8_extadd_pairwise_i8x16.wast",
    "simd_i32x4_extadd_pairwise_i16x8.wast",
    "simd_i32x4_arith2.wast",
];

/// The proposals a compiler lacks, as the harness's `Compiler::should_fail`
/// lists them (Winch: also threads on aarch64). tierwatch turns these off
/// for that compiler instead of expecting the whole script to fail.
pub fn lacks(compiler: Compiler, arch: &str) -> BTreeSet<Feature> {
    use Feature::*;
    match compiler {
        Compiler::Cranelift => [LegacyExceptions].into(),
        // `Compiler::CraneliftPulley` in the harness: threads, legacy
        // exceptions and stack switching.
        Compiler::Pulley => [Threads, LegacyExceptions, StackSwitching].into(),
        Compiler::Winch => {
            let mut f: BTreeSet<Feature> =
                [Gc, TailCall, FunctionReferences, RelaxedSimd, Exceptions, LegacyExceptions].into();
            if arch == "aarch64" {
                f.insert(Threads);
            }
            f
        }
    }
}

/// What wasmtime's harness expects of `suite/path` on `compiler` and `host`
/// (the non-pooling configuration).
pub fn expectation(suite: &str, path: &str, compiler: Compiler, host: &Host) -> Expectation {
    if let Some(why) = excluded(suite, path) {
        return Expectation::NotRun(why);
    }
    let Some(config) = script_config(suite, path) else {
        return Expectation::NotRun("wasmtime's harness has no rules for this suite");
    };
    let supported = match compiler {
        Compiler::Cranelift => ["x86_64", "aarch64", "riscv64", "s390x"].contains(&host.arch.as_str()),
        Compiler::Winch => ["x86_64", "aarch64"].contains(&host.arch.as_str()),
        // An interpreter: every host.
        Compiler::Pulley => true,
    };
    if !supported {
        return Expectation::Fail("the compiler does not support this architecture");
    }
    if let Some(why) = outdated(suite, path) {
        return Expectation::Fail(why);
    }
    if host.emulated && config.hogs_memory {
        return Expectation::NotRun("reserves huge memories; not run under emulation");
    }
    let effective = config.effective();
    if effective.contains(&Feature::LegacyExceptions) {
        // The legacy/ scripts are about nothing else, and no compiler here
        // implements them (nor can the wast 254 parser read their syntax).
        return Expectation::Fail("legacy exceptions: no compiler implements them");
    }
    if lacks(compiler, &host.arch).iter().any(|f| effective.contains(f)) {
        return Expectation::Lacks("the configuration names a proposal the compiler lacks");
    }
    if compiler == Compiler::Winch {
        if suite == "wasm-spec"
            && ["extended-const/elem.wast", "extended-const/global.wast"].iter().any(|p| path.ends_with(p))
        {
            return Expectation::Fail("listed as unsupported by Winch in the harness");
        }
        if host.arch == "x86_64" && !host.avx2 && suite == "wasm-spec" && WINCH_AVX_SCRIPTS.contains(&path) {
            return Expectation::Fail("Winch's SIMD needs AVX and AVX2, which this host lacks");
        }
    }
    if config.has(Feature::CustomDescriptors) {
        return if path.ends_with("proposals/custom-descriptors/binary-leb128.wast") {
            Expectation::Pass
        } else {
            Expectation::Fail("custom descriptors are implemented nowhere in wasmtime yet")
        };
    }
    Expectation::Pass
}

/// tierwatch's verdict on one script next to wasmtime's expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreement {
    /// Both say the same: wasmtime expects a pass and no directive failed,
    /// errored in the harness or timed out; or it expects a failure and at
    /// least one directive is not a pass.
    Agrees,
    /// They differ; the first directive that decides it, as `line: kind:
    /// outcome: message` (or why a pass was not expected).
    Disagrees(String),
    /// wasmtime's harness does not run the script here.
    NotRun(&'static str),
}

/// Compares a script's directives with what the harness expects.
pub fn agreement(expected: &Expectation, file: &matrix::evidence::SpecFile) -> Agreement {
    use matrix::evidence::Outcome;
    let first = |pred: &dyn Fn(Outcome) -> bool| {
        file.directives.iter().find(|d| pred(d.outcome)).map(|d| {
            let message = d.message.as_deref().unwrap_or("").lines().next().unwrap_or("");
            format!("{}: {}: {}: {message}", d.line, d.kind, d.outcome.as_str())
        })
    };
    match expected {
        Expectation::NotRun(why) => Agreement::NotRun(why),
        Expectation::Pass | Expectation::Lacks(_) => {
            match first(&|o| matches!(o, Outcome::Fail | Outcome::HarnessError | Outcome::Timeout)) {
                Some(d) => Agreement::Disagrees(d),
                None => Agreement::Agrees,
            }
        }
        Expectation::Fail(why) => match first(&|o| o != Outcome::Pass) {
            Some(_) => Agreement::Agrees,
            None => Agreement::Disagrees(format!("every directive passed; wasmtime expects a failure: {why}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(suite: &str, path: &str) -> Vec<String> {
        script_config(suite, path).map(|c| c.names()).unwrap_or_default()
    }

    #[test]
    fn threads_scripts_run_with_threads_and_bulk_memory_only() {
        assert_eq!(names("wasm-spec", "proposals/threads/imports.wast"), ["bulk_memory", "threads"]);
    }

    #[test]
    fn top_level_names_infer_proposals() {
        let n = names("wasm-spec", "relaxed_dot_product.wast");
        assert!(n.contains(&"relaxed_simd".into()) && n.contains(&"simd".into()), "{n:?}");
        assert!(!n.contains(&"gc".into()), "{n:?}");
        let n = names("wasm-spec", "ref_test.wast");
        for f in ["gc", "function_references", "reference_types", "exceptions"] {
            assert!(n.contains(&f.to_owned()), "{f} in {n:?}");
        }
        assert!(names("wasm-spec", "i64.wast").contains(&"memory64".into()));
        assert!(names("wasm-spec", "legacy/throw.wast").contains(&"legacy_exceptions".into()));
    }

    #[test]
    fn component_scripts_get_the_async_features_and_folder_extras() {
        let n = names("component-model", "test/wasm-tools/memory64.wast");
        for f in ["component_model_async", "component_model_memory64", "memory64", "gc", "threads"] {
            assert!(n.contains(&f.to_owned()), "{f} in {n:?}");
        }
        assert!(!names("component-model", "test/async/cancel-stream.wast").contains(&"gc".into()));
    }

    #[test]
    fn expectations_follow_the_compiler_rules() {
        let x86 = Host { arch: "x86_64".into(), avx2: true, emulated: false };
        let s390x = Host { arch: "s390x".into(), avx2: false, emulated: true };
        assert_eq!(expectation("wasm-spec", "i32.wast", Compiler::Cranelift, &x86), Expectation::Pass);
        assert!(matches!(expectation("wasm-spec", "ref_test.wast", Compiler::Winch, &x86), Expectation::Lacks(_)));
        assert!(matches!(expectation("wasm-spec", "i32.wast", Compiler::Winch, &s390x), Expectation::Fail(_)));
        assert!(matches!(expectation("wasm-spec", "memory.wast", Compiler::Cranelift, &s390x), Expectation::NotRun(_)));
        assert!(matches!(
            expectation("wasm-spec", "legacy/throw.wast", Compiler::Cranelift, &x86),
            Expectation::Fail(_)
        ));
        assert!(matches!(
            expectation("wasm-spec", "proposals/custom-descriptors/binary.wast", Compiler::Cranelift, &x86),
            Expectation::Fail(_)
        ));
        assert!(matches!(
            expectation("wasm-spec", "custom/name_annot.wast", Compiler::Cranelift, &x86),
            Expectation::NotRun(_)
        ));
        // Pulley (the harness's CraneliftPulley): every host, no threads.
        assert_eq!(expectation("wasm-spec", "i32.wast", Compiler::Pulley, &s390x), Expectation::Pass);
        assert_eq!(expectation("wasm-spec", "simd_lane.wast", Compiler::Pulley, &x86), Expectation::Pass);
        assert!(matches!(
            expectation("wasm-spec", "proposals/threads/atomic.wast", Compiler::Pulley, &x86),
            Expectation::Lacks(_)
        ));
        let no_avx = Host { avx2: false, ..x86 };
        assert!(matches!(expectation("wasm-spec", "simd_lane.wast", Compiler::Winch, &no_avx), Expectation::Fail(_)));
    }
}
