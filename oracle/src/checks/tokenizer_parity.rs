//! Token ids against llama.cpp's on the golden tricky-string corpus, with and without
//! special-token parsing: the number of strings that differ.

use super::Ctx;
use crate::contract::TinyVocab;

pub fn run(which: TinyVocab, ctx: &Ctx) -> super::Outcome {
    let golden = ctx.goldens.json(&ctx.goldens.tiny_tokenize(which.name()))?;
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_u64())
            .map(|t| t as u32)
            .collect()
    };
    let cases: Vec<&serde_json::Value> = golden["cases"].as_array().into_iter().flatten().collect();
    let text = |c: &serde_json::Value| c["text"].as_str().unwrap_or("").to_string();
    let vocab = ctx.goldens.tiny_vocab(which.name());
    // Every string as llama.cpp's test does it (BOS as the vocabulary asks), then the strings
    // that also have ids with special-token parsing.
    let plain: Vec<String> = cases.iter().map(|c| text(c)).collect();
    let special: Vec<&serde_json::Value> = cases
        .iter()
        .copied()
        .filter(|c| c.get("llama_cpp_parse_special").is_some())
        .collect();
    let special_texts: Vec<String> = special.iter().map(|c| text(c)).collect();
    let ours = ctx.engine.tokenize(&vocab, &plain, true, false)?;
    let ours_special = ctx.engine.tokenize(&vocab, &special_texts, true, true)?;
    let wrong = cases
        .iter()
        .zip(&ours)
        .filter(|(c, o)| **o != ids(&c["llama_cpp"]))
        .count()
        + special
            .iter()
            .zip(&ours_special)
            .filter(|(c, o)| **o != ids(&c["llama_cpp_parse_special"]))
            .count();
    let total = cases.len() + special.len();
    Ok((
        wrong as f64,
        format!(
            "{wrong} of {total} encodings differ from llama.cpp ({})",
            which.name()
        ),
    ))
}
