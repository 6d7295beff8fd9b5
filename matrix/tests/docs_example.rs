//! The policy skeleton in docs/policy.md is valid and evaluates as the page says.

mod common;

use matrix::{Evidence, Status, Tier};

fn skeleton() -> String {
    let doc = std::fs::read_to_string(common::root().join("docs/policy.md")).expect("docs/policy.md");
    let section = doc.split("## Encoding another runtime").nth(1).expect("the section exists");
    let block = section.split("```yaml\n").nth(1).expect("a yaml block");
    block.split("```").next().expect("closed block").to_owned()
}

#[test]
fn the_documented_skeleton_validates_and_evaluates() {
    let policy = common::policy_from(&skeleton());
    assert_eq!(policy.features.len(), 2);
    let eval = matrix::evaluate(&policy, &Evidence::default(), common::seed_now());
    let target = eval.feature("x86_64-unknown-linux-gnu").expect("feature");
    assert_eq!((target.earned, target.status), (Some(Tier(2)), Status::Violating));
    assert_eq!(target.failing_declared[0].text, "CI testing");
    let simd = eval.feature("simd").expect("feature");
    assert_eq!((simd.earned, simd.status), (Some(Tier(2)), Status::Conforming));
    assert_eq!(simd.missing_next[0].text, "CI testing");
}
