//! Loading accounts for everything in a model file: what the engine does not implement is
//! refused by name, and what it does implement (RoPE scaling, per-head norms) changes the
//! numbers. Parity of each family with HF and llama.cpp is in model_parity.rs.

mod common;

use std::path::{Path, PathBuf};

use realizar::backend::Forward;
use realizar::format::gguf::{Gguf, GgufWriter, MetaValue};
use realizar::model::{Logits, Model, ModelError};
use realizar::quant::Kernel;

fn golden(rel: &str) -> PathBuf {
    common::goldens().models().join(rel)
}

/// A copy of a golden GGUF with keys added or replaced and tensors added (each a copy of an
/// existing one).
fn gguf_with(src: &str, dst: &Path, meta: &[(&str, MetaValue)], tensors: &[(&str, &str)]) {
    let g = Gguf::open(golden(src)).unwrap();
    let mut w = GgufWriter::copy_of(&g).unwrap();
    for (k, v) in meta {
        w.set_metadata(*k, v.clone()).unwrap();
    }
    for (name, like) in tensors {
        let t = g.tensor(like).unwrap();
        w.add_tensor(*name, t.info.ggml_type, &t.info.dims, t.data.to_vec())
            .unwrap();
    }
    w.write_file(dst).unwrap();
}

/// Relative L2 distance of `a` from `b`.
fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    let widen = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    realizar_oracle::metrics::rel_l2(&widen(b), &widen(a))
}

/// A copy of a golden HF directory with config.json edited.
fn hf_with(src: &str, dst: &Path, edit: impl Fn(&mut serde_json::Value)) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(golden(src)).unwrap().flatten() {
        std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
    }
    let path = dst.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut cfg);
    std::fs::write(&path, cfg.to_string()).unwrap();
}

fn refusal(path: &Path) -> String {
    match Model::load(path, Kernel::best()) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e.to_string(),
    }
}

