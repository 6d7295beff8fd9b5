//! Progress for long work: a bar on a terminal, plain lines otherwise (CI
//! logs), both on stderr so stdout stays for results.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Progress of one phase (`spec cranelift`, `fuzz`, …).
#[derive(Debug)]
pub struct Progress {
    label: String,
    total: u64,
    done: AtomicU64,
    failed: AtomicU64,
    bar: Option<ProgressBar>,
    last_line: Mutex<(Instant, u64)>,
}

impl Progress {
    /// Starts a phase of `total` items.
    pub fn new(label: &str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style.progress_chars("=> "));
            bar.set_prefix(label.to_owned());
            bar
        });
        if bar.is_none() {
            eprintln!("{label}: {total} to run");
        }
        Progress {
            label: label.to_owned(),
            total,
            done: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            bar,
            last_line: Mutex::new((Instant::now(), 0)),
        }
    }

    /// One item finished.
    pub fn tick(&self, failed: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failures = self.failed.fetch_add(u64::from(failed), Ordering::Relaxed) + u64::from(failed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("{failures} failing"));
            return;
        }
        // Plain lines: every tenth of the way or every 10 seconds.
        let mut last = self.last_line.lock().unwrap_or_else(|e| e.into_inner());
        let step = (self.total / 10).max(1);
        if done == self.total || done >= last.1 + step || last.0.elapsed() >= Duration::from_secs(10) {
            eprintln!("{}: {done}/{} done, {failures} failing", self.label, self.total);
            *last = (Instant::now(), done);
        }
    }

    /// The phase is over.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
