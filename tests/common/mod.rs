//! Shared by the workspace tests: what the engine's tests share too (engine/tests/common, included
//! here by path: the RNG, the fixture GGUF, the in-process CLI, the malformed-input classes),
//! plus what needs the oracle (the committed goldens, the fuzz corpus) and the backends.
#![allow(dead_code)]

#[path = "../../engine/tests/common/mod.rs"]
mod engine;
// Not every test uses the shared part.
#[allow(unused_imports)]
pub use engine::*;

pub mod backends;

use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed goldens, found and read as the oracle finds and reads them (the `safetensors`
/// crate, not the engine's reader): paths, manifests, token ids, tensors widened to f64.
pub fn goldens() -> realizar_oracle::goldens::Goldens {
    realizar_oracle::goldens::Goldens::of_repo(&repo_root())
}

pub fn corpus_dir(target: &str) -> PathBuf {
    realizar_oracle::fuzz::corpus(&repo_root(), target)
}

/// Writes `files` under `dir` with their names, creating `dir`.
pub fn write_all(dir: &Path, files: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}
