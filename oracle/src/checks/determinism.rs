//! The same call twice on one loaded model gives the same bits: no state leaks between calls.

use super::Ctx;
use crate::contract::{Mode, ModelParams};

pub fn run(p: &ModelParams, ctx: &Ctx) -> super::Outcome {
    let tokens = ctx.goldens.tokens(&p.model)?;
    let path = ctx.goldens.model_file(&p.model, &p.file);
    let modes = [Mode::Batch, Mode::Batch];
    let calls = ctx.engine.logits_calls(&path, &tokens, &modes, p.kernel)?;
    let [a, b] = &calls[..] else {
        return Err(super::engine(format!(
            "{} calls answered for 2",
            calls.len()
        )));
    };
    let (a, b) = (&a.values, &b.values);
    let differ = a
        .iter()
        .zip(b.iter())
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
