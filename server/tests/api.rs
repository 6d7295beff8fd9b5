//! The server's HTTP API against real databases: every scenario runs on a
//! temporary SQLite file and on a fresh PostgreSQL database.

#[macro_use]
mod common;

use std::io::Write;

use common::{Db, TestApp, fresh_fixture, json, later_run, spawn_app, spawn_app_with, spawn_with};
use matrix::evidence::Outcome;
use serde_json::Value;
use tierwatch::state::Settings;

on_both_backends!(
    ingesting_the_seed_world_publishes_the_seed_matrix,
    uploads_are_idempotent_by_run_id,
    bad_uploads_get_clear_errors_and_store_nothing,
    gzip_uploads_are_accepted,
    a_regression_is_recorded_in_history_and_diffed,
    a_run_diff_has_four_classes_each_counted_and_paged,
    runs_no_feature_uses_are_rejected,
    report_text_is_escaped_in_pages,
    a_nul_in_report_text_is_stored_as_a_replacement_character,
    state_survives_a_restart,
    live_events_announce_new_runs,
    operations_endpoints_answer,
    browsers_get_error_pages_and_api_clients_json,
    a_runs_script_configurations_and_no_evidence_outcomes_are_shown,
    a_crash_that_does_not_replay_the_same_way_is_under_triage,
    reports_dated_where_no_run_can_be_are_refused,
    concurrent_uploads_race_to_one_stored_run_each,
    reports_over_the_size_limits_are_refused_naming_the_flag,
    runs_of_another_dimension_are_stored_shown_and_compared_apart,
    support_tables_are_served_as_json_and_pages,
    fuzz_seeds_and_counts_beyond_i64_keep_their_value,
);

async fn ingest_all(app: &TestApp) -> usize {
    let token = app.token("runner", &["*"]).await;
    let reports = fresh_fixture();
    for r in &reports {
        let (status, body) = app.upload(&token, json(r)).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["state"], "evaluated", "{body}");
    }
    reports.len()
}

async fn run_count(app: &TestApp) -> usize {
    app.get_json("/api/v1/runs").await.as_array().expect("array").len()
}

