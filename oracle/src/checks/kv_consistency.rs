//! One token per call through the KV cache against the whole sequence in one batch.

use super::{widen, Ctx};
use crate::contract::{Mode, ModelParams};
use crate::metrics::max_abs;

pub fn run(p: &ModelParams, ctx: &Ctx) -> super::Outcome {
    let tokens = ctx.goldens.tokens(&p.model)?;
    let path = ctx.goldens.model_file(&p.model, &p.file);
    let modes = [Mode::Batch, Mode::Incremental];
    let calls = ctx.engine.logits_calls(&path, &tokens, &modes, p.kernel)?;
    let [batch, inc] = &calls[..] else {
        return Err(super::engine(format!(
            "{} calls answered for 2",
            calls.len()
        )));
    };
    let err = max_abs(&widen(&batch.values), &widen(&inc.values));
    Ok((
        err,
        format!("{} positions, max abs {err:.2e}", tokens.len()),
    ))
}
