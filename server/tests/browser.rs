//! The dashboard in a real headless Chromium: what a person sees.

mod common;

use std::process::Command;

use common::{Db, fresh_fixture, json, spawn_app};

/// The DOM after scripts ran, as Chromium renders `url`.
fn dump_dom(url: &str) -> String {
    let chromium = std::env::var("TIERWATCH_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = tempfile::tempdir().expect("profile dir");
    // The page keeps a live-update stream open, so Chromium is given the
    // DOM at the load event; a hung browser is killed rather than waited on.
    let out = Command::new("timeout")
        .arg("60")
        .arg(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{chromium}` ({e}); install Debian's chromium or set TIERWATCH_CHROMIUM")
        });
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

/// Visible text of a DOM: tags dropped, whitespace folded.
fn text(dom: &str) -> String {
    let body = dom.split("<body>").nth(1).unwrap_or(dom);
    let body = body.split("<script>").next().unwrap_or(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&").split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_the_matrix_and_a_feature_page() {
    let app = spawn_app(Db::Sqlite).await;
    let token = app.token("runner", &["*"]).await;
    for r in fresh_fixture() {
        let (status, _) = app.upload(&token, json(&r)).await;
        assert_eq!(status, 201);
    }
    let base = app.base.clone();
    let page = tokio::task::spawn_blocking(move || text(&dump_dom(&format!("{base}/")))).await.expect("chromium task");
    for seen in [
        "Wasmtime: tiers of support",
        "45 conforming 0 promotable 0 violating 0 stale 1 no-test-data",
        "Declared Tier 2",
        "Target aarch64-unknown-linux-gnu Tier 2 Tier 2 conforming Continuous fuzzing",
        "Compiler Backend Winch on x86_64 Tier 3 Tier 3 conforming WebAssembly proposals",
        "WASI Proposal wasi-threads Tier 3 Tier 3 conforming unstable proposal",
        "WASI Proposal wasi_unstable Tier 1 Tier 3 no-test-data",
        "Results per target",
    ] {
        assert!(page.contains(seen), "the matrix page lacks `{seen}`:\n{page}");
    }

    let base = app.base.clone();
    let page = tokio::task::spawn_blocking(move || text(&dump_dom(&format!("{base}/features/winch-x86_64"))))
        .await
        .expect("chromium task");
    for seen in [
        "Winch on x86_64",
        "declared Tier 3 · earned Tier 3 · conforming",
        "Tier 2 WebAssembly proposals ✗ missing (missing-features) simd: 118 failing directives",
        "Tier 2 CI testing ✓ met",
        "Per target Target Compiler Passed Failed No evidence Run x86_64-unknown-linux-gnu winch 288 0 0",
        "History",
    ] {
        assert!(page.contains(seen), "the feature page lacks `{seen}`:\n{page}");
    }

    // Drill-down: a later x86_64-apple-darwin run fails one simd directive;
    // the matrix's simd cell for it is a failing link, and leads to the
    // script with that directive first.
    let mut failing =
        fresh_fixture().into_iter().find(|r| r.run_id == "seed-x86_64-apple-darwin-cranelift").expect("fixture");
    failing.run_id = "darwin-simd-fail".into();
    failing.started_at += jiff::SignedDuration::from_hours(1);
    failing.finished_at += jiff::SignedDuration::from_hours(1);
    let file = failing.spec.iter_mut().find(|f| f.file == "simd_address.wast").expect("simd_address.wast");
    file.directives[1].outcome = matrix::evidence::Outcome::Fail;
    file.directives[1].message = Some("expected v128 i32x4 1 2 3 4, got 0 0 0 0".into());
    let (status, body) = app.upload(&token, json(&failing)).await;
    assert_eq!(status, 201, "{body}");
    let base = app.base.clone();
    let dom = tokio::task::spawn_blocking(move || dump_dom(&format!("{base}/"))).await.expect("chromium task");
    let link = "/features/simd/runs/darwin-simd-fail";
    assert!(dom.contains(&format!("<a href=\"{link}\">")), "the simd cell links to its tests:\n{dom}");
    let cell =
        dom.split(&format!("<a href=\"{link}\">")).next().and_then(|before| before.rsplit("<td").next()).expect("cell");
    assert!(cell.contains("class=\"cell fail\""), "the cell shows the failure: {cell}");
    let base = app.base.clone();
    let page =
        tokio::task::spawn_blocking(move || text(&dump_dom(&format!("{base}{link}")))).await.expect("chromium task");
    for seen in [
        "simd on x86_64-apple-darwin/cranelift",
        "From run darwin-simd-fail",
        "First not passed wasm-spec/simd_address.wast fail 3 1 0 line 10 assert_return: fail — expected v128 i32x4 1 2 3 4, got 0 0 0 0",
    ] {
        assert!(page.contains(seen), "the drill-down page lacks `{seen}`:\n{page}");
    }

    // Filters live in the URL: only conforming WebAssembly proposals.
    let base = app.base.clone();
    let page = tokio::task::spawn_blocking(move || {
        text(&dump_dom(&format!("{base}/?category=wasm-proposal&status=conforming")))
    })
    .await
    .expect("chromium task");
    assert!(page.contains("features shown"), "{page}");
    assert!(page.contains("WebAssembly Proposal simd") || page.contains("simd Tier 1"), "{page}");
    assert!(!page.contains("Target aarch64-unknown-linux-gnu Tier 2"), "targets are filtered out:\n{page}");

    // A promotion request's page: state, tally, live checklist, audit trail.
    let (alice, bob) = (app.maintainer("alice", None).await, app.maintainer("bob", None).await);
    let filing = serde_json::json!({ "feature": "aarch64-unknown-linux-gnu", "to-tier": 1,
        "rationale": "Fuzzing is coming.", "rfc-url": "https://example.org/rfc/3" });
    let (status, body) = app.post_json(&alice, "/api/v1/promotions", filing).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.post_json(&bob, "/api/v1/promotions/1/approve", serde_json::json!({})).await;
    assert_eq!(status, 200, "{body}");
    let base = app.base.clone();
    let page = tokio::task::spawn_blocking(move || text(&dump_dom(&format!("{base}/promotions/1"))))
        .await
        .expect("chromium task");
    for seen in [
        "Request 1: aarch64-unknown-linux-gnu into Tier 1",
        "open · declared Tier 2 when filed · earns Tier 2 now · filed by alice",
        "Fuzzing is coming.",
        "1 of 3 approvals from maintainers other than alice; an RFC link is required (linked).",
        "bob approve",
        "The feature does not earn Tier 1 yet",
        "Tier 1 Continuous fuzzing ✗ missing",
        "Sign in with a maintainer token",
        "alice filed",
    ] {
        assert!(page.contains(seen), "the request page lacks `{seen}`:\n{page}");
    }
}
