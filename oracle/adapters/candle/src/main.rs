//! candle as an engine under test: answers the oracle's engine protocol (docs/engine-protocol.md)
//! with candle-transformers' quantized llama (`candle_transformers::models::quantized_llama`,
//! exactly 0.11.1, default features: CPU, no BLAS). Built by `make engine-candle`; then
//!
//!     oracle verify --engine 'cmd:oracle/adapters/candle/target/release/candle-engine'
//!
//! usage: candle-engine REQUEST.json
//!
//! What each request does in candle (nothing of candle's math is copied or changed here; the
//! model is `ModelWeights::from_gguf` on `Device::Cpu` and every number comes out of its
//! `forward(x, index_pos)`):
//!
//! - `logits`, `mode: incremental`: one `forward` per token, `x` of shape [1, 1] at
//!   `index_pos = i`, through candle's own KV cache; the row of position i is what that call
//!   returns. This is how candle decodes.
//! - `logits`, `mode: batch`: candle's `forward` returns only the last position's logits
//!   (`x.i((.., seq_len - 1, ..))` after the final norm), so no single call yields every
//!   position. The row of position i is the answer of a fresh batch call over the prefix
//!   `tokens[..=i]` (`x` of shape [1, i + 1], `index_pos = 0`, the causal mask, the KV cache
//!   cleared first): n calls for n tokens. Each row is what candle's batch (prefill) path gives
//!   for its last position; the last row is exactly one batch call over the whole sequence.
//! - `trace`: refused. quantized_llama has no hook on its intermediates (its layers are
//!   private), so there is nothing to read them from without rewriting its forward pass.
//! - `tokenize`: refused. candle has no tokenizer; the `tokenizers` crate reads
//!   tokenizer.json, not a GGUF vocabulary.
//!
//! Refused models (an error naming what, never numbers from a model candle does not
//! implement): anything but a GGUF file (HuggingFace directories included); a GGUF whose
//! `general.architecture` is not `llama` (quantized_llama reads only `llama.*` keys); a
//! `llama.*` key it does not read and that could change the numbers (RoPE scaling, YaRN ...);
//! a tensor it does not load (Llama 3.1's `rope_freqs.weight`, biases, Q/K norms ...); a head
//! size other than `embedding_length / head_count` or a RoPE width other than the head size
//! (candle derives the head size from the former and rotates the whole head); positions past
//! candle's `MAX_SEQ_LEN`; candle's `CANDLE_DEQUANTIZE_ALL*` variables set (they change its
//! matmuls).
//!
//! A request it does not understand (an unknown op or field, another protocol version) exits 1
//! naming what, as the protocol asks; so does every refusal and every error of candle's.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama::{ModelWeights, MAX_SEQ_LEN};
use serde::Deserialize;

/// The protocol version this adapter speaks.
const PROTOCOL: u64 = 1;

type Result<T> = std::result::Result<T, String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogitsRequest {
    #[allow(dead_code)]
    protocol: u64,
    #[allow(dead_code)]
    op: String,
    model: PathBuf,
    tokens: Vec<u32>,
    mode: Mode,
    output: PathBuf,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Batch,
    Incremental,
}

/// Parsed in full so a malformed request is named as such, then refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TraceRequest {
    protocol: u64,
    op: String,
    model: PathBuf,
    tokens: Vec<u32>,
    output: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct TokenizeRequest {
    protocol: u64,
    op: String,
    vocab: PathBuf,
    texts: Vec<String>,
    add_special: bool,
    parse_special: bool,
    output: PathBuf,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match &args[..] {
        [request] => answer(Path::new(request)),
        _ => Err("usage: candle-engine REQUEST.json".to_string()),
    };
    if let Err(why) = result {
        eprintln!("candle-engine: {why}");
        std::process::exit(1);
    }
}

