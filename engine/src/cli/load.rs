//! What the model-running commands share: the model on the backend asked for, and its tokenizer.

use std::path::Path;

use crate::backend::{BackendKind, Runtime};
use crate::model::{Format, Model, ModelError};
use crate::quant::Kernel;
use crate::tokenizer::Tokenizer;

/// The model on the backend asked for: a GPU that cannot start or cannot run it is an error.
pub fn load_model(
    path: &Path,
    threads: usize,
    kernel: Kernel,
    backend: BackendKind,
) -> Result<Runtime, String> {
    let mut model = Runtime::load(path, kernel, backend).map_err(|e| match e {
        ModelError::Io { .. } => e.to_string(),
        ModelError::Gpu(e) => format!("{}: --backend gpu: {e}", path.display()),
        _ => format!("{}: {e}", path.display()),
    })?;
    model.set_threads(threads).map_err(|e| e.to_string())?;
    Ok(model)
}

pub fn load_tokenizer(model: &Model, path: &Path) -> Result<Tokenizer, String> {
    let tok = match &model.format {
        Format::Gguf { metadata } => Tokenizer::from_gguf(metadata),
        Format::HfDir => Tokenizer::from_hf_dir(path),
    };
    tok.map_err(|e| format!("{}: {e}", path.display()))
}
