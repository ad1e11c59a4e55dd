//! A tokenizer from a HuggingFace directory's files: `tokenizer.model` (read as SentencePiece,
//! load_sentencepiece.rs) or a byte-level BPE `tokenizer.json`, with `tokenizer_config.json`.

use std::path::Path;

use super::bpe::Bpe;
use super::{pre, Kind, Parts, TokenType, Tokenizer, TokenizerError};

impl Tokenizer {
    /// A HuggingFace directory: `tokenizer.model` (SentencePiece) if present, otherwise a
    /// byte-level BPE `tokenizer.json`; BOS/EOS use from `tokenizer_config.json`.
    pub fn from_hf_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let config: serde_json::Value = std::fs::read(dir.join("tokenizer_config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let add = |key: &str, default: bool| config[key].as_bool().unwrap_or(default);
        let path = dir.join("tokenizer.model");
        if path.is_file() {
            let bytes = std::fs::read(&path)
                .map_err(|e| TokenizerError::Bad(format!("{}: {e}", path.display())))?;
            return Self::from_sentencepiece(
                &bytes,
                add("add_bos_token", true),
                add("add_eos_token", false),
            );
        }
        let path = dir.join("tokenizer.json");
        let json: serde_json::Value = std::fs::read(&path)
            .map_err(|e| {
                TokenizerError::Bad(format!(
                    "{}: {e} (a HuggingFace directory needs tokenizer.model or tokenizer.json)",
                    path.display()
                ))
            })
            .and_then(|b| {
                serde_json::from_slice(&b)
                    .map_err(|e| TokenizerError::Bad(format!("{}: {e}", path.display())))
            })?;
        let model = &json["model"];
        if model["type"] != "BPE" || !mentions_byte_level(&json["pre_tokenizer"]) {
            return Err(TokenizerError::Unsupported(format!(
                "tokenizer.json with model {} and pre-tokenizer {} (supported: byte-level BPE)",
                model["type"], json["pre_tokenizer"]["type"]
            )));
        }
        // Only GPT-2's own split (ByteLevel with its regex) is read from tokenizer.json; Llama 3,
        // Qwen2 and the rest put a Split with their own regex before it, and a normalizer would
        // change the text: refused by name rather than split the GPT-2 way (their GGUF files
        // name the pre-tokenizer and run exactly).
        let pre = &json["pre_tokenizer"];
        if pre["type"] != "ByteLevel" || pre["use_regex"] == false || !json["normalizer"].is_null()
        {
            let mut shown = format!("pre_tokenizer {pre}, normalizer {}", json["normalizer"]);
            if let Some(cut) = shown.char_indices().nth(200).map(|(i, _)| i) {
                shown.truncate(cut);
                shown.push_str("...");
            }
            return Err(TokenizerError::Unsupported(format!(
                "tokenizer.json {shown}: only GPT-2's ByteLevel split without a normalizer is \
                 read from HF directories; convert the model to GGUF, whose pre-tokenizer name \
                 realizar runs as llama.cpp does"
            )));
        }
        let vocab = model["vocab"]
            .as_object()
            .ok_or(TokenizerError::Missing("tokenizer.json model.vocab"))?;
        let mut pieces = vec![String::new(); vocab.len()];
        let mut types = vec![TokenType::Normal; vocab.len()];
        let mut place = |text: &str, id: Option<u64>, ty: TokenType| {
            let id = id.map(|i| i as usize).filter(|&i| i < 1 << 24);
            match id {
                Some(i) => {
                    if i >= pieces.len() {
                        pieces.resize(i + 1, String::new());
                        types.resize(i + 1, TokenType::Unused);
                    }
                    pieces[i] = text.to_string();
                    types[i] = ty;
                    Ok(())
                }
                None => Err(TokenizerError::Bad(format!(
                    "token {text:?} has no usable id"
                ))),
            }
        };
        for (text, id) in vocab {
            place(text, id.as_u64(), TokenType::Normal)?;
        }
        for added in json["added_tokens"].as_array().into_iter().flatten() {
            let ty = if added["special"] == true {
                TokenType::Control
            } else {
                TokenType::UserDefined
            };
            place(
                added["content"].as_str().unwrap_or(""),
                added["id"].as_u64(),
                ty,
            )?;
        }
        let merges: Vec<String> = model["merges"]
            .as_array()
            .ok_or(TokenizerError::Missing("tokenizer.json model.merges"))?
            .iter()
            .map(|m| match m {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Array(pair) => pair
                    .iter()
                    .map(|p| p.as_str().unwrap_or(""))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            })
            .collect();
        let special_id = |key: &str| {
            let v = &config[key];
            let text = v.as_str().or_else(|| v["content"].as_str())?;
            pieces.iter().position(|p| p == text).map(|i| i as i64)
        };
        Self::build(Parts {
            model_name: String::new(),
            architecture: String::new(),
            scores: vec![0.0; pieces.len()],
            bos: special_id("bos_token"),
            eos: special_id("eos_token"),
            unk: special_id("unk_token"),
            types,
            add_bos: add("add_bos_token", false),
            add_eos: add("add_eos_token", false),
            // tokenizer.json's ByteLevel pre-tokenizer splits by GPT-2's rule.
            kind: Kind::Bpe(Bpe::new(merges, gpt2_pre()).map_err(TokenizerError::Bad)?),
            pieces,
        })
    }
}

fn gpt2_pre() -> &'static pre::PreTokenizer {
    pre::lookup("gpt-2").expect("the gpt-2 pre-tokenizer has a row")
}

/// Whether a tokenizer.json pre-tokenizer is (or contains) ByteLevel.
fn mentions_byte_level(pre: &serde_json::Value) -> bool {
    pre["type"] == "ByteLevel"
        || pre["pretokenizers"]
            .as_array()
            .is_some_and(|all| all.iter().any(mentions_byte_level))
}
