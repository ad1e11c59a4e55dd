//! llama.cpp's own tokenizer test vectors (golden/vocab, copied from the pinned sdist by
//! golden/scripts/vocab.py): for each vocabulary, every string of its `.inp` must encode to
//! exactly the ids of its `.out`, as llama.cpp's test-tokenizer-0 checks them (add_special and
//! parse_special off), and those ids must decode back to the string.
//!
//! Byte-level BPE: Llama 3 (`llama-bpe`), Qwen2 (`qwen2`), GPT-2 (`gpt-2`), MPT (`mpt`), Falcon
//! (`falcon`), StarCoder (`starcoder`), Refact (`refact`), Command-R (`command-r`), DeepSeek LLM
//! (`deepseek-llm`) and Coder (`deepseek-coder`), Qwen3.5 (`qwen35`), and with llama.cpp's
//! "default" pre-tokenizer GPT-NeoX (`gpt-neox`) and Aquila (`aquila`). Gemma 4's BPE over code
//! points (`gemma-4`). SentencePiece-style: Llama (`llama-spm`), Phi-3 (`phi-3`), Baichuan
//! (`baichuan`). WordPiece: BERT (`bert-bge`). Unigram with a precompiled charsmap: XLM-R's
//! (`nomic-bert-moe`). GPT-NeoX, Aquila, Baichuan and nomic-bert-moe have no upstream `.out`:
//! theirs holds the pinned llama-tokenize's ids of the shared test strings. The test vectors
//! hold no special-token text; for that, golden/vocab/special.json has llama.cpp's
//! llama-tokenize ids of strings around each vocabulary's special tokens, with and without
//! special-token parsing.

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use realizar::format::gguf::{Gguf, GgufWriter, MetaArray, MetaValue};
use realizar::tokenizer::pre::{AddBos, Split};
use realizar::tokenizer::{TokenType, Tokenizer, TokenizerError};

struct Vocab {
    tok: Tokenizer,
    /// (string, llama.cpp's ids), in file order.
    cases: Vec<(String, Vec<u32>)>,
}

fn vocab(name: &'static str) -> Vocab {
    let (gguf, cases) = realizar_oracle::golden::vocab_vectors(&common::repo_root(), name).unwrap();
    let g = Gguf::open(&gguf).unwrap();
    let tok = Tokenizer::from_gguf(&g.header().metadata).unwrap();
    assert!(cases.len() >= 40, "{name}: {} strings", cases.len());
    Vocab { tok, cases }
}

/// Every string encodes to llama.cpp's ids. Prints the count. (WordPiece and Unigram
/// normalise the text, so their ids need not decode back to it.)
fn check_ids(name: &'static str) -> Vocab {
    let v = vocab(name);
    let failures: Vec<String> = v
        .cases
        .iter()
        .filter_map(|(text, want)| {
            let got = v.tok.encode(text, false, false);
            (&got != want).then(|| format!("{text:?}: got {got:?}, llama.cpp {want:?}"))
        })
        .collect();
    println!(
        "{name}: tokenize {}/{}",
        v.cases.len() - failures.len(),
        v.cases.len()
    );
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    v
}

/// Vocabularies whose text is normalised before tokenizing: no round trip.
const NORMALISING: [&str; 2] = ["bert-bge", "nomic-bert-moe"];

/// Every string encodes to llama.cpp's ids and its ids decode back to it. Prints the counts.
fn check(name: &'static str) -> Vocab {
    let v = vocab(name);
    let n = v.cases.len();
    let (mut encoded, mut decoded) = (0, 0);
    let mut failures = Vec::new();
    for (text, want) in &v.cases {
        let got = v.tok.encode(text, false, false);
        if &got == want {
            encoded += 1;
        } else {
            failures.push(format!("{text:?}: got {got:?}, llama.cpp {want:?}"));
        }
        let back = v.tok.decode(want);
        if &back == text {
            decoded += 1;
        } else {
            failures.push(format!("{text:?}: decodes to {back:?}"));
        }
    }
    println!("{name}: tokenize {encoded}/{n}, round trip {decoded}/{n}");
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    v
}

#[test]
fn llama_bpe_equals_llama_cpp() {
    let v = check("llama-bpe");
    let pre = v.tok.pre_tokenizer().unwrap();
    assert_eq!(
        pre.splits,
        [Split::Llama3 {
            max_digits: 3,
            marks: false
        }]
    );
    assert!(pre.ignore_merges);
    // The file has no tokenizer.ggml.add_bos_token; llama.cpp adds BOS for Llama 3's
    // pre-tokenizer unless the file says not to.
    assert_eq!(pre.add_bos, AddBos::UnlessFileSaysNo);
    let bos = v.tok.bos.unwrap();
    assert_eq!(v.tok.encode("Hi", true, false).first(), Some(&bos));
}

