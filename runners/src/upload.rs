//! Delivering reports: `POST /api/v1/runs` with a bearer token and a
//! gzipped body. The run id makes uploads idempotent, so a retry after a
//! lost answer is harmless. Connection failures, 5xx and 429 are retried
//! with exponential backoff; if they persist the report is spooled. A 4xx
//! is the server refusing this report: its message is shown, and the
//! report is kept aside rather than resent.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use flate2::write::GzEncoder;
use matrix::RunReport;

use crate::spool::Spool;

/// Where and as whom to upload.
#[derive(Debug, Clone)]
pub struct Server {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// A runner-role token.
    pub token: String,
    /// Attempts per report before spooling (at least 1).
    pub attempts: u32,
    /// Delay before the first retry; doubled each time.
    pub backoff: Duration,
}

/// What happened to one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server has it (`duplicate` when it had it already).
    Acknowledged {
        /// HTTP status.
        status: u16,
        /// Whether the server already held this run.
        duplicate: bool,
    },
    /// The server refused it; retrying will not help.
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server could not be reached or kept failing.
    Unreachable(String),
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

/// The message in the server's `{"error": {"message": …}}` answer.
fn server_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            let message = e.get("message")?.as_str()?.to_owned();
            Some(match e.get("field").and_then(|f| f.as_str()) {
                Some(field) => format!("{message} (field {field})"),
                None => message,
            })
        })
        .unwrap_or_else(|| body.chars().take(500).collect())
}

impl Server {
    fn client() -> anyhow::Result<reqwest::blocking::Client> {
        Ok(reqwest::blocking::Client::builder()
            // A redirect would turn the POST into a bodiless GET of the run
            // list, whose 200 must not pass for an acknowledgement.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tierwatch-runner/", env!("CARGO_PKG_VERSION")))
            .build()?)
    }

    /// Delivers one report body (JSON) for `run_id`, retrying as described.
    pub fn deliver(&self, run_id: &str, json: &[u8]) -> Delivery {
        let client = match Self::client() {
            Ok(c) => c,
            Err(e) => return Delivery::Unreachable(format!("{e:#}")),
        };
        let body = gzip(json);
        let url = format!("{}/api/v1/runs", self.url.trim_end_matches('/'));
        let mut delay = self.backoff;
        let mut last = String::new();
        for attempt in 1..=self.attempts.max(1) {
            let sent = client
                .post(&url)
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(body.clone())
                .send();
            match sent {
                Ok(r) if r.status().is_success() => {
                    let status = r.status().as_u16();
                    let answer: serde_json::Value =
                        serde_json::from_str(&r.text().unwrap_or_default()).unwrap_or_default();
                    // Only the server's answer for this run acknowledges it.
                    if answer.get("run-id").and_then(|v| v.as_str()) != Some(run_id) {
                        return Delivery::Unreachable(format!(
                            "{url} answered {status} without acknowledging {run_id}"
                        ));
                    }
                    let duplicate = answer.get("duplicate").and_then(|v| v.as_bool()).unwrap_or(false);
                    return Delivery::Acknowledged { status, duplicate };
                }
                Ok(r) if refuses_report(r.status().as_u16()) => {
                    let status = r.status().as_u16();
                    return Delivery::Refused { status, message: server_message(&r.text().unwrap_or_default()) };
                }
                Ok(r) if r.status().is_client_error() && r.status().as_u16() != 429 => {
                    // A wrong token or URL: nothing wrong with the report, and
                    // retrying will not help; it waits in the spool.
                    let status = r.status();
                    let message = server_message(&r.text().unwrap_or_default());
                    return Delivery::Unreachable(format!("{url} answered {status}: {message}"));
                }
                Ok(r) => last = format!("{} answered {}", url, r.status()),
                Err(e) => last = format!("{url}: {e}"),
            }
            if attempt < self.attempts {
                eprintln!("upload {run_id}: attempt {attempt} failed ({last}); retrying in {delay:?}");
                std::thread::sleep(delay);
                delay *= 2;
            }
        }
        Delivery::Unreachable(last)
    }
}

/// Answers that judge the report itself (malformed, too large, for a target
/// the token may not report for, a different body under its run id); other
/// 4xx (401, 404, …) are about the runner's set-up, not the report.
fn refuses_report(status: u16) -> bool {
    matches!(status, 400 | 403 | 409 | 413 | 415 | 422)
}

/// A report file read for upload: its run id and bytes.
pub fn read_report(path: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let text = std::str::from_utf8(&bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))?;
    let report = RunReport::from_json(text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((report.run_id, bytes))
}

/// Counts of what an upload pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Acknowledged by the server.
    pub delivered: usize,
    /// Left in (or put into) the spool.
    pub spooled: usize,
    /// Refused by the server.
    pub refused: usize,
}

/// Delivers `files`; on failure, spools them (files already in the spool
/// stay; refused spool files move aside). Without a server, everything is
/// spooled.
pub fn upload_files(server: Option<&Server>, spool: &Spool, files: &[impl AsRef<Path>]) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    for path in files {
        let path = path.as_ref();
        let in_spool = spool.holds(path);
        let (run_id, bytes) = match read_report(path) {
            Ok(r) => r,
            // A spool file that is no report must not stop the others.
            Err(e) if in_spool => {
                eprintln!("upload: {e:#}");
                let kept = spool.rejected(path, &format!("{e:#}"))?;
                eprintln!("upload: kept at {}", kept.display());
                tally.refused += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let delivery = match server {
            Some(s) => s.deliver(&run_id, &bytes),
            None => Delivery::Unreachable("no server configured (--server / TIERWATCH_SERVER)".into()),
        };
        match delivery {
            Delivery::Acknowledged { status, duplicate } => {
                let note = if duplicate { ", already held" } else { "" };
                eprintln!("upload {run_id}: delivered ({status}{note})");
                if in_spool {
                    spool.acknowledged(path)?;
                }
                tally.delivered += 1;
            }
            Delivery::Refused { status, message } => {
                eprintln!("upload {run_id}: the server refused it ({status}): {message}");
                if in_spool {
                    let kept = spool.rejected(path, &format!("{status}: {message}"))?;
                    eprintln!("upload {run_id}: kept at {}", kept.display());
                }
                tally.refused += 1;
            }
            Delivery::Unreachable(why) => {
                let kept = if in_spool { path.to_owned() } else { spool.put(&run_id, &bytes)? };
                eprintln!("upload {run_id}: not delivered ({why}); spooled at {}", kept.display());
                tally.spooled += 1;
            }
        }
    }
    Ok(tally)
}
