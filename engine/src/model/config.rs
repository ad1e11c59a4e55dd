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
use crate::format::gguf::{MetaArray, MetaValue, Metadata};
pub use crate::ops::{Activation, RopeStyle, Yarn};

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
    /// Gemma 2: NeoX RoPE, norms after attention and the FFN as well as before, GeGLU,
    /// embeddings scaled by sqrt(hidden), soft-capped attention scores and logits, sliding-window
    /// layers alternating with global ones.
    Gemma2,
    /// Gemma 3 (text): Gemma 2 without the attention soft-cap, with Q/K norms, five sliding
    /// layers to one global, and a RoPE base of their own for the sliding layers.
    Gemma3,
}

impl Arch {
    pub fn from_gguf(name: &str) -> Result<Self, ModelError> {
        match name {
            "llama" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            "qwen3" => Ok(Arch::Qwen3),
            "phi3" => Ok(Arch::Phi3),
            "gemma2" => Ok(Arch::Gemma2),
            "gemma3" => Ok(Arch::Gemma3),
            other => Err(ModelError::UnsupportedArch(other.to_string())),
        }
    }

    /// From config.json's `model_type` (`gemma3` is the multimodal wrapper; its text model is
    /// `gemma3_text`).
    pub fn from_hf(model_type: &str) -> Result<Self, ModelError> {
        match model_type {
            "llama" | "mistral" => Ok(Arch::Llama),
            "qwen2" => Ok(Arch::Qwen2),
            "qwen3" => Ok(Arch::Qwen3),
            "phi3" => Ok(Arch::Phi3),
            "gemma2" => Ok(Arch::Gemma2),
            "gemma3_text" => Ok(Arch::Gemma3),
            other => Err(ModelError::UnsupportedArch(other.to_string())),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Arch::Llama => "llama",
            Arch::Qwen2 => "qwen2",
            Arch::Qwen3 => "qwen3",
            Arch::Phi3 => "phi3",
            Arch::Gemma2 => "gemma2",
            Arch::Gemma3 => "gemma3",
        }
    }

    /// The rotation applied to Q and K rows as they are stored in GGUF files. HF checkpoints of
    /// `llama` store Q and K for the half-split rotation; the loader permutes their rows into
    /// GGUF order, so one convention per architecture holds for both formats.
    pub fn rope_style(self) -> RopeStyle {
        match self {
            Arch::Llama => RopeStyle::Adjacent,
            Arch::Qwen2 | Arch::Qwen3 | Arch::Phi3 | Arch::Gemma2 | Arch::Gemma3 => RopeStyle::NeoX,
        }
    }

    /// Whether every Q and K head is RMS-normalised (with a weight of head_dim) before RoPE.
    pub fn qk_norm(self) -> bool {
        matches!(self, Arch::Qwen3 | Arch::Gemma3)
    }

    /// Gemma's block: RMSNorm after attention and after the FFN too (`attn_post_norm`,
    /// `ffn_post_norm`), GeGLU with tanh GELU, embedding rows scaled by sqrt(hidden), and
    /// RMSNorm weights that HF stores as offsets from 1 (the converter adds the 1).
    pub fn gemma(self) -> bool {
        matches!(self, Arch::Gemma2 | Arch::Gemma3)
    }

    /// The FFN's gate activation, as the architecture defines it.
    pub fn activation(self) -> Activation {
        if self.gemma() {
            Activation::GeluTanh
        } else {
            Activation::Silu
        }
    }

