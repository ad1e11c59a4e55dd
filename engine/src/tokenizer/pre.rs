//! Pre-tokenizers of byte-level BPE vocabularies: how llama.cpp cuts text into words before any
//! merge, chosen by `tokenizer.ggml.pre`. Each is a row of [`PRE_TOKENIZERS`]: the names that
//! select it, the split rule and the vocabulary flags that go with it, as llama.cpp's
//! `llama_vocab::impl::load` sets them. The split rules are llama.cpp's hand-written versions of
//! the regular expressions (`unicode_regex_split_custom_*` in unicode.cpp); their character
//! classes come from the `unicode-properties` crate's general categories and std's White_Space.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// One pre-tokenizer, as llama.cpp configures it for a `tokenizer.ggml.pre` value.
#[derive(Debug)]
pub struct PreTokenizer {
    /// The `tokenizer.ggml.pre` values that select it (llama.cpp's names).
    pub names: &'static [&'static str],
    pub split: Split,
    /// llama.cpp's `ignore_merges`: a word that is itself a token is that token, without merges.
    pub ignore_merges: bool,
}

/// How text is cut into words: llama.cpp's custom splitters, one per regular expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`:
    /// `unicode_regex_split_custom_gpt2`.
    Gpt2,
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: Llama 3's rule,
    /// `unicode_regex_split_custom_llama3` (3 digits), and Qwen2's, `..._qwen2` (1 digit).
    Llama3 { max_digits: usize },
}

/// Every pre-tokenizer this engine runs. A `tokenizer.ggml.pre` value not listed here is refused:
/// a pre-tokenizer that splits differently gives different ids. Rows hold only names whose
/// vocabulary llama.cpp loads with no other special treatment (no SEP token, no per-token
/// strip attributes, no BOS override).
pub const PRE_TOKENIZERS: [PreTokenizer; 4] = [
    PreTokenizer {
        names: &[
            "gpt-2",
            "phi-2",
            "gigachat",
            "a.x-4.0",
            "mellum",
            "exaone4",
            "mpt",
            "olmo",
            "jais",
            "trillion",
            "granite-docling",
        ],
        split: Split::Gpt2,
        ignore_merges: false,
    },
    PreTokenizer {
        names: &[
            "llama3",
            "llama-v3",
            "llama-bpe",
            "falcon3",
            "falcon-h1",
            "pixtral",
            "midm-2.0",
            "lfm2",
            "jina-v5-nano",
        ],
        split: Split::Llama3 { max_digits: 3 },
        ignore_merges: true,
    },
    PreTokenizer {
        names: &["dbrx", "smaug-bpe"],
        split: Split::Llama3 { max_digits: 3 },
        ignore_merges: false,
    },
    PreTokenizer {
        names: &[
            "qwen2",
            "deepseek-r1-qwen",
            "kormo",
            "f2llmv2",
            "megrez",
            "stablelm2",
            "grok-2",
        ],
        split: Split::Llama3 { max_digits: 1 },
        ignore_merges: false,
    },
];

/// The pre-tokenizer llama.cpp runs for a `tokenizer.ggml.pre` value.
pub fn lookup(name: &str) -> Option<&'static PreTokenizer> {
    PRE_TOKENIZERS.iter().find(|p| p.names.contains(&name))
}

/// Every name [`lookup`] accepts, for error messages.
pub fn supported() -> Vec<&'static str> {
    PRE_TOKENIZERS
        .iter()
        .flat_map(|p| p.names.iter().copied())
        .collect()
}

impl PreTokenizer {
    /// The words of `text`, in order; they concatenate to `text`.
    pub fn split<'t>(&self, text: &'t str) -> Vec<&'t str> {
        match self.split {
            Split::Gpt2 => split_gpt2(text),
            Split::Llama3 { max_digits } => {
                let fault = crate::faults::is(crate::faults::Fault::SingleDigitGroups);
                split_llama3(text, if fault { 1 } else { max_digits })
            }
        }
    }
}

/// What llama.cpp's `unicode_cpt_flags` says of a position, as far as these rules ask:
/// whitespace (its `\s`, the Unicode White_Space set), letter, number, anything else in the text
/// (`Other`: marks, punctuation, symbols, controls, and unassigned code points, which carry the
/// non-zero UNDEFINED flag), or past the end of the text (`End`, the all-zero flags of an
/// out-of-range position).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Space,
    Letter,
    Number,
    Other,
    End,
}

fn class(c: Option<char>) -> Class {
    let Some(c) = c else { return Class::End };
    // White_Space code points are Zs, Zl, Zp or Cc: never letters or numbers.
    if c.is_whitespace() {
        return Class::Space;
    }
    match c.general_category_group() {
        GeneralCategoryGroup::Letter => Class::Letter,
        GeneralCategoryGroup::Number => Class::Number,
        _ => Class::Other,
    }
}

