//! Safetensors: single files and sharded HuggingFace directories.
//!
//! The rules are the format's own (as the `safetensors` crate enforces them): an 8-byte
//! little-endian header length of at most 100 MB that fits in the file, a UTF-8 JSON object,
//! known dtypes, `data_offsets` that are contiguous from 0, never overlap and cover the byte
//! buffer exactly, and `shape` x dtype size equal to each byte range. On top of that this reader
//! rejects duplicate JSON keys (which JSON parsers otherwise resolve silently, last one wins) and
//! unknown fields in a tensor entry.

mod dir;
mod dtype;
mod error;
mod header;

pub use dir::SafetensorsDir;
pub use dtype::Dtype;
pub use error::SafetensorsError;
pub use header::{SafetensorsHeader, StTensorInfo, MAX_HEADER_LEN};

use std::path::Path;

use memmap2::Mmap;

/// A validated safetensors file whose bytes live in `B`.
#[derive(Debug)]
pub struct Safetensors<B> {
    header: SafetensorsHeader,
    bytes: B,
}

/// A tensor's description and its raw little-endian bytes.
#[derive(Clone, Copy, Debug)]
pub struct StTensorView<'a> {
    pub info: &'a StTensorInfo,
    pub data: &'a [u8],
}

impl<B: AsRef<[u8]>> Safetensors<B> {
    pub fn parse(bytes: B) -> Result<Self, SafetensorsError> {
        let header = SafetensorsHeader::parse(bytes.as_ref())?;
        Ok(Safetensors { header, bytes })
    }

    pub fn header(&self) -> &SafetensorsHeader {
        &self.header
    }

    pub fn file_len(&self) -> u64 {
        self.bytes.as_ref().len() as u64
    }

    pub fn tensor(&self, name: &str) -> Option<StTensorView<'_>> {
        self.header.tensor(name).and_then(|info| self.view(info))
    }

    /// Every tensor in data order.
    pub fn tensors(&self) -> impl Iterator<Item = StTensorView<'_>> {
        self.header
            .tensors()
            .iter()
            .filter_map(|info| self.view(info))
    }

    fn view<'a>(&'a self, info: &'a StTensorInfo) -> Option<StTensorView<'a>> {
        let base = self.header.data_start();
        let start = usize::try_from(base.checked_add(info.begin)?).ok()?;
        let end = usize::try_from(base.checked_add(info.end)?).ok()?;
        let data = self.bytes.as_ref().get(start..end)?;
        Some(StTensorView { info, data })
    }
}

impl Safetensors<Mmap> {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, SafetensorsError> {
        let path = path.as_ref();
        let map = crate::format::map_file(path).map_err(|source| SafetensorsError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Safetensors::parse(map)
    }
}
