//! Loading a model's tensors, by their GGUF names, from a GGUF file or a HuggingFace directory.
//! Every matrix is checked against the shape the config implies before the forward pass sees it;
//! GGUF weights stay in the file's map, HF weights are copied (and, for `llama`, Q and K rows are
//! permuted into GGUF order).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;

use memmap2::Mmap;

use super::config::{Activation, Arch, Config, LongRope};
use super::ModelError;
use crate::faults::{self, Fault};
use crate::format::gguf::{GgmlType, Gguf, Metadata};
use crate::format::safetensors::{Dtype, SafetensorsDir};
use crate::quant::{self, QMatrix};

/// A weight matrix `[rows, cols]`, row-major, rows are output features.
#[derive(Debug)]
pub struct Linear {
    pub name: String,
    pub ty: GgmlType,
    pub rows: usize,
    pub cols: usize,
    bytes: Bytes,
    pub bias: Option<Vec<f32>>,
    /// The rows packed at load for one-token products (`Weights::pack`), where the kernel has
    /// a layout for the type.
    packed: Option<quant::Packed>,
}

#[derive(Debug)]
enum Bytes {
    /// A byte range of the model file's map.
    Mapped(Range<usize>),
    Owned(Vec<u8>),
}

#[derive(Debug)]
pub struct Layer {
    pub attn_norm: Vec<f32>,
    /// Qwen3's per-head RMSNorm weights for Q and K (`head_dim` values each).
    pub q_norm: Option<Vec<f32>>,
    pub k_norm: Option<Vec<f32>>,
    pub q: Linear,
    pub k: Linear,
    pub v: Linear,
    pub o: Linear,
    /// Gemma's norms of the attention and FFN outputs, before each joins the residual.
    pub attn_post_norm: Option<Vec<f32>>,
    pub ffn_post_norm: Option<Vec<f32>>,
    pub ffn_norm: Vec<f32>,
    pub gate: Linear,
    pub up: Linear,
    pub down: Linear,
}

#[derive(Debug)]
pub struct Weights {
    map: Option<Mmap>,
    pub embed: Linear,
    pub layers: Vec<Layer>,
    pub output_norm: Vec<f32>,
    /// None for tied embeddings: the LM head is `embed`.
    output: Option<Linear>,
    /// A GGUF file's `rope_freqs.weight` (Llama 3 RoPE scaling); moved into the config at load.
    rope_factors: Option<Vec<f32>>,
    /// A Phi-3 GGUF file's `rope_factors_short.weight` and `rope_factors_long.weight`
    /// (LongRoPE); moved into the config at load.
    rope_longrope: Option<(Vec<f32>, Vec<f32>)>,
}

impl Layer {
    fn linears(&self) -> [&Linear; 7] {
        [
            &self.q, &self.k, &self.v, &self.o, &self.gate, &self.up, &self.down,
        ]
    }

    fn linears_mut(&mut self) -> [&mut Linear; 7] {
        let l = self;
        [
            &mut l.q,
            &mut l.k,
            &mut l.v,
            &mut l.o,
            &mut l.gate,
            &mut l.up,
            &mut l.down,
        ]
    }
}

impl Linear {
    /// The matrix, reading a map's range from `map`.
    fn matrix<'a>(&'a self, map: Option<&'a Mmap>) -> QMatrix<'a> {
        let data = match &self.bytes {
            Bytes::Mapped(range) => &map.expect("mapped weights keep their map")[range.clone()],
            Bytes::Owned(v) => v,
        };
        // Every Linear is a matrix QMatrix::new accepted at load (or rows of one).
        QMatrix::validated(self.ty, self.rows, self.cols, data).with_packed(self.packed.as_ref())
    }
}

impl Weights {
    pub fn matrix<'a>(&'a self, w: &'a Linear) -> QMatrix<'a> {
        w.matrix(self.map.as_ref())
    }

    /// Packs every matrix the forward pass multiplies by for `kernel`'s one-token products
    /// (`quant::Packed`), where it has a layout for the type.
    pub(crate) fn pack(&mut self, kernel: quant::CheckedKernel) {
        let map = self.map.as_ref();
        for w in products_mut(
            &mut self.layers,
            self.output.as_mut().unwrap_or(&mut self.embed),
        ) {
            w.packed = quant::Packed::checked(&w.matrix(map), kernel);
        }
    }