#[test]
fn qwen2_equals_llama_cpp() {
    let v = check("qwen2");
    let pre = v.tok.pre_tokenizer().unwrap();
    assert_eq!(
        pre.splits,
        [Split::Llama3 {
            max_digits: 1,
            marks: false
        }]
    );
    assert!(!pre.ignore_merges);
}

#[test]
fn gpt2_equals_llama_cpp() {
    let v = check("gpt-2");
    assert_eq!(v.tok.pre_tokenizer().unwrap().splits, [Split::Gpt2]);
}

/// The words the vocabulary's pre-tokenizer cuts `text` into.
fn words(v: &Vocab, text: &str) -> Vec<String> {
    let splitter = v.tok.pre_tokenizer().unwrap().splitter().unwrap();
    splitter.split(text).into_iter().map(String::from).collect()
}

/// MPT (GPT-NeoX's vocabulary): GPT-2's split, and runs of 2 to 24 spaces are user-defined
/// tokens, so they are cut out of the text before any split, whatever the special-token flag.
#[test]
fn mpt_equals_llama_cpp_and_takes_space_runs_as_tokens() {
    let v = check("mpt");
    assert_eq!(v.tok.pre_tokenizer().unwrap().splits, [Split::Gpt2]);
    let eight = v.tok.id("        ").unwrap();
    assert_eq!(v.tok.token_type(eight), Some(TokenType::UserDefined));
    let want = [v.tok.id("x").unwrap(), eight, v.tok.id("y").unwrap()];
    assert_eq!(v.tok.encode("x        y", false, false), want);
}

/// Falcon: punctuation runs are cut first (so a space never leads them), then GPT-2's split,
/// then ASCII digits in threes from the left.
#[test]
fn falcon_equals_llama_cpp() {
    let v = check("falcon");
    let pre = v.tok.pre_tokenizer().unwrap();
    assert_eq!(pre.splits.len(), 3);
    assert_eq!(pre.splits[1], Split::Gpt2);
    assert_eq!(
        words(&v, "f (x) = 1234567"),
        ["f", " ", "(", "x", ")", " ", "=", " ", "123", "456", "7"]
    );
}

/// StarCoder, Refact and Command-R share one pre-tokenizer: every number code point alone, then
/// GPT-2's split.
fn check_digits_alone(name: &'static str) {
    let v = check(name);
    let pre = v.tok.pre_tokenizer().unwrap();
    assert_eq!(pre.splits, [Split::Regex("\\p{N}"), Split::Gpt2]);
    assert_eq!(words(&v, "v 2024²"), ["v", " ", "2", "0", "2", "4", "²"]);
    let ids = v.tok.encode("2024", false, false);
    assert_eq!(ids.len(), 4, "{name}: {ids:?}");
}

#[test]
fn starcoder_equals_llama_cpp() {
    check_digits_alone("starcoder");
}

#[test]
fn refact_equals_llama_cpp() {
    check_digits_alone("refact");
}

#[test]
fn command_r_equals_llama_cpp() {
    check_digits_alone("command-r");
}

/// DeepSeek LLM: letters by explicit ranges (no CJK), punctuation, trailing whitespace, CJK and
/// Hangul, numbers: six expressions run through llama.cpp's std::regex path in turn.
#[test]
fn deepseek_llm_equals_llama_cpp() {
    let v = check("deepseek-llm");
    assert_eq!(v.tok.pre_tokenizer().unwrap().splits.len(), 6);
    assert_eq!(
        words(&v, "日本語abc, 123  "),
        ["日本語", "abc", ",", " ", "123", "  "]
    );
}

/// DeepSeek Coder: as DeepSeek LLM with `\p{L}` and `\p{P}` for its sets, and every digit alone.
#[test]
fn deepseek_coder_equals_llama_cpp() {
    let v = check("deepseek-coder");
    assert_eq!(v.tok.pre_tokenizer().unwrap().splits.len(), 5);
    assert_eq!(words(&v, "x=12;"), ["x", "=", "1", "2", ";"]);
}

