//! What the model-running commands share: the model on the backend asked for, and its tokenizer.

use std::path::Path;

use crate::backend::{BackendKind, Runtime};
use crate::model::{Format, Model, ModelError};
use crate::quant::Kernel;
use crate::tokenizer::Tokenizer;

/// How to load and run a model: the model-running commands' common options.
pub struct Load {
    /// Worker threads (0: one per core).
    pub threads: usize,
    pub kernel: Kernel,
    pub backend: BackendKind,
    /// Whether the CPU kernel's decode layout is packed at load (`Model::load`).
    pub pack: bool,
}

impl Load {
    /// Every default: all cores, the fastest kernel, the CPU, packed.
    pub fn best_cpu() -> Self {
        Load {
            threads: 0,
            kernel: Kernel::best(),
            backend: BackendKind::Cpu,
            pack: true,
        }
    }
}

/// The model on the backend asked for: a GPU that cannot start or cannot run it is an error.
pub fn load_model(path: &Path, load: &Load) -> Result<Runtime, String> {
    let model = match load.pack {
        true => Runtime::load(path, load.kernel, load.backend),
        false => Model::load_unpacked(path, load.kernel).and_then(|m| Runtime::on(m, load.backend)),
    };
    let mut model = model.map_err(|e| match e {
        ModelError::Io { .. } => e.to_string(),
        ModelError::Gpu(e) => format!("{}: --backend gpu: {e}", path.display()),
        _ => format!("{}: {e}", path.display()),
    })?;
    model.set_threads(load.threads).map_err(|e| e.to_string())?;
    Ok(model)
}

pub fn load_tokenizer(model: &Model, path: &Path) -> Result<Tokenizer, String> {
    let tok = match &model.format {
        Format::Gguf { metadata } => Tokenizer::from_gguf(metadata),
        Format::HfDir => Tokenizer::from_hf_dir(path),
    };
    tok.map_err(|e| format!("{}: {e}", path.display()))
}
