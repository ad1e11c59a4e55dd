//! Pre-tokenizers of BPE vocabularies (byte-level ones, and Gemma 4's over code points): how
//! llama.cpp cuts text into words before any merge, chosen by `tokenizer.ggml.pre`. Each is a row of [`PRE_TOKENIZERS`]: the names that
//! select it, its splits and the vocabulary flags that go with it, as llama.cpp's
//! `llama_vocab::impl::load` and the `llm_tokenizer_bpe` constructor set them. A split is either
//! one of llama.cpp's hand-written versions of a regular expression (`unicode_regex_split_custom_*`
//! in unicode.cpp), whose character classes come from the `unicode-properties` crate's general
//! categories and std's White_Space, or an expression it runs through C++'s std::regex, mirrored
//! in regex.rs.

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::regex::Regex;

/// One pre-tokenizer, as llama.cpp configures it for a `tokenizer.ggml.pre` value.
#[derive(Debug)]
pub struct PreTokenizer {
    /// The `tokenizer.ggml.pre` values that select it (llama.cpp's names).
    pub names: &'static [&'static str],
    /// llama.cpp's `regex_exprs`, in order: each split cuts every word the ones before it left
    /// (a word is never joined to its neighbour again).
    pub splits: &'static [Split],
    /// llama.cpp's `ignore_merges`: a word that is itself a token is that token, without merges.
    pub ignore_merges: bool,
    /// llama.cpp's `escape_whitespaces`: spaces become U+2581 before the split, as the tokens of
    /// a SentencePiece-style BPE vocabulary (Gemma 4's) spell them.
    pub escape_whitespaces: bool,
    /// llama.cpp's `byte_encode`: words are merged written in GPT-2's byte alphabet. Without it
    /// they are merged as their own code points, and a piece that is no token falls back to its
    /// bytes as `<0xXX>` tokens.
    pub byte_encode: bool,
    /// Gemma 4's rule: a word of line feeds only that is itself a token is that token.
    pub whole_newlines: bool,
    /// Whether llama.cpp adds BOS when asked to add special tokens.
    pub add_bos: AddBos,
    /// llama.cpp's `clean_spaces` (clean_up_tokenization_spaces): detokenization drops the
    /// space before `?!.,` and some apostrophes (detok.rs). On for byte-level BPE unless the
    /// pre-tokenizer's name turns it off, so names that differ only in it have rows of their own.
    pub clean_spaces: bool,
}

/// Whether llama.cpp adds BOS (with add_special) to a byte-level BPE vocabulary's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddBos {
    /// As `tokenizer.ggml.add_bos_token` says; without the key, no (llama.cpp's BPE default).
    AsFileSays,
    /// As `tokenizer.ggml.add_bos_token` says; without the key, yes: llama.cpp sets it for Llama
    /// 3's pre-tokenizer before it reads the key.
    UnlessFileSaysNo,
    /// Always: llama.cpp overrides a false key for Gemma 4.
    Always,
}

/// What every row has unless it says otherwise: a byte-level vocabulary with no extra rule.
const BYTE_LEVEL: PreTokenizer = PreTokenizer {
    names: &[],
    splits: &[],
    ignore_merges: false,
    escape_whitespaces: false,
    byte_encode: true,
    whole_newlines: false,
    add_bos: AddBos::AsFileSays,
    clean_spaces: true,
};

/// One of llama.cpp's splits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`:
    /// `unicode_regex_split_custom_gpt2` (which also takes a final `\s+`).
    Gpt2,
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: Llama 3's rule,
    /// `unicode_regex_split_custom_llama3` (3 digits), and Qwen2's, `..._qwen2` (1 digit).
    /// With `marks`, Qwen3.5's `..._qwen35`: combining marks go with letters
    /// (`[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+` and ` ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*`).
    Llama3 { max_digits: usize, marks: bool },
    /// `[^\n]+|[\n]+`: runs of line feeds and runs of anything else,
    /// `unicode_regex_split_custom_newlines`.
    Newlines,
    /// An expression llama.cpp has no hand-written splitter for, verbatim from llama-vocab.cpp;
    /// it runs through std::regex (regex.rs).
    Regex(&'static str),
}

