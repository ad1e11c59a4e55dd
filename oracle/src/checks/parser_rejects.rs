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

/// Whether a reader accepts some bytes.
type Reader = fn(&[u8]) -> bool;

/// The fuzz targets whose seeds are one reader's input, and that reader. The other targets
/// (differential runs, tokenizers over text) have seeds that are not files to accept or reject.
pub const READERS: [(&str, Reader); 4] = [
    ("gguf_header", gguf),
    ("gguf_file", gguf),
    ("safetensors_header", |d| Safetensors::parse(d).is_ok()),
    ("tokenizer_model", |d| {
        Tokenizer::from_sentencepiece(d, true, false).is_ok()
    }),
];

fn gguf(data: &[u8]) -> bool {
    Gguf::parse(data).is_ok()
}

/// Ok(accepted) or Err(()) for a panic.
fn parse(reader: Reader, data: &[u8]) -> Result<bool, ()> {
    catch_unwind(AssertUnwindSafe(|| reader(data))).map_err(|_| ())
}

pub fn run(ctx: &Ctx) -> super::Outcome {
    let (mut panics, mut wrong, mut seeds) = (Vec::new(), Vec::new(), 0usize);
    for (target, reader) in READERS {
        let dir = crate::fuzz::corpus(&ctx.root, target);
        let entries =
            std::fs::read_dir(&dir).map_err(|e| env(format!("{}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let data = std::fs::read(entry.path()).map_err(env)?;
            seeds += 1;
            let name = entry.file_name().to_string_lossy().into_owned();
            let valid = name.starts_with("valid-") || name.starts_with("golden_");
            let either = target == "tokenizer_model" && name.starts_with("truncated_");
            match parse(reader, &data) {
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
        let dir = ctx.goldens.model_dir(model);
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
            if parse(gguf, &data) != Ok(true) {
                rejected_whole.push(p.display().to_string());
            }
            for k in 1..16 {
                let cut = data.len() * k / 16;
                match parse(gguf, &data[..cut]) {
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
