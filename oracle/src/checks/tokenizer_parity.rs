//! Token ids against llama.cpp's on the golden tricky-string corpus, with and without
//! special-token parsing: the number of strings that differ.

use super::{env, Ctx};
use crate::contract::Obligation;
use realizar::format::gguf::Gguf;
use realizar::tokenizer::Tokenizer;

pub fn run(o: &Obligation, ctx: &Ctx) -> super::Outcome {
    let which = o.params.tokenizer.as_deref().unwrap_or("spm");
    let vocab = ctx.golden(&format!("tokenizer/{which}/vocab.gguf"));
    if !vocab.is_file() {
        return Err(env(format!("{}: no such golden file", vocab.display())));
    }
    // The file is there: a reader that rejects it is the engine's failure.
    let g = Gguf::open(&vocab).map_err(|e| super::engine(format!("{}: {e}", vocab.display())))?;
    let tok = Tokenizer::from_gguf(&g.header().metadata).map_err(super::engine)?;
    let path = ctx.golden(&format!("tokenizer/{which}/tokenize.json"));
    let golden: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&path).map_err(|e| env(format!("{}: {e}", path.display())))?,
    )
    .map_err(|e| env(format!("{}: {e}", path.display())))?;
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_u64())
            .map(|t| t as u32)
            .collect()
    };
    let (mut wrong, mut total) = (0usize, 0usize);
    for case in golden["cases"].as_array().into_iter().flatten() {
        let text = case["text"].as_str().unwrap_or("");
        total += 1;
        wrong += usize::from(tok.encode(text, true, false) != ids(&case["llama_cpp"]));
        if let Some(special) = case.get("llama_cpp_parse_special") {
            total += 1;
            wrong += usize::from(tok.encode(text, true, true) != ids(special));
        }
    }
    Ok((
        wrong as f64,
        format!("{wrong} of {total} encodings differ from llama.cpp ({which})"),
    ))
}
