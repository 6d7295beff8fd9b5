//! Code compiled on one machine for another: the emulated targets' fast
//! mode. The build host compiles every module and component of a run for
//! the target's triple and CPU flags ([`Cpu`]), writes the artifacts and a
//! manifest of their SHA-256 hashes ([`Artifacts`]); the runner on the
//! target loads them instead of compiling, so only loading, instantiation
//! and execution run under emulation.
//!
//! This is the one module of the workspace that uses `unsafe` (the
//! workspace denies it everywhere else), for two wasmtime calls:
//!
//! - [`Config::cranelift_flag_set`]: a CPU flag the target lacks would make
//!   wasmtime emit instructions it cannot run. The flags come from
//!   [`Cpu::native`] on the target itself (cranelift's own detection, the
//!   same wasmtime runs), and a loading runner refuses artifacts whose flags
//!   differ from what it detects (`Artifacts::check_cpu`).
//! - [`Module::deserialize`] / [`Component::deserialize`]: wasmtime trusts
//!   the bytes to be its own output. An artifact is only read from a
//!   directory whose manifest this runner's own `compile` wrote (same
//!   wasmtime and runner versions), and its bytes are hashed and compared
//!   with the manifest before they reach wasmtime (a file changed since is
//!   refused, never loaded). wasmtime checks the rest itself: target,
//!   flags, tunables and proposals of the engine.
//!
//! `.wast` scripts run through wasmtime's wast runner, which loads
//! precompiled modules from a directory by name (`precompile_load`): for
//! those, [`Artifacts::place`] writes the verified bytes into a private
//! temporary directory just before the directive that uses them.
//!
//! Input the compiler refuses is recorded with its error ([`Refusal`]): a
//! directive that expects exactly that (`assert_invalid`,
//! `assert_malformed`) is decided by the host's refusal, since compiling
//! is the host's part of the run; the identity check compiles a sample on
//! the target and requires the same refusals.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module};

/// The manifest's file name in an artifact directory.
pub const MANIFEST: &str = "manifest.json";
/// The manifest format this runner writes and reads (2: refusals recorded).
const FORMAT: u32 = 2;
/// The largest artifact read back (a compiled WASI program is a few MB).
const MAX_ARTIFACT_BYTES: u64 = 256 << 20;

/// A target's triple and the CPU flags its code is compiled for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Cpu {
    /// The target triple, e.g. `aarch64-unknown-linux-gnu`.
    pub triple: String,
    /// Every ISA setting of cranelift for that triple, by name, with the
    /// value detected on the target (`true`/`false`, or an enum's value).
    pub flags: BTreeMap<String, String>,
}

impl Cpu {
    /// What this machine is, as cranelift detects it when wasmtime builds
    /// an engine without an explicit target (under QEMU: the emulated CPU).
    pub fn native() -> Result<Cpu, String> {
        let builder = cranelift_native::builder().map_err(|e| format!("detecting the CPU: {e}"))?;
        let triple = builder.triple().to_string();
        let isa = builder
            .finish(cranelift_codegen::settings::Flags::new(cranelift_codegen::settings::builder()))
            .map_err(|e| format!("building cranelift's ISA for {triple}: {e}"))?;
        let flags = isa
            .isa_flags()
            .into_iter()
            .filter_map(|v| {
                let value = v.as_bool().map(|b| b.to_string()).or_else(|| v.as_enum().map(str::to_owned))?;
                Some((v.name.to_owned(), value))
            })
            .collect();
        Ok(Cpu { triple, flags })
    }

