//! The octocrab client for one repository: each call GitHub's answer or a
//! classified [`SyncError`].

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use octocrab::Octocrab;
use octocrab::models::IssueState;
use octocrab::models::issues::IssueStateReason;
use octocrab::params;

use super::{Config, LABEL, SyncError};

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
