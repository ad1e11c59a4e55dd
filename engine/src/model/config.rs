//! Hyperparameters, read from GGUF metadata (`<arch>.*` keys) or a HuggingFace config.json.

use serde_json::Value;

use super::ModelError;
use crate::format::gguf::Metadata;

/// The architectures the forward pass runs. Each fixes the RoPE convention of its GGUF files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Llama 2/3, TinyLlama, Mistral: adjacent-pair RoPE in GGUF order.
    Llama,
    /// Qwen2: NeoX (half-split) RoPE and biases on Q, K and V.
    Qwen2,
}

impl Arch {
    pub fn from_gguf(name: &str) -> Result<Self, ModelError> {
        match name {
            "llama" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            other => Err(ModelError::UnsupportedArch(other.to_string())),
        }
    }

    /// From config.json's `model_type`.
    pub fn from_hf(model_type: &str) -> Result<Self, ModelError> {
        match model_type {
            "llama" | "mistral" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            other => Err(ModelError::UnsupportedArch(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
        }
    }

    /// The rotation applied to Q and K rows as they are stored in GGUF files. HF checkpoints of
    /// `llama` store Q and K for the half-split rotation; the loader permutes their rows into
    /// GGUF order, so one convention per architecture holds for both formats.
    pub fn rope_style(self) -> RopeStyle {
        match self {
            Arch::Llama => RopeStyle::Adjacent,
            Arch::Qwen2 => RopeStyle::NeoX,
        }
    }
}

/// How RoPE pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Pairs (2i, 2i+1): llama.cpp's LLAMA_ROPE_TYPE_NORM.
    Adjacent,
    /// Pairs (i, i + d/2): GPT-NeoX, HF's rotate_half.
    NeoX,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub arch: Arch,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub ffn: usize,
    pub vocab: usize,
    /// The context length the model was trained for; a cache may be smaller.
    pub context: usize,
    pub rope_theta: f64,
    /// Dimensions of each head that RoPE rotates (the rest pass through).
    pub rope_dim: usize,
    pub rope_style: RopeStyle,
    pub norm_eps: f64,
}

impl Config {
    pub fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    pub fn from_gguf(meta: &Metadata, vocab: usize) -> Result<Self, ModelError> {
        let arch_name = meta
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ModelError::MissingKey("general.architecture".into()))?;
        let arch = Arch::from_gguf(arch_name)?;
        let key = |k: &str| format!("{arch_name}.{k}");
        let int = |k: &str| -> Result<usize, ModelError> {
            let full = key(k);
            let v = meta
                .get(&full)
                .ok_or(ModelError::MissingKey(full.clone()))?;
            v.as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| ModelError::Config(format!("{full} = {v:?} is not a count")))
        };
        let float = |k: &str| meta.get(&key(k)).and_then(|v| v.as_f64());
        let hidden = int("embedding_length")?;
        let heads = int("attention.head_count")?;
        let kv_heads = match meta.get(&key("attention.head_count_kv")) {
            Some(_) => int("attention.head_count_kv")?,
            None => heads,
        };
        let head_dim = match meta.get(&key("attention.key_length")) {
            Some(_) => int("attention.key_length")?,
            None => hidden.checked_div(heads).unwrap_or(0),
        };
        let rope_dim = match meta.get(&key("rope.dimension_count")) {
            Some(_) => int("rope.dimension_count")?,
            None => head_dim,
        };
        let norm_eps = float("attention.layer_norm_rms_epsilon")
            .ok_or_else(|| ModelError::MissingKey(key("attention.layer_norm_rms_epsilon")))?;
        Config {
            arch,
            hidden,
            layers: int("block_count")?,
            heads,
            kv_heads,
            head_dim,
            ffn: int("feed_forward_length")?,
            vocab,
            context: int("context_length")?,
            rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
            rope_dim,
            rope_style: arch.rope_style(),
            norm_eps,
        }
        .validated()
    }

    pub fn from_hf(json: &Value) -> Result<Self, ModelError> {
        let model_type = json["model_type"]
            .as_str()
            .ok_or_else(|| ModelError::MissingKey("config.json model_type".into()))?;
        let arch = Arch::from_hf(model_type)?;
        let int = |k: &str| -> Result<usize, ModelError> {
            json[k]
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| ModelError::MissingKey(format!("config.json {k}")))
        };
        let hidden = int("hidden_size")?;
        let heads = int("num_attention_heads")?;
        let kv_heads = if json["num_key_value_heads"].is_null() {
            heads
        } else {
            int("num_key_value_heads")?
        };
        let head_dim = if json["head_dim"].is_null() {
            hidden.checked_div(heads).unwrap_or(0)
        } else {
            int("head_dim")?
        };
        // transformers 5 moved rope_theta into rope_parameters.
        let rope_theta = json["rope_theta"]
            .as_f64()
            .or_else(|| json["rope_parameters"]["rope_theta"].as_f64())
            .unwrap_or(10_000.0);
        let rope_type = json["rope_scaling"]["rope_type"]
            .as_str()
            .or_else(|| json["rope_parameters"]["rope_type"].as_str())
            .unwrap_or("default");
        if rope_type != "default" {
            return Err(ModelError::Config(format!(
                "RoPE scaling '{rope_type}' is not supported"
            )));
        }
        Config {
            arch,
            hidden,
            layers: int("num_hidden_layers")?,
            heads,
            kv_heads,
            head_dim,
            ffn: int("intermediate_size")?,
            vocab: int("vocab_size")?,
            context: int("max_position_embeddings")?,
            rope_theta,
            rope_dim: head_dim,
            rope_style: arch.rope_style(),
            norm_eps: json["rms_norm_eps"]
                .as_f64()
                .ok_or_else(|| ModelError::MissingKey("config.json rms_norm_eps".into()))?,
        }
        .validated()
    }

    /// Every size the forward pass divides or indexes by is non-zero and consistent.
    fn validated(self) -> Result<Self, ModelError> {
        let bad = |why: String| Err(ModelError::Config(why));
        if [
            self.hidden,
            self.layers,
            self.heads,
            self.kv_heads,
            self.head_dim,
        ]
        .contains(&0)
            || self.ffn == 0
            || self.vocab == 0
        {
            return bad(format!("a size is zero: {self:?}"));
        }
        if !self.heads.is_multiple_of(self.kv_heads) {
            return bad(format!(
                "{} query heads do not divide into {} KV heads",
                self.heads, self.kv_heads
            ));
        }
        if self.rope_dim > self.head_dim || !self.rope_dim.is_multiple_of(2) {
            return bad(format!(
                "RoPE dimension {} must be even and at most head_dim {}",
                self.rope_dim, self.head_dim
            ));
        }
        if !(self.norm_eps > 0.0 && self.rope_theta > 0.0) {
            return bad(format!(
                "norm eps {} and RoPE theta {} must be positive",
                self.norm_eps, self.rope_theta
            ));
        }
        Ok(self)
    }
}
