//! The forward pass against the committed goldens (golden/models): HF float64 for f32 weights,
//! llama.cpp for each quantized file, llama.cpp's own batch/incremental split, and per-op traces.
//! Every test runs on every backend (`backend_tests!`: a `cpu` and a `gpu` test each): the GPU
//! pass reads back its named intermediates for the traces, and a model edited after load is put
//! on the GPU as it is.
//! Goldens are read with the `safetensors` crate, independent of the engine's reader.

mod common;

use std::path::PathBuf;

use realizar::backend::{BackendKind, Forward, Runtime};
use realizar::model::{Logits, Model, Trace};
use realizar::quant::Kernel;
use realizar_oracle::checks::trace_parity::{pair, Against};
use realizar_oracle::checks::widen;
use realizar_oracle::metrics;
use serde_json::Value;

use realizar_oracle::golden::{hf_logits_tensor, REFERENCE_MODELS as MODELS};

fn dir(model: &str) -> PathBuf {
    common::goldens().model_dir(model)
}

fn manifest(model: &str) -> Value {
    common::goldens().manifest(model).unwrap()
}

fn tokens(model: &str) -> Vec<u32> {
    common::goldens().tokens(model).unwrap()
}

/// A golden tensor widened to f64, with its shape.
fn golden(model: &str, file: &str, tensor: &str) -> (Vec<f64>, Vec<usize>) {
    let goldens = common::goldens();
    goldens
        .tensor(&goldens.model_dir(model).join(file), tensor)
        .unwrap()
}

fn load(path: PathBuf) -> Model {
    Model::load(&path, Kernel::best()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn gguf(model: &str, label: &str) -> Model {
    load(dir(model).join(format!("{model}-{label}.gguf")))
}

fn batch_logits<M: Forward>(m: &M, tokens: &[u32]) -> Vec<f32> {
    let mut cache = m.new_cache(tokens.len()).unwrap();
    m.forward(&mut cache, tokens, Logits::All).unwrap()
}

fn incremental_logits<M: Forward>(m: &M, tokens: &[u32]) -> Vec<f32> {
    let mut cache = m.new_cache(tokens.len()).unwrap();
    tokens
        .iter()
        .flat_map(|&t| m.forward(&mut cache, &[t], Logits::All).unwrap())
        .collect()
}

fn max_abs(a: &[f32], b: &[f64]) -> f64 {
    metrics::max_abs(b, &widen(a))
}

/// f32 logits against HF float64: within 1e-4 max abs, as PARITY-F32-HF holds them. tiny-loud's
/// logits reach the hundreds (llama.cpp itself is 2e-4 off there), so it is held, as in the
/// contract, to relative L2 1e-5 instead.
fn assert_f32_parity(model: &str, what: &str, ours: &[f32], hf: &[f64]) {
    let err = max_abs(ours, hf);
    let rel = metrics::rel_l2(hf, &widen(ours));
    eprintln!("{model} {what} vs HF f64: max abs {err:.2e}, rel L2 {rel:.2e}");
    if model == "tiny-loud" {
        assert!(rel <= 1e-5, "{model} {what}: rel L2 {rel:e}");
    } else {
        assert!(err <= 1e-4, "{model} {what}: {err:e}");
    }
}

/// `model`'s `file` (a GGUF label or `hf`) on `backend`; every reference model runs on both.
fn on(backend: BackendKind, model: &str, file: &str) -> Runtime {
    let path = match file {
        "hf" => dir(model).join("hf"),
        label => dir(model).join(format!("{model}-{label}.gguf")),
    };
    common::backends::load(&path, backend)
}

/// Runs `check` on each reference model's `file` on `backend`.
fn each_model(backend: BackendKind, file: &str, mut check: impl FnMut(&str, Runtime)) {
    for model in MODELS {
        check(model, on(backend, model, file));
    }
}

backend_tests! {
    fn f32_gguf_matches_hf_f64_within_1e_4(backend) {
        each_model(backend, "F32", |model, m| {
            let (hf, _) = golden(model, "hf_f64.safetensors", hf_logits_tensor(model, "F32"));
            let ours = batch_logits(&m, &tokens(model));
            assert_f32_parity(model, "F32 GGUF", &ours, &hf);
        });
    }

    fn hf_directory_matches_hf_f64_within_1e_4(backend) {
        each_model(backend, "hf", |model, m| {
            let (hf, _) = golden(model, "hf_f64.safetensors", "logits");
            let ours = batch_logits(&m, &tokens(model));
            assert_f32_parity(model, "HF dir", &ours, &hf);
        });
    }

    fn incremental_decode_equals_batch_prefill_for_f32(backend) {
        each_model(backend, "F32", |model, m| {
            let t = tokens(model);
            let batch = batch_logits(&m, &t);
            let inc = incremental_logits(&m, &t);
            let err = max_abs(&inc, &batch.iter().map(|&v| v as f64).collect::<Vec<_>>());
            eprintln!("{model} incremental vs batch: max abs {err:.2e}");
            assert!(err <= 1e-5, "{model}: {err:e}");
        });
    }

    fn quantized_files_match_llama_cpp(backend) {
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
                let engine = on(backend, model, label);
                let vocab = engine.config().vocab;
                let golden_file = format!("llamacpp_{label}.safetensors");
                for (mode, ours) in [
                    ("logits_batch", batch_logits(&engine, &t)),
                    ("logits_incremental", incremental_logits(&engine, &t)),
                ] {
                    let (reference, _) = golden(model, &golden_file, mode);
                    let c = metrics::compare_logits(&reference, &widen(&ours), vocab);
                    let (kl_mean, kl_max, top1) = (c.kl.mean, c.kl.max, c.same_top);
                    eprintln!(
                        "{model} {label} {mode} on {}: KL mean {kl_mean:.2e} max {kl_max:.2e} top-1 {:.1}%",
                        backend.name(),
                        top1 * 100.0
                    );
                    assert!(
                        kl_mean < 1e-4,
                        "{model} {label} {mode} on {}: KL mean {kl_mean:e}",
                        backend.name()
                    );
                }
            }
        }
    }
}

