//! GGUF v2 and v3: strict reader and writer. The ggml type table they read block geometry from
//! lives in `quant` (`quant::GgmlType`), re-exported here because every tensor info names one.
//!
//! The reader accepts exactly what it can prove sound: every count is checked against the bytes
//! that remain before anything is allocated, all arithmetic on sizes and offsets is checked, and
//! each tensor must lie inside the data section without overlapping another. The rules follow
//! llama.cpp's gguf.cpp wherever the specification is looser, so a file accepted here also loads
//! there; `README.md` at the repository root lists them.

mod error;
mod file;
mod header;
mod source;
mod value;
#[cfg(feature = "writer")]
mod writer;

pub use crate::quant::{GgmlType, TypeIdError};
pub use error::GgufError;
pub use file::{Gguf, TensorView};
pub use header::{
    GgufHeader, Metadata, Preamble, TensorInfo, ALIGNMENT_KEY, DEFAULT_ALIGNMENT, GGUF_MAGIC,
    MAX_ARRAY_DEPTH, MAX_DIMS, MAX_TENSOR_NAME_LEN,
};
pub use value::{MetaArray, MetaValue, ValueType};
#[cfg(feature = "writer")]
pub use writer::{encode, GgufWriteError, GgufWriter};
