//! Renders TIERS.md in the layout of the seed tier document: the status
//! tables (each feature at its declared tier, with the computed "Missing"
//! column), reference links, footnotes, the unsupported list and the Tier
//! Details prose.

use std::fmt::Write;

use crate::evaluate::{Evaluation, FeatureResult, Missing};
use crate::policy::{Feature, Policy, TierDef};

/// Renders the document. Features whose earned tier is below their declared
/// tier are marked in their description cell with what fails.
pub fn render(policy: &Policy, eval: &Evaluation) -> String {
    let mut out = String::new();
    let rt = &policy.runtime;
    let _ = writeln!(out, "# {}", rt.title);
    push_block(&mut out, &rt.intro);
    out.push_str("## Current Tier Status\n");
    push_block(&mut out, &rt.status_intro);
    for def in &policy.tiers {
        tier_table(&mut out, policy, eval, def);
    }
    for note in &policy.footnotes {
        let _ = writeln!(out, "[^{}]: {}", note.id, note.text.trim_end());
    }
    out.push_str("#### Unsupported features and platforms\n");
    push_block(&mut out, &rt.unsupported_intro);
    for u in &policy.unsupported {
        let name = if u.code { format!("`{}`", u.name) } else { u.name.clone() };
        let line = match (&u.link, u.code) {
            (Some(link), true) => format!("[{}: {name}]({link})", u.kind),
            (Some(link), false) => format!("{}: [{name}]({link})", u.kind),
            (None, _) => format!("{}: {name}", u.kind),
        };
        let _ = writeln!(out, "* {line}");
    }
    support_tables(&mut out, policy, eval);
    out.push_str("## Tier Details\n");
    push_block(&mut out, &rt.details_intro);
    for def in policy.tiers.iter().rev() {
        tier_details(&mut out, policy, def);
    }
    out
}

fn push_block(out: &mut String, text: &str) {
    let text = text.trim_end();
    if !text.is_empty() {
        out.push_str(text);
        out.push('\n');
    }
}

fn tier_table(out: &mut String, policy: &Policy, eval: &Evaluation, def: &TierDef) {
    let rows: Vec<(&Feature, &FeatureResult)> = policy
        .features
        .iter()
        .filter(|f| f.declared == def.tier)
        .filter_map(|f| eval.feature(&f.id).map(|r| (f, r)))
        .collect();
    let _ = writeln!(out, "#### {}", def.tier);
    let mut header = vec!["Category".to_owned(), "Description".to_owned()];
    let with_missing = def.tier.0 > 1;
    if with_missing {
        header.push(format!("Missing Tier {} Requirements", def.tier.0 - 1));
    }
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|(f, r)| {
            let category = policy.category(&f.category).map_or(f.category.clone(), |c| c.label.clone());
            let mut cells = vec![category, description(f, r)];
            if with_missing {
                // What the test data cannot judge is said, not guessed.
                let judged = join(&r.missing_next);
                cells.push(match (&f.evidence.no_test_data, judged.is_empty()) {
                    (Some(_), true) => "no test data".to_owned(),
                    (Some(_), false) => format!("no test data, {judged}"),
                    (None, _) => judged,
                });
            }
            cells
        })
        .collect();
    table(out, &header, &body);
    // A blank line ends the table: without it CommonMark reads the link
    // definitions below as more table rows, and the links do not resolve.
    out.push('\n');
    for (f, _) in &rows {
        if let Some(link) = &f.link {
            let _ = writeln!(out, "[{}]: {link}", label(f));
        }
    }
}

fn label(f: &Feature) -> String {
    if f.code { format!("`{}`", f.label) } else { f.label.clone() }
}

fn description(f: &Feature, r: &FeatureResult) -> String {
    let mut d = if f.link.is_some() { format!("[{}]", label(f)) } else { label(f) };
    if let Some(note) = &f.footnote {
        let _ = write!(d, " [^{note}]");
    }
    // A row without test data is neither confirmed nor violating: it keeps
    // its declared place unannotated (the dashboard says "no test data").
    if !r.failing_declared.is_empty() && r.status != crate::Status::NoTestData {
        let earned = r.earned.map_or("no tier".to_owned(), |t| t.to_string());
        let _ = write!(d, " **(earns {earned}: {})**", join(&r.failing_declared));
    }
    d
}

