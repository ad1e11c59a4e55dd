//! Q3_K: 256 three-bit levels (Q2_K's two low bits plus a high bit in hmask) in 16 sub-blocks of
//! 16 with signed 6-bit scales, under an f16 scale. No direct row dot: rows are dequantized.

use super::bits::{f16_at, put_f16, scale_q3_k};
use super::fit::{make_q3_quants, nearest_int, signed_absmax};
use super::q2_k::pack_2bit;
use super::BlockType;
use crate::quant::{GgmlType, QK_K};

layout!(Q3_K, { HMASK: 0..32, QS: 32..96, SCALES: 96..108, D: 108..110, } ends 110);

pub(crate) struct BlockQ3_K;

impl BlockType for BlockQ3_K {
    const TYPE: GgmlType = GgmlType::Q3_K;

    /// 2 low bits as in Q2_K, the high bit of element i = 32b + l is bit b of hmask[l], and a set
    /// bit means no offset (q - 4 when clear).
    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let d = f16_at(b, D);
        let (hmask, qs, scales) = (&b[HMASK], &b[QS], &b[SCALES]);
        for (i, y) in y.iter_mut().enumerate().take(QK_K) {
            let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
            let low = ((qs[32 * h + l] >> (2 * s)) & 3) as i8;
            let high = ((hmask[i % 32] >> (i / 32)) & 1) ^ 1;
            let dl = d * scale_q3_k(i / 16, scales) as f32;
            *y = dl * (low - ((high << 2) as i8)) as f32;
        }
    }

    /// ggml's reference quantize_row_q3_K_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        b.fill(0);
        let mut levels = [0i8; QK_K];
        let mut scales = [0f32; 16];
        for j in 0..16 {
            scales[j] =
                make_q3_quants(4, &x[16 * j..16 * j + 16], &mut levels[16 * j..16 * j + 16]);
        }
        let (_, max_scale) = signed_absmax(&scales);
        if max_scale != 0.0 {
            let iscale = -32.0 / max_scale;
            let s = &mut b[SCALES];
            for (j, &scale) in scales.iter().enumerate() {
                let l = (nearest_int(iscale * scale) as i8).clamp(-32, 31) + 32;
                let l = l as u8;
                if j < 8 {
                    s[j] = l & 0xF;
                } else {
                    s[j - 8] |= (l & 0xF) << 4;
                }
                s[j % 4 + 8] |= (l >> 4) << (2 * (j / 4));
            }
            put_f16(b, D, 1.0 / iscale);
        }
        let d = f16_at(b, D);
        for j in 0..16 {
            let dl = d * scale_q3_k(j, &b[SCALES]) as f32;
            if dl == 0.0 {
                continue;
            }
            for i in 0..16 {
                levels[16 * j + i] = nearest_int(x[16 * j + i] / dl).clamp(-4, 3) as i8 + 4;
            }
        }
        let mut low = [0u8; QK_K];
        for (i, &l) in levels.iter().enumerate() {
            let mut l = l as u8;
            if l > 3 {
                b[HMASK.start + i % 32] |= 1 << (i / 32);
                l -= 4;
            }
            low[i] = l;
        }
        pack_2bit(&low, &mut b[QS]);
    }
}
