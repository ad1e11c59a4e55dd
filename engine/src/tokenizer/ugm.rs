//! Unigram (`tokenizer.ggml.model = t5`), as llama.cpp's `llm_tokenizer_ugm` runs it.
//!
//! Normalisation first, prefix by prefix of the text: the longest prefix of a user-defined
//! token's text (llama.cpp's trie walk: the deepest path, a full token or not) is kept as it
//! is; otherwise the longest prefix the precompiled charsmap (`tokenizer.ggml.
//! precompiled_charsmap`, SentencePiece's XOR-compressed double array followed by
//! NUL-terminated replacements) has an entry for becomes its replacement; otherwise one code
//! point is kept. Spaces in the result become U+2581: with `remove_extra_whitespaces` every run
//! of non-spaces gets one U+2581 before it and other spaces go; without it, every space is one
//! U+2581 and, with `add_space_prefix`, one is put before the first non-space.
//!
//! Then the best segmentation by Viterbi: at each code point every token that starts there
//! (normal, user-defined and unused tokens; user-defined ones score 0) extends the best path
//! so far by its score, summed in f64; a code point no one-code-point token covers is the
//! unknown token, at the lowest normal score less 10. Ties keep the path found first. Runs of
//! unknown tokens in the result are one unknown token.

use std::collections::HashSet;

use rustc_hash::FxHashMap;

use super::{TokenType, Tokenizer};

/// llama.cpp's `unknown_token_score_penalty`.
const UNKNOWN_PENALTY: f32 = 10.0;

/// What llama.cpp's Unigram needs beyond the vocabulary.
#[derive(Debug)]
pub(super) struct Ugm {
    charsmap: Option<Charsmap>,
    /// `tokenizer.ggml.add_space_prefix` (default false for this model).
    pub(super) add_space_prefix: bool,
    /// `tokenizer.ggml.remove_extra_whitespaces` (default false).
    remove_extra_whitespaces: bool,
    /// The tokens a segment can be (llama.cpp's `token_matcher`): normal, user-defined and
    /// unused ones, by their bytes, with the score each adds; the last of equal texts wins, as
    /// in its trie.
    matcher: Trie,
    /// Every non-empty prefix of a user-defined token's text.
    user_prefixes: HashSet<Vec<u8>>,
    /// The score an unknown code point adds: the lowest normal token's score less 10, in f32.
    unknown_score: f32,
}

/// A byte trie of token texts, as llama.cpp's `naive_trie`: the encoder walks it from each
/// position and stops where no token continues, so each position costs the length of its
/// longest match, not a lookup of every length up to the longest token.
#[derive(Debug, Default)]
struct Trie {
    /// (node, next byte) -> child node; node 0 is the root.
    edges: FxHashMap<(u32, u8), u32>,
    /// The token that ends at each node, with its score.
    tokens: Vec<Option<(u32, f64)>>,
}

impl Trie {
    fn insert(&mut self, text: &[u8], token: (u32, f64)) {
        if self.tokens.is_empty() {
            self.tokens.push(None);
        }
        let mut node = 0u32;
        for &b in text {
            let next = self.tokens.len() as u32;
            node = *self.edges.entry((node, b)).or_insert(next);
            if node == next {
                self.tokens.push(None);
            }
        }
        self.tokens[node as usize] = Some(token);
    }

    /// Every token that `text` starts with: (its length in bytes, id, score), shortest first.
    fn prefixes<'a>(&'a self, text: &'a [u8]) -> impl Iterator<Item = (usize, u32, f64)> + 'a {
        let mut node = 0u32;
        text.iter()
            .enumerate()
            .map_while(move |(i, &b)| {
                node = *self.edges.get(&(node, b))?;
                Some((i + 1, self.tokens[node as usize]))
            })
            .filter_map(|(len, t)| t.map(|(id, score)| (len, id, score)))
    }

    #[cfg(test)]
    fn get(&self, text: &[u8]) -> Option<(u32, f64)> {
        self.prefixes(text)
            .find(|&(len, _, _)| len == text.len())
            .map(|(_, id, score)| (id, score))
    }
}

/// The attribute bits of a token that llama.cpp's Unigram asks.
struct Attr {
    normal: bool,
    user_defined: bool,
    unused: bool,
}

