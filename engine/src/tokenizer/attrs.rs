//! Token attributes llama.cpp derives beyond `tokenizer.ggml.token_type` when it loads a GGUF
//! vocabulary (`llama_vocab::impl::load`): texts it turns into control tokens (end-of-generation
//! and fill-in-the-middle markers), and special tokens whose neighbouring spaces it strips. Both
//! change what the text of such a token encodes to, so they are mirrored here as data.

use std::collections::HashMap;

use crate::format::gguf::Metadata;

use super::TokenType;

/// Texts llama.cpp always makes control tokens: its end-of-generation list. (Its end-of-turn and
/// end-of-message lists are subsets.)
const EOG_TEXTS: [&str; 22] = [
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
    "[e~[",
];

/// Fill-in-the-middle markers: where the metadata names no token for a role, llama.cpp makes the
/// token with one of these texts that role and a control token. (With several candidates it takes
/// the first in hash-map order; here, the lowest id.)
const FIM_TEXTS: [(&[&str], &[&str]); 6] = [
    (
        &[
            "tokenizer.ggml.fim_pre_token_id",
            "tokenizer.ggml.prefix_token_id",
        ],
        &[
            "<|fim_prefix|>",
            "<fim-prefix>",
            "<fim_prefix>",
            "<\u{ff5c}fim\u{2581}begin\u{ff5c}>",
            "<PRE>",
            "\u{2581}<PRE>",
            "<|code_prefix|>",
            "<|prefix|>",
        ],
    ),
    (
        &[
            "tokenizer.ggml.fim_suf_token_id",
            "tokenizer.ggml.suffix_token_id",
        ],
        &[
            "<|fim_suffix|>",
            "<fim-suffix>",
            "<fim_suffix>",
            "<\u{ff5c}fim\u{2581}hole\u{ff5c}>",
            "<SUF>",
            "\u{2581}<SUF>",
            "<|code_suffix|>",
            "<|suffix|>",
        ],
    ),
    (
        &[
            "tokenizer.ggml.fim_mid_token_id",
            "tokenizer.ggml.middle_token_id",
        ],
        &[
            "<|fim_middle|>",
            "<fim-middle>",
            "<fim_middle>",
            "<\u{ff5c}fim\u{2581}end\u{ff5c}>",
            "<MID>",
            "\u{2581}<MID>",
            "<|code_middle|>",
            "<|middle|>",
        ],
    ),
    (
        &["tokenizer.ggml.fim_pad_token_id"],
        &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
    ),
    (
        &["tokenizer.ggml.fim_rep_token_id"],
        &[
            "<|fim_repo|>",
            "<|repo_name|>",
            "<fim-repo>",
            "<REPO>",
            "<reponame>",
        ],
    ),
    (&["tokenizer.ggml.fim_sep_token_id"], &["<|file_sep|>"]),
];

/// Token types as llama.cpp holds them after loading: a token with an end-of-generation or an
/// unassigned fill-in-the-middle text becomes a control token whatever its stored type (llama.cpp
/// adds its CONTROL attribute, which then decides both special-token parsing and decoding).
pub(super) fn llama_cpp_types(meta: &Metadata, pieces: &[String], types: &mut [TokenType]) {
    let n = pieces.len();
    for (keys, texts) in FIM_TEXTS {
        let named = keys.iter().any(|k| {
            meta.get(k)
                .and_then(|v| v.as_u64())
                .is_some_and(|id| id < n as u64)
        });
        if named {
            continue;
        }
        if let Some(i) = pieces.iter().position(|p| texts.contains(&p.as_str())) {
            types[i] = TokenType::Control;
        }
    }
    for (piece, ty) in pieces.iter().zip(types.iter_mut()) {
        if EOG_TEXTS.contains(&piece.as_str()) {
            *ty = TokenType::Control;
        }
    }
    let id = |text: &str| pieces.iter().position(|p| p == text);
    // gpt-oss: these are always rendered, so always plain user-defined tokens.
    for text in ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"] {
        if let Some(i) = id(text) {
            types[i] = TokenType::UserDefined;
        }
    }
    // o200k_harmony and solar-open: with their call and return (or flush) tokens, <|end|> ends
    // no generation and is a user-defined token.
    let has = |text: &str| id(text).is_some();
    let has_call = has("<|call|>") || has("<|calls|>");
    if has("<|end|>") && has_call && (has("<|return|>") || has("<|flush|>")) {
        types[id("<|end|>").unwrap_or_default()] = TokenType::UserDefined;
    }
    // Gemma 4 and PLaMo: </s> is a normal token where their own end marker is present.
    let eog_by_id = ["eos", "eot", "eom"].iter().any(|k| {
        meta.get(&format!("tokenizer.ggml.{k}_token_id"))
            .and_then(|v| v.as_u64())
            .and_then(|i| pieces.get(i as usize))
            .is_some_and(|p| p == "<|plamo:eos|>")
    });
    if has("</s>") && (has("<|tool_response>") || eog_by_id) {
        types[id("</s>").unwrap_or_default()] = TokenType::Normal;
    }
}

/// Whether the spaces before (`lstrip`) and after (`rstrip`) a special token in the text go with
/// it: llama.cpp's LSTRIP and RSTRIP attributes, which it sets by model name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Strip {
    pub lstrip: bool,
    pub rstrip: bool,
}

/// The strip attributes of `specials` (llama.cpp's special-token cache) and of the named tokens,
/// as llama.cpp sets them from `general.architecture` and `general.name`: nomic-bert-moe and
/// jina-bert-v3 strip the spaces before `<mask>`; Phi-3 those after every special token but
/// `<unk>`, `<s>` and `<|endoftext|>`; ModernBERT those before `[MASK]`. (Its rule for the
/// jina-v2-de, -es and -code pre-tokenizers concerns vocabularies this engine does not load.)
pub(super) fn strips(
    model_name: &str,
    architecture: &str,
    pieces: &[String],
    specials: &[u32],
) -> HashMap<u32, Strip> {
    let mut out = HashMap::new();
    let name = model_name.to_ascii_lowercase();
    let id = |text: &str| pieces.iter().position(|p| p == text).map(|i| i as u32);
    if architecture.contains("nomic-bert-moe") || architecture.contains("jina-bert-v3") {
        if let Some(i) = id("<mask>") {
            out.entry(i).or_insert(Strip::default()).lstrip = true;
        }
    } else if name.contains("phi-3") || name.contains("phi3") {
        for &s in specials {
            out.entry(s).or_insert(Strip::default()).rstrip = true;
        }
        for (text, on) in [
            ("</s>", true),
            ("<unk>", false),
            ("<s>", false),
            ("<|endoftext|>", false),
        ] {
            if let Some(i) = id(text) {
                out.entry(i).or_insert(Strip::default()).rstrip = on;
            }
        }
    } else if name.contains("modern-bert") {
        if let Some(i) = id("[MASK]") {
            out.entry(i).or_insert(Strip::default()).lstrip = true;
        }
    }
    out
}
