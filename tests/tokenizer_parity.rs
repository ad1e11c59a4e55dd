//! The SentencePiece-style tokenizer against llama.cpp's ids on the golden tricky-string corpus
//! (golden/tokenizer/spm/tokenize.json), with and without special-token parsing, from the
//! vocab-only GGUF and from every reference model's GGUF.

mod common;

use realizar::format::gguf::Gguf;
use realizar::tokenizer::Tokenizer;
use serde_json::Value;

fn tokenizer(path: &str) -> Tokenizer {
    let g = Gguf::open(common::repo_root().join(path)).unwrap();
    Tokenizer::from_gguf(&g.header().metadata).unwrap()
}

fn cases() -> Vec<Value> {
    let path = common::repo_root().join("golden/tokenizer/spm/tokenize.json");
    let golden: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    golden["cases"].as_array().unwrap().clone()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn ids_equal_llama_cpp_on_every_golden_string() {
    for path in [
        "golden/tokenizer/spm/vocab.gguf",
        "golden/models/tiny-gqa/tiny-gqa-Q4_K_M.gguf",
        "golden/models/tiny-long/tiny-long-F32.gguf",
    ] {
        let tok = tokenizer(path);
        let mut checked = 0;
        for case in cases() {
            let text = case["text"].as_str().unwrap();
            assert_eq!(
                tok.encode(text, true, false),
                ids(&case["llama_cpp"]),
                "{path}: {text:?}"
            );
            if let Some(special) = case.get("llama_cpp_parse_special") {
                assert_eq!(
                    tok.encode(text, true, true),
                    ids(special),
                    "{path}: {text:?} (special)"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 5);
    }
}

#[test]
fn decode_inverts_encode_on_every_golden_string() {
    let tok = tokenizer("golden/tokenizer/spm/vocab.gguf");
    for case in cases() {
        let text = case["text"].as_str().unwrap();
        let ids = tok.encode(text, true, false);
        assert_eq!(tok.decode(&ids), text, "{ids:?}");
    }
}

/// The comparison can fail: text tokenized with a doubled space prefix (what an encoder that
/// prefixes twice, or never strips, would produce) no longer equals llama.cpp's ids.
#[test]
fn the_golden_tells_apart_a_tokenizer_that_skips_the_space_prefix() {
    let tok = tokenizer("golden/tokenizer/spm/vocab.gguf");
    let case = cases()
        .into_iter()
        .find(|c| c["text"] == "Hello World")
        .unwrap();
    assert_eq!(
        tok.encode("Hello World", true, false),
        ids(&case["llama_cpp"])
    );
    assert_ne!(
        tok.encode(" Hello World", true, false),
        ids(&case["llama_cpp"])
    );
}

fn bpe_cases() -> Vec<Value> {
    let path = common::repo_root().join("golden/tokenizer/bpe/tokenize.json");
    let golden: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    golden["cases"].as_array().unwrap().clone()
}

/// GPT-2 byte-level BPE from GGUF metadata (tokenizer.ggml.model = gpt2, pre = gpt-2) against
/// llama.cpp, and from the HF tokenizer.json against HF tokenizers.
#[test]
fn byte_level_bpe_equals_llama_cpp_and_hf_tokenizers() {
    let gguf = tokenizer("golden/tokenizer/bpe/vocab.gguf");
    let hf = Tokenizer::from_hf_dir(&common::repo_root().join("golden/tokenizer/bpe")).unwrap();
    let mut special = 0;
    for case in bpe_cases() {
        let text = case["text"].as_str().unwrap();
        assert_eq!(
            gguf.encode(text, true, false),
            ids(&case["llama_cpp"]),
            "{text:?}"
        );
        if let Some(s) = case.get("llama_cpp_parse_special") {
            assert_eq!(gguf.encode(text, true, true), ids(s), "{text:?} (special)");
            special += 1;
        }
        // HF tokenizers always recognises added special tokens.
        assert_eq!(
            hf.encode(text, true, true),
            ids(&case["hf"]),
            "{text:?} (HF)"
        );
        assert_eq!(gguf.decode(&gguf.encode(text, true, false)), text);
    }
    assert_eq!(special, 2);
}
