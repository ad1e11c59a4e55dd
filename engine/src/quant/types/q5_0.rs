//! Q5_0: 32 five-bit levels stored +16: Q4_0's nibbles with bit j of the little-endian qh word
//! as level j's fifth bit, and an f16 scale; dotted against Q8_0 activations. The five-bit
//! packing here is Q5_1's too.

use super::bits::{f16_at, five_bit, put_f16, u32_at};
use super::fit::signed_absmax;
use super::q8_0::block_sumi;
use super::{BlockType, Row};
use crate::quant::{GgmlType, QK};

layout!(Q5_0, { D: 0..2, QH: 2..6, QS: 6..22, } ends 22);

pub(crate) struct BlockQ5_0;

impl BlockType for BlockQ5_0 {
    const TYPE: GgmlType = GgmlType::Q5_0;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_0;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let d = f16_at(b, D);
        let qh = u32_at(b, QH);
        let qs = &b[QS];
        for (j, y) in y.iter_mut().enumerate().take(QK) {
            *y = d * (five_bit(qh, qs, j) as i8 - 16) as f32;
        }
    }

    /// quantize_row_q5_0_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        let (_, max) = signed_absmax(x);
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        put_f16(b, D, d);
        let (qh, qs) = pack_5bit(&std::array::from_fn(|j| {
            ((x[j] * id + 16.5) as i8).min(31) as u8
        }));
        b[QH].copy_from_slice(&qh.to_le_bytes());
        b[QS].copy_from_slice(&qs);
    }
}

/// 32 five-bit levels as Q5_0/Q5_1 store them: bit 4 of level j as bit j of the little-endian qh
/// word (masked, as ggml does), the low bits as Q4_0's nibbles.
pub(crate) fn pack_5bit(levels: &[u8; QK]) -> (u32, [u8; QK / 2]) {
    let qh = (0..QK).fold(0u32, |h, j| h | (u32::from((levels[j] >> 4) & 1) << j));
    let qs = std::array::from_fn(|j| (levels[j] & 0xF) | ((levels[j + QK / 2] & 0xF) << 4));
    (qh, qs)
}

/// Q5_0/Q5_1 levels j and j + 16: the nibbles of quant byte j with bits j and j + 16 of qh as
/// their fifth bits.
#[inline(always)]
pub(crate) fn five_bit_pair(qh: u32, qs: &[u8], j: usize) -> (i32, i32) {
    (
        i32::from(qs[j] & 0xF) | (((qh >> j) << 4) & 0x10) as i32,
        i32::from(qs[j] >> 4) | ((qh >> (j + 12)) & 0x10) as i32,
    )
}

/// Q5_0 against Q8_0, as ggml_vec_dot_q5_0_q8_0: levels 0..32 stored +16.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use super::q8_0::layout::{D as AD, QS as AQS, SIZE as ASIZE};
    use layout::*;
    let mut acc = 0.0f32;
    for (wb, ab) in w.chunks_exact(SIZE).zip(a.chunks_exact(ASIZE)) {
        let (qh, qs) = (u32_at(wb, QH), &wb[QS]);
        let sumi = block_sumi(&ab[AQS], |j| {
            let (x0, x1) = five_bit_pair(qh, qs, j);
            (x0 - 16, x1 - 16)
        });
        acc += sumi as f32 * (f16_at(wb, D) * f16_at(ab, AD));
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value comes back within one step of the scale: the nearest level, or level 31 (+15
    /// steps) for a value of the sign opposite the largest and beyond 15.5 steps, which ggml's
    /// `min(31)` clamps. `x[20]` is such a value, at 15.68 steps.
    #[test]
    fn quantized_values_come_back_within_one_step() {
        let mut x: [f32; QK] = std::array::from_fn(|j| ((j * 37 % 29) as f32 - 14.0) / 7.0);
        x[3] = 2.5;
        x[20] = -2.45;
        let mut b = [0u8; layout::SIZE];
        BlockQ5_0::quantize(&x, &mut b);
        let mut y = [0f32; QK];
        BlockQ5_0::dequantize(&b, &mut y);
        let step = f16_at(&b, layout::D).abs();
        assert_eq!(step, 2.5 / 16.0);
        for (j, (v, back)) in x.iter().zip(&y).enumerate() {
            assert!((v - back).abs() <= step, "{j}: {v} came back as {back}");
        }
    }
}
