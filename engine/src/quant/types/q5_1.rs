//! Q5_1: 32 unsigned five-bit levels (packed as Q5_0's), an f16 scale d and an f16 min m;
//! dotted against Q8_1 activations.

use super::bits::{f16_at, five_bit, put_f16, u32_at};
use super::fit::min_max;
use super::q5_0::{five_bit_pair, pack_5bit};
use super::q8_0::block_sumi;
use super::{BlockType, Row};
use crate::quant::{GgmlType, QK};

layout!(Q5_1, { D: 0..2, M: 2..4, QH: 4..8, QS: 8..24, } ends 24);

pub(crate) struct BlockQ5_1;

impl BlockType for BlockQ5_1 {
    const TYPE: GgmlType = GgmlType::Q5_1;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_1;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let (d, m) = (f16_at(b, D), f16_at(b, M));
        let qh = u32_at(b, QH);
        let qs = &b[QS];
        for (j, y) in y.iter_mut().enumerate().take(QK) {
            *y = d * five_bit(qh, qs, j) as f32 + m;
        }
    }

    /// quantize_row_q5_1_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        let (min, max) = min_max(x);
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, D, d);
        put_f16(b, M, min);
        // ggml casts to uint8_t with no clamp: (x - min) / d is at most 31 plus rounding error.
        let (qh, qs) = pack_5bit(&std::array::from_fn(|j| ((x[j] - min) * id + 0.5) as u8));
        b[QH].copy_from_slice(&qh.to_le_bytes());
        b[QS].copy_from_slice(&qs);
    }
}

/// Q5_1 against Q8_1, as ggml_vec_dot_q5_1_q8_1: Q4_1's formula with five-bit levels.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use super::q8_1::layout::{D as AD, QS as AQS, S as AS, SIZE as ASIZE};
    use layout::*;
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let (qh, qs) = (u32_at(wb, QH), &wb[QS]);
        let sumi = block_sumi(&ab[AQS], |j| five_bit_pair(qh, qs, j));
        acc += f16_at(wb, D) * f16_at(ab, AD) * sumi as f32 + f16_at(wb, M) * f16_at(ab, AS);
    }
    acc
}
