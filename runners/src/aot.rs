//! The emulated targets' fast mode: `compile` on the build host (every
//! module and component of a run, for the target's CPU), `run
//! --precompiled` on the target, and `identity`, which proves on the target
//! that both ways give the same code and the same verdicts.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use engine::precompiled::{Artifacts, Cpu};
use engine::{Compiler, Options, Profile};
use matrix::evidence::SpecFile;

use crate::suites::{Filter, Testsuite};
use crate::work::{self, FuzzPlan};

/// The run dimension a report made from precompiled code carries
/// (`compiled-on=host`); its default, `target`, is code compiled where it ran.
pub const DIMENSION: &str = "compiled-on";

/// The runner's version, which the artifacts' manifest must name.
pub const RUNNER: &str = env!("CARGO_PKG_VERSION");

/// What `compile` compiled.
#[derive(Debug, Default)]
pub struct Compiled {
    /// Spec and component scripts.
    pub scripts: usize,
    /// WASI programs.
    pub programs: usize,
    /// Fuzz inputs that made a module.
    pub fuzz_modules: u64,
}

/// Compiles the run's code for `cpu` into `out`: the spec scripts and WASI
/// programs the filter selects on each of `compilers` that compiles for
/// that target, and with `fuzz` the campaigns' modules.
pub fn compile(
    cpu: Cpu,
    out: &Path,
    (testsuite, filter): (&Testsuite, &Filter),
    compilers: &[Compiler],
    fuzz: Option<&FuzzPlan>,
) -> anyhow::Result<Compiled> {
    let artifacts = Arc::new(Artifacts::create(out, cpu.clone(), RUNNER).map_err(anyhow::Error::msg)?);
    let options = Options { cpu: Some(cpu.clone()), ..crate::host::engine_options_for(&cpu) };
    let mut done = Compiled::default();
    for &compiler in compilers {
        let profile = work::profile(compiler, &options)?;
        if !profile.runs() {
            eprintln!("compile: {compiler} does not compile for {}; its run will say so", cpu.triple);
            continue;
        }
        done.scripts += spec(&profile, &artifacts, testsuite, filter)?;
        if let Some(root) = testsuite.wasi_root() {
            done.programs += wasi(&profile, &artifacts, &root, filter)?;
        }
    }
    if let Some(plan) = fuzz {
        let (cranelift, winch) = engine::fuzz::fuzz_profiles(&options);
        for spec in work::campaigns(plan, &cranelift)? {
            let judges = engine::fuzz::Judges::choose(spec.proposal, &cranelift, winch.as_ref());
            done.fuzz_modules +=
                engine::fuzz::precompile_campaign(&spec, &judges, &artifacts).map_err(anyhow::Error::msg)?;
        }
    }
    artifacts.finish().map_err(anyhow::Error::msg)?;
    eprintln!(
        "compile: {} artifacts for {} in {} ({} inputs the compiler refused: a directive expecting that refusal is decided by it, any other compiles here)",
        artifacts.len(),
        cpu.triple,
        out.display(),
        artifacts.refused.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(done)
}

fn spec(profile: &Profile, artifacts: &Artifacts, testsuite: &Testsuite, filter: &Filter) -> anyhow::Result<usize> {
    let mut n = 0;
    for (suite, files) in testsuite.spec_files(filter) {
        let results = engine::parallel::map(&files, work::threads(), |_, file| {
            let text = testsuite.read(&suite, file)?;
            engine::wast::precompile_wast(profile, artifacts, &suite, file, &text)
        });
        for r in results {
            r.map_err(anyhow::Error::msg)?;
            n += 1;
        }
    }
    Ok(n)
}

fn wasi(profile: &Profile, artifacts: &Artifacts, root: &Path, filter: &Filter) -> anyhow::Result<usize> {
    let engine = profile.timed_engine().map_err(|e| anyhow::anyhow!("building the engine: {e:#}"))?;
    let cases: Vec<_> = engine::wasi::discover(root)
        .into_iter()
        .filter(|c| filter.allows(&format!("{}/{}", c.suite, c.name)))
        .collect();
    let results = engine::parallel::map(&cases, work::threads(), |_, case| {
        let bytes = std::fs::read(&case.wasm).map_err(|e| format!("{}: {e}", case.wasm.display()))?;
        artifacts.save(&engine, &bytes)
    });
    for r in &results {
        r.clone().map_err(anyhow::Error::msg)?;
    }
    Ok(results.len())
}

/// Opens `dir` for a run on this machine: the manifest must be this
/// runner's and its CPU this machine's, exactly.
pub fn open(dir: &Path) -> anyhow::Result<Arc<Artifacts>> {
    let artifacts = Artifacts::open(dir, RUNNER).map_err(anyhow::Error::msg)?;
    let here = Cpu::native().map_err(anyhow::Error::msg)?;
    artifacts.check_cpu(&here).map_err(anyhow::Error::msg)?;
    Ok(Arc::new(artifacts))
}

/// Engine options that load from `artifacts`, compiling for their CPU.
pub fn options(artifacts: &Arc<Artifacts>) -> Options {
    let cpu = artifacts.cpu().clone();
    Options { artifacts: Some(artifacts.clone()), cpu: Some(cpu.clone()), ..crate::host::engine_options_for(&cpu) }
}

/// Says how much of the run came from the artifacts.
pub fn report_use(artifacts: &Artifacts) {
    use std::sync::atomic::Ordering::Relaxed;
    eprintln!(
        "precompiled: {} modules and components loaded from {}, {} refusals of its compiler used, {} compiled here (not in it)",
        artifacts.hits.load(Relaxed),
        artifacts.dir().display(),
        artifacts.refusals_used.load(Relaxed),
        artifacts.misses.load(Relaxed)
    );
}

/// What the identity check found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// Artifacts compiled here that the host compiled too.
    pub artifacts: usize,
    /// Of those, byte for byte the same.
    pub identical_artifacts: usize,
    /// Inputs the compiler refused here.
    pub refusals: usize,
    /// Of those, refused by the host's compiler too.
    pub identical_refusals: usize,
    /// Directives run both ways.
    pub directives: usize,
    /// Of those, with the same outcome and message.
    pub identical_directives: usize,
    /// Each difference, said.
    pub differences: Vec<String>,
}