async fn ingesting_the_seed_world_publishes_the_seed_matrix(db: Db) {
    let app = spawn_app(db).await;
    let n = ingest_all(&app).await;
    assert_eq!(run_count(&app).await, n);
    let m = app.get_json("/api/v1/matrix").await;
    let features = m["features"].as_array().expect("features");
    assert_eq!(features.len(), 46);
    let off: Vec<&Value> = features.iter().filter(|f| f["status"] != "conforming").map(|f| &f["id"]).collect();
    assert_eq!(off, ["wasi_unstable"], "everything conforms but the row without test data");
    let unstable = features.iter().find(|f| f["id"] == "wasi_unstable").expect("wasi_unstable");
    assert_eq!(unstable["status"], "no-test-data");
    let winch = features.iter().find(|f| f["id"] == "winch-x86_64").expect("winch");
    assert_eq!(
        winch["missing-next"][0]["text"],
        "WebAssembly proposals (`simd`, `relaxed-simd`, `tail-call`, `reference-types`, `threads`)"
    );
    let (status, md) = app.get_text("/TIERS.md").await;
    assert_eq!(status, 200);
    let folded: Vec<String> = md.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert!(folded.contains(&"| Target | `aarch64-unknown-linux-gnu` | Continuous fuzzing |".to_owned()));
    assert!(folded.contains(&"| WASI Proposal | [`wasi-threads`] | no test data, unstable proposal |".to_owned()));

    let detail = app.get_json("/api/v1/features/aarch64-unknown-linux-gnu").await;
    let fuzz = detail["requirements"]
        .as_array()
        .expect("checklist")
        .iter()
        .find(|r| r["requirement"] == "t1-fuzz-target")
        .expect("row");
    assert_eq!((fuzz["met"].as_bool(), fuzz["reason"].as_str()), (Some(false), Some("not-fuzzed")));
    let targets = detail["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 1);
    assert!(targets[0]["passed"].as_u64().expect("count") > 300, "{}", targets[0]);

    let s390x = app.get_json("/api/v1/features/simd").await;
    let on_s390x = s390x["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .find(|t| t["target"] == "s390x-unknown-linux-gnu")
        .expect("s390x");
    assert_eq!((on_s390x["emulated"].as_bool(), on_s390x["failed"].as_u64()), (Some(true), Some(0)));
}

async fn uploads_are_idempotent_by_run_id(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let report = fresh_fixture().remove(0);
    let (first, body) = app.upload(&token, json(&report)).await;
    assert_eq!((first, body["duplicate"].as_bool()), (201, Some(false)));
    let (again, body) = app.upload(&token, json(&report)).await;
    assert_eq!((again, body["duplicate"].as_bool()), (200, Some(true)));
    assert_eq!(body["state"], "evaluated");
    // The same report written another way (indented, keys sorted) is the
    // same upload, compared as canonical JSON.
    let value = serde_json::to_value(&report).expect("value");
    let other_way = serde_json::to_string_pretty(&value).expect("text");
    assert_ne!(other_way, json(&report));
    let (again, body) = app.upload(&token, other_way).await;
    assert_eq!((again, body["duplicate"].as_bool()), (200, Some(true)), "{body}");
    // Other content under the same run id is a conflict.
    let mut changed = report.clone();
    changed.runner.name.push_str("-elsewhere");
    let (status, body) = app.upload(&token, json(&changed)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(run_count(&app).await, 1);
}

async fn bad_uploads_get_clear_errors_and_store_nothing(db: Db) {
    let app = spawn_with(db, 512 * 1024).await;
    let token = app.token("runner", &["aarch64-unknown-linux-gnu"]).await;
    let reports = fresh_fixture();
    let aarch64 = reports.iter().find(|r| r.run_id == "seed-aarch64-unknown-linux-gnu-winch").expect("fixture").clone();
    let x86 = reports.iter().find(|r| r.run_id == "seed-wasm32-wasip1-build").expect("fixture").clone();
    let url = format!("{}/api/v1/runs", app.base);

    let expect = |status: u16, body: &Value, want_status: u16, code: &str, fragment: &str| {
        assert_eq!(status, want_status, "{body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        let msg = body["error"]["message"].as_str().expect("message");
        assert!(msg.contains(fragment), "`{msg}` lacks `{fragment}`");
    };

    // Unauthenticated.
    let resp = app.client.post(&url).body(json(&aarch64)).send().await.expect("send");
    let status = resp.status().as_u16();
    expect(status, &resp.json().await.expect("json"), 401, "unauthenticated", "tierwatch token create");
    let (status, body) = app.upload("tw_nope_0000", json(&aarch64)).await;
    expect(status, &body, 401, "unauthenticated", "unknown or wrong token");
    // Wrong scope.
    let (status, body) = app.upload(&token, json(&x86)).await;
    expect(
        status,
        &body,
        403,
        "forbidden",
        "may report for aarch64-unknown-linux-gnu; this report is for `wasm32-wasip1`",
    );
    // Wrong role.
    let maintainer = app.token("maintainer", &["*"]).await;
    let (status, body) = app.upload(&maintainer, json(&aarch64)).await;
    expect(status, &body, 403, "forbidden", "needs a `runner` token");
    // Oversized, plain and as a gzip bomb.
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(600 * 1024));
    let (status, body) = app.upload(&token, big.clone()).await;
    expect(status, &body, 413, "too-large", "larger than 524288 bytes");
    let resp = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("content-encoding", "gzip")
        .body(gzip(&big))
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    expect(status, &resp.json().await.expect("json"), 413, "too-large", "larger than");
    // Malformed: not JSON, a wrong field type, a missing field, a wrong version.
    let (status, body) = app.upload(&token, "{ not json").await;
    expect(status, &body, 422, "invalid-report", "line 1");
    let mut wrong = serde_json::to_value(&aarch64).expect("value");
    wrong["spec"][2]["directives"][1]["outcome"] = "maybe".into();
    let (status, body) = app.upload(&token, wrong.to_string()).await;
    expect(status, &body, 422, "invalid-report", "unknown variant `maybe`");
    assert_eq!(body["error"]["field"], "spec[2].directives[1].outcome");
    let mut missing = serde_json::to_value(&aarch64).expect("value");
    missing.as_object_mut().expect("object").remove("engine");
    let (status, body) = app.upload(&token, missing.to_string()).await;
    expect(status, &body, 422, "invalid-report", "missing field `engine`");
    let mut version = serde_json::to_value(&aarch64).expect("value");
    version["version"] = 7.into();
    let (status, body) = app.upload(&token, version.to_string()).await;
    expect(status, &body, 422, "invalid-report", "version: this tierwatch reads versions 1, 2 and 3, found 7");
    // Dimensions: only from version 3, only the policy's.
    let mut dims = serde_json::to_value(&aarch64).expect("value");
    dims["version"] = 2.into();
    dims["dimensions"] = serde_json::json!({"build": "no_std"});
    let (status, body) = app.upload(&token, dims.to_string()).await;
    expect(status, &body, 422, "invalid-report", "version: `dimensions` needs version 3; send version 3");
    dims["version"] = 3.into();
    let (status, body) = app.upload(&token, dims.to_string()).await;
    expect(status, &body, 422, "invalid-report", "the policy declares no dimension `build` (declared: compiled-on)");
    assert_eq!(body["error"]["field"], "dimensions.build");
    dims["dimensions"] = serde_json::json!({"Build": "x"});
    let (status, body) = app.upload(&token, dims.to_string()).await;
    expect(status, &body, 422, "invalid-report", "dimensions: name `Build`: write 1 to 64 characters of a-z 0-9 _ -");
    let mut bad_id = serde_json::to_value(&aarch64).expect("value");
    bad_id["run-id"] = "a/b\nc".into();
    let (status, body) = app.upload(&token, bad_id.to_string()).await;
    expect(status, &body, 422, "invalid-report", "run-id: must be 1 to 128 characters");
    let mut twice = serde_json::to_value(&aarch64).expect("value");
    let campaign = serde_json::json!({"name": "c", "oracle": "validation", "seed": 1, "generator-features": [], "iterations": 1, "valid-modules": 1, "duration-secs": 1.0});
    twice["fuzz"] = serde_json::json!([campaign.clone(), campaign]);
    let (status, body) = app.upload(&token, twice.to_string()).await;
    expect(status, &body, 422, "invalid-report", "campaign `c` appears twice");
    assert_eq!(body["error"]["field"], "fuzz[1].name");
    // Unsupported encodings.
    let resp = app
        .client
        .post(&url)
        .bearer_auth(&token)
        .header("content-encoding", "br")
        .body(json(&aarch64))
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    expect(status, &resp.json().await.expect("json"), 415, "unsupported-media-type", "Content-Encoding `br`");

    assert_eq!(run_count(&app).await, 0, "nothing was stored");
    assert!(app.state.store.directives(&aarch64.run_id, false).await.expect("query").is_empty());

    // Conflicting: same run id, different body. The first stays, unchanged.
    let (status, _) = app.upload(&token, json(&aarch64)).await;
    assert_eq!(status, 201);
    let mut changed = aarch64.clone();
    changed.spec[0].directives[0].outcome = Outcome::Fail;
    let (status, body) = app.upload(&token, json(&changed)).await;
    expect(status, &body, 409, "conflict", "already uploaded with different content");
    assert_eq!(run_count(&app).await, 1);
    let stored = app.state.store.directives(&aarch64.run_id, true).await.expect("query");
    assert_eq!(
        stored.iter().filter(|d| d.outcome == "fail").count(),
        aarch64.spec.iter().map(|f| f.count(Outcome::Fail)).sum::<usize>()
    );
}

fn gzip(text: &str) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).expect("gzip");
    enc.finish().expect("gzip")
}

async fn gzip_uploads_are_accepted(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let report = fresh_fixture().remove(3);
    let resp = app
        .client
        .post(format!("{}/api/v1/runs", app.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(&json(&report)))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 201);
    let run = app.get_json(&format!("/api/v1/runs/{}", report.run_id)).await;
    assert_eq!(run["target"].as_str(), Some(report.target.triple.as_str()));
}

async fn a_regression_is_recorded_in_history_and_diffed(db: Db) {
    let app = spawn_app(db).await;
    ingest_all(&app).await;
    let token = app.token("runner", &["aarch64-unknown-linux-gnu"]).await;
    let next = |id: &str, hours: i64, fail: bool| {
        let mut r = later_run("seed-aarch64-unknown-linux-gnu-cranelift", id, hours);
        if fail {
            let f = r.spec.iter_mut().find(|f| f.file == "br.wast").expect("br.wast");
            f.directives[1].outcome = Outcome::Fail;
            f.directives[1].message = Some("expected i32:1, got i32:0".into());
        }
        r
    };
    let (status, body) = app.upload(&token, json(&next("aarch64-regressed", 1, true))).await;
    assert_eq!(status, 201, "{body}");
    let changed: Vec<&str> = body["changed"].as_array().expect("changed").iter().filter_map(Value::as_str).collect();
    assert!(changed.contains(&"aarch64-unknown-linux-gnu"), "{body}");

    let history = app.get_json("/api/v1/history?feature=aarch64-unknown-linux-gnu").await;
    let last = history.as_array().expect("history").last().expect("an entry");
    assert_eq!(
        (last["status"].as_str(), last["earned"].as_i64(), last["cause"].as_str()),
        (Some("violating"), Some(3), Some("aarch64-regressed"))
    );
    assert!(last["missing"].as_array().expect("missing").contains(&"CI testing".into()), "{last}");

    let run = app.get_json("/api/v1/runs/aarch64-regressed").await;
    assert_eq!(run["diff"]["previous"], "seed-aarch64-unknown-linux-gnu-cranelift");
    let regressed = run["diff"]["regressed"].as_array().expect("regressed");
    assert_eq!(regressed.len(), 1);
    assert_eq!((regressed[0]["test"].as_str(), regressed[0]["line"].as_i64()), (Some("wasm-spec/br.wast"), Some(10)));
    assert_eq!(run["failures"][0]["message"], "expected i32:1, got i32:0");

    // Back to passing with the same engine: the directive flipped, a flake.
    let (status, _) = app.upload(&token, json(&next("aarch64-recovered", 2, false))).await;
    assert_eq!(status, 201);
    let run = app.get_json("/api/v1/runs/aarch64-recovered").await;
    assert_eq!(run["diff"]["fixed"].as_array().map(Vec::len), Some(1));
    assert_eq!(run["flaky"], serde_json::json!([["wasm-spec/br.wast", 10]]));
    let f = app.get_json("/api/v1/features/aarch64-unknown-linux-gnu").await;
    assert_eq!(f["status"], "conforming");
    // The feature page shows the flake too.
    let (status, page) = app.get_text("/features/aarch64-unknown-linux-gnu").await;
    assert_eq!(status, 200);
    let flaky = page.split("<h2>Flaky directives</h2>").nth(1).and_then(|s| s.split("<h2>").next()).expect("section");
    assert!(
        flaky.contains("<td>aarch64-unknown-linux-gnu/cranelift</td><td>wasm-spec/br.wast</td><td>10</td>"),
        "{flaky}"
    );
}

/// Run A fails br.wast:10; run B (after it, same target and compiler)
/// passes it again, fails br.wast:15, lost address0.wast (4 directives) and
/// gained 250 directives: one of each class, and more "new" than a page.
async fn a_run_diff_has_four_classes_each_counted_and_paged(db: Db) {
    let app = spawn_app(db).await;
    ingest_all(&app).await;
    let token = app.token("runner", &["aarch64-unknown-linux-gnu"]).await;
    let later = |id: &str, hours: i64| later_run("seed-aarch64-unknown-linux-gnu-cranelift", id, hours);
    let mut a = later("diff-a", 1);
    let f = a.spec.iter_mut().find(|f| f.file == "br.wast").expect("br.wast");
    f.directives[1].outcome = Outcome::Fail;
    f.directives[1].message = Some("expected i32:1, got i32:0".into());
    let (status, body) = app.upload(&token, json(&a)).await;
    assert_eq!(status, 201, "{body}");

    let mut b = later("diff-b", 2);
    b.spec.retain(|f| f.file != "address0.wast");
    let f = b.spec.iter_mut().find(|f| f.file == "br.wast").expect("br.wast");
    f.directives[2].outcome = Outcome::Fail;
    f.directives[2].message = Some("unreachable executed".into());
    let template = f.directives[0].clone();
    f.directives.extend((0..250).map(|i| matrix::evidence::Directive { line: 1000 + i, ..template.clone() }));
    let (status, body) = app.upload(&token, json(&b)).await;
    assert_eq!(status, 201, "{body}");

    let run = app.get_json("/api/v1/runs/diff-b").await;
    let diff = &run["diff"];
    assert_eq!(diff["previous"], "diff-a");
    assert_eq!(diff["counts"], serde_json::json!({"regressed": 1, "fixed": 1, "new": 250, "gone": 4}), "{diff}");
    let one = |class: &str| {
        (
            diff[class][0]["test"].clone(),
            diff[class][0]["line"].clone(),
            diff[class][0]["before"].clone(),
            diff[class][0]["outcome"].clone(),
        )
    };
    assert_eq!(one("regressed"), ("wasm-spec/br.wast".into(), 15.into(), "pass".into(), "fail".into()));
    assert_eq!(one("fixed"), ("wasm-spec/br.wast".into(), 10.into(), "fail".into(), "pass".into()));
    assert_eq!(diff["fixed"][0]["message"], "expected i32:1, got i32:0", "a fixed row says why it failed before");
    assert_eq!(one("new"), ("wasm-spec/br.wast".into(), 1000.into(), Value::Null, "pass".into()));
    assert_eq!(one("gone"), ("wasm-spec/address0.wast".into(), 1.into(), "pass".into(), Value::Null));
    assert_eq!(diff["new"].as_array().map(Vec::len), Some(100), "the detail carries a first page");
    let not_passed = b.spec.iter().flat_map(|f| &f.directives).filter(|d| d.outcome != Outcome::Pass).count()
        + b.wasi.iter().filter(|w| w.outcome != Outcome::Pass).count();
    assert_eq!(run["failures-total"].as_u64(), Some(not_passed as u64));
    let failures = run["failures"].as_array().expect("failures");
    assert!(failures.iter().any(|d| d["test"] == "wasm-spec/br.wast" && d["line"] == 15), "{run}");

    // The listing pages through a class by test and line.
    let page = app.get_json("/api/v1/runs/diff-b/directives?class=new&offset=240&limit=50").await;
    assert_eq!(
        (page["total"].as_i64(), page["offset"].as_i64(), page["previous"].as_str()),
        (Some(250), Some(240), Some("diff-a"))
    );
    let lines: Vec<i64> = page["rows"].as_array().expect("rows").iter().filter_map(|r| r["line"].as_i64()).collect();
    assert_eq!(lines, (1240..1250).collect::<Vec<_>>());
    let gone = app.get_json("/api/v1/runs/diff-b/directives?class=gone").await;
    let lines: Vec<i64> = gone["rows"].as_array().expect("rows").iter().filter_map(|r| r["line"].as_i64()).collect();
    assert_eq!(lines, [1, 10, 15, 20]);
    // The first run of a target has nothing to compare with: no class holds anything.
    let first = app.get_json("/api/v1/runs/seed-x86_64-unknown-linux-gnu-winch/directives?class=gone").await;
    assert_eq!((first["total"].as_i64(), first.get("previous")), (Some(0), None), "{first}");
    for (query, says) in [
        ("class=regresed", "class `regresed` is not one of not-passed, regressed, fixed, new, gone"),
        ("offset=-1", "offset `-1`: give a whole number from 0 to 100000000"),
        ("limit=0", "limit `0`: give a whole number from 1 to 1000"),
    ] {
        let r =
            app.client.get(format!("{}/api/v1/runs/diff-b/directives?{query}", app.base)).send().await.expect("get");
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"]["message"], says, "{query}");
    }
    let r = app.client.get(format!("{}/api/v1/runs/nope/directives", app.base)).send().await.expect("get");
    assert_eq!(r.status(), 404);

    // The page names each class with its count, and announces the cut.
    let (status, html) = app.get_text("/runs/diff-b").await;
    assert_eq!(status, 200);
    let not_passed_heading = format!("Not passed ({not_passed})");
    for heading in ["Regressed (1)", "Fixed (1)", "New (250)", "Gone (4)", &not_passed_heading] {
        assert!(html.contains(heading), "{heading} missing");
    }
    assert!(
        html.contains(
            "Showing the first 100 of 250. <a href=\"/runs/diff-b/directives?class=new\">All 250, page by page</a>"
        ),
        "{html}"
    );
    let (status, html) = app.get_text("/runs/diff-b/directives?class=new&page=2").await;
    assert_eq!(status, 200);
    assert!(html.contains("Rows 201–250 of 250."), "{html}");
    assert!(html.contains("page 2 of 2") && html.contains("rel=\"prev\"") && !html.contains("rel=\"next\""), "{html}");
    assert!(html.contains("<td>wasm-spec/br.wast</td><td>1249</td>") && !html.contains("<td>1199</td>"), "{html}");
    let (status, _) = app.get_text("/runs/diff-b/directives?class=new&page=0").await;
    assert_eq!(status, 400);
}

async fn report_text_is_escaped_in_pages(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let mut r =
        fresh_fixture().into_iter().find(|r| r.run_id == "seed-s390x-unknown-linux-gnu-cranelift").expect("fixture");
    r.run_id = "hostile".into();
    r.target.triple = "<script>alert(1)</script>".into();
    let (status, body) = app.upload(&token, json(&r)).await;
    assert_eq!((status, body["state"].as_str()), (201, Some("evaluated")), "{body}");
    for page in ["/features/simd", "/runs/hostile", "/runs", "/"] {
        let (status, html) = app.get_text(page).await;
        assert_eq!(status, 200, "{page}");
        assert!(!html.contains("<script>alert(1)"), "{page} carries the script unescaped");
        assert!(
            html.contains("&lt;script&gt;alert(1)") || html.contains("&#60;script&#62;alert(1)"),
            "{page} lacks the escaped name"
        );
    }
}

async fn a_nul_in_report_text_is_stored_as_a_replacement_character(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let mut r =
        fresh_fixture().into_iter().find(|r| r.run_id == "seed-s390x-unknown-linux-gnu-cranelift").expect("fixture");
    r.run_id = "nul".into();
    let failing =
        r.spec.iter_mut().flat_map(|f| f.directives.iter_mut()).find(|d| d.message.is_some()).expect("a message");
    failing.message = Some("export \0name\0 differs".into());
    let (status, body) = app.upload(&token, json(&r)).await;
    assert_eq!((status, body["state"].as_str()), (201, Some("evaluated")), "{body}");
    let (status, again) = app.upload(&token, json(&r)).await;
    assert_eq!((status, again["duplicate"].as_bool()), (200, Some(true)), "the same body is the same run: {again}");
    let (_, page) = app.get_text("/api/v1/runs/nul").await;
    assert!(page.contains("export \u{fffd}name\u{fffd} differs"), "{page}");
    // A NUL in a lookup is no server error: it matches nothing stored.
    for (path, expected) in [
        ("/api/v1/runs?target=s390x%00", 200),
        ("/api/v1/runs?compiler=%00", 200),
        ("/api/v1/runs/nul%00", 404),
        ("/api/v1/history?feature=simd%00", 200),
    ] {
        let (status, body) = app.get_text(path).await;
        assert_eq!(status, expected, "{path}: {body}");
    }
    // In a name, a NUL or another control character is refused, naming
    // the field; nothing is stored.
    for (i, name) in ["runner\0one", "runner\u{1b}[2J"].into_iter().enumerate() {
        let mut named = r.clone();
        named.run_id = format!("nul-name-{i}");
        named.runner.name = name.into();
        let (status, body) = app.upload(&token, json(&named)).await;
        assert_eq!((status, body["error"]["field"].as_str()), (422, Some("runner.name")), "{body}");
        let (status, _) = app.get_text(&format!("/api/v1/runs/nul-name-{i}")).await;
        assert_eq!(status, 404, "a refused run is not stored");
    }
}

async fn runs_no_feature_uses_are_rejected(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let mut r = fresh_fixture().remove(0);
    r.run_id = "mips-run".into();
    r.target.triple = "mips64-unknown-linux-gnuabi64".into();
    r.engine.compiler = "singlepass".into();
    let (status, body) = app.upload(&token, json(&r)).await;
    assert_eq!((status, body["state"].as_str()), (201, Some("rejected")), "{body}");
    assert!(
        body["state-reason"].as_str().expect("reason").contains("no feature of the policy selects runs on `mips64")
    );
    let runs = app.get_json("/api/v1/runs").await;
    assert_eq!(runs[0]["state"], "rejected");
}

async fn state_survives_a_restart(db: Db) {
    let app = spawn_app(db).await;
    ingest_all(&app).await;
    let before = app.get_json("/api/v1/matrix").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let again = common::spawn_on(app.database_url.clone(), dir, 8 * 1024 * 1024).await;
    let after = again.get_json("/api/v1/matrix").await;
    assert_eq!(before["features"], after["features"]);
    assert_eq!(run_count(&again).await, run_count(&app).await);
    // A restart with nothing new records no new history.
    let h1 = app.get_json("/api/v1/history").await.as_array().map(Vec::len);
    let h2 = again.get_json("/api/v1/history").await.as_array().map(Vec::len);
    assert_eq!(h1, h2);
}

async fn live_events_announce_new_runs(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let mut events = app.client.get(format!("{}/events", app.base)).send().await.expect("subscribe");
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let report = fresh_fixture().remove(0);
    let (status, _) = app.upload(&token, json(&report)).await;
    assert_eq!(status, 201);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !seen.contains("\"run-id\"") {
        let chunk =
            tokio::time::timeout_at(deadline, events.chunk()).await.expect("an event within 10 s").expect("stream");
        seen.push_str(&String::from_utf8_lossy(&chunk.expect("open stream")));
    }
    assert!(seen.contains("event: update"), "{seen}");
    assert!(seen.contains(&report.run_id), "{seen}");
}

/// One error, two readers: a browser asking for a page gets the message as
/// a page with the same status, an API client (or any `/api/` path) the JSON.
async fn browsers_get_error_pages_and_api_clients_json(db: Db) {
    let app = spawn_app(db).await;
    ingest_all(&app).await;
    let get = |path: &str, accept: Option<&str>| {
        let mut req = app.client.get(format!("{}{path}", app.base));
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        async move {
            let r = req.send().await.expect("get");
            let kind = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
            (r.status().as_u16(), kind, r.text().await.expect("text"))
        }
    };
    let browser = Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
    let (status, kind, body) = get("/no/such/page", browser).await;
    assert_eq!((status, kind.as_str()), (404, "text/html; charset=utf-8"), "{body}");
    assert!(body.contains("<h1>Not Found</h1>") && body.contains("nothing at `/no/such/page`"), "{body}");
    let (status, kind, body) = get("/no/such/page", None).await;
    assert_eq!((status, kind.as_str()), (404, "application/json"), "{body}");
    assert!(body.contains(r#""code":"not-found""#), "{body}");
    let (status, kind, body) = get("/features/nope", browser).await;
    assert!(status == 404 && kind.starts_with("text/html") && body.contains("nope"), "{status} {kind} {body}");
    let (status, kind, _) = get("/api/v1/features/nope", browser).await;
    assert_eq!((status, kind.as_str()), (404, "application/json"), "the API answers JSON even to a browser");
    let (status, kind, body) = get("/runs/seed-x86_64-unknown-linux-gnu-winch/directives?class=all", browser).await;
    assert!(status == 400 && kind.starts_with("text/html"), "{status} {kind}");
    assert!(body.contains("class `all` is not one of not-passed, regressed, fixed, new, gone"), "{body}");
    let (status, kind, body) = get("/favicon.ico", browser).await;
    assert_eq!((status, kind.as_str()), (200, "image/svg+xml"));
    assert!(body.starts_with("<svg"), "{body}");
    let (_, _, page) = get("/", browser).await;
    assert!(page.contains(r#"<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">"#));
}

async fn operations_endpoints_answer(db: Db) {
    let app = spawn_app(db).await;
    ingest_all(&app).await;
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
    let (status, metrics) = app.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("tierwatch_runs{state=\"evaluated\"} 13"), "{metrics}");
    assert!(metrics.contains("tierwatch_features{status=\"conforming\"} 45"), "{metrics}");
    assert!(metrics.contains("tierwatch_features{status=\"no-test-data\"} 1"), "{metrics}");
    assert!(metrics.contains("tierwatch_uploads_total{outcome=\"accepted\"} 13"), "{metrics}");
    let (status, svg) = app.get_text("/badges/simd.svg").await;
    assert_eq!(status, 200);
    assert!(svg.starts_with("<svg") && svg.contains("tier 1 · conforming"), "{svg}");
    let (status, _) = app.get_text("/badges/nope.svg").await;
    assert_eq!(status, 404);
    let campaigns = app.get_json("/api/v1/fuzz/campaigns").await;
    assert_eq!(campaigns.as_array().map(Vec::len), Some(2));
    let crashes = app.get_json("/api/v1/fuzz/crashes").await;
    assert_eq!(
        (crashes[0]["signature"].as_str(), crashes[0]["open"].as_bool()),
        (Some("wasmtime:trap-mismatch:i64.rem_s"), Some(false))
    );
    let targets = app.get_json("/api/v1/targets").await;
    assert_eq!(targets.as_array().map(Vec::len), Some(14));
    // Every API route is in the OpenAPI document.
    let openapi = app.get_json("/api/v1/openapi.json").await;
    for path in [
        "/api/v1/runs",
        "/api/v1/runs/{id}",
        "/api/v1/runs/{id}/directives",
        "/api/v1/matrix",
        "/api/v1/features",
        "/api/v1/features/{id}",
        "/api/v1/targets",
        "/api/v1/history",
        "/api/v1/fuzz/campaigns",
        "/api/v1/fuzz/crashes",
        "/TIERS.md",
        "/badges/{file}",
        "/healthz",
        "/metrics",
        "/api/v1/tables",
        "/api/v1/tables/{id}",
    ] {
        assert!(openapi["paths"].get(path).is_some(), "{path} is not documented");
    }
    for page in
        ["/", "/features/simd", "/runs", "/runs/seed-x86_64-unknown-linux-gnu-winch", "/fuzz", "/static/style.css"]
    {
        let (status, _) = app.get_text(page).await;
        assert_eq!(status, 200, "{page}");
    }
}

async fn a_runs_script_configurations_and_no_evidence_outcomes_are_shown(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let mut report = fresh_fixture().remove(0);
    report.run_id = "configured".into();
    let settings = |features: &[&str], off: &[&str]| matrix::evidence::ScriptSettings {
        features: features.iter().map(|s| (*s).to_owned()).collect(),
        off: off.iter().map(|s| (*s).to_owned()).collect(),
    };
    report.spec[0].config = Some(settings(&["bulk_memory", "gc"], &["gc"]));
    report.spec[0].directives[1].outcome = Outcome::Unsupported;
    report.spec[0].directives[1].message = Some("needs gc, which this compiler lacks".into());
    report.spec[1].config = Some(settings(&["bulk_memory"], &[]));
    let (status, body) = app.upload(&token, json(&report)).await;
    assert_eq!(status, 201, "{body}");
    let run = app.get_json("/api/v1/runs/configured").await;
    let key = report.spec[0].key();
    assert_eq!(run["configs"][&key]["features"], serde_json::json!(["bulk_memory", "gc"]), "{run}");
    assert_eq!(run["configs"][&key]["off"], serde_json::json!(["gc"]), "{run}");
    assert!(run["configs"].get(report.spec[1].key()).is_none(), "only scripts that did not pass: {run}");
    assert_eq!(run["skipped"], 1, "unsupported is no evidence: {run}");
    let (status, page) = app.get_text("/runs/configured").await;
    assert_eq!(status, 200);
    assert!(page.contains("bulk_memory, gc") && page.contains("needs gc, which this compiler lacks"), "{page}");
}

async fn a_crash_that_does_not_replay_the_same_way_is_under_triage(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    ingest_all(&app).await;
    let simd = async || app.get_json("/api/v1/features/simd").await;
    assert_eq!(simd().await["status"], "conforming");
    // A later fuzz run finds the fixture's crash again, open; its values
    // changed between replays.
    let mut again = fresh_fixture()
        .into_iter()
        .find(|r| !r.fuzz.is_empty() && r.target.triple == "x86_64-unknown-linux-gnu")
        .expect("the fixture has an x86_64 fuzz run");
    again.run_id = "fuzz-varies".into();
    again.finished_at += jiff::SignedDuration::from_secs(60);
    let crash = &mut again.fuzz[0].crashes[0];
    (crash.open, crash.replay) = (true, Some(matrix::evidence::CrashReplay::Varies));
    let signature = crash.signature.clone();
    let (status, body) = app.upload(&token, json(&again)).await;
    assert_eq!(status, 201, "{body}");
    let crashes = app.get_json("/api/v1/fuzz/crashes").await;
    let row = crashes.as_array().and_then(|a| a.iter().find(|c| c["signature"] == signature.as_str())).cloned();
    let row = row.expect("the crash is listed");
    assert_eq!(
        (&row["open"], &row["replay"], &row["under-triage"]),
        (&Value::Bool(true), &Value::from("varies"), &Value::Bool(true))
    );
    assert_eq!(simd().await["status"], "conforming", "not counted while under triage");
    let (_, page) = app.get_text("/fuzz").await;
    assert!(page.contains("under triage"), "{page}");
    // The same crash, replaying deterministically: now it counts.
    again.run_id = "fuzz-deterministic".into();
    again.finished_at += jiff::SignedDuration::from_secs(60);
    again.fuzz[0].crashes[0].replay = Some(matrix::evidence::CrashReplay::Deterministic);
    let (status, body) = app.upload(&token, json(&again)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(simd().await["status"], "violating");
}

async fn reports_dated_where_no_run_can_be_are_refused(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    ingest_all(&app).await;
    let runs_before = app.get_json("/api/v1/runs").await;
    let base = fresh_fixture().into_iter().find(|r| !r.build_only).expect("a fixture run");
    let dated = |id: &str, finished: &str| {
        let mut r = base.clone();
        r.run_id = id.into();
        r.finished_at = finished.parse().expect("timestamp");
        r.started_at = r.finished_at - jiff::SignedDuration::from_mins(5);
        r
    };
    // Far in the future: it would stay its target's latest run for good.
    let (status, body) = app.upload(&token, json(&dated("from-2099", "2099-01-01T00:00:00Z"))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "finished-at", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("2099-01-01") && message.contains("--max-clock-skew-seconds"), "{message}");
    // An hour ahead is past the default ten minutes of skew too; five
    // minutes ahead is within it.
    let ahead = |d: jiff::SignedDuration| (jiff::Timestamp::now() + d).to_string();
    let (status, body) =
        app.upload(&token, json(&dated("hour-ahead", &ahead(jiff::SignedDuration::from_hours(1))))).await;
    assert_eq!(status, 422, "{body}");
    // Older than the evidence horizon: it could never count.
    let (status, body) = app.upload(&token, json(&dated("from-2001", "2001-01-01T00:00:00Z"))).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("horizon"), "{body}");
    // Nothing of them was stored.
    assert_eq!(app.get_json("/api/v1/runs").await, runs_before);
    for id in ["from-2099", "hour-ahead", "from-2001"] {
        let (status, _) = app.get_text(&format!("/api/v1/runs/{id}")).await;
        assert_eq!(status, 404, "{id} was stored");
    }
    let (status, body) =
        app.upload(&token, json(&dated("slightly-ahead", &ahead(jiff::SignedDuration::from_mins(5))))).await;
    assert_eq!(status, 201, "{body}");
}

/// The ingestion race: every fixture report at once, and one run id sent
/// eight times at once beside them. Each distinct run is stored and
/// evaluated once; of the eight copies one is created and seven are
/// answered as duplicates of it; nothing answers 5xx, and once every answer
/// is in no run is left `received`.
async fn concurrent_uploads_race_to_one_stored_run_each(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let reports = fresh_fixture();
    let mut twin = reports[0].clone();
    twin.run_id = "raced".into();
    let bodies: Vec<String> = reports.iter().map(json).chain(std::iter::repeat_n(json(&twin), 8)).collect();
    let uploads = bodies.into_iter().map(|body| {
        let (client, url, token) = (app.client.clone(), format!("{}/api/v1/runs", app.base), token.clone());
        tokio::spawn(async move {
            let resp = client.post(url).bearer_auth(token).header("content-type", "application/json").body(body).send();
            let resp = resp.await.expect("send");
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.expect("json");
            (status, body)
        })
    });
    let mut answers = Vec::new();
    for task in uploads.collect::<Vec<_>>() {
        answers.push(task.await.expect("task"));
    }
    let of_twin: Vec<u16> = answers.iter().filter(|(_, b)| b["run-id"] == "raced").map(|(s, _)| *s).collect();
    let mut sorted = of_twin.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [200, 200, 200, 200, 200, 200, 200, 201], "one creation, seven duplicates: {answers:?}");
    for (status, body) in &answers {
        // A duplicate may be answered while its first copy is still being
        // evaluated; a creation is answered once it is evaluated.
        let state = body["state"].as_str().unwrap_or_default();
        match status {
            201 => assert_eq!(state, "evaluated", "{body}"),
            200 => assert!(matches!(state, "received" | "evaluated"), "{body}"),
            _ => panic!("{status} {body}"),
        }
    }
    let runs = app.get_json("/api/v1/runs?limit=1000").await;
    let runs = runs.as_array().expect("array");
    assert_eq!(runs.len(), reports.len() + 1, "each distinct run stored once");
    assert!(runs.iter().all(|r| r["state"] == "evaluated"), "none left received: {runs:?}");
}

async fn reports_over_the_size_limits_are_refused_naming_the_flag(db: Db) {
    let settings = Settings { max_report_directives: 30, max_report_files: 10, ..Settings::default() };
    let app = spawn_app_with(db, settings).await;
    let token = app.token("runner", &["*"]).await;
    let reports = fresh_fixture();
    let directives = |r: &matrix::RunReport| r.spec.iter().map(|f| f.directives.len()).sum::<usize>();
    let files = |r: &matrix::RunReport| r.spec.len() + r.wasi.len() + r.fuzz.len();
    let many_files = reports.iter().find(|r| files(r) > 10).expect("a fixture report with over 10 files");
    let (status, body) = app.upload(&token, json(many_files)).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("at most 10") && message.contains("--max-report-files"), "{message}");
    let mut few_files = many_files.clone();
    few_files.run_id = "few-files".into();
    few_files.wasi.clear();
    few_files.fuzz.clear();
    few_files.spec.truncate(10);
    assert!(directives(&few_files) > 30, "the fixture's first scripts hold over 30 directives");
    let (status, body) = app.upload(&token, json(&few_files)).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("at most 30") && message.contains("--max-report-directives"), "{message}");
    assert_eq!(run_count(&app).await, 0, "nothing stored");
    // Within both limits it is taken.
    let mut small = few_files.clone();
    small.run_id = "small".into();
    small.spec.truncate(1);
    small.spec[0].directives.truncate(50);
    let (status, body) = app.upload(&token, json(&small)).await;
    assert!(matches!(status, 201), "{body}");
}

/// The repository policy with a `build` dimension whose no_std row reads
/// `build: no_std` runs of any target.
fn policy_with_build_dimension() -> matrix::Policy {
    let text = std::fs::read_to_string(common::root().join("policy/wasmtime.yaml")).expect("policy");
    let text = text
        .replacen(
            "\ndimensions:\n",
            "\ndimensions:\n  - { id: build, description: How the engine was built., values: [std, no_std], default: std }\n",
            1,
        )
        .replacen(
            "evidence: { targets: [x86_64-unknown-none] }",
            "evidence: { targets: [], dimensions: { build: [no_std] } }",
            1,
        );
    matrix::validate("wasmtime.yaml", &text).unwrap_or_else(|d| panic!("{d}"))
}

async fn runs_of_another_dimension_are_stored_shown_and_compared_apart(db: Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = common::database(db, &dir).await;
    let app = common::spawn_policy(url, dir, Settings::default(), policy_with_build_dimension()).await;
    ingest_all(&app).await;
    let token = app.token("runner", &["*"]).await;
    let base =
        fresh_fixture().into_iter().find(|r| r.run_id == "seed-x86_64-unknown-linux-gnu-cranelift").expect("fixture");
    let mut no_std = base.clone();
    no_std.run_id = "x86_64-no-std".into();
    no_std.version = matrix::evidence::VERSION;
    no_std.dimensions.insert("build".into(), "no_std".into());
    no_std.started_at += jiff::SignedDuration::from_hours(1);
    no_std.finished_at += jiff::SignedDuration::from_hours(1);
    let f = no_std.spec.iter_mut().find(|f| f.file == "br.wast").expect("br.wast");
    f.directives[1].outcome = Outcome::Fail;
    f.directives[1].message = Some("expected i32:1, got i32:0".into());
    let (status, body) = app.upload(&token, json(&no_std)).await;
    assert_eq!((status, body["state"].as_str()), (201, Some("evaluated")), "{body}");

    // Stored with its dimensions; listed and shown with them.
    let runs = app.get_json("/api/v1/runs?target=x86_64-unknown-linux-gnu").await;
    let listed =
        runs.as_array().expect("runs").iter().find(|r| r["run-id"] == "x86_64-no-std").expect("listed").clone();
    assert_eq!(listed["dimensions"], "build=no_std");
    let (code, page) = app.get_text("/runs").await;
    assert!(code == 200 && page.contains("<em>[build=no_std]</em>"), "{page}");
    // Nothing earlier to compare with: the ordinary run of the same target
    // and compiler is not a previous run of a no_std build.
    let run = app.get_json("/api/v1/runs/x86_64-no-std").await;
    assert!(run["diff"]["previous"].is_null(), "{}", run["diff"]);
    // The ordinary x86_64 row keeps its Tier 1; the no_std row reads the
    // failing no_std run and says where.
    let linux = app.get_json("/api/v1/features/x86_64-unknown-linux-gnu").await;
    assert_eq!(linux["status"], "conforming", "{linux}");
    let no_std_row = app.get_json("/api/v1/features/no-std").await;
    assert_eq!(no_std_row["status"], "violating", "{no_std_row}");
    let text = no_std_row.to_string();
    assert!(
        text.contains("wasm-spec/br.wast on x86_64-unknown-linux-gnu/cranelift [build=no_std] (1 failing)"),
        "{text}"
    );
    // A value the policy does not allow is refused by name.
    no_std.run_id = "x86_64-no-std-2".into();
    no_std.dimensions.insert("build".into(), "nostd".into());
    let (status, body) = app.upload(&token, json(&no_std)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("invalid-report")), "{body}");
    assert_eq!(body["error"]["message"], "dimensions.build: `nostd` is not a value of `build` (values: std, no_std)");
    assert_eq!(body["error"]["field"], "dimensions.build");
}

