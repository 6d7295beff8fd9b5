//! The promotion workflow: filing, votes, withdrawal and applying, shared by
//! the JSON API, the HTML forms and comments read back from GitHub. Every
//! action is checked against the policy, stored, written to the audit log
//! and, when GitHub sync is on, queued for the request's issue.

use jiff::Timestamp;
use matrix::Tier;
use serde::Serialize;
use serde_json::json;

use crate::promotions::rules::{
    self as promotion, CheckItem, Filing, OutboxOp, Promotion, State, Tally, Vote, VoteRow,
};
use crate::state::AppState;
use crate::store::{AuditRow, StateChange, Writes};

/// Why a promotion action was not taken, by what the caller can do.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The input is wrong (`field` names where, when known).
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    /// This person may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request is not in a state that allows it, or changed meanwhile.
    #[error("{0}")]
    Conflict(String),
    /// No such request.
    #[error("{0}")]
    NotFound(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Where an action came from, for the vote record and the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The JSON API with a bearer token.
    Api,
    /// An HTML form in a browser session.
    Web,
    /// A comment on the request's GitHub issue.
    Github,
}

impl Source {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Web => "web",
            Source::Github => "github",
        }
    }
}

/// A request with everything a reader needs: how it stands, votes and
/// audit trail.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PromotionView {
    #[serde(flatten)]
    pub promotion: Promotion,
    #[serde(flatten)]
    pub standing: Standing,
    pub votes: Vec<VoteRow>,
    pub audit: Vec<AuditRow>,
    /// The last GitHub sync error for this request, while one is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_error: Option<String>,
}

fn not_found(id: &str) -> WorkflowError {
    WorkflowError::NotFound(format!("no promotion request `{id}`; GET /api/v1/promotions lists them"))
}

/// Parses a request id from a path.
pub fn parse_id(id: &str) -> Result<i64, WorkflowError> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| not_found(id))
}

async fn load(state: &AppState, id: i64) -> Result<Promotion, WorkflowError> {
    state.store.promotion(id).await?.ok_or_else(|| not_found(&id.to_string()))
}

/// The rule the policy in force gives a request's target tier.
fn rule_for(policy: &matrix::Policy, p: &Promotion) -> Result<matrix::policy::PromotionRule, WorkflowError> {
    policy.promotions.as_ref().and_then(|x| x.rule(p.to_tier)).cloned().ok_or_else(|| {
        WorkflowError::Conflict(format!(
            "the policy no longer has a promotion rule for {}; restore its `promotions:` section",
            p.to_tier
        ))
    })
}

/// How a request stands now: its votes against the policy's rule, and its
/// feature against the target tier.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Standing {
    /// How the votes stand against the policy's rule.
    pub tally: Tally,
    /// Whether the feature earns the target tier now (needed to apply).
    pub earns_target: bool,
    /// The feature's tier as evaluated now.
    pub earned: Option<Tier>,
    /// Requirements of the target tier and below, with evidence, as of the
    /// latest evaluation.
    pub checklist: Vec<CheckItem>,
}

/// How `p` stands with these votes, against the policy and evaluation in
/// force.
pub async fn standing(state: &AppState, p: &Promotion, votes: &[VoteRow]) -> Standing {
    let (policy, eval) = state.snapshot();
    // A rule the policy dropped since filing shows as asking for nothing.
    let rule =
        rule_for(&policy, p).unwrap_or(matrix::policy::PromotionRule { into: p.to_tier, approvals: 0, rfc: false });
    let result = eval.feature(&p.feature);
    Standing {
        tally: Tally::new(&rule, p, votes),
        earns_target: result.is_some_and(|r| promotion::earns(r, p.to_tier)),
        earned: result.and_then(|r| r.earned),
        checklist: result.map(|r| promotion::checklist(&policy, r, p.to_tier)).unwrap_or_default(),
    }
}

