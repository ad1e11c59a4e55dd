//! Logits along the path `realizar run` takes, through the type it drives
//! (`realizar::generation::Generation`): the prompt prefilled in one call that asks only for
//! the last position's logits, then one token per call, in the cache `run` allocates by
//! default. The golden's tokens are fed instead of sampled ones, and every step's logits are
//! compared with the golden's row for that position (HF float64, or llama.cpp's
//! one-token-per-call logits on the same file), by the obligation's metric.

use super::{logits_metric, widen, Ctx};
use crate::contract::{Metric, Reference, RunPathParams};
use crate::metrics::compare_logits;
use realizar::generation::Generation;
use realizar::sampling::SamplerConfig;

pub fn run(p: &RunPathParams, metric: Metric, ctx: &Ctx) -> super::Outcome {
    let (model, file) = (p.model.as_str(), p.file.as_str());
    let engine = ctx.model(model, file, p.kernel)?;
    let tokens = ctx.goldens.tokens(model)?;
    let (golden, shape) = match p.reference {
        Reference::Llamacpp => ctx.goldens.tensor(
            &ctx.goldens.llamacpp_logits(model, file),
            "logits_incremental",
        )?,
        Reference::HfF64 => ctx.goldens.tensor(
            &ctx.goldens.hf_f64(model),
            crate::golden::hf_logits_tensor(model, file),
        )?,
    };
    let vocab = shape.last().copied().unwrap_or(0);
    // An odd split: the prefill is not a power of two and decode crosses what follows.
    let prefill = (tokens.len() / 2) | 1;
    // ctx 0: the cache `realizar run` allocates when no --ctx is given.
    let mut run = Generation::start(&engine, &tokens[..prefill], 0, SamplerConfig::default())
        .map_err(super::engine)?;
    let mut ours = run.logits().to_vec();
    for &t in &tokens[prefill..] {
        run.advance(t).map_err(super::engine)?;
        ours.extend_from_slice(run.logits());
    }
    let reference = &golden[(prefill - 1) * vocab..tokens.len() * vocab];
    let c = compare_logits(reference, &widen(&ours), vocab);
    let value = logits_metric(&c, metric)?;
    Ok((
        value,
        format!(
            "prefill {prefill} tokens (Logits::Last), then {} decode steps, {:?} kernel: {}",
            tokens.len() - prefill,
            engine.kernel(),
            c.summary()
        ),
    ))
}
