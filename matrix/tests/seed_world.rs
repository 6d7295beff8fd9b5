//! The seed world: the repository's policy plus the seed-world fixture must
//! render the seed tier document — every table row with its computed
//! "Missing" column, every link, footnote, unsupported entry and paragraph.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

/// The seed document: `TIERWATCH_SEED`, or `../shared/stability-tiers.md`
/// beside the repository.
fn seed() -> String {
    let path = std::env::var_os("TIERWATCH_SEED")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("../shared/stability-tiers.md"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("cannot read the seed tier document at {} ({e}); set TIERWATCH_SEED to its path", path.display())
    })
}

fn render() -> String {
    let policy = common::policy();
    let evaluation = matrix::evaluate(&policy, &common::seed_world(), common::seed_now());
    matrix::tiers_md::render(&policy, &evaluation)
}

/// The rendered document without its support-table section, which the seed
/// document predates: what is compared with the seed line by line.
fn render_seed_part() -> String {
    let doc = render();
    let start = doc.find("## Support by Architecture\n").expect("the policy has support tables");
    let end = doc.find("## Tier Details\n").expect("Tier Details");
    format!("{}{}", &doc[..start], &doc[end..])
}

/// Splits a document into (lines with table padding folded and reference
/// links and blank lines taken out, the set of reference links). Blank
/// lines are layout: TIERS.md ends each table with one, which the seed
/// lacks (so its links do not resolve in CommonMark).
fn normalise(doc: &str) -> (Vec<String>, BTreeSet<String>) {
    let mut lines = Vec::new();
    let mut links = BTreeSet::new();
    for line in doc.lines() {
        if line.trim().is_empty() {
            continue;
        } else if line.starts_with("[`") && line.contains("]: ") {
            links.insert(line.to_owned());
        } else if line.starts_with('|') {
            let cells: Vec<String> = line.trim_matches('|').split('|').map(|c| c.trim().to_owned()).collect();
            let is_rule = cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-'));
            lines.push(if is_rule { format!("rule/{}", cells.len()) } else { cells.join(" | ") });
        } else {
            lines.push(line.to_owned());
        }
    }
    (lines, links)
}

/// The rows of features the policy says have no test data: their Missing
/// cell is what the seed claims and the pinned test data cannot judge, so
/// it is compared only for saying so ("no test data") and then set aside
/// in both documents.
fn set_aside_no_test_data(ours: &mut [String], theirs: &mut [String]) {
    let policy = common::policy();
    let labels: Vec<String> = policy
        .features
        .iter()
        .filter(|f| f.evidence.no_test_data.is_some())
        .map(|f| format!("`{}`", f.label))
        .collect();
    let row_of = |line: &str| {
        let cells: Vec<&str> = line.split(" | ").collect();
        (cells.len() == 3 && labels.iter().any(|l| cells[1].contains(l.as_str()))).then(|| cells[..2].join(" | "))
    };
    for line in ours.iter_mut() {
        if let Some(row) = row_of(line) {
            assert!(line.rsplit(" | ").next().is_some_and(|m| m.starts_with("no test data")), "{line}");
            *line = format!("{row} | <no test data>");
        }
    }
    for line in theirs.iter_mut() {
        if let Some(row) = row_of(line) {
            *line = format!("{row} | <no test data>");
        }
    }
}

#[test]
fn tiers_md_reproduces_the_seed_document() {
    let (mut ours, our_links) = normalise(&render_seed_part());
    let seed = seed();
    let (mut theirs, their_links) = normalise(&seed);
    set_aside_no_test_data(&mut ours, &mut theirs);
    assert_eq!(our_links, their_links, "reference links differ");
    let first_difference = ours.iter().zip(&theirs).position(|(a, b)| a != b);
    if let Some(i) = first_difference {
        panic!("line {} differs:\n  computed: {}\n  seed:     {}", i + 1, ours[i], theirs[i]);
    }
    assert_eq!(ours.len(), theirs.len(), "the documents have different lengths");
}

