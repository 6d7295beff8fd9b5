//! Policy validation: raw structs in, a [`Policy`] or every problem out.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use serde::de::DeserializeOwned;

use super::raw::*;
use super::*;
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::yaml::{self, Node, Pos, UnknownKey};

const TOP_LEVEL: &[&str] = &[
    "schema-version",
    "runtime",
    "categories",
    "tiers",
    "requirements",
    "attestation-kinds",
    "attestations",
    "features",
    "footnotes",
    "unsupported",
    "core-spec-exclude",
    "promotions",
    "known-failures",
    "dimensions",
    "architectures",
    "backends",
    "support-levels",
    "support-tables",
];
const REQUIRED: &[&str] = &["schema-version", "runtime", "categories", "tiers", "requirements", "features"];
const SCHEMA_VERSION: u32 = 1;

/// The check kinds, with the parameters each takes (beyond `kind`) and
/// which of those are required.
const CHECK_KINDS: &[(&str, &[&str], &[&str])] = &[
    ("tests-pass", &["suites", "window", "min-tests", "min-targets"], &["window"]),
    ("fuzzed", &["window", "scope", "min-hours"], &["window"]),
    ("differential-fuzzed", &["window", "min-hours"], &["window"]),
    ("implements-tier-features", &["tier", "category", "window"], &["tier", "category", "window"]),
    ("implemented-on-tier-targets", &["tier", "category", "window"], &["tier", "category", "window"]),
    ("proposal-phase", &["min-phase"], &["min-phase"]),
    ("attested", &["attestation", "max-age"], &["attestation"]),
];

/// Reasons each check kind can fail with, for `title-for-reason` keys.
pub(crate) const REASONS: &[&str] = &[
    "no-evidence",
    "no-test-data",
    "build-only",
    "failures",
    "too-few-tests",
    "too-few-targets",
    "stale",
    "not-fuzzed",
    "no-architecture",
    "open-crash",
    "too-few-hours",
    "none-of",
    "missing-features",
    "missing-targets",
    "unstable",
    "unknown-phase",
    "not-attested",
    "denied",
    "expired",
];

/// Parses and validates a policy file. `file` names it in diagnostics.
pub fn validate(file: &str, text: &str) -> Result<Policy, Diagnostics> {
    let mut cx = Cx::default();
    let root = match yaml::parse_checked(text) {
        Ok((root, duplicates)) => {
            for k in duplicates {
                let d = Diagnostic::new(
                    k.pos,
                    Code::DuplicateId,
                    format!("key `{}` appears twice in this mapping", k.name),
                )
                .with_help("YAML keeps only one of them; merge the two");
                cx.push(d);
            }
            root
        }
        Err(e) => {
            cx.push(Diagnostic::new(e.pos, Code::Syntax, e.message));
            return Err(cx.finish(file));
        }
    };
    let policy = cx.policy(&root);
    match policy {
        Some(policy) if cx.diags.is_empty() && cx.unknown.borrow().is_empty() => Ok(policy),
        _ => Err(cx.finish(file)),
    }
}

#[derive(Default)]
struct Cx {
    diags: Vec<Diagnostic>,
    unknown: RefCell<Vec<UnknownKey>>,
}

/// The position of `key` under `node`, else of `node` itself.
fn pos_of(node: &Node, key: &str) -> Pos {
    node.get(key).map_or(node.pos, |n| n.pos)
}

/// `(position, id)` of every item of the list at `root[key]` that has a
/// scalar `id`.
fn runtime_of(r: RawRuntime) -> Runtime {
    Runtime {
        name: r.name,
        title: r.title,
        intro: r.intro,
        status_intro: r.status_intro,
        unsupported_intro: r.unsupported_intro,
        details_intro: r.details_intro,
    }
}

fn node_ids<'n>(root: &'n Node, key: &str) -> impl Iterator<Item = (Pos, &'n str)> {
    root.get(key).and_then(Node::as_seq).unwrap_or_default().iter().filter_map(|item| {
        let id = item.get("id")?;
        match &id.kind {
            yaml::NodeKind::Scalar { value, .. } => Some((id.pos, value.as_str())),
            _ => None,
        }
    })
}

/// The position of item `i` of the list under `key`, else of the key.
fn item_pos(node: &Node, key: &str, i: usize) -> Pos {
    node.get(key).and_then(|l| l.as_seq()).and_then(|s| s.get(i)).map_or(pos_of(node, key), |n| n.pos)
}

impl Cx {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn error(&mut self, pos: Pos, code: Code, message: impl Into<String>) {
        self.push(Diagnostic::new(pos, code, message));
    }

    fn finish(mut self, file: &str) -> Diagnostics {
        for u in self.unknown.take() {
            let d = Diagnostic::new(u.key.pos, Code::UnknownKey, format!("unknown key `{}`", u.key.name))
                .with_help(format!("expected one of: {}", u.expected.join(", ")));
            self.diags.push(d);
        }
        self.diags.sort_by_key(|d| (d.pos, d.code));
        self.diags.dedup();
        Diagnostics { file: file.to_owned(), items: self.diags }
    }

    /// Deserializes one node, recording a failure as a diagnostic.
    fn one<T: DeserializeOwned>(&mut self, node: &Node) -> Option<T> {
        match yaml::from_node::<T>(node, &self.unknown) {
            Ok(v) => Some(v),
            Err(e) => {
                let code = if e.message.starts_with("missing field") { Code::MissingField } else { Code::InvalidValue };
                self.error(e.pos.unwrap_or(node.pos), code, e.message);
                None
            }
        }
    }