/// Qwen3.5: Qwen2's split, but combining marks stay in their word.
#[test]
fn qwen35_equals_llama_cpp_and_keeps_marks_in_words() {
    let v = check("qwen35");
    let pre = v.tok.pre_tokenizer().unwrap();
    assert_eq!(
        pre.splits,
        [Split::Llama3 {
            max_digits: 1,
            marks: true
        }]
    );
    assert!(!pre.ignore_merges);
    assert_eq!(words(&v, "cafe\u{301}!"), ["cafe\u{301}", "!"]);
    let qwen2 = vocab("qwen2");
    assert_eq!(words(&qwen2, "cafe\u{301}!"), ["cafe", "\u{301}!"]);
}

/// Gemma 4 (`tokenizer.ggml.model = gemma4`): BPE over code points with spaces as U+2581, cut
/// only at line feeds; a piece that is no token becomes `<0xXX>` byte tokens; BOS always.
#[test]
fn gemma4_equals_llama_cpp() {
    let v = check("gemma-4");
    let pre = v.tok.pre_tokenizer().unwrap();
    assert_eq!(pre.splits, [Split::Newlines]);
    assert!(pre.escape_whitespaces && !pre.byte_encode);
    assert!(v.tok.add_bos);
    assert_eq!(words(&v, "a b\n\nc"), ["a b", "\n\n", "c"]);
    let text = "\u{10FFFD}";
    let bytes: Vec<u32> = text
        .bytes()
        .map(|b| v.tok.id(&format!("<0x{b:02X}>")).unwrap())
        .collect();
    assert_eq!(v.tok.encode(text, false, false), bytes);
    assert_eq!(v.tok.decode(&bytes), text);
}

/// GPT-NeoX and Aquila name no pre-tokenizer: llama.cpp runs its "default" one (punctuation
/// runs, GPT-2's split, number runs, ASCII digits in threes).
#[test]
fn default_pre_tokenizer_equals_llama_cpp() {
    for name in ["gpt-neox", "aquila"] {
        let v = check(name);
        let pre = v.tok.pre_tokenizer().unwrap();
        assert_eq!(pre.names, ["default"], "{name}");
        assert_eq!(pre.splits.len(), 4, "{name}");
        assert_eq!(pre.splits[1], Split::Gpt2, "{name}");
        assert_eq!(
            words(&v, "x= 12345"),
            ["x", "=", " ", "123", "45"],
            "{name}"
        );
    }
}

#[test]
fn baichuan_equals_llama_cpp() {
    let v = check("baichuan");
    assert!(v.tok.pre_tokenizer().is_none());
}

/// BERT's WordPiece: lowercased, accents stripped, punctuation and CJK alone, longest tokens
/// first; a word without a cover is [UNK]; add_special puts [CLS] first and [SEP] last.
#[test]
fn bert_bge_equals_llama_cpp() {
    let v = check_ids("bert-bge");
    let tok = &v.tok;
    let id = |t: &str| tok.id(t).unwrap();
    assert_eq!(
        tok.encode("Café, NAÏVE!", false, false),
        [
            id("\u{2581}cafe"),
            id("\u{2581},"),
            id("\u{2581}naive"),
            id("\u{2581}!")
        ]
    );
    assert_eq!(
        tok.encode("hi", true, false),
        [id("[CLS]"), id("\u{2581}hi"), id("[SEP]")]
    );
    assert_eq!(
        tok.encode("🦀 hi", false, false),
        [id("[UNK]"), id("\u{2581}hi")]
    );
}

/// nomic-bert-moe (XLM-R's Unigram): the charsmap folds full-width letters and ligatures, extra
/// spaces go, and the best segmentation by score wins.
#[test]
fn nomic_bert_moe_equals_llama_cpp() {
    let v = check_ids("nomic-bert-moe");
    let tok = &v.tok;
    assert_eq!(
        tok.encode("ＡＢＣ", false, false),
        tok.encode("ABC", false, false)
    );
    assert_eq!(
        tok.encode("  a   b  ", false, false),
        tok.encode("a b", false, false)
    );
    // add_special: <s> and </s> around, as the file's add_bos_token and add_eos_token say
    // (llama.cpp's Unigram defaults are EOS only).
    let ids = tok.encode("a", true, false);
    assert_eq!(
        (ids.first(), ids.last()),
        (tok.bos.as_ref(), tok.eos.as_ref())
    );
    assert_eq!(tok.piece(tok.bos.unwrap()), Some("<s>"));
    let key = "tokenizer.ggml.add_bos_token";
    let defaults = load_with("nomic-bert-moe", &[(key, MetaValue::Bool(false))]).unwrap();
    assert_eq!(defaults.encode("a", true, false), ids[1..]);
}

