//! The spool: reports the server has not acknowledged yet, one file per run
//! id. Files are written to a temporary name and renamed, so a crash never
//! leaves half a report; a report leaves the spool only after the server
//! acknowledged it. Reports the server refused (4xx) move to `rejected/`,
//! kept for a person to read, and are not resent.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// A spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

/// The default spool: `$XDG_STATE_HOME/tierwatch/spool`, else
/// `~/.local/state/tierwatch/spool`.
pub fn default_dir() -> PathBuf {
    let base = std::env::var_os("XDG_STATE_HOME").map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        home.join(".local/state")
    });
    base.join("tierwatch/spool")
}

impl Spool {
    /// The spool at `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Spool {
        Spool { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("{run_id}.json"))
    }

    /// Keeps a report until it is acknowledged.
    pub fn put(&self, run_id: &str, report: &[u8]) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("creating spool {}", self.dir.display()))?;
        let path = self.path(run_id);
        let tmp = self.dir.join(format!(".{run_id}.json.tmp"));
        std::fs::write(&tmp, report).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("moving {} into the spool", tmp.display()))?;
        Ok(path)
    }

    /// Spooled reports, oldest first.
    pub fn pending(&self) -> anyhow::Result<Vec<PathBuf>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading spool {}", self.dir.display())),
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "json") && !is_hidden(p))
            .map(|p| (p.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), p))
            .collect();
        files.sort();
        Ok(files.into_iter().map(|(_, p)| p).collect())
    }

    /// Whether `path` is one of this spool's files.
    pub fn holds(&self, path: &Path) -> bool {
        path.parent().is_some_and(|p| same_dir(p, &self.dir))
    }

    /// The server acknowledged the report in `path`: forget it.
    pub fn acknowledged(&self, path: &Path) -> anyhow::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The server refused the report in `path` (or it is no report): keep
    /// it aside, with the reason.
    pub fn rejected(&self, path: &Path, reason: &str) -> anyhow::Result<PathBuf> {
        let dir = self.dir.join("rejected");
        std::fs::create_dir_all(&dir)?;
        let name = path.file_name().map(|n| n.to_owned()).unwrap_or_else(|| "report.json".into());
        let to = dir.join(&name);
        std::fs::rename(path, &to).with_context(|| format!("moving {} to {}", path.display(), to.display()))?;
        let mut note = name;
        note.push(".reason.txt");
        std::fs::write(dir.join(note), reason)?;
        Ok(to)
    }
}

/// A report being written (`put` renames it into place when complete).
fn is_hidden(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".json.tmp"))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
