//! The `tokenizer.ggml.*` keys of a GGUF file: each one the loader reads, or one llama.cpp
//! defines that changes no token id (or none for this vocabulary's model). Any other key under
//! `tokenizer.ggml.` is refused by name: a key this engine does not know may change ids.

use crate::format::gguf::{MetaValue, Metadata};

use super::TokenizerError;

/// Keys read by [`super::Tokenizer::from_gguf`] (or by attrs.rs, which sets token types and
/// strip attributes as llama.cpp does).
const READ: [&str; 28] = [
    "tokenizer.ggml.model",
    "tokenizer.ggml.pre",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.scores",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
    "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id",
    "tokenizer.ggml.add_bos_token",
    "tokenizer.ggml.add_eos_token",
    "tokenizer.ggml.add_space_prefix",
    "tokenizer.ggml.remove_extra_whitespaces",
    "tokenizer.ggml.precompiled_charsmap",
    "tokenizer.ggml.normalizer.lowercase",
    "tokenizer.ggml.normalizer.strip_accents",
    // attrs.rs: named end-of-turn tokens decide Gemma 4's and PLaMo's </s>; named
    // fill-in-the-middle tokens keep llama.cpp from making others control tokens by text.
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
    "tokenizer.ggml.fim_pre_token_id",
    "tokenizer.ggml.fim_suf_token_id",
    "tokenizer.ggml.fim_mid_token_id",
    "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id",
    "tokenizer.ggml.fim_sep_token_id",
    "tokenizer.ggml.prefix_token_id",
    "tokenizer.ggml.suffix_token_id",
    "tokenizer.ggml.middle_token_id",
];

/// Keys llama.cpp defines whose value changes no token id: what its tokenizer never reads
/// while tokenizing.
const NO_EFFECT: [(&str, &str); 6] = [
    (
        "tokenizer.ggml.token_type_count",
        "the size of BERT's token-type embedding, a model weight",
    ),
    (
        "tokenizer.ggml.padding_token_id",
        "padding of batches, which tokenizing never adds",
    ),
    (
        "tokenizer.ggml.cls_token_id",
        "not read by llama.cpp's vocabulary (its BOS is BERT's CLS)",
    ),
    (
        "tokenizer.ggml.mask_token_id",
        "masked-LM training; strip attributes go by the token's text",
    ),
    (
        "tokenizer.ggml.add_sep_token",
        "read only by llama.cpp's embedding and reranking callers, not by tokenize",
    ),
    (
        "tokenizer.ggml.suppress_tokens",
        "sampling: tokens never generated",
    ),
];

/// Refuses a `tokenizer.ggml.*` key that is neither read nor known to change no id, and a
/// flag key that is no bool.
pub(super) fn check(meta: &Metadata) -> Result<(), TokenizerError> {
    for (key, _) in meta.iter() {
        if !key.starts_with("tokenizer.ggml.") {
            continue;
        }
        if !READ.contains(&key) && !NO_EFFECT.iter().any(|(k, _)| *k == key) {
            return Err(TokenizerError::Bad(format!(
                "unknown key {key} (its value could change the ids; realizar reads none it \
                 does not know)"
            )));
        }
    }
    Ok(())
}

/// A bool key, its default when absent; another type is refused.
pub(super) fn flag(meta: &Metadata, key: &str, default: bool) -> Result<bool, TokenizerError> {
    match meta.get(key) {
        None => Ok(default),
        Some(MetaValue::Bool(b)) => Ok(*b),
        Some(other) => Err(TokenizerError::Bad(format!(
            "{key} is {:?}, not a bool",
            other.value_type()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_and_no_effect_keys_are_disjoint() {
        for (k, _) in NO_EFFECT {
            assert!(!READ.contains(&k), "{k}");
        }
    }
}
