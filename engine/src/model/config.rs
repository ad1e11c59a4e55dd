//! Hyperparameters, read from GGUF metadata (`<arch>.*` keys) or a HuggingFace config.json.
//!
//! Nothing is read with a silent default where the value changes the arithmetic: every
//! `<arch>.*` GGUF key must be one this module understands, and every config.json key must be
//! either understood or known not to change the numbers. Anything else is a refusal that names
//! the key and its value (llama.cpp refuses unknown tensors the same way).

use std::cell::RefCell;
use std::collections::BTreeSet;

use serde_json::Value;

use super::ModelError;
use crate::format::gguf::{MetaValue, Metadata};
pub use crate::ops::RopeStyle;

/// The architectures the forward pass runs. Each fixes the RoPE convention of its GGUF files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Llama 2/3, TinyLlama, Mistral: adjacent-pair RoPE in GGUF order.
    Llama,
    /// Qwen2 / Qwen2.5: NeoX (half-split) RoPE and biases on Q, K and V.
    Qwen2,
    /// Qwen3: NeoX RoPE, RMSNorm of every Q and K head before RoPE, head_dim of its own.
    Qwen3,
    /// Phi-3 / Phi-3.5: NeoX RoPE, Q/K/V in one fused matrix and gate/up in another.
    Phi3,
}

impl Arch {
    pub fn from_gguf(name: &str) -> Result<Self, ModelError> {
        match name {
            "llama" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            "qwen3" => Ok(Arch::Qwen3),
            "phi3" => Ok(Arch::Phi3),
            other => Err(ModelError::UnsupportedArch(other.to_string())),
        }
    }

    /// From config.json's `model_type`.
    pub fn from_hf(model_type: &str) -> Result<Self, ModelError> {
        match model_type {
            "llama" | "mistral" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            "qwen3" => Ok(Arch::Qwen3),
            "phi3" => Ok(Arch::Phi3),
            other => Err(ModelError::UnsupportedArch(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Phi3 => "phi3",
        }
    }

    /// The rotation applied to Q and K rows as they are stored in GGUF files. HF checkpoints of
    /// `llama` store Q and K for the half-split rotation; the loader permutes their rows into
    /// GGUF order, so one convention per architecture holds for both formats.
    pub fn rope_style(self) -> RopeStyle {
        match self {
            Arch::Llama => RopeStyle::Adjacent,
            Arch::Qwen2 | Arch::Qwen3 | Arch::Phi3 => RopeStyle::NeoX,
        }
    }

    /// Whether every Q and K head is RMS-normalised (with a weight of head_dim) before RoPE.
    pub fn qk_norm(self) -> bool {
        self == Arch::Qwen3
    }

    /// Whether Q/K/V come as one `attn_qkv` matrix and gate/up as one `ffn_up` (gate first).
    pub fn fused(self) -> bool {
        self == Arch::Phi3
    }
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
    /// Linear RoPE scaling: positions are multiplied by this (1 / the scaling factor).
    pub rope_freq_scale: f64,
    /// Per-pair divisors of the RoPE frequencies (`rope_dim / 2` of them): Llama 3's scaling,
    /// stored in GGUF files as the `rope_freqs.weight` tensor, computed from config.json's
    /// `rope_scaling` for HF directories.
    pub rope_factors: Option<Vec<f32>>,
    /// Attention sees only the last `window` positions (Mistral's sliding window).
    pub sliding_window: Option<usize>,
    pub norm_eps: f64,
}

/// The `<arch>.*` keys of a GGUF file, each marked as it is read; whatever is left unread at the
/// end is a key this engine does not understand.
struct GgufKeys<'a> {
    meta: &'a Metadata,
    arch: &'a str,
    read: RefCell<BTreeSet<String>>,
}

/// Namespaces that do not change the forward pass: descriptions, the tokenizer's own keys (the
/// tokenizer loader reads and checks those), and llama-quantize's importance-matrix notes.
const INFORMATIONAL: [&str; 3] = ["general.", "tokenizer.", "quantize.imatrix."];

impl GgufKeys<'_> {
    fn full(&self, k: &str) -> String {
        format!("{}.{k}", self.arch)
    }

    fn get(&self, k: &str) -> Option<&MetaValue> {
        let full = self.full(k);
        let v = self.meta.get(&full);
        self.read.borrow_mut().insert(full);
        v
    }

