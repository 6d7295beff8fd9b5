//! A run's way in: a report's text checked (format, scope, bounds, dates,
//! dimensions), compared with an earlier upload of the same run id, stored
//! (`received`, or `rejected` when no feature of the policy selects it) and
//! evaluated (`evaluated`, by [`AppState::add_run`]). HTTP is the route's
//! business: this module takes the body's text and answers with an
//! [`Accepted`] or an [`IngestError`].

use jiff::Timestamp;
use matrix::RunReport;
use matrix::evidence::ReportError;
use serde::Serialize;

use crate::auth::{self, Caller};
use crate::state::{AppState, Settings};
use crate::store::{NewRun, StoreError};

mod run_state;

pub use run_state::RunState;

/// Why an upload was not taken in.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The report is malformed, too large or dated where no run can be
    /// (`field` names where, when known).
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    /// The token may not report for the report's target.
    #[error("{0}")]
    Forbidden(String),
    /// The run id was taken by a different report.
    #[error("{0}")]
    Conflict(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The answer to an accepted (or repeated) upload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Accepted {
    pub run_id: String,
    pub state: RunState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub duplicate: bool,
    pub changed: Vec<String>,
}

/// Takes in the report `original` (the body's text) from `caller`:
/// `(true, …)` for a run stored now, `(false, …)` for a repeat of one
/// stored before.
pub async fn take(state: &AppState, caller: &Caller, original: &str) -> Result<(bool, Accepted), IngestError> {
    let text = without_nul(original);
    let report = RunReport::from_json(&text).map_err(|e| match e {
        ReportError::Json { line, column, field, message } => IngestError::Invalid {
            message: format!("line {line}, column {column}: {field}: {message}"),
            field: Some(field),
        },
        ReportError::Invalid { field, message } => {
            IngestError::Invalid { message: format!("{field}: {message}"), field: Some(field) }
        }
    })?;
    if !caller.may_report(&report.target.triple) {
        return Err(IngestError::Forbidden(format!(
            "token `{}` may report for {}; this report is for `{}`",
            caller.name,
            caller.scope(),
            report.target.triple
        )));
    }
    within_bounds(&report, &state.settings)?;
    // A dimension the policy does not know would make the run count for
    // nothing without anyone noticing: refuse it by name.
    if let Err(e) = state.base_policy.run_dimensions(&report) {
        return Err(IngestError::Invalid { message: format!("{}: {}", e.field, e.message), field: Some(e.field) });
    }
    let received_at = Timestamp::now();
    timely(&report, received_at, &state.settings)?;
    let hash = Fingerprint::of(&report, original)?;
    if let Some(answer) = repeated(state, &report.run_id, &hash).await? {
        return Ok((false, finished(state, answer, report).await?));
    }
    let rejection = crate::state::unused_reason(&state.base_policy, &report);
    let dimensions = state.base_policy.variant(&report);
    let new = NewRun {
        report: &report,
        json: &text,
        body_sha256: &hash.canonical,
        token_id: &caller.token_id,
        dimensions: &dimensions,
        received_at,
        state: RunState::on_arrival(rejection.as_deref()),
        state_reason: rejection.as_deref(),
    };
    if !state.store.insert_run(&new).await? {
        // Lost a race with the same run id.
        let answer = repeated(state, &report.run_id, &hash).await?;
        let answer = answer.ok_or_else(|| IngestError::Conflict("run id raced".into()))?;
        return Ok((false, finished(state, answer, report).await?));
    }
    let run_id = report.run_id.clone();
    if let Some(reason) = rejection {
        let a = Accepted {
            run_id,
            state: RunState::Rejected,
            state_reason: Some(reason),
            duplicate: false,
            changed: vec![],
        };
        return Ok((true, a));
    }
    let changed = state.add_run(report).await?;
    Ok((true, Accepted { run_id, state: RunState::Evaluated, state_reason: None, duplicate: false, changed }))
}

/// Refuses a report larger than the server keeps: more files (scripts,
/// WASI tests, fuzz campaigns) or directive outcomes than its limits, each
/// named with the flag that raises it.
fn within_bounds(report: &RunReport, settings: &Settings) -> Result<(), IngestError> {
    let files = report.spec.len() + report.wasi.len() + report.fuzz.len();
    if files > settings.max_report_files {
        return Err(IngestError::Invalid {
            message: format!(
                "the report has {files} script files, WASI tests and fuzz campaigns; this server takes at most {} \
                 (split the run into several reports, or raise --max-report-files on the server)",
                settings.max_report_files
            ),
            field: Some("spec".into()),
        });
    }
    let directives: usize = report.spec.iter().map(|f| f.directives.len()).sum();
    if directives > settings.max_report_directives {
        return Err(IngestError::Invalid {
            message: format!(
                "the report has {directives} directive outcomes; this server takes at most {} \
                 (split the run into several reports, or raise --max-report-directives on the server)",
                settings.max_report_directives
            ),
            field: Some("spec".into()),
        });
    }
    Ok(())
}

/// Refuses a report dated where no honest run can be: finished after the
/// server's clock plus the allowed skew (it would stay its target's latest
/// run for good, and keep "within N days" requirements met forever), or
/// before the evaluation horizon (it could never count).
fn timely(report: &RunReport, received_at: Timestamp, settings: &Settings) -> Result<(), IngestError> {
    let latest = received_at + settings.max_clock_skew;
    if report.finished_at > latest {
        return Err(IngestError::Invalid {
            message: format!(
                "finished-at: {} is after the server's clock ({received_at:.0}) plus the allowed skew of {} s; \
                 fix the runner's clock, or raise --max-clock-skew-seconds on the server",
                report.finished_at,
                settings.max_clock_skew.as_secs()
            ),
            field: Some("finished-at".into()),
        });
    }
    let earliest = received_at - settings.horizon;
    if report.finished_at < earliest {
        return Err(IngestError::Invalid {
            message: format!(
                "finished-at: {} is before the server's evidence horizon ({earliest:.0}, {} days back); \
                 such a run could never count",
                report.finished_at,
                settings.horizon.as_hours() / 24
            ),
            field: Some("finished-at".into()),
        });
    }
    Ok(())
}

/// The JSON text with every `\u0000` escape made `\ufffd`: PostgreSQL text
/// cannot hold NUL, and generated wasm (export names in fuzz messages) can
/// contain it. Escaped backslashes are left alone.
fn without_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("\\u0000") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let escape = &rest[i..];
        if let Some(after) = escape.strip_prefix("\\u0000") {
            out.push_str("\\ufffd");
            rest = after;
        } else {
            // Any other escape, `\\` included, is copied whole.
            let len = escape[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&escape[..len]);
            rest = &escape[len..];
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// What makes two uploads of one run id the same upload: the report's
/// canonical JSON (the parsed report written back: keys in one order, no
/// insignificant whitespace), so a retry that re-serialises the report is
/// still the same run. Runs stored before canonical fingerprints carry the
/// hash of their raw body, also compared.
struct Fingerprint {
    /// `canonical:` and the SHA-256 of the canonical JSON: what is stored.
    canonical: String,
    /// The SHA-256 of the body as sent.
    raw: String,
}

impl Fingerprint {
    fn of(report: &RunReport, body: &str) -> Result<Fingerprint, IngestError> {
        let canonical = serde_json::to_vec(report).map_err(|e| IngestError::Invalid {
            field: None,
            message: format!("the report cannot be written back as JSON: {e}"),
        })?;
        Ok(Fingerprint {
            canonical: format!("canonical:{}", auth::sha256_hex(&canonical)),
            raw: auth::sha256_hex(body.as_bytes()),
        })
    }

    fn matches(&self, stored: &str) -> bool {
        stored == self.canonical || stored == self.raw
    }
}

/// The answer to a repeated upload, once its run is evaluated: a run the
/// first upload stored but could not evaluate (its request failed after
/// the insert, e.g. answered 503 while the database was busy) is
/// evaluated now, so a runner's retry finishes it instead of leaving it
/// `received`. Evaluating a run twice is a no-op ([`AppState::add_run`]).
async fn finished(state: &AppState, mut answer: Accepted, report: RunReport) -> Result<Accepted, IngestError> {
    if answer.state == RunState::Received {
        answer.changed = state.add_run(report).await?;
        answer.state = RunState::Evaluated;
    }
    Ok(answer)
}

/// The stored answer for a repeated upload, or a conflict.
async fn repeated(state: &AppState, run_id: &str, hash: &Fingerprint) -> Result<Option<Accepted>, IngestError> {
    match state.store.run_hash(run_id).await? {
        None => Ok(None),
        Some(h) if hash.matches(&h) => {
            let row = state.store.run(run_id).await?.ok_or_else(|| {
                IngestError::Conflict(format!(
                    "run `{run_id}` was removed while this upload was checked; send it again"
                ))
            })?;
            Ok(Some(Accepted {
                run_id: run_id.into(),
                state: row.state,
                state_reason: row.state_reason,
                duplicate: true,
                changed: vec![],
            }))
        }
        Some(_) => Err(IngestError::Conflict(format!(
            "run `{run_id}` was already uploaded with different content; a new run needs a new run id"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::without_nul;

    #[test]
    fn nul_escapes_become_replacement_characters_and_nothing_else_changes() {
        assert_eq!(without_nul(r#"{"a": "x\u0000y"}"#), r#"{"a": "x\ufffdy"}"#);
        assert_eq!(without_nul(r#"{"a": "\\u0000"}"#), r#"{"a": "\\u0000"}"#, "an escaped backslash is text");
        assert_eq!(without_nul(r#"{"a": "\\\u0000"}"#), r#"{"a": "\\\ufffd"}"#);
        assert!(matches!(without_nul("{}"), std::borrow::Cow::Borrowed(_)));
    }
}
