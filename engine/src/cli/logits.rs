//! `realizar logits`: per-position logits as `.npy`, for comparison with any other engine.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::load::{load_model, load_tokenizer, Load};
use crate::backend::{Forward, Runtime};
use crate::format::npy;
use crate::model::Logits;

pub struct LogitsArgs<'a> {
    pub model: &'a Path,
    pub tokens: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub out_path: &'a PathBuf,
    pub incremental: bool,
    pub load: Load,
}

/// Every position's logits, `[tokens.len(), vocab]` row-major: the sequence as one batch, or
/// with `incremental` one token per call through the KV cache.
pub fn logits_of(model: &Runtime, tokens: &[u32], incremental: bool) -> Result<Vec<f32>, String> {
    let mut cache = model
        .new_cache(tokens.len().max(1))
        .map_err(|e| e.to_string())?;
    if !incremental {
        return model
            .forward(&mut cache, tokens, Logits::All)
            .map_err(|e| e.to_string());
    }
    let mut all = Vec::with_capacity(tokens.len() * model.config().vocab);
    for &t in tokens {
        all.extend(
            model
                .forward(&mut cache, &[t], Logits::All)
                .map_err(|e| e.to_string())?,
        );
    }
    Ok(all)
}

/// `realizar logits`: per-position f32 logits `[n_tokens, n_vocab]` as .npy.
pub fn logits(a: LogitsArgs, out: &mut dyn Write) -> Result<(), String> {
    let model = load_model(a.model, &a.load)?;
    let tokens: Vec<u32> = match (a.tokens, a.prompt) {
        (Some(list), _) => list
            .split(',')
            .map(|t| {
                t.trim()
                    .parse::<u32>()
                    .map_err(|_| format!("--tokens: '{t}' is not a token id"))
            })
            .collect::<Result<_, _>>()?,
        (None, Some(text)) => load_tokenizer(model.model(), a.model)?.encode(text, true, false),
        (None, None) => return Err("give --tokens or --prompt".into()),
    };
    let n = tokens.len();
    let started = Instant::now();
    let values = logits_of(&model, &tokens, a.incremental)?;
    let secs = started.elapsed().as_secs_f64();
    let shape = [n, model.config().vocab];
    std::fs::File::create(a.out_path)
        .and_then(|f| npy::write_f32(f, &shape, &values))
        .map_err(|e| format!("writing {}: {e}", a.out_path.display()))?;
    let mode = if a.incremental {
        "one token per call"
    } else {
        "one batch"
    };
    let _ = writeln!(
        out,
        "{}: logits {shape:?} float32 ({mode}, {secs:.3} s)",
        a.out_path.display()
    );
    Ok(())
}
