//! Streaming detokenization: generated tokens arrive one at a time, and a UTF-8 character whose
//! bytes are split across tokens (byte-fallback pieces, byte-level BPE) must be held back until
//! it is whole. The streamed text always equals the lossy UTF-8 decoding of all bytes at once.

/// Holds back the bytes of a UTF-8 sequence split across tokens until it is whole.
#[derive(Debug, Default)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds a token's bytes and returns the text that is now complete. An invalid byte becomes
    /// U+FFFD at once (as `String::from_utf8_lossy` would replace it); an incomplete sequence
    /// at the end waits for the next token.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        if crate::faults::is(crate::faults::Fault::StreamWithoutHoldback) {
            return self.finish();
        }
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is still held back, an unfinished sequence shown as U+FFFD.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(chunks: &[&[u8]]) -> String {
        let mut s = Utf8Stream::default();
        let mut out: String = chunks.iter().map(|c| s.push(c)).collect();
        out += &s.finish();
        out
    }

    #[test]
    fn split_characters_wait_and_invalid_bytes_do_not_swallow_what_follows() {
        let crab = "🦀".as_bytes();
        assert_eq!(streamed(&[&crab[..1], &crab[1..3], &crab[3..]]), "🦀");
        // An invalid byte, then the first two bytes of 日: the tail must wait for its third.
        let ri = "日".as_bytes();
        let chunks: [&[u8]; 2] = [&[0xFF, ri[0], ri[1]], &ri[2..]];
        let all: Vec<u8> = chunks.concat();
        assert_eq!(streamed(&chunks), String::from_utf8_lossy(&all));
        assert_eq!(streamed(&chunks), "\u{FFFD}日");
        // Unfinished at the end: one replacement character, as the lossy decoding gives.
        assert_eq!(streamed(&[b"a", &crab[..2]]), "a\u{FFFD}");
    }
}
