//! The readers reject what they must and accept what they must, without panicking: every fuzz
//! seed gives Ok or a typed error, and the right one (a seed named `valid-*` or `golden_*` is
//! accepted, every other seed, one malformed class each, is rejected; a tokenizer.model cut at a
//! protobuf field boundary is a valid smaller model, so truncated ones need only not panic),
//! every committed model
//! file parses, and every truncation of one is rejected. Counts the failures.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::{env, Ctx};
use realizar::format::gguf::Gguf;
use realizar::format::safetensors::Safetensors;
use realizar::tokenizer::Tokenizer;

/// Ok(accepted) or Err(()) for a panic.
fn parse(kind: &str, data: &[u8]) -> Result<bool, ()> {
    catch_unwind(AssertUnwindSafe(|| match kind {
        "safetensors_header" => Safetensors::parse(data).is_ok(),
        "tokenizer_model" => Tokenizer::from_sentencepiece(data, true, false).is_ok(),
        _ => Gguf::parse(data).is_ok(),
    }))
    .map_err(|_| ())
}

pub fn run(ctx: &Ctx) -> super::Outcome {
    let (mut panics, mut wrong, mut seeds) = (Vec::new(), Vec::new(), 0usize);
    let corpus = ctx.root.join("fuzz/corpus");
    for target in [
        "gguf_header",
        "gguf_file",
        "safetensors_header",
        "tokenizer_model",
    ] {
        let dir = corpus.join(target);
        let entries =
            std::fs::read_dir(&dir).map_err(|e| env(format!("{}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).map_err(env)?;
            seeds += 1;
            let name = entry.file_name().to_string_lossy().into_owned();
            let valid = name.starts_with("valid-") || name.starts_with("golden_");
            let either = target == "tokenizer_model" && name.starts_with("truncated_");
            match parse(target, &data) {
                Err(()) => panics.push(entry.path().display().to_string()),
                Ok(accepted) if accepted != valid && !either => wrong.push(format!(
                    "{} {}",
                    entry.path().display(),
                    if accepted { "accepted" } else { "rejected" }
                )),
                Ok(_) => {}
            }
        }
    }
    let (mut rejected_whole, mut accepted_cut, mut files) = (Vec::new(), Vec::new(), 0usize);
    for model in crate::golden::REFERENCE_MODELS {
        let dir = ctx.golden(&format!("models/{model}"));
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .map_err(|e| env(format!("{}: {e}", dir.display())))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
            .collect();
        paths.sort();
        for p in paths {
            let data = std::fs::read(&p).map_err(env)?;
            files += 1;
            if parse("gguf", &data) != Ok(true) {
                rejected_whole.push(p.display().to_string());
            }
            for k in 1..16 {
                let cut = data.len() * k / 16;
                match parse("gguf", &data[..cut]) {
                    Ok(false) => {}
                    _ => accepted_cut.push(format!("{} cut at {cut}", p.display())),
                }
            }
        }
    }
    let failures = panics.len() + wrong.len() + rejected_whole.len() + accepted_cut.len();
    let first = panics
        .iter()
        .chain(&wrong)
        .chain(&rejected_whole)
        .chain(&accepted_cut)
        .next();
    Ok((
        failures as f64,
        format!(
            "{seeds} fuzz seeds ({} panicked, {} accepted or rejected wrongly), {files} model files ({} rejected), {} truncations ({} accepted){}",
            panics.len(),
            wrong.len(),
            rejected_whole.len(),
            files * 15,
            accepted_cut.len(),
            first.map_or(String::new(), |f| format!("; first: {f}"))
        ),
    ))
}
