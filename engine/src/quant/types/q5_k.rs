//! Q5_K: Q4_K's block with a fifth bit per level (bit g of qh[l] for sub-block g's element l);
//! dotted against Q8_K activations. Scale fitting and the row dot are Q4_K's (`q4_k.rs`).

use super::bits::{f16_at, scale_min_k4};
use super::q4_k::{kx_row, kx_scales};
use super::{BlockType, Row};
use crate::quant::GgmlType;

layout!(Q5_K, { D: 0..2, DMIN: 2..4, SCALES: 4..16, QH: 16..48, QS: 48..176, } ends 176);
// Q4_K's scale fitting and row dot read d, dmin and the scales at Q4_K's offsets.
const _: () = {
    use super::q4_k::layout as q4_k;
    assert!(layout::D.start == q4_k::D.start && layout::DMIN.start == q4_k::DMIN.start);
    assert!(layout::SCALES.start == q4_k::SCALES.start);
};

pub(crate) struct BlockQ5_K;

impl BlockType for BlockQ5_K {
    const TYPE: GgmlType = GgmlType::Q5_K;
    const VEC_DOT_TYPE: GgmlType = GgmlType::Q8_K;
    const VEC_DOT: Option<Row> = Some(Row::Quant(vec_dot));

    /// Q4_K's nibbles plus bit g of qh[l] as the fifth bit of sub-block g's element l.
    fn dequantize(b: &[u8], y: &mut [f32]) {
        use layout::*;
        let (d, dmin) = (f16_at(b, D), f16_at(b, DMIN));
        let (scales, qh, qs) = (&b[SCALES], &b[QH], &b[QS]);
        for (g, y) in y.chunks_exact_mut(32).enumerate().take(8) {
            let (sc, m) = scale_min_k4(g, scales);
            let (dl, ml) = (d * sc as f32, dmin * m as f32);
            let (c, s) = (g / 2, g % 2);
            for (l, y) in y.iter_mut().enumerate() {
                let q = ((qs[32 * c + l] >> (4 * s)) & 0xF) | (((qh[l] >> g) & 1) << 4);
                *y = dl * q as f32 - ml;
            }
        }
    }

    /// ggml's reference quantize_row_q5_K_ref.
    fn quantize(x: &[f32], b: &mut [u8]) {
        use layout::{QH, QS};
        let levels = kx_scales(x, b, 31, -0.5, 15);
        b[QH].fill(0);
        for c in 0..4 {
            for l in 0..32 {
                let (lo, hi) = (levels[64 * c + l], levels[64 * c + 32 + l]);
                b[QS.start + 32 * c + l] = (lo & 0xF) | ((hi & 0xF) << 4);
                b[QH.start + l] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1));
            }
        }
    }
}

/// The scalar row dot against Q8_K activations, as ggml_vec_dot_q5_K_q8_K.
fn vec_dot(w: &[u8], a: &[u8]) -> f32 {
    use layout::{QH, QS, SIZE};
    kx_row(w, a, SIZE, |wb, g, l| {
        let low = (wb[QS.start + 32 * (g / 2) + l] >> (4 * (g % 2))) & 0xF;
        let high = (wb[QH.start + l] >> g) & 1;
        i32::from(low | (high << 4))
    })
}
