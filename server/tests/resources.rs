//! Every JSON resource of the API on the seed-world evidence, pinned as a
//! snapshot (times and dates normalised, since the fixture is moved to
//! now): a renamed, dropped or retyped field fails here, and is reviewed as
//! a snapshot change rather than found by a client.

mod common;

use common::{Db, TestApp, json, spawn_app};
use serde_json::Value;

/// Times and dates, which move with the clock, as placeholders.
fn normalise(v: Value) -> Value {
    match v {
        Value::String(s) if s.parse::<jiff::Timestamp>().is_ok() => Value::String("<timestamp>".into()),
        Value::String(s) if s.parse::<jiff::civil::Date>().is_ok() => Value::String("<date>".into()),
        Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, normalise(v))).collect()),
        other => other,
    }
}

/// The seed world ingested, one promotion request filed and voted on.
async fn seeded() -> (TestApp, String) {
    let app = spawn_app(Db::Sqlite).await;
    let runner = app.token("runner", &["*"]).await;
    for report in common::fresh_fixture() {
        let (status, body) = app.upload(&runner, json(&report)).await;
        assert_eq!(status, 201, "{body}");
    }
    let [alice, bob] = [app.maintainer("alice", None).await, app.maintainer("bob", None).await];
    let filing = serde_json::json!({ "feature": "gc", "to-tier": 2, "rationale": "Tested everywhere." });
    let (status, body) = app.post_json(&alice, "/api/v1/promotions", filing).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.post_json(&bob, "/api/v1/promotions/1/approve", serde_json::json!({})).await;
    assert!(status == 200 || status == 201, "{status} {body}");
    (app, alice)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_json_resource_keeps_its_shape_on_the_seed_world() {
    let (app, maintainer) = seeded().await;
    let runs = app.get_json("/api/v1/runs").await;
    let run = runs.as_array().and_then(|r| r.first()).and_then(|r| r["run-id"].as_str()).expect("a run").to_owned();
    let resources = [
        ("matrix", "/api/v1/matrix".to_owned()),
        ("features", "/api/v1/features".to_owned()),
        ("feature_target", "/api/v1/features/x86_64-unknown-linux-gnu".to_owned()),
        ("feature_proposal", "/api/v1/features/simd".to_owned()),
        ("targets", "/api/v1/targets".to_owned()),
        ("history", "/api/v1/history".to_owned()),
        ("runs", "/api/v1/runs".to_owned()),
        ("run", format!("/api/v1/runs/{run}")),
        ("run_directives", format!("/api/v1/runs/{run}/directives?limit=20")),
        ("fuzz_campaigns", "/api/v1/fuzz/campaigns".to_owned()),
        ("fuzz_crashes", "/api/v1/fuzz/crashes".to_owned()),
        ("tables", "/api/v1/tables".to_owned()),
        ("promotions", "/api/v1/promotions".to_owned()),
        ("promotion", "/api/v1/promotions/1".to_owned()),
        ("audit_public", "/api/v1/audit".to_owned()),
        ("openapi", "/api/v1/openapi.json".to_owned()),
    ];
    for (name, path) in &resources {
        let v = normalise(app.get_json(path).await);
        let text = serde_json::to_string_pretty(&v).expect("json");
        insta::assert_snapshot!(format!("resource_{name}"), text);
    }
    let tables = app.get_json("/api/v1/tables").await;
    let first = tables.as_array().and_then(|t| t.first()).and_then(|t| t["id"].as_str()).expect("a table").to_owned();
    let table = normalise(app.get_json(&format!("/api/v1/tables/{first}")).await);
    insta::assert_snapshot!("resource_table", serde_json::to_string_pretty(&table).expect("json"));
    let audit = normalise(app.get_json_as(&maintainer, "/api/v1/audit").await);
    insta::assert_snapshot!("resource_audit_maintainer", serde_json::to_string_pretty(&audit).expect("json"));
}

/// A page with what moves with the clock taken out: charts (their axes are
/// dated), and every run of digits with `-` or `:` in it (times, dates).
fn normalise_page(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find("<svg") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</svg>") {
            Some(end) => {
                out.push_str("<svg>…</svg>");
                rest = &rest[start + end + "</svg>".len()..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    let mut normalised = String::with_capacity(out.len());
    let chars: Vec<char> = out.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let timelike = |c: char| c.is_ascii_digit() || "-:.TZ+".contains(c);
        if chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric()) {
            let mut j = i;
            while j < chars.len() && timelike(chars[j]) {
                j += 1;
            }
            let run: String = chars[i..j].iter().collect();
            let digits = run.chars().filter(char::is_ascii_digit).count();
            if digits >= 4 && (run.contains('-') || run.contains(':')) {
                normalised.push_str("<time>");
                i = j;
                continue;
            }
        }
        normalised.push(chars[i]);
        i += 1;
    }
    normalised
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_keeps_its_markup_on_the_seed_world() {
    let (app, _) = seeded().await;
    let runs = app.get_json("/api/v1/runs").await;
    let run = runs.as_array().and_then(|r| r.first()).and_then(|r| r["run-id"].as_str()).expect("a run").to_owned();
    let pages = [
        ("index", "/".to_owned()),
        ("feature", "/features/simd".to_owned()),
        ("feature_run", format!("/features/simd/runs/{run}")),
        ("runs", "/runs".to_owned()),
        ("run", format!("/runs/{run}")),
        ("run_directives", format!("/runs/{run}/directives")),
        ("fuzz", "/fuzz".to_owned()),
        ("tables", "/tables".to_owned()),
        ("promotions", "/promotions".to_owned()),
        ("promotion", "/promotions/1".to_owned()),
        ("login", "/login".to_owned()),
    ];
    for (name, path) in &pages {
        let (status, html) = app.get_text(path).await;
        assert_eq!(status, 200, "GET {path}");
        insta::assert_snapshot!(format!("page_{name}"), normalise_page(&html));
    }
    let (status, html) = app.get_text("/no/such/page").await;
    assert_eq!(status, 404);
    insta::assert_snapshot!("page_not_found", normalise_page(&html));
}