backend_tests! {
    fn trace_matches_hf_and_llama_cpp_op_by_op(backend) {
        for model in ["tiny-gqa", "tiny-mha-tied"] {
            let m = on(backend, model, "F32");
            let t = tokens(model);
            let trace = m.trace_batch(&t).unwrap();
            // The oracle's op-by-op plan (HF float64 for every op, llama.cpp for Q and K after
            // RoPE), then two cross-checks against llama.cpp's own trace.
            let ctx = realizar_oracle::checks::Ctx::new(&common::repo_root());
            let mut pairs: Vec<(String, Vec<f64>)> = pair(&trace, Against::Goldens, &ctx, model)
                .unwrap()
                .into_iter()
                .map(|s| (s.name, s.reference))
                .collect();
            let llama = |name: &str| golden(model, "llamacpp_trace_F32.safetensors", name).0;
            pairs.push(("logits".into(), llama("result_output")));
            let layers = m.config().layers;
            for l in 0..layers {
                pairs.push((
                    format!("layers.{l}.ffn_out"),
                    llama(&format!("ffn_out-{l}")),
                ));
            }
            assert_eq!(pairs.len(), 4 + 11 * layers);
            for (ours, reference) in pairs {
                let (_, data) = &trace.tensors[&ours];
                let err = max_abs(data, &reference);
                let scale = reference.iter().map(|v| v.abs()).fold(0.0, f64::max);
                assert!(
                    err <= 1e-5 * scale.max(1.0),
                    "{model} {ours} on {}: {err:e} (scale {scale})",
                    backend.name()
                );
            }
        }
    }

    /// The parity check can fail: the same model with the other RoPE convention, or one layer's
    /// output scaled by 1.02 through a perturbed norm weight, is far outside the tolerance.
    fn a_swapped_rope_convention_or_a_2_percent_perturbation_is_caught(backend) {
        use realizar::model::RopeStyle;
        let model = "tiny-gqa";
        let (hf, _) = golden(model, "hf_f64.safetensors", "logits");
        let t = tokens(model);
        let mut m = gguf(model, "F32");
        m.config.rope_style = RopeStyle::NeoX;
        let m = Runtime::on(m, backend).unwrap();
        let err = max_abs(&batch_logits(&m, &t), &hf);
        assert!(err > 1e-2, "swapped RoPE still within tolerance: {err:e}");
        let mut m = gguf(model, "F32");
        m.config.rope_style = RopeStyle::Adjacent;
        for w in m.weights.layers[1].ffn_norm.iter_mut() {
            *w *= 1.02;
        }
        let m = Runtime::on(m, backend).unwrap();
        let err = max_abs(&batch_logits(&m, &t), &hf);
        assert!(err > 1e-4, "a 2% perturbation went unnoticed: {err:e}");
    }
}

