//! JUnit XML for any CI system: one `<testsuite>` per spec suite, WASI
//! suite and the fuzz campaigns; a spec file is one test case that fails
//! when any of its directives failed, a fuzz campaign fails per crash
//! signature.

use std::collections::BTreeMap;
use std::fmt::Write;

use matrix::RunReport;
use matrix::evidence::Outcome;

fn escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&apos;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

/// A test case: name, and `Some(message)` when it failed, or skipped.
struct Case {
    name: String,
    failure: Option<String>,
    skipped: bool,
}

fn suite_xml(out: &mut String, name: &str, cases: &[Case]) {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let skipped = cases.iter().filter(|c| c.skipped).count();
    let _ = writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" skipped="{skipped}">"#,
        escape(name),
        cases.len()
    );
    for c in cases {
        let _ = write!(out, r#"    <testcase classname="{}" name="{}""#, escape(name), escape(&c.name));
        match (&c.failure, c.skipped) {
            (Some(m), _) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    escape(first_line(m)),
                    escape(m)
                );
            }
            (None, true) => {
                let _ = writeln!(out, ">\n      <skipped/>\n    </testcase>");
            }
            (None, false) => {
                let _ = writeln!(out, "/>");
            }
        }
    }
    out.push_str("  </testsuite>\n");
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let compiler = &report.engine.compiler;
    let mut suites: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for f in &report.spec {
        let failed: Vec<String> = f
            .directives
            .iter()
            .filter(|d| d.outcome == Outcome::Fail)
            .map(|d| format!("{}:{}: {}: {}", f.file, d.line, d.kind, d.message.as_deref().unwrap_or("failed")))
            .collect();
        let skipped = !f.directives.is_empty() && f.directives.iter().all(|d| d.outcome.is_no_evidence());
        let failure = (!failed.is_empty()).then(|| failed.join("\n"));
        suites.entry(format!("{compiler}/{}", f.suite)).or_default().push(Case {
            name: f.file.clone(),
            failure,
            skipped,
        });
    }
    for t in &report.wasi {
        let failure = (t.outcome == Outcome::Fail).then(|| t.message.clone().unwrap_or_else(|| "failed".into()));
        let case = Case { name: t.test.clone(), failure, skipped: t.outcome.is_no_evidence() };
        suites.entry(format!("{compiler}/wasi/{}", t.suite)).or_default().push(case);
    }
    for c in &report.fuzz {
        let failure = (!c.crashes.is_empty()).then(|| {
            c.crashes
                .iter()
                .map(|x| format!("{} (x{}): {}", x.signature, x.count, x.message))
                .collect::<Vec<_>>()
                .join("\n")
        });
        suites.entry("fuzz".to_owned()).or_default().push(Case { name: c.name.clone(), failure, skipped: false });
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, r#"<testsuites name="tierwatch {}">"#, escape(&report.run_id));
    for (name, cases) in &suites {
        suite_xml(&mut out, name, cases);
    }
    out.push_str("</testsuites>\n");
    out
}