    fn int(&self, k: &str) -> Result<Option<usize>, ModelError> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|v| usize::try_from(v).ok())
                .map(Some)
                .ok_or_else(|| self.unsupported(k, v, "is not a count")),
        }
    }

    fn required(&self, k: &str) -> Result<usize, ModelError> {
        self.int(k)?
            .ok_or_else(|| ModelError::MissingKey(self.full(k)))
    }

    fn float(&self, k: &str) -> Result<Option<f64>, ModelError> {
        match self.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.unsupported(k, v, "is not a number")),
        }
    }

    fn unsupported(&self, k: &str, v: &MetaValue, why: &str) -> ModelError {
        ModelError::UnsupportedKey {
            key: self.full(k),
            value: format!("{v:?}"),
            why: why.to_string(),
        }
    }

    /// Every key not read and not informational is refused, by name and value.
    fn finish(&self) -> Result<(), ModelError> {
        let read = self.read.borrow();
        for (key, value) in self.meta.iter() {
            if read.contains(key) || INFORMATIONAL.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            return Err(ModelError::UnsupportedKey {
                key: key.to_string(),
                value: format!("{value:?}"),
                why: "is not understood by this engine, which refuses rather than ignores it"
                    .into(),
            });
        }
        Ok(())
    }
}

/// config.json keys that do not change the numbers of a forward pass in float arithmetic.
const HF_INFORMATIONAL: [&str; 18] = [
    "_name_or_path",
    "architectures",
    "attention_dropout",
    "embd_pdrop",
    "resid_pdrop",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "torch_dtype",
    "dtype",
    "transformers_version",
    "use_cache",
    "initializer_range",
    "model_type",
    // Tensor-parallel slicing of the same products: the same sums in another order.
    "pretraining_tp",
    // The presence of bias tensors is what the loader goes by; every tensor is accounted for.
    "attention_bias",
    "mlp_bias",
    // Read with `use_sliding_window` (Qwen2), which must be false.
    "max_window_layers",
];

impl Config {
    pub fn q_dim(&self) -> usize {
        self.heads * self.head_dim
    }

    pub fn kv_dim(&self) -> usize {
        self.kv_heads * self.head_dim
    }