    /// Reads a CPU description written by `tierwatch-runner cpu`.
    pub fn read(path: &Path) -> Result<Cpu, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let cpu: Cpu = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        cpu.arch().map_err(|e| format!("{}: {e}", path.display()))?;
        Config::new().target(&cpu.triple).map_err(|e| format!("{}: triple `{}`: {e:#}", path.display(), cpu.triple))?;
        Ok(cpu)
    }

    /// The architecture as Rust names it (`std::env::consts::ARCH`), which
    /// wasmtime's harness rules are keyed by.
    pub fn arch(&self) -> Result<&'static str, String> {
        let first = self.triple.split('-').next().unwrap_or("");
        Ok(match first {
            "x86_64" => "x86_64",
            "aarch64" => "aarch64",
            "s390x" => "s390x",
            a if a.starts_with("riscv64") => "riscv64",
            _ => return Err(format!("triple `{}`: not a target tierwatch compiles for", self.triple)),
        })
    }

    /// Whether this is the machine the process runs on.
    pub fn is_host(&self) -> bool {
        self.arch().is_ok_and(|a| a == std::env::consts::ARCH)
    }

    /// Makes `config` compile for this CPU exactly: its triple (so nothing
    /// is detected) and every one of its flags.
    pub(crate) fn apply(&self, config: &mut Config) -> wasmtime::Result<()> {
        config.target(&self.triple)?;
        for (name, value) in &self.flags {
            // SAFETY: the flags are what cranelift detected on the target
            // (`Cpu::native`); a loading runner checks that they still are
            // (`Artifacts::check_cpu`), and wasmtime refuses to load code
            // with a CPU feature its own detection does not find.
            unsafe {
                config.cranelift_flag_set(name, value);
            }
        }
        Ok(())
    }

    /// The flags that differ from `other`'s, as `name=mine/theirs`.
    fn differences(&self, other: &Cpu) -> Vec<String> {
        let mut out = Vec::new();
        let names: std::collections::BTreeSet<&String> = self.flags.keys().chain(other.flags.keys()).collect();
        for name in names {
            let (a, b) = (self.flags.get(name), other.flags.get(name));
            if a != b {
                let show = |v: Option<&String>| v.map_or("absent".to_owned(), Clone::clone);
                out.push(format!("{name}={}/{}", show(a), show(b)));
            }
        }
        out
    }
}

/// One artifact in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Entry {
    /// `module` or `component`.
    pub kind: Kind,
    /// The artifact's length in bytes.
    pub bytes: u64,
    /// The artifact's SHA-256, hex.
    pub sha256: String,
}

/// An input the compiler refused on the host: what it said. A run decides
/// a directive that expects exactly that refusal (`assert_invalid`,
/// `assert_malformed`) from it instead of compiling the input again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Refusal {
    /// `module` or `component`.
    pub kind: Kind,
    /// The compiler's error, its first line.
    pub error: String,
}

/// What an artifact holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A core module.
    Module,
    /// A component.
    Component,
}

/// An artifact directory's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The wasmtime version that compiled the artifacts.
    pub wasmtime: String,
    /// The runner version that wrote them.
    pub runner: String,
    /// The CPU they were compiled for.
    pub cpu: Cpu,
    /// Artifacts by key ([`key`]): the engine's settings and the input's
    /// bytes, hashed.
    pub artifacts: BTreeMap<String, Entry>,
    /// Inputs the compiler refused, by the same key.
    pub refused: BTreeMap<String, Refusal>,
}

/// A directory of artifacts: being written by `compile`, or read by a run.
pub struct Artifacts {
    dir: PathBuf,
    runner: String,
    cpu: Cpu,
    /// Entries (written so far, or read).
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Refusals (recorded so far, or read).
    refusals: Mutex<BTreeMap<String, Refusal>>,
    writing: bool,
    /// Inputs found in the manifest.
    pub hits: AtomicU64,
    /// Inputs not in it, compiled here instead.
    pub misses: AtomicU64,
    /// Inputs the compiler refused while writing (their refusal recorded),
    /// or that panicked it (nothing recorded: the run compiles them itself).
    pub refused: AtomicU64,
    /// Directives a run decided from a recorded refusal.
    pub refusals_used: AtomicU64,
}

