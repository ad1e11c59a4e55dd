//! Where every golden lives: the one owner of the `golden/` folder's layout and file-name
//! patterns, used by the checks, the tests and the examples alike (as the safetensors crate keeps
//! validation in one place). Each file is made by a script in `golden/scripts/`, named beside it.

use std::path::{Path, PathBuf};

use crate::checks::{env, Failure};

/// HF's reference in a golden set, by the precision it ran in (golden/scripts/models.py's
/// HF_REFERENCE).
pub const HF_F64: &str = "hf_f64.safetensors";
pub const HF_F32: &str = "hf_f32.safetensors";

/// The golden folder of a repository (`<root>/golden`).
#[derive(Clone, Debug)]
pub struct Goldens {
    dir: PathBuf,
}

impl Goldens {
    /// The goldens of the repository at `root`.
    pub fn of_repo(root: &Path) -> Self {
        Goldens {
            dir: root.join("golden"),
        }
    }

    /// The golden folder itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    // Reference models (golden/scripts/models.py): golden/models/<model>/.

    /// The folder of every reference model.
    pub fn models(&self) -> PathBuf {
        self.dir.join("models")
    }

    /// One reference model's folder: golden/models/<model>, or a user's own set in
    /// golden/local/<model> (git-ignored) where the committed sets have none of that name.
    pub fn model_dir(&self, model: &str) -> PathBuf {
        let committed = self.models().join(model);
        let local = self.dir.join("local").join(model);
        if !committed.exists() && local.exists() {
            local
        } else {
            committed
        }
    }

    /// A reference model's file: `<model>-<file>.gguf` (a GGUF label such as F32 or Q4_K_M), or
    /// its HF checkpoint directory for `file` hf.
    pub fn model_file(&self, model: &str, file: &str) -> PathBuf {
        let dir = self.model_dir(model);
        if file == "hf" {
            dir.join("hf")
        } else {
            dir.join(format!("{model}-{file}.gguf"))
        }
    }

    /// A model's manifest: its token ids, provenance and files.
    pub fn model_manifest(&self, model: &str) -> PathBuf {
        self.model_dir(model).join("manifest.json")
    }

    /// HF transformers in float64: logits and every traced op. A user's set made with
    /// `oracle golden new --dtype f32` (a checkpoint too large for float64) holds HF in float32
    /// instead, as `hf_f32.safetensors`: that file, where it is the only one.
    pub fn hf_f64(&self, model: &str) -> PathBuf {
        let dir = self.model_dir(model);
        let f64 = dir.join(HF_F64);
        let f32 = dir.join(HF_F32);
        if !f64.exists() && f32.exists() {
            f32
        } else {
            f64
        }
    }

    /// llama.cpp's batch and incremental logits for one of the model's GGUF files.
    pub fn llamacpp_logits(&self, model: &str, file: &str) -> PathBuf {
        self.model_dir(model)
            .join(format!("llamacpp_{file}.safetensors"))
    }

    /// llama.cpp's eval-callback trace for one of the model's GGUF files.
    pub fn llamacpp_trace(&self, model: &str, file: &str) -> PathBuf {
        self.model_dir(model)
            .join(format!("llamacpp_trace_{file}.safetensors"))
    }

    // The two tiny vocabularies (golden/scripts/models.py): golden/tokenizer/<spm|bpe>/.

    /// A tiny vocabulary's folder (also an HF tokenizer directory).
    pub fn tiny_vocab_dir(&self, which: &str) -> PathBuf {
        self.dir.join("tokenizer").join(which)
    }

    /// A tiny vocabulary's vocab-only GGUF.
    pub fn tiny_vocab(&self, which: &str) -> PathBuf {
        self.tiny_vocab_dir(which).join("vocab.gguf")
    }

    /// A tiny vocabulary's strings with llama.cpp's ids.
    pub fn tiny_tokenize(&self, which: &str) -> PathBuf {
        self.tiny_vocab_dir(which).join("tokenize.json")
    }

    // Real vocabularies (golden/scripts/vocab.py): golden/vocab/<name>/ggml-vocab-<name>.gguf.

    /// The folder of every real vocabulary.
    pub fn vocabs(&self) -> PathBuf {
        self.dir.join("vocab")
    }

    /// One real vocabulary's folder (its GGUF, `.inp` and `.out`).
    pub fn vocab_dir(&self, name: &str) -> PathBuf {
        self.vocabs().join(name)
    }

    /// One real vocabulary's vocab-only GGUF.
    pub fn vocab_gguf(&self, name: &str) -> PathBuf {
        self.vocab_dir(name).join(format!("ggml-vocab-{name}.gguf"))
    }

    /// One of its test-vector files: `ext` inp (the strings) or out (llama.cpp's ids).
    pub fn vocab_vectors(&self, name: &str, ext: &str) -> PathBuf {
        self.vocab_dir(name)
            .join(format!("ggml-vocab-{name}.gguf.{ext}"))
    }

