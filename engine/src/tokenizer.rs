//! Tokenizers as llama.cpp runs them, built from GGUF metadata (`tokenizer.ggml.*`).
//!
//! SentencePiece-style (`tokenizer.ggml.model = llama`): spaces become U+2581, a space is
//! prefixed to each text run that starts the input or follows a special token, then the highest
//! scoring adjacent pair present in the vocabulary is merged until none is left (ties go to the
//! leftmost pair); a symbol that is not a token falls back to its bytes as `<0xXX>` tokens.
//! Special tokens in the text are recognised only when asked (`parse_special`), longest first.

use std::collections::{BinaryHeap, HashMap};
use std::path::Path;

use crate::format::gguf::{MetaArray, Metadata};
use crate::format::sentencepiece::SpModel;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenizerError {
    #[error("missing tokenizer metadata: {0}")]
    Missing(&'static str),
    #[error("tokenizer model '{0}' is not supported (supported: llama)")]
    Unsupported(String),
    #[error("bad tokenizer metadata: {0}")]
    Bad(String),
}

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
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
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Normal,
        }
    }
}

#[derive(Debug)]
pub struct Tokenizer {
    pieces: Vec<String>,
    scores: Vec<f32>,
    types: Vec<TokenType>,
    ids: HashMap<String, u32>,
    bytes: [Option<u32>; 256],
    /// Control, user-defined and unknown tokens, longest text first: what special-token parsing
    /// looks for.
    specials: Vec<u32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub unk: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
    add_space_prefix: bool,
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
    add_space_prefix: bool,
}

enum Fragment<'a> {
    Text(&'a str),
    Token(u32),
}

impl Tokenizer {
    pub fn from_gguf(meta: &Metadata) -> Result<Self, TokenizerError> {
        let model = meta
            .get("tokenizer.ggml.model")
            .and_then(|v| v.as_str())
            .ok_or(TokenizerError::Missing("tokenizer.ggml.model"))?;
        if model != "llama" {
            return Err(TokenizerError::Unsupported(model.to_string()));
        }
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
        let types: Vec<TokenType> = match meta
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
        let id = |key: &'static str| meta.get(key).and_then(|v| v.as_u64()).map(|v| v as i64);
        let flag = |key: &str, default: bool| match meta.get(key) {
            Some(crate::format::gguf::MetaValue::Bool(b)) => *b,
            _ => default,
        };
        Self::build(Parts {
            pieces,
            scores,
            types,
            bos: id("tokenizer.ggml.bos_token_id"),
            eos: id("tokenizer.ggml.eos_token_id"),
            unk: id("tokenizer.ggml.unknown_token_id"),
            add_bos: flag("tokenizer.ggml.add_bos_token", true),
            add_eos: flag("tokenizer.ggml.add_eos_token", false),
            add_space_prefix: flag("tokenizer.ggml.add_space_prefix", true),
        })
    }