async fn support_tables_are_served_as_json_and_pages(db: Db) {
    let app = spawn_app(db).await;
    ingest_all(&app).await;
    let tables = app.get_json("/api/v1/tables").await;
    assert_eq!(tables[0]["id"], "wasm-proposals", "{tables}");
    let table = app.get_json("/api/v1/tables/wasm-proposals").await;
    let x86 = table["architectures"]
        .as_array()
        .expect("architectures")
        .iter()
        .find(|a| a["id"] == "x86_64")
        .expect("x86_64")
        .clone();
    let simd = x86["rows"].as_array().expect("rows").iter().find(|r| r["feature"] == "simd").expect("simd").clone();
    let cell = |backend: &str| {
        simd["cells"].as_array().expect("cells").iter().find(|c| c["backend"] == backend).expect("cell").clone()
    };
    // Computed from the uploaded runs: Cranelift passes, Winch fails some.
    assert_eq!(
        (cell("cranelift")["level"].as_str(), cell("cranelift")["declared"].as_bool()),
        (Some("supported"), Some(false))
    );
    assert_eq!(cell("winch")["level"], "in-progress");
    assert!(cell("winch")["failed"].as_u64().is_some_and(|n| n > 0));
    assert_eq!(
        (cell("pulley")["level"].as_str(), cell("pulley")["declared"].as_bool()),
        (Some("not-applicable"), Some(true))
    );
    // The page: a tab per architecture, the chosen one shown.
    let (status, page) = app.get_text("/tables/wasm-proposals?arch=s390x").await;
    assert_eq!(status, 200);
    for tab in ["?arch=x86_64", "?arch=aarch64", "?arch=s390x", "?arch=riscv64", "?arch=interpreter"] {
        assert!(page.contains(tab), "{tab} missing");
    }
    assert!(page.contains("<h2>s390x</h2>") && page.contains("aria-current=\"page\""), "{page}");
    assert!(page.contains("class=\"level not-applicable\""), "{page}");
    let (status, body) = app.get_text("/tables/wasm-proposals?arch=mips").await;
    assert!(status == 404 && body.contains("has no architecture `mips`"), "{status} {body}");
    let (status, body) = app.get_text("/api/v1/tables/nope").await;
    assert!(status == 404 && body.contains("no support table `nope`"), "{status} {body}");
    let (status, page) = app.get_text("/tables").await;
    assert!(status == 200 && page.contains("<h2>x86_64</h2>"), "{status}: /tables leads to the first table");
    // A Pulley run: no row selects it, the support table does; it is
    // evaluated, not rejected, and fills the interpreter's column.
    let token = app.token("runner", &["*"]).await;
    let mut pulley =
        fresh_fixture().into_iter().find(|r| r.run_id == "seed-x86_64-unknown-linux-gnu-cranelift").expect("fixture");
    pulley.run_id = "x86_64-pulley".into();
    pulley.engine.compiler = "pulley".into();
    let (status, body) = app.upload(&token, json(&pulley)).await;
    assert_eq!((status, body["state"].as_str()), (201, Some("evaluated")), "{body}");
    let table = app.get_json("/api/v1/tables/wasm-proposals").await;
    let interp = table["architectures"]
        .as_array()
        .expect("architectures")
        .iter()
        .find(|a| a["id"] == "interpreter")
        .expect("interpreter")
        .clone();
    let gc = interp["rows"].as_array().expect("rows").iter().find(|r| r["feature"] == "gc").expect("gc").clone();
    let cell = gc["cells"].as_array().expect("cells").iter().find(|c| c["backend"] == "pulley").expect("cell").clone();
    assert_eq!(cell["level"], "supported", "{cell}");
    assert_eq!(cell["runs"], serde_json::json!(["x86_64-pulley"]));
}

