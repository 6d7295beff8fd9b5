//! The judges of a generated module: the engine under test, what it is
//! compared with, and the oracle; with the generator and the finding
//! signatures that campaigns, shrinking and replay share.

use arbitrary::Unstructured;
use matrix::evidence::Oracle;

use super::component;
use super::exec::Engine;
use super::exec::{Wasmi, Wasmtime};
use super::oracles::{self, Finding};
use super::proposals::Proposal;
use crate::Profile;

/// The engines an oracle compares.
pub struct Judges {
    /// The oracle kind, as reported.
    pub oracle: Oracle,
    /// The engine under test.
    pub subject: Box<dyn Engine + Send + Sync>,
    /// What it is compared against; `None` for the validation oracle.
    pub reference: Option<Box<dyn Engine + Send + Sync>>,
}

impl std::fmt::Debug for Judges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judges")
            .field("oracle", &self.oracle)
            .field("subject", &self.subject.name())
            .field("reference", &self.reference.as_ref().map(|r| r.name().to_owned()))
            .finish()
    }
}

impl Judges {
    /// The best oracle this machine has for `proposal`: differential against
    /// wasmi where wasmi implements it, Cranelift against Winch where Winch
    /// does, otherwise validation. `winch` is `None` where Winch does not run.
    pub fn choose(proposal: &Proposal, cranelift: &Profile, winch: Option<&Profile>) -> Judges {
        let subject: Box<dyn Engine + Send + Sync> = if proposal.id == "component-model" {
            Box::new(component::WasmtimeComponent::new(cranelift))
        } else {
            Box::new(Wasmtime::new(cranelift))
        };
        if proposal.in_wasmi {
            return Judges { oracle: Oracle::Differential, subject, reference: Some(Box::new(Wasmi::new())) };
        }
        let winch_has = |p: &Profile| proposal.wasmtime_flag.is_none_or(|f| !p.disabled.contains(&f));
        match winch.filter(|w| winch_has(w)) {
            Some(w) => {
                Judges { oracle: Oracle::CompilerDifferential, subject, reference: Some(Box::new(Wasmtime::new(w))) }
            }
            None => Judges { oracle: Oracle::Validation, subject, reference: None },
        }
    }

    /// The campaign name, e.g. `differential-wasmi/simd`.
    pub fn campaign_name(&self, proposal: &str) -> String {
        match &self.reference {
            Some(r) => format!("differential-{}/{proposal}", r.name()),
            None => format!("validation/{proposal}"),
        }
    }

    /// Whether a finding is the reference engine's own failure (a panic
    /// inside it): not evidence about the engine under test, so the input
    /// is inconclusive rather than a crash.
    pub fn reference_fault(&self, finding: &Finding) -> bool {
        self.reference.as_ref().is_some_and(|r| finding.key.starts_with(&format!("panic:{}", r.name())))
    }

    /// Runs the oracle on one module with argument bytes `args`.
    pub fn check(&self, wasm: &[u8], args: &[u8]) -> Result<u64, Finding> {
        self.check_consumed(wasm, args).0
    }

    /// [`Judges::check`], also saying how many argument bytes were used.
    pub(super) fn check_consumed(&self, wasm: &[u8], args: &[u8]) -> (Result<u64, Finding>, usize) {
        let mut u = Unstructured::new(args);
        let result = match &self.reference {
            Some(r) => oracles::differential(self.subject.as_ref(), r.as_ref(), wasm, &mut u),
            None => oracles::validation(self.subject.as_ref(), wasm, &mut u),
        };
        (result, args.len() - u.len())
    }
}

/// Generates a module for `proposal` from the front of `u`, with fuel
/// checks so every loop and recursion ends the same way on every engine.
pub fn generate(proposal: &Proposal, u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let mut module = wasm_smith::Module::new(proposal.config(), u)?;
    module.ensure_termination(1_000).map_err(|_| arbitrary::Error::IncorrectFormat)?;
    Ok(module.to_bytes())
}

/// Runs `f`, turning a panic into a finding keyed by where it happened and
/// its message with digits removed (addresses and indices vary; the place
/// does not).
pub(crate) fn catch_quietly<T>(f: impl FnOnce() -> T) -> Result<T, Finding> {
    crate::panics::catch(f).map_err(|p| {
        let key: String = p.message.chars().filter(|c| !c.is_ascii_digit()).take(120).collect();
        Finding { key: format!("panic:{}:{key}", p.place), message: format!("panicked at {}: {}", p.place, p.message) }
    })
}

/// A stable signature for a finding: the key's FNV-1a hash, prefixed with
/// the key's first word so people can read it.
pub fn signature(finding: &Finding) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in finding.key.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let word: String = finding.key.split(':').next().unwrap_or("crash").chars().take(40).collect();
    format!("{word}-{hash:016x}")
}
