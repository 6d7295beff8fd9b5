//! The tier policy: the validated model every other part of tierwatch reads.
//!
//! A policy file is parsed into raw structs ([`raw`]) and then validated
//! ([`validate`]) in one pass that collects every problem as a positioned
//! [`Diagnostic`](crate::Diagnostic). Only a [`Policy`] that passed validation
//! can be evaluated, so the evaluator never has to handle dangling ids or
//! malformed windows.

mod raw;
mod validate;

use std::collections::BTreeMap;
use std::fmt;

use globset::{GlobBuilder, GlobMatcher};
use jiff::SignedDuration;
use jiff::civil::Date;

pub use validate::validate;

/// A tier number: 1 is the highest level of support. A policy defines tiers
/// `1..=n` without gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Tier(pub u8);

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tier {}", self.0)
    }
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Document prose and the runtime's name.
    pub runtime: Runtime,
    /// Feature categories, in table order.
    pub categories: Vec<Category>,
    /// Tier definitions, tier 1 first.
    pub tiers: Vec<TierDef>,
    /// Requirements in file order; within a tier this is the order the
    /// "Missing" column lists them in.
    pub requirements: Vec<Requirement>,
    /// The kinds of human attestation the policy knows.
    pub attestation_kinds: Vec<AttestationKind>,
    /// Attestations by (feature id, kind id).
    pub attestations: BTreeMap<(String, String), Attestation>,
    /// Features in table order.
    pub features: Vec<Feature>,
    /// Footnotes by id, in file order.
    pub footnotes: Vec<Footnote>,
    /// What the runtime does not support.
    pub unsupported: Vec<Unsupported>,
    /// Spec files belonging to no feature's `@core` selection.
    pub core_exclude: Vec<Pattern>,
    /// How declared tiers change; `None` when the policy file has no
    /// `promotions:` section (promotion requests are then refused).
    pub promotions: Option<Promotions>,
    /// Engine failures acknowledged upstream, each charged to one feature.
    pub known_failures: Vec<KnownFailure>,
    /// Run dimensions beyond target and compiler, in file order.
    pub dimensions: Vec<Dimension>,
    /// Support tables: proposals × backends per architecture.
    pub tables: Tables,
}

/// The support tables of a policy and the axes and levels they share.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// Architectures, in file order.
    pub architectures: Vec<Architecture>,
    /// Execution backends (compilers and interpreters), in file order.
    pub backends: Vec<Backend>,
    /// Support levels, best first: a cell has the first whose rule holds.
    pub levels: Vec<Level>,
    /// The tables, in file order.
    pub tables: Vec<SupportTable>,
}

/// An architecture axis value: the run targets that stand for it.
#[derive(Debug, Clone)]
pub struct Architecture {
    /// Stable id.
    pub id: String,
    /// Its heading.
    pub label: String,
    /// Globs over run target triples, e.g. `aarch64-*`.
    pub targets: Vec<Pattern>,
}

impl Architecture {
    /// Whether a run on `triple` is evidence for this architecture.
    pub fn has_target(&self, triple: &str) -> bool {
        self.targets.iter().any(|p| p.is_match(triple))
    }
}

/// An execution backend: a run's `engine.compiler`.
#[derive(Debug, Clone)]
pub struct Backend {
    /// Stable id, as runs report it (e.g. `cranelift`, `pulley`).
    pub id: String,
    /// Its column heading.
    pub label: String,
}

/// How a support level counts for a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Counts {
    /// Evidence of support.
    For,
    /// Evidence against.
    Against,
    /// Neither (not applicable).
    Neither,
}

/// A support level a cell can have, with the rule over evidence that
/// gives it.
#[derive(Debug, Clone)]
pub struct Level {
    /// Stable id, e.g. `supported`.
    pub id: String,
    /// How it reads, e.g. "Supported".
    pub label: String,
    /// The mark in the document, e.g. `✅`.
    pub symbol: String,
    /// For, against, or neither.
    pub counts: Counts,
    /// When a cell has it.
    pub rule: LevelRule,
}

