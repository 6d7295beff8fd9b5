//! What a request's issue says: its title, its body (the request, the live
//! checklist, how to vote) and the markers that find it and its comments
//! again.

use crate::promotions::rules::{self as promotion, Promotion};
use crate::promotions::workflow;
use crate::state::AppState;

use super::SyncError;

/// The marker that identifies a request's issue.
pub fn marker(id: i64) -> String {
    format!("<!-- tierwatch:promotion:{id} -->")
}

/// The title.
pub fn title(p: &Promotion) -> String {
    format!("Promote `{}` from {} to {}", p.feature, p.from_tier, p.to_tier)
}

/// The body: the request, the policy's rule, the live checklist,
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

/// The marker a comment of outbox operation `seq` carries, so a retry
/// after a lost answer (or a new leader) finds it instead of repeating it.
pub fn op_marker(seq: i64) -> String {
    format!("<!-- tierwatch:op:{seq} -->")
}
