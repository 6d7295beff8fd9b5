//! The policy file as written: plain serde structs, kebab-case, nothing
//! checked beyond types. `validate` turns them into [`super::Policy`].

use std::collections::BTreeMap;

use serde::Deserialize;

/// `runtime:` — whose tier document this is, and its fixed prose.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawRuntime {
    pub name: String,
    pub title: String,
    pub intro: String,
    pub status_intro: String,
    pub unsupported_intro: String,
    pub details_intro: String,
}

/// An item of `categories:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawCategory {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub evidence_defaults: Option<RawSelector>,
}

/// An item of `tiers:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawTier {
    pub tier: u8,
    pub name: String,
    pub intro: String,
    pub lead: String,
    pub outro: String,
}

/// An item of `requirements:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawRequirement {
    pub id: String,
    pub tier: u8,
    pub title: Option<String>,
    #[serde(default)]
    pub title_for_reason: BTreeMap<String, String>,
    pub prose: Option<String>,
    pub rationale: Option<String>,
    pub applies_to: Option<Vec<String>>,
    pub check: Option<RawCheck>,
    #[serde(default)]
    pub advisory: bool,
    #[serde(default)]
    pub subsumes: Vec<String>,
    #[serde(default)]
    pub not_applicable: Vec<RawNotApplicable>,
}

/// A requirement's `check:`. One flat struct so that an unknown `kind` is
/// reported at its own position; which parameters go with which kind is
/// checked by `validate`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawCheck {
    pub kind: Option<String>,
    pub any_of: Option<Vec<RawCheck>>,
    pub all_of: Option<Vec<RawCheck>>,
    #[serde(rename = "where")]
    pub where_: Option<RawWhere>,
    pub window: Option<String>,
    pub suites: Option<Vec<String>>,
    pub min_tests: Option<u32>,
    pub min_targets: Option<u32>,
    pub scope: Option<String>,
    pub min_hours: Option<f64>,
    pub attestation: Option<String>,
    pub max_age: Option<String>,
    pub min_phase: Option<u8>,
    pub tier: Option<u8>,
    pub category: Option<String>,
}

/// A check's `where:` — the runs it reads, narrowed from the feature's.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawWhere {
    pub targets: Option<Vec<String>>,
    pub compilers: Option<Vec<String>>,
    pub dimensions: Option<BTreeMap<String, Vec<String>>>,
}

/// An item of a requirement's or a feature's `not-applicable:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawNotApplicable {
    /// On a requirement: the features it does not apply to.
    pub features: Option<Vec<String>>,
    /// On a feature: the requirements that do not apply to it.
    pub requirements: Option<Vec<String>>,
    pub reason: String,
}

/// An item of `attestation-kinds:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawAttestationKind {
    pub id: String,
    pub description: String,
}

/// An item of `attestations:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawAttestation {
    pub kind: String,
    pub features: Vec<String>,
    pub holds: bool,
    pub by: String,
    pub on: String,
    pub note: Option<String>,
}

/// An item of `dimensions:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawDimension {
    pub id: String,
    pub description: String,
    pub values: Vec<String>,
    pub default: String,
}

/// An item of `known-failures:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawKnownFailure {
    pub test: String,
    pub charged_to: String,
    pub link: String,
    pub reason: String,
}

/// Which evidence counts for a feature.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawSelector {
    pub targets: Option<Vec<String>>,
    pub compilers: Option<Vec<String>>,
    pub spec: Option<Vec<String>>,
    pub wasi: Option<Vec<String>>,
    pub fuzz: Option<Vec<String>>,
    pub dimensions: Option<BTreeMap<String, Vec<String>>>,
    pub no_test_data: Option<String>,
    pub umbrella: Option<bool>,
}

/// An item of `features:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawFeature {
    pub id: String,
    pub category: String,
    pub label: String,
    #[serde(default)]
    pub code: bool,
    pub link: Option<String>,
    pub footnote: Option<String>,
    pub declared_tier: u8,
    pub arch: Option<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    pub phase: Option<u8>,
    pub evidence: Option<RawSelector>,
    #[serde(default)]
    pub not_applicable: Vec<RawNotApplicable>,
}

/// An item of `footnotes:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawFootnote {
    pub id: String,
    pub text: String,
}

/// An item of `unsupported:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawUnsupported {
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub code: bool,
    pub link: Option<String>,
    #[serde(default)]
    pub spec: Vec<String>,
}

/// `promotions:` — how declared tiers change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawPromotions {
    pub overdue_after: String,
    pub rules: Vec<RawPromotionRule>,
}

/// An item of `promotions.rules`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawPromotionRule {
    pub into: u8,
    pub approvals: u32,
    #[serde(default)]
    pub rfc: bool,
}

/// An item of `architectures:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawArchitecture {
    pub id: String,
    pub label: String,
    pub targets: Vec<String>,
}

/// An item of `backends:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawBackend {
    pub id: String,
    pub label: String,
}

/// An item of `support-levels:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawLevel {
    pub id: String,
    pub label: String,
    pub symbol: String,
    pub counts: String,
    pub rule: RawLevelRule,
}

/// A support level's `rule:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawLevelRule {
    pub kind: String,
    pub min_tests: Option<u32>,
    pub at_least: Option<f64>,
}

/// An item of `support-tables:`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawTable {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub intro: String,
    pub window: String,
    pub architectures: Vec<String>,
    pub backends: Vec<String>,
    pub rows: RawRows,
    #[serde(default)]
    pub not_applicable: Vec<RawCellSet>,
    #[serde(default)]
    pub notes: Vec<RawCellNote>,
}

/// A table's `rows:` — the features of a category, or named features.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawRows {
    pub category: Option<String>,
    pub features: Option<Vec<String>>,
}

/// Cells named by their axes: every combination of the listed values (an
/// axis left out is every value of the table's).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawCellSet {
    pub architectures: Option<Vec<String>>,
    pub backends: Option<Vec<String>>,
    pub proposals: Option<Vec<String>>,
    pub reason: String,
}

/// A footnote on one cell.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RawCellNote {
    pub architecture: String,
    pub backend: String,
    pub proposal: String,
    pub footnote: String,
}