fn join(missing: &[Missing]) -> String {
    missing.iter().map(|m| m.text.as_str()).collect::<Vec<_>>().join(", ")
}

/// A pipe table with every column padded to its widest cell.
fn table(out: &mut String, header: &[String], body: &[Vec<String>]) {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| body.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("| {} |\n", padded.join(" | "))
    };
    out.push_str(&line(header));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "|-{}-|", rule.join("-|-"));
    for row in body {
        out.push_str(&line(row));
    }
}

fn tier_details(out: &mut String, policy: &Policy, def: &TierDef) {
    let _ = writeln!(out, "#### {} - {}", def.tier, def.name);
    push_block(out, &def.intro);
    push_block(out, &def.lead);
    for r in policy.requirements.iter().filter(|r| r.tier == def.tier) {
        if let Some(prose) = &r.prose {
            let _ = writeln!(out, "* {}", prose.trim_end());
        }
    }
    push_block(out, &def.outro);
}

/// The support tables: a section per table, a heading and a pipe table per
/// architecture (rows × backends, each cell its level's symbol and label),
/// then a grouped list of the cells declared not applicable and why.
fn support_tables(out: &mut String, policy: &Policy, eval: &Evaluation) {
    if eval.tables.is_empty() {
        return;
    }
    out.push_str("## Support by Architecture\n");
    let legend: Vec<String> = policy
        .tables
        .levels
        .iter()
        .map(|l| format!("{} {}", l.symbol, l.label))
        .chain(["? no evidence".to_owned()])
        .collect();
    let _ = writeln!(out, "Every cell is computed from the latest runs: {}.", legend.join(" · "));
    for (t, def) in eval.tables.iter().zip(&policy.tables.tables) {
        let _ = writeln!(out, "### {}", t.title);
        push_block(out, &def.intro);
        let backend_label =
            |id: &str| policy.tables.backends.iter().find(|b| b.id == id).map_or(id.to_owned(), |b| b.label.clone());
        for arch in &t.architectures {
            let _ = writeln!(out, "#### {}", arch.label);
            let mut header = vec!["Feature".to_owned()];
            header.extend(t.backends.iter().map(|b| backend_label(b)));
            let body: Vec<Vec<String>> = arch
                .rows
                .iter()
                .map(|row| {
                    let f = policy.feature(&row.feature);
                    let mut cells = vec![f.map_or(row.feature.clone(), label)];
                    cells.extend(row.cells.iter().map(|c| cell_text(policy, c)));
                    cells
                })
                .collect();
            table(out, &header, &body);
            out.push('\n');
            // Declared not-applicable cells, grouped by reason, then backend.
            let mut groups: Vec<(String, ByBackend)> = Vec::new();
            for row in &arch.rows {
                for c in row.cells.iter().filter(|c| c.declared) {
                    let why = c.detail.trim_start_matches("not applicable: ").to_owned();
                    let name = policy.feature(&row.feature).map_or(row.feature.clone(), label);
                    let i = groups.iter().position(|(w, _)| *w == why).unwrap_or_else(|| {
                        groups.push((why, Vec::new()));
                        groups.len() - 1
                    });
                    let by_backend = &mut groups[i].1;
                    match by_backend.iter_mut().find(|(b, _)| *b == c.backend) {
                        Some((_, names)) => names.push(name),
                        None => by_backend.push((c.backend.clone(), vec![name])),
                    }
                }
            }
            if !groups.is_empty() {
                out.push_str("Not applicable:\n");
                for (why, by_backend) in groups {
                    let _ = writeln!(out, "* {why}");
                    for (b, names) in by_backend {
                        let which =
                            if names.len() == arch.rows.len() { "every feature".to_owned() } else { names.join(", ") };
                        let _ = writeln!(out, "  * {}: {which}", backend_label(&b));
                    }
                }
                out.push('\n');
            }
        }
    }
}

/// Row labels per backend id, in first-seen order.
type ByBackend = Vec<(String, Vec<String>)>;

fn cell_text(policy: &Policy, c: &crate::tables::CellResult) -> String {
    let mut text = match c.level.as_deref().and_then(|id| policy.tables.levels.iter().find(|l| l.id == id)) {
        Some(l) => format!("{} {}", l.symbol, l.label),
        None => "? no evidence".to_owned(),
    };
    if let Some(note) = &c.footnote {
        let _ = write!(text, " [^{note}]");
    }
    text
}
