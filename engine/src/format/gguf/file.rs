//! A GGUF file over any byte container: a memory map, a `Vec`, or a borrowed slice. Tensor data
//! is handed out as slices of that container, never copied.

use std::path::Path;

use memmap2::Mmap;

use super::{GgufError, GgufHeader, TensorInfo};
use crate::quant::{QMatrix, QuantError};

/// A validated GGUF file whose bytes live in `B`.
#[derive(Debug)]
pub struct Gguf<B> {
    header: GgufHeader,
    bytes: B,
}

/// A tensor's description and its raw bytes (still in the file's encoding).
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    pub info: &'a TensorInfo,
    pub data: &'a [u8],
}

impl<B: AsRef<[u8]>> Gguf<B> {
    /// Parses and validates `bytes` as a whole GGUF file.
    pub fn parse(bytes: B) -> Result<Self, GgufError> {
        let slice = bytes.as_ref();
        let header = GgufHeader::read(slice, slice.len() as u64)?;
        Ok(Gguf { header, bytes })
    }

    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.as_ref()
    }

    /// The file's length in bytes.
    pub fn file_len(&self) -> u64 {
        self.bytes.as_ref().len() as u64
    }

    pub fn tensor(&self, name: &str) -> Option<TensorView<'_>> {
        self.header.tensor(name).and_then(|info| self.view(info))
    }

    /// Every tensor in file order.
    pub fn tensors(&self) -> impl Iterator<Item = TensorView<'_>> {
        self.header
            .tensors()
            .iter()
            .filter_map(|info| self.view(info))
    }

    fn view<'a>(&'a self, info: &'a TensorInfo) -> Option<TensorView<'a>> {
        // Bounds were validated at parse time; `get` keeps this total anyway.
        let start = self.header.data_start.checked_add(info.offset)?;
        let end = start.checked_add(info.size)?;
        let data = self
            .bytes
            .as_ref()
            .get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)?;
        Some(TensorView { info, data })
    }
}

impl Gguf<Mmap> {
    /// Memory-maps and validates the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, GgufError> {
        let path = path.as_ref();
        let map = crate::format::map_file(path).map_err(|source| GgufError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Gguf::parse(map)
    }
}

/// Reading a quantized matrix from a tensor belongs to the file format (quant knows nothing of
/// GGUF), so the constructor is defined here.
impl<'a> QMatrix<'a> {
    /// A 2-D GGUF tensor: ggml dims [ne0, ne1] are [cols, rows].
    pub fn from_gguf(t: TensorView<'a>) -> Result<Self, QuantError> {
        let ty = t.info.ggml_type;
        match t.info.dims[..] {
            [cols, rows] => Self::new(ty, rows as usize, cols as usize, t.data),
            [cols] => Self::new(ty, 1, cols as usize, t.data),
            ref dims => Err(QuantError::Shape {
                ty,
                rows: 0,
                cols: 0,
                detail: format!("'{}' has dims {dims:?}; a matrix has 1 or 2", t.info.name),
            }),
        }
    }
}
