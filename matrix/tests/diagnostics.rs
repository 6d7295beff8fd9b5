//! Every diagnostic code's message, pinned: one broken policy per code (an
//! edit of the documented skeleton in docs/policy.md), its whole rendered
//! output kept as a snapshot, so a reworded message, a moved position or a
//! renamed code fails here and is reviewed as a snapshot change.

mod common;

use matrix::diag::Code;

fn skeleton() -> String {
    let doc = std::fs::read_to_string(common::root().join("docs/policy.md")).expect("docs/policy.md");
    let section = doc.split("## Encoding another runtime").nth(1).expect("section");
    section.split("```yaml\n").nth(1).and_then(|b| b.split("```").next()).expect("yaml block").to_owned()
}

/// The skeleton with `from` replaced by `to` (which must be there).
fn edit(from: &str, to: &str) -> String {
    let text = skeleton();
    assert!(text.contains(from), "the skeleton has `{from}`");
    text.replacen(from, to, 1)
}

/// The rendered problems of a policy that must not validate.
fn problems(text: &str) -> String {
    match matrix::validate("p.yaml", text) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(d) => d.to_string(),
    }
}

/// The rendered coverage problems of the skeleton against `tests`.
fn coverage(text: &str, tests: &matrix::coverage::TestNames) -> String {
    let policy = matrix::validate("p.yaml", text).unwrap_or_else(|d| panic!("{d}"));
    let items = matrix::coverage::check(&policy, tests);
    assert!(!items.is_empty(), "expected coverage problems");
    matrix::Diagnostics { file: "p.yaml".into(), items }.to_string()
}

/// One broken input per code, and what it renders.
fn cases() -> Vec<(Code, String)> {
    let spec = |names: &[&str]| matrix::coverage::TestNames {
        spec: names.iter().map(|n| (*n).to_owned()).collect(),
        wasi: vec![],
    };
    vec![
        (Code::Syntax, problems(&edit("tiers:\n", "tiers: [\n"))),
        (Code::UnknownKey, problems(&edit("  name: Exampletime\n", "  name: Exampletime\n  nmae: typo\n"))),
        (Code::MissingField, problems(&edit("  title: Exampletime support tiers\n", ""))),
        (Code::InvalidValue, problems(&edit("schema-version: 1", "schema-version: 7"))),
        (Code::DuplicateId, problems(&edit("  - id: owned\n", "  - id: tested\n"))),
        (
            Code::DanglingReference,
            problems(&edit("category: proposal, label: simd", "category: proposals, label: simd")),
        ),
        (Code::UnknownCheckKind, problems(&edit("kind: tests-pass", "kind: tests-passed"))),
        (Code::CheckParameter, problems(&edit("{ kind: tests-pass, window: 7d }", "{ kind: tests-pass }"))),
        (Code::BadWindow, problems(&edit("window: 7d", "window: 7 days"))),
        (Code::BadPattern, problems(&edit("wasm-spec/simd_*.wast", "wasm-spec/simd_[.wast"))),
        (
            Code::Inconsistent,
            problems(&edit(
                "attestation-kinds:",
                "  - { id: rfc, tier: 1, title: RFC, prose: Major changes need an RFC. }\nattestation-kinds:",
            )),
        ),
        (Code::NoMatch, coverage(&skeleton(), &spec(&["wasm-spec/i32.wast"]))),
        (
            Code::Overlap,
            coverage(
                &edit(
                    "unsupported:",
                    "  - { id: simd2, category: proposal, label: simd again, code: true, declared-tier: 2, evidence: { spec: [\"wasm-spec/simd_lane.wast\"] } }\nunsupported:",
                ),
                &spec(&["wasm-spec/i32.wast", "wasm-spec/simd_lane.wast"]),
            ),
        ),
        (
            Code::Unused,
            problems(&edit("unsupported:", "footnotes:\n  - { id: lonely, text: Nobody points here. }\nunsupported:")),
        ),
    ]
}

#[test]
fn every_diagnostic_code_has_a_pinned_message() {
    let cases = cases();
    for (code, rendered) in &cases {
        let tag = format!("[{}]", code.as_str());
        assert!(rendered.contains(&tag), "the {} case renders no {tag}:\n{rendered}", code.as_str());
        insta::assert_snapshot!(format!("diagnostic_{}", code.as_str().replace('-', "_")), rendered);
    }
    // Every code has its case: the list below names each variant, and a
    // code added to `Code` without a case fails to compile here.
    let all = |c: Code| match c {
        Code::Syntax
        | Code::UnknownKey
        | Code::MissingField
        | Code::InvalidValue
        | Code::DuplicateId
        | Code::DanglingReference
        | Code::UnknownCheckKind
        | Code::CheckParameter
        | Code::BadWindow
        | Code::BadPattern
        | Code::Inconsistent
        | Code::NoMatch
        | Code::Overlap
        | Code::Unused => c,
    };
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|(c, _)| all(*c).as_str()).collect();
    assert_eq!(covered.len(), 14, "one case per code: {covered:?}");
}
