//! Validation problems that are easy to miss: repeated keys, absurd
//! windows, norms with titles, two wildcard attestations.

mod common;

fn skeleton() -> String {
    let doc = std::fs::read_to_string(common::root().join("docs/policy.md")).expect("docs/policy.md");
    let section = doc.split("## Encoding another runtime").nth(1).expect("section");
    section.split("```yaml\n").nth(1).and_then(|b| b.split("```").next()).expect("yaml block").to_owned()
}

fn problems(text: &str) -> String {
    match matrix::validate("p.yaml", text) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(d) => d.to_string(),
    }
}

#[test]
fn a_repeated_key_is_reported_where_it_repeats() {
    let text = skeleton().replacen("  name: Exampletime\n", "  name: Exampletime\n  name: Othertime\n", 1);
    let line = text.lines().position(|l| l == "  name: Othertime").expect("edited") + 1;
    let out = problems(&text);
    assert!(out.contains(&format!("p.yaml:{line}:3: error[duplicate-id]: key `name` appears twice")), "{out}");
}

#[test]
fn an_absurd_window_is_a_diagnostic_not_a_panic() {
    let text = skeleton().replacen("window: 7d", "window: 9999999999999999h", 1);
    assert!(problems(&text).contains("error[bad-window]: bad window `9999999999999999h`"));
}

#[test]
fn a_norm_cannot_carry_a_title() {
    let text = skeleton().replacen(
        "attestation-kinds:",
        "  - { id: rfc, tier: 1, title: RFC, prose: Major changes need an RFC. }\nattestation-kinds:",
        1,
    );
    assert!(problems(&text).contains("error[inconsistent]: requirement `rfc` has no `check`, so it is a process norm"));
}

#[test]
fn two_wildcard_records_of_one_kind_are_a_duplicate() {
    let text = skeleton().replacen(
        "features:\n",
        "  - { kind: owner, features: [\"*\"], holds: false, by: \"@other\", on: 2026-02-01 }\nfeatures:\n",
        1,
    );
    assert!(problems(&text).contains("error[duplicate-id]: a second `*` record for `owner`"));
}

/// The skeleton with a `promotions:` section for its two tiers.
fn with_promotions(rules: &str) -> String {
    format!("{}promotions:\n  overdue-after: 30d\n  rules:\n{rules}", skeleton())
}

#[test]
fn promotion_rules_are_read_one_per_tier() {
    let text = with_promotions("    - { into: 1, approvals: 3, rfc: true }\n    - { into: 2, approvals: 1 }\n");
    let policy = matrix::validate("p.yaml", &text).expect("valid");
    let p = policy.promotions.expect("promotions");
    assert_eq!(p.overdue_after.text, "30d");
    let one = p.rule(matrix::Tier(1)).expect("rule for tier 1");
    assert_eq!((one.approvals, one.rfc), (3, true));
    let two = p.rule(matrix::Tier(2)).expect("rule for tier 2");
    assert_eq!((two.approvals, two.rfc), (1, false));
}

#[test]
fn a_tier_without_a_promotion_rule_is_named() {
    let out = problems(&with_promotions("    - { into: 1, approvals: 3 }\n"));
    assert!(out.contains("error[missing-field]: no promotion rule for tier 2"), "{out}");
}

#[test]
fn promotion_rules_need_a_real_tier_and_an_approval() {
    let out = problems(&with_promotions(
        "    - { into: 1, approvals: 0 }\n    - { into: 2, approvals: 1 }\n    - { into: 2, approvals: 2 }\n    - { into: 7, approvals: 1 }\n",
    ));
    assert!(out.contains("error[invalid-value]: `approvals` is 0"), "{out}");
    assert!(out.contains("error[duplicate-id]: two rules for promotions into tier 2"), "{out}");
    assert!(out.contains("error[invalid-value]: tier 7 is not defined"), "{out}");
}

#[test]
fn an_unknown_key_under_promotions_is_named_with_its_position() {
    let text = format!(
        "{}promotions:\n  overdue-after: 30d\n  aproval-rules: []\n  rules:\n    - {{ into: 1, approvals: 1 }}\n    - {{ into: 2, approvals: 1 }}\n",
        skeleton()
    );
    let line = text.lines().position(|l| l == "  aproval-rules: []").expect("edited") + 1;
    let out = problems(&text);
    assert!(out.contains(&format!("p.yaml:{line}:3: error[unknown-key]: unknown key `aproval-rules`")), "{out}");
}

#[test]
fn a_lone_unknown_key_is_an_error_too() {
    let text = skeleton().replacen("  name: Exampletime\n", "  name: Exampletime\n  nmae: typo\n", 1);
    let line = text.lines().position(|l| l == "  nmae: typo").expect("edited") + 1;
    let out = problems(&text);
    assert!(out.contains(&format!("p.yaml:{line}:3: error[unknown-key]: unknown key `nmae`")), "{out}");
}

