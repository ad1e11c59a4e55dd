//! Unigram (`tokenizer.ggml.model = t5`): the input is the binary precompiled charsmap (a size
//! header, an XOR-compressed double array, NUL-terminated replacements) of a small vocabulary.
//! A charsmap the loader accepts must normalise and tokenize any text, the input itself read as
//! text included, without panicking, and yield only ids the vocabulary has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realizar::format::gguf::{Gguf, GgufWriter, MetaArray, MetaValue};
use realizar::tokenizer::Tokenizer;

fn strings(v: &[&str]) -> MetaValue {
    MetaValue::Array(MetaArray::String(v.iter().map(|s| s.to_string()).collect()))
}

fuzz_target!(|data: &[u8]| {
    let tokens = [
        "<pad>",
        "</s>",
        "<unk>",
        "\u{2581}",
        "a",
        "b",
        "\u{2581}a",
        "ab",
        "<x>",
        "[u]",
        "é",
    ];
    let mut w = GgufWriter::new();
    for (k, v) in [
        ("tokenizer.ggml.model", MetaValue::String("t5".into())),
        ("tokenizer.ggml.tokens", strings(&tokens)),
        (
            "tokenizer.ggml.scores",
            MetaValue::Array(MetaArray::F32(
                (0..tokens.len()).map(|i| -(i as f32)).collect(),
            )),
        ),
        (
            "tokenizer.ggml.token_type",
            MetaValue::Array(MetaArray::I32(vec![3, 3, 2, 1, 1, 1, 1, 1, 4, 5, 1])),
        ),
        ("tokenizer.ggml.unknown_token_id", MetaValue::U32(2)),
        (
            "tokenizer.ggml.add_space_prefix",
            MetaValue::Bool(data.first() != Some(&0)),
        ),
        (
            "tokenizer.ggml.remove_extra_whitespaces",
            MetaValue::Bool(data.get(1).is_some_and(|b| b & 1 == 1)),
        ),
        (
            "tokenizer.ggml.precompiled_charsmap",
            MetaValue::Array(MetaArray::U8(data.to_vec())),
        ),
    ] {
        w.add_metadata(k, v).unwrap();
    }
    let g = Gguf::parse(w.to_bytes()).unwrap();
    let Ok(tok) = Tokenizer::from_gguf(&g.header().metadata) else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    for t in [
        "a  ab<x>\u{2581}b é\u{301} \u{FFFD}\t\n ",
        "<x",
        "",
        text.as_ref(),
    ] {
        for parse_special in [false, true] {
            let ids = tok.encode(t, true, parse_special);
            assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
            let _ = tok.decode(&ids);
        }
    }
});