fn answer(request: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(request).map_err(|e| format!("{}: {e}", request.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("the request is not JSON: {e}"))?;
    match value.get("protocol").and_then(|p| p.as_u64()) {
        Some(PROTOCOL) => {}
        _ => {
            return Err(format!(
                "protocol {} not understood (this adapter speaks protocol {PROTOCOL})",
                value.get("protocol").unwrap_or(&serde_json::Value::Null)
            ))
        }
    }
    let op = value
        .get("op")
        .and_then(|o| o.as_str())
        .ok_or("the request has no string `op`")?
        .to_string();
    let bad = |e: serde_json::Error| format!("{op} request not understood: {e}");
    match op.as_str() {
        "logits" => {
            let request: LogitsRequest = serde_json::from_value(value).map_err(bad)?;
            let rows = logits(&request.model, &request.tokens, request.mode)?;
            write_npy(&request.output, &rows)
        }
        "trace" => {
            let _: TraceRequest = serde_json::from_value(value).map_err(bad)?;
            Err(
                "trace is not supported: candle's quantized_llama exposes no intermediate \
                 tensor (no per-op hook, private layers), only the last position's logits"
                    .to_string(),
            )
        }
        "tokenize" => {
            let _: TokenizeRequest = serde_json::from_value(value).map_err(bad)?;
            Err(
                "tokenize is not supported: candle has no tokenizer for a GGUF vocabulary \
                 (the tokenizers crate reads tokenizer.json)"
                    .to_string(),
            )
        }
        other => Err(format!("unknown op {other:?}")),
    }
}

/// The logits of every position, one row per token, as the module comment says.
fn logits(model: &Path, tokens: &[u32], mode: Mode) -> Result<Vec<Vec<f32>>> {
    for var in ["CANDLE_DEQUANTIZE_ALL", "CANDLE_DEQUANTIZE_ALL_F16"] {
        if std::env::var_os(var).is_some_and(|v| !v.is_empty() && v != "0") {
            return Err(format!(
                "{var} is set: candle would dequantize the weights and run other matmuls than \
                 its default; unset it"
            ));
        }
    }
    if model.is_dir() {
        return Err(format!(
            "{}: a HuggingFace directory; this adapter runs candle's quantized_llama, which \
             reads GGUF only",
            model.display()
        ));
    }
    if tokens.is_empty() {
        return Err("no tokens: candle's forward needs at least one".to_string());
    }
    if tokens.len() > MAX_SEQ_LEN {
        return Err(format!(
            "{} tokens: candle's quantized_llama has RoPE tables for {MAX_SEQ_LEN} positions",
            tokens.len()
        ));
    }
    let file = File::open(model).map_err(|e| format!("{}: {e}", model.display()))?;
    let mut reader = BufReader::new(file);
    let content = gguf_file::Content::read(&mut reader)
        .map_err(|e| format!("{}: candle cannot read it as GGUF: {e}", model.display()))?;
    let vocab = check_supported(&content).map_err(|e| format!("{}: {e}", model.display()))?;
    if let Some(t) = tokens.iter().find(|&&t| t as usize >= vocab) {
        return Err(format!(
            "token {t} is outside the vocabulary ({vocab} rows)"
        ));
    }
    let device = Device::Cpu;
    let mut weights = ModelWeights::from_gguf(content, &mut reader, &device)
        .map_err(|e| format!("{}: candle's from_gguf: {e}", model.display()))?;
    let candle = |e: candle_core::Error| format!("candle's forward: {e}");
    let mut rows = Vec::with_capacity(tokens.len());
    match mode {
        Mode::Incremental => {
            weights.clear_kv_cache();
            for (i, &t) in tokens.iter().enumerate() {
                let x = Tensor::new(&[t][..], &device)
                    .and_then(|x| x.unsqueeze(0))
                    .map_err(candle)?;
                rows.push(last_row(&weights.forward(&x, i).map_err(candle)?)?);
            }
        }
        Mode::Batch => {
            for end in 1..=tokens.len() {
                weights.clear_kv_cache();
                let x = Tensor::new(&tokens[..end], &device)
                    .and_then(|x| x.unsqueeze(0))
                    .map_err(candle)?;
                rows.push(last_row(&weights.forward(&x, 0).map_err(candle)?)?);
            }
        }
    }
    Ok(rows)
}

/// forward's answer: shape [1, vocab], the last position's logits.
fn last_row(logits: &Tensor) -> Result<Vec<f32>> {
    let dims = logits.dims().to_vec();
    match dims[..] {
        [1, _] => logits
            .squeeze(0)
            .and_then(|r| r.to_vec1::<f32>())
            .map_err(|e| format!("candle's logits: {e}")),
        _ => Err(format!(
            "candle's forward returned shape {dims:?}, not [1, vocab]"
        )),
    }
}

/// The `llama.*` keys quantized_llama's from_gguf reads, and those that only restate what the
/// tensors' shapes already fix (context_length does not enter candle's math: MAX_SEQ_LEN does).
const KNOWN_KEYS: &[&str] = &[
    "block_count",
    "embedding_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.layer_norm_rms_epsilon",
    "rope.freq_base",
    "rope.dimension_count",
    "expert_count",
    "expert_used_count",
    "context_length",
    "feed_forward_length",
    "vocab_size",
    // Checked below: equal to embedding_length / head_count, the head size candle uses.
    "attention.key_length",
    "attention.value_length",
];

/// Refuses a file whose numbers candle's quantized_llama would get wrong by ignoring part of
/// it; returns the vocabulary size (token_embd's rows).
fn check_supported(content: &gguf_file::Content) -> Result<usize> {
    let md = &content.metadata;
    let arch = md
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .ok_or("no general.architecture")?;
    if arch != "llama" {
        return Err(format!(
            "general.architecture is {arch:?}: candle's quantized_llama implements the llama \
             architecture only (it reads llama.* hyperparameters, no {arch}.* ones), so it is \
             refused rather than run as llama"
        ));
    }
    let mut unknown: Vec<&str> = md
        .keys()
        .filter_map(|k| k.strip_prefix("llama."))
        .filter(|k| !KNOWN_KEYS.contains(k))
        .collect();
    unknown.sort_unstable();
    if !unknown.is_empty() {
        return Err(format!(
            "candle's quantized_llama ignores {}: refused rather than run without it",
            unknown
                .iter()
                .map(|k| format!("llama.{k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let get = |key: &str| -> Result<Option<usize>> {
        match md.get(&format!("llama.{key}")) {
            None => Ok(None),
            Some(v) => v
                .to_u32()
                .map(|n| Some(n as usize))
                .map_err(|e| format!("llama.{key}: {e}")),
        }
    };
    let need = |key: &str| get(key)?.ok_or(format!("no llama.{key}"));
    let embd = need("embedding_length")?;
    let heads = need("attention.head_count")?;
    let blocks = need("block_count")?;
    let experts = get("expert_count")?.unwrap_or(0);
    if heads == 0 || embd % heads != 0 {
        return Err(format!(
            "embedding_length {embd} is not a multiple of head_count {heads}"
        ));
    }
    let head_dim = embd / heads;
    for key in [
        "attention.key_length",
        "attention.value_length",
        "rope.dimension_count",
    ] {
        if let Some(n) = get(key)? {
            if n != head_dim {
                return Err(format!(
                    "llama.{key} is {n}: candle's quantized_llama uses a head size of \
                     embedding_length / head_count = {head_dim} and rotates the whole head"
                ));
            }
        }
    }
    let mut loaded: BTreeSet<String> = ["token_embd.weight", "output_norm.weight", "output.weight"]
        .into_iter()
        .map(String::from)
        .collect();
    for b in 0..blocks {
        let mut names = vec![
            "attn_q",
            "attn_k",
            "attn_v",
            "attn_output",
            "attn_norm",
            "ffn_norm",
        ]
        .into_iter()
        .map(|n| format!("blk.{b}.{n}.weight"))
        .collect::<Vec<_>>();
        if experts <= 1 {
            for n in ["ffn_gate", "ffn_down", "ffn_up"] {
                names.push(format!("blk.{b}.{n}.weight"));
            }
        } else {
            names.push(format!("blk.{b}.ffn_gate_inp.weight"));
            for e in 0..experts {
                for n in ["ffn_gate", "ffn_down", "ffn_up"] {
                    names.push(format!("blk.{b}.{n}.{e}.weight"));
                }
            }
        }
        loaded.extend(names);
    }
    let mut ignored: Vec<&str> = content
        .tensor_infos
        .keys()
        .filter(|name| !loaded.contains(*name))
        .map(String::as_str)
        .collect();
    ignored.sort_unstable();
    if !ignored.is_empty() {
        return Err(format!(
            "candle's quantized_llama does not read {}: refused rather than run without it",
            ignored.join(", ")
        ));
    }
    let embd_info = content
        .tensor_infos
        .get("token_embd.weight")
        .ok_or("no token_embd.weight")?;
    match embd_info.shape.dims() {
        [vocab, n] if *n == embd => Ok(*vocab),
        dims => Err(format!(
            "token_embd.weight has shape {dims:?}; [vocab, {embd}] expected"
        )),
    }
}

/// A float32 little-endian .npy (version 1.0, C order) of shape [rows, columns].
fn write_npy(path: &Path, rows: &[Vec<f32>]) -> Result<()> {
    let columns = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != columns) {
        return Err("candle's rows differ in length".to_string());
    }
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {columns}), }}",
        rows.len()
    );
    // magic (6) + version (2) + header length (2) + header + '\n', a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + rows.len() * columns * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in rows.iter().flatten() {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    File::create(path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| format!("{}: {e}", path.display()))
}
