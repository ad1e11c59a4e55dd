//! BPE, as llama.cpp's `llm_tokenizer_bpe_session` runs it: the vocabulary's pre-tokenizer
//! (pre.rs) cuts the text into words, each word's bytes are written in GPT-2's printable byte
//! alphabet (or, for Gemma 4's vocabulary, the word is kept as its code points with spaces as
//! U+2581), then the adjacent pair of lowest merge rank (ties: the leftmost) is merged until no
//! listed merge applies. One merge loop serves every pre-tokenizer.

use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

use super::pre::{PreTokenizer, Splitter};
use super::Tokenizer;

/// What a byte-level BPE vocabulary adds to its tokens: the merges and the pre-tokenizer.
#[derive(Debug)]
pub(super) struct Bpe {
    /// "left right" to rank (the merge's index; the first listing of a pair counts).
    pub ranks: FxHashMap<String, u32>,
    pub splitter: Splitter,
}

impl Bpe {
    /// Fails only if the pre-tokenizer holds an expression regex.rs cannot run.
    pub fn new(merges: Vec<String>, pre: &'static PreTokenizer) -> Result<Self, String> {
        let mut ranks = FxHashMap::with_capacity_and_hasher(merges.len(), Default::default());
        for (rank, m) in merges.into_iter().enumerate() {
            ranks.entry(m).or_insert(rank as u32);
        }
        Ok(Bpe {
            ranks,
            splitter: pre.splitter()?,
        })
    }
}

/// GPT-2's bytes_to_unicode (llama.cpp's `unicode_byte_to_utf8_map`): printable Latin-1 bytes
/// stand for themselves, the other 68 bytes for U+0100 onwards, in byte order.
const fn printable(b: u8) -> bool {
    matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF)
}

const BYTE_CHARS: [char; 256] = {
    let mut table = ['\0'; 256];
    let (mut b, mut next) = (0, 256);
    while b < 256 {
        table[b] = if printable(b as u8) {
            b as u8 as char
        } else {
            next += 1;
            match char::from_u32(next - 1) {
                Some(c) => c,
                None => panic!("U+0100..U+0143 are chars"),
            }
        };
        b += 1;
    }
    table
};

/// The bytes that are not printable, in order: U+0100 + i stands for `UNPRINTABLE[i]`.
const UNPRINTABLE: [u8; 68] = {
    let mut table = [0u8; 68];
    let (mut b, mut i) = (0, 0);
    while b < 256 {
        if !printable(b as u8) {
            table[i] = b as u8;
            i += 1;
        }
        b += 1;
    }
    table
};

pub(super) fn byte_to_char(b: u8) -> char {
    BYTE_CHARS[b as usize]
}

/// The inverse of `byte_to_char`; None for a char outside the alphabet.
pub(super) fn char_to_byte(c: char) -> Option<u8> {
    let u = c as u32;
    if u < 256 && printable(u as u8) {
        return Some(u as u8);
    }
    let i = u.checked_sub(256)? as usize;
    UNPRINTABLE.get(i).copied()
}

/// A normal token's text as bytes, as llama.cpp's `llama_decode_text` gives it: each char of the
/// byte alphabet as its byte; a char outside it as `[UNK_BYTE_0x<its UTF-8 in hex><piece>]`.
pub(super) fn decode_piece(piece: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(piece.len());
    for c in piece.chars() {
        match char_to_byte(c) {
            Some(b) => out.push(b),
            None => {
                let mut utf8 = [0u8; 4];
                out.extend_from_slice(b"[UNK_BYTE_0x");
                for b in c.encode_utf8(&mut utf8).bytes() {
                    out.extend_from_slice(format!("{b:02x}").as_bytes());
                }
                out.extend_from_slice(piece.as_bytes());
                out.push(b']');
            }
        }
    }
    out
}

impl Tokenizer {
    /// llama.cpp's `llm_tokenizer_bpe_session::tokenize` on one text fragment.
    pub(super) fn encode_bpe(&self, text: &str, bpe: &Bpe, out: &mut Vec<u32>) {
        let pre = bpe.splitter.pre;
        let escaped;
        let text = if pre.escape_whitespaces {
            escaped = text.replace(' ', super::SPACE);
            escaped.as_str()
        } else {
            text
        };
        let mut key = String::new();
        for word in bpe.splitter.split(text) {
            let encoded: String = if pre.byte_encode {
                word.bytes().map(byte_to_char).collect()
            } else {
                word.to_string()
            };
            let whole =
                pre.ignore_merges || (pre.whole_newlines && word.bytes().all(|b| b == b'\n'));
            if whole {
                if let Some(&id) = self.ids.get(&encoded) {
                    out.push(id);
                    continue;
                }
            }
            self.merge_word(&encoded, &bpe.ranks, pre.byte_encode, &mut key, out);
        }
    }

