//! Times `matrix::evaluate` on 60 features × 10 targets × 90 days of daily
//! runs, against a named baseline in the same process: one pass that counts
//! every directive outcome of the same evidence (the least any evaluator
//! must read). Prints both, and their ratio.
//!
//! `cargo bench -p tierwatch-matrix --bench evaluate`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use matrix::evidence::Outcome;
use matrix::{Evidence, RunReport};

const TARGETS: [(&str, &str); 10] = [
    ("x86_64-unknown-linux-gnu", "cranelift"),
    ("x86_64-apple-darwin", "cranelift"),
    ("x86_64-pc-windows-msvc", "cranelift"),
    ("aarch64-unknown-linux-gnu", "cranelift"),
    ("aarch64-apple-darwin", "cranelift"),
    ("s390x-unknown-linux-gnu", "cranelift"),
    ("x86_64-pc-windows-gnu", "cranelift"),
    ("riscv64gc-unknown-linux-gnu", "cranelift"),
    ("x86_64-unknown-none", "cranelift"),
    ("x86_64-unknown-linux-gnu", "winch"),
];
const DAYS: i64 = 90;
const EXTRA_FEATURES: usize = 14;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The repository policy plus 14 more proposals: 60 features.
fn policy() -> matrix::Policy {
    let mut text = std::fs::read_to_string(root().join("policy/wasmtime.yaml")).expect("policy");
    let mut extra = String::new();
    for i in 0..EXTRA_FEATURES {
        extra.push_str(&format!(
            "  - {{ id: extra-{i}, category: wasm-proposal, label: extra-{i}, declared-tier: 3, phase: 2, evidence: {{ spec: [\"wasm-spec/{}*.wast\"] }} }}\n",
            ["a", "b", "c", "d", "e", "f", "g", "i", "l", "m", "n", "r", "s", "t"][i]
        ));
    }
    text = text.replacen("\nfeatures:\n", &format!("\nfeatures:\n{extra}"), 1);
    matrix::validate("bench.yaml", &text).unwrap_or_else(|d| panic!("{d}"))
}

fn evidence(now: Timestamp) -> Evidence {
    let read = |name: &str| {
        let text = std::fs::read_to_string(root().join("policy/fixtures/seed-world").join(name)).expect("fixture");
        RunReport::from_json(&text).expect("valid")
    };
    let full = read("seed-x86_64-unknown-linux-gnu-cranelift.json");
    let fuzz = read("seed-x86_64-unknown-linux-gnu-fuzz.json");
    let mut runs = Vec::new();
    for day in 0..DAYS {
        let at = now - SignedDuration::from_hours(24 * day + 1);
        for (target, compiler) in TARGETS {
            let mut r = full.clone();
            r.run_id = format!("{target}-{compiler}-{day}");
            r.target.triple = target.into();
            r.engine.compiler = compiler.into();
            r.started_at = at - SignedDuration::from_mins(30);
            r.finished_at = at;
            runs.push(r);
        }
        let mut f = fuzz.clone();
        f.run_id = format!("fuzz-{day}");
        f.started_at = at - SignedDuration::from_hours(20);
        f.finished_at = at;
        runs.push(f);
    }
    runs.into_iter().collect()
}

/// The baseline: count every directive and WASI outcome once.
fn scan(e: &Evidence) -> usize {
    e.runs
        .iter()
        .map(|r| {
            r.spec.iter().map(|f| f.directives.iter().filter(|d| d.outcome == Outcome::Pass).count()).sum::<usize>()
                + r.wasi.iter().filter(|w| w.outcome == Outcome::Pass).count()
        })
        .sum()
}

fn median(mut f: impl FnMut(), n: usize) -> Duration {
    let mut times: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[n / 2]
}

fn main() {
    let now = Timestamp::now();
    let policy = policy();
    let evidence = evidence(now);
    let directives: usize =
        evidence.runs.iter().map(|r| r.spec.iter().map(|f| f.directives.len()).sum::<usize>()).sum();
    println!(
        "evidence: {} features × {} target/compiler pairs × {DAYS} days = {} runs, {directives} directives",
        policy.features.len(),
        TARGETS.len(),
        evidence.runs.len()
    );
    let base = median(
        || {
            black_box(scan(black_box(&evidence)));
        },
        9,
    );
    let eval = median(|| drop(black_box(matrix::evaluate(black_box(&policy), black_box(&evidence), now))), 9);
    println!("baseline (one pass counting every outcome): {:>8.2} ms", base.as_secs_f64() * 1e3);
    println!("matrix::evaluate:                           {:>8.2} ms", eval.as_secs_f64() * 1e3);
    println!("ratio evaluate / baseline: {:.1}×  (target: evaluate < 50 ms)", eval.as_secs_f64() / base.as_secs_f64());
    // What the server builds with every evaluation since pages stopped
    // indexing the evidence per request: the evaluation plus its read model.
    let read = median(
        || drop(black_box(matrix::evaluate::evaluate_and_read(black_box(&policy), black_box(&evidence), now))),
        9,
    );
    println!("evaluate_and_read (evaluation + read model): {:>7.2} ms", read.as_secs_f64() * 1e3);
    println!("ratio (evaluate + read model) / baseline: {:.1}×", read.as_secs_f64() / base.as_secs_f64());
}
