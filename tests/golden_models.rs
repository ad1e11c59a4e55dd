//! The committed reference models (golden/models, made by golden/scripts/models.py), read with
//! the engine's readers and held to what the reference tools recorded: gguf-py's tensor types,
//! the HF config, the converter's row permutation of Q and K, and llama.cpp-vs-HF agreement.
//! Golden outputs are read with the `safetensors` crate, not the engine's reader.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use realizar::format::gguf::{GgmlType, Gguf};
use realizar::format::safetensors::{Dtype, SafetensorsDir};
use serde_json::Value;

/// The `llama`-architecture models converted from LlamaForCausalLM, whose metadata and Q/K row
/// permutation the tests below check; every family's model is in REFERENCE_MODELS.
const MODELS: [&str; 3] = ["tiny-gqa", "tiny-long", "tiny-mha-tied"];
const VOCAB: usize = 384;

fn model_dir(name: &str) -> PathBuf {
    common::goldens().model_dir(name)
}

fn manifest(name: &str) -> Value {
    common::goldens().manifest(name).unwrap()
}

fn ggufs(name: &str) -> Vec<String> {
    manifest(name)["files"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|f| f.ends_with(".gguf"))
        .cloned()
        .collect()
}

fn meta_u64(g: &Gguf<impl AsRef<[u8]>>, key: &str) -> u64 {
    let v = g.header().metadata.get(key);
    v.and_then(|v| v.as_u64())
        .unwrap_or_else(|| panic!("{key}: {v:?}"))
}

fn meta_f64(g: &Gguf<impl AsRef<[u8]>>, key: &str) -> f64 {
    let v = g.header().metadata.get(key);
    v.and_then(|v| v.as_f64())
        .unwrap_or_else(|| panic!("{key}: {v:?}"))
}

fn widen(dtype: Dtype, data: &[u8]) -> Vec<f32> {
    match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        other => panic!("unexpected dtype {other:?}"),
    }
}

fn f32_tensor(g: &Gguf<impl AsRef<[u8]>>, name: &str) -> Vec<f32> {
    let t = g.tensor(name).unwrap_or_else(|| panic!("no tensor {name}"));
    assert_eq!(t.info.ggml_type, GgmlType::F32, "{name}");
    widen(Dtype::F32, t.data)
}

/// A golden tensor of a model's set, widened to f64, with its shape.
fn golden_f64(model: &str, file: &str, tensor: &str) -> (Vec<f64>, Vec<usize>) {
    let goldens = common::goldens();
    goldens
        .tensor(&goldens.model_dir(model).join(file), tensor)
        .unwrap()
}

