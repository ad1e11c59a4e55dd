//! A tokenizer from a GGUF's `tokenizer.ggml.*` metadata, with llama.cpp's defaults for what the
//! file leaves out.

use super::bpe::Bpe;
use super::ugm::Ugm;
use super::wpm::Wpm;
use super::{attrs, keys, pre, Kind, Parts, TokenType, Tokenizer, TokenizerError};
use crate::format::gguf::{MetaArray, Metadata};

impl Tokenizer {
    pub fn from_gguf(meta: &Metadata) -> Result<Self, TokenizerError> {
        keys::check(meta)?;
        let flag = |key: &str, default: bool| keys::flag(meta, key, default);
        let model = meta
            .get("tokenizer.ggml.model")
            .and_then(|v| v.as_str())
            .ok_or(TokenizerError::Missing("tokenizer.ggml.model"))?;
        let pieces: Vec<String> = match meta.get("tokenizer.ggml.tokens").and_then(|v| v.as_array())
        {
            Some(MetaArray::String(v)) => v.clone(),
            _ => return Err(TokenizerError::Missing("tokenizer.ggml.tokens")),
        };
        let n = pieces.len();
        let scores: Vec<f32> = match meta.get("tokenizer.ggml.scores").and_then(|v| v.as_array()) {
            Some(MetaArray::F32(v)) => v.clone(),
            None => vec![0.0; n],
            Some(other) => {
                return Err(TokenizerError::Bad(format!(
                    "scores of type {:?}",
                    other.element_type()
                )))
            }
        };
        let mut types: Vec<TokenType> = match meta
            .get("tokenizer.ggml.token_type")
            .and_then(|v| v.as_array())
        {
            Some(MetaArray::I32(v)) => v.iter().map(|&t| TokenType::from_id(t.into())).collect(),
            None => vec![TokenType::Normal; n],
            Some(other) => {
                return Err(TokenizerError::Bad(format!(
                    "token types of type {:?}",
                    other.element_type()
                )))
            }
        };
        if scores.len() != n || types.len() != n {
            return Err(TokenizerError::Bad(format!(
                "{n} tokens but {} scores and {} types",
                scores.len(),
                types.len()
            )));
        }
        let stored = types.clone();
        attrs::llama_cpp_types(meta, &pieces, &mut types);
        // A special token the file names, else llama.cpp's default for the model when the
        // vocabulary has that id (as its loader, which drops an out-of-range default).
        let id = |key: &'static str, default: Option<i64>| {
            meta.get(key)
                .and_then(|v| v.as_u64())
                .map(|v| v as i64)
                .or(default.filter(|&d| d < n as i64))
        };
        let (bos, eos, unk) = match model {
            "llama" => (Some(1), Some(2), Some(0)),
            "bert" => (Some(101), None, Some(100)),
            "gpt2" => (Some(11), Some(11), None),
            "t5" => (None, Some(1), Some(2)),
            _ => (None, None, None),
        };
        let (bos, eos, unk) = (
            id("tokenizer.ggml.bos_token_id", bos),
            id("tokenizer.ggml.eos_token_id", eos),
            id("tokenizer.ggml.unknown_token_id", unk),
        );
        let checked = |what: &str, v: Option<i64>| match v {
            Some(v) if (0..n as i64).contains(&v) => Ok(v as u32),
            Some(v) => Err(TokenizerError::Bad(format!(
                "{what} id {v} but there are {n} tokens"
            ))),
            None => Err(TokenizerError::Bad(format!(
                "a {model} vocabulary needs an unknown token (tokenizer.ggml.unknown_token_id)"
            ))),
        };
        // The add_bos/add_eos defaults by model, as llama.cpp's loader sets them before it
        // reads the file's keys.
        let (mut add_bos, mut add_eos) = (false, false);
        let kind = match model {
            "llama" => {
                add_bos = true;
                Kind::Spm {
                    add_space_prefix: flag("tokenizer.ggml.add_space_prefix", true)?,
                }
            }
            "gpt2" | "gemma4" => {
                // llama.cpp gives a "gemma4" vocabulary Gemma 4's pre-tokenizer whatever the
                // file names, and a missing value its "default" one.
                let name = match model {
                    "gemma4" => "gemma4",
                    _ => meta
                        .get("tokenizer.ggml.pre")
                        .and_then(|v| v.as_str())
                        .unwrap_or("default"),
                };
                let Some(pre) = pre::lookup(name) else {
                    return Err(TokenizerError::UnsupportedPre(
                        name.to_string(),
                        pre::supported().join(", "),
                    ));
                };
                let merges = match meta.get("tokenizer.ggml.merges").and_then(|v| v.as_array()) {
                    Some(MetaArray::String(m)) => m.clone(),
                    _ => return Err(TokenizerError::Missing("tokenizer.ggml.merges")),
                };
                add_bos = pre.add_bos != pre::AddBos::AsFileSays;
                Kind::Bpe(Bpe::new(merges, pre).map_err(TokenizerError::Bad)?)
            }
            "bert" => {
                checked("UNK", unk)?;
                add_bos = true;
                let lowercase = flag("tokenizer.ggml.normalizer.lowercase", true)?;
                let sep = id("tokenizer.ggml.seperator_token_id", Some(102))
                    .map(|v| checked("SEP", Some(v)))
                    .transpose()?;
                Kind::Wpm(Wpm::new(
                    &pieces,
                    lowercase,
                    flag("tokenizer.ggml.normalizer.strip_accents", lowercase)?,
                    sep,
                ))
            }
            "t5" => {
                checked("UNK", unk)?;
                add_eos = true;
                let charsmap = match meta.get("tokenizer.ggml.precompiled_charsmap") {
                    None => None,
                    Some(v) => match v.as_array() {
                        Some(MetaArray::U8(b)) => Some(b.clone()),
                        Some(MetaArray::I8(b)) => Some(b.iter().map(|&x| x as u8).collect()),
                        _ => {
                            return Err(TokenizerError::Bad(format!(
                                "tokenizer.ggml.precompiled_charsmap is {:?}, not bytes",
                                v.value_type()
                            )))
                        }
                    },
                };
                Kind::Ugm(
                    Ugm::new(
                        &pieces,
                        &scores,
                        &stored,
                        &types,
                        charsmap.as_deref(),
                        flag("tokenizer.ggml.add_space_prefix", false)?,
                        flag("tokenizer.ggml.remove_extra_whitespaces", false)?,
                    )
                    .map_err(TokenizerError::Bad)?,
                )
            }
            other => return Err(TokenizerError::Unsupported(other.to_string())),
        };
        // Gemma 4's BOS whatever the file says; WordPiece adds CLS and SEP with add_special
        // whatever these flags say (see `encode`).
        let bos_always =
            matches!(&kind, Kind::Bpe(b) if b.splitter.pre.add_bos == pre::AddBos::Always);
        if !bos_always {
            add_bos = flag("tokenizer.ggml.add_bos_token", add_bos)?;
        }
        add_eos = flag("tokenizer.ggml.add_eos_token", add_eos)?;
        Self::build(Parts {
            model_name: meta
                .get("general.name")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            architecture: meta
                .get("general.architecture")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            pieces,
            scores,
            types,
            bos,
            eos,
            unk,
            add_bos,
            add_eos,
            kind,
        })
    }
}
