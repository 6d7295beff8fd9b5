//! Engine profiles: one wasmtime configuration per compiler backend, with
//! every proposal the policy tracks switched on, so that a proposal the
//! backend lacks shows up as failing directives rather than as nothing.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use wasmtime::{Config, Engine, Strategy};

use crate::harness::{Feature, ScriptConfig};

/// A compiler backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compiler {
    /// The optimising compiler.
    Cranelift,
    /// The baseline compiler.
    Winch,
    /// Cranelift's Pulley backend and wasmtime's Pulley interpreter: the
    /// portable execution backend, on every host.
    Pulley,
}

impl Compiler {
    /// Every backend.
    pub const ALL: [Compiler; 3] = [Compiler::Cranelift, Compiler::Winch, Compiler::Pulley];

    /// The name used in run reports and the policy.
    pub fn name(self) -> &'static str {
        match self {
            Compiler::Cranelift => "cranelift",
            Compiler::Winch => "winch",
            Compiler::Pulley => "pulley",
        }
    }
}

/// The Pulley target matching this host's pointer width and byte order
/// (`pulley64` on x86_64, aarch64 and riscv64; `pulley64be` on s390x), as
/// wasmtime's own tests choose it.
pub fn pulley_target() -> &'static str {
    match (cfg!(target_pointer_width = "64"), cfg!(target_endian = "big")) {
        (true, false) => "pulley64",
        (true, true) => "pulley64be",
        (false, false) => "pulley32",
        (false, true) => "pulley32be",
    }
}

impl fmt::Display for Compiler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Compiler {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Compiler::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown compiler `{s}`; use cranelift, winch or pulley"))
    }
}

/// A configured engine and what it is.
#[derive(Clone)]
pub struct Profile {
    /// The backend.
    pub compiler: Compiler,
    /// The engine.
    pub engine: Engine,
    /// Proposals the backend refused at engine creation, switched off (their
    /// directives then fail: that is the evidence).
    pub disabled: Vec<&'static str>,
    /// The host settings the engines are built with.
    pub options: Options,
    /// One engine per distinct script configuration, built on first use.
    scripts: Arc<Mutex<HashMap<BTreeSet<Feature>, ScriptEngine>>>,
    /// The profile's engine with epoch interruption, for programs run under
    /// a time limit; built on first use.
    timed: Arc<std::sync::OnceLock<Engine>>,
}

/// The engine one script configuration runs on, and the proposals of that
/// configuration the compiler lacks (switched off: the directives that need
/// them are `unsupported`).
#[derive(Clone)]
pub struct ScriptEngine {
    /// The engine.
    pub engine: Engine,
    /// Switches of the configuration this compiler lacks, turned off.
    pub off: BTreeSet<Feature>,
}

impl fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptEngine").field("off", &self.off).finish_non_exhaustive()
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("compiler", &self.compiler)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

type Toggle = fn(&mut Config, bool);

/// Every proposal the profiles switch on, by wasmtime's name for it.
const PROPOSALS: &[(&str, Toggle)] = &[
    ("wasm_multi_memory", |c, on| {
        c.wasm_multi_memory(on);
    }),
    ("wasm_memory64", |c, on| {
        c.wasm_memory64(on);
    }),
    ("wasm_tail_call", |c, on| {
        c.wasm_tail_call(on);
    }),
    ("wasm_simd", |c, on| {
        c.wasm_simd(on);
    }),
    ("wasm_relaxed_simd", |c, on| {
        c.wasm_relaxed_simd(on);
    }),
    ("wasm_threads", |c, on| {
        c.wasm_threads(on);
    }),
    ("wasm_extended_const", |c, on| {
        c.wasm_extended_const(on);
    }),
    ("wasm_wide_arithmetic", |c, on| {
        c.wasm_wide_arithmetic(on);
    }),
    ("wasm_custom_page_sizes", |c, on| {
        c.wasm_custom_page_sizes(on);
    }),
    ("wasm_function_references", |c, on| {
        c.wasm_function_references(on);
    }),
    ("wasm_gc", |c, on| {
        c.wasm_gc(on);
    }),
    ("wasm_exceptions", |c, on| {
        c.wasm_exceptions(on);
    }),
    ("wasm_component_model", |c, on| {
        c.wasm_component_model(on);
    }),
    ("wasm_component_model_async", |c, on| {
        c.wasm_component_model_async(on);
    }),
    ("wasm_component_model_more_async_builtins", |c, on| {
        c.wasm_component_model_more_async_builtins(on);
    }),
    ("wasm_component_model_async_stackful", |c, on| {
        c.wasm_component_model_async_stackful(on);
    }),
    ("wasm_component_model_threading", |c, on| {
        c.wasm_component_model_threading(on);
    }),
    ("wasm_component_model_error_context", |c, on| {
        c.wasm_component_model_error_context(on);
    }),
    ("wasm_component_model_map", |c, on| {
        c.wasm_component_model_map(on);
    }),
    ("wasm_component_model_fixed_length_lists", |c, on| {
        c.wasm_component_model_fixed_length_lists(on);
    }),
    ("wasm_component_model_implements", |c, on| {
        c.wasm_component_model_implements(on);
    }),
];

