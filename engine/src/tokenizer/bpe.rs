//! GPT-2 byte-level BPE, as llama.cpp's llm_tokenizer_bpe runs it with the `gpt-2`
//! pre-tokenizer: split the text into words by GPT-2's rule, map each word's bytes to GPT-2's
//! printable byte alphabet, then merge the adjacent pair of lowest merge rank (ties leftmost)
//! until no listed merge applies.

use std::collections::{BinaryHeap, HashMap};

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

use super::Tokenizer;

/// GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes
/// for U+0100 onwards, in byte order.
pub(super) fn byte_to_char(b: u8) -> char {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable(b) {
        return char::from(b);
    }
    let rank = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + rank).expect("U+0100..U+0143 are chars")
}

/// The inverse of `byte_to_char`, for every char it produces.
pub(super) fn char_to_byte() -> HashMap<char, u8> {
    (0..=255u8).map(|b| (byte_to_char(b), b)).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Space,
    Other,
    /// Unassigned code points and the end of the text: llama.cpp's empty flags.
    None,
}

fn class(c: Option<char>) -> Class {
    let Some(c) = c else { return Class::None };
    if c.is_whitespace() {
        return Class::Space;
    }
    match c.general_category_group() {
        GeneralCategoryGroup::Letter => Class::Letter,
        GeneralCategoryGroup::Number => Class::Number,
        _ if c.general_category() == unicode_properties::GeneralCategory::Unassigned => Class::None,
        _ => Class::Other,
    }
}

/// GPT-2's pre-tokenizer regex, `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|
/// \s+(?!\S)|\s+`, hand-written as llama.cpp writes it (the lookahead is not a regular
/// expression). Returns the words in order; they concatenate to `text`.
pub(super) fn gpt2_split(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let n = chars.len();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map_or(text.len(), |&(o, _)| o);
    let mut words = Vec::new();
    let mut start = 0;
    let mut pos = 0;
    while pos < n {
        let c = at(pos);
        let end = 'word: {
            if c == Some('\'') && pos + 1 < n {
                let c1 = at(pos + 1);
                if matches!(c1, Some('s' | 't' | 'm' | 'd')) {
                    break 'word pos + 2;
                }
                if pos + 2 < n {
                    let pair = (c1, at(pos + 2));
                    if matches!(
                        pair,
                        (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l'))
                    ) {
                        break 'word pos + 3;
                    }
                }
            }
            let lead = usize::from(c == Some(' '));
            let kind = class(at(pos + lead));
            match kind {
                Class::Letter | Class::Number => {
                    let mut p = pos + lead;
                    while class(at(p)) == kind {
                        p += 1;
                    }
                    break 'word p;
                }
                Class::Other => {
                    let mut p = pos + lead;
                    while class(at(p)) == Class::Other {
                        p += 1;
                    }
                    break 'word p;
                }
                _ => {}
            }
            let mut spaces = 0;
            while class(at(pos + spaces)) == Class::Space {
                spaces += 1;
            }
            if spaces > 1 && pos + spaces < n {
                // \s+(?!\S): the run but its last char, which goes with the next word.
                break 'word pos + spaces - 1;
            }
            if spaces > 0 {
                break 'word pos + spaces;
            }
            pos + 1
        };
        words.push(&text[offset(start)..offset(end)]);
        start = end;
        pos = end;
    }
    words
}

impl Tokenizer {
    pub(super) fn encode_bpe(&self, text: &str, ranks: &HashMap<String, u32>, out: &mut Vec<u32>) {
        #[derive(PartialEq, Eq)]
        struct Bigram {
            rank: u32,
            left: usize,
            right: usize,
            text: String,
        }
        impl Ord for Bigram {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                // Lowest rank first; on ties the leftmost pair.
                o.rank.cmp(&self.rank).then_with(|| o.left.cmp(&self.left))
            }
        }
        impl PartialOrd for Bigram {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        for word in gpt2_split(text) {
            let encoded: Vec<String> = word.bytes().map(|b| byte_to_char(b).to_string()).collect();
            // Symbols: their text, and links to their live neighbours.
            let mut syms: Vec<(String, isize, isize)> = encoded
                .into_iter()
                .enumerate()
                .map(|(i, s)| (s, i as isize - 1, i as isize + 1))
                .collect();
            if let Some(last) = syms.last_mut() {
                last.2 = -1;
            }
            let mut queue = BinaryHeap::new();
            let add = |l: isize,
                       r: isize,
                       syms: &[(String, isize, isize)],
                       q: &mut BinaryHeap<Bigram>| {
                if l < 0 || r < 0 {
                    return;
                }
                let (a, b) = (&syms[l as usize].0, &syms[r as usize].0);
                if let Some(&rank) = ranks.get(&format!("{a} {b}")) {
                    q.push(Bigram {
                        rank,
                        left: l as usize,
                        right: r as usize,
                        text: format!("{a}{b}"),
                    });
                }
            };
            for i in 1..syms.len() {
                add(i as isize - 1, i as isize, &syms, &mut queue);
            }
            while let Some(b) = queue.pop() {
                let (l, r) = (&syms[b.left].0, &syms[b.right].0);
                if l.is_empty()
                    || r.is_empty()
                    || l.len() + r.len() != b.text.len()
                    || format!("{l}{r}") != b.text
                {
                    continue; // outdated: a side was merged elsewhere
                }
                let right_next = syms[b.right].2;
                syms[b.left].0 = b.text;
                syms[b.right].0.clear();
                syms[b.left].2 = right_next;
                if right_next >= 0 {
                    syms[right_next as usize].1 = b.left as isize;
                }
                let prev = syms[b.left].1;
                add(prev, b.left as isize, &syms, &mut queue);
                add(b.left as isize, right_next, &syms, &mut queue);
            }
            let mut i = if syms.is_empty() { -1 } else { 0 };
            while i >= 0 {
                let (piece, _, next) = &syms[i as usize];
                match self.ids.get(piece.as_str()) {
                    Some(&id) => out.push(id),
                    None => out.extend(
                        piece
                            .chars()
                            .filter_map(|c| self.ids.get(c.to_string().as_str()).copied()),
                    ),
                }
                i = *next;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_alphabet_is_gpt2s() {
        assert_eq!(byte_to_char(b'A'), 'A');
        assert_eq!(byte_to_char(b' '), '\u{120}'); // Ġ
        assert_eq!(byte_to_char(b'\n'), '\u{10A}'); // Ċ
        assert_eq!(byte_to_char(0), '\u{100}');
        assert_eq!(char_to_byte().len(), 256);
    }

    #[test]
    fn split_follows_the_gpt2_rule() {
        assert_eq!(gpt2_split("Hello world"), ["Hello", " world"]);
        assert_eq!(
            gpt2_split("don't  stop\n\nnow 123!?"),
            ["don", "'t", " ", " stop", "\n", "\n", "now", " 123", "!?"]
        );
        assert_eq!(gpt2_split("a   b"), ["a", "  ", " b"]);
        assert_eq!(gpt2_split("tail  "), ["tail", "  "]);
        assert_eq!(gpt2_split("日本語 🦀"), ["日本語", " 🦀"]);
        assert_eq!(gpt2_split("").len(), 0);
    }
}