impl Identity {
    /// Whether both ways gave the same everywhere.
    pub fn holds(&self) -> bool {
        self.differences.is_empty() && self.artifacts > 0 && self.directives > 0
    }
}

/// Every `step`-th of the scripts the filter selects (at most `sample`).
pub fn sample(testsuite: &Testsuite, filter: &Filter, sample: usize) -> Vec<(String, String)> {
    let all: Vec<(String, String)> = testsuite
        .spec_files(filter)
        .into_iter()
        .flat_map(|(suite, files)| files.into_iter().map(move |f| (suite.clone(), f)))
        .collect();
    let step = all.len().div_ceil(sample.max(1)).max(1);
    all.into_iter().step_by(step).collect()
}

/// On the target: compiles the `scripts` here (cranelift detecting this
/// machine, as a plain run does) and compares each artifact with the
/// host's byte for byte, then runs them both ways on `compiler` and
/// compares every directive's outcome and message.
pub fn identity(
    host: &Arc<Artifacts>,
    testsuite: &Testsuite,
    scripts: &[(String, String)],
    compiler: Compiler,
) -> anyhow::Result<Identity> {
    let mut found = Identity::default();
    let plain = crate::host::engine_options();
    let here_dir = tempfile::tempdir()?;
    let here_cpu = Cpu::native().map_err(anyhow::Error::msg)?;
    let here = Artifacts::create(here_dir.path(), here_cpu, RUNNER).map_err(anyhow::Error::msg)?;
    let native = work::profile(compiler, &plain)?;
    let texts: Vec<String> = scripts
        .iter()
        .map(|(suite, file)| testsuite.read(suite, file))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    for ((suite, file), text) in scripts.iter().zip(&texts) {
        engine::wast::precompile_wast(&native, &here, suite, file, text).map_err(anyhow::Error::msg)?;
    }
    compare_artifacts(host, &here, &mut found);
    eprintln!("identity: compiled {} artifacts here in {:.1} s", found.artifacts, started.elapsed().as_secs_f64());

    let fast = work::profile(compiler, &options(host))?;
    for ((suite, file), text) in scripts.iter().zip(&texts) {
        let a = engine::run_wast(&native, suite, file, text);
        let b = engine::run_wast(&fast, suite, file, text);
        compare_directives(&a, &b, &mut found);
    }
    Ok(found)
}

fn compare_artifacts(host: &Artifacts, here: &Artifacts, found: &mut Identity) {
    for (key, entry) in here.entries() {
        found.artifacts += 1;
        match host.entry(&key) {
            Some(h) if h.sha256 == entry.sha256 => found.identical_artifacts += 1,
            Some(h) => found.differences.push(format!(
                "artifact {key}: {} bytes here, {} bytes from the host, not identical",
                entry.bytes, h.bytes
            )),
            None => found.differences.push(format!(
                "artifact {key}: compiled here, absent from the host's (its engine settings or CPU flags differ)"
            )),
        }
    }
    for (key, refusal) in here.refusals() {
        found.refusals += 1;
        match (host.refusal(&key), host.entry(&key)) {
            (Some(_), _) => found.identical_refusals += 1,
            (None, Some(_)) => {
                found.differences.push(format!("input {key}: refused here ({}), compiled by the host", refusal.error))
            }
            (None, None) => found
                .differences
                .push(format!("input {key}: refused here ({}), unknown to the host's compile", refusal.error)),
        }
    }
    for (key, refusal) in host.refusals() {
        if here.entry(&key).is_some() {
            found.differences.push(format!("input {key}: compiled here, refused by the host ({})", refusal.error));
        }
    }
}

fn compare_directives(plain: &SpecFile, fast: &SpecFile, found: &mut Identity) {
    let name = format!("{}/{}", plain.suite, plain.file);
    if plain.directives.len() != fast.directives.len() {
        found.differences.push(format!(
            "{name}: {} directives compiled here, {} precompiled",
            plain.directives.len(),
            fast.directives.len()
        ));
    }
    for (a, b) in plain.directives.iter().zip(&fast.directives) {
        found.directives += 1;
        if (a.line, &a.kind, a.outcome, &a.message) == (b.line, &b.kind, b.outcome, &b.message) {
            found.identical_directives += 1;
        } else {
            found.differences.push(format!(
                "{name}:{} {}: {:?} {:?} compiled here, {:?} {:?} precompiled",
                a.line, a.kind, a.outcome, a.message, b.outcome, b.message
            ));
        }
    }
}
