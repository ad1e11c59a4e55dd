//! Any text through the two golden tokenizers (golden/tokenizer: SentencePiece with byte
//! fallback, byte-level BPE), every special-token flag: ids the vocabulary has, no panic in
//! encode, decode or llama.cpp's detokenizer, and the round trip llama.cpp guarantees: byte-level
//! BPE gives back exactly the text it was given when special tokens are not parsed.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use realizar::format::gguf::Gguf;
use realizar::tokenizer::Tokenizer;

fn load(bytes: &'static [u8]) -> Tokenizer {
    let g = Gguf::parse(bytes).expect("the committed golden vocabulary parses");
    Tokenizer::from_gguf(&g.header().metadata).expect("the committed golden vocabulary loads")
}

fn spm() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| load(include_bytes!("../../golden/tokenizer/spm/vocab.gguf")))
}

fn bpe() -> &'static Tokenizer {
    static T: OnceLock<Tokenizer> = OnceLock::new();
    T.get_or_init(|| load(include_bytes!("../../golden/tokenizer/bpe/vocab.gguf")))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for (tok, byte_level) in [(spm(), false), (bpe(), true)] {
        for (add_special, parse_special) in [(false, false), (true, false), (true, true)] {
            let ids = tok.encode(&text, add_special, parse_special);
            assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
            let decoded = tok.decode(&ids);
            for (remove, unparse) in [(false, false), (false, true), (true, true)] {
                let _ = tok.detokenize(&ids, remove, unparse);
            }
            if byte_level && !add_special && !parse_special {
                assert_eq!(decoded, text, "byte-level BPE round trip");
            }
        }
    }
});
