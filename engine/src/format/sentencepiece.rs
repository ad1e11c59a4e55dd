//! A SentencePiece `tokenizer.model`: the protobuf fields a tokenizer needs (pieces with score
//! and type, the special ids, the dummy-prefix flag), read with bounds-checked wire parsing.

/// `ModelProto` as far as tokenization goes.
#[derive(Debug, Default, PartialEq)]
pub struct SpModel {
    pub pieces: Vec<(String, f32, i32)>,
    pub unk_id: i64,
    pub bos_id: i64,
    pub eos_id: i64,
    pub add_dummy_prefix: bool,
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("tokenizer.model: at byte {offset}: {what}")]
pub struct SpModelError {
    pub offset: usize,
    pub what: String,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

enum Field<'a> {
    Varint(u64),
    Fixed32(u32),
    Fixed64,
    Bytes(&'a [u8], usize),
}

impl<'a> Reader<'a> {
    fn fail<T>(&self, what: impl Into<String>) -> Result<T, SpModelError> {
        Err(SpModelError {
            offset: self.base + self.pos,
            what: what.into(),
        })
    }

    fn varint(&mut self) -> Result<u64, SpModelError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return self.fail("truncated varint");
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        self.fail("varint longer than 10 bytes")
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SpModelError> {
        match self.pos.checked_add(n).filter(|&end| end <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => self.fail(format!("field of {n} bytes runs past the end")),
        }
    }

    /// The next (field number, value), or None at the end.
    fn field(&mut self) -> Result<Option<(u64, Field<'a>)>, SpModelError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Field::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?).unwrap_or(usize::MAX);
                let at = self.base + self.pos;
                Field::Bytes(self.take(len)?, at)
            }
            5 => Field::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().unwrap_or([0; 4]),
            )),
            w => return self.fail(format!("unsupported wire type {w}")),
        };
        Ok(Some((key >> 3, value)))
    }
}

fn reader(buf: &[u8], base: usize) -> Reader<'_> {
    Reader { buf, pos: 0, base }
}

impl SpModel {
    pub fn parse(bytes: &[u8]) -> Result<Self, SpModelError> {
        let mut m = SpModel {
            unk_id: 0,
            bos_id: 1,
            eos_id: 2,
            add_dummy_prefix: true,
            ..SpModel::default()
        };
        let mut r = reader(bytes, 0);
        while let Some((field, value)) = r.field()? {
            match (field, value) {
                (1, Field::Bytes(piece, at)) => m.pieces.push(parse_piece(piece, at)?),
                (2, Field::Bytes(trainer, at)) => {
                    let mut t = reader(trainer, at);
                    while let Some((f, v)) = t.field()? {
                        if let (40..=42, Field::Varint(id)) = (f, v) {
                            // int32 ids; -1 (disabled) arrives sign-extended to 64 bits.
                            let id = id as i64;
                            match f {
                                40 => m.unk_id = id,
                                41 => m.bos_id = id,
                                _ => m.eos_id = id,
                            }
                        }
                    }
                }
                (3, Field::Bytes(norm, at)) => {
                    let mut n = reader(norm, at);
                    while let Some((f, v)) = n.field()? {
                        if let (3, Field::Varint(flag)) = (f, v) {
                            m.add_dummy_prefix = flag != 0;
                        }
                    }
                }
                _ => {}
            }
        }
        if m.pieces.is_empty() {
            return Err(SpModelError {
                offset: 0,
                what: "no pieces".into(),
            });
        }
        Ok(m)
    }
}

fn parse_piece(buf: &[u8], at: usize) -> Result<(String, f32, i32), SpModelError> {
    let mut r = reader(buf, at);
    let (mut text, mut score, mut ty) = (String::new(), 0.0f32, 1i32);
    while let Some((f, v)) = r.field()? {
        match (f, v) {
            (1, Field::Bytes(s, at)) => {
                text = String::from_utf8(s.to_vec()).map_err(|_| SpModelError {
                    offset: at,
                    what: "piece is not UTF-8".into(),
                })?;
            }
            (2, Field::Fixed32(bits)) => score = f32::from_bits(bits),
            (3, Field::Varint(t)) => ty = i32::try_from(t).unwrap_or(0),
            _ => {}
        }
    }
    Ok((text, score, ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_and_garbage_input_are_errors_not_panics() {
        let piece = [0x0a, 0x05, 0x0a, 0x01, b'a', 0x18, 0x01];
        assert_eq!(
            SpModel::parse(&piece).unwrap().pieces,
            vec![("a".to_string(), 0.0, 1)]
        );
        for cut in 0..piece.len() {
            let _ = SpModel::parse(&piece[..cut]);
        }
        assert!(SpModel::parse(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
        assert!(SpModel::parse(&[0x0b]).is_err());
    }
}
