//! Promotion requests: their states, what the policy asks of them, and the
//! live checklist. Pure functions over stored rows and the evaluation; the
//! routes do the storing.
//!
//! ```text
//!   open ──(enough approvals, RFC if required)──▶ approved ──(apply, tier earned)──▶ applied
//!    │ └──(a rejection by another maintainer)──▶ rejected
//!    └──────────────(requester withdraws; also from approved)──▶ withdrawn
//! ```

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use matrix::policy::PromotionRule;
use matrix::{FeatureResult, Policy, Tier};
use serde::Serialize;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Filed; votes are taken.
    Open,
    /// Enough approvals; waiting to be applied.
    Approved,
    /// Another maintainer rejected it.
    Rejected,
    /// The requester took it back.
    Withdrawn,
    /// The declared tier was changed.
    Applied,
}

impl State {
    /// Every state, in lifecycle order.
    pub const ALL: [State; 5] = [State::Open, State::Approved, State::Rejected, State::Withdrawn, State::Applied];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Approved => "approved",
            State::Rejected => "rejected",
            State::Withdrawn => "withdrawn",
            State::Applied => "applied",
        }
    }

    /// Whether nothing can happen to the request any more.
    pub fn is_final(self) -> bool {
        matches!(self, State::Rejected | State::Withdrawn | State::Applied)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for State {
    type Err = String;
    fn from_str(s: &str) -> Result<State, String> {
        State::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| format!("unknown state `{s}`; states: {}", State::ALL.map(State::as_str).join(", ")))
    }
}

/// A maintainer's vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Vote {
    /// For.
    Approve,
    /// Against.
    Reject,
}

impl Vote {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Approve => "approve",
            Vote::Reject => "reject",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Vote> {
        match s {
            "approve" => Some(Vote::Approve),
            "reject" => Some(Vote::Reject),
            _ => None,
        }
    }
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Promotion {
    pub id: i64,
    pub feature: String,
    pub from_tier: Tier,
    pub to_tier: Tier,
    pub rationale: String,
    pub rfc_url: Option<String>,
    pub state: State,
    pub filed_by: String,
    pub filed_at: Timestamp,
    pub decided_by: Option<String>,
    pub decided_at: Option<Timestamp>,
    pub github_issue: Option<i64>,
    pub github_url: Option<String>,
}

/// A stored vote.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VoteRow {
    pub maintainer: String,
    pub vote: Vote,
    pub comment: Option<String>,
    /// `api`, `web` or `github`.
    pub source: String,
    pub at: Timestamp,
}

/// What a new request asks for, as the requester sent it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Filing {
    /// The feature's policy id.
    pub feature: String,
    /// The tier asked for.
    pub to_tier: u8,
    /// Why.
    pub rationale: String,
    /// The RFC that agreed to it, where the policy asks for one.
    #[serde(default)]
    pub rfc_url: Option<String>,
}

/// Longest rationale accepted, in bytes.
pub const MAX_RATIONALE: usize = 20_000;

/// Checks a filing against the policy and the feature's current declared
/// tier, returning `(field, message)` for the first problem.
pub fn check_filing(policy: &Policy, declared: Option<Tier>, f: &Filing) -> Result<PromotionRule, (String, String)> {
    let err = |field: &str, m: String| Err((field.to_owned(), m));
    let Some(promotions) = &policy.promotions else {
        return err("feature", "the policy has no `promotions:` section, so declared tiers cannot change here; add one (see docs/policy.md)".into());
    };
    let Some(declared) = declared else {
        return err("feature", format!("no feature `{}` in the policy; GET /api/v1/features lists them", f.feature));
    };
    let ntiers = policy.tiers.len() as u8;
    if !(1..=ntiers).contains(&f.to_tier) {
        return err("to-tier", format!("tier {} is not defined (tiers are 1 to {ntiers})", f.to_tier));
    }
    let to = Tier(f.to_tier);
    if to >= declared {
        return err(
            "to-tier",
            format!(
                "`{}` is declared at {declared}; a promotion asks for a better tier (a smaller number than {})",
                f.feature, declared.0
            ),
        );
    }
    let rationale = f.rationale.trim();
    if let Some(message) = control_character(&f.rationale) {
        return err("rationale", message);
    }
    if let Some(message) = f.rfc_url.as_deref().and_then(control_character) {
        return err("rfc-url", message);
    }
    if rationale.is_empty() {
        return err("rationale", "say why the feature belongs in the new tier".into());
    }
    if f.rationale.len() > MAX_RATIONALE {
        return err("rationale", format!("the rationale is over {MAX_RATIONALE} bytes; link a document instead"));
    }
    let rule = promotions.rule(to).cloned().ok_or_else(|| ("to-tier".to_owned(), format!("no rule for {to}")))?;
    match f.rfc_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 => {
            err("rfc-url", format!("`{url}` is not an http(s) link"))
        }
        None if rule.rfc => err("rfc-url", format!("promotions into {to} need the link to the RFC that agreed to it")),
        _ => Ok(rule),
    }
}