/// A crafted GGUF: name, keys set, tensors added (name, copied from), what the refusal names.
type Crafted = (
    &'static str,
    Vec<(&'static str, MetaValue)>,
    Vec<(&'static str, &'static str)>,
    &'static str,
);

#[test]
fn crafted_files_are_refused_naming_what_is_not_understood() {
    let dir = tempfile::tempdir().unwrap();
    let src = "tiny-mha-tied/tiny-mha-tied-F32.gguf";
    let gguf_cases: Vec<Crafted> = vec![
        // Phi-3's LongRoPE factors on a llama file: llama.cpp would read them, we do not.
        (
            "longrope-tensor",
            vec![],
            vec![("rope_factors_long.weight", "blk.0.attn_norm.weight")],
            "rope_factors_long.weight",
        ),
        (
            "two-extra-tensors",
            vec![],
            vec![
                ("blk.0.attn_q.bias", "blk.0.attn_norm.weight"),
                ("blk.0.post_attention_norm.weight", "blk.0.attn_norm.weight"),
            ],
            "blk.0.post_attention_norm.weight",
        ),
        (
            "longrope-type",
            vec![(
                "llama.rope.scaling.type",
                MetaValue::String("longrope".into()),
            )],
            vec![],
            "llama.rope.scaling.type",
        ),
        (
            "attention-scale",
            vec![("llama.attention.scale", MetaValue::F32(0.1))],
            vec![],
            "llama.attention.scale",
        ),
        (
            "value-length",
            vec![("llama.attention.value_length", MetaValue::U32(64))],
            vec![],
            "llama.attention.value_length",
        ),
        (
            "vocab-size",
            vec![("llama.vocab_size", MetaValue::U32(385))],
            vec![],
            "llama.vocab_size",
        ),
        (
            "per-layer-heads",
            vec![(
                "llama.attention.head_count",
                MetaValue::Array(realizar::format::gguf::MetaArray::U32(vec![2])),
            )],
            vec![],
            "llama.attention.head_count",
        ),
    ];
    for (name, meta, tensors, must_name) in gguf_cases {
        let path = dir.path().join(format!("{name}.gguf"));
        gguf_with(src, &path, &meta, &tensors);
        let e = refusal(&path);
        assert!(e.contains(must_name), "{name}: {e}");
    }
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let hf_cases: Vec<(&str, Edit, &str)> = vec![
        (
            "dynamic-rope",
            Box::new(|c| c["rope_scaling"] = serde_json::json!({"type": "dynamic", "factor": 2.0})),
            "rope_scaling",
        ),
        (
            "softcap",
            Box::new(|c| c["attn_logit_softcapping"] = serde_json::json!(50.0)),
            "attn_logit_softcapping",
        ),
        (
            "qwen-sliding",
            Box::new(|c| c["use_sliding_window"] = serde_json::json!(true)),
            "use_sliding_window",
        ),
        (
            "moe",
            Box::new(|c| c["num_local_experts"] = serde_json::json!(8)),
            "num_local_experts",
        ),
        // tiny-mha-tied has no lm_head.weight: untied, its head would be missing.
        (
            "untied-without-head",
            Box::new(|c| c["tie_word_embeddings"] = serde_json::json!(false)),
            "tie_word_embeddings = false, but the checkpoint has no lm_head.weight",
        ),
    ];
    for (name, edit, must_name) in hf_cases {
        let path = dir.path().join(name);
        hf_with("tiny-mha-tied/hf", &path, edit);
        let e = refusal(&path);
        assert!(e.contains(must_name), "{name}: {e}");
    }
    // The other way round: tiny-gqa keeps its own lm_head.weight, which a tied config would not
    // use.
    let path = dir.path().join("tied-with-head");
    hf_with("tiny-gqa/hf", &path, |c| {
        c["tie_word_embeddings"] = serde_json::json!(true)
    });
    let e = refusal(&path);
    assert!(
        e.contains("tie_word_embeddings = true, but the checkpoint has lm_head.weight"),
        "{e}"
    );
}

#[test]
fn unused_tensors_are_listed_by_name_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("extra.gguf");
    gguf_with(
        "tiny-gqa/tiny-gqa-F32.gguf",
        &path,
        &[],
        &[("blk.1.ffn_gate_inp.weight", "blk.1.ffn_norm.weight")],
    );
    match Model::load(&path, Kernel::best()) {
        Err(ModelError::UnusedTensors { arch, names }) => {
            assert_eq!(arch, "llama");
            assert_eq!(names, vec!["blk.1.ffn_gate_inp.weight".to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

backend_tests! {
/// llama.cpp applies `rope.scaling.factor` as a linear position scale: the same logits at
/// position 0 (RoPE is the identity there), different ones after it, and factor 1 is no change.
fn linear_rope_scaling_is_applied_not_ignored(backend) {
    let dir = tempfile::tempdir().unwrap();
    let src = "tiny-gqa/tiny-gqa-F32.gguf";
    let logits = |path: &Path| {
        let m = common::backends::load(path, backend);
        let t: Vec<u32> = common::goldens().tokens("tiny-gqa").unwrap();
        let mut cache = m.new_cache(t.len()).unwrap();
        (
            m.forward(&mut cache, &t, Logits::All).unwrap(),
            m.config().vocab,
        )
    };
    let (base, vocab) = logits(&golden(src));
    for (factor, differs) in [(1.0f32, false), (4.0, true)] {
        let path = dir.path().join(format!("linear-{factor}.gguf"));
        gguf_with(
            src,
            &path,
            &[
                (
                    "llama.rope.scaling.type",
                    MetaValue::String("linear".into()),
                ),
                ("llama.rope.scaling.factor", MetaValue::F32(factor)),
            ],
            &[],
        );
        let (scaled, _) = logits(&path);
        assert_eq!(
            scaled[..vocab],
            base[..vocab],
            "position 0, factor {factor}"
        );
        let later = scaled[vocab..]
            .iter()
            .zip(&base[vocab..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert_eq!(
            later > 1e-3,
            differs,
            "factor {factor}: max abs change {later}"
        );
    }
}

/// Phi-3's LongRoPE set is picked by the cache's capacity on every backend: a cache within the
/// original context rotates with the short factors, a longer one with the long factors (the
/// same logits at position 0, where RoPE is the identity, different ones after it), and a
/// backend gives the CPU's logits for either.
fn longrope_is_picked_by_cache_capacity(backend) {
    let path = golden("tiny-phi3-long/tiny-phi3-long-F32.gguf");
    let m = common::backends::load(&path, backend);
    let cpu = Model::load(&path, Kernel::best()).unwrap();
    // Random tokens, an irregular count.
    let vocab = m.config().vocab;
    let mut rng = common::Rng::new(0x10e6);
    let len = 5 + (rng.next_u64() % 9) as usize;
    let t: Vec<u32> = (0..len).map(|_| (rng.next_u64() % vocab as u64) as u32).collect();
    let t = &t[..];
    let logits = |ctx: usize| {
        let mut cache = m.new_cache(ctx).unwrap();
        let ours = m.forward(&mut cache, t, Logits::All).unwrap();
        let mut cache = cpu.new_cache(ctx);
        let theirs = cpu.forward(&mut cache, t, Logits::All).unwrap();
        let rel = rel_l2(&ours, &theirs);
        eprintln!("ctx {ctx}, {len} tokens: {} vs cpu rel L2 {rel:.2e}", backend.name());
        assert!(rel <= 1e-5, "ctx {ctx}: rel L2 {rel:e}");
        ours
    };
    let (short, long) = (logits(64), logits(96));
    assert_eq!(short[..vocab], long[..vocab]);
    let moved = rel_l2(&short[vocab..], &long[vocab..]);
    assert!(moved > 1e-3, "short and long factors: rel L2 {moved:e}");
}
}

/// Llama 3's RoPE factors: what the engine computes from config.json's `rope_scaling` equals what
/// llama.cpp's converter wrote into the GGUF as `rope_freqs.weight`, and all three regimes
/// (1, the smoothed band, the full factor 8) occur.
#[test]
fn llama3_rope_factors_from_config_equal_the_converters_tensor() {
    let hf = Model::load(&golden("tiny-llama3/hf"), Kernel::best()).unwrap();
    let gguf = Model::load(&golden("tiny-llama3/tiny-llama3-F32.gguf"), Kernel::best()).unwrap();
    let ours = hf
        .config
        .rope_factors
        .clone()
        .expect("computed from rope_scaling");
    let theirs = gguf
        .config
        .rope_factors
        .clone()
        .expect("read from rope_freqs.weight");
    assert_eq!(ours.len(), 32);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert!((a - b).abs() <= 1e-6 * b, "pair {i}: {a} vs {b}");
    }
    assert_eq!(theirs[0], 1.0);
    assert_eq!(*theirs.last().unwrap(), 8.0);
    assert!(theirs.iter().any(|&f| f > 1.0 && f < 8.0), "{theirs:?}");
}

/// Each family loads what distinguishes it: Qwen3's per-head norms, Qwen2's biases, Mistral's
/// window (HF directory only: the GGUF carries none), Llama 3's factors.
#[test]
fn each_family_loads_what_distinguishes_it() {
    let load = |rel: &str| Model::load(&golden(rel), Kernel::best()).unwrap();
    let qwen3 = load("tiny-qwen3/tiny-qwen3-F32.gguf");
    assert_eq!(qwen3.config.head_dim, 48);
    assert_ne!(qwen3.config.q_dim(), qwen3.config.hidden);
    let l0 = &qwen3.weights.layers[0];
    assert_eq!(l0.q_norm.as_ref().map(Vec::len), Some(48));
    assert_eq!(l0.k_norm.as_ref().map(Vec::len), Some(48));
    let qwen2 = load("tiny-qwen2/hf");
    let l0 = &qwen2.weights.layers[0];
    assert!(l0.q.bias.is_some() && l0.k.bias.is_some() && l0.v.bias.is_some());
    assert!(l0.o.bias.is_none());
    assert_eq!(load("tiny-mistral/hf").config.sliding_window, Some(16));
    assert_eq!(
        load("tiny-mistral/tiny-mistral-F32.gguf")
            .config
            .sliding_window,
        None
    );
    assert!(load("tiny-llama3/tiny-llama3-Q4_K_M.gguf")
        .config
        .rope_factors
        .is_some());
}

/// Gemma's distinctive configuration, read alike from the GGUF (llama.cpp's keys and defaults)
/// and the HF directory (config.json), and the weights that go with it: the layer pattern, the
/// sliding layers' own RoPE base, the soft-caps, the query scale, the embedding scale, the post-
/// norms (HF's offsets from 1 turned into the weights the converter writes), and the GELU that
/// follows the file's reference.
#[test]
fn gemma_reads_its_layer_pattern_soft_caps_and_norms_from_either_format() {
    use realizar::model::Activation;
    let load = |rel: &str| Model::load(&golden(rel), Kernel::best()).unwrap();
    for rel in ["tiny-gemma2/tiny-gemma2-F32.gguf", "tiny-gemma2/hf"] {
        let c = load(rel).config;
        assert_eq!(c.swa_layers, [true, false], "{rel}");
        assert_eq!((c.window(0), c.window(1)), (Some(16), None), "{rel}");
        assert_eq!(
            (c.attn_softcap, c.final_softcap),
            (Some(5.0), Some(3.0)),
            "{rel}"
        );
        assert_eq!(c.attn_scale, 1.0 / 48f64.sqrt(), "{rel}");
        assert_eq!(c.embed_scale, Some(16.0), "{rel}");
        assert_eq!(c.rope_theta_swa, None, "{rel}");
        assert_eq!(c.activation, Activation::GeluTanh, "{rel}");
    }
    for rel in ["tiny-gemma3/tiny-gemma3-F32.gguf", "tiny-gemma3/hf"] {
        let c = load(rel).config;
        assert_eq!(c.swa_layers, [true, true, true, true, true, false], "{rel}");
        assert_eq!(c.rope_theta_swa, Some(10_000.0), "{rel}");
        assert_eq!((c.rope_theta, c.rope_freq_scale), (1e6, 0.25), "{rel}");
        assert_eq!((c.attn_softcap, c.final_softcap), (None, None), "{rel}");
    }
    let (gguf, hf) = (
        load("tiny-gemma3/tiny-gemma3-F32.gguf"),
        load("tiny-gemma3/hf"),
    );
    for (a, b) in [
        (
            &gguf.weights.layers[2].ffn_post_norm,
            &hf.weights.layers[2].ffn_post_norm,
        ),
        (&gguf.weights.layers[2].q_norm, &hf.weights.layers[2].q_norm),
    ] {
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        // bf16 offsets from 1 in HF, their f32 sums in the GGUF.
        let err = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(err <= 1e-6, "{err}");
        assert!(a.iter().any(|&w| (w - 1.0).abs() > 0.1), "{a:?}");
    }
    assert_eq!(gguf.weights.output_norm, hf.weights.output_norm);
    assert_eq!(
        load("tiny-gemma2/tiny-gemma2-Q4_K_M.gguf")
            .config
            .activation,
        Activation::GeluTanhF16
    );
}

/// What Gemma's pattern keys may say: a period, one flag per layer, or nothing (the
/// architecture's own); anything else is refused by name, and a window on an architecture whose
/// llama.cpp graph applies none is refused too.
#[test]
fn gemma_window_patterns_are_read_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = "tiny-gemma3/tiny-gemma3-F32.gguf";
    let key = "gemma3.attention.sliding_window_pattern";
    for (name, value, want) in [
        (
            "period-2",
            MetaValue::U32(2),
            Some(vec![true, false, true, false, true, false]),
        ),
        ("period-0", MetaValue::U32(0), Some(vec![true; 6])),
        (
            "flags",
            MetaValue::Array(realizar::format::gguf::MetaArray::Bool(vec![
                false, true, false, true, false, true,
            ])),
            Some(vec![false, true, false, true, false, true]),
        ),
        (
            "short-flags",
            MetaValue::Array(realizar::format::gguf::MetaArray::Bool(vec![true])),
            None,
        ),
    ] {
        let path = dir.path().join(format!("{name}.gguf"));
        gguf_with(src, &path, &[(key, value)], &[]);
        match want {
            Some(flags) => assert_eq!(
                Model::load(&path, Kernel::best())
                    .unwrap()
                    .config
                    .swa_layers,
                flags,
                "{name}"
            ),
            None => assert!(refusal(&path).contains(key), "{name}"),
        }
    }
    let path = dir.path().join("qwen3-window.gguf");
    gguf_with(
        "tiny-qwen3/tiny-qwen3-F32.gguf",
        &path,
        &[("qwen3.attention.sliding_window", MetaValue::U32(8))],
        &[],
    );
    assert!(refusal(&path).contains("qwen3.attention.sliding_window"));
}

/// YaRN, read alike from the GGUF (llama.cpp's keys, the original context from
/// `rope.scaling.original_context_length`) and from config.json: the same blend of interpolated
/// and kept frequencies, and the attention factor 1 + 0.1 ln 4 on cos and sin.
#[test]
fn yarn_scaling_is_read_alike_from_either_format() {
    use realizar::ops::rope_freqs;
    let load = |rel: &str| Model::load(&golden(rel), Kernel::best()).unwrap().config;
    let (gguf, hf) = (load("tiny-yarn/tiny-yarn-F32.gguf"), load("tiny-yarn/hf"));
    for c in [&gguf, &hf] {
        let y = c.rope_yarn.as_ref().expect("yarn");
        assert_eq!((y.factor, y.original_context), (4.0, 64.0));
        assert_eq!((y.beta_fast, y.beta_slow, y.truncate), (32.0, 1.0, true));
        assert!((c.rope_mscale - (1.0 + 0.1 * 4f64.ln())).abs() < 1e-12);
        assert_eq!(c.rope_freq_scale, 1.0);
    }
    let freqs = |c: &realizar::model::Config| {
        rope_freqs(c.rope_theta, c.rope_dim, 1.0, None, c.rope_yarn.as_ref())
    };
    let (a, plain) = (freqs(&gguf), rope_freqs(10_000.0, 64, 1.0, None, None));
    assert_eq!(a, freqs(&hf));
    // Fast pairs keep their frequency, slow ones are divided by the factor, some blend.
    assert_eq!(a[0], plain[0]);
    assert_eq!(a[31], plain[31] / 4.0);
    assert!(a.iter().zip(&plain).any(|(&f, &p)| f < p && f > p / 4.0));
}

/// Phi-3's LongRoPE, read alike from the GGUF (the converter's `rope_factors_short/long`
/// tensors and `rope.scaling.attn_factor`) and config.json (`short_factor`, `long_factor`): the
/// long factors rotate a cache longer than the original context, the short ones any other.
#[test]
fn longrope_factors_are_read_alike_and_picked_by_cache_capacity() {
    let load = |rel: &str| Model::load(&golden(rel), Kernel::best()).unwrap();
    let (gguf, hf) = (
        load("tiny-phi3-long/tiny-phi3-long-F32.gguf"),
        load("tiny-phi3-long/hf"),
    );
    let want = (1.0 + 4f64.ln() / 64f64.ln()).sqrt();
    for c in [&gguf.config, &hf.config] {
        let lr = c.rope_longrope.as_ref().expect("longrope");
        assert_eq!(lr.original_context, 64);
        assert_eq!((lr.short.len(), lr.long.len()), (32, 32));
        assert!((c.rope_mscale - want).abs() < 1e-6, "{}", c.rope_mscale);
        assert_eq!(lr.factors(64), &lr.short[..]);
        assert_eq!(lr.factors(65), &lr.long[..]);
        assert_eq!(lr.long[31], 8.0);
    }
    assert_eq!(gguf.config.rope_longrope, hf.config.rope_longrope);
}