#[test]
fn every_seed_table_row_is_a_computed_row() {
    // Independent of prose: each table row of the seed, Missing column
    // included, must appear among the computed rows, in the same order.
    let (ours, _) = normalise(&render_seed_part());
    let rows = |lines: &[String]| -> Vec<String> {
        lines.iter().filter(|l| l.contains(" | ") && !l.starts_with("Category")).cloned().collect()
    };
    let (theirs, _) = normalise(&seed());
    let (mut ours, mut theirs) = (rows(&ours), rows(&theirs));
    set_aside_no_test_data(&mut ours, &mut theirs);
    assert_eq!(theirs.len(), 46, "the seed has 46 feature rows");
    assert_eq!(ours, theirs);
}

#[test]
fn tiers_md_snapshot() {
    insta::assert_snapshot!("seed_world_tiers_md", render());
}

/// Read by a CommonMark parser (GitHub's table and footnote extensions on),
/// every `[label]` of TIERS.md resolves to its link definition: none is
/// left as literal text, and every feature with a link is linked.
#[test]
fn every_link_in_tiers_md_resolves_in_commonmark() {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let doc = render();
    let mut broken = Vec::new();
    let mut callback = |link: pulldown_cmark::BrokenLink<'_>| {
        broken.push(link.reference.to_string());
        None
    };
    let options = Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES;
    let parser = Parser::new_with_broken_link_callback(&doc, options, Some(&mut callback));
    let mut linked = BTreeSet::new();
    let mut in_table_text = Vec::new();
    for event in parser {
        match event {
            Event::Start(Tag::Link { dest_url, .. }) => {
                linked.insert(dest_url.to_string());
            }
            Event::Text(t) if t.contains("]: http") => in_table_text.push(t.to_string()),
            _ => {}
        }
    }
    assert_eq!(broken, Vec::<String>::new(), "references with no definition");
    assert_eq!(in_table_text, Vec::<String>::new(), "link definitions read as text");
    let policy = common::policy();
    let expected: BTreeSet<String> = policy.features.iter().filter_map(|f| f.link.clone()).collect();
    let missing: Vec<&String> = expected.difference(&linked).collect();
    assert!(missing.is_empty(), "features whose link is not a link in TIERS.md: {missing:?}");
}

/// The policy's support table on the seed world: every cell the seed
/// world's runs reach is computed from them, Winch's gaps on x86_64 show as
/// in progress, and the interpreter column has no evidence (the seed world
/// has no Pulley runs).
#[test]
fn the_support_table_is_computed_from_the_seed_world() {
    let policy = common::policy();
    let eval = matrix::evaluate(&policy, &common::seed_world(), common::seed_now());
    let table = eval.tables.iter().find(|t| t.id == "wasm-proposals").expect("the support table");
    let cell = |arch: &str, row: &str, backend: &str| {
        let a = table.architectures.iter().find(|a| a.id == arch).expect("architecture");
        let r = a.rows.iter().find(|r| r.feature == row).expect("row");
        r.cells.iter().find(|c| c.backend == backend).expect("cell").clone()
    };
    let simd = cell("x86_64", "simd", "cranelift");
    assert_eq!((simd.level.as_deref(), simd.declared, simd.failed), (Some("supported"), false, 0));
    assert!(simd.runs.iter().any(|r| r == "seed-x86_64-unknown-linux-gnu-cranelift"), "{:?}", simd.runs);
    let winch = cell("x86_64", "simd", "winch");
    assert_eq!(winch.level.as_deref(), Some("in-progress"));
    assert!(
        winch.failed > 0 && winch.items.iter().all(|i| i.contains(" on x86_64-unknown-linux-gnu ")),
        "{:?}",
        winch.items
    );
    assert!(cell("s390x", "gc", "winch").declared);
    let pulley = cell("interpreter", "gc", "pulley");
    assert_eq!((pulley.level, pulley.declared), (None, false));
}