impl std::fmt::Debug for Artifacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Artifacts")
            .field("dir", &self.dir)
            .field("triple", &self.cpu.triple)
            .field("artifacts", &self.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for Artifacts {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}
impl Eq for Artifacts {}

/// The key of `wasm` compiled by `engine`: SHA-256 over the engine's
/// compilation settings (wasmtime's own compatibility hash: target, flags,
/// tunables, proposals, version) and the input, hex. The same on every
/// host for the same settings.
pub fn key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = Portable(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.update((wasm.len() as u64).to_le_bytes());
    h.0.update(wasm);
    hex(&h.0.finalize())
}

/// A `Hasher` feeding SHA-256 with every integer little-endian, so a hash
/// computed on s390x (big-endian) equals the one computed on x86_64.
struct Portable(Sha256);

impl Hasher for Portable {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.update([i]);
    }
    fn write_u16(&mut self, i: u16) {
        self.0.update(i.to_le_bytes());
    }
    fn write_u32(&mut self, i: u32) {
        self.0.update(i.to_le_bytes());
    }
    fn write_u64(&mut self, i: u64) {
        self.0.update(i.to_le_bytes());
    }
    fn write_u128(&mut self, i: u128) {
        self.0.update(i.to_le_bytes());
    }
    fn write_usize(&mut self, i: usize) {
        self.0.update((i as u64).to_le_bytes());
    }
    fn write_i8(&mut self, i: i8) {
        self.write_u8(i as u8);
    }
    fn write_i16(&mut self, i: i16) {
        self.write_u16(i as u16);
    }
    fn write_i32(&mut self, i: i32) {
        self.write_u32(i as u32);
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_i128(&mut self, i: i128) {
        self.write_u128(i as u128);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as u64);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl Artifacts {
    /// Starts writing artifacts for `cpu` into `dir` (created; an existing
    /// manifest there is replaced when [`Artifacts::finish`] runs).
    pub fn create(dir: &Path, cpu: Cpu, runner: &str) -> Result<Artifacts, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Artifacts {
            dir: dir.to_owned(),
            runner: runner.to_owned(),
            cpu,
            entries: Mutex::default(),
            refusals: Mutex::default(),
            writing: true,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refusals_used: AtomicU64::new(0),
        })
    }

    /// Opens a directory `compile` wrote, for `runner` (its version must be
    /// the one that wrote it).
    pub fn open(dir: &Path, runner: &str) -> Result<Artifacts, String> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}; write it with `tierwatch-runner compile`", path.display()))?;
        let mismatch = |what: &str, theirs: &str, ours: &str| {
            format!("{}: written by {what} {theirs}, this runner has {ours}; compile again", path.display())
        };
        // The format first: another format's fields are not this one's.
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        let f: Format = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if f.format != FORMAT {
            return Err(mismatch("manifest format", &f.format.to_string(), &FORMAT.to_string()));
        }
        let m: Manifest = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if m.wasmtime != crate::WASMTIME_VERSION {
            return Err(mismatch("wasmtime", &m.wasmtime, crate::WASMTIME_VERSION));
        }
        if m.runner != runner {
            return Err(mismatch("runner", &m.runner, runner));
        }
        m.cpu.arch().map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Artifacts {
            dir: dir.to_owned(),
            runner: m.runner,
            cpu: m.cpu,
            entries: Mutex::new(m.artifacts),
            refusals: Mutex::new(m.refused),
            writing: false,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refusals_used: AtomicU64::new(0),
        })
    }

    /// The CPU the artifacts are for.
    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many artifacts there are.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, by key.
    pub fn entries(&self) -> Vec<(String, Entry)> {
        self.lock().iter().map(|(k, e)| (k.clone(), e.clone())).collect()
    }

    /// The entry stored under `key`.
    pub fn entry(&self, key: &str) -> Option<Entry> {
        self.lock().get(key).cloned()
    }

    /// Every recorded refusal, by key.
    pub fn refusals(&self) -> Vec<(String, Refusal)> {
        self.refusals_lock().iter().map(|(k, r)| (k.clone(), r.clone())).collect()
    }

    /// The refusal recorded under `key`.
    pub fn refusal(&self, key: &str) -> Option<Refusal> {
        self.refusals_lock().get(key).cloned()
    }

    /// Whether the compiler refused `wasm` on `engine`'s settings when
    /// these artifacts were written (counted as used when it did).
    pub fn refused_on_host(&self, engine: &Engine, wasm: &[u8]) -> bool {
        let refused = self.refusals_lock().contains_key(&key(engine, wasm));
        if refused {
            self.refusals_used.fetch_add(1, Ordering::Relaxed);
        }
        refused
    }

    /// Refuses to run on a machine whose CPU is not the one the artifacts
    /// were compiled for, naming the flags that differ.
    pub fn check_cpu(&self, here: &Cpu) -> Result<(), String> {
        if self.cpu.triple != here.triple {
            return Err(format!(
                "the artifacts in {} are for {}, this machine is {}",
                self.dir.display(),
                self.cpu.triple,
                here.triple
            ));
        }
        let differ = self.cpu.differences(here);
        if !differ.is_empty() {
            return Err(format!(
                "the artifacts in {} were compiled for other CPU flags than this machine has (artifacts/here): {}; run `tierwatch-runner cpu` here and compile again",
                self.dir.display(),
                differ.join(", ")
            ));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn refusals_lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Refusal>> {
        self.refusals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Compiles `wasm` with `engine` (which targets [`Artifacts::cpu`]) and
    /// stores it. Returns whether it compiled; input the compiler refuses is
    /// not stored, its refusal is recorded (counted in `refused`). A panic
    /// is not a refusal: nothing is recorded, the run compiles it itself.
    pub fn save(&self, engine: &Engine, wasm: &[u8]) -> Result<bool, String> {
        if !self.writing {
            return Err(format!("{} was opened for reading", self.dir.display()));
        }
        let key = key(engine, wasm);
        if self.lock().contains_key(&key) {
            return Ok(true);
        }
        if self.refusals_lock().contains_key(&key) {
            return Ok(false);
        }
        let (kind, compiled) = if wasmparser::Parser::is_component(wasm) {
            (Kind::Component, crate::panics::catch(|| engine.precompile_component(wasm)))
        } else {
            (Kind::Module, crate::panics::catch(|| engine.precompile_module(wasm)))
        };
        let bytes = match compiled {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                let error = format!("{e:#}").lines().next().unwrap_or("").chars().take(500).collect();
                self.refusals_lock().insert(key, Refusal { kind, error });
                return Ok(false);
            }
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Ok(false);
            }
        };
        let path = self.dir.join(format!("{key}.cwasm"));
        std::fs::write(&path, &bytes).map_err(|e| format!("writing {}: {e}", path.display()))?;
        let entry = Entry { kind, bytes: bytes.len() as u64, sha256: sha256(&bytes) };
        self.lock().insert(key, entry);
        Ok(true)
    }

    /// Writes the manifest; the directory is then ready for a run.
    pub fn finish(&self) -> Result<PathBuf, String> {
        let manifest = Manifest {
            format: FORMAT,
            wasmtime: crate::WASMTIME_VERSION.to_owned(),
            runner: self.runner.clone(),
            cpu: self.cpu.clone(),
            artifacts: self.lock().clone(),
            refused: self.refusals_lock().clone(),
        };
        let path = self.dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
        let tmp = self.dir.join(format!("{MANIFEST}.tmp"));
        std::fs::write(&tmp, text).map_err(|e| format!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(path)
    }

    /// The artifact for `wasm` on `engine`, read and checked against the
    /// manifest; `None` when it has none.
    fn verified(&self, engine: &Engine, wasm: &[u8]) -> Result<Option<(Kind, Vec<u8>)>, String> {
        let key = key(engine, wasm);
        let Some(entry) = self.entry(&key) else { return Ok(None) };
        let path = self.dir.join(format!("{key}.cwasm"));
        if entry.bytes > MAX_ARTIFACT_BYTES {
            return Err(format!("{}: {} bytes, over the {MAX_ARTIFACT_BYTES}-byte limit", path.display(), entry.bytes));
        }
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.len() as u64 != entry.bytes || sha256(&bytes) != entry.sha256 {
            return Err(format!(
                "{}: its SHA-256 is not the manifest's: the file changed since `compile` wrote it; not loaded",
                path.display()
            ));
        }
        Ok(Some((entry.kind, bytes)))
    }

    /// Writes the verified artifact for `wasm` to `dest` (for wasmtime's
    /// wast runner). Returns whether there was one.
    pub fn place(&self, engine: &Engine, wasm: &[u8], dest: &Path) -> Result<bool, String> {
        match self.verified(engine, wasm)? {
            Some((_, bytes)) => {
                // wasmtime maps the file it loads: a module of an earlier
                // directive may still run from the one at `dest`, so it is
                // unlinked (its mapping stays valid), never overwritten.
                match std::fs::remove_file(dest) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(format!("removing {}: {e}", dest.display()));
                    }
                    _ => {}
                }
                std::fs::write(dest, bytes).map_err(|e| format!("writing {}: {e}", dest.display()))?;
                self.hits.fetch_add(1, Ordering::Relaxed);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Counts an input the run compiled itself.
    pub fn missed(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
}

/// `wasm` as a module on `engine`: loaded from `artifacts` when they hold
/// it, else compiled here.
pub fn module(artifacts: Option<&Artifacts>, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Module> {
    if let Some(a) = artifacts {
        match a.verified(engine, wasm).map_err(wasmtime::Error::msg)? {
            Some((Kind::Module, bytes)) => {
                a.hits.fetch_add(1, Ordering::Relaxed);
                // SAFETY: `verified` read bytes whose SHA-256 the manifest
                // this runner's `compile` wrote records (see the module
                // documentation); wasmtime checks the engine settings.
                return unsafe { Module::deserialize(engine, &bytes) };
            }
            Some((Kind::Component, _)) => wasmtime::bail!("the artifact for this module is a component"),
            None => a.missed(),
        }
    }
    Module::new(engine, wasm)
}

/// [`module`] for a component.
pub fn component(artifacts: Option<&Artifacts>, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
    if let Some(a) = artifacts {
        match a.verified(engine, wasm).map_err(wasmtime::Error::msg)? {
            Some((Kind::Component, bytes)) => {
                a.hits.fetch_add(1, Ordering::Relaxed);
                // SAFETY: as in `module`.
                return unsafe { Component::deserialize(engine, &bytes) };
            }
            Some((Kind::Module, _)) => wasmtime::bail!("the artifact for this component is a module"),
            None => a.missed(),
        }
    }
    Component::new(engine, wasm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(cpu: &Cpu) -> Engine {
        let mut c = Config::new();
        cpu.apply(&mut c).expect("a known triple");
        Engine::new(&c).expect("an engine for this CPU")
    }

    const WAT: &str = "(module (func (export \"f\") (result i32) i32.const 7))";

    #[test]
    fn native_cpu_names_this_host_and_its_flags() {
        let cpu = Cpu::native().expect("cranelift knows this host");
        assert!(cpu.is_host(), "{cpu:?}");
        assert!(!cpu.flags.is_empty(), "cranelift has ISA flags for {}", cpu.triple);
    }

    #[test]
    fn an_artifact_compiled_here_loads_and_runs_and_a_changed_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cpu = Cpu::native().expect("native");
        let e = engine(&cpu);
        let wasm = wat::parse_str(WAT).expect("wat");
        let w = Artifacts::create(dir.path(), cpu.clone(), "test").expect("create");
        assert!(w.save(&e, &wasm).expect("save"));
        let invalid = b"\0asm\x01\0\0\0\x05";
        assert!(!w.save(&e, invalid).expect("save refused input"), "invalid input is not stored");
        w.finish().expect("manifest");

        let r = Artifacts::open(dir.path(), "test").expect("open");
        r.check_cpu(&cpu).expect("same CPU");
        let m = module(Some(&r), &e, &wasm).expect("loaded");
        let mut store = wasmtime::Store::new(&e, ());
        let i = wasmtime::Instance::new(&mut store, &m, &[]).expect("instance");
        let f = i.get_typed_func::<(), i32>(&mut store, "f").expect("f");
        assert_eq!(f.call(&mut store, ()).expect("call"), 7);
        assert_eq!(r.hits.load(Ordering::Relaxed), 1);
        // The refusal is recorded with the compiler's words, by key.
        assert!(r.refused_on_host(&e, invalid), "{:?}", r.refusals());
        assert!(!r.refused_on_host(&e, &wasm), "a module that compiled was not refused");
        let refusal = r.refusal(&key(&e, invalid)).expect("recorded");
        assert!(!refusal.error.is_empty() && refusal.kind == Kind::Module, "{refusal:?}");

        // One byte changed on disk: refused before wasmtime sees it.
        let path = dir.path().join(format!("{}.cwasm", key(&e, &wasm)));
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).expect("write");
        let err = module(Some(&r), &e, &wasm).expect_err("changed artifact");
        assert!(format!("{err:#}").contains("SHA-256 is not the manifest's"), "{err:#}");

        // Another input is compiled here and counted.
        let other = wat::parse_str("(module)").expect("wat");
        module(Some(&r), &e, &other).expect("compiled here");
        assert_eq!(r.misses.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_manifest_from_another_runner_or_cpu_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cpu = Cpu::native().expect("native");
        Artifacts::create(dir.path(), cpu.clone(), "1.0.0").expect("create").finish().expect("manifest");
        let err = Artifacts::open(dir.path(), "2.0.0").expect_err("other runner");
        assert!(err.contains("written by runner 1.0.0, this runner has 2.0.0"), "{err}");

        let r = Artifacts::open(dir.path(), "1.0.0").expect("open");
        let mut other = cpu.clone();
        let (name, value) = other.flags.iter().next().map(|(k, v)| (k.clone(), v.clone())).expect("a flag");
        other.flags.insert(name.clone(), if value == "true" { "false".into() } else { "true".into() });
        let err = r.check_cpu(&other).expect_err("other flags");
        assert!(err.contains(&name), "{err}");

        let text = std::fs::read_to_string(dir.path().join(MANIFEST)).expect("read");
        std::fs::write(dir.path().join(MANIFEST), text.replacen("\"format\"", "\"extra\": 1, \"format\"", 1))
            .expect("write");
        let err = Artifacts::open(dir.path(), "1.0.0").expect_err("unknown key");
        assert!(err.contains("unknown field `extra`"), "{err}");

        // An older format is named as such, not as a missing field.
        let old = text.replacen("\"format\": 2", "\"format\": 1", 1).replacen("\"refused\": {}", "\"x\": 0", 1);
        std::fs::write(dir.path().join(MANIFEST), old).expect("write");
        let err = Artifacts::open(dir.path(), "1.0.0").expect_err("format 1");
        assert!(err.contains("written by manifest format 1, this runner has 2; compile again"), "{err}");
    }

    #[test]
    fn keys_differ_by_engine_settings_and_input() {
        let cpu = Cpu::native().expect("native");
        let a = engine(&cpu);
        let mut c = Config::new();
        cpu.apply(&mut c).expect("triple");
        c.consume_fuel(true);
        let b = Engine::new(&c).expect("engine");
        let wasm = wat::parse_str(WAT).expect("wat");
        assert_eq!(key(&a, &wasm), key(&engine(&cpu), &wasm), "same settings, same key");
        assert_ne!(key(&a, &wasm), key(&b, &wasm), "fuel changes the code");
        assert_ne!(key(&a, &wasm), key(&a, b"\0asm\x01\0\0\0"));
    }
}
