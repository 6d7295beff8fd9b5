//! Running a directory of `.wast` scripts in parallel, and wrapping the
//! results in a run report.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use matrix::evidence::{EngineInfo, FORMAT, RunReport, RunnerInfo, SpecFile, TargetInfo, VERSION};

use crate::profile::Profile;

/// Every `.wast` script under `root`, as `/`-separated paths relative to it,
/// sorted.
pub fn scripts(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "wast") {
                out.push(p.strip_prefix(root).unwrap_or(&p).to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// Runs `files` (relative to `root`, reported under `suite`) on `profile`
/// with `threads` workers; results come back in `files` order. A file that
/// cannot be read is one failed `read` directive.
pub fn run_scripts(profile: &Profile, suite: &str, root: &Path, files: &[String], threads: usize) -> Vec<SpecFile> {
    let read = |file: &str| {
        let path: PathBuf = root.join(file);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    run_files(profile, suite, files, threads, &read, &|_| {})
}

/// Reads a script's text, or says why it cannot.
pub type Reader<'a> = dyn Fn(&str) -> Result<String, String> + Sync + 'a;

/// Runs `files`, read with `read` (a directory, or scripts bundled into a
/// binary), on `profile` with `threads` workers, calling `done` as each file
/// finishes (for progress); results come back in `files` order.
pub fn run_files(
    profile: &Profile,
    suite: &str,
    files: &[String],
    threads: usize,
    read: &Reader<'_>,
    done: &(dyn Fn(&SpecFile) + Sync),
) -> Vec<SpecFile> {
    crate::parallel::map(files, threads, |_, file| {
        let result = match read(file) {
            Ok(text) => crate::wast::run_wast(profile, suite, file, &text),
            Err(message) => SpecFile {
                suite: suite.into(),
                file: file.clone(),
                directives: vec![matrix::evidence::Directive {
                    line: 0,
                    kind: "read".into(),
                    outcome: matrix::evidence::Outcome::Fail,
                    message: Some(message),
                }],
                config: None,
                passes_elided: 0,
            },
        };
        done(&result);
        result
    })
}

/// Who and where, for a report.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The run's id.
    pub run_id: String,
    /// The runner's name.
    pub runner: String,
    /// The target the run executed on.
    pub target: TargetInfo,
}

/// A run report of `spec` results produced by `profile`.
pub fn report(p: &Provenance, profile: &Profile, started_at: Timestamp, spec: Vec<SpecFile>) -> RunReport {
    RunReport {
        format: FORMAT.into(),
        version: VERSION,
        run_id: p.run_id.clone(),
        runner: RunnerInfo { name: p.runner.clone(), version: env!("CARGO_PKG_VERSION").into(), host: None },
        target: p.target.clone(),
        engine: EngineInfo {
            name: "wasmtime".into(),
            version: crate::WASMTIME_VERSION.into(),
            compiler: profile.compiler.name().into(),
        },
        started_at,
        finished_at: Timestamp::now().max(started_at),
        dimensions: Default::default(),
        build_only: false,
        spec,
        wasi: vec![],
        fuzz: vec![],
    }
}
