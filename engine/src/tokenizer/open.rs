//! The one road from a path to a tokenizer: a GGUF's `tokenizer.ggml.*` metadata, or a
//! HuggingFace directory's tokenizer files, told apart by `format::detect`.

use std::path::Path;

use super::{Tokenizer, TokenizerError};
use crate::format::gguf::Gguf;
use crate::format::{detect, FileKind};

impl Tokenizer {
    /// The tokenizer of a model file or directory (or a vocab-only GGUF).
    pub fn open(path: &Path) -> Result<Self, TokenizerError> {
        let open = |e: &dyn std::fmt::Display| TokenizerError::Open(format!("{e}"));
        match detect(path).map_err(|e| open(&e))? {
            FileKind::Gguf => {
                let g = Gguf::open(path).map_err(|e| open(&format!("{}: {e}", path.display())))?;
                Self::from_gguf(&g.header().metadata)
            }
            FileKind::HfDir => Self::from_hf_dir(path),
            FileKind::Safetensors => Err(open(&format!(
                "{}: a safetensors file holds no tokenizer; give the directory of the \
                 HuggingFace checkpoint",
                path.display()
            ))),
        }
    }
}
