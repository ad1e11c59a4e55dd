//! SentencePiece-style merging, as llama.cpp's llm_tokenizer_spm does it.

use std::collections::BinaryHeap;

use super::Tokenizer;

impl Tokenizer {
    /// llama.cpp's llm_tokenizer_spm: bigram merges by score, then each final symbol as its token
    /// or its bytes.
    pub(super) fn encode_spm(&self, text: &str, out: &mut Vec<u32>) {
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
}