/// The closed set of rules a support level can have over a cell's
/// evidence (the latest results, within the table's window, of the row's
/// tests on the architecture's targets with the backend).
#[derive(Debug, Clone, PartialEq)]
pub enum LevelRule {
    /// Every directive and program passes, at least `min_tests` of them.
    AllPass {
        /// The fewest passing directives and programs.
        min_tests: u32,
    },
    /// At least this share of the directives and programs that ran to a
    /// verdict pass (and at least one does).
    PassRate {
        /// A share between 0 and 1.
        at_least: f64,
    },
    /// The engine refused every one as unsupported: the combination does
    /// not exist (a proposal an interpreter cannot have).
    AllUnsupported,
    /// Any cell with evidence that no earlier level took.
    Otherwise,
}

/// A support table: for each architecture, the rows × the backends.
#[derive(Debug, Clone)]
pub struct SupportTable {
    /// Stable id.
    pub id: String,
    /// Its heading.
    pub title: String,
    /// Markdown after the heading.
    pub intro: String,
    /// How recent a cell's evidence must be.
    pub window: Window,
    /// Architecture ids, in order.
    pub architectures: Vec<String>,
    /// Backend ids, in column order.
    pub backends: Vec<String>,
    /// Feature ids, in row order.
    pub rows: Vec<String>,
    /// Cells declared not applicable, with why: (architecture, backend,
    /// feature) → reason.
    pub not_applicable: BTreeMap<(String, String, String), String>,
    /// Footnotes on cells: (architecture, backend, feature) → footnote id.
    pub notes: BTreeMap<(String, String, String), String>,
}

/// A way two runs of one target and compiler can differ (a `no_std` build,
/// an interpreter backend, a precompiled mode), declared with the values
/// reports may give it and the value a report that leaves it out has.
#[derive(Debug, Clone, PartialEq)]
pub struct Dimension {
    /// Its name, as reports and selectors write it.
    pub id: String,
    /// What it tells apart, for people.
    pub description: String,
    /// The values it may take.
    pub values: Vec<String>,
    /// The value of a report that does not name it.
    pub default: String,
}

/// A report's value for a dimension the policy does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DimensionError {
    /// The report field, e.g. `dimensions.build`.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// A failure of the engine that upstream acknowledges (an issue, or its own
/// known-failure list), charged to the one feature it is about: it counts
/// against that feature, and is set aside (named, not counted) in every
/// other feature's `tests-pass` check, as wasmtime's own CI lists a known
/// failure rather than failing a whole platform for it.
#[derive(Debug, Clone)]
pub struct KnownFailure {
    /// The tests (`suite/name`) it covers.
    pub test: Pattern,
    /// The feature it counts against.
    pub charged_to: String,
    /// The upstream issue or discussion.
    pub link: String,
    /// Why, for people.
    pub reason: String,
}

impl Policy {
    /// The known failure covering test `key` that is charged to a feature
    /// other than `feature`, if any.
    pub fn charged_elsewhere(&self, feature: &str, key: &str) -> Option<&KnownFailure> {
        self.known_failures.iter().find(|k| k.charged_to != feature && k.test.is_match(key))
    }

    /// The run's value of every declared dimension (its own, else the
    /// default), in declaration order; an error names a dimension the policy
    /// does not declare or a value it does not allow.
    pub fn run_dimensions(&self, report: &crate::RunReport) -> Result<Vec<(String, String)>, DimensionError> {
        for (name, value) in &report.dimensions {
            let Some(d) = self.dimensions.iter().find(|d| &d.id == name) else {
                let declared: Vec<&str> = self.dimensions.iter().map(|d| d.id.as_str()).collect();
                let known = if declared.is_empty() { "none".to_owned() } else { declared.join(", ") };
                return Err(DimensionError {
                    field: format!("dimensions.{name}"),
                    message: format!("the policy declares no dimension `{name}` (declared: {known})"),
                });
            };
            if !d.values.contains(value) {
                return Err(DimensionError {
                    field: format!("dimensions.{name}"),
                    message: format!("`{value}` is not a value of `{name}` (values: {})", d.values.join(", ")),
                });
            }
        }
        Ok(self
            .dimensions
            .iter()
            .map(|d| (d.id.clone(), report.dimensions.get(&d.id).cloned().unwrap_or_else(|| d.default.clone())))
            .collect())
    }

    /// `name=value` for each of the run's dimensions away from its default,
    /// comma-separated; empty for an ordinary run (and for a run the
    /// policy's dimensions do not allow, which no selector picks).
    pub fn variant(&self, report: &crate::RunReport) -> String {
        let Ok(values) = self.run_dimensions(report) else { return String::new() };
        variant_label(self.dimensions.iter().zip(values).filter(|(d, (_, v))| *v != d.default).map(|(_, kv)| kv))
    }

