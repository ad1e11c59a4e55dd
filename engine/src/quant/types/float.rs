//! The float types F32, F16 and BF16: one element per "block", so no layout beyond the element
//! itself. Their rows dot against the f32 activations directly (no activation quantization).

use super::bits::f16_at;
use super::{BlockType, Row};
use crate::quant::GgmlType;

pub(crate) struct BlockF32;
pub(crate) struct BlockF16;
pub(crate) struct BlockBF16;

/// A bf16 widened to f32: its bits are the f32's top half.
#[inline(always)]
fn bf16_to_f32(b: &[u8]) -> f32 {
    f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)
}

/// ggml_compute_fp32_to_bf16: NaN made quiet, otherwise round to nearest even.
fn bf16_bits(x: f32) -> u16 {
    let n = x.to_bits();
    if n & 0x7fff_ffff > 0x7f80_0000 {
        return ((n >> 16) | 64) as u16;
    }
    ((u64::from(n) + (0x7fff + u64::from((n >> 16) & 1))) >> 16) as u16
}

impl BlockType for BlockF32 {
    const TYPE: GgmlType = GgmlType::F32;
    const VEC_DOT: Option<Row> = Some(Row::Float(f32_row));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }

    fn quantize(x: &[f32], b: &mut [u8]) {
        b.copy_from_slice(&x[0].to_le_bytes());
    }
}

impl BlockType for BlockF16 {
    const TYPE: GgmlType = GgmlType::F16;
    const VEC_DOT: Option<Row> = Some(Row::Float(f16_row));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        y[0] = f16_at(b, 0..2);
    }

    fn quantize(x: &[f32], b: &mut [u8]) {
        b.copy_from_slice(&half::f16::from_f32(x[0]).to_le_bytes());
    }
}

impl BlockType for BlockBF16 {
    const TYPE: GgmlType = GgmlType::BF16;
    const VEC_DOT: Option<Row> = Some(Row::Float(bf16_row));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        y[0] = bf16_to_f32(b);
    }

    fn quantize(x: &[f32], b: &mut [u8]) {
        b.copy_from_slice(&bf16_bits(x[0]).to_le_bytes());
    }
}

/// F32 weights against f32 activations. Also the SIMD rows' tail (the elements past their last
/// full vector).
pub(crate) fn f32_row(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(4)
        .zip(x)
        .map(|(b, &x)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * x)
        .sum()
}

pub(crate) fn f16_row(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2)
        .zip(x)
        .map(|(b, &x)| f16_at(b, 0..2) * x)
        .sum()
}

pub(crate) fn bf16_row(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(2)
        .zip(x)
        .map(|(b, &x)| bf16_to_f32(b) * x)
        .sum()
}