    /// Frees the decode layouts `pack` built (a model whose products run elsewhere).
    #[cfg(feature = "wgpu")]
    pub(crate) fn drop_packed(&mut self) {
        for w in products_mut(
            &mut self.layers,
            self.output.as_mut().unwrap_or(&mut self.embed),
        ) {
            w.packed = None;
        }
    }

    /// Bytes of the decode layouts `pack` built: one extra copy of the matrices packed.
    pub fn packed_bytes(&self) -> usize {
        self.linears()
            .filter_map(|w| w.packed.as_ref())
            .map(|p| p.bytes())
            .sum()
    }

    /// Every matrix: the embedding, each layer's seven, the LM head where it is its own.
    fn linears(&self) -> impl Iterator<Item = &Linear> {
        std::iter::once(&self.embed)
            .chain(self.layers.iter().flat_map(Layer::linears))
            .chain(self.output.as_ref())
    }

    pub fn output(&self) -> &Linear {
        self.output.as_ref().unwrap_or(&self.embed)
    }

    pub fn tied(&self) -> bool {
        self.output.is_none()
    }

    /// Whether any matrix is block-quantized (rather than F32, F16 or BF16).
    pub fn quantized(&self) -> bool {
        self.linears().any(|w| w.ty.block_size() > 1)
    }

    /// Bytes of weights held in memory rather than in the file's map.
    pub fn owned_bytes(&self) -> usize {
        self.linears()
            .map(|w| match &w.bytes {
                Bytes::Owned(v) => v.len(),
                Bytes::Mapped(_) => 0,
            })
            .sum()
    }
}

/// The matrices a forward pass multiplies by: each layer's seven and the LM head (the embedding
/// when tied; a separate embedding is only looked up, row by row).
fn products_mut<'a>(
    layers: &'a mut [Layer],
    head: &'a mut Linear,
) -> impl Iterator<Item = &'a mut Linear> {
    layers
        .iter_mut()
        .flat_map(Layer::linears_mut)
        .chain(Some(head))
}

/// One tensor as a source holds it: type, row-major `[rows, cols]` (a vector is one row), bytes.
struct Raw<'a> {
    ty: GgmlType,
    rows: usize,
    cols: usize,
    data: &'a [u8],
}

/// Where tensors come from, addressed by GGUF name.
trait Source {
    fn raw(&self, name: &str) -> Result<Option<Raw<'_>>, ModelError>;
    /// The map range of `data`, if it lies in a map the weights may keep.
    fn mapped(&self, data: &[u8]) -> Option<Range<usize>>;
    /// Whether Q and K rows must be permuted from HF's half-split order into GGUF's.
    fn permute_qk(&self) -> bool;
    /// The source's own name of a GGUF tensor name.
    fn native(&self, name: &str) -> String;
    /// What to add to every RMSNorm weight: HF's Gemma checkpoints store `weight - 1` (their
    /// norm multiplies by `1 + weight`), which the GGUF converter turns back into the weight.
    fn norm_offset(&self) -> f32 {
        0.0
    }
    /// Every tensor the source holds, by its own names.
    fn names(&self) -> Vec<String>;
}

struct GgufSource<'a> {
    file: &'a Gguf<&'a [u8]>,
}

impl Source for GgufSource<'_> {
    fn raw(&self, name: &str) -> Result<Option<Raw<'_>>, ModelError> {
        let Some(t) = self.file.tensor(name) else {
            return Ok(None);
        };
        let dims: Vec<usize> = t.info.dims.iter().map(|&d| d as usize).collect();
        let (rows, cols) = match dims[..] {
            [cols] => (1, cols),
            [cols, rows] => (rows, cols),
            _ => {
                return Err(ModelError::Shape {
                    name: name.into(),
                    expected: "a vector or a matrix".into(),
                    found: format!("{dims:?} (GGUF order)"),
                })
            }
        };
        Ok(Some(Raw {
            ty: t.info.ggml_type,
            rows,
            cols,
            data: t.data,
        }))
    }

    fn mapped(&self, data: &[u8]) -> Option<Range<usize>> {
        let base = self.file.bytes().as_ptr() as usize;
        let start = (data.as_ptr() as usize).checked_sub(base)?;
        Some(start..start + data.len())
    }

    fn permute_qk(&self) -> bool {
        false
    }

    fn native(&self, name: &str) -> String {
        name.to_string()
    }

    fn names(&self) -> Vec<String> {
        self.file.tensors().map(|t| t.info.name.clone()).collect()
    }
}

