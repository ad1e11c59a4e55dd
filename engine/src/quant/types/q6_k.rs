//! Q6_K: 256 six-bit levels stored +32 (low nibbles in ql, high two bits in qh) in 16
//! sub-blocks of 16 with int8 scales, under an f16 scale; dotted against Q8_K activations.

use super::bits::{f16_at, put_f16};
use super::fit::{make_qx_quants, nearest_int, signed_absmax, GROUP_MAX_EPS};
use super::q8_k::q8_k_parts;
use super::{BlockType, Row};
use crate::quant::{GgmlType, QK_K};

layout!(Q6_K, { QL: 0..128, QH: 128..192, SCALES: 192..208, D: 208..210, } ends 210);

pub(crate) struct BlockQ6_K;

impl BlockType for BlockQ6_K {
    const TYPE: GgmlType = GgmlType::Q6_K;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_K;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    /// Element i = 128h + 32s + l: low nibble s/2 of ql[64h + 32(s%2) + l], high bits 2s of
    /// qh[32h + l]; 16 sub-blocks with int8 scales.
    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let d = f16_at(b, D);
        let (ql, qh, scales) = (&b[QL], &b[QH], &b[SCALES]);
        for (i, y) in y.iter_mut().enumerate().take(QK_K) {
            let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
            let low = (ql[64 * h + 32 * (s % 2) + l] >> (4 * (s / 2))) & 0xF;
            let high = (qh[32 * h + l] >> (2 * s)) & 3;
            let q = (low | (high << 4)) as i8 - 32;
            let dl = d * scales[i / 16] as i8 as f32;
            *y = dl * q as f32;
        }
    }

    /// ggml's reference quantize_row_q6_K_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::*;
        b.fill(0);
        let mut levels = [0i8; QK_K];
        let mut scales = [0f32; 16];
        for j in 0..16 {
            scales[j] = make_qx_quants(
                32,
                &x[16 * j..16 * j + 16],
                &mut levels[16 * j..16 * j + 16],
            );
        }
        let (max_abs, max_scale) = signed_absmax(&scales);
        if max_abs < GROUP_MAX_EPS {
            return;
        }
        let iscale = -128.0 / max_scale;
        put_f16(b, D, 1.0 / iscale);
        for j in 0..16 {
            b[SCALES.start + j] = nearest_int(iscale * scales[j]).min(127) as i8 as u8;
        }
        let d = f16_at(b, D);
        for j in 0..16 {
            let dl = d * b[SCALES.start + j] as i8 as f32;
            if dl == 0.0 {
                continue;
            }
            for i in 0..16 {
                levels[16 * j + i] = nearest_int(x[16 * j + i] / dl).clamp(-32, 31) as i8 + 32;
            }
        }
        for h in 0..2 {
            for l in 0..32 {
                let q = |s: usize| levels[128 * h + 32 * s + l] as u8;
                b[QL.start + 64 * h + l] = (q(0) & 0xF) | ((q(2) & 0xF) << 4);
                b[QL.start + 64 * h + 32 + l] = (q(1) & 0xF) | ((q(3) & 0xF) << 4);
                b[QH.start + 32 * h + l] =
                    (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
            }
        }
    }
}

/// The scalar row dot against Q8_K activations, as ggml_vec_dot_q6_K_q8_K.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use layout::*;
    let mut acc = 0.0f32;
    for (wb, ab) in w
        .chunks_exact(SIZE)
        .zip(a.chunks_exact(super::q8_k::layout::SIZE))
    {
        let (da, aq, _) = q8_k_parts(ab);
        let (ql, qh, scales) = (&wb[QL], &wb[QH], &wb[SCALES]);
        let level = |i: usize| {
            let (h, s, l) = (i / 128, (i / 32) % 4, i % 32);
            let low = (ql[64 * h + 32 * (s % 2) + l] >> (4 * (s / 2))) & 0xF;
            let high = (qh[32 * h + l] >> (2 * s)) & 3;
            i32::from(low | (high << 4)) - 32
        };
        let isum: i32 = (0..QK_K / 16)
            .zip(scales)
            .map(|(sub, &sc)| {
                let dot: i32 = (16 * sub..16 * sub + 16)
                    .zip(&aq[16 * sub..16 * sub + 16])
                    .map(|(i, &a)| level(i) * i32::from(a as i8))
                    .sum();
                i32::from(sc as i8) * dot
            })
            .sum();
        acc += f16_at(wb, D) * da * isum as f32;
    }
    acc
}
