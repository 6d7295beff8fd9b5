//! The agreement report, tierwatch's fidelity check: every spec and
//! component script run on each compiler here, tierwatch's verdict printed
//! next to what wasmtime's own harness at v48.0.0 expects of it on this
//! host (the rules in `engine::harness`), with the agreement count and each
//! disagreement's first deciding directive.

use engine::Compiler;
use engine::harness::{self, Agreement, Expectation, Host};
use matrix::evidence::{Outcome, SpecFile};

use crate::suites::{Filter, Testsuite};

/// One compiler's tally.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Scripts whose verdict agrees with the harness.
    pub agree: usize,
    /// Scripts that disagree.
    pub disagree: usize,
    /// Scripts the harness does not run here.
    pub not_run: usize,
}

/// Runs the suites on `compilers` and prints one line per script, then a
/// summary per compiler. Returns each compiler's tally.
pub fn run(testsuite: &Testsuite, filter: &Filter, compilers: &[Compiler]) -> anyhow::Result<Vec<(Compiler, Tally)>> {
    let host = Host::current(crate::host::emulation().is_some());
    let mut out = Vec::new();
    for &compiler in compilers {
        let profile = crate::work::profile(compiler, &crate::host::engine_options())?;
        let files = crate::work::spec(&profile, testsuite, filter);
        let mut tally = Tally::default();
        for f in &files {
            let expected = harness::expectation(&f.suite, &f.file, compiler, &host);
            let agreement = harness::agreement(&expected, f);
            println!("{}", line(compiler, f, &expected, &agreement));
            match agreement {
                Agreement::Agrees => tally.agree += 1,
                Agreement::Disagrees(_) => tally.disagree += 1,
                Agreement::NotRun(_) => tally.not_run += 1,
            }
        }
        println!(
            "agreement: {compiler} on {} ({}): {} of {} scripts agree with wasmtime's harness, {} disagree, {} not run by it",
            crate::host::TARGET,
            host.arch,
            tally.agree,
            tally.agree + tally.disagree,
            tally.disagree,
            tally.not_run
        );
        out.push((compiler, tally));
    }
    Ok(out)
}

fn counts(f: &SpecFile) -> String {
    Outcome::ALL
        .into_iter()
        .filter_map(|o| {
            let n = f.count(o);
            (n > 0).then(|| format!("{n} {}", o.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn line(compiler: Compiler, f: &SpecFile, expected: &Expectation, agreement: &Agreement) -> String {
    let wasmtime = match expected {
        Expectation::Pass => "pass".to_owned(),
        Expectation::Fail(why) => format!("fail ({why})"),
        Expectation::Lacks(why) => format!("fail, coarse ({why})"),
        Expectation::NotRun(why) => format!("not run ({why})"),
    };
    let (word, first) = match agreement {
        Agreement::Agrees => ("agrees", String::new()),
        Agreement::Disagrees(d) => ("DISAGREES", format!("\n    first: {d}")),
        Agreement::NotRun(_) => ("not-run", String::new()),
    };
    format!("{word:9} {compiler}/{}/{}  wasmtime: {wasmtime}  tierwatch: {}{first}", f.suite, f.file, counts(f))
}
