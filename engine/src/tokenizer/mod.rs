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
//!
//! This file holds the tokenizer and its encoding; each file it is built from has a loader of
//! its own: load_gguf.rs (GGUF metadata), load_hf.rs (a HuggingFace directory) and
//! load_sentencepiece.rs (`tokenizer.model`), all through `build`; open.rs picks one by path.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

mod attrs;
mod bpe;
mod detok;
mod keys;
mod load_gguf;
mod load_hf;
mod load_sentencepiece;
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
