//! One token per call through the KV cache against the whole sequence in one batch.

use super::{widen, Ctx};
use crate::contract::{Mode, ModelParams};
use crate::metrics::max_abs;

pub fn run(p: &ModelParams, ctx: &Ctx) -> super::Outcome {
    let tokens = ctx.goldens.tokens(&p.model)?;
    let path = ctx.goldens.model_file(&p.model, &p.file);
    let batch = ctx.engine.logits(&path, &tokens, Mode::Batch, p.kernel)?;
    let inc = ctx
        .engine
        .logits(&path, &tokens, Mode::Incremental, p.kernel)?;
    let err = max_abs(&widen(&batch.values), &widen(&inc.values));
    Ok((
        err,
        format!("{} positions, max abs {err:.2e}", tokens.len()),
    ))
}