/// A request as served.
pub async fn view(state: &AppState, id: i64) -> Result<PromotionView, WorkflowError> {
    let p = load(state, id).await?;
    let votes = state.store.votes(id).await?;
    Ok(PromotionView {
        standing: standing(state, &p, &votes).await,
        votes,
        // The request's page is public: entries as the public sees them.
        audit: state.store.audit_log(Some(id), true, 1000).await?.into_iter().map(AuditRow::public).collect(),
        github_error: state.store.github_error(id).await?,
        promotion: p,
    })
}

/// The writes an action starts with: nothing, and GitHub operations only
/// when sync is on.
struct Pending {
    writes: Writes,
    github: bool,
}

impl Pending {
    fn new(state: &AppState) -> Self {
        Pending { writes: Writes::default(), github: state.settings.github_sync }
    }

    fn audit(&mut self, actor: &str, action: &str, detail: serde_json::Value) {
        self.writes.audit(actor, action, detail);
    }

    fn github(&mut self, op: OutboxOp, body: impl Into<String>) {
        if self.github {
            self.writes.github(op, body);
        }
    }
}

fn moved(id: i64) -> WorkflowError {
    WorkflowError::Conflict(format!("request {id} changed meanwhile; reload it"))
}

/// Files a request.
pub async fn file(state: &AppState, who: &str, filing: Filing, source: Source) -> Result<Promotion, WorkflowError> {
    let _guard = state.promotion_guard().await?;
    let policy = state.policy();
    let declared = policy.feature(&filing.feature).map(|f| f.declared);
    promotion::check_filing(&policy, declared, &filing)
        .map_err(|(field, message)| WorkflowError::Invalid { field: Some(field), message })?;
    let pending: Vec<Promotion> = state
        .store
        .promotions(Some(&filing.feature), None, 1000)
        .await?
        .into_iter()
        .filter(|p| !p.state.is_final())
        .collect();
    if let Some(p) = pending.first() {
        return Err(WorkflowError::Conflict(format!(
            "`{}` already has promotion request {} ({}); withdraw it or see it through first",
            filing.feature, p.id, p.state
        )));
    }
    let mut p = Promotion {
        id: 0,
        feature: filing.feature.clone(),
        from_tier: declared.unwrap_or(Tier(u8::MAX)),
        to_tier: Tier(filing.to_tier),
        rationale: filing.rationale.trim().to_owned(),
        rfc_url: filing.rfc_url.as_deref().map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned),
        state: State::Open,
        filed_by: who.to_owned(),
        filed_at: Timestamp::now(),
        decided_by: None,
        decided_at: None,
        github_issue: None,
        github_url: None,
    };
    let mut w = Pending::new(state);
    let detail = json!({ "feature": p.feature, "from": p.from_tier, "to": p.to_tier, "rfc": p.rfc_url, "source": source.as_str() });
    w.audit(who, "filed", detail);
    w.github(OutboxOp::Open, "");
    p.id = state.store.file_promotion(&p, &w.writes).await?;
    state.wake_github().await;
    tracing::info!(id = p.id, feature = %p.feature, to = %p.to_tier, by = who, "promotion request filed");
    Ok(p)
}

