//! The SentencePiece-style tokenizer against llama.cpp's ids on the golden tricky-string corpus
//! (golden/tokenizer/spm/tokenize.json), with and without special-token parsing, from the
//! vocab-only GGUF and from every reference model's GGUF.

mod common;

use realizar::format::gguf::Gguf;
use realizar::tokenizer::Tokenizer;
use serde_json::Value;

fn tokenizer(path: &std::path::Path) -> Tokenizer {
    let g = Gguf::open(path).unwrap();
    Tokenizer::from_gguf(&g.header().metadata).unwrap()
}

fn cases() -> Vec<Value> {
    let path = common::goldens().tiny_tokenize("spm");
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
    let goldens = common::goldens();
    for path in [
        goldens.tiny_vocab("spm"),
        goldens.model_file("tiny-gqa", "Q4_K_M"),
        goldens.model_file("tiny-long", "F32"),
    ] {
        let tok = tokenizer(&path);
        let mut checked = 0;
        for case in cases() {
            let text = case["text"].as_str().unwrap();
            assert_eq!(
                tok.encode(text, true, false),
                ids(&case["llama_cpp"]),
                "{}: {text:?}",
                path.display()
            );
            if let Some(special) = case.get("llama_cpp_parse_special") {
                assert_eq!(
                    tok.encode(text, true, true),
                    ids(special),
                    "{}: {text:?} (special)",
                    path.display()
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 5);
    }
}

#[test]
fn decode_inverts_encode_on_every_golden_string() {
    let tok = tokenizer(&common::goldens().tiny_vocab("spm"));
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
    let tok = tokenizer(&common::goldens().tiny_vocab("spm"));
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
    let path = common::goldens().tiny_tokenize("bpe");
    let golden: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    golden["cases"].as_array().unwrap().clone()
}

/// GPT-2 byte-level BPE from GGUF metadata (tokenizer.ggml.model = gpt2, pre = gpt-2) against
/// llama.cpp, and from the HF tokenizer.json against HF tokenizers.
#[test]
fn byte_level_bpe_equals_llama_cpp_and_hf_tokenizers() {
    let gguf = tokenizer(&common::goldens().tiny_vocab("bpe"));
    let hf = Tokenizer::from_hf_dir(&common::goldens().tiny_vocab_dir("bpe")).unwrap();
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

/// A byte-level tokenizer.json whose split is not GPT-2's (Llama 3 and Qwen2 put a Split with
/// their own regex before ByteLevel) or that has a normalizer is refused, never split the GPT-2
/// way.
#[test]
fn a_tokenizer_json_with_another_split_or_a_normalizer_is_refused() {
    let src = common::goldens()
        .tiny_vocab_dir("bpe")
        .join("tokenizer.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&src).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |j: &serde_json::Value| {
        std::fs::write(dir.path().join("tokenizer.json"), j.to_string()).unwrap();
    };
    write(&json);
    realizar::tokenizer::Tokenizer::from_hf_dir(dir.path()).expect("GPT-2's own split loads");
    let mut llama3 = json.clone();
    llama3["pre_tokenizer"] = serde_json::json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"},
         "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]});
    let mut normalized = json.clone();
    normalized["normalizer"] = serde_json::json!({"type": "NFC"});
    for (name, j) in [("split", llama3), ("normalizer", normalized)] {
        write(&j);
        let e = realizar::tokenizer::Tokenizer::from_hf_dir(dir.path())
            .expect_err(name)
            .to_string();
        assert!(e.contains("only GPT-2's ByteLevel split"), "{name}: {e}");
    }
}