    /// A HuggingFace directory's `tokenizer.model` (SentencePiece), with BOS/EOS use from
    /// `tokenizer_config.json` where present.
    pub fn from_hf_dir(dir: &Path) -> Result<Self, TokenizerError> {
        let path = dir.join("tokenizer.model");
        let bytes = std::fs::read(&path).map_err(|e| {
            TokenizerError::Bad(format!(
                "{}: {e} (only SentencePiece tokenizer.model is supported)",
                path.display()
            ))
        })?;
        let sp = SpModel::parse(&bytes).map_err(|e| TokenizerError::Bad(e.to_string()))?;
        let config: serde_json::Value = std::fs::read(dir.join("tokenizer_config.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let add = |key: &str, default: bool| config[key].as_bool().unwrap_or(default);
        Self::build(Parts {
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
            add_bos: add("add_bos_token", true),
            add_eos: add("add_eos_token", false),
            add_space_prefix: sp.add_dummy_prefix,
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
        let mut ids = HashMap::with_capacity(n);
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
        Ok(Tokenizer {
            bos: id("BOS", p.bos)?,
            eos: id("EOS", p.eos)?,
            unk: id("UNK", p.unk)?,
            add_bos: p.add_bos,
            add_eos: p.add_eos,
            add_space_prefix: p.add_space_prefix,
            pieces: p.pieces,
            scores: p.scores,
            types: p.types,
            ids,
            bytes,
            specials,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    pub fn piece(&self, id: u32) -> Option<&str> {
        self.pieces.get(id as usize).map(String::as_str)
    }

    /// Token ids for `text`. `add_special` adds BOS/EOS as the vocabulary asks; `parse_special`
    /// turns special-token text such as `<s>` into its token instead of tokenizing the characters.
    pub fn encode(&self, text: &str, add_special: bool, parse_special: bool) -> Vec<u32> {
        let mut out = Vec::new();
        if add_special && self.add_bos {
            out.extend(self.bos);
        }
        let mut prev_special = true;
        for fragment in self.partition(text, parse_special) {
            match fragment {
                Fragment::Text(t) => {
                    let mut s = String::with_capacity(t.len() + 1);
                    if self.add_space_prefix && prev_special {
                        s.push(' ');
                    }
                    s.push_str(t);
                    self.encode_spm(&s.replace(' ', SPACE), &mut out);
                    prev_special = false;
                }
                Fragment::Token(id) => {
                    out.push(id);
                    prev_special = true;
                }
            }
        }
        if add_special && self.add_eos {
            out.extend(self.eos);
        }
        out
    }

    /// Splits `text` around special tokens (user-defined ones always, control and unknown ones
    /// only with `parse_special`), longest token first.
    fn partition<'t>(&self, text: &'t str, parse_special: bool) -> Vec<Fragment<'t>> {
        let mut fragments = if text.is_empty() {
            Vec::new()
        } else {
            vec![Fragment::Text(text)]
        };
        for &id in &self.specials {
            if !parse_special && self.types[id as usize] != TokenType::UserDefined {
                continue;
            }
            let needle = self.pieces[id as usize].as_str();
            let mut next = Vec::with_capacity(fragments.len());
            for f in fragments {
                let Fragment::Text(mut rest) = f else {
                    next.push(f);
                    continue;
                };
                while let Some(at) = rest.find(needle) {
                    if at > 0 {
                        next.push(Fragment::Text(&rest[..at]));
                    }
                    next.push(Fragment::Token(id));
                    rest = &rest[at + needle.len()..];
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            fragments = next;
        }
        fragments
    }

    /// llama.cpp's llm_tokenizer_spm: bigram merges by score, then each final symbol as its token
    /// or its bytes.
    fn encode_spm(&self, text: &str, out: &mut Vec<u32>) {
        #[derive(Clone, Copy)]
        struct Sym {
            start: usize,
            len: usize,
            prev: isize,
            next: isize,
        }
        #[derive(PartialEq)]
        struct Bigram {
            score: f32,
            left: usize,
            right: usize,
            size: usize,
        }
        impl Eq for Bigram {}
        impl Ord for Bigram {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                // Highest score first; on ties the leftmost pair.
                self.score
                    .total_cmp(&o.score)
                    .then_with(|| o.left.cmp(&self.left))
            }
        }
        impl PartialOrd for Bigram {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        let mut syms: Vec<Sym> = text
            .char_indices()
            .enumerate()
            .map(|(i, (start, c))| Sym {
                start,
                len: c.len_utf8(),
                prev: i as isize - 1,
                next: i as isize + 1,
            })
            .collect();
        if let Some(last) = syms.last_mut() {
            last.next = -1;
        }
        let mut queue = BinaryHeap::new();
        let try_add = |left: isize, right: isize, syms: &[Sym], queue: &mut BinaryHeap<Bigram>| {
            if left < 0 || right < 0 {
                return;
            }
            let (l, r) = (syms[left as usize], syms[right as usize]);
            let piece = &text[l.start..r.start + r.len];
            if let Some(&id) = self.ids.get(piece) {
                queue.push(Bigram {
                    score: self.scores[id as usize],
                    left: left as usize,
                    right: right as usize,
                    size: piece.len(),
                });
            }
        };
        for i in 1..syms.len() {
            try_add(i as isize - 1, i as isize, &syms, &mut queue);
        }
        while let Some(b) = queue.pop() {
            let (l, r) = (syms[b.left], syms[b.right]);
            if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
                continue; // one side already merged elsewhere
            }
            syms[b.left].len += r.len;
            syms[b.right].len = 0;
            syms[b.left].next = r.next;
            if r.next >= 0 {
                syms[r.next as usize].prev = b.left as isize;
            }
            let left = syms[b.left];
            try_add(left.prev, b.left as isize, &syms, &mut queue);
            try_add(b.left as isize, left.next, &syms, &mut queue);
        }
        // A merged symbol is a token by construction; a symbol never merged may not be, and
        // then falls back to its bytes (or UNK where the vocabulary has no byte tokens).
        let mut i = if syms.is_empty() { -1 } else { 0 };
        while i >= 0 {
            let s = syms[i as usize];
            let piece = &text[s.start..s.start + s.len];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                None => out.extend(
                    piece
                        .bytes()
                        .filter_map(|b| self.bytes[b as usize].or(self.unk)),
                ),
            }
            i = s.next;
        }
    }

    /// The bytes a token stands for in generated text: U+2581 as a space, `<0xXX>` as its byte,
    /// control tokens as nothing.
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(piece) = self.pieces.get(id as usize) else {
            return Vec::new();
        };
        match self.types[id as usize] {
            TokenType::Control | TokenType::Unused => Vec::new(),
            TokenType::Byte => parse_byte_piece(piece).map(|b| vec![b]).unwrap_or_default(),
            _ => piece.replace(SPACE, " ").into_bytes(),
        }
    }

    /// The text of a token sequence (invalid UTF-8 replaced), without the space prefix the
    /// encoder adds at the start.
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.token_bytes(id)).collect();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match (self.add_space_prefix, text.strip_prefix(' ')) {
            (true, Some(rest)) => rest.to_string(),
            _ => text,
        }
    }
}

/// `<0xAB>` to 0xAB.
fn parse_byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}
