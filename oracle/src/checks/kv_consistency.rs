//! One token per call through the KV cache against the whole sequence in one batch.

use super::{widen, Ctx};
use crate::contract::ModelParams;
use crate::metrics::max_abs;
use realizar::model::Logits;

pub fn run(p: &ModelParams, ctx: &Ctx) -> super::Outcome {
    let engine = ctx.model(&p.model, &p.file, p.kernel)?;
    let tokens = ctx.tokens(&p.model)?;
    let mut cache = engine.new_cache(tokens.len());
    let batch = engine
        .forward(&mut cache, &tokens, Logits::All)
        .map_err(super::engine)?;
    let mut cache = engine.new_cache(tokens.len());
    let mut inc = Vec::new();
    for &t in &tokens {
        inc.extend(
            engine
                .forward(&mut cache, &[t], Logits::All)
                .map_err(super::engine)?,
        );
    }
    let err = max_abs(&widen(&batch), &widen(&inc));
    Ok((
        err,
        format!("{} positions, max abs {err:.2e}", tokens.len()),
    ))
}
