//! llama.cpp's golden trace of one GGUF file (llamacpp_trace_<FILE>.safetensors, ggml's graph
//! names) under the oracle's trace names, with the spread llama.cpp shows against itself at each
//! op (its batch pass against one token per call, the manifest's `trace_spread`). `oracle diff`
//! compares a quantized file with this, like with like, instead of with HF's float64 pass of
//! the unquantized model.

use std::collections::BTreeMap;

use realizar::model::Trace;

use crate::goldens::Goldens;

/// A golden trace, renamed.
pub struct GoldenTrace {
    pub trace: Trace,
    /// Per oracle trace name: llama.cpp's batch-vs-incremental relative L2 at that op.
    pub spread: BTreeMap<String, f64>,
    /// Where it came from, for the table: `golden/models/<set>/llamacpp_trace_<FILE>`.
    pub source: String,
}

/// Per layer: the oracle's op name and the ggml names that may hold it, first found wins.
/// Q and K are taken after RoPE (where the engine's trace has them); V and the projections
/// after their bias where the graph adds one (Qwen2).
const LAYER: [(&str, &[&str]); 13] = [
    ("attn_norm", &["attn_norm"]),
    ("q_norm", &["Qcur_normed"]),
    ("k_norm", &["Kcur_normed"]),
    ("q", &["Qcur@rope", "Qcur"]),
    ("k", &["Kcur@rope", "Kcur"]),
    ("v", &["Vcur@add", "Vcur"]),
    ("attn_out", &["attn_out"]),
    ("attn_post_norm", &["attn_post_norm"]),
    ("ffn_norm", &["ffn_norm"]),
    ("ffn_gate", &["ffn_gate"]),
    ("ffn_up", &["ffn_up"]),
    ("ffn_out", &["ffn_out"]),
    ("output", &["l_out"]),
];

/// The trace of `file` (a GGUF label: F32, Q4_K_M, ...) in set `model`.
pub fn read(goldens: &Goldens, model: &str, file: &str) -> Result<GoldenTrace, String> {
    let path = goldens.llamacpp_trace(model, file);
    let manifest = goldens.manifest(model).map_err(|f| f.to_string())?;
    let spreads = &manifest["trace_spread"][file];
    if !path.exists() || !spreads.is_object() {
        return Err(format!(
            "golden set {model} has no llama.cpp trace of {file} with its spread \
             ({}, the manifest's trace_spread.{file}): sets made before every file had one need \
             `make golden-models` or `oracle golden new` again",
            path.display()
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // Which op computed each name decides what stands for q and k: without it, a trace is
    // refused rather than read with q and k silently left out.
    let ops: BTreeMap<String, String> = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("ops"))
        .and_then(|o| serde_json::from_str(o).ok())
        .ok_or_else(|| {
            format!(
                "{}: no readable 'ops' metadata (name -> ggml op)",
                path.display()
            )
        })?;
    // Only a RoPE result stands for q and k: the plain name is the projection where the graph
    // computed the name again (Llama), the RoPE result where the view was not contiguous (Phi-3).
    let usable = |key: &str, ours: &str| {
        !matches!(ours, "q" | "k") || ops.get(key).is_some_and(|op| op == "ROPE")
    };
    let mut trace = Trace::default();
    let mut spread = BTreeMap::new();
    let mut take = |ours: String, key: &str| -> Result<(), String> {
        let t = st
            .tensor(key)
            .map_err(|e| format!("{}: {key}: {e}", path.display()))?;
        let data: Vec<f32> = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let rows = t.shape().first().copied().unwrap_or(0);
        let cols = data.len().checked_div(rows).unwrap_or(0);
        if let Some(s) = spreads[key].as_f64() {
            spread.insert(ours.clone(), s);
        }
        trace.tensors.insert(ours, (vec![rows, cols], data));
        Ok(())
    };
    let names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    let has = |k: &str| names.iter().any(|n| n == k);
    take(
        "embedding".into(),
        if has("inp_scaled") {
            "inp_scaled"
        } else {
            "embd"
        },
    )?;
    let layers = (0..).take_while(|l| has(&format!("l_out-{l}"))).count();
    for l in 0..layers {
        for (ours, theirs) in LAYER {
            let key = theirs.iter().map(|t| match t.split_once('@') {
                Some((base, op)) => format!("{base}-{l}@{op}"),
                None => format!("{t}-{l}"),
            });
            if let Some(key) = key.into_iter().find(|k| has(k) && usable(k, ours)) {
                take(format!("layers.{l}.{ours}"), &key)?;
            }
        }
    }
    take("output_norm".into(), "result_norm")?;
    take("logits".into(), "result_output")?;
    for l in 0..layers {
        split_fused_gate_up(&mut trace, &mut spread, l);
    }
    Ok(GoldenTrace {
        trace,
        spread,
        source: format!("llama.cpp golden trace of {model}-{file}"),
    })
}

/// Phi-3's fused gate/up projection (one ffn_up-N twice the FFN width, gate first): the two
/// halves of each row, as the engine traces them.
fn split_fused_gate_up(trace: &mut Trace, spread: &mut BTreeMap<String, f64>, l: usize) {
    let (gate, up) = (format!("layers.{l}.ffn_gate"), format!("layers.{l}.ffn_up"));
    if trace.tensors.contains_key(&gate) {
        return;
    }
    let Some((shape, data)) = trace.tensors.remove(&up) else {
        return;
    };
    let (rows, width) = (shape[0], shape[1] / 2);
    let half = |h: usize| -> Vec<f32> {
        data.chunks_exact(shape[1])
            .flat_map(|row| row[h * width..(h + 1) * width].to_vec())
            .collect()
    };
    trace
        .tensors
        .insert(gate.clone(), (vec![rows, width], half(0)));
    trace
        .tensors
        .insert(up.clone(), (vec![rows, width], half(1)));
    if let Some(s) = spread.get(&up).copied() {
        spread.insert(gate, s);
    }
}
