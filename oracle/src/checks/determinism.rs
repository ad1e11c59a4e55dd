//! The same call twice gives the same bits: no state leaks between calls.

use super::Ctx;
use crate::contract::{Mode, ModelParams};

pub fn run(p: &ModelParams, ctx: &Ctx) -> super::Outcome {
    let tokens = ctx.goldens.tokens(&p.model)?;
    let path = ctx.goldens.model_file(&p.model, &p.file);
    let call = || ctx.engine.logits(&path, &tokens, Mode::Batch, p.kernel);
    let (a, b) = (call()?.values, call()?.values);
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