#[test]
fn a_known_failure_needs_a_real_feature_and_an_upstream_link() {
    let text = common::policy_text().replacen("charged-to: wasi-http", "charged-to: wasi-htp", 1).replacen(
        "link: https://github.com/bytecodealliance/wasmtime/issues/11779",
        "link: see the issue",
        1,
    );
    let feature = text.lines().position(|l| l == "    charged-to: wasi-htp").expect("edited") + 1;
    let link = text.lines().position(|l| l == "    link: see the issue").expect("edited") + 1;
    let out = problems(&text);
    assert!(
        out.contains(&format!("p.yaml:{feature}:17: error[dangling-reference]: unknown feature `wasi-htp`")),
        "{out}"
    );
    assert!(out.contains(&format!("p.yaml:{link}:11: error[invalid-value]: link `see the issue`")), "{out}");
}

#[test]
fn a_footnote_nothing_references_is_named_where_it_is_defined() {
    let text = common::policy_text().replacen("footnote: \"2\", ", "", 1);
    let line = text.lines().position(|l| l == "  - id: \"2\"").expect("footnote 2") + 1;
    let out = problems(&text);
    assert!(out.contains(&format!("p.yaml:{line}:9: error[unused]: footnote `2` is referenced by nothing")), "{out}");
    // A `[^2]` in any rendered Markdown is a reference too.
    let text = text.replacen("status-intro: \"", "status-intro: \"See [^2]. ", 1);
    assert!(matrix::validate("p.yaml", &text).is_ok(), "a [^2] in the prose references footnote 2");
}

#[test]
fn two_categories_with_one_label_are_refused() {
    let text = skeleton().replacen("    label: Proposal\n", "    label: Target\n", 1);
    let line =
        text.lines().position(|l| l == "    label: Target").map(|_| 0).and_then(|_| {
            text.lines().enumerate().filter(|(_, l)| *l == "    label: Target").nth(1).map(|(i, _)| i + 1)
        });
    let out = problems(&text);
    assert!(
        out.contains(&format!(
            "p.yaml:{}:12: error[duplicate-id]: categories `target` and `proposal` share the label `Target`",
            line.expect("second label")
        )),
        "{out}"
    );
}

#[test]
fn fuzz_hours_must_be_positive_and_fit_the_window() {
    let text =
        common::policy_text().replacen("scope: architecture, min-hours: 24", "scope: architecture, min-hours: 721", 1);
    let out = problems(&text);
    assert!(out.contains("error[inconsistent]: `min-hours` is 721, more than the 30d window holds"), "{out}");
    let text =
        common::policy_text().replacen("scope: architecture, min-hours: 24", "scope: architecture, min-hours: -1", 1);
    let out = problems(&text);
    assert!(out.contains("error[invalid-value]: `min-hours` is -1; write a positive number of hours"), "{out}");
    let text = common::policy_text().replacen(
        "kind: differential-fuzzed, window: 30d",
        "kind: differential-fuzzed, window: 30d, min-hour: 2",
        1,
    );
    let out = problems(&text);
    assert!(
        out.contains("error[check-parameter]: `min-hour` is not a parameter of check kind `differential-fuzzed`"),
        "{out}"
    );
}

/// The skeleton with a `build` dimension declared as given.
fn with_dimension(declaration: &str) -> String {
    skeleton().replacen("features:\n", &format!("dimensions:\n{declaration}features:\n"), 1)
}

#[test]
fn dimensions_are_declared_with_their_values_and_a_default_among_them() {
    let ok = with_dimension("  - { id: build, description: How it was built., values: [std, no_std], default: std }\n");
    let policy = matrix::validate("p.yaml", &ok).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(policy.dimensions[0].values, ["std", "no_std"]);
    // Every selector has every dimension: its default unless it says more.
    assert_eq!(policy.features[0].evidence.dimensions.get("build"), Some(&vec!["std".to_owned()]));

    let text =
        with_dimension("  - { id: build, description: How it was built., values: [std, no_std], default: nostd }\n");
    let line = text.lines().position(|l| l.contains("default: nostd")).expect("edited") + 1;
    let out = problems(&text);
    assert!(out.contains(&format!("p.yaml:{line}:")), "{out}");
    assert!(out.contains("error[inconsistent]: the default `nostd` of `build` is not one of its values"), "{out}");
    let out = problems(&with_dimension("  - { id: Build, description: x, values: [std, std], default: std }\n"));
    assert!(out.contains("error[invalid-value]: dimension id `Build`"), "{out}");
    assert!(out.contains("error[duplicate-id]: value `std` of `Build` is listed twice"), "{out}");
}

