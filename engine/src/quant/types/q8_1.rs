//! Q8_1: the activation format of Q4_1 and Q5_1. Q8_0's quants with the f16 of d * sum(qs)
//! stored next to d, so a weight min's term needs no pass over the quants. Run-time activations
//! are quantized by `q8_0::quantize_x86`; this file holds ggml's reference rule.

use super::bits::{f16_at, put_f16};
use super::fit::signed_absmax;
use super::BlockType;
use crate::quant::{GgmlType, QK};

layout!(Q8_1, { D: 0..2, S: 2..4, QS: 4..36, } ends 36);
const _: () = assert!(layout::SIZE == 2 + 2 + QK, "ggml's sizeof(block_q8_1)");

pub(crate) struct BlockQ8_1;

impl BlockType for BlockQ8_1 {
    const TYPE: GgmlType = GgmlType::Q8_1;

    /// ggml has no dequantizer for Q8_1: d times each quant, as Q8_0. The stored sum `s` is
    /// redundant and not read.
    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let d = f16_at(b, D);
        for (y, &q) in y.iter_mut().zip(&b[QS]) {
            *y = q as i8 as f32 * d;
        }
    }

    /// quantize_row_q8_1_ref: Q8_0's quants and scale, plus s = d * sum(qs) in f32 before the
    /// f16.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        let (amax, _) = signed_absmax(x);
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, D, d);
        let mut sum = 0i32;
        for (q, &v) in b[QS].iter_mut().zip(x) {
            let v = (v * id).round() as i8;
            *q = v as u8;
            sum += i32::from(v);
        }
        put_f16(b, S, sum as f32 * d);
    }
}