    /// Whether a support table reads `report`: one of its backends is the
    /// run's compiler, one of its architectures takes the run's target,
    /// and the run's dimensions are the defaults (as cells read them).
    pub fn tables_read(&self, report: &crate::RunReport) -> bool {
        let defaults = self
            .run_dimensions(report)
            .is_ok_and(|v| self.dimensions.iter().zip(&v).all(|(d, (_, x))| *x == d.default));
        defaults
            && self.tables.tables.iter().any(|t| {
                t.backends.contains(&report.engine.compiler)
                    && t.architectures.iter().any(|a| {
                        self.tables.architectures.iter().any(|x| &x.id == a && x.has_target(&report.target.triple))
                    })
            })
    }

    /// The feature with `id`.
    pub fn feature(&self, id: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.id == id)
    }

    /// The requirement with `id`.
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// The category with `id`.
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// The requirements that apply to `feature`, tier by tier from the lowest.
    pub fn requirements_for<'a>(&'a self, feature: &'a Feature) -> impl Iterator<Item = &'a Requirement> + 'a {
        self.requirements.iter().filter(move |r| r.check.is_some() && r.applies_to(&feature.category))
    }
}

/// The promotion process: who must agree before a declared tier changes,
/// and when a feature that earns more than it declares is overdue.
#[derive(Debug, Clone, PartialEq)]
pub struct Promotions {
    /// A feature whose earned tier has stayed above its declared tier for
    /// longer than this is flagged "promotion overdue".
    pub overdue_after: Window,
    /// One rule per tier, tier 1 first.
    pub rules: Vec<PromotionRule>,
}

impl Promotions {
    /// The rule for moving a feature into `tier`.
    pub fn rule(&self, tier: Tier) -> Option<&PromotionRule> {
        self.rules.iter().find(|r| r.into == tier)
    }
}

/// What a promotion into one tier needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionRule {
    /// The tier promoted into.
    pub into: Tier,
    /// Approvals by maintainers other than the one who filed the request.
    pub approvals: u32,
    /// Whether the request must link an RFC.
    pub rfc: bool,
}

/// The runtime and the fixed prose of its tier document.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The runtime's name, e.g. "Wasmtime".
    pub name: String,
    /// The document's title.
    pub title: String,
    /// Markdown before "Current Tier Status".
    pub intro: String,
    /// Markdown opening "Current Tier Status".
    pub status_intro: String,
    /// Markdown opening the unsupported list.
    pub unsupported_intro: String,
    /// Markdown opening "Tier Details".
    pub details_intro: String,
}

/// A feature category, e.g. "Target".
#[derive(Debug, Clone)]
pub struct Category {
    /// Stable id, e.g. `target`.
    pub id: String,
    /// The text of the Category column.
    pub label: String,
}

/// One tier's definition and prose.
#[derive(Debug, Clone)]
pub struct TierDef {
    /// The tier.
    pub tier: Tier,
    /// Its name, e.g. "Production Ready".
    pub name: String,
    /// Markdown before the bullet list.
    pub intro: String,
    /// The sentence introducing the bullets.
    pub lead: String,
    /// Markdown after the bullets.
    pub outro: String,
}

/// A requirement of one tier.
#[derive(Debug, Clone)]
pub struct Requirement {
    /// Stable id.
    pub id: String,
    /// The tier this requirement belongs to.
    pub tier: Tier,
    /// Short text for "Missing Tier N Requirements" columns.
    pub title: Option<String>,
    /// Replacement titles keyed by the failing check's reason.
    pub title_for_reason: BTreeMap<String, String>,
    /// The bullet this requirement renders as in "Tier Details", if any.
    pub prose: Option<String>,
    /// Why the requirement exists, for ones that are not a bullet.
    pub rationale: Option<String>,
    /// Category ids it applies to; `None` means all.
    pub applies_to: Option<Vec<String>>,
    /// How it is checked; `None` for a process norm that is not evaluated.
    pub check: Option<Check>,
    /// Advisory requirements are reported but never lower a tier.
    pub advisory: bool,
    /// Requirements not listed separately while this one is missing.
    pub subsumes: Vec<String>,
    /// Features it does not apply to, each with why (from the
    /// requirement's `not-applicable` and the features' own).
    pub not_applicable: BTreeMap<String, String>,
}