// Request budgets and connection bounds sit above the store: one database
// shows them.

#[tokio::test]
async fn requests_over_a_budget_are_refused_naming_the_limit_and_its_flag() {
    // Refilled once an hour: nothing refills while the test looks.
    let hour = std::time::Duration::from_secs(3600);
    let rates = tierwatch::rate::RateLimits {
        address_period: hour,
        address_burst: 6,
        token_period: hour,
        token_burst: 3,
        ..Default::default()
    };
    let app = spawn_app_with(Db::Sqlite, Settings { rates, ..Settings::default() }).await;
    let (a, b) = (app.token("runner", &["*"]).await, app.token("runner", &["*"]).await);
    let get = |token: &str| app.client.get(format!("{}/api/v1/runs", app.base)).bearer_auth(token.to_owned()).send();
    for _ in 0..3 {
        assert_eq!(get(&a).await.expect("request").status(), 200, "within token a's burst");
    }
    let refused = get(&a).await.expect("request");
    assert_eq!(refused.status(), 429, "token a's fourth request at once");
    let retry: u64 = refused.headers()["retry-after"].to_str().expect("text").parse().expect("seconds");
    assert!(retry >= 1, "retry-after {retry}");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate-limited", "{body}");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("with this token") && message.contains("--burst-per-token"), "{message}");
    assert!(message.contains("3 requests at once, or one per 3600 s sustained"), "{message}");
    // Another token has its own budget, until the address's runs out: a
    // made-up token per request does not escape the address's budget.
    for _ in 0..2 {
        assert_eq!(get(&b).await.expect("request").status(), 200, "token b has its own budget");
    }
    let refused = get(&b).await.expect("request");
    assert_eq!(refused.status(), 429, "the address's budget of 6 is spent (4 with a, 2 with b)");
    let body: Value = refused.json().await.expect("json");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(message.contains("from this address") && message.contains("--rate-per-address"), "{message}");
}

