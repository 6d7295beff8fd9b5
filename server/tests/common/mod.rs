//! `spawn_app`: the real server on port 0 against a fresh, migrated
//! database — a temporary SQLite file, or a new database on the PostgreSQL
//! server named by `TIERWATCH_TEST_POSTGRES` (an admin URL). A test that
//! needs PostgreSQL and cannot reach it fails; it never skips.

#![allow(dead_code)]

/// Each named `async fn name(db: Db)` in the invoking file becomes two
/// tests, `sqlite::name` and `postgres::name` (the file imports `Db`).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Db::Postgres).await })*
        }
    };
}

pub mod github;
pub mod process;
pub mod webdriver;

use std::path::PathBuf;

use jiff::{SignedDuration, Timestamp};
use matrix::RunReport;
use sqlx::Connection;
use tierwatch::state::{AppState, Settings};

/// Which database a test runs against.
#[derive(Debug, Clone, Copy)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub database_url: String,
    pub client: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn policy() -> matrix::Policy {
    tierwatch::load::policy(&root().join("policy/wasmtime.yaml")).expect("the repository policy is valid")
}

/// A new, empty database on the PostgreSQL server of `TIERWATCH_TEST_POSTGRES`.
pub async fn fresh_postgres() -> String {
    let admin = std::env::var("TIERWATCH_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "TIERWATCH_TEST_POSTGRES is not set: these tests need a PostgreSQL server. \
             Run scripts/check (it starts one) or set TIERWATCH_TEST_POSTGRES=postgres://user:pass@host:port/postgres"
        )
    });
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at TIERWATCH_TEST_POSTGRES: {e}"));
    let name = format!("tw_test_{}", hex::encode(rand::random::<[u8; 6]>()));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("admin URL has a database path");
    format!("{base}/{name}")
}

/// Starts a server with a database of `db` and the given body limit.
pub async fn spawn_with(db: Db, max_body_bytes: usize) -> TestApp {
    spawn_app_with(db, Settings { max_body_bytes, ..Settings::default() }).await
}

/// Starts a server on an existing database (e.g. to test a restart).
pub async fn spawn_on(database_url: String, dir: tempfile::TempDir, max_body_bytes: usize) -> TestApp {
    spawn_settings(database_url, dir, Settings { max_body_bytes, ..Settings::default() }).await
}

/// Starts a server with a database of `db` and these settings.
pub async fn spawn_app_with(db: Db, settings: Settings) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let database_url = database(db, &dir).await;
    spawn_settings(database_url, dir, settings).await
}

/// Starts a server on `database_url` with these settings.
pub async fn spawn_settings(database_url: String, dir: tempfile::TempDir, settings: Settings) -> TestApp {
    spawn_policy(database_url, dir, settings, policy()).await
}

/// A fresh database URL of `db` in `dir`.
pub async fn database(db: Db, dir: &tempfile::TempDir) -> String {
    match db {
        Db::Sqlite => format!("sqlite://{}", dir.path().join("tierwatch.db").display()),
        Db::Postgres => fresh_postgres().await,
    }
}

/// Starts a server on `database_url` with these settings and this policy.
pub async fn spawn_policy(
    database_url: String,
    dir: tempfile::TempDir,
    settings: Settings,
    policy: matrix::Policy,
) -> TestApp {
    let (state, listener) =
        tierwatch::server::prepare(policy, &database_url, "127.0.0.1:0", settings).await.expect("server starts");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    // As `tierwatch serve` does: lead (no GitHub worker here; the GitHub
    // tests drive theirs) and listen for other servers on the database.
    tierwatch::cluster::spawn(&state, None);
    let serving = state.clone();
    tokio::spawn(
        async move { tierwatch::server::serve(serving, listener, std::future::pending()).await.expect("serve") },
    );
    TestApp { base, state, database_url, client: reqwest::Client::new(), _dir: dir }
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_with(db, 8 * 1024 * 1024).await
}

impl TestApp {
    /// Creates a token with `role` for `targets`.
    pub async fn token(&self, role: &str, targets: &[&str]) -> String {
        let targets: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        let (row, token) = tierwatch::auth::new_token("test", role.parse().expect("a role"), &targets);
        self.state.store.create_token(&row, Timestamp::now()).await.expect("token stored");
        token
    }

    /// Creates a maintainer token for `name`, with a GitHub login if given.
    /// A maintainer token of the person `name` (made a person if new).
    pub async fn maintainer(&self, name: &str, github_login: Option<&str>) -> String {
        self.token_of(name, name, github_login).await
    }

    /// A maintainer token named `token_name` of the person `person`.
    pub async fn token_of(&self, person: &str, token_name: &str, github_login: Option<&str>) -> String {
        let (mut row, token) =
            tierwatch::auth::new_token(token_name, tierwatch::auth::Role::Maintainer, &["*".to_owned()]);
        self.state.store.ensure_person(person, github_login).await.expect("store").expect("a person");
        row.person = Some(person.to_owned());
        self.state.store.create_token(&row, Timestamp::now()).await.expect("token stored");
        token
    }

    /// POSTs JSON with a bearer token; returns the status and the JSON answer.
    pub async fn post_json(&self, token: &str, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn upload(&self, token: &str, body: impl Into<reqwest::Body>) -> (u16, serde_json::Value) {
        let resp = self
            .client
            .post(format!("{}/api/v1/runs", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("json")
    }

    /// GETs JSON with a bearer token.
    pub async fn get_json_as(&self, token: &str, path: &str) -> serde_json::Value {
        let resp = self.client.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.expect("request");
        assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
        resp.json().await.expect("json")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let resp = self.client.get(format!("{}{path}", self.base)).send().await.expect("request");
        (resp.status().as_u16(), resp.text().await.expect("text"))
    }
}

/// The seed-world reports, moved in time so that they are as fresh now as
/// they were on the fixture's date.
pub fn fresh_fixture() -> Vec<RunReport> {
    let shift: SignedDuration = Timestamp::now().duration_since("2026-11-20T00:00:00Z".parse().expect("ts"));
    let evidence = tierwatch::load::evidence(&root().join("policy/fixtures/seed-world")).expect("the fixture loads");
    evidence
        .runs
        .into_iter()
        .map(|r| {
            let mut r = std::sync::Arc::unwrap_or_clone(r);
            r.started_at += shift;
            r.finished_at += shift;
            r
        })
        .collect()
}

/// The fresh fixture's run `seed` again, as run `id` finished `hours` after it.
pub fn later_run(seed: &str, id: &str, hours: i64) -> RunReport {
    let mut r =
        fresh_fixture().into_iter().find(|r| r.run_id == seed).unwrap_or_else(|| panic!("no fixture run {seed}"));
    r.run_id = id.into();
    r.started_at += SignedDuration::from_hours(hours);
    r.finished_at += SignedDuration::from_hours(hours);
    r
}

/// A fresh fuzz run on aarch64-unknown-linux-gnu: the one thing the
/// fixture's aarch64 target lacks for Tier 1 ("Continuous fuzzing").
pub fn aarch64_fuzz_run() -> RunReport {
    let mut r = fresh_fixture()
        .into_iter()
        .find(|r| !r.fuzz.is_empty() && r.target.triple == "x86_64-unknown-linux-gnu")
        .expect("the fixture has an x86_64 fuzz run");
    r.run_id = format!("aarch64-fuzz-{}", hex::encode(rand::random::<[u8; 4]>()));
    r.target.triple = "aarch64-unknown-linux-gnu".into();
    r
}

pub fn json(r: &RunReport) -> String {
    serde_json::to_string(r).expect("serialize")
}
