//! GitHub sync of promotion requests, with octocrab.
//!
//! Every request mirrors to one issue in the configured repository:
//! filing opens it with the live checklist, state changes comment on it and
//! close it, the body is rewritten when the checklist moves, and `/approve`
//! and `/reject` comments by maintainers (matched by the GitHub login on
//! their token) are read back as votes.
//!
//! Outgoing operations go through the `github_outbox` table, in order per
//! request, and leave it only when GitHub acknowledged them: a restart, a
//! network failure or a 5xx retries with backoff; a rate limit pauses the
//! whole sync until GitHub's reset time (read from `GET /rate_limit`). An
//! issue whose creation may have reached GitHub without an answer is looked
//! up by its marker before it is created again.

use std::collections::HashMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use octocrab::Octocrab;
use octocrab::models::IssueState;
use octocrab::models::issues::IssueStateReason;
use octocrab::params;

use crate::promotion::{self, Promotion, State};
use crate::state::AppState;
use crate::store::OutboxRow;
use crate::workflow::{self, Source};

/// Where and as whom to sync.
#[derive(Debug, Clone)]
pub struct Config {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// A token that may create and edit issues there.
    pub token: String,
    /// The API's base URL: `https://api.github.com`, or GitHub Enterprise's.
    pub api_url: String,
    /// How often issue comments are polled for votes.
    pub poll: Duration,
}

impl Config {
    /// Parses `owner/name`.
    pub fn repository(spec: &str) -> Result<(String, String), String> {
        match spec.split_once('/') {
            Some((o, r)) if !o.is_empty() && !r.is_empty() && !r.contains('/') => Ok((o.to_owned(), r.to_owned())),
            _ => Err(format!("`{spec}` is not a repository: write it as owner/name")),
        }
    }
}

/// The label every mirrored issue carries.
pub const LABEL: &str = "tier-promotion";

/// Why a GitHub call failed, by what to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncError {
    /// Rate limited: pause everything until then.
    RateLimited { until: Timestamp, message: String },
    /// Network trouble or a 5xx: try again soon.
    Transient(String),
    /// GitHub refused (bad token, no such repository, validation): retry
    /// slowly, since someone has to fix the configuration.
    Refused(String),
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::RateLimited { until, message } => write!(f, "rate limited until {until}: {message}"),
            SyncError::Transient(m) => write!(f, "{m}"),
            SyncError::Refused(m) => write!(f, "refused: {m}"),
        }
    }
}

impl From<crate::store::StoreError> for SyncError {
    /// The database failing is worth another try, like the network.
    fn from(e: crate::store::StoreError) -> SyncError {
        SyncError::Transient(format!("database: {e}"))
    }
}

/// A comment read back from an issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: i64,
    pub login: String,
    pub body: String,
}

/// The octocrab client for one repository.
#[derive(Debug, Clone)]
pub struct Client {
    crab: Octocrab,
    owner: String,
    repo: String,
}

