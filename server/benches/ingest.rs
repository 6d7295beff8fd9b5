//! Ingestion against a named baseline, in one process: uploading a
//! full-suite run report (~60k directive outcomes) through the real HTTP
//! endpoint — parse, validate, store atomically, re-evaluate — versus a raw
//! bulk insert of the same directive rows into the same database.
//!
//! `cargo bench -p tierwatch --bench ingest` (SQLite; set
//! `TIERWATCH_BENCH_POSTGRES` to an admin URL to also measure PostgreSQL).

use std::time::{Duration, Instant};

use jiff::Timestamp;
use matrix::RunReport;
use matrix::evidence::{Directive, Outcome};
use sqlx::Connection;
use tierwatch::state::Settings;

const ROUNDS: usize = 5;

fn report(run_id: &str) -> RunReport {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text =
        std::fs::read_to_string(root.join("policy/fixtures/seed-world/seed-x86_64-unknown-linux-gnu-cranelift.json"))
            .expect("fixture");
    let mut r = RunReport::from_json(&text).expect("valid");
    // 351 files × 170 directives ≈ 60k outcomes, as in a full spec run.
    for f in &mut r.spec {
        f.directives = (0..170)
            .map(|i| Directive {
                line: 1 + 3 * i,
                kind: if i == 0 { "module".into() } else { "assert_return".into() },
                outcome: if i % 97 == 5 { Outcome::Fail } else { Outcome::Pass },
                message: (i % 97 == 5).then(|| "assert_return: expected i32:1, got i32:0".into()),
            })
            .collect();
    }
    r.run_id = run_id.into();
    let now = Timestamp::now();
    r.finished_at = now;
    r.started_at = now - jiff::SignedDuration::from_mins(20);
    r
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn bench(name: &str, database_url: String) {
    let policy =
        tierwatch::load::policy(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy/wasmtime.yaml"))
            .expect("policy");
    let (state, listener) =
        tierwatch::server::prepare(policy, &database_url, "127.0.0.1:0", Settings::default()).await.expect("server");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let serving = state.clone();
    tokio::spawn(
        async move { tierwatch::server::serve(serving, listener, std::future::pending()).await.expect("serve") },
    );
    let (row, token) = tierwatch::auth::new_token("bench", tierwatch::auth::Role::Runner, &["*".into()]);
    state.store.create_token(&row, Timestamp::now()).await.expect("token");
    let client = reqwest::Client::new();

    let directives = tierwatch::store::directive_rows(&report("probe")).len();
    let (mut ingest, mut raw) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let body = serde_json::to_string(&report(&format!("bench-{i}"))).expect("json");
        let t = Instant::now();
        let resp = client
            .post(format!("{base}/api/v1/runs"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("upload");
        assert_eq!(resp.status().as_u16(), 201, "{}", resp.text().await.unwrap_or_default());
        ingest.push(t.elapsed());

        let rows = tierwatch::store::directive_rows(&report(&format!("raw-{i}")));
        let t = Instant::now();
        state.store.raw_insert_directives(&format!("raw-{i}"), &rows).await.expect("raw insert");
        raw.push(t.elapsed());
    }
    let (ingest, raw) = (median(ingest), median(raw));
    println!("{name}: {directives} directive outcomes per report, median of {ROUNDS}");
    println!("  baseline, raw bulk insert of the rows:        {:>8.1} ms", raw.as_secs_f64() * 1e3);
    println!("  POST /api/v1/runs (parse, store, evaluate):   {:>8.1} ms", ingest.as_secs_f64() * 1e3);
    println!("  ratio ingest / raw insert: {:.2}×  (target ≤ 2×)", ingest.as_secs_f64() / raw.as_secs_f64());
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    bench("SQLite", format!("sqlite://{}", dir.path().join("bench.db").display())).await;
    if let Ok(admin) = std::env::var("TIERWATCH_BENCH_POSTGRES") {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("PostgreSQL");
        let name = format!("tw_bench_{}", std::process::id());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.expect("create");
        let (base, _) = admin.rsplit_once('/').expect("admin URL ends in a database");
        bench("PostgreSQL", format!("{base}/{name}")).await;
    }
}
