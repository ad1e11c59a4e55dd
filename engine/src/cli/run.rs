//! `realizar run`: generation, streamed.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use super::load::{load_model, load_tokenizer, Load};
use crate::generation::Generation;
use crate::model::ModelError;
use crate::sampling::SamplerConfig;
use crate::tokenizer::Utf8Stream;

pub struct RunArgs<'a> {
    pub model: &'a Path,
    pub prompt: &'a str,
    pub max_tokens: usize,
    pub ctx: usize,
    pub load: Load,
    pub sampler: SamplerConfig,
}

/// `realizar run`: prefill the prompt in one batch, then decode token by token, streaming text.
pub fn run(a: RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), String> {
    let model = load_model(a.model, &a.load)?;
    let tok = load_tokenizer(model.model(), a.model)?;
    let prompt = tok.encode(a.prompt, true, false);
    let started = Instant::now();
    let mut generation =
        Generation::start(&model, &prompt, a.ctx, a.sampler).map_err(|e| match e {
            ModelError::NoTokens => "the prompt tokenized to nothing".to_string(),
            e @ ModelError::ContextFull { .. } => {
                e.to_string() + " (raise --ctx or shorten the prompt)"
            }
            e => e.to_string(),
        })?;
    let prefill_secs = started.elapsed().as_secs_f64();
    let decode_start = Instant::now();
    let mut stream = Utf8Stream::default();
    let (mut generated, mut decode_calls) = (0, 0usize);
    let mut stop = "max tokens";
    while generated < a.max_tokens {
        let next = generation.sample();
        if Some(next) == tok.eos {
            stop = "end of text";
            break;
        }
        generated += 1;
        let _ = write!(out, "{}", stream.push(&tok.token_bytes(next)));
        let _ = out.flush();
        if generation.is_full() {
            stop = "context full";
            break;
        }
        generation.advance(next).map_err(|e| e.to_string())?;
        decode_calls += 1;
    }
    let _ = writeln!(out, "{}", stream.finish());
    let decode_secs = decode_start.elapsed().as_secs_f64();
    let _ = writeln!(
        err,
        "prompt: {} tokens, {:.1} tok/s | decode: {generated} tokens, {:.1} tok/s | stop: {stop} | {}",
        prompt.len(),
        prompt.len() as f64 / prefill_secs,
        decode_calls as f64 / decode_secs.max(1e-9),
        model.device(),
    );
    let packed = model.model().weights.packed_bytes();
    if packed > 0 {
        let _ = writeln!(
            err,
            "decode layout packed at load: {:.1} MB beyond the mapped file (--no-pack leaves it out)",
            packed as f64 / 1e6
        );
    }
    Ok(())
}
