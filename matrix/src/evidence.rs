//! The evidence wire format: the versioned JSON run report every runner
//! writes and the server ingests. This module is its one definition; the
//! published JSON Schema (`docs/run-report.schema.json`) is generated from
//! these types.
//!
//! A report carries raw facts only — which file, which directive, which
//! outcome, on which target and compiler. What they mean for a tier is the
//! policy's business, so a policy change never needs a re-run.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `format` value of every run report.
pub const FORMAT: &str = "tierwatch-run-report";
/// The wire-format version this crate writes. Version 3 added the run's
/// `dimensions`; version 2 the outcomes `unsupported`, `harness-error` and
/// `timeout` and each script's `config`. Versions 1 and 2 are still read
/// (version 1's `skip` stays `skip`; both have every dimension at its
/// policy default).
pub const VERSION: u32 = 3;

/// Every version this crate reads.
pub const READS: [u32; 3] = [1, 2, 3];

/// The most dimensions a report may name.
pub const MAX_DIMENSIONS: usize = 16;

/// One runner's report of one run on one target with one compiler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunReport {
    /// Always `tierwatch-run-report`.
    #[schemars(extend("const" = "tierwatch-run-report"))]
    pub format: String,
    /// The wire-format version: 3 (1 and 2 are still read).
    #[schemars(extend("enum" = [1, 2, 3]))]
    pub version: u32,
    /// Unique id of the run, chosen by the runner; the idempotency key for uploads.
    #[schemars(regex(pattern = r"^[A-Za-z0-9._:-]{1,128}$"))]
    pub run_id: String,
    /// Who ran it.
    pub runner: RunnerInfo,
    /// Where it ran.
    pub target: TargetInfo,
    /// What ran.
    pub engine: EngineInfo,
    /// When the run started (RFC 3339).
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub started_at: Timestamp,
    /// When the run finished (RFC 3339), not before it started.
    #[schemars(with = "String", extend("format" = "date-time"))]
    pub finished_at: Timestamp,
    /// The run's values of the policy's run dimensions beyond target and
    /// compiler (e.g. `build: no_std`); a dimension left out has its policy
    /// default. Names and values are 1 to 64 characters of a-z 0-9 _ -.
    /// Version 3 and later.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub dimensions: std::collections::BTreeMap<String, String>,
    /// True when the engine could be built for the target but tests could not
    /// be executed there (e.g. a compile-only target).
    #[serde(default)]
    pub build_only: bool,
    /// `.wast` script results, one entry per file.
    #[serde(default)]
    pub spec: Vec<SpecFile>,
    /// WASI test program results.
    #[serde(default)]
    pub wasi: Vec<WasiTest>,
    /// Fuzz campaigns.
    #[serde(default)]
    pub fuzz: Vec<FuzzCampaign>,
}

/// The runner that produced a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunnerInfo {
    /// The runner's configured name.
    pub name: String,
    /// The runner program's version.
    pub version: String,
    /// The host it ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// The target a run executed on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TargetInfo {
    /// Rust target triple, e.g. `aarch64-unknown-linux-gnu`.
    pub triple: String,
    /// Whether the run was emulated (e.g. QEMU user mode).
    #[serde(default)]
    pub emulated: bool,
    /// The emulator and its version when emulated, e.g. `qemu-aarch64 7.2.9`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulator: Option<String>,
}

impl TargetInfo {
    /// The architecture: the triple's first component.
    pub fn arch(&self) -> &str {
        self.triple.split('-').next().unwrap_or_default()
    }
}

/// The engine under test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct EngineInfo {
    /// Engine name, e.g. `wasmtime`.
    pub name: String,
    /// Engine version.
    pub version: String,
    /// Compiler backend, e.g. `cranelift` or `winch`.
    pub compiler: String,
}

