//! The dashboard in a real headless Chromium: what a person sees.

mod common;

use std::process::Command;

use std::time::Duration;

use common::webdriver::Browser;
use common::{Db, TestApp, fresh_fixture, json, spawn_app};

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
        "Standing, the last 30 days",
        "History",
    ] {
        assert!(page.contains(seen), "the feature page lacks `{seen}`:\n{page}");
    }

    // Drill-down: a later x86_64-apple-darwin run fails one simd directive;
    // the matrix's simd cell for it is a failing link, and leads to the
    // script with that directive first.
    let failing = darwin_run("darwin-simd-fail", 1, true);
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

/// The seed x86_64-apple-darwin run again, `hours` later under `id`; with
/// `fail`, simd_address.wast:10 fails.
fn darwin_run(id: &str, hours: i64, fail: bool) -> matrix::RunReport {
    let mut r = common::later_run("seed-x86_64-apple-darwin-cranelift", id, hours);
    if fail {
        let file = r.spec.iter_mut().find(|f| f.file == "simd_address.wast").expect("simd_address.wast");
        file.directives[1].outcome = matrix::evidence::Outcome::Fail;
        file.directives[1].message = Some("expected v128 i32x4 1 2 3 4, got 0 0 0 0".into());
    }
    r
}

/// Waits until the page's live stream is open, so a run uploaded next is
/// announced to it.
async fn live(browser: &Browser) {
    let open = "return document.getElementById('live').classList.contains('on')";
    browser.wait_for("the live stream", open, Duration::from_secs(10)).await;
}

/// A passing darwin run `hours` later arrives while `browser` shows a
/// page; waits until the page shows `what` (`script` returns true).
async fn arrives(app: &TestApp, runner: &str, id: &str, hours: i64, browser: &Browser, what: &str, script: &str) {
    let (status, body) = app.upload(runner, json(&darwin_run(id, hours, false))).await;
    assert_eq!(status, 201, "{body}");
    browser.wait_for(what, script, Duration::from_secs(15)).await;
}

/// The seed world plus the failing darwin run, served.
async fn seeded() -> (TestApp, String) {
    let app = spawn_app(Db::Sqlite).await;
    let token = app.token("runner", &["*"]).await;
    for r in fresh_fixture().into_iter().chain([darwin_run("darwin-simd-fail", 1, true)]) {
        let (status, body) = app.upload(&token, json(&r)).await;
        assert_eq!(status, 201, "{body}");
    }
    (app, token)
}

/// The violations axe-core finds on the page shown, by the rules that
/// concern what every reader needs: contrast, names of controls, links and
/// images, the page's title and language.
async fn axe_violations(browser: &Browser) -> Vec<String> {
    let path = std::env::var("TIERWATCH_AXE").unwrap_or_else(|_| {
        panic!("TIERWATCH_AXE is not set: point it at axe-core's axe.min.js (scripts/check installs axe-core from npm)")
    });
    let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read axe-core at {path}: {e}"));
    browser.eval(&format!("{source}\n;return typeof axe")).await;
    let found = browser
        .eval_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'rule', values: ['color-contrast', 'label', 'select-name',
               'button-name', 'link-name', 'image-alt', 'document-title', 'html-has-lang', 'input-button-name'] } })
               .then(r => done(r.violations.map(v => v.id + ': ' + v.nodes.slice(0, 5).map(n => n.target.join(' ')).join(', '))));",
        )
        .await;
    found.as_array().expect("violations").iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
}

