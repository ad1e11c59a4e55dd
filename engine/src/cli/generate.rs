//! `realizar logits`, `realizar tokenize` and `realizar run`: the model-running commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::backend::{BackendKind, Forward, Runtime};
use crate::format::npy;
use crate::generation::Generation;
use crate::model::{Format, Logits, Model, ModelError};
use crate::quant::Kernel;
use crate::sampling::SamplerConfig;
use crate::tokenizer::{Tokenizer, TokenizerError, Utf8Stream};

/// The model on the backend asked for: a GPU that cannot start or cannot run it is an error.
pub fn load_model(
    path: &Path,
    threads: usize,
    kernel: Kernel,
    backend: BackendKind,
) -> Result<Runtime, String> {
    let mut model = Runtime::load(path, kernel, backend).map_err(|e| match e {
        ModelError::Io { .. } => e.to_string(),
        ModelError::Gpu(e) => format!("{}: --backend gpu: {e}", path.display()),
        _ => format!("{}: {e}", path.display()),
    })?;
    model.set_threads(threads).map_err(|e| e.to_string())?;
    Ok(model)
}

fn load_tokenizer(model: &Model, path: &Path) -> Result<Tokenizer, String> {
    let tok = match &model.format {
        Format::Gguf { metadata } => Tokenizer::from_gguf(metadata),
        Format::HfDir => Tokenizer::from_hf_dir(path),
    };
    tok.map_err(|e| format!("{}: {e}", path.display()))
}

/// `realizar tokenize`: the ids, and each id's piece.
pub fn tokenize(
    path: &Path,
    text: &str,
    add_special: bool,
    parse_special: bool,
    json: bool,
    out: &mut dyn Write,
) -> Result<(), String> {
    let tok = Tokenizer::open(path).map_err(|e| match e {
        TokenizerError::Open(why) => why,
        e => format!("{}: {e}", path.display()),
    })?;
    let ids = tok.encode(text, add_special, parse_special);
    let pieces: Vec<&str> = ids.iter().map(|&i| tok.piece(i).unwrap_or("")).collect();
    if json {
        let v = serde_json::json!({"ids": ids, "pieces": pieces, "count": ids.len()});
        let _ = writeln!(out, "{v}");
    } else {
        for (id, piece) in ids.iter().zip(&pieces) {
            let _ = writeln!(out, "{id:>8}  {piece:?}");
        }
        let _ = writeln!(out, "{} tokens", ids.len());
    }
    Ok(())
}

pub struct LogitsArgs<'a> {
    pub model: &'a Path,
    pub tokens: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub out_path: &'a PathBuf,
    pub incremental: bool,
    pub threads: usize,
    pub kernel: Kernel,
    pub backend: BackendKind,
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
    let model = load_model(a.model, a.threads, a.kernel, a.backend)?;
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

pub struct RunArgs<'a> {
    pub model: &'a Path,
    pub prompt: &'a str,
    pub max_tokens: usize,
    pub ctx: usize,
    pub threads: usize,
    pub kernel: Kernel,
    pub backend: BackendKind,
    pub sampler: SamplerConfig,
}

/// `realizar run`: prefill the prompt in one batch, then decode token by token, streaming text.
pub fn run(a: RunArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<(), String> {
    let model = load_model(a.model, a.threads, a.kernel, a.backend)?;
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
    Ok(())
}
