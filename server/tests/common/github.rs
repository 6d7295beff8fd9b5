//! A local HTTP server that speaks the GitHub REST endpoints tierwatch's
//! sync uses, with GitHub's JSON shapes, authentication, pagination, error
//! bodies and rate limiting, plus faults a test can queue: 5xx answers,
//! rate limits, and requests that take effect but lose their answer.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// A fault for the next request that matches `method` and a path ending in
/// `path_suffix`.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status and GitHub's error body.
    Status(u16),
    /// Answer 403 "API rate limit exceeded", with the budget spent until
    /// `reset_in_secs` from now.
    RateLimit { reset_in_secs: i64 },
    /// Do the work, then answer 502 as if the answer was lost on the way.
    LoseAnswer,
}

#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub author: String,
}

#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub issue: u64,
    pub login: String,
    pub body: String,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct World {
    pub issues: BTreeMap<u64, Issue>,
    pub comments: Vec<Comment>,
    pub seen: Vec<Seen>,
    faults: VecDeque<(Method, String, Fault)>,
    limited_until: Option<i64>,
    next_comment: u64,
    /// How long every write (POST, PATCH) takes to answer after it took effect.
    answer_delay: std::time::Duration,
}

/// The fake and its state.
#[derive(Clone)]
pub struct FakeGithub {
    pub base: String,
    pub token: String,
    pub world: Arc<Mutex<World>>,
    owner_repo: String,
}