impl Profile {
    /// The wasmtime configuration for `compiler` with every proposal on
    /// except `disabled`.
    pub fn config(compiler: Compiler, disabled: &[&str]) -> Config {
        Self::config_with(compiler, disabled, &Options::default())
    }

    /// [`Profile::config`] with `options` applied.
    pub fn config_with(compiler: Compiler, disabled: &[&str], options: &Options) -> Config {
        let mut c = Config::new();
        if let Some(cpu) = options.cpu.as_ref().filter(|_| compiler != Compiler::Pulley) {
            // Fails only on a triple wasmtime cannot parse, and `Cpu::read`
            // refuses those (`Cpu::native`'s comes from cranelift itself).
            let _ = cpu.apply(&mut c);
        }
        if options.small_reservations {
            c.memory_reservation(1 << 20);
            c.memory_guard_size(0);
            c.memory_reservation_for_growth(0);
        }
        c.relaxed_simd_deterministic(options.deterministic_relaxed_simd);
        c.consume_fuel(options.consume_fuel);
        // Fuzz campaigns run in parallel already; compiling on the calling
        // thread keeps a compiler panic's location with the campaign.
        c.parallel_compilation(!options.serial_compilation);
        c.strategy(match compiler {
            Compiler::Cranelift | Compiler::Pulley => Strategy::Cranelift,
            Compiler::Winch => Strategy::Winch,
        });
        // A fixed triple target-lexicon parses: this cannot fail, and
        // `build` checks the engine really targets Pulley.
        if compiler == Compiler::Pulley && c.target(pulley_target()).is_err() {
            c.strategy(Strategy::Winch);
        }
        for (name, toggle) in PROPOSALS {
            toggle(&mut c, !disabled.contains(name));
        }
        // The threads proposal's scripts need shared memories.
        c.shared_memory(!disabled.contains(&"wasm_threads"));
        c
    }

    /// Builds the engine for `compiler`. A proposal the backend refuses is
    /// switched off and recorded in `disabled`.
    pub fn new(compiler: Compiler) -> wasmtime::Result<Profile> {
        Self::build(compiler, &Options::default())
    }

    /// [`Profile::new`] with `options`.
    pub fn build(compiler: Compiler, options: &Options) -> wasmtime::Result<Profile> {
        let mut disabled: Vec<&'static str> = Vec::new();
        loop {
            match Engine::new(&Self::config_with(compiler, &disabled, options)) {
                // Never run native code under Pulley's name.
                Ok(engine) if compiler == Compiler::Pulley && !engine.is_pulley() => {
                    return Err(wasmtime::Error::msg(format!(
                        "the Pulley profile's engine does not target {}; is wasmtime built with `pulley`?",
                        pulley_target()
                    )));
                }
                Ok(engine) => {
                    let (scripts, timed) = (Arc::default(), Arc::default());
                    return Ok(Profile { compiler, engine, disabled, options: options.clone(), scripts, timed });
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    let refused =
                        PROPOSALS.iter().map(|(n, _)| *n).find(|n| message.contains(n) && !disabled.contains(n));
                    match refused {
                        Some(n) => disabled.push(n),
                        None => return Err(e),
                    }
                }
            }
        }
    }

    /// This profile's engine with epoch interruption on: stores that set an
    /// epoch deadline stop at it (see [`crate::epochs`]).
    pub fn timed_engine(&self) -> wasmtime::Result<Engine> {
        if let Some(e) = self.timed.get() {
            return Ok(e.clone());
        }
        let mut c = Self::config_with(self.compiler, &self.disabled, &self.options);
        c.epoch_interruption(true);
        let engine = Engine::new(&c)?;
        Ok(self.timed.get_or_init(|| engine).clone())
    }

