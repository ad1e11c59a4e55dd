//! Quantization: block layouts, dequantization bit-exact with gguf-py, quantizers, and the
//! row-major quantized matvec/matmul kernels.

mod dequant;
mod dot;
pub mod layout;
mod matvec;
mod quantize;
mod simd;
mod simd512;

use crate::format::gguf::GgmlType;

pub use matvec::{matmul, matvec, CpuFeatures, Kernel, QMatrix, FEATURES};
pub use quantize::{nearest_int, quantize};

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

fn block_fn(ty: GgmlType) -> Option<dequant::BlockFn> {
    use GgmlType as T;
    Some(match ty {
        T::F32 => dequant::f32_block,
        T::F16 => dequant::f16_block,
        T::BF16 => dequant::bf16_block,
        T::Q4_0 => dequant::q4_0,
        T::Q4_1 => dequant::q4_1,
        T::Q5_0 => dequant::q5_0,
        T::Q5_1 => dequant::q5_1,
        T::Q8_0 => dequant::q8_0,
        T::Q8_1 => dequant::q8_1,
        T::Q2_K => dequant::q2_k,
        T::Q3_K => dequant::q3_k,
        T::Q4_K => dequant::q4_k,
        T::Q5_K => dequant::q5_k,
        T::Q6_K => dequant::q6_k,
        T::Q8_K => dequant::q8_k,
        _ => return None,
    })
}

/// Whether `dequantize` (and so `matvec`) accepts this type.
pub fn can_dequantize(ty: GgmlType) -> bool {
    block_fn(ty).is_some()
}

/// Dequantizes `bytes` of type `ty` into `out`, which must hold exactly the encoded elements.
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
    let f = block_fn(ty).ok_or(QuantError::Unsupported {
        ty,
        op: "dequantize",
    })?;
    let (bs, ts) = (ty.block_size() as usize, ty.type_size() as usize);
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
    let corrupt =
        ty == GgmlType::Q4_K && crate::faults::is(crate::faults::Fault::CorruptSubblockScale);
    for (b, y) in bytes.chunks_exact(ts).zip(out.chunks_exact_mut(bs)) {
        f(b, y);
        if corrupt {
            y[32..64].iter_mut().for_each(|v| *v *= 1.5);
        }
    }
    Ok(())
}

/// Dequantizes into a new vector.
pub fn dequantize_to_vec(ty: GgmlType, bytes: &[u8]) -> Result<Vec<f32>, QuantError> {
    let ts = ty.type_size() as usize;
    let mut out = vec![0.0; bytes.len() / ts * ty.block_size() as usize];
    dequantize(ty, bytes, &mut out)?;
    Ok(out)
}