struct HfSource<'a> {
    dir: &'a SafetensorsDir,
    arch: Arch,
}

/// The HF tensor name of a GGUF tensor name (llama/qwen naming; Phi-3's fused tensors).
fn hf_name(arch: Arch, gguf: &str) -> String {
    let Some(rest) = gguf.strip_prefix("blk.") else {
        return match gguf {
            "token_embd.weight" => "model.embed_tokens.weight",
            "output_norm.weight" => "model.norm.weight",
            "output.weight" => "lm_head.weight",
            other => other,
        }
        .to_string();
    };
    let (layer, field) = rest.split_once('.').unwrap_or((rest, ""));
    let (base, kind) = field.rsplit_once('.').unwrap_or((field, ""));
    let hf = match base {
        "attn_norm" => "input_layernorm",
        "attn_q" => "self_attn.q_proj",
        "attn_k" => "self_attn.k_proj",
        "attn_v" => "self_attn.v_proj",
        "attn_output" => "self_attn.o_proj",
        "attn_q_norm" => "self_attn.q_norm",
        "attn_k_norm" => "self_attn.k_norm",
        "ffn_norm" if arch.gemma() => "pre_feedforward_layernorm",
        "ffn_norm" => "post_attention_layernorm",
        "post_attention_norm" => "post_attention_layernorm",
        "post_ffw_norm" => "post_feedforward_layernorm",
        "ffn_gate" => "mlp.gate_proj",
        "ffn_up" if arch.fused() => "mlp.gate_up_proj",
        "attn_qkv" => "self_attn.qkv_proj",
        "ffn_up" => "mlp.up_proj",
        "ffn_down" => "mlp.down_proj",
        other => other,
    };
    format!("model.layers.{layer}.{hf}.{kind}")
}

impl Source for HfSource<'_> {
    fn raw(&self, name: &str) -> Result<Option<Raw<'_>>, ModelError> {
        let hf = hf_name(self.arch, name);
        let Some(t) = self.dir.tensor(&hf) else {
            return Ok(None);
        };
        let ty = match t.info.dtype {
            Dtype::F32 => GgmlType::F32,
            Dtype::F16 => GgmlType::F16,
            Dtype::BF16 => GgmlType::BF16,
            other => {
                return Err(ModelError::UnsupportedDtype {
                    name: hf,
                    dtype: other.name().to_string(),
                })
            }
        };
        let shape: Vec<usize> = t.info.shape.iter().map(|&d| d as usize).collect();
        let (rows, cols) = match shape[..] {
            [cols] => (1, cols),
            [rows, cols] => (rows, cols),
            _ => {
                return Err(ModelError::Shape {
                    name: hf,
                    expected: "a vector or a matrix".into(),
                    found: format!("{shape:?}"),
                })
            }
        };
        Ok(Some(Raw {
            ty,
            rows,
            cols,
            data: t.data,
        }))
    }

    fn mapped(&self, _data: &[u8]) -> Option<Range<usize>> {
        None
    }

    fn permute_qk(&self) -> bool {
        self.arch == Arch::Llama
    }

    fn native(&self, name: &str) -> String {
        hf_name(self.arch, name)
    }

    fn norm_offset(&self) -> f32 {
        if self.arch.gemma() {
            1.0
        } else {
            0.0
        }
    }

    fn names(&self) -> Vec<String> {
        self.dir.tensor_names().map(str::to_string).collect()
    }
}