#[test]
fn a_selector_naming_an_unknown_dimension_or_value_is_refused_where_it_says_so() {
    let declared =
        with_dimension("  - { id: build, description: How it was built., values: [std, no_std], default: std }\n");
    let text = declared.replacen(
        "evidence: { spec: [\"wasm-spec/simd_*.wast\"] }",
        "evidence: { spec: [\"wasm-spec/simd_*.wast\"], dimensions: { bulid: [no_std] } }",
        1,
    );
    let line = text.lines().position(|l| l.contains("bulid")).expect("edited") + 1;
    let col = text.lines().nth(line - 1).and_then(|l| l.find("bulid")).expect("col") + 1;
    let out = problems(&text);
    assert!(
        out.contains(&format!("p.yaml:{line}:{col}: error[dangling-reference]: unknown dimension `bulid`")),
        "{out}"
    );
    assert!(out.contains("defined dimensions: build"), "{out}");
    let text = declared.replacen(
        "evidence: { spec: [\"wasm-spec/simd_*.wast\"] }",
        "evidence: { spec: [\"wasm-spec/simd_*.wast\"], dimensions: { build: [no-std] } }",
        1,
    );
    let out = problems(&text);
    assert!(out.contains("error[invalid-value]: `no-std` is not a value of dimension `build`"), "{out}");
}

#[test]
fn combinators_where_and_not_applicable_are_checked_where_written() {
    let policy = |old: &str, new: &str| skeleton().replacen(old, new, 1);
    // One alternative is no choice.
    let text =
        policy("check: { kind: tests-pass, window: 7d }", "check: { any-of: [{ kind: tests-pass, window: 7d }] }");
    let line = text.lines().position(|l| l.contains("any-of")).expect("edited") + 1;
    let out = problems(&text);
    assert!(out.contains(&format!("p.yaml:{line}:")), "{out}");
    assert!(out.contains("error[invalid-value]: `any-of` combines at least two checks; found 1"), "{out}");
    // A kind and a combinator at once.
    let text = policy(
        "check: { kind: tests-pass, window: 7d }",
        "check: { kind: tests-pass, window: 7d, all-of: [{ kind: tests-pass, window: 7d }, { kind: tests-pass, window: 1d }] }",
    );
    assert!(problems(&text).contains("error[inconsistent]: a check has exactly one of `kind`, `any-of`, `all-of`"));
    // Inside a combinator, problems are found at their own place.
    let text = policy(
        "check: { kind: tests-pass, window: 7d }",
        "check:\n      any-of:\n        - { kind: tests-pass, window: 7d }\n        - { kind: tests-passes, window: 7d }",
    );
    let line = text.lines().position(|l| l.contains("tests-passes")).expect("edited") + 1;
    let out = problems(&text);
    assert!(
        out.contains(&format!("p.yaml:{line}:19: error[unknown-check-kind]: unknown check kind `tests-passes`")),
        "{out}"
    );
    // `where` narrows runs: not on an attestation, not empty, real dimensions.
    let text = policy(
        "check: { kind: attested, attestation: owner }",
        "check: { kind: attested, attestation: owner, where: { compilers: [winch] } }",
    );
    assert!(problems(&text).contains("error[check-parameter]: `where` narrows the runs a check reads"));
    let text = policy(
        "check: { kind: tests-pass, window: 7d }",
        "check: { kind: tests-pass, window: 7d, where: { compilers: [] } }",
    );
    assert!(problems(&text).contains("error[invalid-value]: `where.compilers` is empty"));
    let text = policy(
        "check: { kind: tests-pass, window: 7d }",
        "check: { kind: tests-pass, window: 7d, where: { dimensions: { build: [no_std] } } }",
    );
    assert!(problems(&text).contains("error[dangling-reference]: unknown dimension `build`"));
    let text = policy(
        "check: { kind: tests-pass, window: 7d }",
        "check: { kind: tests-pass, window: 7d, where: { compilers: [winch], pick: 1 } }",
    );
    assert!(problems(&text).contains("error[unknown-key]: unknown key `pick`"));
    // not-applicable names real features, says why, and only where the
    // requirement would apply.
    let text = policy(
        "    check: { kind: tests-pass, window: 7d }\n",
        "    check: { kind: tests-pass, window: 7d }\n    not-applicable: [{ features: [smid], reason: \"\" }]\n",
    );
    let out = problems(&text);
    assert!(out.contains("error[dangling-reference]: unknown feature `smid`"), "{out}");
    assert!(out.contains("error[invalid-value]: say why it does not apply: `reason` is empty"), "{out}");
    let text = policy(
        "    check: { kind: attested, attestation: owner }\n",
        "    check: { kind: attested, attestation: owner }\n    applies-to: [target]\n    not-applicable: [{ features: [simd], reason: proposals have no owner }]\n",
    );
    assert!(problems(&text).contains(
        "error[inconsistent]: requirement `owned` does not apply to category `proposal` anyway, so not to `simd`"
    ));
}
