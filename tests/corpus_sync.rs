//! The committed fuzz seeds are exactly the bytes the case builders make, so a seed file and its
//! unit test can never drift apart. `REALIZAR_BLESS_CORPUS=1 cargo test --test corpus_sync`
//! rewrites them after a builder changes.

mod common;

use std::path::Path;

use common::{corpus_dir, gguf_cases, safetensors_cases};

/// Every GGUF target starts from the same seeds: valid files and one per malformed class.
const GGUF_TARGETS: [&str; 3] = ["gguf_header", "gguf_file", "gguf_differential"];

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
    let gguf = gguf_seeds();
    for target in GGUF_TARGETS {
        check(&corpus_dir(target), &gguf);
    }
    check(&corpus_dir("safetensors_header"), &safetensors_seeds());
}
