//! Command-line interface: argument types and the command implementations.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use jiff::Timestamp;
use matrix::{Evaluation, Policy};

use crate::load;

/// tierwatch: computed tiers of support for WebAssembly runtimes.
#[derive(Debug, Parser)]
#[command(name = "tierwatch", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with policy files.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Evaluate every feature of a policy against run reports.
    Evaluate {
        #[command(flatten)]
        input: Input,
        /// Print the full evaluation as JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Instead of the table, show this feature's requirements and its
        /// latest results on every target.
        #[arg(long, value_name = "ID")]
        feature: Option<String>,
    },
    /// Write TIERS.md, computed from the policy and run reports, to stdout.
    TiersMd {
        #[command(flatten)]
        input: Input,
        /// Instead of printing, compare with this file and fail with a diff
        /// when it is stale.
        #[arg(long, value_name = "PATH")]
        check: Option<PathBuf>,
    },
    /// Print the JSON Schema of the run-report wire format.
    Schema,
    /// Run the server: ingestion, API, dashboard, TIERS.md.
    Serve(ServeArgs),
    /// Manage bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage the people maintainer tokens belong to.
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PersonCommand {
    /// List people: handles, GitHub logins, when revoked.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a person: every token of theirs, their browser sessions, and
    /// their votes on requests still open (each voiding in the audit log).
    Revoke {
        /// The person's handle.
        handle: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// The policy YAML.
    #[arg(long, env = "TIERWATCH_POLICY", default_value = "policy/wasmtime.yaml")]
    policy: PathBuf,
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "TIERWATCH_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Largest accepted upload, compressed or not, in bytes.
    #[arg(long, env = "TIERWATCH_MAX_BODY_BYTES", default_value_t = 64 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Seconds a report's `finished-at` may lie after the server's clock;
    /// a later report is refused (it would pin its target's latest run).
    #[arg(long, env = "TIERWATCH_MAX_CLOCK_SKEW_SECONDS", default_value_t = 600)]
    max_clock_skew_seconds: u32,
    /// Most directive outcomes one report may carry; a larger report is
    /// refused (a full run today is about 68,000).
    #[arg(long, env = "TIERWATCH_MAX_REPORT_DIRECTIVES", default_value_t = 1_000_000)]
    max_report_directives: usize,
    /// Most script files, WASI tests and fuzz campaigns one report may carry.
    #[arg(long, env = "TIERWATCH_MAX_REPORT_FILES", default_value_t = 20_000)]
    max_report_files: usize,
    /// How long an upload or other write waits for the database before it
    /// is answered 503 (on SQLite writes take turns on one connection: a
    /// 200 MB upload holds it for about two minutes).
    #[arg(long, env = "TIERWATCH_WRITE_QUEUE_TIMEOUT_SECONDS", default_value_t = crate::store::DEFAULT_WRITE_QUEUE_TIMEOUT.as_secs(), value_parser = clap::value_parser!(u64).range(1..))]
    write_queue_timeout_seconds: u64,
    /// Most connections open at once; past it a new connection is answered
    /// 503 at once and closed.
    #[arg(long, env = "TIERWATCH_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Most connections open at once from one address.
    #[arg(long, env = "TIERWATCH_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections_per_address: u32,
    /// Seconds a request's header may take to arrive, and a kept-alive
    /// connection may stay idle; then the connection is closed.
    #[arg(long, env = "TIERWATCH_HEADER_TIMEOUT_SECONDS", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_seconds: u64,
    /// Seconds a request body may go without a byte arriving.
    #[arg(long, env = "TIERWATCH_BODY_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout_seconds: u64,
    /// Requests per second one address may send, sustained.
    #[arg(long, env = "TIERWATCH_RATE_PER_ADDRESS", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    rate_per_address: u32,
    /// Requests one address may send at once before the rate applies.
    #[arg(long, env = "TIERWATCH_BURST_PER_ADDRESS", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    burst_per_address: u32,
    /// Requests per second with one token or session, sustained.
    #[arg(long, env = "TIERWATCH_RATE_PER_TOKEN", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    rate_per_token: u32,
    /// Requests one token or session may send at once before the rate applies.
    #[arg(long, env = "TIERWATCH_BURST_PER_TOKEN", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..))]
    burst_per_token: u32,
    /// Addresses of reverse proxies in front of the server, comma-separated:
    /// their `X-Forwarded-For` names the client for per-address budgets,
    /// and the per-address connection cap does not apply to them.
    #[arg(long = "trusted-proxy", env = "TIERWATCH_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Seconds between re-evaluations as windows move with the clock.
    #[arg(long, env = "TIERWATCH_TICK_SECONDS", default_value_t = 60)]
    tick_seconds: u64,
    /// The server's public base URL, for links in GitHub issues.
    #[arg(long, env = "TIERWATCH_PUBLIC_URL")]
    public_url: Option<String>,
    /// Mark session cookies `Secure` (when served over HTTPS).
    #[arg(long, env = "TIERWATCH_COOKIE_SECURE")]
    cookie_secure: bool,
    /// Mirror promotion requests to issues of this repository (`owner/name`).
    #[arg(long, env = "TIERWATCH_GITHUB_REPO")]
    github_repo: Option<String>,
    /// A GitHub token that may create, comment on and close issues there.
    #[arg(long, env = "TIERWATCH_GITHUB_TOKEN", hide_env_values = true)]
    github_token: Option<String>,
    /// The GitHub API's base URL (GitHub Enterprise: `https://HOST/api/v3`).
    #[arg(long, env = "TIERWATCH_GITHUB_API_URL", default_value = "https://api.github.com")]
    github_api_url: String,
    /// Seconds between polls of issue comments for `/approve` and `/reject`.
    #[arg(long, env = "TIERWATCH_GITHUB_POLL_SECONDS", default_value_t = 60)]
    github_poll_seconds: u64,
}

#[derive(Debug, clap::Args)]
struct DbArgs {
    /// Database: `sqlite://FILE` (created if missing) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://tierwatch.db")]
    database_url: String,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it (it is shown only once).
    Create {
        /// A name for the token's holder, e.g. the runner's host.
        #[arg(long)]
        name: String,
        /// `runner` (uploads runs) or `maintainer`.
        #[arg(long, value_enum, default_value_t = crate::auth::Role::Runner)]
        role: crate::auth::Role,
        /// Target triples the token may report for, comma-separated, or `*`.
        #[arg(long, value_delimiter = ',', required = true)]
        targets: Vec<String>,
        /// The person a maintainer token belongs to (default: `--name`). One
        /// person votes once per request whichever of their tokens they use,
        /// and never approves a request they filed.
        #[arg(long)]
        person: Option<String>,
        /// The person's GitHub login: their `/approve` and `/reject` comments
        /// on synced issues count as votes (maintainers only).
        #[arg(long)]
        github_login: Option<String>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tokens (ids, holders, roles, scopes; never secrets).
    List {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token by id (the part after `tw_`, before the next `_`);
    /// its browser sessions end too.
    Revoke {
        /// The token's id.
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file and report every problem with its position.
    Check {
        /// The policy YAML.
        file: PathBuf,
        /// A testsuite checkout (wasm-spec/, component-model/, wasi/tests/):
        /// every selector must match a test in it, and no test may be
        /// claimed twice within a category.
        #[arg(long, env = "TIERWATCH_TESTSUITES")]
        testsuites: Option<PathBuf>,
    },
}

#[derive(Debug, clap::Args)]
struct Input {
    /// The policy YAML.
    #[arg(long, env = "TIERWATCH_POLICY", default_value = "policy/wasmtime.yaml")]
    policy: PathBuf,
    /// A directory of run reports (`*.json`, searched recursively).
    #[arg(long, env = "TIERWATCH_EVIDENCE")]
    evidence: PathBuf,
    /// Evaluate as of this instant (RFC 3339) instead of now; windows are
    /// measured back from it.
    #[arg(long, env = "TIERWATCH_NOW")]
    now: Option<Timestamp>,
}

impl Input {
    fn evaluate(&self) -> Result<(Policy, matrix::Evidence, Evaluation)> {
        let policy = load::policy(&self.policy)?;
        let evidence = load::evidence(&self.evidence)?;
        let evaluation = matrix::evaluate(&policy, &evidence, self.now.unwrap_or_else(Timestamp::now));
        Ok((policy, evidence, evaluation))
    }
}

/// Runs a parsed command line, printing errors, and returns the exit code.
pub fn run(cli: Cli) -> ExitCode {
    match execute(cli) {
        Ok(code) => code,
        Err(e) => {
            match e.downcast_ref::<matrix::Diagnostics>() {
                Some(diagnostics) => eprintln!("{diagnostics}"),
                None => eprintln!("error: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

fn execute(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Policy { command: PolicyCommand::Check { file, testsuites } } => {
            policy_check(&file, testsuites.as_deref())
        }
        Command::Evaluate { input, json, feature } => {
            let (policy, evidence, evaluation) = input.evaluate()?;
            let out = match feature {
                Some(id) => feature_detail(&policy, &evaluation, &evidence, &id)?,
                None if json => serde_json::to_string_pretty(&evaluation)? + "\n",
                None => table(&policy, &evaluation),
            };
            print(&out)
        }
        Command::TiersMd { input, check } => {
            let (policy, _, evaluation) = input.evaluate()?;
            let rendered = matrix::tiers_md::render(&policy, &evaluation);
            match check {
                None => print(&rendered),
                Some(path) => check_file(&path, &rendered),
            }
        }
        Command::Schema => print(&(serde_json::to_string_pretty(&matrix::evidence::json_schema())? + "\n")),
        Command::Serve(args) => runtime()?.block_on(serve(args)),
        Command::Token { command } => runtime()?.block_on(token_command(command)),
        Command::Person { command } => runtime()?.block_on(person_command(command)),
    }
}

/// `tierwatch policy check`: every problem of the policy, and with
/// `--testsuites` every selector that matches no test.
fn policy_check(file: &std::path::Path, testsuites: Option<&std::path::Path>) -> Result<ExitCode> {
    let policy = load::policy(file)?;
    if let Some(dir) = testsuites {
        let tests = load::test_names(dir)?;
        let items = matrix::coverage::check(&policy, &tests);
        if !items.is_empty() {
            return Err(matrix::Diagnostics { file: file.display().to_string(), items }.into());
        }
        println!(
            "{}: every selector matches tests in {} ({} scripts, {} WASI programs)",
            file.display(),
            dir.display(),
            tests.spec.len(),
            tests.wasi.len()
        );
    }
    let checked = policy.requirements.iter().filter(|r| r.check.is_some()).count();
    println!(
        "{}: ok — {} tiers, {} requirements ({checked} checked), {} features",
        file.display(),
        policy.tiers.len(),
        policy.requirements.len(),
        policy.features.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `tierwatch token …`: tokens created, listed and revoked.
async fn token_command(command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Create { name, role, targets, person, github_login, db } => {
            if (github_login.is_some() || person.is_some()) && role != crate::auth::Role::Maintainer {
                anyhow::bail!(
                    "--person and --github-login are for maintainer tokens: a person files and votes; add --role maintainer"
                );
            }
            let store = crate::server::open(&db.database_url).await?;
            let (mut row, token) = crate::auth::new_token(&name, role, &targets);
            if role == crate::auth::Role::Maintainer {
                let handle = person.unwrap_or_else(|| name.clone());
                if let Err(why) = store.ensure_person(&handle, github_login.as_deref()).await? {
                    anyhow::bail!("{why}");
                }
                row.person = Some(handle);
            }
            store.create_token(&row, Timestamp::now()).await?;
            let detail = serde_json::json!({ "token": row.id, "role": role, "targets": targets, "person": row.person, "github-login": github_login });
            store.audit("tierwatch token create", "token-created", None, detail).await?;
            println!("{token}");
            let holder = row.person.as_deref().map_or(String::new(), |p| format!(", person {p}"));
            eprintln!("token `{name}` ({role}{holder}, targets: {}) created; it is not shown again", targets.join(","));
            Ok(ExitCode::SUCCESS)
        }
        TokenCommand::List { db } => {
            let store = crate::server::open(&db.database_url).await?;
            let mut out = String::from(
                "ID        NAME                  ROLE        PERSON          TARGETS               GITHUB          CREATED               REVOKED\n",
            );
            for t in store.tokens().await? {
                let _ = writeln!(
                    out,
                    "{:<9} {:<21} {:<11} {:<15} {:<21} {:<15} {:<21} {}",
                    t.id,
                    t.name,
                    t.role,
                    t.person.as_deref().unwrap_or("-"),
                    t.targets,
                    t.github_login.as_deref().unwrap_or("-"),
                    t.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    t.revoked_at.map_or("-".to_owned(), |r| r.strftime("%Y-%m-%d %H:%M:%S").to_string())
                );
            }
            print(&out)
        }
        TokenCommand::Revoke { id, db } => {
            let store = crate::server::open(&db.database_url).await?;
            let id =
                id.strip_prefix("tw_").map_or(id.as_str(), |rest| rest.split('_').next().unwrap_or(rest)).to_owned();
            if !store.revoke_token(&id).await? {
                anyhow::bail!("no live token `{id}`; `tierwatch token list` shows the ids");
            }
            store.audit("tierwatch token revoke", "token-revoked", None, serde_json::json!({ "token": id })).await?;
            eprintln!("token `{id}` revoked; its browser sessions are ended");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `tierwatch person …`: people listed and revoked.
async fn person_command(command: PersonCommand) -> Result<ExitCode> {
    match command {
        PersonCommand::List { db } => {
            let store = crate::server::open(&db.database_url).await?;
            let mut out = String::from("HANDLE                GITHUB          CREATED               REVOKED\n");
            for p in store.people().await? {
                let _ = writeln!(
                    out,
                    "{:<21} {:<15} {:<21} {}",
                    p.handle,
                    p.github_login.as_deref().unwrap_or("-"),
                    p.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    p.revoked_at.map_or("-".to_owned(), |r| r.strftime("%Y-%m-%d %H:%M:%S").to_string())
                );
            }
            print(&out)
        }
        PersonCommand::Revoke { handle, db } => {
            let store = crate::server::open(&db.database_url).await?;
            let Some(done) = store.revoke_person(&handle, "tierwatch person revoke").await? else {
                anyhow::bail!("no live person `{handle}`; `tierwatch person list` shows them");
            };
            eprintln!(
                "person `{handle}` revoked: {} token(s) and their sessions ended, votes on {} open request(s) voided",
                done.tokens,
                done.votes_voided.len()
            );
            if !done.votes_voided.is_empty() {
                // Their issues' checklists and tallies moved: the leader
                // rewrites them now rather than at its next poll.
                let notice = crate::cluster::Notice { server: "cli".into(), kind: crate::cluster::NoticeKind::Outbox };
                store.notify(&notice.to_json()).await?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

async fn serve(args: ServeArgs) -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=info".into()),
        )
        .init();
    let policy = load::policy(&args.policy)?;
    // An empty value (e.g. `${VAR:-}` in compose) means unset.
    let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    let github = match (set(&args.github_repo), set(&args.github_token)) {
        (Some(_), None) => {
            anyhow::bail!("--github-repo needs a token that may edit issues there: set TIERWATCH_GITHUB_TOKEN")
        }
        (Some(repo), Some(token)) => {
            let (owner, repo) = crate::github::Config::repository(&repo).map_err(anyhow::Error::msg)?;
            Some(crate::github::Config {
                owner,
                repo,
                token,
                api_url: args.github_api_url.clone(),
                poll: std::time::Duration::from_secs(args.github_poll_seconds.max(1)),
            })
        }
        _ => None,
    };
    let settings = crate::state::Settings {
        max_body_bytes: args.max_body_bytes,
        cookie_secure: args.cookie_secure,
        public_url: set(&args.public_url),
        github_sync: github.is_some(),
        max_clock_skew: jiff::SignedDuration::from_secs(i64::from(args.max_clock_skew_seconds)),
        max_report_directives: args.max_report_directives,
        max_report_files: args.max_report_files,
        connections: crate::connections::ConnectionLimits {
            max_connections: args.max_connections as usize,
            max_connections_per_address: args.max_connections_per_address as usize,
            header_timeout: std::time::Duration::from_secs(args.header_timeout_seconds),
            body_timeout: std::time::Duration::from_secs(args.body_timeout_seconds),
            trusted_proxies: args.trusted_proxies.clone(),
            ..Default::default()
        },
        rates: crate::rate::RateLimits {
            address_period: crate::rate::RateLimits::period(args.rate_per_address),
            address_burst: args.burst_per_address,
            token_period: crate::rate::RateLimits::period(args.rate_per_token),
            token_burst: args.burst_per_token,
            trusted_proxies: args.trusted_proxies.clone(),
        },
        write_queue_timeout: std::time::Duration::from_secs(args.write_queue_timeout_seconds),
        ..Default::default()
    };
    let (state, listener) = crate::server::prepare(policy, &args.db.database_url, &args.bind, settings).await?;
    let outbox = match github {
        Some(cfg) => {
            let client = crate::github::Client::new(&cfg).context("cannot set up the GitHub client")?;
            tracing::info!(repo = %format!("{}/{}", cfg.owner, cfg.repo), api = %cfg.api_url, "promotion requests sync to GitHub");
            Some((client, cfg.poll))
        }
        None => None,
    };
    crate::cluster::spawn(&state, outbox);
    println!("tierwatch serving on http://{}", listener.local_addr()?);
    crate::server::run(state, listener, std::time::Duration::from_secs(args.tick_seconds.max(1))).await?;
    Ok(ExitCode::SUCCESS)
}

fn print(text: &str) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}

fn check_file(path: &std::path::Path, rendered: &str) -> Result<ExitCode> {
    let current = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if current == rendered {
        println!("{} is up to date", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let diff = similar::TextDiff::from_lines(current.as_str(), rendered);
    let name = path.display().to_string();
    eprint!("{}", diff.unified_diff().context_radius(2).header(&name, "computed"));
    eprintln!("{name} is stale: regenerate it with `tierwatch tiers-md ... > {name}`");
    Ok(ExitCode::FAILURE)
}

/// One feature: its standing, every requirement's verdict, and its latest
/// results per target and compiler.
fn feature_detail(policy: &Policy, evaluation: &Evaluation, evidence: &matrix::Evidence, id: &str) -> Result<String> {
    let r = evaluation
        .feature(id)
        .with_context(|| format!("no feature `{id}` in the policy; `tierwatch evaluate` lists them"))?;
    let earned = r.earned.map_or("no tier".to_owned(), |t| t.to_string());
    let mut out = format!("{id}: declared {}, earned {earned}\n\nrequirements:\n", r.declared);
    for o in &r.outcomes {
        let verdict = if o.met { "met".to_owned() } else { format!("MISSING ({})", o.reason.unwrap_or_default()) };
        let _ = writeln!(out, "  {} {:<32} {:<24} {}", o.tier, o.requirement, verdict, o.detail);
    }
    out.push_str("\nlatest results per target:\n");
    let results = matrix::evaluate::Views::new(policy, evidence).target_results(id);
    if results.is_empty() {
        out.push_str("  (no run selects this feature)\n");
    }
    for t in results {
        let emulated = if t.emulated { " (emulated)" } else { "" };
        let _ = writeln!(
            out,
            "  {:<30} {:<10} {:>7} passed {:>5} failed {:>5} skipped  {}{emulated}",
            t.target, t.compiler, t.passed, t.failed, t.skipped, t.run_id
        );
    }
    Ok(out)
}

/// A plain-text table: one line per feature.
fn table(policy: &Policy, evaluation: &Evaluation) -> String {
    let rows: Vec<[String; 5]> = evaluation
        .features
        .iter()
        .map(|r| {
            let missing: Vec<&str> = r.missing_next.iter().map(|m| m.text.as_str()).collect();
            let failing: Vec<&str> = r.failing_declared.iter().map(|m| m.text.as_str()).collect();
            let note = if failing.is_empty() { missing.join(", ") } else { format!("fails: {}", failing.join(", ")) };
            let status =
                serde_json::to_value(r.status).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            [r.id.clone(), r.declared.0.to_string(), r.earned.map_or("-".into(), |t| t.0.to_string()), status, note]
        })
        .collect();
    let header = ["FEATURE", "DECLARED", "EARNED", "STATUS", "MISSING FOR NEXT TIER"];
    let widths: Vec<usize> =
        (0..4).map(|c| rows.iter().map(|r| r[c].len()).chain([header[c].len()]).max().unwrap_or(0)).collect();
    let mut out = String::new();
    let mut line = |cells: [&str; 5]| {
        let row = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
        let _ = writeln!(out, "{}", row.trim_end());
    };
    line(header);
    for r in &rows {
        line([&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    let _ = writeln!(
        out,
        "\n{} features, evaluated as of {} in {} round(s) against {}",
        evaluation.features.len(),
        evaluation.now,
        evaluation.rounds,
        policy.runtime.name
    );
    out
}
