//! Tokenizers as llama.cpp runs them, built from GGUF metadata (`tokenizer.ggml.*`).
//!
//! SentencePiece-style (`tokenizer.ggml.model = llama`): spaces become U+2581, a space is
//! prefixed to each text run that starts the input or follows a special token, then the highest
//! scoring adjacent pair present in the vocabulary is merged until none is left (ties go to the
//! leftmost pair); a symbol that is not a token falls back to its bytes as `<0xXX>` tokens.
//! Special tokens in the text are recognised only when asked (`parse_special`), longest first.
//!
//! Byte-level BPE (`tokenizer.ggml.model = gpt2`): the vocabulary's pre-tokenizer
//! (`tokenizer.ggml.pre`, one row of [`pre::PRE_TOKENIZERS`]) cuts the text into words, which are
//! merged by rank in GPT-2's byte alphabet (bpe.rs). Gemma 4's BPE (`gemma4`) runs the same merge
//! loop with its own row: spaces as U+2581, words cut only at line feeds and merged as code
//! points, `<0xXX>` tokens for pieces without a token.

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::path::Path;

use crate::format::gguf::{MetaArray, Metadata};
use crate::format::sentencepiece::SpModel;

mod attrs;
mod bpe;
mod detok;
mod keys;
mod open;
pub mod pre;
mod regex;
mod spm;
mod stream;
mod ugm;
mod wpm;

pub use stream::Utf8Stream;

