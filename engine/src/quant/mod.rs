//! Quantization: the ggml type table, every block type's layout, dequantization (bit-exact with
//! gguf-py), quantization and row dots, and the row-major quantized matvec/matmul.
//!
//! - `ggml_type.rs`: the type table (block sizes, bytes per block, `QK_K`), which the GGUF reader
//!   re-exports.
//! - `types/`: one file per block type behind `BlockType`, and the one dispatch table.
//! - `avx2.rs`, `avx512.rs`: the SIMD row dots, per instruction set.
//! - `gemm.rs`, `avx2_tiles.rs`, `avx512_tiles.rs`: prefill's tiled products (several rows by
//!   several tokens in registers), equal to their instruction set's row dots bit for bit.
//! - `packed.rs`, `avx512_decode.rs`: decode's products of one token over weights re-laid at
//!   load, sixteen rows a group, equal to the row dots bit for bit.
//! - `kernel.rs`: which instruction set runs, from the CPU's features.
//! - `qmatrix.rs`: a borrowed row-major matrix of blocks.
//! - `matmul.rs`: `y = W x` and `Y = W X`, split across threads.

mod avx2;
mod avx2_tiles;
mod avx512;
mod avx512_decode;
mod avx512_tiles;
mod gemm;
mod ggml_type;
mod kernel;
mod matmul;
mod packed;
mod qmatrix;
mod types;

pub use ggml_type::{GgmlType, TypeIdError, QK, QK_K};
pub(crate) use kernel::CheckedKernel;
pub use kernel::{CpuFeatures, Kernel, FEATURES};
pub use matmul::{matmul, matvec};
pub(crate) use matmul::{matmul_input, Input};
pub use packed::Packed;
pub use qmatrix::QMatrix;
pub use types::nearest_int;

/// Byte layout of every block format (ggml-common.h), for code outside the engine that reads
/// blocks field by field (tests decoding independently of the dequantizers, benchmarks building
/// blocks): each type's `layout` from its file in `types/`, and the packed-field readers.
pub mod layout {
    pub use super::types::bits::{f16_at, five_bit, nibble, scale_min_k4, scale_q3_k, u32_at};
    pub use super::types::q2_k::layout as q2_k;
    pub use super::types::q3_k::layout as q3_k;
    pub use super::types::q4_0::layout as q4_0;
    pub use super::types::q4_1::layout as q4_1;
    pub use super::types::q4_k::layout as q4_k;
    pub use super::types::q5_0::layout as q5_0;
    pub use super::types::q5_1::layout as q5_1;
    pub use super::types::q5_k::layout as q5_k;
    pub use super::types::q6_k::layout as q6_k;
    pub use super::types::q8_0::layout as q8_0;
    pub use super::types::q8_1::layout as q8_1;
    pub use super::types::q8_k::layout as q8_k;
    pub use super::{QK, QK_K};
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    #[error("{op} is not supported for type {ty}")]
    Unsupported { ty: GgmlType, op: &'static str },
    #[error("{ty}: {len} bytes is not a whole number of {type_size}-byte blocks")]
    RaggedBytes {
        ty: GgmlType,
        len: usize,
        type_size: u64,
    },
    #[error("{ty}: {len} values is not a whole number of {block_size}-element blocks")]
    RaggedValues {
        ty: GgmlType,
        len: usize,
        block_size: u64,
    },
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("{ty} matrix {rows}x{cols}: {detail}")]
    Shape {
        ty: GgmlType,
        rows: usize,
        cols: usize,
        detail: String,
    },
    #[error("kernel {kernel:?} was asked for but this CPU lacks {missing}")]
    KernelUnavailable {
        kernel: Kernel,
        missing: &'static str,
    },
    #[error("'{0}' is not a CPU feature the kernels check (avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512vnni)")]
    UnknownFeature(String),
}

/// Whether `dequantize` (and so `matvec`) accepts this type.
pub fn can_dequantize(ty: GgmlType) -> bool {
    types::entry(ty).is_some()
}

/// Dequantizes `bytes` of type `ty` into `out`, which must hold exactly the encoded elements.
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
    let e = types::entry(ty).ok_or(QuantError::Unsupported {
        ty,
        op: "dequantize",
    })?;
    let (bs, ts) = (e.block_elems, e.block_bytes);
    if !bytes.len().is_multiple_of(ts) {
        return Err(QuantError::RaggedBytes {
            ty,
            len: bytes.len(),
            type_size: ts as u64,
        });
    }
    let expected = bytes.len() / ts * bs;
    if out.len() != expected {
        return Err(QuantError::Length {
            what: "dequantize output",
            expected,
            got: out.len(),
        });
    }
    for (b, y) in bytes.chunks_exact(ts).zip(out.chunks_exact_mut(bs)) {
        (e.dequantize)(b, y);
    }
    crate::faults::corrupt_subblock_scale(ty, out);
    Ok(())
}

/// Dequantizes into a new vector.
pub fn dequantize_to_vec(ty: GgmlType, bytes: &[u8]) -> Result<Vec<f32>, QuantError> {
    let ts = ty.type_size() as usize;
    let mut out = vec![0.0; bytes.len() / ts * ty.block_size() as usize];
    dequantize(ty, bytes, &mut out)?;
    Ok(out)
}

/// Quantizes `x` into `out` as type `ty`. Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 follow ggml's
/// `quantize_row_*_ref` (Q8_0 and Q4_0 are checked bit-exact with gguf-py's
/// `gguf.quants.quantize`); Q8_1 and Q8_K follow `quantize_row_q8_1_ref` and
/// `quantize_row_q8_K_ref`; Q2_K..Q6_K follow ggml's reference K-quant quantizers, the ones its
/// quantization error thresholds were measured on.
pub fn quantize(ty: GgmlType, x: &[f32], out: &mut [u8]) -> Result<(), QuantError> {
    let e = types::entry(ty).ok_or(QuantError::Unsupported { ty, op: "quantize" })?;
    let (bs, ts) = (e.block_elems, e.block_bytes);
    if !x.len().is_multiple_of(bs) {
        return Err(QuantError::RaggedValues {
            ty,
            len: x.len(),
            block_size: bs as u64,
        });
    }
    let expected = x.len() / bs * ts;
    if out.len() != expected {
        return Err(QuantError::Length {
            what: "quantize output bytes",
            expected,
            got: out.len(),
        });
    }
    for (x, b) in x.chunks_exact(bs).zip(out.chunks_exact_mut(ts)) {
        (e.quantize)(x, b);
    }
    Ok(())
}