/// Behind a trusted proxy each forwarded client has its own budget; the
/// same header from anyone else changes nothing.
#[tokio::test]
async fn behind_a_trusted_proxy_budgets_are_per_forwarded_client() {
    let hour = std::time::Duration::from_secs(3600);
    let budgets = |trusted: Vec<std::net::IpAddr>| tierwatch::rate::RateLimits {
        address_period: hour,
        address_burst: 2,
        token_period: hour,
        token_burst: 100,
        trusted_proxies: trusted,
    };
    let statuses = |app: &TestApp| {
        let (client, url) = (app.client.clone(), format!("{}/healthz", app.base));
        async move {
            let mut out = Vec::new();
            for from in ["203.0.113.1", "203.0.113.1", "203.0.113.1", "203.0.113.2"] {
                out.push(client.get(&url).header("x-forwarded-for", from).send().await.expect("get").status().as_u16());
            }
            out
        }
    };
    let proxied = spawn_app_with(
        Db::Sqlite,
        Settings { rates: budgets(vec!["127.0.0.1".parse().expect("ip")]), ..Settings::default() },
    )
    .await;
    assert_eq!(statuses(&proxied).await, [200, 200, 429, 200], "203.0.113.2 has a budget of its own");
    let direct = spawn_app_with(Db::Sqlite, Settings { rates: budgets(vec![]), ..Settings::default() }).await;
    assert_eq!(statuses(&direct).await, [200, 200, 429, 429], "an untrusted X-Forwarded-For is ignored");
}

