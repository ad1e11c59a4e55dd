//! Nothing in a model file is silently ignored: crafted copies of a reference model, each with
//! one thing the engine does not understand (a tensor no architecture reads, a RoPE scaling it
//! does not implement such as LongRoPE or dynamic NTK, an unknown key, a mixture of experts),
//! must each be refused with an error that names that thing. Counts the crafted files that loaded, or were refused for
//! another reason. The unmodified model must load, or the check proves nothing.

use std::path::{Path, PathBuf};

use realizar::format::gguf::{Gguf, GgufWriter, MetaValue};
use realizar::model::Model;
use realizar::quant::Kernel;

use super::{engine, Ctx, Failure};

/// One crafted file: what it changes, and the text the refusal must contain.
struct Case {
    name: &'static str,
    must_name: String,
    path: PathBuf,
}

/// A crafted GGUF: its name, the keys it adds, the tensor it adds (a copy of another), and the
/// text its refusal must contain.
type GgufCase = (
    &'static str,
    Vec<(String, MetaValue)>,
    Option<(&'static str, &'static str)>,
    String,
);

/// A scratch folder of this process, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::Env(format!("{}: {e}", path.display()))
}

/// A copy of `src` with extra metadata and tensors (each extra tensor a copy of `like`).
fn gguf_variant(
    src: &Gguf<Vec<u8>>,
    extra_meta: &[(String, MetaValue)],
    extra_tensor: Option<(&str, &str)>,
) -> Result<Vec<u8>, String> {
    let mut w = GgufWriter::copy_of(src).map_err(|e| e.to_string())?;
    for (k, v) in extra_meta {
        w.set_metadata(k.clone(), v.clone())
            .map_err(|e| e.to_string())?;
    }
    if let Some((name, like)) = extra_tensor {
        let t = src.tensor(like).ok_or(format!("no tensor {like}"))?;
        w.add_tensor(name, t.info.ggml_type, &t.info.dims, t.data.to_vec())
            .map_err(|e| e.to_string())?;
    }
    Ok(w.to_bytes())
}

/// A copy of an HF directory with config.json edited and, optionally, one more tensor.
fn hf_variant(
    src: &Path,
    dst: &Path,
    edit: impl Fn(&mut serde_json::Value),
    extra_tensor: Option<&str>,
) -> Result<(), Failure> {
    std::fs::create_dir_all(dst).map_err(|e| io(dst, e))?;
    for entry in std::fs::read_dir(src).map_err(|e| io(src, e))?.flatten() {
        let to = dst.join(entry.file_name());
        std::fs::copy(entry.path(), &to).map_err(|e| io(&to, e))?;
    }
    let cfg_path = dst.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| io(&cfg_path, e))?;
    let mut cfg: serde_json::Value = serde_json::from_str(&text).map_err(|e| io(&cfg_path, e))?;
    edit(&mut cfg);
    std::fs::write(&cfg_path, cfg.to_string()).map_err(|e| io(&cfg_path, e))?;
    if let Some(extra) = extra_tensor {
        let st_path = dst.join("model.safetensors");
        let bytes = std::fs::read(&st_path).map_err(|e| io(&st_path, e))?;
        let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| io(&st_path, e))?;
        let mut tensors: Vec<(String, safetensors::tensor::TensorView<'_>)> = st.tensors();
        let norm = st
            .tensor("model.norm.weight")
            .map_err(|e| io(&st_path, e))?;
        tensors.push((extra.to_string(), norm));
        let out = safetensors::serialize(tensors, None).map_err(|e| io(&st_path, e))?;
        std::fs::write(&st_path, out).map_err(|e| io(&st_path, e))?;
    }
    Ok(())
}