    /// Deserializes every item of the list at `root[key]` independently, so
    /// one bad item does not hide problems in the others.
    fn list<'n, T: DeserializeOwned>(&mut self, root: &'n Node, key: &str) -> Vec<(&'n Node, T)> {
        let Some(node) = root.get(key) else { return Vec::new() };
        let Some(items) = node.as_seq() else {
            self.error(node.pos, Code::InvalidValue, format!("`{key}` must be a list"));
            return Vec::new();
        };
        items.iter().filter_map(|n| self.one(n).map(|v| (n, v))).collect()
    }

    /// Records duplicate ids, returning the set of ids.
    fn ids<'a>(&mut self, what: &str, items: impl Iterator<Item = (Pos, &'a str)>) -> BTreeSet<String> {
        let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
        for (pos, id) in items {
            if let Some(first) = seen.get(id) {
                let msg = format!("duplicate {what} id `{id}` (first defined at line {})", first.line);
                self.push(Diagnostic::new(pos, Code::DuplicateId, msg).with_help("give each item its own id"));
            } else {
                seen.insert(id, pos);
            }
        }
        seen.into_keys().map(str::to_owned).collect()
    }

    fn reference(&mut self, pos: Pos, what: &str, id: &str, known: &BTreeSet<String>) -> bool {
        if known.contains(id) {
            return true;
        }
        let msg = format!("unknown {what} `{id}`");
        let help = format!("defined {}: {}", plural(what), known.iter().cloned().collect::<Vec<_>>().join(", "));
        self.push(Diagnostic::new(pos, Code::DanglingReference, msg).with_help(help));
        false
    }

    fn window(&mut self, pos: Pos, text: &str) -> Option<Window> {
        let w = Window::parse(text);
        if w.is_none() {
            let d = Diagnostic::new(pos, Code::BadWindow, format!("bad window `{text}`"))
                .with_help("write a positive whole number followed by h, d or w, e.g. `30d`");
            self.push(d);
        }
        w
    }

    fn located_patterns(&mut self, texts: &[(Pos, String)]) -> Vec<Pattern> {
        let mut out = Vec::new();
        for (pos, t) in texts {
            match Pattern::at(t, *pos) {
                Ok(p) => out.push(p),
                Err(e) => self.error(*pos, Code::BadPattern, format!("bad pattern `{t}`: {}", e.kind())),
            }
        }
        out
    }

    fn patterns(&mut self, pos: Pos, texts: &[String]) -> Vec<Pattern> {
        let mut out = Vec::new();
        for t in texts {
            match Pattern::new(t) {
                Ok(p) => out.push(p),
                Err(e) => self.error(pos, Code::BadPattern, format!("bad pattern `{t}`: {}", e.kind())),
            }
        }
        out
    }

    fn policy(&mut self, root: &Node) -> Option<Policy> {
        let Some(entries) = root.as_map() else {
            self.error(root.pos, Code::InvalidValue, "a policy file must be a mapping of sections");
            return None;
        };
        self.top_level(root, entries);
        let runtime = root.get("runtime").and_then(|n| self.one::<RawRuntime>(n));
        let categories = self.list::<RawCategory>(root, "categories");
        let tiers = self.list::<RawTier>(root, "tiers");
        let requirements = self.list::<RawRequirement>(root, "requirements");
        let kinds = self.list::<RawAttestationKind>(root, "attestation-kinds");
        let attestations = self.list::<RawAttestation>(root, "attestations");
        let known_failures = self.list::<RawKnownFailure>(root, "known-failures");
        let dimensions = self.list::<RawDimension>(root, "dimensions");
        let dimensions = self.dimensions(&dimensions);
        let features = self.list::<RawFeature>(root, "features");
        let footnotes = self.list::<RawFootnote>(root, "footnotes");
        let unsupported = self.list::<RawUnsupported>(root, "unsupported");
        let core_exclude: Vec<String> = root.get("core-spec-exclude").and_then(|n| self.one(n)).unwrap_or_default();
        let tiers = self.tiers(&tiers);
        let ntiers = tiers.len() as u8;
        // Ids come from the nodes, not the decoded items, so that an item
        // with an unrelated mistake does not make every reference to it dangle.
        let category_ids = self.ids("category", node_ids(root, "categories"));
        let kind_ids = self.ids("attestation kind", node_ids(root, "attestation-kinds"));
        let feature_ids = self.ids("feature", node_ids(root, "features"));
        let footnote_ids = self.ids("footnote", node_ids(root, "footnotes"));
        let requirement_ids = self.ids("requirement", node_ids(root, "requirements"));
        let refs = Refs {
            categories: &category_ids,
            kinds: &kind_ids,
            features: &feature_ids,
            footnotes: &footnote_ids,
            requirements: &requirement_ids,
            dimensions: &dimensions,
            ntiers,
        };
        let requirements: Vec<Requirement> =
            requirements.iter().filter_map(|(n, r)| self.requirement(n, r, &refs)).collect();
        let defaults: BTreeMap<&str, &RawSelector> =
            categories.iter().filter_map(|(_, c)| c.evidence_defaults.as_ref().map(|d| (c.id.as_str(), d))).collect();
        let raw_features = features;
        let features: Vec<Feature> = raw_features
            .iter()
            .filter_map(|(n, f)| self.feature(n, f, &refs, &defaults, &requirements, &dimensions))
            .collect();
        let requirements = self.requirements_not_applicable(requirements, &raw_features, &requirement_ids);
        self.not_applicable_sense(&requirements, &features, root);
        let tables = self.tables(root, &features, &category_ids, &footnote_ids);
        self.unreferenced_footnotes(root, &footnotes, &features, &tables);
        let attestations = self.attestations(&attestations, &refs);
        let known_failures = self.known_failures(&known_failures, &refs);
        let unsupported = self.unsupported(&unsupported);
        let core_exclude = self.patterns(pos_of(root, "core-spec-exclude"), &core_exclude);
        self.duplicate_labels(&categories);
        let promotions = root
            .get("promotions")
            .and_then(|n| self.one::<RawPromotions>(n).and_then(|p| self.promotions(n, &p, ntiers)));

        Some(Policy {
            runtime: runtime.map(runtime_of)?,
            categories: categories.into_iter().map(|(_, c)| Category { id: c.id, label: c.label }).collect(),
            tiers,
            requirements,
            attestation_kinds: kinds
                .into_iter()
                .map(|(_, k)| AttestationKind { id: k.id, description: k.description })
                .collect(),
            attestations,
            features,
            footnotes: footnotes.into_iter().map(|(_, f)| Footnote { id: f.id, text: f.text }).collect(),
            unsupported,
            core_exclude,
            promotions,
            known_failures,
            dimensions,
            tables,
        })
    }

    /// The file's sections: each known, the required ones there, the
    /// schema version this tierwatch reads.
    fn top_level(&mut self, root: &Node, entries: &[(yaml::Key, Node)]) {
        for (k, _) in entries {
            if !TOP_LEVEL.contains(&k.name.as_str()) {
                let u = UnknownKey { key: k.clone(), expected: TOP_LEVEL };
                self.unknown.borrow_mut().push(u);
            }
        }
        for key in REQUIRED {
            if root.get(key).is_none() {
                self.error(root.pos, Code::MissingField, format!("missing section `{key}`"));
            }
        }
        if let Some(v) = root.get("schema-version") {
            let version: Option<u32> = self.one(v);
            if version.is_some_and(|v| v != SCHEMA_VERSION) {
                self.error(v.pos, Code::InvalidValue, format!("this tierwatch reads schema-version {SCHEMA_VERSION}"));
            }
        }
    }

    /// The `unsupported:` entries, their spec patterns checked.
    fn unsupported(&mut self, raw: &[(&Node, RawUnsupported)]) -> Vec<Unsupported> {
        raw.iter()
            .map(|(n, u)| Unsupported {
                kind: u.kind.clone(),
                name: u.name.clone(),
                code: u.code,
                link: u.link.clone(),
                spec: self.patterns(pos_of(n, "spec"), &u.spec),
            })
            .collect()
    }

    /// Each feature's `not-applicable` requirements, recorded on those
    /// requirements.
    fn requirements_not_applicable(
        &mut self,
        mut requirements: Vec<Requirement>,
        features: &[(&Node, RawFeature)],
        requirement_ids: &BTreeSet<String>,
    ) -> Vec<Requirement> {
        for (node, f) in features {
            for (req, reason) in self.not_applicable(node, &f.not_applicable, "requirements", requirement_ids) {
                if let Some(r) = requirements.iter_mut().find(|r| r.id == req) {
                    r.not_applicable.insert(f.id.clone(), reason);
                }
            }
        }
        requirements
    }

    /// The support tables with their shared axes and levels: every name a
    /// table, a not-applicable set or a note uses is defined, at its
    /// position when not.
    fn tables(
        &mut self,
        root: &Node,
        features: &[Feature],
        categories: &BTreeSet<String>,
        footnotes: &BTreeSet<String>,
    ) -> Tables {
        let raw_archs = self.list::<RawArchitecture>(root, "architectures");
        let raw_backends = self.list::<RawBackend>(root, "backends");
        let raw_levels = self.list::<RawLevel>(root, "support-levels");
        let raw_tables = self.list::<RawTable>(root, "support-tables");
        let arch_ids = self.ids("architecture", node_ids(root, "architectures"));
        let backend_ids = self.ids("backend", node_ids(root, "backends"));
        self.ids("support level", node_ids(root, "support-levels"));
        self.ids("support table", node_ids(root, "support-tables"));
        let architectures = self.architectures(&raw_archs);
        let backends = raw_backends.iter().map(|(_, b)| Backend { id: b.id.clone(), label: b.label.clone() }).collect();
        let levels = self.levels(&raw_levels);
        if !raw_tables.is_empty() && levels.is_empty() {
            self.error(root.pos, Code::MissingField, "support tables need `support-levels`");
        }
        let feature_ids: BTreeSet<String> = features.iter().map(|f| f.id.clone()).collect();
        let mut tables = Vec::new();
        for (node, t) in &raw_tables {
            let window = self.window(pos_of(node, "window"), &t.window);
            for (key, names, known, what) in [
                ("architectures", &t.architectures, &arch_ids, "architecture"),
                ("backends", &t.backends, &backend_ids, "backend"),
            ] {
                if names.is_empty() {
                    self.error(pos_of(node, key), Code::InvalidValue, format!("table `{}` has no {key}", t.id));
                }
                for (i, name) in names.iter().enumerate() {
                    self.reference(item_pos(node, key, i), what, name, known);
                }
            }
            let rows = self.table_rows(node, t, features, categories, &feature_ids);
            let rows_set: BTreeSet<String> = rows.iter().cloned().collect();
            let axes = Axes { archs: &t.architectures, backends: &t.backends, rows: &rows_set };
            let not_applicable = self.table_not_applicable(node, t, &axes);
            let notes = self.table_notes(node, t, &axes, footnotes);
            if !not_applicable.is_empty() && !levels.iter().any(|l| l.counts == Counts::Neither) {
                let d = Diagnostic::new(pos_of(node, "not-applicable"), Code::Inconsistent, format!("table `{}` declares cells not applicable, but no support level counts `neither`", t.id))
                    .with_help("add a level such as `{ id: not-applicable, label: Not applicable, symbol: \"➖\", counts: neither, rule: { kind: all-unsupported } }`");
                self.push(d);
            }
            let Some(window) = window else { continue };
            tables.push(SupportTable {
                id: t.id.clone(),
                title: t.title.clone(),
                intro: t.intro.clone(),
                window,
                architectures: t.architectures.clone(),
                backends: t.backends.clone(),
                rows,
                not_applicable,
                notes,
            });
        }
        Tables { architectures, backends, levels, tables }
    }

    /// The architectures of the support tables, each naming targets.
    fn architectures(&mut self, raw: &[(&Node, RawArchitecture)]) -> Vec<Architecture> {
        raw.iter()
            .map(|(n, a)| {
                if a.targets.is_empty() {
                    self.error(
                        pos_of(n, "targets"),
                        Code::InvalidValue,
                        format!("architecture `{}` names no targets", a.id),
                    );
                }
                let texts: Vec<(Pos, String)> =
                    a.targets.iter().enumerate().map(|(i, t)| (item_pos(n, "targets", i), t.clone())).collect();
                Architecture { id: a.id.clone(), label: a.label.clone(), targets: self.located_patterns(&texts) }
            })
            .collect()
    }

    /// A table's rows: a category's features, or a list of features.
    fn table_rows(
        &mut self,
        node: &Node,
        t: &RawTable,
        features: &[Feature],
        categories: &BTreeSet<String>,
        feature_ids: &BTreeSet<String>,
    ) -> Vec<String> {
        let rows_node = node.get("rows").unwrap_or(node);
        match (&t.rows.category, &t.rows.features) {
            (Some(c), None) => {
                if self.reference(pos_of(rows_node, "category"), "category", c, categories) {
                    features.iter().filter(|f| &f.category == c).map(|f| f.id.clone()).collect()
                } else {
                    vec![]
                }
            }
            (None, Some(list)) => {
                for (i, f) in list.iter().enumerate() {
                    self.reference(item_pos(rows_node, "features", i), "feature", f, feature_ids);
                }
                list.clone()
            }
            _ => {
                self.error(
                    rows_node.pos,
                    Code::InvalidValue,
                    "`rows` names a `category` or a list of `features`, one of the two",
                );
                vec![]
            }
        }
    }

    /// A table's cells declared not applicable, each with its reason.
    fn table_not_applicable(
        &mut self,
        node: &Node,
        t: &RawTable,
        axes: &Axes<'_>,
    ) -> BTreeMap<(String, String, String), String> {
        let mut not_applicable = BTreeMap::new();
        for (i, set) in t.not_applicable.iter().enumerate() {
            let item = node.get("not-applicable").and_then(Node::as_seq).and_then(|s| s.get(i)).unwrap_or(node);
            if set.reason.trim().is_empty() {
                self.error(
                    pos_of(item, "reason"),
                    Code::InvalidValue,
                    "say why these cells do not apply: `reason` is empty",
                );
            }
            for cell in self.cell_set(item, set, axes) {
                if not_applicable.insert(cell.clone(), set.reason.clone()).is_some() {
                    let msg = format!("cell {} / {} / {} is declared not applicable twice", cell.0, cell.1, cell.2);
                    self.error(item.pos, Code::DuplicateId, msg);
                }
            }
        }
        not_applicable
    }

    /// A table's notes: footnotes on cells of its axes.
    fn table_notes(
        &mut self,
        node: &Node,
        t: &RawTable,
        axes: &Axes<'_>,
        footnotes: &BTreeSet<String>,
    ) -> BTreeMap<(String, String, String), String> {
        let mut notes = BTreeMap::new();
        for (i, n) in t.notes.iter().enumerate() {
            let item = node.get("notes").and_then(Node::as_seq).and_then(|s| s.get(i)).unwrap_or(node);
            let ok = [
                self.on_axis(pos_of(item, "architecture"), "architecture", &n.architecture, axes.archs.iter()),
                self.on_axis(pos_of(item, "backend"), "backend", &n.backend, axes.backends.iter()),
                self.on_axis(pos_of(item, "proposal"), "row", &n.proposal, axes.rows.iter()),
                self.reference(pos_of(item, "footnote"), "footnote", &n.footnote, footnotes),
            ];
            if ok.iter().all(|b| *b) {
                notes.insert((n.architecture.clone(), n.backend.clone(), n.proposal.clone()), n.footnote.clone());
            }
        }
        notes
    }

    /// Whether `name` is a value of the table's axis, else an error at `pos`.
    fn on_axis<'a>(&mut self, pos: Pos, what: &str, name: &str, mut values: impl Iterator<Item = &'a String>) -> bool {
        let values: Vec<&String> = values.by_ref().collect();
        if values.iter().any(|v| *v == name) {
            return true;
        }
        let list: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
        let d = Diagnostic::new(pos, Code::DanglingReference, format!("unknown {what} `{name}` in this table"))
            .with_help(format!("the table's {}: {}", plural(what), list.join(", ")));
        self.push(d);
        false
    }

    /// Every (architecture, backend, row) a cell set names; each name must
    /// be on the table's axis.
    fn cell_set(&mut self, item: &Node, set: &RawCellSet, axes: &Axes<'_>) -> Vec<(String, String, String)> {
        let mut pick = |key: &str, what: &str, given: &Option<Vec<String>>, all: Vec<String>| -> Vec<String> {
            match given {
                None => all,
                Some(names) => names
                    .iter()
                    .enumerate()
                    .filter(|(i, n)| self.on_axis(item_pos(item, key, *i), what, n, all.iter()))
                    .map(|(_, n)| n.clone())
                    .collect(),
            }
        };
        let archs = pick("architectures", "architecture", &set.architectures, axes.archs.to_vec());
        let backends = pick("backends", "backend", &set.backends, axes.backends.to_vec());
        let rows = pick("proposals", "row", &set.proposals, axes.rows.iter().cloned().collect());
        let mut out = Vec::new();
        for a in &archs {
            for b in &backends {
                for r in &rows {
                    out.push((a.clone(), b.clone(), r.clone()));
                }
            }
        }
        out
    }

    /// Levels: a known rule kind with its parameters; `otherwise` last.
    fn levels(&mut self, raw: &[(&Node, RawLevel)]) -> Vec<Level> {
        let mut out = Vec::new();
        for (i, (node, l)) in raw.iter().enumerate() {
            let rnode = node.get("rule").unwrap_or(node);
            let counts = match l.counts.as_str() {
                "for" => Counts::For,
                "against" => Counts::Against,
                "neither" => Counts::Neither,
                other => {
                    self.error(
                        pos_of(node, "counts"),
                        Code::InvalidValue,
                        format!("`counts: {other}`; use for, against or neither"),
                    );
                    continue;
                }
            };
            let params = |kind: &str| -> &'static [&'static str] {
                match kind {
                    "all-pass" => &["min-tests"],
                    "pass-rate" => &["at-least"],
                    _ => &[],
                }
            };
            let rule = match l.rule.kind.as_str() {
                "all-pass" => LevelRule::AllPass { min_tests: l.rule.min_tests.unwrap_or(1) },
                "pass-rate" => match l.rule.at_least {
                    Some(a) if a.is_finite() && (0.0..=1.0).contains(&a) => LevelRule::PassRate { at_least: a },
                    _ => {
                        self.error(
                            pos_of(rnode, "at-least"),
                            Code::CheckParameter,
                            "`pass-rate` needs `at-least`, a share between 0 and 1",
                        );
                        continue;
                    }
                },
                "all-unsupported" => LevelRule::AllUnsupported,
                "otherwise" => LevelRule::Otherwise,
                other => {
                    let d = Diagnostic::new(
                        pos_of(rnode, "kind"),
                        Code::UnknownCheckKind,
                        format!("unknown level rule `{other}`"),
                    )
                    .with_help("level rules: all-pass, pass-rate, all-unsupported, otherwise");
                    self.push(d);
                    continue;
                }
            };
            for (key, _) in rnode.as_map().unwrap_or_default() {
                if key.name != "kind" && !params(&l.rule.kind).contains(&key.name.as_str()) {
                    let msg = format!("`{}` is not a parameter of level rule `{}`", key.name, l.rule.kind);
                    self.error(key.pos, Code::CheckParameter, msg);
                }
            }
            if rule == LevelRule::Otherwise && i + 1 != raw.len() {
                let d = Diagnostic::new(
                    pos_of(rnode, "kind"),
                    Code::Inconsistent,
                    format!("level `{}` takes every cell left, so the levels after it are never reached", l.id),
                )
                .with_help("put the `otherwise` level last");
                self.push(d);
            }
            out.push(Level { id: l.id.clone(), label: l.label.clone(), symbol: l.symbol.clone(), counts, rule });
        }
        out
    }

    /// Ids unique, values unique and well-formed, the default among them.
    fn dimensions(&mut self, raw: &[(&Node, RawDimension)]) -> Vec<Dimension> {
        let mut out: Vec<Dimension> = Vec::new();
        for (node, d) in raw {
            let mut ok = true;
            if !crate::evidence::is_dimension_word(&d.id) {
                let msg = format!("dimension id `{}`: write 1 to 64 characters of a-z 0-9 _ -", d.id);
                self.error(pos_of(node, "id"), Code::InvalidValue, msg);
                ok = false;
            }
            if let Some(first) = out.iter().find(|x| x.id == d.id) {
                let msg = format!("dimension `{}` is declared twice", first.id);
                self.error(pos_of(node, "id"), Code::DuplicateId, msg);
                ok = false;
            }
            if d.values.len() < 2 {
                let d = Diagnostic::new(
                    pos_of(node, "values"),
                    Code::InvalidValue,
                    format!("dimension `{}` has {} value(s)", d.id, d.values.len()),
                )
                .with_help("a dimension tells runs apart: give it at least two values, its default among them");
                self.push(d);
                ok = false;
            }
            let mut seen = BTreeSet::new();
            for (i, v) in d.values.iter().enumerate() {
                let pos = item_pos(node, "values", i);
                if !crate::evidence::is_dimension_word(v) {
                    let msg = format!("value `{v}` of `{}`: write 1 to 64 characters of a-z 0-9 _ -", d.id);
                    self.error(pos, Code::InvalidValue, msg);
                    ok = false;
                } else if !seen.insert(v) {
                    self.error(pos, Code::DuplicateId, format!("value `{v}` of `{}` is listed twice", d.id));
                    ok = false;
                }
            }
            if !d.values.contains(&d.default) {
                let d = Diagnostic::new(
                    pos_of(node, "default"),
                    Code::Inconsistent,
                    format!("the default `{}` of `{}` is not one of its values", d.default, d.id),
                )
                .with_help(format!("values: {}", d.values.join(", ")));
                self.push(d);
                ok = false;
            }
            if ok {
                out.push(Dimension {
                    id: d.id.clone(),
                    description: d.description.clone(),
                    values: d.values.clone(),
                    default: d.default.clone(),
                });
            }
        }
        out
    }

    /// A `not-applicable:` list: each entry names `key` (features on a
    /// requirement, requirements on a feature), all defined, with a reason.
    fn not_applicable(
        &mut self,
        node: &Node,
        raw: &[RawNotApplicable],
        key: &str,
        known: &BTreeSet<String>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let other = if key == "features" { "requirements" } else { "features" };
        for (i, entry) in raw.iter().enumerate() {
            let item = node.get("not-applicable").and_then(Node::as_seq).and_then(|s| s.get(i)).unwrap_or(node);
            let (names, wrong) = if key == "features" {
                (&entry.features, &entry.requirements)
            } else {
                (&entry.requirements, &entry.features)
            };
            if wrong.is_some() {
                let d =
                    Diagnostic::new(pos_of(item, other), Code::InvalidValue, format!("`{other}` does not belong here"))
                        .with_help(format!("here `not-applicable` names {key}"));
                self.push(d);
            }
            let Some(names) = names else {
                self.error(item.pos, Code::MissingField, format!("`not-applicable` entry needs `{key}`"));
                continue;
            };
            if entry.reason.trim().is_empty() {
                self.error(pos_of(item, "reason"), Code::InvalidValue, "say why it does not apply: `reason` is empty");
            }
            let what = if key == "features" { "feature" } else { "requirement" };
            for (j, name) in names.iter().enumerate() {
                let pos = item_pos(item, key, j);
                if self.reference(pos, what, name, known) && out.insert(name.clone(), entry.reason.clone()).is_some() {
                    self.error(pos, Code::DuplicateId, format!("`{name}` is named twice as not applicable"));
                }
            }
        }
        out
    }

    /// `not-applicable` only where the requirement is checked and would
    /// otherwise apply.
    fn not_applicable_sense(&mut self, requirements: &[Requirement], features: &[Feature], root: &Node) {
        for r in requirements {
            for fid in r.not_applicable.keys() {
                let Some(f) = features.iter().find(|f| &f.id == fid) else { continue };
                let pos = node_ids(root, "requirements").find(|(_, id)| *id == r.id).map_or(root.pos, |(p, _)| p);
                if r.check.is_none() {
                    self.error(
                        pos,
                        Code::Inconsistent,
                        format!(
                            "requirement `{}` is a norm, never evaluated: it cannot be not applicable to `{fid}`",
                            r.id
                        ),
                    );
                } else if !r.applies_to(&f.category) {
                    let msg = format!(
                        "requirement `{}` does not apply to category `{}` anyway, so not to `{fid}`",
                        r.id, f.category
                    );
                    self.error(pos, Code::Inconsistent, msg);
                }
            }
        }
    }

    /// Every footnote is pointed at: by a row's `footnote`, or as `[^id]` in
    /// any Markdown the document renders. A footnote nothing points at would
    /// render as a dangling note (or not at all).
    fn unreferenced_footnotes(
        &mut self,
        root: &Node,
        footnotes: &[(&Node, RawFootnote)],
        features: &[Feature],
        tables: &Tables,
    ) {
        let mut prose = String::new();
        collect_scalars(root, &mut prose);
        for (node, f) in footnotes {
            let in_rows = features.iter().any(|x| x.footnote.as_deref() == Some(f.id.as_str()))
                || tables.tables.iter().any(|t| t.notes.values().any(|n| *n == f.id));
            let in_text = prose.contains(&format!("[^{}]", f.id));
            if !in_rows && !in_text {
                let d = Diagnostic::new(
                    pos_of(node, "id"),
                    Code::Unused,
                    format!("footnote `{}` is referenced by nothing", f.id),
                )
                .with_help(format!(
                    "point a row at it with `footnote: \"{}\"`, write `[^{}]` in the text it annotates, or delete it",
                    f.id, f.id
                ));
                self.push(d);
            }
        }
    }

    /// Two categories with one label would render as one Category column
    /// value for two different kinds of row.
    fn duplicate_labels(&mut self, categories: &[(&Node, RawCategory)]) {
        let mut seen: BTreeMap<&str, (Pos, &str)> = BTreeMap::new();
        for (node, c) in categories {
            let pos = pos_of(node, "label");
            if let Some((first, other)) = seen.get(c.label.as_str()) {
                let msg = format!(
                    "categories `{other}` and `{}` share the label `{}` (first at line {})",
                    c.id, c.label, first.line
                );
                self.push(Diagnostic::new(pos, Code::DuplicateId, msg).with_help("give each category its own label"));
            } else {
                seen.insert(&c.label, (pos, &c.id));
            }
        }
    }

    /// Each entry's feature exists, its test pattern compiles, and it links
    /// to where upstream acknowledges it.
    fn known_failures(&mut self, raw: &[(&Node, RawKnownFailure)], refs: &Refs<'_>) -> Vec<KnownFailure> {
        let mut out = Vec::new();
        for (node, k) in raw {
            let feature_ok = self.reference(pos_of(node, "charged-to"), "feature", &k.charged_to, refs.features);
            if !k.link.starts_with("https://") {
                self.error(
                    pos_of(node, "link"),
                    Code::InvalidValue,
                    format!("link `{}`: give the https:// address where upstream acknowledges the failure", k.link),
                );
                continue;
            }
            let pos = pos_of(node, "test");
            let test = match Pattern::at(&k.test, pos) {
                Ok(p) => p,
                Err(e) => {
                    self.error(pos, Code::BadPattern, format!("bad pattern `{}`: {}", k.test, e.kind()));
                    continue;
                }
            };
            if feature_ok {
                out.push(KnownFailure {
                    test,
                    charged_to: k.charged_to.clone(),
                    link: k.link.clone(),
                    reason: k.reason.clone(),
                });
            }
        }
        out
    }

    /// One rule per defined tier, each asking for at least one approval.
    fn promotions(&mut self, node: &Node, raw: &RawPromotions, ntiers: u8) -> Option<Promotions> {
        let overdue_after = self.window(pos_of(node, "overdue-after"), &raw.overdue_after);
        let mut rules: Vec<PromotionRule> = Vec::new();
        for (i, r) in raw.rules.iter().enumerate() {
            let pos = item_pos(node, "rules", i);
            let Some(into) = self.tier(pos, r.into, ntiers) else { continue };
            if let Some(first) = rules.iter().position(|x| x.into == into) {
                let msg = format!("two rules for promotions into tier {} (items {} and {})", r.into, first + 1, i + 1);
                self.push(Diagnostic::new(pos, Code::DuplicateId, msg).with_help("keep one rule per tier"));
                continue;
            }
            if !(1..=100).contains(&r.approvals) {
                let d = Diagnostic::new(pos, Code::InvalidValue, format!("`approvals` is {}", r.approvals))
                    .with_help("ask for 1 to 100 approvals from maintainers other than the requester");
                self.push(d);
                continue;
            }
            rules.push(PromotionRule { into, approvals: r.approvals, rfc: r.rfc });
        }
        let missing: Vec<String> =
            (1..=ntiers).filter(|t| !raw.rules.iter().any(|r| r.into == *t)).map(|t| t.to_string()).collect();
        if !missing.is_empty() {
            let d = Diagnostic::new(
                pos_of(node, "rules"),
                Code::MissingField,
                format!("no promotion rule for tier {}", missing.join(", ")),
            )
            .with_help("give every tier a rule: `- { into: N, approvals: K }`");
            self.push(d);
        }
        rules.sort_by_key(|r| r.into);
        Some(Promotions { overdue_after: overdue_after?, rules })
    }

    /// Tiers must be exactly 1..=n, each once.
    fn tiers(&mut self, raw: &[(&Node, RawTier)]) -> Vec<TierDef> {
        let mut out: Vec<TierDef> = Vec::new();
        for (n, t) in raw {
            if out.iter().any(|d| d.tier.0 == t.tier) {
                self.error(pos_of(n, "tier"), Code::DuplicateId, format!("tier {} is defined twice", t.tier));
                continue;
            }
            out.push(TierDef {
                tier: Tier(t.tier),
                name: t.name.clone(),
                intro: t.intro.clone(),
                lead: t.lead.clone(),
                outro: t.outro.clone(),
            });
        }
        out.sort_by_key(|d| d.tier);
        for (i, d) in out.iter().enumerate() {
            if d.tier.0 as usize != i + 1 {
                let pos = raw.iter().find(|(_, t)| t.tier == d.tier.0).map_or(Pos::default(), |(n, _)| n.pos);
                self.error(
                    pos,
                    Code::Inconsistent,
                    format!("tiers must be numbered 1, 2, 3, … without gaps; found tier {}", d.tier.0),
                );
                break;
            }
        }
        out
    }

    fn tier(&mut self, pos: Pos, n: u8, ntiers: u8) -> Option<Tier> {
        if (1..=ntiers).contains(&n) {
            return Some(Tier(n));
        }
        self.error(pos, Code::InvalidValue, format!("tier {n} is not defined (tiers are 1 to {ntiers})"));
        None
    }

    fn requirement(&mut self, node: &Node, r: &RawRequirement, refs: &Refs<'_>) -> Option<Requirement> {
        let tier = self.tier(pos_of(node, "tier"), r.tier, refs.ntiers);
        for (i, c) in r.applies_to.iter().flatten().enumerate() {
            self.reference(item_pos(node, "applies-to", i), "category", c, refs.categories);
        }
        for (i, s) in r.subsumes.iter().enumerate() {
            self.reference(item_pos(node, "subsumes", i), "requirement", s, refs.requirements);
        }
        let reasons = node.get("title-for-reason");
        for reason in r.title_for_reason.keys() {
            if !REASONS.contains(&reason.as_str()) {
                let pos = reasons
                    .and_then(|m| m.as_map())
                    .and_then(|m| m.iter().find(|(k, _)| &k.name == reason))
                    .map_or(node.pos, |(k, _)| k.pos);
                let d = Diagnostic::new(pos, Code::InvalidValue, format!("unknown failure reason `{reason}`"))
                    .with_help(format!("reasons: {}", REASONS.join(", ")));
                self.push(d);
            }
        }
        if r.prose.is_none() && r.rationale.is_none() {
            let d = Diagnostic::new(node.pos, Code::MissingField, format!("requirement `{}` has neither `prose` nor `rationale`", r.id))
                .with_help("say where the requirement comes from: `prose` renders as a Tier Details bullet, `rationale` explains a derived requirement");
            self.push(d);
        }
        let check = match &r.check {
            Some(c) => Some(self.check(node.get("check").unwrap_or(node), c, refs)?),
            None => None,
        };
        if check.is_none() && (r.title.is_some() || r.applies_to.is_some() || !r.subsumes.is_empty()) {
            let d = Diagnostic::new(
                node.pos,
                Code::Inconsistent,
                format!("requirement `{}` has no `check`, so it is a process norm", r.id),
            )
            .with_help(
                "a norm is never evaluated: drop its `title`, `applies-to` and `subsumes`, or give it a `check`",
            );
            self.push(d);
        }
        if check.is_some() && r.title.is_none() {
            self.error(
                node.pos,
                Code::MissingField,
                format!("requirement `{}` is checked, so it needs a `title` for Missing columns", r.id),
            );
        }
        Some(Requirement {
            id: r.id.clone(),
            tier: tier?,
            title: r.title.clone(),
            title_for_reason: r.title_for_reason.clone(),
            prose: r.prose.clone(),
            rationale: r.rationale.clone(),
            applies_to: r.applies_to.clone(),
            check,
            advisory: r.advisory,
            subsumes: r.subsumes.clone(),
            not_applicable: self.not_applicable(node, &r.not_applicable, "features", refs.features),
        })
    }

    /// A check: a kind with its parameters (and an optional `where`), or
    /// `any-of` / `all-of` over at least two checks.
    fn check(&mut self, node: &Node, c: &RawCheck, refs: &Refs<'_>) -> Option<Check> {
        let combinator = match (&c.kind, &c.any_of, &c.all_of) {
            (None, Some(list), None) => Some(("any-of", list)),
            (None, None, Some(list)) => Some(("all-of", list)),
            (Some(_), None, None) => None,
            (None, None, None) => {
                let d = Diagnostic::new(node.pos, Code::MissingField, "a check needs `kind`, `any-of` or `all-of`")
                    .with_help("e.g. `{ kind: tests-pass, window: 14d }`");
                self.push(d);
                return None;
            }
            _ => {
                let d = Diagnostic::new(
                    node.pos,
                    Code::Inconsistent,
                    "a check has exactly one of `kind`, `any-of`, `all-of`",
                )
                .with_help("put the checks to combine inside the `any-of` or `all-of` list");
                self.push(d);
                return None;
            }
        };
        if let Some((name, list)) = combinator {
            return self.combinator(node, name, list, refs);
        }
        let check = self.kind_check(node, c, refs)?;
        let Some(w) = &c.where_ else { return Some(check) };
        let wnode = node.get("where").unwrap_or(node);
        if check.is_cross_feature() || matches!(check, Check::ProposalPhase { .. } | Check::Attested { .. }) {
            let d = Diagnostic::new(
                pos_of(node, "where"),
                Code::CheckParameter,
                "`where` narrows the runs a check reads; this check kind reads none of its own",
            )
            .with_help("use `where` on tests-pass, fuzzed or differential-fuzzed");
            self.push(d);
            return None;
        }
        let mut narrow = Narrow::default();
        for (key, list, out) in
            [("targets", &w.targets, &mut narrow.targets), ("compilers", &w.compilers, &mut narrow.compilers)]
        {
            if let Some(list) = list {
                if list.is_empty() {
                    self.error(
                        pos_of(wnode, key),
                        Code::InvalidValue,
                        format!("`where.{key}` is empty; leave it out to keep the feature's"),
                    );
                    return None;
                }
                *out = list.clone();
            }
        }
        if w.targets.is_none() && w.compilers.is_none() && w.dimensions.is_none() {
            self.error(
                wnode.pos,
                Code::MissingField,
                "`where` narrows by `targets`, `compilers` or `dimensions`; give one",
            );
            return None;
        }
        if let Some(dims) = &w.dimensions {
            let raw = RawSelector { dimensions: Some(dims.clone()), ..RawSelector::default() };
            let before = self.diags.len();
            let all = self.selector_dimensions(wnode.get("dimensions").unwrap_or(wnode), &raw, refs.dimensions);
            if self.diags.len() > before {
                return None;
            }
            narrow.dimensions = all.into_iter().filter(|(k, _)| dims.contains_key(k)).collect();
        }
        Some(Check::Where { narrow, check: Box::new(check) })
    }

    fn combinator(&mut self, node: &Node, name: &str, list: &[RawCheck], refs: &Refs<'_>) -> Option<Check> {
        for (key, _) in node.as_map().unwrap_or_default() {
            if key.name != name {
                let d = Diagnostic::new(
                    key.pos,
                    Code::CheckParameter,
                    format!("`{}` does not go beside `{name}`", key.name),
                )
                .with_help(format!("put it on the checks inside `{name}`"));
                self.push(d);
            }
        }
        if list.len() < 2 {
            self.error(
                pos_of(node, name),
                Code::InvalidValue,
                format!("`{name}` combines at least two checks; found {}", list.len()),
            );
            return None;
        }
        let items = node.get(name).and_then(Node::as_seq).unwrap_or_default();
        let checks: Vec<Option<Check>> =
            list.iter().enumerate().map(|(i, raw)| self.check(items.get(i).unwrap_or(node), raw, refs)).collect();
        let checks: Vec<Check> = checks.into_iter().collect::<Option<_>>()?;
        Some(if name == "any-of" { Check::AnyOf(checks) } else { Check::AllOf(checks) })
    }

    /// A fuzz check's `scope`: `feature` (the default) or `architecture`.
    fn fuzz_scope(&mut self, node: &Node, scope: Option<&str>) -> Option<FuzzScope> {
        match scope {
            None | Some("feature") => Some(FuzzScope::Feature),
            Some("architecture") => Some(FuzzScope::Architecture),
            Some(other) => {
                self.error(
                    pos_of(node, "scope"),
                    Code::InvalidValue,
                    format!("unknown scope `{other}`; use `feature` or `architecture`"),
                );
                None
            }
        }
    }

    /// A fuzz check's `min-hours`: positive, and no more than its window.
    fn min_hours(&mut self, node: &Node, h: f64, window: Option<&Window>) -> Option<Hours> {
        match (Hours::new(h), window) {
            (Some(hours), Some(w)) if hours.0 <= w.duration.as_hours() as f64 => Some(hours),
            (Some(_), Some(w)) => {
                let msg = format!("`min-hours` is {h}, more than the {} window holds", w.text);
                let d = Diagnostic::new(pos_of(node, "min-hours"), Code::Inconsistent, msg)
                    .with_help("ask for fewer hours, or widen the window");
                self.push(d);
                None
            }
            (Some(hours), None) => Some(hours),
            (None, _) => {
                self.error(
                    pos_of(node, "min-hours"),
                    Code::InvalidValue,
                    format!("`min-hours` is {h}; write a positive number of hours, e.g. `24` or `0.5`"),
                );
                None
            }
        }
    }

    fn kind_check(&mut self, node: &Node, c: &RawCheck, refs: &Refs<'_>) -> Option<Check> {
        let kind_text = c.kind.as_deref().unwrap_or_default();
        let Some((kind, allowed, required)) = CHECK_KINDS.iter().find(|(k, _, _)| *k == kind_text) else {
            let names: Vec<&str> = CHECK_KINDS.iter().map(|(k, _, _)| *k).collect();
            let d = Diagnostic::new(
                pos_of(node, "kind"),
                Code::UnknownCheckKind,
                format!("unknown check kind `{kind_text}`"),
            )
            .with_help(format!("check kinds: {}, or `any-of` / `all-of` over checks", names.join(", ")));
            self.push(d);
            return None;
        };
        let mut ok = true;
        for (key, _) in node.as_map().unwrap_or_default() {
            if key.name != "kind" && key.name != "where" && !allowed.contains(&key.name.as_str()) {
                let msg = format!("`{}` is not a parameter of check kind `{kind}`", key.name);
                self.push(
                    Diagnostic::new(key.pos, Code::CheckParameter, msg)
                        .with_help(format!("`{kind}` takes: {}", allowed.join(", "))),
                );
                ok = false;
            }
        }
        for key in *required {
            if node.get(key).is_none() {
                self.error(node.pos, Code::CheckParameter, format!("check kind `{kind}` needs `{key}`"));
                ok = false;
            }
        }
        let window = c.window.as_deref().and_then(|w| self.window(pos_of(node, "window"), w));
        let max_age = c.max_age.as_deref().and_then(|w| self.window(pos_of(node, "max-age"), w));
        let tier = c.tier.and_then(|t| self.tier(pos_of(node, "tier"), t, refs.ntiers));
        if let Some(cat) = &c.category {
            ok &= self.reference(pos_of(node, "category"), "category", cat, refs.categories);
        }
        if let Some(a) = &c.attestation {
            ok &= self.reference(pos_of(node, "attestation"), "attestation kind", a, refs.kinds);
        }
        let suites = self.suites(node, c.suites.as_deref());
        let scope = self.fuzz_scope(node, c.scope.as_deref());
        let min_hours = match c.min_hours {
            None => None,
            Some(h) => {
                let hours = self.min_hours(node, h, window.as_ref());
                ok &= hours.is_some();
                hours
            }
        };
        if !ok {
            return None;
        }
        Some(match *kind {
            "tests-pass" => Check::TestsPass {
                suites: suites?,
                window: window?,
                min_tests: c.min_tests.unwrap_or(1),
                min_targets: c.min_targets.unwrap_or(1),
            },
            "fuzzed" => Check::Fuzzed { window: window?, scope: scope?, min_hours },
            "differential-fuzzed" => Check::DifferentialFuzzed { window: window?, min_hours },
            "implements-tier-features" => {
                Check::ImplementsTierFeatures { tier: tier?, category: c.category.clone()?, window: window? }
            }
            "implemented-on-tier-targets" => {
                Check::ImplementedOnTierTargets { tier: tier?, category: c.category.clone()?, window: window? }
            }
            "proposal-phase" => Check::ProposalPhase { min_phase: c.min_phase? },
            _ => Check::Attested { kind: c.attestation.clone()?, max_age },
        })
    }

    fn suites(&mut self, node: &Node, suites: Option<&[String]>) -> Option<Vec<Suite>> {
        let Some(suites) = suites else { return Some(vec![Suite::Spec, Suite::Wasi]) };
        let mut out = Vec::new();
        for (i, s) in suites.iter().enumerate() {
            match s.as_str() {
                "spec" => out.push(Suite::Spec),
                "wasi" => out.push(Suite::Wasi),
                other => {
                    self.error(
                        item_pos(node, "suites", i),
                        Code::InvalidValue,
                        format!("unknown suite `{other}`; use `spec` or `wasi`"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    fn feature(
        &mut self,
        node: &Node,
        f: &RawFeature,
        refs: &Refs<'_>,
        defaults: &BTreeMap<&str, &RawSelector>,
        requirements: &[Requirement],
        dimensions: &[Dimension],
    ) -> Option<Feature> {
        let phase_checked = requirements
            .iter()
            .find(|r| matches!(r.check, Some(Check::ProposalPhase { .. })) && r.applies_to(&f.category));
        if let (Some(r), None) = (phase_checked, f.phase) {
            let msg = format!("feature `{}` needs a `phase`: requirement `{}` checks it", f.id, r.id);
            self.error(node.pos, Code::MissingField, msg);
        }
        let category_ok = self.reference(pos_of(node, "category"), "category", &f.category, refs.categories);
        if let Some(note) = &f.footnote {
            self.reference(pos_of(node, "footnote"), "footnote", note, refs.footnotes);
        }
        let declared = self.tier(pos_of(node, "declared-tier"), f.declared_tier, refs.ntiers);
        let raw = merge_selector(f.evidence.as_ref(), defaults.get(f.category.as_str()).copied());
        let evidence = self.selector(node.get("evidence").unwrap_or(node), &raw, &f.id, dimensions);
        if !category_ok {
            return None;
        }
        Some(Feature {
            id: f.id.clone(),
            category: f.category.clone(),
            label: f.label.clone(),
            code: f.code,
            link: f.link.clone(),
            footnote: f.footnote.clone(),
            declared: declared?,
            arch: f.arch.clone(),
            owners: f.owners.clone(),
            phase: f.phase,
            evidence,
        })
    }

    fn selector(&mut self, node: &Node, raw: &RawSelector, self_id: &str, dimensions: &[Dimension]) -> Selector {
        let subst = |v: &Option<Vec<String>>| -> Vec<String> {
            v.iter().flatten().map(|s| if s == "@self" { self_id.to_owned() } else { s.clone() }).collect()
        };
        let spec_texts = subst(&raw.spec);
        let core = spec_texts.iter().any(|s| s == "@core");
        let located = |key: &str, texts: Vec<String>| -> Vec<(Pos, String)> {
            texts
                .into_iter()
                .enumerate()
                .map(|(i, t)| (item_pos(node, key, i), t))
                .filter(|(_, t)| t != "@core")
                .collect()
        };
        let spec = located("spec", spec_texts);
        let wasi = located("wasi", subst(&raw.wasi));
        let dims = self.selector_dimensions(node.get("dimensions").unwrap_or(node), raw, dimensions);
        Selector {
            targets: subst(&raw.targets),
            compilers: subst(&raw.compilers),
            spec: SpecSelection { core, patterns: self.located_patterns(&spec) },
            wasi: self.located_patterns(&wasi),
            fuzz: subst(&raw.fuzz),
            dimensions: dims,
            no_test_data: raw.no_test_data.clone(),
            umbrella: raw.umbrella.unwrap_or(false),
        }
    }

    /// Every declared dimension with the values the selector accepts: its
    /// own list, else the default alone. Unknown names and values are
    /// errors at their position.
    fn selector_dimensions(
        &mut self,
        node: &Node,
        raw: &RawSelector,
        dimensions: &[Dimension],
    ) -> BTreeMap<String, Vec<String>> {
        let own = raw.dimensions.clone().unwrap_or_default();
        for (name, values) in &own {
            let key_pos =
                node.as_map().and_then(|m| m.iter().find(|(k, _)| &k.name == name)).map_or(node.pos, |(k, _)| k.pos);
            let Some(d) = dimensions.iter().find(|d| &d.id == name) else {
                let declared: Vec<&str> = dimensions.iter().map(|d| d.id.as_str()).collect();
                let d = Diagnostic::new(key_pos, Code::DanglingReference, format!("unknown dimension `{name}`"))
                    .with_help(if declared.is_empty() {
                        "declare it under `dimensions:` first".to_owned()
                    } else {
                        format!("defined dimensions: {}", declared.join(", "))
                    });
                self.push(d);
                continue;
            };
            if values.is_empty() {
                self.error(
                    key_pos,
                    Code::InvalidValue,
                    format!("dimension `{name}` selects no value; leave it out for its default"),
                );
            }
            for (i, v) in values.iter().enumerate() {
                if !d.values.contains(v) {
                    let d = Diagnostic::new(
                        item_pos(node, name, i),
                        Code::InvalidValue,
                        format!("`{v}` is not a value of dimension `{name}`"),
                    )
                    .with_help(format!("values: {}", d.values.join(", ")));
                    self.push(d);
                }
            }
        }
        dimensions
            .iter()
            .map(|d| (d.id.clone(), own.get(&d.id).cloned().unwrap_or_else(|| vec![d.default.clone()])))
            .collect()
    }

    /// Explicit records first; then `"*"` records fill in every feature
    /// that has none of that kind.
    fn attestations(
        &mut self,
        raw: &[(&Node, RawAttestation)],
        refs: &Refs<'_>,
    ) -> BTreeMap<(String, String), Attestation> {
        let mut out = BTreeMap::new();
        let mut wildcards = Vec::new();
        for (node, a) in raw {
            let kind_ok = self.reference(pos_of(node, "kind"), "attestation kind", &a.kind, refs.kinds);
            let on = match a.on.parse::<Date>() {
                Ok(d) => Some(d),
                Err(_) => {
                    self.error(
                        pos_of(node, "on"),
                        Code::InvalidValue,
                        format!("bad date `{}`; write YYYY-MM-DD", a.on),
                    );
                    None
                }
            };
            let (Some(on), true) = (on, kind_ok) else { continue };
            let att = Attestation { holds: a.holds, by: a.by.clone(), on, note: a.note.clone() };
            if a.features.iter().any(|f| f == "*") {
                if a.features.len() > 1 {
                    self.error(
                        pos_of(node, "features"),
                        Code::Inconsistent,
                        "`*` stands alone: it already means every other feature",
                    );
                }
                if wildcards.iter().any(|(k, _)| *k == a.kind) {
                    let msg = format!("a second `*` record for `{}`; one `*` record per kind", a.kind);
                    self.error(pos_of(node, "features"), Code::DuplicateId, msg);
                }
                wildcards.push((a.kind.clone(), att));
                continue;
            }
            for (i, f) in a.features.iter().enumerate() {
                let pos = item_pos(node, "features", i);
                if !self.reference(pos, "feature", f, refs.features) {
                    continue;
                }
                if out.insert((f.clone(), a.kind.clone()), att.clone()).is_some() {
                    self.error(pos, Code::DuplicateId, format!("feature `{f}` is attested `{}` twice", a.kind));
                }
            }
        }
        for (kind, att) in wildcards {
            for f in refs.features {
                out.entry((f.clone(), kind.clone())).or_insert_with(|| att.clone());
            }
        }
        out
    }
}

/// The axes of one table, for checking the cells it names.
struct Axes<'a> {
    archs: &'a [String],
    backends: &'a [String],
    rows: &'a BTreeSet<String>,
}

struct Refs<'a> {
    categories: &'a BTreeSet<String>,
    kinds: &'a BTreeSet<String>,
    features: &'a BTreeSet<String>,
    footnotes: &'a BTreeSet<String>,
    requirements: &'a BTreeSet<String>,
    dimensions: &'a [Dimension],
    ntiers: u8,
}

/// Every scalar of the document, concatenated: where `[^id]` footnote
/// references are looked for.
fn collect_scalars(node: &Node, out: &mut String) {
    match &node.kind {
        yaml::NodeKind::Scalar { value, .. } => {
            out.push_str(value);
            out.push('\n');
        }
        yaml::NodeKind::Seq(items) => items.iter().for_each(|n| collect_scalars(n, out)),
        yaml::NodeKind::Map(entries) => entries.iter().for_each(|(_, n)| collect_scalars(n, out)),
    }
}

/// A feature's own selector fields win over its category's defaults.
fn merge_selector(own: Option<&RawSelector>, defaults: Option<&RawSelector>) -> RawSelector {
    let own = own.cloned().unwrap_or_default();
    let d = defaults.cloned().unwrap_or_default();
    RawSelector {
        targets: own.targets.or(d.targets),
        compilers: own.compilers.or(d.compilers),
        spec: own.spec.or(d.spec),
        wasi: own.wasi.or(d.wasi),
        fuzz: own.fuzz.or(d.fuzz),
        dimensions: own.dimensions.or(d.dimensions),
        no_test_data: own.no_test_data.or(d.no_test_data),
        umbrella: own.umbrella.or(d.umbrella),
    }
}

/// The plural of an item kind in a message: "categories", "features".
fn plural(what: &str) -> String {
    match what.strip_suffix('y') {
        Some(stem) if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) => format!("{stem}ies"),
        _ => format!("{what}s"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn plurals_of_item_kinds() {
        let got: Vec<String> = ["category", "feature", "requirement", "key", "tier"].map(super::plural).into();
        assert_eq!(got, ["categories", "features", "requirements", "keys", "tiers"]);
    }
}