#[tokio::test]
async fn a_half_sent_header_is_closed_and_connections_past_the_cap_are_refused_at_once() {
    use std::io::{Read, Write as _};
    use std::time::{Duration, Instant};
    let connections = tierwatch::connections::ConnectionLimits {
        max_connections: 100,
        max_connections_per_address: 2,
        header_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let app = spawn_app_with(Db::Sqlite, Settings { connections, ..Settings::default() }).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let blocking = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut slow = std::net::TcpStream::connect(&addr).expect("connect");
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: tierwatch\r\n").expect("half a header");
        let _held = std::net::TcpStream::connect(&addr).expect("connect");
        std::thread::sleep(Duration::from_millis(200));
        // A third connection from this address is over the cap of 2.
        let mut third = std::net::TcpStream::connect(&addr).expect("connect");
        third.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        let mut refusal = String::new();
        let asked = Instant::now();
        third.read_to_string(&mut refusal).expect("the refusal, then end of stream");
        let refused_after = asked.elapsed();
        // The half header is closed once the header timeout passes.
        slow.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        let mut rest = Vec::new();
        let closed = slow.read_to_end(&mut rest).map(|_| ()).or_else(|e| match e.kind() {
            std::io::ErrorKind::ConnectionReset => Ok(()),
            _ => Err(e),
        });
        (refusal, refused_after, closed, started.elapsed())
    });
    let (refusal, refused_after, closed, slow_for) = blocking.await.expect("client thread");
    assert!(refusal.starts_with("HTTP/1.1 503"), "{refusal}");
    assert!(refusal.contains("--max-connections-per-address"), "{refusal}");
    assert!(refused_after < Duration::from_secs(2), "refused at once, not after {refused_after:?}");
    closed.expect("the half-sent header's connection is closed, not left open");
    assert!(slow_for < Duration::from_secs(5), "closed after the 1 s header timeout, not {slow_for:?}");
    // The server still answers.
    assert_eq!(app.get_text("/healthz").await.0, 200);
}

