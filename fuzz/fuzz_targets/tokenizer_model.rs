//! SentencePiece tokenizer.model: protobuf wire parsing, then a tokenizer built from whatever
//! vocabulary it yields must encode and decode without panicking and emit only ids it has.
#![no_main]

use libfuzzer_sys::fuzz_target;
use realizar::tokenizer::Tokenizer;

fuzz_target!(|data: &[u8]| {
    let Ok(tok) = Tokenizer::from_sentencepiece(data, true, true) else {
        return;
    };
    for parse_special in [false, true] {
        let ids = tok.encode("Hello  wörld <s>\n123 🦀 ÿ", true, parse_special);
        assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
        let _ = tok.decode(&ids);
    }
});
