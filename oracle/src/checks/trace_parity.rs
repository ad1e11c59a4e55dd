//! The engine's traced intermediates against HF float64 (and llama.cpp for Q and K after RoPE
//! where the HF golden lacks them), op by op in forward order; names the first op whose relative
//! L2 error crosses the threshold.

use super::{widen, Ctx};
use crate::contract::ModelParams;
use realizar::model::Trace;

const OPS: [(&str, &str); 10] = [
    ("attn_norm", "attn_norm"),
    ("q", "Qcur@rope"),
    ("k", "Kcur@rope"),
    ("v", "v_proj"),
    ("attn_out", "attn_out"),
    ("ffn_norm", "ffn_norm"),
    ("ffn_gate", "ffn_gate"),
    ("ffn_up", "ffn_up"),
    ("ffn_out", "ffn_out"),
    ("output", "output"),
];

/// One traced op next to its reference.
pub struct Step {
    /// The engine's trace key: layers.N.op, or embedding, output_norm, logits.
    pub name: String,
    /// Golden file and tensor it is compared with.
    pub source: String,
    pub ours: Vec<f64>,
    pub reference: Vec<f64>,
    /// Values per row (per token).
    pub cols: usize,
}

/// What a traced op is compared with.
#[derive(Clone, Copy)]
pub enum Against<'a> {
    /// The golden set's references (HF float64; llama.cpp's trace for q and k).
    Goldens,
    /// Another engine's trace of the same file and tokens, named by the detail it gave.
    Trace(&'a Trace, &'a str),
    /// llama.cpp's golden trace of the same file (crate::golden_trace): only the ops its graph
    /// names are compared (Qwen's and Gemma's graphs name no attention output, for one).
    GoldenTrace(&'a Trace, &'a str),
}

/// Pairs every op of a trace of the golden set's tokens (from any engine) with its reference,
/// in forward order; only the references compared are read. The layers are the golden set's:
/// an op the engine (or the engine compared against) did not trace fails, all such ops named.
pub fn pair(
    trace: &Trace,
    against: Against,
    ctx: &Ctx,
    model: &str,
) -> Result<Vec<Step>, super::Failure> {
    let hf = ctx.goldens.hf_f64(model);
    let llama = ctx.goldens.llamacpp_trace(model, "F32");
    // Sets whose HF golden holds Q and K after RoPE (Gemma's) compare them with HF: llama.cpp's
    // own activations drift from HF's after its first GELU, which runs through an f16 table.
    let manifest = ctx.goldens.manifest(model)?;
    let hf_has = |name: &str| {
        manifest["files"]["hf_f64.safetensors"]["tensors"]
            .get(name)
            .is_some()
    };
    let layers = (0..)
        .take_while(|l| hf_has(&format!("layers.{l}.output")))
        .count();
    let mut plan: Vec<(String, std::path::PathBuf, String)> =
        vec![("embedding".into(), hf.clone(), "embedding".into())];
    for l in 0..layers {
        for (ours, theirs) in OPS {
            let hf_rope = format!("layers.{l}.{ours}_rope");
            let (file, name) = match theirs.split_once('@') {
                Some(_) if hf_has(&hf_rope) => (hf.clone(), hf_rope),
                Some((base, op)) => (llama.clone(), format!("{base}-{l}@{op}")),
                None => (hf.clone(), format!("layers.{l}.{theirs}")),
            };
            plan.push((format!("layers.{l}.{ours}"), file, name));
            // Ops only some families have, where they come in the pass: per-head Q/K norms
            // (Qwen3, Gemma 3) between the projections and RoPE, Gemma's post-norms after the
            // attention output and the FFN output.
            let optional: &[&str] = match ours {
                "attn_norm" => &["q_norm", "k_norm"],
                "attn_out" => &["attn_post_norm"],
                "ffn_out" => &["ffn_post_norm"],
                _ => &[],
            };
            for op in optional {
                let key = format!("layers.{l}.{op}");
                if trace.tensors.contains_key(&key) {
                    plan.push((key.clone(), hf.clone(), key));
                }
            }
        }
    }
    plan.push(("output_norm".into(), hf.clone(), "output_norm".into()));
    plan.push(("logits".into(), hf, "logits".into()));
    let missing: Vec<&str> = plan
        .iter()
        .map(|(ours, _, _)| ours.as_str())
        .filter(|ours| !trace.tensors.contains_key(*ours))
        .collect();
    if !missing.is_empty() {
        return Err(super::engine(format!(
            "the engine traced no {}",
            missing.join(", ")
        )));
    }
    if let Against::GoldenTrace(other, _) = against {
        plan.retain(|(ours, _, _)| other.tensors.contains_key(ours));
    }
    if let Against::Trace(other, detail) = against {
        let missing: Vec<&str> = plan
            .iter()
            .map(|(ours, _, _)| ours.as_str())
            .filter(|ours| !other.tensors.contains_key(*ours))
            .collect();
        if !missing.is_empty() {
            return Err(super::engine(format!(
                "{detail} traced no {}",
                missing.join(", ")
            )));
        }
    }
    plan.into_iter()
        .map(|(ours, file, theirs)| {
            let (shape, data) = &trace.tensors[&ours];
            let (source, reference) = match against {
                Against::Goldens => (
                    // Named as in golden/ (models/<model>/<file>), wherever the goldens are.
                    format!(
                        "{}:{theirs}",
                        file.strip_prefix(ctx.goldens.dir())
                            .unwrap_or(&file)
                            .display()
                    ),
                    ctx.goldens.tensor(&file, &theirs)?.0,
                ),
                Against::Trace(other, detail) | Against::GoldenTrace(other, detail) => {
                    (format!("{detail}:{ours}"), widen(&other.tensors[&ours].1))
                }
            };
            Ok(Step {
                source,
                name: ours,
                ours: widen(data),
                reference,
                cols: shape[1],
            })
        })
        .collect()
}

