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
    Ok(Evidence { runs })
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