    /// The sliding-window layer pattern llama.cpp assumes when a file gives none: every
    /// `n`-th layer (the last of each group of `n`) is global.
    fn swa_pattern(self) -> Option<usize> {
        match self {
            Arch::Gemma2 => Some(2),
            Arch::Gemma3 => Some(6),
            _ => None,
        }
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
    /// YaRN RoPE scaling, which blends each pair's frequency instead.
    pub rope_yarn: Option<Yarn>,
    /// Phi-3's LongRoPE divisors (GGUF `rope_factors_short`/`rope_factors_long`, config.json
    /// `short_factor`/`long_factor`).
    pub rope_longrope: Option<LongRope>,
    /// cos and sin are multiplied by this: YaRN's or LongRoPE's attention factor, 1 otherwise.
    pub rope_mscale: f64,
    /// Per-pair divisors of the RoPE frequencies (`rope_dim / 2` of them): Llama 3's scaling,
    /// stored in GGUF files as the `rope_freqs.weight` tensor, computed from config.json's
    /// `rope_scaling` for HF directories.
    pub rope_factors: Option<Vec<f32>>,
    /// Attention sees only the last `window` positions (Mistral's and Gemma's sliding window)
    /// in the layers `swa_layers` marks.
    pub sliding_window: Option<usize>,
    /// One flag per layer: whether it attends through the sliding window.
    pub swa_layers: Vec<bool>,
    /// RoPE base of the sliding-window layers where it is their own (Gemma 3's local layers:
    /// this base, no scaling); None: every layer rotates alike.
    pub rope_theta_swa: Option<f64>,
    /// Attention scores are `q.k * attn_scale` (1 / sqrt(head_dim) but for Gemma's
    /// query_pre_attn_scalar).
    pub attn_scale: f64,
    /// Scores become `cap * tanh(score / cap)` before the softmax (Gemma 2).
    pub attn_softcap: Option<f64>,
    /// Logits become `cap * tanh(logit / cap)` (Gemma 2, optionally Gemma 3).
    pub final_softcap: Option<f64>,
    /// Embedding rows are multiplied by this before the first layer (Gemma: sqrt(hidden)).
    pub embed_scale: Option<f64>,
    /// The FFN gate's activation: the architecture's, computed as llama.cpp's CPU backend does
    /// (`GeluTanhF16`) for a GGUF file with block-quantized weights, whose reference is
    /// llama.cpp on the same file; exactly for float weights, whose reference is HF.
    pub activation: Activation,
    pub norm_eps: f64,
}

/// LongRoPE's per-pair frequency divisors: one set for sequences within the original context,
/// one for longer ones. llama.cpp picks one per session by its context size (long when it
/// exceeds the original context); the engine picks by the KV cache's capacity, the same rule.
/// (HF picks per forward call by the highest position in it, which changes the rotation of
/// keys already cached once a sequence grows past the original context.)
#[derive(Clone, Debug, PartialEq)]
pub struct LongRope {
    pub short: Vec<f32>,
    pub long: Vec<f32>,
    pub original_context: usize,
}

impl LongRope {
    /// The divisors a cache of `capacity` positions rotates with.
    pub fn factors(&self, capacity: usize) -> &[f32] {
        if capacity > self.original_context {
            &self.long
        } else {
            &self.short
        }
    }
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

/// llama.cpp's sliding-window layers: `pattern` n makes the last layer of every n global, 0 makes
/// every layer sliding.
fn pattern_flags(n: usize, layers: usize) -> Vec<bool> {
    (0..layers).map(|l| n == 0 || l % n < n - 1).collect()
}

/// A GGUF file's sliding window and the layers it applies to. Of these architectures only
/// Gemma's graphs apply a window in llama.cpp; a window on any other is refused, since llama.cpp
/// would attend to every position and the model expects otherwise.
fn gguf_sliding_window(
    keys: &GgufKeys<'_>,
    arch: Arch,
    layers: usize,
) -> Result<(Option<usize>, Vec<bool>), ModelError> {
    const WINDOW: &str = "attention.sliding_window";
    const PATTERN: &str = "attention.sliding_window_pattern";
    let window = match (keys.get(WINDOW), arch) {
        (None, Arch::Gemma2) => Some(4096),
        (None, _) => None,
        (Some(v), _) if v.as_u64() == Some(0) => None,
        (Some(_), Arch::Gemma2 | Arch::Gemma3) => Some(keys.required(WINDOW)?),
        (Some(v), _) => return Err(keys.unsupported(WINDOW, v, "is not supported")),
    };
    let (Some(window), Some(default)) = (window, arch.swa_pattern()) else {
        return Ok((None, vec![false; layers]));
    };
    let flags = match keys.get(PATTERN) {
        None => pattern_flags(default, layers),
        Some(MetaValue::Array(MetaArray::Bool(b))) if b.len() == layers => b.clone(),
        Some(v) => match keys.int(PATTERN) {
            Ok(Some(n)) => pattern_flags(n, layers),
            _ => {
                return Err(keys.unsupported(
                    PATTERN,
                    v,
                    "is neither a layer period nor one flag per layer",
                ))
            }
        },
    };
    Ok((Some(window), flags))
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

    /// The sliding window of layer `l`, if it has one.
    pub fn window(&self, l: usize) -> Option<usize> {
        self.sliding_window
            .filter(|_| self.swa_layers.get(l).copied().unwrap_or(false))
    }

    /// llama.cpp's query scale for Gemma GGUF files, which store no query_pre_attn_scalar:
    /// 1 / sqrt(head_dim), except the 27B models (46 layers for Gemma 2, 62 for Gemma 3), whose
    /// scalar is hidden / heads.
    fn gemma_gguf_attn_scale(
        arch: Arch,
        layers: usize,
        hidden: usize,
        heads: usize,
        hd: usize,
    ) -> f64 {
        let big = matches!((arch, layers), (Arch::Gemma2, 46) | (Arch::Gemma3, 62));
        let scalar = if big { hidden / heads.max(1) } else { hd };
        1.0 / (scalar as f64).sqrt()
    }

    /// A GGUF file's `general.architecture`, parsed: the name its keys are prefixed with, and
    /// the architecture (one the forward pass runs, or an error naming it).
    pub fn gguf_arch(meta: &Metadata) -> Result<(&str, Arch), ModelError> {
        let name = meta
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ModelError::MissingKey("general.architecture".into()))?;
        Ok((name, Arch::from_gguf(name)?))
    }