/// A seed is any u64 (half of them beyond `i64::MAX`): it is shown as sent,
/// so the campaign can be replayed; a count beyond `i64::MAX` is capped,
/// never wrapped negative.
async fn fuzz_seeds_and_counts_beyond_i64_keep_their_value(db: Db) {
    let app = spawn_app(db).await;
    let token = app.token("runner", &["*"]).await;
    let mut run = fresh_fixture().into_iter().find(|r| !r.fuzz.is_empty()).expect("a fuzz run");
    run.fuzz[0].seed = u64::MAX - 6;
    run.fuzz[0].iterations = u64::MAX;
    let name = run.fuzz[0].name.clone();
    let (status, body) = app.upload(&token, json(&run)).await;
    assert_eq!(status, 201, "{body}");
    let campaigns = app.get_json("/api/v1/fuzz/campaigns").await;
    let c = campaigns.as_array().expect("array").iter().find(|c| c["name"] == name.as_str()).expect("the campaign");
    assert_eq!(c["seed"].as_u64(), Some(u64::MAX - 6), "{c}");
    assert_eq!(c["iterations"].as_i64(), Some(i64::MAX), "{c}");
}

/// On SQLite writes take turns on one connection. A write that waits past
/// `--write-queue-timeout-seconds` behind a large upload is answered 503
/// `busy`, naming the flag, never 500; sent again it is stored, and no run
/// is left `received`.
#[tokio::test]
async fn a_write_that_waits_past_the_queue_timeout_is_answered_busy_naming_the_flag() {
    let settings = Settings { write_queue_timeout: std::time::Duration::from_secs(1), ..Settings::default() };
    let app = spawn_app_with(Db::Sqlite, settings).await;
    let token = app.token("runner", &["*"]).await;
    let mut large = later_run("seed-x86_64-unknown-linux-gnu-cranelift", "large", 1);
    for f in &mut large.spec {
        let base = f.directives.clone();
        f.directives = (0..80u32)
            .flat_map(|k| {
                base.iter().map(move |d| matrix::evidence::Directive { line: d.line + k * 100_000, ..d.clone() })
            })
            .collect();
    }
    let n: usize = large.spec.iter().map(|f| f.directives.len()).sum();
    assert!(n > 100_000, "a large upload ({n} directives)");
    let in_flight = {
        let (client, url, token, body) =
            (app.client.clone(), format!("{}/api/v1/runs", app.base), token.clone(), json(&large));
        tokio::spawn(async move {
            client.post(url).bearer_auth(token).header("content-type", "application/json").body(body).send().await
        })
    };
    let (mut busy, mut small) = (Vec::new(), 0);
    while !in_flight.is_finished() {
        small += 1;
        let run = later_run("seed-aarch64-unknown-linux-gnu-cranelift", &format!("small-{small}"), 2);
        let (status, body) = app.upload(&token, json(&run)).await;
        match status {
            201 => {}
            503 => {
                assert_eq!(body["error"]["code"], "busy", "{body}");
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains("--write-queue-timeout-seconds") && message.contains("send it again"),
                    "{message}"
                );
                busy.push(run);
            }
            other => panic!("a small upload beside the large one answered {other}: {body}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let answer = in_flight.await.expect("task").expect("the large upload is answered");
    assert_eq!(answer.status(), 201, "the large upload is stored");
    assert!(!busy.is_empty(), "some of {small} small uploads waited past 1 s behind the large one");
    for run in &busy {
        let (status, body) = app.upload(&token, json(run)).await;
        assert!(matches!(status, 200 | 201), "sent again: {status} {body}");
    }
    let runs = app.get_json("/api/v1/runs?limit=1000").await;
    let runs = runs.as_array().expect("array");
    assert_eq!(runs.len(), small + 1, "every upload stored once");
    assert!(runs.iter().all(|r| r["state"] == "evaluated"), "none left received: {runs:?}");
}