    /// From GGUF metadata. `vocab` comes from the embedding's shape; the RoPE factors, if the
    /// file has them, from its `rope_freqs.weight` tensor (set by the weight loader).
    pub fn from_gguf(meta: &Metadata, vocab: usize) -> Result<Self, ModelError> {
        let arch_name = meta
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ModelError::MissingKey("general.architecture".into()))?;
        let arch = Arch::from_gguf(arch_name)?;
        let keys = GgufKeys {
            meta,
            arch: arch_name,
            read: RefCell::new(BTreeSet::new()),
        };
        let hidden = keys.required("embedding_length")?;
        let heads = keys.required("attention.head_count")?;
        let kv_heads = keys.int("attention.head_count_kv")?.unwrap_or(heads);
        let head_dim = keys
            .int("attention.key_length")?
            .unwrap_or(hidden.checked_div(heads).unwrap_or(0));
        if let Some(v) = keys.int("attention.value_length")? {
            if v != head_dim {
                return Err(ModelError::Config(format!(
                    "{} = {v} differs from the key length {head_dim}: not supported",
                    keys.full("attention.value_length")
                )));
            }
        }
        let rope_dim = keys.int("rope.dimension_count")?.unwrap_or(head_dim);
        let norm_eps = keys
            .float("attention.layer_norm_rms_epsilon")?
            .ok_or_else(|| ModelError::MissingKey(keys.full("attention.layer_norm_rms_epsilon")))?;
        if let Some(v) = keys.int("vocab_size")? {
            if v != vocab {
                return Err(ModelError::Config(format!(
                    "{} = {v} but token_embd.weight has {vocab} rows",
                    keys.full("vocab_size")
                )));
            }
        }
        // llama.cpp applies the scaling factor as a linear position scale for `none` and
        // `linear` alike; YaRN and LongRoPE change more than that and are refused.
        match keys.get("rope.scaling.type") {
            None => {}
            Some(v) if matches!(v.as_str(), Some("none" | "linear")) => {}
            Some(v) => {
                return Err(keys.unsupported("rope.scaling.type", v, "is not supported"));
            }
        }
        let factor = keys.float("rope.scaling.factor")?.unwrap_or(0.0);
        let rope_freq_scale = if factor == 0.0 { 1.0 } else { 1.0 / factor };
        // Read by YaRN only, and a flag: neither changes the linear scaling above.
        keys.get("rope.scaling.original_context_length");
        keys.get("rope.scaling.finetuned");
        for k in [
            "expert_count",
            "expert_used_count",
            "attention.sliding_window",
        ] {
            if let Some(v) = keys.get(k) {
                if v.as_u64() != Some(0) {
                    return Err(keys.unsupported(k, v, "is not supported"));
                }
            }
        }
        let config = Config {
            arch,
            hidden,
            layers: keys.required("block_count")?,
            heads,
            kv_heads,
            head_dim,
            ffn: keys.required("feed_forward_length")?,
            vocab,
            context: keys.required("context_length")?,
            rope_theta: keys.float("rope.freq_base")?.unwrap_or(10_000.0),
            rope_dim,
            rope_style: arch.rope_style(),
            rope_freq_scale,
            rope_factors: None,
            sliding_window: None,
            norm_eps,
        };
        if !crate::faults::is(crate::faults::Fault::IgnoreUnknownInput) {
            keys.finish()?;
        }
        config.validated()
    }

    pub fn from_hf(json: &Value) -> Result<Self, ModelError> {
        let model_type = json["model_type"]
            .as_str()
            .ok_or_else(|| ModelError::MissingKey("config.json model_type".into()))?;
        let arch = Arch::from_hf(model_type)?;
        let read = RefCell::new(BTreeSet::<&str>::new());
        let get = |k: &'static str| {
            read.borrow_mut().insert(k);
            &json[k]
        };
        let refuse = |k: &str, why: &str| ModelError::UnsupportedKey {
            key: format!("config.json {k}"),
            value: json[k].to_string(),
            why: why.into(),
        };
        let int = |k: &'static str| -> Result<Option<usize>, ModelError> {
            match get(k) {
                Value::Null => Ok(None),
                v => v
                    .as_u64()
                    .and_then(|v| usize::try_from(v).ok())
                    .map(Some)
                    .ok_or_else(|| refuse(k, "is not a count")),
            }
        };
        let required = |k: &'static str| {
            int(k)?.ok_or_else(|| ModelError::MissingKey(format!("config.json {k}")))
        };
        let hidden = required("hidden_size")?;
        let heads = required("num_attention_heads")?;
        let kv_heads = int("num_key_value_heads")?.unwrap_or(heads);
        let head_dim = int("head_dim")?.unwrap_or(hidden.checked_div(heads).unwrap_or(0));
        if let Some(act) = get("hidden_act").as_str() {
            if act != "silu" {
                return Err(refuse("hidden_act", "is not supported (silu only)"));
            }
        }
        // transformers 5 moved rope_theta and the scaling into rope_parameters.
        let scaling = get("rope_scaling");
        let (rope_key, rope) = match get("rope_parameters") {
            v @ Value::Object(_) => ("rope_parameters", v),
            _ => ("rope_scaling", scaling),
        };
        let rope_theta = get("rope_theta")
            .as_f64()
            .or_else(|| rope["rope_theta"].as_f64())
            .unwrap_or(10_000.0);
        let (rope_freq_scale, rope_factors) =
            match rope["rope_type"].as_str().or_else(|| rope["type"].as_str()) {
                None | Some("default") => (1.0, None),
                Some("linear") => {
                    let f = rope["factor"]
                        .as_f64()
                        .ok_or_else(|| refuse(rope_key, "linear scaling without a factor"))?;
                    (1.0 / f, None)
                }
                Some("llama3") => {
                    let p = |k: &str| {
                        rope[k]
                            .as_f64()
                            .ok_or_else(|| refuse(rope_key, &format!("llama3 scaling without {k}")))
                    };
                    (
                        1.0,
                        Some(llama3_factors(
                            rope_theta,
                            head_dim,
                            p("factor")?,
                            p("low_freq_factor")?,
                            p("high_freq_factor")?,
                            p("original_max_position_embeddings")?,
                        )),
                    )
                }
                Some(_) => return Err(refuse(rope_key, "RoPE scaling type is not supported")),
            };
        let sliding_window = match (model_type, get("sliding_window")) {
            (_, Value::Null) => None,
            // Mistral and Phi-3 apply their window whenever it is set.
            ("mistral" | "phi3", _) => int("sliding_window")?,
            // Qwen2/3 apply it only with use_sliding_window (refused below).
            _ => None,
        };
        match get("partial_rotary_factor") {
            Value::Null => {}
            v if v.as_f64() == Some(1.0) => {}
            _ => {
                return Err(refuse(
                    "partial_rotary_factor",
                    "partial rotary embeddings are not supported",
                ))
            }
        }
        // Phi-3's original context only matters to its LongRoPE scaling, refused above.
        get("original_max_position_embeddings");
        // Held against the checkpoint's tensors by the weight loader (`load_hf`).
        get("tie_word_embeddings");
        if get("use_sliding_window").as_bool() == Some(true) {
            return Err(refuse(
                "use_sliding_window",
                "sliding-window layers are not supported",
            ));
        }
        if let Some(types) = get("layer_types").as_array() {
            if types.iter().any(|t| t != "full_attention") {
                return Err(refuse(
                    "layer_types",
                    "only full_attention layers are supported",
                ));
            }
        }
        let config = Config {
            arch,
            hidden,
            layers: required("num_hidden_layers")?,
            heads,
            kv_heads,
            head_dim,
            ffn: required("intermediate_size")?,
            vocab: required("vocab_size")?,
            context: required("max_position_embeddings")?,
            rope_theta,
            rope_dim: head_dim,
            rope_style: arch.rope_style(),
            rope_freq_scale,
            rope_factors,
            sliding_window,
            norm_eps: get("rms_norm_eps")
                .as_f64()
                .ok_or_else(|| ModelError::MissingKey("config.json rms_norm_eps".into()))?,
        };
        if !crate::faults::is(crate::faults::Fault::IgnoreUnknownInput) {
            if let Some(obj) = json.as_object() {
                let read = read.borrow();
                if let Some(k) = obj
                    .keys()
                    .find(|k| !read.contains(k.as_str()) && !HF_INFORMATIONAL.contains(&k.as_str()))
                {
                    return Err(refuse(
                        k,
                        "is not understood by this engine, which refuses rather than ignores it",
                    ));
                }
            }
        }
        config.validated()
    }

    /// Every size the forward pass divides or indexes by is non-zero and consistent.
    pub(crate) fn validated(self) -> Result<Self, ModelError> {
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
            || self.sliding_window == Some(0)
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
        if !(self.norm_eps > 0.0 && self.rope_theta > 0.0 && self.rope_freq_scale > 0.0) {
            return bad(format!(
                "norm eps {}, RoPE theta {} and RoPE scale {} must be positive",
                self.norm_eps, self.rope_theta, self.rope_freq_scale
            ));
        }
        if let Some(f) = &self.rope_factors {
            if f.len() != self.rope_dim / 2 || !f.iter().all(|v| v.is_finite() && *v > 0.0) {
                return bad(format!(
                    "RoPE factors: {} positive values expected (rope_dim / 2), found {f:?}",
                    self.rope_dim / 2
                ));
            }
        }
        Ok(self)
    }
}

/// Llama 3's RoPE frequency divisors, as llama.cpp's converter computes them (and HF
/// transformers applies them): 1 for short wavelengths, `factor` for long ones, a smooth blend
/// between `original_context / high_freq_factor` and `original_context / low_freq_factor`.
pub fn llama3_factors(
    theta: f64,
    head_dim: usize,
    factor: f64,
    low_freq_factor: f64,
    high_freq_factor: f64,
    original_context: f64,
) -> Vec<f32> {
    let low_wavelen = original_context / low_freq_factor;
    let high_wavelen = original_context / high_freq_factor;
    (0..head_dim / 2)
        .map(|i| {
            let freq = f64::from((1.0 / theta.powf((2 * i) as f64 / head_dim as f64)) as f32);
            let wavelen = 2.0 * std::f64::consts::PI / freq;
            let f = if wavelen < high_wavelen {
                1.0
            } else if wavelen > low_wavelen {
                factor
            } else {
                let smooth = (original_context / wavelen - low_freq_factor)
                    / (high_freq_factor - low_freq_factor);
                1.0 / ((1.0 - smooth) / factor + smooth)
            };
            f as f32
        })
        .collect()
}
