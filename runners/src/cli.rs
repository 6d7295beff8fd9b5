//! The `tierwatch-runner` command line. Every flag is also an environment
//! variable, so CI systems can configure a runner without changing its
//! command.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use engine::Compiler;
use jiff::Timestamp;

use crate::spool::Spool;
use crate::suites::{Filter, Testsuite};
use crate::upload::{Server, Tally};
use crate::work::{self, FuzzPlan, Parts};

/// Runs tierwatch's engine suites and fuzz campaigns on this target and
/// uploads the evidence.
#[derive(Debug, Parser)]
#[command(name = "tierwatch-runner", version, about)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command shares.
#[derive(Debug, Args)]
struct Global {
    /// The server's base URL, e.g. http://tierwatch.example:8080.
    #[arg(long, global = true, env = "TIERWATCH_SERVER")]
    server: Option<String>,
    /// A runner-role token (`tierwatch token create --role runner`).
    #[arg(long, global = true, env = "TIERWATCH_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where undelivered reports wait [default: $XDG_STATE_HOME/tierwatch/spool].
    #[arg(long, global = true, env = "TIERWATCH_SPOOL")]
    spool_dir: Option<PathBuf>,
    /// This runner's name in reports [default: the host name].
    #[arg(long, global = true, env = "TIERWATCH_RUNNER_NAME")]
    runner_name: Option<String>,
    /// A run dimension this runner's reports carry, as NAME=VALUE (e.g.
    /// `build=no_std`); the server's policy must declare it. Repeatable.
    #[arg(long = "dimension", global = true, env = "TIERWATCH_DIMENSIONS", value_delimiter = ',')]
    dimensions: Vec<String>,
    /// Upload attempts per report before it is spooled.
    #[arg(long, global = true, env = "TIERWATCH_UPLOAD_ATTEMPTS", default_value_t = 4)]
    upload_attempts: u32,
    /// Delay before the first upload retry, in milliseconds (doubles each time).
    #[arg(long, global = true, env = "TIERWATCH_UPLOAD_BACKOFF_MS", default_value_t = 500)]
    upload_backoff_ms: u64,
}

/// Where test data comes from and which of it runs.
#[derive(Debug, Args)]
struct Data {
    /// A testsuite checkout (wasm-spec/, component-model/, wasi/tests/)
    /// [default: ../shared/testsuites if present, else the bundled spec scripts].
    #[arg(long, env = "TIERWATCH_TESTSUITES")]
    testsuite: Option<PathBuf>,
    /// Only tests matching these globs, e.g. `wasm-spec/simd_*.wast` or `c/*`.
    #[arg(long, env = "TIERWATCH_FILTER", value_delimiter = ',')]
    filter: Vec<String>,
    /// A file of such globs, one per line (`#` comments), added to --filter.
    #[arg(long, env = "TIERWATCH_FILTER_FILE")]
    filter_file: Option<PathBuf>,
    /// Seconds a WASI program may run before it counts as `timeout`.
    #[arg(long, env = "TIERWATCH_TEST_TIMEOUT", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    test_timeout: u64,
}

impl Data {
    fn filter(&self) -> anyhow::Result<Filter> {
        let mut patterns = self.filter.clone();
        if let Some(path) = &self.filter_file {
            let text =
                std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("--filter-file {}: {e}", path.display()))?;
            patterns.extend(
                text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned),
            );
        }
        Filter::new(&patterns)
    }
}

/// Where a single report goes.
#[derive(Debug, Args)]
struct Output {
    /// The evidence report (JSON).
    #[arg(long, short, env = "TIERWATCH_OUTPUT")]
    output: Option<PathBuf>,
    /// JUnit XML of the same results.
    #[arg(long, env = "TIERWATCH_JUNIT")]
    junit: Option<PathBuf>,
}

/// Fuzzing settings.
#[derive(Debug, Args)]
struct Fuzzing {
    /// Proposals to fuzz (policy feature ids) [default: all].
    #[arg(long = "proposal", env = "TIERWATCH_FUZZ_PROPOSALS", value_delimiter = ',')]
    proposals: Vec<String>,
    /// Seconds per campaign.
    #[arg(long, env = "TIERWATCH_FUZZ_SECONDS")]
    seconds: Option<f64>,
    /// Inputs per campaign (instead of a time budget).
    #[arg(long, env = "TIERWATCH_FUZZ_ITERATIONS", conflicts_with = "seconds")]
    iterations: Option<u64>,
    /// The first campaign's seed [default: from the clock].
    #[arg(long, env = "TIERWATCH_FUZZ_SEED")]
    seed: Option<u64>,
    /// Where crash reproducers are written.
    #[arg(long, env = "TIERWATCH_CRASH_DIR", default_value = "tierwatch-crashes")]
    crashes: PathBuf,
}