    /// llama-tokenize's ids for text around every vocabulary's special tokens.
    pub fn vocab_special(&self) -> PathBuf {
        self.vocabs().join("special.json")
    }

    /// The folder of llama.cpp's detokenizations (golden/scripts/detokenize.py).
    pub fn detokenizations(&self) -> PathBuf {
        self.dir.join("detokenize")
    }

    /// llama.cpp's detokenizations for one real vocabulary.
    pub fn detokenize(&self, name: &str) -> PathBuf {
        self.detokenizations().join(format!("{name}.json"))
    }

    // RoPE frequencies (golden/scripts/rope.py).

    /// HF's inv_freq and attention factor for each case's config.json.
    pub fn rope_cases(&self) -> PathBuf {
        self.dir.join("rope/cases.json")
    }

    // Sampling (golden/scripts/sampling.py).

    /// The sampler chains and llama.cpp's candidates after each stage.
    pub fn sampling_cases(&self) -> PathBuf {
        self.dir.join("sampling/cases.json")
    }

    /// The logits those chains sample from.
    pub fn sampling_logits(&self) -> PathBuf {
        self.dir.join("sampling/logits.safetensors")
    }

    // Quantization: golden/quant from gguf-py (golden/scripts/quant_golden.py), golden/ggml from
    // ggml itself (golden/scripts/ggml_quantize_ref.py and ggml_quantize_fns.py).

    /// gguf-py's dequantization of seeded random blocks of one type.
    pub fn dequant(&self, ty: &str) -> PathBuf {
        self.quant_dir().join(format!("dequant_{ty}.safetensors"))
    }

    /// gguf-py's dump of one golden tensor as `.npy` (`realizar dump`'s reference).
    pub fn dump(&self, name: &str) -> PathBuf {
        self.quant_dir().join(format!("dump_{name}.npy"))
    }

    /// The folder of gguf-py's quantization goldens (dequantized blocks, dumps, dump.gguf).
    pub fn quant_dir(&self) -> PathBuf {
        self.dir.join("quant")
    }

    /// The GGUF gguf-py's own GGUFWriter wrote, which `realizar dump` reads.
    pub fn dump_gguf(&self) -> PathBuf {
        self.quant_dir().join("dump.gguf")
    }

    /// The folder of ggml's quantizations of one seeded input.
    pub fn quantize_dir(&self) -> PathBuf {
        self.dir.join("ggml/quantize")
    }

    /// The f32 input ggml quantizes.
    pub fn quantize_input(&self) -> PathBuf {
        self.quantize_dir().join("input.safetensors")
    }

    /// ggml's quantization of that input to one type.
    pub fn quantize(&self, name: &str) -> PathBuf {
        self.quantize_dir()
            .join(format!("quantize_{name}.safetensors"))
    }

    /// ggml's own quantization-error figures per type.
    pub fn quantize_fns(&self) -> PathBuf {
        self.dir.join("ggml/quantize_fns.json")
    }

    // Reading: a golden that is missing or unreadable is Failure::Env (the run fails).

    /// A golden JSON file, parsed.
    pub fn json(&self, path: &Path) -> Result<serde_json::Value, Failure> {
        let bytes = std::fs::read(path).map_err(|e| env(format!("{}: {e}", path.display())))?;
        serde_json::from_slice(&bytes).map_err(|e| env(format!("{}: {e}", path.display())))
    }

    /// A reference model's manifest, parsed.
    pub fn manifest(&self, model: &str) -> Result<serde_json::Value, Failure> {
        self.json(&self.model_manifest(model))
    }

    /// The token ids a reference model's goldens were computed on.
    pub fn tokens(&self, model: &str) -> Result<Vec<u32>, Failure> {
        let m = self.manifest(model)?;
        m["tokens"]
            .as_array()
            .ok_or_else(|| env(format!("{model}: manifest has no tokens")))?
            .iter()
            .map(|t| {
                t.as_u64()
                    .and_then(|t| u32::try_from(t).ok())
                    .ok_or_else(|| env(format!("{model}: bad token id {t}")))
            })
            .collect()
    }

    /// A golden tensor (f64 or f32), widened to f64, with its shape.
    pub fn tensor(&self, path: &Path, name: &str) -> Result<(Vec<f64>, Vec<usize>), Failure> {
        let bytes = std::fs::read(path).map_err(|e| env(format!("{}: {e}", path.display())))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| env(format!("{}: {e}", path.display())))?;
        let t = st
            .tensor(name)
            .map_err(|e| env(format!("{}: {name}: {e}", path.display())))?;
        let values = match t.dtype() {
            safetensors::Dtype::F64 => t
                .data()
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                .collect(),
            safetensors::Dtype::F32 => t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap_or([0; 4])) as f64)
                .collect(),
            other => return Err(env(format!("{}: {name} is {other:?}", path.display()))),
        };
        Ok((values, t.shape().to_vec()))
    }
}