impl FakeGithub {
    /// Starts the fake for repository `owner/repo`, accepting `token`.
    pub async fn start(owner_repo: &str, token: &str) -> FakeGithub {
        let world = Arc::new(Mutex::new(World { next_comment: 1000, ..World::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let fake = FakeGithub { base, token: token.to_owned(), world, owner_repo: owner_repo.to_owned() };
        let app = Router::new()
            .route("/rate_limit", get(rate_limit))
            .route("/repos/{owner}/{repo}/issues", get(list_issues).post(create_issue))
            .route("/repos/{owner}/{repo}/issues/{number}", axum::routing::patch(update_issue))
            .route("/repos/{owner}/{repo}/issues/{number}/comments", get(list_comments).post(create_comment))
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(fake.clone(), gatekeeper))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake github serves") });
        fake
    }

    /// Makes every write answer `delay` after it took effect, as a slow
    /// GitHub would: a client that dies meanwhile did the work unknowingly.
    pub fn slow_answers(&self, delay: std::time::Duration) {
        self.world.lock().expect("lock").answer_delay = delay;
    }

    /// Queues a fault.
    pub fn fault(&self, method: Method, path_suffix: &str, fault: Fault) {
        self.world.lock().expect("lock").faults.push_back((method, path_suffix.to_owned(), fault));
    }

    /// A comment by `login` on issue `number`, as a person would write it.
    pub fn comment_as(&self, number: u64, login: &str, body: &str) {
        let mut w = self.world.lock().expect("lock");
        w.next_comment += 1;
        let id = w.next_comment;
        w.comments.push(Comment { id, issue: number, login: login.to_owned(), body: body.to_owned() });
    }

    pub fn issues(&self) -> Vec<Issue> {
        self.world.lock().expect("lock").issues.values().cloned().collect()
    }

    pub fn comments(&self, number: u64) -> Vec<Comment> {
        self.world.lock().expect("lock").comments.iter().filter(|c| c.issue == number).cloned().collect()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.world.lock().expect("lock").seen.clone()
    }

    fn user(&self, login: &str) -> Value {
        let u = format!("https://api.github.com/users/{login}");
        json!({
            "login": login, "id": 1000 + login.len(), "node_id": format!("U_{login}"),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{}", login.len()), "gravatar_id": "",
            "url": u, "html_url": format!("https://github.com/{login}"),
            "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
            "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
            "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
            "received_events_url": format!("{u}/received_events"), "type": "User", "site_admin": false
        })
    }

    fn issue_json(&self, i: &Issue, comments: usize) -> Value {
        let api = format!("https://api.github.com/repos/{}/issues/{}", self.owner_repo, i.number);
        let labels: Vec<Value> = i
            .labels
            .iter()
            .enumerate()
            .map(|(n, l)| {
                json!({ "id": n + 1, "node_id": format!("L_{l}"), "url": format!("https://api.github.com/repos/{}/labels/{l}", self.owner_repo),
                        "name": l, "color": "ededed", "default": false })
            })
            .collect();
        json!({
            "id": 5000 + i.number, "node_id": format!("I_{}", i.number), "url": api,
            "repository_url": format!("https://api.github.com/repos/{}", self.owner_repo),
            "labels_url": format!("{api}/labels{{/name}}"), "comments_url": format!("{api}/comments"),
            "events_url": format!("{api}/events"),
            "html_url": format!("https://github.com/{}/issues/{}", self.owner_repo, i.number),
            "number": i.number, "state": i.state, "state_reason": i.state_reason, "title": i.title, "body": i.body,
            "user": self.user(&i.author), "labels": labels, "assignees": [], "locked": false,
            "comments": comments, "created_at": "2026-11-24T00:00:00Z", "updated_at": "2026-11-24T00:00:00Z",
            "author_association": "NONE"
        })
    }

    fn comment_json(&self, c: &Comment) -> Value {
        let api = format!("https://api.github.com/repos/{}/issues/comments/{}", self.owner_repo, c.id);
        json!({
            "id": c.id, "node_id": format!("C_{}", c.id), "url": api,
            "html_url": format!("https://github.com/{}/issues/{}#issuecomment-{}", self.owner_repo, c.issue, c.id),
            "issue_url": format!("https://api.github.com/repos/{}/issues/{}", self.owner_repo, c.issue),
            "body": c.body, "user": self.user(&c.login), "created_at": "2026-11-24T00:00:00Z",
            "updated_at": "2026-11-24T00:00:00Z", "author_association": "MEMBER"
        })
    }

    /// Authentication, rate limit and queued faults, before the handler.
    /// Returns the answer to send instead, or the fault to apply after.
    #[allow(clippy::result_large_err)] // answered at once, never carried far
    fn gate(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<Option<Fault>, Response> {
        let mut w = self.world.lock().expect("lock");
        let path = uri.path().to_owned();
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if auth != format!("Bearer {}", self.token) {
            w.seen.push(Seen { method: method.to_string(), path, status: 401 });
            return Err(error(401, "Bad credentials"));
        }
        let now = jiff::Timestamp::now().as_second();
        if path != "/rate_limit" && w.limited_until.is_some_and(|u| u > now) {
            w.seen.push(Seen { method: method.to_string(), path, status: 403 });
            return Err(rate_limited(w.limited_until.unwrap_or(now)));
        }
        let pos = w.faults.iter().position(|(m, suffix, _)| m == method && path.ends_with(suffix.as_str()));
        let fault = pos.and_then(|p| w.faults.remove(p)).map(|(_, _, f)| f);
        match fault {
            Some(Fault::Status(s)) => {
                w.seen.push(Seen { method: method.to_string(), path, status: s });
                Err(error(s, "Server Error"))
            }
            Some(Fault::RateLimit { reset_in_secs }) => {
                w.limited_until = Some(now + reset_in_secs);
                w.seen.push(Seen { method: method.to_string(), path, status: 403 });
                Err(rate_limited(now + reset_in_secs))
            }
            other => {
                let status = if matches!(other, Some(Fault::LoseAnswer)) { 502 } else { 200 };
                w.seen.push(Seen { method: method.to_string(), path, status });
                Ok(other)
            }
        }
    }
}

fn error(status: u16, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(json!({ "message": message, "documentation_url": "https://docs.github.com/rest" })))
        .into_response()
}

fn rate_limited(reset: i64) -> Response {
    let mut r = error(403, "API rate limit exceeded for user ID 1000.");
    let h = r.headers_mut();
    h.insert("x-ratelimit-limit", "5000".parse().expect("header"));
    h.insert("x-ratelimit-remaining", "0".parse().expect("header"));
    h.insert("x-ratelimit-reset", reset.to_string().parse().expect("header"));
    r
}

/// Every request passes the gate first; a fault that loses the answer
/// lets the handler do its work and answers 502 instead.
async fn gatekeeper(State(g): State<FakeGithub>, request: Request, next: Next) -> Response {
    let fault = match g.gate(request.method(), request.uri(), request.headers()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let write = request.method() != Method::GET;
    let answer = next.run(request).await;
    let delay = g.world.lock().expect("lock").answer_delay;
    if write && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::LoseAnswer) => error(502, "Bad Gateway"),
        _ => answer,
    }
}

async fn not_found(uri: Uri) -> Response {
    let _ = uri;
    error(404, "Not Found")
}

async fn rate_limit(State(g): State<FakeGithub>) -> Response {
    let w = g.world.lock().expect("lock");
    let now = jiff::Timestamp::now().as_second();
    let (remaining, reset) = match w.limited_until {
        Some(u) if u > now => (0, u),
        _ => (4999, now + 3600),
    };
    let rate = json!({ "limit": 5000, "used": 5000 - remaining, "remaining": remaining, "reset": reset });
    axum::Json(json!({ "resources": { "core": rate, "search": rate }, "rate": rate })).into_response()
}

async fn create_issue(
    State(g): State<FakeGithub>,
    Path((_o, _r)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let Some(title) = body["title"].as_str().filter(|t| !t.is_empty()) else {
        return error(422, "Validation Failed: title is missing");
    };
    let issue = {
        let mut w = g.world.lock().expect("lock");
        let number = w.issues.len() as u64 + 1;
        let labels =
            body["labels"].as_array().map(|a| a.iter().filter_map(|l| l.as_str().map(str::to_owned)).collect());
        let issue = Issue {
            number,
            title: title.to_owned(),
            body: body["body"].as_str().unwrap_or_default().to_owned(),
            labels: labels.unwrap_or_default(),
            state: "open".into(),
            state_reason: None,
            author: "tierwatch-bot".into(),
        };
        w.issues.insert(number, issue.clone());
        issue
    };
    (StatusCode::CREATED, axum::Json(g.issue_json(&issue, 0))).into_response()
}

async fn list_issues(State(g): State<FakeGithub>, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let (per_page, page) = paging(&q);
    let label = q.get("labels").cloned();
    let state = q.get("state").cloned().unwrap_or_else(|| "open".into());
    let items: Vec<Value> = {
        let w = g.world.lock().expect("lock");
        w.issues
            .values()
            .rev()
            .filter(|i| label.as_ref().is_none_or(|l| l.split(',').all(|l| i.labels.iter().any(|x| x == l))))
            .filter(|i| state == "all" || i.state == state)
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|i| g.issue_json(i, w.comments.iter().filter(|c| c.issue == i.number).count()))
            .collect()
    };
    (StatusCode::OK, axum::Json(Value::Array(items))).into_response()
}

async fn update_issue(
    State(g): State<FakeGithub>,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let issue = {
        let mut w = g.world.lock().expect("lock");
        let Some(i) = w.issues.get_mut(&number) else { return error(404, "Not Found") };
        if let Some(b) = body["body"].as_str() {
            i.body = b.to_owned();
        }
        if let Some(s) = body["state"].as_str() {
            if s != "open" && s != "closed" {
                return error(422, "Validation Failed: state");
            }
            i.state = s.to_owned();
        }
        if let Some(r) = body["state_reason"].as_str() {
            i.state_reason = Some(r.to_owned());
        }
        i.clone()
    };
    (StatusCode::OK, axum::Json(g.issue_json(&issue, 0))).into_response()
}

async fn create_comment(
    State(g): State<FakeGithub>,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let Some(text) = body["body"].as_str().filter(|t| !t.is_empty()) else {
        return error(422, "Validation Failed: body is missing");
    };
    let comment = {
        let mut w = g.world.lock().expect("lock");
        if !w.issues.contains_key(&number) {
            return error(404, "Not Found");
        }
        w.next_comment += 1;
        let c = Comment { id: w.next_comment, issue: number, login: "tierwatch-bot".into(), body: text.to_owned() };
        w.comments.push(c.clone());
        c
    };
    (StatusCode::CREATED, axum::Json(g.comment_json(&comment))).into_response()
}

async fn list_comments(
    State(g): State<FakeGithub>,
    Path((_o, _r, number)): Path<(String, String, u64)>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let (per_page, page) = paging(&q);
    let items: Vec<Value> = {
        let w = g.world.lock().expect("lock");
        if !w.issues.contains_key(&number) {
            return error(404, "Not Found");
        }
        w.comments
            .iter()
            .filter(|c| c.issue == number)
            .skip((page - 1) * per_page)
            .take(per_page)
            .map(|c| g.comment_json(c))
            .collect()
    };
    (StatusCode::OK, axum::Json(Value::Array(items))).into_response()
}

fn paging(q: &BTreeMap<String, String>) -> (usize, usize) {
    let per_page = q.get("per_page").and_then(|p| p.parse().ok()).unwrap_or(30usize).clamp(1, 100);
    let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1usize).max(1);
    (per_page, page)
}
