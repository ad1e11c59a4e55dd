//! Q4_K: 256 four-bit levels in 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min
//! (12 packed bytes), under an f16 scale and f16 min; dotted against Q8_K activations. Q5_K adds
//! a fifth bit to the same block, so the scale fitting and the row dot here are Q5_K's too.

use super::bits::{f16_at, put_f16, scale_min_k4};
use super::fit::{make_qkx2_quants, nearest_int};
use super::q8_k::q8_k_parts;
use super::{BlockType, Row};
use crate::quant::{GgmlType, QK_K};

layout!(Q4_K, { D: 0..2, DMIN: 2..4, SCALES: 4..16, QS: 16..144, } ends 144);

pub(crate) struct BlockQ4_K;

impl BlockType for BlockQ4_K {
    const TYPE: GgmlType = GgmlType::Q4_K;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_K;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    /// 8 sub-blocks of 32; element i = 64c + 32s + l is nibble s of qs[32c + l].
    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
        let (scales, qs) = (&b[SCALES], &b[QS]);
        for (g, y) in y.chunks_exact_mut(32).enumerate().take(8) {
            let (sc, m) = scale_min_k4(g, scales);
            let (dl, ml) = (d * sc as f32, dmin * m as f32);
            let (c, s) = (g / 2, g % 2);
            for (l, y) in y.iter_mut().enumerate() {
                let q = (qs[32 * c + l] >> (4 * s)) & 0xF;
                *y = dl * q as f32 - ml;
            }
        }
    }

    /// ggml's reference quantize_row_q4_K_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        let levels = kx_scales(x, b, 15, -1.0, 20);
        let qs = &mut b[layout::QS];
        for c in 0..4 {
            for l in 0..32 {
                qs[32 * c + l] = levels[64 * c + l] | (levels[64 * c + 32 + l] << 4);
            }
        }
    }
}

/// Shared by Q4_K and Q5_K: 8 sub-blocks of 32 fitted with make_qkx2_quants, 6-bit scales and
/// mins packed as get_scale_min_k4 reads them. Returns the levels (0..=nmax).
pub(crate) fn kx_scales(x: &[f32], b: &mut [u8], nmax: i32, rmin: f32, nstep: i32) -> [u8; QK_K] {
    use layout::{D, DMIN, SCALES};
    let mut levels = [0u8; QK_K];
    let (mut scales, mut mins) = ([0f32; 8], [0f32; 8]);
    for j in 0..8 {
        let xs = &x[32 * j..32 * j + 32];
        let av_x = (xs.iter().map(|v| v * v).sum::<f32>() / 32.0).sqrt();
        let w: Vec<f32> = xs.iter().map(|v| av_x + v.abs()).collect();
        (scales[j], mins[j]) = make_qkx2_quants(
            nmax,
            xs,
            &w,
            &mut levels[32 * j..32 * j + 32],
            rmin,
            0.1,
            nstep,
            false,
        );
    }
    let max_scale = scales
        .iter()
        .fold(0.0f32, |a, &s| if s > a { s } else { a });
    let max_min = mins.iter().fold(0.0f32, |a, &s| if s > a { s } else { a });
    let inv_scale = if max_scale > 0.0 {
        63.0 / max_scale
    } else {
        0.0
    };
    let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
    let s = &mut b[SCALES];
    s.fill(0);
    for j in 0..8 {
        let ls = (nearest_int(inv_scale * scales[j]) as u8).min(63);
        let lm = (nearest_int(inv_min * mins[j]) as u8).min(63);
        if j < 4 {
            s[j] = ls;
            s[j + 4] = lm;
        } else {
            s[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
            s[j - 4] |= (ls >> 4) << 6;
            s[j] |= (lm >> 4) << 6;
        }
    }
    put_f16(b, D, max_scale / 63.0);
    put_f16(b, DMIN, max_min / 63.0);
    let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
    let swap = crate::faults::swap_subblock_scale_index();
    for j in 0..8 {
        let (sc, m) = scale_min_k4(j ^ swap, &b[SCALES]);
        let dl = d * sc as f32;
        if dl == 0.0 {
            continue;
        }
        let dm = dmin * m as f32;
        for i in 0..32 {
            levels[32 * j + i] = nearest_int((x[32 * j + i] + dm) / dl).clamp(0, nmax) as u8;
        }
    }
    levels
}

/// Q4_K and Q5_K rows (`size`-byte blocks) against Q8_K: `q(g, l)` gives sub-block g's level l;
/// the min term uses the activation sums.
#[inline(always)]
pub(crate) fn kx_row(
    w: &[u8],
    a: &[u8],
    size: usize,
    q: impl Fn(&[u8], usize, usize) -> i32,
) -> f32 {
    use layout::{D, DMIN, SCALES};
    let mut acc = 0.0f32;
    for (wb, ab) in w
        .chunks_exact(size)
        .zip(a.chunks_exact(super::q8_k::layout::SIZE))
    {
        let (da, aq, bsums) = q8_k_parts(ab);
        let (mut isum, mut msum) = (0i32, 0i32);
        for g in 0..8 {
            let (sc, m) = scale_min_k4(g, &wb[SCALES]);
            let dot: i32 = (0..32)
                .map(|l| q(wb, g, l) * i32::from(aq[32 * g + l] as i8))
                .sum();
            isum += i32::from(sc) * dot;
            msum += i32::from(m) * (bsums[2 * g] + bsums[2 * g + 1]);
        }
        acc += f16_at(wb, D) * da * isum as f32 - f16_at(wb, DMIN) * da * msum as f32;
    }
    acc
}

/// The scalar row dot against Q8_K activations, as ggml_vec_dot_q4_K_q8_K.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use layout::{QS, SIZE};
    kx_row(w, a, SIZE, |wb, g, l| {
        i32::from((wb[QS.start + 32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF)
    })
}
