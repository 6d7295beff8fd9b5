//! The work a runner does, each producing parts of a run report: spec
//! scripts, WASI programs and fuzz campaigns, on one compiler.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use engine::fuzz::{Budget, CampaignSpec, Judges, PROPOSALS, Proposal};
use engine::{Compiler, Profile};
use jiff::Timestamp;
use matrix::RunReport;
use matrix::evidence::{FuzzCampaign, Outcome, SpecFile, WasiTest};

use crate::progress::Progress;
use crate::suites::{Filter, Testsuite};

/// Builds the engine profile for `compiler` with `options`
/// (`crate::host::engine_options` for this host).
pub fn profile(compiler: Compiler, options: &engine::Options) -> anyhow::Result<Profile> {
    let p = Profile::build(compiler, options).map_err(|e| anyhow::anyhow!("building the {compiler} engine: {e:#}"))?;
    Ok(p)
}

/// Worker threads: the machine's parallelism.
pub fn threads() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// Runs the spec scripts `testsuite` has (filtered) on `profile`.
pub fn spec(profile: &Profile, testsuite: &Testsuite, filter: &Filter) -> Vec<SpecFile> {
    let mut all = Vec::new();
    for (suite, files) in testsuite.spec_files(filter) {
        let progress = Progress::new(&format!("{suite} {}", profile.compiler), files.len() as u64);
        let read = |file: &str| testsuite.read(&suite, file);
        let done = |f: &SpecFile| progress.tick(f.directives.iter().any(|d| d.outcome == Outcome::Fail));
        all.extend(engine::suite::run_files(profile, &suite, &files, threads(), &read, &done));
        progress.finish();
    }
    all
}

/// Runs the WASI programs under `root` (filtered by `suite/test`), each
/// allowed `limit`.
pub fn wasi(profile: &Profile, root: &Path, filter: &Filter, limit: Duration) -> Vec<WasiTest> {
    let cases: Vec<_> = engine::wasi::discover(root)
        .into_iter()
        .filter(|c| filter.allows(&format!("{}/{}", c.suite, c.name)))
        .collect();
    let progress = Progress::new(&format!("wasi {}", profile.compiler), cases.len() as u64);
    let results: Vec<WasiTest> = cases
        .iter()
        .map(|c| {
            let r = engine::wasi::run_case_within(profile, c, limit);
            progress.tick(r.outcome == Outcome::Fail);
            r
        })
        .collect();
    progress.finish();
    results
}

/// Fuzz settings.
#[derive(Debug, Clone)]
pub struct FuzzPlan {
    /// Proposals (policy ids); empty means every one.
    pub proposals: Vec<String>,
    /// Per-campaign budget.
    pub budget: Budget,
    /// Seed of the first campaign (each proposal's seed is derived from it).
    pub seed: u64,
    /// Where reproducers are written.
    pub crash_dir: Option<PathBuf>,
}

/// The proposals a plan names, or an error naming the known ones.
pub fn proposals(names: &[String]) -> anyhow::Result<Vec<&'static Proposal>> {
    if names.is_empty() {
        return Ok(PROPOSALS.iter().collect());
    }
    names
        .iter()
        .map(|n| {
            engine::fuzz::proposal(n).ok_or_else(|| {
                let known: Vec<&str> = PROPOSALS.iter().map(|p| p.id).collect();
                anyhow::anyhow!("--proposal {n}: not a fuzzable proposal; use one of {}", known.join(", "))
            })
        })
        .collect()
}

/// The campaigns a plan makes with `cranelift` as the engine under test:
/// one per proposal, seeds counted up from the plan's. A proposal the
/// engine refuses on this target gets none (its spec scripts show the
/// refusal); fuzzing it would report every module.
pub fn campaigns(plan: &FuzzPlan, cranelift: &Profile) -> anyhow::Result<Vec<CampaignSpec>> {
    let proposals: Vec<&'static Proposal> = proposals(&plan.proposals)?
        .into_iter()
        .filter(|p| match p.wasmtime_flag.filter(|f| cranelift.disabled.contains(f)) {
            Some(flag) => {
                eprintln!("fuzz {}: skipped, the engine refuses {flag} on this target", p.id);
                false
            }
            None => true,
        })
        .collect();
    Ok(proposals
        .into_iter()
        .enumerate()
        .map(|(i, p)| CampaignSpec {
            proposal: p,
            seed: plan.seed.wrapping_add(i as u64),
            budget: plan.budget,
            shrink_attempts: 500,
        })
        .collect())
}

/// Runs one campaign per proposal ([`campaigns`]), in parallel across cores.
pub fn fuzz(plan: &FuzzPlan, options: &engine::Options) -> anyhow::Result<Vec<FuzzCampaign>> {
    let (cranelift, winch) = engine::fuzz::fuzz_profiles(options);
    let specs = campaigns(plan, &cranelift)?;
    let progress = Progress::new("fuzz", specs.len() as u64);
    let results = engine::parallel::map(&specs, threads(), |_, spec| {
        let judges = Judges::choose(spec.proposal, &cranelift, winch.as_ref());
        let result = engine::fuzz::run_campaign(spec, &judges);
        progress.tick(!result.crashes.is_empty());
        result
    });
    progress.finish();
    let mut campaigns = Vec::new();
    for r in results {
        if let Some(dir) = &plan.crash_dir {
            for c in &r.crashes {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                // Signatures are per bug, not per campaign: the proposal
                // keeps two campaigns' reproducers apart.
                let proposal = r.evidence.name.rsplit('/').next().unwrap_or("campaign");
                let path = dir.join(format!("{proposal}-{}.wasm", c.crash.signature));
                std::fs::write(&path, &c.reproducer).with_context(|| format!("writing {}", path.display()))?;
                eprintln!(
                    "fuzz {}: crash {} (x{}) -> {}",
                    r.evidence.name,
                    c.crash.signature,
                    c.crash.count,
                    path.display()
                );
            }
        }
        if r.reference_faults > 0 {
            eprintln!(
                "fuzz {}: {} input(s) skipped because the reference engine itself failed on them",
                r.evidence.name, r.reference_faults
            );
        }
        campaigns.push(r.evidence);
    }
    Ok(campaigns)
}