impl Client {
    /// Builds the client; nothing is sent yet.
    pub fn new(cfg: &Config) -> anyhow::Result<Client> {
        let crab = Octocrab::builder()
            .base_uri(cfg.api_url.as_str())?
            .personal_token(cfg.token.clone())
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)))
            .set_write_timeout(Some(Duration::from_secs(30)))
            .build()?;
        Ok(Client { crab, owner: cfg.owner.clone(), repo: cfg.repo.clone() })
    }

    /// An octocrab answer, with its error classified.
    async fn answer<T>(&self, result: octocrab::Result<T>) -> Result<T, SyncError> {
        match result {
            Ok(v) => Ok(v),
            Err(e) => Err(self.classify(e).await),
        }
    }

    async fn classify(&self, e: octocrab::Error) -> SyncError {
        match e {
            octocrab::Error::GitHub { source, .. } => {
                let status = source.status_code.as_u16();
                let message = format!("{status} {}", source.message);
                let limited = (status == 403 || status == 429) && source.message.to_lowercase().contains("rate limit");
                if limited {
                    // GitHub says when the budget resets; ask, else wait a minute.
                    let until = match self.crab.ratelimit().get().await {
                        Ok(r) if r.resources.core.remaining == 0 => {
                            Timestamp::from_second(r.resources.core.reset as i64).ok()
                        }
                        _ => None,
                    }
                    .unwrap_or_else(|| Timestamp::now() + SignedDuration::from_secs(60));
                    SyncError::RateLimited { until, message }
                } else if status >= 500 {
                    SyncError::Transient(message)
                } else {
                    SyncError::Refused(message)
                }
            }
            other => SyncError::Transient(other.to_string()),
        }
    }

    /// Opens an issue; returns its number and page.
    pub async fn open(&self, title: &str, body: &str) -> Result<(i64, String), SyncError> {
        let issues = self.crab.issues(&self.owner, &self.repo);
        let i = self.answer(issues.create(title).body(body).labels(vec![LABEL.to_owned()]).send().await).await?;
        Ok((i.number as i64, i.html_url.to_string()))
    }

    /// The issue carrying `marker` in its body, among this label's issues.
    pub async fn find(&self, marker: &str) -> Result<Option<(i64, String)>, SyncError> {
        let issues = self.crab.issues(&self.owner, &self.repo);
        let labels = [LABEL.to_owned()];
        for page in 1u32..=20 {
            let result =
                issues.list().labels(&labels).state(params::State::All).per_page(100u8).page(page).send().await;
            let found = self.answer(result).await?;
            let n = found.items.len();
            if let Some(i) = found.items.into_iter().find(|i| i.body.as_deref().is_some_and(|b| b.contains(marker))) {
                return Ok(Some((i.number as i64, i.html_url.to_string())));
            }
            if n < 100 {
                break;
            }
        }
        Ok(None)
    }

    /// Comments on an issue.
    pub async fn comment(&self, number: i64, body: &str) -> Result<(), SyncError> {
        self.answer(self.crab.issues(&self.owner, &self.repo).create_comment(number as u64, body).await).await?;
        Ok(())
    }

    /// Closes an issue as completed or not planned.
    pub async fn close(&self, number: i64, completed: bool) -> Result<(), SyncError> {
        let reason = if completed { IssueStateReason::Completed } else { IssueStateReason::NotPlanned };
        let result = self
            .crab
            .issues(&self.owner, &self.repo)
            .update(number as u64)
            .state(IssueState::Closed)
            .state_reason(reason)
            .send()
            .await;
        self.answer(result).await?;
        Ok(())
    }

    /// Rewrites an issue's body.
    pub async fn set_body(&self, number: i64, body: &str) -> Result<(), SyncError> {
        self.answer(self.crab.issues(&self.owner, &self.repo).update(number as u64).body(body).send().await).await?;
        Ok(())
    }

    /// An issue's comments with an id above `after`, oldest first.
    pub async fn comments_after(&self, number: i64, after: i64) -> Result<Vec<Comment>, SyncError> {
        let issues = self.crab.issues(&self.owner, &self.repo);
        let mut out = Vec::new();
        for page in 1u32..=50 {
            let found = self.answer(issues.list_comments(number as u64).per_page(100).page(page).send().await).await?;
            let n = found.items.len();
            out.extend(found.items.into_iter().filter(|c| c.id.0 as i64 > after).map(|c| Comment {
                id: c.id.0 as i64,
                login: c.user.login,
                body: c.body.unwrap_or_default(),
            }));
            if n < 100 {
                break;
            }
        }
        out.sort_by_key(|c| c.id);
        Ok(out)
    }
}

/// The marker that identifies a request's issue.
pub fn marker(id: i64) -> String {
    format!("<!-- tierwatch:promotion:{id} -->")
}

/// The issue's title.
pub fn title(p: &Promotion) -> String {
    format!("Promote `{}` from {} to {}", p.feature, p.from_tier, p.to_tier)
}

