//! Promotion requests: the JSON API (maintainer bearer tokens), the HTML
//! pages and forms (browser sessions with CSRF tokens), sign-in, and the
//! audit log.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;

use super::{limit, render};
use crate::auth::authenticate;
use crate::error::{ApiError, ApiQuery};
use crate::promotions::rules::{Filing, Promotion, State as RequestState, Vote};
use crate::promotions::workflow::{self, PromotionView, Source};
use crate::session::{self, Session};
use crate::state::AppState;
use crate::store::AuditRow;

/// The promotion routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/promotions", get(list).post(file))
        .route("/api/v1/promotions/{id}", get(one))
        .route("/api/v1/promotions/{id}/{action}", post(act))
        .route("/api/v1/audit", get(audit))
        .route("/promotions", get(page_list).post(page_file))
        .route("/promotions/{id}", get(page_one))
        .route("/promotions/{id}/{action}", post(page_act))
        .route("/login", get(page_login).post(login))
        .route("/logout", post(logout))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    feature: Option<String>,
    state: Option<String>,
    // Read as text so a bad value gets the API's JSON error, not axum's.
    limit: Option<String>,
}

fn state_filter(s: Option<&str>) -> Result<Option<RequestState>, ApiError> {
    s.map(|s| s.parse::<RequestState>().map_err(ApiError::BadRequest)).transpose()
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Promotion>>, ApiError> {
    let filter = state_filter(q.state.as_deref())?;
    Ok(Json(state.store.promotions(q.feature.as_deref(), filter, limit(q.limit.as_deref())?).await?))
}

async fn one(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<PromotionView>, ApiError> {
    Ok(Json(workflow::view(&state, workflow::parse_id(&id)?).await?))
}

/// A JSON body: `application/json`, decoded with the failing field named.
fn json_body<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !ct.starts_with("application/json") {
        return Err(ApiError::Unsupported(format!("Content-Type `{ct}`: send `application/json`")));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        ApiError::Invalid { field: (path != ".").then_some(path), message: e.inner().to_string() }
    })
}

async fn file(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let caller = authenticate(&state.store, &headers).await?;
    caller.require_maintainer("file promotion requests")?;
    let filing: Filing = json_body(&headers, &body)?;
    let p = workflow::file(&state, caller.who(), filing, Source::Api).await?;
    let view = workflow::view(&state, p.id).await?;
    let location = format!("/api/v1/promotions/{}", p.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(view)).into_response())
}

/// The optional body of a vote.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    comment: Option<String>,
}

async fn act(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PromotionView>, ApiError> {
    let caller = authenticate(&state.store, &headers).await?;
    let action = Action::parse(&action)?;
    let id = workflow::parse_id(&id)?;
    caller.require_maintainer(action.verb())?;
    let comment = if body.is_empty() { None } else { json_body::<VoteBody>(&headers, &body)?.comment };
    action.run(&state, caller.who(), id, comment, Source::Api).await?;
    Ok(Json(workflow::view(&state, id).await?))
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Approve,
    Reject,
    Withdraw,
    Apply,
}

impl Action {
    fn parse(s: &str) -> Result<Action, ApiError> {
        Ok(match s {
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "withdraw" => Action::Withdraw,
            "apply" => Action::Apply,
            _ => {
                return Err(ApiError::NotFound(format!(
                    "no action `{s}` on promotion requests; actions: approve, reject, withdraw, apply"
                )));
            }
        })
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Approve => "approve promotion requests",
            Action::Reject => "reject promotion requests",
            Action::Withdraw => "withdraw promotion requests",
            Action::Apply => "apply promotion requests",
        }
    }

    async fn run(
        self,
        state: &AppState,
        who: &str,
        id: i64,
        comment: Option<String>,
        source: Source,
    ) -> Result<Promotion, ApiError> {
        Ok(match self {
            Action::Approve => workflow::vote(state, who, id, Vote::Approve, comment, source).await?,
            Action::Reject => workflow::vote(state, who, id, Vote::Reject, comment, source).await?,
            Action::Withdraw => workflow::withdraw(state, who, id, source).await?,
            Action::Apply => workflow::apply(state, who, id, source).await?,
        })
    }
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    promotion: Option<i64>,
    // Read as text so a bad value gets the API's JSON error, not axum's.
    limit: Option<String>,
}

