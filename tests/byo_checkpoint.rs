//! Bring your own checkpoint, end to end, as the README's three commands run it: a tiny HF
//! checkpoint generated here (random weights, a shape no committed set has: tied embeddings,
//! head_dim 48 with hidden 256, two layers, float32), `oracle golden new` on it (the pinned HF
//! transformers and llama.cpp through golden/scripts/models.py), then `oracle verify --set` for
//! realizar and for llama.cpp through its protocol adapter.
//!
//! Needs uv on PATH (`make uv`); the first run builds the pinned llama.cpp and installs the
//! pinned torch, which `make verify` and CI provide. Anything missing fails the test: NOT RUN is
//! not a pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use safetensors::tensor::{Dtype, TensorView};

const HIDDEN: usize = 256;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = 48;
const FFN: usize = 512;
const LAYERS: usize = 2;
/// The committed SentencePiece tokenizer's vocabulary (its files are copied in).
const VOCAB: usize = 384;

fn oracle(args: &[&str]) -> (i32, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("oracle").chain(args.iter().copied());
    let code = realizar_oracle::cli::run(argv, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Normal-ish weights (sum of uniforms) with standard deviation about `std`.
fn weights(rng: &mut common::Rng, n: usize, std: f32) -> Vec<f32> {
    (0..n)
        .map(|_| (0..4).map(|_| rng.unit()).sum::<f32>() * std * 0.866)
        .collect()
}

/// config.json, model.safetensors and the committed tokenizer's files: an HF Llama checkpoint.
fn write_checkpoint(dir: &Path) {
    let mut rng = common::Rng::new(20261202);
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut add = |name: &str, shape: Vec<usize>, data: Vec<f32>| {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "{name}");
        tensors.push((name.to_string(), shape, data));
    };
    add(
        "model.embed_tokens.weight",
        vec![VOCAB, HIDDEN],
        weights(&mut rng, VOCAB * HIDDEN, 0.05),
    );
    let norm = |rng: &mut common::Rng| (0..HIDDEN).map(|_| 1.0 + 0.4 * rng.unit()).collect();
    for l in 0..LAYERS {
        let p = format!("model.layers.{l}");
        add(
            &format!("{p}.input_layernorm.weight"),
            vec![HIDDEN],
            norm(&mut rng),
        );
        add(
            &format!("{p}.post_attention_layernorm.weight"),
            vec![HIDDEN],
            norm(&mut rng),
        );
        for (proj, rows, cols) in [
            ("self_attn.q_proj", HEADS * HEAD_DIM, HIDDEN),
            ("self_attn.k_proj", KV_HEADS * HEAD_DIM, HIDDEN),
            ("self_attn.v_proj", KV_HEADS * HEAD_DIM, HIDDEN),
            ("self_attn.o_proj", HIDDEN, HEADS * HEAD_DIM),
            ("mlp.gate_proj", FFN, HIDDEN),
            ("mlp.up_proj", FFN, HIDDEN),
            ("mlp.down_proj", HIDDEN, FFN),
        ] {
            add(
                &format!("{p}.{proj}.weight"),
                vec![rows, cols],
                weights(&mut rng, rows * cols, 0.04),
            );
        }
    }
    add("model.norm.weight", vec![HIDDEN], norm(&mut rng));
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, s, d)| (n, s, d.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, TensorView)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let metadata = Some(std::collections::HashMap::from([(
        "format".to_string(),
        "pt".to_string(),
    )]));
    safetensors::serialize_to_file(views, metadata, &dir.join("model.safetensors")).unwrap();
    let config = serde_json::json!({
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": false,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "dtype": "float32",
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "max_position_embeddings": 256,
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": true,
        "vocab_size": VOCAB,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let tokenizer = common::repo_root().join("golden/models/tiny-gqa/hf");
    for f in [
        "tokenizer.json",
        "tokenizer.model",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        std::fs::copy(tokenizer.join(f), dir.join(f)).unwrap();
    }
}

/// The llama.cpp adapter, built against the pinned libllama that `golden new` just built.
fn llama_engine(root: &Path) -> PathBuf {
    let out = Command::new("uv")
        .current_dir(root)
        .args([
            "run",
            "--locked",
            "golden/scripts/llama_tools.py",
            "--program",
            "oracle/adapters/llamacpp/llama_engine.cpp",
        ])
        .output()
        .expect("uv on PATH (make uv)");
    assert!(out.status.success(), "{out:?}");
    let path = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(path.lines().last().unwrap().trim())
}

/// Removes the set when the test ends, passed or not.
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn verdicts(json: &str) -> Vec<(String, String, f64)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let set = &v["contracts"][0];
    set["obligations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["status"].as_str().unwrap().to_string(),
                o["value"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

#[test]
fn a_users_checkpoint_gets_goldens_and_verdicts_for_realizar_and_llama_cpp_in_three_commands() {
    let root = common::repo_root();
    let r = root.to_str().unwrap();
    let hf = tempfile::tempdir().unwrap();
    write_checkpoint(hf.path());
    let name = format!("byo-test-{}", std::process::id());
    let local = root.join("golden/local");
    let _remove = Remove(local.join(&name));

    // 1. Goldens for the checkpoint.
    let (code, out, err) = oracle(&[
        "golden",
        "new",
        &name,
        "--hf",
        hf.path().to_str().unwrap(),
        "--quant",
        "Q8_0,Q4_K_M",
        "--prompt",
        "Hello world, 12345: the quick brown fox.\nA second line.",
        "--out",
        local.to_str().unwrap(),
        "--root",
        r,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // The F32 GGUF and two quantizations, HF float64, llama.cpp's logits and trace of each.
    assert!(
        out.contains(&format!("golden set {name}: 10 files")),
        "{out}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local.join(&name).join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["config"]["head_dim"], HEAD_DIM, "{manifest}");
    assert!(manifest["checkpoint"]["sha256"]["model.safetensors"].is_string());
    // `golden check` covers the set with the committed ones (golden/local is under golden/).
    let golden = root.join("golden");
    let (_, out, _) = oracle(&[
        "golden",
        "check",
        "--dir",
        golden.to_str().unwrap(),
        "--json",
    ]);
    let check: serde_json::Value = serde_json::from_str(&out).unwrap();
    let ours = check["sets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["set"] == format!("golden/local/{name}"))
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        (&ours["files_ok"], &ours["problems"]),
        (&10.into(), &serde_json::json!([]))
    );

    // 2. The standard contracts on realizar: every obligation holds.
    let contracts = root.join("contracts");
    let c = contracts.to_str().unwrap();
    let args = [
        "verify",
        "--set",
        &name,
        "--root",
        r,
        "--contracts",
        c,
        "--format",
        "json",
    ];
    let (code, out, err) = oracle(&args);
    assert_eq!(code, 0, "{out}{err}");
    let ours = verdicts(&out);
    let ids: Vec<&str> = ours.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "f32-gguf-batch",
            "f32-gguf-incremental",
            "q4_k_m-batch",
            "q4_k_m-incremental",
            "q8_0-batch",
            "q8_0-incremental",
            "trace",
            "kv",
            "same-twice"
        ]
    );
    assert!(ours.iter().all(|(_, v, _)| v == "holds"), "{ours:?}");

    // 3. The same contracts on llama.cpp, through its protocol adapter: its logits are the
    // goldens' own (KL 0 on every file), and the verdict table is there for every obligation.
    let engine = format!("cmd:{}", llama_engine(&root).display());
    let mut args = args.to_vec();
    args.extend(["--engine", &engine]);
    let (code, out, err) = oracle(&args);
    assert!(code == 0 || code == 1, "{code} {out}{err}");
    let theirs = verdicts(&out);
    assert_eq!(theirs.len(), ours.len(), "{out}");
    for (id, verdict, measured) in &theirs {
        if id.starts_with("q") {
            assert_eq!((verdict.as_str(), *measured), ("holds", 0.0), "{id}: {out}");
        }
    }
}