/// One suite on one compiler, into one report.
#[derive(Debug, Args)]
struct OneSuite {
    #[command(flatten)]
    data: Data,
    /// The compiler.
    #[arg(long, env = "TIERWATCH_COMPILER", default_value = "cranelift")]
    compiler: Compiler,
    #[command(flatten)]
    output: Output,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the spec (.wast) scripts.
    Spec(OneSuite),
    /// Run the WASI testsuite programs.
    Wasi(OneSuite),
    /// Run fuzz campaigns (Cranelift as the engine under test).
    Fuzz {
        #[command(flatten)]
        fuzz: Fuzzing,
        #[command(flatten)]
        output: Output,
    },
    /// Run everything for every compiler that runs here, then upload.
    Run {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        fuzz: Fuzzing,
        /// Compilers [default: those that run on this target].
        #[arg(long, env = "TIERWATCH_COMPILERS", value_delimiter = ',')]
        compilers: Vec<Compiler>,
        /// Skip fuzzing.
        #[arg(long, env = "TIERWATCH_NO_FUZZ")]
        no_fuzz: bool,
        /// Directory for the reports and JUnit files.
        #[arg(long, env = "TIERWATCH_OUT_DIR", default_value = "tierwatch-reports")]
        out_dir: PathBuf,
        /// Write the reports but do not upload them.
        #[arg(long, env = "TIERWATCH_NO_UPLOAD")]
        no_upload: bool,
        /// Load the code `compile` wrote into this directory for this
        /// machine instead of compiling it here; the reports carry the
        /// dimension `compiled-on=host`.
        #[arg(long, env = "TIERWATCH_PRECOMPILED")]
        precompiled: Option<PathBuf>,
    },
    /// Upload report files; with --spool, resend the spooled ones too.
    Upload {
        /// Report files.
        files: Vec<PathBuf>,
        /// Resend everything in the spool.
        #[arg(long = "spool")]
        from_spool: bool,
    },
    /// Run the spec and component scripts on each compiler and print
    /// tierwatch's verdict on each next to what wasmtime's own harness
    /// (v48.0.0) expects of it here; exits 1 on any disagreement.
    Agree {
        #[command(flatten)]
        data: Data,
        /// Compilers [default: those that run on this target].
        #[arg(long, env = "TIERWATCH_COMPILERS", value_delimiter = ',')]
        compilers: Vec<Compiler>,
    },
    /// Print this machine's CPU as the code generator sees it (JSON), for
    /// `compile --cpu` on a build host.
    Cpu,
    /// Compile every module and component of a run for another machine's
    /// CPU (written by `cpu` there), so that a run there (`run
    /// --precompiled`) only loads, instantiates and executes.
    Compile {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        fuzz: Fuzzing,
        /// Compilers [default: cranelift and winch, where they compile for the target].
        #[arg(long, env = "TIERWATCH_COMPILERS", value_delimiter = ',')]
        compilers: Vec<Compiler>,
        /// Compile no fuzz inputs.
        #[arg(long, env = "TIERWATCH_NO_FUZZ")]
        no_fuzz: bool,
        /// The target's CPU, as `tierwatch-runner cpu` printed it there.
        #[arg(long)]
        cpu: PathBuf,
        /// The artifact directory to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// On the target: compile a sample of scripts here and compare the
    /// code with the host's byte for byte, run them both ways and compare
    /// every directive's outcome; exits 1 on any difference.
    Identity {
        #[command(flatten)]
        data: Data,
        /// The artifact directory `compile` wrote for this machine.
        #[arg(long)]
        precompiled: PathBuf,
        /// How many scripts to check (spread over the filtered ones).
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        sample: u64,
        /// The compiler.
        #[arg(long, default_value = "cranelift")]
        compiler: Compiler,
    },
    /// Say what this runner sees: target, emulation, CPU, engine, data, server.
    Doctor {
        #[command(flatten)]
        data: Data,
    },
    /// Replay a crash reproducer written by a fuzz campaign.
    Replay {
        /// The reproducer (.wasm).
        file: PathBuf,
    },
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.global;
    let mut dimensions = g.dimensions.clone();
    let mut options = crate::host::engine_options();
    let mut artifacts = None;
    if let Command::Run { precompiled: Some(dir), .. } = &cli.command {
        let a = crate::aot::open(dir)?;
        options = crate::aot::options(&a);
        dimensions.push(format!("{}=host", crate::aot::DIMENSION));
        artifacts = Some(a);
    }
    let runner =
        work::Runner::with_dimensions(g.runner_name.clone().unwrap_or_else(crate::host::hostname), &dimensions)?;
    let options = &options;
    match cli.command {
        Command::Spec(OneSuite { data, compiler, output }) => {
            let testsuite = Testsuite::resolve(data.testsuite.as_deref())?;
            let filter = data.filter()?;
            let started = Timestamp::now();
            let profile = work::profile(compiler, options)?;
            let spec = work::spec(&profile, &testsuite, &filter);
            anyhow::ensure!(!spec.is_empty(), "no spec scripts in {} match the filter", testsuite.describe());
            finish_one(&runner, &profile, started, Parts { spec, ..Parts::default() }, &output, "tierwatch-spec.json")
        }
        Command::Agree { data, compilers } => {
            let testsuite = Testsuite::resolve(data.testsuite.as_deref())?;
            let filter = data.filter()?;
            let compilers = if compilers.is_empty() { usable_compilers(options) } else { compilers };
            eprintln!("testsuite: {}", testsuite.describe());
            let tallies = crate::agree::run(&testsuite, &filter, &compilers)?;
            let disagreements: usize = tallies.iter().map(|(_, t)| t.disagree).sum();
            Ok(if disagreements == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Wasi(OneSuite { data, compiler, output }) => wasi(&runner, (compiler, options), &data, &output),
        Command::Fuzz { fuzz, output } => {
            let started = Timestamp::now();
            let profile = work::profile(Compiler::Cranelift, options)?;
            let campaigns = work::fuzz(&plan(&fuzz, started)?, options)?;
            finish_one(
                &runner,
                &profile,
                started,
                Parts { fuzz: campaigns, ..Parts::default() },
                &output,
                "tierwatch-fuzz.json",
            )
        }
        Command::Run { data, fuzz, compilers, no_fuzz, out_dir, no_upload, precompiled: _ } => {
            let what = (&runner, options, &data, (&fuzz, no_fuzz), compilers.as_slice(), out_dir.as_path());
            let code = run_and_upload(g, what, no_upload)?;
            if let Some(a) = &artifacts {
                crate::aot::report_use(a);
            }
            Ok(code)
        }
        Command::Upload { files, from_spool } => upload(g, &files, from_spool),
        Command::Cpu => {
            let cpu = engine::precompiled::Cpu::native().map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&cpu)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Compile { data, fuzz, compilers, no_fuzz, cpu, out } => {
            compile(&data, (&fuzz, no_fuzz), &compilers, &cpu, &out)
        }
        Command::Identity { data, precompiled, sample, compiler } => identity(&data, &precompiled, sample, compiler),
        Command::Doctor { data } => doctor(g, &data),
        Command::Replay { file } => replay(&file),
    }
}

/// `wasi`: the WASI programs into one report.
fn wasi(
    runner: &work::Runner,
    (compiler, options): (Compiler, &engine::Options),
    data: &Data,
    output: &Output,
) -> anyhow::Result<ExitCode> {
    let testsuite = Testsuite::resolve(data.testsuite.as_deref())?;
    let root = testsuite.wasi_root().ok_or_else(|| {
        anyhow::anyhow!("{} has no wasi/tests; pass --testsuite with a wasi-testsuite checkout", testsuite.describe())
    })?;
    let filter = data.filter()?;
    let started = Timestamp::now();
    let profile = work::profile(compiler, options)?;
    let wasi = work::wasi(&profile, &root, &filter, Duration::from_secs(data.test_timeout));
    anyhow::ensure!(!wasi.is_empty(), "no WASI tests under {} match the filter", root.display());
    finish_one(runner, &profile, started, Parts { wasi, ..Parts::default() }, output, "tierwatch-wasi.json")
}

/// `run`: the spool resent, everything run, the reports uploaded.
fn run_and_upload(
    g: &Global,
    what: (&work::Runner, &engine::Options, &Data, (&Fuzzing, bool), &[Compiler], &Path),
    no_upload: bool,
) -> anyhow::Result<ExitCode> {
    let (runner, options, data, fuzz, compilers, out_dir) = what;
    let spool = spool(g);
    let server = server(g)?;
    if !no_upload && server.is_some() {
        resend(server.as_ref(), &spool)?;
    }
    let (files, failed) = run_all(runner, options, data, fuzz, compilers, out_dir)?;
    let delivered = no_upload || {
        let tally = crate::upload::upload_files(server.as_ref(), &spool, &files)?;
        verdict(&tally) == ExitCode::SUCCESS
    };
    anyhow::ensure!(failed.is_empty(), "no report for {}: see the errors above", failed.join(", "));
    Ok(if delivered { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `upload`: named reports, and with `--spool` the spooled ones first.
fn upload(g: &Global, files: &[PathBuf], from_spool: bool) -> anyhow::Result<ExitCode> {
    let spool = spool(g);
    let server = server(g)?;
    anyhow::ensure!(server.is_some(), "no server to upload to: pass --server URL or set TIERWATCH_SERVER");
    anyhow::ensure!(
        from_spool || !files.is_empty(),
        "name report files to upload, or pass --spool to resend the spool"
    );
    // The spool first: a named file that fails now is spooled once, not
    // resent straight away.
    let mut tally = if from_spool { resend(server.as_ref(), &spool)? } else { Tally::default() };
    let t = crate::upload::upload_files(server.as_ref(), &spool, files)?;
    tally.delivered += t.delivered;
    tally.spooled += t.spooled;
    tally.refused += t.refused;
    Ok(verdict(&tally))
}

fn spool(g: &Global) -> Spool {
    Spool::new(g.spool_dir.clone().unwrap_or_else(crate::spool::default_dir))
}

fn server(g: &Global) -> anyhow::Result<Option<Server>> {
    let Some(url) = g.server.clone() else { return Ok(None) };
    anyhow::ensure!(
        url.starts_with("http://") || url.starts_with("https://"),
        "--server {url}: give a URL starting with http:// or https://"
    );
    let token = g.token.clone().ok_or_else(|| {
        anyhow::anyhow!("--server is set but no token: pass --token or set TIERWATCH_TOKEN (create one with `tierwatch token create --role runner`)")
    })?;
    Ok(Some(Server {
        url,
        token,
        attempts: g.upload_attempts.max(1),
        backoff: Duration::from_millis(g.upload_backoff_ms),
    }))
}

fn resend(server: Option<&Server>, spool: &Spool) -> anyhow::Result<Tally> {
    let pending = spool.pending()?;
    if !pending.is_empty() {
        eprintln!("spool {}: resending {} report(s)", spool.dir().display(), pending.len());
    }
    crate::upload::upload_files(server, spool, &pending)
}

fn verdict(t: &Tally) -> ExitCode {
    eprintln!("upload: {} delivered, {} spooled, {} refused", t.delivered, t.spooled, t.refused);
    if t.spooled == 0 && t.refused == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn plan(f: &Fuzzing, started: Timestamp) -> anyhow::Result<FuzzPlan> {
    Ok(FuzzPlan {
        proposals: f.proposals.clone(),
        budget: work::budget(f.seconds, f.iterations)?,
        seed: f.seed.unwrap_or(started.as_millisecond().unsigned_abs()),
        crash_dir: Some(f.crashes.clone()),
    })
}

fn finish_one(
    runner: &work::Runner,
    profile: &engine::Profile,
    started: Timestamp,
    parts: Parts,
    output: &Output,
    default: &str,
) -> anyhow::Result<ExitCode> {
    let report = work::report(runner, profile, started, parts);
    let path = output.output.clone().unwrap_or_else(|| PathBuf::from(default));
    work::write(&report, &path, output.junit.as_deref())?;
    eprintln!("{}", work::summary(&report));
    eprintln!("report: {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The compilers that run on this target.
fn usable_compilers(options: &engine::Options) -> Vec<Compiler> {
    Compiler::ALL.into_iter().filter(|c| work::profile(*c, options).is_ok_and(|p| p.runs())).collect()
}

fn compile(
    data: &Data,
    (fuzz, no_fuzz): (&Fuzzing, bool),
    compilers: &[Compiler],
    cpu: &Path,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    let cpu = engine::precompiled::Cpu::read(cpu).map_err(anyhow::Error::msg)?;
    let testsuite = Testsuite::resolve(data.testsuite.as_deref())?;
    let filter = data.filter()?;
    let compilers = if compilers.is_empty() { vec![Compiler::Cranelift, Compiler::Winch] } else { compilers.to_vec() };
    anyhow::ensure!(
        !compilers.contains(&Compiler::Pulley),
        "--compilers pulley: Pulley's code is portable bytecode; run it where it is (nothing to compile ahead)"
    );
    let plan = if no_fuzz {
        None
    } else {
        anyhow::ensure!(
            fuzz.iterations.is_some(),
            "a timed campaign's inputs cannot be known ahead (--seconds, or no budget, which is 60 s); give --iterations (or --no-fuzz)"
        );
        anyhow::ensure!(fuzz.seed.is_some(), "--seed: the run's campaigns must use the seed given here; give one");
        Some(plan(fuzz, Timestamp::now())?)
    };
    let started = std::time::Instant::now();
    let done = crate::aot::compile(cpu, out, (&testsuite, &filter), &compilers, plan.as_ref())?;
    eprintln!(
        "compile: {} scripts, {} WASI programs, {} fuzz modules in {:.1} s",
        done.scripts,
        done.programs,
        done.fuzz_modules,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn identity(data: &Data, dir: &Path, sample: u64, compiler: Compiler) -> anyhow::Result<ExitCode> {
    let artifacts = crate::aot::open(dir)?;
    let testsuite = Testsuite::resolve(data.testsuite.as_deref())?;
    let filter = data.filter()?;
    let scripts = crate::aot::sample(&testsuite, &filter, usize::try_from(sample).unwrap_or(usize::MAX));
    anyhow::ensure!(!scripts.is_empty(), "no spec scripts in {} match the filter", testsuite.describe());
    let found = crate::aot::identity(&artifacts, &testsuite, &scripts, compiler)?;
    for d in &found.differences {
        println!("different: {d}");
    }
    let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
    println!(
        "identity: {} scripts on {compiler}; artifacts {}/{} byte-identical ({:.1} %); refusals {}/{} the host's too ({:.1} %); directives {}/{} with identical outcomes ({:.1} %)",
        scripts.len(),
        found.identical_artifacts,
        found.artifacts,
        pct(found.identical_artifacts, found.artifacts),
        found.identical_refusals,
        found.refusals,
        pct(found.identical_refusals, found.refusals),
        found.identical_directives,
        found.directives,
        pct(found.identical_directives, found.directives)
    );
    Ok(if found.holds() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn run_all(
    runner: &work::Runner,
    options: &engine::Options,
    data: &Data,
    (fuzz, no_fuzz): (&Fuzzing, bool),
    compilers: &[Compiler],
    out_dir: &Path,
) -> anyhow::Result<(Vec<PathBuf>, Vec<&'static str>)> {
    let testsuite = Testsuite::resolve(data.testsuite.as_deref())?;
    let filter = data.filter()?;
    let unmatched = filter.unmatched(&testsuite.names());
    anyhow::ensure!(
        unmatched.is_empty(),
        "these --filter patterns match no test in {}: {}; spec tests are `suite/file` (e.g. `wasm-spec/i32.wast`), WASI programs `suite/test` (e.g. `c-wasip1/lseek`)",
        testsuite.describe(),
        unmatched.join(", ")
    );
    let compilers = if compilers.is_empty() { usable_compilers(options) } else { compilers.to_vec() };
    eprintln!("testsuite: {}", testsuite.describe());
    let mut files = Vec::new();
    let mut failed = Vec::new();
    for compiler in compilers {
        // One compiler's failure does not cost the others' reports.
        let limit = Duration::from_secs(data.test_timeout);
        match run_compiler(runner, (compiler, options), (&testsuite, &filter, limit), (fuzz, no_fuzz), out_dir) {
            Ok(path) => files.push(path),
            Err(e) => {
                eprintln!("error: {compiler}: {e:#}");
                failed.push(compiler.name());
            }
        }
    }
    Ok((files, failed))
}

fn run_compiler(
    runner: &work::Runner,
    (compiler, options): (Compiler, &engine::Options),
    (testsuite, filter, limit): (&Testsuite, &Filter, Duration),
    (fuzz, no_fuzz): (&Fuzzing, bool),
    out_dir: &Path,
) -> anyhow::Result<PathBuf> {
    let started = Timestamp::now();
    let profile = work::profile(compiler, options)?;
    let mut parts = Parts { spec: work::spec(&profile, testsuite, filter), ..Parts::default() };
    if let Some(root) = testsuite.wasi_root() {
        parts.wasi = work::wasi(&profile, &root, filter, limit);
    }
    if compiler == Compiler::Cranelift && !no_fuzz {
        parts.fuzz = work::fuzz(&plan(fuzz, started)?, options)?;
    }
    let report = work::report(runner, &profile, started, parts);
    let path = out_dir.join(format!("{}.json", report.run_id));
    let junit = out_dir.join(format!("{}.junit.xml", report.run_id));
    work::write(&report, &path, Some(&junit))?;
    eprintln!("{}", work::summary(&report));
    eprintln!("report: {}", path.display());
    Ok(path)
}

fn doctor(g: &Global, data: &Data) -> anyhow::Result<ExitCode> {
    use crate::host;
    println!("target:      {}", host::TARGET);
    match host::emulation() {
        Some(e) => println!("emulated:    yes, by {} (known from {})", e.emulator, e.how),
        None => println!("emulated:    no"),
    }
    let features = host::cpu_features();
    println!(
        "cpu:         {}",
        if features.is_empty() { "no feature detection on this architecture".to_owned() } else { features.join(" ") }
    );
    println!("engine:      wasmtime {} (options: {:?})", engine::WASMTIME_VERSION, host::engine_options());
    for c in Compiler::ALL {
        let state = match work::profile(c, &host::engine_options()) {
            Ok(p) if p.runs() && p.disabled.is_empty() => "runs".to_owned(),
            Ok(p) if p.runs() => format!("runs; refuses {}", p.disabled.join(", ")),
            Ok(_) => "builds but does not compile code on this target".to_owned(),
            Err(e) => format!("unavailable: {e:#}"),
        };
        println!("  {c:<10} {state}");
    }
    match Testsuite::resolve(data.testsuite.as_deref()) {
        Ok(t) => {
            let spec: usize = t.spec_files(&Filter::new(&[])?).iter().map(|(_, f)| f.len()).sum();
            let wasi = t.wasi_root().map(|r| engine::wasi::discover(&r).len()).unwrap_or(0);
            println!("testsuite:   {} ({spec} spec scripts, {wasi} WASI programs)", t.describe());
        }
        Err(e) => println!("testsuite:   {e:#}"),
    }
    let spool = spool(g);
    println!("spool:       {} ({} waiting)", spool.dir().display(), spool.pending().map(|p| p.len()).unwrap_or(0));
    let mut healthy = true;
    match &g.server {
        None => println!("server:      none configured (--server / TIERWATCH_SERVER)"),
        Some(url) => {
            let health = format!("{}/healthz", url.trim_end_matches('/'));
            let answer = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .and_then(|c| c.get(&health).send());
            match answer {
                Ok(r) if r.status().is_success() => println!("server:      {url} reachable"),
                Ok(r) => {
                    healthy = false;
                    println!("server:      {url} answered {} at /healthz", r.status());
                }
                Err(e) => {
                    healthy = false;
                    println!("server:      {url} unreachable: {e}");
                }
            }
            println!("token:       {}", if g.token.is_some() { "set" } else { "missing (TIERWATCH_TOKEN)" });
        }
    }
    Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn replay(file: &Path) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let (_, meta) = engine::fuzz::Reproducer::decode(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let proposal = work::proposals(std::slice::from_ref(&meta.proposal))?[0];
    let (cranelift, winch) = engine::fuzz::fuzz_profiles(&crate::host::engine_options());
    let judges = engine::fuzz::Judges::choose(proposal, &cranelift, winch.as_ref());
    let replay = engine::fuzz::replay(&bytes, &judges).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    println!("campaign:    {} (seed {}, iteration {})", meta.campaign, meta.seed, meta.iteration);
    println!("generator:   {}", meta.generator);
    println!("recorded:    {}: {}", meta.signature, meta.message);
    match &replay.finding {
        Some(f) => println!("now:         {}: {}", engine::fuzz::signature(f), f.message),
        None => println!("now:         no finding: the oracle agrees on this input"),
    }
    if replay.reproduces {
        println!("reproduces:  yes");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("reproduces:  no");
        Ok(ExitCode::from(1))
    }
}
