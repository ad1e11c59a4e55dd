//! Model file formats: GGUF and safetensors, each validated in one place with one error enum.

mod detect;
pub mod gguf;
pub mod npy;
pub mod safetensors;
pub mod sentencepiece;

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

pub use detect::{detect, DetectError, FileKind};

/// Maps a whole file read-only, the way llama.cpp loads model files.
pub(crate) fn map_file(path: &Path) -> std::io::Result<Mmap> {
    let file = File::open(path)?;
    // SAFETY: the map is read-only and private to this process. Another process truncating or
    // rewriting the file while it is mapped is outside what any mmap-based reader can defend
    // against; every reader in this crate bounds-checks the map itself, but not concurrent change.
    unsafe { Mmap::map(&file) }
}
