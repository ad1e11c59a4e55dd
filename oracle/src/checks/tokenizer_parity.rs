//! Token ids against llama.cpp's on the golden tricky-string corpus, with and without
//! special-token parsing: the number of strings that differ.

use super::Ctx;
use crate::contract::TinyVocab;

pub fn run(which: TinyVocab, ctx: &Ctx) -> super::Outcome {
    let (tok, golden) = ctx.vocab(which)?;
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
        format!(
            "{wrong} of {total} encodings differ from llama.cpp ({})",
            which.name()
        ),
    ))
}