/// Outcome of one directive or test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It passed: evidence for the features that select it.
    Pass,
    /// The engine did the wrong thing: evidence against them.
    Fail,
    /// Not run because a directive it depends on did not pass (the message
    /// names it). Version-1 reports' `skip` is read as this.
    Skip,
    /// This compiler or target does not implement what it needs, by the
    /// engine's own refusal: no evidence either way.
    Unsupported,
    /// tierwatch could not run it (a directive or JSON key its harness does
    /// not support, a program it cannot start): no evidence either way.
    HarnessError,
    /// It did not finish within the runner's time limit: no evidence.
    Timeout,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 6] =
        [Outcome::Pass, Outcome::Fail, Outcome::Skip, Outcome::Unsupported, Outcome::HarnessError, Outcome::Timeout];

    /// The wire name, e.g. `harness-error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
            Outcome::Unsupported => "unsupported",
            Outcome::HarnessError => "harness-error",
            Outcome::Timeout => "timeout",
        }
    }

    /// Neither evidence for nor against a feature.
    pub fn is_no_evidence(self) -> bool {
        !matches!(self, Outcome::Pass | Outcome::Fail)
    }
}

/// The engine configuration one script ran with, as wasmtime's harness
/// infers it from the script's path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScriptSettings {
    /// The proposals switched on (wasmtime's harness names), every other
    /// one off.
    pub features: Vec<String>,
    /// Those of `features` this compiler lacks, switched off for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub off: Vec<String>,
}

/// Results of one `.wast` script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SpecFile {
    /// The suite: `wasm-spec` or `component-model`.
    pub suite: String,
    /// Path within the suite, `/`-separated, e.g. `proposals/threads/atomic.wast`.
    pub file: String,
    /// Every directive's outcome, in file order.
    pub directives: Vec<Directive>,
    /// The configuration the script ran with (absent in version 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ScriptSettings>,
    /// Passing directives taken out of `directives` by
    /// [`RunReport::elide_passes`], counted: never read from or written to
    /// the wire.
    #[serde(skip)]
    pub passes_elided: u32,
}

impl SpecFile {
    /// `suite/file`, the name policy patterns match.
    pub fn key(&self) -> String {
        format!("{}/{}", self.suite, self.file)
    }

    /// How many directives ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        let elided = if outcome == Outcome::Pass { self.passes_elided as usize } else { 0 };
        self.directives.iter().filter(|d| d.outcome == outcome).count() + elided
    }

    /// How many directives the script ran, elided passes included.
    pub fn size(&self) -> usize {
        self.directives.len() + self.passes_elided as usize
    }
}

/// One directive of a `.wast` script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Directive {
    /// 1-based line of the directive.
    pub line: u32,
    /// The directive, e.g. `assert_return`, `module`, `assert_trap`.
    pub kind: String,
    /// What happened.
    pub outcome: Outcome,
    /// Failure message or skip reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One WASI test program's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct WasiTest {
    /// The suite folder, e.g. `c` or `assemblyscript`.
    pub suite: String,
    /// The test's name (its file stem).
    pub test: String,
    /// What happened.
    pub outcome: Outcome,
    /// Why it failed or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl WasiTest {
    /// `suite/test`, the name policy patterns match.
    pub fn key(&self) -> String {
        format!("{}/{}", self.suite, self.test)
    }
}

/// Which oracle a fuzz campaign used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Oracle {
    /// Results compared with an independent implementation.
    Differential,
    /// Results compared between two compilers of the engine.
    CompilerDifferential,
    /// Generated modules validate and compile without panics.
    Validation,
}

impl Oracle {
    /// Whether the oracle compares against another implementation.
    pub fn is_differential(self) -> bool {
        matches!(self, Oracle::Differential | Oracle::CompilerDifferential)
    }
}

/// One fuzz campaign's statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FuzzCampaign {
    /// The campaign's name, e.g. `differential-wasmi/simd`.
    pub name: String,
    /// The oracle.
    pub oracle: Oracle,
    /// The generator seed the campaign started from.
    pub seed: u64,
    /// Generator features enabled, e.g. `simd`, `threads`.
    pub generator_features: Vec<String>,
    /// Modules generated.
    pub iterations: u64,
    /// Of those, modules that were valid.
    pub valid_modules: u64,
    /// Wall time spent.
    pub duration_secs: f64,
    /// Operators executed per proposal feature, counted by the runner.
    #[serde(default)]
    pub exercised: std::collections::BTreeMap<String, u64>,
    /// Crashes, deduplicated by signature.
    #[serde(default)]
    pub crashes: Vec<Crash>,
}

/// A deduplicated crash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Crash {
    /// Stable signature used for deduplication.
    pub signature: String,
    /// What went wrong.
    pub message: String,
    /// How many inputs hit this signature.
    pub count: u64,
    /// Whether the crash is still open.
    pub open: bool,
    /// How the crash replayed where it was found; absent when it was not
    /// replayed. Only an open crash that replays deterministically counts
    /// against a feature; any other open crash is under triage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<CrashReplay>,
    /// The minimised reproducer, base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reproducer: Option<String>,
}

