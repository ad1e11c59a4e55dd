//! A real vocabulary's detokenization against llama.cpp's (golden/detokenize/<name>.json, from
//! golden/scripts/detokenize.py): for every case (the ids of llama.cpp's test vectors, fixed
//! edge cases and seeded random sequences of byte, control, user-defined, leading-space and
//! punctuation tokens), realizar's `Tokenizer::detokenize` must give exactly the bytes
//! llama_detokenize gave with the same remove_special (false, as common_detokenize) and the
//! obligation's unparse_special. Counts the cases whose bytes differ.

use super::{engine, env, Ctx};
use crate::contract::DetokenizeParams;
use realizar::format::gguf::Gguf;
use realizar::tokenizer::Tokenizer;

/// One golden case: its kind, ids, and llama.cpp's bytes.
struct Case {
    kind: String,
    ids: Vec<u32>,
    want: Vec<u8>,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Bytes as readable text: printable ASCII as it is, everything else escaped.
fn shown(bytes: &[u8]) -> String {
    let mut s = bytes.escape_ascii().to_string();
    if s.len() > 120 {
        let cut = (0..=117)
            .rev()
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

pub fn run(p: &DetokenizeParams, ctx: &Ctx) -> super::Outcome {
    let name = p.tokenizer.as_str();
    let path = ctx.goldens.detokenize(name);
    let golden: serde_json::Value = std::fs::read(&path)
        .map_err(|e| env(format!("{}: {e}", path.display())))
        .and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| env(format!("{}: {e}", path.display())))
        })?;
    let bad = |what: &str| env(format!("{}: {what}", path.display()));
    let remove_special = golden["remove_special"]
        .as_bool()
        .ok_or_else(|| bad("no remove_special"))?;
    let key = if p.unparse_special {
        "special"
    } else {
        "plain"
    };
    let cases = golden["cases"]
        .as_array()
        .ok_or_else(|| bad("no cases"))?
        .iter()
        .map(|c| {
            let ids = c["ids"]
                .as_array()
                .ok_or_else(|| bad("a case without ids"))?
                .iter()
                .map(|t| {
                    t.as_u64()
                        .and_then(|t| u32::try_from(t).ok())
                        .ok_or_else(|| bad(&format!("token id {t}")))
                })
                .collect::<Result<Vec<u32>, _>>()?;
            let want = c[key]
                .as_str()
                .and_then(unhex)
                .ok_or_else(|| bad(&format!("a case whose {key} is no hex string")))?;
            Ok(Case {
                kind: c["kind"].as_str().unwrap_or_default().to_string(),
                ids,
                want,
            })
        })
        .collect::<Result<Vec<Case>, super::Failure>>()?;
    let gguf = ctx
        .root
        .join(golden["gguf"].as_str().ok_or_else(|| bad("no gguf"))?);
    if !gguf.is_file() {
        return Err(env(format!("{}: no such golden file", gguf.display())));
    }
    // The file is there: a reader that rejects it is the engine's failure.
    let g = Gguf::open(&gguf).map_err(|e| engine(format!("{}: {e}", gguf.display())))?;
    let tok = Tokenizer::from_gguf(&g.header().metadata).map_err(engine)?;
    let mut first = None;
    let mut wrong = 0usize;
    for c in &cases {
        let got = tok.detokenize(&c.ids, remove_special, p.unparse_special);
        if got != c.want {
            wrong += 1;
            first.get_or_insert_with(|| {
                format!(
                    "{} {:?}: realizar \"{}\", llama.cpp \"{}\"",
                    c.kind,
                    c.ids,
                    shown(&got),
                    shown(&c.want)
                )
            });
        }
    }
    Ok((
        wrong as f64,
        format!(
            "{wrong} of {} cases differ from llama_detokenize's bytes ({name}, remove_special {}, \
             unparse_special {}){}",
            cases.len(),
            remove_special,
            p.unparse_special,
            first.map_or(String::new(), |f| format!("; first: {f}"))
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_shown_text() {
        assert_eq!(unhex("00ff41"), Some(vec![0, 255, 0x41]));
        assert_eq!(unhex(""), Some(vec![]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(shown(b"a\xff\n"), "a\\xff\\n");
        assert!(shown(&[b'x'; 200]).ends_with("..."));
    }
}
