//! Engine logits against a golden: HF float64, or llama.cpp on the same file and mode.

use super::{logits_metric, widen, Ctx};
use crate::contract::{LogitsParams, Metric, Mode, Reference};
use crate::metrics::compare_logits;

pub fn run(p: &LogitsParams, metric: Metric, ctx: &Ctx) -> super::Outcome {
    let (model, file, mode) = (p.model.as_str(), p.file.as_str(), p.mode);
    let tokens = ctx.goldens.tokens(model)?;
    let ours = ctx.engine.logits(
        &ctx.goldens.model_file(model, file),
        &tokens,
        mode,
        p.kernel,
    )?;
    let (reference, _) = match p.reference {
        Reference::HfF64 => ctx.goldens.tensor(
            &ctx.goldens.hf_f64(model),
            crate::golden::hf_logits_tensor(model, file),
        )?,
        Reference::Llamacpp => {
            let name = match mode {
                Mode::Batch => "logits_batch",
                Mode::Incremental => "logits_incremental",
            };
            ctx.goldens
                .tensor(&ctx.goldens.llamacpp_logits(model, file), name)?
        }
    };
    let c = compare_logits(&reference, &widen(&ours.values), ours.vocab);
    let value = logits_metric(&c, metric)?;
    Ok((value, format!("{}, {}", ours.detail, c.summary())))
}