use attrs::Strip;
use bpe::Bpe;
use ugm::Ugm;
use wpm::Wpm;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenizerError {
    #[error("missing tokenizer metadata: {0}")]
    Missing(&'static str),
    #[error("tokenizer model '{0}' is not supported (supported: llama, gpt2, gemma4, bert, t5)")]
    Unsupported(String),
    #[error("gpt2 vocabulary with pre-tokenizer '{0}' is not supported (supported: {1})")]
    UnsupportedPre(String, String),
    #[error("bad tokenizer metadata: {0}")]
    Bad(String),
    /// The path holds no tokenizer realizar reads (what `format::detect` or the reader said).
    #[error("{0}")]
    Open(String),
}

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    /// Type 0 or a type llama.cpp does not know: encodable, but decodes to nothing.
    Undefined,
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

impl TokenType {
    fn from_id(id: i64) -> Self {
        match id {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Undefined,
        }
    }
}

#[derive(Debug)]
pub struct Tokenizer {
    pieces: Vec<String>,
    scores: Vec<f32>,
    types: Vec<TokenType>,
    ids: FxHashMap<String, u32>,
    bytes: [Option<u32>; 256],
    /// Control, user-defined and unknown tokens, longest text first: what special-token parsing
    /// looks for.
    specials: Vec<u32>,
    /// Special tokens that take the spaces before or after them in the text (llama.cpp's LSTRIP
    /// and RSTRIP attributes).
    strips: HashMap<u32, Strip>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    kind: Kind,
}

/// The merging algorithm and what it needs.
#[derive(Debug)]
enum Kind {
    /// SentencePiece-style: merges by piece score; spaces as U+2581.
    Spm { add_space_prefix: bool },
    /// Byte-level BPE: a pre-tokenizer, then merges by rank; bytes as GPT-2's alphabet.
    Bpe(Bpe),
    /// WordPiece (BERT): normalised words covered by their longest tokens (wpm.rs).
    Wpm(Wpm),
    /// Unigram (T5, XLM-R): charsmap normalisation, then the best-scoring segmentation
    /// (ugm.rs).
    Ugm(Ugm),
}

const SPACE: &str = "\u{2581}";

/// What a tokenizer is built from, whichever file it came from.
struct Parts {
    pieces: Vec<String>,
    scores: Vec<f32>,
    types: Vec<TokenType>,
    bos: Option<i64>,
    eos: Option<i64>,
    unk: Option<i64>,
    add_bos: bool,
    add_eos: bool,
    kind: Kind,
    /// `general.name` and `general.architecture`, from which llama.cpp sets some tokens'
    /// strip attributes.
    model_name: String,
    architecture: String,
}

enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

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

    /// A SentencePiece `tokenizer.model` file's bytes.
    pub fn from_sentencepiece(
        bytes: &[u8],
        add_bos: bool,
        add_eos: bool,
    ) -> Result<Self, TokenizerError> {
        let sp = SpModel::parse(bytes).map_err(|e| TokenizerError::Bad(e.to_string()))?;
        Self::build(Parts {
            model_name: String::new(),
            architecture: String::new(),
            scores: sp.pieces.iter().map(|p| p.1).collect(),
            types: sp
                .pieces
                .iter()
                .map(|p| TokenType::from_id(p.2.into()))
                .collect(),
            pieces: sp.pieces.into_iter().map(|p| p.0).collect(),
            bos: Some(sp.bos_id),
            eos: Some(sp.eos_id),
            unk: Some(sp.unk_id),
            add_bos,
            add_eos,
            kind: Kind::Spm {
                add_space_prefix: sp.add_dummy_prefix,
            },
        })
    }

    fn build(p: Parts) -> Result<Self, TokenizerError> {
        let n = p.pieces.len();
        if p.scores.len() != n || p.types.len() != n {
            return Err(TokenizerError::Bad(format!(
                "{n} tokens but {} scores and {} types",
                p.scores.len(),
                p.types.len()
            )));
        }
        // Negative ids mean "none" (SentencePiece's -1); others must name a token.
        let id = |what: &str, v: Option<i64>| match v {
            Some(v) if v >= 0 && (v as usize) < n => Ok(Some(v as u32)),
            Some(v) if v < 0 => Ok(None),
            Some(v) => Err(TokenizerError::Bad(format!(
                "{what} id {v} but there are {n} tokens"
            ))),
            None => Ok(None),
        };
        let mut ids = FxHashMap::with_capacity_and_hasher(n, Default::default());
        let mut bytes = [None; 256];
        for (i, (piece, ty)) in p.pieces.iter().zip(&p.types).enumerate() {
            // The first of duplicate texts wins, as in llama.cpp's token_to_id map.
            ids.entry(piece.clone()).or_insert(i as u32);
            if *ty == TokenType::Byte {
                if let Some(b) = parse_byte_piece(piece) {
                    bytes[b as usize] = Some(i as u32);
                }
            }
        }
        let mut specials: Vec<u32> = (0..n as u32)
            .filter(|&i| {
                matches!(
                    p.types[i as usize],
                    TokenType::Control | TokenType::UserDefined | TokenType::Unknown
                ) && !p.pieces[i as usize].is_empty()
            })
            .collect();
        specials.sort_by_key(|&i| std::cmp::Reverse(p.pieces[i as usize].len()));
        let strips = attrs::strips(&p.model_name, &p.architecture, &p.pieces, &specials);
        Ok(Tokenizer {
            bos: id("BOS", p.bos)?,
            eos: id("EOS", p.eos)?,
            unk: id("UNK", p.unk)?,
            add_bos: p.add_bos,
            add_eos: p.add_eos,
            kind: p.kind,
            pieces: p.pieces,
            scores: p.scores,
            types: p.types,
            ids,
            bytes,
            specials,
            strips,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// The id of the token whose text is `piece`.
    pub fn id(&self, piece: &str) -> Option<u32> {
        self.ids.get(piece).copied()
    }

    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// A byte-level BPE vocabulary's pre-tokenizer; None for SentencePiece-style ones.
    pub fn pre_tokenizer(&self) -> Option<&'static pre::PreTokenizer> {
        match &self.kind {
            Kind::Bpe(bpe) => Some(bpe.splitter.pre),
            _ => None,
        }
    }

    /// The rank of the merge of `left` and `right` (texts in the byte alphabet) in a byte-level
    /// BPE vocabulary: lower merges first.
    pub fn merge_rank(&self, left: &str, right: &str) -> Option<u32> {
        match &self.kind {
            Kind::Bpe(bpe) => bpe.ranks.get(&format!("{left} {right}")).copied(),
            _ => None,
        }
    }

    /// Token ids for `text`. `add_special` adds BOS/EOS as the vocabulary asks (WordPiece:
    /// BOS, BERT's CLS, and SEP, whatever the flags say, as llama.cpp); `parse_special` turns
    /// special-token text such as `<s>` into its token instead of tokenizing the characters.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        let wpm = match &self.kind {
            Kind::Wpm(wpm) => Some(wpm),
            _ => None,
        };
        if add_special && (self.add_bos || wpm.is_some()) {
            out.extend(self.bos);
        }
        let mut prev_special = true;
        for fragment in self.partition(text, parse_special) {
            match fragment {
                Fragment::Text(t) => {
                    match &self.kind {
                        Kind::Spm { add_space_prefix } => {
                            let mut s = String::with_capacity(t.len() + 1);
                            let drop = crate::faults::is(crate::faults::Fault::DropSpacePrefix);
                            if *add_space_prefix && prev_special && !drop {
                                s.push(' ');
                            }
                            s.push_str(t);
                            self.encode_spm(&s.replace(' ', SPACE), &mut out);
                        }
                        Kind::Bpe(bpe) => self.encode_bpe(t, bpe, &mut out),
                        Kind::Wpm(wpm) => self.encode_wpm(t, wpm, &mut out),
                        Kind::Ugm(ugm) => self.encode_ugm(t, ugm, &mut out),
                    }
                    prev_special = false;
                }
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
            }
        }
        match wpm {
            Some(wpm) if add_special => out.extend(wpm.sep),
            _ if add_special && self.add_eos => out.extend(self.eos),
            _ => {}
        }
        out
    }

    /// Splits `text` around special tokens (user-defined ones always, control and unknown ones
    /// only with `parse_special`), longest token first, as llama.cpp's `tokenizer_st_partition`:
    /// a token with a strip attribute takes the spaces before or after it.
    fn partition<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        let mut fragments = if text.is_empty() {
            Vec::new()
        } else {
            vec![Fragment::Text(text)]
        };
        for &id in &self.specials {
            let control_anyway =
                crate::faults::is(crate::faults::Fault::ControlWithoutParseSpecial);
            if !parse_special
                && !control_anyway
                && self.types[id as usize] != TokenType::UserDefined
            {
                continue;
            }
            let needle = self.pieces[id as usize].as_str();
            let mut next = Vec::with_capacity(fragments.len());
            for f in fragments {
                let Fragment::Text(mut rest) = f else {
                    next.push(f);
                    continue;
                };
                let strip = self.strips.get(&id).copied().unwrap_or_default();
                while let Some(at) = rest.find(needle) {
                    let mut left = &rest[..at];
                    if strip.lstrip {
                        left = left.trim_end_matches(c_space);
                    }
                    if !left.is_empty() {
                        next.push(Fragment::Text(left));
                    }
                    next.push(Fragment::Token(id));
                    rest = &rest[at + needle.len()..];
                    if strip.rstrip {
                        rest = rest.trim_start_matches(c_space);
                    }
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            fragments = next;
        }
        fragments
    }

    /// The bytes a token stands for in generated text: llama.cpp's `token_to_piece` without
    /// `special` ([`Tokenizer::token_to_piece`]): a normal token's text (U+2581 as a space, or
    /// the byte-level alphabet as its bytes), a user-defined token's text as it is, a byte
    /// token's byte, and nothing for control, unknown, unused and undefined tokens.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        self.token_to_piece(id, false)
    }
}

/// C's `isspace`, which llama.cpp strips around special tokens with.
fn c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r')
}

/// `<0xAB>` to 0xAB.
fn parse_byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
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
