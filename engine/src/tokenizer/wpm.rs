//! WordPiece (`tokenizer.ggml.model = bert`), as llama.cpp's `llm_tokenizer_wpm` runs it.
//!
//! The text is first cut into words (`preprocess`): with `strip_accents` every code point is
//! replaced by the first code point of its canonical decomposition (llama.cpp's
//! `unicode_cpts_normalize_nfd` keeps one code point per code point, so "é" becomes "e" and the
//! accent is gone; Hangul syllables become their leading jamo); whitespace ends a word; NUL,
//! U+FFFD and controls (`\p{C}`) are dropped, and with `strip_accents` so are marks (`\p{M}`);
//! punctuation (`\p{P}`), ASCII symbols and CJK ideographs are one-character words; with
//! `lowercase` every kept code point takes its simple lowercase mapping. Character classes
//! are llama.cpp's Unicode 15.1 tables: `unicode-properties` 0.1.2 for categories,
//! `unicode-normalization` 0.1.23 for decompositions, std's White_Space, and std's lowercase
//! mapping for code points Unicode 15.1 assigns.
//!
//! Each word, with U+2581 in front (the converter writes word-initial pieces with it and drops
//! BERT's "##" from the others), is then covered greedily from the left by the longest token
//! of at most the longest token's byte length; a word with any position no token starts at is
//! one unknown token.

use unicode_normalization::char::decompose_canonical;
use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

use super::{Tokenizer, SPACE};

/// What llama.cpp's WordPiece needs beyond the vocabulary.
#[derive(Debug)]
pub(super) struct Wpm {
    /// `tokenizer.ggml.normalizer.lowercase` (default true).
    pub lowercase: bool,
    /// `tokenizer.ggml.normalizer.strip_accents` (default: as `lowercase`).
    pub strip_accents: bool,
    /// The longest token's length in bytes: no match is looked for beyond it.
    pub max_token_len: usize,
    /// The separator llama.cpp appends with add_special (`tokenizer.ggml.seperator_token_id`,
    /// default 102).
    pub sep: Option<u32>,
}

impl Wpm {
    pub fn new(pieces: &[String], lowercase: bool, strip_accents: bool, sep: Option<u32>) -> Self {
        Wpm {
            lowercase,
            strip_accents,
            max_token_len: pieces.iter().map(String::len).max().unwrap_or(0),
            sep,
        }
    }

    /// llama.cpp's `preprocess`: the words of `text`, never empty.
    pub fn words(&self, text: &str) -> Vec<String> {
        let mut words = vec![String::new()];
        for c in text.chars() {
            let c = if self.strip_accents { first_nfd(c) } else { c };
            if c.is_whitespace() {
                if !words.last().is_some_and(String::is_empty) {
                    words.push(String::new());
                }
                continue;
            }
            let group = category_group(c);
            if c == '\0' || c == '\u{FFFD}' || group == Some(GeneralCategoryGroup::Other) {
                continue;
            }
            if self.strip_accents && group == Some(GeneralCategoryGroup::Mark) {
                continue;
            }
            let s = if self.lowercase { lowercase(c) } else { c };
            let alone = group == Some(GeneralCategoryGroup::Punctuation)
                || (u32::from(c) < 0x7F && group == Some(GeneralCategoryGroup::Symbol))
                || is_chinese_char(c);
            let last = words.last_mut().expect("words is never empty");
            if alone {
                if !last.is_empty() {
                    words.push(String::new());
                }
                let last = words.last_mut().expect("words is never empty");
                last.push(s);
                words.push(String::new());
            } else {
                last.push(s);
            }
        }
        if words.last().is_some_and(String::is_empty) {
            words.pop();
        }
        words
    }
}