impl Requirement {
    /// Whether the requirement applies to features of `category`.
    pub fn applies_to(&self, category: &str) -> bool {
        self.applies_to.as_ref().is_none_or(|c| c.iter().any(|c| c == category))
    }

    /// Why the requirement does not apply to feature `id`, when it does not.
    pub fn not_applicable_to(&self, id: &str) -> Option<&str> {
        self.not_applicable.get(id).map(String::as_str)
    }

    /// The text shown when the requirement is missing for `reason`.
    pub fn title_for(&self, reason: &str) -> &str {
        self.title_for_reason.get(reason).or(self.title.as_ref()).map_or(self.id.as_str(), String::as_str)
    }
}

/// The closed set of checks a requirement can use.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The feature's selected tests ran within `window` and all passed.
    TestsPass {
        /// Which suites count.
        suites: Vec<Suite>,
        /// How recent the runs must be.
        window: Window,
        /// Fewer selected tests than this is "not tested enough".
        min_tests: u32,
        /// Fewer distinct targets than this is "not tested widely enough".
        min_targets: u32,
    },
    /// Fuzz campaigns exercised the feature within `window`, with no open crash.
    Fuzzed {
        /// How recent the campaigns must be.
        window: Window,
        /// Whether campaigns are matched by the feature's selector or by
        /// the target architecture.
        scope: FuzzScope,
        /// The fewest campaign hours within `window`; `None` asks only
        /// that a campaign exists.
        min_hours: Option<Hours>,
    },
    /// A differential oracle exercised the feature within `window`.
    DifferentialFuzzed {
        /// How recent the campaigns must be.
        window: Window,
        /// The fewest campaign hours within `window`.
        min_hours: Option<Hours>,
    },
    /// The feature passes the tests of every feature of `category` that
    /// earns `tier` or better (e.g. a target implements every tier-1
    /// proposal).
    ImplementsTierFeatures {
        /// The tier the other features must earn to count.
        tier: Tier,
        /// Their category.
        category: String,
        /// How recent the runs must be.
        window: Window,
    },
    /// The feature's tests pass on every target that earns `tier` or better.
    ImplementedOnTierTargets {
        /// The tier a target must earn to count.
        tier: Tier,
        /// The category whose features are the targets.
        category: String,
        /// How recent the runs must be.
        window: Window,
    },
    /// The proposal has reached at least this phase.
    ProposalPhase {
        /// The lowest acceptable phase.
        min_phase: u8,
    },
    /// A human attestation of `kind` holds and is no older than `max_age`.
    Attested {
        /// The attestation kind id.
        kind: String,
        /// How old the attestation may be; `None` never expires.
        max_age: Option<Window>,
    },
    /// At least one of the checks holds.
    AnyOf(Vec<Check>),
    /// Every one of the checks holds.
    AllOf(Vec<Check>),
    /// The check, reading only the runs `narrow` leaves of the feature's.
    Where {
        /// Which runs remain.
        narrow: Narrow,
        /// The check over them.
        check: Box<Check>,
    },
}

impl Check {
    /// Whether the check (or one inside it) depends on other features'
    /// tiers, so it is evaluated in the cross-feature rounds.
    pub fn is_cross_feature(&self) -> bool {
        match self {
            Check::ImplementsTierFeatures { .. } | Check::ImplementedOnTierTargets { .. } => true,
            Check::AnyOf(c) | Check::AllOf(c) => c.iter().any(Check::is_cross_feature),
            Check::Where { check, .. } => check.is_cross_feature(),
            _ => false,
        }
    }

    /// Every window over run evidence the check (and those inside it)
    /// measures back; attestation ages are not evidence windows.
    pub fn evidence_windows(&self) -> Vec<&Window> {
        match self {
            Check::TestsPass { window, .. }
            | Check::Fuzzed { window, .. }
            | Check::DifferentialFuzzed { window, .. }
            | Check::ImplementsTierFeatures { window, .. }
            | Check::ImplementedOnTierTargets { window, .. } => vec![window],
            Check::Attested { .. } | Check::ProposalPhase { .. } => vec![],
            Check::AnyOf(c) | Check::AllOf(c) => c.iter().flat_map(Check::evidence_windows).collect(),
            Check::Where { check, .. } => check.evidence_windows(),
        }
    }
}