/// Driven as a person would, through WebDriver: a filter changed in the
/// form lands in the URL; a click on a failing matrix cell leads to the
/// failing directive; a half-written promotion form survives a run arriving
/// while a page without input updates in place; axe-core finds no contrast
/// or naming problem on the pages people read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_filters_drills_down_and_keeps_their_form_across_live_updates() {
    let (app, runner) = seeded().await;
    let browser = Browser::start(1280, 800).await;
    let base = app.base.clone();

    browser.goto(&format!("{base}/?category=wasm-proposal")).await;
    browser.eval("document.querySelector('select[name=status]').value = 'violating'; document.querySelector('form.filters').submit();").await;
    browser
        .wait_for("the filtered matrix", "return location.search.includes('status=violating')", Duration::from_secs(10))
        .await;
    let url = browser.url().await;
    assert!(url.contains("category=wasm-proposal") && url.contains("status=violating"), "{url}");
    let rows = browser
        .eval("return [...document.querySelectorAll('table.matrix tbody tr')].map(r => r.cells[1].innerText)")
        .await;
    assert_eq!(rows, serde_json::json!(["simd"]), "only the violating proposal is left");

    browser.goto(&format!("{base}/")).await;
    browser.click(&browser.find("a[href='/features/simd/runs/darwin-simd-fail']").await).await;
    browser
        .wait_for(
            "the drill-down page",
            "return location.pathname === '/features/simd/runs/darwin-simd-fail'",
            Duration::from_secs(10),
        )
        .await;
    let text = browser.text().await;
    assert!(text.contains("line 10 assert_return: fail — expected v128 i32x4 1 2 3 4, got 0 0 0 0"), "{text}");

    // Sorting lives in the URL too.
    browser.goto(&format!("{base}/?sort=label")).await;
    let labels = browser
        .eval("return [...document.querySelectorAll('table.matrix')][0].querySelectorAll('tbody tr').length > 3 && [...[...document.querySelectorAll('table.matrix')][0].querySelectorAll('tbody tr')].map(r => r.cells[1].innerText.toLowerCase())")
        .await;
    let labels: Vec<String> = serde_json::from_value(labels).expect("labels");
    let mut sorted = labels.clone();
    sorted.sort();
    assert_eq!(labels, sorted, "Tier 1 rows by label");

    // A run's diff: all four classes, a cut list announced, and its link
    // to the rest, page by page.
    let mut diff = darwin_run("darwin-diff", 4, false);
    diff.spec.retain(|f| f.file != "address0.wast");
    let br = diff.spec.iter_mut().find(|f| f.file == "br.wast").expect("br.wast");
    br.directives[1].outcome = matrix::evidence::Outcome::Fail;
    br.directives[1].message = Some("expected i32:1, got i32:0".into());
    let template = br.directives[0].clone();
    br.directives.extend((0..150).map(|i| matrix::evidence::Directive { line: 1000 + i, ..template.clone() }));
    let (status, body) = app.upload(&runner, json(&diff)).await;
    assert_eq!(status, 201, "{body}");
    browser.goto(&format!("{base}/runs/darwin-diff")).await;
    let text = browser.text().await;
    for seen in [
        "Compared with darwin-simd-fail",
        "Regressed (1)",
        "Fixed (1)",
        "New (150)",
        "Gone (4)",
        "Showing the first 100 of 150. All 150, page by page.",
    ] {
        assert!(text.contains(seen), "the run page lacks `{seen}`:\n{text}");
    }
    browser.click(&browser.find("a[href='/runs/darwin-diff/directives?class=new']").await).await;
    browser
        .wait_for("the listing", "return location.pathname === '/runs/darwin-diff/directives'", Duration::from_secs(10))
        .await;
    assert!(browser.text().await.contains("Rows 1–150 of 150."));

    // The check can fail: a planted pale paragraph is found.
    browser.goto(&format!("{base}/")).await;
    browser.eval("const p = document.createElement('p'); p.id = 'pale'; p.style.color = '#ddd'; p.textContent = 'pale text'; document.querySelector('main').append(p);").await;
    let found = axe_violations(&browser).await;
    assert!(found.iter().any(|v| v.starts_with("color-contrast") && v.contains("#pale")), "{found:#?}");
    for page in ["/", "/features/simd", "/runs/darwin-diff", "/fuzz"] {
        browser.goto(&format!("{base}{page}")).await;
        let found = axe_violations(&browser).await;
        assert!(found.is_empty(), "axe-core on {page}: {found:#?}");
    }

    // Signed in, a rationale half-written: a run arrives, the form stays.
    let alice = app.maintainer("alice", None).await;
    let filing = serde_json::json!({ "feature": "gc", "to-tier": 2, "rationale": "Complete on every Tier 1 target." });
    let (status, body) = app.post_json(&alice, "/api/v1/promotions", filing).await;
    assert_eq!(status, 201, "{body}");
    browser.goto(&format!("{base}/promotions/1")).await;
    let found = axe_violations(&browser).await;
    assert!(found.is_empty(), "axe-core on a request's page: {found:#?}");
    browser.goto(&format!("{base}/login?next=/promotions")).await;
    browser.type_into(&browser.find("#token").await, &alice).await;
    browser.click(&browser.find("form[action='/login'] button[type=submit]").await).await;
    browser
        .wait_for("the promotion form", "return document.getElementById('rationale') !== null", Duration::from_secs(10))
        .await;
    let found = axe_violations(&browser).await;
    assert!(found.is_empty(), "axe-core on the promotion form: {found:#?}");
    // Choosing a feature declared at Tier 2 leaves only Tier 1 to ask for.
    let offered = browser
        .eval(
            "const f = document.getElementById('feature'); f.value = 'aarch64-unknown-linux-gnu';
             f.dispatchEvent(new Event('change', { bubbles: true }));
             return [...document.querySelectorAll('#to_tier option')].filter(o => !o.disabled).map(o => o.value)",
        )
        .await;
    assert_eq!(offered, serde_json::json!(["1"]), "only the tiers better than Tier 2");
    live(&browser).await;
    let half = "Half-written: the proposal is complete and";
    browser.type_into(&browser.find("#rationale").await, half).await;
    let offer = "return document.getElementById('live').textContent === 'new results: reload'";
    arrives(&app, &runner, "darwin-later", 2, &browser, "the reload offer", offer).await;
    assert_eq!(browser.eval("return document.getElementById('rationale').value").await, serde_json::json!(half));

    // A page with nothing typed into it is updated in place, not reloaded.
    browser.goto(&format!("{base}/runs")).await;
    browser.eval("window.kept = 'same page'").await;
    live(&browser).await;
    let swapped =
        "return document.querySelector('main').innerText.includes('darwin-latest') && window.kept === 'same page'";
    arrives(&app, &runner, "darwin-latest", 3, &browser, "the run list to update in place", swapped).await;
    browser.quit().await;
}

/// At a phone's width (390 px) no page scrolls sideways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_page_scrolls_sideways_on_a_phone() {
    let (app, _) = seeded().await;
    let browser = Browser::start(390, 844).await;
    for page in [
        "/",
        "/features/simd",
        "/features/simd/runs/darwin-simd-fail",
        "/runs",
        "/runs/darwin-simd-fail",
        "/fuzz",
        "/promotions",
        "/tables/wasm-proposals",
        "/login",
    ] {
        browser.goto(&format!("{}{page}", app.base)).await;
        let widths =
            browser.eval("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]").await;
        let (scroll, inner) = (widths[0].as_u64().unwrap_or(0), widths[1].as_u64().unwrap_or(0));
        assert!(inner > 0 && inner <= 400, "{page}: the window is {inner} px wide");
        if scroll > inner {
            let wide = browser
                .eval(&format!("const w = {inner}; return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > w + 1).slice(0, 6).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"))
                .await;
            panic!("{page} scrolls sideways: {scroll} px of content in {inner} px; wider than the screen: {wide}");
        }
    }
    browser.quit().await;
}
