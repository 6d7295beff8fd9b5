//! Fuzz campaigns: wasm-smith modules per proposal, judged by an oracle,
//! deterministic from a seed, reported as `matrix::evidence::FuzzCampaign`.
//!
//! An input is a byte string; iteration `i` of a campaign with seed `s`
//! always gets the same bytes, so a campaign replays exactly. The module is
//! generated from the front of the input and call arguments come from the
//! rest, which lets a crash's module be shrunk with its arguments held fixed.

pub mod component;
pub mod exec;
pub mod exercised;
mod judges;
pub mod oracles;
pub mod proposals;
mod reproducer;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arbitrary::Unstructured;
use matrix::evidence::{Crash, CrashReplay, FuzzCampaign};

pub use exec::{Engine, Instance, Value, Wasmi, Wasmtime};
pub(crate) use judges::catch_quietly;
pub use judges::{Judges, generate, signature};
pub use oracles::Finding;
pub use proposals::{PROPOSALS, Proposal, proposal};
pub use reproducer::{Reproducer, replay};

use crate::{Compiler, Profile};

/// How long a campaign runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// A fixed number of inputs.
    Iterations(u64),
    /// Wall time.
    Time(Duration),
}

/// Engine profiles for fuzzing: wasmtime's relaxed-SIMD made deterministic
/// so it can be compared at all, and fuel on so every call ends.
pub fn fuzz_profiles(options: &crate::profile::Options) -> (Profile, Option<Profile>) {
    let options = crate::profile::Options {
        deterministic_relaxed_simd: true,
        consume_fuel: true,
        serial_compilation: true,
        ..options.clone()
    };
    let cranelift =
        Profile::build(Compiler::Cranelift, &options).expect("Cranelift supports every target tierwatch runs on");
    // Winch refuses targets it has no backend for; that is not an error here.
    let winch = Profile::build(Compiler::Winch, &options).ok().filter(|w| w.runs());
    (cranelift, winch)
}

/// A campaign to run.
#[derive(Debug, Clone)]
pub struct CampaignSpec {
    /// The proposal.
    pub proposal: &'static Proposal,
    /// The seed.
    pub seed: u64,
    /// How long.
    pub budget: Budget,
    /// How many shrink attempts each new crash signature gets.
    pub shrink_attempts: u32,
}

/// A crash as found: the evidence entry plus the reproducer file's bytes.
#[derive(Debug, Clone)]
pub struct FoundCrash {
    /// The evidence entry.
    pub crash: Crash,
    /// A wasm file that replays the crash (the minimised module carrying the
    /// arguments and generator config in a custom section).
    pub reproducer: Vec<u8>,
}

/// What a campaign produced.
#[derive(Debug, Clone)]
pub struct CampaignResult {
    /// The evidence entry.
    pub evidence: FuzzCampaign,
    /// Calls the oracle compared.
    pub calls: u64,
    /// Inputs on which the reference engine itself failed (skipped).
    pub reference_faults: u64,
    /// Crashes with reproducers, one per signature.
    pub crashes: Vec<FoundCrash>,
}

