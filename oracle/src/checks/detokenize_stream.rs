//! Streaming detokenization, as `realizar run` prints text: each token's bytes pushed through
//! `Utf8Stream` one at a time must give exactly the lossy UTF-8 decoding of all the bytes at
//! once. The sequences are llama.cpp's ids for every golden string (multi-byte text through
//! byte fallback or byte-level BPE) and 200 seeded random sequences of 24 vocabulary ids, whose
//! stray byte tokens leave invalid bytes next to unfinished characters. Counts the sequences
//! whose streamed text differs.

use super::Ctx;
use crate::contract::TinyVocab;
use realizar::tokenizer::{Tokenizer, Utf8Stream};

fn streamed(tok: &Tokenizer, ids: &[u32]) -> (String, String) {
    let mut stream = Utf8Stream::default();
    let mut text: String = ids
        .iter()
        .map(|&id| stream.push(&tok.token_bytes(id)))
        .collect();
    text += &stream.finish();
    let bytes: Vec<u8> = ids.iter().flat_map(|&id| tok.token_bytes(id)).collect();
    (text, String::from_utf8_lossy(&bytes).into_owned())
}

pub fn run(which: TinyVocab, ctx: &Ctx) -> super::Outcome {
    let (tok, golden) = ctx.vocab(which)?;
    let mut sequences: Vec<Vec<u32>> = golden["cases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            c["llama_cpp"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()))
                .collect()
        })
        .collect();
    let golden_count = sequences.len();
    let n = tok.vocab_size() as u64;
    let mut state = 0x5eed_d00d_u64;
    for _ in 0..200 {
        sequences.push(
            (0..24)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((state >> 33) % n) as u32
                })
                .collect(),
        );
    }
    let mut first = None;
    let mut wrong = 0usize;
    for ids in &sequences {
        let (stream, batch) = streamed(&tok, ids);
        if stream != batch {
            wrong += 1;
            first.get_or_insert(format!("{ids:?}: streamed {stream:?}, at once {batch:?}"));
        }
    }
    Ok((
        wrong as f64,
        format!(
            "{wrong} of {} sequences ({golden_count} golden, {} random) stream differently{}",
            sequences.len(),
            sequences.len() - golden_count,
            first.map_or(String::new(), |f| format!("; first: {f}"))
        ),
    ))
}