/// A golden vocabulary's GGUF with keys replaced or added, loaded.
fn load_with(name: &str, edits: &[(&str, MetaValue)]) -> Result<Tokenizer, TokenizerError> {
    let path = common::goldens().vocab_gguf(name);
    let g = Gguf::open(path).unwrap();
    let mut w = GgufWriter::copy_of(&g).unwrap();
    for (k, v) in edits {
        w.set_metadata(*k, v.clone()).unwrap();
    }
    let g = Gguf::parse(w.to_bytes()).unwrap();
    Tokenizer::from_gguf(&g.header().metadata)
}

/// A `tokenizer.ggml.*` key the loader does not know, a flag that is no bool, and malformed
/// charsmaps are refused with an error, never a panic or a silent default.
#[test]
fn unknown_keys_bad_flags_and_bad_charsmaps_are_refused() {
    let bad = |name: &str, key: &str, v: MetaValue| {
        let err = load_with(name, &[(key, v)]).unwrap_err();
        println!("{name} {key}: {err}");
        err
    };
    let err = bad(
        "bert-bge",
        "tokenizer.ggml.lowercase",
        MetaValue::Bool(false),
    );
    assert!(err
        .to_string()
        .contains("unknown key tokenizer.ggml.lowercase"));
    bad("gpt-2", "tokenizer.ggml.add_bos_token", MetaValue::U32(1));
    bad(
        "bert-bge",
        "tokenizer.ggml.unknown_token_id",
        MetaValue::U32(1 << 20),
    );
    let charsmap = |b: Vec<u8>| MetaValue::Array(MetaArray::U8(b));
    let key = "tokenizer.ggml.precompiled_charsmap";
    let golden = load_with("nomic-bert-moe", &[]).unwrap();
    let g = Gguf::open(common::goldens().vocab_gguf("nomic-bert-moe")).unwrap();
    let Some(MetaArray::U8(blob)) = g.header().metadata.get(key).and_then(|v| v.as_array()) else {
        panic!("no charsmap");
    };
    // Too short for its header; a double array running past the blob; the blob cut inside
    // its replacements (an unterminated string); an entry pointing outside the array.
    bad("nomic-bert-moe", key, charsmap(vec![1, 2]));
    bad(
        "nomic-bert-moe",
        key,
        charsmap(blob[..blob.len() / 2].to_vec()),
    );
    let size = u32::from_le_bytes(blob[..4].try_into().unwrap()) as usize;
    bad("nomic-bert-moe", key, charsmap(blob[..size + 5].to_vec()));
    let mut wild = blob.clone();
    wild[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    bad("nomic-bert-moe", key, charsmap(wild));
    bad(
        "nomic-bert-moe",
        key,
        MetaValue::Array(MetaArray::F32(vec![0.0])),
    );
    // Without the charsmap, normalisation is off: full-width letters stay as they are.
    let plain = load_with("nomic-bert-moe", &[(key, charsmap(Vec::new()))]).unwrap();
    assert_ne!(
        plain.encode("ＡＢＣ", false, false),
        golden.encode("ＡＢＣ", false, false)
    );
}

/// Arbitrary text never makes WordPiece or Unigram panic, and yields only ids they have.
#[test]
fn wordpiece_and_unigram_never_panic() {
    for name in ["bert-bge", "nomic-bert-moe"] {
        let tok = vocab(name).tok;
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&proptest::collection::vec(any::<u8>(), 0..256), |bytes| {
                let text = String::from_utf8_lossy(&bytes);
                for special in [false, true] {
                    let ids = tok.encode(&text, special, special);
                    prop_assert!(ids.iter().all(|&id| (id as usize) < tok.vocab_size()));
                }
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn llama_spm_equals_llama_cpp() {
    let v = check("llama-spm");
    assert!(v.tok.pre_tokenizer().is_none());
}

/// Phi-3's control tokens (`<|assistant|>`, `<|end|>`, ...) are text unless special tokens are
/// parsed: without parse_special the characters are tokenized, with it the token is used.
#[test]
fn phi3_equals_llama_cpp_and_keeps_control_text_as_text() {
    let v = check("phi-3");
    let tok = &v.tok;
    let end = tok.id("<|end|>").unwrap();
    assert_eq!(tok.token_type(end), Some(TokenType::Control));
    let plain = tok.encode("Hi<|end|>", false, false);
    assert!(!plain.contains(&end), "{plain:?}");
    assert_eq!(tok.decode(&plain), "Hi<|end|>");
    let special = tok.encode("Hi<|end|>", false, true);
    assert_eq!(special.last(), Some(&end), "{special:?}");
    // A control token decodes to nothing, as llama.cpp's token_to_piece without `special`.
    assert_eq!(tok.decode(&special), "Hi");
    // The GGUF stores </s> as user-defined; llama.cpp makes it a control token (an
    // end-of-generation text), so it too is text unless special tokens are parsed.
    let eos = tok.id("</s>").unwrap();
    assert_eq!(tok.token_type(eos), Some(TokenType::Control));
}

/// Strings around special tokens against llama.cpp's llama-tokenize (no BOS), with and without
/// special-token parsing; without it, the ids also decode back to the string.
#[test]
fn special_token_text_equals_llama_cpp() {
    let path = common::goldens().vocab_special();
    let golden: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u32)
            .collect()
    };
    let vocabs = golden["vocabs"].as_object().unwrap();
    assert_eq!(vocabs.len(), 19);
    for (name, cases) in vocabs {
        let name: &'static str = Box::leak(name.clone().into_boxed_str());
        let tok = vocab(name).tok;
        let cases = cases.as_array().unwrap();
        let mut failures = Vec::new();
        for case in cases {
            let text = case["text"].as_str().unwrap();
            for (key, special) in [("ids", false), ("ids_parse_special", true)] {
                let (got, want) = (tok.encode(text, false, special), ids(&case[key]));
                if got != want {
                    failures.push(format!("{text:?} ({key}): got {got:?}, llama.cpp {want:?}"));
                }
            }
            let back = tok.decode(&ids(&case["ids"]));
            if back != text && !NORMALISING.contains(&name) {
                failures.push(format!("{text:?}: decodes to {back:?}"));
            }
        }
        println!("{name}: {} special-token strings", cases.len());
        assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
    }
}

/// The golden ids need merges far past the first 65536: the rank is no small integer.
#[test]
fn goldens_need_merge_ranks_beyond_u16() {
    for (name, merges_at_least) in [("llama-bpe", 200_000), ("qwen2", 100_000)] {
        let v = vocab(name);
        // The rank a token's piece is made by: the lowest merge of any split of its text.
        let made_by = |piece: &str| -> Option<u32> {
            piece
                .char_indices()
                .skip(1)
                .filter_map(|(at, _)| v.tok.merge_rank(&piece[..at], &piece[at..]))
                .min()
        };
        let highest = v
            .cases
            .iter()
            .flat_map(|(_, ids)| ids.iter())
            .filter_map(|&id| made_by(v.tok.piece(id).unwrap()))
            .max()
            .unwrap();
        println!("{name}: highest merge rank a golden token needs: {highest}");
        assert!(highest > u32::from(u16::MAX), "{name}: {highest}");
        assert!(highest < merges_at_least * 2);
    }
}

/// Equal ranks go to the leftmost pair: a three-letter word whose only merge is the letter
/// doubled becomes doubled letter + letter, not letter + doubled letter.
#[test]
fn merge_rank_ties_go_to_the_leftmost_pair() {
    for name in ["llama-bpe", "qwen2", "gpt-2"] {
        let tok = vocab(name).tok;
        let mut checked = 0;
        for c in ('a'..='z').chain('A'..='Z') {
            let (one, two, three) = (c.to_string(), format!("{c}{c}"), format!("{c}{c}{c}"));
            let applies = tok.merge_rank(&one, &one).is_some()
                && tok.merge_rank(&two, &one).is_none()
                && tok.merge_rank(&one, &two).is_none()
                && tok.id(&three).is_none();
            if !applies {
                continue;
            }
            let want = vec![tok.id(&two).unwrap(), tok.id(&one).unwrap()];
            assert_eq!(tok.encode(&three, false, false), want, "{name}: {three}");
            checked += 1;
        }
        println!("{name}: {checked} letters with a tied merge");
        assert!(checked > 0, "{name}: no letter exercises a tie");
    }
}

/// Arbitrary bytes, read as lossy UTF-8, never make the Llama 3 tokenizer panic, and (byte-level
/// BPE has a token for every byte) always decode back.
#[test]
fn arbitrary_text_never_panics_and_round_trips() {
    let tok = vocab("llama-bpe").tok;
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..256), |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            for special in [false, true] {
                let ids = tok.encode(&text, false, special);
                if !special {
                    prop_assert_eq!(tok.decode(&ids), text.as_ref());
                }
            }
            Ok(())
        })
        .unwrap();
}