#[test]
fn every_reference_model_is_committed_with_its_manifest() {
    let mut found: Vec<String> = std::fs::read_dir(common::goldens().models())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("manifest.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut want = realizar_oracle::golden::REFERENCE_MODELS.to_vec();
    want.sort();
    assert_eq!(found, want);
    let gqa = ggufs("tiny-gqa");
    for label in [
        "F32",
        "F16",
        "Q8_0",
        "Q4_0",
        "Q4_K_M",
        "Q5_K_M",
        "Q6_K",
        "Q4_0-pure",
        "Q4_K-pure",
        "Q5_K-pure",
    ] {
        assert!(gqa.contains(&format!("tiny-gqa-{label}.gguf")), "{label}");
    }
}

/// The engine's GGUF reader sees the same tensor types as gguf-py did when the manifest was made.
#[test]
fn engine_reads_every_gguf_with_the_types_gguf_py_recorded() {
    for model in MODELS {
        let files = manifest(model)["files"].clone();
        for file in ggufs(model) {
            let g = Gguf::open(model_dir(model).join(&file)).unwrap();
            let mut types: BTreeMap<String, u64> = BTreeMap::new();
            for t in g.tensors() {
                *types
                    .entry(t.info.ggml_type.name().to_string())
                    .or_default() += 1;
            }
            let want: BTreeMap<String, u64> = files[&file]["tensor_types"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect();
            assert_eq!(types, want, "{file}");
        }
    }
}

/// The converter carried the HF config into `llama.*` metadata, and a tied model has no
/// output.weight (llama.cpp falls back to token_embd).
#[test]
fn gguf_metadata_matches_the_hf_config() {
    for model in MODELS {
        let m = manifest(model);
        let cfg = &m["config"];
        let g = Gguf::open(model_dir(model).join(format!("{model}-F32.gguf"))).unwrap();
        let arch = g.header().metadata.get("general.architecture");
        assert_eq!(arch.and_then(|v| v.as_str()), Some("llama"), "{model}");
        let pairs = [
            ("llama.block_count", "layers"),
            ("llama.embedding_length", "hidden"),
            ("llama.feed_forward_length", "ffn"),
            ("llama.attention.head_count", "heads"),
            ("llama.attention.head_count_kv", "kv_heads"),
            ("llama.context_length", "ctx"),
        ];
        for (key, field) in pairs {
            assert_eq!(
                Some(meta_u64(&g, key)),
                cfg[field].as_u64(),
                "{model} {key}"
            );
        }
        let theta = meta_f64(&g, "llama.rope.freq_base");
        assert_eq!(theta, cfg["rope_theta"].as_f64().unwrap(), "{model}");
        let eps = meta_f64(&g, "llama.attention.layer_norm_rms_epsilon");
        assert_eq!(eps as f32, cfg["eps"].as_f64().unwrap() as f32, "{model}");
        let tokens = g.header().metadata.get("tokenizer.ggml.tokens").unwrap();
        assert_eq!(tokens.as_array().unwrap().len(), VOCAB, "{model}");
        let tied = cfg["tied"].as_bool().unwrap();
        assert_eq!(g.tensor("output.weight").is_none(), tied, "{model}");
    }
}

/// The f32 GGUF holds the HF checkpoint's values exactly, V as written and Q/K with the
/// converter's row permutation: within each head, GGUF row 2i+s is HF row s*(head_dim/2)+i. This
/// is the permutation an engine undoes, or must not undo, when it loads each format.
#[test]
fn f32_gguf_is_the_hf_checkpoint_with_q_and_k_rows_permuted() {
    for model in MODELS {
        let cfg = manifest(model)["config"].clone();
        let hidden = cfg["hidden"].as_u64().unwrap() as usize;
        let heads = cfg["heads"].as_u64().unwrap() as usize;
        let kv_heads = cfg["kv_heads"].as_u64().unwrap() as usize;
        let head_dim = hidden / heads;
        let hf = SafetensorsDir::open(model_dir(model).join("hf")).unwrap();
        let g = Gguf::open(model_dir(model).join(format!("{model}-F32.gguf"))).unwrap();
        let hf_tensor = |name: &str| {
            let t = hf
                .tensor(name)
                .unwrap_or_else(|| panic!("{model}: no {name}"));
            widen(t.info.dtype, t.data)
        };
        let want_dtype = match cfg["hf_dtype"].as_str().unwrap() {
            "float32" => Dtype::F32,
            "float16" => Dtype::F16,
            "bfloat16" => Dtype::BF16,
            other => panic!("{other}"),
        };
        for name in hf.tensor_names() {
            assert_eq!(
                hf.tensor(name).unwrap().info.dtype,
                want_dtype,
                "{model} {name}"
            );
        }
        let layer = "model.layers.0.self_attn";
        assert_eq!(
            f32_tensor(&g, "blk.0.attn_v.weight"),
            hf_tensor(&format!("{layer}.v_proj.weight"))
        );
        assert_eq!(
            f32_tensor(&g, "token_embd.weight"),
            hf_tensor("model.embed_tokens.weight")
        );
        for (gguf_name, hf_name, n_head) in [
            ("blk.0.attn_q.weight", "q_proj", heads),
            ("blk.0.attn_k.weight", "k_proj", kv_heads),
        ] {
            let ours = f32_tensor(&g, gguf_name);
            let theirs = hf_tensor(&format!("{layer}.{hf_name}.weight"));
            let half = head_dim / 2;
            let mut permuted = vec![0.0f32; theirs.len()];
            for h in 0..n_head {
                for i in 0..half {
                    for s in 0..2 {
                        let to = (h * head_dim + 2 * i + s) * hidden;
                        let from = (h * head_dim + s * half + i) * hidden;
                        permuted[to..to + hidden].copy_from_slice(&theirs[from..from + hidden]);
                    }
                }
            }
            assert_eq!(ours, permuted, "{model} {gguf_name}");
            assert_ne!(
                ours, theirs,
                "{model} {gguf_name}: the permutation must show"
            );
        }
    }
}

/// The two references agree on the f32 model before anything is held to them: llama.cpp (f32
/// GGUF, flash attention off, f32 KV cache) against HF float64, batch and incremental.
#[test]
fn llama_cpp_f32_logits_agree_with_hf_f64() {
    for model in MODELS {
        let m = manifest(model);
        let tokens = m["tokens"].as_array().unwrap();
        assert_eq!(
            tokens.len() as u64,
            m["config"]["n_tokens"].as_u64().unwrap()
        );
        assert_eq!(tokens[0], 1, "{model}: BOS first");
        assert!(tokens
            .iter()
            .all(|t| (t.as_u64().unwrap() as usize) < VOCAB));
        let (hf, shape) = golden_f64(model, "hf_f64.safetensors", "logits");
        assert_eq!(shape, [tokens.len(), VOCAB]);
        for mode in ["logits_batch", "logits_incremental"] {
            let (llama, _) = golden_f64(model, "llamacpp_F32.safetensors", mode);
            let max_abs = hf
                .iter()
                .zip(&llama)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            // Measured 1.0e-6 to 1.6e-6 (golden/models/AGREEMENT.md).
            assert!(max_abs < 1e-5, "{model} {mode}: {max_abs:e}");
            assert!(
                max_abs > 0.0,
                "{model} {mode}: identical logits mean a copied golden"
            );
        }
    }
}

#[test]
fn tokenizer_goldens_cover_every_tricky_string_and_agree_where_expected() {
    let path = common::goldens().tiny_tokenize("spm");
    let golden: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let cases = golden["cases"].as_array().unwrap();
    assert!(cases.len() >= 40);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        // Without special-token parsing llama.cpp is sentencepiece exactly; HF parses "<s>" as
        // BOS, as llama.cpp does when asked to.
        assert_eq!(case["llama_cpp"], case["sentencepiece"], "{text:?}");
        let special = ["<s>", "</s>", "<unk>"].iter().any(|s| text.contains(s));
        let hf_ref = if special {
            &case["llama_cpp_parse_special"]
        } else {
            &case["llama_cpp"]
        };
        assert_eq!(&case["hf"], hf_ref, "{text:?}");
    }
    let vocab = Gguf::open(common::goldens().tiny_vocab("spm")).unwrap();
    assert_eq!(vocab.tensors().count(), 0, "vocab-only");
    let model = vocab.header().metadata.get("tokenizer.ggml.model");
    assert_eq!(model.and_then(|v| v.as_str()), Some("llama"));
}