pub fn run(model: &str, ctx: &Ctx) -> super::Outcome {
    let dir = ctx.goldens.model_dir(model);
    let f32_path = dir.join(format!("{model}-F32.gguf"));
    let bytes = std::fs::read(&f32_path).map_err(|e| io(&f32_path, e))?;
    let src = Gguf::parse(bytes).map_err(|e| engine(format!("{}: {e}", f32_path.display())))?;
    let arch = src
        .header()
        .metadata
        .get("general.architecture")
        .and_then(|v| v.as_str())
        .ok_or_else(|| engine(format!("{}: no architecture", f32_path.display())))?
        .to_string();
    // The clean files must load: a loader that refuses everything would pass every case.
    for clean in [f32_path.clone(), dir.join("hf")] {
        Model::load(&clean, Kernel::best())
            .map_err(|e| engine(format!("{}: {e}", clean.display())))?;
    }

    let scratch = Scratch(std::env::temp_dir().join(format!(
        "realizar-load-refuses-{}-{model}",
        std::process::id()
    )));
    std::fs::create_dir_all(&scratch.0).map_err(|e| io(&scratch.0, e))?;
    let key = |k: &str| format!("{arch}.{k}");
    let gemma = arch.starts_with("gemma");
    // A key this architecture does not implement: a score soft-cap for all but Gemma 2 (which
    // has one), llama4's attention temperature for Gemma 2.
    let unknown_key = if arch == "gemma2" {
        key("attention.temperature_length")
    } else {
        key("attn_logit_softcapping")
    };
    // A RoPE scaling this architecture does not implement: LongRoPE is Phi-3's alone.
    let unknown_rope = if arch == "phi3" {
        "dynamic"
    } else {
        "longrope"
    };
    let mut gguf_cases: Vec<GgufCase> = vec![
        (
            "extra-tensor",
            vec![],
            Some(("blk.0.attn_sinks.weight", "blk.0.attn_norm.weight")),
            "blk.0.attn_sinks.weight".into(),
        ),
        (
            "rope-scaling-type",
            vec![
                (
                    key("rope.scaling.type"),
                    MetaValue::String(unknown_rope.into()),
                ),
                (key("rope.scaling.factor"), MetaValue::F32(4.0)),
            ],
            None,
            key("rope.scaling.type"),
        ),
        (
            "unknown-key",
            vec![(unknown_key.clone(), MetaValue::F32(50.0))],
            None,
            unknown_key,
        ),
        (
            "experts",
            vec![(key("expert_count"), MetaValue::U32(8))],
            None,
            key("expert_count"),
        ),
        (
            "split-shard",
            vec![("split.count".into(), MetaValue::U16(2))],
            None,
            "split.count".into(),
        ),
    ];
    // LongRoPE factors are Phi-3's alone; any other architecture must not take them quietly.
    if arch != "phi3" {
        gguf_cases.push((
            "longrope-tensor",
            vec![],
            Some(("rope_factors_long.weight", "output_norm.weight")),
            "rope_factors_long.weight".into(),
        ));
    }
    // Gemma's sliding window is its own; elsewhere llama.cpp would not apply one.
    gguf_cases.push(if gemma {
        (
            "window-pattern",
            vec![(
                key("attention.sliding_window_pattern"),
                MetaValue::String("alternate".into()),
            )],
            None,
            key("attention.sliding_window_pattern"),
        )
    } else {
        (
            "sliding-window",
            vec![(key("attention.sliding_window"), MetaValue::U32(16))],
            None,
            key("attention.sliding_window"),
        )
    });
    let mut cases = Vec::new();
    for (name, meta, tensor, must_name) in gguf_cases {
        let data = gguf_variant(&src, &meta, tensor).map_err(Failure::Env)?;
        let path = scratch.0.join(format!("{name}.gguf"));
        std::fs::write(&path, data).map_err(|e| io(&path, e))?;
        cases.push(Case {
            name,
            must_name,
            path,
        });
    }
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let hf_cases: Vec<(&'static str, Edit, Option<&str>, &str)> = vec![
        (
            "hf-extra-tensor",
            Box::new(|_| {}),
            Some("model.layers.0.self_attn.sinks"),
            "model.layers.0.self_attn.sinks",
        ),
        (
            "hf-rope-dynamic",
            Box::new(|c| {
                c["rope_scaling"] = serde_json::json!({"rope_type": "dynamic", "factor": 4.0});
            }),
            None,
            "rope_scaling",
        ),
        (
            "hf-partial-rotary",
            Box::new(|c| c["partial_rotary_factor"] = serde_json::json!(0.5)),
            None,
            "partial_rotary_factor",
        ),
        if gemma {
            (
                "hf-relu",
                Box::new(|c| c["hidden_activation"] = serde_json::json!("relu")),
                None,
                "hidden_activation",
            )
        } else {
            (
                "hf-gelu",
                Box::new(|c| c["hidden_act"] = serde_json::json!("gelu_pytorch_tanh")),
                None,
                "hidden_act",
            )
        },
    ];
    for (name, edit, tensor, must_name) in hf_cases {
        let path = scratch.0.join(name);
        hf_variant(&dir.join("hf"), &path, edit, tensor)?;
        cases.push(Case {
            name,
            must_name: must_name.to_string(),
            path,
        });
    }
    let mut wrong = Vec::new();
    for c in &cases {
        match Model::load(&c.path, Kernel::best()) {
            Ok(_) => wrong.push(format!("{} loaded", c.name)),
            Err(e) if !e.to_string().contains(&c.must_name) => wrong.push(format!(
                "{} refused without naming {}: {e}",
                c.name, c.must_name
            )),
            Err(_) => {}
        }
    }
    Ok((
        wrong.len() as f64,
        format!(
            "{} crafted copies of {model} ({} GGUF, {} HF), {} not refused by name{}",
            cases.len(),
            cases
                .iter()
                .filter(|c| c.path.extension().is_some())
                .count(),
            cases
                .iter()
                .filter(|c| c.path.extension().is_none())
                .count(),
            wrong.len(),
            wrong
                .first()
                .map_or(String::new(), |w| format!("; first: {w}"))
        ),
    ))
}
