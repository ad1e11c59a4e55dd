//! Detokenization as llama.cpp's `llama_vocab::impl::detokenize` and `token_to_piece` do it
//! (src/llama-vocab.cpp), byte for byte:
//!
//! - each token's piece by its type: a normal token's text with U+2581 as a space
//!   (SentencePiece, WordPiece, Unigram, and BPE vocabularies that escape whitespace such as
//!   Gemma 4's) or its GPT-2 byte-alphabet characters as their bytes (byte-level BPE); a byte
//!   token's byte, read from its `<0xXX>` text; a user-defined token's text as it is; a control
//!   or unknown token's text as it is only with `unparse_special`, else nothing; unused and
//!   undefined tokens nothing. A token whose text is empty reads `[EMPTY_<id>]`, the text
//!   llama.cpp gives it when it loads the vocabulary.
//! - where the vocabulary adds a space prefix when encoding (SentencePiece by default), the
//!   first token's piece loses one leading space, whatever its type, and only the first token's:
//!   a control token that prints nothing still uses the rule up.
//! - `remove_special` drops a leading BOS (and then no space is removed) and a trailing EOS, where
//!   the vocabulary adds them.
//! - where llama.cpp sets `clean_spaces` (WordPiece, and byte-level BPE but for the
//!   pre-tokenizers that turn it off), three passes over the bytes: a space goes before `?`, `!`,
//!   `.` and `,`; a lone `'` between spaces takes both spaces; a space goes before `'s`, `'m`,
//!   `'re` and `'ve` (not before `'t`, `'d` or `'ll`).
//!
//! llama.cpp's detokenization is not the inverse of its tokenization (the clean-up changes text,
//! and a BOS in front keeps the space prefix): [`Tokenizer::decode`] is the inverse, built from
//! the same pieces.

use std::borrow::Cow;

use super::{bpe, Kind, TokenType, Tokenizer, SPACE};
use crate::faults::{self, Fault};

impl Tokenizer {
    /// The bytes llama.cpp's `llama_detokenize(ids, remove_special, unparse_special)` writes for
    /// these ids (common_detokenize passes remove_special = false). Ids outside the vocabulary
    /// give nothing (llama.cpp throws on them).
    pub fn detokenize(&self, ids: &[u32], remove_special: bool, unparse_special: bool) -> Vec<u8> {
        let mut ids = ids;
        let mut remove_space = self.add_space_prefix();
        if remove_special && self.add_bos && ids.first().is_some_and(|&t| Some(t) == self.bos) {
            remove_space = false;
            ids = &ids[1..];
        }
        if remove_special && self.add_eos && ids.last().is_some_and(|&t| Some(t) == self.eos) {
            ids = &ids[..ids.len() - 1];
        }
        self.render(ids, unparse_special, remove_space, self.clean_spaces())
    }

    /// The bytes llama.cpp's `token_to_piece(id, lstrip = 0, special)` gives one token: see the
    /// module's documentation. `special` prints control and unknown tokens.
    pub fn token_to_piece(&self, id: u32, special: bool) -> Vec<u8> {
        let Some(piece) = self.pieces.get(id as usize) else {
            return Vec::new();
        };
        let text: Cow<str> = if piece.is_empty() {
            Cow::Owned(format!("[EMPTY_{id}]"))
        } else {
            Cow::Borrowed(piece)
        };
        match self.types[id as usize] {
            TokenType::Control | TokenType::Unknown if !special => Vec::new(),
            TokenType::Control | TokenType::Unknown | TokenType::UserDefined => {
                text.as_bytes().to_vec()
            }
            TokenType::Unused | TokenType::Undefined => Vec::new(),
            TokenType::Byte if faults::is(Fault::BytePieceAsText) => text.as_bytes().to_vec(),
            TokenType::Byte => vec![byte_of(&text)],
            TokenType::Normal => match &self.kind {
                Kind::Bpe(b) if !b.splitter.pre.escape_whitespaces => bpe::decode_piece(&text),
                _ => text.replace(SPACE, " ").into_bytes(),
            },
        }
    }

