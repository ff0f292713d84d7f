//! ARCHITECTURE.md is the map newcomers read first: every file or folder it
//! names in backticks must exist, so the map cannot quietly go stale when
//! code moves, and README must link it.

use std::path::Path;

/// The backticked words of `text` that look like repository paths.
fn named_paths(text: &str) -> Vec<String> {
    let roots = [
        "src/", "openwrt/", "tests/", "benches/", "fuzz/", ".ci/", "include/",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| roots.iter().any(|root| word.starts_with(root)))
        .flat_map(|word| {
            // `src/request/{fields,secret}.rs` names two files.
            match (word.find('{'), word.find('}')) {
                (Some(open), Some(close)) if open < close => word[open + 1..close]
                    .split(',')
                    .map(|part| format!("{}{part}{}", &word[..open], &word[close + 1..]))
                    .collect(),
                _ => vec![word.to_string()],
            }
        })
        .collect()
}

#[test]
fn every_path_the_architecture_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let paths = named_paths(&text);
    assert!(paths.len() >= 20, "too few paths found: {paths:?}");
    let missing: Vec<&String> = paths.iter().filter(|p| !root.join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md names missing paths: {missing:?}"
    );
}

#[test]
fn readme_links_the_architecture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    assert!(
        readme.contains("(ARCHITECTURE.md)"),
        "README does not link ARCHITECTURE.md"
    );
}

#[test]
fn braces_name_each_file() {
    assert_eq!(
        named_paths("see `src/a/{b,c}.rs` and `docs/x` and `tests/`"),
        ["src/a/b.rs", "src/a/c.rs", "tests/"]
    );
}