/// The audit log: whole for a maintainer's token; for anyone else only the
/// entries about promotion requests, their detail cut to what happened (no
/// token ids, roles or GitHub logins).
async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditRow>>, ApiError> {
    let limit = limit(q.limit.as_deref())?;
    let whole = headers.contains_key(header::AUTHORIZATION)
        && authenticate(&state.store, &headers).await?.role == crate::auth::Role::Maintainer;
    let rows = state.store.audit_log(q.promotion, !whole, limit).await?;
    Ok(Json(if whole { rows } else { rows.into_iter().map(AuditRow::public).collect() }))
}

// ---- HTML ----

/// An HTML answer to a failed form or page: the message, and where to go.
fn page_error(e: ApiError, back: &str) -> Response {
    match &e {
        ApiError::Internal(err) => tracing::error!(error = %err, "request failed"),
        ApiError::Busy(err) => tracing::warn!(error = %err, "request answered busy"),
        _ => {}
    }
    let message = match &e {
        ApiError::Invalid { field: Some(f), message } => format!("{f}: {message}"),
        other => other.to_string(),
    };
    super::message_page(e.status_code(), &message, back)
}

/// The signed-in maintainer shown in page headers.
#[derive(Debug)]
struct Who {
    name: String,
    csrf: String,
}

fn who(s: &Option<Session>) -> Option<Who> {
    s.as_ref().map(|s| Who { name: s.caller.who().to_owned(), csrf: s.csrf.clone() })
}

#[derive(Template)]
#[template(path = "promotions.html")]
struct ListPage {
    who: Option<Who>,
    requests: Vec<Promotion>,
    /// Features that may be promoted: (id, label, declared tier, earned tier).
    candidates: Vec<(String, String, u8, Option<u8>)>,
    /// Every tier, and whether it is a promotion for the selected feature
    /// (better than its declared tier); the others are offered disabled.
    tiers: Vec<(u8, bool)>,
    enabled: bool,
    selected: String,
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    feature: Option<String>,
}

async fn page_list(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<PageQuery>,
) -> Response {
    let result = async {
        let session = session::current(&state, &headers).await?;
        let requests = state.store.promotions(None, None, 200).await?;
        let (policy, eval) = state.snapshot();
        let candidates: Vec<(String, String, u8, Option<u8>)> = policy
            .features
            .iter()
            .filter(|f| f.declared.0 > 1)
            .map(|f| {
                let earned = eval.feature(&f.id).and_then(|r| r.earned).map(|t| t.0);
                (f.id.clone(), crate::views::summary::plain(&f.label), f.declared.0, earned)
            })
            .collect();
        // The feature asked for, else the first one the form lists.
        let selected = q
            .feature
            .filter(|id| candidates.iter().any(|c| &c.0 == id))
            .or_else(|| candidates.first().map(|c| c.0.clone()))
            .unwrap_or_default();
        let declared = candidates.iter().find(|c| c.0 == selected).map_or(0, |c| c.2);
        render(&ListPage {
            who: who(&session),
            requests,
            candidates,
            tiers: policy.tiers.iter().map(|t| (t.tier.0, t.tier.0 < declared)).collect(),
            enabled: policy.promotions.is_some(),
            selected,
        })
    }
    .await;
    result.map_or_else(|e| page_error(e, "/promotions"), IntoResponse::into_response)
}

#[derive(Template)]
#[template(path = "promotion.html")]
struct OnePage {
    who: Option<Who>,
    p: PromotionView,
    voted: Option<String>,
}

async fn page_one(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let result = async {
        let session = session::current(&state, &headers).await?;
        let p = workflow::view(&state, workflow::parse_id(&id)?).await?;
        let voted = session
            .as_ref()
            .and_then(|s| p.votes.iter().find(|v| v.maintainer == s.caller.who()))
            .map(|v| v.vote.as_str().to_owned());
        render(&OnePage { who: who(&session), p, voted })
    }
    .await;
    result.map_or_else(|e| page_error(e, "/promotions"), IntoResponse::into_response)
}

/// A signed-in maintainer's session for a form post, with its CSRF token
/// checked.
async fn form_session(state: &AppState, headers: &HeaderMap, csrf: &str) -> Result<Session, ApiError> {
    let session = session::current(state, headers)
        .await?
        .ok_or_else(|| ApiError::Unauthenticated("sign in first: /login".into()))?;
    session::check_form(&session, csrf, headers, state.settings.public_url.as_deref())?;
    Ok(session)
}