/// What replaying a crash's reproducer several times showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CrashReplay {
    /// The same finding, values included, on every replay.
    Deterministic,
    /// The finding (or its values) changed from one replay to the next, or
    /// it did not recur: not yet evidence about the engine.
    Varies,
}

impl Crash {
    /// Whether this crash counts against the features its campaign covers:
    /// open, and replaying deterministically.
    pub fn counts(&self) -> bool {
        self.open && self.replay == Some(CrashReplay::Deterministic)
    }

    /// Open but not (yet) counting: found, not confirmed.
    pub fn under_triage(&self) -> bool {
        self.open && !self.counts()
    }
}

/// A problem with a run report, with where it is.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("line {line}, column {column}: {field}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Path of the offending field, e.g. `spec[3].directives[0].outcome`
        /// (`.` for the document itself).
        field: String,
        /// serde's message.
        message: String,
    },
    /// Well-formed but not a run report this version understands.
    #[error("{field}: {message}")]
    Invalid {
        /// The offending field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

impl RunReport {
    /// The report as evaluation needs it: each script's passing directives
    /// replaced by their count ([`SpecFile::passes_elided`]), so a server
    /// holds what did not pass and the shape of the run, not most of a
    /// run's directives (the store keeps the whole report). Every count the
    /// evaluation reads stays the same. Such a report is not sent on: its
    /// serialized form would lack the passes.
    pub fn elide_passes(mut self) -> RunReport {
        for f in &mut self.spec {
            let before = f.directives.len();
            f.directives.retain(|d| d.outcome != Outcome::Pass);
            f.directives.shrink_to_fit();
            let passed = u32::try_from(before - f.directives.len()).unwrap_or(u32::MAX);
            f.passes_elided = f.passes_elided.saturating_add(passed);
        }
        self
    }

    /// Whether [`RunReport::elide_passes`] took directives out.
    pub fn passes_elided(&self) -> bool {
        self.spec.iter().any(|f| f.passes_elided > 0)
    }

    /// Parses and checks a report.
    pub fn from_json(text: &str) -> Result<RunReport, ReportError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let report: RunReport = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            ReportError::Json {
                line: inner.line(),
                column: inner.column(),
                field,
                message: inner.to_string().split(" at line ").next().unwrap_or_default().to_owned(),
            }
        })?;
        report.check()?;
        Ok(report)
    }

    /// Checks what serde cannot: the format tag, the version, times in order.
    pub fn check(&self) -> Result<(), ReportError> {
        let invalid = |field: &str, message: String| Err(ReportError::Invalid { field: field.into(), message });
        if self.format != FORMAT {
            return invalid("format", format!("expected `{FORMAT}`, found `{}`", self.format));
        }
        if !READS.contains(&self.version) {
            return invalid(
                "version",
                format!("this tierwatch reads versions 1, 2 and {VERSION}, found {}", self.version),
            );
        }
        if self.version < 3 && !self.dimensions.is_empty() {
            return invalid("version", format!("`dimensions` needs version {VERSION}; send version {VERSION}"));
        }
        self.check_dimensions()?;
        if self.version == 1 {
            let new = |o: Outcome| !matches!(o, Outcome::Pass | Outcome::Fail | Outcome::Skip);
            let spec = self.spec.iter().flat_map(|f| f.directives.iter().map(|d| d.outcome));
            if let Some(o) = spec.chain(self.wasi.iter().map(|w| w.outcome)).find(|o| new(*o)) {
                return invalid(
                    "version",
                    format!("outcome `{}` needs version {VERSION}; send version {VERSION}", o.as_str()),
                );
            }
        }
        let id_ok = |c: char| c.is_ascii_alphanumeric() || "._:-".contains(c);
        if self.run_id.is_empty() || self.run_id.len() > 128 || !self.run_id.chars().all(id_ok) {
            return invalid("run-id", "must be 1 to 128 characters of A-Z a-z 0-9 . _ : -".into());
        }
        self.check_identity()?;
        self.check_campaigns()?;
        if self.finished_at < self.started_at {
            return invalid("finished-at", "is before started-at".into());
        }
        Ok(())
    }

    /// At most [`MAX_DIMENSIONS`] dimensions, names and values in the dimension alphabet.
    fn check_dimensions(&self) -> Result<(), ReportError> {
        let invalid = |field: &str, message: String| Err(ReportError::Invalid { field: field.into(), message });
        if self.dimensions.len() > MAX_DIMENSIONS {
            return invalid(
                "dimensions",
                format!("names {} dimensions; at most {MAX_DIMENSIONS}", self.dimensions.len()),
            );
        }
        for (name, value) in &self.dimensions {
            if !is_dimension_word(name) {
                return invalid("dimensions", format!("name `{}`: {DIMENSION_WORD}", name.escape_debug()));
            }
            if !is_dimension_word(value) {
                return invalid(
                    &format!("dimensions.{name}"),
                    format!("value `{}`: {DIMENSION_WORD}", value.escape_debug()),
                );
            }
        }
        Ok(())
    }

    /// Who ran what on what: bounded printable text.
    fn check_identity(&self) -> Result<(), ReportError> {
        let invalid = |field: &str, message: String| Err(ReportError::Invalid { field: field.into(), message });
        let identity = [
            ("runner.name", Some(&self.runner.name)),
            ("runner.version", Some(&self.runner.version)),
            ("runner.host", self.runner.host.as_ref()),
            ("target.triple", Some(&self.target.triple)),
            ("target.emulator", self.target.emulator.as_ref()),
            ("engine.name", Some(&self.engine.name)),
            ("engine.version", Some(&self.engine.version)),
            ("engine.compiler", Some(&self.engine.compiler)),
        ];
        for (field, value) in identity {
            let Some(value) = value else { continue };
            if value.len() > MAX_IDENTITY_BYTES {
                return invalid(field, format!("is {} bytes; at most {MAX_IDENTITY_BYTES}", value.len()));
            }
            // U+FFFD is what a NUL (`\u0000`) becomes before parsing.
            if let Some(c) = value.chars().find(|c| c.is_control() || *c == '\u{fffd}') {
                let what = if c == '\u{fffd}' {
                    "a NUL (\\u0000) or U+FFFD".to_owned()
                } else {
                    format!("the control character {}", c.escape_unicode())
                };
                return invalid(field, format!("holds {what}; names are printable text"));
            }
        }
        Ok(())
    }

    /// Each campaign named once, each crash signature once per campaign.
    fn check_campaigns(&self) -> Result<(), ReportError> {
        let invalid = |field: &str, message: String| Err(ReportError::Invalid { field: field.into(), message });
        let mut names = std::collections::BTreeSet::new();
        for (i, c) in self.fuzz.iter().enumerate() {
            if !names.insert(&c.name) {
                return invalid(
                    &format!("fuzz[{i}].name"),
                    format!("campaign `{}` appears twice; name each campaign once", c.name),
                );
            }
            let mut signatures = std::collections::BTreeSet::new();
            for (j, x) in c.crashes.iter().enumerate() {
                if !signatures.insert(&x.signature) {
                    return invalid(
                        &format!("fuzz[{i}].crashes[{j}].signature"),
                        format!("signature `{}` appears twice; merge the crashes", x.signature),
                    );
                }
            }
        }
        Ok(())
    }
}

/// What a dimension name or value may be.
const DIMENSION_WORD: &str = "write 1 to 64 characters of a-z 0-9 _ -";

/// Whether `s` is a valid dimension name or value: 1 to 64 characters of
/// `a-z 0-9 _ -`.
pub fn is_dimension_word(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// The longest runner, target or engine name or version a report may carry.
pub const MAX_IDENTITY_BYTES: usize = 512;

/// The JSON Schema of [`RunReport`], as published.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(RunReport)).unwrap_or_default()
}

/// Everything the evaluator knows about the world: run reports.
///
/// Shared (`Arc`), so a server can keep the evidence of its current
/// snapshot while it builds the next one with one more run, copying
/// pointers rather than reports.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The reports, in any order.
    pub runs: Vec<std::sync::Arc<RunReport>>,
}

impl FromIterator<RunReport> for Evidence {
    fn from_iter<I: IntoIterator<Item = RunReport>>(reports: I) -> Evidence {
        Evidence { runs: reports.into_iter().map(std::sync::Arc::new).collect() }
    }
}