    /// From GGUF metadata and its architecture (`gguf_arch`). `vocab` comes from the embedding's
    /// shape; the RoPE factors, if the file has them, from its `rope_freqs.weight` tensor (set
    /// by the weight loader).
    pub fn from_gguf(
        meta: &Metadata,
        (arch_name, arch): (&str, Arch),
        vocab: usize,
    ) -> Result<Self, ModelError> {
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
        let context = keys.required("context_length")?;
        // llama.cpp applies the scaling factor as a linear position scale for `none` and
        // `linear` alike, and blends it per pair for `yarn`. Phi-3's LongRoPE factors are
        // tensors, which the weight loader reads into the config; any other type is refused.
        let yarn = match keys.get("rope.scaling.type") {
            None => false,
            Some(v) if matches!(v.as_str(), Some("none" | "linear")) => false,
            Some(v) if v.as_str() == Some("yarn") => true,
            Some(v) if v.as_str() == Some("longrope") && arch == Arch::Phi3 => false,
            Some(v) => {
                return Err(keys.unsupported("rope.scaling.type", v, "is not supported"));
            }
        };
        let factor = keys.float("rope.scaling.factor")?.unwrap_or(0.0);
        let original = keys.int("rope.scaling.original_context_length")?;
        // A flag that changes nothing in the arithmetic.
        keys.get("rope.scaling.finetuned");
        // llama.cpp multiplies every RoPE's cos and sin by this, and YaRN's by its own factor too.
        let attn_factor = keys.float("rope.scaling.attn_factor")?.unwrap_or(1.0);
        let (rope_freq_scale, rope_yarn, rope_mscale) = if yarn && factor > 1.0 {
            let y = Yarn {
                factor,
                original_context: original.unwrap_or(context) as f64,
                beta_fast: keys.float("rope.scaling.yarn_beta_fast")?.unwrap_or(32.0),
                beta_slow: keys.float("rope.scaling.yarn_beta_slow")?.unwrap_or(1.0),
                truncate: true,
            };
            (1.0, Some(y), attn_factor * yarn_mscale(factor))
        } else {
            let scale = if factor == 0.0 { 1.0 } else { 1.0 / factor };
            (scale, None, attn_factor)
        };
        for k in ["expert_count", "expert_used_count"] {
            if let Some(v) = keys.get(k) {
                if v.as_u64() != Some(0) {
                    return Err(keys.unsupported(k, v, "is not supported"));
                }
            }
        }
        let layers = keys.required("block_count")?;
        let (sliding_window, swa_layers) = gguf_sliding_window(&keys, arch, layers)?;
        let gemma = arch.gemma();
        // Gemma 2's soft-caps are part of the architecture: llama.cpp applies 50 and 30 when the
        // file names none. Gemma 3 caps logits only when the file says so, and never scores.
        let (attn_softcap, final_softcap) = match arch {
            Arch::Gemma2 => (
                Some(keys.float("attn_logit_softcapping")?.unwrap_or(50.0)),
                Some(keys.float("final_logit_softcapping")?.unwrap_or(30.0)),
            ),
            Arch::Gemma3 => (None, keys.float("final_logit_softcapping")?),
            _ => (None, None),
        };
        let rope_theta_swa = match (arch, sliding_window) {
            (Arch::Gemma3, Some(_)) => Some(keys.float("rope.freq_base_swa")?.unwrap_or(10_000.0)),
            _ => None,
        };
        let attn_scale = if gemma {
            Self::gemma_gguf_attn_scale(arch, layers, hidden, heads, head_dim)
        } else {
            1.0 / (head_dim as f64).sqrt()
        };
        let config = Config {
            arch,
            hidden,
            layers,
            heads,
            kv_heads,
            head_dim,
            ffn: keys.required("feed_forward_length")?,
            vocab,
            context,
            rope_theta: keys.float("rope.freq_base")?.unwrap_or(10_000.0),
            rope_dim,
            rope_style: arch.rope_style(),
            rope_freq_scale,
            rope_yarn,
            rope_longrope: None,
            rope_mscale,
            rope_factors: None,
            sliding_window,
            swa_layers,
            rope_theta_swa,
            attn_scale,
            attn_softcap: attn_softcap.filter(|&c| c != 0.0),
            final_softcap: final_softcap.filter(|&c| c != 0.0),
            embed_scale: gemma.then(|| (hidden as f64).sqrt()),
            activation: arch.activation(),
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
        // Gemma names its activation hidden_activation; either key must say what the
        // architecture computes.
        let act = match arch.activation() {
            Activation::Silu => "silu",
            Activation::GeluTanh | Activation::GeluTanhF16 => "gelu_pytorch_tanh",
        };
        for k in ["hidden_act", "hidden_activation"] {
            if get(k).as_str().is_some_and(|a| a != act) {
                return Err(refuse(
                    k,
                    &format!("is not supported ({act} only for {model_type})"),
                ));
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
        let rope_type = rope["rope_type"].as_str().or_else(|| rope["type"].as_str());
        // Every key of the scaling must be one its type reads.
        let known: &[&str] = match rope_type {
            None | Some("default") => &[],
            Some("linear") => &["factor"],
            Some("llama3") => &[
                "factor",
                "low_freq_factor",
                "high_freq_factor",
                "original_max_position_embeddings",
            ],
            Some("longrope" | "su") => &["long_factor", "short_factor", "attention_factor"],
            Some("yarn") => &[
                "factor",
                "original_max_position_embeddings",
                "beta_fast",
                "beta_slow",
                "attention_factor",
                "mscale",
                "mscale_all_dim",
                "truncate",
            ],
            Some(_) => &[],
        };
        if let Some(obj) = rope.as_object().filter(|_| rope_key == "rope_scaling") {
            if let Some(k) = obj.keys().find(|k| {
                !["rope_type", "type"].contains(&k.as_str()) && !known.contains(&k.as_str())
            }) {
                return Err(refuse(
                    rope_key,
                    &format!("has '{k}', which its RoPE scaling type does not read here"),
                ));
            }
        }
        let mut rope_yarn = None;
        let mut rope_longrope = None;
        let mut rope_mscale = 1.0;
        let original_context = match get("original_max_position_embeddings").as_u64() {
            Some(o) => usize::try_from(o)
                .map_err(|_| refuse("original_max_position_embeddings", "is too large"))?,
            None => required("max_position_embeddings")?,
        };
        let (rope_freq_scale, rope_factors) = match rope_type {
            None | Some("default") => (1.0, None),
            Some("linear") => {
                let f = rope["factor"]
                    .as_f64()
                    .ok_or_else(|| refuse(rope_key, "linear scaling without a factor"))?;
                (1.0 / f, None)
            }
            Some("longrope" | "su") if arch == Arch::Phi3 => {
                let list = |k: &str| -> Result<Vec<f32>, ModelError> {
                    rope[k]
                        .as_array()
                        .and_then(|a| a.iter().map(|v| v.as_f64().map(|v| v as f32)).collect())
                        .ok_or_else(|| refuse(rope_key, &format!("{k} is not a list of numbers")))
                };
                // HF's attention factor: given, or sqrt(1 + ln(scale) / ln(original)) for
                // scale = max_position_embeddings / original (the converter writes the same
                // into the GGUF as rope.scaling.attn_factor).
                let scale = required("max_position_embeddings")? as f64 / original_context as f64;
                rope_mscale = match rope["attention_factor"].as_f64() {
                    Some(a) => a,
                    None if scale > 1.0 => {
                        (1.0 + scale.ln() / (original_context as f64).ln()).sqrt()
                    }
                    None => 1.0,
                };
                rope_longrope = Some(LongRope {
                    short: list("short_factor")?,
                    long: list("long_factor")?,
                    original_context,
                });
                (1.0, None)
            }
            Some("yarn") => {
                let factor = rope["factor"]
                    .as_f64()
                    .ok_or_else(|| refuse(rope_key, "yarn scaling without a factor"))?;
                let num = |k: &str, default: f64| match &rope[k] {
                    Value::Null => Ok(default),
                    v => v
                        .as_f64()
                        .ok_or_else(|| refuse(rope_key, &format!("{k} is not a number"))),
                };
                let original = match rope["original_max_position_embeddings"].as_f64() {
                    Some(o) => o,
                    None => original_context as f64,
                };
                // HF's attention factor: given, or from mscale / mscale_all_dim, or
                // 1 + 0.1 ln(factor).
                let (m, m_all) = (num("mscale", 0.0)?, num("mscale_all_dim", 0.0)?);
                let mscale = |scale: f64| {
                    if factor <= 1.0 {
                        1.0
                    } else {
                        0.1 * scale * factor.ln() + 1.0
                    }
                };
                rope_mscale = match rope["attention_factor"].as_f64() {
                    Some(a) => a,
                    None if m != 0.0 && m_all != 0.0 => mscale(m) / mscale(m_all),
                    None => yarn_mscale(factor),
                };
                // HF's 0 and missing betas both mean the defaults.
                let beta = |k: &str, default: f64| {
                    num(k, default).map(|b| if b == 0.0 { default } else { b })
                };
                rope_yarn = Some(Yarn {
                    factor,
                    original_context: original,
                    beta_fast: beta("beta_fast", 32.0)?,
                    beta_slow: beta("beta_slow", 1.0)?,
                    truncate: rope["truncate"].as_bool().unwrap_or(true),
                });
                (1.0, None)
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
        let layers = required("num_hidden_layers")?;
        let sliding_window = match (model_type, get("sliding_window")) {
            (_, Value::Null) => None,
            // Mistral and Phi-3 apply their window whenever it is set, Gemma to the layers that
            // layer_types marks.
            ("mistral" | "phi3" | "gemma2" | "gemma3_text", _) => int("sliding_window")?,
            // Qwen2/3 apply it only with use_sliding_window (refused below).
            _ => None,
        };
        // Configs written before layer_types existed give Gemma's pattern as a period.
        // transformers keeps it as _sliding_window_pattern once it has derived layer_types.
        let period = match int("sliding_window_pattern")? {
            Some(n) => Some(n),
            None => int("_sliding_window_pattern")?,
        };
        let pattern = match (period, arch.swa_pattern()) {
            (Some(n), Some(_)) => Some(n),
            (Some(_), None) => {
                return Err(refuse("sliding_window_pattern", "is not supported here"));
            }
            (None, default) => default,
        };
        let swa_layers = match get("layer_types") {
            Value::Null => match pattern {
                Some(n) if sliding_window.is_some() => pattern_flags(n, layers),
                _ => vec![sliding_window.is_some(); layers],
            },
            Value::Array(types) if types.len() == layers => types
                .iter()
                .map(|t| match t.as_str() {
                    Some("full_attention") => Ok(false),
                    Some("sliding_attention") if sliding_window.is_some() => Ok(true),
                    _ => Err(refuse(
                        "layer_types",
                        "only full_attention and (with a sliding_window) sliding_attention \
                         layers are supported",
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(refuse("layer_types", "needs one entry per layer")),
        };
        let float = |k: &'static str| -> Result<Option<f64>, ModelError> {
            match get(k) {
                Value::Null => Ok(None),
                v => v
                    .as_f64()
                    .map(Some)
                    .ok_or_else(|| refuse(k, "is not a number")),
            }
        };
        let attn_scale = match float("query_pre_attn_scalar")? {
            Some(s) if arch.gemma() && s > 0.0 => 1.0 / s.sqrt(),
            Some(_) => return Err(refuse("query_pre_attn_scalar", "is not supported here")),
            None => 1.0 / (head_dim as f64).sqrt(),
        };
        let softcap = |k: &'static str| -> Result<Option<f64>, ModelError> {
            match float(k)? {
                Some(c) if arch.gemma() && c > 0.0 => Ok(Some(c)),
                Some(_) => Err(refuse(k, "is not supported here")),
                None => Ok(None),
            }
        };
        let (attn_softcap, final_softcap) = (
            softcap("attn_logit_softcapping")?,
            softcap("final_logit_softcapping")?,
        );
        // Gemma 3's local layers rotate with a base of their own and no scaling.
        let rope_theta_swa = match float("rope_local_base_freq")? {
            Some(t) if arch == Arch::Gemma3 => Some(t),
            Some(_) => return Err(refuse("rope_local_base_freq", "is not supported here")),
            None => None,
        };
        if get("use_bidirectional_attention").as_bool() == Some(true) {
            return Err(refuse(
                "use_bidirectional_attention",
                "only causal attention is supported",
            ));
        }
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
        // Read above: the context Phi-3's LongRoPE and YaRN's defaults refer to.
        // Held against the checkpoint's tensors by the weight loader (`load_hf`).
        get("tie_word_embeddings");
        if get("use_sliding_window").as_bool() == Some(true) {
            return Err(refuse(
                "use_sliding_window",
                "sliding-window layers are not supported",
            ));
        }
        let config = Config {
            arch,
            hidden,
            layers,
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
            rope_yarn,
            rope_longrope,
            rope_mscale,
            rope_factors,
            sliding_window,
            swa_layers,
            rope_theta_swa,
            attn_scale,
            attn_softcap,
            final_softcap,
            embed_scale: arch.gemma().then(|| (hidden as f64).sqrt()),
            activation: arch.activation(),
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
        if self.swa_layers.len() != self.layers {
            return bad(format!(
                "{} sliding-window flags for {} layers",
                self.swa_layers.len(),
                self.layers
            ));
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
        let positive = |v: Option<f64>| v.is_none_or(|v| v > 0.0 && v.is_finite());
        if ![
            self.rope_theta_swa,
            self.attn_softcap,
            self.final_softcap,
            self.embed_scale,
            Some(self.attn_scale),
            Some(self.rope_mscale),
        ]
        .into_iter()
        .all(positive)
        {
            return bad(format!(
                "scales, soft-caps and RoPE bases must be positive and finite: {self:?}"
            ));
        }
        if !(self.norm_eps > 0.0 && self.rope_theta > 0.0 && self.rope_freq_scale > 0.0) {
            return bad(format!(
                "norm eps {}, RoPE theta {} and RoPE scale {} must be positive",
                self.norm_eps, self.rope_theta, self.rope_freq_scale
            ));
        }
        if let Some(lr) = &self.rope_longrope {
            for (name, f) in [("short", &lr.short), ("long", &lr.long)] {
                if f.len() != self.rope_dim / 2 || !f.iter().all(|v| v.is_finite() && *v > 0.0) {
                    return bad(format!(
                        "LongRoPE {name} factors: {} positive values expected (rope_dim / 2), \
                         found {f:?}",
                        self.rope_dim / 2
                    ));
                }
            }
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

/// YaRN's attention factor for a scaling `factor`, as both references compute it by default:
/// `1 + 0.1 ln(factor)`.
fn yarn_mscale(factor: f64) -> f64 {
    if factor <= 1.0 {
        1.0
    } else {
        1.0 + 0.1 * factor.ln()
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