/// The issue's body: the request, the policy's rule, the live checklist,
/// and how to vote.
pub async fn body(state: &AppState, p: &Promotion) -> Result<String, SyncError> {
    let votes = state.store.votes(p.id).await?;
    let standing = workflow::standing(state, p, &votes).await;
    let t = &standing.tally;
    let link = state
        .settings
        .public_url
        .as_deref()
        .map(|u| format!("\n[Request {} on tierwatch]({}/promotions/{})\n", p.id, u.trim_end_matches('/'), p.id))
        .unwrap_or_default();
    let rfc = match (&p.rfc_url, t.rfc_required) {
        (Some(u), _) => format!("**RFC:** {u}\n\n"),
        (None, true) => "**RFC:** required, not linked yet\n\n".to_owned(),
        (None, false) => String::new(),
    };
    let earns = if standing.earns_target {
        format!("`{}` earns {} now.", p.feature, p.to_tier)
    } else {
        format!("`{}` does not earn {} yet.", p.feature, p.to_tier)
    };
    Ok(format!(
        "{marker}\n**Feature:** `{feature}` · **from** {from} **to** {to} · filed by {by}\n\n\
         > {rationale}\n\n{rfc}\
         **State:** {state} · **approvals:** {n} of {needed} (maintainers other than {by})\n\n\
         ### Checklist for {to}\n{earns} Updated as runs arrive.\n\n{checklist}\n\
         Maintainers vote with a comment that starts with `/approve` or `/reject <reason>`.\n{link}",
        marker = marker(p.id),
        feature = p.feature,
        from = p.from_tier,
        to = p.to_tier,
        by = p.filed_by,
        rationale = p.rationale.replace('\n', "\n> "),
        state = p.state,
        n = t.approvals.len(),
        needed = t.needed,
        checklist = promotion::checklist_markdown(&standing.checklist),
    ))
}

/// The sync loop. Wakes on `state.github_wake` and every `poll`.
pub async fn run(state: AppState, client: Client, poll: Duration) {
    let mut sync = Sync::new(state, client).with_poll(poll);
    loop {
        let wait = sync.pass().await;
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
        }
    }

    /// Reads comments back at most this often; passes in between (woken by
    /// new work) only send and refresh.
    pub fn with_poll(mut self, poll: Duration) -> Sync {
        self.poll = poll;
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
        let retry = row.attempts > 0;
        let n = self.ensure_issue(&p, retry && row.op == "open").await?;
        match row.op.as_str() {
            "open" => Ok(()),
            "comment" => {
                // Each comment carries its operation's marker, so a retry
                // after a lost answer does not post it twice.
                let op_marker = format!("<!-- tierwatch:op:{} -->", row.seq);
                if retry && self.client.comments_after(n, 0).await?.iter().any(|c| c.body.contains(&op_marker)) {
                    return Ok(());
                }
                self.client.comment(n, &format!("{}\n\n{op_marker}", row.body)).await
            }
            "close" => {
                // The body shows the final state before the issue closes.
                let body = body(&self.state, &p).await?;
                self.client.set_body(n, &body).await?;
                self.bodies.insert(n, digest(&body));
                self.client.close(n, row.body == "completed").await
            }
            op => {
                tracing::error!(op, "unknown GitHub outbox operation; dropped");
                Ok(())
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
                            Err(crate::error::ApiError::Internal(e)) => return Err(e.into()),
                            Err(e) => Some(format!("@{}: `/{}` was not counted: {e}", c.login, vote.as_str())),
                        }
                    }
                };
                if let Some(text) = reply {
                    store.enqueue_github(p.id, "comment", &text).await?;
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

    #[test]
    fn repositories_are_owner_slash_name() {
        assert_eq!(Config::repository("a/b"), Ok(("a".into(), "b".into())));
        assert!(Config::repository("a").is_err());
        assert!(Config::repository("a/b/c").is_err());
        assert!(Config::repository("/b").is_err());
    }
}