/// Loads every tensor the config calls for, checking each shape, and refuses a source that
/// holds any tensor the forward pass would not use.
fn load(src: &dyn Source, cfg: &Config) -> Result<Weights, ModelError> {
    let used = RefCell::new(BTreeSet::new());
    // Looks a tensor up; one that exists counts as used.
    let find = |name: &str| -> Result<Option<Raw<'_>>, ModelError> {
        let raw = src.raw(name)?;
        if raw.is_some() {
            used.borrow_mut().insert(src.native(name));
        }
        Ok(raw)
    };
    let tensor = |name: &str| -> Result<Raw<'_>, ModelError> {
        find(name)?.ok_or_else(|| ModelError::MissingTensor(src.native(name)))
    };
    let vector = |name: &str, len: usize| -> Result<Vec<f32>, ModelError> {
        let t = tensor(name)?;
        if t.rows * t.cols != len || t.rows != 1 {
            return Err(ModelError::Shape {
                name: name.into(),
                expected: format!("[{len}]"),
                found: format!("[{}, {}]", t.rows, t.cols),
            });
        }
        let mut v = quant::dequantize_to_vec(t.ty, t.data)?;
        if name.ends_with("norm.weight") && src.norm_offset() != 0.0 {
            v.iter_mut().for_each(|w| *w += src.norm_offset());
        }
        Ok(v)
    };
    // A stored matrix of exactly `[rows, cols]` whose bytes hold that many blocks.
    let matrix = |name: &str, rows: usize, cols: usize| {
        let t = tensor(name)?;
        if (t.rows, t.cols) != (rows, cols) {
            return Err(ModelError::Shape {
                name: name.into(),
                expected: format!("[{rows}, {cols}] (rows = outputs)"),
                found: format!("[{}, {}]", t.rows, t.cols),
            });
        }
        QMatrix::new(t.ty, rows, cols, t.data).map_err(|e| ModelError::Tensor {
            name: name.into(),
            source: e,
        })?;
        Ok(t)
    };
    let linear = |name: &str, rows: usize, cols: usize, heads: Option<usize>| {
        let t = matrix(name, rows, cols)?;
        let bytes = match (heads, src.permute_qk()) {
            (Some(heads), true) => Bytes::Owned(permute_rows(t.data, rows, heads)),
            _ => match src.mapped(t.data) {
                Some(range) => Bytes::Mapped(range),
                None => Bytes::Owned(t.data.to_vec()),
            },
        };
        let bias_name = name.replace(".weight", ".bias");
        let bias = match find(&bias_name)? {
            Some(_) => {
                let b = vector(&bias_name, rows)?;
                Some(match (heads, src.permute_qk()) {
                    (Some(heads), true) => permute_rows(&b, rows, heads),
                    _ => b,
                })
            }
            None => None,
        };
        Ok::<_, ModelError>(Linear {
            name: name.into(),
            ty: t.ty,
            rows,
            cols,
            bytes,
            bias,
            packed: None,
        })
    };
    // One stored matrix holding several, stacked by rows (Phi-3's attn_qkv and ffn_up): each
    // part is a window of rows of the same bytes, so a quantized matrix splits without copying.
    let fused = |name: &str, parts: &[usize], cols: usize| {
        let rows: usize = parts.iter().sum();
        let t = matrix(name, rows, cols)?;
        let row_bytes = t.data.len() / rows;
        let mut start = 0;
        let mut out: Vec<Linear> = parts
            .iter()
            .map(|&part| {
                let data = &t.data[start * row_bytes..(start + part) * row_bytes];
                start += part;
                Linear {
                    name: format!("{name} rows {}..{}", start - part, start),
                    ty: t.ty,
                    rows: part,
                    cols,
                    bytes: match src.mapped(data) {
                        Some(range) => Bytes::Mapped(range),
                        None => Bytes::Owned(data.to_vec()),
                    },
                    bias: None,
                    packed: None,
                }
            })
            .collect();
        faults::misplit_fused_qkv(&mut out);
        Ok::<_, ModelError>(out)
    };
    let (h, q, kv, f, vocab) = (cfg.hidden, cfg.q_dim(), cfg.kv_dim(), cfg.ffn, cfg.vocab);
    let mut layers = Vec::with_capacity(cfg.layers);
    for i in 0..cfg.layers {
        let n = |field: &str| format!("blk.{i}.{field}.weight");
        let qk_norm = |field: &str| {
            cfg.arch
                .qk_norm()
                .then(|| vector(&n(field), cfg.head_dim))
                .transpose()
        };
        let (qkv, gate_up) = if cfg.arch.fused() {
            (
                fused(&n("attn_qkv"), &[q, kv, kv], h)?,
                fused(&n("ffn_up"), &[f, f], h)?,
            )
        } else {
            (
                vec![
                    linear(&n("attn_q"), q, h, Some(cfg.heads))?,
                    linear(&n("attn_k"), kv, h, Some(cfg.kv_heads))?,
                    linear(&n("attn_v"), kv, h, None)?,
                ],
                vec![
                    linear(&n("ffn_gate"), f, h, None)?,
                    linear(&n("ffn_up"), f, h, None)?,
                ],
            )
        };
        let [q_w, k_w, v_w]: [Linear; 3] = qkv.try_into().expect("three parts by construction");
        let [gate, up]: [Linear; 2] = gate_up.try_into().expect("two parts by construction");
        let post_norm = |field: &str| cfg.arch.gemma().then(|| vector(&n(field), h)).transpose();
        layers.push(Layer {
            attn_norm: vector(&n("attn_norm"), h)?,
            q_norm: qk_norm("attn_q_norm")?,
            k_norm: qk_norm("attn_k_norm")?,
            q: q_w,
            k: k_w,
            v: v_w,
            o: linear(&n("attn_output"), h, q, None)?,
            attn_post_norm: post_norm("post_attention_norm")?,
            ffn_post_norm: post_norm("post_ffw_norm")?,
            ffn_norm: vector(&n("ffn_norm"), h)?,
            gate,
            up,
            down: linear(&n("ffn_down"), h, f, None)?,
        });
    }
    let output = match find("output.weight")? {
        Some(_) => Some(linear("output.weight", vocab, h, None)?),
        None => None,
    };
    let weights = Weights {
        embed: linear("token_embd.weight", vocab, h, None)?,
        layers,
        output_norm: vector("output_norm.weight", h)?,
        output,
        map: None,
        rope_factors: match find("rope_freqs.weight")? {
            Some(_) => Some(vector("rope_freqs.weight", cfg.rope_dim / 2)?),
            None => None,
        },
        // Only Phi-3 reads LongRoPE factors; in any other file they are unused, and refused.
        rope_longrope: match cfg.arch {
            Arch::Phi3 if find("rope_factors_long.weight")?.is_some() => Some((
                vector("rope_factors_short.weight", cfg.rope_dim / 2)?,
                vector("rope_factors_long.weight", cfg.rope_dim / 2)?,
            )),
            _ => None,
        },
    };
    let used = used.into_inner();
    let unused: Vec<String> = src
        .names()
        .into_iter()
        .filter(|n| !used.contains(n))
        .collect();
    if !unused.is_empty() && !faults::is(Fault::IgnoreUnknownInput) {
        return Err(ModelError::UnusedTensors {
            arch: cfg.arch.name().to_string(),
            names: unused,
        });
    }
    Ok(weights)
}