/// SplitMix64: the input bytes of iteration `i`, stable across platforms
/// and releases (a library RNG's stream may change between versions).
pub fn input(seed: u64, iteration: u64) -> Vec<u8> {
    let mut state = seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let len = 1024 + (next() % 15_360) as usize;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// One iteration's outcome.
#[derive(Debug)]
enum Step {
    /// The generator could not make a module from the input.
    Invalid,
    /// The oracle compared this many calls without a finding.
    Clean { calls: u64, exercised: BTreeMap<String, u64> },
    /// The reference engine failed on its own; nothing learned.
    Inconclusive(Finding),
    /// The oracle (or a panic) caught something.
    Found { finding: Finding, wasm: Option<Vec<u8>>, args: Vec<u8> },
}

fn step(judges: &Judges, proposal: &Proposal, data: &[u8]) -> Step {
    let mut u = Unstructured::new(data);
    let wasm = match catch_quietly(|| generate(proposal, &mut u)) {
        Ok(Ok(wasm)) => wasm,
        Ok(Err(_)) => return Step::Invalid,
        // The generator itself crashed: the whole input reproduces it.
        Err(panic) => return Step::Found { finding: panic, wasm: None, args: data.to_vec() },
    };
    let args = u.take_rest().to_vec();
    match judge_module(judges, proposal, &wasm, &args) {
        Ok((calls, exercised)) => Step::Clean { calls, exercised },
        Err(finding) if judges.reference_fault(&finding) => Step::Inconclusive(finding),
        Err(finding) => Step::Found { finding, wasm: Some(wasm), args },
    }
}

/// The harness's work on one generated module: the oracle (panics caught)
/// and the operator counts. Returns the calls compared and the counts.
pub fn judge_module(
    judges: &Judges,
    proposal: &Proposal,
    wasm: &[u8],
    args: &[u8],
) -> Result<(u64, BTreeMap<String, u64>), Finding> {
    let calls = catch_quietly(|| judges.check(wasm, args)).and_then(|r| r)?;
    let mut exercised = exercised::count(wasm);
    if proposal.id == "component-model" {
        exercised.insert("component-model".to_owned(), calls);
    }
    Ok((calls, exercised))
}

/// Runs a campaign.
pub fn run_campaign(spec: &CampaignSpec, judges: &Judges) -> CampaignResult {
    let name = judges.campaign_name(spec.proposal.id);
    let generator = proposals::describe(&spec.proposal.config());
    let started = Instant::now();
    let mut evidence = FuzzCampaign {
        name: name.clone(),
        oracle: judges.oracle,
        seed: spec.seed,
        generator_features: proposals::features(&spec.proposal.config()),
        iterations: 0,
        valid_modules: 0,
        duration_secs: 0.0,
        exercised: BTreeMap::new(),
        crashes: Vec::new(),
    };
    let mut calls = 0;
    let mut reference_faults = 0;
    let mut found: Vec<FoundCrash> = Vec::new();
    let mut iteration = 0;
    while !done(spec.budget, iteration, started) {
        let data = input(spec.seed, iteration);
        match step(judges, spec.proposal, &data) {
            Step::Invalid => {}
            Step::Inconclusive(finding) => {
                reference_faults += 1;
                if reference_faults == 1 {
                    eprintln!(
                        "{name}: the reference engine failed on iteration {iteration} (input skipped): {}",
                        finding.message
                    );
                }
            }
            Step::Clean { calls: n, exercised } => {
                evidence.valid_modules += 1;
                calls += n;
                for (k, v) in exercised {
                    *evidence.exercised.entry(k).or_insert(0) += v;
                }
            }
            Step::Found { finding, wasm, args } => {
                evidence.valid_modules += u64::from(wasm.is_some());
                let signature = signature(&finding);
                match found.iter_mut().find(|c| c.crash.signature == signature) {
                    Some(c) => c.crash.count += 1,
                    None => {
                        let at =
                            reproducer::Origin { campaign: &name, seed: spec.seed, iteration, generator: &generator };
                        found.push(new_crash(judges, spec, &finding, signature, wasm, args, &at));
                    }
                }
            }
        }
        iteration += 1;
    }
    evidence.iterations = iteration;
    evidence.duration_secs = started.elapsed().as_secs_f64();
    evidence.crashes = found.iter().map(|c| c.crash.clone()).collect();
    CampaignResult { evidence, calls, reference_faults, crashes: found }
}

/// Compiles every module campaign `spec` generates (a fixed number of
/// inputs: a time budget's inputs cannot be known ahead) for both of the
/// oracle's engines into `artifacts`, as [`run_campaign`] would compile
/// them. Returns how many inputs made a module.
pub fn precompile_campaign(
    spec: &CampaignSpec,
    judges: &Judges,
    artifacts: &crate::precompiled::Artifacts,
) -> Result<u64, String> {
    let Budget::Iterations(n) = spec.budget else {
        return Err("only a campaign of a fixed number of inputs (--iterations) can be compiled ahead".into());
    };
    let mut modules = 0;
    for iteration in 0..n {
        let data = input(spec.seed, iteration);
        let mut u = Unstructured::new(&data);
        let Ok(Ok(wasm)) = catch_quietly(|| generate(spec.proposal, &mut u)) else { continue };
        modules += 1;
        judges.subject.precompile(&wasm, artifacts)?;
        if let Some(r) = &judges.reference {
            r.precompile(&wasm, artifacts)?;
        }
    }
    Ok(modules)
}

fn done(budget: Budget, iteration: u64, started: Instant) -> bool {
    match budget {
        Budget::Iterations(n) => iteration >= n,
        Budget::Time(d) => started.elapsed() >= d,
    }
}

/// Shrinks a new crash's module (arguments held fixed) while the oracle
/// still reports the same signature, and packs the reproducer.
fn new_crash(
    judges: &Judges,
    spec: &CampaignSpec,
    finding: &Finding,
    signature: String,
    wasm: Option<Vec<u8>>,
    args: Vec<u8>,
    at: &reproducer::Origin<'_>,
) -> FoundCrash {
    let wasm = wasm.map(|w| shrink(judges, &signature, w, &args, spec.shrink_attempts));
    // Keep only the argument bytes the (shrunk) module's calls draw on.
    let mut args = args;
    if let Some(w) = &wasm
        && let Ok((_, used)) = catch_quietly(|| judges.check_consumed(w, &args))
    {
        args.truncate(used);
    }
    let reproducer = Reproducer {
        campaign: at.campaign.to_owned(),
        proposal: spec.proposal.id.to_owned(),
        seed: at.seed,
        iteration: at.iteration,
        generator: at.generator.to_owned(),
        signature: signature.clone(),
        message: finding.message.clone(),
        args,
    };
    let bytes = reproducer.encode(wasm.as_deref());
    let replay = replay_status(judges, &bytes);
    let crash = Crash {
        signature,
        message: format!("{} [{}; seed {} iteration {}]", finding.message, at.generator, at.seed, at.iteration),
        count: 1,
        open: true,
        replay: Some(replay),
        reproducer: Some(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes)),
    };
    FoundCrash { crash, reproducer: bytes }
}

