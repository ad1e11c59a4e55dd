//! Engine logits against a golden: HF float64, or llama.cpp on the same file and mode.

use super::{logits_metric, widen, Ctx};
use crate::contract::{LogitsParams, Metric, Mode, Reference};
use crate::metrics::compare_logits;
use realizar::model::Logits;

pub fn run(p: &LogitsParams, metric: Metric, ctx: &Ctx) -> super::Outcome {
    let (model, file, mode) = (p.model.as_str(), p.file.as_str(), p.mode);
    let engine = ctx.model(model, file, p.kernel)?;
    let tokens = ctx.tokens(model)?;
    let mut cache = engine.new_cache(tokens.len());
    let ours = match mode {
        Mode::Batch => engine
            .forward(&mut cache, &tokens, Logits::All)
            .map_err(super::engine)?,
        Mode::Incremental => {
            let mut all = Vec::new();
            for &t in &tokens {
                all.extend(
                    engine
                        .forward(&mut cache, &[t], Logits::All)
                        .map_err(super::engine)?,
                );
            }
            all
        }
    };
    let (reference, _) = match p.reference {
        Reference::HfF64 => ctx.tensor(
            &format!("models/{model}/hf_f64.safetensors"),
            crate::golden::hf_logits_tensor(model, file),
        )?,
        Reference::Llamacpp => {
            let name = match mode {
                Mode::Batch => "logits_batch",
                Mode::Incremental => "logits_incremental",
            };
            ctx.tensor(&format!("models/{model}/llamacpp_{file}.safetensors"), name)?
        }
    };
    let c = compare_logits(&reference, &widen(&ours), engine.config.vocab);
    let value = logits_metric(&c, metric)?;
    Ok((
        value,
        format!("{:?} kernel, {}", engine.kernel, c.summary()),
    ))
}