backend_tests! {
    /// The cache's bookkeeping on every backend: positions fill as tokens run, a call past the
    /// capacity is refused with the positions it needed and leaves the cache as it was, and
    /// `clear` starts again at position 0 with the same logits. The split point is random.
    fn the_kv_cache_counts_positions_refuses_overflow_and_clears(backend) {
        use realizar::backend::CacheState;
        use realizar::model::ModelError;
        let model = "tiny-gqa";
        let m = on(backend, model, "F32");
        let t = tokens(model);
        let mut rng = common::Rng::new(0xcac4e);
        let split = 2 + (rng.next_u64() % (t.len() as u64 - 4)) as usize;
        let (head, tail) = t.split_at(split);
        let mut cache = m.new_cache(t.len()).unwrap();
        assert_eq!(
            (cache.len(), cache.capacity(), cache.is_empty()),
            (0, t.len(), true)
        );
        let first = m.forward(&mut cache, head, Logits::Last).unwrap();
        assert_eq!((cache.len(), cache.is_empty()), (split, false));
        match m.forward(&mut cache, &t, Logits::Last) {
            Err(ModelError::ContextFull { needed, ctx }) => {
                assert_eq!((needed, ctx), (split + t.len(), t.len()))
            }
            other => panic!("expected ContextFull, got {other:?}"),
        }
        assert_eq!(cache.len(), split, "a refused call leaves the cache as it was");
        m.forward(&mut cache, tail, Logits::Last).unwrap();
        assert_eq!(cache.len(), t.len());
        // Full: even one more token is refused.
        assert!(matches!(
            m.forward(&mut cache, &t[..1], Logits::Last),
            Err(ModelError::ContextFull { needed, .. }) if needed == t.len() + 1
        ));
        cache.clear();
        assert_eq!(
            (cache.len(), cache.capacity(), cache.is_empty()),
            (0, t.len(), true)
        );
        assert_eq!(m.forward(&mut cache, head, Logits::Last).unwrap(), first);
        // Logits::Last is the last row of Logits::All.
        let vocab = m.config().vocab;
        let all = batch_logits(&m, head);
        assert_eq!(first.len(), vocab);
        assert_eq!(first, all[(split - 1) * vocab..]);
    }
}

backend_tests! {
    /// Each traced tensor is [tokens of the call, features], the call starting part-way into
    /// the cache; with `Logits::Last`, output_norm and logits hold the last token's row only.
    fn each_traced_tensor_is_tokens_by_features(backend) {
        let m = on(backend, "tiny-gqa", "F32");
        let t = tokens("tiny-gqa");
        let mut cache = m.new_cache(t.len()).unwrap();
        m.forward(&mut cache, &t[..3], Logits::Last).unwrap();
        let mut trace = Trace::default();
        m.forward_traced(&mut cache, &t[3..5], Logits::All, Some(&mut trace))
            .unwrap();
        let c = m.config();
        for (key, cols) in [
            ("embedding", c.hidden),
            ("layers.0.q", c.q_dim()),
            ("layers.1.k", c.kv_dim()),
            ("layers.0.ffn_up", c.ffn),
            ("logits", c.vocab),
        ] {
            let (shape, data) = &trace.tensors[key];
            assert_eq!(shape, &vec![2, cols], "{key}");
            assert_eq!(data.len(), 2 * cols, "{key}");
        }
        let mut last = Trace::default();
        let row = m
            .forward_traced(&mut cache, &t[5..7], Logits::Last, Some(&mut last))
            .unwrap();
        assert_eq!(last.tensors["layers.0.q"].0, vec![2, c.q_dim()]);
        assert_eq!(last.tensors["output_norm"].0, vec![1, c.hidden]);
        assert_eq!(last.tensors["logits"], (vec![1, c.vocab], row));
    }
}

backend_tests! {
    /// `realizar run`'s path: prefill with `Logits::Last`, then one token per call, in a cache
    /// much larger than the prompt. Each step's logits equal the all-positions batch pass's row.
    fn logits_last_prefill_then_decode_equals_all_positions(backend) {
        for model in MODELS {
            let m = on(backend, model, "F32");
            let t = tokens(model);
            let batch = batch_logits(&m, &t);
            let vocab = m.config().vocab;
            let prefill = (t.len() / 2) | 1;
            let mut cache = m.new_cache(m.config().context).unwrap();
            let mut ours = m.forward(&mut cache, &t[..prefill], Logits::Last).unwrap();
            assert_eq!(ours.len(), vocab, "{model}: Logits::Last is one row");
            for &tok in &t[prefill..] {
                ours.extend(m.forward(&mut cache, &[tok], Logits::Last).unwrap());
            }
            let reference: Vec<f64> = widen(&batch[(prefill - 1) * vocab..]);
            let err = max_abs(&ours, &reference);
            eprintln!(
                "{model} on {}: Logits::Last prefill {prefill} + decode vs batch: max abs {err:.2e}",
                backend.name()
            );
            assert!(err <= 1e-5, "{model}: {err:e}");
        }
    }
}

/// The CPU model's own cache, as `Model::new_cache` returns it (the backends wrap it and count
/// through their trait): its inherent `len`, `is_empty`, `capacity` and `clear` agree with the
/// positions run.
#[test]
fn the_cpu_kv_cache_counts_its_own_positions() {
    let m = gguf("tiny-gqa", "F32");
    let t = tokens("tiny-gqa");
    let mut cache = m.new_cache(5);
    assert_eq!(
        (cache.len(), cache.is_empty(), cache.capacity()),
        (0, true, 5)
    );
    m.forward(&mut cache, &t[..1], Logits::Last).unwrap();
    assert_eq!((cache.len(), cache.is_empty()), (1, false));
    m.forward(&mut cache, &t[1..4], Logits::Last).unwrap();
    assert_eq!((cache.len(), cache.is_empty()), (4, false));
    cache.clear();
    assert_eq!(
        (cache.len(), cache.is_empty(), cache.capacity()),
        (0, true, 5)
    );
}
