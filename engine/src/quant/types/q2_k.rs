//! Q2_K: 256 two-bit levels in 16 sub-blocks of 16, each with a 4-bit scale and a 4-bit min
//! (packed in one byte), under an f16 scale and f16 min. No direct row dot: rows are dequantized.
//! The two-bit packing here is Q3_K's low bits too.

use super::bits::{f16_at, put_f16};
use super::fit::{make_qkx2_quants, nearest_int};
use super::BlockType;
use crate::quant::{GgmlType, QK_K};

layout!(Q2_K, { SCALES: 0..16, QS: 16..80, D: 80..82, DMIN: 82..84, } ends 84);

pub(crate) struct BlockQ2_K;

impl BlockType for BlockQ2_K {
    const TYPE: GgmlType = GgmlType::Q2_K;

    /// 16 sub-blocks of 16; element i = 128h + 32s + l takes bits 2s of qs[32h + l].
    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
        let (scales, qs) = (&b[SCALES], &b[QS]);
        for (i, y) in y.iter_mut().enumerate().take(QK_K) {
            let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
            let q = (qs[32 * h + l] >> (2 * s)) & 3;
            let sc = scales[i / 16];
            let dl = d * (sc & 0xF) as f32;
            let ml = dmin * (sc >> 4) as f32;
            *y = dl * q as f32 - ml;
        }
    }

    /// ggml's reference quantize_row_q2_K_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        let mut levels = [0u8; QK_K];
        let (mut scales, mut mins) = ([0f32; 16], [0f32; 16]);
        for j in 0..16 {
            let xs = &x[16 * j..16 * j + 16];
            let w: Vec<f32> = xs.iter().map(|v| v.abs()).collect();
            (scales[j], mins[j]) = make_qkx2_quants(
                3,
                xs,
                &w,
                &mut levels[16 * j..16 * j + 16],
                -0.5,
                0.1,
                15,
                true,
            );
        }
        let max_scale = scales
            .iter()
            .fold(0.0f32, |a, &s| if s > a { s } else { a });
        let max_min = mins.iter().fold(0.0f32, |a, &s| if s > a { s } else { a });
        let sc = &mut [0u8; 16];
        if max_scale > 0.0 {
            let iscale = 15.0 / max_scale;
            for j in 0..16 {
                sc[j] = nearest_int(iscale * scales[j]) as u8;
            }
        }
        put_f16(
            b,
            D,
            if max_scale > 0.0 {
                max_scale / 15.0
            } else {
                0.0
            },
        );
        if max_min > 0.0 {
            let iscale = 15.0 / max_min;
            for j in 0..16 {
                sc[j] |= (nearest_int(iscale * mins[j]) << 4) as u8;
            }
        }
        put_f16(b, DMIN, if max_min > 0.0 { max_min / 15.0 } else { 0.0 });
        let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
        for j in 0..16 {
            let dl = d * (sc[j] & 0xF) as f32;
            if dl == 0.0 {
                continue;
            }
            let dm = dmin * (sc[j] >> 4) as f32;
            for i in 0..16 {
                levels[16 * j + i] = nearest_int((x[16 * j + i] + dm) / dl).clamp(0, 3) as u8;
            }
        }
        b[SCALES].copy_from_slice(sc);
        pack_2bit(&levels, &mut b[QS]);
    }
}

/// Packs 2-bit levels: qs[32h + l] holds levels 128h + l + 32s at bits 2s.
pub(crate) fn pack_2bit(levels: &[u8], qs: &mut [u8]) {
    for h in 0..2 {
        for l in 0..32 {
            let at = |s: usize| levels[128 * h + l + 32 * s] << (2 * s);
            qs[32 * h + l] = at(0) | at(1) | at(2) | at(3);
        }
    }
}