#[derive(Debug, Deserialize)]
struct FileForm {
    csrf: String,
    feature: String,
    to_tier: String,
    rationale: String,
    #[serde(default)]
    rfc_url: String,
}

async fn page_file(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<FileForm>) -> Response {
    let result = async {
        let session = form_session(&state, &headers, &f.csrf).await?;
        let to_tier = f.to_tier.trim().parse::<u8>().map_err(|_| ApiError::Invalid {
            field: Some("to-tier".into()),
            message: format!("`{}` is not a tier number", f.to_tier),
        })?;
        let filing = Filing {
            feature: f.feature,
            to_tier,
            rationale: f.rationale,
            rfc_url: Some(f.rfc_url).filter(|u| !u.trim().is_empty()),
        };
        Ok::<_, ApiError>(workflow::file(&state, session.caller.who(), filing, Source::Web).await?)
    }
    .await;
    match result {
        Ok(p) => Redirect::to(&format!("/promotions/{}", p.id)).into_response(),
        Err(e) => page_error(e, "/promotions"),
    }
}

#[derive(Debug, Deserialize)]
struct ActForm {
    csrf: String,
    #[serde(default)]
    comment: String,
}

async fn page_act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActForm>,
) -> Response {
    let back = format!("/promotions/{id}");
    let result = async {
        let session = form_session(&state, &headers, &f.csrf).await?;
        let action = Action::parse(&action)?;
        let id = workflow::parse_id(&id)?;
        let comment = Some(f.comment).filter(|c| !c.trim().is_empty());
        action.run(&state, session.caller.who(), id, comment, Source::Web).await
    }
    .await;
    match result {
        Ok(p) => Redirect::to(&format!("/promotions/{}", p.id)).into_response(),
        Err(e) => page_error(e, &back),
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    who: Option<Who>,
    next: String,
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only paths on this server: never `//host`, `https://…`, or anything a
/// browser could read as either (backslashes, control characters).
fn safe_next(next: Option<&str>) -> String {
    let plain = |n: &str| n.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_-.?=&%+".contains(&b));
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && plain(n) && n.len() <= 500 => n.to_owned(),
        _ => "/promotions".to_owned(),
    }
}

async fn page_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    match session::current(&state, &headers).await {
        Ok(s) => render(&LoginPage { who: who(&s), next }).into_response(),
        Err(e) => page_error(e, "/"),
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
    #[serde(default)]
    next: String,
}

async fn login(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    if let Err(e) = session::check_origin(&headers, state.settings.public_url.as_deref()) {
        return page_error(e, "/login");
    }
    match session::login(&state, &f.token).await {
        Ok((cookie, caller)) => {
            if let Err(e) = state.store.audit(caller.who(), "signed-in", None, serde_json::json!({})).await {
                return page_error(e.into(), "/login");
            }
            let to = safe_next(Some(&f.next));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&to)).into_response()
        }
        Err(e) => page_error(e, "/login"),
    }
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<LogoutForm>) -> Response {
    let result = async {
        let session = form_session(&state, &headers, &f.csrf).await?;
        let cookie = session::logout(&state, &session).await?;
        state.store.audit(session.caller.who(), "signed-out", None, serde_json::json!({})).await?;
        Ok::<_, ApiError>(cookie)
    }
    .await;
    match result {
        Ok(cookie) => ([(header::SET_COOKIE, cookie)], Redirect::to("/promotions")).into_response(),
        Err(e) => page_error(e, "/promotions"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sign_in_only_returns_to_this_server() {
        assert_eq!(super::safe_next(Some("/promotions/3")), "/promotions/3");
        assert_eq!(super::safe_next(Some("//evil.example")), "/promotions");
        assert_eq!(super::safe_next(Some("https://evil.example")), "/promotions");
        assert_eq!(super::safe_next(Some("/\\evil.example")), "/promotions");
        assert_eq!(super::safe_next(Some("/\t/evil.example")), "/promotions");
        assert_eq!(super::safe_next(Some("/a\nb")), "/promotions");
        assert_eq!(super::safe_next(Some("/promotions?feature=gc")), "/promotions?feature=gc");
        assert_eq!(super::safe_next(None), "/promotions");
    }
}
