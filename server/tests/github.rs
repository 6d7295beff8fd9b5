//! The GitHub sync with the real octocrab client against a local server
//! that speaks GitHub's REST endpoints (`common::github`): issues opened with
//! the checklist, kept current, commented on and closed; `/approve` and
//! `/reject` comments read back as votes; 5xx answers, lost answers, bad
//! credentials and rate limits survived without losing or repeating work.
//! The sync is driven pass by pass, so every step is deterministic.

#[macro_use]
mod common;

use std::time::Duration;

use axum::http::Method;
use common::github::{FakeGithub, Fault};
use common::{Db, TestApp, aarch64_fuzz_run, fresh_fixture, json, spawn_app_with};
use jiff::SignedDuration;
use serde_json::{Value, json};
use tierwatch::github::{Client, Config, Sync};
use tierwatch::state::Settings;

on_both_backends!(a_request_lives_on_github_from_filing_to_close, github_failures_delay_but_never_lose_or_repeat_work);

const AARCH64: &str = "aarch64-unknown-linux-gnu";
const REPO: &str = "tierwatch-test/wasmtime";
const TOKEN: &str = "ghp_test_token";

async fn setup(db: Db) -> (TestApp, FakeGithub, Sync) {
    let fake = FakeGithub::start(REPO, TOKEN).await;
    let settings =
        Settings { github_sync: true, public_url: Some("https://tiers.example".into()), ..Settings::default() };
    let app = spawn_app_with(db, settings).await;
    let (owner, repo) = Config::repository(REPO).expect("repo");
    let cfg = Config { owner, repo, token: TOKEN.into(), api_url: fake.base.clone(), poll: Duration::from_secs(60) };
    let sync = Sync::new(app.state.clone(), Client::new(&cfg).expect("client"))
        .with_retry_base(SignedDuration::from_millis(10));
    let runner = app.token("runner", &["*"]).await;
    for r in fresh_fixture() {
        let (status, body) = app.upload(&runner, json(&r)).await;
        assert_eq!(status, 201, "{body}");
    }
    (app, fake, sync)
}

async fn file(app: &TestApp, token: &str) -> i64 {
    let filing = json!({ "feature": AARCH64, "to-tier": 1, "rationale": "Fuzzed on aarch64 now.", "rfc-url": "https://example.org/rfc/7" });
    let (status, body) = app.post_json(token, "/api/v1/promotions", filing).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_i64().expect("id")
}

/// Passes until nothing is left to send (at most `n`), sleeping out short
/// retry delays.
async fn settle(sync: &mut Sync, n: usize) {
    for _ in 0..n {
        match sync.pass().await {
            Some(wait) if wait < Duration::from_secs(3) => tokio::time::sleep(wait).await,
            _ => return,
        }
    }
}

/// Comment texts without the operation marker tierwatch appends.
fn bodies(fake: &FakeGithub, number: u64) -> Vec<String> {
    fake.comments(number)
        .into_iter()
        .map(|c| match c.body.split_once("\n\n<!-- tierwatch:op:") {
            Some((text, _)) => text.to_owned(),
            None => c.body,
        })
        .collect()
}