impl Tokenizer {
    /// llama.cpp's `llm_tokenizer_wpm_session::tokenize` for one fragment of text.
    pub(super) fn encode_wpm(&self, text: &str, wpm: &Wpm, out: &mut Vec<u32>) {
        for word in wpm.words(text) {
            let word = format!("{SPACE}{word}");
            let n = word.len();
            let start = out.len();
            let mut i = 0;
            while i < n {
                // The longest token at byte i; a slice that cuts a character is no token's text.
                let longest = (i + 1..=n.min(i + wpm.max_token_len + 1))
                    .rev()
                    .find_map(|j| {
                        word.get(i..j)
                            .and_then(|s| self.ids.get(s))
                            .map(|&id| (j, id))
                    });
                match longest {
                    Some((j, id)) => {
                        out.push(id);
                        i = j;
                    }
                    None => {
                        out.truncate(start);
                        break;
                    }
                }
            }
            if out.len() == start {
                // The loader refuses a WordPiece vocabulary without an unknown token.
                out.extend(self.unk);
            }
        }
    }
}

/// The general category group of a code point Unicode 15.1 assigns; None for an unassigned
/// one (llama.cpp's UNDEFINED flag: no category).
fn category_group(c: char) -> Option<GeneralCategoryGroup> {
    match c.general_category() {
        GeneralCategory::Unassigned => None,
        _ => Some(c.general_category_group()),
    }
}

/// llama.cpp's `unicode_cpts_normalize_nfd` for one code point: the first code point of its
/// canonical decomposition (itself when it has none).
pub(super) fn first_nfd(c: char) -> char {
    let mut first = None;
    decompose_canonical(c, |d| {
        first.get_or_insert(d);
    });
    first.unwrap_or(c)
}

/// llama.cpp's `unicode_tolower`: UnicodeData.txt's simple lowercase mapping (Unicode 15.1).
/// Case mappings of assigned code points are stable, so std's (newer) mapping is used for the
/// code points Unicode 15.1 assigns; U+0130, the one code point whose full lowercase mapping
/// is two code points, takes its simple mapping, "i".
pub(super) fn lowercase(c: char) -> char {
    if category_group(c).is_none() {
        return c;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => match c {
            '\u{130}' => 'i',
            _ => c,
        },
    }
}

/// llama.cpp's `is_chinese_char` (with its 0x2B920 where 0x2B820 was meant, as HF's Rust).
fn is_chinese_char(c: char) -> bool {
    matches!(u32::from(c),
        0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B920..=0x2CEAF
        | 0xF900..=0xFAFF
        | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wpm(lowercase: bool, strip_accents: bool) -> Wpm {
        Wpm::new(&[], lowercase, strip_accents, None)
    }

    #[test]
    fn words_split_at_whitespace_punctuation_and_cjk() {
        let w = wpm(true, true);
        assert_eq!(
            w.words("  Hello, WORLD!\tcafé 日本x $5 a\u{200B}b"),
            ["hello", ",", "world", "!", "cafe", "日", "本", "x", "$", "5", "ab"]
        );
        // Non-ASCII symbols stay in their word; controls and NUL vanish.
        assert_eq!(w.words("a€b\u{7}\0c"), ["a€bc"]);
    }

    #[test]
    fn flags_off_keep_case_and_accents() {
        let w = wpm(false, false);
        assert_eq!(w.words("Café e\u{301}"), ["Café", "e\u{301}"]);
        // Lowercase alone still drops marks only when strip_accents is on.
        let w = wpm(true, false);
        assert_eq!(w.words("Ä"), ["ä"]);
    }

    #[test]
    fn nfd_keeps_one_code_point() {
        assert_eq!(first_nfd('é'), 'e');
        assert_eq!(first_nfd('한'), '\u{1112}');
        assert_eq!(first_nfd('a'), 'a');
        assert_eq!(lowercase('\u{130}'), 'i');
        assert_eq!(lowercase('Σ'), 'σ');
        // U+1C89 (Unicode 16) is unassigned in llama.cpp's tables: no mapping.
        assert_eq!(lowercase('\u{1C89}'), '\u{1C89}');
    }
}
