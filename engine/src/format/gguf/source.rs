//! A forward-only byte reader that knows how many bytes the file has left, so every length can
//! be checked against the input before anything is allocated for it.

use std::io::Read;

use super::GgufError;

pub(crate) struct Source<R> {
    inner: R,
    pos: u64,
    len: u64,
}

impl<R: Read> Source<R> {
    pub(crate) fn new(inner: R, len: u64) -> Self {
        Source { inner, pos: 0, len }
    }

    pub(crate) fn pos(&self) -> u64 {
        self.pos
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    /// Reads exactly `n` bytes; `n` is checked against the remaining length first, so a hostile
    /// length never reaches the allocator.
    pub(crate) fn take(&mut self, n: u64, field: &'static str) -> Result<Vec<u8>, GgufError> {
        self.ensure(n, field)?;
        let n_usize = usize::try_from(n).map_err(|_| self.truncated(n, field))?;
        let mut buf = vec![0u8; n_usize];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], GgufError> {
        self.ensure(N as u64, field)?;
        let mut buf = [0u8; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, GgufError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, GgufError> {
        self.array(field).map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, GgufError> {
        self.array(field).map(u64::from_le_bytes)
    }

    /// Checks that `count` items of at least `min_each` bytes can fit in what remains, and returns
    /// the count as a `usize` that is then safe to reserve.
    pub(crate) fn count(
        &self,
        field: &'static str,
        count: u64,
        min_each: u64,
        at: u64,
    ) -> Result<usize, GgufError> {
        let too_large = || GgufError::CountTooLarge {
            field,
            count,
            min_each,
            remaining: self.remaining(),
            at,
        };
        match count.checked_mul(min_each) {
            Some(need) if need <= self.remaining() => {
                usize::try_from(count).map_err(|_| too_large())
            }
            _ => Err(too_large()),
        }
    }

    fn ensure(&self, n: u64, field: &'static str) -> Result<(), GgufError> {
        if n > self.remaining() {
            return Err(self.truncated(n, field));
        }
        Ok(())
    }

    fn truncated(&self, needed: u64, field: &'static str) -> GgufError {
        GgufError::Truncated {
            field,
            at: self.pos,
            needed,
            available: self.remaining(),
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<(), GgufError> {
        let at = self.pos;
        // A failure here means the declared length promised bytes the reader could not give (a file
        // that shrank under us): an I/O error, never a panic.
        self.inner
            .read_exact(buf)
            .map_err(|source| GgufError::Read { at, source })?;
        self.pos += buf.len() as u64;
        Ok(())
    }
}
