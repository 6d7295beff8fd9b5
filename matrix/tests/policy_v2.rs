//! The policy language's second version on its fixture world
//! (`policy/fixtures/v2-world`): a policy using every new construct, ten run
//! reports, and the document they render, checked by hand.

mod common;

use std::collections::BTreeSet;

use jiff::Timestamp;
use matrix::{Evidence, Policy, RunReport, Status, Tier};

fn dir() -> std::path::PathBuf {
    common::root().join("policy/fixtures/v2-world")
}

fn policy() -> Policy {
    let text = std::fs::read_to_string(dir().join("policy.yaml")).expect("policy.yaml");
    matrix::validate("policy.yaml", &text).unwrap_or_else(|d| panic!("{d}"))
}

fn evidence() -> Evidence {
    let mut files: Vec<_> =
        std::fs::read_dir(dir().join("runs")).expect("runs").map(|e| e.expect("entry").path()).collect();
    files.sort();
    assert_eq!(files.len(), 10, "the fixture's ten reports");
    let runs: Vec<RunReport> = files
        .iter()
        .map(|p| {
            RunReport::from_json(&std::fs::read_to_string(p).expect("read"))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect();
    runs.into_iter().collect()
}

fn now() -> Timestamp {
    "2026-11-20T00:00:00Z".parse().expect("timestamp")
}

fn render() -> String {
    let (p, e) = (policy(), evidence());
    matrix::tiers_md::render(&p, &matrix::evaluate(&p, &e, now()))
}

/// The rendered document is the checked-in one. After a deliberate change,
/// `TIERWATCH_BLESS=1` rewrites it; read the difference before committing.
#[test]
fn the_document_is_the_hand_checked_one() {
    let got = render();
    let path = dir().join("expected-TIERS.md");
    if std::env::var_os("TIERWATCH_BLESS").is_some() {
        std::fs::write(&path, &got).expect("write");
    }
    let want = std::fs::read_to_string(&path).expect("expected-TIERS.md");
    if got != want {
        let diff = similar::TextDiff::from_lines(&want, &got);
        panic!("TIERS.md differs from {}:\n{}", path.display(), diff.unified_diff().header("expected", "rendered"));
    }
}

#[test]
fn every_level_is_reached_from_evidence() {
    let eval = matrix::evaluate(&policy(), &evidence(), now());
    let table = &eval.tables[0];
    assert_eq!(table.architectures.len(), 5);
    let cells: Vec<(&str, &str, &matrix::tables::CellResult)> = table
        .architectures
        .iter()
        .flat_map(|a| {
            a.rows.iter().flat_map(move |r| r.cells.iter().map(move |c| (a.id.as_str(), r.feature.as_str(), c)))
        })
        .collect();
    assert_eq!(cells.len(), 5 * 15 * 3);
    let computed: BTreeSet<&str> =
        cells.iter().filter(|(_, _, c)| !c.declared).filter_map(|(_, _, c)| c.level.as_deref()).collect();
    assert_eq!(computed, BTreeSet::from(["in-progress", "not-applicable", "not-supported", "supported"]));
    let cell = |arch: &str, feature: &str, backend: &str| {
        cells
            .iter()
            .find(|(a, f, c)| *a == arch && *f == feature && c.backend == backend)
            .map(|(_, _, c)| *c)
            .expect("cell")
    };
    // Pulley refuses threads: not applicable, and said by the engine.
    let threads = cell("interpreter", "threads", "pulley");
    assert_eq!((threads.level.as_deref(), threads.declared, threads.unsupported), (Some("not-applicable"), false, 8));
    // Declared: Winch on s390x, with the policy's reason.
    let winch = cell("s390x", "simd", "winch");
    assert!(winch.declared && winch.detail == "not applicable: Winch has no code generator for this architecture");
    // The failing evidence is named.
    let simd = cell("riscv64", "simd", "cranelift");
    assert_eq!(simd.level.as_deref(), Some("not-supported"));
    assert_eq!(
        simd.items,
        [
            "spec/simd/a.wast on riscv64gc-unknown-linux-gnu (4 failing)",
            "spec/simd/b.wast on riscv64gc-unknown-linux-gnu (4 failing)"
        ]
    );
    // No run had extended-const on riscv64: no evidence, no level.
    assert_eq!(cell("riscv64", "extended-const", "cranelift").level, None);
    // The no_std run's failing simd directive reaches no ordinary cell.
    assert_eq!(cell("x86_64", "simd", "cranelift").level.as_deref(), Some("supported"));
}

#[test]
fn tiers_use_dimensions_hours_any_of_and_applicability() {
    let eval = matrix::evaluate(&policy(), &evidence(), now());
    let status = |id: &str| eval.feature(id).map(|f| (f.earned, f.status)).expect(id);
    // 30 h of fuzzing on x86_64; 2 h on aarch64 is not continuous.
    assert_eq!(status("x86_64-unknown-linux-gnu"), (Some(Tier(1)), Status::Conforming));
    assert_eq!(status("aarch64-unknown-linux-gnu"), (Some(Tier(2)), Status::Violating));
    let fuzz =
        eval.feature("aarch64-unknown-linux-gnu").and_then(|f| f.outcomes.iter().find(|o| o.requirement == "t1-fuzz"));
    assert_eq!(
        fuzz.map(|o| o.detail.as_str()),
        Some("2 h of fuzzing within 30d in 1 campaign(s); the policy asks for at least 24 h")
    );
    // The no_std row reads only the no_std run, and unwinding does not
    // apply to it.
    let no_std = eval.feature("no-std").expect("no-std");
    assert_eq!((no_std.earned, no_std.status), (Some(Tier(2)), Status::Conforming));
    assert!(no_std.outcomes.iter().any(|o| o.requirement == "t2-unwinding" && o.not_applicable));
    // simd: Cranelift fails on riscv64, Winch on x86_64 and aarch64.
    assert_eq!(status("simd"), (Some(Tier(3)), Status::Violating));
    // gc: complete with Cranelift, though Winch and Pulley are not there.
    assert_eq!(status("gc"), (Some(Tier(1)), Status::Promotable));
}

#[test]
fn every_link_and_footnote_of_the_document_resolves_in_commonmark() {
    use pulldown_cmark::{Options, Parser};
    let doc = render();
    let mut broken = Vec::new();
    let mut callback = |link: pulldown_cmark::BrokenLink<'_>| {
        broken.push(link.reference.to_string());
        None
    };
    let parser = Parser::new_with_broken_link_callback(
        &doc,
        Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES,
        Some(&mut callback),
    );
    let footnotes = parser.filter(|e| matches!(e, pulldown_cmark::Event::FootnoteReference(_))).count();
    assert_eq!(broken, Vec::<String>::new());
    assert_eq!(footnotes, 2, "the no_std row's and the aarch64 Winch gc cell's");
}

/// The fixture policy with `old` replaced by `new`, expecting problems.
fn problems(old: &str, new: &str) -> (String, String) {
    let text = std::fs::read_to_string(dir().join("policy.yaml")).expect("policy.yaml");
    assert!(text.contains(old), "the fixture has `{old}`");
    let text = text.replacen(old, new, 1);
    match matrix::validate("policy.yaml", &text) {
        Ok(_) => panic!("expected problems after writing `{new}`"),
        Err(d) => (text, d.to_string()),
    }
}

/// `policy.yaml:line:col` of the first `needle` in `text`.
fn at(text: &str, needle: &str) -> String {
    let (line, l) = text.lines().enumerate().find(|(_, l)| l.contains(needle)).expect("needle");
    format!("policy.yaml:{}:{}", line + 1, l.find(needle).expect("col") + 1)
}

#[test]
fn a_cell_naming_an_unknown_architecture_backend_or_proposal_is_refused_where_it_says_so() {
    // (the fixture's text, the broken edit, where the problem is, what is said)
    let cases = [
        (
            "architecture: aarch64, backend: winch, proposal: gc",
            "architecture: arm64, backend: winch, proposal: gc",
            "arm64",
            "unknown architecture `arm64` in this table",
        ),
        (
            "architecture: aarch64, backend: winch, proposal: gc",
            "architecture: aarch64, backend: wnich, proposal: gc",
            "wnich",
            "unknown backend `wnich` in this table",
        ),
        (
            "architecture: aarch64, backend: winch, proposal: gc",
            "architecture: aarch64, backend: winch, proposal: gcc",
            "gcc",
            "unknown row `gcc` in this table",
        ),
        (
            "{ architectures: [s390x, riscv64], backends: [winch]",
            "{ architectures: [s390x, riscv], backends: [winch]",
            "riscv]",
            "unknown architecture `riscv` in this table",
        ),
        (
            "    backends: [cranelift, winch, pulley]\n    rows:",
            "    backends: [cranelift, winch, pully]\n    rows:",
            "pully",
            "unknown backend `pully`",
        ),
    ];
    for (old, new, needle, message) in cases {
        let (text, out) = problems(old, new);
        let want = format!("{}: error[dangling-reference]: {message}", at(&text, needle));
        assert!(out.contains(&want), "writing `{new}`: `{want}` not in\n{out}");
    }
}

#[test]
fn levels_and_not_applicable_cells_are_consistent() {
    let (_, out) = problems(
        "counts: neither, rule: { kind: all-unsupported } }",
        "counts: against, rule: { kind: all-unsupported } }",
    );
    assert!(
        out.contains(
            "error[inconsistent]: table `wasm` declares cells not applicable, but no support level counts `neither`"
        ),
        "{out}"
    );
    let (_, out) = problems(
        "rule: { kind: otherwise } }",
        "rule: { kind: otherwise } }\n  - { id: later, label: Later, symbol: \"?\", counts: for, rule: { kind: all-pass } }",
    );
    assert!(out.contains("error[inconsistent]: level `not-supported` takes every cell left"), "{out}");
    let (_, out) = problems("rule: { kind: pass-rate, at-least: 0.5 }", "rule: { kind: pass-rate, at-least: 2 }");
    assert!(out.contains("error[check-parameter]: `pass-rate` needs `at-least`, a share between 0 and 1"), "{out}");
    let (_, out) = problems("rule: { kind: all-pass, min-tests: 2 }", "rule: { kind: all-passes }");
    assert!(out.contains("error[unknown-check-kind]: unknown level rule `all-passes`"), "{out}");
    let (_, out) = problems("footnote: \"2\" }", "footnote: \"3\" }");
    assert!(out.contains("error[dangling-reference]: unknown footnote `3`"), "{out}");
    assert!(out.contains("error[unused]: footnote `2` is referenced by nothing"), "{out}");
}
