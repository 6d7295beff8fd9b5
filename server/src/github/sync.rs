//! The outbox worker: sends queued operations in order per request, with
//! backoff, a pause on rate limits, and markers looked for before anything
//! that may already have reached GitHub is sent again; rewrites bodies
//! whose checklist moved; reads `/approve` and `/reject` comments back.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::promotions::rules::{self as promotion, OutboxOp, Promotion, State};
use crate::promotions::workflow::{self, Source};
use crate::state::AppState;
use crate::store::OutboxRow;

use super::{Client, SyncError, body, marker, op_marker, title};

/// The sync loop of a server that has just become the leader (see
/// `cluster::lead`). Wakes on `state.github_wake` and every `poll`.
pub async fn run(state: AppState, client: Client, poll: Duration) {
    let mut sync = Sync::new(state, client).with_poll(poll).taking_over();
    loop {
        let wait = sync.pass().await;
        // Whatever the previous leader may have sent has been looked for.
        sync.takeover = false;
        let wait = wait.unwrap_or(poll).min(poll);
        tokio::select! {
            _ = sync.state.github_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One sync worker's memory.
#[derive(Debug)]
pub struct Sync {
    state: AppState,
    client: Client,
    /// Hash of the body last written per issue.
    bodies: HashMap<i64, String>,
    paused_until: Option<Timestamp>,
    /// The first retry delay; doubled per failed attempt.
    retry_base: SignedDuration,
    /// How often comments are read back (every pass by default).
    poll: Duration,
    last_read: Option<std::time::Instant>,
    /// Another worker (a server that died, or this one before a restart)
    /// may have sent any queued operation without hearing back: look for
    /// each one's marker on GitHub before sending it, not only for those
    /// already attempted.
    takeover: bool,
}

impl Sync {
    /// A worker for tests and for [`run`].
    pub fn new(state: AppState, client: Client) -> Sync {
        Sync {
            state,
            client,
            bodies: HashMap::new(),
            paused_until: None,
            retry_base: SignedDuration::from_secs(5),
            poll: Duration::ZERO,
            last_read: None,
            takeover: false,
        }
    }

    /// Reads comments back at most this often; passes in between (woken by
    /// new work) only send and refresh.
    pub fn with_poll(mut self, poll: Duration) -> Sync {
        self.poll = poll;
        self
    }

    /// Starts as a new leader: the first pass looks for every queued
    /// operation's marker before sending it.
    pub fn taking_over(mut self) -> Sync {
        self.takeover = true;
        self
    }

    /// Sets the first retry delay (5 s by default; refusals wait 12 times
    /// longer). Tests shorten it.
    pub fn with_retry_base(mut self, base: SignedDuration) -> Sync {
        self.retry_base = base;
        self
    }

    /// One pass: send what is due, refresh checklists, read votes. Returns
    /// how long until something is due again, when known.
    pub async fn pass(&mut self) -> Option<Duration> {
        let now = Timestamp::now();
        if let Some(until) = self.paused_until {
            if until > now {
                return Some(wait_until(until));
            }
            self.paused_until = None;
        }
        // A request whose operation failed (or is not due yet) sits out the
        // rest of this pass with its later operations, however long the pass
        // takes: a pass never retries what it failed.
        let mut held = Vec::new();
        let mut next = match self.send(&mut held).await {
            Ok(next) => next,
            Err(e) => return Some(self.failed(e)),
        };
        if let Err(e) = self.refresh_and_read().await {
            return Some(self.failed(e));
        }
        // Votes read back may have queued comments: send them now.
        match self.send(&mut held).await {
            Ok(again) => {
                next = match (next, again) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            Err(e) => return Some(self.failed(e)),
        }
        next
    }

    fn failed(&mut self, e: SyncError) -> Duration {
        match e {
            SyncError::RateLimited { until, message } => {
                tracing::warn!(%until, %message, "GitHub rate limit: sync paused");
                self.paused_until = Some(until);
                wait_until(until)
            }
            other => {
                tracing::warn!(error = %other, "GitHub sync failed; will retry");
                Duration::from_secs(5)
            }
        }
    }

    /// Sends due outbox rows in order; a request whose row fails or is not
    /// due yet joins `blocked` and waits with its later rows for the rest of
    /// the pass. Only a rate limit stops the whole pass.
    async fn send(&mut self, blocked: &mut Vec<i64>) -> Result<Option<Duration>, SyncError> {
        let store = self.state.store.clone();
        let pending = store.github_pending(500).await?;
        let now = Timestamp::now();
        let mut soonest: Option<Timestamp> = None;
        for row in pending {
            if blocked.contains(&row.promotion_id) {
                continue;
            }
            if row.not_before > now {
                blocked.push(row.promotion_id);
                soonest = Some(soonest.map_or(row.not_before, |s| s.min(row.not_before)));
                continue;
            }
            store.github_attempt(row.seq).await?;
            match self.send_one(&row).await {
                Ok(()) => store.github_done(row.seq).await?,
                Err(SyncError::RateLimited { until, message }) => {
                    let _ = store.github_failed(row.seq, &message, until).await;
                    return Err(SyncError::RateLimited { until, message });
                }
                Err(e) => {
                    let retry = now + backoff(self.retry_base, row.attempts, matches!(e, SyncError::Refused(_)));
                    tracing::warn!(request = row.promotion_id, op = %row.op, error = %e, "GitHub operation failed; will retry");
                    let _ = store.github_failed(row.seq, &e.to_string(), retry).await;
                    blocked.push(row.promotion_id);
                    soonest = Some(soonest.map_or(retry, |s| s.min(retry)));
                }
            }
        }
        Ok(soonest.map(wait_until))
    }

    /// The request's issue, opened now when it has none (its `open`
    /// operation comes first in the queue; requests filed before sync was
    /// configured have none). `retry` says an earlier attempt may have
    /// reached GitHub without an answer: look for the issue first.
    async fn ensure_issue(&mut self, p: &Promotion, retry: bool) -> Result<i64, SyncError> {
        if let Some(n) = p.github_issue {
            return Ok(n);
        }
        let found = if retry { self.client.find(&marker(p.id)).await? } else { None };
        let (number, url) = match found {
            Some(f) => f,
            None => {
                let body = body(&self.state, p).await?;
                let opened = self.client.open(&title(p), &body).await?;
                self.bodies.insert(opened.0, digest(&body));
                opened
            }
        };
        let store = &self.state.store;
        store.set_github_issue(p.id, number, &url).await?;
        let detail = serde_json::json!({ "issue": number, "url": url });
        store.audit("tierwatch", "github-issue-opened", Some(p.id), detail).await?;
        Ok(number)
    }

    async fn send_one(&mut self, row: &OutboxRow) -> Result<(), SyncError> {
        let store = self.state.store.clone();
        let Some(p) = store.promotion(row.promotion_id).await? else { return Ok(()) };
        let retry = row.attempts > 0 || self.takeover;
        let n = self.ensure_issue(&p, retry && row.op == OutboxOp::Open).await?;
        match row.op {
            OutboxOp::Open => Ok(()),
            OutboxOp::Comment => {
                // Each comment carries its operation's marker, so a retry
                // after a lost answer does not post it twice.
                let op_marker = op_marker(row.seq);
                if retry && self.client.comments_after(n, 0).await?.iter().any(|c| c.body.contains(&op_marker)) {
                    return Ok(());
                }
                self.client.comment(n, &format!("{}\n\n{op_marker}", row.body)).await
            }
            OutboxOp::Close => {
                // The body shows the final state before the issue closes.
                let body = body(&self.state, &p).await?;
                self.client.set_body(n, &body).await?;
                self.bodies.insert(n, digest(&body));
                self.client.close(n, row.body == "completed").await
            }
        }
    }

    /// Rewrites bodies whose checklist moved, and, at most once per poll
    /// interval, reads `/approve` and `/reject` comments on open and approved
    /// requests (on an approved one they are answered as not counted). One
    /// request's trouble (say, a deleted issue) does not hold up the others;
    /// only a rate limit stops the pass.
    async fn refresh_and_read(&mut self) -> Result<(), SyncError> {
        let store = self.state.store.clone();
        let mut live = store.promotions(None, Some(State::Open), 1000).await?;
        live.extend(store.promotions(None, Some(State::Approved), 1000).await?);
        let read = self.last_read.is_none_or(|t| t.elapsed() >= self.poll);
        if read {
            self.last_read = Some(std::time::Instant::now());
        }
        let mut first_error = None;
        for p in live {
            let Some(number) = p.github_issue else { continue };
            let result = async {
                let body = body(&self.state, &p).await?;
                let d = digest(&body);
                if self.bodies.get(&number) != Some(&d) {
                    self.client.set_body(number, &body).await?;
                    self.bodies.insert(number, d);
                }
                if read { self.read_votes(&p, number).await } else { Ok(()) }
            }
            .await;
            match result {
                Ok(()) => {}
                Err(e @ SyncError::RateLimited { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(request = p.id, issue = number, error = %e, "GitHub issue sync failed; the others go on");
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn read_votes(&mut self, p: &Promotion, number: i64) -> Result<(), SyncError> {
        let store = self.state.store.clone();
        let after = store.github_cursor(p.id).await?;
        let comments = self.client.comments_after(number, after).await?;
        for c in comments {
            if let Some((vote, comment)) = promotion::parse_command(&c.body) {
                let reply = match store.maintainer_by_github(&c.login).await? {
                    None => Some(format!(
                        "@{} is not a tierwatch maintainer here (no maintainer token carries this GitHub login), so `/{}` was not counted.",
                        c.login,
                        vote.as_str()
                    )),
                    Some(name) => {
                        let detail = serde_json::json!({ "comment-id": c.id, "login": c.login, "maintainer": name });
                        store.audit(&format!("github:{}", c.login), "github-command", Some(p.id), detail).await?;
                        match workflow::vote(&self.state, &name, p.id, vote, comment, Source::Github).await {
                            Ok(_) => None,
                            Err(workflow::WorkflowError::Store(e)) => return Err(e.into()),
                            Err(e) => Some(format!("@{}: `/{}` was not counted: {e}", c.login, vote.as_str())),
                        }
                    }
                };
                if let Some(text) = reply {
                    store.enqueue_github(p.id, OutboxOp::Comment, &text).await?;
                }
            }
            store.set_github_cursor(p.id, c.id).await?;
        }
        Ok(())
    }
}

/// How long until `t`, from now; at least 50 ms.
fn wait_until(t: Timestamp) -> Duration {
    Duration::from_millis(t.duration_since(Timestamp::now()).as_millis().max(50) as u64)
}

fn digest(body: &str) -> String {
    crate::auth::sha256_hex(body.as_bytes())
}

/// Exponential backoff from `base`, capped at 30 minutes; refusals (which
/// need someone to fix the configuration) start 12 times later.
fn backoff(base: SignedDuration, attempts: i64, refused: bool) -> SignedDuration {
    let base = base.as_millis() as i64 * if refused { 12 } else { 1 };
    let ms = base.saturating_mul(1i64 << attempts.clamp(0, 20)).min(30 * 60 * 1000);
    SignedDuration::from_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let five = SignedDuration::from_secs(5);
        assert_eq!(backoff(five, 0, false).as_secs(), 5);
        assert_eq!(backoff(five, 3, false).as_secs(), 40);
        assert_eq!(backoff(five, 40, false).as_secs(), 1800);
        assert_eq!(backoff(five, 0, true).as_secs(), 60);
    }
}
