//! Reading policies and run reports from disk, with errors that name the
//! file, line and field.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use matrix::{Evidence, Policy, RunReport};

/// Reads and validates a policy file. On failure the error is the full list
/// of diagnostics.
pub fn policy(path: &Path) -> Result<Policy> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read policy {}", path.display()))?;
    Ok(matrix::validate(&path.display().to_string(), &text)?)
}

/// Reads every `*.json` run report under `dir` (recursively, in path order).
/// Fails on the first unreadable or invalid report, naming it, and on two
/// reports sharing a run id.
pub fn evidence(dir: &Path) -> Result<Evidence> {
    let mut files = Vec::new();
    collect(dir, &mut files).with_context(|| format!("cannot read evidence directory {}", dir.display()))?;
    files.sort();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut runs = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
        let report =
            RunReport::from_json(&text).with_context(|| format!("{}: not a valid run report", file.display()))?;
        if let Some(first) = seen.insert(report.run_id.clone(), file.clone()) {
            bail!(
                "{}: run id `{}` is already used by {}; every run needs its own id",
                file.display(),
                report.run_id,
                first.display()
            );
        }
        runs.push(report);
    }
    Ok(runs.into_iter().collect())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

/// The test names a testsuite checkout holds, as run reports name them:
/// `wasm-spec/…` and `component-model/…` scripts, and `<suite>/<test>` WASI
/// programs (suites named from each folder's `manifest.json`). A checkout
/// with none of the three folders is an error naming what was looked for.
pub fn test_names(dir: &Path) -> Result<matrix::coverage::TestNames> {
    let mut names = matrix::coverage::TestNames::default();
    for suite in ["wasm-spec", "component-model"] {
        let root = dir.join(suite);
        let mut files = Vec::new();
        if root.is_dir() {
            walk(&root, &mut files, "wast").with_context(|| format!("cannot read {}", root.display()))?;
        }
        names.spec.extend(files.iter().filter_map(|f| {
            let rel = f.strip_prefix(&root).ok()?.to_string_lossy().replace('\\', "/");
            Some(format!("{suite}/{rel}"))
        }));
    }
    let wasi = dir.join("wasi/tests");
    if wasi.is_dir() {
        let mut files = Vec::new();
        walk(&wasi, &mut files, "wasm").with_context(|| format!("cannot read {}", wasi.display()))?;
        for f in files {
            let (Ok(rel), Some(parent), Some(stem)) = (f.strip_prefix(&wasi), f.parent(), f.file_stem()) else {
                continue;
            };
            let language = rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned());
            let manifest = fs::read_to_string(parent.join("manifest.json")).ok();
            let version = manifest
                .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
                .and_then(|m| m.get("version").and_then(|v| v.as_str()).map(str::to_owned));
            if let Some(language) = language {
                let suite = matrix::coverage::wasi_suite_name(&language, version.as_deref());
                names.wasi.push(format!("{suite}/{}", stem.to_string_lossy()));
            }
        }
    }
    if names.spec.is_empty() && names.wasi.is_empty() {
        bail!(
            "{} has no wasm-spec/, component-model/ or wasi/tests/ with tests; pass a testsuite checkout",
            dir.display()
        );
    }
    names.spec.sort();
    names.wasi.sort();
    Ok(names)
}

/// Files with extension `ext` under `dir`, skipping `*.dir` fixture folders.
fn walk(dir: &Path, out: &mut Vec<PathBuf>, ext: &str) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() && path.extension().is_none_or(|e| e != "dir") {
            walk(&path, out, ext)?;
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    Ok(())
}