/// A budget from `--seconds` / `--iterations`.
pub fn budget(seconds: Option<f64>, iterations: Option<u64>) -> anyhow::Result<Budget> {
    Ok(match (iterations, seconds) {
        (Some(n), _) => Budget::Iterations(n),
        (None, Some(s)) => Budget::Time(
            Duration::try_from_secs_f64(s)
                .map_err(|_| anyhow::anyhow!("--seconds {s}: give a non-negative number of seconds"))?,
        ),
        (None, None) => Budget::Time(Duration::from_secs(60)),
    })
}

/// A run id: runner, target, compiler and start time, in the wire format's
/// character set.
pub fn run_id(runner: &str, compiler: Compiler, started: Timestamp) -> String {
    let clean = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' }).collect::<String>()
    };
    let stamp = started.strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    let id = format!("{}.{}.{}.{}", clean(runner), crate::host::TARGET, compiler, clean(&stamp));
    id.chars().take(128).collect()
}

/// Who runs the work: the runner's name in reports, and the run
/// dimensions (`--dimension build=no_std`) its reports carry.
#[derive(Debug, Clone, Default)]
pub struct Runner {
    /// The name reports carry.
    pub name: String,
    /// Dimension values beyond target and compiler.
    pub dimensions: std::collections::BTreeMap<String, String>,
}

impl Runner {
    /// Parses `NAME=VALUE` dimension settings: each name once, names and
    /// values 1 to 64 characters of a-z 0-9 _ -.
    pub fn with_dimensions(name: String, settings: &[String]) -> anyhow::Result<Runner> {
        let mut dimensions = std::collections::BTreeMap::new();
        for s in settings {
            let (k, v) = s
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--dimension `{s}`: write NAME=VALUE, e.g. build=no_std"))?;
            for word in [k, v] {
                anyhow::ensure!(
                    matrix::evidence::is_dimension_word(word),
                    "--dimension `{s}`: `{word}` is not 1 to 64 characters of a-z 0-9 _ -"
                );
            }
            anyhow::ensure!(
                dimensions.insert(k.to_owned(), v.to_owned()).is_none(),
                "--dimension `{k}` is given twice"
            );
        }
        anyhow::ensure!(
            dimensions.len() <= matrix::evidence::MAX_DIMENSIONS,
            "{} dimensions; a report carries at most {}",
            dimensions.len(),
            matrix::evidence::MAX_DIMENSIONS
        );
        Ok(Runner { name, dimensions })
    }
}

/// The report of one compiler's work.
pub fn report(runner: &Runner, profile: &Profile, started: Timestamp, parts: Parts) -> RunReport {
    let provenance = engine::suite::Provenance {
        run_id: run_id(&runner.name, profile.compiler, started),
        runner: runner.name.clone(),
        target: crate::host::target_info(),
    };
    let mut report = engine::suite::report(&provenance, profile, started, parts.spec);
    report.dimensions = runner.dimensions.clone();
    report.runner.version = env!("CARGO_PKG_VERSION").to_owned();
    report.runner.host = Some(crate::host::hostname());
    report.wasi = parts.wasi;
    report.fuzz = parts.fuzz;
    report.finished_at = Timestamp::now().max(started);
    report
}

/// The results going into one report.
#[derive(Debug, Default)]
pub struct Parts {
    /// Spec files.
    pub spec: Vec<SpecFile>,
    /// WASI tests.
    pub wasi: Vec<WasiTest>,
    /// Fuzz campaigns.
    pub fuzz: Vec<FuzzCampaign>,
}

/// Writes the report (and JUnit next to it when asked); returns the JSON.
pub fn write(report: &RunReport, output: &Path, junit: Option<&Path>) -> anyhow::Result<Vec<u8>> {
    report.check().map_err(|e| anyhow::anyhow!("the report this runner made is invalid: {e}"))?;
    let json = serde_json::to_vec_pretty(report)?;
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(output, &json).with_context(|| format!("writing {}", output.display()))?;
    if let Some(junit) = junit {
        std::fs::write(junit, crate::junit::render(report)).with_context(|| format!("writing {}", junit.display()))?;
    }
    Ok(json)
}

/// A one-line summary of a report.
pub fn summary(report: &RunReport) -> String {
    let directives: Vec<_> = report.spec.iter().flat_map(|f| &f.directives).collect();
    let count = |o: Outcome| directives.iter().filter(|d| d.outcome == o).count();
    let wasi_pass = report.wasi.iter().filter(|t| t.outcome == Outcome::Pass).count();
    let crashes: usize = report.fuzz.iter().map(|c| c.crashes.len()).sum();
    format!(
        "{} on {}{}: spec {} files, {} pass / {} fail / {} no-evidence directives; wasi {}/{} pass; fuzz {} campaigns, {} crash signatures",
        report.engine.compiler,
        report.target.triple,
        report.target.emulator.as_deref().map(|e| format!(" (emulated by {e})")).unwrap_or_default(),
        report.spec.len(),
        count(Outcome::Pass),
        count(Outcome::Fail),
        directives.iter().filter(|d| d.outcome.is_no_evidence()).count(),
        wasi_pass,
        report.wasi.len(),
        report.fuzz.len(),
        crashes
    )
}