/// Records a maintainer's vote on an open request and moves it when the
/// votes call for it: the vote, the move, the audit entries and the GitHub
/// comments are stored together.
pub async fn vote(
    state: &AppState,
    who: &str,
    id: i64,
    vote: Vote,
    comment: Option<String>,
    source: Source,
) -> Result<Promotion, WorkflowError> {
    let _guard = state.promotion_guard().await?;
    let p = load(state, id).await?;
    if p.state != State::Open {
        return Err(WorkflowError::Conflict(format!(
            "request {id} is {}; votes are taken only while it is open",
            p.state
        )));
    }
    if p.filed_by == who {
        return Err(WorkflowError::Forbidden(match vote {
            Vote::Approve => {
                format!("nobody approves their own request: {who} filed request {id}; other maintainers approve it")
            }
            Vote::Reject => format!("{who} filed request {id}; withdraw it instead of rejecting it"),
        }));
    }
    let comment = comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if let Some(message) = comment.as_deref().and_then(promotion::control_character) {
        return Err(WorkflowError::Invalid { field: Some("comment".into()), message });
    }
    if comment.as_ref().is_some_and(|c| c.len() > promotion::MAX_RATIONALE) {
        return Err(WorkflowError::Invalid {
            field: Some("comment".into()),
            message: format!("the comment is over {} bytes", promotion::MAX_RATIONALE),
        });
    }
    let policy = state.policy();
    let rule = rule_for(&policy, &p)?;
    let now = Timestamp::now();
    let row = VoteRow {
        maintainer: who.to_owned(),
        vote,
        comment: comment.clone(),
        source: source.as_str().to_owned(),
        at: now,
    };
    let mut votes = state.store.votes(id).await?;
    votes.retain(|v| v.maintainer != who);
    votes.push(row.clone());
    let tally = Tally::new(&rule, &p, &votes);
    let mut w = Pending::new(state);
    w.audit(who, vote.as_str(), json!({ "comment": comment, "source": source.as_str() }));
    let next = tally.outcome();
    let change =
        (next != State::Open).then(|| StateChange { from: State::Open, to: next, by: who.to_owned(), at: now });
    if next != State::Open {
        w.audit("tierwatch", next.as_str(), json!({ "approvals": tally.approvals, "rejections": tally.rejections }));
    }
    for (op, body) in promotion::announcements(&p, who, vote, comment.as_deref(), &tally) {
        w.github(op, body);
    }
    if !state.store.record(id, change.as_ref(), Some(&row), &w.writes).await? {
        return Err(moved(id));
    }
    state.wake_github().await;
    load(state, id).await
}

/// The requester takes an open or approved request back.
pub async fn withdraw(state: &AppState, who: &str, id: i64, source: Source) -> Result<Promotion, WorkflowError> {
    let _guard = state.promotion_guard().await?;
    let p = load(state, id).await?;
    if p.filed_by != who {
        return Err(WorkflowError::Forbidden(format!("only {} (who filed request {id}) may withdraw it", p.filed_by)));
    }
    if p.state.is_final() {
        return Err(WorkflowError::Conflict(format!("request {id} is already {}", p.state)));
    }
    let mut w = Pending::new(state);
    w.audit(who, "withdrawn", json!({ "source": source.as_str() }));
    w.github(OutboxOp::Comment, format!("Withdrawn by {who}."));
    w.github(OutboxOp::Close, "not_planned");
    let change = StateChange { from: p.state, to: State::Withdrawn, by: who.to_owned(), at: Timestamp::now() };
    if !state.store.record(id, Some(&change), None, &w.writes).await? {
        return Err(moved(id));
    }
    state.wake_github().await;
    load(state, id).await
}

/// Applies an approved request: the feature's declared tier becomes the
/// target tier, provided the feature earns it now.
pub async fn apply(state: &AppState, who: &str, id: i64, source: Source) -> Result<Promotion, WorkflowError> {
    let _guard = state.promotion_guard().await?;
    let p = load(state, id).await?;
    if p.state != State::Approved {
        let why = match p.state {
            State::Open => "it needs its approvals first".to_owned(),
            s => format!("it is {s}"),
        };
        return Err(WorkflowError::Conflict(format!("request {id} cannot be applied: {why}")));
    }
    let mut w = Pending::new(state);
    w.audit(
        who,
        "applied",
        json!({ "feature": p.feature, "from": p.from_tier, "to": p.to_tier, "source": source.as_str() }),
    );
    w.github(
        OutboxOp::Comment,
        format!("Applied by {who}: `{}` is declared {} from now on, and TIERS.md follows.", p.feature, p.to_tier),
    );
    w.github(OutboxOp::Close, "completed");
    if let Err(why) = state.apply_promotion(&p, who, &w.writes).await? {
        return Err(WorkflowError::Conflict(format!("request {id} cannot be applied: {why}")));
    }
    tracing::info!(id, feature = %p.feature, to = %p.to_tier, by = who, "promotion applied");
    load(state, id).await
}
