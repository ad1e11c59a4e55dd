//! Q4_1: 32 unsigned four-bit levels (laid out as Q4_0's), an f16 scale d and an f16 min m;
//! dotted against Q8_1 activations.

use super::bits::{f16_at, nibble, put_f16};
use super::fit::min_max;
use super::q8_0::block_sumi;
use super::{BlockType, Row};
use crate::quant::{GgmlType, QK};

layout!(Q4_1, { D: 0..2, M: 2..4, QS: 4..20, } ends 20);

pub(crate) struct BlockQ4_1;

impl BlockType for BlockQ4_1 {
    const TYPE: GgmlType = GgmlType::Q4_1;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_1;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let (d, m) = (f16_at(b, D), f16_at(b, M));
        let qs = &b[QS];
        for (j, y) in y.iter_mut().enumerate().take(QK) {
            *y = d * nibble(qs, j) as f32 + m;
        }
    }

    /// quantize_row_q4_1_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        let (min, max) = min_max(x);
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, D, d);
        put_f16(b, M, min);
        let q = |v: f32| (((v - min) * id + 0.5) as i8).min(15) as u8;
        for (j, out) in b[QS].iter_mut().enumerate() {
            *out = q(x[j]) | (q(x[j + QK / 2]) << 4);
        }
    }
}

/// Q4_1 against Q8_1, as ggml_vec_dot_q4_1_q8_1: unsigned levels, and the min's term from the
/// activation block's stored sum, d_a * sum(a) as f16.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use super::q8_1::layout::{D as AD, QS as AQS, S as AS, SIZE as ASIZE};
    use layout::*;
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let qs = &wb[QS];
        let sumi = block_sumi(&ab[AQS], |j| {
            (i32::from(qs[j] & 0xF), i32::from(qs[j] >> 4))
        });
        acc += f16_at(wb, D) * f16_at(ab, AD) * sumi as f32 + f16_at(wb, M) * f16_at(ab, AS);
    }
    acc
}
