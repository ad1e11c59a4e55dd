//! A real vocabulary against llama.cpp's own tokenizer test vectors (golden/vocab/<name>, from
//! the pinned sdist; add_special and parse_special off, as llama.cpp's test-tokenizer-0 runs
//! them) and the pinned llama-tokenize's ids for the strings of golden/vocab/special.json, with
//! and without parse_special: the encodings whose ids differ.

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
    // llama.cpp's own test vectors, then golden/vocab/special.json's strings for this
    // vocabulary (special-token text, contractions in any case, ...), parsed both ways.
    let mut checked: Vec<(String, bool, Vec<u32>)> = cases
        .into_iter()
        .map(|(text, ids)| (text, false, ids))
        .collect();
    checked.extend(special_cases(ctx, name)?);
    let wrong: Vec<&String> = checked
        .iter()
        .filter(|(text, parse, ids)| &tok.encode(text, false, *parse) != ids)
        .map(|(text, _, _)| text)
        .collect();
    Ok((
        wrong.len() as f64,
        format!(
            "{} of {} encodings differ from llama.cpp's ids ({name}){}",
            wrong.len(),
            checked.len(),
            wrong
                .first()
                .map_or(String::new(), |t| format!("; first: {t:?}"))
        ),
    ))
}

/// golden/vocab/special.json's cases for `name`: (text, parse_special, llama-tokenize's ids).
fn special_cases(ctx: &Ctx, name: &str) -> Result<Vec<(String, bool, Vec<u32>)>, super::Failure> {
    let path = ctx.goldens.vocab_special();
    let text = std::fs::read(&path).map_err(|e| env(format!("{}: {e}", path.display())))?;
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| env(format!("{}: {e}", path.display())))?;
    let ids = |v: &serde_json::Value| -> Option<Vec<u32>> {
        v.as_array()?
            .iter()
            .map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()))
            .collect()
    };
    let mut out = Vec::new();
    for case in json["vocabs"][name].as_array().into_iter().flatten() {
        let bad = || {
            env(format!(
                "{}: a {name} case without text and ids",
                path.display()
            ))
        };
        let text = case["text"].as_str().ok_or_else(bad)?.to_string();
        out.push((text.clone(), false, ids(&case["ids"]).ok_or_else(bad)?));
        out.push((text, true, ids(&case["ids_parse_special"]).ok_or_else(bad)?));
    }
    Ok(out)
}
