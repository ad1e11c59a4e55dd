//! LLaMA-family models: configuration, weights, and the forward pass.
//!
//! One forward pass serves prefill (a batch of tokens through matmul) and decode (one token): it
//! appends to a bounded KV cache and returns logits. `forward_traced` is the same pass with an
//! observer that sees every named intermediate tensor.

mod attention;
mod config;
mod forward;
mod weights;

use std::path::Path;

pub use config::{Activation, Arch, Config, LongRope, RopeStyle, Yarn};
pub use forward::{KvCache, Logits, Observer, Trace, TracePoint};
pub use weights::{Layer, Linear, Weights};

use crate::format::gguf::{GgufError, Metadata};
use crate::format::safetensors::SafetensorsError;
use crate::format::{detect, DetectError, FileKind};
use crate::quant::{CheckedKernel, Kernel, QuantError};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Safetensors(#[from] SafetensorsError),
    #[error(transparent)]
    Quant(#[from] QuantError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(
        "{0}: one safetensors file holds no config.json and no tokenizer; give the directory \
         of the HuggingFace checkpoint instead"
    )]
    LoneSafetensors(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("architecture '{0}' is not supported (supported: llama, qwen2, qwen3)")]
    UnsupportedArch(String),
    #[error("{key} = {value} {why}")]
    UnsupportedKey {
        key: String,
        value: String,
        why: String,
    },
    #[error(
        "{} tensor(s) in the file are not used by architecture '{arch}': {}; refusing rather \
         than ignoring them",
        names.len(),
        names.join(", ")
    )]
    UnusedTensors { arch: String, names: Vec<String> },
    #[error("missing metadata: {0}")]
    MissingKey(String),
    #[error("bad model config: {0}")]
    Config(String),
    #[error("missing tensor {0}")]
    MissingTensor(String),
    #[error("tensor {name}: expected {expected}, found {found}")]
    Shape {
        name: String,
        expected: String,
        found: String,
    },
    #[error("tensor {name}: {source}")]
    Tensor { name: String, source: QuantError },
    #[error("tensor {name}: dtype {dtype} is not supported (F32, F16, BF16)")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("token id {token} is out of range: the vocabulary has {vocab} tokens")]
    TokenOutOfRange { token: u32, vocab: usize },
    #[error("context full: {needed} positions needed, the cache holds {ctx}")]
    ContextFull { needed: usize, ctx: usize },
    #[error("no tokens to run")]
    NoTokens,
    #[error(transparent)]
    Gpu(#[from] crate::backend::GpuError),
}

/// Where a model came from.
#[derive(Debug)]
pub enum Format {
    Gguf { metadata: Metadata },
    HfDir,
}

/// A loaded model: its config, its weights, and the kernel its matrix products run on.
#[derive(Debug)]
pub struct Model {
    pub config: Config,
    pub weights: Weights,
    /// Checked once, at load: the matrix products do not check it again.
    kernel: CheckedKernel,
    pub format: Format,
    /// The threads matrix products and attention run on; None: rayon's global pool.
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
}

impl Config {
    /// What every backend's forward call checks first: some tokens, each in the vocabulary, and
    /// room for them in a cache of `ctx` positions already holding `start`.
    pub(crate) fn check_call(
        &self,
        tokens: &[u32],
        start: usize,
        ctx: usize,
    ) -> Result<(), ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::NoTokens);
        }
        if let Some(&token) = tokens.iter().find(|&&t| t as usize >= self.vocab) {
            return Err(ModelError::TokenOutOfRange {
                token,
                vocab: self.vocab,
            });
        }
        if start + tokens.len() > ctx {
            return Err(ModelError::ContextFull {
                needed: start + tokens.len(),
                ctx,
            });
        }
        Ok(())
    }
}

impl Model {
    /// A GGUF file, or a HuggingFace directory (config.json + safetensors), with the decode
    /// layout `kernel` packs at load (`quant::Packed`: AVX-512's Q4_K, Q6_K and Q8_0 matrices).
    pub fn load(path: &Path, kernel: Kernel) -> Result<Self, ModelError> {
        let mut model = Self::load_unpacked(path, kernel)?;
        model.weights.pack(model.kernel);
        Ok(model)
    }

    /// `load` without the decode layout: one token's products read the mapped rows, as
    /// prefill's do (the same bits, slower, about one copy of the packed matrices less memory).
    pub fn load_unpacked(path: &Path, kernel: Kernel) -> Result<Self, ModelError> {
        let kernel = kernel.checked()?;
        let (config, weights, format) = match detect(path)? {
            FileKind::HfDir => {
                let (c, w) = weights::load_hf(path)?;
                (c, w, Format::HfDir)
            }
            FileKind::Safetensors => {
                return Err(ModelError::LoneSafetensors(path.display().to_string()))
            }
            FileKind::Gguf => {
                let map = crate::format::map_file(path).map_err(|source| ModelError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                let (c, metadata, w) = weights::load_gguf(map)?;
                (c, w, Format::Gguf { metadata })
            }
        };
        Ok(Model {
            config,
            weights,
            kernel,
            format,
            pool: None,
        })
    }

    /// The kernel the matrix products run on.
    pub fn kernel(&self) -> Kernel {
        self.kernel.kernel()
    }

    /// Runs forward passes on `threads` threads of their own (0: rayon's global pool).
    pub fn set_threads(&mut self, threads: usize) -> Result<(), ModelError> {
        self.pool = match threads {
            0 => None,
            n => Some(std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| ModelError::Config(format!("cannot start {n} threads: {e}")))?,
            )),
        };
        Ok(())
    }

    /// A KV cache for `ctx` positions (at most the model's trained context when given 0).
    pub fn new_cache(&self, ctx: usize) -> KvCache {
        let ctx = if ctx == 0 { self.config.context } else { ctx };
        KvCache::new(&self.config, ctx)
    }

    /// Runs `tokens` at the cache's next positions and returns their logits.
    pub fn forward(
        &self,
        cache: &mut KvCache,
        tokens: &[u32],
        logits: Logits,
    ) -> Result<Vec<f32>, ModelError> {
        self.forward_traced(cache, tokens, logits, None)
    }
}