/// A check's `where:` narrowing of the runs a feature's selector picks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Narrow {
    /// Only these targets (empty: the feature's).
    pub targets: Vec<String>,
    /// Only these compilers (empty: the feature's).
    pub compilers: Vec<String>,
    /// These dimensions' values instead of the feature's.
    pub dimensions: BTreeMap<String, Vec<String>>,
}

impl Narrow {
    /// What the narrowing keeps, for details: `compilers winch`,
    /// `targets a, b; build no_std`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.targets.is_empty() {
            parts.push(format!("targets {}", self.targets.join(", ")));
        }
        if !self.compilers.is_empty() {
            parts.push(format!("compilers {}", self.compilers.join(", ")));
        }
        for (k, v) in &self.dimensions {
            parts.push(format!("{k} {}", v.join(", ")));
        }
        format!("where {}", parts.join("; "))
    }

    /// `selector` with its runs narrowed: targets and compilers are
    /// intersected with the feature's own (an empty list on either side is
    /// the other), dimensions replaced.
    pub fn apply(&self, selector: &Selector) -> Selector {
        let meet = |own: &[String], only: &[String]| -> Vec<String> {
            match (own.is_empty(), only.is_empty()) {
                (_, true) => own.to_vec(),
                (true, false) => only.to_vec(),
                // Nothing in common: a list no run matches.
                (false, false) => {
                    let both: Vec<String> = own.iter().filter(|t| only.contains(t)).cloned().collect();
                    if both.is_empty() { vec![String::new()] } else { both }
                }
            }
        };
        let mut s = selector.clone();
        s.targets = meet(&selector.targets, &self.targets);
        s.compilers = meet(&selector.compilers, &self.compilers);
        for (k, v) in &self.dimensions {
            s.dimensions.insert(k.clone(), v.clone());
        }
        s
    }
}

/// A test suite kind in run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// `.wast` scripts: core spec and component-model.
    Spec,
    /// WASI test programs.
    Wasi,
}

/// How fuzz campaigns are matched to a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuzzScope {
    /// By the feature's evidence selector (proposals, compilers).
    Feature,
    /// By the feature's `arch` against the run's target triple.
    Architecture,
}

/// A number of hours a requirement asks for (`min-hours: 24`), positive
/// and finite.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hours(pub f64);

impl Hours {
    /// The hours, when `value` is a positive finite number of at most a
    /// century's hours.
    pub fn new(value: f64) -> Option<Hours> {
        (value.is_finite() && value > 0.0 && value <= 100.0 * 366.0 * 24.0).then_some(Hours(value))
    }
}

/// A span of time such as `30d`, kept with the text it was written as.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The length.
    pub duration: SignedDuration,
    /// As written, for messages.
    pub text: String,
}

impl Window {
    /// Parses `<n><unit>` with unit `h`, `d` or `w`.
    pub fn parse(text: &str) -> Option<Window> {
        let text = text.trim();
        let unit = text.chars().last()?;
        let n: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
        let hours = match unit {
            'h' => 1,
            'd' => 24,
            'w' => 24 * 7,
            _ => return None,
        };
        // At most a century: beyond that a window means nothing.
        let total = n.checked_mul(hours).filter(|h| *h > 0 && *h <= 100 * 366 * 24)?;
        Some(Window { duration: SignedDuration::from_hours(total), text: text.to_owned() })
    }
}

/// A human attestation kind, e.g. `full-time-maintainer`.
#[derive(Debug, Clone)]
pub struct AttestationKind {
    /// Stable id.
    pub id: String,
    /// What attesting it means.
    pub description: String,
}

/// A recorded human attestation about one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct Attestation {
    /// Whether the fact holds.
    pub holds: bool,
    /// Who attested it.
    pub by: String,
    /// When.
    pub on: Date,
    /// Anything the attester added.
    pub note: Option<String>,
}

/// A glob over `suite/path` names, kept with its text.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// As written.
    pub text: String,
    /// Where it is written in the policy file.
    pub pos: crate::yaml::Pos,
    matcher: GlobMatcher,
}

impl Pattern {
    /// Compiles `text`; `*` stays within one path segment, `**` crosses them.
    pub fn new(text: &str) -> Result<Pattern, globset::Error> {
        Self::at(text, crate::yaml::Pos::default())
    }

