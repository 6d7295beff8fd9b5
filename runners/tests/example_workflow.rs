//! The CI workflow offered to adopters (`examples/github-actions/`) stays
//! true to the runner: its targets are the ones `scripts/cross` builds plus
//! the native one, every runner command line in it parses with the
//! runner's own CLI, the token comes from a secret, the testsuites are laid
//! out as the runner reads them, and the reports and JUnit XML are
//! attached. (CI also validates it against the GitHub workflow schema with
//! check-jsonschema, in scripts/containers-check.)

use std::path::PathBuf;

use clap::Parser;
use runner::cli::Cli;
use serde_yaml::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence().map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

#[test]
fn the_example_workflow_matches_the_runner() {
    let path = root().join("examples/github-actions/tierwatch-runners.yml");
    let text = std::fs::read_to_string(&path).expect("the example workflow");
    let doc: Value = serde_yaml::from_str(&text).expect("valid YAML");
    let job = &doc["jobs"]["run"];

    let cross = std::fs::read_to_string(root().join("scripts/cross")).expect("scripts/cross");
    let all = cross.lines().find_map(|l| l.strip_prefix("ALL=(")).expect("scripts/cross names its targets");
    let mut expected = vec!["x86_64-unknown-linux-gnu".to_owned()];
    expected.extend(all.trim_end_matches(')').split_whitespace().map(str::to_owned));
    assert_eq!(strings(&job["strategy"]["matrix"]["target"]), expected, "one job per target");

    assert_eq!(job["env"]["TIERWATCH_TOKEN"].as_str(), Some("${{ secrets.TIERWATCH_TOKEN }}"));
    let steps = job["steps"].as_sequence().expect("steps");
    let scripts: String = steps.iter().filter_map(|s| s["run"].as_str()).collect::<Vec<_>>().join("\n");

    let invocations: Vec<&str> = scripts.lines().filter_map(|l| l.trim().strip_prefix("\"${runner[@]}\" ")).collect();
    assert!(!invocations.is_empty(), "the workflow runs the runner");
    for args in invocations {
        let argv = std::iter::once("tierwatch-runner").chain(args.split_whitespace());
        if let Err(e) = Cli::try_parse_from(argv) {
            panic!("`tierwatch-runner {args}` in {} does not parse: {e}", path.display());
        }
    }
    for sub in ["build", "run"] {
        assert!(scripts.contains(&format!("scripts/cross {sub} ")), "uses scripts/cross {sub}");
        assert!(cross.contains(&format!("#   scripts/cross {sub} ")), "scripts/cross has `{sub}`");
    }
    for folder in ["testsuites/wasm-spec", "testsuites/component-model", "testsuites/wasi/tests"] {
        assert!(scripts.contains(folder), "the testsuite layout has {folder}");
    }

    let upload = steps
        .iter()
        .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact@")))
        .expect("the reports are attached");
    let paths = upload["with"]["path"].as_str().unwrap_or_default();
    assert!(paths.contains("reports/*.junit.xml") && paths.contains("reports/*.json"), "{paths}");
}
