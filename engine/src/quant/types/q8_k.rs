//! Q8_K: the activation format of the K-quant rows. An f32 scale, 256 int8 quants, and 16 int16
//! sums of 16 quants each (so a weight min's term needs no pass over the quants).

use super::fit::{nearest_int, signed_absmax};
use super::BlockType;
use crate::quant::GgmlType;

layout!(Q8_K, { D: 0..4, QS: 4..260, BSUMS: 260..292, } ends 292);

pub(crate) struct BlockQ8_K;

impl BlockType for BlockQ8_K {
    const TYPE: GgmlType = GgmlType::Q8_K;

    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let d = f32::from_le_bytes(b[D].try_into().unwrap());
        for (y, &q) in y.iter_mut().zip(&b[QS]) {
            *y = d * q as i8 as f32;
        }
    }

    /// quantize_row_q8_K_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        b.fill(0);
        let (amax, max) = signed_absmax(x);
        if amax == 0.0 {
            return;
        }
        let iscale = -127.0 / max;
        // Straight loops over the block, element-wise and then by groups: they vectorize.
        for (o, &v) in b[QS].iter_mut().zip(x) {
            *o = nearest_int(iscale * v).min(127) as i8 as u8;
        }
        let sums: [i16; 16] = std::array::from_fn(|j| {
            let group = &b[QS][16 * j..16 * j + 16];
            group.iter().map(|&q| i16::from(q as i8)).sum()
        });
        for (o, s) in b[BSUMS].chunks_exact_mut(2).zip(sums) {
            o.copy_from_slice(&s.to_le_bytes());
        }
        b[D].copy_from_slice(&(1.0 / iscale).to_le_bytes());
    }
}

/// The Q8_K activation block's scale, quants and 16-element sums.
#[inline(always)]
pub(crate) fn q8_k_parts(ab: &[u8]) -> (f32, &[u8], [i32; 16]) {
    use layout::*;
    let d = f32::from_le_bytes(ab[D].try_into().unwrap());
    let mut bsums = [0i32; 16];
    for (s, b) in bsums.iter_mut().zip(ab[BSUMS].chunks_exact(2)) {
        *s = i32::from(i16::from_le_bytes([b[0], b[1]]));
    }
    (d, &ab[QS], bsums)
}
