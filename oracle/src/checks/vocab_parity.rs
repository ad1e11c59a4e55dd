//! A real vocabulary against llama.cpp's own tokenizer test vectors (golden/vocab/<name>, from
//! the pinned sdist): the strings whose ids differ, with add_special and parse_special off, as
//! llama.cpp's test-tokenizer-0 runs them.

use super::{engine, env, Ctx};
use realizar::format::gguf::Gguf;
use realizar::tokenizer::Tokenizer;

pub fn run(name: &str, ctx: &Ctx) -> super::Outcome {
    let (gguf, cases) = crate::golden::vocab_vectors(&ctx.root, name).map_err(env)?;
    if !gguf.is_file() {
        return Err(env(format!("{}: no such golden file", gguf.display())));
    }
    let g = Gguf::open(&gguf).map_err(|e| engine(format!("{}: {e}", gguf.display())))?;
    let tok = Tokenizer::from_gguf(&g.header().metadata).map_err(engine)?;
    let wrong: Vec<&String> = cases
        .iter()
        .filter(|(text, ids)| &tok.encode(text, false, false) != ids)
        .map(|(text, _)| text)
        .collect();
    Ok((
        wrong.len() as f64,
        format!(
            "{} of {} strings differ from llama.cpp's ids ({name}){}",
            wrong.len(),
            cases.len(),
            wrong
                .first()
                .map_or(String::new(), |t| format!("; first: {t:?}"))
        ),
    ))
}