/// "layers.3.attn_out" as "layer 3 attn_out".
pub fn describe(name: &str) -> String {
    match name.strip_prefix("layers.").and_then(|r| r.split_once('.')) {
        Some((l, op)) => format!("layer {l} {op}"),
        None => name.to_string(),
    }
}

/// The worst op's relative L2 error (a NaN, from a non-finite activation, is the worst there
/// is), the first op above the threshold, and the per-op rows for the report's plot.
pub fn run(
    p: &ModelParams,
    threshold: f64,
    ctx: &Ctx,
) -> Result<(f64, String, crate::diff::Diff), super::Failure> {
    let tokens = ctx.goldens.tokens(&p.model)?;
    let file = ctx.goldens.model_file(&p.model, &p.file);
    let traced = ctx.engine.trace(&file, &tokens, p.kernel)?;
    let shown = file.display().to_string();
    let steps = pair(&traced.trace, Against::Goldens, ctx, &p.model)?;
    let d = crate::diff::of_steps(steps, (&shown, &traced.detail), &p.model, threshold);
    let err = |r: &crate::diff::Row| {
        if r.rel_l2.is_nan() {
            f64::INFINITY
        } else {
            r.rel_l2
        }
    };
    let mut worst: Option<&crate::diff::Row> = None;
    for r in &d.rows {
        if worst.is_none_or(|w| err(r) > err(w)) {
            worst = Some(r);
        }
    }
    let value = worst.map_or(0.0, err);
    let detail = match d.first_divergence.map(|i| &d.rows[i]) {
        Some(r) => format!(
            "first divergence: {} rel L2 {:.3} > {threshold}",
            describe(&r.op),
            err(r)
        ),
        None => format!(
            "all ops within; worst {} rel L2 {value:.2e}",
            worst.map_or(String::new(), |r| describe(&r.op))
        ),
    };
    Ok((value, detail, d))
}
