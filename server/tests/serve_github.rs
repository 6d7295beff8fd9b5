//! `tierwatch serve` with GitHub sync configured by its flags, as an
//! operator runs it, against the local GitHub of `common::github`: maintainer
//! tokens made with `tierwatch token create --github-login`, a request filed
//! over HTTP shows up as an issue, and a maintainer's `/approve` comment
//! comes back as their vote.

mod common;

use std::time::{Duration, Instant};

use common::github::FakeGithub;
use common::process::{serve, tierwatch};
use serde_json::{Value, json};

const REPO: &str = "tierwatch-test/wasmtime";
const TOKEN: &str = "ghp_operator";

fn token(db: &str, name: &str, login: Option<&str>, role: &str) -> Result<String, String> {
    let mut args = vec!["token", "create", "--name", name, "--role", role, "--targets", "*", "--database-url", db];
    if let Some(l) = login {
        args.extend(["--github-login", l]);
    }
    let out = tierwatch().args(&args).output().expect("tierwatch runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Polls `check` every 100 ms for up to 30 s.
async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_mirrors_requests_to_the_configured_repository() {
    let fake = FakeGithub::start(REPO, TOKEN).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("tw.db").display());

    let refused = token(&db, "ci", Some("ci-bot"), "runner").expect_err("a runner token with a GitHub login");
    assert!(refused.contains("--person and --github-login are for maintainer tokens"), "{refused}");
    let alice = token(&db, "alice", None, "maintainer").expect("alice's token");
    token(&db, "bob", Some("bob-gh"), "maintainer").expect("bob's token");

    let github = ["--github-repo", REPO, "--github-api-url", &fake.base, "--github-poll-seconds", "1"];
    let public = ["--public-url", "https://tiers.example"];
    let (_server, base) = serve(&[&["--database-url", db.as_str()][..], &github, &public].concat(), TOKEN);

    let client = reqwest::Client::new();
    let filing = json!({ "feature": "gc", "to-tier": 2, "rationale": "Complete on every tier-1 target." });
    let resp =
        client.post(format!("{base}/api/v1/promotions")).bearer_auth(&alice).json(&filing).send().await.expect("file");
    assert_eq!(resp.status(), 201);
    let id = resp.json::<Value>().await.expect("json")["id"].as_i64().expect("id");

    let issue = eventually("the issue", async || fake.issues().into_iter().next()).await;
    assert_eq!(issue.title, "Promote `gc` from Tier 3 to Tier 2");
    assert!(issue.body.contains("https://tiers.example/promotions/1"), "{}", issue.body);

    fake.comment_as(issue.number, "bob-gh", "/approve");
    let url = format!("{base}/api/v1/promotions/{id}");
    let view = eventually("bob's vote", async || {
        let v: Value = client.get(&url).send().await.ok()?.json().await.ok()?;
        (v["tally"]["approvals"] == json!(["bob"])).then_some(v)
    })
    .await;
    assert_eq!(view["votes"][0]["source"], "github");
    let said = eventually("the acknowledgement", async || {
        fake.comments(issue.number).into_iter().find(|c| c.body.starts_with("Approval by bob"))
    })
    .await;
    assert!(said.body.starts_with("Approval by bob (1 of 2 needed)\n\n<!-- tierwatch:op:"), "{}", said.body);
}