/// HF's half-split Q/K rows into GGUF's adjacent-pair order, per head: GGUF row `2i + s` is HF
/// row `s * d/2 + i` (convert_hf_to_gguf.py's permute). Rows move whole, so it serves raw
/// weight bytes of any dtype and f32 bias vectors alike.
fn permute_rows<T: Copy + Default>(data: &[T], rows: usize, heads: usize) -> Vec<T> {
    let row_bytes = data.len() / rows;
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let mut out = vec![T::default(); data.len()];
    for h in 0..heads {
        for i in 0..half {
            for s in 0..2 {
                let to = (h * head_dim + 2 * i + s) * row_bytes;
                let from = (h * head_dim + s * half + i) * row_bytes;
                out[to..to + row_bytes].copy_from_slice(&data[from..from + row_bytes]);
            }
        }
    }
    out
}

/// A GGUF file's config, metadata and weights; the weights keep the file's map.
pub fn load_gguf(map: Mmap) -> Result<(Config, Metadata, Weights), ModelError> {
    let file = Gguf::parse(&map[..])?;
    // An architecture the forward pass does not run is the first thing to say; it is parsed
    // here once.
    let meta = &file.header().metadata;
    let arch = Config::gguf_arch(meta)?;
    let vocab = match file.tensor("token_embd.weight") {
        Some(t) if t.info.dims.len() == 2 => t.info.dims[1] as usize,
        Some(t) => {
            return Err(ModelError::Shape {
                name: "token_embd.weight".into(),
                expected: "a matrix".into(),
                found: format!("{:?}", t.info.dims),
            })
        }
        None => return Err(ModelError::MissingTensor("token_embd.weight".into())),
    };
    let mut cfg = Config::from_gguf(meta, arch, vocab)?;
    let mut weights = load(&GgufSource { file: &file }, &cfg)?;
    cfg.rope_factors = weights.rope_factors.take();
    let key = |k: &str| meta.get(&format!("{}.{k}", cfg.arch.name()));
    match weights.rope_longrope.take() {
        Some((short, long)) => {
            let original = key("rope.scaling.original_context_length")
                .and_then(|v| v.as_u64())
                .and_then(|v| usize::try_from(v).ok())
                .unwrap_or(cfg.context);
            cfg.rope_longrope = Some(LongRope {
                short,
                long,
                original_context: original,
            });
        }
        None if key("rope.scaling.type").and_then(|v| v.as_str()) == Some("longrope") => {
            return Err(ModelError::MissingTensor("rope_factors_long.weight".into()));
        }
        None => {}
    }
    if cfg.activation == Activation::GeluTanh
        && weights.quantized()
        && !faults::is(Fault::ExactGelu)
    {
        cfg.activation = Activation::GeluTanhF16;
    }
    let cfg = cfg.validated()?;
    let metadata = meta.clone();
    drop(file);
    Ok((
        cfg,
        metadata,
        Weights {
            map: Some(map),
            ..weights
        },
    ))
}