/// What is wrong with a free text that holds a NUL or another control
/// character than a line break or a tab (PostgreSQL text cannot hold NUL;
/// the others are terminal escapes, not prose), if it does.
pub fn control_character(text: &str) -> Option<String> {
    let c = text.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))?;
    Some(format!("holds the control character {}; send plain text", c.escape_unicode()))
}

/// How the votes on a request stand against its rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Tally {
    /// Approvals the rule asks for.
    pub needed: u32,
    /// Maintainers (other than the requester) who approve.
    pub approvals: Vec<String>,
    /// Maintainers (other than the requester) who reject.
    pub rejections: Vec<String>,
    /// Whether the rule asks for an RFC link.
    pub rfc_required: bool,
    /// Whether the request has one.
    pub rfc_linked: bool,
}

impl Tally {
    /// Counts votes; the requester's own are never counted.
    pub fn new(rule: &PromotionRule, p: &Promotion, votes: &[VoteRow]) -> Tally {
        let by = |v: Vote| -> Vec<String> {
            votes.iter().filter(|x| x.vote == v && x.maintainer != p.filed_by).map(|x| x.maintainer.clone()).collect()
        };
        Tally {
            needed: rule.approvals,
            approvals: by(Vote::Approve),
            rejections: by(Vote::Reject),
            rfc_required: rule.rfc,
            rfc_linked: p.rfc_url.is_some(),
        }
    }

    /// The state the votes call for, from `open`.
    pub fn outcome(&self) -> State {
        if !self.rejections.is_empty() {
            State::Rejected
        } else if self.approvals.len() as u32 >= self.needed && (self.rfc_linked || !self.rfc_required) {
            State::Approved
        } else {
            State::Open
        }
    }
}

/// What a GitHub outbox operation does to a request's issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxOp {
    /// Open the issue (its body is rendered when sent).
    Open,
    /// Comment with the operation's body.
    Comment,
    /// Close the issue, as `completed` or `not_planned` (the body).
    Close,
}

impl OutboxOp {
    /// Every operation.
    pub const ALL: [OutboxOp; 3] = [OutboxOp::Open, OutboxOp::Comment, OutboxOp::Close];

    /// The operation as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxOp::Open => "open",
            OutboxOp::Comment => "comment",
            OutboxOp::Close => "close",
        }
    }

    /// A stored operation back; `None` for a name no version wrote.
    pub fn parse(stored: &str) -> Option<OutboxOp> {
        OutboxOp::ALL.into_iter().find(|o| o.as_str() == stored)
    }
}

impl fmt::Display for OutboxOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a vote says on the request's GitHub issue, and, when the votes
/// move the request, what follows: `(op, body)` outbox operations.
pub fn announcements(
    p: &Promotion,
    who: &str,
    vote: Vote,
    comment: Option<&str>,
    tally: &Tally,
) -> Vec<(OutboxOp, String)> {
    let said = comment.map(|c| format!(": {c}")).unwrap_or_default();
    let mut out = vec![(
        OutboxOp::Comment,
        match vote {
            Vote::Approve => format!("Approval by {who} ({} of {} needed){said}", tally.approvals.len(), tally.needed),
            Vote::Reject => format!("Rejected by {who}{said}"),
        },
    )];
    match tally.outcome() {
        State::Approved => out.push((
            OutboxOp::Comment,
            format!(
                "Approved by {} ({} of {} approvals{}). A maintainer applies it once `{}` earns {}.",
                tally.approvals.join(", "),
                tally.approvals.len(),
                tally.needed,
                if tally.rfc_required { ", RFC linked" } else { "" },
                p.feature,
                p.to_tier
            ),
        )),
        State::Rejected => {
            out.push((OutboxOp::Comment, format!("Request {} is rejected.", p.id)));
            out.push((OutboxOp::Close, "not_planned".to_owned()));
        }
        _ => {}
    }
    out
}

/// One line of a request's checklist: a requirement of the target tier or
/// below, with its verdict and evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CheckItem {
    pub requirement: String,
    pub title: String,
    pub tier: Tier,
    pub advisory: bool,
    pub met: bool,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<String>,
}

