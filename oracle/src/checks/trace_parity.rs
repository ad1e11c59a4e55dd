//! The engine's traced intermediates against HF float64 (and llama.cpp for Q and K after RoPE),
//! op by op in forward order; names the first op whose relative L2 error crosses the threshold.

use super::{widen, Ctx};
use crate::contract::Obligation;
use crate::metrics::rel_l2;
use realizar::model::{Logits, Trace};

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

pub fn run(o: &Obligation, ctx: &Ctx) -> Result<(f64, String), String> {
    let model = o.params.model.as_deref().unwrap_or("");
    let file = o.params.file.as_deref().unwrap_or("F32");
    let engine = ctx.model(model, file)?;
    let tokens = ctx.tokens(model)?;
    let mut cache = engine.new_cache(tokens.len());
    let mut trace = Trace::default();
    engine
        .forward_traced(&mut cache, &tokens, Logits::All, Some(&mut trace))
        .map_err(|e| e.to_string())?;
    let hf = format!("models/{model}/hf_f64.safetensors");
    let llama = format!("models/{model}/llamacpp_trace_F32.safetensors");
    let mut steps: Vec<(String, String, String)> =
        vec![("embedding".into(), hf.clone(), "embedding".into())];
    for l in 0..engine.config.layers {
        for (ours, theirs) in OPS {
            let (file, name) = match theirs.split_once('@') {
                Some((base, op)) => (llama.clone(), format!("{base}-{l}@{op}")),
                None => (hf.clone(), format!("layers.{l}.{theirs}")),
            };
            steps.push((format!("layers.{l}.{ours}"), file, name));
        }
    }
    steps.push(("output_norm".into(), hf.clone(), "output_norm".into()));
    steps.push(("logits".into(), hf, "logits".into()));
    let (mut worst, mut worst_at, mut first) = (0.0f64, String::new(), None);
    for (ours, file, theirs) in steps {
        let (_, data) = trace
            .tensors
            .get(&ours)
            .ok_or_else(|| format!("the engine traced no {ours}"))?;
        let (reference, _) = ctx.tensor(&file, &theirs)?;
        let err = rel_l2(&reference, &widen(data));
        if err > worst {
            (worst, worst_at) = (err, ours.clone());
        }
        if first.is_none() && err > o.threshold {
            first = Some(format!(
                "first divergence: {} rel L2 {err:.3} > {}",
                ours.replace('.', " ").replacen("layers ", "layer ", 1),
                o.threshold
            ));
        }
    }
    Ok((
        worst,
        first.unwrap_or_else(|| format!("all ops within; worst {worst_at} rel L2 {worst:.2e}")),
    ))
}