    /// The engine for one script configuration, built once per distinct
    /// configuration and shared by every script that has it. The
    /// configuration's proposals that this compiler lacks (wasmtime's
    /// harness rules, then whatever engine creation refuses) are off.
    pub fn for_script(&self, config: &ScriptConfig) -> wasmtime::Result<ScriptEngine> {
        let key = config.effective();
        let mut cache = self.scripts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = cache.get(&key) {
            return Ok(e.clone());
        }
        let mut off: BTreeSet<Feature> =
            crate::harness::lacks(self.compiler, self.options.arch()).intersection(&key).copied().collect();
        let engine = loop {
            let mut c = Self::config_with(self.compiler, &self.disabled, &self.options);
            config.apply(&mut c, &off);
            match Engine::new(&c) {
                Ok(engine) => break engine,
                Err(e) => {
                    let message = format!("{e:#}");
                    let refused = key.iter().copied().find(|f| !off.contains(f) && message.contains(f.engine_name()));
                    match refused {
                        Some(f) => {
                            off.insert(f);
                        }
                        None => return Err(e),
                    }
                }
            }
        };
        let built = ScriptEngine { engine, off };
        cache.insert(key, built.clone());
        Ok(built)
    }

    /// Whether the backend compiles code on this target at all (Winch
    /// builds everywhere but has code generators for few architectures).
    /// Compiling for another machine ([`Options::cpu`]), it is whether the
    /// backend compiles for that target.
    pub fn runs(&self) -> bool {
        let wat = "(module (func (result i32) i32.const 1))";
        if self.options.cpu.as_ref().is_some_and(|c| !c.is_host()) {
            return wat::parse_str(wat).is_ok_and(|w| self.engine.precompile_module(&w).is_ok());
        }
        wasmtime::Module::new(&self.engine, wat).is_ok()
    }
}

/// Engine settings that do not change what a profile tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Small virtual memory reservations with no guard pages. Under QEMU
    /// user-mode emulation wasmtime's default multi-GiB reservations make
    /// every instantiation slow; bounds checks stay explicit, so traps are
    /// unchanged.
    pub small_reservations: bool,
    /// Relaxed-SIMD instructions give their deterministic results, so they
    /// can be compared with another engine.
    pub deterministic_relaxed_simd: bool,
    /// Stores count fuel, so code that never ends can be stopped (a shrunk
    /// fuzz input may have lost its generated loop limits).
    pub consume_fuel: bool,
    /// Compile on the calling thread only (fuzz campaigns are parallel
    /// already, and a compiler panic then keeps its location).
    pub serial_compilation: bool,
    /// Compile for this CPU exactly (its triple and flags) instead of
    /// detecting the host's: for code compiled here and run elsewhere, and
    /// on the machine that runs it ([`crate::precompiled`]).
    pub cpu: Option<crate::precompiled::Cpu>,
    /// Load modules and components from these artifacts where they have
    /// them instead of compiling.
    pub artifacts: Option<Arc<crate::precompiled::Artifacts>>,
}

impl Options {
    /// The options for a run on this host: small reservations when the
    /// environment says the process is emulated (`TIERWATCH_EMULATED`, set
    /// by the runner's QEMU wrappers, or wasmtime's own
    /// `WASMTIME_TEST_NO_HOG_MEMORY`).
    pub fn from_env() -> Options {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty() && v != "0");
        Options {
            small_reservations: set("TIERWATCH_EMULATED") || set("WASMTIME_TEST_NO_HOG_MEMORY"),
            deterministic_relaxed_simd: false,
            consume_fuel: false,
            serial_compilation: false,
            cpu: None,
            artifacts: None,
        }
    }

    /// The architecture code is compiled for, as `std::env::consts::ARCH`
    /// names it.
    pub fn arch(&self) -> &'static str {
        self.cpu.as_ref().and_then(|c| c.arch().ok()).unwrap_or(std::env::consts::ARCH)
    }

    /// The artifacts to load from, if any.
    pub fn artifacts(&self) -> Option<&crate::precompiled::Artifacts> {
        self.artifacts.as_deref()
    }
}
