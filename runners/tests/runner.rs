//! The runner binary end to end against the real server (in-process, on a
//! temp SQLite file): reports from the bundled scripts, uploads, the spool
//! across a server outage, refusals, and crash replay.

use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jiff::Timestamp;
use tierwatch::state::{AppState, Settings};

const RUNNER: &str = env!("CARGO_BIN_EXE_tierwatch-runner");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_owned()
}

fn policy() -> matrix::Policy {
    tierwatch::load::policy(&repo().join("policy/wasmtime.yaml")).expect("the policy loads")
}

/// A server on `addr` over the SQLite file in `dir`, and a runner token.
async fn start_server(dir: &Path, addr: &str) -> (AppState, String, tokio::task::JoinHandle<()>) {
    let url = format!("sqlite://{}", dir.join("tierwatch.db").display());
    let (state, listener) =
        tierwatch::server::prepare(policy(), &url, addr, Settings::default()).await.expect("server starts");
    let (row, token) = tierwatch::auth::new_token("runner-test", tierwatch::auth::Role::Runner, &["*".to_owned()]);
    // Tokens are stored in the database, so one made before a restart
    // still works after it; creating another each start is harmless.
    state.store.create_token(&row, Timestamp::now()).await.expect("token stored");
    let serving = state.clone();
    let handle = tokio::spawn(async move {
        let _ = tierwatch::server::serve(serving, listener, std::future::pending()).await;
    });
    (state, token, handle)
}