    /// The text of a token sequence, the inverse of [`Tokenizer::encode`]: llama.cpp's pieces
    /// (without `unparse_special`) and its rule that the first token loses the space the
    /// encoder prefixed, applied after a leading BOS; without llama.cpp's clean-up passes,
    /// which change the text. Invalid UTF-8 is replaced. [`Tokenizer::detokenize`] is llama.cpp's
    /// exact output.
    pub fn decode(&self, ids: &[u32]) -> String {
        let ids = match ids.split_first() {
            Some((&first, rest)) if Some(first) == self.bos => rest,
            _ => ids,
        };
        let bytes = self.render(ids, false, self.add_space_prefix(), false);
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// llama.cpp's detokenize loop: each piece, the first without one leading space when
    /// `remove_space`, then the clean-up passes when `clean`.
    fn render(&self, ids: &[u32], special: bool, remove_space: bool, clean: bool) -> Vec<u8> {
        let mut text = Vec::with_capacity(ids.len() * 4);
        let mut remove_space = remove_space && !faults::is(Fault::KeepSpacePrefix);
        for &id in ids {
            let piece = self.token_to_piece(id, special);
            let skip = usize::from(remove_space && piece.first() == Some(&b' '));
            text.extend_from_slice(&piece[skip..]);
            remove_space = false;
        }
        if clean {
            clean_spaces(&mut text);
        }
        text
    }

    /// llama.cpp's `add_space_prefix` as its detokenizer reads it: the file's
    /// `tokenizer.ggml.add_space_prefix`, by default true for SentencePiece and false for the
    /// others. (llama.cpp reads the key for byte-level BPE and WordPiece vocabularies too; none
    /// of theirs sets it true, and the engine keeps it only for SentencePiece and Unigram.)
    fn add_space_prefix(&self) -> bool {
        match &self.kind {
            Kind::Spm { add_space_prefix } => *add_space_prefix,
            Kind::Ugm(u) => u.add_space_prefix,
            Kind::Bpe(_) | Kind::Wpm(_) => false,
        }
    }

    /// llama.cpp's `clean_spaces`: on for WordPiece and for byte-level BPE as its pre-tokenizer
    /// says, off for SentencePiece and Unigram.
    fn clean_spaces(&self) -> bool {
        match &self.kind {
            Kind::Bpe(b) => b.splitter.pre.clean_spaces,
            Kind::Wpm(_) => true,
            Kind::Spm { .. } | Kind::Ugm(_) => false,
        }
    }
}

/// A byte token's byte as llama.cpp's `token_to_byte` reads it: `strtol` in base 16 of the two
/// bytes after the first three (`<0x41>` gives 0x41), cast to a byte; leading C whitespace and a
/// sign are taken, parsing stops at the first byte that is no hex digit, and nothing parsed is 0.
fn byte_of(text: &str) -> u8 {
    let b = text.as_bytes();
    let field = &b[b.len().min(3)..b.len().min(5)];
    let mut i = 0;
    while i < field.len() && matches!(field[i], b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r') {
        i += 1;
    }
    let negative = field.get(i) == Some(&b'-');
    if matches!(field.get(i), Some(b'-' | b'+')) {
        i += 1;
    }
    let mut value: i64 = 0;
    while let Some(d) = field.get(i).and_then(|&c| (c as char).to_digit(16)) {
        value = value * 16 + i64::from(d);
        i += 1;
    }
    (if negative { -value } else { value }) as u8
}

/// llama.cpp's three `clean_spaces` passes, in place over the bytes as its C loops run them
/// (each pass reads what the previous one left; the second blanks the space after a lone `'`,
/// so that space cannot also count as the one before a next `'`).
pub(super) fn clean_spaces(text: &mut Vec<u8>) {
    // " ?", " !", " .", " ,": the space goes.
    let n = text.len();
    let mut total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            total -= 1;
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
    // " ' ": both spaces go.
    let n = text.len();
    let mut total = usize::from(n > 0);
    let mut i = 1;
    while i < n {
        let x = text[i];
        if x == b'\'' && i + 1 < n && text[i - 1] == b' ' && text[i + 1] == b' ' {
            total -= 1;
            i += 1;
            text[i] = 0;
        }
        text[total] = x;
        total += 1;
        i += 1;
    }
    text.truncate(total);
    // " 's", " 'm", " 're", " 've": the space goes; " 't", " 'd", " 'll" keep it.
    let n = text.len();
    let mut total = usize::from(n > 0);
    for i in 1..n {
        let x = text[i];
        if text[i - 1] == b' ' && x == b'\'' && i + 1 < n {
            let x1 = text[i + 1];
            if x1 == b's' || x1 == b'm' {
                total -= 1;
            } else if x1 != b't' && x1 != b'd' && i + 2 < n {
                let x2 = text[i + 2];
                if (x1 == b'r' || x1 == b'v') && x2 == b'e' {
                    total -= 1;
                }
            }
        }
        text[total] = x;
        total += 1;
    }
    text.truncate(total);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cleaned(s: &str) -> String {
        let mut b = s.as_bytes().to_vec();
        clean_spaces(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn clean_spaces_runs_llama_cpps_three_passes() {
        assert_eq!(cleaned("Hi , you . Ok ? Yes !"), "Hi, you. Ok? Yes!");
        assert_eq!(cleaned("rock ' n ' roll"), "rock'n'roll");
        assert_eq!(cleaned("it 's I 'm we 're I 've"), "it's I'm we're I've");
        assert_eq!(cleaned("don 't I 'd we 'll"), "don 't I 'd we 'll");
        // The space may be the first byte; a lone ' at the end keeps its space.
        assert_eq!(cleaned(" ,a '"), ",a '");
        // A lone ' takes the space after it, which then no longer stands before the next ':
        // llama.cpp blanks it in place.
        assert_eq!(cleaned("a ' ' b"), "a'' b");
        assert_eq!(cleaned(""), "");
    }

    #[test]
    fn byte_tokens_read_as_strtol_reads_them() {
        assert_eq!(byte_of("<0x41>"), 0x41);
        assert_eq!(byte_of("<0xfF>"), 0xFF);
        assert_eq!(byte_of("<0x4>"), 0x4);
        assert_eq!(byte_of("<0x-1>"), 0xFF);
        assert_eq!(byte_of("<0x 7>"), 0x7);
        assert_eq!(byte_of("<0xZZ>"), 0);
        assert_eq!(byte_of("<0"), 0);
    }
}