impl Attr {
    /// From the stored type and the type after load: a stored normal or user-defined token
    /// made a control token (an end-of-generation or fill-in-the-middle text) keeps its bit;
    /// a control token whose text holds "unused" gains the unused bit.
    fn of(piece: &str, stored: TokenType, now: TokenType) -> Self {
        let control = now == TokenType::Control;
        Attr {
            normal: now == TokenType::Normal || (control && stored == TokenType::Normal),
            user_defined: now == TokenType::UserDefined
                || (control && stored == TokenType::UserDefined),
            unused: stored == TokenType::Unused || (control && piece.contains("unused")),
        }
    }
}

/// The parsed `tokenizer.ggml.precompiled_charsmap`.
#[derive(Debug)]
struct Charsmap {
    /// The double array's entries (little-endian u32s).
    xcda: Vec<u32>,
    /// NUL-terminated replacement strings, indexed by byte offset.
    replacements: Vec<u8>,
}

impl Charsmap {
    /// The blob: a little-endian u32 byte length, that many bytes of double array, then the
    /// replacements. Refused, as llama.cpp refuses it, when the length leaves no replacement
    /// bytes; also refused where any entry the matcher can reach lies outside the array or
    /// points outside the replacements or at one without its NUL (llama.cpp would throw on
    /// such an input while tokenizing).
    fn parse(blob: &[u8]) -> Result<Self, String> {
        let head: [u8; 4] = blob
            .get(..4)
            .and_then(|h| h.try_into().ok())
            .ok_or("precompiled_charsmap too small for its size header")?;
        let size = u32::from_le_bytes(head) as usize;
        let end = size
            .checked_add(4)
            .filter(|&end| end < blob.len())
            .ok_or_else(|| {
                format!(
                    "precompiled_charsmap: double array of {size} bytes but the blob has {}",
                    blob.len()
                )
            })?;
        let xcda = blob[4..4 + size / 4 * 4]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let map = Charsmap {
            xcda,
            replacements: blob[end..].to_vec(),
        };
        map.validate()?;
        Ok(map)
    }

    fn node(&self, index: usize) -> Option<u32> {
        self.xcda.get(index).copied()
    }

    fn base(&self, index: usize) -> Option<usize> {
        self.node(index)
            .map(|n| ((n >> 10) << ((n & (1 << 9)) >> 6)) as usize)
    }

    fn lcheck(&self, index: usize) -> Option<u32> {
        self.node(index).map(|n| n & ((1 << 31) | 0xff))
    }

    fn leaf(&self, index: usize) -> Option<bool> {
        self.node(index).map(|n| (n >> 8) & 1 == 1)
    }

    fn value(&self, index: usize) -> Option<usize> {
        self.node(index).map(|n| (n & ((1 << 31) - 1)) as usize)
    }

    /// The replacement at `offset`: the bytes before its NUL.
    fn replacement(&self, offset: usize) -> Option<&[u8]> {
        let rest = self.replacements.get(offset..)?;
        let len = rest.iter().position(|&b| b == 0)?;
        Some(&rest[..len])
    }

    /// One step of the walk: from state `node` (a BASE already applied) by byte `c`, the next
    /// state and whether it ends a key; None where `c` is no child. Errors where llama.cpp's
    /// bounds check would throw.
    fn step(&self, node: usize, c: u8) -> Result<Option<(usize, bool)>, ()> {
        let child = node ^ usize::from(c);
        if self.lcheck(child).ok_or(())? != u32::from(c) {
            return Ok(None);
        }
        let leaf = self.leaf(child).ok_or(())?;
        Ok(Some((child ^ self.base(child).ok_or(())?, leaf)))
    }

    /// Every state reachable from the root, visited once: each state and each step from it
    /// stays inside the array, and each key's replacement is NUL-terminated inside the
    /// replacements. (SentencePiece's arrays come in blocks of 256 entries, so a sound one
    /// passes; llama.cpp would throw while tokenizing text that reaches a bad entry.)
    fn validate(&self) -> Result<(), String> {
        if self.xcda.is_empty() {
            return Ok(());
        }
        let bad = |what: &str| Err(format!("precompiled_charsmap: {what}"));
        let mut seen = vec![false; self.xcda.len()];
        let mut stack = vec![self.base(0).unwrap_or(usize::MAX)];
        while let Some(node) = stack.pop() {
            match seen.get_mut(node) {
                Some(true) => continue,
                Some(s) => *s = true,
                None => return bad("a node outside the double array"),
            }
            for c in 1..=255u8 {
                let Ok(next) = self.step(node, c) else {
                    return bad("a node outside the double array");
                };
                let Some((next, leaf)) = next else { continue };
                if leaf
                    && self
                        .value(next)
                        .and_then(|offset| self.replacement(offset))
                        .is_none()
                {
                    return bad("a replacement outside the blob or without its NUL");
                }
                stack.push(next);
            }
        }
        Ok(())
    }