async fn a_request_lives_on_github_from_filing_to_close(db: Db) {
    let (app, fake, mut sync) = setup(db).await;
    let alice = app.maintainer("alice", Some("alice-gh")).await;
    let bob = app.maintainer("bob", Some("bob-gh")).await;
    app.maintainer("carol", Some("Carol-GH")).await;
    app.maintainer("dave", Some("dave-gh")).await;

    let id = file(&app, &alice).await;
    settle(&mut sync, 3).await;
    let issues = fake.issues();
    assert_eq!(issues.len(), 1, "one issue per request");
    let issue = &issues[0];
    assert_eq!(issue.title, "Promote `aarch64-unknown-linux-gnu` from Tier 2 to Tier 1");
    assert_eq!(issue.labels, ["tier-promotion"]);
    assert!(issue.body.contains(&format!("<!-- tierwatch:promotion:{id} -->")), "{}", issue.body);
    assert!(
        issue.body.contains("- [ ] **Continuous fuzzing** (Tier 1)"),
        "the checklist, not yet met:\n{}",
        issue.body
    );
    assert!(issue.body.contains("https://tiers.example/promotions/1"), "{}", issue.body);
    let view = app.get_json(&format!("/api/v1/promotions/{id}")).await;
    assert_eq!(view["github-issue"], 1);
    assert_eq!(view["github-url"], format!("https://github.com/{REPO}/issues/1"));

    // The checklist follows the runs.
    let runner = app.token("runner", &["*"]).await;
    let (status, body) = app.upload(&runner, json(&aarch64_fuzz_run())).await;
    assert_eq!(status, 201, "{body}");
    settle(&mut sync, 3).await;
    let body = &fake.issues()[0].body;
    assert!(body.contains("- [x] **Continuous fuzzing** (Tier 1)"), "refreshed checklist:\n{body}");
    assert!(body.contains("earns Tier 1 now"), "{body}");

    // A vote through the API is announced on the issue.
    let (status, v) = app.post_json(&bob, &format!("/api/v1/promotions/{id}/approve"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    settle(&mut sync, 3).await;
    assert!(bodies(&fake, 1).contains(&"Approval by bob (1 of 3 needed)".to_owned()), "{:?}", bodies(&fake, 1));

    // Comments read back: a maintainer's /approve counts (login matched
    // without regard to case); a stranger's and the requester's do not and
    // are answered; other comments are ignored.
    fake.comment_as(1, "carol-gh", "/approve\nChecked the fuzz dashboard.");
    fake.comment_as(1, "mallory", "/approve");
    fake.comment_as(1, "alice-gh", "/approve");
    fake.comment_as(1, "bob-gh", "Nice work, I already approved above.");
    settle(&mut sync, 3).await;
    let view = app.get_json(&format!("/api/v1/promotions/{id}")).await;
    assert_eq!(view["tally"]["approvals"], json!(["bob", "carol"]), "{view}");
    let carol = view["votes"].as_array().expect("votes").iter().find(|v| v["maintainer"] == "carol").cloned();
    assert_eq!(
        carol.as_ref().map(|c| (&c["source"], &c["comment"])),
        Some((&json!("github"), &json!("Checked the fuzz dashboard.")))
    );
    let said = bodies(&fake, 1);
    assert!(said.iter().any(|b| b.starts_with("@mallory is not a tierwatch maintainer")), "{said:?}");
    assert!(
        said.iter().any(|b| b.starts_with("@alice-gh: `/approve` was not counted: nobody approves their own request")),
        "{said:?}"
    );
    assert!(said.contains(&"Approval by carol (2 of 3 needed): Checked the fuzz dashboard.".to_owned()), "{said:?}");

    // Reading again counts nothing twice.
    settle(&mut sync, 2).await;
    assert_eq!(bodies(&fake, 1).len(), said.len(), "no new comments from a second read");

    // The third approval approves; applying comments and closes as completed.
    fake.comment_as(1, "dave-gh", "/approve");
    settle(&mut sync, 3).await;
    let view = app.get_json(&format!("/api/v1/promotions/{id}")).await;
    assert_eq!(view["state"], "approved", "{view}");
    // Votes after approval are answered, not silently dropped.
    fake.comment_as(1, "bob-gh", "/reject too late");
    settle(&mut sync, 3).await;
    let said = bodies(&fake, 1);
    assert!(
        said.iter().any(|b| b.starts_with("@bob-gh: `/reject` was not counted: request 1 is approved")),
        "{said:?}"
    );
    let (status, v) = app.post_json(&bob, &format!("/api/v1/promotions/{id}/apply"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    settle(&mut sync, 3).await;
    let issue = &fake.issues()[0];
    assert_eq!((issue.state.as_str(), issue.state_reason.as_deref()), ("closed", Some("completed")));
    assert!(issue.body.contains("**State:** applied"), "{}", issue.body);
    let said = bodies(&fake, 1);
    assert!(
        said.iter().any(|b| b.starts_with("Approved by bob, carol, dave (3 of 3 approvals, RFC linked)")),
        "{said:?}"
    );
    assert_eq!(
        said.last().map(String::as_str),
        Some("Applied by bob: `aarch64-unknown-linux-gnu` is declared Tier 1 from now on, and TIERS.md follows.")
    );
    let (_, md) = app.get_text("/TIERS.md").await;
    let row = md.find("| `aarch64-unknown-linux-gnu` ").expect("row");
    assert!(md[..row].rfind("#### Tier 1") > md[..row].rfind("#### Tier 2"), "moved to Tier 1");

    let audit = app.get_json(&format!("/api/v1/audit?promotion={id}")).await;
    let actions: Vec<&str> = audit.as_array().expect("array").iter().filter_map(|a| a["action"].as_str()).collect();
    assert!(actions.contains(&"github-issue-opened") && actions.contains(&"github-command"), "{actions:?}");
    // Which token a GitHub login maps to is for maintainers; the public
    // sees the command and its outcome.
    let command = |audit: &Value| {
        audit.as_array().expect("array").iter().find(|a| a["action"] == "github-command").expect("a command").clone()
    };
    let public = command(&audit);
    assert!(public["detail"].get("login").is_none() && public["detail"].get("maintainer").is_none(), "{public}");
    let whole = command(&app.get_json_as(&alice, &format!("/api/v1/audit?promotion={id}")).await);
    assert!(whole["detail"]["login"].is_string() && whole["detail"]["maintainer"].is_string(), "{whole}");
    assert!(fake.seen().iter().all(|s| s.status != 401), "every request carried the token");
}

async fn github_failures_delay_but_never_lose_or_repeat_work(db: Db) {
    let (app, fake, mut sync) = setup(db).await;
    let alice = app.maintainer("alice", None).await;
    let bob = app.maintainer("bob", None).await;

    // Rate limited on the first try: the sync pauses until GitHub's reset
    // (read from GET /rate_limit), then opens the issue once.
    fake.fault(Method::POST, "/issues", Fault::RateLimit { reset_in_secs: 2 });
    let id = file(&app, &alice).await;
    let wait = sync.pass().await.expect("a pause");
    assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(2), "paused until the reset: {wait:?}");
    assert_eq!(fake.issues().len(), 0);
    assert_eq!(sync.pass().await.map(|w| w > Duration::ZERO), Some(true), "still paused: nothing sent");
    let requests = fake.seen().len();
    let view = app.get_json(&format!("/api/v1/promotions/{id}")).await;
    assert!(view["github-error"].as_str().unwrap_or_default().contains("rate limit"), "{view}");
    tokio::time::sleep(wait).await;
    settle(&mut sync, 3).await;
    assert_eq!(fake.issues().len(), 1);
    assert!(fake.seen()[requests..].iter().any(|s| s.method == "POST" && s.status == 200));
    assert!(fake.seen().iter().any(|s| s.path == "/rate_limit"), "asked GitHub when the limit resets");

    // A 5xx on a comment: retried, in order, once.
    fake.fault(Method::POST, "/comments", Fault::Status(502));
    let (status, v) =
        app.post_json(&bob, &format!("/api/v1/promotions/{id}/approve"), json!({ "comment": "ok" })).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = app.post_json(&alice, &format!("/api/v1/promotions/{id}/withdraw"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    sync.pass().await;
    assert!(bodies(&fake, 1).is_empty(), "the failed comment holds back the ones after it");
    settle(&mut sync, 5).await;
    assert_eq!(bodies(&fake, 1), ["Approval by bob (1 of 3 needed): ok", "Withdrawn by alice."]);
    let issue = &fake.issues()[0];
    assert_eq!((issue.state.as_str(), issue.state_reason.as_deref()), ("closed", Some("not_planned")));

    // GitHub created the issue but the answer was lost: the retry finds it
    // by its marker instead of opening a second one.
    fake.fault(Method::POST, "/issues", Fault::LoseAnswer);
    let second = {
        let filing = json!({ "feature": "gc", "to-tier": 2, "rationale": "Complete now." });
        let (status, body) = app.post_json(&alice, "/api/v1/promotions", filing).await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_i64().expect("id")
    };
    settle(&mut sync, 5).await;
    assert_eq!(fake.issues().len(), 2, "found, not opened twice");
    let view = app.get_json(&format!("/api/v1/promotions/{second}")).await;
    assert_eq!(view["github-issue"], 2, "{view}");
    assert!(view.get("github-error").is_none(), "{view}");

    // Bad credentials: the error is kept on the request and the operation
    // stays queued; nothing is dropped.
    let (owner, repo) = Config::repository(REPO).expect("repo");
    let wrong =
        Config { owner, repo, token: "ghp_revoked".into(), api_url: fake.base.clone(), poll: Duration::from_secs(60) };
    let mut bad = Sync::new(app.state.clone(), Client::new(&wrong).expect("client"))
        .with_retry_base(SignedDuration::from_millis(10));
    let (status, v) = app.post_json(&bob, &format!("/api/v1/promotions/{second}/approve"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    bad.pass().await;
    let view: Value = app.get_json(&format!("/api/v1/promotions/{second}")).await;
    assert!(view["github-error"].as_str().unwrap_or_default().contains("401 Bad credentials"), "{view}");
    assert!(bodies(&fake, 2).is_empty());
    // With the right token the queued comment goes out, and a lost answer
    // does not make it twice: the retry finds it by its marker.
    fake.fault(Method::POST, "/comments", Fault::LoseAnswer);
    settle(&mut sync, 5).await;
    assert_eq!(bodies(&fake, 2), ["Approval by bob (1 of 2 needed)"]);
    let view: Value = app.get_json(&format!("/api/v1/promotions/{second}")).await;
    assert!(view.get("github-error").is_none(), "{view}");

    // A request filed before sync was configured gets its issue on demand.
    let (status, v) = app
        .post_json(&alice, "/api/v1/promotions", json!({ "feature": "wasi-nn", "to-tier": 2, "rationale": "r" }))
        .await;
    assert_eq!(status, 201, "{v}");
    let third = v["id"].as_i64().expect("id");
    let pending = app.state.store.github_pending(100).await.expect("outbox");
    let open = pending
        .iter()
        .find(|o| o.promotion_id == third && o.op == tierwatch::promotions::rules::OutboxOp::Open)
        .expect("open queued");
    app.state.store.github_done(open.seq).await.expect("pretend it was never queued");
    let (status, v) = app.post_json(&bob, &format!("/api/v1/promotions/{third}/reject"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    settle(&mut sync, 5).await;
    let issue = fake.issues().into_iter().find(|i| i.title.contains("`wasi-nn`")).expect("opened on demand");
    assert_eq!((issue.state.as_str(), issue.state_reason.as_deref()), ("closed", Some("not_planned")));
    assert_eq!(bodies(&fake, issue.number), ["Rejected by bob", "Request 3 is rejected."]);
}