/// The text as code points with byte offsets, and the words found so far: the cursor machinery
/// every llama.cpp splitter shares (`_get_cpt`, `_get_flags`, `_add_token`).
struct Cursor<'t> {
    text: &'t str,
    chars: Vec<(usize, char)>,
    words: Vec<&'t str>,
    prev_end: usize,
}

impl<'t> Cursor<'t> {
    fn new(text: &'t str) -> Self {
        Cursor {
            text,
            chars: text.char_indices().collect(),
            words: Vec::new(),
            prev_end: 0,
        }
    }

    fn len(&self) -> usize {
        self.chars.len()
    }

    fn cpt(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).map(|&(_, c)| c)
    }

    fn class(&self, pos: usize) -> Class {
        class(self.cpt(pos))
    }

    fn offset(&self, pos: usize) -> usize {
        self.chars.get(pos).map_or(self.text.len(), |&(o, _)| o)
    }

    /// Ends the current word at code point `end`; an empty word is not kept.
    fn add(&mut self, end: usize) {
        if end > self.prev_end {
            let (a, b) = (self.offset(self.prev_end), self.offset(end));
            self.words.push(&self.text[a..b]);
        }
        self.prev_end = end;
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d` at `pos`: the contraction's length in code points.
    /// `fold` compares case-insensitively: llama.cpp's `unicode_tolower`, which maps no code
    /// point outside ASCII onto these letters, so ASCII folding is the same.
    fn contraction(&self, pos: usize, fold: bool) -> Option<usize> {
        if self.cpt(pos) != Some('\'') || pos + 1 >= self.len() {
            return None;
        }
        let at = |i: usize| {
            let c = self.cpt(i).unwrap_or('\0');
            if fold {
                c.to_ascii_lowercase()
            } else {
                c
            }
        };
        let c1 = at(pos + 1);
        if matches!(c1, 's' | 't' | 'm' | 'd') {
            return Some(2);
        }
        if pos + 2 < self.len() && matches!((c1, at(pos + 2)), ('r' | 'v', 'e') | ('l', 'l')) {
            return Some(3);
        }
        None
    }

    /// The run of whitespace at `pos`: its length, and the end of its last `\r` or `\n`.
    fn spaces(&self, pos: usize) -> (usize, Option<usize>) {
        let (mut n, mut last_newline) = (0, None);
        while self.class(pos + n) == Class::Space {
            if matches!(self.cpt(pos + n), Some('\r' | '\n')) {
                last_newline = Some(pos + n + 1);
            }
            n += 1;
        }
        (n, last_newline)
    }
}

/// llama.cpp's `unicode_regex_split_custom_gpt2`.
fn split_gpt2(text: &str) -> Vec<&str> {
    let mut c = Cursor::new(text);
    let n = c.len();
    let mut pos = 0;
    while pos < n {
        let cpt = c.cpt(pos);
        // 's|'t|'re|'ve|'m|'ll|'d
        if let Some(len) = c.contraction(pos, false) {
            pos += len;
            c.add(pos);
            continue;
        }
        let lead = usize::from(cpt == Some(' '));
        let class2 = c.class(pos + lead);
        // ' '?\p{L}+, ' '?\p{N}+
        if matches!(class2, Class::Letter | Class::Number) {
            pos += lead;
            while c.class(pos) == class2 {
                pos += 1;
            }
            c.add(pos);
            continue;
        }
        // ' '?[^\s\p{L}\p{N}]+
        if class2 == Class::Other {
            pos += lead;
            while c.class(pos) == Class::Other {
                pos += 1;
            }
            c.add(pos);
            continue;
        }
        let (spaces, _) = c.spaces(pos);
        // \s+(?!\S): the run but its last code point, which goes with the next word.
        if spaces > 1 && pos + spaces < n {
            pos += spaces - 1;
            c.add(pos);
            continue;
        }
        // \s+
        if spaces > 0 {
            pos += spaces;
            c.add(pos);
            continue;
        }
        pos += 1;
        c.add(pos);
    }
    c.words
}

/// llama.cpp's `unicode_regex_split_custom_llama3` (`max_digits` 3) and `..._qwen2` (1).
fn split_llama3(text: &str, max_digits: usize) -> Vec<&str> {
    let mut c = Cursor::new(text);
    let n = c.len();
    let mut pos = 0;
    while pos < n {
        let cpt = c.cpt(pos);
        let k = c.class(pos);
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if let Some(len) = c.contraction(pos, true) {
            pos += len;
            c.add(pos);
            continue;
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        let letter_here_or_next = k == Class::Letter || c.class(pos + 1) == Class::Letter;
        if !matches!(cpt, Some('\r' | '\n')) && k != Class::Number && letter_here_or_next {
            pos += 1;
            while c.class(pos) == Class::Letter {
                pos += 1;
            }
            c.add(pos);
            continue;
        }
        // \p{N}{1,max_digits}
        if k == Class::Number {
            let mut start = pos;
            while c.class(pos) == Class::Number {
                pos += 1;
                if pos - start >= max_digits {
                    c.add(pos);
                    start = pos;
                }
            }
            c.add(pos);
            continue;
        }
        // ' '?[^\s\p{L}\p{N}]+[\r\n]*: past the end counts as outside the classes here, so a
        // final space makes a word of its own.
        let lead = usize::from(cpt == Some(' '));
        let k2 = c.class(pos + lead);
        if !matches!(k2, Class::Space | Class::Letter | Class::Number) {
            pos += lead;
            while c.class(pos) == Class::Other {
                pos += 1;
            }
            while matches!(c.cpt(pos), Some('\r' | '\n')) {
                pos += 1;
            }
            c.add(pos);
            continue;
        }
        let (spaces, last_newline) = c.spaces(pos);
        // \s*[\r\n]+
        if let Some(end) = last_newline {
            pos = end;
            c.add(pos);
            continue;
        }
        // \s+(?!\S)
        if spaces > 1 && pos + spaces < n {
            pos += spaces - 1;
            c.add(pos);
            continue;
        }
        // \s+
        if spaces > 0 {
            pos += spaces;
            c.add(pos);
            continue;
        }
        pos += 1;
        c.add(pos);
    }
    c.words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpt2(text: &str) -> Vec<&str> {
        lookup("gpt-2").unwrap().split(text)
    }

    fn llama3(text: &str) -> Vec<&str> {
        lookup("llama-bpe").unwrap().split(text)
    }

    fn qwen2(text: &str) -> Vec<&str> {
        lookup("qwen2").unwrap().split(text)
    }

    #[test]
    fn every_name_selects_one_row() {
        let names = supported();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(lookup("default").is_none());
        assert!(lookup("llama-bpe").unwrap().ignore_merges);
        assert!(!lookup("qwen2").unwrap().ignore_merges);
    }

    #[test]
    fn gpt2_split_follows_the_gpt2_rule() {
        assert_eq!(gpt2("Hello world"), ["Hello", " world"]);
        assert_eq!(
            gpt2("don't  stop\n\nnow 123!?"),
            ["don", "'t", " ", " stop", "\n", "\n", "now", " 123", "!?"]
        );
        assert_eq!(gpt2("a   b"), ["a", "  ", " b"]);
        assert_eq!(gpt2("tail  "), ["tail", "  "]);
        assert_eq!(gpt2("日本語 🦀"), ["日本語", " 🦀"]);
        assert_eq!(gpt2("I'M"), ["I", "'", "M"]);
        assert_eq!(gpt2("").len(), 0);
        // Unassigned code points are "other" to llama.cpp (flag UNDEFINED), not the end.
        assert_eq!(gpt2("a\u{378}\u{378}"), ["a", "\u{378}\u{378}"]);
    }

    #[test]
    fn llama3_split_follows_the_llama3_rule() {
        assert_eq!(llama3("Hello world"), ["Hello", " world"]);
        assert_eq!(llama3("I'M here"), ["I", "'M", " here"]);
        assert_eq!(llama3("1234567"), ["123", "456", "7"]);
        assert_eq!(llama3(" 12"), [" ", "12"]);
        assert_eq!(llama3("(hello)"), ["(hello", ")"]);
        assert_eq!(llama3("a, b\n\n  c"), ["a", ",", " b", "\n\n", " ", " c"]);
        assert_eq!(llama3("x  \n  y"), ["x", "  \n", " ", " y"]);
        assert_eq!(llama3("!!\n\nok"), ["!!\n\n", "ok"]);
        assert_eq!(llama3("end "), ["end", " "]);
        assert_eq!(llama3("\t\n"), ["\t\n"]);
        assert_eq!(llama3("   Hello"), ["  ", " Hello"]);
    }

    #[test]
    fn qwen2_split_takes_one_digit_at_a_time() {
        assert_eq!(qwen2("x 1234"), ["x", " ", "1", "2", "3", "4"]);
        assert_eq!(qwen2("We'Ve"), ["We", "'Ve"]);
    }

    #[test]
    fn marks_are_not_letters() {
        // e + combining acute: the mark leaves the letter run and starts a punctuation run.
        assert_eq!(qwen2("cafe\u{301}!"), ["cafe", "\u{301}!"]);
        assert_eq!(gpt2("cafe\u{301}!"), ["cafe", "\u{301}!"]);
    }
}
