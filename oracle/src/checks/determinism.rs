//! The same call twice gives the same bits: no state leaks between calls.

use super::Ctx;
use crate::contract::ModelParams;
use realizar::model::Logits;

pub fn run(p: &ModelParams, ctx: &Ctx) -> super::Outcome {
    let engine = ctx.model(&p.model, &p.file, p.kernel)?;
    let tokens = ctx.tokens(&p.model)?;
    let call = || {
        let mut cache = engine.new_cache(tokens.len());
        engine
            .forward(&mut cache, &tokens, Logits::All)
            .map_err(super::engine)
    };
    let (a, b) = (call()?, call()?);
    let differ = a
        .iter()
        .zip(&b)
        .filter(|(x, y)| x.to_bits() != y.to_bits())
        .count();
    Ok((
        differ as f64,
        format!(
            "{differ} of {} logits differ between two identical calls",
            a.len()
        ),
    ))
}