/// A loopback port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn runner(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(RUNNER);
    c.args(args).current_dir(cwd).env_remove("TIERWATCH_TESTSUITES").env("TIERWATCH_UPLOAD_BACKOFF_MS", "10");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("the runner starts")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A spec report from the bundled scripts (the working directory has no
/// `../shared`), written with JUnit.
fn bundled_report(dir: &Path) -> PathBuf {
    let out = runner(
        &["spec", "--filter", "wasm-spec/i32.wast,wasm-spec/nop.wast", "-o", "spec.json", "--junit", "spec.xml"],
        dir,
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    dir.join("spec.json")
}

#[test]
fn the_bundled_scripts_make_a_valid_report_and_junit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = bundled_report(dir.path());
    let report = matrix::RunReport::from_json(&std::fs::read_to_string(&path).expect("report")).expect("valid report");
    let files: Vec<&str> = report.spec.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(files, ["i32.wast", "nop.wast"]);
    assert!(report.spec.iter().all(|f| f.suite == "wasm-spec"));
    let passed =
        report.spec.iter().flat_map(|f| &f.directives).filter(|d| d.outcome == matrix::evidence::Outcome::Pass).count();
    assert!(passed > 400, "i32.wast alone has hundreds of passing assertions; got {passed}");
    assert_eq!(report.target.triple, runner::host::TARGET, "the triple the runner was built for");
    assert!(!report.target.emulated);
    let junit = std::fs::read_to_string(dir.path().join("spec.xml")).expect("junit");
    assert!(junit.contains(r#"<testsuite name="cranelift/wasm-spec" tests="2" failures="0""#), "{junit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_to_a_stopped_server_spools_and_is_delivered_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = bundled_report(dir.path());
    let spool = dir.path().join("spool");
    let port = free_port();
    let server_url = format!("http://127.0.0.1:{port}");
    let spool_s = spool.to_str().expect("utf-8");
    let report_s = report.to_str().expect("utf-8");

    // Nothing listens: the report is retried, then spooled.
    let env = [("TIERWATCH_SERVER", server_url.as_str()), ("TIERWATCH_TOKEN", "tw_unused_token")];
    let out = tokio::task::spawn_blocking({
        let (d, args) = (dir.path().to_owned(), ["upload", "--spool-dir", spool_s, report_s].map(String::from));
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            runner(&args.iter().map(String::as_str).collect::<Vec<_>>(), &d, &env)
        }
    })
    .await
    .expect("join");
    assert!(!out.status.success(), "an undelivered report is a failure: {}", text(&out));
    assert!(text(&out).contains("spooled at"), "{}", text(&out));
    let spooled: Vec<_> = std::fs::read_dir(&spool).expect("spool dir").flatten().collect();
    assert_eq!(spooled.len(), 1, "one report waits in the spool");

    // The server comes up on that port; resending delivers it.
    let (state, token, _server) = start_server(dir.path(), &format!("127.0.0.1:{port}")).await;
    for round in 0..2 {
        let args = ["upload", "--spool", "--spool-dir", spool_s].map(String::from);
        let (d, env) = (
            dir.path().to_owned(),
            vec![("TIERWATCH_SERVER".to_owned(), server_url.clone()), ("TIERWATCH_TOKEN".to_owned(), token.clone())],
        );
        let out = tokio::task::spawn_blocking(move || {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            runner(&args.iter().map(String::as_str).collect::<Vec<_>>(), &d, &env)
        })
        .await
        .expect("join");
        assert!(out.status.success(), "round {round}: {}", text(&out));
        let expected = if round == 0 { "1 delivered" } else { "0 delivered" };
        assert!(text(&out).contains(expected), "round {round}: {}", text(&out));
    }
    let left: Vec<_> = std::fs::read_dir(&spool).expect("spool dir").flatten().filter(|e| e.path().is_file()).collect();
    assert!(left.is_empty(), "the spool is empty once the server acknowledged: {left:?}");
    let runs = state.store.runs(None, None, 100).await.expect("runs");
    assert_eq!(runs.len(), 1, "the server holds the run exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_report_shows_the_servers_message_and_is_kept_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = bundled_report(dir.path());
    // A token for another target: the server refuses this report.
    let url = format!("sqlite://{}", dir.path().join("tierwatch.db").display());
    let (state, listener) =
        tierwatch::server::prepare(policy(), &url, "127.0.0.1:0", Settings::default()).await.expect("server starts");
    let (row, token) =
        tierwatch::auth::new_token("elsewhere", tierwatch::auth::Role::Runner, &["s390x-unknown-linux-gnu".to_owned()]);
    state.store.create_token(&row, Timestamp::now()).await.expect("token");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let serving = state.clone();
    tokio::spawn(
        async move { tierwatch::server::serve(serving, listener, std::future::pending()).await.expect("serve") },
    );

    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).expect("spool");
    let json = std::fs::read(&report).expect("report");
    let run_id = matrix::RunReport::from_json(std::str::from_utf8(&json).expect("utf-8")).expect("valid").run_id;
    std::fs::write(spool.join(format!("{run_id}.json")), &json).expect("spooled");

    let (d, spool_s) = (dir.path().to_owned(), spool.to_str().expect("utf-8").to_owned());
    let out = tokio::task::spawn_blocking(move || {
        runner(
            &["upload", "--spool", "--spool-dir", &spool_s],
            &d,
            &[("TIERWATCH_SERVER", &base), ("TIERWATCH_TOKEN", &token)],
        )
    })
    .await
    .expect("join");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("refused it (403)") && said.contains(runner::host::TARGET),
        "the server's reason is shown: {said}"
    );
    assert!(spool.join("rejected").join(format!("{run_id}.json")).is_file(), "kept aside");
    assert!(!spool.join(format!("{run_id}.json")).exists(), "not resent");
    assert!(state.store.runs(None, None, 10).await.expect("runs").is_empty());
}

#[test]
fn bad_flags_say_what_to_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = runner(&["spec", "--testsuite", "/nonexistent/suites"], dir.path(), &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--testsuite /nonexistent/suites: no such directory"), "{}", text(&out));
    let out = runner(&["fuzz", "--proposal", "teleportation", "--iterations", "1"], dir.path(), &[]);
    assert!(text(&out).contains("not a fuzzable proposal; use one of mutable-globals"), "{}", text(&out));
    let out = runner(&["upload", "x.json"], dir.path(), &[("TIERWATCH_SERVER", "http://127.0.0.1:9")]);
    assert!(text(&out).contains("no token"), "{}", text(&out));
    std::fs::write(dir.path().join("bad.json"), "{\"format\": \"tierwatch-run\"}").expect("write");
    let out = runner(
        &["upload", "bad.json"],
        dir.path(),
        &[("TIERWATCH_SERVER", "http://127.0.0.1:9"), ("TIERWATCH_TOKEN", "t")],
    );
    assert!(text(&out).contains("bad.json"), "the file is named: {}", text(&out));
}

#[test]
fn a_fuzz_report_counts_the_proposal_and_a_reproducer_replays_with_one_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = runner(
        &["fuzz", "--proposal", "simd", "--iterations", "20", "--seed", "5", "-o", "fuzz.json"],
        dir.path(),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let report = matrix::RunReport::from_json(&std::fs::read_to_string(dir.path().join("fuzz.json")).expect("report"))
        .expect("valid");
    let c = &report.fuzz[0];
    assert_eq!(c.name, "differential-wasmi/simd");
    assert!(c.exercised.get("simd").is_some_and(|n| *n > 0), "{:?}", c.exercised);
    assert!(c.crashes.is_empty(), "{:?}", c.crashes);

    // A reproducer recorded against a wrong engine: the real one does not
    // reproduce it, and `replay` says so with exit status 1.
    let wasm = wat::parse_str("(module (func (export \"f\") (result i32) i32.const 3))").expect("wat");
    let meta = engine::fuzz::Reproducer {
        campaign: "differential-wasmi/multi-value".into(),
        proposal: "multi-value".into(),
        seed: 1,
        iteration: 2,
        generator: "test".into(),
        signature: "result-mismatch-0000000000000000".into(),
        message: "f(): off-by-one returned [I32(4)], wasmi returned [I32(3)]".into(),
        args: vec![],
    };
    std::fs::write(dir.path().join("crash.wasm"), meta.encode(Some(&wasm))).expect("write");
    let out = runner(&["replay", "crash.wasm"], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("reproduces:  no"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_token_keeps_reports_spooled_and_a_broken_spool_file_does_not_block_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = bundled_report(dir.path());
    let port = free_port();
    let (_state, _token, _server) = start_server(dir.path(), &format!("127.0.0.1:{port}")).await;
    let spool = dir.path().join("spool");
    std::fs::create_dir_all(&spool).expect("spool");
    let json = std::fs::read(&report).expect("report");
    let run_id = matrix::RunReport::from_json(std::str::from_utf8(&json).expect("utf-8")).expect("valid").run_id;
    std::fs::write(spool.join(format!("{run_id}.json")), &json).expect("spooled");
    std::fs::write(spool.join("aaa-truncated.json"), &json[..json.len() / 2]).expect("a broken file");

    // A token the server does not know: a 401 is about the runner, not the
    // report, which stays in the spool; the broken file goes aside without
    // stopping the pass.
    let (d, spool_s, url) =
        (dir.path().to_owned(), spool.to_str().expect("utf-8").to_owned(), format!("http://127.0.0.1:{port}"));
    let out = tokio::task::spawn_blocking(move || {
        runner(
            &["upload", "--spool", "--spool-dir", &spool_s],
            &d,
            &[("TIERWATCH_SERVER", &url), ("TIERWATCH_TOKEN", "tw_nobody_nothing"), ("TIERWATCH_UPLOAD_ATTEMPTS", "1")],
        )
    })
    .await
    .expect("join");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("401"), "the server's answer is shown: {said}");
    assert!(spool.join(format!("{run_id}.json")).is_file(), "still spooled after a 401: {said}");
    assert!(spool.join("rejected/aaa-truncated.json").is_file(), "the broken file is kept aside: {said}");
    assert!(said.contains("aaa-truncated.json"), "and named: {said}");
}

fn testsuites() -> PathBuf {
    std::env::var_os("TIERWATCH_TESTSUITES").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared/testsuites"))
}

#[test]
fn the_agreement_report_agrees_with_wasmtimes_harness_on_the_threads_scripts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suites = testsuites();
    let out = runner(
        &[
            "agree",
            "--testsuite",
            suites.to_str().expect("utf-8"),
            "--filter",
            "wasm-spec/proposals/threads/*",
            "--compilers",
            "cranelift",
        ],
        dir.path(),
        &[],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("agrees    cranelift/wasm-spec/proposals/threads/imports.wast  wasmtime: pass"), "{said}");
    assert!(said.contains(": 4 of 4 scripts agree with wasmtime's harness, 0 disagree"), "{said}");
}

#[test]
fn a_script_that_fails_where_wasmtime_expects_a_pass_is_a_disagreement_with_its_directive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("suites/wasm-spec");
    std::fs::create_dir_all(&spec).expect("mkdir");
    let script =
        "(module (func (export \"one\") (result i32) (i32.const 1)))\n(assert_return (invoke \"one\") (i32.const 2))\n";
    std::fs::write(spec.join("i32.wast"), script).expect("write");
    let out = runner(&["agree", "--testsuite", "suites", "--compilers", "cranelift"], dir.path(), &[]);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("DISAGREES cranelift/wasm-spec/i32.wast  wasmtime: pass"), "{said}");
    assert!(said.contains("first: 2: assert_return: fail:"), "{said}");
    assert!(said.contains(": 0 of 1 scripts agree with wasmtime's harness, 1 disagree"), "{said}");
}