/// The checklist for moving `r`'s feature into `to`: every applicable
/// checked requirement of tier `to` and the tiers below it.
pub fn checklist(policy: &Policy, r: &FeatureResult, to: Tier) -> Vec<CheckItem> {
    let mut items: Vec<CheckItem> = r
        .outcomes
        .iter()
        .filter(|o| o.tier >= to)
        .map(|o| CheckItem {
            requirement: o.requirement.clone(),
            title: o.title(policy),
            tier: o.tier,
            advisory: o.advisory,
            met: o.met,
            detail: o.detail.clone(),
            items: o.items.clone(),
            runs: o.runs.clone(),
        })
        .collect();
    items.sort_by_key(|i| i.tier);
    items
}

/// Whether the feature earns `to`: every non-advisory line of its checklist
/// holds, cross-feature checks included.
pub fn earns(r: &FeatureResult, to: Tier) -> bool {
    r.earned.is_some_and(|e| e <= to)
}

/// The checklist as Markdown task items, for the GitHub issue.
pub fn checklist_markdown(items: &[CheckItem]) -> String {
    let mut out = String::new();
    for i in items {
        let mark = if i.met { "x" } else { " " };
        let advisory = if i.advisory { " _(advisory)_" } else { "" };
        out.push_str(&format!("- [{mark}] **{}** (Tier {}){advisory}: {}\n", i.title, i.tier.0, one_line(&i.detail)));
        if !i.met && !i.items.is_empty() {
            let shown: Vec<String> = i.items.iter().take(10).map(|s| format!("`{}`", s.replace('`', "'"))).collect();
            let more = i.items.len().saturating_sub(10);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            out.push_str(&format!("  - {}{more}\n", shown.join(", ")));
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A flag on a feature's standing, for the dashboard and the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Flag {
    /// Earned above declared for longer than the policy's `overdue-after`.
    #[serde(rename_all = "kebab-case")]
    PromotionOverdue {
        /// Since when the feature has earned more than it declares.
        since: Timestamp,
        /// The policy window it outlasted, as written.
        window: String,
        /// The tier it earns.
        earned: Tier,
    },
    /// Earned below declared: the declared tier is at risk.
    #[serde(rename_all = "kebab-case")]
    AtRisk {
        /// Since when the feature has earned less than it declares.
        since: Timestamp,
        /// The failing requirements at or below the declared tier.
        failing: Vec<matrix::evaluate::Missing>,
    },
}

impl Flag {
    /// The wire name of the flag's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Flag::PromotionOverdue { .. } => "promotion-overdue",
            Flag::AtRisk { .. } => "at-risk",
        }
    }

    /// A sentence for people.
    pub fn title(&self) -> String {
        match self {
            Flag::PromotionOverdue { since, window, earned } => format!(
                "earns {earned} and has earned more than it declares since {} (longer than {window})",
                since.strftime("%Y-%m-%d")
            ),
            Flag::AtRisk { since, failing } => {
                let f: Vec<&str> = failing.iter().map(|m| m.text.as_str()).collect();
                format!("earns less than it declares since {}; failing: {}", since.strftime("%Y-%m-%d"), f.join(", "))
            }
        }
    }

    /// The flag's name as shown.
    pub fn label(&self) -> &'static str {
        match self {
            Flag::PromotionOverdue { .. } => "promotion overdue",
            Flag::AtRisk { .. } => "at risk",
        }
    }
}

/// The flags on one feature's standing. `since` is when its current standing
/// (above, at or below its declared tier) began.
pub fn flags(policy: &Policy, r: &FeatureResult, since: Timestamp, now: Timestamp) -> Vec<Flag> {
    match r.status {
        matrix::Status::Promotable => {
            let Some(p) = &policy.promotions else { return Vec::new() };
            match r.earned {
                Some(earned) if now.duration_since(since) > p.overdue_after.duration => {
                    vec![Flag::PromotionOverdue { since, window: p.overdue_after.text.clone(), earned }]
                }
                _ => Vec::new(),
            }
        }
        matrix::Status::Violating | matrix::Status::Stale => {
            vec![Flag::AtRisk { since, failing: r.failing_declared.clone() }]
        }
        matrix::Status::Conforming | matrix::Status::NoTestData => Vec::new(),
    }
}