/// A HuggingFace directory: config.json and model.safetensors (or shards).
pub fn load_hf(dir: &Path) -> Result<(Config, Weights), ModelError> {
    let config_path = dir.join("config.json");
    let text = std::fs::read_to_string(&config_path).map_err(|e| ModelError::Io {
        path: config_path.display().to_string(),
        source: e,
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ModelError::Config(format!("{}: {e}", config_path.display())))?;
    let cfg = Config::from_hf(&json)?;
    let st = SafetensorsDir::open(dir)?;
    let weights = load(
        &HfSource {
            dir: &st,
            arch: cfg.arch,
        },
        &cfg,
    )?;
    // transformers ties the LM head to the embedding exactly when config.json says so (every
    // family here but Gemma defaults to untied): an untied checkpoint without lm_head.weight would get a
    // random head there, and a tied one with it would not use it. Either is refused.
    // Gemma's configs tie by default, and transformers leaves defaults out of config.json.
    let tied = json["tie_word_embeddings"]
        .as_bool()
        .unwrap_or(cfg.arch.gemma());
    if tied != weights.tied() {
        return Err(ModelError::Config(format!(
            "config.json tie_word_embeddings = {tied}, but the checkpoint {} lm_head.weight",
            if weights.tied() { "has no" } else { "has" }
        )));
    }
    // HF keeps Llama 3's and LongRoPE's factors in config.json (read into the config), never
    // as tensors.
    if weights.rope_longrope.is_some() {
        return Err(ModelError::UnusedTensors {
            arch: cfg.arch.name().to_string(),
            names: vec!["rope_factors_long.weight".into()],
        });
    }
    if weights.rope_factors.is_some() {
        return Err(ModelError::UnusedTensors {
            arch: cfg.arch.name().to_string(),
            names: vec!["rope_freqs.weight".into()],
        });
    }
    Ok((cfg, weights))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_names_follow_the_converter() {
        assert_eq!(
            hf_name(Arch::Llama, "blk.3.attn_q.weight"),
            "model.layers.3.self_attn.q_proj.weight"
        );
        assert_eq!(
            hf_name(Arch::Llama, "blk.0.attn_k.bias"),
            "model.layers.0.self_attn.k_proj.bias"
        );
        assert_eq!(
            hf_name(Arch::Llama, "blk.12.ffn_down.weight"),
            "model.layers.12.mlp.down_proj.weight"
        );
        assert_eq!(
            hf_name(Arch::Llama, "blk.1.ffn_norm.weight"),
            "model.layers.1.post_attention_layernorm.weight"
        );
        assert_eq!(hf_name(Arch::Llama, "output.weight"), "lm_head.weight");
    }

    #[test]
    fn permutation_moves_half_split_pairs_next_to_each_other() {
        // One head of dim 4, rows labelled by their HF index: HF pairs (0, 2) and (1, 3).
        let rows: Vec<u8> = vec![0, 1, 2, 3];
        assert_eq!(permute_rows(&rows, 4, 1), vec![0, 2, 1, 3]);
        // Two heads permute independently.
        let rows: Vec<u8> = (0..8).collect();
        assert_eq!(permute_rows(&rows, 8, 2), vec![0, 2, 1, 3, 4, 6, 5, 7]);
    }
}