/// GPT-2's split alone.
const GPT2: &[Split] = &[Split::Gpt2];
const LLAMA3: &[Split] = &[Split::Llama3 {
    max_digits: 3,
    marks: false,
}];
const QWEN2: &[Split] = &[Split::Llama3 {
    max_digits: 1,
    marks: false,
}];
const QWEN35: &[Split] = &[Split::Llama3 {
    max_digits: 1,
    marks: true,
}];
/// Falcon: runs of ASCII and Unicode punctuation first (with the ASCII symbols listed; other
/// symbols are not in it), then GPT-2's split, then each run of three ASCII digits.
const FALCON: &[Split] = &[
    Split::Regex("[\\p{P}\\$\\+<=>\\^~\\|`]+"),
    Split::Gpt2,
    Split::Regex("[0-9][0-9][0-9]"),
];
/// llama.cpp's "default", for a vocabulary that names no pre-tokenizer (GPT-NeoX, Aquila):
/// Falcon's first split without the backtick, GPT-2's, then runs of number code points, then
/// ASCII digits in threes.
const DEFAULT: &[Split] = &[
    Split::Regex("[\\p{P}\\$\\+<=>\\^~\\|]+"),
    Split::Gpt2,
    Split::Regex("\\p{N}+"),
    Split::Regex("[0-9][0-9][0-9]"),
];
/// StarCoder and its kin: every number code point alone, then GPT-2's split.
const STARCODER: &[Split] = &[Split::Regex("\\p{N}"), Split::Gpt2];
/// DeepSeek LLM: line breaks alone; a whitespace and a run of Latin, Greek, Cyrillic and other
/// cased letters (listed by range; not CJK); a whitespace and ASCII or full-width punctuation
/// (its `:-~` takes ASCII letters too, which the letter split has already cut off; its U+3000
/// is never seen, as llama.cpp turns non-ASCII whitespace into 0x0B first); trailing
/// whitespace; every code point from U+0800 to U+9FA5 (CJK and much else), and Hangul; numbers.
const DEEPSEEK_LLM: &[Split] = &[
    Split::Regex("[\r\n]"),
    Split::Regex(DEEPSEEK_LLM_LETTERS),
    Split::Regex("\\s?[!-/:-~！-／：-～‘-‟　-。]+"),
    Split::Regex("\\s+$"),
    Split::Regex("[一-龥ࠀ-一가-퟿]+"),
    Split::Regex("\\p{N}+"),
];
/// Verbatim from llama-vocab.cpp.
const DEEPSEEK_LLM_LETTERS: &str = "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";
/// DeepSeek Coder: line breaks alone; a whitespace and letters; a whitespace and punctuation;
/// CJK and Hangul as DeepSeek LLM; then every number code point alone.
const DEEPSEEK_CODER: &[Split] = &[
    Split::Regex("[\r\n]"),
    Split::Regex("\\s?\\p{L}+"),
    Split::Regex("\\s?\\p{P}+"),
    Split::Regex("[一-龥ࠀ-一가-퟿]+"),
    Split::Regex("\\p{N}"),
];