    /// The longest prefix of `input` with an entry: its length and replacement.
    fn longest(&self, input: &[u8]) -> Option<(usize, &[u8])> {
        let mut node = self.base(0)?;
        let mut best = None;
        for (i, &c) in input.iter().enumerate() {
            if c == 0 {
                break;
            }
            // Validated at load: a failed step cannot happen, and ends the match if it did.
            let Ok(Some((next, leaf))) = self.step(node, c) else {
                break;
            };
            node = next;
            if leaf {
                best = self
                    .value(node)
                    .and_then(|offset| self.replacement(offset))
                    .map(|r| (i + 1, r));
            }
        }
        best
    }
}

impl Ugm {
    /// `stored` are the file's token types, `types` the ones llama.cpp's load-time rules leave
    /// (attrs.rs): those rules add CONTROL to a stored type rather than replace it, and
    /// llama.cpp's Unigram asks the attribute bits (normal, user-defined, unused), not the
    /// type.
    pub fn new(
        pieces: &[String],
        scores: &[f32],
        stored: &[TokenType],
        types: &[TokenType],
        charsmap: Option<&[u8]>,
        add_space_prefix: bool,
        remove_extra_whitespaces: bool,
    ) -> Result<Self, String> {
        let charsmap = match charsmap {
            Some(blob) if !blob.is_empty() => Some(Charsmap::parse(blob)?),
            _ => None,
        };
        let mut matcher = Trie::default();
        let mut user_prefixes = HashSet::new();
        let mut min_score = f32::MAX;
        let tokens = pieces.iter().zip(scores).zip(stored.iter().zip(types));
        for (i, ((piece, &score), (&stored, &now))) in tokens.enumerate() {
            let attr = Attr::of(piece, stored, now);
            if attr.normal {
                min_score = min_score.min(score);
            }
            if (attr.normal || attr.user_defined || attr.unused) && !piece.is_empty() {
                // User-defined tokens score 0, more likely than any normal token (whose
                // scores are log probabilities).
                let score = if attr.user_defined {
                    0.0
                } else {
                    f64::from(score)
                };
                matcher.insert(piece.as_bytes(), (i as u32, score));
            }
            if attr.user_defined {
                let bytes = piece.as_bytes();
                user_prefixes.extend((1..=bytes.len()).map(|n| bytes[..n].to_vec()));
            }
        }
        Ok(Ugm {
            charsmap,
            add_space_prefix,
            remove_extra_whitespaces,
            matcher,
            user_prefixes,
            unknown_score: min_score - UNKNOWN_PENALTY,
        })
    }

    /// llama.cpp's `normalize_prefix`: the bytes `input[at..]` starts with as normalised, and
    /// how many input bytes they stand for.
    /// A user-defined prefix can end inside a character; what follows is then no valid UTF-8
    /// and becomes U+FFFD byte by byte, as there.
    fn normalize_prefix<'a>(&'a self, rest: &'a [u8]) -> (&'a [u8], usize) {
        let user = (1..=rest.len())
            .take_while(|&n| self.user_prefixes.contains(&rest[..n]))
            .last();
        if let Some(n) = user {
            return (&rest[..n], n);
        }
        if let Some((n, replacement)) = self.charsmap.as_ref().and_then(|m| m.longest(rest)) {
            return (replacement, n);
        }
        match utf8_sequence(rest) {
            Some(n) => (&rest[..n], n),
            None => ("\u{FFFD}".as_bytes(), 1),
        }
    }

    /// llama.cpp's `normalize`, with its fixed `escape_whitespaces` (on) and
    /// `treat_whitespace_as_suffix` (off).
    pub fn normalize(&self, input: &str) -> Vec<u8> {
        let space = super::SPACE.as_bytes();
        let merge = self.remove_extra_whitespaces;
        let mut out = Vec::with_capacity(input.len() * 3);
        let (mut prepended, mut in_word) = (false, false);
        let mut at = 0;
        while at < input.len() {
            let (bytes, consumed) = self.normalize_prefix(&input.as_bytes()[at..]);
            for &c in bytes {
                if c != b' ' {
                    if !in_word {
                        in_word = true;
                        if (self.add_space_prefix && !prepended) || merge {
                            out.extend_from_slice(space);
                            prepended = true;
                        }
                    }
                    out.push(c);
                } else {
                    in_word = false;
                    if !merge {
                        out.extend_from_slice(space);
                    }
                }
            }
            at += consumed;
        }
        out
    }
}