    /// Merges one word (byte-encoded if `byte_encode`) by rank and appends its tokens. `key` is
    /// scratch space.
    fn merge_word(
        &self,
        word: &str,
        ranks: &FxHashMap<String, u32>,
        byte_encode: bool,
        key: &mut String,
        out: &mut Vec<u32>,
    ) {
        #[derive(Clone, Copy)]
        struct Sym {
            start: usize,
            len: usize,
            prev: isize,
            next: isize,
        }
        #[derive(PartialEq, Eq)]
        struct Bigram {
            rank: u32,
            left: usize,
            right: usize,
            size: usize,
        }
        impl Ord for Bigram {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                // Lowest rank first; on ties (one merge at several places) the leftmost pair.
                let left = o.left.cmp(&self.left);
                let left = crate::faults::bpe_tie(left);
                o.rank.cmp(&self.rank).then(left)
            }
        }
        impl PartialOrd for Bigram {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        let mut syms: Vec<Sym> = word
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
        let mut add = |left: isize, right: isize, syms: &[Sym], queue: &mut BinaryHeap<Bigram>| {
            if left < 0 || right < 0 {
                return;
            }
            let (l, r) = (syms[left as usize], syms[right as usize]);
            key.clear();
            key.push_str(&word[l.start..l.start + l.len]);
            key.push(' ');
            key.push_str(&word[r.start..r.start + r.len]);
            if let Some(&rank) = ranks.get(key.as_str()) {
                queue.push(Bigram {
                    rank,
                    left: left as usize,
                    right: right as usize,
                    size: l.len + r.len,
                });
            }
        };
        for i in 1..syms.len() {
            add(i as isize - 1, i as isize, &syms, &mut queue);
        }
        while let Some(b) = queue.pop() {
            let (l, r) = (syms[b.left], syms[b.right]);
            // Outdated: a side was merged elsewhere. While both live, the left one is unchanged
            // (it can only have grown by taking this right one), so the size tells.
            if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
                continue;
            }
            syms[b.left].len += r.len;
            syms[b.right].len = 0;
            syms[b.left].next = r.next;
            if r.next >= 0 {
                syms[r.next as usize].prev = b.left as isize;
            }
            let left = syms[b.left];
            add(left.prev, b.left as isize, &syms, &mut queue);
            add(b.left as isize, left.next, &syms, &mut queue);
        }
        let mut i = if syms.is_empty() { -1 } else { 0 };
        while i >= 0 {
            let s = syms[i as usize];
            let piece = &word[s.start..s.start + s.len];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                // llama.cpp looks up each byte of the piece as a one-byte text; only an ASCII
                // byte can be a (UTF-8) token text, the others are dropped.
                None if byte_encode => out.extend(piece.bytes().filter_map(|b| {
                    let mut buf = [0u8; 4];
                    b.is_ascii()
                        .then(|| self.ids.get(char::from(b).encode_utf8(&mut buf) as &str))
                        .flatten()
                        .copied()
                })),
                // Without the byte alphabet, each byte as the token whose text is `<0xXX>`
                // (whatever its type); a byte without one is dropped.
                None => out.extend(
                    piece
                        .bytes()
                        .filter_map(|b| self.ids.get(&format!("<0x{b:02X}>")).copied()),
                ),
            }
            i = s.next;
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
        assert_eq!(byte_to_char(0xAD), '\u{143}');
        for b in 0..=255u8 {
            assert_eq!(char_to_byte(byte_to_char(b)), Some(b));
        }
        assert_eq!(char_to_byte('\u{144}'), None);
        assert_eq!(char_to_byte(' '), None);
    }

    #[test]
    fn pieces_outside_the_alphabet_decode_as_llama_cpp_marks_them() {
        assert_eq!(decode_piece("\u{120}hi"), b" hi");
        assert_eq!(decode_piece("a b"), b"a[UNK_BYTE_0x20a b]b");
    }
}
