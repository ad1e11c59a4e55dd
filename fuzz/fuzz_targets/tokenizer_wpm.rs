//! WordPiece (`tokenizer.ggml.model = bert`): any text (the input read as lossy UTF-8), with the
//! normaliser's flags from its first byte, must tokenize without panicking into ids the
//! vocabulary has, [CLS] and [SEP] around it with add_special.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realizar::format::gguf::{Gguf, GgufWriter, MetaArray, MetaValue};
use realizar::tokenizer::Tokenizer;

fuzz_target!(|data: &[u8]| {
    let tokens = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "\u{2581}a",
        "\u{2581}ab",
        "b",
        "c",
        "\u{2581}!",
        "\u{2581}日",
        "\u{2581}e",
        "\u{2581}é",
        "\u{2581}A",
    ];
    let flags = data.first().copied().unwrap_or(0);
    let mut w = GgufWriter::new();
    for (k, v) in [
        ("tokenizer.ggml.model", MetaValue::String("bert".into())),
        (
            "tokenizer.ggml.tokens",
            MetaValue::Array(MetaArray::String(
                tokens.iter().map(|s| s.to_string()).collect(),
            )),
        ),
        (
            "tokenizer.ggml.token_type",
            MetaValue::Array(MetaArray::I32(
                (0..tokens.len())
                    .map(|i| if i < 4 { 3 } else { 1 })
                    .collect(),
            )),
        ),
        ("tokenizer.ggml.unknown_token_id", MetaValue::U32(1)),
        ("tokenizer.ggml.bos_token_id", MetaValue::U32(2)),
        ("tokenizer.ggml.seperator_token_id", MetaValue::U32(3)),
        (
            "tokenizer.ggml.normalizer.lowercase",
            MetaValue::Bool(flags & 1 == 1),
        ),
        (
            "tokenizer.ggml.normalizer.strip_accents",
            MetaValue::Bool(flags & 2 == 2),
        ),
    ] {
        w.add_metadata(k, v).unwrap();
    }
    let g = Gguf::parse(w.to_bytes()).unwrap();
    let tok = Tokenizer::from_gguf(&g.header().metadata).unwrap();
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    for parse_special in [false, true] {
        let ids = tok.encode(&text, true, parse_special);
        assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
        assert_eq!((ids.first(), ids.last()), (Some(&2), Some(&3)));
        let _ = tok.decode(&ids);
    }
});