/// The length of the UTF-8 sequence `bytes` starts with, as llama.cpp's `unicode_cpt_from_utf8`
/// reads one (the lead byte's length, its continuation bytes present); None where it throws.
fn utf8_sequence(bytes: &[u8]) -> Option<usize> {
    let lead = *bytes.first()?;
    let n = match lead {
        _ if lead & 0x80 == 0 => return Some(1),
        _ if lead & 0x40 == 0 => return None,
        _ if lead & 0x20 == 0 => 2,
        _ if lead & 0x10 == 0 => 3,
        _ if lead & 0x08 == 0 => 4,
        _ => return None,
    };
    let tail = bytes.get(1..n)?;
    tail.iter().all(|&b| b & 0xc0 == 0x80).then_some(n)
}

/// The byte length of the UTF-8 sequence `lead` starts, as llama.cpp's `unicode_len_utf8`.
fn utf8_len(lead: u8) -> usize {
    const LOOKUP: [usize; 16] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4];
    LOOKUP[usize::from(lead >> 4)]
}

impl Tokenizer {
    /// llama.cpp's `llm_tokenizer_ugm_session::tokenize` for one fragment of text.
    pub(super) fn encode_ugm(&self, text: &str, ugm: &Ugm, out: &mut Vec<u32>) {
        // The loader refuses a Unigram vocabulary without an unknown token.
        let Some(unk) = self.unk else { return };
        let norm = ugm.normalize(text);
        let n = norm.len();
        if n == 0 {
            return;
        }
        #[derive(Clone, Copy)]
        struct Best {
            id: u32,
            from: usize,
            score: f64,
        }
        let mut best = vec![
            Best {
                id: unk,
                from: 0,
                score: -f64::MAX,
            };
            n + 1
        ];
        best[0].score = 0.0;
        let mut at = 0;
        while at < n {
            let units = utf8_len(norm[at]).min(n - at);
            let here = best[at].score;
            let mut single = false;
            for (len, id, score) in ugm.matcher.prefixes(&norm[at..]) {
                let end = at + len;
                if len == units {
                    single = true;
                }
                let challenger = here + score;
                if challenger > best[end].score {
                    best[end] = Best {
                        id,
                        from: at,
                        score: challenger,
                    };
                }
            }
            if !single {
                let challenger = here + f64::from(ugm.unknown_score);
                let end = at + units;
                if challenger > best[end].score {
                    best[end] = Best {
                        id: unk,
                        from: at,
                        score: challenger,
                    };
                }
            }
            at += units;
        }
        let start = out.len();
        let mut pos = n;
        let mut prev_unknown = false;
        loop {
            let b = best[pos];
            let unknown = b.id == unk;
            if !(prev_unknown && unknown) {
                out.push(b.id);
            }
            if b.from == 0 {
                break;
            }
            prev_unknown = unknown;
            pos = b.from;
        }
        out[start..].reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A charsmap whose double array is `xcda` and replacements `repl`.
    fn blob(xcda: &[u32], repl: &[u8]) -> Vec<u8> {
        let mut b = ((xcda.len() * 4) as u32).to_le_bytes().to_vec();
        for x in xcda {
            b.extend_from_slice(&x.to_le_bytes());
        }
        b.extend_from_slice(repl);
        b
    }

    #[test]
    fn charsmap_sizes_are_checked() {
        assert!(Charsmap::parse(&[]).is_err());
        assert!(Charsmap::parse(&[1, 0, 0]).is_err());
        // A length that leaves no replacement bytes, or runs past the blob.
        assert!(Charsmap::parse(&blob(&[0], &[])).is_err());
        assert!(Charsmap::parse(&[0xff, 0xff, 0xff, 0xff, 0]).is_err());
        // An empty double array with replacements: nothing to match.
        let map = Charsmap::parse(&blob(&[], b"x\0")).unwrap();
        assert_eq!(map.longest(b"abc"), None);
    }

    /// Root at 0 with BASE 1; "a" (0x61) is node 1 ^ 0x61 = 0x60, a leaf whose BASE leads to
    /// node 0x60 ^ base holding the replacement offset.
    fn one_key(value_offset: u32, repl: &[u8]) -> Vec<u8> {
        let mut xcda = vec![0u32; 256];
        xcda[0] = 1 << 10; // root: BASE 1
                           // Node 0x60: LCHECK 'a', LEAF, BASE 0x60 ^ 0x70 = 0x10 -> value node 0x70.
        xcda[0x60] = (0x10 << 10) | (1 << 8) | 0x61;
        xcda[0x70] = value_offset;
        blob(&xcda, repl)
    }

    #[test]
    fn charsmap_replaces_the_longest_key() {
        let map = Charsmap::parse(&one_key(2, b"x\0YZ\0")).unwrap();
        assert_eq!(map.longest(b"ab"), Some((1, &b"YZ"[..])));
        assert_eq!(map.longest(b"ba"), None);
    }

    #[test]
    fn charsmap_replacement_offsets_are_checked() {
        // Offset past the replacements, and a replacement without its NUL.
        assert!(Charsmap::parse(&one_key(9, b"x\0YZ\0")).is_err());
        assert!(Charsmap::parse(&one_key(2, b"x\0YZ")).is_err());
    }

    /// llama.cpp keeps the longest prefix of a user-defined token's text as it is, a whole
    /// token or not, before the charsmap is asked.
    #[test]
    fn a_user_defined_prefix_escapes_the_charsmap() {
        let map = one_key(2, b"x\0YZ\0");
        let pieces = ["ab".to_string(), "\u{e9}".to_string()];
        let ugm = |ty| {
            Ugm::new(
                &pieces,
                &[0.0; 2],
                &[ty; 2],
                &[ty; 2],
                Some(&map),
                false,
                false,
            )
        };
        let ugm = |ty| ugm(ty).unwrap();
        assert_eq!(ugm(TokenType::Normal).normalize("ac"), b"YZc");
        assert_eq!(ugm(TokenType::UserDefined).normalize("ac"), b"ac");
        // A prefix that cuts a character leaves the rest as U+FFFD, byte by byte.
        assert_eq!(
            ugm(TokenType::UserDefined).normalize("\u{e0}"),
            b"\xc3\xef\xbf\xbd"
        );
    }

    /// llama.cpp's attribute bits: a stored normal or user-defined token that load made a
    /// control token stays a segment; a control token named "unused" becomes one.
    #[test]
    fn attribute_bits_decide_the_segments() {
        let (n, c, u) = (
            TokenType::Normal,
            TokenType::Control,
            TokenType::UserDefined,
        );
        let pieces: Vec<String> = ["</s>", "<x>", "<unused_1>", "<c>"]
            .map(String::from)
            .into();
        let ugm = Ugm::new(
            &pieces,
            &[-1.0; 4],
            &[n, u, c, c],
            &[c, c, c, c],
            None,
            false,
            false,
        );
        let ugm = ugm.unwrap();
        let ids = |text: &str| ugm.matcher.get(text.as_bytes());
        assert_eq!(ids("</s>"), Some((0, -1.0)));
        assert_eq!(ids("<x>"), Some((1, 0.0)));
        assert_eq!(ids("<unused_1>"), Some((2, -1.0)));
        assert_eq!(ids("<c>"), None);
        assert_eq!(ugm.unknown_score, -11.0);
    }

    #[test]
    fn whitespace_rules() {
        let ugm = |prefix, merge| Ugm::new(&[], &[], &[], &[], None, prefix, merge).unwrap();
        let s = |b: Vec<u8>| String::from_utf8(b).unwrap().replace('\u{2581}', "_");
        assert_eq!(s(ugm(true, true).normalize("  a  b ")), "_a_b");
        assert_eq!(s(ugm(true, false).normalize("  a  b ")), "___a__b_");
        assert_eq!(s(ugm(false, false).normalize(" a")), "_a");
        assert_eq!(s(ugm(false, true).normalize("a b")), "_a_b");
    }
}