/// A command read from an issue comment: the comment starts with
/// `/approve` or `/reject`; whatever follows it is the vote's comment.
pub fn parse_command(body: &str) -> Option<(Vote, Option<String>)> {
    let text = body.trim_start();
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let vote = match &text[..end] {
        "/approve" => Vote::Approve,
        "/reject" => Vote::Reject,
        _ => return None,
    };
    let rest = text[end..].trim();
    Some((vote, (!rest.is_empty()).then(|| rest.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(approvals: u32, rfc: bool) -> PromotionRule {
        PromotionRule { into: Tier(2), approvals, rfc }
    }

    fn request(rfc: Option<&str>) -> Promotion {
        Promotion {
            id: 1,
            feature: "simd".into(),
            from_tier: Tier(3),
            to_tier: Tier(2),
            rationale: "r".into(),
            rfc_url: rfc.map(str::to_owned),
            state: State::Open,
            filed_by: "alice".into(),
            filed_at: Timestamp::UNIX_EPOCH,
            decided_by: None,
            decided_at: None,
            github_issue: None,
            github_url: None,
        }
    }

    fn vote(who: &str, v: Vote) -> VoteRow {
        VoteRow { maintainer: who.into(), vote: v, comment: None, source: "api".into(), at: Timestamp::UNIX_EPOCH }
    }

    #[test]
    fn the_requesters_own_approval_never_counts() {
        let p = request(None);
        let t = Tally::new(&rule(2, false), &p, &[vote("alice", Vote::Approve), vote("bob", Vote::Approve)]);
        assert_eq!(t.approvals, vec!["bob".to_owned()]);
        assert_eq!(t.outcome(), State::Open);
        let t = Tally::new(
            &rule(2, false),
            &p,
            &[vote("alice", Vote::Approve), vote("bob", Vote::Approve), vote("carol", Vote::Approve)],
        );
        assert_eq!(t.outcome(), State::Approved);
    }

    #[test]
    fn an_rfc_rule_waits_for_the_link_and_a_rejection_wins() {
        let votes = [vote("bob", Vote::Approve)];
        assert_eq!(Tally::new(&rule(1, true), &request(None), &votes).outcome(), State::Open);
        assert_eq!(Tally::new(&rule(1, true), &request(Some("https://rfc")), &votes).outcome(), State::Approved);
        let votes = [vote("bob", Vote::Approve), vote("carol", Vote::Reject)];
        assert_eq!(Tally::new(&rule(1, false), &request(None), &votes).outcome(), State::Rejected);
    }

    #[test]
    fn the_deciding_vote_announces_the_outcome() {
        let p = request(Some("https://rfc"));
        let votes = [vote("bob", Vote::Approve)];
        let t = Tally::new(&rule(2, false), &p, &votes);
        let said = announcements(&p, "bob", Vote::Approve, Some("ok"), &t);
        assert_eq!(said, [(OutboxOp::Comment, "Approval by bob (1 of 2 needed): ok".to_owned())]);
        let votes = [vote("bob", Vote::Approve), vote("carol", Vote::Approve)];
        let t = Tally::new(&rule(2, true), &p, &votes);
        let said = announcements(&p, "carol", Vote::Approve, None, &t);
        assert_eq!(
            said[1].1,
            "Approved by bob, carol (2 of 2 approvals, RFC linked). A maintainer applies it once `simd` earns Tier 2."
        );
        let votes = [vote("dave", Vote::Reject)];
        let t = Tally::new(&rule(2, false), &p, &votes);
        let ops: Vec<&str> =
            announcements(&p, "dave", Vote::Reject, None, &t).iter().map(|(op, _)| op.as_str()).collect();
        assert_eq!(ops, ["comment", "comment", "close"]);
    }

    #[test]
    fn comment_commands_open_the_comment() {
        assert_eq!(parse_command("/approve"), Some((Vote::Approve, None)));
        assert_eq!(
            parse_command("  /reject  not fuzzed yet\nsee the dashboard"),
            Some((Vote::Reject, Some("not fuzzed yet\nsee the dashboard".into())))
        );
        assert_eq!(parse_command("/approve\nChecked."), Some((Vote::Approve, Some("Checked.".into()))));
        assert_eq!(parse_command("I think we should /approve"), None);
        assert_eq!(parse_command("/approved"), None);
        assert_eq!(parse_command("hello\n/approve"), None);
        assert_eq!(parse_command(""), None);
    }

    #[test]
    fn states_round_trip_and_unknown_ones_are_named() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        assert!(
            "merged"
                .parse::<State>()
                .expect_err("not a state")
                .contains("open, approved, rejected, withdrawn, applied")
        );
    }
}