/// How many times a new crash's reproducer is replayed before it counts.
pub const REPLAYS: usize = 3;

/// Replays a reproducer [`REPLAYS`] times: deterministic when every replay
/// shows the recorded signature with the same message (values included),
/// so that a finding whose values change between replays (uninitialised
/// state, host-dependent NaN bits, a harness race) stays under triage
/// rather than counting against the engine.
pub fn replay_status(judges: &Judges, reproducer: &[u8]) -> CrashReplay {
    let mut seen: Option<String> = None;
    for _ in 0..REPLAYS {
        let Ok(r) = replay(reproducer, judges) else { return CrashReplay::Varies };
        let message = match (r.reproduces, r.finding) {
            (true, Some(f)) => f.message,
            _ => return CrashReplay::Varies,
        };
        match &seen {
            Some(first) if *first != message => return CrashReplay::Varies,
            _ => seen = Some(message),
        }
    }
    CrashReplay::Deterministic
}

/// The smallest module wasm-shrink finds that still produces `signature`.
pub fn shrink(judges: &Judges, signature: &str, wasm: Vec<u8>, args: &[u8], attempts: u32) -> Vec<u8> {
    if attempts == 0 {
        return wasm;
    }
    let still = |candidate: &[u8]| -> anyhow::Result<bool> {
        let outcome = catch_quietly(|| judges.check(candidate, args));
        Ok(match outcome {
            Ok(Err(f)) | Err(f) => self::signature(&f) == signature,
            Ok(Ok(_)) => false,
        })
    };
    match wasm_shrink::WasmShrink::default().attempts(attempts).run(wasm.clone(), still) {
        Ok(info) => info.output,
        Err(_) => wasm,
    }
}
