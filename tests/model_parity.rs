//! The forward pass against the committed goldens (golden/models): HF float64 for f32 weights,
//! llama.cpp for each quantized file, llama.cpp's own batch/incremental split, and per-op traces.
//! Goldens are read with the `safetensors` crate, independent of the engine's reader.

mod common;

use std::path::PathBuf;

use realizar::model::{KvCache, Logits, Model, Trace};
use realizar::quant::Kernel;
use serde_json::Value;

const MODELS: [&str; 3] = ["tiny-gqa", "tiny-long", "tiny-mha-tied"];

fn dir(model: &str) -> PathBuf {
    common::repo_root().join("golden/models").join(model)
}

fn manifest(model: &str) -> Value {
    serde_json::from_slice(&std::fs::read(dir(model).join("manifest.json")).unwrap()).unwrap()
}

fn tokens(model: &str) -> Vec<u32> {
    manifest(model)["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect()
}

/// A golden tensor widened to f64, with its shape.
fn golden(model: &str, file: &str, tensor: &str) -> (Vec<f64>, Vec<usize>) {
    let bytes = std::fs::read(dir(model).join(file)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let t = st
        .tensor(tensor)
        .unwrap_or_else(|e| panic!("{model}/{file}: {tensor}: {e}"));
    let values = match t.dtype() {
        safetensors::Dtype::F64 => t
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        safetensors::Dtype::F32 => t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        other => panic!("{other:?}"),
    };
    (values, t.shape().to_vec())
}

fn load(path: PathBuf) -> Model {
    Model::load(&path, Kernel::best()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gguf(model: &str, label: &str) -> Model {
    load(dir(model).join(format!("{model}-{label}.gguf")))
}

fn batch_logits(m: &Model, tokens: &[u32]) -> Vec<f32> {
    let mut cache = m.new_cache(tokens.len());
    m.forward(&mut cache, tokens, Logits::All).unwrap()
}

fn incremental_logits(m: &Model, tokens: &[u32]) -> Vec<f32> {
    let mut cache = m.new_cache(tokens.len());
    tokens
        .iter()
        .flat_map(|&t| m.forward(&mut cache, &[t], Logits::All).unwrap())
        .collect()
}

fn max_abs(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y).abs())
        .fold(0.0, f64::max)
}

/// KL(reference || ours) per position, mean and max, and top-1 agreement.
fn kl_stats(ours: &[f32], reference: &[f64], vocab: usize) -> (f64, f64, f64) {
    let log_softmax = |x: Vec<f64>| {
        let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        x.into_iter().map(|v| v - lse).collect::<Vec<_>>()
    };
    let argmax = |x: &[f64]| (0..x.len()).max_by(|&a, &b| x[a].total_cmp(&x[b])).unwrap();
    let (mut sum, mut max, mut same) = (0.0, 0.0f64, 0);
    let rows = reference.len() / vocab;
    for (o, r) in ours.chunks(vocab).zip(reference.chunks(vocab)) {
        let lo = log_softmax(o.iter().map(|&v| v as f64).collect());
        let lr = log_softmax(r.to_vec());
        let kl: f64 = lr.iter().zip(&lo).map(|(a, b)| a.exp() * (a - b)).sum();
        sum += kl;
        max = max.max(kl);
        same += usize::from(argmax(&lo) == argmax(&lr));
    }
    (sum / rows as f64, max, same as f64 / rows as f64)
}

#[test]
fn f32_gguf_matches_hf_f64_within_1e_4() {
    for model in MODELS {
        let (hf, _) = golden(model, "hf_f64.safetensors", "logits");
        let ours = batch_logits(&gguf(model, "F32"), &tokens(model));
        let err = max_abs(&ours, &hf);
        eprintln!("{model} F32 GGUF vs HF f64: max abs {err:.2e}");
        assert!(err <= 1e-4, "{model}: {err:e}");
    }
}

#[test]
fn hf_directory_matches_hf_f64_within_1e_4() {
    for model in MODELS {
        let (hf, _) = golden(model, "hf_f64.safetensors", "logits");
        let ours = batch_logits(&load(dir(model).join("hf")), &tokens(model));
        let err = max_abs(&ours, &hf);
        eprintln!("{model} HF dir vs HF f64: max abs {err:.2e}");
        assert!(err <= 1e-4, "{model}: {err:e}");
    }
}

#[test]
fn incremental_decode_equals_batch_prefill_for_f32() {
    for model in MODELS {
        let m = gguf(model, "F32");
        let t = tokens(model);
        let batch = batch_logits(&m, &t);
        let inc = incremental_logits(&m, &t);
        let err = max_abs(&inc, &batch.iter().map(|&v| v as f64).collect::<Vec<_>>());
        eprintln!("{model} incremental vs batch: max abs {err:.2e}");
        assert!(err <= 1e-5, "{model}: {err:e}");
    }
}

#[test]
fn quantized_files_match_llama_cpp() {
    for model in MODELS {
        let m = manifest(model);
        let files = m["files"].as_object().unwrap();
        let t = tokens(model);
        for file in files.keys().filter(|f| f.ends_with(".gguf")) {
            let label = file
                .trim_start_matches(&format!("{model}-"))
                .trim_end_matches(".gguf");
            if label == "F32" {
                continue;
            }
            let engine = gguf(model, label);
            let vocab = engine.config.vocab;
            let golden_file = format!("llamacpp_{label}.safetensors");
            for (mode, ours) in [
                ("logits_batch", batch_logits(&engine, &t)),
                ("logits_incremental", incremental_logits(&engine, &t)),
            ] {
                let (reference, _) = golden(model, &golden_file, mode);
                let (kl_mean, kl_max, top1) = kl_stats(&ours, &reference, vocab);
                eprintln!(
                    "{model} {label} {mode}: KL mean {kl_mean:.2e} max {kl_max:.2e} top-1 {:.1}%",
                    top1 * 100.0
                );
                assert!(
                    kl_mean < 1e-3,
                    "{model} {label} {mode}: KL mean {kl_mean:e}"
                );
            }
        }
    }
}

#[test]
fn trace_matches_hf_and_llama_cpp_op_by_op() {
    for model in ["tiny-gqa", "tiny-mha-tied"] {
        let m = gguf(model, "F32");
        let t = tokens(model);
        let mut cache: KvCache = m.new_cache(t.len());
        let mut trace = Trace::default();
        m.forward_traced(&mut cache, &t, Logits::All, Some(&mut trace))
            .unwrap();
        let layers = m.config.layers;
        let mut pairs: Vec<(String, &str, String)> = vec![
            ("embedding".into(), "hf_f64.safetensors", "embedding".into()),
            (
                "output_norm".into(),
                "hf_f64.safetensors",
                "output_norm".into(),
            ),
            (
                "logits".into(),
                "llamacpp_trace_F32.safetensors",
                "result_output".into(),
            ),
        ];
        for l in 0..layers {
            for (ours, hf) in [
                ("attn_norm", "attn_norm"),
                ("v", "v_proj"),
                ("attn_out", "attn_out"),
                ("ffn_norm", "ffn_norm"),
                ("ffn_gate", "ffn_gate"),
                ("ffn_up", "ffn_up"),
                ("ffn_out", "ffn_out"),
                ("output", "output"),
            ] {
                pairs.push((
                    format!("layers.{l}.{ours}"),
                    "hf_f64.safetensors",
                    format!("layers.{l}.{hf}"),
                ));
            }
            // Q and K after RoPE exist only in llama.cpp's trace, in GGUF row order.
            pairs.push((
                format!("layers.{l}.q"),
                "llamacpp_trace_F32.safetensors",
                format!("Qcur-{l}@rope"),
            ));
            pairs.push((
                format!("layers.{l}.k"),
                "llamacpp_trace_F32.safetensors",
                format!("Kcur-{l}@rope"),
            ));
            pairs.push((
                format!("layers.{l}.ffn_out"),
                "llamacpp_trace_F32.safetensors",
                format!("ffn_out-{l}"),
            ));
        }
        for (ours, file, theirs) in pairs {
            let (_, data) = &trace.tensors[&ours];
            let (reference, _) = golden(model, file, &theirs);
            let err = max_abs(data, &reference);
            let scale = reference.iter().map(|v| v.abs()).fold(0.0, f64::max);
            assert!(
                err <= 1e-5 * scale.max(1.0),
                "{model} {ours} vs {file}:{theirs}: {err:e} (scale {scale})"
            );
        }
    }
}

/// The parity check can fail: the same model with the other RoPE convention, or one layer's
/// output scaled by 1.02 through a perturbed norm weight, is far outside the tolerance.
#[test]
fn a_swapped_rope_convention_or_a_2_percent_perturbation_is_caught() {
    use realizar::model::RopeStyle;
    let model = "tiny-gqa";
    let (hf, _) = golden(model, "hf_f64.safetensors", "logits");
    let t = tokens(model);
    let mut m = gguf(model, "F32");
    m.config.rope_style = RopeStyle::NeoX;
    let err = max_abs(&batch_logits(&m, &t), &hf);
    assert!(err > 1e-2, "swapped RoPE still within tolerance: {err:e}");
    let mut m = gguf(model, "F32");
    m.config.rope_style = RopeStyle::Adjacent;
    for w in m.weights.layers[1].ffn_norm.iter_mut() {
        *w *= 1.02;
    }
    let err = max_abs(&batch_logits(&m, &t), &hf);
    assert!(err > 1e-4, "a 2% perturbation went unnoticed: {err:e}");
}
