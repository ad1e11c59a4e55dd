//! The committed fuzz seeds are exactly the bytes the case builders make, so a seed file and its
//! unit test can never drift apart. `REALIZAR_BLESS_CORPUS=1 cargo test --test corpus_sync`
//! rewrites them after a builder changes.

mod common;

use std::path::Path;

use common::{corpus_dir, gguf_cases, repo_root, safetensors_cases};
use realizar_oracle::fuzz;

fn gguf_seeds() -> Vec<(String, Vec<u8>)> {
    let valid = gguf_cases::valid().into_iter();
    let bad = gguf_cases::malformed()
        .into_iter()
        .map(|c| (c.name, c.bytes));
    valid
        .chain(bad)
        .map(|(n, b)| (format!("{n}.gguf"), b))
        .collect()
}

fn safetensors_seeds() -> Vec<(String, Vec<u8>)> {
    let valid = safetensors_cases::valid().into_iter();
    let bad = safetensors_cases::malformed()
        .into_iter()
        .map(|c| (c.name, c.bytes));
    valid
        .chain(bad)
        .map(|(n, b)| (format!("{n}.safetensors"), b))
        .collect()
}

fn check(dir: &Path, seeds: &[(String, Vec<u8>)]) {
    if std::env::var_os("REALIZAR_BLESS_CORPUS").is_some() {
        common::write_all(dir, seeds);
        return;
    }
    for (name, bytes) in seeds {
        let path = dir.join(name);
        let committed = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run REALIZAR_BLESS_CORPUS=1 cargo test --test corpus_sync",
                path.display()
            )
        });
        assert!(
            &committed == bytes,
            "{} differs from its builder; re-bless",
            path.display()
        );
    }
}

#[test]
fn committed_seed_corpora_match_the_case_builders() {
    // Every GGUF target starts from the same seeds: valid files and one per malformed class.
    let gguf = gguf_seeds();
    let targets = fuzz::targets(&repo_root()).unwrap();
    let gguf_targets: Vec<_> = targets.iter().filter(|t| t.starts_with("gguf_")).collect();
    assert!(gguf_targets.len() >= 3, "{gguf_targets:?}");
    for target in gguf_targets {
        check(&corpus_dir(target), &gguf);
    }
    check(&corpus_dir("safetensors_header"), &safetensors_seeds());
}

/// The fuzz manifest is the one list of targets: each listed target has its source and a
/// committed seed corpus, and every source in fuzz/fuzz_targets is listed.
#[test]
fn every_fuzz_target_is_listed_once_with_its_source_and_seeds() {
    let root = repo_root();
    let targets = fuzz::targets(&root).unwrap();
    let mut sorted = targets.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        targets.len(),
        "a target listed twice: {targets:?}"
    );
    for t in &targets {
        assert!(fuzz::source(&root, t).is_file(), "{t}: no source");
        let seeds = std::fs::read_dir(fuzz::corpus(&root, t)).map_or(0, |d| d.count());
        assert!(seeds > 0, "{t}: no committed seeds");
    }
    let mut sources: Vec<String> = std::fs::read_dir(root.join("fuzz/fuzz_targets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    sources.sort();
    assert_eq!(
        sources, sorted,
        "fuzz/fuzz_targets and fuzz/Cargo.toml disagree"
    );
}