    /// [`Pattern::new`], remembering where the policy file has it.
    pub fn at(text: &str, pos: crate::yaml::Pos) -> Result<Pattern, globset::Error> {
        let glob = GlobBuilder::new(text).literal_separator(true).build()?;
        Ok(Pattern { text: text.to_owned(), pos, matcher: glob.compile_matcher() })
    }

    /// Whether `name` matches.
    pub fn is_match(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

/// A set of spec-file patterns, possibly including the `@core` set (files
/// that belong to no proposal).
#[derive(Debug, Clone, Default)]
pub struct SpecSelection {
    /// Whether `@core` was named.
    pub core: bool,
    /// The other patterns.
    pub patterns: Vec<Pattern>,
}

/// `a=1,b=2` from name–value pairs.
pub fn variant_label(pairs: impl Iterator<Item = (String, String)>) -> String {
    pairs.map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// Which evidence counts for a feature.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// Target triples whose runs count; empty means any.
    pub targets: Vec<String>,
    /// Compilers whose runs count; empty means any.
    pub compilers: Vec<String>,
    /// Spec files that count.
    pub spec: SpecSelection,
    /// WASI tests (`suite/test`) that count.
    pub wasi: Vec<Pattern>,
    /// Fuzz feature names whose exercise counts.
    pub fuzz: Vec<String>,
    /// For every declared dimension, the values whose runs count (a
    /// dimension the selector does not name: its default only).
    pub dimensions: BTreeMap<String, Vec<String>>,
    /// Why the pinned test data has no tests for the feature: it then
    /// shows "no test data" instead of violating its declared tier.
    pub no_test_data: Option<String>,
    /// The feature covers tests that other features of its category also
    /// claim (an umbrella row, e.g. every preview-1 program).
    pub umbrella: bool,
}

impl Selector {
    /// Whether the selector picks any tests at all; a feature with no test
    /// selection has no CI evidence, whatever runs exist.
    pub fn selects_tests(&self) -> bool {
        self.spec.core || !self.spec.patterns.is_empty() || !self.wasi.is_empty()
    }

    /// Whether a run on `target` with `compiler` counts, whatever its
    /// dimensions.
    pub fn selects_run(&self, target: &str, compiler: &str) -> bool {
        (self.targets.is_empty() || self.targets.iter().any(|t| t == target))
            && (self.compilers.is_empty() || self.compilers.iter().any(|c| c == compiler))
    }

    /// Whether a run with these dimension values (every declared one, as
    /// [`Policy::run_dimensions`] gives them) counts.
    pub fn selects_dimensions(&self, values: &[(String, String)]) -> bool {
        values.iter().all(|(k, v)| self.dimensions.get(k).is_none_or(|allowed| allowed.contains(v)))
    }

    /// Whether `report` counts, by target, compiler and dimensions; a report
    /// whose dimensions the policy does not allow never does.
    pub fn selects_report(&self, policy: &Policy, report: &crate::RunReport) -> bool {
        self.selects_run(&report.target.triple, &report.engine.compiler)
            && policy.run_dimensions(report).is_ok_and(|v| self.selects_dimensions(&v))
    }
}

/// A row of the tier tables.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Stable id.
    pub id: String,
    /// Category id.
    pub category: String,
    /// Description text.
    pub label: String,
    /// Whether the label is set as code.
    pub code: bool,
    /// Link for the label, rendered as a reference link.
    pub link: Option<String>,
    /// Footnote id.
    pub footnote: Option<String>,
    /// The tier the document places the feature at.
    pub declared: Tier,
    /// Architecture, for targets that have one.
    pub arch: Option<String>,
    /// Who owns the feature.
    pub owners: Vec<String>,
    /// Proposal phase, for proposals.
    pub phase: Option<u8>,
    /// Which evidence counts.
    pub evidence: Selector,
}

/// A footnote.
#[derive(Debug, Clone)]
pub struct Footnote {
    /// Its id, e.g. `1`.
    pub id: String,
    /// Markdown text.
    pub text: String,
}

/// An entry of the unsupported list.
#[derive(Debug, Clone)]
pub struct Unsupported {
    /// What kind of thing, e.g. "Target" or "WASI proposal".
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Whether the name is set as code.
    pub code: bool,
    /// A link about it.
    pub link: Option<String>,
    /// Spec files belonging to it (excluded from `@core`).
    pub spec: Vec<Pattern>,
}