/// Every pre-tokenizer this engine runs. A `tokenizer.ggml.pre` value not listed here is refused:
/// a pre-tokenizer that splits differently gives different ids. Rows hold only names whose
/// vocabulary llama.cpp loads with no other special treatment than the row's fields (no SEP
/// token, no per-token strip attributes).
pub const PRE_TOKENIZERS: [PreTokenizer; 14] = [
    PreTokenizer {
        names: &[
            "gpt-2", "phi-2", "gigachat", "a.x-4.0", "mellum", "exaone4", "mpt", "olmo", "jais",
        ],
        splits: GPT2,
        ignore_merges: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["trillion", "granite-docling"],
        splits: GPT2,
        clean_spaces: false,
        ..BYTE_LEVEL
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
        splits: LLAMA3,
        ignore_merges: true,
        add_bos: AddBos::UnlessFileSaysNo,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["dbrx", "smaug-bpe"],
        splits: LLAMA3,
        ignore_merges: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "grok-2"],
        splits: QWEN2,
        ignore_merges: false,
        clean_spaces: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["megrez", "stablelm2"],
        splits: QWEN2,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["qwen35"],
        splits: QWEN35,
        ignore_merges: false,
        clean_spaces: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["falcon"],
        splits: FALCON,
        ignore_merges: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &[
            "starcoder",
            "refact",
            "codeshell",
            "exaone",
            "minerva-7b",
            "mellum2",
        ],
        splits: STARCODER,
        ignore_merges: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["command-r", "smollm"],
        splits: STARCODER,
        clean_spaces: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["deepseek-llm"],
        splits: DEEPSEEK_LLM,
        ignore_merges: false,
        clean_spaces: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["deepseek-coder"],
        splits: DEEPSEEK_CODER,
        ignore_merges: false,
        clean_spaces: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        // Also what llama.cpp runs when `tokenizer.ggml.pre` is missing.
        names: &["default"],
        splits: DEFAULT,
        ignore_merges: false,
        ..BYTE_LEVEL
    },
    PreTokenizer {
        names: &["gemma4", "granite-embed-multi-311m"],
        splits: &[Split::Newlines],
        escape_whitespaces: true,
        byte_encode: false,
        whole_newlines: true,
        add_bos: AddBos::Always,
        ..BYTE_LEVEL
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
    /// The pre-tokenizer ready to run: its expressions compiled. An expression outside what
    /// regex.rs mirrors is an error (none in [`PRE_TOKENIZERS`] is; a test checks every row).
    pub fn splitter(&'static self) -> Result<Splitter, String> {
        let steps = self
            .splits
            .iter()
            .map(|&split| {
                Ok(match split {
                    Split::Gpt2 => Step::Gpt2,
                    Split::Llama3 { max_digits, marks } => Step::Llama3 { max_digits, marks },
                    Split::Newlines => Step::Newlines,
                    Split::Regex(pattern) => Step::Regex(Regex::new(pattern)?),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(Splitter { pre: self, steps })
    }
}

/// A pre-tokenizer with its expressions compiled.
#[derive(Debug)]
pub struct Splitter {
    pub pre: &'static PreTokenizer,
    steps: Vec<Step>,
}

/// A [`Split`] ready to run.
#[derive(Debug)]
enum Step {
    Gpt2,
    Llama3 { max_digits: usize, marks: bool },
    Newlines,
    Regex(Regex),
}

impl Splitter {
    /// The words of `text`, in order; they concatenate to `text`. Each split runs on every word
    /// the previous ones left, as llama.cpp's `unicode_regex_split` runs its list over offsets.
    pub fn split<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut words = if text.is_empty() {
            Vec::new()
        } else {
            vec![text]
        };
        for step in &self.steps {
            let mut next = Vec::with_capacity(words.len());
            for word in words {
                match step {
                    Step::Gpt2 => next.extend(split_gpt2(word)),
                    Step::Llama3 { max_digits, marks } => {
                        let digits = crate::faults::digit_group(*max_digits);
                        next.extend(split_llama3(word, digits, *marks));
                    }
                    Step::Newlines => next.extend(split_newlines(word)),
                    Step::Regex(regex) => regex.split(word, &mut next),
                }
            }
            words = next;
        }
        words
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

/// `marks`: combining marks count as letters (Qwen3.5's rule), not as `Other`.
fn class(c: Option<char>, marks: bool) -> Class {
    let Some(c) = c else { return Class::End };
    // White_Space code points are Zs, Zl, Zp or Cc: never letters, marks or numbers.
    if c.is_whitespace() {
        return Class::Space;
    }
    match c.general_category_group() {
        GeneralCategoryGroup::Letter => Class::Letter,
        GeneralCategoryGroup::Mark if marks => Class::Letter,
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
    marks: bool,
}

impl<'t> Cursor<'t> {
    fn new(text: &'t str, marks: bool) -> Self {
        Cursor {
            text,
            chars: text.char_indices().collect(),
            words: Vec::new(),
            prev_end: 0,
            marks,
        }
    }

    fn len(&self) -> usize {
        self.chars.len()
    }

    fn cpt(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).map(|&(_, c)| c)
    }

    fn class(&self, pos: usize) -> Class {
        class(self.cpt(pos), self.marks)
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
        let fold = fold && !crate::faults::is(crate::faults::Fault::ContractionsCaseSensitive);
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

/// llama.cpp's `unicode_regex_split_custom_newlines`.
fn split_newlines(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut rest = text;
    while let Some(first) = rest.chars().next() {
        let newline = first == '\n';
        let end = rest.find(|c| (c == '\n') != newline).unwrap_or(rest.len());
        words.push(&rest[..end]);
        rest = &rest[end..];
    }
    words
}

/// llama.cpp's `unicode_regex_split_custom_gpt2`.
fn split_gpt2(text: &str) -> Vec<&str> {
    let mut c = Cursor::new(text, false);
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
        if let Some(end) = whitespace_run(pos, spaces, n) {
            pos = end;
            c.add(pos);
            continue;
        }
        pos += 1;
        c.add(pos);
    }
    c.words
}

/// Where the whitespace alternatives that end both custom splitters' patterns cut, for a run of
/// `spaces` whitespace code points at `pos` of `n`: `\s+(?!\S)` takes the run but its last code
/// point when more text follows (that one goes with the next word), `\s+` the whole run; None
/// where no whitespace starts.
fn whitespace_run(pos: usize, spaces: usize, n: usize) -> Option<usize> {
    match spaces {
        0 => None,
        s if s > 1 && pos + s < n => Some(pos + s - 1),
        s => Some(pos + s),
    }
}

/// llama.cpp's `unicode_regex_split_custom_llama3` (`max_digits` 3), `..._qwen2` (1) and
/// `..._qwen35` (1, with `marks`: its letter runs and their one leading code point check
/// "letter or mark" wherever Qwen2's check "letter").
fn split_llama3(text: &str, max_digits: usize, marks: bool) -> Vec<&str> {
    let mut c = Cursor::new(text, marks);
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
        if let Some(end) = whitespace_run(pos, spaces, n) {
            pos = end;
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

    fn split<'t>(name: &str, text: &'t str) -> Vec<&'t str> {
        lookup(name).unwrap().splitter().unwrap().split(text)
    }

    fn gpt2(text: &str) -> Vec<&str> {
        split("gpt-2", text)
    }

    fn llama3(text: &str) -> Vec<&str> {
        split("llama-bpe", text)
    }

    fn qwen2(text: &str) -> Vec<&str> {
        split("qwen2", text)
    }

    #[test]
    fn every_name_selects_one_row() {
        let names = supported();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        // llama.cpp's "default" is a row; a name it does not know is none.
        assert_eq!(lookup("default").unwrap().splits, DEFAULT);
        assert!(lookup("jina-v2-de").is_none());
        assert!(lookup("llama-bpe").unwrap().ignore_merges);
        assert!(!lookup("qwen2").unwrap().ignore_merges);
    }

    #[test]
    fn every_row_compiles_and_its_words_make_the_text() {
        let text = "Hello, wörld!  x\r\n\n 12345 ١٢ 日本語 한국어 «ok» e\u{301} 🦀\t $5+3 ";
        for pre in &PRE_TOKENIZERS {
            let words = pre.splitter().unwrap().split(text);
            assert_eq!(words.concat(), text, "{:?}", pre.names);
            assert!(words.iter().all(|w| !w.is_empty()), "{:?}", pre.names);
        }
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

    /// llama.cpp's category tables (unicode-data.cpp) are Unicode 15.1, and so are the pinned
    /// crate's: a letter added in Unicode 16 is still an unassigned code point, "other".
    #[test]
    fn categories_are_llama_cpps_unicode_15_1() {
        assert_eq!(unicode_properties::UNICODE_VERSION, (15, 1, 0));
        // U+1C89 CYRILLIC CAPITAL LETTER TJE, new in Unicode 16.
        assert_eq!(gpt2("a\u{1C89}b"), ["a", "\u{1C89}", "b"]);
        assert_eq!(qwen2("a\u{1C89}'s"), ["a", "\u{1C89}'", "s"]);
    }

    #[test]
    fn gemma4_cuts_only_at_line_feeds() {
        let gemma4 = |t| split("gemma4", t);
        assert_eq!(gemma4("a b\n\nc\r\n"), ["a b", "\n\n", "c\r", "\n"]);
        assert_eq!(gemma4("\n"), ["\n"]);
        let pre = lookup("gemma4").unwrap();
        assert!(pre.escape_whitespaces && !pre.byte_encode && pre.whole_newlines);
        assert_eq!(pre.add_bos, AddBos::Always);
        assert!(lookup("gpt-2").unwrap().byte_encode);
    }

    #[test]
    fn qwen35_marks_go_with_letters() {
        assert_eq!(split("qwen35", "cafe\u{301}!"), ["cafe\u{301}", "!"]);
        assert_eq!(
            split("qwen35", " \u{301}x 12"),
            [" \u{301}x", " ", "1", "2"]
        );
        assert_eq!(split("qwen35", "!\u{301}"), ["!\u{301}"]);
    }

    #[test]
    fn falcon_cuts_punctuation_then_gpt2_then_digit_triples() {
        let falcon = |t| split("falcon", t);
        // Punctuation runs first, so " (" is no GPT-2 word: the space is left alone.
        assert_eq!(falcon("a (b)"), ["a", " ", "(", "b", ")"]);
        assert_eq!(falcon("x 1234567"), ["x", " ", "123", "456", "7"]);
        // Only ASCII digits make triples; € is a symbol, not punctuation.
        assert_eq!(falcon("€١٢٣"), ["€", "١٢٣"]);
    }

    /// The default pre-tokenizer: punctuation runs first, GPT-2's split, number runs, then
    /// ASCII digits in threes.
    #[test]
    fn default_cuts_punctuation_gpt2_numbers_then_digit_triples() {
        assert_eq!(
            split("default", "f(x)= 1234567 ¹²³`a"),
            ["f", "(", "x", ")=", " ", "123", "456", "7", " ", "¹²³", "`", "a"]
        );
    }

    #[test]
    fn starcoder_takes_each_number_alone() {
        assert_eq!(split("starcoder", "ab 123"), ["ab", " ", "1", "2", "3"]);
        assert_eq!(split("command-r", "x²"), ["x", "²"]);
    }

    #[test]
    fn deepseek_splits_follow_their_expressions() {
        let llm = |t| split("deepseek-llm", t);
        assert_eq!(llm("Hi there\n"), ["Hi", " there", "\n"]);
        // ASCII letters are in the punctuation set too (`:-~`), which does not matter: the
        // letter split has already cut them off.
        assert_eq!(llm("a, b!"), ["a", ",", " b", "!"]);
        assert_eq!(llm("x  "), ["x", "  "]);
        assert_eq!(llm("日本 123"), ["日本", " ", "123"]);
        let coder = |t| split("deepseek-coder", t);
        assert_eq!(coder("Hi there 123"), ["Hi", " there", " ", "1", "2", "3"]);
        assert_eq!(coder("a+b"), ["a", "+", "b"]);
    }
}
